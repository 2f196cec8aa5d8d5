/* aten.addmm(b, x, t(w)) and aten.mm(x, t(w)) -> aten.linear(x, w, b): the form every
 * later pass and XNNPACK's fully-connected node take. A constant mat2 instead of t(w) is
 * transposed now; alpha and beta != 1 are folded into constant weight and bias. Skipped
 * when that would need a non-constant weight or bias computed, or a bias that varies by
 * row ([M, out]). */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

static xnnd_status to_linear(xnnd_graph* g, xnnd_id n, bool* done) {
  *done = false;
  xnnd_affine a;
  if (g->nodes[n].op == XNND_OP_LINEAR || !xnnd_match_affine(g, n, &a)) return XNND_OK;
  xnnd_id out = g->nodes[n].outputs[0];
  if (!xnnd_value_is_plain_f32(g, a.input) || !xnnd_value_is_plain_f32(g, a.weight) ||
      !xnnd_value_is_plain_f32(g, out))
    return XNND_OK;
  bool reuse_weight = !a.weight_transposed && a.alpha == 1.0;
  const xnnd_ir_value* bv = a.bias == XNND_NO_ID ? NULL : &g->values[a.bias];
  bool reuse_bias = !bv || (a.beta == 1.0 && bv->rank == 1 && bv->dims[0] == a.out_features &&
                            xnnd_value_static(bv) && xnnd_value_is_plain_f32(g, a.bias));
  if ((!reuse_weight && !xnnd_const_f32(g, a.weight)) || (!reuse_bias && !xnnd_const_f32(g, a.bias)))
    return XNND_OK;

  int64_t o = a.out_features, in = a.in_features;
  float* w = reuse_weight ? NULL : malloc(sizeof(float) * (size_t)(o * in));
  float* b = reuse_bias ? NULL : malloc(sizeof(float) * (size_t)o);
  xnnd_status st = XNND_OK;
  if ((!reuse_weight && !w) || (!reuse_bias && !b)) {
    snprintf(g->errmsg, sizeof(g->errmsg), "addmm-to-linear: out of memory");
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  if (b && !xnnd_affine_bias(g, &a, b)) goto done;  /* bias differs per row */
  xnnd_id inputs[3] = {a.input, a.weight, a.bias};
  char hint[96];
  if (w) {
    xnnd_affine_weight(g, &a, w);
    snprintf(hint, sizeof(hint), "%.80s_%s", g->values[a.weight].name,
             a.weight_transposed ? "t" : "scaled");
    int64_t dims[2] = {o, in};
    if ((inputs[1] = xnnd_add_f32_const(g, hint, 2, dims, w)) == XNND_NO_ID) {
      st = XNND_OUT_OF_MEMORY;
      goto done;
    }
  }
  if (b) {
    snprintf(hint, sizeof(hint), "%.80s_vec", g->values[a.bias].name);
    if ((inputs[2] = xnnd_add_f32_const(g, hint, 1, &o, b)) == XNND_NO_ID) {
      st = XNND_OUT_OF_MEMORY;
      goto done;
    }
  }
  float lo = g->nodes[n].output_min, hi = g->nodes[n].output_max;
  g->nodes[n].dead = true;
  xnnd_id id = xnnd_emit_node(g, XNND_OP_LINEAR, inputs, inputs[2] == XNND_NO_ID ? 2 : 3, NULL, out);
  if (id == XNND_NO_ID) {
    st = XNND_INTERNAL;
    goto done;
  }
  g->nodes[id].output_min = lo;
  g->nodes[id].output_max = hi;
  *done = true;
done:
  free(w);
  free(b);
  return st;
}

static xnnd_status addmm_to_linear_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;
  for (uint32_t n = 0; n < count; n++) {
    if (g->nodes[n].dead) continue;
    bool done;
    xnnd_status st = to_linear(g, n, &done);
    if (st != XNND_OK) return st;
    *changed += done;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_addmm_to_linear = {
    "addmm-to-linear", "addmm(b, x, t(w)) and mm(x, t(w)) -> linear(x, w, b)",
    addmm_to_linear_run};
