/* Symbolic dims in the IR (docs/ARCHITECTURE.md "Dynamic shapes"): setting forms on values
 * and attributes, and generic symbolic shape inference. An op's concrete infer runs at sample
 * points of the symbols (inputs' dims and symbolic attr ints evaluated there, then restored),
 * each output dim is fitted as an affine form and checked at further points. No op file
 * knows about symbols.
 *
 * Invariants kept here: a value's dimx is NULL when no dim has a symbol, else rank forms
 * (graph-owned, never modified once set, so values may share them) with dims[] = each form's
 * upper bound; the same for a node's attr_dimx[a] and attrs[a].ints. */
#include <stdio.h>
#include <string.h>

#include "ir_internal.h"

bool xnnd_value_dim_static(const xnnd_ir_value* v, uint32_t d) {
  return !v->dimx || d >= v->rank || xnnd_dimx_is_const(&v->dimx[d]);
}

bool xnnd_value_static(const xnnd_ir_value* v) {
  for (uint32_t d = 0; d < v->rank && d < XNND_MAX_RANK; d++)
    if (!xnnd_value_dim_static(v, d)) return false;
  return true;
}

bool xnnd_node_symbolic(const xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
    if (n->attr_dimx[a]) return true;
  for (uint32_t i = 0; i < n->num_inputs; i++)
    if (n->inputs[i] < g->num_values && g->values[n->inputs[i]].dimx) return true;
  return false;
}

xnnd_status xnnd_graph_add_symbol(xnnd_graph* g, const char* name, int64_t min, int64_t max,
                                  uint32_t* index_out) {
  if (!g || !name) return XNND_INVALID_ARGUMENT;
  if (g->num_syms >= XNND_MAX_SYMS) {
    ir_set_error(g, "symbol %.40s: a graph has at most %d symbols", name, XNND_MAX_SYMS);
    return XNND_INVALID_ARGUMENT;
  }
  xnnd_symbol s;
  memset(&s, 0, sizeof s);
  size_t len = strlen(name);
  if (len < sizeof s.name) memcpy(s.name, name, len);
  s.min = min;
  s.max = max;
  if (len >= sizeof s.name || !xnnd_symbol_check(&s)) {
    ir_set_error(g, "symbol %.40s = %lld..%lld: the name must be [A-Za-z_][A-Za-z0-9_]* of at "
                 "most %d bytes and 0 <= min <= max <= 2^40", name, (long long)min,
                 (long long)max, XNND_SYM_NAME_SIZE - 1);
    return XNND_INVALID_ARGUMENT;
  }
  for (uint32_t i = 0; i < g->num_syms; i++)
    if (strcmp(g->syms[i].name, s.name) == 0) {
      ir_set_error(g, "duplicate symbol name %s", s.name);
      return XNND_INVALID_ARGUMENT;
    }
  g->syms[g->num_syms] = s;
  if (index_out) *index_out = g->num_syms;
  g->num_syms++;
  return XNND_OK;
}

const char* ir_format_dimx(const xnnd_graph* g, char* buf, size_t cap, const xnnd_dimx* x) {
  xnnd_dimx_print(buf, cap, x, g->syms, g->num_syms);
  return buf;
}

/* A form is usable as a dim: invariants over the graph's symbols, >= 0 at the minima,
 * <= IR_MAX_DIM at the maxima. */
static bool dim_form_ok(const xnnd_graph* g, const xnnd_dimx* x) {
  return xnnd_dimx_check(x, g->num_syms) && xnnd_dimx_lower(x, g->syms, g->num_syms) >= 0 &&
         xnnd_dimx_upper(x, g->syms, g->num_syms) <= IR_MAX_DIM;
}

/* Graph-owned copy of n forms, or NULL (no error) when every form is static. */
static const xnnd_dimx* copy_forms(xnnd_graph* g, const xnnd_dimx* forms, uint32_t n, bool* oom) {
  *oom = false;
  bool any = false;
  for (uint32_t i = 0; i < n; i++) any |= !xnnd_dimx_is_const(&forms[i]);
  if (!any) return NULL;
  xnnd_dimx* p = ir_arena_alloc(g->arena, (size_t)n * sizeof(xnnd_dimx), 8);
  if (!p) {
    *oom = true;
    return NULL;
  }
  memcpy(p, forms, (size_t)n * sizeof(xnnd_dimx));
  return p;
}

