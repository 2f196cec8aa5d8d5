/* One row per schema Node union member: the verify rule (value ids in range, dtypes and
 * exact NHWC shapes as XNNPACK will compute them, parameters XNNPACK accepts) and the
 * xnn_define_* call. Rules are strict so XNNPACK never sees a value it could overrun:
 * e.g. a filter whose dims disagree with kernel_height would make weight packing read past
 * the constant. Blob value ids are XNNPACK value ids (reserved as external ids). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pte_format.h"
#include "xnnpack_internal.h"

/* ---- verification helpers ---- */
static xnnd_status nfail(const xnnd_xnode_ctx* c, xnnd_status status, const char* fmt, ...) {
  if (c->err != NULL && c->err_size > 0) {
    int n = snprintf(c->err, c->err_size, "nodes[%u] (%s): ", c->index, c->kind);
    if (n >= 0 && (size_t)n < c->err_size) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(c->err + n, c->err_size - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return status;
}

typedef struct operand {
  uint32_t id;
  bool present;
  xnnd_xvalue v;
} operand;

static xnnd_status get_value(const xnnd_xnode_ctx* c, fb_table node, uint32_t field, const char* name,
                             bool optional, operand* out) {
  memset(out, 0, sizeof(*out));
  out->id = fb_u32(node, field, optional ? XNN_INVALID_VALUE_ID : 0);
  if (optional && out->id == XNN_INVALID_VALUE_ID) return XNND_OK;
  if (out->id >= c->blob->values.len)
    return nfail(c, XNND_OUT_OF_RANGE, "%s %u out of range (%u values)", name, out->id, c->blob->values.len);
  out->present = true;
  xnnd_xvalue_read(c->blob, out->id, &out->v);
  return XNND_OK;
}

static xnnd_status get_output(const xnnd_xnode_ctx* c, fb_table node, uint32_t field, const char* name,
                              operand* out) {
  xnnd_status st = get_value(c, node, field, name, false, out);
  if (st != XNND_OK) return st;
  if (out->v.constant_size > 0) return nfail(c, XNND_INVALID_PROGRAM, "%s %u is a constant", name, out->id);
  if (out->v.flags & XNND_XVALUE_EXTERNAL_INPUT)
    return nfail(c, XNND_INVALID_PROGRAM, "%s %u is an external input", name, out->id);
  return XNND_OK;
}

static xnnd_status check_flags(const xnnd_xnode_ctx* c, fb_table node, uint32_t field) {
  uint32_t flags = fb_u32(node, field, 0);
  if (flags != 0) return nfail(c, XNND_INVALID_PROGRAM, "flags 0x%x not supported", flags);
  return XNND_OK;
}

static xnnd_status check_minmax(const xnnd_xnode_ctx* c, fb_table node, uint32_t fmin, uint32_t fmax) {
  float lo = fb_f32(node, fmin, -INFINITY), hi = fb_f32(node, fmax, INFINITY);
  if (!(lo < hi)) return nfail(c, XNND_INVALID_PROGRAM, "output range [%g, %g] is empty", (double)lo, (double)hi);
  return XNND_OK;
}

static xnnd_status expect_dims(const xnnd_xnode_ctx* c, const char* name, const operand* o, uint32_t rank,
                               const uint64_t* dims) {
  bool ok = o->v.rank == rank;
  for (uint32_t d = 0; ok && d < rank; d++) ok = o->v.dims[d] == dims[d];
  if (ok) return XNND_OK;
  char want[128], got[128];
  size_t u = 0;
  u += (size_t)snprintf(want + u, sizeof(want) - u, "[");
  for (uint32_t d = 0; d < rank && u < sizeof(want); d++)
    u += (size_t)snprintf(want + u, sizeof(want) - u, d ? ",%llu" : "%llu", (unsigned long long)dims[d]);
  if (u < sizeof(want)) snprintf(want + u, sizeof(want) - u, "]");
  u = 0;
  u += (size_t)snprintf(got + u, sizeof(got) - u, "[");
  for (uint32_t d = 0; d < o->v.rank && d < XNND_XNN_MAX_DIMS && u < sizeof(got); d++)
    u += (size_t)snprintf(got + u, sizeof(got) - u, d ? ",%u" : "%u", o->v.dims[d]);
  if (u < sizeof(got)) snprintf(got + u, sizeof(got) - u, "]");
  return nfail(c, XNND_INVALID_PROGRAM, "%s %u has dims %s, expected %s", name, o->id, got, want);
}

static xnnd_status expect_same_dims(const xnnd_xnode_ctx* c, const char* name, const operand* o, const operand* ref) {
  uint64_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < ref->v.rank && d < XNND_XNN_MAX_DIMS; d++) dims[d] = ref->v.dims[d];
  return expect_dims(c, name, o, ref->v.rank, dims);
}

static xnnd_status expect_rank(const xnnd_xnode_ctx* c, const char* name, const operand* o, uint32_t rank) {
  if (o->v.rank != rank) return nfail(c, XNND_INVALID_PROGRAM, "%s %u has rank %u, expected %u", name, o->id, o->v.rank, rank);
  return XNND_OK;
}

static xnnd_status expect_dtype(const xnnd_xnode_ctx* c, const char* name, const operand* o, uint8_t dtype) {
  if (o->v.datatype != dtype)
    return nfail(c, XNND_DTYPE_MISMATCH, "%s %u is %s, expected %s", name, o->id, xnnd_xdatatype_name(o->v.datatype),
                 xnnd_xdatatype_name(dtype));
  return XNND_OK;
}

static bool is_activation_dtype(uint8_t dt) {
  return dt == XNND_XNNPACK_DataType_FP32 || dt == XNND_XNNPACK_DataType_QINT8 || dt == XNND_XNNPACK_DataType_QUINT8;
}

static xnnd_status expect_activation(const xnnd_xnode_ctx* c, const char* name, const operand* o) {
  if (!is_activation_dtype(o->v.datatype))
    return nfail(c, XNND_DTYPE_MISMATCH, "%s %u is %s, not an activation datatype", name, o->id,
                 xnnd_xdatatype_name(o->v.datatype));
  return XNND_OK;
}

static xnnd_status expect_constant(const xnnd_xnode_ctx* c, const char* name, const operand* o) {
  if (o->v.constant_size == 0) return nfail(c, XNND_INVALID_PROGRAM, "%s %u must be a constant", name, o->id);
  return XNND_OK;
}

/* A quantized bias is int32 on the accumulator's grid: its scale must be input scale x filter
 * scale (per output channel with per-channel filters). XNNPACK never reads the bias scale and
 * assumes exactly that, so any other scale would be silently wrong. Relative tolerance 1e-5:
 * the writer multiplies the same float scales, possibly in another precision. */
#define XNND_BIAS_SCALE_RTOL 1e-5

static bool scale_matches(double stored, double want) {
  return fabs(stored - want) <= XNND_BIAS_SCALE_RTOL * fabs(want);
}

static xnnd_status expect_bias_scale(const xnnd_xnode_ctx* c, const operand* in, const operand* filter,
                                     const operand* bias) {
  const xnnd_xvalue* f = &filter->v;
  const xnnd_xvalue* b = &bias->v;
  bool f_per_channel = f->datatype == XNND_XNNPACK_DataType_QCINT8;
  bool b_per_channel = b->datatype == XNND_XNNPACK_DataType_QCINT32;
  uint32_t n = b_per_channel ? b->channel_scales.len : 1;
  if (f_per_channel && !b_per_channel)
    return nfail(c, XNND_INVALID_PROGRAM, "bias %u has one scale but filter %u has one per channel", bias->id,
                 filter->id);
  if (f_per_channel && f->channel_scales.len != n)
    return nfail(c, XNND_INVALID_PROGRAM, "bias %u has %u channel scales, filter %u has %u", bias->id, n,
                 filter->id, f->channel_scales.len);
  for (uint32_t k = 0; k < n; k++) {
    double fs = f_per_channel ? fb_vec_f32(f->channel_scales, k) : f->scale;
    double bs = b_per_channel ? fb_vec_f32(b->channel_scales, k) : b->scale;
    double want = (double)in->v.scale * fs;
    if (!scale_matches(bs, want))
      return nfail(c, XNND_INVALID_PROGRAM,
                   "bias %u scale[%u] %.9g is not input scale %.9g x filter scale %.9g = %.9g (int32 biases are "
                   "on the accumulator's grid)", bias->id, k, bs, (double)in->v.scale, fs, want);
  }
  return XNND_OK;
}

/* Filter and bias datatypes that go with the input's activation datatype; a quantized bias's
 * scale. */
static xnnd_status expect_weights(const xnnd_xnode_ctx* c, const operand* in, const operand* filter,
                                  const operand* bias) {
  uint8_t act = in->v.datatype;
  uint8_t f = filter->v.datatype;
  bool fok = act == XNND_XNNPACK_DataType_FP32 ? f == XNND_XNNPACK_DataType_FP32
             : act == XNND_XNNPACK_DataType_QINT8 ? (f == XNND_XNNPACK_DataType_QINT8 || f == XNND_XNNPACK_DataType_QCINT8)
                                                  : f == XNND_XNNPACK_DataType_QUINT8;
  if (!fok)
    return nfail(c, XNND_DTYPE_MISMATCH, "filter %u is %s, which does not go with %s activations", filter->id,
                 xnnd_xdatatype_name(f), xnnd_xdatatype_name(act));
  if (bias->present) {
    uint8_t b = bias->v.datatype;
    bool bok = act == XNND_XNNPACK_DataType_FP32 ? b == XNND_XNNPACK_DataType_FP32
               : act == XNND_XNNPACK_DataType_QINT8 ? (b == XNND_XNNPACK_DataType_QINT32 || b == XNND_XNNPACK_DataType_QCINT32)
                                                    : b == XNND_XNNPACK_DataType_QINT32;
    if (!bok)
      return nfail(c, XNND_DTYPE_MISMATCH, "bias %u is %s, which does not go with %s activations", bias->id,
                   xnnd_xdatatype_name(b), xnnd_xdatatype_name(act));
    if (act != XNND_XNNPACK_DataType_FP32) return expect_bias_scale(c, in, filter, bias);
  }
  return XNND_OK;
}

/* Output extent of a sliding window exactly as XNNPACK computes it; rejects windows larger
 * than the padded input (XNNPACK would silently produce 1). */
static xnnd_status window_out(const xnnd_xnode_ctx* c, const char* axis, uint32_t in, uint32_t pad_a, uint32_t pad_b,
                              uint32_t kernel, uint32_t stride, uint32_t dilation, uint64_t* out) {
  if (kernel == 0 || stride == 0 || dilation == 0)
    return nfail(c, XNND_INVALID_PROGRAM, "%s kernel %u, stride %u, dilation %u must be >= 1", axis, kernel, stride,
                 dilation);
  uint64_t eff = (uint64_t)(kernel - 1) * dilation + 1;
  uint64_t padded = (uint64_t)in + pad_a + pad_b;
  if (padded < eff)
    return nfail(c, XNND_INVALID_PROGRAM, "%s window %llu larger than padded input %llu", axis,
                 (unsigned long long)eff, (unsigned long long)padded);
  *out = (padded - eff) / stride + 1;
  return XNND_OK;
}

#define TRY(expr)                       \
  do {                                  \
    xnnd_status try_st_ = (expr);       \
    if (try_st_ != XNND_OK) return try_st_; \
  } while (0)

#define F(kind, field) XNND_XNNPACK_##kind##_##field
#define U32(kind, field) fb_u32(node, F(kind, field), 0)
#define OUT_MIN(kind) fb_f32(node, F(kind, output_min), -INFINITY)
#define OUT_MAX(kind) fb_f32(node, F(kind, output_max), INFINITY)
#define BIAS_ID(kind) fb_u32(node, F(kind, bias_id), XNN_INVALID_VALUE_ID)

/* Groups of a (de)convolution against the input channels, and its filter [groups * goc, kh,
 * kw, gic] and bias [groups * goc], both constants. */
static xnnd_status check_grouped_filter(const xnnd_xnode_ctx* c, const operand* in, const operand* filter,
                                       const operand* bias, uint64_t groups, uint64_t gic, uint64_t goc, uint32_t kh,
                                       uint32_t kw) {
  if (groups == 0 || gic == 0 || goc == 0)
    return nfail(c, XNND_INVALID_PROGRAM, "groups %llu x %llu -> %llu channels must be >= 1", (unsigned long long)groups,
                 (unsigned long long)gic, (unsigned long long)goc);
  if (groups * gic != in->v.dims[3])
    return nfail(c, XNND_INVALID_PROGRAM, "groups %llu * group_input_channels %llu != input channels %u",
                 (unsigned long long)groups, (unsigned long long)gic, in->v.dims[3]);
  TRY(expect_constant(c, "filter_id", filter));
  TRY(expect_dims(c, "filter_id", filter, 4, (uint64_t[]){groups * goc, kh, kw, gic}));
  if (bias->present) {
    TRY(expect_constant(c, "bias_id", bias));
    TRY(expect_dims(c, "bias_id", bias, 1, (uint64_t[]){groups * goc}));
  }
  return XNND_OK;
}

/* ---- Conv2d ---- */
static xnnd_status check_conv2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, filter, bias, out;
  TRY(get_value(c, node, F(Conv2d, input_id), "input_id", false, &in));
  TRY(get_value(c, node, F(Conv2d, filter_id), "filter_id", false, &filter));
  TRY(get_value(c, node, F(Conv2d, bias_id), "bias_id", true, &bias));
  TRY(get_output(c, node, F(Conv2d, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(Conv2d, flags)));
  TRY(check_minmax(c, node, F(Conv2d, output_min), F(Conv2d, output_max)));
  TRY(expect_activation(c, "input_id", &in));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  TRY(expect_weights(c, &in, &filter, &bias));
  TRY(expect_rank(c, "input_id", &in, 4));
  uint64_t groups = U32(Conv2d, groups), goc = U32(Conv2d, group_output_channels);
  uint32_t kh = U32(Conv2d, kernel_height), kw = U32(Conv2d, kernel_width);
  TRY(check_grouped_filter(c, &in, &filter, &bias, groups, U32(Conv2d, group_input_channels), goc, kh, kw));
  uint64_t oh = 0, ow = 0;
  TRY(window_out(c, "height", in.v.dims[1], U32(Conv2d, padding_top), U32(Conv2d, padding_bottom), kh,
                 U32(Conv2d, stride_height), U32(Conv2d, dilation_height), &oh));
  TRY(window_out(c, "width", in.v.dims[2], U32(Conv2d, padding_left), U32(Conv2d, padding_right), kw,
                 U32(Conv2d, stride_width), U32(Conv2d, dilation_width), &ow));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], oh, ow, groups * goc});
}

