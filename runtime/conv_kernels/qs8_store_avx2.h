/* The int8 requantizing row store shared by the int8 microkernels (qs8_gemm_avx2.c,
 * qs8_gemm_avx512vnni.c). Include it only from files compiled with -mavx2 (or wider): these
 * intrinsics need it. */
#ifndef XNND_RUNTIME_CONV_KERNELS_QS8_STORE_AVX2_H
#define XNND_RUNTIME_CONV_KERNELS_QS8_STORE_AVX2_H

#include <immintrin.h>
#include <string.h>

#include "qs8_conv.h"

/* 8 int32 accumulators of one row to 8 int8, XNNPACK's fp32 requantization. */
static inline __m128i requant8(__m256i acc, __m256 scale, const xnnd_qs8_requant* rq) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(acc), scale);
  f = _mm256_min_ps(f, _mm256_set1_ps(rq->max_less_zero_point));
  const __m256i i = _mm256_cvtps_epi32(f);
  __m128i h = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  h = _mm_adds_epi16(h, _mm_set1_epi16(rq->zero_point));
  return _mm_max_epi8(_mm_packs_epi16(h, h), _mm_set1_epi8(rq->qmin));
}

static inline void store_row(int8_t* c, size_t nc, __m256i lo, __m256i hi, __m256 s0, __m256 s1,
                             const xnnd_qs8_requant* rq) {
  const __m128i b = _mm_unpacklo_epi64(requant8(lo, s0, rq), requant8(hi, s1, rq));
  if (nc == 16) {
    _mm_storeu_si128((__m128i*)c, b);
    return;
  }
  int8_t tmp[16];
  _mm_storeu_si128((__m128i*)tmp, b);
  memcpy(c, tmp, nc);
}

#endif