xnnd_status xnnd_graph_set_value_dimx(xnnd_graph* g, xnnd_id value, const xnnd_dimx* forms) {
  if (!g || value >= g->num_values) return XNND_INVALID_ARGUMENT;
  xnnd_ir_value* v = &g->values[value];
  if (!forms) {
    v->dimx = NULL;
    return XNND_OK;
  }
  char buf[96];
  for (uint32_t d = 0; d < v->rank; d++)
    if (!dim_form_ok(g, &forms[d])) {
      ir_set_error(g, "value %%%s: dim %u = %s is invalid over the symbols (coefficients >= 0, "
                   "value >= 0 at the minima, <= 2^40 at the maxima)", v->name, d,
                   ir_format_dimx(g, buf, sizeof buf, &forms[d]));
      return XNND_INVALID_ARGUMENT;
    }
  bool oom;
  const xnnd_dimx* p = copy_forms(g, forms, v->rank, &oom);
  if (oom) {
    ir_set_error(g, "value %%%s: out of memory for symbolic dims", v->name);
    return XNND_OUT_OF_MEMORY;
  }
  if (p && v->data) {
    ir_set_error(g, "value %%%s: a constant's dims must be static", v->name);
    return XNND_INVALID_ARGUMENT;
  }
  int64_t dims[XNND_MAX_RANK];
  for (uint32_t d = 0; d < v->rank; d++) dims[d] = xnnd_dimx_upper(&forms[d], g->syms, g->num_syms);
  if (!ir_numel(v->dtype, v->rank, dims, NULL)) {
    ir_set_error(g, "value %%%s: its upper bounds exceed the tensor size limit", v->name);
    return XNND_INVALID_ARGUMENT;
  }
  memcpy(v->dims, dims, (size_t)v->rank * sizeof(int64_t));
  v->dimx = p;
  return XNND_OK;
}

xnnd_status xnnd_graph_set_attr_dimx(xnnd_graph* g, xnnd_id node, uint32_t attr,
                                     const xnnd_dimx* forms) {
  if (!g || node >= g->num_nodes || attr >= XNND_MAX_ATTRS) return XNND_INVALID_ARGUMENT;
  xnnd_ir_node* n = &g->nodes[node];
  if (!forms) {
    n->attr_dimx[attr] = NULL;
    return XNND_OK;
  }
  xnnd_attr* a = &n->attrs[attr];
  if (a->kind != XNND_ATTR_INTS || a->n > XNND_MAX_ATTR_INTS) {
    ir_set_error(g, "node %u (%s): attribute %s is not an int list and cannot be symbolic", node,
                 ir_op_name(n->op), ir_attr_name(n->op, attr));
    return XNND_INVALID_ARGUMENT;
  }
  char buf[96];
  for (uint32_t i = 0; i < a->n; i++)
    if (!xnnd_dimx_is_const(&forms[i]) && !dim_form_ok(g, &forms[i])) {
      ir_set_error(g, "node %u (%s): attribute %s entry %u = %s is invalid over the symbols "
                   "(coefficients >= 0, value >= 0 at the minima)", node, ir_op_name(n->op),
                   ir_attr_name(n->op, attr), i, ir_format_dimx(g, buf, sizeof buf, &forms[i]));
      return XNND_INVALID_ARGUMENT;
    }
  bool oom;
  const xnnd_dimx* p = copy_forms(g, forms, a->n, &oom);
  if (oom) {
    ir_set_error(g, "node %u: out of memory for symbolic attributes", node);
    return XNND_OUT_OF_MEMORY;
  }
  for (uint32_t i = 0; i < a->n; i++)
    a->ints[i] = xnnd_dimx_upper(&forms[i], g->syms, g->num_syms);
  n->attr_dimx[attr] = p;
  return XNND_OK;
}

/* ---- symbolic shape inference ---- */

/* The form with symbols whose range is a single value folded into the constant: such a
 * symbol is static for fitting and comparing. */
static xnnd_dimx fold_fixed(const xnnd_graph* g, const xnnd_dimx* x) {
  xnnd_dimx y = *x;
  for (uint32_t s = 0; s < g->num_syms; s++)
    if (g->syms[s].min == g->syms[s].max && y.k[s]) {
      y.c += y.k[s] * g->syms[s].max;
      y.k[s] = 0;
    }
  return y;
}

#define MAX_POINTS (1 + 3 * XNND_MAX_SYMS + 4)

typedef struct sample {
  xnnd_dtype dtype[3];
  uint32_t rank[3];
  int64_t dims[3][XNND_MAX_RANK];
} sample;

