/* ExecuTorch XNNPACK node kinds -> xnnd blob nodes (schema/xnnpack.fbs), one table indexed by
 * ExecuTorch's union type. Field by field; ExecuTorch's node flags must be 0 (our backend
 * defines every node without flags), the XNode's output range goes to our node's output range
 * where it has one and is refused on a node without one. Value ids were checked by
 * et_xnnpack.c before any translator runs. */
#include <math.h>

#include "et_xnnpack_internal.h"

#define ETF(table, field) XNND_ET_XNNPACK_##table##_##field
#define OURF(table, field) XNND_XNNPACK_##table##_##field
#define NOF UINT32_MAX

static uint32_t et_u32(fb_table n, uint32_t field) { return fb_u32(n, field, 0); }

/* ExecuTorch's XNN_FLAG_KEEP_DIMS on pooling nodes: keep the 4-D [N, H, W, C] output, which is
 * what this XNNPACK's pooling nodes (and our blob's) always do. */
#define ET_FLAG_KEEP_DIMS 0x40u

static xnnd_status check_pool_flags(et_ctx* c, uint32_t index, const char* kind, fb_table n, uint32_t field) {
  uint32_t flags = et_u32(n, field) & ~ET_FLAG_KEEP_DIMS;
  if (flags != 0)
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (%s): flags 0x%x not translated by xnnd", index, kind, flags);
  return XNND_OK;
}

static xnnd_status check_flags(et_ctx* c, uint32_t index, const char* kind, fb_table n, uint32_t field) {
  uint32_t flags = et_u32(n, field);
  if (flags != 0)
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (%s): flags 0x%x not translated by xnnd", index, kind, flags);
  return XNND_OK;
}

static xnnd_status no_range(et_ctx* c, uint32_t index, const char* kind, bool has_range, float lo, float hi) {
  if (has_range && !(lo == -INFINITY && hi == INFINITY))
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (%s): output range [%g, %g] on a node that takes none", index,
                   kind, (double)lo, (double)hi);
  return XNND_OK;
}

static void add_range(fb_builder* fb, uint32_t fmin, uint32_t fmax, float lo, float hi) {
  fb_add_f32(fb, fmin, lo, -INFINITY);
  fb_add_f32(fb, fmax, hi, INFINITY);
}

/* ---- binary: Node2x1 ---- */
#define BINARY_RANGE(fn, ours)                                                                                     \
  static xnnd_status fn(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,      \
                        fb_ref* out) {                                                                             \
    (void)has_range;                                                                                               \
    xnnd_status st = check_flags(c, i, #ours, n, ETF(Node2x1, flags));                                             \
    if (st != XNND_OK) return st;                                                                                  \
    fb_table_start(c->fb);                                                                                         \
    fb_add_u32(c->fb, OURF(ours, input1_id), et_value_id(c, et_u32(n, ETF(Node2x1, input1_id))), 0);               \
    fb_add_u32(c->fb, OURF(ours, input2_id), et_value_id(c, et_u32(n, ETF(Node2x1, input2_id))), 0);               \
    fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(Node2x1, output_id))), 0);               \
    add_range(c->fb, OURF(ours, output_min), OURF(ours, output_max), lo, hi);                                      \
    *type = XNND_XNNPACK_Node_##ours;                                                                              \
    *out = fb_table_end(c->fb);                                                                                    \
    return XNND_OK;                                                                                                \
  }
BINARY_RANGE(tr_add, Add)
BINARY_RANGE(tr_subtract, Subtract)
BINARY_RANGE(tr_multiply, Multiply)
BINARY_RANGE(tr_divide, Divide)

#define BINARY_PLAIN(fn, ours)                                                                                     \
  static xnnd_status fn(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,      \
                        fb_ref* out) {                                                                             \
    xnnd_status st = check_flags(c, i, #ours, n, ETF(Node2x1, flags));                                             \
    if (st == XNND_OK) st = no_range(c, i, #ours, has_range, lo, hi);                                              \
    if (st != XNND_OK) return st;                                                                                  \
    fb_table_start(c->fb);                                                                                         \
    fb_add_u32(c->fb, OURF(ours, input1_id), et_value_id(c, et_u32(n, ETF(Node2x1, input1_id))), 0);               \
    fb_add_u32(c->fb, OURF(ours, input2_id), et_value_id(c, et_u32(n, ETF(Node2x1, input2_id))), 0);               \
    fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(Node2x1, output_id))), 0);               \
    *type = XNND_XNNPACK_Node_##ours;                                                                              \
    *out = fb_table_end(c->fb);                                                                                    \
    return XNND_OK;                                                                                                \
  }
BINARY_PLAIN(tr_minimum, Minimum2)
BINARY_PLAIN(tr_maximum, Maximum2)

