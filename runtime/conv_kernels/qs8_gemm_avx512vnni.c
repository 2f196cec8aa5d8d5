/* The AVX512-VNNI int8 GEMM microkernel behind qs8_conv.c (layout in qs8_conv.h): 6 rows x 16
 * channels; the input offset to uint8 (x + 128) once per run, so one 512-bit vpdpbusd per row
 * multiplies a broadcast quad of k against the 16 channels' int8 weights and accumulates, where
 * the AVX2 kernel needs two vpmaddwd and two vpaddd per pair of k. The offset is taken back out
 * of the initial accumulators at packing, so the integer sums equal the AVX2 kernel's and the
 * output stays bit-identical to XNNPACK's (each product is at most 255 x 128 in magnitude: four
 * of them cannot overflow int32). Compiled with -mavx512f -mavx512vnni (this file only); called
 * only after qs8_conv.c found both on the CPU. */
#include "qs8_conv.h"

#if XNND_F32_CONV_X86

#include <immintrin.h>
#include <string.h>

#include "qs8_store_avx2.h"

void xnnd_qs8_offset_u8_avx512vnni(const int8_t* in, size_t pixels, size_t cin, size_t cink, uint8_t* out) {
  const __m512i flip = _mm512_set1_epi32((int32_t)0x80808080u);
  for (size_t p = 0; p < pixels; p++, in += cin, out += cink) {
    size_t k = 0;
    for (; k + 64 <= cin; k += 64)
      _mm512_storeu_si512(out + k, _mm512_xor_si512(_mm512_loadu_si512(in + k), flip));
    for (; k < cin; k++) out[k] = (uint8_t)((uint8_t)in[k] ^ 0x80u);
    for (; k < cink; k++) out[k] = 0x80u;
  }
}

static inline __m512i quad(const uint8_t* p) {
  int32_t v;
  memcpy(&v, p, sizeof(v));
  return _mm512_set1_epi32(v);
}

static inline void store512(int8_t* c, size_t nc, __m512i acc, __m256 s0, __m256 s1, const xnnd_qs8_requant* rq) {
  store_row(c, nc, _mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1), s0, s1, rq);
}

void xnnd_qs8_gemm_6x16c4_avx512vnni(size_t mr, size_t nc, size_t taps, size_t kgroups, const void* const* a,
                                     const void* w, int8_t* c, size_t ldc, const xnnd_qs8_requant* rq) {
  const uint8_t* wb = w;
  __m512i a0 = _mm512_loadu_si512(wb), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  wb += 128; /* initial accumulators, then 16 scales */
  for (size_t t = 0; t < taps; t++, a += 6) {
    const uint8_t *r0 = a[0], *r1 = a[1], *r2 = a[2], *r3 = a[3], *r4 = a[4], *r5 = a[5];
    for (size_t k = 0; k < kgroups; k++, wb += 64) {
      const __m512i wv = _mm512_loadu_si512(wb);
      a0 = _mm512_dpbusd_epi32(a0, quad(r0 + 4 * k), wv);
      a1 = _mm512_dpbusd_epi32(a1, quad(r1 + 4 * k), wv);
      a2 = _mm512_dpbusd_epi32(a2, quad(r2 + 4 * k), wv);
      a3 = _mm512_dpbusd_epi32(a3, quad(r3 + 4 * k), wv);
      a4 = _mm512_dpbusd_epi32(a4, quad(r4 + 4 * k), wv);
      a5 = _mm512_dpbusd_epi32(a5, quad(r5 + 4 * k), wv);
    }
  }
  const __m256 s0 = _mm256_load_ps((const float*)w + 16), s1 = _mm256_load_ps((const float*)w + 24);
  store512(c, nc, a0, s0, s1, rq);
  if (mr > 1) store512(c + ldc, nc, a1, s0, s1, rq);
  if (mr > 2) store512(c + 2 * ldc, nc, a2, s0, s1, rq);
  if (mr > 3) store512(c + 3 * ldc, nc, a3, s0, s1, rq);
  if (mr > 4) store512(c + 4 * ldc, nc, a4, s0, s1, rq);
  if (mr > 5) store512(c + 5 * ldc, nc, a5, s0, s1, rq);
}

#endif
