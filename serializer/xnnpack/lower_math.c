/* aten.abs/ceil/floor/neg/sqrt/round -> Abs/Ceiling/Floor/Negate/SquareRoot/BankersRounding,
 * aten.elu -> Elu, aten.leaky_relu -> LeakyRelu: elementwise f32, layout-agnostic. Elu only
 * when PyTorch's scale and input_scale are 1 and alpha is one XNNPACK accepts (positive normal). */
#include <math.h>

#include "xnn_lower_internal.h"

#define X(field) XNND_XNNPACK_##field

/* Node kind and its input/output fields, by IR op. */
typedef struct math_node {
  xnnd_op op;
  uint8_t kind;
  uint32_t input_field, output_field;
} math_node;

static const math_node k_math_nodes[] = {
    {XNND_OP_ABS, X(Node_Abs), X(Abs_input_id), X(Abs_output_id)},
    {XNND_OP_CEIL, X(Node_Ceiling), X(Ceiling_input_id), X(Ceiling_output_id)},
    {XNND_OP_FLOOR, X(Node_Floor), X(Floor_input_id), X(Floor_output_id)},
    {XNND_OP_NEG, X(Node_Negate), X(Negate_input_id), X(Negate_output_id)},
    {XNND_OP_SQRT, X(Node_SquareRoot), X(SquareRoot_input_id), X(SquareRoot_output_id)},
    {XNND_OP_ROUND, X(Node_BankersRounding), X(BankersRounding_input_id), X(BankersRounding_output_id)},
    {XNND_OP_ELU, X(Node_Elu), X(Elu_input_id), X(Elu_output_id)},
    {XNND_OP_LEAKY_RELU, X(Node_LeakyRelu), X(LeakyRelu_input_id), X(LeakyRelu_output_id)},
};

static const math_node* find_math_node(xnnd_op op) {
  for (size_t i = 0; i < sizeof(k_math_nodes) / sizeof(k_math_nodes[0]); i++)
    if (k_math_nodes[i].op == op) return &k_math_nodes[i];
  return NULL;
}

bool xnn_check_math(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!find_math_node(node->op)) return xnn_reason(reason, reason_size, "not an elementwise math op");
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed unary op");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  if (node->op == XNND_OP_ELU) {
    double alpha = xnn_attr_float(node, "alpha", 1.0), scale = xnn_attr_float(node, "scale", 1.0),
           input_scale = xnn_attr_float(node, "input_scale", 1.0);
    if (scale != 1.0 || input_scale != 1.0)
      return xnn_reason(reason, reason_size, "XNNPACK's Elu has no scale (%g) or input_scale (%g)", scale,
                        input_scale);
    if (!(isnormal((float)alpha) && alpha > 0))
      return xnn_reason(reason, reason_size, "XNNPACK's Elu needs a positive alpha, got %g", alpha);
  }
  if (node->op == XNND_OP_LEAKY_RELU && !isfinite((float)xnn_attr_float(node, "negative_slope", 0.01)))
    return xnn_reason(reason, reason_size, "negative_slope is not finite in f32");
  return true;
}

xnnd_status xnn_lower_math(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  const math_node* m = find_math_node(node->op);
  if (!m) return XNND_INTERNAL;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  if (node->op == XNND_OP_ELU)
    fb_add_f32(fb, X(Elu_alpha), (float)xnn_attr_float(node, "alpha", 1.0), 1.0f);
  if (node->op == XNND_OP_LEAKY_RELU)
    fb_add_f32(fb, X(LeakyRelu_negative_slope), (float)xnn_attr_float(node, "negative_slope", 0.01), 0.0f);
  fb_add_u32(fb, m->input_field, input, UINT32_MAX);
  fb_add_u32(fb, m->output_field, output, UINT32_MAX);
  return xnn_b_node(b, m->kind, fb_table_end(fb));
}
