/* xnnd_graph_verify: every invariant of the IR, checked in dependency order (values, graph
 * inputs/outputs, node structure, producers, definitions, order, then per-op shape
 * inference) so later checks may rely on earlier ones. Messages name node and value. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

/* Prefix a value-level error with a node that touches the value, so the message points
 * at a place in the graph: "node 3 (aten.convolution): input 1 %w: ...". */
static xnnd_status value_error(xnnd_graph* g, xnnd_id v, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static xnnd_status value_error(xnnd_graph* g, xnnd_id v, const char* fmt, ...) {
  char prefix[200];
  const char* name = ir_value_name(g, v);
  snprintf(prefix, sizeof prefix, "value %u %%%s: ", v, name);
  bool found = false;
  for (uint32_t n = 0; n < g->num_nodes && !found; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t k = 0; k < node->num_outputs && k < 3 && !found; k++)
      if (node->outputs[k] == v) {
        snprintf(prefix, sizeof prefix, "node %u (%s): output %u %%%s: ", n, ir_op_name(node->op),
                 k, name);
        found = true;
      }
    for (uint32_t i = 0; i < node->num_inputs && node->inputs && !found; i++)
      if (node->inputs[i] == v) {
        snprintf(prefix, sizeof prefix, "node %u (%s): input %u %%%s: ", n, ir_op_name(node->op),
                 i, name);
        found = true;
      }
  }
  for (uint32_t i = 0; i < g->num_inputs && !found; i++)
    if (g->inputs[i] == v) {
      snprintf(prefix, sizeof prefix, "graph input %u %%%s: ", i, name);
      found = true;
    }
  size_t len = strlen(prefix);
  memcpy(g->errmsg, prefix, len + 1 < sizeof(g->errmsg) ? len + 1 : sizeof(g->errmsg));
  if (len + 1 < sizeof(g->errmsg)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->errmsg + len, sizeof(g->errmsg) - len, fmt, ap);
    va_end(ap);
  }
  return XNND_VERIFY_ERROR;
}

static bool quantizable(xnnd_dtype d) { return d == XNND_I8 || d == XNND_U8 || d == XNND_I32; }

static bool zero_point_fits(xnnd_dtype d, int32_t zp) {
  if (d == XNND_I8) return zp >= -128 && zp <= 127;
  if (d == XNND_U8) return zp >= 0 && zp <= 255;
  return true;
}

static bool good_scale(float s) { return isfinite(s) && s > 0; }

static xnnd_status check_quant(xnnd_graph* g, xnnd_id id) {
  const xnnd_ir_value* v = &g->values[id];
  const xnnd_quant* q = &v->quant;
  if (q->scheme == XNND_QUANT_NONE) return XNND_OK;
  if (q->scheme != XNND_QUANT_PER_TENSOR && q->scheme != XNND_QUANT_PER_CHANNEL)
    return value_error(g, id, "invalid quantization scheme %d", (int)q->scheme);
  if (!quantizable(v->dtype))
    return value_error(g, id, "dtype %s cannot be quantized (i8, u8 or i32)",
                       xnnd_dtype_name(v->dtype));
  if (q->scheme == XNND_QUANT_PER_TENSOR) {
    if (!good_scale(q->scale))
      return value_error(g, id, "quantization scale %g must be finite and > 0", (double)q->scale);
    if (!zero_point_fits(v->dtype, q->zero_point))
      return value_error(g, id, "zero point %d does not fit %s", q->zero_point,
                         xnnd_dtype_name(v->dtype));
    return XNND_OK;
  }
  if (q->axis < 0 || (uint32_t)q->axis >= v->rank)
    return value_error(g, id, "per-channel axis %d out of range for rank %u", q->axis, v->rank);
  if ((int64_t)q->num_channels != v->dims[q->axis])
    return value_error(g, id, "per-channel quantization has %u channels but dims[%d] = %lld",
                       q->num_channels, q->axis, (long long)v->dims[q->axis]);
  if (!q->scales || !q->zero_points)
    return value_error(g, id, "per-channel scales or zero points are missing");
  for (uint32_t c = 0; c < q->num_channels; c++) {
    if (!good_scale(q->scales[c]))
      return value_error(g, id, "channel %u scale %g must be finite and > 0", c,
                         (double)q->scales[c]);
    if (!zero_point_fits(v->dtype, q->zero_points[c]))
      return value_error(g, id, "channel %u zero point %d does not fit %s", c,
                         q->zero_points[c], xnnd_dtype_name(v->dtype));
  }
  return XNND_OK;
}

