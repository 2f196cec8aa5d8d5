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

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Output shape of a pooling window; all inputs are bounded (dims <= 2^40, attrs < 2^31). */
static xnnd_status pool_shape(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x,
                              const int64_t* k, const int64_t* s, const int64_t* p,
                              const int64_t* d, bool ceil_mode, int64_t* out) {
  uint32_t r = x->rank;
  for (uint32_t i = 0; i < r - 2; i++) out[i] = x->dims[i];
  for (int i = 0; i < 2; i++) {
    if (p[i] > k[i] / 2)
      return ir_attr_error(g, node, "padding[%d] = %lld must be at most half the kernel size "
                           "%lld", i, (long long)p[i], (long long)k[i]);
    int64_t in = x->dims[r - 2 + i];
    int64_t o = floor_div(in + 2 * p[i] - d[i] * (k[i] - 1) - 1 + (ceil_mode ? s[i] - 1 : 0),
                          s[i]) + 1;
    if (ceil_mode && (o - 1) * s[i] >= in + p[i]) o--;
    if (o < 1)
      return ir_node_error(g, node, "input 0 %%%s: size %lld in dim %u gives output size %lld, "
                           "which is too small", x->name, (long long)in, r - 2 + i, (long long)o);
    out[r - 2 + i] = o;
  }
  return XNND_OK;
}

xnnd_status xnnd_infer_max_pool2d(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 3, 4, &x));
  int64_t k[2], s[2], p[2], d[2], out[4];
  IR_TRY(ir_attr_ints(g, node, MP_KERNEL, 2, 1, k));
  IR_TRY(ir_attr_ints(g, node, MP_STRIDE, 2, 1, s));
  IR_TRY(ir_attr_ints(g, node, MP_PADDING, 2, 0, p));
  IR_TRY(ir_attr_ints(g, node, MP_DILATION, 2, 1, d));
  IR_TRY(pool_shape(g, node, x, k, s, p, d, n->attrs[MP_CEIL].i != 0, out));
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
  IR_TRY(pool_shape(g, node, x, k, s, p, d, n->attrs[AP_CEIL].i != 0, out));
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
