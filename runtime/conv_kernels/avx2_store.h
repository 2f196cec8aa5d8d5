/* Stores shared by the f32 AVX2 microkernels (f32_fc_avx2.c, f32_gemm_avx2.c). Include it only
 * from *_avx2.c files: they alone are compiled with -mavx2, which these intrinsics need. */
#ifndef XNND_RUNTIME_CONV_KERNELS_AVX2_STORE_H
#define XNND_RUNTIME_CONV_KERNELS_AVX2_STORE_H

#include <immintrin.h>
#include <stddef.h>

/* Writes the first nc (1..16) of the 16 floats in lo:hi to c; a partial tile goes through a
 * stack copy so nothing past c[nc - 1] is touched. */
static inline void avx2_store_row_f32(float* c, size_t nc, __m256 lo, __m256 hi) {
  if (nc == 16) {
    _mm256_storeu_ps(c, lo);
    _mm256_storeu_ps(c + 8, hi);
    return;
  }
  float tmp[16];
  _mm256_storeu_ps(tmp, lo);
  _mm256_storeu_ps(tmp + 8, hi);
  for (size_t j = 0; j < nc; j++) c[j] = tmp[j];
}

#endif
