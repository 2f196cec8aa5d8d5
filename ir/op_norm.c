/* aten.native_batch_norm: channel dim 1; save_mean/save_invstd are [C] when training,
 * [0] otherwise (what PyTorch returns on CPU in eval mode). */
#include <math.h>

#include "ir_internal.h"

enum { BN_TRAINING, BN_MOMENTUM, BN_EPS };

const xnnd_attr_spec xnnd_attrs_native_batch_norm[] = {
    {"training", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"momentum", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(0.1)},
    {"eps", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1e-05)},
    IR_SCHEMA_END,
};
IR_CHECK_SCHEMA(native_batch_norm);

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
