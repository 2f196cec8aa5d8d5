/* aten.sigmoid -> Sigmoid, aten.hardswish -> Hardswish (elementwise, layout-agnostic), and
 * the identities aten.clone / aten.dropout(train=false) -> a StaticReshape copy. */
#include "xnn_lower_internal.h"

static bool check_in_out(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed unary op");
  return xnn_check_value(g, node->inputs[0], "input", reason, reason_size) &&
         xnn_check_value(g, node->outputs[0], "output", reason, reason_size);
}

bool xnn_check_unary(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  return check_in_out(g, node, reason, reason_size);
}

xnnd_status xnn_lower_unary(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  (void)g;
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  if (xnn_b_status(b) != XNND_OK) return xnn_b_status(b);
  fb_builder* fb = xnn_b_fb(b);
  fb_table_start(fb);
  if (node->op == XNND_OP_SIGMOID) {
    fb_add_u32(fb, XNND_XNNPACK_Sigmoid_input_id, input, UINT32_MAX);
    fb_add_u32(fb, XNND_XNNPACK_Sigmoid_output_id, output, UINT32_MAX);
    return xnn_b_node(b, XNND_XNNPACK_Node_Sigmoid, fb_table_end(fb));
  }
  fb_add_u32(fb, XNND_XNNPACK_Hardswish_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Hardswish_output_id, output, UINT32_MAX);
  return xnn_b_node(b, XNND_XNNPACK_Node_Hardswish, fb_table_end(fb));
}

bool xnn_check_identity(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (!check_in_out(g, node, reason, reason_size)) return false;
  if (node->op == XNND_OP_DROPOUT && xnn_attr_int(node, "train", 0))
    return xnn_reason(reason, reason_size, "dropout with train=true is not an identity");
  return true;
}

xnnd_status xnn_lower_identity(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank = xnn_blob_dims(&g->values[node->outputs[0]], dims);
  return xnn_emit_reshape(b, input, output, rank, dims);
}
