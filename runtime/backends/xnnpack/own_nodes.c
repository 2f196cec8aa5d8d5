/* Which verified blob nodes xnnd's own kernels (runtime/conv_kernels/) run instead of
 * XNNPACK, and how their kernels are made: a table of its own, indexed by blob node type, apart
 * from the XNNPACK node kinds. Today: one-group convolutions (f32 and int8) and f32 fully
 * connected layers. */
#include <math.h>
#include <stdio.h>

#include "conv_kernels/f32_conv.h"
#include "conv_kernels/f32_fc.h"
#include "conv_kernels/qs8_conv.h"
#include "xnnpack_internal.h"

#define F(kind, field) XNND_XNNPACK_##kind##_##field
#define U32(kind, field) fb_u32(node, F(kind, field), 0)
#define OUT_MIN(kind) fb_f32(node, F(kind, output_min), -INFINITY)
#define OUT_MAX(kind) fb_f32(node, F(kind, output_max), INFINITY)
#define BIAS_ID(kind) fb_u32(node, F(kind, bias_id), XNN_INVALID_VALUE_ID)

/* A one-group convolution can go to xnnd's own kernel (f32 or int8) when the CPU and shape
 * allow; whether it does is decided per CPU at delegate init (kernel_choice.c). */
typedef struct own_conv_desc {
  bool int8;
  xnnd_f32_conv_shape shape;
  xnnd_qs8_conv_params q;
  float filter_scale;  /* per-tensor filters: q.filter_scales points here */
  const void* filter;  /* OHWI, in the blob's constant region */
  const void* bias;    /* NULL when absent */
  uint32_t input_id, output_id;
} own_conv_desc;

static int8_t quantize_bound(float v, float scale, int32_t zero_point) {
  /* XNNPACK's quantization of a fused output range. */
  return (int8_t)lrintf(fminf(fmaxf(v / scale + (float)zero_point, -128.0f), 127.0f));
}

static bool own_conv_describe(const xnnd_xblob* b, fb_table node, own_conv_desc* d, const char** why) {
  /* Callers describe nodes the kernel does not take too: every field must be defined then. */
  *d = (own_conv_desc){0};
  *why = NULL;
  if (U32(Conv2d, groups) != 1) {
    *why = "grouped or depthwise: xnnd's kernels take one group";
    return false;
  }
  xnnd_xvalue in, filter, out;
  d->input_id = U32(Conv2d, input_id);
  d->output_id = U32(Conv2d, output_id);
  uint32_t filter_id = U32(Conv2d, filter_id), bias_id = BIAS_ID(Conv2d);
  xnnd_xvalue_read(b, d->input_id, &in);
  xnnd_xvalue_read(b, filter_id, &filter);
  xnnd_xvalue_read(b, d->output_id, &out);
  d->shape = (xnnd_f32_conv_shape){
      .batch = in.dims[0], .in_h = in.dims[1], .in_w = in.dims[2], .cin = in.dims[3],
      .out_h = out.dims[1], .out_w = out.dims[2], .cout = out.dims[3],
      .kernel_h = U32(Conv2d, kernel_height), .kernel_w = U32(Conv2d, kernel_width),
      .stride_h = U32(Conv2d, stride_height), .stride_w = U32(Conv2d, stride_width),
      .dilation_h = U32(Conv2d, dilation_height), .dilation_w = U32(Conv2d, dilation_width),
      .pad_top = U32(Conv2d, padding_top), .pad_left = U32(Conv2d, padding_left),
      .min = OUT_MIN(Conv2d), .max = OUT_MAX(Conv2d)};
  d->filter = b->constants + filter.constant_offset;
  d->bias = NULL;
  if (bias_id != XNN_INVALID_VALUE_ID) {
    xnnd_xvalue bias;
    xnnd_xvalue_read(b, bias_id, &bias);
    d->bias = b->constants + bias.constant_offset;
  }
  *why = "this CPU lacks AVX2 and FMA3, or the kernel is larger than 64 taps";
  if (in.datatype == XNND_XNNPACK_DataType_FP32) {
    d->int8 = false;
    return xnnd_f32_conv_supported(&d->shape);
  }
  *why = "int8 with asymmetric or unsupported filter quantization";
  if (in.datatype != XNND_XNNPACK_DataType_QINT8) return false;
  bool per_channel = filter.datatype == XNND_XNNPACK_DataType_QCINT8;
  if (!per_channel && (filter.datatype != XNND_XNNPACK_DataType_QINT8 || filter.zero_point != 0)) return false;
  d->int8 = true;
  d->filter_scale = filter.scale;
  d->q = (xnnd_qs8_conv_params){
      .input_zero_point = in.zero_point, .output_zero_point = out.zero_point,
      .input_scale = in.scale, .output_scale = out.scale,
      .filter_scales = per_channel ? (const float*)filter.channel_scales.data : &d->filter_scale,
      .per_channel = per_channel,
      .qmin = quantize_bound(d->shape.min, out.scale, out.zero_point),
      .qmax = quantize_bound(d->shape.max, out.scale, out.zero_point)};
  *why = "this CPU lacks AVX2, or the int8 parameters are out of the kernel's range";
  return xnnd_qs8_conv_supported(&d->shape, &d->q);
}

