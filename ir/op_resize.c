/* Spatial resizing of 4-D NCHW inputs: aten.upsample_nearest2d and aten.upsample_bilinear2d.
 * output_size is always explicit (the exporter takes it from PyTorch's output); scales_h/w are
 * kept when the model gave scale factors, because PyTorch then maps output to input
 * coordinates with 1/scale rather than in/out. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_upsample_nearest2d[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"scales_h", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    {"scales_w", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_upsample_bilinear2d[] = {
    {"output_size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"align_corners", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"scales_h", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    {"scales_w", XNND_ATTR_FLOAT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};

static xnnd_status resize_shape(xnnd_graph* g, xnnd_id node, uint32_t first_scale) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank(g, node, 0, 4, &x));
  int64_t size[2];
  IR_TRY(ir_attr_ints(g, node, 0, 2, 1, size));
  for (uint32_t i = 0; i < 2; i++) {
    const xnnd_attr* s = &n->attrs[first_scale + i];
    if (s->kind == XNND_ATTR_FLOAT && !(isfinite(s->f) && s->f > 0))
      return ir_attr_error(g, node, "attribute %s = %g must be finite and > 0",
                           ir_attr_name(n->op, first_scale + i), s->f);
  }
  if (x->dims[2] < 1 || x->dims[3] < 1)
    return ir_node_error(g, node, "input 0 %%%s has an empty spatial dim", x->name);
  int64_t out[4] = {x->dims[0], x->dims[1], size[0], size[1]};
  return ir_set_output(g, node, 0, x->dtype, 4, out);
}

xnnd_status xnnd_infer_upsample_nearest2d(xnnd_graph* g, xnnd_id node) {
  return resize_shape(g, node, 1);
}

xnnd_status xnnd_infer_upsample_bilinear2d(xnnd_graph* g, xnnd_id node) {
  return resize_shape(g, node, 2);
}