/* The graph's symbols: at most XNND_MAX_SYMS, valid names and ranges, unique names. */
static xnnd_status check_symbols(xnnd_graph* g) {
  if (g->num_syms > XNND_MAX_SYMS) {
    ir_set_error(g, "graph has %u symbols, at most %d", g->num_syms, XNND_MAX_SYMS);
    return XNND_VERIFY_ERROR;
  }
  for (uint32_t s = 0; s < g->num_syms; s++) {
    const xnnd_symbol* y = &g->syms[s];
    if (!xnnd_symbol_check(y)) {
      ir_set_error(g, "symbol %u '%.*s' = %lld..%lld: the name must be [A-Za-z_][A-Za-z0-9_]* "
                   "and 0 <= min <= max <= 2^40", s, XNND_SYM_NAME_SIZE - 1, y->name,
                   (long long)y->min, (long long)y->max);
      return XNND_VERIFY_ERROR;
    }
    for (uint32_t t = 0; t < s; t++)
      if (strcmp(g->syms[t].name, y->name) == 0) {
        ir_set_error(g, "symbols %u and %u are both named %s", t, s, y->name);
        return XNND_VERIFY_ERROR;
      }
  }
  return XNND_OK;
}

/* A value's symbolic dims: valid forms, dims[] the upper bounds, >= 0 at the minima, some
 * symbol present (else dimx must be NULL), static for constants and quantization axes. */
static xnnd_status check_value_dimx(xnnd_graph* g, xnnd_id id) {
  const xnnd_ir_value* v = &g->values[id];
  if (!v->dimx) return XNND_OK;
  if (v->data) return value_error(g, id, "a constant's dims must be static");
  bool any = false;
  char buf[96];
  for (uint32_t d = 0; d < v->rank; d++) {
    const xnnd_dimx* x = &v->dimx[d];
    if (!xnnd_dimx_check(x, g->num_syms))
      return value_error(g, id, "dim %u: symbolic form is out of range or uses an undeclared "
                         "symbol", d);
    any |= !xnnd_dimx_is_const(x);
    int64_t up = xnnd_dimx_upper(x, g->syms, g->num_syms);
    if (v->dims[d] != up)
      return value_error(g, id, "dim %u = %s: dims[%u] is %lld, not its upper bound %lld", d,
                         ir_format_dimx(g, buf, sizeof buf, x), d, (long long)v->dims[d],
                         (long long)up);
    int64_t lo = xnnd_dimx_lower(x, g->syms, g->num_syms);
    if (lo < 0)
      return value_error(g, id, "dim %u = %s is %lld at the symbols' minima", d,
                         ir_format_dimx(g, buf, sizeof buf, x), (long long)lo);
  }
  if (!any) return value_error(g, id, "symbolic dims without a symbol (dimx must be NULL)");
  if (v->quant.scheme == XNND_QUANT_PER_CHANNEL && v->quant.axis >= 0 &&
      (uint32_t)v->quant.axis < v->rank && !xnnd_value_dim_static(v, (uint32_t)v->quant.axis))
    return value_error(g, id, "per-channel quantization axis %d must be a static dim, not %s",
                       v->quant.axis,
                       ir_format_dimx(g, buf, sizeof buf, &v->dimx[v->quant.axis]));
  return XNND_OK;
}

