/* aten.view -> StaticReshape, only where reinterpreting bytes is right under NHWC: a 4-D
 * side (input or output) must have C == 1 or H*W == 1 so its NHWC bytes equal its NCHW
 * bytes; two non-4-D sides are plain row-major. new_shape is the output's blob dims. */
#include "xnn_lower_internal.h"

bool xnn_check_view(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed view");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank == 4 && !xnn_nhwc_same_bytes(in))
    return xnn_reason(reason, reason_size, "view of 4-D %%%s with C > 1 and H*W > 1 would reorder elements under NHWC",
                      in->name);
  if (out->rank == 4 && !xnn_nhwc_same_bytes(out))
    return xnn_reason(reason, reason_size, "view to 4-D %%%s with C > 1 and H*W > 1 would reorder elements under NHWC",
                      out->name);
  return true;
}

xnnd_status xnn_lower_view(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank = xnn_blob_dims(&g->values[node->outputs[0]], dims);
  return xnn_emit_reshape(b, input, output, rank, dims);
}
