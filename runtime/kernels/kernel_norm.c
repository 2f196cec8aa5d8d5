/* aten.native_batch_norm in inference mode: y = (x - running_mean) / sqrt(running_var + eps)
 * * weight + bias per channel (dim 1). Training mode needs batch statistics and running-stat
 * updates, which a portable inference runtime does not do: prepare() rejects it.
 * aten.native_layer_norm normalizes over trailing dims (below). */
#include <math.h>

#include "kernels/kernel_util.h"

typedef struct bn_params {
  int64_t n, c, inner; /* inner = product of dims after the channel dim */
  double eps;
  bool has_weight, has_bias;
  bool write_stats; /* save_mean/save_invstd given as [C] rather than [0] */
} bn_params;
KPARAMS_FIT(bn_params);

static xnnd_status check_vec(const kcheck* c, const xnnd_tensor* t, const char* what,
                             int64_t channels) {
  xnnd_status s = kcheck_tensor(c, t, what, XNND_F32, 1);
  if (s != XNND_OK) return s;
  if (t->dims[0] != channels)
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has %lld entries, input has %lld channels", what,
                 (long long)t->dims[0], (long long)channels);
  return XNND_OK;
}

KPREPARE(native_batch_norm) {
  const kcheck c = {"aten.native_batch_norm", args, err, err_size};
  bn_params* p = params;
  xnnd_status s = kcheck_arity(&c, 5, 5, 1);
  if (s != XNND_OK) return s;
  bool training;
  double eps, momentum;
  if ((s = kattr_bool(&c, "training", false, &training)) != XNND_OK ||
      (s = kattr_float(&c, "momentum", 0.1, &momentum)) != XNND_OK ||
      (s = kattr_float(&c, "eps", 1e-5, &eps)) != XNND_OK)
    return s;
  if (training)
    return kfail(&c, XNND_UNSUPPORTED,
                 "training=true is not supported (inference only: export the model in eval mode)");
  if (!(eps >= 0.0))
    return kfail(&c, XNND_INVALID_ARGUMENT, "eps must be non-negative, got %g", eps);

  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "input", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank < 2)
    return kfail(&c, XNND_SHAPE_MISMATCH, "input has rank %u, expected at least 2 (N,C,...)",
                 x->rank);
  const int64_t C = x->dims[1];
  const xnnd_tensor* w = kinput(&c, 1);
  const xnnd_tensor* b = kinput(&c, 2);
  if (w && (s = check_vec(&c, w, "weight", C)) != XNND_OK) return s;
  if (b && (s = check_vec(&c, b, "bias", C)) != XNND_OK) return s;
  if ((s = check_vec(&c, kinput(&c, 3), "running_mean", C)) != XNND_OK ||
      (s = check_vec(&c, kinput(&c, 4), "running_var", C)) != XNND_OK)
    return s;
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;

  /* Eval mode returns empty save_mean/save_invstd; accept [C] too and fill it. */
  bool stats_full = false;
  static const char* const stat_names[2] = {"save_mean", "save_invstd"};
  for (uint32_t i = 1; i < 3; i++) {
    const xnnd_tensor* t = koutput(&c, i);
    if (!t) continue;
    if ((s = kcheck_tensor(&c, t, stat_names[i - 1], XNND_F32, 1)) != XNND_OK) return s;
    if (t->dims[0] != 0 && t->dims[0] != C)
      return kfail(&c, XNND_SHAPE_MISMATCH, "%s has %lld entries, expected 0 (eval) or %lld",
                   stat_names[i - 1], (long long)t->dims[0], (long long)C);
    if (t->dims[0] == C && C != 0) stats_full = true;
  }
  if (stats_full && (!koutput(&c, 1) || !koutput(&c, 2) || koutput(&c, 1)->dims[0] != C ||
                     koutput(&c, 2)->dims[0] != C))
    return kfail(&c, XNND_SHAPE_MISMATCH, "save_mean and save_invstd must both be [0] or [%lld]",
                 (long long)C);

  int64_t inner = 1;
  for (uint32_t i = 2; i < x->rank; i++) inner *= x->dims[i];
  *p = (bn_params){.n = x->dims[0], .c = C, .inner = inner, .eps = eps,
                   .has_weight = w != NULL, .has_bias = b != NULL, .write_stats = stats_full};
  return XNND_OK;
}

KRUN(native_batch_norm) {
  const bn_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* w = p->has_weight ? args->inputs[1]->data : NULL;
  const float* b = p->has_bias ? args->inputs[2]->data : NULL;
  const float* mean = args->inputs[3]->data;
  const float* var = args->inputs[4]->data;
  float* y = args->outputs[0]->data;
  for (int64_t ch = 0; ch < p->c; ch++) {
    const double invstd = 1.0 / sqrt((double)var[ch] + p->eps);
    const float scale = (float)((w ? (double)w[ch] : 1.0) * invstd);
    const float shift = (float)((b ? (double)b[ch] : 0.0) - (double)mean[ch] * scale);
    for (int64_t n = 0; n < p->n; n++) {
      const float* xi = x + (n * p->c + ch) * p->inner;
      float* yi = y + (n * p->c + ch) * p->inner;
      for (int64_t i = 0; i < p->inner; i++) yi[i] = xi[i] * scale + shift;
    }
    if (p->write_stats) {
      ((float*)args->outputs[1]->data)[ch] = mean[ch];
      ((float*)args->outputs[2]->data)[ch] = (float)invstd;
    }
  }
  return XNND_OK;
}