static enum xnn_status define_conv2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_convolution_2d(
      sg, U32(Conv2d, padding_top), U32(Conv2d, padding_right), U32(Conv2d, padding_bottom), U32(Conv2d, padding_left),
      U32(Conv2d, kernel_height), U32(Conv2d, kernel_width), U32(Conv2d, stride_height), U32(Conv2d, stride_width),
      U32(Conv2d, dilation_height), U32(Conv2d, dilation_width), U32(Conv2d, groups), U32(Conv2d, group_input_channels),
      U32(Conv2d, group_output_channels), OUT_MIN(Conv2d), OUT_MAX(Conv2d), U32(Conv2d, input_id),
      U32(Conv2d, filter_id), BIAS_ID(Conv2d), U32(Conv2d, output_id), U32(Conv2d, flags));
}

/* ---- DepthwiseConv2d ---- */
static xnnd_status check_dwconv2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, filter, bias, out;
  TRY(get_value(c, node, F(DepthwiseConv2d, input_id), "input_id", false, &in));
  TRY(get_value(c, node, F(DepthwiseConv2d, filter_id), "filter_id", false, &filter));
  TRY(get_value(c, node, F(DepthwiseConv2d, bias_id), "bias_id", true, &bias));
  TRY(get_output(c, node, F(DepthwiseConv2d, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(DepthwiseConv2d, flags)));
  TRY(check_minmax(c, node, F(DepthwiseConv2d, output_min), F(DepthwiseConv2d, output_max)));
  TRY(expect_activation(c, "input_id", &in));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  TRY(expect_weights(c, &in, &filter, &bias));
  TRY(expect_rank(c, "input_id", &in, 4));
  uint64_t cin = U32(DepthwiseConv2d, input_channels), dm = U32(DepthwiseConv2d, depth_multiplier);
  if (cin != in.v.dims[3] || dm == 0)
    return nfail(c, XNND_INVALID_PROGRAM, "input_channels %llu (input has %u), depth_multiplier %llu",
                 (unsigned long long)cin, in.v.dims[3], (unsigned long long)dm);
  uint32_t kh = U32(DepthwiseConv2d, kernel_height), kw = U32(DepthwiseConv2d, kernel_width);
  TRY(expect_constant(c, "filter_id", &filter));
  TRY(expect_dims(c, "filter_id", &filter, 4, (uint64_t[]){1, kh, kw, cin * dm}));
  if (bias.present) {
    TRY(expect_constant(c, "bias_id", &bias));
    TRY(expect_dims(c, "bias_id", &bias, 1, (uint64_t[]){cin * dm}));
  }
  uint64_t oh = 0, ow = 0;
  TRY(window_out(c, "height", in.v.dims[1], U32(DepthwiseConv2d, padding_top), U32(DepthwiseConv2d, padding_bottom),
                 kh, U32(DepthwiseConv2d, stride_height), U32(DepthwiseConv2d, dilation_height), &oh));
  TRY(window_out(c, "width", in.v.dims[2], U32(DepthwiseConv2d, padding_left), U32(DepthwiseConv2d, padding_right),
                 kw, U32(DepthwiseConv2d, stride_width), U32(DepthwiseConv2d, dilation_width), &ow));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], oh, ow, cin * dm});
}

