/* aten.linear(x, W[out,in], b?) with constant W (and b) -> FullyConnected; W is already in
 * XNNPACK's [out, in] layout. The input must not be 4-D: inside a blob a 4-D value is NHWC, so
 * its last dim would be C rather than the W that linear contracts. */
#include "xnn_lower_internal.h"

bool xnn_check_linear(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 2 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed linear");
  xnnd_id x_id = node->inputs[0], w_id = node->inputs[1];
  xnnd_id b_id = node->num_inputs > 2 ? node->inputs[2] : XNND_NO_ID;
  if (!xnn_check_value(g, x_id, "input", reason, reason_size) ||
      !xnn_check_value(g, w_id, "weight", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  if (b_id != XNND_NO_ID && !xnn_check_value(g, b_id, "bias", reason, reason_size)) return false;
  const xnnd_ir_value* x = &g->values[x_id];
  const xnnd_ir_value* w = &g->values[w_id];
  if (x->rank < 2) return xnn_reason(reason, reason_size, "input %%%s has rank %u; need >= 2", x->name, x->rank);
  if (x->rank == 4)
    return xnn_reason(reason, reason_size, "4-D input %%%s: inside XNNPACK its last dim is C, not W", x->name);
  if (w->data == NULL || w->rank != 2)
    return xnn_reason(reason, reason_size, "weight %%%s must be a 2-D constant", w->name);
  if (w->dims[1] != x->dims[x->rank - 1])
    return xnn_reason(reason, reason_size, "weight %%%s has %lld input features, input has %lld", w->name,
                      (long long)w->dims[1], (long long)x->dims[x->rank - 1]);
  if (b_id != XNND_NO_ID) {
    const xnnd_ir_value* bias = &g->values[b_id];
    if (bias->data == NULL || bias->rank != 1 || bias->dims[0] != w->dims[0])
      return xnn_reason(reason, reason_size, "bias %%%s must be a constant [%lld]", bias->name, (long long)w->dims[0]);
  }
  return true;
}

xnnd_status xnn_lower_linear(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t filter = xnn_b_operand(b, node->inputs[1]);
  uint32_t bias = node->num_inputs > 2 && node->inputs[2] != XNND_NO_ID ? xnn_b_operand(b, node->inputs[2]) : XNN_NO_VALUE;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  return xnn_emit_fully_connected(b, input, filter, bias, output, node->output_min, node->output_max);
}