/* aten.native_layer_norm over the trailing dims: per row of `inner` elements, mean and
 * variance (two passes, double accumulation), y = (x - mean) * rstd * weight + bias. The mean
 * and rstd outputs are filled when present. Sums run over 8 double lanes, so the compiler
 * vectorizes them. */
typedef struct ln_params {
  int64_t rows, inner;
  double eps;
  bool has_weight, has_bias;
} ln_params;
KPARAMS_FIT(ln_params);

KPREPARE(native_layer_norm) {
  const kcheck c = {"aten.native_layer_norm", args, err, err_size};
  ln_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "input", XNND_F32, -1)) != XNND_OK) return s;
  int64_t shape[XNND_MAX_RANK];
  uint32_t n;
  double eps;
  if ((s = kattr_ints(&c, "normalized_shape", NULL, 0, XNND_MAX_RANK, shape, &n)) != XNND_OK ||
      (s = kattr_float(&c, "eps", 1e-5, &eps)) != XNND_OK)
    return s;
  if (!(eps >= 0.0))
    return kfail(&c, XNND_INVALID_ARGUMENT, "eps must be non-negative, got %g", eps);
  if (n < 1 || n > x->rank)
    return kfail(&c, XNND_SHAPE_MISMATCH, "normalized_shape has %u entries, input has rank %u", n,
                 x->rank);
  const uint32_t axis = x->rank - n;
  int64_t inner = 1, rows = 1;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i < axis) {
      rows *= x->dims[i];
    } else {
      if (x->dims[i] != shape[i - axis]) {
        char got[160], want[160];
        return kfail(&c, XNND_SHAPE_MISMATCH,
                     "normalized_shape %s does not match the trailing dims of input %s",
                     kshape_str(want, sizeof(want), n, shape),
                     kshape_str(got, sizeof(got), x->rank, x->dims));
      }
      inner *= x->dims[i];
    }
  }
  static const char* const names[3] = {"input", "weight", "bias"};
  for (uint32_t i = 1; i < 3; i++) {
    const xnnd_tensor* t = kinput(&c, i);
    if (!t) continue;
    if ((s = kcheck_tensor(&c, t, names[i], XNND_F32, (int)n)) != XNND_OK ||
        (s = kcheck_shape(&c, t, names[i], n, shape)) != XNND_OK)
      return s;
  }
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;
  int64_t stat[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) stat[i] = i < axis ? x->dims[i] : 1;
  static const char* const stat_names[2] = {"mean", "rstd"};
  for (uint32_t i = 1; i < 3; i++) {
    const xnnd_tensor* t = koutput(&c, i);
    if (!t) continue;
    if ((s = kcheck_tensor(&c, t, stat_names[i - 1], XNND_F32, -1)) != XNND_OK ||
        (s = kcheck_shape(&c, t, stat_names[i - 1], x->rank, stat)) != XNND_OK)
      return s;
  }
  *p = (ln_params){.rows = rows, .inner = inner, .eps = eps, .has_weight = kinput(&c, 1) != NULL,
                   .has_bias = kinput(&c, 2) != NULL};
  return XNND_OK;
}

KRUN(native_layer_norm) {
  const ln_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* w = p->has_weight ? args->inputs[1]->data : NULL;
  const float* b = p->has_bias ? args->inputs[2]->data : NULL;
  float* y = args->outputs[0]->data;
  float* mean_out = args->num_outputs > 1 && args->outputs[1] ? args->outputs[1]->data : NULL;
  float* rstd_out = args->num_outputs > 2 && args->outputs[2] ? args->outputs[2]->data : NULL;
  const int64_t M = p->inner;
  enum { L = 8 }; /* independent lanes: the compiler vectorizes the loops over them */
  for (int64_t r = 0; r < p->rows; r++) {
    const float* xr = x + r * M;
    float* yr = y + r * M;
    double sl[L] = {0};
    int64_t i = 0;
    for (; i + L <= M; i += L)
      for (int l = 0; l < L; l++) sl[l] += (double)xr[i + l];
    double sum = 0.0;
    for (int l = 0; l < L; l++) sum += sl[l];
    for (; i < M; i++) sum += xr[i];
    const double mean = M > 0 ? sum / (double)M : 0.0;
    double ql[L] = {0};
    for (i = 0; i + L <= M; i += L)
      for (int l = 0; l < L; l++) {
        const double d = (double)xr[i + l] - mean;
        ql[l] += d * d;
      }
    double sq = 0.0;
    for (int l = 0; l < L; l++) sq += ql[l];
    for (; i < M; i++) {
      const double d = (double)xr[i] - mean;
      sq += d * d;
    }
    const double var = M > 0 ? sq / (double)M : 0.0;
    const double rstd = 1.0 / sqrt(var + p->eps);
    /* The affine pass in double too (f32 here would be ~4x less accurate, like PyTorch). */
    for (i = 0; i < M; i++) {
      double v = ((double)xr[i] - mean) * rstd;
      if (w) v *= w[i];
      if (b) v += b[i];
      yr[i] = (float)v;
    }
    const float mf = (float)mean, rf = (float)rstd;
    if (mean_out) mean_out[r] = mf;
    if (rstd_out) rstd_out[r] = rf;
  }
  return XNND_OK;
}
