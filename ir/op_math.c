/* Unary math, predicates, elu/leaky_relu and dtype conversion (aten._to_copy, aten.copy).
 * The attribute-less unary ops share four schemas that differ only in their output dtype
 * rule, which is PyTorch's: math_same keeps the dtype, math_float promotes int/bool to f32,
 * math_pred gives bool, math_bits (bitwise_not) takes ints and bool only. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_math_same[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_math_float[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_math_pred[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_math_bits[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_elu[] = {
    {"alpha", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"scale", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"input_scale", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_leaky_relu[] = {
    {"negative_slope", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(0.01)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_to_copy[] = {
    {"dtype", XNND_ATTR_INT, false, IR_DEF_NONE},  /* xnnd_dtype of the output */
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_copy[] = {IR_SCHEMA_END};

static bool is_float(xnnd_dtype dt) { return dt == XNND_F32 || dt == XNND_F16; }

/* The input, unquantized; out gets its shape with dtype dt (or the input's when dt < 0). */
static xnnd_status unary_output(xnnd_graph* g, xnnd_id node, int dt) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (x->quant.scheme != XNND_QUANT_NONE)
    return ir_node_error(g, node, "input 0 %%%s is quantized; expected a plain tensor", x->name);
  return ir_set_output(g, node, 0, dt < 0 ? x->dtype : (xnnd_dtype)dt, x->rank, x->dims);
}

xnnd_status xnnd_infer_math_same(xnnd_graph* g, xnnd_id node) { return unary_output(g, node, -1); }

xnnd_status xnnd_infer_math_float(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  return unary_output(g, node, is_float(x->dtype) ? (int)x->dtype : XNND_F32);
}

xnnd_status xnnd_infer_math_pred(xnnd_graph* g, xnnd_id node) {
  return unary_output(g, node, XNND_BOOL);
}

xnnd_status xnnd_infer_math_bits(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (is_float(x->dtype))
    return ir_node_error(g, node, "input 0 %%%s has dtype %s, expected an integer or bool dtype",
                         x->name, xnnd_dtype_name(x->dtype));
  return unary_output(g, node, -1);
}

static xnnd_status float_input(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (!is_float(x->dtype))
    return ir_node_error(g, node, "input 0 %%%s has dtype %s, expected f32", x->name,
                         xnnd_dtype_name(x->dtype));
  return unary_output(g, node, -1);
}

xnnd_status xnnd_infer_elu(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  for (uint32_t i = 0; i < 3; i++)
    if (!isfinite(a[i].f))
      return ir_attr_error(g, node, "attribute %s = %g must be finite",
                           ir_attr_name(g->nodes[node].op, i), a[i].f);
  return float_input(g, node);
}

xnnd_status xnnd_infer_leaky_relu(xnnd_graph* g, xnnd_id node) {
  double slope = g->nodes[node].attrs[0].f;
  if (!isfinite(slope))
    return ir_attr_error(g, node, "attribute negative_slope = %g must be finite", slope);
  return float_input(g, node);
}

xnnd_status xnnd_infer_to_copy(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  if (a->kind != XNND_ATTR_INT || a->i < 0 || a->i >= XNND_DTYPE_COUNT)
    return ir_attr_error(g, node, "attribute dtype must be an xnnd dtype code in [0, %d]",
                         XNND_DTYPE_COUNT - 1);
  return unary_output(g, node, (int)a->i);
}

xnnd_status xnnd_infer_copy(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *self, *src;
  IR_TRY(ir_require_input(g, node, 0, &self));
  IR_TRY(ir_require_input(g, node, 1, &src));
  if (self->quant.scheme != XNND_QUANT_NONE || src->quant.scheme != XNND_QUANT_NONE)
    return ir_node_error(g, node, "quantized inputs are not supported");
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];
  IR_TRY(ir_broadcast(g, node, 0, 1, &rank, dims));
  bool same = rank == self->rank;
  for (uint32_t i = 0; same && i < rank; i++) same = dims[i] == self->dims[i];
  if (!same) {
    char bs[160], bd[160];
    return ir_node_error(g, node, "input 1 %%%s %s does not broadcast to self's shape %s",
                         src->name, ir_format_dims(bs, sizeof bs, src->rank, src->dims),
                         ir_format_dims(bd, sizeof bd, self->rank, self->dims));
  }
  return ir_set_output(g, node, 0, self->dtype, self->rank, self->dims);
}
