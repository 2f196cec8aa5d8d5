/* aten.native_batch_norm: channel dim 1; save_mean/save_invstd are [C] when training,
 * [0] otherwise (what PyTorch returns on CPU in eval mode). aten.native_layer_norm over
 * trailing dims. */
#include <math.h>

#include "ir_internal.h"

enum { BN_TRAINING, BN_MOMENTUM, BN_EPS };

const xnnd_attr_spec xnnd_attrs_native_batch_norm[] = {
    {"training", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"momentum", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(0.1)},
    {"eps", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1e-05)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_native_batch_norm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, XNND_MAX_RANK, &x));
  double eps = n->attrs[BN_EPS].f, momentum = n->attrs[BN_MOMENTUM].f;
  if (!isfinite(eps) || eps < 0)
    return ir_attr_error(g, node, "attribute eps = %g must be finite and >= 0", eps);
  if (!isfinite(momentum))
    return ir_attr_error(g, node, "attribute momentum = %g must be finite", momentum);
  int64_t c = x->dims[1];
  for (uint32_t i = 1; i < 5; i++) {
    const xnnd_ir_value* p;
    if (i >= 3) IR_TRY(ir_require_input(g, node, i, &p));
    IR_TRY(ir_input_vector(g, node, i, c));
    /* f16 activations may come with f32 statistics (mixed precision) */
    const xnnd_ir_value* v = ir_input(g, node, i);
    if (v && !(x->dtype == XNND_F16 && v->dtype == XNND_F32))
      IR_TRY(ir_input_dtype(g, node, i, x->dtype));
  }
  bool training = n->attrs[BN_TRAINING].i != 0;
  int64_t stat = training ? c : 0;
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, x->dims));
  IR_TRY(ir_set_output(g, node, 1, x->dtype, 1, &stat));
  return ir_set_output(g, node, 2, x->dtype, 1, &stat);
}

/* aten.native_layer_norm(input, weight?, bias?) over the trailing dims normalized_shape;
 * outputs out (input's shape), mean and rstd (input's leading dims, then 1 per normalized
 * dim), as PyTorch returns them. */
enum { LN_SHAPE, LN_EPS };

const xnnd_attr_spec xnnd_attrs_native_layer_norm[] = {
    {"normalized_shape", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"eps", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1e-05)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_native_layer_norm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* shape = &n->attrs[LN_SHAPE];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  double eps = n->attrs[LN_EPS].f;
  if (!isfinite(eps) || eps < 0)
    return ir_attr_error(g, node, "attribute eps = %g must be finite and >= 0", eps);
  if (shape->n < 1 || shape->n > x->rank)
    return ir_attr_error(g, node, "attribute normalized_shape has %u entries; input 0 %%%s has "
                         "rank %u", shape->n, x->name, x->rank);
  const uint32_t axis = x->rank - shape->n;
  for (uint32_t i = 0; i < shape->n; i++)
    if (shape->ints[i] != x->dims[axis + i]) {
      char bs[160], bx[160];
      return ir_attr_error(g, node, "attribute normalized_shape %s does not match the trailing "
                           "dims of input 0 %%%s %s",
                           ir_format_dims(bs, sizeof bs, shape->n, shape->ints), x->name,
                           ir_format_dims(bx, sizeof bx, x->rank, x->dims));
    }
  for (uint32_t i = 1; i < 3; i++) {
    const xnnd_ir_value* p = ir_input(g, node, i);
    if (!p) continue;
    IR_TRY(ir_input_dtype(g, node, i, x->dtype));
    bool same = p->rank == shape->n;
    for (uint32_t k = 0; same && k < shape->n; k++) same = p->dims[k] == shape->ints[k];
    if (!same) {
      char bp[160], bs[160];
      return ir_node_error(g, node, "input %u %%%s has shape %s, expected normalized_shape %s", i,
                           p->name, ir_format_dims(bp, sizeof bp, p->rank, p->dims),
                           ir_format_dims(bs, sizeof bs, shape->n, shape->ints));
    }
  }
  int64_t stat[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) stat[i] = i < axis ? x->dims[i] : 1;
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, x->dims));
  IR_TRY(ir_set_output(g, node, 1, x->dtype, x->rank, stat));
  return ir_set_output(g, node, 2, x->dtype, x->rank, stat);
}
