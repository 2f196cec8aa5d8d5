/* aten.permute that only moves size-1 dims (e.g. transpose(0, 1) of [1, S, E]) reorders no
 * element: it is lowered as a StaticReshape to the output's dims. A real transpose is not
 * (this XNNPACK has no transpose node). As for aten.view, a 4-D side must have C == 1 or
 * H*W == 1 so its NHWC bytes equal its NCHW bytes. */
#include "xnn_lower_internal.h"

bool xnn_check_permute(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed permute");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  const xnnd_attr* dims = xnn_attr(node, "dims");
  if (dims == NULL || dims->kind != XNND_ATTR_INTS || dims->n != in->rank)
    return xnn_reason(reason, reason_size, "dims must list %u dims", in->rank);
  int64_t last = -1;
  for (uint32_t i = 0; i < dims->n; i++) {
    int64_t d = dims->ints[i] < 0 ? dims->ints[i] + in->rank : dims->ints[i];
    if (d < 0 || d >= (int64_t)in->rank) return xnn_reason(reason, reason_size, "dims entry out of range");
    if (in->dims[d] == 1) continue;
    if (d < last)
      return xnn_reason(reason, reason_size, "a transpose that reorders elements: this XNNPACK has no transpose node");
    last = d;
  }
  if (in->rank == 4 && !xnn_nhwc_same_bytes(in))
    return xnn_reason(reason, reason_size, "4-D input %%%s with C > 1 and H*W > 1 is NHWC inside XNNPACK", in->name);
  if (out->rank == 4 && !xnn_nhwc_same_bytes(out))
    return xnn_reason(reason, reason_size, "4-D output %%%s with C > 1 and H*W > 1 is NHWC inside XNNPACK", out->name);
  return true;
}

xnnd_status xnn_lower_permute(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank = xnn_blob_dims(&g->values[node->outputs[0]], dims);
  return xnn_emit_reshape(b, input, output, rank, dims);
}
