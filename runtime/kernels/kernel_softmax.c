/* aten.softmax over any dim of an f32 tensor, numerically stable: exp(x - max) / sum, computed
 * per (outer, inner) line of the [outer, dim, inner] view. The output doubles as the exp buffer,
 * so run() needs no scratch memory. */
#include <math.h>

#include "kernels/kernel_util.h"

typedef struct softmax_params {
  int64_t outer, dim, inner;
} softmax_params;
KPARAMS_FIT(softmax_params);

KPREPARE(softmax) {
  const kcheck c = {"aten.softmax", args, err, err_size};
  softmax_params* p = params;
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
  *p = (softmax_params){.outer = 1, .dim = 1, .inner = 1};
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i < d) p->outer *= x->dims[i];
    else if (i == d) p->dim = x->dims[i];
    else p->inner *= x->dims[i];
  }
  return XNND_OK;
}

KRUN(softmax) {
  const softmax_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t D = p->dim, I = p->inner;
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t j = 0; j < I; j++) {
      const float* xl = x + o * D * I + j;
      float* yl = y + o * D * I + j;
      float m = -INFINITY;
      for (int64_t k = 0; k < D; k++)
        if (xl[k * I] > m || isnan(xl[k * I])) m = xl[k * I];
      double sum = 0.0;
      for (int64_t k = 0; k < D; k++) {
        const float e = expf(xl[k * I] - m);
        yl[k * I] = e;
        sum += e;
      }
      const float inv = (float)(1.0 / sum);
      for (int64_t k = 0; k < D; k++) yl[k * I] *= inv;
    }
  }
  return XNND_OK;
}
