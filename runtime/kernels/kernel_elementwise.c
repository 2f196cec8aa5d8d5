/* Elementwise f32 ops: unary activations share one prepare/run keyed by an op code. The
 * broadcasting binary ops (add/sub/mul/div, ...) are in kernel_binary.c. */
#include <math.h>
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

/* GELU without libm calls, in loops the compiler vectorizes: branch-free, and the choices are
 * integer masks on the bits (float compares may trap on NaN, which stops GCC's if-conversion).
 * Both forms are x * P where P -> 1 for x -> +inf, so for x >= 0 they compute x - x * (1 - P)
 * (no rounding of 1 - P near 1) and for x < 0 x * P (no cancellation in 1 + erf or 1 + tanh).
 * +inf gives +inf, -inf and NaN give NaN, as 0.5 x (1 + erf) did. Measured against double over
 * every 61st float (results of magnitude >= 1e-30; below, the absolute error is < 1e-35): erf
 * form at most 6.7 ulp (0.5 x (1 + erff) lost all digits for x < -4: 1 + erff cancels); tanh
 * form at most 55 ulp for |x| <= 6 and 166 beyond, all of it in the negative tail from the f32
 * rounding of u (0.5 x (1 + tanhf) there was 0). On vit_b_16's MLP shape (197 x 3072, x in
 * [-4, 4]) the largest absolute errors are 1.3e-7 (erf) and 1.4e-7 (tanh), PyTorch fp32's
 * 1.2e-6 and 2.9e-7. */
static inline float pick_by_sign(float v, float neg, float pos) {
  uint32_t vb, nb, pb;
  memcpy(&vb, &v, sizeof(vb));
  memcpy(&nb, &neg, sizeof(nb));
  memcpy(&pb, &pos, sizeof(pb));
  const uint32_t is_neg = 0u - (vb >> 31), is_inf = 0u - (uint32_t)(vb == 0x7F800000u);
  pb = (pb & ~is_inf) | (vb & is_inf);
  const uint32_t rb = (nb & is_neg) | (pb & ~is_neg);
  float r;
  memcpy(&r, &rb, sizeof(r));
  return r;
}

/* gelu(x) = x Phi(x). Q(a) = 1 - Phi(a) = 0.5 erfc(a / sqrt 2) for a = |x| is computed as
 * exp(-a^2 / 2) * R(t), t = 1 / (1 + 0.3 a), R a degree-10 polynomial fitted (weighted least
 * squares toward minimax, double) to Q(a) exp(a^2 / 2) on a in [0, 14.5]: 3.0e-9 relative in
 * double, 2.5e-7 evaluated in f32. a^2 is carried exactly (below) so the exp argument adds no
 * rounding error. a is clamped to 20 (Q < 3e-89 rounds to 0). */
static inline float gelu_erf(float v) {
  uint32_t ab;
  memcpy(&ab, &v, sizeof(ab));
  ab &= 0x7FFFFFFFu;
  const uint32_t big = 0u - (uint32_t)((ab > 0x41A00000u) & (ab <= 0x7F800000u)); /* 20.0f */
  ab = (ab & ~big) | (0x41A00000u & big);
  float a, ah;
  memcpy(&a, &ab, sizeof(a));
  const uint32_t hb = ab & 0xFFFFF000u;
  memcpy(&ah, &hb, sizeof(ah));
  const float t = 1.0f / (1.0f + 0.3f * a);
  float r = -1.999707334e-02f;
  r = r * t + 1.087612361e-01f;
  r = r * t + -2.187668383e-01f;
  r = r * t + 1.777946353e-01f;
  r = r * t + -6.623549014e-02f;
  r = r * t + 8.790557832e-02f;
  r = r * t + 8.185236901e-02f;
  r = r * t + 1.092748716e-01f;
  r = r * t + 1.197400838e-01f;
  r = r * t + 1.196698993e-01f;
  r = r * t + 7.238699595e-07f;
  /* a^2 = sq + err exactly (Dekker's product with the 12-bit split a = ah + al); err is below
   * half an ulp of sq, so exp(-(sq + err) / 2) = exp(-sq / 2) * (1 - err / 2) to 1e-11. */
  const float al = a - ah, sq = a * a;
  const float err = ((ah * ah - sq) + 2.0f * ah * al) + al * al;
  const float q = kfm_expf(-0.5f * sq) * (1.0f - 0.5f * err) * r;
  /* |x| < 1: 0.5 x + 0.5 x erf(z), z = x / sqrt 2, erf(z) = z P(z^2) with P of degree 6 fitted
   * on z^2 in [0, 0.5] (1.1e-11 relative in double); 1 + erf(z) > 0.3 there, no cancellation,
   * where x * Q(|x|) would carry Q's error. */
  const float z = v * 0.70710678118654752f, s = z * z;
  float e = 9.718293586e-05f;
  e = e * s + -8.393139578e-04f;
  e = e * s + 5.218759645e-03f;
  e = e * s + -2.686526068e-02f;
  e = e * s + 1.128378436e-01f;
  e = e * s + -3.761263788e-01f;
  e = e * s + 1.128379226e+00f;
  const float h = 0.5f * v, small = h + h * (z * e);
  const float large = pick_by_sign(v, v * q, v - v * q);
  uint32_t sb, lb;
  memcpy(&sb, &small, sizeof(sb));
  memcpy(&lb, &large, sizeof(lb));
  const uint32_t is_small = 0u - (uint32_t)(ab < 0x3F800000u); /* |x| < 1.0f */
  const uint32_t rb = (sb & is_small) | (lb & ~is_small);
  float y;
  memcpy(&y, &rb, sizeof(y));
  return y;
}

/* tanh form: 1 + tanh(u) = 2 / (1 + exp(-2u)), so gelu = x / (1 + e) = x - x * e / (1 + e). */
static inline float gelu_tanh(float v) {
  const float e = kfm_expf(-1.5957691216057307f * (v + 0.044715f * v * v * v));
  const float d = 1.0f + e;
  return pick_by_sign(v, v / d, v - v * (e / d));
}

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
      for (size_t i = 0; i < n; i++) y[i] = gelu_erf(x[i]);
      break;
    case U_GELU_TANH:
      for (size_t i = 0; i < n; i++) y[i] = gelu_tanh(x[i]);
      break;
    default:
      return XNND_INTERNAL;
  }
  return XNND_OK;
}
