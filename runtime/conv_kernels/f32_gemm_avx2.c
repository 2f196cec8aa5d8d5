/* The f32 GEMM microkernel behind f32_conv.c: 6 rows x 16 columns, AVX2 + FMA3, compiled
 * with -mavx2 -mfma (this file only) and called only after f32_conv.c checked the CPU.
 *
 * Why xnnd carries one: the Debian XNNPACK build's 5x16 FMA3 GEMM/IGEMM kernels keep one
 * accumulator on the stack (a load-FMA-store chain through memory every iteration), which
 * halves their throughput on this class of CPU. Twelve accumulators, two filter vectors and
 * one broadcast fit the 16 YMM registers, so this kernel does not spill. */
#include "f32_conv.h"

#if XNND_F32_CONV_X86

#include <immintrin.h>

#include "avx2_store.h"

void xnnd_f32_gemm_6x16_avx2(size_t mr, size_t nc, size_t taps, size_t kc, const void* const* a,
                             const float* w, float* c, size_t ldc, float min, float max) {
  __m256 c00 = _mm256_load_ps(w), c01 = _mm256_load_ps(w + 8);
  __m256 c10 = c00, c11 = c01, c20 = c00, c21 = c01, c30 = c00, c31 = c01, c40 = c00, c41 = c01, c50 = c00,
         c51 = c01;
  w += 16;
  for (size_t t = 0; t < taps; t++, a += 6) {
    const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
    for (size_t k = 0; k < kc; k++, w += 16) {
      const __m256 b0 = _mm256_load_ps(w), b1 = _mm256_load_ps(w + 8);
      __m256 x = _mm256_broadcast_ss(a0 + k);
      c00 = _mm256_fmadd_ps(x, b0, c00);
      c01 = _mm256_fmadd_ps(x, b1, c01);
      x = _mm256_broadcast_ss(a1 + k);
      c10 = _mm256_fmadd_ps(x, b0, c10);
      c11 = _mm256_fmadd_ps(x, b1, c11);
      x = _mm256_broadcast_ss(a2 + k);
      c20 = _mm256_fmadd_ps(x, b0, c20);
      c21 = _mm256_fmadd_ps(x, b1, c21);
      x = _mm256_broadcast_ss(a3 + k);
      c30 = _mm256_fmadd_ps(x, b0, c30);
      c31 = _mm256_fmadd_ps(x, b1, c31);
      x = _mm256_broadcast_ss(a4 + k);
      c40 = _mm256_fmadd_ps(x, b0, c40);
      c41 = _mm256_fmadd_ps(x, b1, c41);
      x = _mm256_broadcast_ss(a5 + k);
      c50 = _mm256_fmadd_ps(x, b0, c50);
      c51 = _mm256_fmadd_ps(x, b1, c51);
    }
  }
  const __m256 vmin = _mm256_set1_ps(min), vmax = _mm256_set1_ps(max);
/* Operands in this order keep a NaN accumulator NaN (maxps returns its second operand). */
#define CLAMP(v) v = _mm256_min_ps(vmax, _mm256_max_ps(vmin, v))
  CLAMP(c00); CLAMP(c01); CLAMP(c10); CLAMP(c11); CLAMP(c20); CLAMP(c21);
  CLAMP(c30); CLAMP(c31); CLAMP(c40); CLAMP(c41); CLAMP(c50); CLAMP(c51);
#undef CLAMP
  avx2_store_row_f32(c, nc, c00, c01);
  if (mr > 1) avx2_store_row_f32(c + ldc, nc, c10, c11);
  if (mr > 2) avx2_store_row_f32(c + 2 * ldc, nc, c20, c21);
  if (mr > 3) avx2_store_row_f32(c + 3 * ldc, nc, c30, c31);
  if (mr > 4) avx2_store_row_f32(c + 4 * ldc, nc, c40, c41);
  if (mr > 5) avx2_store_row_f32(c + 5 * ldc, nc, c50, c51);
}

#endif
