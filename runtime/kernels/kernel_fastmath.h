/* Branch-free f32 exp and gelu for the portable kernels (softmax, gelu): written so that the
 * compiler vectorizes the loops that call it (no calls, no branches, no float-to-int conversions).
 * exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (Cody-Waite: ln 2 split in a
 * 9-bit head, so n * head is exact, and a tail), e^r by its degree-7 Taylor polynomial on
 * |r| <= ln(2)/2 (truncation error below 6e-9 relative). 2^n is applied as two factors
 * 2^(n/2) * 2^(n - n/2), both normal floats, so results in the subnormal range are rounded
 * once, like expf's. Inputs are clamped to [-104, 89]: below, the result rounds to +0; above,
 * it is +inf. NaN stays NaN (not clamped).
 * Measured against exp() in double over every 7th float in [-104, 89] (tests/test_kernels.c
 * checks every 997th): at most 1.01 ulp for normal results, 0.75 of the smallest subnormal
 * below FLT_MIN. */
#ifndef XNND_KERNEL_FASTMATH_H
#define XNND_KERNEL_FASTMATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline float kfm_expf(float x) {
  /* The clamp compares the bits as integers: float compares would trap on NaN, which keeps
   * GCC (trapping math) from vectorizing. 0x42D00000 is 104.0f, 0x42B20000 is 89.0f. */
  uint32_t xb;
  memcpy(&xb, &x, sizeof(xb));
  const uint32_t ax = xb & 0x7FFFFFFFu, lim = (xb >> 31) ? 0x42D00000u : 0x42B20000u;
  xb = ax > lim && ax <= 0x7F800000u ? (xb & 0x80000000u) | lim : xb;
  memcpy(&x, &xb, sizeof(x));
  const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
  float fn = x * 1.44269504088896341f + magic;
  uint32_t nb;
  memcpy(&nb, &fn, sizeof(nb));
  fn -= magic;
  const int32_t n = (int32_t)(nb - 0x4B400000u); /* the integer n, from the low mantissa bits */
  float r = x - fn * 0.693359375f;
  r = r - fn * -2.12194440054690583e-4f;
  float q = 1.0f / 5040.0f;
  q = q * r + 1.0f / 720.0f;
  q = q * r + 1.0f / 120.0f;
  q = q * r + 1.0f / 24.0f;
  q = q * r + 1.0f / 6.0f;
  q = q * r + 0.5f;
  const float p = (q * (r * r) + r) + 1.0f; /* 1 and r added last: smaller rounding error */
  const int32_t n1 = n / 2, n2 = n - n1;
  const uint32_t b1 = (uint32_t)(n1 + 127) << 23, b2 = (uint32_t)(n2 + 127) << 23;
  float s1, s2;
  memcpy(&s1, &b1, sizeof(s1));
  memcpy(&s2, &b2, sizeof(s2));
  return p * s1 * s2;
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
static inline float kfm_pick_by_sign(float v, float neg, float pos) {
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
static inline float kfm_gelu_erf(float v) {
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
  const float large = kfm_pick_by_sign(v, v * q, v - v * q);
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
static inline float kfm_gelu_tanh(float v) {
  const float e = kfm_expf(-1.5957691216057307f * (v + 0.044715f * v * v * v));
  const float d = 1.0f + e;
  return kfm_pick_by_sign(v, v / d, v - v * (e / d));
}

/* x86-64: the same loops built with -mavx2 -mfma (kernel_act_avx2.c), called only when
 * xnnd_kfm_avx2() (kernel_elementwise.c) says the CPU has both. */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define XNND_KFM_AVX2 1
bool xnnd_kfm_avx2(void);
void xnnd_kfm_exp_sub_avx2(const float* x, float* y, int64_t n, float m); /* y = exp(x - m) */
void xnnd_kfm_gelu_avx2(const float* x, float* y, size_t n, bool tanh_form);
#else
#define XNND_KFM_AVX2 0
#endif

#endif
