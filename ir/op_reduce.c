/* Reductions along dims: aten.mean and aten.norm (negative dims, keepdim; an empty dim list
 * reduces all dims as in PyTorch) and aten.softmax / aten.log_softmax. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_mean[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_softmax[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"half_to_float", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};

const xnnd_attr_spec xnnd_attrs_norm[] = {
    {"p", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(2)},
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};

/* Output shape of a reduction over attribute `dim_attr` (ints) with keepdim in `keep_attr`. */
static xnnd_status reduce_shape(xnnd_graph* g, xnnd_id node, uint32_t dim_attr, uint32_t keep_attr) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* dim = &n->attrs[dim_attr];
  bool keepdim = n->attrs[keep_attr].i != 0;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  bool reduced[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < dim->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, dim_attr, dim->ints[i], x->rank, &d));
    if (x->rank == 0) continue;
    if (reduced[d]) return ir_attr_error(g, node, "attribute dim lists dim %u twice", d);
    reduced[d] = true;
  }
  if (dim->n == 0)
    for (uint32_t d = 0; d < x->rank; d++) reduced[d] = true;
  int64_t out[XNND_MAX_RANK];
  uint32_t rank = 0;
  for (uint32_t d = 0; d < x->rank; d++) {
    if (!reduced[d])
      out[rank++] = x->dims[d];
    else if (keepdim)
      out[rank++] = 1;
  }
  return ir_set_output(g, node, 0, x->dtype, rank, out);
}

xnnd_status xnnd_infer_mean(xnnd_graph* g, xnnd_id node) { return reduce_shape(g, node, 0, 1); }

xnnd_status xnnd_infer_norm(xnnd_graph* g, xnnd_id node) {
  if (isnan(g->nodes[node].attrs[0].f)) return ir_attr_error(g, node, "attribute p is nan");
  return reduce_shape(g, node, 1, 2);
}

xnnd_status xnnd_infer_softmax(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, n->attrs[0].i, x->rank, &d));
  xnnd_dtype dt = n->attrs[1].i && x->dtype == XNND_F16 ? XNND_F32 : x->dtype;
  return ir_set_output(g, node, 0, dt, x->rank, x->dims);
}
