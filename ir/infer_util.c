/* Helpers shared by shape inference: input and attribute access with checks whose
 * messages name the node ("node N (op)") and the value ("%name"). Inference may assume
 * the structural checks passed (ids in range, arity, attribute kinds). */
#include <stdio.h>
#include <string.h>

#include "ir_internal.h"

const char* ir_value_name(const xnnd_graph* g, xnnd_id v) {
  if (v == XNND_NO_ID) return "_";
  if (v >= g->num_values || !g->values[v].name) return "?";
  return g->values[v].name;
}

const char* ir_op_name(xnnd_op op) {
  const xnnd_op_info* info = xnnd_op_get(op);
  return info ? info->name : "?";
}

const char* ir_attr_name(xnnd_op op, uint32_t attr) {
  const xnnd_op_info* info = xnnd_op_get(op);
  return info && attr < info->num_attrs ? info->attrs[attr].name : "?";
}

xnnd_status ir_node_error(xnnd_graph* g, xnnd_id node, const char* fmt, ...) {
  int n = snprintf(g->errmsg, sizeof(g->errmsg), "node %u (%s): ", node,
                   node < g->num_nodes ? ir_op_name(g->nodes[node].op) : "?");
  if (n < 0 || (size_t)n >= sizeof(g->errmsg)) return XNND_VERIFY_ERROR;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->errmsg + n, sizeof(g->errmsg) - (size_t)n, fmt, ap);
  va_end(ap);
  return XNND_VERIFY_ERROR;
}

xnnd_status ir_attr_error(xnnd_graph* g, xnnd_id node, const char* fmt, ...) {
  const xnnd_ir_node* n = node < g->num_nodes ? &g->nodes[node] : NULL;
  int len;
  if (n && n->num_outputs > 0 && n->outputs[0] < g->num_values)
    len = snprintf(g->errmsg, sizeof(g->errmsg), "node %u (%s): output %%%s: ", node,
                   ir_op_name(n->op), ir_value_name(g, n->outputs[0]));
  else
    len = snprintf(g->errmsg, sizeof(g->errmsg), "node %u (%s): ", node,
                   n ? ir_op_name(n->op) : "?");
  if (len < 0 || (size_t)len >= sizeof(g->errmsg)) return XNND_VERIFY_ERROR;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->errmsg + len, sizeof(g->errmsg) - (size_t)len, fmt, ap);
  va_end(ap);
  return XNND_VERIFY_ERROR;
}

const char* ir_format_dims(char* buf, size_t cap, uint32_t rank, const int64_t* dims) {
  size_t len = 0;
  buf[0] = '\0';
  if (rank > XNND_MAX_RANK) rank = XNND_MAX_RANK;
  len += (size_t)snprintf(buf, cap, "[");
  for (uint32_t i = 0; i < rank && len < cap; i++)
    len += (size_t)snprintf(buf + len, cap - len, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (len < cap) snprintf(buf + len, cap - len, "]");
  return buf;
}

const xnnd_ir_value* ir_input(const xnnd_graph* g, xnnd_id node, uint32_t i) {
  const xnnd_ir_node* n = &g->nodes[node];
  if (i >= n->num_inputs) return NULL;
  xnnd_id v = n->inputs[i];
  return v < g->num_values ? &g->values[v] : NULL;
}

xnnd_status ir_require_input(xnnd_graph* g, xnnd_id node, uint32_t i, const xnnd_ir_value** out) {
  *out = ir_input(g, node, i);
  if (!*out) return ir_node_error(g, node, "input %u is missing", i);
  return XNND_OK;
}

xnnd_status ir_input_rank_range(xnnd_graph* g, xnnd_id node, uint32_t i, uint32_t lo, uint32_t hi,
                                const xnnd_ir_value** out) {
  IR_TRY(ir_require_input(g, node, i, out));
  uint32_t r = (*out)->rank;
  if (r < lo || r > hi) {
    if (lo == hi)
      return ir_node_error(g, node, "input %u %%%s has rank %u, expected %u", i, (*out)->name, r,
                           lo);
    return ir_node_error(g, node, "input %u %%%s has rank %u, expected %u to %u", i, (*out)->name,
                         r, lo, hi);
  }
  return XNND_OK;
}

xnnd_status ir_input_rank(xnnd_graph* g, xnnd_id node, uint32_t i, uint32_t rank,
                          const xnnd_ir_value** out) {
  return ir_input_rank_range(g, node, i, rank, rank, out);
}

xnnd_status ir_input_dtype(xnnd_graph* g, xnnd_id node, uint32_t i, xnnd_dtype dtype) {
  const xnnd_ir_value* v = ir_input(g, node, i);
  if (v && v->dtype != dtype)
    return ir_node_error(g, node, "input %u %%%s has dtype %s, expected %s", i, v->name,
                         xnnd_dtype_name(v->dtype), xnnd_dtype_name(dtype));
  return XNND_OK;
}

xnnd_status ir_input_vector(xnnd_graph* g, xnnd_id node, uint32_t i, int64_t len) {
  const xnnd_ir_value* v = ir_input(g, node, i);
  if (!v) return XNND_OK;
  if (v->rank != 1 || v->dims[0] != len) {
    char buf[160];
    return ir_node_error(g, node, "input %u %%%s has shape %s, expected [%lld]", i, v->name,
                         ir_format_dims(buf, sizeof buf, v->rank, v->dims), (long long)len);
  }
  return XNND_OK;
}

xnnd_status ir_attr_ints(xnnd_graph* g, xnnd_id node, uint32_t attr, uint32_t count, int64_t lo,
                         int64_t* out) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* a = &n->attrs[attr];
  const char* name = ir_attr_name(n->op, attr);
  if (a->kind != XNND_ATTR_INTS || a->n != count)
    return ir_attr_error(g, node, "attribute %s must list %u ints", name, count);
  for (uint32_t i = 0; i < count; i++) {
    if (a->ints[i] < lo || a->ints[i] > IR_MAX_ATTR_VALUE)
      return ir_attr_error(g, node, "attribute %s[%u] = %lld out of range [%lld, %lld]", name, i,
                           (long long)a->ints[i], (long long)lo, (long long)IR_MAX_ATTR_VALUE);
    out[i] = a->ints[i];
  }
  return XNND_OK;
}

