/* Q/DQ fusion: dq -> op -> q becomes one quantized node over the i8 values (the quantized
 * forms XNNPACK runs, see serializer/xnnpack/lower_quant.c). Patterns, every activation
 * per-tensor i8 from static xnnd.quantize/xnnd.dequantize:
 *   convolution(dq(x), dq(W), b?) [-> relu/hardtanh/clamp] -> q    W i8 constant, symmetric,
 *       per tensor or per output channel; b becomes i32 with scale x_scale * W_scale (per
 *       channel where W is), zero point 0; the activation becomes the output range
 *   linear(dq(x), dq(W), b?) [-> clamp-like] -> q     input rank 2 or 3 (per-channel W: see
 *       qdq-linear-to-conv)
 *   add/sub(dq(a), dq(b)) (alpha 1), mul(dq(a), dq(b)) [-> clamp-like] -> q   same ranks
 *   mean over {H, W} / adaptive_avg_pool2d [1, 1] (dq(x)) [-> clamp-like] -> q
 *   max_pool2d, view, permute, relu/hardtanh/clamp (dq(x)) -> q   same-scale ops: only when
 *       q has x's scale and zero point (PyTorch shares the observer; a mismatch stays f32)
 * Then a quantized clamp-like node whose producer is a quantized node taking an output range
 * (and is its only reader, same parameters) folds into that range, and q(dq(x)) with equal
 * parameters is x. Refused (left f32 between its dq and q): a dq read by other nodes too (see
 * qdq-dequant-promotion), dynamic or per-channel activation parameters, an f32 result that is
 * also read elsewhere or a graph output, asymmetric weights, parameters XNNPACK rejects
 * (requantization scale >= 256, ...), and ops without a quantized form here (avg_pool2d,
 * sigmoid, softmax, cat, ...). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/qdq.h"

/* ---- matching ---- */

static bool takes_range(xnnd_op op) {
  switch (op) {
    case XNND_OP_CONVOLUTION:
    case XNND_OP_LINEAR:
    case XNND_OP_ADD:
    case XNND_OP_SUB:
    case XNND_OP_MUL:
    case XNND_OP_MAX_POOL2D:
    case XNND_OP_MEAN:
    case XNND_OP_ADAPTIVE_AVG_POOL2D: return true;
    default: return false;
  }
}

/* x when v = dq(x), that dq static per tensor, x a non-constant i8 value, and `node` the only
 * reader of v; else XNND_NO_ID. */
static xnnd_id activation_of(const xnnd_graph* g, xnnd_id node, xnnd_id v) {
  xnnd_id dq = xnnd_qdq_producer(g, v, XNND_OP_DEQUANTIZE);
  if (dq == XNND_NO_ID || !xnnd_qdq_is_static_per_tensor(g, dq)) return XNND_NO_ID;
  if (xnnd_graph_sole_user(g, v) != node) return XNND_NO_ID;
  xnnd_id x = g->nodes[dq].inputs[0];
  return g->values[x].data ? XNND_NO_ID : x;
}

/* W when v = dq(W), W an i8 constant quantized symmetrically per tensor or along dim 0, and
 * `node` the only reader of v. */
static xnnd_id weight_of(const xnnd_graph* g, xnnd_id node, xnnd_id v) {
  xnnd_id dq = xnnd_qdq_producer(g, v, XNND_OP_DEQUANTIZE);
  if (dq == XNND_NO_ID || xnnd_graph_sole_user(g, v) != node) return XNND_NO_ID;
  xnnd_id w = g->nodes[dq].inputs[0];
  const xnnd_ir_value* wv = &g->values[w];
  if (!wv->data || wv->dtype != XNND_I8) return XNND_NO_ID;
  if (wv->quant.scheme == XNND_QUANT_PER_TENSOR) return wv->quant.zero_point == 0 ? w : XNND_NO_ID;
  if (wv->quant.scheme != XNND_QUANT_PER_CHANNEL || wv->quant.axis != 0) return XNND_NO_ID;
  for (uint32_t c = 0; c < wv->quant.num_channels; c++)
    if (wv->quant.zero_points[c] != 0) return XNND_NO_ID;
  return w;
}

