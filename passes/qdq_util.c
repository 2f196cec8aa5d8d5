/* Q/DQ matchers and the expansion of a quantized node back into dequantize -> f32 -> quantize
 * (passes/qdq.h). The expansion is exact in structure: the f32 op sees the dequantized
 * inputs, as in PyTorch's reference model, and its output is quantized with the parameters
 * the quantized node's output carries; only the i32 bias is rounded (to its scale). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/qdq.h"

bool xnnd_qdq_is_static_per_tensor(const xnnd_graph* g, xnnd_id node) {
  if (node >= g->num_nodes) return false;
  const xnnd_ir_node* n = &g->nodes[node];
  if (n->dead || (n->op != XNND_OP_QUANTIZE && n->op != XNND_OP_DEQUANTIZE)) return false;
  if (n->attrs[0].kind != XNND_ATTR_FLOAT || n->attrs[2].i != -1 || n->num_inputs > 1) return false;
  xnnd_id q = n->op == XNND_OP_QUANTIZE ? n->outputs[0] : n->inputs[0];
  const xnnd_ir_value* v = &g->values[q];
  return v->dtype == XNND_I8 && v->quant.scheme == XNND_QUANT_PER_TENSOR &&
         v->quant.scale == (float)n->attrs[0].f && v->quant.zero_point == n->attrs[1].i;
}

xnnd_id xnnd_qdq_producer(const xnnd_graph* g, xnnd_id v, xnnd_op op) {
  if (v >= g->num_values) return XNND_NO_ID;
  xnnd_id p = g->values[v].producer;
  if (p >= g->num_nodes || g->nodes[p].dead || g->nodes[p].op != op) return XNND_NO_ID;
  return p;
}

bool xnnd_qdq_same_params(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  return a->quant.scheme == XNND_QUANT_PER_TENSOR && b->quant.scheme == XNND_QUANT_PER_TENSOR &&
         a->dtype == b->dtype && a->quant.scale == b->quant.scale && a->quant.zero_point == b->quant.zero_point;
}

bool xnnd_qdq_node_is_quantized(const xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  if (n->dead || n->op == XNND_OP_QUANTIZE || n->op == XNND_OP_DEQUANTIZE) return false;
  for (uint32_t i = 0; i < n->num_inputs; i++)
    if (n->inputs[i] != XNND_NO_ID && g->values[n->inputs[i]].quant.scheme != XNND_QUANT_NONE) return true;
  for (uint32_t k = 0; k < n->num_outputs; k++)
    if (g->values[n->outputs[k]].quant.scheme != XNND_QUANT_NONE) return true;
  return false;
}

/* Attributes of a quantize/dequantize node for quantization q of an i8/u8 value; per channel
 * adds the scales and zero points as constants to ins[1], ins[2]. Returns the input count. */
static uint32_t qdq_operands(xnnd_graph* g, xnnd_id qvalue, xnnd_attr attrs[XNND_MAX_ATTRS], xnnd_id ins[3]) {
  memset(attrs, 0, sizeof(xnnd_attr) * XNND_MAX_ATTRS);
  const xnnd_ir_value* v = &g->values[qvalue];
  xnnd_quant q = v->quant;
  xnnd_dtype dt = v->dtype;
  char hint[96];
  attrs[1] = (xnnd_attr){.kind = XNND_ATTR_INT, .i = 0};
  attrs[2] = (xnnd_attr){.kind = XNND_ATTR_INT, .i = -1};
  attrs[3] = (xnnd_attr){.kind = XNND_ATTR_INT, .i = dt};
  if (q.scheme == XNND_QUANT_PER_TENSOR) {
    attrs[0] = (xnnd_attr){.kind = XNND_ATTR_FLOAT, .f = q.scale};
    attrs[1].i = q.zero_point;
    return 1;
  }
  int64_t c = q.num_channels;
  attrs[2].i = q.axis;
  snprintf(hint, sizeof(hint), "%.80s_scales", v->name);
  ins[1] = xnnd_add_f32_const(g, hint, 1, &c, q.scales);
  snprintf(hint, sizeof(hint), "%.80s_zero_points", g->values[qvalue].name);
  ins[2] = xnnd_add_value_hint(g, hint, XNND_I32, 1, &c);
  if (ins[1] == XNND_NO_ID || ins[2] == XNND_NO_ID ||
      xnnd_graph_set_constant(g, ins[2], q.zero_points, sizeof(int32_t) * (size_t)c) != XNND_OK)
    return 0;
  return 3;
}

