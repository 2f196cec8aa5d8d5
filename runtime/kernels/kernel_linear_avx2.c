/* The 6x16 f32 GEMM microkernel of kernel_linear.c, AVX2 + FMA3: compiled with -mavx2 -mfma
 * (this file only) and called only after kernel_linear.c checked the CPU. Same contract as the
 * portable microkernel there: the block's products are summed from zero in float, k in order,
 * one rounding per term (FMA), then added to C. */
#include <stdbool.h>
#include <stddef.h>

#if defined(__x86_64__)

#include <immintrin.h>

static inline __m256 bcast(const float* p, float alpha, bool scaled) {
  return scaled ? _mm256_set1_ps(alpha * *p) : _mm256_broadcast_ss(p);
}

/* Declared here and in kernel_linear.c, its only caller. */
void xnnd_linear_gemm_6x16_avx2(size_t kc, const float* const* a, float alpha, const float* bp,
                                float* c, size_t ldc);

/* scaled is a constant at each call: alpha == 1 (mm, bmm, linear) broadcasts A straight from
 * memory instead of multiplying and shuffling, which would cost as many uops as the FMAs. */
static inline __attribute__((always_inline)) void gemm_6x16(size_t kc, const float* const* a,
                                                            float alpha, bool scaled,
                                                            const float* bp, float* c,
                                                            size_t ldc) {
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3], *a4 = a[4], *a5 = a[5];
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (size_t k = 0; k < kc; k++, bp += 16) {
    const __m256 b0 = _mm256_load_ps(bp), b1 = _mm256_load_ps(bp + 8);
    __m256 x = bcast(a0 + k, alpha, scaled);
    c00 = _mm256_fmadd_ps(x, b0, c00);
    c01 = _mm256_fmadd_ps(x, b1, c01);
    x = bcast(a1 + k, alpha, scaled);
    c10 = _mm256_fmadd_ps(x, b0, c10);
    c11 = _mm256_fmadd_ps(x, b1, c11);
    x = bcast(a2 + k, alpha, scaled);
    c20 = _mm256_fmadd_ps(x, b0, c20);
    c21 = _mm256_fmadd_ps(x, b1, c21);
    x = bcast(a3 + k, alpha, scaled);
    c30 = _mm256_fmadd_ps(x, b0, c30);
    c31 = _mm256_fmadd_ps(x, b1, c31);
    x = bcast(a4 + k, alpha, scaled);
    c40 = _mm256_fmadd_ps(x, b0, c40);
    c41 = _mm256_fmadd_ps(x, b1, c41);
    x = bcast(a5 + k, alpha, scaled);
    c50 = _mm256_fmadd_ps(x, b0, c50);
    c51 = _mm256_fmadd_ps(x, b1, c51);
  }
  const __m256 acc[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int r = 0; r < 6; r++) {
    float* cr = c + (size_t)r * ldc;
    _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), acc[2 * r]));
    _mm256_storeu_ps(cr + 8, _mm256_add_ps(_mm256_loadu_ps(cr + 8), acc[2 * r + 1]));
  }
}

void xnnd_linear_gemm_6x16_avx2(size_t kc, const float* const* a, float alpha, const float* bp,
                                float* c, size_t ldc) {
  if (alpha == 1.0f)
    gemm_6x16(kc, a, alpha, false, bp, c, ldc);
  else
    gemm_6x16(kc, a, alpha, true, bp, c, ldc);
}

#endif