static float weight_scale(const xnnd_ir_value* w, uint32_t c) {
  return w->quant.scheme == XNND_QUANT_PER_CHANNEL ? w->quant.scales[c] : w->quant.scale;
}

typedef struct match {
  xnnd_id node, clamp, quant;
  xnnd_id out;              /* q's output: the fused node writes it */
  float lo, hi;             /* output range */
  xnnd_id ins[3];           /* fused inputs (bias still f32 here) */
  uint32_t num_ins;
} match;

/* The q after `node` (through one clamp-like node when the op takes a range). */
static bool match_output(const xnnd_graph* g, xnnd_id node, match* m) {
  const xnnd_ir_node* n = &g->nodes[node];
  m->clamp = XNND_NO_ID;
  m->lo = n->output_min;
  m->hi = n->output_max;
  xnnd_id u = xnnd_graph_sole_user(g, n->outputs[0]);
  if (u == XNND_NO_ID) return false;
  float lo, hi;
  if (takes_range(n->op) && xnnd_node_clamp_range(&g->nodes[u], &lo, &hi)) {
    m->clamp = u;
    m->lo = lo > m->lo ? lo : m->lo;
    m->hi = hi < m->hi ? hi : m->hi;
    if (!(m->lo < m->hi)) return false;
    u = xnnd_graph_sole_user(g, g->nodes[u].outputs[0]);
    if (u == XNND_NO_ID) return false;
  }
  if (g->nodes[u].op != XNND_OP_QUANTIZE || !xnnd_qdq_is_static_per_tensor(g, u)) return false;
  m->quant = u;
  m->out = g->nodes[u].outputs[0];
  return true;
}

/* XNNPACK's limits for requantizing ops, so a fused node is one XNNPACK accepts. */
static bool ratio_in(double r, double lo, double hi) { return r >= lo && r < hi; }

static bool is_global_mean(const xnnd_graph* g, const xnnd_ir_node* n) {
  const xnnd_ir_value* x = &g->values[n->inputs[0]];
  if (n->op == XNND_OP_ADAPTIVE_AVG_POOL2D)
    return x->rank == 4 && n->attrs[0].n == 2 && n->attrs[0].ints[0] == 1 && n->attrs[0].ints[1] == 1;
  if (x->rank != 4 || n->attrs[0].n != 2) return false;
  int64_t a = n->attrs[0].ints[0], b = n->attrs[0].ints[1];
  return (a == 2 && b == 3) || (a == 3 && b == 2);
}

