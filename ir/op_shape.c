/* Shape ops: aten.t, aten.permute, aten.view (concrete sizes, numel preserved), aten.cat. */
#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_t[] = {IR_SCHEMA_END};
IR_CHECK_SCHEMA(t);
const xnnd_attr_spec xnnd_attrs_permute[] = {
    {"dims", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(permute);
const xnnd_attr_spec xnnd_attrs_view[] = {
    {"size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(view);
const xnnd_attr_spec xnnd_attrs_cat[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(cat);

xnnd_status xnnd_infer_t(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 0, 2, &x));
  int64_t out[2] = {0, 0};
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[x->rank - 1 - i];
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_permute(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n != x->rank)
    return ir_attr_error(g, node, "attribute dims has %u entries but input 0 %%%s has rank %u",
                         a->n, x->name, x->rank);
  bool seen[XNND_MAX_RANK] = {false};
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, 0, a->ints[i], x->rank, &d));
    if (seen[d])
      return ir_attr_error(g, node, "attribute dims is not a permutation: dim %u repeats", d);
    seen[d] = true;
    out[i] = x->dims[d];
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_view(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n > XNND_MAX_RANK)
    return ir_attr_error(g, node, "attribute size has %u entries, rank at most %d", a->n,
                         XNND_MAX_RANK);
  for (uint32_t i = 0; i < a->n; i++)
    if (a->ints[i] < 0 || a->ints[i] > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute size[%u] = %lld must be a concrete size >= 0", i,
                           (long long)a->ints[i]);
  uint64_t in_numel, out_numel;
  if (!ir_numel(x->dtype, x->rank, x->dims, &in_numel))
    return ir_node_error(g, node, "input 0 %%%s has an invalid shape", x->name);
  if (!ir_numel(x->dtype, a->n, a->ints, &out_numel))
    return ir_attr_error(g, node, "attribute size describes a tensor that is too large");
  if (in_numel != out_numel) {
    char bi[160], bo[160];
    return ir_attr_error(g, node, "attribute size %s has %llu elements but input 0 %%%s %s has "
                         "%llu", ir_format_dims(bo, sizeof bo, a->n, a->ints),
                         (unsigned long long)out_numel, x->name,
                         ir_format_dims(bi, sizeof bi, x->rank, x->dims),
                         (unsigned long long)in_numel);
  }
  return ir_set_output(g, node, 0, x->dtype, a->n, a->ints);
}

xnnd_status xnnd_infer_cat(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* first;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &first));
  uint32_t dim;
  IR_TRY(ir_attr_dim(g, node, 0, n->attrs[0].i, first->rank, &dim));
  int64_t out[XNND_MAX_RANK];
  for (uint32_t d = 0; d < first->rank; d++) out[d] = first->dims[d];
  for (uint32_t i = 1; i < n->num_inputs; i++) {
    const xnnd_ir_value* x;
    IR_TRY(ir_input_rank(g, node, i, first->rank, &x));
    IR_TRY(ir_input_dtype(g, node, i, first->dtype));
    for (uint32_t d = 0; d < first->rank; d++) {
      if (d == dim) continue;
      if (x->dims[d] != first->dims[d])
        return ir_node_error(g, node, "input %u %%%s has size %lld in dim %u, expected %lld", i,
                             x->name, (long long)x->dims[d], d, (long long)first->dims[d]);
    }
    out[dim] += x->dims[dim];  /* <= 255 * 2^40 */
  }
  return ir_set_output(g, node, 0, first->dtype, first->rank, out);
}
