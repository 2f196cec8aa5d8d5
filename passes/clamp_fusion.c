/* relu, relu6 (hardtanh(0, 6)), hardtanh(min, max) and clamp (one- or two-sided) after a
 * node whose XNNPACK form takes an output range become that node's output_min/output_max.
 * Consecutive clamps merge: ranges intersect. Never when the producer's output has another
 * reader or is a graph output (they need the unclamped values), never on quantized values,
 * and never when the intersection is empty or a single point (XNNPACK needs min < max). */
#include <math.h>

#include "passes/pass.h"

/* The clamp range of a clamp-like node; false for other ops. */
static bool clamp_range(const xnnd_ir_node* n, float* lo, float* hi) {
  switch (n->op) {
    case XNND_OP_RELU:
      *lo = 0.0f;
      *hi = INFINITY;
      return true;
    case XNND_OP_HARDTANH:
      *lo = (float)n->attrs[0].f;
      *hi = (float)n->attrs[1].f;
      return true;
    case XNND_OP_CLAMP:
      *lo = n->attrs[0].kind == XNND_ATTR_FLOAT ? (float)n->attrs[0].f : -INFINITY;
      *hi = n->attrs[1].kind == XNND_ATTR_FLOAT ? (float)n->attrs[1].f : INFINITY;
      return true;
    default:
      return false;
  }
}

static bool takes_range(xnnd_op op) {
  switch (op) {
    case XNND_OP_CONVOLUTION:
    case XNND_OP_LINEAR:
    case XNND_OP_ADDMM:
    case XNND_OP_ADD:
    case XNND_OP_SUB:
    case XNND_OP_MUL:
    case XNND_OP_DIV:
    case XNND_OP_MAX_POOL2D:
    case XNND_OP_AVG_POOL2D:
    case XNND_OP_ADAPTIVE_AVG_POOL2D:
    case XNND_OP_MEAN:
      return true;
    default:
      return false;
  }
}

static xnnd_status fuse_one(xnnd_graph* g, xnnd_id n, bool* done) {
  *done = false;
  xnnd_ir_node* c = &g->nodes[n];
  float lo, hi;
  if (!clamp_range(c, &lo, &hi) || isnan(lo) || isnan(hi)) return XNND_OK;
  xnnd_id x = c->inputs[0], y = c->outputs[0];
  xnnd_id p = g->values[x].producer;
  if (p >= g->num_nodes || g->nodes[p].dead) return XNND_OK;
  if (!xnnd_value_is_plain_f32(g, x) || !xnnd_value_is_plain_f32(g, y)) return XNND_OK;
  if (xnnd_single_consumer(g, x) != n) return XNND_OK;
  xnnd_ir_node* prod = &g->nodes[p];
  float plo, phi;
  if (takes_range(prod->op)) {
    plo = prod->output_min;
    phi = prod->output_max;
  } else if (clamp_range(prod, &plo, &phi) && !xnnd_node_has_range(prod)) {
    if (isnan(plo) || isnan(phi)) return XNND_OK;
  } else {
    return XNND_OK;
  }
  float nlo = fmaxf(lo, plo), nhi = fminf(hi, phi);
  if (!(nlo < nhi)) return XNND_OK;
  if (takes_range(prod->op)) {
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
