/* aten.convolution -> Conv2d (regular and grouped; filter OIHW -> OHWI) or DepthwiseConv2d
 * (groups == Cin > 1 and Cout a multiple of Cin; filter [Cout,1,kh,kw] -> [1,kh,kw,Cout]).
 * Weights must be constant: the transform happens here. Transposed convolution goes to
 * lower_deconvolution.c (Deconv2d). */
#include <stdlib.h>

#include "xnn_lower_internal.h"

XNN_DECLARE_LOWERING(deconvolution)

typedef struct conv_params {
  int64_t stride[2], padding[2], dilation[2], groups;
  int64_t cin, cout, kh, kw;
  bool depthwise;
} conv_params;

static bool read_params(const xnnd_graph* g, const xnnd_ir_node* node, conv_params* p, char* reason,
                        size_t reason_size) {
  if (!xnn_attr_pair(node, "stride", 1, p->stride) || !xnn_attr_pair(node, "padding", 0, p->padding) ||
      !xnn_attr_pair(node, "dilation", 1, p->dilation))
    return xnn_reason(reason, reason_size, "stride/padding/dilation must be pairs");
  p->groups = xnn_attr_int(node, "groups", 1);
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  p->cin = in->dims[1];
  p->cout = w->dims[0];
  p->kh = w->dims[2];
  p->kw = w->dims[3];
  p->depthwise = p->groups > 1 && p->groups == p->cin && p->cout % p->cin == 0;
  return true;
}

bool xnn_check_convolution(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 2 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed convolution");
  xnnd_id in_id = node->inputs[0], w_id = node->inputs[1];
  xnnd_id b_id = node->num_inputs > 2 ? node->inputs[2] : XNND_NO_ID;
  if (!xnn_check_value(g, in_id, "input", reason, reason_size) ||
      !xnn_check_value(g, w_id, "weight", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  if (b_id != XNND_NO_ID && !xnn_check_value(g, b_id, "bias", reason, reason_size)) return false;
  if (xnn_attr_int(node, "transposed", 0)) return xnn_check_deconvolution(g, node, reason, reason_size);
  const xnnd_ir_value* in = &g->values[in_id];
  const xnnd_ir_value* w = &g->values[w_id];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4 || w->rank != 4 || out->rank != 4)
    return xnn_reason(reason, reason_size, "only 2-D convolution (4-D input, weight, output) is lowered");
  if (w->data == NULL) return xnn_reason(reason, reason_size, "weight %%%s is not a constant", w->name);
  if (b_id != XNND_NO_ID) {
    const xnnd_ir_value* bias = &g->values[b_id];
    if (bias->data == NULL) return xnn_reason(reason, reason_size, "bias %%%s is not a constant", bias->name);
    if (bias->rank != 1 || bias->dims[0] != w->dims[0])
      return xnn_reason(reason, reason_size, "bias %%%s must be [%lld]", bias->name, (long long)w->dims[0]);
  }
  conv_params p;
  if (!read_params(g, node, &p, reason, reason_size)) return false;
  if (p.groups < 1 || p.cin % p.groups != 0 || p.cout % p.groups != 0 || w->dims[1] != p.cin / p.groups)
    return xnn_reason(reason, reason_size, "groups %lld do not divide Cin %lld / Cout %lld with weight Cin/g %lld",
                      (long long)p.groups, (long long)p.cin, (long long)p.cout, (long long)w->dims[1]);
  for (int a = 0; a < 2; a++) {
    if (p.stride[a] < 1 || p.dilation[a] < 1 || p.padding[a] < 0 || p.stride[a] > UINT32_MAX ||
        p.dilation[a] > UINT32_MAX || p.padding[a] > UINT32_MAX)
      return xnn_reason(reason, reason_size, "stride, dilation or padding out of range");
    int64_t k = a == 0 ? p.kh : p.kw;
    int64_t span = in->dims[2 + a] + 2 * p.padding[a] - p.dilation[a] * (k - 1) - 1;
    if (span < 0 || span / p.stride[a] + 1 != out->dims[2 + a])
      return xnn_reason(reason, reason_size, "output %s %lld does not match the convolution arithmetic",
                        a == 0 ? "height" : "width", (long long)out->dims[2 + a]);
  }
  if (out->dims[0] != in->dims[0] || out->dims[1] != p.cout)
    return xnn_reason(reason, reason_size, "output %%%s batch/channels disagree with input and weight", out->name);
  return true;
}

xnnd_status xnn_lower_convolution(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  if (xnn_attr_int(node, "transposed", 0)) return xnn_lower_deconvolution(b, g, node);
  conv_params p;
  char reason[128];
  if (!read_params(g, node, &p, reason, sizeof(reason))) return xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  const float* src = w->data;
  size_t cout = (size_t)p.cout, cpg = (size_t)w->dims[1], kh = (size_t)p.kh, kw = (size_t)p.kw;
  float* filter = malloc(sizeof(float) * cout * cpg * kh * kw);
  if (filter == NULL) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory transforming the filter");
  uint32_t fdims[4];
  xnn_conv_filter_layout(src, filter, sizeof(float), p.depthwise, cout, cpg, kh, kw, fdims);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t fid = xnn_b_constant_f32(b, 4, fdims, filter);
  free(filter);
  uint32_t bias = node->num_inputs > 2 && node->inputs[2] != XNND_NO_ID ? xnn_b_operand(b, node->inputs[2]) : XNN_NO_VALUE;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);

  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  if (p.depthwise) {
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_DepthwiseConv2d_##field, (uint32_t)(v), 0)
    ADD(padding_top, p.padding[0]);
    ADD(padding_right, p.padding[1]);
    ADD(padding_bottom, p.padding[0]);
    ADD(padding_left, p.padding[1]);
    ADD(kernel_height, kh);
    ADD(kernel_width, kw);
    ADD(stride_height, p.stride[0]);
    ADD(stride_width, p.stride[1]);
    ADD(dilation_height, p.dilation[0]);
    ADD(dilation_width, p.dilation[1]);
    ADD(depth_multiplier, p.cout / p.cin);
    ADD(input_channels, p.cin);
    ADD(input_id, input);
    ADD(filter_id, fid);
    fb_add_u32(fb, XNND_XNNPACK_DepthwiseConv2d_bias_id, bias, UINT32_MAX);
    ADD(output_id, output);
#undef ADD
    XNN_ADD_RANGE(fb, DepthwiseConv2d, node);
    return xnn_b_node(b, XNND_XNNPACK_Node_DepthwiseConv2d, fb_table_end(fb));
  }
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_Conv2d_##field, (uint32_t)(v), 0)
  ADD(padding_top, p.padding[0]);
  ADD(padding_right, p.padding[1]);
  ADD(padding_bottom, p.padding[0]);
  ADD(padding_left, p.padding[1]);
  ADD(kernel_height, kh);
  ADD(kernel_width, kw);
  ADD(stride_height, p.stride[0]);
  ADD(stride_width, p.stride[1]);
  ADD(dilation_height, p.dilation[0]);
  ADD(dilation_width, p.dilation[1]);
  ADD(groups, p.groups);
  ADD(group_input_channels, cpg);
  ADD(group_output_channels, p.cout / p.groups);
  ADD(input_id, input);
  ADD(filter_id, fid);
  fb_add_u32(fb, XNND_XNNPACK_Conv2d_bias_id, bias, UINT32_MAX);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, Conv2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_Conv2d, fb_table_end(fb));
}