/* f32 copy of a quantized i32 constant (a bias): (q - zp) * scale per element or channel. */
static xnnd_id dequantized_i32_const(xnnd_graph* g, xnnd_id id) {
  const xnnd_ir_value* v = &g->values[id];
  size_t n = xnnd_value_numel(g, id);
  float* f = malloc(sizeof(float) * (n ? n : 1));
  if (!f) return XNND_NO_ID;
  const int32_t* d = v->data;
  const xnnd_quant* q = &v->quant;
  size_t inner = 1;
  if (q->scheme == XNND_QUANT_PER_CHANNEL)
    for (uint32_t k = (uint32_t)q->axis + 1; k < v->rank; k++) inner *= (size_t)v->dims[k];
  for (size_t i = 0; i < n; i++) {
    size_t c = q->scheme == XNND_QUANT_PER_CHANNEL ? (i / inner) % q->num_channels : 0;
    float s = q->scheme == XNND_QUANT_PER_CHANNEL ? q->scales[c] : q->scale;
    int32_t z = q->scheme == XNND_QUANT_PER_CHANNEL ? q->zero_points[c] : q->zero_point;
    f[i] = (float)((double)d[i] - z) * s;
  }
  char hint[96];
  snprintf(hint, sizeof(hint), "%.80s_f32", v->name);
  int64_t dims[XNND_MAX_RANK];
  uint32_t rank = v->rank;
  memcpy(dims, v->dims, sizeof(dims));
  xnnd_id out = xnnd_add_f32_const(g, hint, rank, dims, f);
  free(f);
  return out;
}

xnnd_status xnnd_qdq_expand(xnnd_graph* g, xnnd_id node) {
  xnnd_ir_node* n = &g->nodes[node];
  if (n->num_outputs != 1) {
    snprintf(g->errmsg, sizeof(g->errmsg), "qdq expand: node %u has %u outputs", node, n->num_outputs);
    return XNND_UNSUPPORTED;
  }
  xnnd_op op = n->op;
  uint32_t num_inputs = n->num_inputs;
  xnnd_id ins[8], out = n->outputs[0];
  xnnd_attr attrs[XNND_MAX_ATTRS];
  memcpy(attrs, n->attrs, sizeof(attrs));
  const xnnd_dimx* attr_dimx[XNND_MAX_ATTRS];
  memcpy(attr_dimx, n->attr_dimx, sizeof(attr_dimx));
  float lo = n->output_min, hi = n->output_max;
  if (num_inputs > 8) return XNND_UNSUPPORTED;
  memcpy(ins, n->inputs, sizeof(xnnd_id) * num_inputs);
  char hint[96];
  for (uint32_t i = 0; i < num_inputs; i++) {
    xnnd_id v = ins[i];
    if (v == XNND_NO_ID || g->values[v].quant.scheme == XNND_QUANT_NONE) continue;
    if (g->values[v].dtype == XNND_I32) {
      if (!g->values[v].data) return XNND_UNSUPPORTED;
      ins[i] = dequantized_i32_const(g, v);
      if (ins[i] == XNND_NO_ID) return XNND_OUT_OF_MEMORY;
      continue;
    }
    xnnd_attr qa[XNND_MAX_ATTRS];
    xnnd_id dq_in[3] = {v, XNND_NO_ID, XNND_NO_ID};
    uint32_t nq = qdq_operands(g, v, qa, dq_in);
    if (nq == 0) return XNND_OUT_OF_MEMORY;
    snprintf(hint, sizeof(hint), "%.80s_dq", g->values[v].name);
    int64_t dims[XNND_MAX_RANK];
    memcpy(dims, g->values[v].dims, sizeof(dims));
    xnnd_id f = xnnd_add_value_hint(g, hint, XNND_F32, g->values[v].rank, dims);
    if (f == XNND_NO_ID || xnnd_emit_node(g, XNND_OP_DEQUANTIZE, dq_in, nq, qa, f) == XNND_NO_ID)
      return XNND_INTERNAL;
    ins[i] = f;
  }
  xnnd_id result = out;
  if (g->values[out].quant.scheme != XNND_QUANT_NONE) {
    snprintf(hint, sizeof(hint), "%.80s_f32", g->values[out].name);
    int64_t dims[XNND_MAX_RANK];
    memcpy(dims, g->values[out].dims, sizeof(dims));
    result = xnnd_add_value_hint(g, hint, XNND_F32, g->values[out].rank, dims);
    if (result == XNND_NO_ID) return XNND_INTERNAL;
  }
  g->nodes[node].dead = true;
  xnnd_id fnode = xnnd_emit_node_dimx(g, op, ins, num_inputs, attrs, attr_dimx, result);
  if (fnode == XNND_NO_ID) return XNND_INTERNAL;
  g->nodes[fnode].output_min = lo;
  g->nodes[fnode].output_max = hi;
  if (result != out) {
    xnnd_attr qa[XNND_MAX_ATTRS];
    xnnd_id q_in[3] = {result, XNND_NO_ID, XNND_NO_ID};
    uint32_t nq = qdq_operands(g, out, qa, q_in);
    if (nq == 0 || xnnd_emit_node(g, XNND_OP_QUANTIZE, q_in, nq, qa, out) == XNND_NO_ID) return XNND_INTERNAL;
  }
  return XNND_OK;
}

xnnd_status xnnd_qdq_expand_undelegated(xnnd_graph* g, const int32_t* node_part, uint32_t* expanded) {
  uint32_t count = g->num_nodes;
  if (expanded) *expanded = 0;
  for (uint32_t n = 0; n < count; n++) {
    if ((node_part && node_part[n] >= 0) || !xnnd_qdq_node_is_quantized(g, n)) continue;
    xnnd_status st = xnnd_qdq_expand(g, n);
    if (st != XNND_OK) return st;
    if (expanded) (*expanded)++;
  }
  return XNND_OK;
}
