/* Reductions along dims: aten.mean (negative dims, keepdim; an empty dim list reduces all
 * dims as in PyTorch) and aten.softmax. */
#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_mean[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(mean);
const xnnd_attr_spec xnnd_attrs_softmax[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"half_to_float", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(softmax);

xnnd_status xnnd_infer_mean(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* dim = &n->attrs[0];
  bool keepdim = n->attrs[1].i != 0;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  bool reduced[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < dim->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, 0, dim->ints[i], x->rank, &d));
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

xnnd_status xnnd_infer_softmax(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, n->attrs[0].i, x->rank, &d));
  xnnd_dtype dt = n->attrs[1].i && x->dtype == XNND_F16 ? XNND_F32 : x->dtype;
  return ir_set_output(g, node, 0, dt, x->rank, x->dims);
}
