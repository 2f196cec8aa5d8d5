/* Elementwise ops: unary activations, hardtanh, clamp, gelu, dropout. The broadcasting binary
 * ops (add/sub/mul/div and the rest) are in op_binary.c. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_unary[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_hardtanh[] = {
    {"min_val", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(-1)},
    {"max_val", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_clamp[] = {
    {"min", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    {"max", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_gelu[] = {
    {"approximate", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_dropout[] = {
    {"p", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(0.5)},
    {"train", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};

static xnnd_status same_as_input(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

xnnd_status xnnd_infer_unary(xnnd_graph* g, xnnd_id node) { return same_as_input(g, node); }

xnnd_status xnnd_infer_hardtanh(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  if (isnan(a[0].f) || isnan(a[1].f) || a[0].f > a[1].f)
    return ir_attr_error(g, node, "attribute min_val = %g must not exceed max_val = %g", a[0].f,
                         a[1].f);
  return same_as_input(g, node);
}

xnnd_status xnnd_infer_clamp(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  for (uint32_t i = 0; i < 2; i++)
    if (a[i].kind == XNND_ATTR_FLOAT && isnan(a[i].f))
      return ir_attr_error(g, node, "attribute %s is nan", i ? "max" : "min");
  return same_as_input(g, node);
}

xnnd_status xnnd_infer_gelu(xnnd_graph* g, xnnd_id node) {
  int64_t approx = g->nodes[node].attrs[0].i;
  if (approx != 0 && approx != 1)
    return ir_attr_error(g, node, "attribute approximate = %lld must be 0 (none) or 1 (tanh)",
                         (long long)approx);
  return same_as_input(g, node);
}

xnnd_status xnnd_infer_dropout(xnnd_graph* g, xnnd_id node) {
  double p = g->nodes[node].attrs[0].f;
  if (!(p >= 0 && p <= 1))
    return ir_attr_error(g, node, "attribute p = %g must be in [0, 1]", p);
  return same_as_input(g, node);
}

/* The one place that knows how relu, hardtanh and clamp spell their range. */
bool xnnd_node_clamp_range(const xnnd_ir_node* n, float* lo, float* hi) {
  switch (n->op) {
    case XNND_OP_RELU:
      *lo = 0.0f, *hi = INFINITY;
      break;
    case XNND_OP_HARDTANH:  /* min_val, max_val */
      *lo = (float)n->attrs[0].f, *hi = (float)n->attrs[1].f;
      break;
    case XNND_OP_CLAMP:     /* min?, max? */
      *lo = n->attrs[0].kind == XNND_ATTR_FLOAT ? (float)n->attrs[0].f : -INFINITY;
      *hi = n->attrs[1].kind == XNND_ATTR_FLOAT ? (float)n->attrs[1].f : INFINITY;
      break;
    default:
      return false;
  }
  /* A fused output range on the clamp itself narrows it. */
  if (n->output_min > *lo) *lo = n->output_min;
  if (n->output_max < *hi) *hi = n->output_max;
  return true;
}