static enum xnn_status define_dwconv2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_depthwise_convolution_2d(
      sg, U32(DepthwiseConv2d, padding_top), U32(DepthwiseConv2d, padding_right), U32(DepthwiseConv2d, padding_bottom),
      U32(DepthwiseConv2d, padding_left), U32(DepthwiseConv2d, kernel_height), U32(DepthwiseConv2d, kernel_width),
      U32(DepthwiseConv2d, stride_height), U32(DepthwiseConv2d, stride_width), U32(DepthwiseConv2d, dilation_height),
      U32(DepthwiseConv2d, dilation_width), U32(DepthwiseConv2d, depth_multiplier), U32(DepthwiseConv2d, input_channels),
      OUT_MIN(DepthwiseConv2d), OUT_MAX(DepthwiseConv2d), U32(DepthwiseConv2d, input_id), U32(DepthwiseConv2d, filter_id),
      BIAS_ID(DepthwiseConv2d), U32(DepthwiseConv2d, output_id), U32(DepthwiseConv2d, flags));
}

/* ---- FullyConnected: filter [out, in]; output keeps all input dims but the last ---- */
static xnnd_status check_fully_connected(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, filter, bias, out;
  TRY(get_value(c, node, F(FullyConnected, input_id), "input_id", false, &in));
  TRY(get_value(c, node, F(FullyConnected, filter_id), "filter_id", false, &filter));
  TRY(get_value(c, node, F(FullyConnected, bias_id), "bias_id", true, &bias));
  TRY(get_output(c, node, F(FullyConnected, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(FullyConnected, flags)));
  TRY(check_minmax(c, node, F(FullyConnected, output_min), F(FullyConnected, output_max)));
  TRY(expect_activation(c, "input_id", &in));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  TRY(expect_weights(c, &in, &filter, &bias));
  if (in.v.rank < 1) return nfail(c, XNND_INVALID_PROGRAM, "input_id %u has rank 0", in.id);
  TRY(expect_constant(c, "filter_id", &filter));
  TRY(expect_rank(c, "filter_id", &filter, 2));
  uint64_t oc = filter.v.dims[0];
  if (filter.v.dims[1] != in.v.dims[in.v.rank - 1])
    return nfail(c, XNND_INVALID_PROGRAM, "filter_id %u has %u input channels, input_id %u has %u", filter.id,
                 filter.v.dims[1], in.id, in.v.dims[in.v.rank - 1]);
  if (bias.present) {
    TRY(expect_constant(c, "bias_id", &bias));
    TRY(expect_dims(c, "bias_id", &bias, 1, (uint64_t[]){oc}));
  }
  uint64_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < in.v.rank; d++) dims[d] = in.v.dims[d];
  dims[in.v.rank - 1] = oc;
  return expect_dims(c, "output_id", &out, in.v.rank, dims);
}

static enum xnn_status define_fully_connected(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_fully_connected(sg, OUT_MIN(FullyConnected), OUT_MAX(FullyConnected), U32(FullyConnected, input_id),
                                    U32(FullyConnected, filter_id), BIAS_ID(FullyConnected),
                                    U32(FullyConnected, output_id), U32(FullyConnected, flags));
}

