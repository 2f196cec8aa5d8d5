/* Quantized lowerings. xnnd.quantize / xnnd.dequantize with static per-tensor parameters ->
 * Convert (f32 <-> QINT8), so a partition can take and return f32 around int8 work. The nodes
 * the qdq passes make (every activation i8 with q(...), XNNPACK's QINT8):
 *   aten.convolution  QINT8 (per tensor) or QCINT8 (per channel) filter, QINT32/QCINT32 bias
 *   aten.linear       QINT8 filter and QINT32 bias only: this XNNPACK has no per-channel fully
 *                     connected node (the passes make per-channel linears 1x1 convolutions)
 *   aten.add/sub/mul  requantizing elementwise ops
 *   aten.max_pool2d, relu/hardtanh/clamp, aten.view   in and out quantized alike
 *   aten.mean / adaptive_avg_pool2d [1,1]              GlobalAvgPool2d (requantizes)
 * A node is "quantized" when any of its values carries quantization; for those the table in
 * xnnpack_lower.c takes its row's q8 check and lowering (defined here, or the f32 lowering
 * where the node is written the same way) instead of the f32 ones. The structural checks (shapes, attrs, NHWC
 * rules) are the f32 lowering's own, run on a copy of the value table in which the node's
 * operands are relabeled f32; this file adds what quantization needs (XNNPACK's scale
 * ranges, symmetric filters, bias scale = input scale * filter scale). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "xnn_lower_internal.h"

XNN_DECLARE_LOWERING(permute)  /* lower_permute.c: permutes that move no element */

bool xnn_node_is_quantized(const xnnd_graph* g, const xnnd_ir_node* node) {
  if (node->op == XNND_OP_QUANTIZE || node->op == XNND_OP_DEQUANTIZE) return false;
  for (uint32_t i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] < g->num_values && g->values[node->inputs[i]].quant.scheme != XNND_QUANT_NONE) return true;
  for (uint32_t k = 0; k < node->num_outputs; k++)
    if (node->outputs[k] < g->num_values && g->values[node->outputs[k]].quant.scheme != XNND_QUANT_NONE) return true;
  return false;
}

/* ---- helpers ---- */

/* An i8 activation with per-tensor parameters (XNNPACK QINT8). */
static bool q_act(const xnnd_graph* g, xnnd_id id, const char* what, char* reason, size_t rs) {
  if (id >= g->num_values) return xnn_reason(reason, rs, "%s is missing", what);
  const xnnd_ir_value* v = &g->values[id];
  if (v->dtype != XNND_I8 || v->quant.scheme != XNND_QUANT_PER_TENSOR)
    return xnn_reason(reason, rs, "%s %%%s is %s%s; quantized XNNPACK nodes take per-tensor i8", what, v->name,
                      xnnd_dtype_name(v->dtype), v->quant.scheme == XNND_QUANT_PER_CHANNEL ? " per channel" : "");
  if (v->data != NULL) return xnn_reason(reason, rs, "%s %%%s is a constant", what, v->name);
  return true;
}

static bool same_params(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  return a->quant.scale == b->quant.scale && a->quant.zero_point == b->quant.zero_point;
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-5 * fabs(b); }

/* The f32 check on a copy of the value table where the node's operands read as plain f32. */
static bool check_as_float(const xnnd_graph* g, const xnnd_ir_node* node, xnnd_xnn_check_fn check, char* reason,
                           size_t rs) {
  xnnd_ir_value* vals = malloc(sizeof(xnnd_ir_value) * (g->num_values ? g->num_values : 1));
  if (vals == NULL) return xnn_reason(reason, rs, "out of memory checking a quantized node");
  memcpy(vals, g->values, sizeof(xnnd_ir_value) * g->num_values);
  for (uint32_t i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] < g->num_values) {
      vals[node->inputs[i]].dtype = XNND_F32;
      vals[node->inputs[i]].quant.scheme = XNND_QUANT_NONE;
    }
  for (uint32_t k = 0; k < node->num_outputs; k++)
    if (node->outputs[k] < g->num_values) {
      vals[node->outputs[k]].dtype = XNND_F32;
      vals[node->outputs[k]].quant.scheme = XNND_QUANT_NONE;
    }
  xnnd_graph tmp = *g;
  tmp.values = vals;
  bool ok = check(&tmp, node, reason, rs);
  free(vals);
  return ok;
}

