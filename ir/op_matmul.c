/* Matrix products: aten.addmm, aten.mm, aten.bmm, aten.linear, aten.baddbmm (PyTorch shape
 * rules). */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_addmm[] = {
    {"beta", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"alpha", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_mm[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_bmm[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_linear[] = {IR_SCHEMA_END};

static bool is_float(xnnd_dtype d) { return d == XNND_F32 || d == XNND_F16; }

/* Float operands must agree; quantized integer operands are checked by their quant params. */
static xnnd_status same_float_dtype(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* a,
                                    uint32_t ib) {
  return is_float(a->dtype) ? ir_input_dtype(g, node, ib, a->dtype) : XNND_OK;
}

static xnnd_status inner_dims(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* a,
                              const xnnd_ir_value* b, uint32_t ia, uint32_t ib, int64_t ka,
                              int64_t kb) {
  if (ka != kb)
    return ir_node_error(g, node, "input %u %%%s has inner dim %lld but input %u %%%s has %lld",
                         ia, a->name, (long long)ka, ib, b->name, (long long)kb);
  return XNND_OK;
}

xnnd_status xnnd_infer_mm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *a, *b;
  IR_TRY(ir_input_rank(g, node, 0, 2, &a));
  IR_TRY(ir_input_rank(g, node, 1, 2, &b));
  IR_TRY(same_float_dtype(g, node, a, 1));
  IR_TRY(inner_dims(g, node, a, b, 0, 1, a->dims[1], b->dims[0]));
  int64_t out[2] = {a->dims[0], b->dims[1]};
  return ir_set_output(g, node, 0, a->dtype, 2, out);
}

xnnd_status xnnd_infer_bmm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *a, *b;
  IR_TRY(ir_input_rank(g, node, 0, 3, &a));
  IR_TRY(ir_input_rank(g, node, 1, 3, &b));
  IR_TRY(same_float_dtype(g, node, a, 1));
  if (a->dims[0] != b->dims[0])
    return ir_node_error(g, node, "batch %lld of input 0 %%%s differs from batch %lld of input 1 "
                         "%%%s", (long long)a->dims[0], a->name, (long long)b->dims[0], b->name);
  IR_TRY(inner_dims(g, node, a, b, 0, 1, a->dims[2], b->dims[1]));
  int64_t out[3] = {a->dims[0], a->dims[1], b->dims[2]};
  return ir_set_output(g, node, 0, a->dtype, 3, out);
}

xnnd_status xnnd_infer_addmm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value *self, *a, *b;
  IR_TRY(ir_input_rank_range(g, node, 0, 0, 2, &self));
  IR_TRY(ir_input_rank(g, node, 1, 2, &a));
  IR_TRY(ir_input_rank(g, node, 2, 2, &b));
  IR_TRY(same_float_dtype(g, node, a, 2));
  if (is_float(a->dtype)) IR_TRY(ir_input_dtype(g, node, 0, a->dtype));
  IR_TRY(inner_dims(g, node, a, b, 1, 2, a->dims[1], b->dims[0]));
  for (uint32_t i = 0; i < 2; i++)
    if (!isfinite(n->attrs[i].f))
      return ir_attr_error(g, node, "attribute %s = %g must be finite", ir_attr_name(n->op, i),
                           n->attrs[i].f);
  int64_t out[2] = {a->dims[0], b->dims[1]};
  /* self broadcasts to [n, p] */
  for (uint32_t i = 0; i < self->rank; i++) {
    int64_t d = self->dims[i], want = out[2 - self->rank + i];
    if (d != 1 && d != want) {
      char buf[160];
      return ir_node_error(g, node, "input 0 %%%s %s does not broadcast to [%lld,%lld]",
                           self->name, ir_format_dims(buf, sizeof buf, self->rank, self->dims),
                           (long long)out[0], (long long)out[1]);
    }
  }
  return ir_set_output(g, node, 0, a->dtype, 2, out);
}

xnnd_status xnnd_infer_linear(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *w;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  IR_TRY(ir_input_rank(g, node, 1, 2, &w));
  IR_TRY(same_float_dtype(g, node, x, 1));
  if (is_float(x->dtype)) IR_TRY(ir_input_dtype(g, node, 2, x->dtype));
  IR_TRY(inner_dims(g, node, x, w, 0, 1, x->dims[x->rank - 1], w->dims[1]));
  IR_TRY(ir_input_vector(g, node, 2, w->dims[0]));
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i + 1 < x->rank; i++) out[i] = x->dims[i];
  out[x->rank - 1] = w->dims[0];
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

/* aten.baddbmm(self, batch1 [b,n,m], batch2 [b,m,p]) = beta * self + alpha * batch1 @ batch2;
 * self broadcasts to [b,n,p]. */
const xnnd_attr_spec xnnd_attrs_baddbmm[] = {
    {"beta", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"alpha", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_baddbmm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value *self, *a, *b;
  IR_TRY(ir_input_rank_range(g, node, 0, 0, 3, &self));
  IR_TRY(ir_input_rank(g, node, 1, 3, &a));
  IR_TRY(ir_input_rank(g, node, 2, 3, &b));
  IR_TRY(same_float_dtype(g, node, a, 2));
  if (is_float(a->dtype)) IR_TRY(ir_input_dtype(g, node, 0, a->dtype));
  if (a->dims[0] != b->dims[0])
    return ir_node_error(g, node, "batch %lld of input 1 %%%s differs from batch %lld of input 2 "
                         "%%%s", (long long)a->dims[0], a->name, (long long)b->dims[0], b->name);
  IR_TRY(inner_dims(g, node, a, b, 1, 2, a->dims[2], b->dims[1]));
  for (uint32_t i = 0; i < 2; i++)
    if (!isfinite(n->attrs[i].f))
      return ir_attr_error(g, node, "attribute %s = %g must be finite", ir_attr_name(n->op, i),
                           n->attrs[i].f);
  int64_t out[3] = {a->dims[0], a->dims[1], b->dims[2]};
  for (uint32_t i = 0; i < self->rank; i++) {
    int64_t d = self->dims[i], want = out[3 - self->rank + i];
    if (d != 1 && d != want) {
      char buf[160];
      return ir_node_error(g, node, "input 0 %%%s %s does not broadcast to [%lld,%lld,%lld]",
                           self->name, ir_format_dims(buf, sizeof buf, self->rank, self->dims),
                           (long long)out[0], (long long)out[1], (long long)out[2]);
    }
  }
  return ir_set_output(g, node, 0, a->dtype, 3, out);
}