/* ---- unary: Node1x1 ---- */
#define UNARY_PLAIN(fn, ours)                                                                                      \
  static xnnd_status fn(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,      \
                        fb_ref* out) {                                                                             \
    xnnd_status st = check_flags(c, i, #ours, n, ETF(Node1x1, flags));                                             \
    if (st == XNND_OK) st = no_range(c, i, #ours, has_range, lo, hi);                                              \
    if (st != XNND_OK) return st;                                                                                  \
    fb_table_start(c->fb);                                                                                         \
    fb_add_u32(c->fb, OURF(ours, input_id), et_value_id(c, et_u32(n, ETF(Node1x1, input_id))), 0);                 \
    fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(Node1x1, output_id))), 0);               \
    *type = XNND_XNNPACK_Node_##ours;                                                                              \
    *out = fb_table_end(c->fb);                                                                                    \
    return XNND_OK;                                                                                                \
  }
UNARY_PLAIN(tr_softmax, Softmax)
UNARY_PLAIN(tr_sigmoid, Sigmoid)
UNARY_PLAIN(tr_hardswish, Hardswish)
UNARY_PLAIN(tr_floor, Floor)
UNARY_PLAIN(tr_ceiling, Ceiling)
UNARY_PLAIN(tr_square_root, SquareRoot)
UNARY_PLAIN(tr_negate, Negate)
UNARY_PLAIN(tr_abs, Abs)
UNARY_PLAIN(tr_convert, Convert)

#define UNARY_RANGE(fn, ours, flag_check)                                                                          \
  static xnnd_status fn(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,      \
                        fb_ref* out) {                                                                             \
    (void)has_range;                                                                                               \
    xnnd_status st = flag_check(c, i, #ours, n, ETF(Node1x1, flags));                                              \
    if (st != XNND_OK) return st;                                                                                  \
    fb_table_start(c->fb);                                                                                         \
    fb_add_u32(c->fb, OURF(ours, input_id), et_value_id(c, et_u32(n, ETF(Node1x1, input_id))), 0);                 \
    fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(Node1x1, output_id))), 0);               \
    add_range(c->fb, OURF(ours, output_min), OURF(ours, output_max), lo, hi);                                      \
    *type = XNND_XNNPACK_Node_##ours;                                                                              \
    *out = fb_table_end(c->fb);                                                                                    \
    return XNND_OK;                                                                                                \
  }
/* ExecuTorch's clamp carries its bounds in the XNode's output range. */
UNARY_RANGE(tr_clamp, Clamp, check_flags)
UNARY_RANGE(tr_global_avg_pool, GlobalAvgPool2d, check_pool_flags)

/* ---- fully connected ---- */
/* As planned by plan_fc_as_conv: reshape X [.., K] -> [1, 1, M, K], 1x1 Conv2d with the
 * [O, 1, 1, K] filter -> [1, 1, M, O], reshape -> Y [.., O]. */
static xnnd_status fc_as_conv(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, uint8_t* type, fb_ref* out) {
  uint32_t xid = et_u32(n, ETF(FullyConnected, input1_id)), yid = et_u32(n, ETF(FullyConnected, output_id));
  uint32_t fid = et_u32(n, ETF(FullyConnected, filter_id)), bias = et_u32(n, ETF(FullyConnected, bias_id));
  const et_xvalue* x = &c->values[xid];
  const et_xvalue* y = &c->values[yid];
  const et_xvalue* f = &c->values[fid];
  uint32_t k = f->dims[3], o = f->dims[0];
  uint64_t m = 1;
  for (uint32_t d = 0; d + 1 < x->rank; d++) m *= x->dims[d];
  if (x->dims[x->rank - 1] != k || y->dims[y->rank - 1] != o || m > UINT32_MAX)
    return et_fail(c, XNND_MALFORMED, "xnodes[%u] (FullyConnected): input, filter and output shapes disagree", i);
  uint32_t a_dims[4] = {1, 1, (uint32_t)m, k}, b_dims[4] = {1, 1, (uint32_t)m, o};
  uint32_t a = et_add_value(c, x, 4, a_dims), b = et_add_value(c, y, 4, b_dims);
  if (a == ET_XNN_NO_VALUE || b == ET_XNN_NO_VALUE) return XNND_INTERNAL;
  fb_ref shape = fb_create_vector(c->fb, a_dims, 4, sizeof(uint32_t));
  fb_table_start(c->fb);
  fb_add_ref(c->fb, OURF(StaticReshape, new_shape), shape);
  fb_add_u32(c->fb, OURF(StaticReshape, input_id), et_value_id(c, xid), 0);
  fb_add_u32(c->fb, OURF(StaticReshape, output_id), a, 0);
  if (!et_add_node(c, XNND_XNNPACK_Node_StaticReshape, fb_table_end(c->fb))) return XNND_INTERNAL;
  fb_table_start(c->fb);
  fb_add_u32(c->fb, OURF(Conv2d, kernel_height), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, kernel_width), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, stride_height), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, stride_width), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, dilation_height), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, dilation_width), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, groups), 1, 0);
  fb_add_u32(c->fb, OURF(Conv2d, group_input_channels), k, 0);
  fb_add_u32(c->fb, OURF(Conv2d, group_output_channels), o, 0);
  fb_add_u32(c->fb, OURF(Conv2d, input_id), a, 0);
  fb_add_u32(c->fb, OURF(Conv2d, filter_id), et_value_id(c, fid), 0);
  fb_add_u32(c->fb, OURF(Conv2d, bias_id), bias == ET_XNN_NO_VALUE ? UINT32_MAX : et_value_id(c, bias), UINT32_MAX);
  fb_add_u32(c->fb, OURF(Conv2d, output_id), b, 0);
  add_range(c->fb, OURF(Conv2d, output_min), OURF(Conv2d, output_max), lo, hi);
  if (!et_add_node(c, XNND_XNNPACK_Node_Conv2d, fb_table_end(c->fb))) return XNND_INTERNAL;
  fb_ref out_shape = fb_create_vector(c->fb, y->dims, y->rank, sizeof(uint32_t));
  fb_table_start(c->fb);
  fb_add_ref(c->fb, OURF(StaticReshape, new_shape), out_shape);
  fb_add_u32(c->fb, OURF(StaticReshape, input_id), b, 0);
  fb_add_u32(c->fb, OURF(StaticReshape, output_id), et_value_id(c, yid), 0);
  *type = XNND_XNNPACK_Node_StaticReshape;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

