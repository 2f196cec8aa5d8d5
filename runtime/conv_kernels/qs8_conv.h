/* xnnd's own int8 convolution for the XNNPACK delegate (NHWC, groups 1, QINT8 activations,
 * QINT8 per-tensor or QCINT8 per-channel symmetric filters, int32 bias), bit-exact with
 * XNNPACK's: the same int32 accumulation (the input zero point folded into the bias, padding
 * reads the input zero point) and the same fp32 requantization (scale = input_scale *
 * filter_scale / output_scale in float; acc * scale, min with qmax - zp, round to nearest
 * even, saturate to int16, add zp saturating, saturate to int8, max with qmin). The input is widened to
 * int16 once per run and a 6-pixel x 16-channel kernel multiplies pairs of k (vpmaddwd) with
 * its 12 accumulators in registers; on CPUs with AVX512-VNNI (chosen at run time) the input is
 * offset to uint8 instead and one vpdpbusd per row multiplies a quad of k against 16 channels. Create allocates and packs; run never allocates. */
#ifndef XNND_RUNTIME_CONV_KERNELS_QS8_CONV_H
#define XNND_RUNTIME_CONV_KERNELS_QS8_CONV_H

#include <stddef.h>
#include <stdint.h>

#include <pthreadpool.h>

#include "f32_conv.h"

/* Which microkernel: the best the CPU has (AVX512-VNNI, else AVX2), or AVX2 even where VNNI is
 * there (tests). */
typedef enum xnnd_qs8_isa {
  XNND_QS8_ISA_BEST = 0,
  XNND_QS8_ISA_AVX2 = 1,
} xnnd_qs8_isa;

typedef struct xnnd_qs8_conv_params {
  int32_t input_zero_point, output_zero_point;
  float input_scale, output_scale;
  const float* filter_scales;  /* cout scales (per channel) or one (per tensor) */
  int per_channel;
  int8_t qmin, qmax;           /* output range in the quantized domain */
  xnnd_qs8_isa isa;
} xnnd_qs8_conv_params;

typedef struct xnnd_qs8_conv xnnd_qs8_conv;

/* The CPU is able, the shape is one the kernel takes, and every requantization scale is
 * below 1 (as this XNNPACK requires for int8 convolutions). shape.min/max are unused. */
bool xnnd_qs8_conv_supported(const xnnd_f32_conv_shape* shape, const xnnd_qs8_conv_params* params);
/* "AVX512-VNNI" or "AVX2": the microkernel create would pick on this CPU. */
const char* xnnd_qs8_conv_isa_name(const xnnd_qs8_conv_params* params);
/* filter OHWI int8 (cout x kernel_h x kernel_w x cin), bias cout int32 or NULL. */
xnnd_status xnnd_qs8_conv_create(const xnnd_f32_conv_shape* shape, const xnnd_qs8_conv_params* params,
                                 const int8_t* filter, const int32_t* bias, const xnnd_allocator* allocator,
                                 xnnd_qs8_conv** conv_out);
/* Bytes of caller-owned scratch run needs (the int16-widened input). */
size_t xnnd_qs8_conv_scratch_size(const xnnd_qs8_conv* conv);
/* pool may be NULL. */
void xnnd_qs8_conv_run(const xnnd_qs8_conv* conv, const int8_t* input, int8_t* output, void* scratch,
                       pthreadpool_t pool);
void xnnd_qs8_conv_destroy(xnnd_qs8_conv* conv, const xnnd_allocator* allocator);

/* The microkernels. w: per panel of 16 channels, 16 int32 initial accumulators (bias minus the
 * prepared input zero point x filter sum), 16 float scales, then per tap and group of k one
 * 64-byte vector: for each channel in order, its kgroup adjacent weights. a: 6 row pointers per
 * tap into the prepared input (rows past mr repeat row mr - 1). */
typedef struct xnnd_qs8_requant {
  float max_less_zero_point;
  int16_t zero_point;
  int8_t qmin;
} xnnd_qs8_requant;
/* AVX2 (qs8_gemm_avx2.c): input widened to int16, k in pairs (kgroups = pairs), vpmaddwd. */
void xnnd_qs8_gemm_6x16c2_avx2(size_t mr, size_t nc, size_t taps, size_t kgroups, const void* const* a,
                               const void* w, int8_t* c, size_t ldc, const xnnd_qs8_requant* rq);
/* pixels rows of cin int8 -> rows of cink (>= cin, even) int16, zero beyond cin. */
void xnnd_qs8_widen_avx2(const int8_t* in, size_t pixels, size_t cin, size_t cink, int16_t* out);
/* AVX512-VNNI (qs8_gemm_avx512vnni.c): input offset to uint8 (x + 128), k in quads, weights
 * int8, one 512-bit vpdpbusd per row and quad; the same integer sums, bit-identical results. */
void xnnd_qs8_gemm_6x16c4_avx512vnni(size_t mr, size_t nc, size_t taps, size_t kgroups, const void* const* a,
                                     const void* w, int8_t* c, size_t ldc, const xnnd_qs8_requant* rq);
/* pixels rows of cin int8 -> rows of cink (>= cin, multiple of 4) uint8 x + 128, 128 beyond cin. */
void xnnd_qs8_offset_u8_avx512vnni(const int8_t* in, size_t pixels, size_t cin, size_t cink, uint8_t* out);

#endif