static bool own_supported_conv2d(const xnnd_xblob* b, fb_table node, const char** why) {
  own_conv_desc d;
  bool ok = own_conv_describe(b, node, &d, why);
  if (ok) *why = NULL;
  return ok;
}

/* Winograd applies (and so changes the work) only to f32 3x3 stride-1 undilated shapes. */
static bool takes_winograd(const own_conv_desc* d, uint32_t flags) {
  const xnnd_f32_conv_shape* s = &d->shape;
  return !d->int8 && (flags & XNND_XOWN_WINOGRAD) && s->kernel_h == 3 && s->kernel_w == 3 && s->stride_h == 1 &&
         s->stride_w == 1 && s->dilation_h == 1 && s->dilation_w == 1;
}

static void own_describe_conv2d(const xnnd_xblob* b, fb_table node, uint32_t flags, xnnd_xown_key* key,
                                char* text, size_t text_size) {
  own_conv_desc d;
  const char* why;
  own_conv_describe(b, node, &d, &why);
  const xnnd_f32_conv_shape* s = &d.shape;
  bool wino = takes_winograd(&d, flags);
  *key = (xnnd_xown_key){{d.int8, s->batch, s->in_h, s->in_w, s->cin, s->out_h, s->out_w, s->cout, s->kernel_h,
                          s->kernel_w, s->stride_h, s->stride_w, s->dilation_h, s->dilation_w, s->pad_top,
                          s->pad_left, wino, U32(Conv2d, groups)}};
  snprintf(text, text_size, "%s conv %ux%u/%u%s %ux%ux%u -> %ux%ux%u (%s)", d.int8 ? "int8" : "f32", s->kernel_h,
           s->kernel_w, s->stride_h, wino ? " winograd" : "", s->in_h, s->in_w, s->cin, s->out_h, s->out_w, s->cout,
           d.int8 ? xnnd_qs8_conv_isa_name(&d.q) : "AVX2");
}

static void run_f32(const void* k, const void* in, void* out, void* scratch, pthreadpool_t pool) {
  xnnd_f32_conv_run(k, in, out, scratch, pool);
}
static void destroy_f32(void* k, const xnnd_allocator* a) { xnnd_f32_conv_destroy(k, a); }
static void run_qs8(const void* k, const void* in, void* out, void* scratch, pthreadpool_t pool) {
  xnnd_qs8_conv_run(k, in, out, scratch, pool);
}
static void destroy_qs8(void* k, const xnnd_allocator* a) { xnnd_qs8_conv_destroy(k, a); }

static xnnd_status own_create_conv2d(const xnnd_xblob* b, fb_table node, uint32_t flags, const xnnd_allocator* a,
                                     xnnd_xown* out) {
  own_conv_desc d;
  const char* why;
  if (!own_conv_describe(b, node, &d, &why)) return XNND_INVALID_ARGUMENT;
  d.shape.winograd = takes_winograd(&d, flags);
  out->input_id = d.input_id;
  out->output_id = d.output_id;
  xnnd_status st;
  if (d.int8) {
    out->run = run_qs8;
    out->destroy = destroy_qs8;
    xnnd_qs8_conv* k = NULL;
    st = xnnd_qs8_conv_create(&d.shape, &d.q, d.filter, d.bias, a, &k);
    out->kernel = k;
    out->scratch_bytes = k != NULL ? xnnd_qs8_conv_scratch_size(k) : 0;
    return st;
  }
  out->run = run_f32;
  out->destroy = destroy_f32;
  xnnd_f32_conv* k = NULL;
  st = xnnd_f32_conv_create(&d.shape, d.filter, d.bias, a, &k);
  out->kernel = k;
  out->scratch_bytes = k != NULL ? xnnd_f32_conv_scratch_size(k) : 0;
  return st;
}

/* ---- f32 fully connected (f32_fc.h): input [.., k], filter [n, k], output [.., n] ---- */
typedef struct own_fc_desc {
  xnnd_f32_fc_shape shape;
  const float* weight;
  const float* bias;
  uint32_t input_id, output_id;
} own_fc_desc;

