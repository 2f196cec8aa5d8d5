/* aten.softmax and aten.log_softmax over any dim of an f32 tensor, numerically stable:
 * exp(x - max) / sum and x - max - log(sum), computed per (outer, inner) line of the
 * [outer, dim, inner] view. The output doubles as the exp buffer, so run() needs no scratch
 * memory. exp is kfm_expf (kernel_fastmath.h, at most 1.01 ulp from exp in double), sums are in
 * double. A contiguous line (inner == 1, the attention case) runs softmax_line(), whose loops
 * over 8 independent lanes the compiler vectorizes (its exp loop in AVX2 where the CPU has it). */
#include <math.h>

#include "kernels/kernel_fastmath.h"
#include "kernels/kernel_util.h"

enum { SM_LANES = 8 };

/* One contiguous line of D values. The max ignores NaN, but a NaN makes its exp, the sum and so
 * every output NaN, as in the strided loop. */
static void softmax_line(const float* x, float* y, int64_t D, bool log_form) {
  float ml[SM_LANES];
  for (int l = 0; l < SM_LANES; l++) ml[l] = -INFINITY;
  int64_t k = 0;
  for (; k + SM_LANES <= D; k += SM_LANES)
    for (int l = 0; l < SM_LANES; l++) ml[l] = x[k + l] > ml[l] ? x[k + l] : ml[l];
  float m = -INFINITY;
  for (int l = 0; l < SM_LANES; l++) m = ml[l] > m ? ml[l] : m;
  for (; k < D; k++) m = x[k] > m ? x[k] : m;
  /* exp into y first (a plain loop, vectorized), then its sum over double lanes. */
#if XNND_KFM_AVX2
  if (xnnd_kfm_avx2())
    xnnd_kfm_exp_sub_avx2(x, y, D, m);
  else
#endif
    for (k = 0; k < D; k++) y[k] = kfm_expf(x[k] - m);
  double sl[SM_LANES] = {0};
  for (k = 0; k + SM_LANES <= D; k += SM_LANES)
    for (int l = 0; l < SM_LANES; l++) sl[l] += (double)y[k + l];
  double sum = 0.0;
  for (int l = 0; l < SM_LANES; l++) sum += sl[l];
  for (; k < D; k++) sum += y[k];
  if (log_form) {
    const float logsum = (float)log(sum);
    for (k = 0; k < D; k++) y[k] = (x[k] - m) - logsum;
    return;
  }
  const double inv = 1.0 / sum; /* in double: one rounding fewer than an f32 inverse */
  for (k = 0; k < D; k++) y[k] = (float)((double)y[k] * inv);
}

typedef struct softmax_params {
  int64_t outer, dim, inner;
  bool log;
} softmax_params;
KPARAMS_FIT(softmax_params);

static xnnd_status softmax_prepare(const kcheck* cp, softmax_params* p, bool log) {
  const kcheck c = *cp;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  bool present, half_to_float;
  int64_t dim = 0;
  if ((s = kattr_int_opt(&c, "dim", &present, &dim)) != XNND_OK ||
      (s = kattr_bool(&c, "half_to_float", false, &half_to_float)) != XNND_OK)
    return s;
  if (!present) return kfail(&c, XNND_INVALID_ARGUMENT, "attribute dim is missing");
  if (half_to_float)
    return kfail(&c, XNND_INVALID_ARGUMENT, "half_to_float=true needs an f16 input, self is f32");
  uint32_t d;
  if ((s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;
  *p = (softmax_params){.outer = 1, .dim = 1, .inner = 1, .log = log};
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i < d) p->outer *= x->dims[i];
    else if (i == d) p->dim = x->dims[i];
    else p->inner *= x->dims[i];
  }
  return XNND_OK;
}

KPREPARE(softmax) {
  const kcheck c = {"aten.softmax", args, err, err_size};
  return softmax_prepare(&c, params, false);
}

KPREPARE(log_softmax) {
  const kcheck c = {"aten.log_softmax", args, err, err_size};
  return softmax_prepare(&c, params, true);
}

KRUN(softmax) {
  const softmax_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t D = p->dim, I = p->inner;
  if (I == 1) {
    for (int64_t o = 0; o < p->outer; o++) softmax_line(x + o * D, y + o * D, D, p->log);
    return XNND_OK;
  }
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t j = 0; j < I; j++) {
      const float* xl = x + o * D * I + j;
      float* yl = y + o * D * I + j;
      float m = -INFINITY;
      for (int64_t k = 0; k < D; k++)
        if (xl[k * I] > m || isnan(xl[k * I])) m = xl[k * I];
      double sum = 0.0;
      if (p->log) {
        for (int64_t k = 0; k < D; k++) sum += kfm_expf(xl[k * I] - m);
        const float logsum = (float)log(sum);
        for (int64_t k = 0; k < D; k++) yl[k * I] = (xl[k * I] - m) - logsum;
        continue;
      }
      for (int64_t k = 0; k < D; k++) {
        const float e = kfm_expf(xl[k * I] - m);
        yl[k * I] = e;
        sum += e;
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t k = 0; k < D; k++) yl[k * I] *= inv;
    }
  }
  return XNND_OK;
}