/* ---- binary elementwise (numpy broadcasting) ---- */
static xnnd_status check_binary(const xnnd_xnode_ctx* c, fb_table node, uint32_t f_in1, uint32_t f_in2, uint32_t f_out,
                                uint32_t f_min, uint32_t f_max, uint32_t f_flags) {
  operand a, b, out;
  TRY(get_value(c, node, f_in1, "input1_id", false, &a));
  TRY(get_value(c, node, f_in2, "input2_id", false, &b));
  TRY(get_output(c, node, f_out, "output_id", &out));
  TRY(check_flags(c, node, f_flags));
  if (f_min != XNND_XNODE_NO_FIELD) TRY(check_minmax(c, node, f_min, f_max));
  TRY(expect_activation(c, "input1_id", &a));
  TRY(expect_dtype(c, "input2_id", &b, a.v.datatype));
  TRY(expect_dtype(c, "output_id", &out, a.v.datatype));
  uint32_t rank = a.v.rank > b.v.rank ? a.v.rank : b.v.rank;
  uint64_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < rank; d++) {
    uint32_t da = d + a.v.rank >= rank ? a.v.dims[d + a.v.rank - rank] : 1;
    uint32_t db = d + b.v.rank >= rank ? b.v.dims[d + b.v.rank - rank] : 1;
    if (da != db && da != 1 && db != 1)
      return nfail(c, XNND_INVALID_PROGRAM, "inputs %u and %u do not broadcast at output dim %u (%u vs %u)", a.id,
                   b.id, d, da, db);
    dims[d] = da == 1 ? db : da;
  }
  return expect_dims(c, "output_id", &out, rank, dims);
}

#define BINARY(kind, op)                                                                                            \
  static xnnd_status check_##kind(const xnnd_xnode_ctx* c, fb_table node) {                                        \
    return check_binary(c, node, F(kind, input1_id), F(kind, input2_id), F(kind, output_id), F(kind, output_min), \
                        F(kind, output_max), F(kind, flags));                                                      \
  }                                                                                                                \
  static enum xnn_status define_##kind(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {                \
    (void)blob;                                                                                                    \
    return define_binary_node(sg, op, OUT_MIN(kind), OUT_MAX(kind), U32(kind, input1_id), U32(kind, input2_id),    \
                              U32(kind, output_id), U32(kind, flags));                                             \
  }

/* xnn_define_binary where the library has it (the per-op functions are deprecated there). */
#if XNND_HAVE_XNN_DEFINE_BINARY
#define BINARY_OP(op2024, fn2022) op2024
static enum xnn_status define_binary_node(xnn_subgraph_t sg, enum xnn_binary_operator op, float lo, float hi,
                                          uint32_t in1, uint32_t in2, uint32_t out, uint32_t flags) {
  const struct xnn_binary_params params = {.output_min = lo, .output_max = hi};
  return xnn_define_binary(sg, op, &params, in1, in2, out, flags);
}
#else
#define BINARY_OP(op2024, fn2022) fn2022
typedef enum xnn_status (*binary_fn)(xnn_subgraph_t, float, float, uint32_t, uint32_t, uint32_t, uint32_t);
static enum xnn_status define_binary_node(xnn_subgraph_t sg, binary_fn fn, float lo, float hi, uint32_t in1,
                                          uint32_t in2, uint32_t out, uint32_t flags) {
  return fn(sg, lo, hi, in1, in2, out, flags);
}
#endif
BINARY(Add, BINARY_OP(xnn_binary_add, xnn_define_add2))
BINARY(Subtract, BINARY_OP(xnn_binary_subtract, xnn_define_subtract))
BINARY(Multiply, BINARY_OP(xnn_binary_multiply, xnn_define_multiply2))
BINARY(Divide, BINARY_OP(xnn_binary_divide, xnn_define_divide))

/* Maximum2 / Minimum2: no output range in the schema (XNNPACK 2022 takes none). */
#if XNND_HAVE_XNN_DEFINE_BINARY
#define DEFINE_MINMAX2(op2024, fn2022, in1, in2, out, flags) \
  define_binary_node(sg, op2024, -INFINITY, INFINITY, in1, in2, out, flags)
#else
#define DEFINE_MINMAX2(op2024, fn2022, in1, in2, out, flags) fn2022(sg, in1, in2, out, flags)
#endif
#define BINARY_NO_RANGE(kind, op2024, fn2022)                                                                      \
  static xnnd_status check_##kind(const xnnd_xnode_ctx* c, fb_table node) {                                        \
    return check_binary(c, node, F(kind, input1_id), F(kind, input2_id), F(kind, output_id), XNND_XNODE_NO_FIELD,  \
                        XNND_XNODE_NO_FIELD, F(kind, flags));                                                      \
  }                                                                                                                \
  static enum xnn_status define_##kind(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {                \
    (void)blob;                                                                                                    \
    return DEFINE_MINMAX2(op2024, fn2022, U32(kind, input1_id), U32(kind, input2_id), U32(kind, output_id),        \
                          U32(kind, flags));                                                                       \
  }
BINARY_NO_RANGE(Maximum2, xnn_binary_maximum, xnn_define_maximum2)
BINARY_NO_RANGE(Minimum2, xnn_binary_minimum, xnn_define_minimum2)

/* ---- pooling ---- */
static xnnd_status check_pool(const xnnd_xnode_ctx* c, fb_table node, operand* in, operand* out, uint32_t f_in,
                              uint32_t f_out, uint32_t f_flags, uint32_t f_min, uint32_t f_max) {
  TRY(get_value(c, node, f_in, "input_id", false, in));
  TRY(get_output(c, node, f_out, "output_id", out));
  TRY(check_flags(c, node, f_flags));
  TRY(check_minmax(c, node, f_min, f_max));
  TRY(expect_activation(c, "input_id", in));
  TRY(expect_dtype(c, "output_id", out, in->v.datatype));
  return expect_rank(c, "input_id", in, 4);
}

static xnnd_status check_max_pool2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(check_pool(c, node, &in, &out, F(MaxPool2d, input_id), F(MaxPool2d, output_id), F(MaxPool2d, flags),
                 F(MaxPool2d, output_min), F(MaxPool2d, output_max)));
  uint32_t ph = U32(MaxPool2d, pooling_height), pw = U32(MaxPool2d, pooling_width);
  if ((uint64_t)ph * pw <= 1) return nfail(c, XNND_INVALID_PROGRAM, "pooling %ux%u must cover more than one element", ph, pw);
  uint64_t oh = 0, ow = 0;
  TRY(window_out(c, "height", in.v.dims[1], U32(MaxPool2d, padding_top), U32(MaxPool2d, padding_bottom), ph,
                 U32(MaxPool2d, stride_height), U32(MaxPool2d, dilation_height), &oh));
  TRY(window_out(c, "width", in.v.dims[2], U32(MaxPool2d, padding_left), U32(MaxPool2d, padding_right), pw,
                 U32(MaxPool2d, stride_width), U32(MaxPool2d, dilation_width), &ow));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], oh, ow, in.v.dims[3]});
}

static enum xnn_status define_max_pool2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_max_pooling_2d(
      sg, U32(MaxPool2d, padding_top), U32(MaxPool2d, padding_right), U32(MaxPool2d, padding_bottom),
      U32(MaxPool2d, padding_left), U32(MaxPool2d, pooling_height), U32(MaxPool2d, pooling_width),
      U32(MaxPool2d, stride_height), U32(MaxPool2d, stride_width), U32(MaxPool2d, dilation_height),
      U32(MaxPool2d, dilation_width), OUT_MIN(MaxPool2d), OUT_MAX(MaxPool2d), U32(MaxPool2d, input_id),
      U32(MaxPool2d, output_id), U32(MaxPool2d, flags));
}