/* "s0=8, h=5" */
static void format_point(const xnnd_graph* g, const int64_t* pt, uint32_t used, char* buf,
                         size_t cap) {
  size_t len = 0;
  buf[0] = '\0';
  for (uint32_t s = 0; s < g->num_syms && len < cap; s++) {
    if (!(used >> s & 1u)) continue;
    len += (size_t)snprintf(buf + len, cap - len, "%s%s=%lld", len ? ", " : "", g->syms[s].name,
                            (long long)pt[s]);
  }
}

/* Runs the op's infer with the node's symbolic inputs and attrs evaluated at pt, records the
 * outputs, and restores inputs and attrs. */
static xnnd_status infer_at(xnnd_graph* g, xnnd_id node, const int64_t* pt, uint32_t used,
                            sample* out) {
  xnnd_ir_node* n = &g->nodes[node];
  const xnnd_op_info* info = xnnd_op_get(n->op);
  int64_t saved_dims[256][XNND_MAX_RANK];
  int64_t saved_ints[XNND_MAX_ATTRS][XNND_MAX_ATTR_INTS];
  uint32_t ni = n->num_inputs < 256 ? n->num_inputs : 256;
  for (uint32_t i = 0; i < ni; i++) {
    xnnd_id v = n->inputs[i];
    if (v >= g->num_values) continue;
    memcpy(saved_dims[i], g->values[v].dims, sizeof saved_dims[i]);
  }
  for (uint32_t i = 0; i < ni; i++) {
    xnnd_id v = n->inputs[i];
    if (v >= g->num_values || !g->values[v].dimx) continue;
    xnnd_ir_value* val = &g->values[v];
    for (uint32_t d = 0; d < val->rank; d++)
      val->dims[d] = xnnd_dimx_eval(&val->dimx[d], pt, g->num_syms);
  }
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
    if (!n->attr_dimx[a]) continue;
    memcpy(saved_ints[a], n->attrs[a].ints, sizeof saved_ints[a]);
    for (uint32_t i = 0; i < n->attrs[a].n && i < XNND_MAX_ATTR_INTS; i++)
      n->attrs[a].ints[i] = xnnd_dimx_eval(&n->attr_dimx[a][i], pt, g->num_syms);
  }
  xnnd_status st = info->infer(g, node);
  for (uint32_t i = 0; i < ni; i++) {
    xnnd_id v = n->inputs[i];
    if (v < g->num_values) memcpy(g->values[v].dims, saved_dims[i], sizeof saved_dims[i]);
  }
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
    if (n->attr_dimx[a]) memcpy(n->attrs[a].ints, saved_ints[a], sizeof saved_ints[a]);
  if (st != XNND_OK) {
    char msg[XNND_ERRMSG_SIZE], where[160];
    memcpy(msg, g->errmsg, sizeof msg);
    format_point(g, pt, used, where, sizeof where);
    ir_set_error(g, "%s (at %s)", msg, where);
    return st;
  }
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    const xnnd_ir_value* o = &g->values[n->outputs[k]];
    out->dtype[k] = o->dtype;
    out->rank[k] = o->rank;
    memcpy(out->dims[k], o->dims, sizeof out->dims[k]);
  }
  return XNND_OK;
}

