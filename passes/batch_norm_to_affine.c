/* Eval-mode batch norm that conv-bn-fold could not fold (no convolution or linear before
 * it, or one with other readers) -> a per-channel affine XNNPACK runs: a depthwise 1x1
 * aten.convolution (groups = C, weight [C,1,1,1] = scale, bias = shift) for 4-D input.
 * scale = gamma / sqrt(var + eps), shift = beta - mean * scale. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

enum { BN_INPUT, BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR };

static xnnd_status to_affine(xnnd_graph* g, xnnd_id n, bool* done) {
  *done = false;
  const xnnd_ir_node* bn = &g->nodes[n];
  xnnd_id x = bn->inputs[BN_INPUT], y = bn->outputs[0];
  if (bn->attrs[0].i != 0 || xnnd_node_has_range(bn)) return XNND_OK;  /* training */
  if (xnnd_graph_count_uses(g, bn->outputs[1]) || xnnd_graph_count_uses(g, bn->outputs[2])) return XNND_OK;
  if (g->values[x].rank != 4 || !xnnd_value_is_plain_f32(g, x) || !xnnd_value_is_plain_f32(g, y) ||
      !xnnd_value_dim_static(&g->values[x], 1))
    return XNND_OK;  /* the channel count sizes the new weights */
  const float* mean = xnnd_const_f32(g, bn->inputs[BN_MEAN]);
  const float* var = xnnd_const_f32(g, bn->inputs[BN_VAR]);
  xnnd_id gid = bn->inputs[BN_WEIGHT], bid = bn->inputs[BN_BIAS];
  const float* gamma = gid == XNND_NO_ID ? NULL : xnnd_const_f32(g, gid);
  const float* beta = bid == XNND_NO_ID ? NULL : xnnd_const_f32(g, bid);
  if (!mean || !var || (gid != XNND_NO_ID && !gamma) || (bid != XNND_NO_ID && !beta)) return XNND_OK;
  int64_t c = g->values[x].dims[1];
  double eps = bn->attrs[2].f;
  for (int64_t i = 0; i < c; i++)
    if (!((double)var[i] + eps > 0.0)) return XNND_OK;

  float* scale = malloc(sizeof(float) * (size_t)c);
  float* shift = malloc(sizeof(float) * (size_t)c);
  xnnd_status st = XNND_OK;
  if (!scale || !shift) {
    snprintf(g->errmsg, sizeof(g->errmsg), "batch-norm-to-affine: out of memory");
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (int64_t i = 0; i < c; i++) {
    scale[i] = (float)((gamma ? gamma[i] : 1.0f) / sqrt((double)var[i] + eps));
    shift[i] = (beta ? beta[i] : 0.0f) - mean[i] * scale[i];
  }
  char hint[96];
  int64_t wdims[4] = {c, 1, 1, 1};
  snprintf(hint, sizeof(hint), "%.80s_scale", g->values[y].name);
  xnnd_id w = xnnd_add_f32_const(g, hint, 4, wdims, scale);
  snprintf(hint, sizeof(hint), "%.80s_shift", g->values[y].name);
  xnnd_id b = w == XNND_NO_ID ? XNND_NO_ID : xnnd_add_f32_const(g, hint, 1, &c, shift);
  if (b == XNND_NO_ID) {
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  const xnnd_op_info* conv = xnnd_op_get(XNND_OP_CONVOLUTION);
  xnnd_attr attrs[XNND_MAX_ATTRS];
  for (uint32_t a = 0; a < conv->num_attrs; a++) attrs[a] = conv->attrs[a].def;
  attrs[xnnd_op_attr_index(XNND_OP_CONVOLUTION, "groups")].i = c;
  g->nodes[n].dead = true;
  xnnd_id inputs[3] = {x, w, b};
  if (xnnd_emit_node(g, XNND_OP_CONVOLUTION, inputs, 3, attrs, y) == XNND_NO_ID) {
    st = XNND_INTERNAL;
    goto done;
  }
  *done = true;
done:
  free(scale);
  free(shift);
  return st;
}

static xnnd_status batch_norm_to_affine_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;
  for (uint32_t n = 0; n < count; n++) {
    if (g->nodes[n].dead || g->nodes[n].op != XNND_OP_NATIVE_BATCH_NORM) continue;
    bool done;
    xnnd_status st = to_affine(g, n, &done);
    if (st != XNND_OK) return st;
    *changed += done;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_batch_norm_to_affine = {
    "batch-norm-to-affine", "remaining eval batch norm -> depthwise 1x1 convolution",
    batch_norm_to_affine_run};
