/* A quantized linear with per-channel weights (this XNNPACK's fully connected node takes
 * per-tensor filters only) becomes a 1x1 convolution, exactly: no per-tensor requantization
 * of the weights. The pointwise-affine idea with H = W = 1: x [..., K] is viewed as
 * [M, K, 1, 1] (M = the product of the leading dims; with H = W = 1, NCHW and NHWC are the
 * same bytes), convolved with W [N, K] viewed as [N, K, 1, 1] (same per-channel scales along
 * dim 0, same int8 bytes) and the i32 bias, and the [M, N, 1, 1] result is viewed back as
 * [..., N]. The views keep their input's parameters; the output range moves to the
 * convolution. Per-tensor linears and f32 ones are left alone. */
#include <stdio.h>
#include <string.h>

#include "passes/qdq.h"

static bool is_per_channel_qlinear(const xnnd_graph* g, const xnnd_ir_node* n) {
  if (n->dead || n->op != XNND_OP_LINEAR) return false;
  const xnnd_ir_value* x = &g->values[n->inputs[0]];
  const xnnd_ir_value* w = &g->values[n->inputs[1]];
  const xnnd_ir_value* y = &g->values[n->outputs[0]];
  return x->dtype == XNND_I8 && x->quant.scheme == XNND_QUANT_PER_TENSOR && y->dtype == XNND_I8 &&
         y->quant.scheme == XNND_QUANT_PER_TENSOR && w->data && w->rank == 2 && w->dtype == XNND_I8 &&
         w->quant.scheme == XNND_QUANT_PER_CHANNEL && w->quant.axis == 0 && x->rank >= 2;
}

/* M, the product of x's leading dims, as a form: affine when at most one of them is
 * symbolic (a dynamic batch); false otherwise (s0 * s1 is not a dim). */
static bool rows_form(const xnnd_ir_value* x, xnnd_dimx* out) {
  int64_t p = 1;
  int sym = -1;
  for (uint32_t d = 0; d + 1 < x->rank; d++) {
    if (xnnd_value_dim_static(x, d)) {
      p *= x->dims[d];
    } else {
      if (sym >= 0) return false;
      sym = (int)d;
    }
  }
  *out = sym < 0 ? xnnd_dimx_const(1) : x->dimx[sym];
  out->c *= p;
  for (uint32_t s = 0; s < XNND_MAX_SYMS; s++) out->k[s] *= p;
  return true;
}

/* A new i8 value like `like` (same parameters) with dims. */
static xnnd_id q_value(xnnd_graph* g, const char* hint_base, const char* suffix, xnnd_id like, uint32_t rank,
                       const int64_t* dims) {
  char hint[96];
  snprintf(hint, sizeof(hint), "%.80s%s", hint_base, suffix);
  float scale = g->values[like].quant.scale;
  int32_t zp = g->values[like].quant.zero_point;
  xnnd_id id = xnnd_add_value_hint(g, hint, XNND_I8, rank, dims);
  if (id == XNND_NO_ID || xnnd_graph_set_quant_per_tensor(g, id, scale, zp) != XNND_OK) return XNND_NO_ID;
  return id;
}

static xnnd_status rewrite(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  xnnd_id x = n->inputs[0], w = n->inputs[1], b = n->num_inputs > 2 ? n->inputs[2] : XNND_NO_ID;
  xnnd_id y = n->outputs[0];
  float lo = n->output_min, hi = n->output_max;
  char base[96];
  snprintf(base, sizeof(base), "%.80s", g->values[y].name);
  int64_t m = 1, k = g->values[w].dims[1], cout = g->values[w].dims[0];
  for (uint32_t d = 0; d + 1 < g->values[x].rank; d++) m *= g->values[x].dims[d];
  xnnd_dimx mform;
  rows_form(&g->values[x], &mform);  /* checked by the caller */

  /* W [N, K] -> [N, K, 1, 1], same bytes and per-channel parameters */
  int64_t wdims[4] = {cout, k, 1, 1};
  char hint[96];
  snprintf(hint, sizeof(hint), "%.80s_1x1", g->values[w].name);
  xnnd_id w4 = xnnd_add_value_hint(g, hint, XNND_I8, 4, wdims);
  if (w4 == XNND_NO_ID) return XNND_INTERNAL;
  xnnd_quant wq = g->values[w].quant;
  if (xnnd_graph_set_constant(g, w4, g->values[w].data, (size_t)(cout * k)) != XNND_OK ||
      xnnd_graph_set_quant_per_channel(g, w4, 0, wq.scales, wq.zero_points, wq.num_channels) != XNND_OK)
    return XNND_INTERNAL;

  int64_t xdims[4] = {m, k, 1, 1}, ydims[4] = {m, cout, 1, 1};
  xnnd_id x4 = q_value(g, base, "_in1x1", x, 4, xdims);
  xnnd_id y4 = q_value(g, base, "_1x1", y, 4, ydims);
  if (x4 == XNND_NO_ID || y4 == XNND_NO_ID) return XNND_INTERNAL;
  xnnd_attr view_in = {.kind = XNND_ATTR_INTS, .n = 4, .ints = {m, k, 1, 1}};
  /* with a symbolic M the views carry forms; the new values take theirs from inference */
  xnnd_dimx in_forms[4] = {mform, xnnd_dimx_const(k), xnnd_dimx_const(1), xnnd_dimx_const(1)};
  const xnnd_dimx* in_dimx[XNND_MAX_ATTRS] = {xnnd_dimx_is_const(&mform) ? NULL : in_forms};
  if (xnnd_emit_node_dimx(g, XNND_OP_VIEW, &x, 1, &view_in, in_dimx, x4) == XNND_NO_ID)
    return XNND_INTERNAL;

  const xnnd_op_info* conv = xnnd_op_get(XNND_OP_CONVOLUTION);
  xnnd_attr attrs[XNND_MAX_ATTRS];
  memset(attrs, 0, sizeof(attrs));
  for (uint32_t a = 0; a < conv->num_attrs; a++) attrs[a] = conv->attrs[a].def;
  xnnd_id ins[3] = {x4, w4, b};
  xnnd_id c = xnnd_emit_node(g, XNND_OP_CONVOLUTION, ins, b == XNND_NO_ID ? 2 : 3, attrs, y4);
  if (c == XNND_NO_ID) return XNND_INTERNAL;
  g->nodes[c].output_min = lo;
  g->nodes[c].output_max = hi;

  g->nodes[node].dead = true;
  xnnd_attr view_out = {.kind = XNND_ATTR_INTS, .n = g->values[y].rank};
  for (uint32_t d = 0; d < g->values[y].rank; d++) view_out.ints[d] = g->values[y].dims[d];
  const xnnd_dimx* out_dimx[XNND_MAX_ATTRS] = {g->values[y].dimx};
  if (xnnd_emit_node_dimx(g, XNND_OP_VIEW, &y4, 1, &view_out, out_dimx, y) == XNND_NO_ID)
    return XNND_INTERNAL;
  return XNND_OK;
}

static xnnd_status linear_to_conv_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;
  for (uint32_t n = 0; n < count; n++) {
    xnnd_dimx mform;
    if (!is_per_channel_qlinear(g, &g->nodes[n]) ||
        !rows_form(&g->values[g->nodes[n].inputs[0]], &mform))
      continue;
    xnnd_status st = rewrite(g, n);
    if (st != XNND_OK) return st;
    (*changed)++;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_qdq_linear_to_conv = {
    "qdq-linear-to-conv", "quantized linear with per-channel weights -> 1x1 convolution between views",
    linear_to_conv_run};