/* Fills m for a fusable node, else false. */
static bool match_node(const xnnd_graph* g, xnnd_id node, match* m) {
  const xnnd_ir_node* n = &g->nodes[node];
  memset(m, 0, sizeof(*m));
  m->node = node;
  if (n->dead || n->num_outputs != 1 || !xnnd_value_is_plain_f32(g, n->outputs[0])) return false;
  bool same_scale = false;
  switch (n->op) {
    case XNND_OP_CONVOLUTION:
    case XNND_OP_LINEAR: {
      if (n->op == XNND_OP_CONVOLUTION && n->attrs[3].i) return false;  /* transposed */
      /* 1-D/3-D: only the 2-D convolution has a quantized kernel (XNNPACK's). */
      if (n->op == XNND_OP_CONVOLUTION && g->values[n->inputs[0]].rank != 4) return false;
      xnnd_id x = activation_of(g, node, n->inputs[0]);
      xnnd_id w = weight_of(g, node, n->inputs[1]);
      xnnd_id b = n->num_inputs > 2 ? n->inputs[2] : XNND_NO_ID;
      if (x == XNND_NO_ID || w == XNND_NO_ID) return false;
      if (b != XNND_NO_ID && (!xnnd_const_f32(g, b) || g->values[b].rank != 1 ||
                              g->values[b].dims[0] != g->values[w].dims[0]))
        return false;
      uint32_t xr = g->values[x].rank;
      if (n->op == XNND_OP_LINEAR && (xr < 2 || xr > 3)) return false;
      m->ins[0] = x, m->ins[1] = w, m->ins[2] = b, m->num_ins = n->num_inputs;
      break;
    }
    case XNND_OP_ADD:
    case XNND_OP_SUB:
    case XNND_OP_MUL: {
      if (n->op != XNND_OP_MUL && n->attrs[0].f != 1.0) return false;
      xnnd_id a = activation_of(g, node, n->inputs[0]);
      xnnd_id b = activation_of(g, node, n->inputs[1]);
      if (a == XNND_NO_ID || b == XNND_NO_ID || g->values[a].rank != g->values[b].rank) return false;
      m->ins[0] = a, m->ins[1] = b, m->num_ins = 2;
      break;
    }
    case XNND_OP_MEAN:
    case XNND_OP_ADAPTIVE_AVG_POOL2D:
      if (!is_global_mean(g, n)) return false;
      /* fall through */
    case XNND_OP_MAX_POOL2D:
    case XNND_OP_VIEW:
    case XNND_OP_PERMUTE:
    case XNND_OP_RELU:
    case XNND_OP_HARDTANH:
    case XNND_OP_CLAMP:
      m->ins[0] = activation_of(g, node, n->inputs[0]);
      m->num_ins = 1;
      if (m->ins[0] == XNND_NO_ID) return false;
      same_scale = n->op != XNND_OP_MEAN && n->op != XNND_OP_ADAPTIVE_AVG_POOL2D;
      break;
    default:
      return false;
  }
  if (!match_output(g, node, m)) return false;
  const xnnd_ir_value* x = &g->values[m->ins[0]];
  const xnnd_ir_value* y = &g->values[m->out];
  if (same_scale && !xnnd_qdq_same_params(x, y)) return false;
  if (!same_scale && (n->op == XNND_OP_RELU || n->op == XNND_OP_HARDTANH || n->op == XNND_OP_CLAMP)) return false;
  double sx = x->quant.scale, sy = y->quant.scale;
  switch (n->op) {
    case XNND_OP_CONVOLUTION:
    case XNND_OP_LINEAR: {
      const xnnd_ir_value* w = &g->values[m->ins[1]];
      uint32_t channels = w->quant.scheme == XNND_QUANT_PER_CHANNEL ? w->quant.num_channels : 1;
      for (uint32_t c = 0; c < channels; c++)
        if (!ratio_in(sx * weight_scale(w, c) / sy, 0x1p-32, 256.0)) return false;
      break;
    }
    case XNND_OP_ADD:
    case XNND_OP_SUB:
      if (!ratio_in(sx / sy, 0x1p-14, 256.0) || !ratio_in(g->values[m->ins[1]].quant.scale / sy, 0x1p-14, 256.0))
        return false;
      break;
    case XNND_OP_MUL:
      if (!ratio_in(sx * g->values[m->ins[1]].quant.scale / sy, 0x1p-16, 256.0)) return false;
      break;
    case XNND_OP_MEAN:
    case XNND_OP_ADAPTIVE_AVG_POOL2D:
      if (!ratio_in(sx / sy, 0x1p-8, 256.0)) return false;
      break;
    default:
      break;
  }
  return true;
}

/* ---- rewriting ---- */

/* i32 bias for float bias b: round(b / (x_scale * w_scale)), scales per channel like w. */
static xnnd_id quantized_bias(xnnd_graph* g, xnnd_id b, xnnd_id x, xnnd_id w) {
  int64_t c = g->values[b].dims[0];
  const float* bf = xnnd_const_f32(g, b);
  int32_t* q = malloc(sizeof(int32_t) * (size_t)c);
  float* scales = malloc(sizeof(float) * (size_t)c);
  if (!q || !scales) {
    free(q);
    free(scales);
    return XNND_NO_ID;
  }
  float sx = g->values[x].quant.scale;
  for (int64_t i = 0; i < c; i++) {
    scales[i] = sx * weight_scale(&g->values[w], (uint32_t)i);
    double r = nearbyint((double)bf[i] / scales[i]);
    q[i] = r > INT32_MAX ? INT32_MAX : r < INT32_MIN ? INT32_MIN : (int32_t)r;
  }
  bool per_channel = g->values[w].quant.scheme == XNND_QUANT_PER_CHANNEL;
  char hint[96];
  snprintf(hint, sizeof(hint), "%.80s_q", g->values[b].name);
  xnnd_id id = xnnd_add_value_hint(g, hint, XNND_I32, 1, &c);
  xnnd_status st = id == XNND_NO_ID ? XNND_INTERNAL : xnnd_graph_set_constant(g, id, q, sizeof(int32_t) * (size_t)c);
  if (st == XNND_OK)
    st = per_channel ? xnnd_graph_set_quant_per_channel(g, id, 0, scales, NULL, (uint32_t)c)
                     : xnnd_graph_set_quant_per_tensor(g, id, scales[0], 0);
  free(q);
  free(scales);
  return st == XNND_OK ? id : XNND_NO_ID;
}