static xnnd_status check_avg_pool2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(check_pool(c, node, &in, &out, F(AvgPool2d, input_id), F(AvgPool2d, output_id), F(AvgPool2d, flags),
                 F(AvgPool2d, output_min), F(AvgPool2d, output_max)));
  uint32_t ph = U32(AvgPool2d, pooling_height), pw = U32(AvgPool2d, pooling_width);
  if ((uint64_t)ph * pw <= 1) return nfail(c, XNND_INVALID_PROGRAM, "pooling %ux%u must cover more than one element", ph, pw);
  uint64_t oh = 0, ow = 0;
  TRY(window_out(c, "height", in.v.dims[1], U32(AvgPool2d, padding_top), U32(AvgPool2d, padding_bottom), ph,
                 U32(AvgPool2d, stride_height), 1, &oh));
  TRY(window_out(c, "width", in.v.dims[2], U32(AvgPool2d, padding_left), U32(AvgPool2d, padding_right), pw,
                 U32(AvgPool2d, stride_width), 1, &ow));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], oh, ow, in.v.dims[3]});
}

static enum xnn_status define_avg_pool2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_average_pooling_2d(
      sg, U32(AvgPool2d, padding_top), U32(AvgPool2d, padding_right), U32(AvgPool2d, padding_bottom),
      U32(AvgPool2d, padding_left), U32(AvgPool2d, pooling_height), U32(AvgPool2d, pooling_width),
      U32(AvgPool2d, stride_height), U32(AvgPool2d, stride_width), OUT_MIN(AvgPool2d), OUT_MAX(AvgPool2d),
      U32(AvgPool2d, input_id), U32(AvgPool2d, output_id), U32(AvgPool2d, flags));
}

static xnnd_status check_global_avg_pool2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(check_pool(c, node, &in, &out, F(GlobalAvgPool2d, input_id), F(GlobalAvgPool2d, output_id),
                 F(GlobalAvgPool2d, flags), F(GlobalAvgPool2d, output_min), F(GlobalAvgPool2d, output_max)));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], 1, 1, in.v.dims[3]});
}

static enum xnn_status define_global_avg_pool2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  float lo = OUT_MIN(GlobalAvgPool2d), hi = OUT_MAX(GlobalAvgPool2d);
  uint32_t in = U32(GlobalAvgPool2d, input_id), out = U32(GlobalAvgPool2d, output_id);
#if XNND_HAVE_XNN_DEFINE_STATIC_REDUCE && XNND_HAVE_XNN_DEFINE_UNARY && XNND_HAVE_XNN_FLAG_KEEP_DIMS
  /* Where global average pooling is deprecated: a mean over H and W of the NHWC input, dims
   * kept ([N,1,1,C], as verified), then a clamp when the output range is bounded (the reduce
   * node has none) through an internal value with the output's type. */
  static const size_t axes[2] = {1, 2};
  uint32_t mean_out = out;
  bool bounded = lo != -INFINITY || hi != INFINITY;
  if (bounded) {
    xnnd_xvalue v;
    xnnd_xvalue_read(blob, out, &v);
    size_t dims[XNND_XNN_MAX_DIMS];
    for (uint32_t d = 0; d < v.rank; d++) dims[d] = v.dims[d];
    enum xnn_status s =
        v.datatype == xnn_datatype_fp32
            ? xnn_define_tensor_value(sg, xnn_datatype_fp32, v.rank, dims, NULL, XNN_INVALID_VALUE_ID, 0, &mean_out)
            : xnn_define_quantized_tensor_value(sg, (enum xnn_datatype)v.datatype, v.zero_point, v.scale, v.rank, dims,
                                                NULL, XNN_INVALID_VALUE_ID, 0, &mean_out);
    if (s != xnn_status_success) return s;
  }
  enum xnn_status s = xnn_define_static_reduce(sg, xnn_reduce_mean, 2, axes, in, mean_out,
                                               U32(GlobalAvgPool2d, flags) | XNN_FLAG_KEEP_DIMS);
  if (s != xnn_status_success || !bounded) return s;
  const union xnn_unary_params clamp = {.clamp = {.min = lo, .max = hi}};
  return xnn_define_unary(sg, xnn_unary_clamp, &clamp, mean_out, out, 0);
#else
  (void)blob;
  return xnn_define_global_average_pooling_2d(sg, lo, hi, in, out, U32(GlobalAvgPool2d, flags));
#endif
}

/* ---- unary, same shape in and out ---- */
static xnnd_status check_unary(const xnnd_xnode_ctx* c, fb_table node, uint32_t f_in, uint32_t f_out, uint32_t f_flags,
                               bool fp32_only) {
  operand in, out;
  TRY(get_value(c, node, f_in, "input_id", false, &in));
  TRY(get_output(c, node, f_out, "output_id", &out));
  TRY(check_flags(c, node, f_flags));
  if (fp32_only)
    TRY(expect_dtype(c, "input_id", &in, XNND_XNNPACK_DataType_FP32));
  else
    TRY(expect_activation(c, "input_id", &in));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  return expect_same_dims(c, "output_id", &out, &in);
}

static xnnd_status check_clamp(const xnnd_xnode_ctx* c, fb_table node) {
  TRY(check_minmax(c, node, F(Clamp, output_min), F(Clamp, output_max)));
  return check_unary(c, node, F(Clamp, input_id), F(Clamp, output_id), F(Clamp, flags), false);
}
static enum xnn_status define_clamp(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
#if XNND_HAVE_XNN_DEFINE_UNARY
  const union xnn_unary_params params = {.clamp = {.min = OUT_MIN(Clamp), .max = OUT_MAX(Clamp)}};
  return xnn_define_unary(sg, xnn_unary_clamp, &params, U32(Clamp, input_id), U32(Clamp, output_id),
                          U32(Clamp, flags));
#else
  return xnn_define_clamp(sg, OUT_MIN(Clamp), OUT_MAX(Clamp), U32(Clamp, input_id), U32(Clamp, output_id),
                          U32(Clamp, flags));
#endif
}

static xnnd_status check_hardswish(const xnnd_xnode_ctx* c, fb_table node) {
  return check_unary(c, node, F(Hardswish, input_id), F(Hardswish, output_id), F(Hardswish, flags), true);
}
static enum xnn_status define_hardswish(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
#if XNND_HAVE_XNN_DEFINE_UNARY
  return xnn_define_unary(sg, xnn_unary_hardswish, NULL, U32(Hardswish, input_id), U32(Hardswish, output_id),
                          U32(Hardswish, flags));
#else
  return xnn_define_hardswish(sg, U32(Hardswish, input_id), U32(Hardswish, output_id), U32(Hardswish, flags));
#endif
}

static xnnd_status check_sigmoid(const xnnd_xnode_ctx* c, fb_table node) {
  return check_unary(c, node, F(Sigmoid, input_id), F(Sigmoid, output_id), F(Sigmoid, flags), false);
}
static enum xnn_status define_sigmoid(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
#if XNND_HAVE_XNN_DEFINE_UNARY
  return xnn_define_unary(sg, xnn_unary_sigmoid, NULL, U32(Sigmoid, input_id), U32(Sigmoid, output_id),
                          U32(Sigmoid, flags));
#else
  return xnn_define_sigmoid(sg, U32(Sigmoid, input_id), U32(Sigmoid, output_id), U32(Sigmoid, flags));
#endif
}

static xnnd_status check_softmax(const xnnd_xnode_ctx* c, fb_table node) {
  TRY(check_unary(c, node, F(Softmax, input_id), F(Softmax, output_id), F(Softmax, flags), false));
  operand in;
  TRY(get_value(c, node, F(Softmax, input_id), "input_id", false, &in));
  if (in.v.rank < 1) return nfail(c, XNND_INVALID_PROGRAM, "input_id %u has rank 0", in.id);
  return XNND_OK;
}
static enum xnn_status define_softmax(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_softmax(sg, U32(Softmax, input_id), U32(Softmax, output_id), U32(Softmax, flags));
}

