/* Elementwise f32 ops: unary activations share one prepare/run keyed by an op code. The
 * broadcasting binary ops (add/sub/mul/div, ...) are in kernel_binary.c. */
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "kernels/kernel_fastmath.h"
#include "kernels/kernel_util.h"

enum unary_op {
  U_RELU,
  U_HARDTANH, /* and clamp: lo/hi bounds, each optional */
  U_SIGMOID,
  U_TANH,
  U_HARDSWISH,
  U_HARDSIGMOID,
  U_SILU,
  U_GELU,
  U_GELU_TANH,
};

typedef struct unary_params {
  int op;
  float lo, hi;
  bool has_lo, has_hi;
} unary_params;
KPARAMS_FIT(unary_params);

static xnnd_status unary_prepare(const kcheck* c, unary_params* p, int op) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  if ((s = kcheck_same(c, koutput(c, 0), "out", x)) != XNND_OK) return s;
  *p = (unary_params){.op = op};
  return XNND_OK;
}

#define UNARY_PREPARE(name, code)                                 \
  KPREPARE(name) {                                                \
    const kcheck c = {"aten." #name, args, err, err_size};        \
    return unary_prepare(&c, params, code);                       \
  }
UNARY_PREPARE(relu, U_RELU)
UNARY_PREPARE(sigmoid, U_SIGMOID)
UNARY_PREPARE(tanh, U_TANH)
UNARY_PREPARE(hardswish, U_HARDSWISH)
UNARY_PREPARE(hardsigmoid, U_HARDSIGMOID)
UNARY_PREPARE(silu, U_SILU)

KPREPARE(hardtanh) {
  const kcheck c = {"aten.hardtanh", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_HARDTANH);
  if (s != XNND_OK) return s;
  double lo, hi;
  if ((s = kattr_float(&c, "min_val", -1.0, &lo)) != XNND_OK ||
      (s = kattr_float(&c, "max_val", 1.0, &hi)) != XNND_OK)
    return s;
  /* A NaN bound makes every comparison false: PyTorch then returns NaN, XNNPACK refuses it. */
  if (isnan(lo) || isnan(hi))
    return kfail(&c, XNND_INVALID_ARGUMENT, "%s is NaN", isnan(lo) ? "min_val" : "max_val");
  if (lo > hi)
    return kfail(&c, XNND_INVALID_ARGUMENT, "min_val %g is greater than max_val %g", lo, hi);
  p->lo = (float)lo;
  p->hi = (float)hi;
  p->has_lo = p->has_hi = true;
  return XNND_OK;
}

KPREPARE(clamp) {
  const kcheck c = {"aten.clamp", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_HARDTANH);
  if (s != XNND_OK) return s;
  double lo = 0, hi = 0;
  if ((s = kattr_float_opt(&c, "min", &p->has_lo, &lo)) != XNND_OK ||
      (s = kattr_float_opt(&c, "max", &p->has_hi, &hi)) != XNND_OK)
    return s;
  if (!p->has_lo && !p->has_hi)
    return kfail(&c, XNND_INVALID_ARGUMENT, "at least one of min and max must be given");
  if ((p->has_lo && isnan(lo)) || (p->has_hi && isnan(hi)))
    return kfail(&c, XNND_INVALID_ARGUMENT, "%s is NaN", p->has_lo && isnan(lo) ? "min" : "max");
  p->lo = (float)lo;
  p->hi = (float)hi;
  return XNND_OK;
}

KPREPARE(gelu) {
  const kcheck c = {"aten.gelu", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_GELU);
  if (s != XNND_OK) return s;
  int64_t approx;
  if ((s = kattr_int(&c, "approximate", 0, &approx)) != XNND_OK) return s;
  if (approx != 0 && approx != 1)
    return kfail(&c, XNND_INVALID_ARGUMENT, "approximate must be 0 (none) or 1 (tanh), got %lld",
                 (long long)approx);
  p->op = approx ? U_GELU_TANH : U_GELU;
  return XNND_OK;
}

/* The AVX2 copies of the gelu and exp loops (kernel_act_avx2.c), once the CPU has AVX2 and FMA
 * (checked once per process; delegates are created from several threads at once). */
#if XNND_KFM_AVX2
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;
static bool g_avx2;

static void detect_cpu(void) {
  __builtin_cpu_init();
  g_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

bool xnnd_kfm_avx2(void) {
  pthread_once(&g_cpu_once, detect_cpu);
  return g_avx2;
}
#endif

static inline float relu6_div6(float v) {
  float r = v + 3.0f;
  r = r < 0.0f ? 0.0f : r;
  r = r > 6.0f ? 6.0f : r;
  return r / 6.0f;
}

KRUN(unary) {
  const unary_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const size_t n = knumel(args->inputs[0]);
  switch (p->op) {
    case U_RELU:
      /* NaN stays NaN, as in PyTorch. */
      for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case U_HARDTANH: {
      const float lo = p->lo, hi = p->hi;
      /* clamp(min > max) yields max, like PyTorch's min(max(x, lo), hi). */
      for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (p->has_lo && v < lo) v = lo;
        if (p->has_hi && v > hi) v = hi;
        y[i] = v;
      }
      break;
    }
    case U_SIGMOID:
      for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
      break;
    case U_TANH:
      for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
      break;
    case U_HARDSWISH:
      for (size_t i = 0; i < n; i++) y[i] = x[i] * relu6_div6(x[i]);
      break;
    case U_HARDSIGMOID:
      for (size_t i = 0; i < n; i++) y[i] = relu6_div6(x[i]);
      break;
    case U_SILU:
      for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
      break;
    case U_GELU:
    case U_GELU_TANH:
#if XNND_KFM_AVX2
      if (xnnd_kfm_avx2()) {
        xnnd_kfm_gelu_avx2(x, y, n, p->op == U_GELU_TANH);
        break;
      }
#endif
      if (p->op == U_GELU_TANH)
        for (size_t i = 0; i < n; i++) y[i] = kfm_gelu_tanh(x[i]);
      else
        for (size_t i = 0; i < n; i++) y[i] = kfm_gelu_erf(x[i]);
      break;
    default:
      return XNND_INTERNAL;
  }
  return XNND_OK;
}
