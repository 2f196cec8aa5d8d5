/* Activations XNNPACK has no single node for, built from nodes it has:
 * - aten.hardsigmoid(x) = min(max(x + 3, 0), 6) / 6 -> Add(x, 3) with output range [0, 6],
 *   then Divide by 6 (PyTorch's own formula, so rounding matches);
 * - aten.silu(x) = x * sigmoid(x) -> Sigmoid, then Multiply with x.
 * The intermediate is a blob-internal value with the output's dims; the scalars are rank-0
 * constants, which broadcast the same under NHWC. */
#include <math.h>

#include "xnn_lower_internal.h"

bool xnn_check_activation(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed activation");
  return xnn_check_value(g, node->inputs[0], "input", reason, reason_size) &&
         xnn_check_value(g, node->outputs[0], "output", reason, reason_size);
}

static xnnd_status binary_node(xnnd_xnn_builder* b, uint8_t type, uint32_t in1, uint32_t in2, uint32_t out, float lo,
                               float hi) {
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Add_input1_id, in1, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Add_input2_id, in2, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Add_output_id, out, UINT32_MAX);
  fb_add_f32(fb, XNND_XNNPACK_Add_output_min, lo, -INFINITY);
  fb_add_f32(fb, XNND_XNNPACK_Add_output_max, hi, INFINITY);
  return xnn_b_node(b, type, fb_table_end(fb));
}

xnnd_status xnn_lower_activation(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank = xnn_blob_dims(&g->values[node->outputs[0]], dims);
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t tmp = xnn_b_internal_f32(b, rank, dims);
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  if (tmp != XNN_NO_VALUE && xnn_value_is_symbolic(out)) {
    xnnd_dimx x[XNN_BLOB_MAX_DIMS];
    for (uint32_t d = 0; d < rank; d++) x[d] = xnn_ir_dimx(out, rank == 4 ? (d == 0 ? 0 : d == 3 ? 1 : d + 1) : d);
    xnn_b_set_dimx(b, tmp, x);
  }
  if (node->op == XNND_OP_HARDSIGMOID) {
    const float three = 3.0f, six = 6.0f;
    uint32_t c3 = xnn_b_constant_f32(b, 0, NULL, &three);
    uint32_t c6 = xnn_b_constant_f32(b, 0, NULL, &six);
    uint32_t output = xnn_b_output(b, node->outputs[0]);
    binary_node(b, XNND_XNNPACK_Node_Add, input, c3, tmp, 0.0f, 6.0f);
    return binary_node(b, XNND_XNNPACK_Node_Divide, tmp, c6, output, -INFINITY, INFINITY);
  }
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Sigmoid_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Sigmoid_output_id, tmp, UINT32_MAX);
  xnn_b_node(b, XNND_XNNPACK_Node_Sigmoid, fb_table_end(fb));
  return binary_node(b, XNND_XNNPACK_Node_Multiply, input, tmp, output, node->output_min, node->output_max);
}