/* A node's symbolic attributes: int lists with valid forms and ints[] the upper bounds. */
static xnnd_status check_attr_dimx(xnnd_graph* g, xnnd_id n) {
  const xnnd_ir_node* node = &g->nodes[n];
  char buf[96];
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
    const xnnd_dimx* f = node->attr_dimx[a];
    if (!f) continue;
    const xnnd_attr* at = &node->attrs[a];
    const char* name = ir_attr_name(node->op, a);
    if (at->kind != XNND_ATTR_INTS)
      return ir_attr_error(g, n, "attribute %s is symbolic but not an int list", name);
    bool any = false;
    for (uint32_t i = 0; i < at->n && i < XNND_MAX_ATTR_INTS; i++) {
      if (!xnnd_dimx_check(&f[i], g->num_syms))
        return ir_attr_error(g, n, "attribute %s entry %u: symbolic form is out of range or "
                             "uses an undeclared symbol", name, i);
      if (xnnd_dimx_is_const(&f[i])) {
        if (at->ints[i] != f[i].c)
          return ir_attr_error(g, n, "attribute %s entry %u is %lld but its form is %lld", name,
                               i, (long long)at->ints[i], (long long)f[i].c);
        continue;
      }
      any = true;
      int64_t up = xnnd_dimx_upper(&f[i], g->syms, g->num_syms);
      if (at->ints[i] != up)
        return ir_attr_error(g, n, "attribute %s entry %u = %s: the int is %lld, not its upper "
                             "bound %lld", name, i, ir_format_dimx(g, buf, sizeof buf, &f[i]),
                             (long long)at->ints[i], (long long)up);
      if (xnnd_dimx_lower(&f[i], g->syms, g->num_syms) < 0)
        return ir_attr_error(g, n, "attribute %s entry %u = %s is negative at the symbols' "
                             "minima", name, i, ir_format_dimx(g, buf, sizeof buf, &f[i]));
    }
    if (!any)
      return ir_attr_error(g, n, "attribute %s is symbolic without a symbol (attr_dimx must be "
                           "NULL)", name);
  }
  return XNND_OK;
}

static xnnd_status check_values(xnnd_graph* g) {
  uint32_t nv = g->num_values;
  uint32_t cap = 16;
  while (cap < 2 * (uint64_t)nv) cap *= 2;
  uint32_t* slots = calloc(cap, sizeof(uint32_t));
  if (!slots) {
    ir_set_error(g, "verify: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  xnnd_status st = XNND_OK;
  for (xnnd_id id = 0; id < nv && st == XNND_OK; id++) {
    const xnnd_ir_value* v = &g->values[id];
    if (!v->name || !ir_valid_name(v->name, strlen(v->name))) {
      st = value_error(g, id, "invalid value name");
      break;
    }
    uint64_t h = xnnd_fnv1a64(v->name, strlen(v->name));
    uint32_t i = (uint32_t)(h ^ (h >> 32)) & (cap - 1);
    for (; slots[i] != 0; i = (i + 1) & (cap - 1))
      if (strcmp(g->values[slots[i] - 1].name, v->name) == 0) {
        st = value_error(g, id, "name is also used by value %u", slots[i] - 1);
        break;
      }
    if (st != XNND_OK) break;
    slots[i] = id + 1;
    if ((unsigned)v->dtype >= XNND_DTYPE_COUNT) {
      st = value_error(g, id, "invalid dtype %d", (int)v->dtype);
    } else if (v->rank > XNND_MAX_RANK) {
      st = value_error(g, id, "rank %u exceeds %d", v->rank, XNND_MAX_RANK);
    } else if (!ir_numel(v->dtype, v->rank, v->dims, NULL)) {
      char buf[200];
      st = value_error(g, id, "dims %s are negative or too large",
                       ir_format_dims(buf, sizeof buf, v->rank, v->dims));
    } else if (v->layout != XNND_LAYOUT_CONTIGUOUS &&
               !(v->layout == XNND_LAYOUT_NHWC && v->rank == 4)) {
      st = value_error(g, id, "layout %d is invalid for rank %u (nhwc needs rank 4)",
                       (int)v->layout, v->rank);
    } else if (v->data && v->is_input) {
      st = value_error(g, id, "a graph input must not have constant data");
    } else {
      st = check_quant(g, id);
      if (st == XNND_OK) st = check_value_dimx(g, id);
    }
  }
  free(slots);
  return st;
}

static xnnd_status check_graph_io(xnnd_graph* g) {
  uint32_t nv = g->num_values;
  uint32_t listed = 0;
  for (uint32_t i = 0; i < g->num_inputs; i++) {
    xnnd_id v = g->inputs[i];
    if (v >= nv) {
      ir_set_error(g, "graph input %u: id %u out of range (%u values)", i, v, nv);
      return XNND_VERIFY_ERROR;
    }
    for (uint32_t j = 0; j < i; j++)
      if (g->inputs[j] == v) {
        ir_set_error(g, "graph input %u %%%s is also graph input %u", i, g->values[v].name, j);
        return XNND_VERIFY_ERROR;
      }
    if (!g->values[v].is_input) {
      ir_set_error(g, "graph input %u %%%s is not flagged is_input", i, g->values[v].name);
      return XNND_VERIFY_ERROR;
    }
  }
  for (xnnd_id v = 0; v < nv; v++) listed += g->values[v].is_input;
  if (listed != g->num_inputs) {
    for (xnnd_id v = 0; v < nv; v++) {
      bool in = false;
      for (uint32_t i = 0; i < g->num_inputs; i++) in |= g->inputs[i] == v;
      if (g->values[v].is_input && !in)
        return value_error(g, v, "flagged is_input but not among the graph inputs");
    }
  }
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] >= nv) {
      ir_set_error(g, "graph output %u: id %u out of range (%u values)", i, g->outputs[i], nv);
      return XNND_VERIFY_ERROR;
    }
  return XNND_OK;
}