/* ---- StaticReshape: new_shape is the output's dims; element count unchanged ---- */
static xnnd_status check_static_reshape(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(get_value(c, node, F(StaticReshape, input_id), "input_id", false, &in));
  TRY(get_output(c, node, F(StaticReshape, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(StaticReshape, flags)));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  uint64_t dims[XNND_XNN_MAX_DIMS];
  uint32_t rank = xnnd_xreshape_shape(c->blob, node, dims);  /* at the view's symbols */
  if (rank > XNND_XNN_MAX_DIMS)
    return nfail(c, XNND_LIMIT_EXCEEDED, "new_shape has %u dims, XNNPACK allows %u", rank, XNND_XNN_MAX_DIMS);
  TRY(expect_dims(c, "output_id", &out, rank, dims));
  if (xnnd_xvalue_numel(&in.v) != xnnd_xvalue_numel(&out.v))
    return nfail(c, XNND_INVALID_PROGRAM, "input_id %u has %llu elements, output_id %u has %llu", in.id,
                 (unsigned long long)xnnd_xvalue_numel(&in.v), out.id, (unsigned long long)xnnd_xvalue_numel(&out.v));
  return XNND_OK;
}
static enum xnn_status define_static_reshape(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  uint64_t shape[XNND_XNN_MAX_DIMS];
  uint32_t rank = xnnd_xreshape_shape(blob, node, shape);
  size_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < rank && d < XNND_XNN_MAX_DIMS; d++) dims[d] = (size_t)shape[d];
  return xnn_define_static_reshape(sg, rank, dims, U32(StaticReshape, input_id), U32(StaticReshape, output_id),
                                   U32(StaticReshape, flags));
}

/* ---- StaticConstantPad ---- */
static xnnd_status check_static_constant_pad(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(get_value(c, node, F(StaticConstantPad, input_id), "input_id", false, &in));
  TRY(get_output(c, node, F(StaticConstantPad, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(StaticConstantPad, flags)));
  TRY(expect_dtype(c, "input_id", &in, XNND_XNNPACK_DataType_FP32));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  fb_vec pre = fb_vector(node, F(StaticConstantPad, pre_paddings));
  fb_vec post = fb_vector(node, F(StaticConstantPad, post_paddings));
  if (pre.len != in.v.rank || post.len != in.v.rank)
    return nfail(c, XNND_INVALID_PROGRAM, "%u pre and %u post paddings for rank %u", pre.len, post.len, in.v.rank);
  uint64_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < in.v.rank; d++)
    dims[d] = (uint64_t)in.v.dims[d] + fb_vec_u32(pre, d) + fb_vec_u32(post, d);
  return expect_dims(c, "output_id", &out, in.v.rank, dims);
}
static enum xnn_status define_static_constant_pad(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  fb_vec pre = fb_vector(node, F(StaticConstantPad, pre_paddings));
  fb_vec post = fb_vector(node, F(StaticConstantPad, post_paddings));
  size_t a[XNND_XNN_MAX_DIMS] = {0}, b[XNND_XNN_MAX_DIMS] = {0};
  for (uint32_t d = 0; d < pre.len && d < XNND_XNN_MAX_DIMS; d++) a[d] = fb_vec_u32(pre, d);
  for (uint32_t d = 0; d < post.len && d < XNND_XNN_MAX_DIMS; d++) b[d] = fb_vec_u32(post, d);
  return xnn_define_static_constant_pad(sg, a, b, fb_f32(node, F(StaticConstantPad, padding_value), 0.0f),
                                        U32(StaticConstantPad, input_id), U32(StaticConstantPad, output_id),
                                        U32(StaticConstantPad, flags));
}

/* ---- Convert: between FP32 and an 8-bit quantized type, same dims ---- */
static xnnd_status check_convert(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(get_value(c, node, F(Convert, input_id), "input_id", false, &in));
  TRY(get_output(c, node, F(Convert, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(Convert, flags)));
  TRY(expect_activation(c, "input_id", &in));
  TRY(expect_activation(c, "output_id", &out));
  bool in_f = in.v.datatype == XNND_XNNPACK_DataType_FP32, out_f = out.v.datatype == XNND_XNNPACK_DataType_FP32;
  if (in_f == out_f)
    return nfail(c, XNND_DTYPE_MISMATCH, "converts %s to %s; exactly one side must be FP32",
                 xnnd_xdatatype_name(in.v.datatype), xnnd_xdatatype_name(out.v.datatype));
  return expect_same_dims(c, "output_id", &out, &in);
}
static enum xnn_status define_convert(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
#if XNND_HAVE_XNN_DEFINE_UNARY
  return xnn_define_unary(sg, xnn_unary_convert, NULL, U32(Convert, input_id), U32(Convert, output_id),
                          U32(Convert, flags));
#else
  return xnn_define_convert(sg, U32(Convert, input_id), U32(Convert, output_id), U32(Convert, flags));
#endif
}

/* ---- Deconv2d: output = upsampling*(in-1) + adjustment + dilation*(kernel-1) + 1 - padding ---- */
static xnnd_status deconv_out(const xnnd_xnode_ctx* c, const char* axis, uint32_t in, uint32_t pad_a, uint32_t pad_b,
                              uint32_t adjust, uint32_t kernel, uint32_t up, uint32_t dilation, uint64_t* out) {
  if (kernel == 0 || up == 0 || dilation == 0)
    return nfail(c, XNND_INVALID_PROGRAM, "%s kernel %u, upsampling %u, dilation %u must be >= 1", axis, kernel, up,
                 dilation);
  if (adjust >= up) return nfail(c, XNND_INVALID_PROGRAM, "%s adjustment %u must be below upsampling %u", axis, adjust, up);
  if (in == 0) return nfail(c, XNND_INVALID_PROGRAM, "%s input extent is 0", axis);
  uint64_t full = (uint64_t)up * (in - 1) + adjust + (uint64_t)dilation * (kernel - 1) + 1;
  if (full <= (uint64_t)pad_a + pad_b)
    return nfail(c, XNND_INVALID_PROGRAM, "%s padding %u + %u crops the whole output %llu", axis, pad_a, pad_b,
                 (unsigned long long)full);
  *out = full - pad_a - pad_b;
  return XNND_OK;
}

static xnnd_status check_deconv2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, filter, bias, out;
  TRY(get_value(c, node, F(Deconv2d, input_id), "input_id", false, &in));
  TRY(get_value(c, node, F(Deconv2d, filter_id), "filter_id", false, &filter));
  TRY(get_value(c, node, F(Deconv2d, bias_id), "bias_id", true, &bias));
  TRY(get_output(c, node, F(Deconv2d, output_id), "output_id", &out));
  TRY(check_flags(c, node, F(Deconv2d, flags)));
  TRY(check_minmax(c, node, F(Deconv2d, output_min), F(Deconv2d, output_max)));
  TRY(expect_dtype(c, "input_id", &in, XNND_XNNPACK_DataType_FP32));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  TRY(expect_weights(c, &in, &filter, &bias));
  TRY(expect_rank(c, "input_id", &in, 4));
  uint64_t groups = U32(Deconv2d, groups), goc = U32(Deconv2d, group_output_channels);
  uint32_t kh = U32(Deconv2d, kernel_height), kw = U32(Deconv2d, kernel_width);
  TRY(check_grouped_filter(c, &in, &filter, &bias, groups, U32(Deconv2d, group_input_channels), goc, kh, kw));
  uint64_t oh = 0, ow = 0;
  TRY(deconv_out(c, "height", in.v.dims[1], U32(Deconv2d, padding_top), U32(Deconv2d, padding_bottom),
                 U32(Deconv2d, adjustment_height), kh, U32(Deconv2d, upsampling_height), U32(Deconv2d, dilation_height), &oh));
  TRY(deconv_out(c, "width", in.v.dims[2], U32(Deconv2d, padding_left), U32(Deconv2d, padding_right),
                 U32(Deconv2d, adjustment_width), kw, U32(Deconv2d, upsampling_width), U32(Deconv2d, dilation_width), &ow));
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], oh, ow, groups * goc});
}

