/* xnnd's f32 fully connected layer for the XNNPACK delegate: y[r][o] = clamp(bias[o] +
 * sum_k x[r][k] * w[o][k]), with the sum over k taken in blocks of XNND_F32_FC_KC terms, each
 * block accumulated from zero in float and then added to a running total kept in double. That
 * keeps the rounding error of long dot products at PyTorch's level or below, where
 * one sequential accumulator per output (the packaged XNNPACK's kernels) is several times
 * less accurate once k reaches the hundreds: torchvision classifiers (alexnet, densenet,
 * convnext) end 2-3x further from a float64 evaluation than PyTorch float32 does. Per CPU at
 * run time: AVX-512F, 8 rows x 16 outputs per microkernel call, else AVX2 + FMA3, 3 rows x 16
 * (the weights are packed alike for both); a single row (batch 1) takes each kernel's one-row
 * path, four accumulators over k-terms i mod 4, which gives the same bits on both. Create
 * allocates and packs; run never allocates. */
#ifndef XNND_RUNTIME_CONV_KERNELS_F32_FC_H
#define XNND_RUNTIME_CONV_KERNELS_F32_FC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "xnnd/xnnd.h"

#define XNND_F32_FC_KC 64

/* Which microkernel: the best the CPU has, or AVX2 even where AVX-512 is there (tests). */
typedef enum xnnd_f32_fc_isa {
  XNND_F32_FC_ISA_BEST = 0,
  XNND_F32_FC_ISA_AVX2 = 1,
} xnnd_f32_fc_isa;

typedef struct xnnd_f32_fc_shape {
  uint32_t rows, k, n;  /* x is rows x k, w is n x k, y is rows x n */
  float min, max;
  xnnd_f32_fc_isa isa;
} xnnd_f32_fc_shape;

typedef struct xnnd_f32_fc xnnd_f32_fc;

/* The CPU has AVX2 and FMA3 and every size is non-zero. */
bool xnnd_f32_fc_supported(const xnnd_f32_fc_shape* shape);
/* "AVX-512" or "AVX2": the microkernel create would pick for shape on this CPU. */
const char* xnnd_f32_fc_isa_name(const xnnd_f32_fc_shape* shape);
/* weight is n x k (row o = output o), bias n floats or NULL. */
xnnd_status xnnd_f32_fc_create(const xnnd_f32_fc_shape* shape, const float* weight, const float* bias,
                               const xnnd_allocator* allocator, xnnd_f32_fc** fc_out);
/* pool may be NULL (runs on the calling thread). */
void xnnd_f32_fc_run(const xnnd_f32_fc* fc, const float* x, float* y, pthreadpool_t pool);
void xnnd_f32_fc_destroy(xnnd_f32_fc* fc, const xnnd_allocator* allocator);

/* The microkernel (f32_fc_avx2.c): mr <= 3 rows of a (lda floats apart) against one packed
 * panel (16 bias floats, then k rows of 16 weights, zero beyond nc), into c (ldc apart). */
void xnnd_f32_fc_3x16_avx2(size_t mr, size_t nc, size_t k, const float* a, size_t lda, const float* w, float* c,
                           size_t ldc, float min, float max);
/* The same for mr <= 8 rows (f32_fc_avx512.c); mr == 1 sums as the AVX2 kernel's one row does. */
void xnnd_f32_fc_8x16_avx512(size_t mr, size_t nc, size_t k, const float* a, size_t lda, const float* w, float* c,
                             size_t ldc, float min, float max);

#endif
