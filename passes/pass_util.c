/* Small queries, constructors and matchers shared by passes. None of them keeps a pointer
 * into the value or node arrays across a call that may grow them. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

bool xnnd_value_is_const(const xnnd_graph* g, xnnd_id v) {
  return v < g->num_values && g->values[v].data != NULL;
}

bool xnnd_value_is_plain_f32(const xnnd_graph* g, xnnd_id v) {
  if (v >= g->num_values) return false;
  const xnnd_ir_value* val = &g->values[v];
  return val->dtype == XNND_F32 && val->quant.scheme == XNND_QUANT_NONE &&
         val->layout == XNND_LAYOUT_CONTIGUOUS;
}

const float* xnnd_const_f32(const xnnd_graph* g, xnnd_id v) {
  if (!xnnd_value_is_const(g, v) || !xnnd_value_is_plain_f32(g, v)) return NULL;
  return (const float*)g->values[v].data;
}

bool xnnd_value_is_graph_output(const xnnd_graph* g, xnnd_id v) {
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == v) return true;
  return false;
}

xnnd_id xnnd_single_consumer(const xnnd_graph* g, xnnd_id v) { return xnnd_graph_sole_user(g, v); }

size_t xnnd_value_numel(const xnnd_graph* g, xnnd_id v) {
  size_t n = 1;
  for (uint32_t i = 0; i < g->values[v].rank; i++) n *= (size_t)g->values[v].dims[i];
  return n;
}

bool xnnd_same_dims(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  return xnnd_value_same_dims(a, b);
}

bool xnnd_node_has_range(const xnnd_ir_node* n) {
  return isfinite(n->output_min) || isfinite(n->output_max);
}

xnnd_id xnnd_add_value_hint(xnnd_graph* g, const char* name_hint, xnnd_dtype dtype,
                            uint32_t rank, const int64_t* dims) {
  char name[96];
  xnnd_graph_unique_name(g, name_hint, name, sizeof(name));
  return xnnd_graph_add_value(g, name, dtype, rank, dims);
}

xnnd_id xnnd_add_f32_const(xnnd_graph* g, const char* name_hint, uint32_t rank,
                           const int64_t* dims, const float* data) {
  xnnd_id id = xnnd_add_value_hint(g, name_hint, XNND_F32, rank, dims);
  if (id == XNND_NO_ID) return XNND_NO_ID;
  size_t numel = 1;
  for (uint32_t i = 0; i < rank; i++) numel *= (size_t)dims[i];
  if (xnnd_graph_set_constant(g, id, data, numel * sizeof(float)) != XNND_OK) return XNND_NO_ID;
  return id;
}

xnnd_id xnnd_emit_node_dimx(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                            const xnnd_attr* attrs, const xnnd_dimx* const* attr_dimx,
                            xnnd_id output) {
  const xnnd_op_info* info = xnnd_op_get(op);
  if (!info || info->num_outputs != 1 || output >= g->num_values) {
    snprintf(g->errmsg, sizeof(g->errmsg), "emit %s: needs a single-output op and a valid output",
             info ? info->name : "?");
    return XNND_NO_ID;
  }
  xnnd_ir_value want = g->values[output];
  /* a value the pass just made (no producer, no forms) takes the inferred forms */
  bool fresh = want.producer == XNND_NO_ID && !want.dimx;
  xnnd_id id = xnnd_graph_add_node(g, op, inputs, num_inputs, &output, 1);
  if (id == XNND_NO_ID) return XNND_NO_ID;
  if (attrs)
    for (uint32_t a = 0; a < info->num_attrs; a++) g->nodes[id].attrs[a] = attrs[a];
  xnnd_status st = XNND_OK;
  for (uint32_t a = 0; attr_dimx && a < XNND_MAX_ATTRS && st == XNND_OK; a++)
    if (attr_dimx[a]) st = xnnd_graph_set_attr_dimx(g, id, a, attr_dimx[a]);
  if (st == XNND_OK) st = xnnd_graph_infer_node(g, id);
  xnnd_ir_value* got = &g->values[output];
  if (st == XNND_OK && got->dtype != want.dtype) {
    snprintf(g->errmsg, sizeof(g->errmsg), "emit %s: shape inference disagrees with %%%s",
             info->name, want.name);
    st = XNND_INTERNAL;
  } else if (st == XNND_OK && !fresh && !xnnd_value_same_dims(got, &want)) {
    snprintf(g->errmsg, sizeof(g->errmsg), "emit %s: shape inference disagrees with %%%s",
             info->name, want.name);
    st = XNND_INTERNAL;
  } else if (st == XNND_OK && fresh && (got->rank != want.rank ||
                                        memcmp(got->dims, want.dims, sizeof(int64_t) * want.rank))) {
    snprintf(g->errmsg, sizeof(g->errmsg), "emit %s: shape inference disagrees with %%%s",
             info->name, want.name);
    st = XNND_INTERNAL;
  }
  if (st != XNND_OK) {
    g->nodes[id].dead = true;
    return XNND_NO_ID;
  }
  if (!fresh) got->dimx = want.dimx;  /* equal forms: keep the value's own */
  return id;
}

