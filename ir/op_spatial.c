/* Spatial ops of the core ATen coverage: 3-D pooling (N,C,D,H,W or C,D,H,W), adaptive max
 * pooling, grid_sampler_2d, col2im and the upsample ops beyond upsample_nearest2d/bilinear2d;
 * PyTorch's shape rules. Window attributes list one
 * entry per spatial dim (kernel_size, stride, padding, dilation). */
#include "ir_internal.h"

#define IR_DEF_INTS3(a, b, c) {.kind = XNND_ATTR_INTS, .n = 3, .ints = {(a), (b), (c)}}

enum { MP3_KERNEL, MP3_STRIDE, MP3_PADDING, MP3_DILATION, MP3_CEIL };
enum { AP3_KERNEL, AP3_STRIDE, AP3_PADDING, AP3_CEIL, AP3_COUNT_INCLUDE_PAD, AP3_DIVISOR };
enum { GS_INTERPOLATION, GS_PADDING_MODE, GS_ALIGN_CORNERS };
enum { C2I_OUTPUT_SIZE, C2I_KERNEL, C2I_DILATION, C2I_PADDING, C2I_STRIDE };

const xnnd_attr_spec xnnd_attrs_max_pool3d[] = {
    {"kernel_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS3(0, 0, 0)},
    {"dilation", XNND_ATTR_INTS, false, IR_DEF_INTS3(1, 1, 1)},
    {"ceil_mode", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_avg_pool3d[] = {
    {"kernel_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS3(0, 0, 0)},
    {"ceil_mode", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"count_include_pad", XNND_ATTR_BOOL, false, IR_DEF_BOOL(1)},
    {"divisor_override", XNND_ATTR_INT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
/* adaptive_avg_pool3d and adaptive_max_pool3d (the latter with an i64 indices output). */
const xnnd_attr_spec xnnd_attrs_adaptive_pool3d[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_adaptive_max_pool2d[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
/* interpolation_mode 0 bilinear, 1 nearest, 2 bicubic; padding_mode 0 zeros, 1 border,
 * 2 reflection (PyTorch's GridSamplerInterpolation / GridSamplerPadding). */
const xnnd_attr_spec xnnd_attrs_grid_sampler_2d[] = {
    {"interpolation_mode", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"padding_mode", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"align_corners", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
/* As grid_sampler_2d, without bicubic (PyTorch has none in 3-D). */
const xnnd_attr_spec xnnd_attrs_grid_sampler_3d[] = {
    {"interpolation_mode", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"padding_mode", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"align_corners", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_col2im[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"kernel_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"dilation", XNND_ATTR_INTS, false, IR_DEF_INTS2(1, 1)},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS2(0, 0)},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_INTS2(1, 1)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_max_pool3d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 4, 5, &x));
  int64_t k[3], s[3], p[3], d[3], out[5];
  IR_TRY(ir_attr_ints(g, node, MP3_KERNEL, 3, 1, k));
  IR_TRY(ir_attr_ints(g, node, MP3_STRIDE, 3, 1, s));
  IR_TRY(ir_attr_ints(g, node, MP3_PADDING, 3, 0, p));
  IR_TRY(ir_attr_ints(g, node, MP3_DILATION, 3, 1, d));
  IR_TRY(ir_pool_shape(g, node, x, 3, k, s, p, d, n->attrs[MP3_CEIL].i != 0, out));
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, out));
  return ir_set_output(g, node, 1, XNND_I64, x->rank, out);
}

xnnd_status xnnd_infer_avg_pool3d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 4, 5, &x));
  int64_t k[3], s[3], p[3], d[3] = {1, 1, 1}, out[5];
  IR_TRY(ir_attr_ints(g, node, AP3_KERNEL, 3, 1, k));
  IR_TRY(ir_attr_ints(g, node, AP3_STRIDE, 3, 1, s));
  IR_TRY(ir_attr_ints(g, node, AP3_PADDING, 3, 0, p));
  const xnnd_attr* div = &n->attrs[AP3_DIVISOR];
  if (div->kind == XNND_ATTR_INT && div->i == 0)
    return ir_attr_error(g, node, "attribute divisor_override must not be 0");
  IR_TRY(ir_pool_shape(g, node, x, 3, k, s, p, d, n->attrs[AP3_CEIL].i != 0, out));
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

/* Adaptive pooling over the last nsp dims of a rank nsp+1 or nsp+2 input; max adds indices. */
static xnnd_status adaptive_shape(xnnd_graph* g, xnnd_id node, uint32_t nsp) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, nsp + 1, nsp + 2, &x));
  int64_t size[3], out[5];
  IR_TRY(ir_attr_ints(g, node, 0, nsp, 0, size));
  for (uint32_t i = 0; i < x->rank; i++) {
    out[i] = i + nsp < x->rank ? x->dims[i] : size[i + nsp - x->rank];
    if (i + nsp >= x->rank && x->dims[i] < 1)
      return ir_node_error(g, node, "input 0 %%%s has an empty spatial dim %u", x->name, i);
  }
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, out));
  if (n->num_outputs > 1) return ir_set_output(g, node, 1, XNND_I64, x->rank, out);
  return XNND_OK;
}

xnnd_status xnnd_infer_adaptive_pool3d(xnnd_graph* g, xnnd_id node) {
  return adaptive_shape(g, node, 3);
}

xnnd_status xnnd_infer_adaptive_max_pool2d(xnnd_graph* g, xnnd_id node) {
  return adaptive_shape(g, node, 2);
}

xnnd_status xnnd_infer_grid_sampler_2d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value *x, *grid;
  IR_TRY(ir_input_rank(g, node, 0, 4, &x));
  IR_TRY(ir_input_rank(g, node, 1, 4, &grid));
  IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
  int64_t mode = n->attrs[GS_INTERPOLATION].i, pad = n->attrs[GS_PADDING_MODE].i;
  if (mode < 0 || mode > 2)
    return ir_attr_error(g, node, "attribute interpolation_mode = %lld must be 0 (bilinear), "
                         "1 (nearest) or 2 (bicubic)", (long long)mode);
  if (pad < 0 || pad > 2)
    return ir_attr_error(g, node, "attribute padding_mode = %lld must be 0 (zeros), 1 (border) "
                         "or 2 (reflection)", (long long)pad);
  if (grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
    return ir_node_error(g, node, "input 1 %%%s must be [%lld, H_out, W_out, 2]", grid->name,
                         (long long)x->dims[0]);
  int64_t out[4] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2]};
  return ir_set_output(g, node, 0, x->dtype, 4, out);
}

xnnd_status xnnd_infer_grid_sampler_3d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value *x, *grid;
  IR_TRY(ir_input_rank(g, node, 0, 5, &x));
  IR_TRY(ir_input_rank(g, node, 1, 5, &grid));
  IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
  int64_t mode = n->attrs[GS_INTERPOLATION].i, pad = n->attrs[GS_PADDING_MODE].i;
  if (mode < 0 || mode > 1)
    return ir_attr_error(g, node, "attribute interpolation_mode = %lld must be 0 (trilinear) or "
                         "1 (nearest)", (long long)mode);
  if (pad < 0 || pad > 2)
    return ir_attr_error(g, node, "attribute padding_mode = %lld must be 0 (zeros), 1 (border) "
                         "or 2 (reflection)", (long long)pad);
  if (grid->dims[0] != x->dims[0] || grid->dims[4] != 3)
    return ir_node_error(g, node, "input 1 %%%s must be [%lld, D_out, H_out, W_out, 3]",
                         grid->name, (long long)x->dims[0]);
  int64_t out[5] = {x->dims[0], x->dims[1], grid->dims[1], grid->dims[2], grid->dims[3]};
  return ir_set_output(g, node, 0, x->dtype, 5, out);
}

