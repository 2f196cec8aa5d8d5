/* Multiply-accumulates per node, from shapes alone: the share the report calls "in the
 * delegate" is a fact about the graph, not about any backend. */
#include "ir.h"

static bool transposed(const xnnd_ir_node* n) {
  int i = xnnd_op_attr_index(n->op, "transposed");
  return i >= 0 && n->attrs[i].i != 0;
}

static uint64_t numel(const xnnd_graph* g, xnnd_id id) {
  if (id >= g->num_values) return 0;
  uint64_t n = 1;
  for (uint32_t d = 0; d < g->values[id].rank; d++) n *= (uint64_t)g->values[id].dims[d];
  return n;
}

static int64_t dim(const xnnd_graph* g, xnnd_id id, uint32_t d) {
  return id < g->num_values && d < g->values[id].rank ? g->values[id].dims[d] : 0;
}

uint64_t xnnd_node_macs(const xnnd_graph* g, xnnd_id node) {
  if (g == NULL || node >= g->num_nodes) return 0;
  const xnnd_ir_node* n = &g->nodes[node];
  if (n->num_outputs < 1 || n->num_inputs < 2) return 0;
  xnnd_id out = n->outputs[0], a = n->inputs[0], b = n->inputs[1];
  switch (n->op) {
    case XNND_OP_CONVOLUTION: {
      uint64_t k = 1;
      const uint32_t wr = b < g->num_values ? g->values[b].rank : 0;
      for (uint32_t i = 1; i < wr; i++) k *= (uint64_t)dim(g, b, i);
      /* Transposed: every input element meets Cout/groups * k... weights. */
      return transposed(n) ? numel(g, a) * k : numel(g, out) * k;
    }
    case XNND_OP_LINEAR: return numel(g, out) * (uint64_t)dim(g, b, 1);
    case XNND_OP_ADDMM: return n->num_inputs > 2 ? numel(g, out) * (uint64_t)dim(g, b, 1) : 0;
    case XNND_OP_MM: return numel(g, out) * (uint64_t)dim(g, a, 1);
    case XNND_OP_BMM: return numel(g, out) * (uint64_t)dim(g, a, 2);
    case XNND_OP_BADDBMM: return n->num_inputs > 2 ? numel(g, out) * (uint64_t)dim(g, b, 2) : 0;
    default: return 0;
  }
}
