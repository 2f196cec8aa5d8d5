/* aten.add / aten.sub (alpha == 1), aten.mul, aten.div, aten.maximum, aten.minimum (f32) ->
 * Add / Subtract / Multiply / Divide / Maximum2 / Minimum2 with numpy broadcasting; integer and
 * bool operands are refused by xnn_check_value and run portable. Inside a blob 4-D values are NHWC, so with a 4-D output both
 * operands must be 4-D in blob order: a lower-rank operand is padded to [1,..] NCHW and
 * permuted to NHWC, which only a constant allows (its data is rewritten here). A rank-0
 * scalar broadcasts the same in any layout. */
#include <stdlib.h>

#include "xnn_lower_internal.h"

static uint8_t node_type(xnnd_op op) {
  switch (op) {
    case XNND_OP_ADD: return XNND_XNNPACK_Node_Add;
    case XNND_OP_SUB: return XNND_XNNPACK_Node_Subtract;
    case XNND_OP_MUL: return XNND_XNNPACK_Node_Multiply;
    case XNND_OP_MAXIMUM: return XNND_XNNPACK_Node_Maximum2;
    case XNND_OP_MINIMUM: return XNND_XNNPACK_Node_Minimum2;
    default: return XNND_XNNPACK_Node_Divide;
  }
}

/* Operand needs the pad-to-4-D-and-permute treatment. */
static bool needs_nhwc_promotion(const xnnd_ir_value* operand, const xnnd_ir_value* out) {
  return out->rank == 4 && operand->rank < 4 && operand->rank > 0;
}

bool xnn_check_binary(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 2 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed binary op");
  if (!xnn_check_value(g, node->inputs[0], "self", reason, reason_size) ||
      !xnn_check_value(g, node->inputs[1], "other", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  if ((node->op == XNND_OP_ADD || node->op == XNND_OP_SUB) && xnn_attr_float(node, "alpha", 1.0) != 1.0)
    return xnn_reason(reason, reason_size, "alpha %g: only alpha == 1 is lowered", xnn_attr_float(node, "alpha", 1.0));
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  bool both_const = true;
  for (int i = 0; i < 2; i++) {
    const xnnd_ir_value* v = &g->values[node->inputs[i]];
    both_const = both_const && v->data != NULL;
    if (v->rank == 4 && out->rank != 4)
      return xnn_reason(reason, reason_size, "4-D operand %%%s with a %u-D output: NHWC would misalign broadcasting",
                        v->name, out->rank);
    if (needs_nhwc_promotion(v, out) && v->data == NULL)
      return xnn_reason(reason, reason_size,
                        "%u-D operand %%%s broadcast against a 4-D one must be constant (it is permuted to NHWC here)",
                        v->rank, v->name);
  }
  if (both_const) return xnn_reason(reason, reason_size, "both operands are constant; fold it instead");
  return true;
}

/* Constant padded with leading 1s to NCHW [n,c,h,w], then written NHWC. */
static uint32_t promoted_constant(xnnd_xnn_builder* b, const xnnd_ir_value* v) {
  int64_t d4[4] = {1, 1, 1, 1};
  for (uint32_t i = 0; i < v->rank; i++) d4[4 - v->rank + i] = v->dims[i];
  size_t n = (size_t)d4[0], c = (size_t)d4[1], hw = (size_t)(d4[2] * d4[3]);
  float* tmp = malloc(sizeof(float) * n * c * hw);
  if (tmp == NULL) {
    xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory permuting constant %%%s", v->name);
    return XNN_NO_VALUE;
  }
  const float* src = v->data;
  for (size_t i = 0; i < n; i++)
    for (size_t ch = 0; ch < c; ch++)
      for (size_t p = 0; p < hw; p++) tmp[(i * hw + p) * c + ch] = src[(i * c + ch) * hw + p];
  uint32_t dims[4] = {(uint32_t)d4[0], (uint32_t)d4[2], (uint32_t)d4[3], (uint32_t)d4[1]};
  uint32_t id = xnn_b_constant_f32(b, 4, dims, tmp);
  free(tmp);
  return id;
}

xnnd_status xnn_lower_binary(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  uint32_t in[2];
  for (int i = 0; i < 2; i++) {
    const xnnd_ir_value* v = &g->values[node->inputs[i]];
    in[i] = needs_nhwc_promotion(v, out) ? promoted_constant(b, v) : xnn_b_operand(b, node->inputs[i]);
  }
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  /* Every binary table has the same field ids: input1, input2, output, min, max, flags. */
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Add_input1_id, in[0], UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Add_input2_id, in[1], UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Add_output_id, output, UINT32_MAX);
  /* Maximum2/Minimum2 have no range fields; their ops do not fuse a clamp. */
  if (node->op != XNND_OP_MAXIMUM && node->op != XNND_OP_MINIMUM) XNN_ADD_RANGE(fb, Add, node);
  return xnn_b_node(b, node_type(node->op), fb_table_end(fb));
}

_Static_assert(XNND_XNNPACK_Add_input1_id == XNND_XNNPACK_Subtract_input1_id &&
                   XNND_XNNPACK_Add_input2_id == XNND_XNNPACK_Multiply_input2_id &&
                   XNND_XNNPACK_Add_output_id == XNND_XNNPACK_Divide_output_id,
               "binary node tables must share field ids");
_Static_assert(XNND_XNNPACK_Add_input1_id == XNND_XNNPACK_Maximum2_input1_id &&
                   XNND_XNNPACK_Add_input2_id == XNND_XNNPACK_Minimum2_input2_id &&
                   XNND_XNNPACK_Add_output_id == XNND_XNNPACK_Maximum2_output_id &&
                   XNND_XNNPACK_Add_output_id == XNND_XNNPACK_Minimum2_output_id,
               "Maximum2/Minimum2 share the binary field ids");
