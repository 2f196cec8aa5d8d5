/* Pooling:
 * - aten.max_pool2d / max_pool2d_with_indices (indices unused) -> MaxPool2d; ceil_mode becomes
 *   extra bottom/right padding (max ignores padding). Dilation > 1 only without padding.
 * - aten.avg_pool2d without ceil_mode or divisor_override -> AvgPool2d. XNNPACK averages over
 *   the valid pixels only (count_include_pad=false); count_include_pad=true with padding is
 *   lowered as an explicit zero StaticConstantPad followed by an unpadded AvgPool2d.
 * - aten.mean over {H, W} of a 4-D tensor and aten.adaptive_avg_pool2d to [1, 1] ->
 *   GlobalAvgPool2d (+ StaticReshape to [N, C] when keepdim is false); adaptive pooling to
 *   sizes dividing the input -> AvgPool2d (see the end of this file).
 * XNNPACK pools must cover more than one element. */
#include <math.h>

#include "xnn_lower_internal.h"

typedef struct pool_params {
  int64_t kernel[2], stride[2], padding[2], dilation[2];
  int64_t pad_after[2];   /* padding[a] + extra rows/cols so the output matches PyTorch's */
} pool_params;

static bool read_pool(const xnnd_graph* g, const xnnd_ir_node* node, bool has_dilation, pool_params* p, char* reason,
                      size_t reason_size) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4 || out->rank != 4) return xnn_reason(reason, reason_size, "pooling needs 4-D input and output");
  if (!xnn_attr_pair(node, "kernel_size", 0, p->kernel) || !xnn_attr_pair(node, "padding", 0, p->padding) ||
      !xnn_attr_pair(node, "dilation", 1, p->dilation) || !xnn_attr_pair(node, "stride", 0, p->stride))
    return xnn_reason(reason, reason_size, "kernel_size/stride/padding/dilation must be pairs");
  if (!has_dilation) p->dilation[0] = p->dilation[1] = 1;
  for (int a = 0; a < 2; a++) {
    if (p->stride[a] == 0) p->stride[a] = p->kernel[a];  /* PyTorch: empty stride = kernel */
    if (p->kernel[a] < 1 || p->stride[a] < 1 || p->dilation[a] < 1 || p->padding[a] < 0 ||
        p->kernel[a] > UINT32_MAX || p->stride[a] > UINT32_MAX || p->dilation[a] > UINT32_MAX ||
        p->padding[a] > UINT32_MAX)
      return xnn_reason(reason, reason_size, "kernel, stride, dilation or padding out of range");
    /* Smallest trailing padding giving PyTorch's output size under XNNPACK's floor rule. */
    int64_t eff = p->dilation[a] * (p->kernel[a] - 1) + 1;
    int64_t o = out->dims[2 + a];
    int64_t need = (o - 1) * p->stride[a] + eff - (in->dims[2 + a] + 2 * p->padding[a]);
    p->pad_after[a] = p->padding[a] + (need > 0 ? need : 0);
    int64_t padded = in->dims[2 + a] + p->padding[a] + p->pad_after[a];
    if (padded < eff || (padded - eff) / p->stride[a] + 1 != o || p->pad_after[a] > UINT32_MAX)
      return xnn_reason(reason, reason_size, "output %s %lld does not match the pooling arithmetic",
                        a == 0 ? "height" : "width", (long long)o);
  }
  if (p->kernel[0] * p->kernel[1] <= 1)
    return xnn_reason(reason, reason_size, "1x1 pooling: XNNPACK pools must cover more than one element");
  if (out->dims[0] != in->dims[0] || out->dims[1] != in->dims[1])
    return xnn_reason(reason, reason_size, "output batch/channels differ from the input");
  return true;
}

static bool check_in_out(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed pooling op");
  return xnn_check_value(g, node->inputs[0], "input", reason, reason_size) &&
         xnn_check_value(g, node->outputs[0], "output", reason, reason_size);
}