static xnnd_status fuse(xnnd_graph* g, match* m) {
  if (m->num_ins == 3 && m->ins[2] != XNND_NO_ID) {
    m->ins[2] = quantized_bias(g, m->ins[2], m->ins[0], m->ins[1]);
    if (m->ins[2] == XNND_NO_ID) return XNND_INTERNAL;
  }
  xnnd_op op = g->nodes[m->node].op;
  xnnd_attr attrs[XNND_MAX_ATTRS];
  memcpy(attrs, g->nodes[m->node].attrs, sizeof(attrs));
  const xnnd_dimx* attr_dimx[XNND_MAX_ATTRS];
  memcpy(attr_dimx, g->nodes[m->node].attr_dimx, sizeof(attr_dimx));
  /* the dequantizes the pattern consumed had it as their only reader */
  for (uint32_t i = 0; i < g->nodes[m->node].num_inputs; i++) {
    xnnd_id dq = xnnd_qdq_producer(g, g->nodes[m->node].inputs[i], XNND_OP_DEQUANTIZE);
    if (dq != XNND_NO_ID) g->nodes[dq].dead = true;
  }
  g->nodes[m->node].dead = true;
  g->nodes[m->quant].dead = true;
  if (m->clamp != XNND_NO_ID) g->nodes[m->clamp].dead = true;
  xnnd_id id = xnnd_emit_node_dimx(g, op, m->ins, m->num_ins, attrs, attr_dimx, m->out);
  if (id == XNND_NO_ID) return XNND_INTERNAL;
  if (takes_range(op)) {
    g->nodes[id].output_min = m->lo;
    g->nodes[id].output_max = m->hi;
  }
  return XNND_OK;
}

/* A quantized clamp-like node c folds into its quantized producer's output range. */
static bool fold_clamp(xnnd_graph* g, xnnd_id c, uint32_t* changed, xnnd_status* st) {
  const xnnd_ir_node* cn = &g->nodes[c];
  float lo, hi;
  if (cn->dead || !xnnd_node_clamp_range(cn, &lo, &hi)) return false;
  xnnd_id y = cn->inputs[0], z = cn->outputs[0];
  if (!xnnd_qdq_same_params(&g->values[y], &g->values[z]) || g->values[y].dtype != XNND_I8) return false;
  xnnd_id p = g->values[y].producer;
  if (p >= g->num_nodes || g->nodes[p].dead || !takes_range(g->nodes[p].op) || xnnd_graph_sole_user(g, y) != c ||
      g->nodes[p].num_outputs != 1)
    return false;
  float plo = g->nodes[p].output_min > lo ? g->nodes[p].output_min : lo;
  float phi = g->nodes[p].output_max < hi ? g->nodes[p].output_max : hi;
  if (!(plo < phi)) return false;
  xnnd_op op = g->nodes[p].op;
  uint32_t num_in = g->nodes[p].num_inputs;
  xnnd_id ins[8];
  if (num_in > 8) return false;
  memcpy(ins, g->nodes[p].inputs, sizeof(xnnd_id) * num_in);
  xnnd_attr attrs[XNND_MAX_ATTRS];
  memcpy(attrs, g->nodes[p].attrs, sizeof(attrs));
  const xnnd_dimx* attr_dimx[XNND_MAX_ATTRS];
  memcpy(attr_dimx, g->nodes[p].attr_dimx, sizeof(attr_dimx));
  g->nodes[p].dead = true;
  g->nodes[c].dead = true;
  xnnd_id id = xnnd_emit_node_dimx(g, op, ins, num_in, attrs, attr_dimx, z);
  if (id == XNND_NO_ID) {
    *st = XNND_INTERNAL;
    return false;
  }
  g->nodes[id].output_min = plo;
  g->nodes[id].output_max = phi;
  (*changed)++;
  return true;
}