static xnnd_status tr_fully_connected(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                      uint8_t* type, fb_ref* out) {
  (void)has_range;
  xnnd_status st = check_flags(c, i, "FullyConnected", n, ETF(FullyConnected, flags));
  if (st != XNND_OK) return st;
  if (c->fc_as_conv[i]) return fc_as_conv(c, i, n, lo, hi, type, out);
  uint32_t bias = et_u32(n, ETF(FullyConnected, bias_id));
  fb_table_start(c->fb);
  fb_add_u32(c->fb, OURF(FullyConnected, input_id), et_value_id(c, et_u32(n, ETF(FullyConnected, input1_id))), 0);
  fb_add_u32(c->fb, OURF(FullyConnected, filter_id), et_value_id(c, et_u32(n, ETF(FullyConnected, filter_id))), 0);
  fb_add_u32(c->fb, OURF(FullyConnected, bias_id), bias == ET_XNN_NO_VALUE ? UINT32_MAX : et_value_id(c, bias),
             UINT32_MAX);
  fb_add_u32(c->fb, OURF(FullyConnected, output_id), et_value_id(c, et_u32(n, ETF(FullyConnected, output_id))), 0);
  add_range(c->fb, OURF(FullyConnected, output_min), OURF(FullyConnected, output_max), lo, hi);
  *type = XNND_XNNPACK_Node_FullyConnected;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ---- convolutions: NodeConv ---- */
static xnnd_status conv_common(et_ctx* c, uint32_t i, const char* kind, fb_table n) {
  xnnd_status st = check_flags(c, i, kind, n, ETF(NodeConv, flags));
  if (st != XNND_OK) return st;
  uint32_t ah = et_u32(n, ETF(NodeConv, adjustment_height)), aw = et_u32(n, ETF(NodeConv, adjustment_width));
  if (ah != 0 || aw != 0)
    return et_fail(c, XNND_MALFORMED, "xnodes[%u] (%s): adjustment %ux%u on a forward convolution", i, kind, ah, aw);
  return XNND_OK;
}

#define CONV_GEOMETRY(ours)                                                                                        \
  fb_add_u32(c->fb, OURF(ours, padding_top), et_u32(n, ETF(NodeConv, padding_top)), 0);                            \
  fb_add_u32(c->fb, OURF(ours, padding_right), et_u32(n, ETF(NodeConv, padding_right)), 0);                        \
  fb_add_u32(c->fb, OURF(ours, padding_bottom), et_u32(n, ETF(NodeConv, padding_bottom)), 0);                      \
  fb_add_u32(c->fb, OURF(ours, padding_left), et_u32(n, ETF(NodeConv, padding_left)), 0);                          \
  fb_add_u32(c->fb, OURF(ours, kernel_height), et_u32(n, ETF(NodeConv, kernel_height)), 0);                        \
  fb_add_u32(c->fb, OURF(ours, kernel_width), et_u32(n, ETF(NodeConv, kernel_width)), 0);                          \
  fb_add_u32(c->fb, OURF(ours, stride_height), et_u32(n, ETF(NodeConv, subsampling_height)), 0);                   \
  fb_add_u32(c->fb, OURF(ours, stride_width), et_u32(n, ETF(NodeConv, subsampling_width)), 0);                     \
  fb_add_u32(c->fb, OURF(ours, dilation_height), et_u32(n, ETF(NodeConv, dilation_height)), 0);                    \
  fb_add_u32(c->fb, OURF(ours, dilation_width), et_u32(n, ETF(NodeConv, dilation_width)), 0)

#define CONV_IDS(ours)                                                                                             \
  do {                                                                                                             \
    uint32_t bias = et_u32(n, ETF(NodeConv, bias_id));                                                             \
    fb_add_u32(c->fb, OURF(ours, input_id), et_value_id(c, et_u32(n, ETF(NodeConv, input1_id))), 0);               \
    fb_add_u32(c->fb, OURF(ours, filter_id), et_value_id(c, et_u32(n, ETF(NodeConv, filter_id))), 0);              \
    fb_add_u32(c->fb, OURF(ours, bias_id), bias == ET_XNN_NO_VALUE ? UINT32_MAX : et_value_id(c, bias),            \
               UINT32_MAX);                                                                                        \
    fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(NodeConv, output_id))), 0);              \
    add_range(c->fb, OURF(ours, output_min), OURF(ours, output_max), lo, hi);                                      \
  } while (0)

