/* aten.upsample_bilinear2d -> StaticResizeBilinear2d (XNNPACK works on NHWC, which is what a
 * 4-D blob value is). align_corners=true maps to XNN_FLAG_ALIGN_CORNERS; align_corners=false
 * is XNNPACK's default half-pixel mode, whose edge handling (clamped taps) gives PyTorch's
 * values. XNNPACK derives the scale from the dims, so a model-given scale factor must equal
 * in/out (as float) for align_corners=false. */
#include "xnn_lower_internal.h"

#define XNN_RESIZE_ALIGN_CORNERS 0x00000008u /* XNN_FLAG_ALIGN_CORNERS */

static bool scale_matches(const xnnd_ir_node* node, const char* name, int64_t in, int64_t out) {
  const xnnd_attr* a = xnn_attr(node, name);
  if (a == NULL || a->kind == XNND_ATTR_NONE) return true;
  return a->kind == XNND_ATTR_FLOAT && a->f > 0 && (float)(1.0 / a->f) == (float)in / (float)out;
}

bool xnn_check_upsample_bilinear2d(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed upsample");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4 || out->rank != 4) return xnn_reason(reason, reason_size, "upsample needs 4-D input and output");
  if (!xnn_attr_int(node, "align_corners", 0) && (!scale_matches(node, "scales_h", in->dims[2], out->dims[2]) ||
                                                  !scale_matches(node, "scales_w", in->dims[3], out->dims[3])))
    return xnn_reason(reason, reason_size,
                      "scale factor differs from output/input size; XNNPACK derives the scale from the sizes");
  return true;
}

xnnd_status xnn_lower_upsample_bilinear2d(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_StaticResizeBilinear2d_new_height, (uint32_t)out->dims[2], 0);
  fb_add_u32(fb, XNND_XNNPACK_StaticResizeBilinear2d_new_width, (uint32_t)out->dims[3], 0);
  fb_add_u32(fb, XNND_XNNPACK_StaticResizeBilinear2d_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_StaticResizeBilinear2d_output_id, output, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_StaticResizeBilinear2d_flags,
             xnn_attr_int(node, "align_corners", 0) ? XNN_RESIZE_ALIGN_CORNERS : 0u, 0);
  return xnn_b_node(b, XNND_XNNPACK_Node_StaticResizeBilinear2d, fb_table_end(fb));
}