/* q(dq(x)) with x's own parameters is x. */
static bool drop_requantize(xnnd_graph* g, xnnd_id q, uint32_t* changed) {
  if (g->nodes[q].op != XNND_OP_QUANTIZE || !xnnd_qdq_is_static_per_tensor(g, q)) return false;
  xnnd_id dq = xnnd_qdq_producer(g, g->nodes[q].inputs[0], XNND_OP_DEQUANTIZE);
  if (dq == XNND_NO_ID || !xnnd_qdq_is_static_per_tensor(g, dq)) return false;
  xnnd_id x = g->nodes[dq].inputs[0], out = g->nodes[q].outputs[0];
  if (!xnnd_qdq_same_params(&g->values[x], &g->values[out]) || xnnd_value_is_graph_output(g, out)) return false;
  g->nodes[q].dead = true;
  xnnd_graph_replace_uses(g, out, x);
  (*changed)++;
  return true;
}

/* Per-tensor quantization commutes with view and permute, so layout ops move to the int8
 * side, where the patterns above can see dq -> op -> q:
 *   dq(x) -> view           =>  view(x) -> dq        (the view's reader is not a q)
 *   y -> view -> q          =>  q(y) -> view         (y not from a dq) */
static bool is_layout(xnnd_op op) { return op == XNND_OP_VIEW || op == XNND_OP_PERMUTE; }

static xnnd_id int8_like(xnnd_graph* g, xnnd_id dims_of, xnnd_id quant_of, const char* suffix) {
  char hint[96];
  snprintf(hint, sizeof(hint), "%.80s%s", g->values[dims_of].name, suffix);
  int64_t dims[XNND_MAX_RANK];
  memcpy(dims, g->values[dims_of].dims, sizeof(dims));
  float scale = g->values[quant_of].quant.scale;
  int32_t zp = g->values[quant_of].quant.zero_point;
  xnnd_id id = xnnd_add_value_hint(g, hint, XNND_I8, g->values[dims_of].rank, dims);
  if (id == XNND_NO_ID || xnnd_graph_set_quant_per_tensor(g, id, scale, zp) != XNND_OK) return XNND_NO_ID;
  return id;
}

static xnnd_status sink_dequantize(xnnd_graph* g, xnnd_id v, bool* done) {
  const xnnd_ir_node* n = &g->nodes[v];
  *done = false;
  if (n->dead || !is_layout(n->op)) return XNND_OK;
  xnnd_id in = n->inputs[0], out = n->outputs[0];
  xnnd_id dq = xnnd_qdq_producer(g, in, XNND_OP_DEQUANTIZE);
  if (dq == XNND_NO_ID || !xnnd_qdq_is_static_per_tensor(g, dq) || xnnd_graph_sole_user(g, in) != v) return XNND_OK;
  xnnd_id x = g->nodes[dq].inputs[0];
  xnnd_id u = xnnd_graph_sole_user(g, out);
  if (g->values[x].data || (u != XNND_NO_ID && g->nodes[u].op == XNND_OP_QUANTIZE)) return XNND_OK;
  xnnd_id xv = int8_like(g, out, x, "_i8");
  if (xv == XNND_NO_ID) return XNND_INTERNAL;
  xnnd_op op = g->nodes[v].op;
  xnnd_attr lattrs[XNND_MAX_ATTRS], qattrs[XNND_MAX_ATTRS];
  memcpy(lattrs, g->nodes[v].attrs, sizeof(lattrs));
  memcpy(qattrs, g->nodes[dq].attrs, sizeof(qattrs));
  const xnnd_dimx* ldimx[XNND_MAX_ATTRS];
  memcpy(ldimx, g->nodes[v].attr_dimx, sizeof(ldimx));
  g->nodes[v].dead = g->nodes[dq].dead = true;
  if (xnnd_emit_node_dimx(g, op, &x, 1, lattrs, ldimx, xv) == XNND_NO_ID ||
      xnnd_emit_node(g, XNND_OP_DEQUANTIZE, &xv, 1, qattrs, out) == XNND_NO_ID)
    return XNND_INTERNAL;
  *done = true;
  return XNND_OK;
}