xnnd_status ir_infer_node(xnnd_graph* g, xnnd_id node, xnnd_dimx forms[3][XNND_MAX_RANK],
                          bool* symbolic_out) {
  xnnd_ir_node* n = &g->nodes[node];
  const xnnd_op_info* info = xnnd_op_get(n->op);
  *symbolic_out = false;
  if (!xnnd_node_symbolic(g, node)) return info->infer(g, node);
  if (n->num_inputs > 256) return ir_node_error(g, node, "too many inputs for symbolic inference");
  *symbolic_out = true;
  /* the symbols that vary: used by an input or attr form, and min < max */
  uint32_t used = 0;
  for (uint32_t i = 0; i < n->num_inputs; i++) {
    xnnd_id v = n->inputs[i];
    if (v >= g->num_values || !g->values[v].dimx) continue;
    for (uint32_t d = 0; d < g->values[v].rank; d++)
      for (uint32_t s = 0; s < XNND_MAX_SYMS; s++)
        if (g->values[v].dimx[d].k[s]) used |= 1u << s;
  }
  for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
    for (uint32_t i = 0; n->attr_dimx[a] && i < n->attrs[a].n && i < XNND_MAX_ATTR_INTS; i++)
      for (uint32_t s = 0; s < XNND_MAX_SYMS; s++)
        if (n->attr_dimx[a][i].k[s]) used |= 1u << s;
  uint32_t vary = 0;
  for (uint32_t s = 0; s < g->num_syms; s++)
    if ((used >> s & 1u) && g->syms[s].min < g->syms[s].max) vary |= 1u << s;
  /* Points: [0] every symbol at max; [1 + s] symbol s one step lower (fit); then checks:
   * every symbol at min, every symbol at its midpoint, each symbol alone at min or at its
   * midpoint, and two alternating corners (cross terms such as s0*s1). */
  int64_t pts[MAX_POINTS][XNND_MAX_SYMS];
  uint32_t np = 0;
  for (uint32_t s = 0; s < XNND_MAX_SYMS; s++) pts[0][s] = s < g->num_syms ? g->syms[s].max : 0;
  np = 1;
  for (uint32_t s = 0; s < g->num_syms; s++) {
    memcpy(pts[np], pts[0], sizeof pts[0]);
    if (vary >> s & 1u) pts[np][s] = g->syms[s].max - 1;
    np++;
  }
  uint32_t first_check = np;
  memcpy(pts[np], pts[0], sizeof pts[0]);
  memcpy(pts[np + 1], pts[0], sizeof pts[0]);
  memcpy(pts[np + 2], pts[0], sizeof pts[0]);
  memcpy(pts[np + 3], pts[0], sizeof pts[0]);
  uint32_t parity = 0;
  for (uint32_t s = 0; s < g->num_syms; s++) {
    if (!(vary >> s & 1u)) continue;
    int64_t lo = g->syms[s].min, mid = lo + (g->syms[s].max - lo) / 2;
    pts[np][s] = lo;
    pts[np + 1][s] = mid;
    pts[np + 2][s] = parity & 1u ? lo : g->syms[s].max;
    pts[np + 3][s] = parity & 1u ? g->syms[s].max : lo;
    parity++;
  }
  np += 4;
  for (uint32_t s = 0; s < g->num_syms; s++) {
    if (!(vary >> s & 1u)) continue;
    memcpy(pts[np], pts[0], sizeof pts[0]);
    pts[np++][s] = g->syms[s].min;
    memcpy(pts[np], pts[0], sizeof pts[0]);
    pts[np++][s] = g->syms[s].min + (g->syms[s].max - g->syms[s].min) / 2;
  }
  sample samples[MAX_POINTS];
  for (uint32_t p = 0; p < np; p++) {
    if (p > 0 && p < first_check && !(vary >> (p - 1) & 1u)) {
      samples[p] = samples[0];
      continue;
    }
    IR_TRY(infer_at(g, node, pts[p], vary, &samples[p]));
  }
  char f1[96], w[160];
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    const char* oname = ir_value_name(g, n->outputs[k]);
    for (uint32_t p = 1; p < np; p++)
      if (samples[p].dtype[k] != samples[0].dtype[k] || samples[p].rank[k] != samples[0].rank[k]) {
        format_point(g, pts[p], vary, w, sizeof w);
        return ir_node_error(g, node, "output %u %%%s: dtype or rank changes with the symbols "
                             "(at %s)", k, oname, w);
      }
    for (uint32_t d = 0; d < samples[0].rank[k]; d++) {
      xnnd_dimx x = xnnd_dimx_const(0);
      int64_t top = samples[0].dims[k][d];
      x.c = top;
      for (uint32_t s = 0; s < g->num_syms; s++) {
        if (!(vary >> s & 1u)) continue;
        x.k[s] = top - samples[1 + s].dims[k][d];
        x.c -= x.k[s] * g->syms[s].max;
        if (x.k[s] < 0)
          return ir_node_error(g, node, "output %u %%%s: dim %u is not affine in the symbols "
                               "(it shrinks as %s grows: %lld at %s=%lld, %lld at %lld)", k,
                               oname, d, g->syms[s].name,
                               (long long)samples[1 + s].dims[k][d], g->syms[s].name,
                               (long long)(g->syms[s].max - 1), (long long)top,
                               (long long)g->syms[s].max);
      }
      for (uint32_t p = first_check; p < np; p++) {
        int64_t want = samples[p].dims[k][d], fit = xnnd_dimx_eval(&x, pts[p], g->num_syms);
        if (fit == want) continue;
        format_point(g, pts[p], vary, w, sizeof w);
        return ir_node_error(g, node, "output %u %%%s: dim %u is not affine in the symbols "
                             "(the fit %s gives %lld at %s, shape inference %lld)", k, oname, d,
                             ir_format_dimx(g, f1, sizeof f1, &x), (long long)fit, w,
                             (long long)want);
      }
      if (!xnnd_dimx_check(&x, g->num_syms))
        return ir_node_error(g, node, "output %u %%%s: dim %u = %s is out of range", k, oname, d,
                             ir_format_dimx(g, f1, sizeof f1, &x));
      forms[k][d] = x;
    }
  }
  /* leave the outputs as inference at the maxima set them (dims[] = upper bounds) */
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    xnnd_ir_value* o = &g->values[n->outputs[k]];
    o->dtype = samples[0].dtype[k];
    o->rank = samples[0].rank[k];
    memcpy(o->dims, samples[0].dims[k], sizeof o->dims);
  }
  return XNND_OK;
}