/* A fused output range must stay a non-empty range once quantized with the output's params. */
static bool range_ok(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (!isfinite(node->output_min) && !isfinite(node->output_max)) return true;
  const xnnd_quant* q = &g->values[node->outputs[0]].quant;
  double lo = isfinite(node->output_min) ? nearbyint(node->output_min / q->scale) + q->zero_point : -128.0;
  double hi = isfinite(node->output_max) ? nearbyint(node->output_max / q->scale) + q->zero_point : 127.0;
  lo = lo < -128.0 ? -128.0 : lo > 127.0 ? 127.0 : lo;
  hi = hi < -128.0 ? -128.0 : hi > 127.0 ? 127.0 : hi;
  if (!(lo < hi))
    return xnn_reason(reason, rs, "fused range [%g, %g] is empty once quantized with scale %g, zero point %d",
                      (double)node->output_min, (double)node->output_max, (double)q->scale, q->zero_point);
  return true;
}

/* XNNPACK requantizes with in_scale * w_scale / out_scale and rejects values outside
 * [2^-32, 256). */
static bool requant_ok(double s, const char* what, char* reason, size_t rs) {
  if (!(s >= 0x1p-32 && s < 256.0))
    return xnn_reason(reason, rs, "%s requantization scale %g is outside XNNPACK's [2^-32, 256)", what, s);
  return true;
}

/* Filter and bias of a convolution or linear: symmetric i8 constants, the bias i32 with scale
 * input_scale * filter_scale (per channel when the filter is). */
static bool check_weights(const xnnd_graph* g, const xnnd_ir_node* node, bool allow_per_channel, char* reason,
                          size_t rs) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (w->dtype != XNND_I8 || w->data == NULL || w->quant.scheme == XNND_QUANT_NONE)
    return xnn_reason(reason, rs, "weight %%%s must be a quantized i8 constant", w->name);
  int64_t cout = w->dims[0];
  bool per_channel = w->quant.scheme == XNND_QUANT_PER_CHANNEL;
  if (per_channel && !allow_per_channel)
    return xnn_reason(reason, rs, "per-channel weight %%%s: this XNNPACK has no per-channel fully connected node",
                      w->name);
  if (per_channel && (w->quant.axis != 0 || w->quant.num_channels != (uint32_t)cout))
    return xnn_reason(reason, rs, "weight %%%s must be quantized along dim 0", w->name);
  for (int64_t c = 0; c < (per_channel ? cout : 1); c++) {
    float ws = per_channel ? w->quant.scales[c] : w->quant.scale;
    int32_t wz = per_channel ? w->quant.zero_points[c] : w->quant.zero_point;
    if (wz != 0) return xnn_reason(reason, rs, "weight %%%s has zero point %d; XNNPACK filters are symmetric", w->name, wz);
    if (!requant_ok((double)in->quant.scale * ws / out->quant.scale, "output", reason, rs)) return false;
  }
  xnnd_id b_id = node->num_inputs > 2 ? node->inputs[2] : XNND_NO_ID;
  if (b_id == XNND_NO_ID) return true;
  const xnnd_ir_value* b = &g->values[b_id];
  if (b->dtype != XNND_I32 || b->data == NULL || b->rank != 1 || b->dims[0] != cout ||
      b->quant.scheme != w->quant.scheme)
    return xnn_reason(reason, rs, "bias %%%s must be an i32 [%lld] constant quantized like the weight", b->name,
                      (long long)cout);
  for (int64_t c = 0; c < (per_channel ? cout : 1); c++) {
    double want = (double)(float)(in->quant.scale * (per_channel ? w->quant.scales[c] : w->quant.scale));
    double got = per_channel ? b->quant.scales[c] : b->quant.scale;
    int32_t bz = per_channel ? b->quant.zero_points[c] : b->quant.zero_point;
    if (bz != 0 || !near(got, want))
      return xnn_reason(reason, rs, "bias %%%s channel %lld has scale %g, zero point %d; expected %g, 0", b->name,
                        (long long)c, got, bz, want);
  }
  return true;
}

static bool check_convert(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, rs, "malformed quantize/dequantize");
  bool quantize = node->op == XNND_OP_QUANTIZE;
  const xnnd_attr* scale = xnn_attr(node, "scale");
  if (scale == NULL || scale->kind != XNND_ATTR_FLOAT || xnn_attr_int(node, "axis", -1) != -1)
    return xnn_reason(reason, rs, "only static per-tensor parameters become a Convert (per-channel and dynamic "
                                  "ones stay portable)");
  xnnd_id fside = quantize ? node->inputs[0] : node->outputs[0];
  xnnd_id qside = quantize ? node->outputs[0] : node->inputs[0];
  if (!xnn_check_value(g, fside, quantize ? "input" : "output", reason, rs)) return false;
  if (!q_act(g, qside, quantize ? "output" : "input", reason, rs)) return false;
  const xnnd_ir_value* q = &g->values[qside];
  for (uint32_t d = 0; d < q->rank; d++)
    if (q->dims[d] < 1 || q->dims[d] > (int64_t)UINT32_MAX)
      return xnn_reason(reason, rs, "%%%s dim %u is %lld", q->name, d, (long long)q->dims[d]);
  return true;
}

