/* Broadcasting binary ops (add/sub/mul/div, div with rounding, atan2, fmod, remainder, pow,
 * maximum/minimum, bitwise, logical, comparisons) and the ternary where and clamp_tensor:
 * attribute schemas and shape/dtype inference. Output dtypes follow PyTorch's type promotion,
 * where a rank-0 operand (a Python scalar or 0-d tensor) only raises the dtype category
 * (bool < integer < float) of the others, never their width. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_add[] = {
    {"alpha", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_binary[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_div_mode[] = {
    {"rounding_mode", XNND_ATTR_INT, true, IR_DEF_NONE}, /* none true division, 0 trunc, 1 floor */
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_promote[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_to_float[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_bitwise[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_compare[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_where[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_clamp_tensor[] = {IR_SCHEMA_END};

#define NO_DTYPE XNND_DTYPE_COUNT

static bool is_float(xnnd_dtype d) { return d == XNND_F32 || d == XNND_F16; }

/* PyTorch's promote_types over the IR dtypes; NO_DTYPE where the result (int16 for u8 with
 * i8) has no IR dtype. */
static xnnd_dtype promote_pair(xnnd_dtype a, xnnd_dtype b) {
  if (a == NO_DTYPE) return b;
  if (b == NO_DTYPE || a == b) return a;
  if (is_float(a) || is_float(b)) return is_float(a) && is_float(b) ? XNND_F32 : (is_float(a) ? a : b);
  if (a == XNND_BOOL) return b;
  if (b == XNND_BOOL) return a;
  if ((a == XNND_U8 && b == XNND_I8) || (a == XNND_I8 && b == XNND_U8)) return NO_DTYPE;
  if (a == XNND_U8) return b;  /* i32 / i64 hold every u8 */
  if (b == XNND_U8) return a;
  static const int width[XNND_DTYPE_COUNT] = {[XNND_I8] = 8, [XNND_I32] = 32, [XNND_I64] = 64};
  return width[a] > width[b] ? a : b;
}

/* torch.result_type of the present inputs: dimensioned operands promote among themselves; the
 * rank-0 ones count only when their category is higher (or the others are bool). */
static xnnd_status result_dtype(xnnd_graph* g, xnnd_id node, uint32_t first, uint32_t n,
                                xnnd_dtype* out) {
  xnnd_dtype dim = NO_DTYPE, zero = NO_DTYPE;
  bool bad = false, quantized = false;
  const xnnd_ir_value* first_dim = NULL;
  for (uint32_t i = first; i < first + n; i++) {
    const xnnd_ir_value* v = ir_input(g, node, i);
    if (!v) continue;
    quantized = quantized || v->quant.scheme != XNND_QUANT_NONE;
    if (v->rank && !first_dim) first_dim = v;
    xnnd_dtype* acc = v->rank ? &dim : &zero;
    xnnd_dtype p = promote_pair(*acc, v->dtype);
    bad = bad || (p == NO_DTYPE && *acc != NO_DTYPE);
    *acc = p;
  }
  if (quantized) {
    /* Quantized operands (between quantize/dequantize) keep the tensor operand's dtype; a
     * scalar operand is the real value, whatever its dtype. */
    const xnnd_ir_value* a = first_dim ? first_dim : ir_input(g, node, first);
    for (uint32_t i = first; i < first + n; i++) {
      const xnnd_ir_value* v = ir_input(g, node, i);
      if (v && v->rank && v->dtype != a->dtype)
        return ir_node_error(g, node, "input %u %%%s has dtype %s, expected %s", i, v->name,
                             xnnd_dtype_name(v->dtype), xnnd_dtype_name(a->dtype));
    }
    *out = a->dtype;
    return XNND_OK;
  }
  xnnd_dtype r;
  if (dim == NO_DTYPE || zero == NO_DTYPE)
    r = dim == NO_DTYPE ? zero : dim;
  else if (is_float(dim))
    r = dim;
  else if (dim == XNND_BOOL || is_float(zero))
    r = promote_pair(dim, zero);
  else
    r = dim;
  if (bad || r == NO_DTYPE)
    return ir_node_error(g, node, "inputs promote to int16 (u8 with i8), which the IR lacks");
  *out = r;
  return XNND_OK;
}

/* Numpy broadcasting of the present inputs first..first+n-1. */
static xnnd_status broadcast_n(xnnd_graph* g, xnnd_id node, uint32_t first, uint32_t n,
                               uint32_t* rank, int64_t* dims) {
  if (n == 2 && ir_input(g, node, first) && ir_input(g, node, first + 1))
    return ir_broadcast(g, node, first, first + 1, rank, dims);
  *rank = 0;
  const xnnd_ir_value* prev = NULL;
  for (uint32_t i = first; i < first + n; i++) {
    const xnnd_ir_value* v = ir_input(g, node, i);
    if (!v) continue;
    uint32_t r = v->rank > *rank ? v->rank : *rank;
    int64_t nd[XNND_MAX_RANK];
    for (uint32_t d = 0; d < r; d++) {
      int64_t da = d + *rank >= r ? dims[d + *rank - r] : 1;
      int64_t dv = d + v->rank >= r ? v->dims[d + v->rank - r] : 1;
      if (da != dv && da != 1 && dv != 1) {
        char ba[160], bb[160];
        return ir_node_error(g, node, "input %u %%%s %s does not broadcast with %s%s", i, v->name,
                             ir_format_dims(bb, sizeof bb, v->rank, v->dims),
                             prev ? "the earlier inputs " : "",
                             ir_format_dims(ba, sizeof ba, *rank, dims));
      }
      nd[d] = da == 1 ? dv : da;
    }
    for (uint32_t d = 0; d < r; d++) dims[d] = nd[d];
    *rank = r;
    prev = v;
  }
  return XNND_OK;
}

/* Output: the broadcast shape, dtype `dt`, or the promoted dtype when dt is NO_DTYPE. */
static xnnd_status set_broadcast(xnnd_graph* g, xnnd_id node, uint32_t first, uint32_t n,
                                 xnnd_dtype dt) {
  if (dt == NO_DTYPE) IR_TRY(result_dtype(g, node, first, n, &dt));
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];
  IR_TRY(broadcast_n(g, node, first, n, &rank, dims));
  return ir_set_output(g, node, 0, dt, rank, dims);
}

static xnnd_status require_two(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* v;
  IR_TRY(ir_require_input(g, node, 0, &v));
  return ir_require_input(g, node, 1, &v);
}

/* add/sub/mul/div: promoted; true division of integers gives f32. */
static xnnd_status arith(xnnd_graph* g, xnnd_id node) {
  IR_TRY(require_two(g, node));
  xnnd_dtype dt = NO_DTYPE;
  IR_TRY(result_dtype(g, node, 0, 2, &dt));
  const xnnd_ir_node* n = &g->nodes[node];
  if ((n->op == XNND_OP_DIV || n->op == XNND_OP_DIV_MODE) && !is_float(dt)) dt = XNND_F32;
  return set_broadcast(g, node, 0, 2, dt);
}

xnnd_status xnnd_infer_add(xnnd_graph* g, xnnd_id node) {
  if (!isfinite(g->nodes[node].attrs[0].f))
    return ir_attr_error(g, node, "attribute alpha = %g must be finite",
                         g->nodes[node].attrs[0].f);
  return arith(g, node);
}

xnnd_status xnnd_infer_binary(xnnd_graph* g, xnnd_id node) { return arith(g, node); }

xnnd_status xnnd_infer_div_mode(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* mode = &g->nodes[node].attrs[0];
  if (mode->kind == XNND_ATTR_NONE) return arith(g, node); /* true division */
  if (mode->i != 0 && mode->i != 1)
    return ir_attr_error(g, node,
                         "attribute rounding_mode = %lld must be none, 0 (trunc) or 1 (floor)",
                         (long long)mode->i);
  IR_TRY(require_two(g, node));
  return set_broadcast(g, node, 0, 2, NO_DTYPE);
}

xnnd_status xnnd_infer_promote(xnnd_graph* g, xnnd_id node) {
  IR_TRY(require_two(g, node));
  return set_broadcast(g, node, 0, 2, NO_DTYPE);
}

xnnd_status xnnd_infer_to_float(xnnd_graph* g, xnnd_id node) {
  IR_TRY(require_two(g, node));
  xnnd_dtype dt = NO_DTYPE;
  IR_TRY(result_dtype(g, node, 0, 2, &dt));
  return set_broadcast(g, node, 0, 2, is_float(dt) ? dt : XNND_F32);
}

xnnd_status xnnd_infer_bitwise(xnnd_graph* g, xnnd_id node) {
  IR_TRY(require_two(g, node));
  for (uint32_t i = 0; i < 2; i++) {
    const xnnd_ir_value* v = ir_input(g, node, i);
    if (is_float(v->dtype))
      return ir_node_error(g, node, "input %u %%%s has dtype %s; bitwise ops take integer or bool",
                           i, v->name, xnnd_dtype_name(v->dtype));
  }
  return set_broadcast(g, node, 0, 2, NO_DTYPE);
}

/* Comparisons and logical ops: bool, computed in the promoted dtype. */
xnnd_status xnnd_infer_compare(xnnd_graph* g, xnnd_id node) {
  IR_TRY(require_two(g, node));
  xnnd_dtype dt = NO_DTYPE;
  IR_TRY(result_dtype(g, node, 0, 2, &dt));
  return set_broadcast(g, node, 0, 2, XNND_BOOL);
}

/* where(condition, self, other): condition is bool; output promotes self with other. */
xnnd_status xnnd_infer_where(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* c;
  IR_TRY(ir_require_input(g, node, 0, &c));
  if (c->dtype != XNND_BOOL)
    return ir_node_error(g, node, "input 0 (condition) %%%s has dtype %s, expected bool", c->name,
                         xnnd_dtype_name(c->dtype));
  const xnnd_ir_value* v;
  IR_TRY(ir_require_input(g, node, 1, &v));
  IR_TRY(ir_require_input(g, node, 2, &v));
  xnnd_dtype dt = NO_DTYPE;
  IR_TRY(result_dtype(g, node, 1, 2, &dt));
  return set_broadcast(g, node, 0, 3, dt);
}

/* clamp_tensor(self, min?, max?): at least one bound; all three promote and broadcast. */
xnnd_status xnnd_infer_clamp_tensor(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (!ir_input(g, node, 1) && !ir_input(g, node, 2))
    return ir_node_error(g, node, "at least one of min and max must be given");
  for (uint32_t i = 0; i < 3; i++) {
    const xnnd_ir_value* v = ir_input(g, node, i);
    if (v && v->dtype == XNND_BOOL)
      return ir_node_error(g, node, "input %u %%%s is bool; clamp takes numbers", i, v->name);
  }
  return set_broadcast(g, node, 0, 3, NO_DTYPE);
}