static xnnd_status tr_conv2d(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                             fb_ref* out) {
  (void)has_range;
  xnnd_status st = conv_common(c, i, "Conv2d", n);
  if (st != XNND_OK) return st;
  fb_table_start(c->fb);
  CONV_GEOMETRY(Conv2d);
  fb_add_u32(c->fb, OURF(Conv2d, groups), et_u32(n, ETF(NodeConv, groups)), 0);
  fb_add_u32(c->fb, OURF(Conv2d, group_input_channels), et_u32(n, ETF(NodeConv, group_input_channels)), 0);
  fb_add_u32(c->fb, OURF(Conv2d, group_output_channels), et_u32(n, ETF(NodeConv, group_output_channels)), 0);
  CONV_IDS(Conv2d);
  *type = XNND_XNNPACK_Node_Conv2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ExecuTorch writes a depthwise convolution as groups = input channels, one input channel per
 * group and the depth multiplier as the group's output channels; its filter is already
 * XNNPACK's [1, kh, kw, channels]. */
static xnnd_status tr_depthwise_conv2d(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                       uint8_t* type, fb_ref* out) {
  (void)has_range;
  xnnd_status st = conv_common(c, i, "DepthwiseConv2d", n);
  if (st != XNND_OK) return st;
  uint32_t gin = et_u32(n, ETF(NodeConv, group_input_channels));
  if (gin != 1)
    return et_fail(c, XNND_MALFORMED, "xnodes[%u] (DepthwiseConv2d): group_input_channels %u, a depthwise convolution has 1",
                   i, gin);
  fb_table_start(c->fb);
  CONV_GEOMETRY(DepthwiseConv2d);
  fb_add_u32(c->fb, OURF(DepthwiseConv2d, depth_multiplier), et_u32(n, ETF(NodeConv, group_output_channels)), 0);
  fb_add_u32(c->fb, OURF(DepthwiseConv2d, input_channels), et_u32(n, ETF(NodeConv, groups)), 0);
  CONV_IDS(DepthwiseConv2d);
  *type = XNND_XNNPACK_Node_DepthwiseConv2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ExecuTorch's transposed convolution: subsampling is the upsampling factor, the filter is
 * already XNNPACK's [groups * group output channels, kh, kw, group input channels]. */
static xnnd_status tr_deconv2d(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                               fb_ref* out) {
  (void)has_range;
  xnnd_status st = check_flags(c, i, "ConvTranspose2d", n, ETF(NodeConv, flags));
  if (st != XNND_OK) return st;
  fb_table_start(c->fb);
  fb_add_u32(c->fb, OURF(Deconv2d, padding_top), et_u32(n, ETF(NodeConv, padding_top)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, padding_right), et_u32(n, ETF(NodeConv, padding_right)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, padding_bottom), et_u32(n, ETF(NodeConv, padding_bottom)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, padding_left), et_u32(n, ETF(NodeConv, padding_left)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, adjustment_height), et_u32(n, ETF(NodeConv, adjustment_height)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, adjustment_width), et_u32(n, ETF(NodeConv, adjustment_width)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, kernel_height), et_u32(n, ETF(NodeConv, kernel_height)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, kernel_width), et_u32(n, ETF(NodeConv, kernel_width)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, upsampling_height), et_u32(n, ETF(NodeConv, subsampling_height)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, upsampling_width), et_u32(n, ETF(NodeConv, subsampling_width)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, dilation_height), et_u32(n, ETF(NodeConv, dilation_height)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, dilation_width), et_u32(n, ETF(NodeConv, dilation_width)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, groups), et_u32(n, ETF(NodeConv, groups)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, group_input_channels), et_u32(n, ETF(NodeConv, group_input_channels)), 0);
  fb_add_u32(c->fb, OURF(Deconv2d, group_output_channels), et_u32(n, ETF(NodeConv, group_output_channels)), 0);
  CONV_IDS(Deconv2d);
  *type = XNND_XNNPACK_Node_Deconv2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ---- pooling: Pooling2D ---- */
#define POOL_COMMON(ours)                                                                                          \
  fb_add_u32(c->fb, OURF(ours, padding_top), et_u32(n, ETF(Pooling2D, padding_top)), 0);                           \
  fb_add_u32(c->fb, OURF(ours, padding_right), et_u32(n, ETF(Pooling2D, padding_right)), 0);                       \
  fb_add_u32(c->fb, OURF(ours, padding_bottom), et_u32(n, ETF(Pooling2D, padding_bottom)), 0);                     \
  fb_add_u32(c->fb, OURF(ours, padding_left), et_u32(n, ETF(Pooling2D, padding_left)), 0);                         \
  fb_add_u32(c->fb, OURF(ours, pooling_height), et_u32(n, ETF(Pooling2D, pooling_height)), 0);                     \
  fb_add_u32(c->fb, OURF(ours, pooling_width), et_u32(n, ETF(Pooling2D, pooling_width)), 0);                       \
  fb_add_u32(c->fb, OURF(ours, stride_height), et_u32(n, ETF(Pooling2D, stride_height)), 0);                       \
  fb_add_u32(c->fb, OURF(ours, stride_width), et_u32(n, ETF(Pooling2D, stride_width)), 0);                         \
  fb_add_u32(c->fb, OURF(ours, input_id), et_value_id(c, et_u32(n, ETF(Pooling2D, input_id))), 0);                 \
  fb_add_u32(c->fb, OURF(ours, output_id), et_value_id(c, et_u32(n, ETF(Pooling2D, output_id))), 0);               \
  add_range(c->fb, OURF(ours, output_min), OURF(ours, output_max), lo, hi)

static xnnd_status tr_max_pool(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                               fb_ref* out) {
  (void)has_range;
  xnnd_status st = check_pool_flags(c, i, "MaxPooling2d", n, ETF(Pooling2D, flags));
  if (st != XNND_OK) return st;
  fb_table_start(c->fb);
  POOL_COMMON(MaxPool2d);
  fb_add_u32(c->fb, OURF(MaxPool2d, dilation_height), et_u32(n, ETF(Pooling2D, dilation_height)), 0);
  fb_add_u32(c->fb, OURF(MaxPool2d, dilation_width), et_u32(n, ETF(Pooling2D, dilation_width)), 0);
  *type = XNND_XNNPACK_Node_MaxPool2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

static xnnd_status tr_avg_pool(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                               fb_ref* out) {
  (void)has_range;
  xnnd_status st = check_pool_flags(c, i, "AvgPooling2d", n, ETF(Pooling2D, flags));
  if (st != XNND_OK) return st;
  uint32_t dh = et_u32(n, ETF(Pooling2D, dilation_height)), dw = et_u32(n, ETF(Pooling2D, dilation_width));
  if (dh > 1 || dw > 1)
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (AvgPooling2d): dilation %ux%u: XNNPACK's average pooling has none",
                   i, dh, dw);
  fb_table_start(c->fb);
  POOL_COMMON(AvgPool2d);
  *type = XNND_XNNPACK_Node_AvgPool2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ---- shape ---- */
static xnnd_status copy_u32_vector(et_ctx* c, fb_table n, uint32_t field, fb_ref* ref) {
  fb_vec v = fb_vector(n, field);
  uint32_t tmp[ET_XNN_MAX_DIMS];
  if (v.len > ET_XNN_MAX_DIMS) return XNND_LIMIT_EXCEEDED;
  for (uint32_t k = 0; k < v.len; k++) tmp[k] = fb_vec_u32(v, k);
  *ref = fb_create_vector(c->fb, tmp, v.len, sizeof(uint32_t));
  return XNND_OK;
}

static xnnd_status tr_reshape(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                              fb_ref* out) {
  xnnd_status st = check_flags(c, i, "StaticReshape", n, ETF(StaticReshape, flags));
  if (st == XNND_OK) st = no_range(c, i, "StaticReshape", has_range, lo, hi);
  if (st != XNND_OK) return st;
  fb_vec shape = fb_vector(n, ETF(StaticReshape, new_shape));
  uint32_t num_dims = et_u32(n, ETF(StaticReshape, num_dims));
  if (num_dims != shape.len)
    return et_fail(c, XNND_MALFORMED, "xnodes[%u] (StaticReshape): num_dims %u but %u new_shape entries", i, num_dims,
                   shape.len);
  fb_ref ref = 0;
  if (copy_u32_vector(c, n, ETF(StaticReshape, new_shape), &ref) != XNND_OK)
    return et_fail(c, XNND_LIMIT_EXCEEDED, "xnodes[%u] (StaticReshape): rank %u exceeds XNNPACK's %u", i, shape.len,
                   ET_XNN_MAX_DIMS);
  fb_table_start(c->fb);
  fb_add_ref(c->fb, OURF(StaticReshape, new_shape), ref);
  fb_add_u32(c->fb, OURF(StaticReshape, input_id), et_value_id(c, et_u32(n, ETF(StaticReshape, input_id))), 0);
  fb_add_u32(c->fb, OURF(StaticReshape, output_id), et_value_id(c, et_u32(n, ETF(StaticReshape, output_id))), 0);
  *type = XNND_XNNPACK_Node_StaticReshape;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

static xnnd_status tr_constant_pad(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                   uint8_t* type, fb_ref* out) {
  xnnd_status st = check_flags(c, i, "StaticConstantPad", n, ETF(StaticConstantPad, flags));
  if (st == XNND_OK) st = no_range(c, i, "StaticConstantPad", has_range, lo, hi);
  if (st != XNND_OK) return st;
  fb_ref pre = 0, post = 0;
  if (copy_u32_vector(c, n, ETF(StaticConstantPad, pre_paddings), &pre) != XNND_OK ||
      copy_u32_vector(c, n, ETF(StaticConstantPad, post_paddings), &post) != XNND_OK)
    return et_fail(c, XNND_LIMIT_EXCEEDED, "xnodes[%u] (StaticConstantPad): more than %u paddings", i, ET_XNN_MAX_DIMS);
  fb_table_start(c->fb);
  fb_add_ref(c->fb, OURF(StaticConstantPad, pre_paddings), pre);
  fb_add_ref(c->fb, OURF(StaticConstantPad, post_paddings), post);
  fb_add_f32(c->fb, OURF(StaticConstantPad, padding_value), fb_f32(n, ETF(StaticConstantPad, padding_value), 0.0f),
             0.0f);
  fb_add_u32(c->fb, OURF(StaticConstantPad, input_id), et_value_id(c, et_u32(n, ETF(StaticConstantPad, input_id))), 0);
  fb_add_u32(c->fb, OURF(StaticConstantPad, output_id), et_value_id(c, et_u32(n, ETF(StaticConstantPad, output_id))),
             0);
  *type = XNND_XNNPACK_Node_StaticConstantPad;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* XNN_FLAG_ALIGN_CORNERS (8) is the one resize flag our blob carries. */
static xnnd_status tr_resize_bilinear(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                      uint8_t* type, fb_ref* out) {
  xnnd_status st = no_range(c, i, "StaticResizeBilinear2D", has_range, lo, hi);
  if (st != XNND_OK) return st;
  uint32_t flags = et_u32(n, ETF(StaticResizeBilinear2D, flags));
  if (flags != 0 && flags != 8)
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (StaticResizeBilinear2D): flags 0x%x not translated by xnnd", i,
                   flags);
  fb_table_start(c->fb);
  fb_add_u32(c->fb, OURF(StaticResizeBilinear2d, new_height), et_u32(n, ETF(StaticResizeBilinear2D, new_height)), 0);
  fb_add_u32(c->fb, OURF(StaticResizeBilinear2d, new_width), et_u32(n, ETF(StaticResizeBilinear2D, new_width)), 0);
  fb_add_u32(c->fb, OURF(StaticResizeBilinear2d, input_id),
             et_value_id(c, et_u32(n, ETF(StaticResizeBilinear2D, input_id))), 0);
  fb_add_u32(c->fb, OURF(StaticResizeBilinear2d, output_id),
             et_value_id(c, et_u32(n, ETF(StaticResizeBilinear2D, output_id))), 0);
  fb_add_u32(c->fb, OURF(StaticResizeBilinear2d, flags), flags, 0);
  *type = XNND_XNNPACK_Node_StaticResizeBilinear2d;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

static xnnd_status tr_leaky_relu(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                 uint8_t* type, fb_ref* out) {
  xnnd_status st = check_flags(c, i, "LeakyReLU", n, ETF(LeakyReLU, flags));
  if (st == XNND_OK) st = no_range(c, i, "LeakyReLU", has_range, lo, hi);
  if (st != XNND_OK) return st;
  fb_table_start(c->fb);
  fb_add_f32(c->fb, OURF(LeakyRelu, negative_slope), fb_f32(n, ETF(LeakyReLU, negative_slope), 0.0f), 0.0f);
  fb_add_u32(c->fb, OURF(LeakyRelu, input_id), et_value_id(c, et_u32(n, ETF(LeakyReLU, input_id))), 0);
  fb_add_u32(c->fb, OURF(LeakyRelu, output_id), et_value_id(c, et_u32(n, ETF(LeakyReLU, output_id))), 0);
  *type = XNND_XNNPACK_Node_LeakyRelu;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

static xnnd_status tr_elu(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range, uint8_t* type,
                          fb_ref* out) {
  xnnd_status st = check_flags(c, i, "ELU", n, ETF(ELU, flags));
  if (st == XNND_OK) st = no_range(c, i, "ELU", has_range, lo, hi);
  if (st != XNND_OK) return st;
  fb_table_start(c->fb);
  /* ExecuTorch's alpha has no schema default: absent is 0, written as such (ours defaults to 1). */
  fb_add_f32(c->fb, OURF(Elu, alpha), fb_f32(n, ETF(ELU, alpha), 0.0f), 1.0f);
  fb_add_u32(c->fb, OURF(Elu, input_id), et_value_id(c, et_u32(n, ETF(ELU, input_id))), 0);
  fb_add_u32(c->fb, OURF(Elu, output_id), et_value_id(c, et_u32(n, ETF(ELU, output_id))), 0);
  *type = XNND_XNNPACK_Node_Elu;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* An interior transpose that moves only size-1 dims keeps every element where it is: it is a
 * reshape (ExecuTorch emits one after global average pooling, [N,1,1,C] -> [N,C,1,1]). Any
 * other interior transpose needs xnn_define_static_transpose, which this XNNPACK lacks. */
static xnnd_status tr_transpose(et_ctx* c, uint32_t i, fb_table n, float lo, float hi, bool has_range,
                                uint8_t* type, fb_ref* out) {
  xnnd_status st = check_flags(c, i, "StaticTranspose", n, ETF(StaticTranspose, flags));
  if (st == XNND_OK) st = no_range(c, i, "StaticTranspose", has_range, lo, hi);
  if (st != XNND_OK) return st;
  fb_vec perm = fb_vector(n, ETF(StaticTranspose, perm));
  uint32_t in = et_u32(n, ETF(StaticTranspose, input_id)), o = et_u32(n, ETF(StaticTranspose, output_id));
  const et_xvalue* x = &c->values[in];
  const et_xvalue* y = &c->values[o];
  bool seen[ET_XNN_MAX_DIMS] = {false};
  bool reshape = perm.len == x->rank && y->rank == x->rank;
  uint32_t last = 0;
  bool any = false;
  for (uint32_t k = 0; reshape && k < perm.len; k++) {
    uint32_t p = fb_vec_u32(perm, k);
    if (p >= x->rank || seen[p] || y->dims[k] != x->dims[p]) {
      reshape = false;
      break;
    }
    seen[p] = true;
    if (x->dims[p] == 1) continue;
    if (any && p < last) reshape = false;  /* two dims of size > 1 swap places */
    last = p;
    any = true;
  }
  if (!reshape)
    return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (StaticTranspose): no static transpose in this XNNPACK "
                   "(an interior transpose; only boundary ones fold into the NCHW flag)", i);
  fb_ref shape = fb_create_vector(c->fb, y->dims, y->rank, sizeof(uint32_t));
  fb_table_start(c->fb);
  fb_add_ref(c->fb, OURF(StaticReshape, new_shape), shape);
  fb_add_u32(c->fb, OURF(StaticReshape, input_id), et_value_id(c, in), 0);
  fb_add_u32(c->fb, OURF(StaticReshape, output_id), et_value_id(c, o), 0);
  *type = XNND_XNNPACK_Node_StaticReshape;
  *out = fb_table_end(c->fb);
  return XNND_OK;
}

/* ---- the table ---- */
#define IN1(t, f) {ETF(t, f), NOF, NOF}
#define IN2(t, a, b) {ETF(t, a), ETF(t, b), NOF}
#define NODE1(name, fn) {name, IN1(Node1x1, input_id), ETF(Node1x1, output_id), false, fn, NULL}
#define NODE2(name, fn) {name, IN2(Node2x1, input1_id, input2_id), ETF(Node2x1, output_id), false, fn, NULL}
#define CONV(name, fn, why) \
  {name, {ETF(NodeConv, input1_id), ETF(NodeConv, filter_id), ETF(NodeConv, bias_id)}, ETF(NodeConv, output_id), true, fn, why}
#define POOL(name, fn) {name, IN1(Pooling2D, input_id), ETF(Pooling2D, output_id), false, fn, NULL}
#define REFUSE(name, t, in, outf, why) {name, IN1(t, in), ETF(t, outf), false, NULL, why}

static const char NOT_XNND[] = "not translated by xnnd";
#define NOT_HERE(what) "no " what " in this XNNPACK"

static const et_xnode_kind kinds[] = {
    [0] = {NULL, {NOF, NOF, NOF}, NOF, false, NULL, NULL},  /* NONE */
    [XNND_ET_XNNPACK_NodeUnion_Add] = NODE2("Add", tr_add),
    [XNND_ET_XNNPACK_NodeUnion_FullyConnected] = {"FullyConnected", {ETF(FullyConnected, input1_id), ETF(FullyConnected, filter_id), ETF(FullyConnected, bias_id)},
     ETF(FullyConnected, output_id), true, tr_fully_connected, NULL},
    [XNND_ET_XNNPACK_NodeUnion_Softmax] = NODE1("Softmax", tr_softmax),
    [XNND_ET_XNNPACK_NodeUnion_Sigmoid] = NODE1("Sigmoid", tr_sigmoid),
    [XNND_ET_XNNPACK_NodeUnion_StaticTranspose] = {"StaticTranspose", IN1(StaticTranspose, input_id), ETF(StaticTranspose, output_id), false, tr_transpose,
     NOT_HERE("static transpose")},
    [XNND_ET_XNNPACK_NodeUnion_Clamp] = NODE1("Clamp", tr_clamp),
    [XNND_ET_XNNPACK_NodeUnion_Conv2d] = CONV("Conv2d", tr_conv2d, NULL),
    [XNND_ET_XNNPACK_NodeUnion_Div] = NODE2("Div", tr_divide),
    [XNND_ET_XNNPACK_NodeUnion_StaticResizeBilinear2D] = {"StaticResizeBilinear2D", IN1(StaticResizeBilinear2D, input_id), ETF(StaticResizeBilinear2D, output_id), false,
     tr_resize_bilinear, NULL},
    [XNND_ET_XNNPACK_NodeUnion_StaticConstantPad] = {"StaticConstantPad", IN1(StaticConstantPad, input_id), ETF(StaticConstantPad, output_id), false, tr_constant_pad,
     NULL},
    [XNND_ET_XNNPACK_NodeUnion_AvgPooling2d] = POOL("AvgPooling2d", tr_avg_pool),
    [XNND_ET_XNNPACK_NodeUnion_Minimum] = NODE2("Minimum", tr_minimum),
    [XNND_ET_XNNPACK_NodeUnion_DepthwiseConv2d] = CONV("DepthwiseConv2d", tr_depthwise_conv2d, NULL),
    [XNND_ET_XNNPACK_NodeUnion_MaxPooling2d] = POOL("MaxPooling2d", tr_max_pool),
    [XNND_ET_XNNPACK_NodeUnion_Multiply] = NODE2("Multiply", tr_multiply),
    [XNND_ET_XNNPACK_NodeUnion_Subtract] = NODE2("Subtract", tr_subtract),
    [XNND_ET_XNNPACK_NodeUnion_Floor] = NODE1("Floor", tr_floor),
    [XNND_ET_XNNPACK_NodeUnion_Convert] = NODE1("Convert", tr_convert),
    [XNND_ET_XNNPACK_NodeUnion_GlobalAvgPooling2d] = NODE1("GlobalAvgPooling2d", tr_global_avg_pool),
    [XNND_ET_XNNPACK_NodeUnion_StaticReshape] = {"StaticReshape", IN1(StaticReshape, input_id), ETF(StaticReshape, output_id), false, tr_reshape, NULL},
    [XNND_ET_XNNPACK_NodeUnion_ArgMaxPooling2d] = REFUSE("ArgMaxPooling2d", ArgMaxPooling2d, input_id, output_value_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_SquareRoot] = NODE1("SquareRoot", tr_square_root),
    [XNND_ET_XNNPACK_NodeUnion_Ceiling] = NODE1("Ceiling", tr_ceiling),
    [XNND_ET_XNNPACK_NodeUnion_Hardswish] = NODE1("Hardswish", tr_hardswish),
    [XNND_ET_XNNPACK_NodeUnion_LeakyReLU] = {"LeakyReLU", IN1(LeakyReLU, input_id), ETF(LeakyReLU, output_id), false, tr_leaky_relu, NULL},
    [XNND_ET_XNNPACK_NodeUnion_Maximum] = NODE2("Maximum", tr_maximum),
    [XNND_ET_XNNPACK_NodeUnion_Negate] = NODE1("Negate", tr_negate),
    [XNND_ET_XNNPACK_NodeUnion_Square] = REFUSE("Square", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_ELU] = {"ELU", IN1(ELU, input_id), ETF(ELU, output_id), false, tr_elu, NULL},
    [XNND_ET_XNNPACK_NodeUnion_Abs] = NODE1("Abs", tr_abs),
    [XNND_ET_XNNPACK_NodeUnion_PReLU] = REFUSE("PReLU", Node2x1, input1_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Concatenate2] = REFUSE("Concatenate2", Cat, input1_id, output_id, NOT_HERE("concatenate")),
    [XNND_ET_XNNPACK_NodeUnion_Concatenate3] = REFUSE("Concatenate3", Cat, input1_id, output_id, NOT_HERE("concatenate")),
    [XNND_ET_XNNPACK_NodeUnion_Concatenate4] = REFUSE("Concatenate4", Cat, input1_id, output_id, NOT_HERE("concatenate")),
    [XNND_ET_XNNPACK_NodeUnion_StaticSlice] = REFUSE("StaticSlice", StaticSlice, input_id, output_id, NOT_HERE("static slice")),
    [XNND_ET_XNNPACK_NodeUnion_ScaledDotProductAttention] = REFUSE("ScaledDotProductAttention", ScaledDotProductAttention, query_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_BatchMatrixMultiply] = REFUSE("BatchMatrixMultiply", Node2x1, input1_id, output_id, NOT_HERE("batch matrix multiply")),
    [XNND_ET_XNNPACK_NodeUnion_Concatenate5] = REFUSE("Concatenate5", Cat, input1_id, output_id, NOT_HERE("concatenate")),
    [XNND_ET_XNNPACK_NodeUnion_ConvTranspose2d] = CONV("ConvTranspose2d", tr_deconv2d, NULL),
    [XNND_ET_XNNPACK_NodeUnion_ReciprocalSquareRoot] = REFUSE("ReciprocalSquareRoot", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Log] = REFUSE("Log", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Gelu] = REFUSE("Gelu", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Tanh] = REFUSE("Tanh", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Exp] = REFUSE("Exp", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Sin] = REFUSE("Sin", Node1x1, input_id, output_id, NOT_XNND),
    [XNND_ET_XNNPACK_NodeUnion_Copy] = REFUSE("Copy", Node1x1, input_id, output_id, NOT_HERE("copy")),
    [XNND_ET_XNNPACK_NodeUnion_Cos] = REFUSE("Cos", Node1x1, input_id, output_id, NOT_XNND),
};
_Static_assert(sizeof(kinds) / sizeof(kinds[0]) == XNND_ET_XNNPACK_NodeUnion_COUNT,
               "one entry per ExecuTorch XNNPACK node kind (schema/et_xnnpack.fbs NodeUnion)");

const et_xnode_kind* et_xnode_kind_get(uint8_t type) {
  if (type == 0 || type >= sizeof(kinds) / sizeof(kinds[0]) || kinds[type].name == NULL) return NULL;
  return &kinds[type];
}
