/* aten.addmm(bias, x, mat2) and aten.mm(x, mat2) -> FullyConnected. mat2 [in, out] must be
 * aten.t of a constant W [out, in] (then W is the filter as is) or itself a constant (then it
 * is transposed here). addmm needs beta == alpha == 1 and a constant bias of [out] or [1, out].
 * aten.t of a 2-D constant is "lowered" to nothing: its consumers read through it. */
#include "xnn_lower_internal.h"

static bool check_matmul(const xnnd_graph* g, const xnnd_ir_node* node, xnnd_id x_id, xnnd_id m_id, char* reason,
                         size_t reason_size) {
  if (!xnn_check_value(g, x_id, "mat1", reason, reason_size) ||
      !xnn_check_value(g, m_id, "mat2", reason, reason_size) ||
      !xnn_check_value(g, node->outputs[0], "output", reason, reason_size))
    return false;
  const xnnd_ir_value* x = &g->values[x_id];
  const xnnd_ir_value* m = &g->values[m_id];
  if (x->rank != 2 || m->rank != 2) return xnn_reason(reason, reason_size, "mat1 and mat2 must be 2-D");
  if (m->data == NULL && xnn_t_source(g, m_id) == XNND_NO_ID)
    return xnn_reason(reason, reason_size, "mat2 %%%s is neither a constant nor aten.t of a 2-D constant", m->name);
  if (m->dims[0] != x->dims[1])
    return xnn_reason(reason, reason_size, "mat2 %%%s has %lld rows, mat1 has %lld columns", m->name,
                      (long long)m->dims[0], (long long)x->dims[1]);
  return true;
}

bool xnn_check_addmm(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 3 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed addmm");
  double beta = xnn_attr_float(node, "beta", 1.0), alpha = xnn_attr_float(node, "alpha", 1.0);
  if (beta != 1.0 || alpha != 1.0)
    return xnn_reason(reason, reason_size, "beta %g / alpha %g: only beta == alpha == 1 is lowered", beta, alpha);
  if (!check_matmul(g, node, node->inputs[1], node->inputs[2], reason, reason_size)) return false;
  xnnd_id b_id = node->inputs[0];
  if (!xnn_check_value(g, b_id, "bias", reason, reason_size)) return false;
  const xnnd_ir_value* bias = &g->values[b_id];
  int64_t out = g->values[node->inputs[2]].dims[1];
  bool shape_ok = (bias->rank == 1 && bias->dims[0] == out) || (bias->rank == 2 && bias->dims[0] == 1 && bias->dims[1] == out);
  if (bias->data == NULL || !shape_ok)
    return xnn_reason(reason, reason_size, "bias %%%s must be a constant [%lld] or [1, %lld]", bias->name,
                      (long long)out, (long long)out);
  return true;
}

bool xnn_check_mm(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 2 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed mm");
  return check_matmul(g, node, node->inputs[0], node->inputs[1], reason, reason_size);
}

static uint32_t filter_of(xnnd_xnn_builder* b, const xnnd_graph* g, xnnd_id mat2) {
  xnnd_id w = xnn_t_source(g, mat2);
  if (w != XNND_NO_ID) return xnn_b_operand(b, w);   /* t(W): W [out, in] is the filter */
  return xnn_b_constant_transposed(b, mat2);        /* [in, out] -> [out, in] */
}

xnnd_status xnn_lower_addmm(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t input = xnn_b_operand(b, node->inputs[1]);
  uint32_t filter = filter_of(b, g, node->inputs[2]);
  const xnnd_ir_value* bv = &g->values[node->inputs[0]];
  uint32_t bias;
  if (bv->rank == 1) {
    bias = xnn_b_operand(b, node->inputs[0]);
  } else {
    uint32_t dims[1] = {(uint32_t)bv->dims[1]};
    bias = xnn_b_constant_f32(b, 1, dims, bv->data);
  }
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  return xnn_emit_fully_connected(b, input, filter, bias, output, node->output_min, node->output_max);
}

xnnd_status xnn_lower_mm(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  uint32_t input = xnn_b_operand(b, node->inputs[0]);
  uint32_t filter = filter_of(b, g, node->inputs[1]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  return xnn_emit_fully_connected(b, input, filter, XNN_NO_VALUE, output, node->output_min, node->output_max);
}

bool xnn_check_t(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size) {
  if (node->num_inputs < 1 || node->num_outputs < 1) return xnn_reason(reason, reason_size, "malformed t");
  if (!xnn_check_value(g, node->inputs[0], "input", reason, reason_size)) return false;
  const xnnd_ir_value* v = &g->values[node->inputs[0]];
  if (v->data == NULL || v->rank != 2)
    return xnn_reason(reason, reason_size, "aten.t is folded at lowering time; input %%%s must be a 2-D constant "
                      "(XNNPACK has no transpose node)", v->name);
  return true;
}

xnnd_status xnn_lower_t(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node) {
  /* Consumers read through t; only a t leaving the partition needs a node (a copy). */
  if (!xnn_b_is_external_output(b, node->outputs[0])) return XNND_OK;
  const xnnd_ir_value* out = &g->values[node->outputs[0]];
  uint32_t src = xnn_b_constant_transposed(b, node->inputs[0]);
  uint32_t output = xnn_b_output(b, node->outputs[0]);
  uint32_t dims[2] = {(uint32_t)out->dims[0], (uint32_t)out->dims[1]};
  return xnn_emit_reshape(b, src, output, 2, dims);
}