xnnd_status ir_check_declared_forms(xnnd_graph* g, xnnd_id node, xnnd_dimx forms[3][XNND_MAX_RANK]) {
  const xnnd_ir_node* n = &g->nodes[node];
  char a[96], b[96];
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    const xnnd_ir_value* v = &g->values[n->outputs[k]];
    for (uint32_t d = 0; d < v->rank; d++) {
      xnnd_dimx declared = v->dimx ? fold_fixed(g, &v->dimx[d]) : xnnd_dimx_const(v->dims[d]);
      xnnd_dimx inferred = fold_fixed(g, &forms[k][d]);
      if (!xnnd_dimx_equal(&declared, &inferred))
        return ir_node_error(g, node, "output %u %%%s: dim %u is %s but shape inference gives %s",
                             k, v->name, d,
                             ir_format_dimx(g, a, sizeof a, v->dimx ? &v->dimx[d] : &declared),
                             ir_format_dimx(g, b, sizeof b, &forms[k][d]));
    }
  }
  return XNND_OK;
}

xnnd_status xnnd_graph_infer_node(xnnd_graph* g, xnnd_id node) {
  if (!g || node >= g->num_nodes) return XNND_INVALID_ARGUMENT;
  xnnd_dimx forms[3][XNND_MAX_RANK];
  bool symbolic;
  IR_TRY(ir_infer_node(g, node, forms, &symbolic));
  const xnnd_ir_node* n = &g->nodes[node];
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    if (!symbolic) {
      g->values[n->outputs[k]].dimx = NULL;
      continue;
    }
    xnnd_status st = xnnd_graph_set_value_dimx(g, n->outputs[k], forms[k]);
    if (st != XNND_OK) return st;
  }
  return XNND_OK;
}

bool xnnd_value_same_dims(const xnnd_ir_value* a, const xnnd_ir_value* b) {
  if (a->rank != b->rank) return false;
  for (uint32_t d = 0; d < a->rank && d < XNND_MAX_RANK; d++) {
    if (a->dims[d] != b->dims[d]) return false;
    xnnd_dimx x = a->dimx ? a->dimx[d] : xnnd_dimx_const(a->dims[d]);
    xnnd_dimx y = b->dimx ? b->dimx[d] : xnnd_dimx_const(b->dims[d]);
    if (!xnnd_dimx_equal(&x, &y)) return false;
  }
  return true;
}

xnnd_status xnnd_graph_specialize(xnnd_graph* g, const int64_t* values, uint32_t n) {
  if (!g || n != g->num_syms || (n && !values)) return XNND_INVALID_ARGUMENT;
  for (uint32_t s = 0; s < n; s++)
    if (values[s] < g->syms[s].min || values[s] > g->syms[s].max) {
      ir_set_error(g, "specialize: %s = %lld is outside %lld..%lld", g->syms[s].name,
                   (long long)values[s], (long long)g->syms[s].min, (long long)g->syms[s].max);
      return XNND_INVALID_ARGUMENT;
    }
  for (xnnd_id v = 0; v < g->num_values; v++) {
    xnnd_ir_value* val = &g->values[v];
    if (!val->dimx) continue;
    for (uint32_t d = 0; d < val->rank; d++) val->dims[d] = xnnd_dimx_eval(&val->dimx[d], values, n);
    val->dimx = NULL;
  }
  for (xnnd_id id = 0; id < g->num_nodes; id++)
    for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
      xnnd_ir_node* node = &g->nodes[id];
      if (!node->attr_dimx[a]) continue;
      for (uint32_t i = 0; i < node->attrs[a].n && i < XNND_MAX_ATTR_INTS; i++)
        node->attrs[a].ints[i] = xnnd_dimx_eval(&node->attr_dimx[a][i], values, n);
      node->attr_dimx[a] = NULL;
    }
  g->num_syms = 0;
  return XNND_OK;
}
