/* Dequant promotion: an xnnd.dequantize read by several nodes is duplicated so each reader has
 * its own, and every dq -> op -> q pattern (qdq-fusion) can consume its dequantize. The first
 * reader keeps the original; when the dequantized value is also a graph output, the output
 * keeps it and every reader gets a copy. A node reading the value twice (mul(x, x)) gets one
 * copy for both. Counts the copies made. */
#include <stdio.h>
#include <stdlib.h>

#include "passes/qdq.h"

static xnnd_status promote_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t nv = g->num_values, count = g->num_nodes;
  uint32_t* uses = malloc(sizeof(uint32_t) * ((size_t)nv + 1));
  bool* claimed = calloc((size_t)nv + 1, sizeof(bool));
  if (!uses || !claimed) {
    free(uses);
    free(claimed);
    snprintf(g->errmsg, sizeof(g->errmsg), "dequant promotion: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  xnnd_graph_use_counts(g, uses);
  for (uint32_t i = 0; i < g->num_outputs; i++) claimed[g->outputs[i]] = true;
  xnnd_status st = XNND_OK;
  for (uint32_t n = 0; n < count && st == XNND_OK; n++) {
    if (g->nodes[n].dead || g->nodes[n].op == XNND_OP_DEQUANTIZE) continue;
    for (uint32_t i = 0; i < g->nodes[n].num_inputs && st == XNND_OK; i++) {
      xnnd_id v = g->nodes[n].inputs[i];
      if (v >= nv || uses[v] < 2) continue;
      xnnd_id dq = xnnd_qdq_producer(g, v, XNND_OP_DEQUANTIZE);
      if (dq == XNND_NO_ID) continue;
      bool earlier = false;  /* this node already handled v at a lower input index */
      for (uint32_t j = 0; j < i && !earlier; j++) earlier = g->nodes[n].inputs[j] == v;
      if (earlier) continue;
      if (!claimed[v]) {
        claimed[v] = true;
        continue;
      }
      int64_t dims[XNND_MAX_RANK];
      for (uint32_t d = 0; d < XNND_MAX_RANK; d++) dims[d] = g->values[v].dims[d];
      char hint[96];
      snprintf(hint, sizeof(hint), "%.80s_p", g->values[v].name);
      xnnd_id copy = xnnd_add_value_hint(g, hint, XNND_F32, g->values[v].rank, dims);
      xnnd_id ins[3];
      uint32_t num_in = g->nodes[dq].num_inputs;
      for (uint32_t k = 0; k < num_in && k < 3; k++) ins[k] = g->nodes[dq].inputs[k];
      xnnd_attr attrs[XNND_MAX_ATTRS];
      for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) attrs[a] = g->nodes[dq].attrs[a];
      if (copy == XNND_NO_ID || xnnd_emit_node(g, XNND_OP_DEQUANTIZE, ins, num_in, attrs, copy) == XNND_NO_ID) {
        st = XNND_INTERNAL;
        break;
      }
      for (uint32_t j = i; j < g->nodes[n].num_inputs && st == XNND_OK; j++)
        if (g->nodes[n].inputs[j] == v) st = xnnd_graph_set_input(g, n, j, copy);
      (*changed)++;
    }
  }
  free(uses);
  free(claimed);
  return st;
}

const xnnd_pass xnnd_pass_qdq_dequant_promotion = {
    "qdq-dequant-promotion", "a dequantize with several readers -> one copy per reader", promote_run};