static xnnd_status check_node_structure(xnnd_graph* g, xnnd_id n) {
  const xnnd_ir_node* node = &g->nodes[n];
  const xnnd_op_info* info = xnnd_op_get(node->op);
  if (!info) {
    ir_set_error(g, "node %u: invalid op %d", n, (int)node->op);
    return XNND_VERIFY_ERROR;
  }
  if (node->num_inputs < info->min_inputs || node->num_inputs > info->max_inputs)
    return ir_node_error(g, n, "has %u inputs, expected %u to %u", node->num_inputs,
                         info->min_inputs, info->max_inputs);
  if (node->num_inputs && !node->inputs) return ir_node_error(g, n, "inputs array is NULL");
  if (node->num_outputs != info->num_outputs)
    return ir_node_error(g, n, "has %u outputs, expected %u", node->num_outputs,
                         info->num_outputs);
  for (uint32_t i = 0; i < node->num_inputs; i++) {
    xnnd_id v = node->inputs[i];
    if (v == XNND_NO_ID) {
      if (i < 32 && (info->optional_inputs >> i & 1u)) continue;
      return ir_node_error(g, n, "input %u is absent but not optional", i);
    }
    if (v >= g->num_values)
      return ir_node_error(g, n, "input %u is a dangling id %u (%u values)", i, v,
                           g->num_values);
  }
  for (uint32_t k = 0; k < node->num_outputs; k++) {
    xnnd_id v = node->outputs[k];
    if (v >= g->num_values)
      return ir_node_error(g, n, "output %u is a dangling id %u (%u values)", k, v,
                           g->num_values);
    const xnnd_ir_value* val = &g->values[v];
    if (val->is_input) return ir_node_error(g, n, "output %u %%%s is a graph input", k, val->name);
    if (val->data) return ir_node_error(g, n, "output %u %%%s is a constant", k, val->name);
  }
  if (isnan(node->output_min) || isnan(node->output_max) || node->output_min > node->output_max)
    return ir_attr_error(g, n, "fused output range clamp(%g, %g) is empty or nan",
                         (double)node->output_min, (double)node->output_max);
  IR_TRY(ir_check_attr_kinds(g, n));
  return check_attr_dimx(g, n);
}

/* A value read by a live node or the graph outputs must be defined. */
static bool defined(const xnnd_graph* g, const uint32_t* prod, xnnd_id v) {
  const xnnd_ir_value* val = &g->values[v];
  return val->is_input || val->data || prod[v] != XNND_NO_ID;
}

static bool same_shape(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  if (a->dtype != b->dtype || a->rank != b->rank) return false;
  for (uint32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i]) return false;
  return true;
}

static xnnd_status check_inference(xnnd_graph* g, xnnd_id n) {
  const xnnd_ir_node* node = &g->nodes[n];
  xnnd_ir_value saved[3];
  for (uint32_t k = 0; k < node->num_outputs; k++) saved[k] = g->values[node->outputs[k]];
  xnnd_dimx forms[3][XNND_MAX_RANK];
  bool symbolic;
  xnnd_status st = ir_infer_node(g, n, forms, &symbolic);
  for (uint32_t k = 0; k < node->num_outputs && st == XNND_OK; k++) {
    const xnnd_ir_value* got = &g->values[node->outputs[k]];
    if (!same_shape(&saved[k], got)) {
      char bd[160], bi[160];
      st = ir_node_error(g, n, "output %u %%%s is %s%s but shape inference gives %s%s", k,
                         saved[k].name, xnnd_dtype_name(saved[k].dtype),
                         ir_format_dims(bd, sizeof bd, saved[k].rank, saved[k].dims),
                         xnnd_dtype_name(got->dtype),
                         ir_format_dims(bi, sizeof bi, got->rank, got->dims));
    } else if (!symbolic) {
      for (uint32_t d = 0; d < got->rank; d++) forms[k][d] = xnnd_dimx_const(got->dims[d]);
    }
  }
  for (uint32_t k = 0; k < node->num_outputs; k++) g->values[node->outputs[k]] = saved[k];
  if (st == XNND_OK && (symbolic || g->num_syms)) st = ir_check_declared_forms(g, n, forms);
  return st;
}

