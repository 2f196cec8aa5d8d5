/* aten.softmax over the last dim -> Softmax. Not for 4-D tensors: inside a blob their last
 * dim is C, not PyTorch's W. */
#include "xnn_lower_internal.h"

bool xnn_check_softmax(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed softmax");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  if (in->rank < 1) return xnn_reason(reason, reason_size, "softmax of a scalar");
  if (in->rank == 4) return xnn_reason(reason, reason_size, "4-D softmax: inside XNNPACK the last dim is C, not W");
  int64_t dim = xnn_attr_int(node, "dim", -1);
  if (dim < 0) dim += in->rank;
  if (dim != (int64_t)in->rank - 1)
    return xnn_reason(reason, reason_size, "softmax over dim %lld; XNNPACK only does the last dim",
                      (long long)xnn_attr_int(node, "dim", -1));
  if (xnn_attr_int(node, "half_to_float", 0)) return xnn_reason(reason, reason_size, "half_to_float is not lowered");
  return true;
}

xnnd_status xnn_lower_softmax(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Softmax_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Softmax_output_id, output, UINT32_MAX);
  return xnn_b_node(b, XNND_XNNPACK_Node_Softmax, fb_table_end(fb));
}
