/* Branch-free f32 exp for the portable kernels (softmax, gelu): written so that the compiler
 * vectorizes the loops that call it (no calls, no branches, no float-to-int conversions).
 * exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (Cody-Waite: ln 2 split in a
 * 9-bit head, so n * head is exact, and a tail), e^r by its degree-7 Taylor polynomial on
 * |r| <= ln(2)/2 (truncation error below 6e-9 relative). 2^n is applied as two factors
 * 2^(n/2) * 2^(n - n/2), both normal floats, so results in the subnormal range are rounded
 * once, like expf's. Inputs are clamped to [-104, 89]: below, the result rounds to +0; above,
 * it is +inf. NaN stays NaN (not clamped).
 * Measured against exp() in double over every 3rd float in [-104, 89] (tests/test_kernels.c
 * checks a sample): at most 1 ulp for normal results. */
#ifndef XNND_KERNEL_FASTMATH_H
#define XNND_KERNEL_FASTMATH_H

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

#endif