/* ---- the table row of xnnd.quantize / xnnd.dequantize ---- */

bool xnn_check_quant_convert(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  return check_convert(g, node, reason, rs);
}

xnnd_status xnn_lower_quant_convert(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Convert_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Convert_output_id, output, UINT32_MAX);
  return xnn_b_node(b, XNND_XNNPACK_Node_Convert, fb_table_end(fb));
}

/* ---- quantized compute nodes: the q8 columns of the table in xnnpack_lower.c ---- */

bool xnn_check_q8_operands(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, rs, "malformed node");
  return q_act(g, node->inputs[0], "input", reason, rs) && q_act(g, node->outputs[0], "output", reason, rs);
}

#define VI (&g->values[node->inputs[0]])
#define VO (&g->values[node->outputs[0]])

bool xnn_check_q8_convolution(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  return check_as_float(g, node, xnn_check_convolution, reason, rs) && check_weights(g, node, true, reason, rs) &&
         range_ok(g, node, reason, rs);
}

bool xnn_check_q8_linear(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  return check_as_float(g, node, xnn_check_linear, reason, rs) && check_weights(g, node, false, reason, rs) &&
         range_ok(g, node, reason, rs);
}

bool xnn_check_q8_binary(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (node->num_inputs < 2 || !q_act(g, node->inputs[1], "other", reason, rs)) return false;
  const xnnd_ir_value *vi = VI, *vo = VO, *vb = &g->values[node->inputs[1]];
  if (vb->rank != vi->rank) return xnn_reason(reason, rs, "quantized operands of ranks %u and %u", vi->rank, vb->rank);
  if (node->op == XNND_OP_MUL) {
    double r = (double)vi->quant.scale * vb->quant.scale / vo->quant.scale;
    if (!(r >= 0x1p-16 && r < 256.0))
      return xnn_reason(reason, rs, "product-to-output scale ratio %g is outside XNNPACK's [2^-16, 256)", r);
  } else {
    double ra = (double)vi->quant.scale / vo->quant.scale, rb = (double)vb->quant.scale / vo->quant.scale;
    if (!(ra >= 0x1p-14 && ra < 256.0 && rb >= 0x1p-14 && rb < 256.0))
      return xnn_reason(reason, rs, "input-to-output scale ratios %g, %g are outside XNNPACK's [2^-14, 256)", ra, rb);
  }
  return check_as_float(g, node, xnn_check_binary, reason, rs) && range_ok(g, node, reason, rs);
}

bool xnn_check_q8_max_pool2d(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (!same_params(VI, VO)) return xnn_reason(reason, rs, "max pooling changes quantization parameters");
  return check_as_float(g, node, xnn_check_max_pool2d, reason, rs) && range_ok(g, node, reason, rs);
}

bool xnn_check_q8_global_pool(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  double r = (double)VI->quant.scale / VO->quant.scale;
  if (!(r >= 0x1p-8 && r < 256.0))
    return xnn_reason(reason, rs, "input-to-output scale ratio %g is outside XNNPACK's [2^-8, 256)", r);
  return check_as_float(g, node, xnn_check_global_pool, reason, rs) && range_ok(g, node, reason, rs);
}

bool xnn_check_q8_clamp(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (!same_params(VI, VO)) return xnn_reason(reason, rs, "a quantized clamp must keep its quantization parameters");
  return check_as_float(g, node, xnn_check_clamp, reason, rs);
}

bool xnn_check_q8_view(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (!same_params(VI, VO)) return xnn_reason(reason, rs, "a quantized view must keep its quantization parameters");
  return check_as_float(g, node, xnn_check_view, reason, rs);
}

bool xnn_check_q8_permute(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t rs) {
  if (!same_params(VI, VO)) return xnn_reason(reason, rs, "a quantized permute must keep its quantization parameters");
  return check_as_float(g, node, xnn_check_permute, reason, rs);
}

#undef VI
#undef VO