bool xnn_check_max_pool2d(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!check_in_out(g, node, reason, reason_size)) return false;
  if (node->op == XNND_OP_MAX_POOL2D_WITH_INDICES && node->num_outputs > 1 && node->outputs[1] != XNND_NO_ID) {
    uint32_t uses = xnnd_graph_count_uses(g, node->outputs[1]);
    if (uses != 0)
      return xnn_reason(reason, reason_size, "indices output %%%s has %u uses; XNNPACK does not produce indices",
                        g->values[node->outputs[1]].name, uses);
  }
  pool_params p;
  if (!read_pool(g, node, true, &p, reason, reason_size)) return false;
  bool padded = p.padding[0] || p.padding[1] || p.pad_after[0] != p.padding[0] || p.pad_after[1] != p.padding[1];
  if ((p.dilation[0] > 1 || p.dilation[1] > 1) && padded)
    return xnn_reason(reason, reason_size, "dilated max pooling with padding or ceil_mode is not lowered");
  return true;
}

xnnd_status xnn_lower_max_pool2d(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  pool_params p;
  char reason[160];
  if (!read_pool(g, node, true, &p, reason, sizeof(reason))) return xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_MaxPool2d_##field, (uint32_t)(v), 0)
  ADD(padding_top, p.padding[0]);
  ADD(padding_right, p.pad_after[1]);
  ADD(padding_bottom, p.pad_after[0]);
  ADD(padding_left, p.padding[1]);
  ADD(pooling_height, p.kernel[0]);
  ADD(pooling_width, p.kernel[1]);
  ADD(stride_height, p.stride[0]);
  ADD(stride_width, p.stride[1]);
  ADD(dilation_height, p.dilation[0]);
  ADD(dilation_width, p.dilation[1]);
  ADD(input_id, input);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, MaxPool2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_MaxPool2d, fb_table_end(fb));
}

bool xnn_check_avg_pool2d(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!check_in_out(g, node, reason, reason_size)) return false;
  if (xnn_attr_int(node, "ceil_mode", 0)) return xnn_reason(reason, reason_size, "avg_pool2d with ceil_mode is not lowered");
  const xnnd_attr* div = xnn_attr(node, "divisor_override");
  if (div != NULL && div->kind != XNND_ATTR_NONE)
    return xnn_reason(reason, reason_size, "avg_pool2d with divisor_override is not lowered");
  pool_params p;
  if (!read_pool(g, node, false, &p, reason, reason_size)) return false;
  if (p.pad_after[0] != p.padding[0] || p.pad_after[1] != p.padding[1])
    return xnn_reason(reason, reason_size, "output size needs asymmetric padding");
  return true;
}

