/* Pointwise affine rewrite: a linear (or addmm/mm with a transposed constant weight, plus a
 * separate per-channel bias add) applied over one axis of a tensor S through layout ops
 * becomes, for NCHW S (rank 4, channel axis 1), a 1x1 aten.convolution over S with the
 * layout ops gone; when the axis is already S's last, an aten.linear over S; otherwise a
 * linear between one permute to channels-last and its inverse, when that has fewer layout
 * ops than before. A region may chain several affines and elementwise activations
 * (ConvNeXt's permute -> linear -> relu -> linear -> permute), so one rewrite removes both
 * permutes.
 *
 * Safety comes from tracing indices, not from matching shapes: every element of every
 * tensor on the path is tagged with (position in S without the channel axis, channel), the
 * layout ops are applied to the tags, and the rewrite happens only when
 *   - the first affine contracts exactly one axis of S (the channel axis): a contraction
 *     over merged axes, or over an axis of size 1 (several axes could match), is refused;
 *   - every affine reads, per row, one position's channels in order;
 *   - some later tensor T has S's shape (with the channel count of the last affine) and
 *     holds each position's channels exactly where S had them: the restoring layout must
 *     invert the entering one, dims and all (a transposed H/W with H == W is refused);
 *   - only allowlisted ops lie on the path: permute, view, t (at most PW_MAX_LAYOUT in a
 *     row), elementwise activations, affines, and an add/sub of a constant that broadcasts
 *     along the channel only, with nothing but layout ops since an affine without a fused
 *     range (folded into its bias; a residual add or a per-position constant is not).
 *     Anything that mixes positions (pooling, mean, softmax, cat) ends the path;
 *   - every value strictly inside the path has exactly one reader and is no graph output;
 *   - every value is plain f32: a quantized linear (q(...) on input, weight or output, as
 *     around quantize/dequantize) is left intact; tensors with symbolic dims (dynamic
 *     shapes) or more than PW_MAX_ELEMS elements are not traced. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

#define PW_MAX_LAYOUT 8
#define PW_MAX_STEPS 32
#define PW_MAX_ELEMS (1u << 22)

typedef enum step_kind { STEP_LAYOUT, STEP_UNARY, STEP_AFFINE, STEP_BIAS } step_kind;

typedef struct step {
  step_kind kind;
  xnnd_id node;
  xnnd_affine aff;      /* STEP_AFFINE */
  xnnd_id bias_const;   /* STEP_BIAS: the constant added */
  float bias_factor;    /* STEP_BIAS: +alpha (add) or -alpha (sub) */
} step;

typedef struct region {
  xnnd_id source;       /* S */
  uint32_t axis;        /* channel axis of S */
  int64_t axis_stride;  /* elements between neighbouring channels of S */
  step steps[PW_MAX_STEPS];
  uint32_t num_steps;
  xnnd_id result;       /* T, written by the rewrite's last node */
} region;

/* tag = position << 32 | channel; positions and channels are below PW_MAX_ELEMS */
#define TAG(pos, ch) (((uint64_t)(pos) << 32) | (uint64_t)(ch))

static bool is_layout(xnnd_op op) { return xnnd_op_has(op, XNND_OPF_LAYOUT); }
static bool is_unary(xnnd_op op) { return xnnd_op_has(op, XNND_OPF_POINTWISE); }

/* Plain f32, static, non-empty, small enough to trace. Symbolic shapes are not traced: the
 * tags prove the rewrite at one size only. */
static bool traceable(const xnnd_graph* g, xnnd_id v) {
  if (!xnnd_value_is_plain_f32(g, v) || !xnnd_value_static(&g->values[v])) return false;
  size_t n = xnnd_value_numel(g, v);
  for (uint32_t i = 0; i < g->values[v].rank; i++)
    if (g->values[v].dims[i] <= 0) return false;
  return n > 0 && n <= PW_MAX_ELEMS;
}

