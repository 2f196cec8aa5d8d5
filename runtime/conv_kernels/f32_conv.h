/* xnnd's own f32 convolution for the XNNPACK delegate (NHWC, groups 1): a packed-filter
 * GEMM over the kernel taps with the 6x16 AVX2/FMA3 microkernel of f32_gemm_avx2.c, run on
 * the delegate's pthreadpool. The delegate uses it in place of XNNPACK's convolution for the
 * nodes it supports (see xnnpack_backend.c); everything else stays in XNNPACK.
 * Create allocates and packs; run never allocates. */
#ifndef XNND_RUNTIME_CONV_KERNELS_F32_CONV_H
#define XNND_RUNTIME_CONV_KERNELS_F32_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "xnnd/xnnd.h"

#if defined(__x86_64__)
#define XNND_F32_CONV_X86 1
#else
#define XNND_F32_CONV_X86 0
#endif

/* Largest kernel (taps = kernel_h * kernel_w) the direct path takes; larger ones stay in
 * XNNPACK. */
#define XNND_F32_CONV_MAX_TAPS 64

typedef struct xnnd_f32_conv_shape {
  uint32_t batch, in_h, in_w, cin, out_h, out_w, cout;
  uint32_t kernel_h, kernel_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  float min, max;
  /* Allow Winograd F(4x4, 3x3) for 3x3 stride-1 shapes with enough tiles. Off by default: its
   * f32 error is several times PyTorch's (docs/ARCHITECTURE.md, "xnnd's own convolution"). */
  bool winograd;
} xnnd_f32_conv_shape;

typedef struct xnnd_f32_conv xnnd_f32_conv;

/* The CPU has AVX2 and FMA3. Thread-safe. */
bool xnnd_f32_conv_cpu_ok(void);
/* The CPU is able and the shape is one the kernel takes (taps <= XNND_F32_CONV_MAX_TAPS,
 * every size non-zero). The shape must already be verified (output dims consistent). */
bool xnnd_f32_conv_supported(const xnnd_f32_conv_shape* shape);
/* filter is OHWI (cout x kernel_h x kernel_w x cin), bias cout floats or NULL. */
xnnd_status xnnd_f32_conv_create(const xnnd_f32_conv_shape* shape, const float* filter, const float* bias,
                                 const xnnd_allocator* allocator, xnnd_f32_conv** conv_out);
/* Bytes of scratch run needs (0 for none); the caller owns it, so one buffer serves every
 * convolution of a delegate. */
size_t xnnd_f32_conv_scratch_size(const xnnd_f32_conv* conv);
/* input: batch x in_h x in_w x cin, output: batch x out_h x out_w x cout, both dense NHWC.
 * pool may be NULL (runs on the calling thread). */
void xnnd_f32_conv_run(const xnnd_f32_conv* conv, const float* input, float* output, void* scratch,
                       pthreadpool_t pool);
void xnnd_f32_conv_destroy(xnnd_f32_conv* conv, const xnnd_allocator* allocator);

/* The microkernel (f32_gemm_avx2.c): c[mr x nc] = clamp(bias + sum over taps t and k < kc of
 * a[t*6 + i][k] * w[t][k][j]), w = 16 bias floats then taps*kc rows of 16 (zero beyond nc),
 * 32-byte aligned; rows of c are ldc floats apart. a holds 6 row pointers per tap (rows past
 * mr repeat row mr-1). */
void xnnd_f32_gemm_6x16_avx2(size_t mr, size_t nc, size_t taps, size_t kc, const void* const* a, const float* w,
                             float* c, size_t ldc, float min, float max);

/* Winograd F(4x4, 3x3) transforms (f32_winograd_avx2.c). Input: the 6x6 tile whose rows
 * start at rows[0..5] (NULL: a padding row) and whose columns are x0..x0+5 of an in_w-wide
 * image (others read as zero; x0 may wrap below zero), cin channels; writes the 36
 * transformed rows v[k * v_stride + c]. Output: the 36 GEMM rows m[k * m_stride + c] of a
 * tile to its out_rows_n x out_cols_n valid pixels at out_rows[y] + x * cout, plus bias,
 * clamped. */
void xnnd_f32_wino_input_avx2(const float* const rows[6], size_t in_w, size_t cin, size_t x0, float* v,
                              size_t v_stride);
void xnnd_f32_wino_output_avx2(const float* m, size_t m_stride, size_t cout, const float* bias, float min, float max,
                               float* const out_rows[4], size_t out_rows_n, size_t out_cols_n);

#endif