xnnd_status xnn_lower_avg_pool2d(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  pool_params p;
  char reason[160];
  if (!read_pool(g, node, false, &p, reason, sizeof(reason))) return xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  bool padded = p.padding[0] > 0 || p.padding[1] > 0;
  fb_builder* fb = xnn_b_fb(b);
  if (padded && xnn_attr_int(node, "count_include_pad", 1)) {
    /* Zeros count toward the average: pad explicitly, then pool without padding. */
    const xnnd_ir_value* in = &g->values[node->inputs[0]];
    uint32_t pdims[4] = {(uint32_t)in->dims[0], (uint32_t)(in->dims[2] + 2 * p.padding[0]),
                         (uint32_t)(in->dims[3] + 2 * p.padding[1]), (uint32_t)in->dims[1]};
    uint32_t padded_id = xnn_b_internal_f32(b, 4, pdims);
    if (padded_id != XNN_NO_VALUE && xnn_value_is_symbolic(in)) {
      xnnd_dimx x[4] = {xnn_ir_dimx(in, 0), xnn_ir_dimx(in, 2), xnn_ir_dimx(in, 3), xnn_ir_dimx(in, 1)};
      x[1].c += 2 * p.padding[0];
      x[2].c += 2 * p.padding[1];
      xnn_b_set_dimx(b, padded_id, x);
    }
    if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
    uint32_t pads[4] = {0, (uint32_t)p.padding[0], (uint32_t)p.padding[1], 0};
    fb_ref pre = fb_create_vector(fb, pads, 4, sizeof(uint32_t));
    fb_ref post = fb_create_vector(fb, pads, 4, sizeof(uint32_t));
    fb_table_start(fb);
    fb_add_ref(fb, XNND_XNNPACK_StaticConstantPad_pre_paddings, pre);
    fb_add_ref(fb, XNND_XNNPACK_StaticConstantPad_post_paddings, post);
    fb_add_u32(fb, XNND_XNNPACK_StaticConstantPad_input_id, input, UINT32_MAX);
    fb_add_u32(fb, XNND_XNNPACK_StaticConstantPad_output_id, padded_id, UINT32_MAX);
    xnnd_status st = xnn_b_node(b, XNND_XNNPACK_Node_StaticConstantPad, fb_table_end(fb));
    if (st != XNND_OK) return st;
    input = padded_id;
    p.padding[0] = p.padding[1] = p.pad_after[0] = p.pad_after[1] = 0;
  }
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_table_start(fb);
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_AvgPool2d_##field, (uint32_t)(v), 0)
  ADD(padding_top, p.padding[0]);
  ADD(padding_right, p.pad_after[1]);
  ADD(padding_bottom, p.pad_after[0]);
  ADD(padding_left, p.padding[1]);
  ADD(pooling_height, p.kernel[0]);
  ADD(pooling_width, p.kernel[1]);
  ADD(stride_height, p.stride[0]);
  ADD(stride_width, p.stride[1]);
  ADD(input_id, input);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, AvgPool2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_AvgPool2d, fb_table_end(fb));
}

bool xnn_check_global_pool(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!check_in_out(g, node, reason, reason_size)) return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4) return xnn_reason(reason, reason_size, "input %%%s must be 4-D", in->name);
  if (node->op == XNND_OP_ADAPTIVE_AVG_POOL2D) {
    int64_t os[2];
    if (!xnn_attr_pair(node, "output_size", 0, os) || os[0] != 1 || os[1] != 1)
      return xnn_reason(reason, reason_size, "adaptive_avg_pool2d is lowered only to output_size [1, 1]");
  } else {
    const xnnd_attr* dims = xnn_attr(node, "dim");
    bool h = false, w = false, other = dims == NULL || dims->kind != XNND_ATTR_INTS || dims->n != 2;
    for (uint32_t i = 0; !other && i < dims->n; i++) {
      int64_t d = dims->ints[i] < 0 ? dims->ints[i] + 4 : dims->ints[i];
      if (d == 2) h = true;
      else if (d == 3) w = true;
      else other = true;
    }
    if (other || !h || !w) return xnn_reason(reason, reason_size, "mean is lowered only over dims {2, 3} of a 4-D tensor");
  }
  bool keep = node->op == XNND_OP_ADAPTIVE_AVG_POOL2D || xnn_attr_int(node, "keepdim", 0);
  bool ok = keep ? out->rank == 4 && out->dims[0] == in->dims[0] && out->dims[1] == in->dims[1] && out->dims[2] == 1 &&
                       out->dims[3] == 1
                 : out->rank == 2 && out->dims[0] == in->dims[0] && out->dims[1] == in->dims[1];
  if (!ok) return xnn_reason(reason, reason_size, "output %%%s shape disagrees with a global average", out->name);
  return true;
}