static void row_major_strides(uint32_t rank, const int64_t* dims, int64_t* strides) {
  int64_t s = 1;
  for (uint32_t i = rank; i-- > 0;) {
    strides[i] = s;
    s *= dims[i];
  }
}

/* out[k] = in[source of k] for a layout node (view keeps order; permute and t move). */
static void apply_layout(const xnnd_graph* g, const xnnd_ir_node* n, const uint64_t* in,
                         uint64_t* out) {
  const xnnd_ir_value* x = &g->values[n->inputs[0]];
  size_t numel = xnnd_value_numel(g, n->inputs[0]);
  if (n->op == XNND_OP_VIEW || (n->op == XNND_OP_T && x->rank < 2)) {
    memcpy(out, in, numel * sizeof(uint64_t));
    return;
  }
  int64_t perm[XNND_MAX_RANK], strides[XNND_MAX_RANK], odims[XNND_MAX_RANK];
  uint32_t r = x->rank;
  for (uint32_t i = 0; i < r; i++) {
    perm[i] = n->op == XNND_OP_T ? (int64_t)(r - 1 - i) : n->attrs[0].ints[i];
    if (perm[i] < 0) perm[i] += r;
  }
  row_major_strides(r, x->dims, strides);
  for (uint32_t i = 0; i < r; i++) odims[i] = x->dims[perm[i]];
  int64_t idx[XNND_MAX_RANK] = {0};
  for (size_t k = 0; k < numel; k++) {
    int64_t off = 0;
    for (uint32_t i = 0; i < r; i++) off += idx[i] * strides[perm[i]];
    out[k] = in[off];
    for (uint32_t i = r; i-- > 0;) {
      if (++idx[i] < odims[i]) break;
      idx[i] = 0;
    }
  }
}

/* Every row (last dim = channels) holds one position's channels 0..channels-1 in order. */
static bool rows_are_channels(const uint64_t* tags, size_t numel, int64_t channels) {
  for (size_t m = 0; m < numel / (size_t)channels; m++) {
    uint64_t pos = tags[m * (size_t)channels] >> 32;
    for (int64_t i = 0; i < channels; i++)
      if (tags[m * (size_t)channels + (size_t)i] != TAG(pos, i)) return false;
  }
  return true;
}

/* Tags of an affine's output: same position per row, channels 0..out-1. */
static void affine_tags(const uint64_t* in, size_t rows, int64_t cin, int64_t cout, uint64_t* out) {
  for (size_t m = 0; m < rows; m++) {
    uint64_t pos = in[m * (size_t)cin] >> 32;
    for (int64_t o = 0; o < cout; o++) out[m * (size_t)cout + (size_t)o] = TAG(pos, o);
  }
}

/* v has S's shape with `channels` on the channel axis, each element where S keeps it. */
static bool is_restore(const xnnd_graph* g, const region* r, xnnd_id v, const uint64_t* tags,
                       int64_t channels) {
  const xnnd_ir_value* s = &g->values[r->source];
  const xnnd_ir_value* x = &g->values[v];
  if (x->rank != s->rank) return false;
  for (uint32_t i = 0; i < s->rank; i++)
    if (x->dims[i] != (i == r->axis ? channels : s->dims[i])) return false;
  int64_t st = r->axis_stride;
  size_t numel = xnnd_value_numel(g, v);
  for (size_t j = 0; j < numel; j++) {
    int64_t jj = (int64_t)j, o = (jj / st) % channels;
    int64_t pos = (jj / (channels * st)) * st + jj % st;
    if (tags[j] != TAG(pos, o)) return false;
  }
  return true;
}

/* An affine the rewrite can take, reading `input`: plain f32 activation, output and
 * constant weight, and a constant bias that is per channel (not per row). */
