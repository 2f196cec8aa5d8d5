/* Fold eval-mode batch norm into the convolution (regular, grouped, depthwise, transposed;
 * with or without bias) or linear that produces its input. Only when the producer's output
 * has no other consumer, the weights, bias and batch-norm statistics are plain f32
 * constants, the statistics outputs (save_mean, save_invstd) are unused and the producer has
 * no fused output range. y = (conv(x) - mean) * gamma / sqrt(var + eps) + beta becomes conv
 * with w' = w * s and b' = (b - mean) * s + beta, s = gamma / sqrt(var + eps). A batch norm
 * left over becomes a depthwise convolution in batch_norm_to_affine.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

enum { BN_INPUT, BN_WEIGHT, BN_BIAS, BN_MEAN, BN_VAR };

static const float* const_f32(const xnnd_graph* g, xnnd_id v) {
  return v == XNND_NO_ID ? NULL : xnnd_const_f32(g, v);
}

/* Output channel of weight element group `row` for each layout the producer may have. */
typedef struct fold_layout {
  int64_t out_channels;
  bool transposed;
  int64_t groups;
} fold_layout;

/* Scale weight element-wise by s[output channel]. */
static void scale_weight(const xnnd_ir_value* w, const float* src, float* dst, const float* s,
                         const fold_layout* lay) {
  int64_t d0 = w->dims[0], d1 = w->rank > 1 ? w->dims[1] : 1;
  int64_t inner = 1;
  for (uint32_t i = 2; i < w->rank; i++) inner *= w->dims[i];
  for (int64_t a = 0; a < d0; a++) {
    for (int64_t b = 0; b < d1; b++) {
      int64_t oc;
      if (!lay->transposed) {
        oc = a;  /* [Cout, Cin/g, ...] and linear [out, in] */
      } else {   /* [Cin, Cout/g, ...]: group of input channel a */
        int64_t cin_per_group = d0 / lay->groups;
        oc = (a / cin_per_group) * d1 + b;
      }
      const float* sp = src + (a * d1 + b) * inner;
      float* dp = dst + (a * d1 + b) * inner;
      for (int64_t k = 0; k < inner; k++) dp[k] = sp[k] * s[oc];
    }
  }
}

static bool outputs_unused(const xnnd_graph* g, const xnnd_ir_node* bn) {
  return xnnd_graph_count_uses(g, bn->outputs[1]) == 0 && xnnd_graph_count_uses(g, bn->outputs[2]) == 0;
}