xnnd_status xnnd_graph_verify(xnnd_graph* g) {
  if (!g) return XNND_INVALID_ARGUMENT;
  g->errmsg[0] = '\0';
  IR_TRY(check_symbols(g));
  IR_TRY(check_values(g));
  IR_TRY(check_graph_io(g));
  if (!ir_users_consistent(g)) {
    ir_set_error(g, "a node input was changed without xnnd_graph_set_input/set_node_inputs/replace_uses: "
                    "the users index misses a reader");
    return XNND_VERIFY_ERROR;
  }
  for (xnnd_id n = 0; n < g->num_nodes; n++)
    if (!g->nodes[n].dead) IR_TRY(check_node_structure(g, n));

  uint32_t nv = g->num_values;
  uint32_t* prod = malloc(((size_t)nv + 1) * sizeof(uint32_t));
  if (!prod) {
    ir_set_error(g, "verify: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  xnnd_status st = XNND_OK;
  for (xnnd_id v = 0; v < nv; v++) prod[v] = XNND_NO_ID;
  for (xnnd_id n = 0; n < g->num_nodes && st == XNND_OK; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t k = 0; k < node->num_outputs && st == XNND_OK; k++) {
      xnnd_id o = node->outputs[k];
      if (prod[o] != XNND_NO_ID)
        st = ir_node_error(g, n, "output %u %%%s already has producer node %u (%s)", k,
                           g->values[o].name, prod[o], ir_op_name(g->nodes[prod[o]].op));
      prod[o] = n;
    }
  }
  /* the producer field must name the live producer; a dead one is tolerated until compact */
  for (xnnd_id v = 0; v < nv && st == XNND_OK; v++) {
    xnnd_id p = g->values[v].producer;
    if (prod[v] != XNND_NO_ID) {
      if (p != prod[v])
        st = value_error(g, v, "producer field is %u but node %u produces it", p, prod[v]);
    } else if (p != XNND_NO_ID && (p >= g->num_nodes || !g->nodes[p].dead)) {
      st = value_error(g, v, "producer field is %u but no live node produces it", p);
    }
  }
  for (xnnd_id n = 0; n < g->num_nodes && st == XNND_OK; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs && st == XNND_OK; i++) {
      xnnd_id v = node->inputs[i];
      if (v != XNND_NO_ID && !defined(g, prod, v))
        st = ir_node_error(g, n, "input %u %%%s is not a graph input, a constant or produced by "
                           "a live node", i, g->values[v].name);
    }
  }
  for (uint32_t i = 0; i < g->num_outputs && st == XNND_OK; i++)
    if (!defined(g, prod, g->outputs[i])) {
      ir_set_error(g, "graph output %u %%%s is not a graph input, a constant or produced by a "
                   "live node", i, g->values[g->outputs[i]].name);
      st = XNND_VERIFY_ERROR;
    }
  if (st == XNND_OK) {
    uint32_t* order = NULL;
    uint32_t count = 0;
    st = ir_topo_order(g, &order, &count);
    free(order);
  }
  /* nodes must already be in topological order: a use must come after its definition */
  for (xnnd_id n = 0; n < g->num_nodes && st == XNND_OK; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs && st == XNND_OK; i++) {
      xnnd_id v = node->inputs[i];
      if (v != XNND_NO_ID && prod[v] != XNND_NO_ID && prod[v] > n)
        st = ir_node_error(g, n, "input %u %%%s is used before its producer node %u (%s); "
                           "run xnnd_graph_compact to sort", i, g->values[v].name, prod[v],
                           ir_op_name(g->nodes[prod[v]].op));
    }
  }
  free(prod);
  for (xnnd_id n = 0; n < g->num_nodes && st == XNND_OK; n++)
    if (!g->nodes[n].dead) st = check_inference(g, n);
  if (st == XNND_OK) g->errmsg[0] = '\0';
  return st;
}
