/* Which lowerings take symbolic (dynamic-shape) dims, and with which dims static. A blob value
 * carries its IR value's affine forms, so a lowering that only passes value dims through
 * (elementwise ops, convolution spatial and batch dims, fully connected rows, reshapes to the
 * output's forms) needs nothing more; the XNNPACK backend rebuilds its runtime at each shape
 * and re-checks every node there. What cannot be expressed is a size the lowering computes
 * from a symbolic dim and stores as a number (node parameters such as a depthwise channel
 * count, a resize target, an adaptive pool's window) or a non-affine size: those nodes are
 * refused here with a reason starting "symbolic dim: ", so they run on the portable kernels.
 * An op not listed below is refused whenever a dim it touches is symbolic. */
#include <stdio.h>

#include "xnn_lower_internal.h"

static bool node_is_symbolic(const xnnd_graph* g, const xnnd_ir_node* node) {
  for (uint32_t i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] < g->num_values && xnn_value_is_symbolic(&g->values[node->inputs[i]])) return true;
  for (uint32_t k = 0; k < node->num_outputs; k++)
    if (node->outputs[k] < g->num_values && xnn_value_is_symbolic(&g->values[node->outputs[k]])) return true;
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
    if (node->attr_dimx[a] != NULL) return true;
  return false;
}

static const char* op_name(xnnd_op op) {
  const xnnd_op_info* info = xnnd_op_get(op);
  return info != NULL && info->name != NULL ? info->name : "?";
}

/* Dim d of operand v must be static. */
static bool want_static(const xnnd_ir_value* v, uint32_t d, const char* role, const char* why, char* reason,
                        size_t reason_size) {
  if (d >= v->rank || v->dimx == NULL || xnnd_dimx_is_const(&v->dimx[d])) return true;
  return xnn_reason(reason, reason_size, "symbolic dim: %s %%%s dim %u is symbolic; %s", role, v->name, d, why);
}

bool xnn_check_symbolic(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!node_is_symbolic(g, node)) return true;
  const char* name = op_name(node->op);
  for (uint32_t i = 0; i < node->num_inputs; i++) {
    xnnd_id id = node->inputs[i];
    if (id < g->num_values && g->values[id].data != NULL && xnn_value_is_symbolic(&g->values[id]))
      return xnn_reason(reason, reason_size, "symbolic dim: constant %%%s has a symbolic shape; constants are static",
                        g->values[id].name);
  }
  /* Symbolic attributes: only a view's size, which the lowering takes from the output's forms. */
  const xnnd_op_info* info = xnnd_op_get(node->op);
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
    if (node->attr_dimx[a] != NULL && node->op != XNND_OP_VIEW)
      return xnn_reason(reason, reason_size, "symbolic dim: %s with symbolic attribute %s is not lowered", name,
                        info != NULL && a < info->num_attrs ? info->attrs[a].name : "?");
  const xnnd_ir_value* in = node->num_inputs > 0 && node->inputs[0] < g->num_values ? &g->values[node->inputs[0]] : NULL;
  const xnnd_ir_value* out = node->num_outputs > 0 && node->outputs[0] < g->num_values ? &g->values[node->outputs[0]] : NULL;
  if (in == NULL || out == NULL) return xnn_reason(reason, reason_size, "malformed %s", name);
  switch (node->op) {
    /* Elementwise and identities: forms pass through unchanged. */
    case XNND_OP_RELU: case XNND_OP_HARDTANH: case XNND_OP_CLAMP: case XNND_OP_SIGMOID: case XNND_OP_HARDSWISH:
    case XNND_OP_HARDSIGMOID: case XNND_OP_SILU: case XNND_OP_CLONE: case XNND_OP_DROPOUT: case XNND_OP_ADD:
    case XNND_OP_SUB: case XNND_OP_MUL: case XNND_OP_DIV: case XNND_OP_MAXIMUM: case XNND_OP_MINIMUM:
    case XNND_OP_ABS: case XNND_OP_CEIL: case XNND_OP_FLOOR: case XNND_OP_NEG: case XNND_OP_ROUND:
    case XNND_OP_SQRT: case XNND_OP_ELU: case XNND_OP_LEAKY_RELU: case XNND_OP_QUANTIZE: case XNND_OP_DEQUANTIZE:
    case XNND_OP_CONSTANT_PAD_ND: case XNND_OP_SOFTMAX: case XNND_OP_T:
      return true;
    /* Reshapes to the output's forms (new_shape_exprs); the backend checks the element count
     * at every shape. */
    case XNND_OP_VIEW: case XNND_OP_PERMUTE:
      return true;
    /* Batch and spatial dims may be symbolic (the output forms are the IR's, verified affine);
     * channels set the weights' shape and the node's channel parameters. */
    case XNND_OP_CONVOLUTION:
      return want_static(in, 1, "input", "convolution channels must be static", reason, reason_size) &&
             want_static(out, 1, "output", "convolution channels must be static", reason, reason_size);
    /* Rows may be symbolic; the contracted dim is the weight's. */
    case XNND_OP_LINEAR:
      return want_static(in, in->rank - 1, "input", "the contracted dim must be static", reason, reason_size);
    case XNND_OP_ADDMM:
      return want_static(&g->values[node->inputs[1]], 1, "mat1", "the contracted dim must be static", reason,
                         reason_size);
    case XNND_OP_MM:
      return want_static(in, 1, "mat1", "the contracted dim must be static", reason, reason_size);
    /* Windows are attributes; under the floor rule the padding does not depend on the size.
     * ceil_mode adds trailing padding computed from the size, which is not expressible. */
    case XNND_OP_MAX_POOL2D: case XNND_OP_MAX_POOL2D_WITH_INDICES: case XNND_OP_AVG_POOL2D:
      if (xnn_attr_int(node, "ceil_mode", 0))
        for (uint32_t d = 2; d < 4; d++)
          if (!want_static(in, d, "input", "ceil_mode pooling pads by an amount computed from the size", reason,
                           reason_size))
            return false;
      return true;
    case XNND_OP_MEAN:
      return true;  /* global average over H, W: any dim may be symbolic */
    case XNND_OP_ADAPTIVE_AVG_POOL2D:
      if (out->rank == 4 && out->dims[2] == 1 && out->dims[3] == 1) return true;  /* global */
      for (uint32_t d = 2; d < 4; d++)
        if (!want_static(in, d, "input", "the adaptive window is computed from the size", reason, reason_size) ||
            !want_static(out, d, "output", "the adaptive window is computed from the size", reason, reason_size))
          return false;
      return true;
    case XNND_OP_UPSAMPLE_BILINEAR2D:
      for (uint32_t d = 2; d < 4; d++)
        if (!want_static(in, d, "input", "the blob's resize target is a number", reason, reason_size) ||
            !want_static(out, d, "output", "the blob's resize target is a number", reason, reason_size))
          return false;
      return true;
    default:
      return xnn_reason(reason, reason_size, "symbolic dim: %s is not lowered with symbolic dims", name);
  }
}