static enum xnn_status define_deconv2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_deconvolution_2d(
      sg, U32(Deconv2d, padding_top), U32(Deconv2d, padding_right), U32(Deconv2d, padding_bottom),
      U32(Deconv2d, padding_left), U32(Deconv2d, adjustment_height), U32(Deconv2d, adjustment_width),
      U32(Deconv2d, kernel_height), U32(Deconv2d, kernel_width), U32(Deconv2d, upsampling_height),
      U32(Deconv2d, upsampling_width), U32(Deconv2d, dilation_height), U32(Deconv2d, dilation_width),
      U32(Deconv2d, groups), U32(Deconv2d, group_input_channels), U32(Deconv2d, group_output_channels),
      OUT_MIN(Deconv2d), OUT_MAX(Deconv2d), U32(Deconv2d, input_id), U32(Deconv2d, filter_id), BIAS_ID(Deconv2d),
      U32(Deconv2d, output_id), U32(Deconv2d, flags));
}

/* ---- StaticResizeBilinear2d: 4-D NHWC, output [N, new_height, new_width, C] ---- */
#define RESIZE_ALIGN_CORNERS 0x00000008u /* XNN_FLAG_ALIGN_CORNERS */
static xnnd_status check_static_resize_bilinear_2d(const xnnd_xnode_ctx* c, fb_table node) {
  operand in, out;
  TRY(get_value(c, node, F(StaticResizeBilinear2d, input_id), "input_id", false, &in));
  TRY(get_output(c, node, F(StaticResizeBilinear2d, output_id), "output_id", &out));
  uint32_t flags = U32(StaticResizeBilinear2d, flags);
  if (flags != 0 && flags != RESIZE_ALIGN_CORNERS)
    return nfail(c, XNND_INVALID_PROGRAM, "flags 0x%x not supported (0 or align corners 0x%x)", flags,
                 RESIZE_ALIGN_CORNERS);
  TRY(expect_dtype(c, "input_id", &in, XNND_XNNPACK_DataType_FP32));
  TRY(expect_dtype(c, "output_id", &out, in.v.datatype));
  TRY(expect_rank(c, "input_id", &in, 4));
  uint32_t nh = U32(StaticResizeBilinear2d, new_height), nw = U32(StaticResizeBilinear2d, new_width);
  if (nh == 0 || nw == 0 || (uint64_t)nh * nw > UINT32_MAX)
    return nfail(c, XNND_INVALID_PROGRAM, "new size %ux%u out of range", nh, nw);
  return expect_dims(c, "output_id", &out, 4, (uint64_t[]){in.v.dims[0], nh, nw, in.v.dims[3]});
}
static enum xnn_status define_static_resize_bilinear_2d(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  return xnn_define_static_resize_bilinear_2d(sg, U32(StaticResizeBilinear2d, new_height),
                                              U32(StaticResizeBilinear2d, new_width),
                                              U32(StaticResizeBilinear2d, input_id),
                                              U32(StaticResizeBilinear2d, output_id),
                                              U32(StaticResizeBilinear2d, flags));
}

/* ---- elementwise f32 math: same shape in and out ---- */
#if XNND_HAVE_XNN_DEFINE_UNARY
#define DEFINE_MATH(Kind, unary_op, xnn_define_old)                                                        \
  static enum xnn_status define_##Kind(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {         \
    (void)blob;                                                                                            \
    return xnn_define_unary(sg, unary_op, NULL, U32(Kind, input_id), U32(Kind, output_id), U32(Kind, flags)); \
  }
#else
#define DEFINE_MATH(Kind, unary_op, xnn_define_old)                                                \
  static enum xnn_status define_##Kind(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) { \
    (void)blob;                                                                                    \
    return xnn_define_old(sg, U32(Kind, input_id), U32(Kind, output_id), U32(Kind, flags));        \
  }
#endif
#define MATH_NODE(Kind, unary_op, xnn_define_old)                                                     \
  static xnnd_status check_##Kind(const xnnd_xnode_ctx* c, fb_table node) {                          \
    return check_unary(c, node, F(Kind, input_id), F(Kind, output_id), F(Kind, flags), true);        \
  }                                                                                                   \
  DEFINE_MATH(Kind, unary_op, xnn_define_old)
MATH_NODE(Abs, xnn_unary_abs, xnn_define_abs)
MATH_NODE(Ceiling, xnn_unary_ceiling, xnn_define_ceiling)
MATH_NODE(Floor, xnn_unary_floor, xnn_define_floor)
MATH_NODE(Negate, xnn_unary_negate, xnn_define_negate)
MATH_NODE(SquareRoot, xnn_unary_square_root, xnn_define_square_root)
MATH_NODE(BankersRounding, xnn_unary_bankers_rounding, xnn_define_bankers_rounding)
#undef MATH_NODE
#undef DEFINE_MATH

/* XNNPACK refuses an alpha that is not a positive normal float, and a non-finite slope. */
static xnnd_status check_Elu(const xnnd_xnode_ctx* c, fb_table node) {
  float alpha = fb_f32(node, F(Elu, alpha), 1.0f);
  if (!(isnormal(alpha) && alpha > 0.0f))
    return nfail(c, XNND_INVALID_PROGRAM, "alpha %g must be a positive normal float", (double)alpha);
  return check_unary(c, node, F(Elu, input_id), F(Elu, output_id), F(Elu, flags), true);
}
static enum xnn_status define_Elu(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  const float alpha = fb_f32(node, F(Elu, alpha), 1.0f);
#if XNND_HAVE_XNN_DEFINE_UNARY
  union xnn_unary_params params;
  params.elu.alpha = alpha;
  return xnn_define_unary(sg, xnn_unary_elu, &params, U32(Elu, input_id), U32(Elu, output_id), U32(Elu, flags));
#else
  return xnn_define_elu(sg, alpha, U32(Elu, input_id), U32(Elu, output_id), U32(Elu, flags));
#endif
}

