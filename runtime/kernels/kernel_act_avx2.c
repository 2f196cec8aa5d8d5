/* The exp and gelu loops of kernel_softmax.c and kernel_elementwise.c built with -mavx2 -mfma
 * (CMakeLists.txt): 8 lanes instead of SSE2's 4. Called only after xnnd_kfm_avx2(). The code is
 * kernel_fastmath.h's, so both paths compute the same formulas (with -std=c11 GCC does not
 * contract to FMA: the results are the same bits). */
#include "kernels/kernel_fastmath.h"

#if XNND_KFM_AVX2
void xnnd_kfm_exp_sub_avx2(const float* x, float* y, int64_t n, float m) {
  for (int64_t k = 0; k < n; k++) y[k] = kfm_expf(x[k] - m);
}

void xnnd_kfm_gelu_avx2(const float* x, float* y, size_t n, bool tanh_form) {
  if (tanh_form)
    for (size_t i = 0; i < n; i++) y[i] = kfm_gelu_tanh(x[i]);
  else
    for (size_t i = 0; i < n; i++) y[i] = kfm_gelu_erf(x[i]);
}
#else
typedef int xnnd_kernel_act_avx2_unused; /* ISO C: a translation unit must not be empty */
#endif