static bool own_fc_describe(const xnnd_xblob* b, fb_table node, own_fc_desc* d, const char** why) {
  *d = (own_fc_desc){0};
  xnnd_xvalue in, filter, out;
  d->input_id = U32(FullyConnected, input_id);
  d->output_id = U32(FullyConnected, output_id);
  uint32_t bias_id = BIAS_ID(FullyConnected);
  xnnd_xvalue_read(b, d->input_id, &in);
  xnnd_xvalue_read(b, U32(FullyConnected, filter_id), &filter);
  xnnd_xvalue_read(b, d->output_id, &out);
  uint32_t k = filter.rank == 2 ? filter.dims[1] : 0;
  d->shape = (xnnd_f32_fc_shape){.rows = k ? (uint32_t)(xnnd_xvalue_numel(&in) / k) : 0, .k = k,
                                 .n = filter.rank == 2 ? filter.dims[0] : 0, .min = OUT_MIN(FullyConnected),
                                 .max = OUT_MAX(FullyConnected)};
  d->weight = (const float*)(b->constants + filter.constant_offset);
  d->bias = NULL;
  if (bias_id != XNN_INVALID_VALUE_ID) {
    xnnd_xvalue bias;
    xnnd_xvalue_read(b, bias_id, &bias);
    d->bias = (const float*)(b->constants + bias.constant_offset);
  }
  *why = "quantized, or flags (transposed weights) xnnd's kernel does not take";
  if (in.datatype != XNND_XNNPACK_DataType_FP32 || filter.datatype != XNND_XNNPACK_DataType_FP32 ||
      out.datatype != XNND_XNNPACK_DataType_FP32 || filter.constant_size == 0 || U32(FullyConnected, flags) != 0)
    return false;
  *why = "this CPU lacks AVX2 and FMA3";
  return xnnd_f32_fc_supported(&d->shape);
}

static bool own_supported_fc(const xnnd_xblob* b, fb_table node, const char** why) {
  own_fc_desc d;
  bool ok = own_fc_describe(b, node, &d, why);
  if (ok) *why = NULL;
  return ok;
}

static void own_describe_fc(const xnnd_xblob* b, fb_table node, uint32_t flags, xnnd_xown_key* key, char* text,
                            size_t text_size) {
  (void)flags;
  own_fc_desc d;
  const char* why;
  own_fc_describe(b, node, &d, &why);
  *key = (xnnd_xown_key){{0xfc, d.shape.rows, d.shape.k, d.shape.n}};
  snprintf(text, text_size, "f32 linear %ux%u -> %ux%u (%s)", d.shape.rows, d.shape.k, d.shape.rows, d.shape.n,
           xnnd_f32_fc_isa_name(&d.shape));
}

static void run_fc(const void* k, const void* in, void* out, void* scratch, pthreadpool_t pool) {
  (void)scratch;
  xnnd_f32_fc_run(k, in, out, pool);
}
static void destroy_fc(void* k, const xnnd_allocator* a) { xnnd_f32_fc_destroy(k, a); }

static xnnd_status own_create_fc(const xnnd_xblob* b, fb_table node, uint32_t flags, const xnnd_allocator* a,
                                 xnnd_xown* out) {
  (void)flags;
  own_fc_desc d;
  const char* why;
  if (!own_fc_describe(b, node, &d, &why)) return XNND_INVALID_ARGUMENT;
  out->input_id = d.input_id;
  out->output_id = d.output_id;
  out->run = run_fc;
  out->destroy = destroy_fc;
  out->scratch_bytes = 0;
  xnnd_f32_fc* k = NULL;
  xnnd_status st = xnnd_f32_fc_create(&d.shape, d.weight, d.bias, a, &k);
  out->kernel = k;
  return st;
}

static const xnnd_xown_kind k_own_kinds[] = {
    [XNND_XNNPACK_Node_Conv2d] = {-10, "measured at least 10% faster on this CPU", own_supported_conv2d, own_describe_conv2d,
                                  own_create_conv2d},
    /* Accuracy first: XNNPACK's one float accumulator per output ends 2-4x further from exact
     * than PyTorch on long dot products; blocked sums with double totals do not. */
    [XNND_XNNPACK_Node_FullyConnected] = {XNND_XOWN_ALWAYS,
                                          "more accurate than XNNPACK's (blocked sums, double totals)",
                                          own_supported_fc, own_describe_fc, own_create_fc},
};

const xnnd_xown_kind* xnnd_xown_kind_get(uint8_t type) {
  if (type >= sizeof(k_own_kinds) / sizeof(k_own_kinds[0]) || k_own_kinds[type].supported == NULL) return NULL;
  return &k_own_kinds[type];
}
