/* aten.constant_pad_nd with non-negative pads -> StaticConstantPad. PyTorch lists (before,
 * after) pairs from the last dim backwards; XNNPACK takes per-dim arrays in blob order, so a
 * 4-D value's NCHW pads are permuted to NHWC. Negative pads crop, which XNNPACK cannot. */
#include "xnn_lower_internal.h"

/* Per-dim pads in IR (logical) order; false when a pad is negative or out of range. */
static bool read_pads(const xnnd_graph* g, const xnnd_ir_node* node, int64_t* pre, int64_t* post, char* reason,
                      size_t reason_size) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_attr* a = xnn_attr(node, "pad");
  if (a == NULL || a->kind != XNND_ATTR_INTS || a->n % 2 != 0 || a->n / 2 > in->rank)
    return xnn_reason(reason, reason_size, "pad must list (before, after) pairs for at most %u dims", in->rank);
  for (uint32_t d = 0; d < in->rank; d++) pre[d] = post[d] = 0;
  for (uint32_t p = 0; p < a->n / 2; p++) {
    uint32_t d = in->rank - 1 - p;
    pre[d] = a->ints[2 * p];
    post[d] = a->ints[2 * p + 1];
    if (pre[d] < 0 || post[d] < 0)
      return xnn_reason(reason, reason_size, "negative pad (%lld, %lld) on dim %u crops; StaticConstantPad only pads",
                        (long long)pre[d], (long long)post[d], d);
    if (pre[d] > UINT32_MAX || post[d] > UINT32_MAX)
      return xnn_reason(reason, reason_size, "pad on dim %u out of range", d);
  }
  return true;
}

bool xnn_check_constant_pad_nd(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1)
    return xnn_reason(reason, reason_size, "malformed constant_pad_nd");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  if (g->values[node->inputs[0]].rank < 1) return xnn_reason(reason, reason_size, "padding a scalar");
  int64_t pre[XNND_MAX_RANK], post[XNND_MAX_RANK];
  return read_pads(g, node, pre, post, reason, reason_size);
}

xnnd_status xnn_lower_constant_pad_nd(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  int64_t pre[XNND_MAX_RANK], post[XNND_MAX_RANK];
  char reason[160];
  if (!read_pads(g, node, pre, post, reason, sizeof(reason))) return xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
  uint32_t a[XNN_BLOB_MAX_DIMS], z[XNN_BLOB_MAX_DIMS];
  for (uint32_t d = 0; d < in->rank; d++) {
    a[d] = (uint32_t)pre[d];
    z[d] = (uint32_t)post[d];
  }
  if (in->rank == 4) { /* NCHW -> NHWC */
    uint32_t a1 = a[1], z1 = z[1];
    a[1] = a[2], z[1] = z[2];
    a[2] = a[3], z[2] = z[3];
    a[3] = a1, z[3] = z1;
  }
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_ref pre_v = fb_create_vector(fb, a, in->rank, sizeof(uint32_t));
  fb_ref post_v = fb_create_vector(fb, z, in->rank, sizeof(uint32_t));
  fb_table_start(fb);
  fb_add_ref(fb, XNND_XNNPACK_StaticConstantPad_pre_paddings, pre_v);
  fb_add_ref(fb, XNND_XNNPACK_StaticConstantPad_post_paddings, post_v);
  fb_add_f32(fb, XNND_XNNPACK_StaticConstantPad_padding_value, (float)xnn_attr_float(node, "value", 0.0), 0.0f);
  fb_add_u32(fb, XNND_XNNPACK_StaticConstantPad_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_StaticConstantPad_output_id, output, UINT32_MAX);
  return xnn_b_node(b, XNND_XNNPACK_Node_StaticConstantPad, fb_table_end(fb));
}
