/* The f32 fully connected microkernel behind f32_fc.c: 3 rows x 16 outputs, AVX2 + FMA3,
 * compiled with -mavx2 -mfma (this file only) and called only after f32_fc.c checked the CPU.
 * Each block of XNND_F32_FC_KC k-terms is accumulated from zero in float registers (six: two
 * weight vectors and a broadcast keep the loop within the 16 YMM) and then added to running
 * totals kept in double, so only the short in-block sums round in float. */
#include "f32_fc.h"

#if defined(__x86_64__)

#include <immintrin.h>

#include "avx2_store.h"

/* Running totals of 16 outputs in double. */
typedef struct row_sum {
  __m256d d[4];
} row_sum;

static inline row_sum row_sum_init(const float* bias) {
  row_sum r;
  for (int i = 0; i < 4; i++) r.d[i] = _mm256_cvtps_pd(_mm_load_ps(bias + 4 * i));
  return r;
}

static inline void row_sum_add(row_sum* r, __m256 lo, __m256 hi) {
  r->d[0] = _mm256_add_pd(r->d[0], _mm256_cvtps_pd(_mm256_castps256_ps128(lo)));
  r->d[1] = _mm256_add_pd(r->d[1], _mm256_cvtps_pd(_mm256_extractf128_ps(lo, 1)));
  r->d[2] = _mm256_add_pd(r->d[2], _mm256_cvtps_pd(_mm256_castps256_ps128(hi)));
  r->d[3] = _mm256_add_pd(r->d[3], _mm256_cvtps_pd(_mm256_extractf128_ps(hi, 1)));
}

static inline __m256 row_sum_half(const row_sum* r, int half) {
  return _mm256_set_m128(_mm256_cvtpd_ps(r->d[2 * half + 1]), _mm256_cvtpd_ps(r->d[2 * half]));
}

/* One row: four k-terms at a time into four accumulator pairs, so the FMA chains overlap. */
static void fc_1x16(size_t nc, size_t k, const float* a0, const float* w, float* c, float min, float max) {
  row_sum r0 = row_sum_init(w);
  w += 16;
  for (size_t k0 = 0; k0 < k; k0 += XNND_F32_FC_KC) {
    size_t kend = k - k0 < XNND_F32_FC_KC ? k : k0 + XNND_F32_FC_KC;
    __m256 t00 = _mm256_setzero_ps(), t01 = t00, t10 = t00, t11 = t00, t20 = t00, t21 = t00, t30 = t00, t31 = t00;
    size_t i = k0;
    for (; i + 4 <= kend; i += 4, w += 64) {
      __m256 x = _mm256_broadcast_ss(a0 + i);
      t00 = _mm256_fmadd_ps(x, _mm256_load_ps(w), t00);
      t01 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 8), t01);
      x = _mm256_broadcast_ss(a0 + i + 1);
      t10 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 16), t10);
      t11 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 24), t11);
      x = _mm256_broadcast_ss(a0 + i + 2);
      t20 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 32), t20);
      t21 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 40), t21);
      x = _mm256_broadcast_ss(a0 + i + 3);
      t30 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 48), t30);
      t31 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 56), t31);
    }
    for (; i < kend; i++, w += 16) {
      __m256 x = _mm256_broadcast_ss(a0 + i);
      t00 = _mm256_fmadd_ps(x, _mm256_load_ps(w), t00);
      t01 = _mm256_fmadd_ps(x, _mm256_load_ps(w + 8), t01);
    }
    row_sum_add(&r0, _mm256_add_ps(_mm256_add_ps(t00, t10), _mm256_add_ps(t20, t30)),
                _mm256_add_ps(_mm256_add_ps(t01, t11), _mm256_add_ps(t21, t31)));
  }
  const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
  __m256 s0 = row_sum_half(&r0, 0), s1 = row_sum_half(&r0, 1);
  s0 = _mm256_min_ps(vmax, _mm256_max_ps(vmin, s0));
  s1 = _mm256_min_ps(vmax, _mm256_max_ps(vmin, s1));
  avx2_store_row_f32(c, nc, s0, s1);
}

void xnnd_f32_fc_3x16_avx2(size_t mr, size_t nc, size_t k, const float* a, size_t lda, const float* w, float* c,
                           size_t ldc, float min, float max) {
  if (mr == 1) {
    fc_1x16(nc, k, a, w, c, min, max);
    return;
  }
  const float* a0 = a;
  const float* a1 = mr > 1 ? a + lda : a0;
  const float* a2 = mr > 2 ? a + 2 * lda : a1;
  row_sum r0 = row_sum_init(w), r1 = r0, r2 = r0;
  w += 16;
  for (size_t k0 = 0; k0 < k; k0 += XNND_F32_FC_KC) {
    size_t kend = k - k0 < XNND_F32_FC_KC ? k : k0 + XNND_F32_FC_KC;
    __m256 t00 = _mm256_setzero_ps(), t01 = t00, t10 = t00, t11 = t00, t20 = t00, t21 = t00;
    for (size_t i = k0; i < kend; i++, w += 16) {
      const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8);
      __m256 x = _mm256_broadcast_ss(a0 + i);
      t00 = _mm256_fmadd_ps(x, b0, t00);
      t01 = _mm256_fmadd_ps(x, b1, t01);
      x = _mm256_broadcast_ss(a1 + i);
      t10 = _mm256_fmadd_ps(x, b0, t10);
      t11 = _mm256_fmadd_ps(x, b1, t11);
      x = _mm256_broadcast_ss(a2 + i);
      t20 = _mm256_fmadd_ps(x, b0, t20);
      t21 = _mm256_fmadd_ps(x, b1, t21);
    }
    row_sum_add(&r0, t00, t01);
    row_sum_add(&r1, t10, t11);
    row_sum_add(&r2, t20, t21);
  }
  __m256 s00 = row_sum_half(&r0, 0), s01 = row_sum_half(&r0, 1), s10 = row_sum_half(&r1, 0),
         s11 = row_sum_half(&r1, 1), s20 = row_sum_half(&r2, 0), s21 = row_sum_half(&r2, 1);
  const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
/* Operands in this order keep a NaN accumulator NaN (maxps returns its second operand). */
#define CLAMP(v) v = _mm256_min_ps(vmax, _mm256_max_ps(vmin, v))
  CLAMP(s00); CLAMP(s01); CLAMP(s10); CLAMP(s11); CLAMP(s20); CLAMP(s21);
#undef CLAMP
  avx2_store_row_f32(c, nc, s00, s01);
  if (mr > 1) avx2_store_row_f32(c + ldc, nc, s10, s11);
  if (mr > 2) avx2_store_row_f32(c + 2 * ldc, nc, s20, s21);
}

#endif