static bool usable_affine(const xnnd_graph* g, xnnd_id node, xnnd_id input, xnnd_affine* a) {
  if (!xnnd_match_affine(g, node, a) || a->input != input) return false;
  if (!traceable(g, a->input) || !traceable(g, g->nodes[node].outputs[0])) return false;
  if (!xnnd_const_f32(g, a->weight)) return false;
  if (a->bias != XNND_NO_ID) {
    const xnnd_ir_value* b = &g->values[a->bias];
    if (!xnnd_const_f32(g, a->bias)) return false;
    for (uint32_t i = 0; i + 1 < b->rank; i++)
      if (b->dims[i] != 1) return false;
    size_t n = xnnd_value_numel(g, a->bias);
    if (n != 1 && n != (size_t)a->out_features) return false;
  }
  return a->in_features >= 1 && a->out_features >= 1;
}

/* add/sub of a constant broadcasting only along the last (channel) dim of v. */
static bool bias_add(const xnnd_graph* g, const xnnd_ir_node* n, xnnd_id v, int64_t channels,
                     step* out) {
  if ((n->op != XNND_OP_ADD && n->op != XNND_OP_SUB) || xnnd_node_has_range(n)) return false;
  double alpha = n->attrs[0].f;
  xnnd_id c;
  if (n->inputs[0] == v && n->inputs[1] != v) {
    c = n->inputs[1];
    out->bias_factor = (float)(n->op == XNND_OP_ADD ? alpha : -alpha);
  } else if (n->op == XNND_OP_ADD && n->inputs[1] == v && alpha == 1.0) {
    c = n->inputs[0];
    out->bias_factor = 1.0f;
  } else {
    return false;
  }
  const xnnd_ir_value* cv = &g->values[c];
  const xnnd_ir_value* vv = &g->values[v];
  if (!xnnd_const_f32(g, c) || cv->rank > vv->rank) return false;
  for (uint32_t i = 0; i + 1 < cv->rank; i++)
    if (cv->dims[i] != 1) return false;
  if (cv->rank > 0 && cv->dims[cv->rank - 1] != 1 && cv->dims[cv->rank - 1] != channels) return false;
  if (!xnnd_same_dims(&g->values[n->outputs[0]], vv) || !traceable(g, n->outputs[0])) return false;
  out->kind = STEP_BIAS;
  out->bias_const = c;
  return true;
}

/* An add reading v can fold into the bias of the last affine: only layout ops or other
 * folded adds lie between them, that affine has no fused range, and v's rows are its
 * channels in order (so a constant broadcast along the last dim is per channel). */
static bool bias_foldable(const xnnd_graph* g, const region* r, xnnd_id v, const uint64_t* tags,
                          int64_t channels) {
  uint32_t i = r->num_steps;
  while (i > 0 && (r->steps[i - 1].kind == STEP_LAYOUT || r->steps[i - 1].kind == STEP_BIAS)) i--;
  if (i == 0 || r->steps[i - 1].kind != STEP_AFFINE) return false;
  if (xnnd_node_has_range(&g->nodes[r->steps[i - 1].node])) return false;
  const xnnd_ir_value* x = &g->values[v];
  return x->rank >= 1 && x->dims[x->rank - 1] == channels &&
         rows_are_channels(tags, xnnd_value_numel(g, v), channels);
}

/* Follow the path forward from the first affine; on success r->steps ends at the last
 * restore point and r->result is T. tags are the X0 tags (consumed). */
