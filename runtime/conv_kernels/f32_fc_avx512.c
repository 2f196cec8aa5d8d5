/* The AVX-512 f32 fully connected microkernel behind f32_fc.c: 8 rows x 16 outputs, compiled
 * with -mavx512f (this file only) and called only after f32_fc.c found AVX-512F on the CPU.
 * Same arithmetic as the AVX2 kernel: each block of XNND_F32_FC_KC k-terms is accumulated from
 * zero in float (one register per row), then added to running totals kept in double. Eight rows
 * share each weight load, where the AVX2 kernel's three rows (16 YMM) reload the panel from L2
 * every three rows. One row has a path of its own (fc_1x16). */
#include "f32_fc.h"

#if defined(__x86_64__)

#include <immintrin.h>

#define MR 8

/* The 16 floats of v widened to two vectors of 8 doubles. */
static inline __m512d lo_pd(__m512 v) { return _mm512_cvtps_pd(_mm512_castps512_ps256(v)); }
static inline __m512d hi_pd(__m512 v) {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
static inline __m512 narrow(__m512d lo, __m512d hi) {
  return _mm512_castpd_ps(
      _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm512_cvtpd_ps(lo))),
                         _mm256_castps_pd(_mm512_cvtpd_ps(hi)), 1));
}

/* mrc (a constant after inlining) rows; the per-row arrays then live in registers. */
static inline __attribute__((always_inline)) void fc_rows(const size_t mrc, size_t nc, size_t k, const float* a,
                                                          size_t lda, const float* w, float* c, size_t ldc,
                                                          float min, float max) {
  const __m512 bias = _mm512_load_ps(w);
  __m512d tlo[MR], thi[MR];
  for (size_t r = 0; r < mrc; r++) tlo[r] = lo_pd(bias), thi[r] = hi_pd(bias);
  w += 16;
  for (size_t k0 = 0; k0 < k; k0 += XNND_F32_FC_KC) {
    const size_t kend = k - k0 < XNND_F32_FC_KC ? k : k0 + XNND_F32_FC_KC;
    __m512 t[MR];
    for (size_t r = 0; r < mrc; r++) t[r] = _mm512_setzero_ps();
    for (size_t i = k0; i < kend; i++, w += 16) {
      const __m512 b = _mm512_load_ps(w);
      for (size_t r = 0; r < mrc; r++) t[r] = _mm512_fmadd_ps(_mm512_set1_ps(a[r * lda + i]), b, t[r]);
    }
    for (size_t r = 0; r < mrc; r++) {
      tlo[r] = _mm512_add_pd(tlo[r], lo_pd(t[r]));
      thi[r] = _mm512_add_pd(thi[r], hi_pd(t[r]));
    }
  }
  const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
  const __mmask16 mask = (__mmask16)(nc >= 16 ? 0xffffu : (1u << nc) - 1u);
  for (size_t r = 0; r < mrc; r++) {
    /* Operands in this order keep a NaN total NaN (maxps returns its second operand). */
    const __m512 s = _mm512_min_ps(vmax, _mm512_max_ps(vmin, narrow(tlo[r], thi[r])));
    _mm512_mask_storeu_ps(c + r * ldc, mask, s);
  }
}

/* One row (a matrix-vector product, batch 1): no weight reuse across rows, so the time is
 * streaming the panel; four k-terms at a time into four accumulators keep enough FMAs and
 * loads in flight to run at the cache's or memory's rate. The four are summed in float at
 * the end of each block (as the AVX2 one-row path does), then added to the double totals. */
static void fc_1x16(size_t nc, size_t k, const float* a, const float* w, float* c, float min, float max) {
  const __m512 bias = _mm512_load_ps(w);
  __m512d tlo = lo_pd(bias), thi = hi_pd(bias);
  w += 16;
  for (size_t k0 = 0; k0 < k; k0 += XNND_F32_FC_KC) {
    const size_t kend = k - k0 < XNND_F32_FC_KC ? k : k0 + XNND_F32_FC_KC;
    __m512 t0 = _mm512_setzero_ps(), t1 = t0, t2 = t0, t3 = t0;
    size_t i = k0;
    for (; i + 4 <= kend; i += 4, w += 64) {
      t0 = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), _mm512_load_ps(w), t0);
      t1 = _mm512_fmadd_ps(_mm512_set1_ps(a[i + 1]), _mm512_load_ps(w + 16), t1);
      t2 = _mm512_fmadd_ps(_mm512_set1_ps(a[i + 2]), _mm512_load_ps(w + 32), t2);
      t3 = _mm512_fmadd_ps(_mm512_set1_ps(a[i + 3]), _mm512_load_ps(w + 48), t3);
    }
    for (; i < kend; i++, w += 16) t0 = _mm512_fmadd_ps(_mm512_set1_ps(a[i]), _mm512_load_ps(w), t0);
    const __m512 t = _mm512_add_ps(_mm512_add_ps(t0, t1), _mm512_add_ps(t2, t3));
    tlo = _mm512_add_pd(tlo, lo_pd(t));
    thi = _mm512_add_pd(thi, hi_pd(t));
  }
  const __m512 vmin = _mm512_set1_ps(min), vmax = _mm512_set1_ps(max);
  const __mmask16 mask = (__mmask16)(nc >= 16 ? 0xffffu : (1u << nc) - 1u);
  _mm512_mask_storeu_ps(c, mask, _mm512_min_ps(vmax, _mm512_max_ps(vmin, narrow(tlo, thi))));
}

void xnnd_f32_fc_8x16_avx512(size_t mr, size_t nc, size_t k, const float* a, size_t lda, const float* w, float* c,
                             size_t ldc, float min, float max) {
  switch (mr) {
    case 1: fc_1x16(nc, k, a, w, c, min, max); break;
#define ROWS(n) \
  case n: fc_rows(n, nc, k, a, lda, w, c, ldc, min, max); break;
    ROWS(2) ROWS(3) ROWS(4) ROWS(5) ROWS(6) ROWS(7)
#undef ROWS
    default: fc_rows(MR, nc, k, a, lda, w, c, ldc, min, max); break;
  }
}

#endif
