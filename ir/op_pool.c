/* 2-D pooling over the last two dims of a rank 3 (C,H,W) or rank 4 (N,C,H,W) input, with
 * PyTorch's pooling_output_shape (ceil_mode keeps the last window starting inside). */
#include "ir_internal.h"

enum { MP_KERNEL, MP_STRIDE, MP_PADDING, MP_DILATION, MP_CEIL };
enum { AP_KERNEL, AP_STRIDE, AP_PADDING, AP_CEIL, AP_COUNT_INCLUDE_PAD, AP_DIVISOR };

const xnnd_attr_spec xnnd_attrs_max_pool2d[] = {
    {"kernel_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS2(0, 0)},
    {"dilation", XNND_ATTR_INTS, false, IR_DEF_INTS2(1, 1)},
    {"ceil_mode", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_avg_pool2d[] = {
    {"kernel_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS2(0, 0)},
    {"ceil_mode", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"count_include_pad", XNND_ATTR_BOOL, false, IR_DEF_BOOL(1)},
    {"divisor_override", XNND_ATTR_INT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_adaptive_avg_pool2d[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_max_pool2d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 3, 4, &x));
  int64_t k[2], s[2], p[2], d[2], out[4];
  IR_TRY(ir_attr_ints(g, node, MP_KERNEL, 2, 1, k));
  IR_TRY(ir_attr_ints(g, node, MP_STRIDE, 2, 1, s));
  IR_TRY(ir_attr_ints(g, node, MP_PADDING, 2, 0, p));
  IR_TRY(ir_attr_ints(g, node, MP_DILATION, 2, 1, d));
  IR_TRY(ir_pool_shape(g, node, x, 2, k, s, p, d, n->attrs[MP_CEIL].i != 0, out));
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, out));
  if (n->num_outputs > 1) return ir_set_output(g, node, 1, XNND_I64, x->rank, out);
  return XNND_OK;
}

xnnd_status xnnd_infer_avg_pool2d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 3, 4, &x));
  int64_t k[2], s[2], p[2], d[2] = {1, 1}, out[4];
  IR_TRY(ir_attr_ints(g, node, AP_KERNEL, 2, 1, k));
  IR_TRY(ir_attr_ints(g, node, AP_STRIDE, 2, 1, s));
  IR_TRY(ir_attr_ints(g, node, AP_PADDING, 2, 0, p));
  const xnnd_attr* div = &n->attrs[AP_DIVISOR];
  if (div->kind == XNND_ATTR_INT && div->i == 0)
    return ir_attr_error(g, node, "attribute divisor_override must not be 0");
  IR_TRY(ir_pool_shape(g, node, x, 2, k, s, p, d, n->attrs[AP_CEIL].i != 0, out));
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_adaptive_avg_pool2d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 3, 4, &x));
  int64_t size[2], out[4];
  IR_TRY(ir_attr_ints(g, node, 0, 2, 0, size));
  for (uint32_t i = 0; i + 2 < x->rank; i++) out[i] = x->dims[i];
  out[x->rank - 2] = size[0];
  out[x->rank - 1] = size[1];
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}