static xnnd_status hoist_quantize(xnnd_graph* g, xnnd_id q, bool* done) {
  *done = false;
  if (g->nodes[q].dead || g->nodes[q].op != XNND_OP_QUANTIZE || !xnnd_qdq_is_static_per_tensor(g, q)) return XNND_OK;
  xnnd_id v = g->nodes[q].inputs[0];
  xnnd_id l = g->values[v].producer;
  if (l >= g->num_nodes || g->nodes[l].dead || !is_layout(g->nodes[l].op) || xnnd_graph_sole_user(g, v) != q)
    return XNND_OK;
  xnnd_id y = g->nodes[l].inputs[0], out = g->nodes[q].outputs[0];
  if (!xnnd_value_is_plain_f32(g, y) || g->values[y].data || xnnd_graph_sole_user(g, y) != l ||
      xnnd_qdq_producer(g, y, XNND_OP_DEQUANTIZE) != XNND_NO_ID)
    return XNND_OK;
  xnnd_id yq = int8_like(g, y, out, "_q");
  if (yq == XNND_NO_ID) return XNND_INTERNAL;
  xnnd_op op = g->nodes[l].op;
  xnnd_attr lattrs[XNND_MAX_ATTRS], qattrs[XNND_MAX_ATTRS];
  memcpy(lattrs, g->nodes[l].attrs, sizeof(lattrs));
  memcpy(qattrs, g->nodes[q].attrs, sizeof(qattrs));
  const xnnd_dimx* ldimx[XNND_MAX_ATTRS];
  memcpy(ldimx, g->nodes[l].attr_dimx, sizeof(ldimx));
  g->nodes[l].dead = g->nodes[q].dead = true;
  if (xnnd_emit_node(g, XNND_OP_QUANTIZE, &y, 1, qattrs, yq) == XNND_NO_ID ||
      xnnd_emit_node_dimx(g, op, &yq, 1, lattrs, ldimx, out) == XNND_NO_ID)
    return XNND_INTERNAL;
  *done = true;
  return XNND_OK;
}

static xnnd_status qdq_fusion_run(xnnd_graph* g, uint32_t* changed) {
  xnnd_status st = XNND_OK;
  uint32_t count = g->num_nodes;
  for (uint32_t n = 0; n < count && st == XNND_OK; n++)
    if (!g->nodes[n].dead && g->nodes[n].op == XNND_OP_QUANTIZE) drop_requantize(g, n, changed);
  /* layout ops to the int8 side; new nodes are appended and revisited (chains of views) */
  for (uint32_t n = 0; n < g->num_nodes && st == XNND_OK; n++) {
    bool done = false;
    st = sink_dequantize(g, n, &done);
    if (st == XNND_OK && !done) st = hoist_quantize(g, n, &done);
    if (done) (*changed)++;
  }
  count = g->num_nodes;
  for (uint32_t n = 0; n < count && st == XNND_OK; n++) {
    match m;
    if (!match_node(g, n, &m)) continue;
    st = fuse(g, &m);
    if (st == XNND_OK) (*changed)++;
  }
  /* new nodes were appended: scan them all for clamps to fold */
  for (uint32_t n = 0; n < g->num_nodes && st == XNND_OK; n++) fold_clamp(g, n, changed, &st);
  if (st != XNND_OK && g->errmsg[0] == '\0') snprintf(g->errmsg, sizeof(g->errmsg), "qdq-fusion: rewrite failed");
  return st;
}

const xnnd_pass xnnd_pass_qdq_fusion = {
    "qdq-fusion", "dq -> op -> q patterns -> one quantized node (conv, linear, add, mul, pools, clamp, view)",
    qdq_fusion_run};
