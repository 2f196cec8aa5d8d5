/* aten.convolution with transposed=true -> Deconv2d. PyTorch's transposed weight
 * [Cin, Cout/g, kh, kw] becomes XNNPACK's [g * Cout/g, kh, kw, Cin/g] (no kernel flip: both
 * scatter input pixel y to output rows y*stride - pad + ky*dilation). padding is cropped from both
 * sides and output_padding becomes XNNPACK's adjustment, which must stay below the stride. */
#include <stdlib.h>

#include "xnn_lower_internal.h"

typedef struct deconv_params {
  int64_t stride[2], padding[2], dilation[2], adjust[2], groups;
  int64_t cin, gic, goc, kh, kw;
} deconv_params;

static bool read_deconv(const xnnd_graph* g, const xnnd_ir_node* node, deconv_params* p, char* reason,
                        size_t reason_size) {
  if (!xnn_attr_pair(node, "stride", 1, p->stride) || !xnn_attr_pair(node, "padding", 0, p->padding) ||
      !xnn_attr_pair(node, "dilation", 1, p->dilation) || !xnn_attr_pair(node, "output_padding", 0, p->adjust))
    return xnn_reason(reason, reason_size,
                      "transposed convolution: stride/padding/dilation/output_padding must be pairs");
  const xnnd_ir_value* in = &g->values[node->inputs[0]];
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (in->rank != 4 || w->rank != 4 || out->rank != 4)
    return xnn_reason(reason, reason_size, "transposed convolution: only 2-D (4-D input, weight, output) is lowered");
  p->groups = xnn_attr_int(node, "groups", 1);
  p->cin = in->dims[1];
  if (p->groups < 1 || w->dims[0] != p->cin || p->cin % p->groups != 0)
    return xnn_reason(reason, reason_size,
                      "transposed convolution: weight %%%s [Cin, Cout/g, kh, kw] disagrees with %lld input channels, "
                      "groups %lld",
                      w->name, (long long)p->cin, (long long)p->groups);
  p->gic = p->cin / p->groups;
  p->goc = w->dims[1];
  p->kh = w->dims[2];
  p->kw = w->dims[3];
  for (int a = 0; a < 2; a++) {
    if (p->stride[a] < 1 || p->dilation[a] < 1 || p->padding[a] < 0 || p->adjust[a] < 0 || p->stride[a] > UINT32_MAX ||
        p->dilation[a] > UINT32_MAX || p->padding[a] > UINT32_MAX)
      return xnn_reason(reason, reason_size,
                        "transposed convolution: stride, dilation, padding or output_padding out of range");
    if (p->adjust[a] >= p->stride[a])
      return xnn_reason(reason, reason_size,
                        "transposed convolution: output_padding %lld >= stride %lld: XNNPACK needs adjustment < stride",
                        (long long)p->adjust[a], (long long)p->stride[a]);
    int64_t k = a == 0 ? p->kh : p->kw;
    int64_t o = p->stride[a] * (in->dims[2 + a] - 1) + p->adjust[a] + p->dilation[a] * (k - 1) + 1 - 2 * p->padding[a];
    if (o != out->dims[2 + a])
      return xnn_reason(reason, reason_size, "transposed convolution: output %s %lld does not match the arithmetic",
                        a == 0 ? "height" : "width", (long long)out->dims[2 + a]);
  }
  if (out->dims[0] != in->dims[0] || out->dims[1] != p->groups * p->goc)
    return xnn_reason(reason, reason_size,
                      "transposed convolution: output %%%s batch/channels disagree with input and weight", out->name);
  return true;
}

bool xnn_check_deconvolution(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  const xnnd_ir_value* w = &g->values[node->inputs[1]];
  if (w->data == NULL)
    return xnn_reason(reason, reason_size, "transposed convolution: weight %%%s is not a constant", w->name);
  deconv_params p;
  if (!read_deconv(g, node, &p, reason, reason_size)) return false;
  xnnd_id b_id = node->num_inputs > 2 ? node->inputs[2] : XNND_NO_ID;
  if (b_id != XNND_NO_ID) {
    const xnnd_ir_value* bias = &g->values[b_id];
    if (bias->data == NULL)
      return xnn_reason(reason, reason_size, "transposed convolution: bias %%%s is not a constant", bias->name);
    if (bias->rank != 1 || bias->dims[0] != p.groups * p.goc)
      return xnn_reason(reason, reason_size, "transposed convolution: bias %%%s must be [%lld]", bias->name,
                        (long long)(p.groups * p.goc));
  }
  return true;
}

xnnd_status xnn_lower_deconvolution(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  deconv_params p;
  char reason[160];
  if (!read_deconv(g, node, &p, reason, sizeof(reason))) return xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
  const float* src = g->values[node->inputs[1]].data;
  const size_t G = (size_t)p.groups, gic = (size_t)p.gic, goc = (size_t)p.goc, kh = (size_t)p.kh, kw = (size_t)p.kw;
  float* filter = malloc(sizeof(float) * G * goc * kh * kw * gic);
  if (filter == NULL) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory transforming the filter");
  /* [g*gic + i][o][y][x] -> [g*goc + o][y][x][i] */
  for (size_t gi = 0; gi < G; gi++)
    for (size_t i = 0; i < gic; i++)
      for (size_t o = 0; o < goc; o++)
        for (size_t y = 0; y < kh; y++)
          for (size_t x = 0; x < kw; x++)
            filter[(((gi * goc + o) * kh + y) * kw + x) * gic + i] =
                src[(((gi * gic + i) * goc + o) * kh + y) * kw + x];
  uint32_t fdims[4] = {(uint32_t)(G * goc), (uint32_t)kh, (uint32_t)kw, (uint32_t)gic};
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t fid = xnn_b_constant_f32(b, 4, fdims, filter);
  free(filter);
  uint32_t bias =
      node->num_inputs > 2 && node->inputs[2] != XNND_NO_ID ? xnn_b_operand(b, node->inputs[2]) : XNN_NO_VALUE;
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
#define ADD(field, v) fb_add_u32(fb, XNND_XNNPACK_Deconv2d_##field, (uint32_t)(v), 0)
  ADD(padding_top, p.padding[0]);
  ADD(padding_right, p.padding[1]);
  ADD(padding_bottom, p.padding[0]);
  ADD(padding_left, p.padding[1]);
  ADD(adjustment_height, p.adjust[0]);
  ADD(adjustment_width, p.adjust[1]);
  ADD(kernel_height, kh);
  ADD(kernel_width, kw);
  ADD(upsampling_height, p.stride[0]);
  ADD(upsampling_width, p.stride[1]);
  ADD(dilation_height, p.dilation[0]);
  ADD(dilation_width, p.dilation[1]);
  ADD(groups, G);
  ADD(group_input_channels, gic);
  ADD(group_output_channels, goc);
  ADD(input_id, input);
  ADD(filter_id, fid);
  fb_add_u32(fb, XNND_XNNPACK_Deconv2d_bias_id, bias, UINT32_MAX);
  ADD(output_id, output);
#undef ADD
  XNN_ADD_RANGE(fb, Deconv2d, node);
  return xnn_b_node(b, XNND_XNNPACK_Node_Deconv2d, fb_table_end(fb));
}