static bool walk_forward(const xnnd_graph* g, region* r, xnnd_id first, const xnnd_affine* a0,
                         uint64_t* tags) {
  uint64_t* cur = tags;
  bool ok = false;
  uint32_t best_steps = 0;
  xnnd_id best_value = XNND_NO_ID;
  int64_t channels = a0->in_features;
  uint32_t layout_run = 0;
  xnnd_id v = a0->input, node = first;
  step s;
  memset(&s, 0, sizeof(s));
  s.kind = STEP_AFFINE;
  s.node = first;
  s.aff = *a0;
  for (;;) {
    /* apply step s (reading v, the output of the previous step) */
    xnnd_id out = g->nodes[node].outputs[0];
    size_t out_numel = xnnd_value_numel(g, out);
    if (s.kind == STEP_AFFINE) {
      size_t rows = xnnd_value_numel(g, v) / (size_t)channels;
      if (!rows_are_channels(cur, xnnd_value_numel(g, v), channels)) goto done;
      uint64_t* next = malloc(sizeof(uint64_t) * out_numel);
      if (!next) goto done;
      affine_tags(cur, rows, channels, s.aff.out_features, next);
      free(cur);
      cur = next;
      channels = s.aff.out_features;
      layout_run = 0;
    } else if (s.kind == STEP_LAYOUT) {
      uint64_t* next = malloc(sizeof(uint64_t) * out_numel);
      if (!next) goto done;
      apply_layout(g, &g->nodes[node], cur, next);
      free(cur);
      cur = next;
      layout_run++;
    }
    r->steps[r->num_steps++] = s;
    v = out;
    if (is_restore(g, r, v, cur, channels)) {
      best_steps = r->num_steps;
      best_value = v;
    }
    /* choose the next step */
    xnnd_id next = xnnd_single_consumer(g, v);
    if (next == XNND_NO_ID || r->num_steps == PW_MAX_STEPS || !traceable(g, v)) break;
    const xnnd_ir_node* nn = &g->nodes[next];
    memset(&s, 0, sizeof(s));
    s.node = next;
    if (is_layout(nn->op) && nn->inputs[0] == v && layout_run < PW_MAX_LAYOUT &&
        traceable(g, nn->outputs[0])) {
      s.kind = STEP_LAYOUT;
    } else if (is_unary(nn->op) && nn->inputs[0] == v && traceable(g, nn->outputs[0])) {
      s.kind = STEP_UNARY;
    } else if (usable_affine(g, next, v, &s.aff) && s.aff.in_features == channels &&
               g->values[v].dims[g->values[v].rank - 1] == channels) {
      s.kind = STEP_AFFINE;
    } else if (bias_foldable(g, r, v, cur, channels) && bias_add(g, nn, v, channels, &s)) {
      /* kind set by bias_add */
    } else {
      break;
    }
    node = next;
  }
  if (best_value != XNND_NO_ID) {
    r->num_steps = best_steps;
    r->result = best_value;
    ok = true;
  }
done:
  free(cur);
  return ok;
}

/* Trace S through the prefix (layout and unary ops, in path order) to the first affine's
 * input and find the channel axis; then walk forward. */
static bool match_region(const xnnd_graph* g, xnnd_id source, const xnnd_id* prefix,
                         uint32_t num_prefix, xnnd_id first, const xnnd_affine* a0, region* r) {
  memset(r, 0, sizeof(*r));
  r->source = source;
  const xnnd_ir_value* s = &g->values[source];
  int64_t cin = a0->in_features;
  if (!traceable(g, source) || s->rank == 0 || cin < 2) return false;  /* cin 1: any unit axis */
  size_t numel = xnnd_value_numel(g, source);
  uint64_t* cur = malloc(sizeof(uint64_t) * numel);
  if (!cur) return false;
  for (size_t k = 0; k < numel; k++) cur[k] = k;
  for (uint32_t i = 0; i < num_prefix; i++) {
    r->steps[r->num_steps].node = prefix[i];
    r->steps[r->num_steps].kind = is_layout(g->nodes[prefix[i]].op) ? STEP_LAYOUT : STEP_UNARY;
    r->num_steps++;
    if (!is_layout(g->nodes[prefix[i]].op)) continue;
    uint64_t* next = malloc(sizeof(uint64_t) * numel);  /* layout ops keep numel */
    if (!next) {
      free(cur);
      return false;
    }
    apply_layout(g, &g->nodes[prefix[i]], cur, next);
    free(cur);
    cur = next;
  }
  /* the channel axis: the one axis of S whose size is cin and whose stride steps along
   * X0's last dim; with cin >= 2 at most one axis has that size and stride */
  int64_t strides[XNND_MAX_RANK];
  row_major_strides(s->rank, s->dims, strides);
  int64_t step_size = (int64_t)cur[1] - (int64_t)cur[0];
  uint32_t found = 0;
  for (uint32_t k = 0; k < s->rank; k++)
    if (s->dims[k] == cin && strides[k] == step_size) {
      r->axis = k;
      found++;
    }
  if (found != 1) {
    free(cur);
    return false;
  }
  r->axis_stride = strides[r->axis];
  int64_t st = r->axis_stride;
  for (size_t m = 0; m < numel / (size_t)cin; m++) {
    int64_t base = (int64_t)cur[m * (size_t)cin];
    if ((base / st) % cin != 0) goto fail;
    for (int64_t i = 0; i < cin; i++)
      if ((int64_t)cur[m * (size_t)cin + (size_t)i] != base + i * st) goto fail;
    int64_t pos = (base / (cin * st)) * st + base % st;
    for (int64_t i = 0; i < cin; i++) cur[m * (size_t)cin + (size_t)i] = TAG(pos, i);
  }
  return walk_forward(g, r, first, a0, cur);  /* takes cur */
fail:
  free(cur);
  return false;
}

