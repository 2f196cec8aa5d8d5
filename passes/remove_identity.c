/* Drop ops that return their input unchanged: dropout in eval mode, clone (the exporter
 * functionalizes, so a copy is never observable), a view to the same shape, an identity
 * permute and aten.t of a rank < 2 tensor. Readers of the output read the input instead.
 * Kept when the output is a graph output and the input is a graph input, constant or
 * another graph output, so graph outputs stay distinct computed values. */
#include <string.h>

#include "passes/pass.h"

static bool is_identity(const xnnd_graph* g, const xnnd_ir_node* n) {
  const xnnd_ir_value* in = &g->values[n->inputs[0]];
  switch (n->op) {
    case XNND_OP_DROPOUT:
      return n->attrs[1].i == 0;  /* train=false */
    case XNND_OP_CLONE:
      return true;
    case XNND_OP_VIEW:
      return xnnd_same_dims(in, &g->values[n->outputs[0]]);
    case XNND_OP_PERMUTE:
      for (uint32_t i = 0; i < n->attrs[0].n; i++)
        if (n->attrs[0].ints[i] != (int64_t)i) return false;
      return true;
    case XNND_OP_T:
      return in->rank < 2;
    default:
      return false;
  }
}

static bool same_meaning(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  if (a->dtype != b->dtype || a->layout != b->layout || !xnnd_same_dims(a, b)) return false;
  if (a->quant.scheme != b->quant.scheme) return false;
  if (a->quant.scheme == XNND_QUANT_PER_TENSOR)
    return a->quant.scale == b->quant.scale && a->quant.zero_point == b->quant.zero_point;
  if (a->quant.scheme == XNND_QUANT_PER_CHANNEL) {
    if (a->quant.axis != b->quant.axis || a->quant.num_channels != b->quant.num_channels) return false;
    return memcmp(a->quant.scales, b->quant.scales, a->quant.num_channels * sizeof(float)) == 0 &&
           memcmp(a->quant.zero_points, b->quant.zero_points,
                  a->quant.num_channels * sizeof(int32_t)) == 0;
  }
  return true;
}

static xnnd_status remove_identity_run(xnnd_graph* g, uint32_t* changed) {
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    xnnd_ir_node* node = &g->nodes[n];
    if (node->dead || node->num_inputs < 1 || node->inputs[0] == XNND_NO_ID) continue;
    if (xnnd_node_has_range(node) || !is_identity(g, node)) continue;
    xnnd_id in = node->inputs[0], out = node->outputs[0];
    if (!same_meaning(&g->values[in], &g->values[out])) continue;
    if (xnnd_value_is_graph_output(g, out) &&
        (g->values[in].is_input || xnnd_value_is_const(g, in) || xnnd_value_is_graph_output(g, in)))
      continue;
    node->dead = true;
    xnnd_graph_replace_uses(g, out, in);
    (*changed)++;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_remove_identity = {
    "remove-identity", "drop eval dropout, clone, same-shape view, identity permute",
    remove_identity_run};
