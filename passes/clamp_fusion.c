/* relu, relu6 (hardtanh(0, 6)), hardtanh(min, max) and clamp (one- or two-sided) after a
 * node whose XNNPACK form takes an output range become that node's output_min/output_max.
 * Consecutive clamps merge: ranges intersect. Never when the producer's output has another
 * reader or is a graph output (they need the unclamped values), never on quantized values,
 * and never when the intersection is empty or a single point (XNNPACK needs min < max). */
#include <math.h>

#include "passes/pass.h"

static xnnd_status fuse_one(xnnd_graph* g, xnnd_id n, bool* done) {
  *done = false;
  xnnd_ir_node* c = &g->nodes[n];
  float lo, hi;
  if (!xnnd_node_clamp_range(c, &lo, &hi) || isnan(lo) || isnan(hi)) return XNND_OK;
  xnnd_id x = c->inputs[0], y = c->outputs[0];
  xnnd_id p = g->values[x].producer;
  if (p >= g->num_nodes || g->nodes[p].dead) return XNND_OK;
  if (!xnnd_value_is_plain_f32(g, x) || !xnnd_value_is_plain_f32(g, y)) return XNND_OK;
  if (xnnd_single_consumer(g, x) != n) return XNND_OK;
  xnnd_ir_node* prod = &g->nodes[p];
  float plo, phi;
  if (xnnd_op_has(prod->op, XNND_OPF_FUSES_CLAMP)) {
    plo = prod->output_min;
    phi = prod->output_max;
  } else if (xnnd_node_clamp_range(prod, &plo, &phi) && !xnnd_node_has_range(prod)) {
    if (isnan(plo) || isnan(phi)) return XNND_OK;
  } else {
    return XNND_OK;
  }
  float nlo = fmaxf(lo, plo), nhi = fminf(hi, phi);
  if (!(nlo < nhi)) return XNND_OK;
  if (xnnd_op_has(prod->op, XNND_OPF_FUSES_CLAMP)) {
    prod->output_min = nlo;
    prod->output_max = nhi;
    c->dead = true;
    xnnd_graph_replace_uses(g, y, x);
  } else {
    /* clamp after clamp: one aten.clamp over the first one's input writes y */
    xnnd_id src = prod->inputs[0];
    xnnd_attr attrs[2] = {{.kind = XNND_ATTR_NONE}, {.kind = XNND_ATTR_NONE}};
    if (isfinite(nlo)) attrs[0] = (xnnd_attr){.kind = XNND_ATTR_FLOAT, .f = nlo};
    if (isfinite(nhi)) attrs[1] = (xnnd_attr){.kind = XNND_ATTR_FLOAT, .f = nhi};
    prod->dead = true;
    c->dead = true;
    if (xnnd_emit_node(g, XNND_OP_CLAMP, &src, 1, attrs, y) == XNND_NO_ID) return XNND_INTERNAL;
  }
  *done = true;
  return XNND_OK;
}

static xnnd_status clamp_fusion_run(xnnd_graph* g, uint32_t* changed) {
  /* Topological order: a clamp is visited after everything before it has fused, and a
   * merged aten.clamp appended at the end is visited again to fuse into its producer. */
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    if (g->nodes[n].dead) continue;
    bool done;
    xnnd_status st = fuse_one(g, n, &done);
    if (st != XNND_OK) return st;
    *changed += done;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_clamp_fusion = {
    "clamp-fusion", "relu/relu6/hardtanh/clamp -> output range of the node before",
    clamp_fusion_run};
