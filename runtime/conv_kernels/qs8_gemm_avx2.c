/* The int8 GEMM microkernel and input widening behind qs8_conv.c (see qs8_conv.h for the
 * packed layout): 6 rows x 16 channels. The input is widened to int16 once per run, so a row
 * contributes a broadcast pair of k per vpbroadcastd and each vpmaddwd multiplies it against 8
 * channels x 2 k; 12 accumulators, one filter vector, the row and a product fit the 16 YMM
 * registers. Compiled with -mavx2 -mfma; called only after the CPU check. */
#include "qs8_conv.h"

#if XNND_F32_CONV_X86

#include <immintrin.h>
#include <string.h>

#include "qs8_store_avx2.h"

void xnnd_qs8_widen_avx2(const int8_t* in, size_t pixels, size_t cin, size_t cink, int16_t* out) {
  for (size_t p = 0; p < pixels; p++, in += cin, out += cink) {
    size_t k = 0;
    for (; k + 16 <= cin; k += 16)
      _mm256_storeu_si256((__m256i*)(out + k), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(in + k))));
    for (; k < cin; k++) out[k] = in[k];
    for (; k < cink; k++) out[k] = 0;
  }
}

static inline __m256i pair(const int16_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return _mm256_set1_epi32(v);
}

#define STEP(r, lo, hi)                                            \
  do {                                                           \
    const __m256i x_ = pair(r + 2 * k);                          \
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(x_, w0));        \
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(x_, _mm256_load_si256(wv + 1))); \
  } while (0)

void xnnd_qs8_gemm_6x16c2_avx2(size_t mr, size_t nc, size_t taps, size_t kgroups, const void* const* a,
                               const void* w, int8_t* c, size_t ldc, const xnnd_qs8_requant* rq) {
  const __m256i* wv = w;
  __m256i a0l = _mm256_load_si256(wv), a0h = _mm256_load_si256(wv + 1);
  __m256i a1l = a0l, a1h = a0h, a2l = a0l, a2h = a0h, a3l = a0l, a3h = a0h, a4l = a0l, a4h = a0h, a5l = a0l,
          a5h = a0h;
  wv += 4; /* initial accumulators, then 16 scales */
  for (size_t t = 0; t < taps; t++, a += 6) {
    const int16_t *r0 = a[0], *r1 = a[1], *r2 = a[2], *r3 = a[3], *r4 = a[4], *r5 = a[5];
    for (size_t k = 0; k < kgroups; k++, wv += 2) {
      const __m256i w0 = _mm256_load_si256(wv);
      STEP(r0, a0l, a0h);
      STEP(r1, a1l, a1h);
      STEP(r2, a2l, a2h);
      STEP(r3, a3l, a3h);
      STEP(r4, a4l, a4h);
      STEP(r5, a5l, a5h);
    }
  }
  const __m256 s0 = _mm256_load_ps((const float*)w + 16), s1 = _mm256_load_ps((const float*)w + 24);
  store_row(c, nc, a0l, a0h, s0, s1, rq);
  if (mr > 1) store_row(c + ldc, nc, a1l, a1h, s0, s1, rq);
  if (mr > 2) store_row(c + 2 * ldc, nc, a2l, a2h, s0, s1, rq);
  if (mr > 3) store_row(c + 3 * ldc, nc, a3l, a3h, s0, s1, rq);
  if (mr > 4) store_row(c + 4 * ldc, nc, a4l, a4h, s0, s1, rq);
  if (mr > 5) store_row(c + 5 * ldc, nc, a5l, a5h, s0, s1, rq);
}

#endif