typedef enum pw_mode { MODE_CONV, MODE_LINEAR, MODE_PERMUTE } pw_mode;

static xnnd_id new_value_like(xnnd_graph* g, xnnd_id like, const char* suffix, uint32_t rank,
                              const int64_t* dims) {
  char hint[96];
  snprintf(hint, sizeof(hint), "%.70s_%s", g->values[like].name, suffix);
  return xnnd_add_value_hint(g, hint, XNND_F32, rank, dims);
}

/* Emit affine step i over cur into `out`: a 1x1 convolution (MODE_CONV) or a linear, with
 * alpha/beta and the folded adds that follow it baked into new constants when needed. */
static xnnd_status emit_affine(xnnd_graph* g, const region* r, uint32_t i, pw_mode mode,
                               xnnd_id cur, xnnd_id out) {
  const xnnd_affine* a = &r->steps[i].aff;
  uint32_t num_bias_steps = 0;  /* folded adds: the BIAS steps up to the next op */
  for (uint32_t j = i + 1; j < r->num_steps && (r->steps[j].kind == STEP_LAYOUT || r->steps[j].kind == STEP_BIAS); j++)
    num_bias_steps += r->steps[j].kind == STEP_BIAS;
  int64_t o = a->out_features, in = a->in_features;
  bool has_bias = a->bias != XNND_NO_ID || num_bias_steps > 0;
  bool reuse_weight = mode != MODE_CONV && !a->weight_transposed && a->alpha == 1.0;
  bool reuse_bias = num_bias_steps == 0 && a->bias != XNND_NO_ID && a->beta == 1.0 &&
                    g->values[a->bias].rank == 1 && g->values[a->bias].dims[0] == o;
  float* w = malloc(sizeof(float) * (size_t)(o * in));
  float* b = malloc(sizeof(float) * (size_t)o);
  xnnd_status st = XNND_OUT_OF_MEMORY;
  if (!w || !b) goto done;
  xnnd_id inputs[3] = {cur, a->weight, has_bias ? a->bias : XNND_NO_ID};
  if (!reuse_weight) {
    xnnd_affine_weight(g, a, w);
    int64_t dims[4] = {o, in, 1, 1};
    inputs[1] = new_value_like(g, a->weight, mode == MODE_CONV ? "1x1" : "pw", mode == MODE_CONV ? 4 : 2, dims);
    if (inputs[1] == XNND_NO_ID || xnnd_graph_set_constant(g, inputs[1], w, sizeof(float) * (size_t)(o * in)))
      goto done;
  }
  if (has_bias && !reuse_bias) {
    xnnd_affine_bias(g, a, b);  /* checked when matched */
    for (uint32_t j = i + 1; j < r->num_steps && r->steps[j].kind != STEP_UNARY && r->steps[j].kind != STEP_AFFINE; j++) {
      const step* bs = &r->steps[j];
      if (bs->kind != STEP_BIAS) continue;
      const float* c = xnnd_const_f32(g, bs->bias_const);
      size_t cn = xnnd_value_numel(g, bs->bias_const);
      for (int64_t k = 0; k < o; k++) b[k] += bs->bias_factor * c[cn == 1 ? 0 : (size_t)k];
    }
    inputs[2] = new_value_like(g, g->nodes[a->node].outputs[0], "bias", 1, &o);
    if (inputs[2] == XNND_NO_ID || xnnd_graph_set_constant(g, inputs[2], b, sizeof(float) * (size_t)o))
      goto done;
  }
  xnnd_op op = mode == MODE_CONV ? XNND_OP_CONVOLUTION : XNND_OP_LINEAR;
  xnnd_id id = xnnd_emit_node(g, op, inputs, has_bias ? 3 : 2, NULL, out);
  st = XNND_INTERNAL;
  if (id == XNND_NO_ID) goto done;
  /* an affine with folded adds has no range (bias_foldable) */
  g->nodes[id].output_min = g->nodes[a->node].output_min;
  g->nodes[id].output_max = g->nodes[a->node].output_max;
  st = XNND_OK;
done:
  free(w);
  free(b);
  return st;
}