/* OIHW -> OHWI ([Cout,1,kh,kw] -> [1,kh,kw,Cout] for depthwise) on int8, as the f32 lowering. */
xnnd_status xnn_lower_q8_convolution(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  int64_t stride[2], padding[2], dilation[2];
  xnn_attr_pair(node, "stride", 1, stride);
  xnn_attr_pair(node, "padding", 0, padding);
  xnn_attr_pair(node, "dilation", 1, dilation);
  int64_t groups = xnn_attr_int(node, "groups", 1), cin = in->dims[1];
  size_t cout = (size_t)w->dims[0], cpg = (size_t)w->dims[1], kh = (size_t)w->dims[2], kw = (size_t)w->dims[3];
  bool depthwise = groups > 1 && groups == cin && (int64_t)cout % cin == 0;
  const int8_t* src = w->data;
  int8_t* filter = malloc(cout * cpg * kh * kw + 1);
  if (filter == NULL) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory transforming the filter");
  uint32_t fdims[4];
  xnn_conv_filter_layout(src, filter, 1, depthwise, cout, cpg, kh, kw, fdims);
  bool per_channel = w->quant.scheme == XNND_QUANT_PER_CHANNEL;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t fid = per_channel ? xnn_b_constant_quant(b, XNND_XNNPACK_DataType_QCINT8, 4, fdims, filter, 1.0f, 0,
                                                    w->quant.scales, depthwise ? 3 : 0)
                             : xnn_b_constant_quant(b, XNND_XNNPACK_DataType_QINT8, 4, fdims, filter, w->quant.scale, 0,
                                                    NULL, 0);
  free(filter);
  uint32_t bias = node->num_inputs > 2 && node->inputs[2] != XNND_NO_ID ? xnn_b_operand(b, node->inputs[2]) : XNN_NO_VALUE;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  if (depthwise) {
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_DepthwiseConv2d_##field, (uint32_t)(v), 0)
    ADD(padding_top, padding[0]);
    ADD(padding_right, padding[1]);
    ADD(padding_bottom, padding[0]);
    ADD(padding_left, padding[1]);
    ADD(kernel_height, kh);
    ADD(kernel_width, kw);
    ADD(stride_height, stride[0]);
    ADD(stride_width, stride[1]);
    ADD(dilation_height, dilation[0]);
    ADD(dilation_width, dilation[1]);
    ADD(depth_multiplier, (int64_t)cout / cin);
    ADD(input_channels, cin);
    ADD(input_id, input);
    ADD(filter_id, fid);
    fb_add_u32(fb, XNND_XNNPACK_DepthwiseConv2d_bias_id, bias, UINT32_MAX);
    ADD(output_id, output);
#undef ADD
    XNN_ADD_RANGE(fb, DepthwiseConv2d, node);
    return xnn_b_node(b, XNND_XNNPACK_Node_DepthwiseConv2d, fb_table_end(fb));
  }
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_Conv2d_##field, (uint32_t)(v), 0)
  ADD(padding_top, padding[0]);
  ADD(padding_right, padding[1]);
  ADD(padding_bottom, padding[0]);
  ADD(padding_left, padding[1]);
  ADD(kernel_height, kh);
  ADD(kernel_width, kw);
  ADD(stride_height, stride[0]);
  ADD(stride_width, stride[1]);
  ADD(dilation_height, dilation[0]);
  ADD(dilation_width, dilation[1]);
  ADD(groups, groups);
  ADD(group_input_channels, cpg);
  ADD(group_output_channels, (int64_t)cout / groups);
  ADD(input_id, input);
  ADD(filter_id, fid);
  fb_add_u32(fb, XNND_XNNPACK_Conv2d_bias_id, bias, UINT32_MAX);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, Conv2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_Conv2d, fb_table_end(fb));
}

/* GlobalAvgPool2d, then a StaticReshape to [N, C] for a mean without keepdim; the pooled
 * intermediate is quantized like the output (a reshape does not requantize). */
xnnd_status xnn_lower_q8_global_pool(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  bool keep = node->op == XNND_OP_ADAPTIVE_AVG_POOL2D || xnn_attr_int(node, "keepdim", 0);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t pooled;
  if (keep) {
    pooled = xnn_b_output(b, node->outputs[0]);
  } else {
    uint32_t dims[4] = {(uint32_t)in->dims[0], 1, 1, (uint32_t)in->dims[1]};
    pooled = xnn_b_internal_like(b, 4, dims, out);
    if (pooled != XNN_NO_VALUE && xnn_value_is_symbolic(in))
      xnn_b_set_dimx(b, pooled, (xnnd_dimx[4]){xnn_ir_dimx(in, 0), xnnd_dimx_const(1), xnnd_dimx_const(1), xnn_ir_dimx(in, 1)});
  }
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_GlobalAvgPool2d_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_GlobalAvgPool2d_output_id, pooled, UINT32_MAX);
  XNN_ADD_RANGE(fb, GlobalAvgPool2d, node);
  xnnd_status st = xnn_b_node(b, XNND_XNNPACK_Node_GlobalAvgPool2d, fb_table_end(fb));
  if (st != XNND_OK || keep) return st;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t odims[2] = {(uint32_t)in->dims[0], (uint32_t)in->dims[1]};
  return xnn_emit_reshape(b, pooled, output, 2, odims);
}