static xnnd_status check_LeakyRelu(const xnnd_xnode_ctx* c, fb_table node) {
  float slope = fb_f32(node, F(LeakyRelu, negative_slope), 0.0f);
  if (!isfinite(slope)) return nfail(c, XNND_INVALID_PROGRAM, "negative_slope %g is not finite", (double)slope);
  return check_unary(c, node, F(LeakyRelu, input_id), F(LeakyRelu, output_id), F(LeakyRelu, flags), true);
}
static enum xnn_status define_LeakyRelu(xnn_subgraph_t sg, const xnnd_xblob* blob, fb_table node) {
  (void)blob;
  const float slope = fb_f32(node, F(LeakyRelu, negative_slope), 0.0f);
#if XNND_HAVE_XNN_DEFINE_UNARY
  union xnn_unary_params params;
  params.leaky_relu.negative_slope = slope;
  return xnn_define_unary(sg, xnn_unary_leaky_relu, &params, U32(LeakyRelu, input_id), U32(LeakyRelu, output_id),
                          U32(LeakyRelu, flags));
#else
  return xnn_define_leaky_relu(sg, slope, U32(LeakyRelu, input_id), U32(LeakyRelu, output_id), U32(LeakyRelu, flags));
#endif
}

/* Indexed by the schema's Node union type; 0 (NONE) has no row. */
static const xnnd_xnode_kind k_node_kinds[] = {
    [XNND_XNNPACK_Node_NONE] = {NULL, {0, 0, 0}, 0, 0, NULL, NULL},
    [XNND_XNNPACK_Node_Conv2d] = {"Conv2d", {F(Conv2d, input_id), F(Conv2d, filter_id), F(Conv2d, bias_id)}, F(Conv2d, bias_id), F(Conv2d, output_id), check_conv2d, define_conv2d},
    [XNND_XNNPACK_Node_DepthwiseConv2d] = {"DepthwiseConv2d", {F(DepthwiseConv2d, input_id), F(DepthwiseConv2d, filter_id), F(DepthwiseConv2d, bias_id)}, F(DepthwiseConv2d, bias_id), F(DepthwiseConv2d, output_id), check_dwconv2d, define_dwconv2d},
    [XNND_XNNPACK_Node_FullyConnected] = {"FullyConnected", {F(FullyConnected, input_id), F(FullyConnected, filter_id), F(FullyConnected, bias_id)}, F(FullyConnected, bias_id), F(FullyConnected, output_id), check_fully_connected, define_fully_connected},
    [XNND_XNNPACK_Node_Add] = {"Add", {F(Add, input1_id), F(Add, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Add, output_id), check_Add, define_Add},
    [XNND_XNNPACK_Node_Subtract] = {"Subtract", {F(Subtract, input1_id), F(Subtract, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Subtract, output_id), check_Subtract, define_Subtract},
    [XNND_XNNPACK_Node_Multiply] = {"Multiply", {F(Multiply, input1_id), F(Multiply, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Multiply, output_id), check_Multiply, define_Multiply},
    [XNND_XNNPACK_Node_Divide] = {"Divide", {F(Divide, input1_id), F(Divide, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Divide, output_id), check_Divide, define_Divide},
    [XNND_XNNPACK_Node_MaxPool2d] = {"MaxPool2d", {F(MaxPool2d, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(MaxPool2d, output_id), check_max_pool2d, define_max_pool2d},
    [XNND_XNNPACK_Node_AvgPool2d] = {"AvgPool2d", {F(AvgPool2d, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(AvgPool2d, output_id), check_avg_pool2d, define_avg_pool2d},
    [XNND_XNNPACK_Node_GlobalAvgPool2d] = {"GlobalAvgPool2d", {F(GlobalAvgPool2d, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(GlobalAvgPool2d, output_id), check_global_avg_pool2d, define_global_avg_pool2d},
    [XNND_XNNPACK_Node_Clamp] = {"Clamp", {F(Clamp, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Clamp, output_id), check_clamp, define_clamp},
    [XNND_XNNPACK_Node_Hardswish] = {"Hardswish", {F(Hardswish, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Hardswish, output_id), check_hardswish, define_hardswish},
    [XNND_XNNPACK_Node_Sigmoid] = {"Sigmoid", {F(Sigmoid, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Sigmoid, output_id), check_sigmoid, define_sigmoid},
    [XNND_XNNPACK_Node_Softmax] = {"Softmax", {F(Softmax, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Softmax, output_id), check_softmax, define_softmax},
    [XNND_XNNPACK_Node_StaticReshape] = {"StaticReshape", {F(StaticReshape, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(StaticReshape, output_id), check_static_reshape, define_static_reshape},
    [XNND_XNNPACK_Node_StaticConstantPad] = {"StaticConstantPad", {F(StaticConstantPad, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(StaticConstantPad, output_id), check_static_constant_pad, define_static_constant_pad},
    [XNND_XNNPACK_Node_Convert] = {"Convert", {F(Convert, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Convert, output_id), check_convert, define_convert},
    [XNND_XNNPACK_Node_Deconv2d] = {"Deconv2d", {F(Deconv2d, input_id), F(Deconv2d, filter_id), F(Deconv2d, bias_id)}, F(Deconv2d, bias_id), F(Deconv2d, output_id), check_deconv2d, define_deconv2d},
    [XNND_XNNPACK_Node_StaticResizeBilinear2d] = {"StaticResizeBilinear2d", {F(StaticResizeBilinear2d, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(StaticResizeBilinear2d, output_id), check_static_resize_bilinear_2d, define_static_resize_bilinear_2d},
    [XNND_XNNPACK_Node_Abs] = {"Abs", {F(Abs, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Abs, output_id), check_Abs, define_Abs},
    [XNND_XNNPACK_Node_Ceiling] = {"Ceiling", {F(Ceiling, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Ceiling, output_id), check_Ceiling, define_Ceiling},
    [XNND_XNNPACK_Node_Floor] = {"Floor", {F(Floor, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Floor, output_id), check_Floor, define_Floor},
    [XNND_XNNPACK_Node_Negate] = {"Negate", {F(Negate, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Negate, output_id), check_Negate, define_Negate},
    [XNND_XNNPACK_Node_SquareRoot] = {"SquareRoot", {F(SquareRoot, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(SquareRoot, output_id), check_SquareRoot, define_SquareRoot},
    [XNND_XNNPACK_Node_BankersRounding] = {"BankersRounding", {F(BankersRounding, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(BankersRounding, output_id), check_BankersRounding, define_BankersRounding},
    [XNND_XNNPACK_Node_Elu] = {"Elu", {F(Elu, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Elu, output_id), check_Elu, define_Elu},
    [XNND_XNNPACK_Node_LeakyRelu] = {"LeakyRelu", {F(LeakyRelu, input_id), XNND_XNODE_NO_FIELD, XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(LeakyRelu, output_id), check_LeakyRelu, define_LeakyRelu},
    [XNND_XNNPACK_Node_Maximum2] = {"Maximum2", {F(Maximum2, input1_id), F(Maximum2, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Maximum2, output_id), check_Maximum2, define_Maximum2},
    [XNND_XNNPACK_Node_Minimum2] = {"Minimum2", {F(Minimum2, input1_id), F(Minimum2, input2_id), XNND_XNODE_NO_FIELD}, XNND_XNODE_NO_FIELD, F(Minimum2, output_id), check_Minimum2, define_Minimum2},
};
_Static_assert(sizeof(k_node_kinds) / sizeof(k_node_kinds[0]) == XNND_XNNPACK_Node_COUNT,
               "every xnnpack.fbs Node union member needs a row in k_node_kinds");

const xnnd_xnode_kind* xnnd_xnode_kind_get(uint8_t type) {
  if (type == XNND_XNNPACK_Node_NONE || type >= XNND_XNNPACK_Node_COUNT) return NULL;
  return &k_node_kinds[type];
}