xnnd_id xnnd_emit_node(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                       const xnnd_attr* attrs, xnnd_id output) {
  return xnnd_emit_node_dimx(g, op, inputs, num_inputs, attrs, NULL, output);
}

uint32_t xnnd_remove_unused_nodes(xnnd_graph* g) {
  uint32_t* uses = malloc(sizeof(uint32_t) * ((size_t)g->num_values + 1));
  if (!uses) return 0;  /* leaving unused nodes in place is always correct */
  xnnd_graph_use_counts(g, uses);
  uint32_t removed = 0;
  bool again = true;
  while (again) {
    again = false;
    for (uint32_t n = g->num_nodes; n-- > 0;) {
      xnnd_ir_node* node = &g->nodes[n];
      if (node->dead) continue;
      bool used = false;
      for (uint32_t k = 0; k < node->num_outputs && !used; k++) used = uses[node->outputs[k]] != 0;
      if (used) continue;
      node->dead = true;
      removed++;
      again = true;
      for (uint32_t i = 0; i < node->num_inputs; i++) {
        xnnd_id v = node->inputs[i];
        bool seen = false;  /* use_counts counts a value once per node */
        for (uint32_t j = 0; j < i && !seen; j++) seen = node->inputs[j] == v;
        if (v < g->num_values && !seen && uses[v] > 0) uses[v]--;
      }
    }
  }
  free(uses);
  return removed;
}

/* ---- matrix products ---- */

static xnnd_id live_producer(const xnnd_graph* g, xnnd_id v, xnnd_op op) {
  if (v >= g->num_values) return XNND_NO_ID;
  xnnd_id p = g->values[v].producer;
  if (p >= g->num_nodes || g->nodes[p].dead || g->nodes[p].op != op) return XNND_NO_ID;
  return p;
}

bool xnnd_match_affine(const xnnd_graph* g, xnnd_id node, xnnd_affine* out) {
  const xnnd_ir_node* n = &g->nodes[node];
  memset(out, 0, sizeof(*out));
  out->node = node;
  out->alpha = out->beta = 1.0;
  out->bias = XNND_NO_ID;
  if (n->dead) return false;
  xnnd_id mat2;
  switch (n->op) {
    case XNND_OP_LINEAR:
      out->input = n->inputs[0];
      out->weight = n->inputs[1];
      out->bias = n->num_inputs > 2 ? n->inputs[2] : XNND_NO_ID;
      /* features are sizes the callers build constants from: they must be static */
      if (g->values[out->weight].rank != 2 || !xnnd_value_static(&g->values[out->weight]))
        return false;
      out->out_features = g->values[out->weight].dims[0];
      out->in_features = g->values[out->weight].dims[1];
      return true;
    case XNND_OP_ADDMM:
      out->bias = n->inputs[0];
      out->input = n->inputs[1];
      mat2 = n->inputs[2];
      out->beta = n->attrs[0].f;
      out->alpha = n->attrs[1].f;
      if (out->beta == 0.0) out->bias = XNND_NO_ID;  /* PyTorch ignores self when beta == 0 */
      break;
    case XNND_OP_MM:
      out->input = n->inputs[0];
      mat2 = n->inputs[1];
      break;
    default:
      return false;
  }
  if (g->values[mat2].rank != 2 || !xnnd_value_static(&g->values[mat2])) return false;
  xnnd_id t = live_producer(g, mat2, XNND_OP_T);
  if (t != XNND_NO_ID && g->values[g->nodes[t].inputs[0]].rank == 2) {
    out->weight = g->nodes[t].inputs[0];
    out->weight_transposed = false;
  } else if (xnnd_value_is_const(g, mat2)) {
    out->weight = mat2;
    out->weight_transposed = true;
  } else {
    return false;  /* a product of two activations */
  }
  out->in_features = g->values[mat2].dims[0];
  out->out_features = g->values[mat2].dims[1];
  return true;
}

void xnnd_affine_weight(const xnnd_graph* g, const xnnd_affine* a, float* dst) {
  const float* w = (const float*)g->values[a->weight].data;
  int64_t o = a->out_features, in = a->in_features;
  float alpha = (float)a->alpha;
  for (int64_t r = 0; r < o; r++)
    for (int64_t c = 0; c < in; c++)
      dst[r * in + c] = alpha * (a->weight_transposed ? w[c * o + r] : w[r * in + c]);
}

bool xnnd_affine_bias(const xnnd_graph* g, const xnnd_affine* a, float* dst) {
  int64_t o = a->out_features;
  if (a->bias == XNND_NO_ID) {
    for (int64_t r = 0; r < o; r++) dst[r] = 0.0f;
    return true;
  }
  const float* b = xnnd_const_f32(g, a->bias);
  if (!b) return false;
  const xnnd_ir_value* bv = &g->values[a->bias];
  size_t numel = xnnd_value_numel(g, a->bias);
  /* broadcast over rows only: every dim but the last is 1 */
  for (uint32_t i = 0; i + 1 < bv->rank; i++)
    if (bv->dims[i] != 1) return false;
  if (numel != 1 && numel != (size_t)o) return false;
  float beta = (float)a->beta;
  for (int64_t r = 0; r < o; r++) dst[r] = beta * b[numel == 1 ? 0 : r];
  return true;
}