xnnd_status xnnd_infer_col2im(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, 3, &x));
  int64_t os[2], k[2], d[2], p[2], s[2];
  IR_TRY(ir_attr_ints(g, node, C2I_OUTPUT_SIZE, 2, 1, os));
  IR_TRY(ir_attr_ints(g, node, C2I_KERNEL, 2, 1, k));
  IR_TRY(ir_attr_ints(g, node, C2I_DILATION, 2, 1, d));
  IR_TRY(ir_attr_ints(g, node, C2I_PADDING, 2, 0, p));
  IR_TRY(ir_attr_ints(g, node, C2I_STRIDE, 2, 1, s));
  int64_t blocks = 1;
  for (int i = 0; i < 2; i++) {
    int64_t b = (os[i] + 2 * p[i] - (d[i] * (k[i] - 1) + 1)) / s[i] + 1;
    if (os[i] + 2 * p[i] < d[i] * (k[i] - 1) + 1 || b < 1)
      return ir_node_error(g, node, "output_size[%d] = %lld is too small for the dilated kernel",
                           i, (long long)os[i]);
    blocks *= b;
  }
  const uint32_t r = x->rank;
  const int64_t kk = k[0] * k[1];
  if (x->dims[r - 2] % kk != 0)
    return ir_node_error(g, node, "input 0 %%%s: dim %u = %lld is not divisible by the kernel "
                         "size %lld", x->name, r - 2, (long long)x->dims[r - 2], (long long)kk);
  if (x->dims[r - 1] != blocks)
    return ir_node_error(g, node, "input 0 %%%s: dim %u = %lld, expected %lld sliding blocks",
                         x->name, r - 1, (long long)x->dims[r - 1], (long long)blocks);
  int64_t out[4];
  uint32_t o = 0;
  if (r == 3) out[o++] = x->dims[0];
  out[o++] = x->dims[r - 2] / kk;
  out[o++] = os[0];
  out[o++] = os[1];
  return ir_set_output(g, node, 0, x->dtype, o, out);
}

/* upsample_nearest1d/3d, _upsample_nearest_exact1d/2d/3d, upsample_linear1d,
 * upsample_trilinear3d, upsample_bicubic2d: one schema; the op gives the number of spatial dims.
 * scales_* are PyTorch's optional scale factors of the spatial dims, last dims last (a 1-D op
 * uses scales_w only, a 2-D one scales_h and scales_w); align_corners is ignored by nearest. */
const xnnd_attr_spec xnnd_attrs_upsample_nd[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"align_corners", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"scales_d", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    {"scales_h", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    {"scales_w", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_upsample_nd(xnnd_graph* g, xnnd_id node) {
  uint32_t nsp;
  switch (g->nodes[node].op) {
    case XNND_OP_UPSAMPLE_NEAREST1D:
    case XNND_OP_UPSAMPLE_NEAREST_EXACT1D:
    case XNND_OP_UPSAMPLE_LINEAR1D: nsp = 1; break;
    case XNND_OP_UPSAMPLE_NEAREST_EXACT2D:
    case XNND_OP_UPSAMPLE_BICUBIC2D: nsp = 2; break;
    default: nsp = 3; break;
  }
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank(g, node, 0, nsp + 2, &x));
  int64_t size[3], out[5] = {x->dims[0], x->dims[1]};
  IR_TRY(ir_attr_ints(g, node, 0, nsp, 1, size));
  for (uint32_t i = 0; i < nsp; i++) {
    if (x->dims[2 + i] < 1)
      return ir_node_error(g, node, "input 0 %%%s has an empty spatial dim %u", x->name, 2 + i);
    out[2 + i] = size[i];
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}