static xnnd_status rewrite(xnnd_graph* g, const region* r, pw_mode mode) {
  const xnnd_ir_value* s = &g->values[r->source];
  uint32_t rank = s->rank, c = r->axis;
  int64_t dims[XNND_MAX_RANK];
  xnnd_attr perm = {.kind = XNND_ATTR_INTS, .n = rank}, inverse = perm;
  /* dims of the working tensor: S's (NCHW or channels-last), or S permuted channels-last */
  for (uint32_t i = 0, k = 0; i < rank; i++)
    if (i != c) perm.ints[k++] = i;
  perm.ints[rank - 1] = c;
  for (uint32_t i = 0; i < rank; i++) inverse.ints[perm.ints[i]] = i;
  for (uint32_t i = 0; i < rank; i++) dims[i] = mode == MODE_PERMUTE ? s->dims[perm.ints[i]] : s->dims[i];
  uint32_t chan_dim = mode == MODE_PERMUTE ? rank - 1 : c;

  uint32_t last = 0;  /* the last step that emits a node */
  for (uint32_t i = 0; i < r->num_steps; i++) {
    g->nodes[r->steps[i].node].dead = true;
    if (r->steps[i].kind == STEP_UNARY || r->steps[i].kind == STEP_AFFINE) last = i;
  }
  xnnd_id cur = r->source;
  if (mode == MODE_PERMUTE) {
    xnnd_id v = new_value_like(g, r->source, "cl", rank, dims);
    if (v == XNND_NO_ID || xnnd_emit_node(g, XNND_OP_PERMUTE, &cur, 1, &perm, v) == XNND_NO_ID)
      return XNND_INTERNAL;
    cur = v;
  }
  for (uint32_t i = 0; i < r->num_steps; i++) {
    const step* st = &r->steps[i];
    if (st->kind == STEP_LAYOUT || st->kind == STEP_BIAS) continue;
    const xnnd_ir_node* old = &g->nodes[st->node];
    if (st->kind == STEP_AFFINE) dims[chan_dim] = st->aff.out_features;
    xnnd_id out = (i == last && mode != MODE_PERMUTE)
                      ? r->result
                      : new_value_like(g, old->outputs[0], "pw", rank, dims);
    if (out == XNND_NO_ID) return XNND_INTERNAL;
    if (st->kind == STEP_AFFINE) {
      xnnd_status status = emit_affine(g, r, i, mode, cur, out);
      if (status != XNND_OK) return status;
    } else {
      xnnd_attr attrs[XNND_MAX_ATTRS];
      memcpy(attrs, old->attrs, sizeof(attrs));
      float lo = old->output_min, hi = old->output_max;
      xnnd_id id = xnnd_emit_node(g, old->op, &cur, 1, attrs, out);
      if (id == XNND_NO_ID) return XNND_INTERNAL;
      g->nodes[id].output_min = lo;
      g->nodes[id].output_max = hi;
    }
    cur = out;
  }
  if (mode == MODE_PERMUTE &&
      xnnd_emit_node(g, XNND_OP_PERMUTE, &cur, 1, &inverse, r->result) == XNND_NO_ID)
    return XNND_INTERNAL;
  return XNND_OK;
}