static xnnd_status fold_one(xnnd_graph* g, xnnd_id bn_id, bool* folded) {
  xnnd_ir_node* bn = &g->nodes[bn_id];
  *folded = false;
  if (bn->attrs[0].i != 0 || !outputs_unused(g, bn)) return XNND_OK; /* training or stats used */
  xnnd_id x = bn->inputs[BN_INPUT];
  xnnd_id prod_id = g->values[x].producer;
  if (prod_id == XNND_NO_ID) return XNND_OK;
  xnnd_ir_node* prod = &g->nodes[prod_id];
  if (prod->dead || (prod->op != XNND_OP_CONVOLUTION && prod->op != XNND_OP_LINEAR)) return XNND_OK;
  if (xnnd_single_consumer(g, x) != bn_id || xnnd_node_has_range(prod)) return XNND_OK;
  if (!xnnd_value_is_plain_f32(g, x) || !xnnd_value_is_plain_f32(g, bn->outputs[0])) return XNND_OK;

  const float* w = const_f32(g, prod->inputs[1]);
  xnnd_id bias_id = prod->num_inputs > 2 ? prod->inputs[2] : XNND_NO_ID;
  const float* b = bias_id == XNND_NO_ID ? NULL : const_f32(g, bias_id);
  const float* mean = const_f32(g, bn->inputs[BN_MEAN]);
  const float* var = const_f32(g, bn->inputs[BN_VAR]);
  const float* gamma = bn->inputs[BN_WEIGHT] == XNND_NO_ID ? NULL : const_f32(g, bn->inputs[BN_WEIGHT]);
  const float* beta = bn->inputs[BN_BIAS] == XNND_NO_ID ? NULL : const_f32(g, bn->inputs[BN_BIAS]);
  if (!w || !mean || !var || (bias_id != XNND_NO_ID && !b) ||
      (bn->inputs[BN_WEIGHT] != XNND_NO_ID && !gamma) || (bn->inputs[BN_BIAS] != XNND_NO_ID && !beta))
    return XNND_OK;

  fold_layout lay = {0, false, 1};
  if (prod->op == XNND_OP_CONVOLUTION) {
    lay.transposed = prod->attrs[3].i != 0;
    lay.groups = prod->attrs[5].i;
  } else if (g->values[x].rank != 2) {
    return XNND_OK;  /* BatchNorm1d over [N, C] only: the channel is the linear's output dim */
  }
  const xnnd_ir_value* wv = &g->values[prod->inputs[1]];
  lay.out_channels = lay.transposed ? wv->dims[1] * lay.groups : wv->dims[0];
  int64_t c = lay.out_channels;
  if (!xnnd_value_dim_static(&g->values[x], 1) || g->values[x].dims[1] != c ||
      (int64_t)xnnd_value_numel(g, bn->inputs[BN_MEAN]) != c)
    return XNND_OK;

  size_t wn = xnnd_value_numel(g, prod->inputs[1]);
  float* s = malloc(sizeof(float) * (size_t)c);
  float* nb = malloc(sizeof(float) * (size_t)c);
  float* nw = malloc(sizeof(float) * wn);
  xnnd_status st = XNND_OK;
  if (!s || !nb || !nw) {
    snprintf(g->errmsg, sizeof(g->errmsg), "conv-bn-fold: out of memory");
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  double eps = bn->attrs[2].f;
  for (int64_t i = 0; i < c; i++)
    if (!((double)var[i] + eps > 0.0)) goto done;  /* 1/sqrt would not be finite */
  for (int64_t i = 0; i < c; i++) {
    s[i] = (float)((gamma ? gamma[i] : 1.0f) / sqrt((double)var[i] + eps));
    nb[i] = ((b ? b[i] : 0.0f) - mean[i]) * s[i] + (beta ? beta[i] : 0.0f);
  }
  scale_weight(wv, w, nw, s, &lay);

  char hint[80];
  snprintf(hint, sizeof(hint), "%.60s_bnw", g->values[prod->inputs[1]].name);
  int64_t wdims[XNND_MAX_RANK];
  memcpy(wdims, wv->dims, sizeof(wdims));
  xnnd_id new_w = xnnd_add_f32_const(g, hint, wv->rank, wdims, nw);
  snprintf(hint, sizeof(hint), "%.60s_bnb", g->values[prod->inputs[1]].name);
  xnnd_id new_b = xnnd_add_f32_const(g, hint, 1, &c, nb);
  if (new_w == XNND_NO_ID || new_b == XNND_NO_ID) {
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  prod = &g->nodes[prod_id];  /* adding values may not move nodes, but stay safe */
  bn = &g->nodes[bn_id];
  xnnd_id ins[3] = {prod->inputs[0], new_w, new_b};
  st = xnnd_graph_set_node_inputs(g, prod_id, ins, 3);
  if (st != XNND_OK) goto done;
  xnnd_graph_replace_uses(g, bn->outputs[0], x);
  bn->dead = true;
  *folded = true;
done:
  free(s);
  free(nb);
  free(nw);
  return st;
}

static xnnd_status conv_bn_fold_run(xnnd_graph* g, uint32_t* changed) {
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    if (g->nodes[n].dead || g->nodes[n].op != XNND_OP_NATIVE_BATCH_NORM) continue;
    bool folded;
    xnnd_status st = fold_one(g, n, &folded);
    if (st != XNND_OK) return st;
    *changed += folded;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_conv_bn_fold = {
    "conv-bn-fold", "fold eval-mode batch norm into the convolution or linear before it",
    conv_bn_fold_run};