xnnd_status ir_attr_dim(xnnd_graph* g, xnnd_id node, uint32_t attr, int64_t dim, uint32_t rank,
                        uint32_t* out) {
  int64_t r = rank == 0 ? 1 : (int64_t)rank;
  if (dim < -r || dim >= r)
    return ir_attr_error(g, node, "attribute %s: dim %lld out of range for rank %u",
                         ir_attr_name(g->nodes[node].op, attr), (long long)dim, rank);
  *out = (uint32_t)(dim < 0 ? dim + r : dim);
  return XNND_OK;
}

xnnd_status ir_set_output(xnnd_graph* g, xnnd_id node, uint32_t k, xnnd_dtype dtype,
                          uint32_t rank, const int64_t* dims) {
  const xnnd_ir_node* n = &g->nodes[node];
  if (k >= n->num_outputs || n->outputs[k] >= g->num_values)
    return ir_node_error(g, node, "output %u is missing", k);
  if (!ir_numel(dtype, rank, dims, NULL)) {
    char buf[200];
    return ir_node_error(g, node, "output %u %%%s: inferred shape %s is negative or too large", k,
                         g->values[n->outputs[k]].name,
                         ir_format_dims(buf, sizeof buf, rank, dims));
  }
  xnnd_ir_value* v = &g->values[n->outputs[k]];
  v->dtype = dtype;
  v->rank = rank;
  for (uint32_t i = 0; i < XNND_MAX_RANK; i++) v->dims[i] = i < rank ? dims[i] : 0;
  return XNND_OK;
}

xnnd_status ir_broadcast(xnnd_graph* g, xnnd_id node, uint32_t ia, uint32_t ib, uint32_t* rank_out,
                         int64_t* dims_out) {
  const xnnd_ir_value *a, *b;
  IR_TRY(ir_require_input(g, node, ia, &a));
  IR_TRY(ir_require_input(g, node, ib, &b));
  uint32_t r = a->rank > b->rank ? a->rank : b->rank;
  for (uint32_t i = 0; i < r; i++) {
    /* align from the right */
    int64_t da = i + a->rank >= r ? a->dims[i + a->rank - r] : 1;
    int64_t db = i + b->rank >= r ? b->dims[i + b->rank - r] : 1;
    if (da != db && da != 1 && db != 1) {
      char ba[160], bb[160];
      return ir_node_error(g, node, "inputs %%%s %s and %%%s %s do not broadcast", a->name,
                           ir_format_dims(ba, sizeof ba, a->rank, a->dims), b->name,
                           ir_format_dims(bb, sizeof bb, b->rank, b->dims));
    }
    dims_out[i] = da == 1 ? db : da;
  }
  *rank_out = r;
  return XNND_OK;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

xnnd_status ir_pool_shape(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x, uint32_t nsp,
                          const int64_t* k, const int64_t* s, const int64_t* p, const int64_t* d,
                          bool ceil_mode, int64_t* out) {
  uint32_t r = x->rank;
  for (uint32_t i = 0; i < r - nsp; i++) out[i] = x->dims[i];
  for (uint32_t i = 0; i < nsp; i++) {
    if (p[i] > k[i] / 2)
      return ir_attr_error(g, node, "padding[%u] = %lld must be at most half the kernel size "
                           "%lld", i, (long long)p[i], (long long)k[i]);
    int64_t in = x->dims[r - nsp + i];
    int64_t o = floor_div(in + 2 * p[i] - d[i] * (k[i] - 1) - 1 + (ceil_mode ? s[i] - 1 : 0),
                          s[i]) + 1;
    if (ceil_mode && (o - 1) * s[i] >= in + p[i]) o--;
    if (o < 1)
      return ir_node_error(g, node, "input 0 %%%s: size %lld in dim %u gives output size %lld, "
                           "which is too small", x->name, (long long)in, r - nsp + i, (long long)o);
    out[r - nsp + i] = o;
  }
  return XNND_OK;
}