xnnd_status xnn_lower_global_pool(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  bool keep = node->op == XNND_OP_ADAPTIVE_AVG_POOL2D || xnn_attr_int(node, "keepdim", 0);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t pooled;
  if (keep) {
    pooled = xnn_b_output(b, node->outputs[0]);
  } else {
    uint32_t dims[4] = {(uint32_t)in->dims[0], 1, 1, (uint32_t)in->dims[1]};
    pooled = xnn_b_internal_f32(b, 4, dims);
    if (pooled != XNN_NO_VALUE && xnn_value_is_symbolic(in))
      xnn_b_set_dimx(b, pooled, (xnnd_dimx[4]){xnn_ir_dimx(in, 0), xnnd_dimx_const(1), xnnd_dimx_const(1), xnn_ir_dimx(in, 1)});
  }
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_GlobalAvgPool2d_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_GlobalAvgPool2d_output_id, pooled, UINT32_MAX);
  XNN_ADD_RANGE(fb, GlobalAvgPool2d, node);
  xnnd_status st = xnn_b_node(b, XNND_XNNPACK_Node_GlobalAvgPool2d, fb_table_end(fb));
  if (st != XNND_OK || keep) return st;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t odims[2] = {(uint32_t)in->dims[0], (uint32_t)in->dims[1]};
  return xnn_emit_reshape(b, pooled, output, 2, odims);
}

/* aten.adaptive_avg_pool2d: to [1, 1] it is a global average; to the input's own size an
 * identity (a copy, or a Clamp when it carries a fused range); when each output size divides
 * the input size PyTorch's windows are exactly AvgPool2d with kernel = stride = in / out.
 * Other sizes have overlapping, uneven windows XNNPACK has no node for. */
static bool adaptive_kernel(const xnnd_graph* g, const xnnd_ir_node* node, int64_t k[2]) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  for (int a = 0; a < 2; a++) {
    if (out->dims[2 + a] < 1 || in->dims[2 + a] % out->dims[2 + a] != 0) return false;
    k[a] = in->dims[2 + a] / out->dims[2 + a];
  }
  return true;
}

bool xnn_check_adaptive_avg_pool2d(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!check_in_out(g, node, reason, reason_size)) return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4 || out->rank != 4) return xnn_reason(reason, reason_size, "adaptive_avg_pool2d needs 4-D input and output");
  if (out->dims[2] == 1 && out->dims[3] == 1) return xnn_check_global_pool(g, node, reason, reason_size);
  int64_t k[2];
  if (!adaptive_kernel(g, node, k))
    return xnn_reason(reason, reason_size,
                      "output size %lldx%lld does not divide input size %lldx%lld: uneven windows have no XNNPACK node",
                      (long long)out->dims[2], (long long)out->dims[3], (long long)in->dims[2], (long long)in->dims[3]);
  return true;
}

xnnd_status xnn_lower_adaptive_avg_pool2d(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (out->dims[2] == 1 && out->dims[3] == 1) return xnn_lower_global_pool(b, g, node);
  int64_t k[2];
  if (!adaptive_kernel(g, node, k)) return xnn_b_fail(b, XNND_UNSUPPORTED, "uneven adaptive pooling windows");
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  if (k[0] == 1 && k[1] == 1) {
    if (!isfinite(node->output_min) && !isfinite(node->output_max)) {
      uint32_t dims[XNN_BLOB_MAX_DIMS];
      uint32_t rank = xnn_blob_dims(out, dims);
      return xnn_emit_reshape(b, input, output, rank, dims);
    }
    fb_table_start(fb);
    fb_add_u32(fb, XNND_XNNPACK_Clamp_input_id, input, UINT32_MAX);
    fb_add_u32(fb, XNND_XNNPACK_Clamp_output_id, output, UINT32_MAX);
    XNN_ADD_RANGE(fb, Clamp, node);
    return xnn_b_node(b, XNND_XNNPACK_Node_Clamp, fb_table_end(fb));
  }
  fb_table_start(fb);
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_AvgPool2d_##field, (uint32_t)(v), 0)
  ADD(pooling_height, k[0]);
  ADD(pooling_width, k[1]);
  ADD(stride_height, k[0]);
  ADD(stride_width, k[1]);
  ADD(input_id, input);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, AvgPool2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_AvgPool2d, fb_table_end(fb));
}