/* Try the region starting at affine node n; *done when rewritten. */
static xnnd_status try_affine(xnnd_graph* g, xnnd_id n, bool* done) {
  *done = false;
  xnnd_affine a0;
  if (!usable_affine(g, n, g->nodes[n].inputs[g->nodes[n].op == XNND_OP_ADDMM ? 1 : 0], &a0))
    return XNND_OK;
  /* candidate sources, nearest first: walk back through layout and unary ops whose output
   * only the path reads */
  xnnd_id chain[PW_MAX_LAYOUT + 1], sources[PW_MAX_LAYOUT + 2];
  uint32_t depth = 0;
  xnnd_id v = a0.input, reader = n;
  sources[0] = v;
  while (depth < PW_MAX_LAYOUT) {
    xnnd_id p = g->values[v].producer;
    if (p >= g->num_nodes || g->nodes[p].dead) break;
    if (!is_layout(g->nodes[p].op) && !is_unary(g->nodes[p].op)) break;
    if (xnnd_single_consumer(g, v) != reader || !traceable(g, g->nodes[p].inputs[0])) break;
    chain[depth++] = p;
    reader = p;
    v = g->nodes[p].inputs[0];
    sources[depth] = v;
  }
  /* farthest source first: it removes the most layout ops */
  for (uint32_t k = depth + 1; k-- > 0;) {
    xnnd_id prefix[PW_MAX_LAYOUT + 1];
    for (uint32_t i = 0; i < k; i++) prefix[i] = chain[k - 1 - i];
    region* r = malloc(sizeof(region));
    if (!r) {
      snprintf(g->errmsg, sizeof(g->errmsg), "pointwise-affine: out of memory");
      return XNND_OUT_OF_MEMORY;
    }
    bool matched = match_region(g, sources[k], prefix, k, n, &a0, r);
    if (matched) {
      uint32_t rank = g->values[r->source].rank, layout = 0;
      for (uint32_t i = 0; i < r->num_steps; i++) layout += r->steps[i].kind == STEP_LAYOUT;
      pw_mode mode = (rank == 4 && r->axis == 1) ? MODE_CONV
                     : r->axis == rank - 1      ? MODE_LINEAR
                                                : MODE_PERMUTE;
      uint32_t new_layout = mode == MODE_PERMUTE ? 2 : 0;
      if (layout > new_layout) {
        xnnd_status st = rewrite(g, r, mode);
        free(r);
        if (st != XNND_OK) return st;
        *done = true;
        return XNND_OK;
      }
    }
    free(r);
  }
  return XNND_OK;
}

static xnnd_status pointwise_affine_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;  /* rewritten regions hold no further opportunity */
  for (uint32_t n = 0; n < count; n++) {
    xnnd_op op = g->nodes[n].op;
    if (g->nodes[n].dead || (op != XNND_OP_LINEAR && op != XNND_OP_ADDMM && op != XNND_OP_MM)) continue;
    bool done;
    xnnd_status st = try_affine(g, n, &done);
    if (st != XNND_OK) return st;
    *changed += done;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_pointwise_affine = {
    "pointwise-affine", "linear over the channel axis through permutes/views -> 1x1 conv or linear",
    pointwise_affine_run};
