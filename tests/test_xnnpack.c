/* XNNPACK delegate, both sides: IR graphs built through ir.h are lowered with
 * xnnd_xnnpack_build_blob, run through the backend with NCHW tensors, and compared with naive
 * f32 references written here; the support checks give reasons; corrupt blobs fail with
 * distinct errors; every single-byte flip and truncation of a blob is survived; allocation
 * failures at init leak nothing. Backend memory goes through test_malloc/test_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "backends/xnnpack/xnnpack_backend.h"
#include "fb_builder.h"
#include "ir.h"
#include "pte_format.h"
#include "kernels/kernels.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "xnnpack_generated.h"
#include "small_convnet.h"
#include "conv_kernels/f32_conv.h"
#include "xnnd/runtime.h"

/* ---- leak-checked aligned allocator with failure injection ---- */
typedef struct alloc_ctx {
  long budget; /* allocations left before failing; < 0 = unlimited */
} alloc_ctx;

static void* t_alloc(void* context, size_t size, size_t alignment) {
  alloc_ctx* c = context;
  if (c != NULL) {
    if (c->budget == 0) return NULL;
    if (c->budget > 0) c->budget--;
  }
  return xt_aligned_alloc(NULL, size, alignment);
}


static const xnnd_allocator k_alloc = {NULL, t_alloc, xt_aligned_free};

/* ---- deterministic data ---- */
static uint32_t g_seed = 12345;
static float frand(void) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}
/* XNNPACK may read XNN_EXTRA_BYTES (16) past an input it is bound to: buffers get slack. */
static float* rand_buf(size_t n) {
  float* p = malloc(sizeof(float) * (n + 4));
  for (size_t i = 0; i < n; i++) p[i] = frand();
  return p;
}
static size_t numel_dims(uint32_t rank, const int64_t* dims) {
  size_t n = 1;
  for (uint32_t i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

/* ---- IR construction ---- */
static xnnd_id t_input(xnnd_graph* g, const char* name, uint32_t rank, const int64_t* dims) {
  xnnd_id id = xnnd_graph_add_value(g, name, XNND_F32, rank, dims);
  assert_int_not_equal(id, XNND_NO_ID);
  return id;
}

static xnnd_id t_const(xnnd_graph* g, uint32_t rank, const int64_t* dims, const float* data) {
  xnnd_id id = xnnd_graph_add_value(g, NULL, XNND_F32, rank, dims);
  assert_int_not_equal(id, XNND_NO_ID);
  assert_int_equal(xnnd_graph_set_constant(g, id, data, sizeof(float) * numel_dims(rank, dims)), XNND_OK);
  return id;
}

typedef struct t_attrs {
  xnnd_op op;
  xnnd_attr a[XNND_MAX_ATTRS];
} t_attrs;

static t_attrs attrs_of(xnnd_op op) {
  t_attrs t;
  memset(&t, 0, sizeof(t));
  t.op = op;
  const xnnd_op_info* info = xnnd_op_get(op);
  for (uint32_t i = 0; i < info->num_attrs; i++) t.a[i] = info->attrs[i].def;
  return t;
}

static xnnd_attr* attr_slot(t_attrs* t, const char* name) {
  int i = xnnd_op_attr_index(t->op, name);
  assert_true(i >= 0);
  return &t->a[i];
}
static void set_ints2(t_attrs* t, const char* name, int64_t a, int64_t b) {
  xnnd_attr* s = attr_slot(t, name);
  s->kind = XNND_ATTR_INTS;
  s->n = 2;
  s->ints[0] = a;
  s->ints[1] = b;
}
static void set_int(t_attrs* t, const char* name, int64_t v) {
  xnnd_attr* s = attr_slot(t, name);
  s->kind = XNND_ATTR_INT;
  s->i = v;
}
static void set_bool(t_attrs* t, const char* name, bool v) {
  xnnd_attr* s = attr_slot(t, name);
  s->kind = XNND_ATTR_BOOL;
  s->i = v;
}
static void set_float(t_attrs* t, const char* name, double v) {
  xnnd_attr* s = attr_slot(t, name);
  s->kind = XNND_ATTR_FLOAT;
  s->f = v;
}

/* Appends a node; returns its first output value. */
static xnnd_id t_node(xnnd_graph* g, xnnd_op op, const xnnd_id* ins, uint32_t n, const t_attrs* attrs) {
  xnnd_id node = xnnd_graph_add_node_infer(g, op, ins, n, attrs ? attrs->a : NULL);
  if (node == XNND_NO_ID) fail_msg("add_node_infer(%s): %s", xnnd_op_get(op)->name, g->errmsg);
  return g->nodes[node].outputs[0];
}

static xnnd_tensor tensor_of(const xnnd_graph* g, xnnd_id id, void* data) {
  xnnd_tensor t;
  memset(&t, 0, sizeof(t));
  const xnnd_ir_value* v = &g->values[id];
  t.dtype = v->dtype;
  t.rank = v->rank;
  for (uint32_t d = 0; d < v->rank; d++) t.dims[d] = v->dims[d];
  t.data = data;
  return t;
}

static size_t value_numel(const xnnd_graph* g, xnnd_id id) { return numel_dims(g->values[id].rank, g->values[id].dims); }

/* Lower, as one partition, every node the outputs depend on. */
static uint8_t* build_all(const xnnd_graph* g, const xnnd_id* ins, uint32_t nin, const xnnd_id* outs, uint32_t nout,
                          size_t* size_out) {
  bool* needed = calloc(g->num_values, sizeof(bool));
  bool* take = calloc(g->num_nodes, sizeof(bool));
  for (uint32_t i = 0; i < nout; i++) needed[outs[i]] = true;
  for (uint32_t i = g->num_nodes; i-- > 0;) {
    const xnnd_ir_node* nd = &g->nodes[i];
    for (uint32_t k = 0; k < nd->num_outputs && !nd->dead; k++)
      if (nd->outputs[k] != XNND_NO_ID && needed[nd->outputs[k]]) take[i] = true;
    for (uint32_t k = 0; take[i] && k < nd->num_inputs; k++)
      if (nd->inputs[k] != XNND_NO_ID) needed[nd->inputs[k]] = true;
  }
  xnnd_id nodes[64];
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->num_nodes; i++)
    if (take[i]) nodes[n++] = i;
  free(needed);
  free(take);
  char err[512] = "";
  uint8_t* blob = NULL;
  xnnd_status st = xnnd_xnnpack_build_blob(g, nodes, n, ins, nin, outs, nout, &blob, size_out, err, sizeof(err));
  if (st != XNND_OK) fail_msg("build_blob: %s (%s)", err, xnnd_status_str(st));
  return blob;
}

/* When > 0, expect_close allows this absolute error instead of 1e-5 per element (Winograd's
 * error scales with the magnitude of the whole output, not of each element). */
static float g_tol_abs = 0.0f;

static void expect_close(const float* got, const float* want, size_t n, const char* what) {
  for (size_t i = 0; i < n; i++) {
    float tol = g_tol_abs > 0.0f ? g_tol_abs : 1e-5f * fmaxf(1.0f, fabsf(want[i]));
    if (!(fabsf(got[i] - want[i]) <= tol))
      fail_msg("%s[%zu]: got %.9g, want %.9g", what, i, (double)got[i], (double)want[i]);
  }
}

/* Build, init, execute three times (the second from other buffers so setup re-binds),
 * compare; once with xnnd's convolution wherever it takes the node (own_kernels=on, so the
 * result does not depend on what this CPU measures faster), once with XNNPACK's kernels only. */
static void run_graph_mode(xnnd_graph* g, const xnnd_id* ins, uint32_t nin, const xnnd_id* outs, uint32_t nout,
                           float* const* in_data, float* const* ref, uint32_t threads, bool xnnpack_only) {
  size_t size = 0;
  uint8_t* blob = build_all(g, ins, nin, outs, nout, &size);
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  assert_true(be->is_available());
  xnnd_tensor ti[8], to[8];
  float* obuf[8];
  float* ibuf2[8];
  for (uint32_t i = 0; i < nin; i++) ti[i] = tensor_of(g, ins[i], NULL);
  for (uint32_t i = 0; i < nout; i++) to[i] = tensor_of(g, outs[i], NULL);
  static const xnnd_backend_option k_off = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "off"};
  static const xnnd_backend_option k_on = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "on"};
  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, threads, ti, nin, to, nout, false,
                                 xnnpack_only ? &k_off : &k_on, 1, NULL, 0};
  void* h = NULL;
  char err[512] = "";
  xnnd_status st = be->init(&args, &h, err, sizeof(err));
  if (st != XNND_OK) fail_msg("init: %s (%s)", err, xnnd_status_str(st));
  for (int round = 0; round < 3; round++) {
    for (uint32_t i = 0; i < nin; i++) {
      size_t n = value_numel(g, ins[i]);
      ibuf2[i] = malloc(sizeof(float) * n + 16);
      memcpy(ibuf2[i], in_data[i], sizeof(float) * n);
      ti[i].data = round == 1 ? ibuf2[i] : in_data[i];
    }
    for (uint32_t i = 0; i < nout; i++) {
      size_t n = value_numel(g, outs[i]);
      obuf[i] = malloc(sizeof(float) * n + 16);
      for (size_t k = 0; k < n; k++) obuf[i][k] = NAN;
      to[i].data = obuf[i];
    }
    st = be->execute(h, ti, nin, to, nout, err, sizeof(err));
    if (st != XNND_OK) fail_msg("execute: %s (%s)", err, xnnd_status_str(st));
    for (uint32_t i = 0; i < nout; i++) {
      expect_close(obuf[i], ref[i], value_numel(g, outs[i]), "output");
      free(obuf[i]);
    }
    for (uint32_t i = 0; i < nin; i++) free(ibuf2[i]);
  }
  be->destroy(h);
  free(blob);
}

static void run_graph(xnnd_graph* g, const xnnd_id* ins, uint32_t nin, const xnnd_id* outs, uint32_t nout,
                      float* const* in_data, float* const* ref, uint32_t threads) {
  run_graph_mode(g, ins, nin, outs, nout, in_data, ref, threads, false);
  run_graph_mode(g, ins, nin, outs, nout, in_data, ref, threads, true);
}

/* Node types in a blob, for asserting which XNNPACK node a lowering chose. */
static uint8_t blob_node_type(const uint8_t* blob, uint32_t index) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  fb_table root = fb_root(blob + h.flatbuffer_offset);
  fb_vec nodes = fb_vector(root, XNND_XNNPACK_Graph_nodes);
  assert_true(index < nodes.len);
  return fb_u8(fb_vec_table(nodes, index), XNND_XNNPACK_NodeEntry_node_type, 0);
}
static uint32_t blob_num_nodes(const uint8_t* blob) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  return fb_vector(fb_root(blob + h.flatbuffer_offset), XNND_XNNPACK_Graph_nodes).len;
}

/* ---- naive NCHW references ---- */
static void ref_conv(const float* x, int N, int C, int H, int W, const float* w, int O, int KH, int KW, const float* b,
                     int sh, int sw, int ph, int pw, int dh, int dw, int groups, float* y, int OH, int OW) {
  int cpg = C / groups, opg = O / groups;
  for (int n = 0; n < N; n++)
    for (int o = 0; o < O; o++)
      for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
          double acc = b ? b[o] : 0.0;
          int gidx = o / opg;
          for (int ci = 0; ci < cpg; ci++)
            for (int ky = 0; ky < KH; ky++)
              for (int kx = 0; kx < KW; kx++) {
                int iy = oy * sh - ph + ky * dh, ix = ox * sw - pw + kx * dw;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                int c = gidx * cpg + ci;
                acc += (double)x[((n * C + c) * H + iy) * W + ix] * w[((o * cpg + ci) * KH + ky) * KW + kx];
              }
          y[((n * O + o) * OH + oy) * OW + ox] = (float)acc;
        }
}

static void ref_clamp(float* y, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) y[i] = fminf(fmaxf(y[i], lo), hi);
}

typedef enum { B_ADD, B_SUB, B_MUL, B_DIV } bop;
/* numpy broadcasting over up to 6 dims */
static void ref_binary(bop op, const float* a, uint32_t ar, const int64_t* ad, const float* b, uint32_t br,
                       const int64_t* bd, float* y, uint32_t yr, const int64_t* yd) {
  size_t total = numel_dims(yr, yd);
  for (size_t i = 0; i < total; i++) {
    size_t rem = i, ai = 0, bi = 0, as = 1, bs = 1;
    for (int d = (int)yr - 1; d >= 0; d--) {
      size_t idx = rem % (size_t)yd[d];
      rem /= (size_t)yd[d];
      int da = d - (int)(yr - ar), db = d - (int)(yr - br);
      if (da >= 0) {
        ai += (ad[da] == 1 ? 0 : idx) * as;
        as *= (size_t)ad[da];
      }
      if (db >= 0) {
        bi += (bd[db] == 1 ? 0 : idx) * bs;
        bs *= (size_t)bd[db];
      }
    }
    float u = a[ai], v = b[bi];
    y[i] = op == B_ADD ? u + v : op == B_SUB ? u - v : op == B_MUL ? u * v : u / v;
  }
}

static void ref_fc(const float* x, size_t rows, int in, const float* w /* [out,in] */, int out, const float* b, float* y) {
  for (size_t r = 0; r < rows; r++)
    for (int o = 0; o < out; o++) {
      double acc = b ? b[o] : 0.0;
      for (int i = 0; i < in; i++) acc += (double)x[r * in + i] * w[o * in + i];
      y[r * out + o] = (float)acc;
    }
}

static void ref_pool(bool is_max, const float* x, int N, int C, int H, int W, int KH, int KW, int sh, int sw, int ph,
                     int pw, bool count_include_pad, float* y, int OH, int OW) {
  for (int nc = 0; nc < N * C; nc++)
    for (int oy = 0; oy < OH; oy++)
      for (int ox = 0; ox < OW; ox++) {
        int y0 = oy * sh - ph, x0 = ox * sw - pw;
        int y1 = y0 + KH < H + ph ? y0 + KH : H + ph, x1 = x0 + KW < W + pw ? x0 + KW : W + pw;
        int pool = (y1 - y0) * (x1 - x0);
        double acc = is_max ? -INFINITY : 0.0;
        int valid = 0;
        for (int iy = y0; iy < y0 + KH; iy++)
          for (int ix = x0; ix < x0 + KW; ix++) {
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            float v = x[(nc * H + iy) * W + ix];
            acc = is_max ? fmax(acc, v) : acc + v;
            valid++;
          }
        y[(nc * OH + oy) * OW + ox] = (float)(is_max ? acc : acc / (count_include_pad ? pool : valid));
      }
}

/* ---- tests: numerics ---- */
static void test_conv_stride2_bias_relu(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("conv", &g), XNND_OK);
  int64_t xd[4] = {2, 3, 9, 9}, wd[4] = {5, 3, 3, 3}, bd[1] = {5};
  float* x = rand_buf(numel_dims(4, xd));
  float* w = rand_buf(numel_dims(4, wd));
  float* b = rand_buf(5);
  xnnd_id xi = t_input(g, "x", 4, xd);
  xnnd_id wi = t_const(g, 4, wd, w), bi = t_const(g, 1, bd, b);
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_ints2(&a, "stride", 2, 2);
  set_ints2(&a, "padding", 1, 1);
  xnnd_id c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, bi}, 3, &a);
  xnnd_id r = t_node(g, XNND_OP_RELU, &c, 1, NULL);
  assert_int_equal(g->values[r].dims[2], 5);
  float* ref = malloc(sizeof(float) * 2 * 5 * 5 * 5);
  ref_conv(x, 2, 3, 9, 9, w, 5, 3, 3, b, 2, 2, 1, 1, 1, 1, 1, ref, 5, 5);
  ref_clamp(ref, 2 * 5 * 5 * 5, 0.0f, INFINITY);
  run_graph(g, &xi, 1, &r, 1, (float*[]){x}, (float*[]){ref}, 1);
  run_graph(g, &xi, 1, &r, 1, (float*[]){x}, (float*[]){ref}, 4);
  size_t size;
  uint8_t* blob = build_all(g, &xi, 1, &r, 1, &size);
  assert_int_equal(blob_num_nodes(blob), 2);
  assert_int_equal(blob_node_type(blob, 0), XNND_XNNPACK_Node_Conv2d);
  assert_int_equal(blob_node_type(blob, 1), XNND_XNNPACK_Node_Clamp);
  free(blob);
  free(x), free(w), free(b), free(ref);
  xnnd_graph_destroy(g);
}

/* xnnd's f32 convolution (the delegate's default for one-group f32 convs on AVX2+FMA3 CPUs)
 * against the double reference, over kernel sizes, strides, dilations, paddings, batch,
 * channel counts that leave partial 16-channel panels and partial 6-pixel blocks, with and
 * without bias and a fused output range, and the Winograd path; 1 and 2 threads. */
static void test_f32_conv_shapes(void** state) {
  (void)state;
  static const struct {
    int n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw;
    bool bias, range;
  } k_cases[] = {
      {1, 16, 7, 7, 32, 1, 1, 1, 1, 0, 0, 1, 1, true, false},   /* pointwise, whole panels */
      {2, 5, 5, 3, 21, 1, 1, 1, 1, 0, 0, 1, 1, false, true},    /* pointwise, partial panel and block */
      {1, 3, 13, 11, 17, 3, 3, 2, 2, 1, 1, 1, 1, true, true},   /* stem-like stride 2 */
      {1, 8, 9, 9, 16, 3, 3, 1, 1, 1, 1, 1, 1, true, false},    /* 3x3 same padding */
      {2, 7, 8, 10, 9, 3, 2, 1, 2, 2, 0, 2, 1, false, false},   /* dilation, asymmetric */
      {1, 4, 12, 12, 40, 7, 7, 2, 2, 3, 3, 1, 1, true, true},   /* 7x7 stem */
      {1, 6, 4, 4, 3, 5, 5, 1, 1, 2, 2, 1, 1, true, false},     /* kernel larger than half the input */
      {1, 2, 6, 6, 5, 1, 1, 2, 2, 0, 0, 1, 1, true, false},     /* strided pointwise (not the row shortcut) */
      {1, 3, 5, 5, 4, 1, 1, 1, 1, 1, 1, 1, 1, false, false},    /* padded pointwise */
      /* 3x3 stride 1 with >= 16 output tiles: Winograd F(4x4, 3x3) */
      {1, 16, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, true, false},  /* whole tiles, whole panels */
      {2, 12, 15, 13, 20, 3, 3, 1, 1, 1, 1, 1, 1, true, true},   /* edge tiles, channel tails */
      {1, 9, 19, 18, 7, 3, 3, 1, 1, 0, 0, 1, 1, false, false},   /* no padding */
      {1, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, true, false},  /* ResNet-like depth */
  };
  for (size_t k = 0; k < sizeof(k_cases) / sizeof(k_cases[0]); k++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("conv", &g), XNND_OK);
    int64_t xd[4] = {k_cases[k].n, k_cases[k].c, k_cases[k].h, k_cases[k].w};
    int64_t wd[4] = {k_cases[k].o, k_cases[k].c, k_cases[k].kh, k_cases[k].kw}, bd[1] = {k_cases[k].o};
    float* x = rand_buf(numel_dims(4, xd));
    float* w = rand_buf(numel_dims(4, wd));
    float* b = rand_buf((size_t)k_cases[k].o);
    xnnd_id xi = t_input(g, "x", 4, xd);
    xnnd_id wi = t_const(g, 4, wd, w), bi = k_cases[k].bias ? t_const(g, 1, bd, b) : XNND_NO_ID;
    t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
    set_ints2(&a, "stride", k_cases[k].sh, k_cases[k].sw);
    set_ints2(&a, "padding", k_cases[k].ph, k_cases[k].pw);
    set_ints2(&a, "dilation", k_cases[k].dh, k_cases[k].dw);
    xnnd_id c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, bi}, 3, &a);
    if (k_cases[k].range) {
      g->nodes[g->values[c].producer].output_min = -0.5f;
      g->nodes[g->values[c].producer].output_max = 0.75f;
    }
    int OH = (int)g->values[c].dims[2], OW = (int)g->values[c].dims[3];
    float* ref = malloc(sizeof(float) * value_numel(g, c));
    ref_conv(x, k_cases[k].n, k_cases[k].c, k_cases[k].h, k_cases[k].w, w, k_cases[k].o, k_cases[k].kh,
             k_cases[k].kw, k_cases[k].bias ? b : NULL, k_cases[k].sh, k_cases[k].sw, k_cases[k].ph, k_cases[k].pw,
             k_cases[k].dh, k_cases[k].dw, 1, ref, OH, OW);
    /* F(4x4, 3x3) in f32 loses about one decimal digit against direct summation: allow
     * 1e-5 of the largest unclamped output. */
    bool winograd = k_cases[k].kh == 3 && k_cases[k].kw == 3 && k_cases[k].sh == 1 && k_cases[k].sw == 1 &&
                    k_cases[k].dh == 1 && k_cases[k].dw == 1 && k_cases[k].n * ((OH + 3) / 4) * ((OW + 3) / 4) >= 16;
    float max_ref = 0.0f;
    for (size_t i = 0; i < value_numel(g, c); i++) max_ref = fmaxf(max_ref, fabsf(ref[i]));
    g_tol_abs = winograd ? 1e-5f * max_ref : 0.0f;
    if (k_cases[k].range) ref_clamp(ref, value_numel(g, c), -0.5f, 0.75f);
    run_graph(g, &xi, 1, &c, 1, (float*[]){x}, (float*[]){ref}, 1);
    run_graph(g, &xi, 1, &c, 1, (float*[]){x}, (float*[]){ref}, 2);
    g_tol_abs = 0.0f;
    free(x), free(w), free(b), free(ref);
    xnnd_graph_destroy(g);
  }
}

/* Values crossing between XNNPACK segments and xnnd convolutions: a residual whose skip
 * value is written before a convolution and read after it, a convolution output that is
 * both a delegate output and read by a later node, and back-to-back convolutions
 * (test_f32_conv_shapes covers a convolution between the delegate input and output). */
static void test_f32_conv_segments(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("segments", &g), XNND_OK);
  int64_t xd[4] = {1, 8, 6, 6}, wd[4] = {8, 8, 3, 3};
  float* x = rand_buf(numel_dims(4, xd));
  float* w1 = rand_buf(numel_dims(4, wd));
  float* w2 = rand_buf(numel_dims(4, wd));
  xnnd_id xi = t_input(g, "x", 4, xd);
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_ints2(&a, "padding", 1, 1);
  xnnd_id r = t_node(g, XNND_OP_RELU, &xi, 1, NULL);                                           /* XNNPACK */
  xnnd_id c1 = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){r, t_const(g, 4, wd, w1), XNND_NO_ID}, 3, &a);  /* xnnd */
  xnnd_id c2 = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){c1, t_const(g, 4, wd, w2), XNND_NO_ID}, 3, &a); /* xnnd */
  xnnd_id s = t_node(g, XNND_OP_ADD, (xnnd_id[]){c2, r}, 2, NULL);                             /* XNNPACK */
  xnnd_id s2 = t_node(g, XNND_OP_ADD, (xnnd_id[]){s, c1}, 2, NULL);
  size_t n = numel_dims(4, xd);
  float* rr = malloc(sizeof(float) * n);
  float* ref_c1 = malloc(sizeof(float) * n);
  float* ref_c2 = malloc(sizeof(float) * n);
  float* ref_s2 = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) rr[i] = fmaxf(x[i], 0.0f);
  ref_conv(rr, 1, 8, 6, 6, w1, 8, 3, 3, NULL, 1, 1, 1, 1, 1, 1, 1, ref_c1, 6, 6);
  ref_conv(ref_c1, 1, 8, 6, 6, w2, 8, 3, 3, NULL, 1, 1, 1, 1, 1, 1, 1, ref_c2, 6, 6);
  for (size_t i = 0; i < n; i++) ref_s2[i] = ref_c2[i] + rr[i] + ref_c1[i];
  run_graph(g, &xi, 1, (xnnd_id[]){s2, c1}, 2, (float*[]){x}, (float*[]){ref_s2, ref_c1}, 1);
  run_graph(g, &xi, 1, (xnnd_id[]){s2, c1}, 2, (float*[]){x}, (float*[]){ref_s2, ref_c1}, 2);
  free(x), free(w1), free(w2), free(rr), free(ref_c1), free(ref_c2), free(ref_s2);
  xnnd_graph_destroy(g);
}

static void test_grouped_dilated_conv(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("gconv", &g), XNND_OK);
  int64_t xd[4] = {1, 4, 10, 8}, wd[4] = {6, 2, 3, 2};
  float* x = rand_buf(numel_dims(4, xd));
  float* w = rand_buf(numel_dims(4, wd));
  xnnd_id xi = t_input(g, "x", 4, xd);
  xnnd_id wi = t_const(g, 4, wd, w);
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_int(&a, "groups", 2);
  set_ints2(&a, "dilation", 2, 1);
  set_ints2(&a, "padding", 2, 0);
  set_ints2(&a, "stride", 1, 2);
  xnnd_id c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, XNND_NO_ID}, 3, &a);
  const xnnd_ir_value* cv = &g->values[c];
  int OH = (int)cv->dims[2], OW = (int)cv->dims[3];
  float* ref = malloc(sizeof(float) * value_numel(g, c));
  ref_conv(x, 1, 4, 10, 8, w, 6, 3, 2, NULL, 1, 2, 2, 0, 2, 1, 2, ref, OH, OW);
  run_graph(g, &xi, 1, &c, 1, (float*[]){x}, (float*[]){ref}, 1);
  free(x), free(w), free(ref);
  xnnd_graph_destroy(g);
}

static void test_depthwise_hardtanh(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("dw", &g), XNND_OK);
  int64_t xd[4] = {1, 4, 8, 7}, wd[4] = {8, 1, 3, 3}, bd[1] = {8};
  float* x = rand_buf(numel_dims(4, xd));
  for (size_t i = 0; i < numel_dims(4, xd); i++) x[i] *= 8.0f;
  float* w = rand_buf(numel_dims(4, wd));
  float* b = rand_buf(8);
  xnnd_id xi = t_input(g, "x", 4, xd);
  xnnd_id wi = t_const(g, 4, wd, w), bi = t_const(g, 1, bd, b);
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_int(&a, "groups", 4);
  set_ints2(&a, "padding", 1, 1);
  xnnd_id c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, bi}, 3, &a);
  t_attrs ht = attrs_of(XNND_OP_HARDTANH);
  set_float(&ht, "min_val", 0.0);
  set_float(&ht, "max_val", 6.0);
  xnnd_id r = t_node(g, XNND_OP_HARDTANH, &c, 1, &ht);
  float* ref = malloc(sizeof(float) * value_numel(g, r));
  ref_conv(x, 1, 4, 8, 7, w, 8, 3, 3, b, 1, 1, 1, 1, 1, 1, 4, ref, 8, 7);
  ref_clamp(ref, value_numel(g, r), 0.0f, 6.0f);
  run_graph(g, &xi, 1, &r, 1, (float*[]){x}, (float*[]){ref}, 2);
  size_t size;
  uint8_t* blob = build_all(g, &xi, 1, &r, 1, &size);
  assert_int_equal(blob_node_type(blob, 0), XNND_XNNPACK_Node_DepthwiseConv2d);
  free(blob);
  free(x), free(w), free(b), free(ref);
  xnnd_graph_destroy(g);
}

static void test_binary_broadcast(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("bin", &g), XNND_OK);
  int64_t d4[4] = {2, 3, 4, 5}, cd[3] = {3, 1, 1}, sd[2] = {4, 5};
  float* x = rand_buf(120);
  float* y = rand_buf(120);
  float* c = rand_buf(3);
  float* s = rand_buf(20);
  for (int i = 0; i < 20; i++) s[i] = 1.5f + s[i];  /* no division by ~0 */
  xnnd_id xi = t_input(g, "x", 4, d4), yi = t_input(g, "y", 4, d4);
  xnnd_id ci = t_const(g, 3, cd, c), si = t_const(g, 2, sd, s);
  xnnd_id add = t_node(g, XNND_OP_ADD, (xnnd_id[]){xi, yi}, 2, NULL);
  xnnd_id mul = t_node(g, XNND_OP_MUL, (xnnd_id[]){add, ci}, 2, NULL);  /* [3,1,1] per channel */
  xnnd_id sub = t_node(g, XNND_OP_SUB, (xnnd_id[]){mul, xi}, 2, NULL);
  xnnd_id dv = t_node(g, XNND_OP_DIV, (xnnd_id[]){sub, si}, 2, NULL);    /* [4,5] over H, W */
  float* t1 = malloc(480), *t2 = malloc(480), *t3 = malloc(480), *ref = malloc(480);
  ref_binary(B_ADD, x, 4, d4, y, 4, d4, t1, 4, d4);
  ref_binary(B_MUL, t1, 4, d4, c, 3, cd, t2, 4, d4);
  ref_binary(B_SUB, t2, 4, d4, x, 4, d4, t3, 4, d4);
  ref_binary(B_DIV, t3, 4, d4, s, 2, sd, ref, 4, d4);
  run_graph(g, (xnnd_id[]){xi, yi}, 2, &dv, 1, (float*[]){x, y}, (float*[]){ref}, 1);
  /* Two outputs: the intermediate add and the final value. */
  run_graph(g, (xnnd_id[]){xi, yi}, 2, (xnnd_id[]){dv, add}, 2, (float*[]){x, y}, (float*[]){ref, t1}, 1);
  free(x), free(y), free(c), free(s), free(t1), free(t2), free(t3), free(ref);
  xnnd_graph_destroy(g);
}

static void test_binary_low_rank_and_scalar(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("bin2", &g), XNND_OK);
  int64_t xd[2] = {3, 7}, bd[1] = {7};
  float* x = rand_buf(21);
  float* b = rand_buf(7);
  float k = 0.75f;
  xnnd_id xi = t_input(g, "x", 2, xd);
  xnnd_id bi = t_const(g, 1, bd, b), ki = t_const(g, 0, NULL, &k);
  xnnd_id add = t_node(g, XNND_OP_ADD, (xnnd_id[]){xi, bi}, 2, NULL);
  xnnd_id mul = t_node(g, XNND_OP_MUL, (xnnd_id[]){add, ki}, 2, NULL);
  float t1[21], ref[21];
  ref_binary(B_ADD, x, 2, xd, b, 1, bd, t1, 2, xd);
  ref_binary(B_MUL, t1, 2, xd, &k, 0, NULL, ref, 2, xd);
  run_graph(g, &xi, 1, &mul, 1, (float*[]){x}, (float*[]){ref}, 1);
  free(x), free(b);
  xnnd_graph_destroy(g);
}

/* aten.maximum / aten.minimum -> Maximum2 / Minimum2, broadcasting a [3,1,1] constant and a
 * rank-0 one against a 4-D input. */
static void test_maximum_minimum(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("minmax", &g), XNND_OK);
  int64_t d4[4] = {2, 3, 4, 5}, cd[3] = {3, 1, 1};
  float* x = rand_buf(120);
  float* y = rand_buf(120);
  float* c = rand_buf(3);
  float k = 0.25f;
  xnnd_id xi = t_input(g, "x", 4, d4), yi = t_input(g, "y", 4, d4);
  xnnd_id ci = t_const(g, 3, cd, c), ki = t_const(g, 0, NULL, &k);
  xnnd_id mx = t_node(g, XNND_OP_MAXIMUM, (xnnd_id[]){xi, yi}, 2, NULL);
  xnnd_id mn = t_node(g, XNND_OP_MINIMUM, (xnnd_id[]){mx, ci}, 2, NULL);
  xnnd_id mk = t_node(g, XNND_OP_MAXIMUM, (xnnd_id[]){mn, ki}, 2, NULL);
  float* ref = malloc(480);
  for (int i = 0; i < 120; i++) {
    const float m = fmaxf(x[i], y[i]);
    const float n = fminf(m, c[(i / 20) % 3]);
    ref[i] = fmaxf(n, k);
  }
  run_graph(g, (xnnd_id[]){xi, yi}, 2, &mk, 1, (float*[]){x, y}, (float*[]){ref}, 1);
  size_t size;
  uint8_t* blob = build_all(g, (xnnd_id[]){xi, yi}, 2, &mk, 1, &size);
  assert_int_equal(blob_num_nodes(blob), 3);
  assert_int_equal(blob_node_type(blob, 0), XNND_XNNPACK_Node_Maximum2);
  assert_int_equal(blob_node_type(blob, 1), XNND_XNNPACK_Node_Minimum2);
  free(blob);
  free(x), free(y), free(c), free(ref);
  xnnd_graph_destroy(g);
}

static void test_mean_global_pool(void** state) {
  (void)state;
  for (int keep = 0; keep < 2; keep++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("mean", &g), XNND_OK);
    int64_t xd[4] = {2, 5, 4, 3};
    float* x = rand_buf(120);
    xnnd_id xi = t_input(g, "x", 4, xd);
    t_attrs a = attrs_of(XNND_OP_MEAN);
    set_ints2(&a, "dim", -1, -2);
    set_bool(&a, "keepdim", keep);
    xnnd_id m = t_node(g, XNND_OP_MEAN, &xi, 1, &a);
    assert_int_equal(g->values[m].rank, keep ? 4 : 2);
    float ref[10];
    for (int nc = 0; nc < 10; nc++) {
      double s = 0;
      for (int i = 0; i < 12; i++) s += x[nc * 12 + i];
      ref[nc] = (float)(s / 12);
    }
    run_graph(g, &xi, 1, &m, 1, (float*[]){x}, (float*[]){ref}, 1);
    free(x);
    xnnd_graph_destroy(g);
  }
  /* adaptive_avg_pool2d to [1,1] */
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("adaptive", &g), XNND_OK);
  int64_t xd[4] = {1, 6, 5, 5};
  float* x = rand_buf(150);
  xnnd_id xi = t_input(g, "x", 4, xd);
  t_attrs a = attrs_of(XNND_OP_ADAPTIVE_AVG_POOL2D);
  set_ints2(&a, "output_size", 1, 1);
  xnnd_id m = t_node(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &xi, 1, &a);
  float ref[6];
  for (int c = 0; c < 6; c++) {
    double s = 0;
    for (int i = 0; i < 25; i++) s += x[c * 25 + i];
    ref[c] = (float)(s / 25);
  }
  run_graph(g, &xi, 1, &m, 1, (float*[]){x}, (float*[]){ref}, 1);
  free(x);
  xnnd_graph_destroy(g);
}

static void test_view_and_linear(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("view", &g), XNND_OK);
  int64_t xd[4] = {1, 6, 1, 1}, wd[2] = {4, 6}, bd[1] = {4};
  float* x = rand_buf(6);
  float* w = rand_buf(24);
  float* b = rand_buf(4);
  xnnd_id xi = t_input(g, "x", 4, xd);
  t_attrs a = attrs_of(XNND_OP_VIEW);
  set_ints2(&a, "size", 1, 6);
  xnnd_id v = t_node(g, XNND_OP_VIEW, &xi, 1, &a);
  xnnd_id wi = t_const(g, 2, wd, w), bi = t_const(g, 1, bd, b);
  xnnd_id l = t_node(g, XNND_OP_LINEAR, (xnnd_id[]){v, wi, bi}, 3, NULL);
  float ref[4];
  ref_fc(x, 1, 6, w, 4, b, ref);
  run_graph(g, &xi, 1, &v, 1, (float*[]){x}, (float*[]){x}, 1);
  run_graph(g, &xi, 1, &l, 1, (float*[]){x}, (float*[]){ref}, 1);
  free(x), free(w), free(b);
  xnnd_graph_destroy(g);

  /* linear on a 3-D input, no bias */
  assert_int_equal(xnnd_graph_create("linear3d", &g), XNND_OK);
  int64_t x3[3] = {2, 3, 7}, w3[2] = {5, 7};
  x = rand_buf(42);
  w = rand_buf(35);
  xi = t_input(g, "x", 3, x3);
  wi = t_const(g, 2, w3, w);
  l = t_node(g, XNND_OP_LINEAR, (xnnd_id[]){xi, wi}, 2, NULL);
  float ref3[30];
  ref_fc(x, 6, 7, w, 5, NULL, ref3);
  run_graph(g, &xi, 1, &l, 1, (float*[]){x}, (float*[]){ref3}, 1);
  free(x), free(w);
  xnnd_graph_destroy(g);
}

static void test_addmm_t(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("addmm", &g), XNND_OK);
  int64_t xd[2] = {3, 6}, wd[2] = {4, 6}, md[2] = {6, 4}, bd[1] = {4}, b2d[2] = {1, 4};
  float* x = rand_buf(18);
  float* w = rand_buf(24);
  float* b = rand_buf(4);
  float wt[24];  /* [6,4] = w^T */
  for (int i = 0; i < 6; i++)
    for (int o = 0; o < 4; o++) wt[i * 4 + o] = w[o * 6 + i];
  xnnd_id xi = t_input(g, "x", 2, xd);
  xnnd_id wi = t_const(g, 2, wd, w), bi = t_const(g, 1, bd, b);
  xnnd_id t = t_node(g, XNND_OP_T, &wi, 1, NULL);
  xnnd_id mm1 = t_node(g, XNND_OP_ADDMM, (xnnd_id[]){bi, xi, t}, 3, NULL);
  float r1[12];
  ref_fc(x, 3, 6, w, 4, b, r1);
  run_graph(g, &xi, 1, &mm1, 1, (float*[]){x}, (float*[]){r1}, 1);
  {
    /* t left outside the partition: its output arrives as an (unused) input; the filter is
     * still read through t from the constant. */
    xnnd_id only = g->values[mm1].producer;
    char err[256];
    uint8_t* blob = NULL;
    size_t size = 0;
    assert_int_equal(xnnd_xnnpack_build_blob(g, &only, 1, (xnnd_id[]){xi, t}, 2, &mm1, 1, &blob, &size, err, sizeof(err)),
                     XNND_OK);
    xnnd_tensor ti[2] = {tensor_of(g, xi, x), tensor_of(g, t, wt)}, to = tensor_of(g, mm1, NULL);
    xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, ti, 2, &to, 1, false, NULL, 0, NULL, 0};
    void* h = NULL;
    if (xnnd_xnnpack_backend_get()->init(&args, &h, err, sizeof(err)) != XNND_OK) fail_msg("init: %s", err);
    float got[12];
    to.data = got;
    assert_int_equal(xnnd_xnnpack_backend_get()->execute(h, ti, 2, &to, 1, err, sizeof(err)), XNND_OK);
    expect_close(got, r1, 12, "addmm with t outside");
    xnnd_xnnpack_backend_get()->destroy(h);
    free(blob);
  }
  xnnd_graph_destroy(g);

  /* addmm(b, x, const [6,4]) and mm */
  assert_int_equal(xnnd_graph_create("addmm2", &g), XNND_OK);
  xi = t_input(g, "x", 2, xd);
  xnnd_id mi = t_const(g, 2, md, wt), b2 = t_const(g, 2, b2d, b);
  xnnd_id o = t_node(g, XNND_OP_ADDMM, (xnnd_id[]){b2, xi, mi}, 3, NULL);
  xnnd_id o2 = t_node(g, XNND_OP_MM, (xnnd_id[]){xi, mi}, 2, NULL);
  float r2[12];
  ref_fc(x, 3, 6, w, 4, NULL, r2);
  run_graph(g, &xi, 1, (xnnd_id[]){o, o2}, 2, (float*[]){x}, (float*[]){r1, r2}, 1);
  xnnd_graph_destroy(g);

  /* t leaving the partition is materialized by a copy */
  assert_int_equal(xnnd_graph_create("t_out", &g), XNND_OK);
  xi = t_input(g, "x", 2, xd);
  wi = t_const(g, 2, wd, w);
  t = t_node(g, XNND_OP_T, &wi, 1, NULL);
  xnnd_id mm = t_node(g, XNND_OP_MM, (xnnd_id[]){xi, t}, 2, NULL);
  run_graph(g, &xi, 1, (xnnd_id[]){mm, t}, 2, (float*[]){x}, (float*[]){r2, wt}, 1);
  xnnd_graph_destroy(g);
  free(x), free(w), free(b);
}

static void test_pools(void** state) {
  (void)state;
  int64_t xd[4] = {1, 3, 9, 8};
  float* x = rand_buf(numel_dims(4, xd));
  struct {
    bool is_max, ceil, count_include_pad;
    int k, s, p;
  } cases[] = {
      {true, false, false, 3, 2, 1},  {true, true, false, 3, 2, 1}, {true, true, false, 2, 2, 0},
      {true, false, false, 2, 1, 0},  {false, false, true, 3, 2, 1}, {false, false, false, 3, 2, 1},
      {false, false, true, 2, 2, 0},
  };
  for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("pool", &g), XNND_OK);
    xnnd_id xi = t_input(g, "x", 4, xd);
    xnnd_op op = cases[ci].is_max ? (ci % 2 ? XNND_OP_MAX_POOL2D_WITH_INDICES : XNND_OP_MAX_POOL2D) : XNND_OP_AVG_POOL2D;
    t_attrs a = attrs_of(op);
    set_ints2(&a, "kernel_size", cases[ci].k, cases[ci].k);
    set_ints2(&a, "stride", cases[ci].s, cases[ci].s);
    set_ints2(&a, "padding", cases[ci].p, cases[ci].p);
    set_bool(&a, "ceil_mode", cases[ci].ceil);
    if (!cases[ci].is_max) set_bool(&a, "count_include_pad", cases[ci].count_include_pad);
    xnnd_id o = t_node(g, op, &xi, 1, &a);
    char reason[256] = "";
    if (!xnnd_xnnpack_supports(g, g->values[o].producer, reason, sizeof(reason)))
      fail_msg("pool case %zu unsupported: %s", ci, reason);
    int OH = (int)g->values[o].dims[2], OW = (int)g->values[o].dims[3];
    float* ref = malloc(sizeof(float) * value_numel(g, o));
    ref_pool(cases[ci].is_max, x, 1, 3, 9, 8, cases[ci].k, cases[ci].k, cases[ci].s, cases[ci].s, cases[ci].p,
             cases[ci].p, cases[ci].count_include_pad, ref, OH, OW);
    run_graph(g, &xi, 1, &o, 1, (float*[]){x}, (float*[]){ref}, 1);
    free(ref);
    xnnd_graph_destroy(g);
  }
  free(x);
}

static void test_unary_softmax(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("unary", &g), XNND_OK);
  int64_t xd[2] = {4, 10};
  float* x = rand_buf(40);
  for (int i = 0; i < 40; i++) x[i] *= 4.0f;
  xnnd_id xi = t_input(g, "x", 2, xd);
  xnnd_id sg = t_node(g, XNND_OP_SIGMOID, &xi, 1, NULL);
  xnnd_id hs = t_node(g, XNND_OP_HARDSWISH, &xi, 1, NULL);
  t_attrs a = attrs_of(XNND_OP_SOFTMAX);
  set_int(&a, "dim", -1);
  xnnd_id sm = t_node(g, XNND_OP_SOFTMAX, &xi, 1, &a);
  xnnd_id cl = t_node(g, XNND_OP_CLONE, &sm, 1, NULL);
  float rs[40], rh[40], rm[40];
  for (int i = 0; i < 40; i++) {
    rs[i] = 1.0f / (1.0f + expf(-x[i]));
    rh[i] = x[i] * fminf(fmaxf(x[i] + 3.0f, 0.0f), 6.0f) / 6.0f;
  }
  for (int r = 0; r < 4; r++) {
    double mx = -INFINITY, s = 0;
    for (int i = 0; i < 10; i++) mx = fmax(mx, x[r * 10 + i]);
    for (int i = 0; i < 10; i++) s += exp(x[r * 10 + i] - mx);
    for (int i = 0; i < 10; i++) rm[r * 10 + i] = (float)(exp(x[r * 10 + i] - mx) / s);
  }
  run_graph(g, &xi, 1, (xnnd_id[]){sg, hs, sm, cl}, 4, (float*[]){x}, (float*[]){rs, rh, rm, rm}, 1);
  free(x);
  xnnd_graph_destroy(g);
}

/* NHWC-compatible boundaries (C == 1, H == W == 1) are bound directly; results must agree. */
static void test_boundary_shortcuts(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("c1", &g), XNND_OK);
  int64_t xd[4] = {3, 1, 6, 5}, wd[4] = {1, 1, 3, 3};
  float* x = rand_buf(90);
  float* w = rand_buf(9);
  xnnd_id xi = t_input(g, "x", 4, xd);
  xnnd_id wi = t_const(g, 4, wd, w);
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_ints2(&a, "padding", 1, 1);
  xnnd_id c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, XNND_NO_ID}, 3, &a);  /* C == 1 in and out */
  float ref[90];
  ref_conv(x, 3, 1, 6, 5, w, 1, 3, 3, NULL, 1, 1, 1, 1, 1, 1, 1, ref, 6, 5);
  run_graph(g, &xi, 1, &c, 1, (float*[]){x}, (float*[]){ref}, 1);
  free(x), free(w);
  xnnd_graph_destroy(g);

  assert_int_equal(xnnd_graph_create("hw1", &g), XNND_OK);
  int64_t yd[4] = {2, 7, 1, 1}, w1[4] = {5, 7, 1, 1};
  float* y = rand_buf(14);
  w = rand_buf(35);
  xnnd_id yi = t_input(g, "y", 4, yd);
  wi = t_const(g, 4, w1, w);
  c = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){yi, wi, XNND_NO_ID}, 3, NULL);  /* H == W == 1 in and out */
  float r2[10];
  ref_fc(y, 2, 7, w, 5, NULL, r2);
  run_graph(g, &yi, 1, &c, 1, (float*[]){y}, (float*[]){r2}, 1);
  free(y), free(w);
  xnnd_graph_destroy(g);
}

/* ---- tests: support checks ---- */
static void expect_unsupported(const xnnd_graph* g, xnnd_id value, const char* needle) {
  char reason[256] = "";
  assert_false(xnnd_xnnpack_supports(g, g->values[value].producer, reason, sizeof(reason)));
  if (strstr(reason, needle) == NULL) fail_msg("reason \"%s\" lacks \"%s\"", reason, needle);
}

static void test_support_reasons(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("reasons", &g), XNND_OK);
  int64_t xd[4] = {1, 4, 6, 6}, x2[2] = {3, 5}, wd[4] = {4, 4, 3, 3};
  float w[144] = {0};
  xnnd_id xi = t_input(g, "x", 4, xd), yi = t_input(g, "y", 2, x2), zi = t_input(g, "z", 4, xd);
  xnnd_id wi = t_const(g, 4, wd, w);
  t_attrs a = attrs_of(XNND_OP_SOFTMAX);
  set_int(&a, "dim", 0);
  expect_unsupported(g, t_node(g, XNND_OP_SOFTMAX, &yi, 1, &a), "last dim");
  set_int(&a, "dim", -1);
  expect_unsupported(g, t_node(g, XNND_OP_SOFTMAX, &xi, 1, &a), "4-D softmax");
  t_attrs v = attrs_of(XNND_OP_VIEW);
  set_ints2(&v, "size", 4, 36);
  expect_unsupported(g, t_node(g, XNND_OP_VIEW, &xi, 1, &v), "reorder");
  t_attrs ad = attrs_of(XNND_OP_ADD);
  set_float(&ad, "alpha", 2.0);
  expect_unsupported(g, t_node(g, XNND_OP_ADD, (xnnd_id[]){xi, zi}, 2, &ad), "alpha");
  expect_unsupported(g, t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, zi, XNND_NO_ID}, 3, NULL), "not a constant");
  t_attrs tc = attrs_of(XNND_OP_CONVOLUTION);
  set_bool(&tc, "transposed", true);
  set_ints2(&tc, "dilation", 2, 2);
  set_ints2(&tc, "output_padding", 1, 1); /* >= stride: no XNNPACK adjustment for it */
  expect_unsupported(g, t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, XNND_NO_ID}, 3, &tc), "transposed");
  t_attrs mp = attrs_of(XNND_OP_MAX_POOL2D_WITH_INDICES);
  set_ints2(&mp, "kernel_size", 2, 2);
  set_ints2(&mp, "stride", 2, 2);
  xnnd_id pooled = t_node(g, XNND_OP_MAX_POOL2D_WITH_INDICES, &xi, 1, &mp);
  xnnd_id pnode = g->values[pooled].producer;
  char reason[256];
  assert_true(xnnd_xnnpack_supports(g, pnode, reason, sizeof(reason)));
  xnnd_id idx = g->nodes[pnode].outputs[1];
  assert_int_equal(xnnd_graph_set_outputs(g, &idx, 1), XNND_OK);  /* now the indices are used */
  expect_unsupported(g, pooled, "indices");
  t_attrs ap = attrs_of(XNND_OP_AVG_POOL2D);
  set_ints2(&ap, "kernel_size", 3, 3);
  set_ints2(&ap, "stride", 2, 2);
  set_bool(&ap, "ceil_mode", true);
  expect_unsupported(g, t_node(g, XNND_OP_AVG_POOL2D, &xi, 1, &ap), "ceil_mode");
  expect_unsupported(g, t_node(g, XNND_OP_TANH, &xi, 1, NULL), "no XNNPACK lowering");
  t_attrs pm = attrs_of(XNND_OP_PERMUTE);
  xnnd_attr* dims = attr_slot(&pm, "dims");
  dims->kind = XNND_ATTR_INTS;
  dims->n = 4;
  dims->ints[0] = 0, dims->ints[1] = 2, dims->ints[2] = 3, dims->ints[3] = 1;
  expect_unsupported(g, t_node(g, XNND_OP_PERMUTE, &xi, 1, &pm), "transpose");
  /* 3-D non-constant broadcast against 4-D */
  int64_t d3[3] = {4, 6, 6};
  xnnd_id u = t_input(g, "u", 3, d3);
  expect_unsupported(g, t_node(g, XNND_OP_ADD, (xnnd_id[]){xi, u}, 2, NULL), "must be constant");
  int64_t l4[2] = {5, 6};
  float lw[30] = {0};
  xnnd_id lwi = t_const(g, 2, l4, lw);
  expect_unsupported(g, t_node(g, XNND_OP_LINEAR, (xnnd_id[]){xi, lwi}, 2, NULL), "4-D input");
  /* macs */
  xnnd_id conv = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, wi, XNND_NO_ID}, 3, NULL);
  assert_int_equal(xnnd_node_macs(g, g->values[conv].producer), 4 * 4 * 4 * 4 * 3 * 3);
  assert_int_equal(xnnd_node_macs(g, pnode), 0);
  xnnd_graph_destroy(g);
}

/* ---- tests: operator coverage, XNNPACK against the portable kernels ----
 * Each graph is one node on graph inputs (and constants). The reference is the portable
 * kernel (runtime/kernels, itself checked against PyTorch in test_kernels), run here on the
 * same NCHW data; run_graph then runs the XNNPACK lowering and compares. */
static void portable_ref(const xnnd_graph* g, xnnd_id out_value, float* const* in_data, uint32_t nin,
                         const xnnd_id* ins, float* ref) {
  const xnnd_ir_node* n = &g->nodes[g->values[out_value].producer];
  const xnnd_op_info* info = xnnd_op_get(n->op);
  const xnnd_kernel* k = xnnd_kernel_find(info->name);
  assert_non_null(k);
  xnnd_tensor tin[8], tout[3];
  xnnd_tensor* pin[8];
  xnnd_tensor* pout[3];
  float* scratch[3] = {NULL, NULL, NULL};
  for (uint32_t i = 0; i < n->num_inputs; i++) {
    xnnd_id v = n->inputs[i];
    if (v == XNND_NO_ID) { /* absent optional input */
      pin[i] = NULL;
      continue;
    }
    void* data = (void*)g->values[v].data;
    for (uint32_t j = 0; j < nin; j++)
      if (ins[j] == v) data = in_data[j];
    assert_non_null(data);
    tin[i] = tensor_of(g, v, data);
    pin[i] = &tin[i];
  }
  for (uint32_t o = 0; o < n->num_outputs; o++) {
    void* data = ref;
    if (n->outputs[o] != out_value) data = scratch[o] = malloc(sizeof(float) * value_numel(g, n->outputs[o]) + 4);
    tout[o] = tensor_of(g, n->outputs[o], data);
    pout[o] = &tout[o];
  }
  xnnd_kattr kattrs[XNND_MAX_ATTRS];
  memset(kattrs, 0, sizeof(kattrs));
  for (uint32_t a = 0; a < info->num_attrs; a++) {
    kattrs[a].name = info->attrs[a].name;
    kattrs[a].kind = (uint8_t)n->attrs[a].kind;
    kattrs[a].i = n->attrs[a].i;
    kattrs[a].f = n->attrs[a].f;
    kattrs[a].n = n->attrs[a].n;
    kattrs[a].ints = n->attrs[a].ints;
  }
  xnnd_kernel_args args = {pin, n->num_inputs, pout, n->num_outputs, kattrs, info->num_attrs,
                          NULL, 0};
  _Alignas(16) unsigned char params[XNND_KERNEL_PARAMS_SIZE];
  char err[512] = "";
  if (k->prepare(&args, params, err, sizeof(err)) != XNND_OK) fail_msg("portable prepare: %s", err);
  assert_int_equal(k->run(&args, params), XNND_OK);
  for (int o = 0; o < 3; o++) free(scratch[o]);
}

static void expect_supported(const xnnd_graph* g, xnnd_id value) {
  char reason[256] = "";
  if (!xnnd_xnnpack_supports(g, g->values[value].producer, reason, sizeof(reason)))
    fail_msg("%s unsupported: %s", xnnd_op_get(g->nodes[g->values[value].producer].op)->name, reason);
}

/* One-node graph on input x: XNNPACK vs the portable kernel. */
static void diff_one(xnnd_graph* g, xnnd_id xi, xnnd_id out, float* x) {
  expect_supported(g, out);
  float* ref = malloc(sizeof(float) * value_numel(g, out) + 16);
  portable_ref(g, out, (float*[]){x}, 1, &xi, ref);
  run_graph(g, &xi, 1, &out, 1, (float*[]){x}, (float*[]){ref}, 1 + (uint32_t)(value_numel(g, out) % 2));
  free(ref);
}

static void test_activation_lowerings(void** state) {
  (void)state;
  for (int iter = 0; iter < 6; iter++) {
    uint32_t rank = iter % 3 == 0 ? 2 : 4;
    int64_t xd[4] = {1 + iter % 2, 3 + iter, 2 + iter % 3, 5};
    if (rank == 2) xd[0] = 3, xd[1] = 7 + iter;
    for (int k = 0; k < 2; k++) {
      xnnd_graph* g = NULL;
      assert_int_equal(xnnd_graph_create("act", &g), XNND_OK);
      xnnd_id xi = t_input(g, "x", rank, xd);
      float* x = rand_buf(numel_dims(rank, xd));
      for (size_t i = 0; i < numel_dims(rank, xd); i++) x[i] *= 7.0f; /* both clamps of hardsigmoid */
      xnnd_id o = t_node(g, k ? XNND_OP_SILU : XNND_OP_HARDSIGMOID, &xi, 1, NULL);
      size_t size = 0;
      uint8_t* blob = build_all(g, &xi, 1, &o, 1, &size);
      assert_int_equal(blob_num_nodes(blob), 2); /* Add+Divide / Sigmoid+Multiply */
      free(blob);
      diff_one(g, xi, o, x);
      free(x);
      xnnd_graph_destroy(g);
    }
  }
}

/* abs, ceil, floor, neg, sqrt, round (half to even), elu, leaky_relu: one XNNPACK node each,
 * agreeing with the portable kernels; elu with a scale stays portable. */
static void test_math_lowerings(void** state) {
  (void)state;
  const xnnd_op ops[] = {XNND_OP_ABS,  XNND_OP_CEIL,  XNND_OP_FLOOR, XNND_OP_NEG,
                         XNND_OP_SQRT, XNND_OP_ROUND, XNND_OP_ELU,   XNND_OP_LEAKY_RELU};
  for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++) {
    for (uint32_t rank = 2; rank <= 4; rank += 2) {
      int64_t xd[4] = {2, 3, 4, 5};
      xnnd_graph* g = NULL;
      assert_int_equal(xnnd_graph_create("math", &g), XNND_OK);
      xnnd_id xi = t_input(g, "x", rank, xd);
      size_t n = numel_dims(rank, xd);
      float* x = rand_buf(n);
      for (size_t i = 0; i < n; i++) x[i] *= 5.0f;
      x[0] = 0.5f, x[1] = 1.5f, x[2] = -2.5f, x[3] = -0.0f; /* ties round to even */
      if (ops[k] == XNND_OP_SQRT)
        for (size_t i = 0; i < n; i++) x[i] = fabsf(x[i]);
      t_attrs a = attrs_of(ops[k]);
      if (ops[k] == XNND_OP_ELU) set_float(&a, "alpha", 0.7);
      if (ops[k] == XNND_OP_LEAKY_RELU) set_float(&a, "negative_slope", 0.2);
      xnnd_id o = t_node(g, ops[k], &xi, 1, &a);
      size_t size = 0;
      uint8_t* blob = build_all(g, &xi, 1, &o, 1, &size);
      assert_int_equal(blob_num_nodes(blob), 1);
      free(blob);
      diff_one(g, xi, o, x);
      free(x);
      xnnd_graph_destroy(g);
    }
  }
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("math_reasons", &g), XNND_OK);
  int64_t xd[2] = {3, 5};
  xnnd_id xi = t_input(g, "x", 2, xd);
  t_attrs a = attrs_of(XNND_OP_ELU);
  set_float(&a, "scale", 1.0507);
  expect_unsupported(g, t_node(g, XNND_OP_ELU, &xi, 1, &a), "scale");
  a = attrs_of(XNND_OP_ELU);
  set_float(&a, "alpha", -1.0);
  expect_unsupported(g, t_node(g, XNND_OP_ELU, &xi, 1, &a), "positive alpha");
  expect_unsupported(g, t_node(g, XNND_OP_EXP, &xi, 1, NULL), "no exp node");
  xnnd_graph_destroy(g);
}

static void test_pad_permute_lowerings(void** state) {
  (void)state;
  for (int iter = 0; iter < 8; iter++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("pad", &g), XNND_OK);
    uint32_t rank = iter < 5 ? 4 : (uint32_t)(iter - 3);
    int64_t xd[4] = {1 + iter % 2, 2 + iter % 3, 3 + iter % 4, 4};
    xnnd_id xi = t_input(g, "x", rank, xd);
    float* x = rand_buf(numel_dims(rank, xd));
    t_attrs a = attrs_of(XNND_OP_CONSTANT_PAD_ND);
    xnnd_attr* pad = attr_slot(&a, "pad");
    pad->kind = XNND_ATTR_INTS;
    pad->n = 2 * (uint32_t)(1 + iter % rank); /* up to every dim, channels included */
    for (uint32_t i = 0; i < pad->n; i++) pad->ints[i] = (iter + 3 * i) % 3;
    set_float(&a, "value", iter % 2 ? -1.5 : 0.0);
    xnnd_id o = t_node(g, XNND_OP_CONSTANT_PAD_ND, &xi, 1, &a);
    diff_one(g, xi, o, x);
    free(x);
    xnnd_graph_destroy(g);
  }
  /* permutes that move only size-1 dims are reshapes: [1,S,E] -> [S,1,E], [N,C,1,1] -> [N,1,1,C] */
  const struct { uint32_t rank; int64_t dims[4]; int64_t perm[4]; } cases[] = {
      {3, {1, 6, 5, 0}, {1, 0, 2, 0}}, {4, {2, 7, 1, 1}, {0, 2, 3, 1}}, {3, {4, 1, 3, 0}, {0, 2, 1, 0}}};
  for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("perm", &g), XNND_OK);
    xnnd_id xi = t_input(g, "x", cases[ci].rank, cases[ci].dims);
    float* x = rand_buf(numel_dims(cases[ci].rank, cases[ci].dims));
    t_attrs a = attrs_of(XNND_OP_PERMUTE);
    xnnd_attr* dims = attr_slot(&a, "dims");
    dims->kind = XNND_ATTR_INTS;
    dims->n = cases[ci].rank;
    for (uint32_t i = 0; i < dims->n; i++) dims->ints[i] = cases[ci].perm[i];
    xnnd_id o = t_node(g, XNND_OP_PERMUTE, &xi, 1, &a);
    diff_one(g, xi, o, x);
    free(x);
    xnnd_graph_destroy(g);
  }
}

static void test_resize_adaptive_lowerings(void** state) {
  (void)state;
  for (int iter = 0; iter < 10; iter++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("resize", &g), XNND_OK);
    int64_t xd[4] = {1 + iter % 2, 2 + iter % 3, 2 + iter % 4, 3 + iter % 5};
    xnnd_id xi = t_input(g, "x", 4, xd);
    float* x = rand_buf(numel_dims(4, xd));
    t_attrs a = attrs_of(XNND_OP_UPSAMPLE_BILINEAR2D);
    /* up and down, integer and fractional ratios */
    int64_t oh = iter < 5 ? xd[2] * 2 : xd[2] + 3 - iter % 4, ow = iter % 3 == 0 ? xd[3] * 3 : xd[3] + iter % 3 - 2;
    if (oh < 1) oh = 1;
    if (ow < 1) ow = 1;
    set_ints2(&a, "output_size", oh, ow);
    set_bool(&a, "align_corners", iter % 2 == 1);
    if (iter == 4) set_float(&a, "scales_h", 2.0); /* the model's scale factor, equal to out/in */
    xnnd_id o = t_node(g, XNND_OP_UPSAMPLE_BILINEAR2D, &xi, 1, &a);
    diff_one(g, xi, o, x);
    free(x);
    xnnd_graph_destroy(g);
  }
  /* adaptive_avg_pool2d to sizes dividing the input (AvgPool2d) and to the input size (copy) */
  const int64_t sizes[][4] = {{6, 9, 3, 3}, {6, 9, 2, 1}, {4, 4, 4, 4}, {7, 5, 7, 1}};
  for (size_t ci = 0; ci < sizeof(sizes) / sizeof(sizes[0]); ci++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("adaptive", &g), XNND_OK);
    int64_t xd[4] = {2, 3, sizes[ci][0], sizes[ci][1]};
    xnnd_id xi = t_input(g, "x", 4, xd);
    float* x = rand_buf(numel_dims(4, xd));
    t_attrs a = attrs_of(XNND_OP_ADAPTIVE_AVG_POOL2D);
    set_ints2(&a, "output_size", sizes[ci][2], sizes[ci][3]);
    xnnd_id o = t_node(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &xi, 1, &a);
    diff_one(g, xi, o, x);
    free(x);
    xnnd_graph_destroy(g);
  }
}

static void test_deconvolution_lowering(void** state) {
  (void)state;
  const struct {
    int64_t cin, cout_g, k, stride, pad, opad, dil, groups;
    bool bias;
  } cases[] = {{4, 3, 3, 2, 1, 1, 1, 1, true}, {2, 2, 4, 2, 1, 0, 1, 1, false}, {6, 2, 3, 1, 0, 0, 2, 3, true},
               {3, 5, 2, 3, 0, 2, 1, 1, true},  {4, 1, 3, 2, 0, 1, 1, 4, false}};
  for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
    xnnd_graph* g = NULL;
    assert_int_equal(xnnd_graph_create("deconv", &g), XNND_OK);
    int64_t xd[4] = {2, cases[ci].cin, 4, 5}, wd[4] = {cases[ci].cin, cases[ci].cout_g, cases[ci].k, cases[ci].k};
    int64_t bd[1] = {cases[ci].cout_g * cases[ci].groups};
    float* x = rand_buf(numel_dims(4, xd));
    float* w = rand_buf(numel_dims(4, wd));
    float* bias = rand_buf((size_t)bd[0]);
    xnnd_id xi = t_input(g, "x", 4, xd);
    xnnd_id ins[3] = {xi, t_const(g, 4, wd, w), cases[ci].bias ? t_const(g, 1, bd, bias) : XNND_NO_ID};
    t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
    set_bool(&a, "transposed", true);
    set_ints2(&a, "stride", cases[ci].stride, cases[ci].stride);
    set_ints2(&a, "padding", cases[ci].pad, cases[ci].pad);
    set_ints2(&a, "output_padding", cases[ci].opad, cases[ci].opad);
    set_ints2(&a, "dilation", cases[ci].dil, cases[ci].dil);
    set_int(&a, "groups", cases[ci].groups);
    xnnd_id o = t_node(g, XNND_OP_CONVOLUTION, ins, 3, &a);
    diff_one(g, xi, o, x);
    assert_int_equal(xnnd_node_macs(g, g->values[o].producer),
                     (uint64_t)numel_dims(4, xd) * (uint64_t)(cases[ci].cout_g * cases[ci].k * cases[ci].k));
    free(x), free(w), free(bias);
    xnnd_graph_destroy(g);
  }
  /* output_padding that reaches the stride (allowed by PyTorch when below the dilation) */
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("deconv_reason", &g), XNND_OK);
  int64_t xd[4] = {1, 2, 3, 3}, wd[4] = {2, 2, 3, 3};
  float w[36] = {0};
  xnnd_id ins[3] = {t_input(g, "x", 4, xd), t_const(g, 4, wd, w), XNND_NO_ID};
  t_attrs a = attrs_of(XNND_OP_CONVOLUTION);
  set_bool(&a, "transposed", true);
  set_ints2(&a, "dilation", 2, 2);
  set_ints2(&a, "output_padding", 1, 1);
  expect_unsupported(g, t_node(g, XNND_OP_CONVOLUTION, ins, 3, &a), "adjustment < stride");
  xnnd_graph_destroy(g);
}

static void test_coverage_reasons(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("coverage_reasons", &g), XNND_OK);
  int64_t xd[4] = {1, 4, 6, 6}, bd[3] = {2, 3, 4}, cd[3] = {2, 4, 5};
  xnnd_id xi = t_input(g, "x", 4, xd), bi = t_input(g, "b", 3, bd), ci = t_input(g, "c", 3, cd);
  expect_unsupported(g, t_node(g, XNND_OP_BMM, (xnnd_id[]){bi, ci}, 2, NULL), "batched matrix multiply");
  t_attrs bb = attrs_of(XNND_OP_BADDBMM);
  int64_t od[3] = {2, 3, 5};
  xnnd_id s = t_input(g, "s", 3, od);
  expect_unsupported(g, t_node(g, XNND_OP_BADDBMM, (xnnd_id[]){s, bi, ci}, 3, &bb), "batched matrix multiply");
  t_attrs sl = attrs_of(XNND_OP_SLICE);
  set_int(&sl, "dim", 1);
  set_int(&sl, "end", 2);
  expect_unsupported(g, t_node(g, XNND_OP_SLICE, &xi, 1, &sl), "no slice node");
  t_attrs se = attrs_of(XNND_OP_SELECT);
  set_int(&se, "dim", 1);
  set_int(&se, "index", 0);
  expect_unsupported(g, t_node(g, XNND_OP_SELECT, &xi, 1, &se), "no slice node");
  t_attrs ln = attrs_of(XNND_OP_NATIVE_LAYER_NORM);
  xnnd_attr* ns = attr_slot(&ln, "normalized_shape");
  ns->kind = XNND_ATTR_INTS, ns->n = 1, ns->ints[0] = 4;
  expect_unsupported(g, t_node(g, XNND_OP_NATIVE_LAYER_NORM, (xnnd_id[]){bi, XNND_NO_ID, XNND_NO_ID}, 3, &ln),
                     "layer norm");
  t_attrs ls = attrs_of(XNND_OP_LOG_SOFTMAX);
  set_int(&ls, "dim", -1);
  expect_unsupported(g, t_node(g, XNND_OP_LOG_SOFTMAX, &bi, 1, &ls), "log-softmax");
  t_attrs un = attrs_of(XNND_OP_UPSAMPLE_NEAREST2D);
  set_ints2(&un, "output_size", 12, 12);
  expect_unsupported(g, t_node(g, XNND_OP_UPSAMPLE_NEAREST2D, &xi, 1, &un), "nearest-neighbour");
  t_attrs ub = attrs_of(XNND_OP_UPSAMPLE_BILINEAR2D);
  set_ints2(&ub, "output_size", 9, 9);
  set_float(&ub, "scales_h", 1.6);
  expect_unsupported(g, t_node(g, XNND_OP_UPSAMPLE_BILINEAR2D, &xi, 1, &ub), "scale factor");
  t_attrs pd = attrs_of(XNND_OP_CONSTANT_PAD_ND);
  xnnd_attr* pad = attr_slot(&pd, "pad");
  pad->kind = XNND_ATTR_INTS, pad->n = 2, pad->ints[0] = -1, pad->ints[1] = 1;
  expect_unsupported(g, t_node(g, XNND_OP_CONSTANT_PAD_ND, &xi, 1, &pd), "crops");
  t_attrs ex = attrs_of(XNND_OP_EXPAND);
  xnnd_attr* sz = attr_slot(&ex, "size");
  sz->kind = XNND_ATTR_INTS, sz->n = 4;
  sz->ints[0] = 3, sz->ints[1] = 4, sz->ints[2] = 6, sz->ints[3] = 6;
  expect_unsupported(g, t_node(g, XNND_OP_EXPAND, &xi, 1, &ex), "broadcast");
  t_attrs ap = attrs_of(XNND_OP_ADAPTIVE_AVG_POOL2D);
  set_ints2(&ap, "output_size", 4, 4);
  expect_unsupported(g, t_node(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &xi, 1, &ap), "uneven windows");
  expect_unsupported(g, t_node(g, XNND_OP_GELU, &xi, 1, NULL), "gelu");
  t_attrs rl = attrs_of(XNND_OP_ROLL);
  xnnd_attr* sh = attr_slot(&rl, "shifts");
  sh->kind = XNND_ATTR_INTS, sh->n = 1, sh->ints[0] = 2;
  xnnd_attr* rd = attr_slot(&rl, "dims");
  rd->kind = XNND_ATTR_INTS, rd->n = 1, rd->ints[0] = 3;
  expect_unsupported(g, t_node(g, XNND_OP_ROLL, &xi, 1, &rl), "roll");
  t_attrs nm = attrs_of(XNND_OP_NORM);
  xnnd_attr* nd = attr_slot(&nm, "dim");
  nd->kind = XNND_ATTR_INTS, nd->n = 1, nd->ints[0] = -1;
  expect_unsupported(g, t_node(g, XNND_OP_NORM, &bi, 1, &nm), "reduction");
  /* macs of the batched products */
  xnnd_id bmm = t_node(g, XNND_OP_BMM, (xnnd_id[]){bi, ci}, 2, NULL);
  xnnd_id bad = t_node(g, XNND_OP_BADDBMM, (xnnd_id[]){s, bi, ci}, 3, &bb);
  assert_int_equal(xnnd_node_macs(g, g->values[bmm].producer), 2 * 3 * 5 * 4);
  assert_int_equal(xnnd_node_macs(g, g->values[bad].producer), 2 * 3 * 5 * 4);
  xnnd_graph_destroy(g);
}

/* ---- tests: blob verification ---- */

/* A hand-written blob: v0 input [1,4], v1 output [1,4], optional v2 constant [4]; one Clamp. */
typedef struct mini_spec {
  uint32_t clamp_input;
  bool with_const;
  uint64_t const_offset, const_size;
  uint32_t num_input_ids;
  const char* magic;
} mini_spec;

static uint8_t* mini_blob(const mini_spec* s, size_t* size_out) {
  fb_builder* fb = NULL;
  assert_int_equal(fb_builder_create(NULL, &fb), XNND_OK);
  uint32_t dims[2] = {1, 4}, cdims[1] = {4};
  fb_ref vals[3];
  for (int i = 0; i < (s->with_const ? 3 : 2); i++) {
    fb_ref d = i == 2 ? fb_create_vector(fb, cdims, 1, 4) : fb_create_vector(fb, dims, 2, 4);
    fb_table_start(fb);
    fb_add_u8(fb, XNND_XNNPACK_Value_datatype, XNND_XNNPACK_DataType_FP32, 0);
    fb_add_ref(fb, XNND_XNNPACK_Value_dims, d);
    if (i < 2) {
      fb_add_u32(fb, XNND_XNNPACK_Value_flags, i == 0 ? XNND_XVALUE_EXTERNAL_INPUT : XNND_XVALUE_EXTERNAL_OUTPUT, 0);
      fb_add_u32(fb, XNND_XNNPACK_Value_external_index, 0, UINT32_MAX);
    } else {
      fb_add_u64(fb, XNND_XNNPACK_Value_constant_offset, s->const_offset, 0);
      fb_add_u64(fb, XNND_XNNPACK_Value_constant_size, s->const_size, 0);
    }
    vals[i] = fb_table_end(fb);
  }
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Clamp_input_id, s->clamp_input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_Clamp_output_id, 1, UINT32_MAX);
  fb_add_f32(fb, XNND_XNNPACK_Clamp_output_min, 0.0f, -INFINITY);
  fb_add_f32(fb, XNND_XNNPACK_Clamp_output_max, 6.0f, INFINITY);
  fb_ref clamp = fb_table_end(fb);
  fb_table_start(fb);
  fb_add_u8(fb, XNND_XNNPACK_NodeEntry_node_type, XNND_XNNPACK_Node_Clamp, 0);
  fb_add_ref(fb, XNND_XNNPACK_NodeEntry_node, clamp);
  fb_ref entry = fb_table_end(fb);
  fb_ref values = fb_create_ref_vector(fb, vals, s->with_const ? 3 : 2);
  fb_ref nodes = fb_create_ref_vector(fb, &entry, 1);
  uint32_t in_ids[2] = {0, 0}, out_ids[1] = {1};
  fb_ref ins = fb_create_vector(fb, in_ids, s->num_input_ids, 4);
  fb_ref outs = fb_create_vector(fb, out_ids, 1, 4);
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Graph_version, 1, 0);
  fb_add_ref(fb, XNND_XNNPACK_Graph_values, values);
  fb_add_ref(fb, XNND_XNNPACK_Graph_nodes, nodes);
  fb_add_ref(fb, XNND_XNNPACK_Graph_input_ids, ins);
  fb_add_ref(fb, XNND_XNNPACK_Graph_output_ids, outs);
  fb_ref root = fb_table_end(fb);
  const uint8_t* data;
  size_t fbsize;
  assert_int_equal(fb_finish(fb, root, XNND_XNNPACK_IDENTIFIER, &data, &fbsize), XNND_OK);
  size_t const_off = (64 + fbsize + 63) & ~(size_t)63;
  size_t total = const_off + 64;
  uint8_t* blob = aligned_alloc(64, (total + 63) & ~(size_t)63);
  memset(blob, 0, total);
  xnnd_blob_header h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, s->magic ? s->magic : XNND_BLOB_MAGIC, 4);
  h.version = 1;
  h.flatbuffer_offset = 64;
  h.flatbuffer_size = fbsize;
  h.constant_offset = const_off;
  h.constant_size = 64;
  xnnd_blob_header_write(&h, blob);
  memcpy(blob + 64, data, fbsize);
  float c[4] = {1, 2, 3, 4};
  memcpy(blob + const_off, c, sizeof(c));
  fb_builder_destroy(fb);
  *size_out = total;
  return blob;
}

static xnnd_status init_mini(const uint8_t* blob, size_t size, uint32_t num_inputs, int64_t in_dim1, char* err,
                             size_t err_size) {
  xnnd_tensor t[2];
  memset(t, 0, sizeof(t));
  t[0].dtype = t[1].dtype = XNND_F32;
  t[0].rank = t[1].rank = 2;
  t[0].dims[0] = t[1].dims[0] = 1;
  t[0].dims[1] = in_dim1;
  t[1].dims[1] = 4;
  xnnd_tensor out = t[1];
  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, t, num_inputs, &out, 1, false, NULL, 0, NULL, 0};
  void* h = NULL;
  err[0] = '\0';
  xnnd_status st = xnnd_xnnpack_backend_get()->init(&args, &h, err, err_size);
  if (st == XNND_OK) {
    float in[4 + 4] = {-1, 2, 7, 3}, o[4 + 4];
    t[0].data = in;
    out.data = o;
    assert_int_equal(xnnd_xnnpack_backend_get()->execute(h, t, 1, &out, 1, err, err_size), XNND_OK);
    assert_true(o[0] == 0.0f && o[1] == 2.0f && o[2] == 6.0f && o[3] == 3.0f);
    xnnd_xnnpack_backend_get()->destroy(h);
  } else {
    assert_null(h);
  }
  return st;
}

static void expect_init_error(const mini_spec* s, uint32_t num_inputs, int64_t in_dim1, size_t truncate,
                              xnnd_status want, const char* needle) {
  size_t size;
  uint8_t* blob = mini_blob(s, &size);
  char err[512];
  xnnd_status st = init_mini(blob, truncate ? truncate : size, num_inputs, in_dim1, err, sizeof(err));
  if (st != want || strstr(err, needle) == NULL)
    fail_msg("got %s \"%s\", want %s containing \"%s\"", xnnd_status_str(st), err, xnnd_status_str(want), needle);
  free(blob);
}

static void test_blob_corruption(void** state) {
  (void)state;
  mini_spec ok = {0, true, 0, 16, 1, NULL};
  size_t size;
  uint8_t* blob = mini_blob(&ok, &size);
  char err[512];
  assert_int_equal(init_mini(blob, size, 1, 4, err, sizeof(err)), XNND_OK);
  free(blob);

  expect_init_error(&ok, 1, 4, 40, XNND_TRUNCATED, "shorter than its 64-byte header");
  expect_init_error(&ok, 1, 4, 100, XNND_TRUNCATED, "runs past the end");
  mini_spec bad_magic = ok;
  bad_magic.magic = "XNDY";
  expect_init_error(&bad_magic, 1, 4, 0, XNND_BAD_MAGIC, "magic");
  mini_spec bad_id = ok;
  bad_id.clamp_input = 99;
  expect_init_error(&bad_id, 1, 4, 0, XNND_OUT_OF_RANGE, "nodes[0] (Clamp): input_id 99 out of range");
  mini_spec bad_const = ok;
  bad_const.const_offset = 64;
  expect_init_error(&bad_const, 1, 4, 0, XNND_OUT_OF_RANGE, "values[2]: constant");
  mini_spec bad_const_size = ok;
  bad_const_size.const_size = 12;
  expect_init_error(&bad_const_size, 1, 4, 0, XNND_INVALID_PROGRAM, "constant_size 12");
  mini_spec two_inputs = ok;
  two_inputs.num_input_ids = 2;
  expect_init_error(&two_inputs, 1, 4, 0, XNND_WRONG_INPUT_COUNT, "2 external inputs");
  expect_init_error(&ok, 2, 4, 0, XNND_WRONG_INPUT_COUNT, "the delegate call has 2");
  expect_init_error(&ok, 1, 5, 0, XNND_SHAPE_MISMATCH, "input 0: program shape [1,5]");
  mini_spec const_as_input = ok;
  const_as_input.clamp_input = 2;  /* clamp of a constant writes output fine, but output dims [1,4] vs [4] */
  expect_init_error(&const_as_input, 1, 4, 0, XNND_INVALID_PROGRAM, "output_id 1 has dims [1,4], expected [4]");
}

/* Every byte of a real blob flipped (three ways; all 255 with XNND_FUZZ_FULL=1) and every
 * truncation: init either fails with a message or yields a delegate that executes. */
static void fuzz_blob(const xnnd_graph* g, xnnd_id xi, xnnd_id o) {
  size_t size;
  uint8_t* blob = build_all(g, &xi, 1, &o, 1, &size);
  xnnd_tensor ti = tensor_of(g, xi, NULL), to = tensor_of(g, o, NULL);
  float* in = rand_buf(value_numel(g, xi) + 4);
  float* out = malloc(sizeof(float) * value_numel(g, o) + 16);
  uint8_t* copy = aligned_alloc(64, (size + 63) & ~(size_t)63);
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  char err[512];
  const uint8_t masks[3] = {0x01, 0x80, 0xFF};
  int num_masks = getenv("XNND_FUZZ_FULL") ? 255 : 3;
  unsigned accepted = 0;
  for (size_t i = 0; i < size; i++)
    for (int m = 0; m < num_masks; m++) {
      memcpy(copy, blob, size);
      copy[i] ^= num_masks == 3 ? masks[m] : (uint8_t)(m + 1);
      xnnd_backend_init_args args = {copy, size, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, NULL, 0};
      void* h = NULL;
      err[0] = '\0';
      if (be->init(&args, &h, err, sizeof(err)) == XNND_OK) {
        accepted++;
        ti.data = in;
        to.data = out;
        (void)be->execute(h, &ti, 1, &to, 1, err, sizeof(err));
        ti.data = to.data = NULL;
        be->destroy(h);
      } else {
        assert_null(h);
        assert_true(err[0] != '\0');
      }
    }
  for (size_t n = 0; n < size; n++) {
    xnnd_backend_init_args args = {blob, n, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, NULL, 0};
    void* h = NULL;
    assert_int_not_equal(be->init(&args, &h, err, sizeof(err)), XNND_OK);
  }
  print_message("byte flips: %zu-byte blob, %u of %zu variants accepted\n", size, accepted, size * (size_t)num_masks);
  assert_true(accepted > 0); /* flips inside constants are legal */
  free(copy), free(blob), free(in), free(out);
}

static void test_blob_byte_flips(void** state) {
  (void)state;
  xnnd_graph* g = NULL;
  assert_int_equal(xnnd_graph_create("flip", &g), XNND_OK);
  int64_t xd[4] = {1, 2, 5, 5}, wd[4] = {3, 2, 3, 3}, bd[1] = {3}, cd[3] = {3, 1, 1};
  float* w = rand_buf(54);
  float* b = rand_buf(3);
  float* c = rand_buf(3);
  xnnd_id xi = t_input(g, "x", 4, xd);
  xnnd_id cv = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, t_const(g, 4, wd, w), t_const(g, 1, bd, b)}, 3, NULL);
  xnnd_id r = t_node(g, XNND_OP_RELU, &cv, 1, NULL);
  xnnd_id o = t_node(g, XNND_OP_ADD, (xnnd_id[]){r, t_const(g, 3, cd, c)}, 2, NULL);
  fuzz_blob(g, xi, o);
  free(w), free(b), free(c);
  xnnd_graph_destroy(g);

  /* Every other node kind the lowering emits. */
  assert_int_equal(xnnd_graph_create("flip2", &g), XNND_OK);
  int64_t x2[4] = {1, 4, 6, 6}, dw[4] = {4, 1, 3, 3}, lw[2] = {3, 4};
  w = rand_buf(36);
  float* l = rand_buf(12);
  xi = t_input(g, "x", 4, x2);
  t_attrs ca = attrs_of(XNND_OP_CONVOLUTION);
  set_int(&ca, "groups", 4);
  set_ints2(&ca, "padding", 1, 1);
  xnnd_id v = t_node(g, XNND_OP_CONVOLUTION, (xnnd_id[]){xi, t_const(g, 4, dw, w), XNND_NO_ID}, 3, &ca);
  v = t_node(g, XNND_OP_HARDSWISH, &v, 1, NULL);
  t_attrs ap = attrs_of(XNND_OP_AVG_POOL2D);
  set_ints2(&ap, "kernel_size", 2, 2);
  set_ints2(&ap, "stride", 1, 1);
  set_ints2(&ap, "padding", 1, 1);
  v = t_node(g, XNND_OP_AVG_POOL2D, &v, 1, &ap);
  t_attrs mp = attrs_of(XNND_OP_MAX_POOL2D);
  set_ints2(&mp, "kernel_size", 2, 2);
  set_ints2(&mp, "stride", 2, 2);
  v = t_node(g, XNND_OP_MAX_POOL2D, &v, 1, &mp);
  t_attrs mn = attrs_of(XNND_OP_MEAN);
  set_ints2(&mn, "dim", 2, 3);
  v = t_node(g, XNND_OP_MEAN, &v, 1, &mn);
  v = t_node(g, XNND_OP_LINEAR, (xnnd_id[]){v, t_const(g, 2, lw, l)}, 2, NULL);
  t_attrs sm = attrs_of(XNND_OP_SOFTMAX);
  set_int(&sm, "dim", 1);
  v = t_node(g, XNND_OP_SOFTMAX, &v, 1, &sm);
  v = t_node(g, XNND_OP_SIGMOID, &v, 1, NULL);
  fuzz_blob(g, xi, v);
  free(w), free(l);
  xnnd_graph_destroy(g);
}

/* Misaligned blob (copied internally), allocation failures at init (no leaks), execute checks. */
static void test_init_robustness(void** state) {
  (void)state;
  mini_spec ok = {0, true, 0, 16, 1, NULL};
  size_t size;
  uint8_t* blob = mini_blob(&ok, &size);
  uint8_t* odd = malloc(size + 3);
  memcpy(odd + 3, blob, size);
  char err[512];
  assert_int_equal(init_mini(odd + 3, size, 1, 4, err, sizeof(err)), XNND_OK);
  free(odd);

  xnnd_tensor t;
  memset(&t, 0, sizeof(t));
  t.dtype = XNND_F32;
  t.rank = 2;
  t.dims[0] = 1;
  t.dims[1] = 4;
  xnnd_tensor out = t;
  bool succeeded = false;
  for (long budget = 0; budget < 64 && !succeeded; budget++) {
    alloc_ctx ctx = {budget};
    xnnd_allocator a = {&ctx, t_alloc, xt_aligned_free};
    xnnd_backend_init_args args = {blob, size, NULL, 0, &a, 1, &t, 1, &out, 1, false, NULL, 0, NULL, 0};
    void* h = NULL;
    xnnd_status st = xnnd_xnnpack_backend_get()->init(&args, &h, err, sizeof(err));
    if (st == XNND_OK) {
      succeeded = true;
      xnnd_xnnpack_backend_get()->destroy(h);
    } else {
      assert_int_equal(st, XNND_OUT_OF_MEMORY);
    }
  }
  assert_true(succeeded);

  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, &t, 1, &out, 1, false, NULL, 0, NULL, 0};
  void* h = NULL;
  assert_int_equal(xnnd_xnnpack_backend_get()->init(&args, &h, err, sizeof(err)), XNND_OK);
  float in[8] = {0}, o[8];
  t.data = in;
  out.data = o;
  assert_int_equal(xnnd_xnnpack_backend_get()->execute(h, &t, 0, &out, 1, err, sizeof(err)), XNND_WRONG_INPUT_COUNT);
  t.dims[1] = 3;
  assert_int_equal(xnnd_xnnpack_backend_get()->execute(h, &t, 1, &out, 1, err, sizeof(err)), XNND_SHAPE_MISMATCH);
  t.dims[1] = 4;
  t.dtype = XNND_I32;
  assert_int_equal(xnnd_xnnpack_backend_get()->execute(h, &t, 1, &out, 1, err, sizeof(err)), XNND_DTYPE_MISMATCH);
  xnnd_xnnpack_backend_get()->destroy(h);
  xnnd_xnnpack_backend_get()->destroy(NULL);
  free(blob);
}

/* Backend options through the generic method API: own_kernels=off keeps every convolution in
 * XNNPACK (no time in xnnd's kernels), an unknown key or value fails creation naming it, and
 * options for a backend the program does not use are ignored. */
/* Executes the program once with these backend options; returns the time spent in xnnd's
 * convolutions and, when text is given, what the delegate decided (xnnd_method_describe_step). */
static uint64_t own_kernel_ns_and_choices(xnnd_program* p, const xnnd_backend_option* opts, uint32_t n, char* text,
                                          size_t text_size) {
  xnnd_method_options mo = {.num_threads = 1, .profile = true, .backend_options = opts, .num_backend_options = n};
  xnnd_method* m = NULL;
  xnnd_error err;
  if (xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err) != XNND_OK)
    fail_msg("method create: %s", err.message);
  xnnd_tensor t;
  assert_int_equal(xnnd_method_input_info(m, 0, &t), XNND_OK);
  float x[XT_CONVNET_IN_NUMEL];
  xt_fill_uniform(x, XT_CONVNET_IN_NUMEL, 5);
  t.data = x;
  assert_int_equal(xnnd_method_set_input(m, 0, &t), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  uint64_t ns = 0;
  if (text != NULL) text[0] = '\0';
  for (uint32_t s = 0; s < xnnd_method_num_steps(m); s++) {
    xnnd_step_profile sp;
    assert_int_equal(xnnd_method_get_step_profile(m, s, &sp), XNND_OK);
    ns += sp.own_kernel_ns;
    if (text != NULL && sp.is_delegate) {  /* appended: one block per delegate with convolutions */
      size_t used = strlen(text);
      size_t need = xnnd_method_describe_step(m, s, text + used, text_size - used);
      assert_true(used + need < text_size);
      assert_int_equal(strlen(text + used), need);
    }
  }
  assert_int_equal(xnnd_method_describe_step(m, xnnd_method_num_steps(m), NULL, 0), 0);
  xnnd_method_destroy(m);
  return ns;
}

static uint64_t own_kernel_ns(xnnd_program* p, const xnnd_backend_option* opts, uint32_t n) {
  return own_kernel_ns_and_choices(p, opts, n, NULL, 0);
}

/* own_kernels=auto: every convolution line carries both measured times and the side the rule
 * picks from them (xnnd only when at least 10% faster); a linear layer runs xnnd's kernel,
 * untimed; xnnd's kernels ran iff a line chose it. */
static void check_auto_choices(const char* text, uint64_t own_ns) {
  assert_non_null(strstr(text, "own_kernels=auto, winograd=off, 1 thread"));
  bool any_own = false;
  uint32_t lines = 0;
  for (const char* line = strstr(text, "  node "); line != NULL; line = strstr(line + 1, "  node ")) {
    const char* end = strchr(line + 1, '\n');
    const char* times = strstr(line, "  xnnd ");
    const char* arrow = strstr(line, "  -> ");  /* the decision (the shape has " -> ") */
    assert_non_null(arrow);
    assert_true(end != NULL && arrow < end);
    arrow += 2;
    if (strstr(line, " linear ") != NULL && strstr(line, " linear ") < arrow) {
      assert_true(times == NULL || times > arrow);  /* untimed */
      assert_int_equal(strncmp(arrow, "-> xnnd: more accurate", 22), 0);
      any_own = true;
      lines++;
      continue;
    }
    if (times == NULL || times > arrow) continue;  /* not a candidate for xnnd's kernel */
    times += 2;
    double own = 0, xnn = 0;
    assert_int_equal(sscanf(times, "xnnd %lf ms XNNPACK %lf ms", &own, &xnn), 2);
    bool chose_own = strncmp(arrow, "-> xnnd:", 8) == 0;
    assert_true(chose_own || strncmp(arrow, "-> XNNPACK:", 11) == 0);
    any_own |= chose_own;
    lines++;
    /* Printed with 3 decimals: only judge ratios clear of the 0.90 threshold's rounding. */
    double ratio = own / xnn;
    if (fabs(ratio - 0.90) > 0.02 && own >= 0.01 && xnn >= 0.01) assert_true(chose_own == (ratio <= 0.90));
  }
  assert_true(lines > 0);
  assert_true(any_own == (own_ns > 0));
}

static void test_backend_options(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = xt_small_convnet_program(true, &size);
  xnnd_program* p = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_program_load_buffer(bytes, size, NULL, &p, &err), XNND_OK);
  const xnnd_backend_option off = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "off"};
  const xnnd_backend_option on = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "on"};
  const xnnd_backend_option other = {"SomeOtherBackend", "colour", "red"};
  const xnnd_backend_option wino[2] = {{XNND_XNNPACK_BACKEND_NAME, "own_kernels", "on"},
                                       {XNND_XNNPACK_BACKEND_NAME, "winograd", "on"}};
  char text[8192];
  assert_int_equal(own_kernel_ns_and_choices(p, &off, 1, text, sizeof(text)), 0);
  assert_non_null(strstr(text, "own_kernels=off"));
  assert_null(strstr(text, "-> xnnd"));
  if (xnnd_f32_conv_cpu_ok()) {
    assert_true(own_kernel_ns_and_choices(p, &on, 1, text, sizeof(text)) > 0);
    assert_non_null(strstr(text, "-> xnnd: forced: own_kernels=on"));
    assert_true(own_kernel_ns(p, wino, 2) > 0);
    uint64_t ns = own_kernel_ns_and_choices(p, NULL, 0, text, sizeof(text));  /* default: auto */
    check_auto_choices(text, ns);
    ns = own_kernel_ns_and_choices(p, &other, 1, text, sizeof(text));
    check_auto_choices(text, ns);
  }
  const xnnd_backend_option bad_key = {XNND_XNNPACK_BACKEND_NAME, "colour", "red"};
  const xnnd_backend_option bad_value = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "maybe"};
  const xnnd_backend_option no_key = {XNND_XNNPACK_BACKEND_NAME, NULL, "on"};
  xnnd_method* m = NULL;
  xnnd_method_options mo = {.num_threads = 1, .backend_options = &bad_key, .num_backend_options = 1};
  assert_int_equal(xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err), XNND_INVALID_ARGUMENT);
  assert_null(m);
  assert_non_null(strstr(err.message, "unknown option \"colour\""));
  mo.backend_options = &bad_value;
  assert_int_equal(xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "own_kernels=\"maybe\": expected auto, on or off"));
  const xnnd_backend_option bad_wino = {XNND_XNNPACK_BACKEND_NAME, "winograd", "fast"};
  mo.backend_options = &bad_wino;
  assert_int_equal(xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "winograd=\"fast\": expected on or off"));
  mo.backend_options = &no_key;
  assert_int_equal(xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err.message, "backend option 0"));
  mo.backend_options = NULL;
  assert_int_equal(xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err), XNND_INVALID_ARGUMENT);
  xnnd_program_destroy(p);
  free(bytes);
}

/* ---- dynamic shapes: a graph with symbol s0 lowered once, reshaped to several values ----
 * Graphs are text IR with the size spliced in; the dynamic copy is parsed at the max, then
 * its symbolic dims are set by hand (what the IR's symbolic shape inference produces). Every
 * shape is compared with the same graph lowered static at that size, with the same own_kernels
 * setting: the same kernels at the same shape, so the results agree to 1e-6 relative. */

typedef void (*dyn_text_fn)(char* buf, size_t size, int64_t s);
typedef void (*dyn_sym_fn)(xnnd_graph* g);

/* Inline constant list of n deterministic values in [-1, 1) (i8 constants: small integers). */
static size_t put_consts(char* buf, size_t size, size_t n, bool int8) {
  size_t u = (size_t)snprintf(buf, size, "[");
  for (size_t i = 0; i < n && u < size; i++) {
    float f = frand();
    if (int8) u += (size_t)snprintf(buf + u, size - u, i ? ", %d" : "%d", (int)(f * 60.0f));
    else u += (size_t)snprintf(buf + u, size - u, i ? ", %.6g" : "%.6g", (double)f);
  }
  if (u < size) u += (size_t)snprintf(buf + u, size - u, "]");
  return u;
}

static xnnd_graph* parse_ok(const char* text) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(text, strlen(text), NULL, &g, &err) != XNND_OK) fail_msg("parse: %s\n%s", err.message, text);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("verify: %s", g->errmsg);
  return g;
}

/* Dim `dim` of value `name` becomes k*s0 + c (its upper bound must be its dim). */
static void set_form(xnnd_graph* g, const char* name, uint32_t dim, int64_t k, int64_t c) {
  xnnd_id id = xnnd_graph_find_value(g, name);
  if (id == XNND_NO_ID) fail_msg("no value %%%s", name);
  xnnd_ir_value* v = &g->values[id];
  xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * v->rank);
  assert_non_null(x);
  for (uint32_t d = 0; d < v->rank; d++) x[d] = v->dimx != NULL ? v->dimx[d] : xnnd_dimx_const(v->dims[d]);
  x[dim] = xnnd_dimx_sym(0, k);
  x[dim].c = c;
  assert_int_equal(xnnd_dimx_upper(&x[dim], g->syms, g->num_syms), v->dims[dim]);
  v->dimx = x;
}

/* Every non-constant value's dim 0 is s0 (a dynamic batch). */
static void sym_batch(xnnd_graph* g) {
  for (uint32_t i = 0; i < g->num_values; i++)
    if (g->values[i].data == NULL && g->values[i].rank > 0) set_form(g, g->values[i].name, 0, 1, 0);
}

/* conv 3x3 + relu + conv 1x1 (two own-kernel candidates, an XNNPACK segment between them),
 * then a global mean without keepdim: NCHW boundary in and out, a pooled temporary and a
 * reshape to [s0, 2]. */
static void text_conv(char* buf, size_t size, int64_t n) {
  g_seed = 777;
  size_t u = (size_t)snprintf(buf, size,
                              "graph conv {\n  input %%x: f32[%lld,3,6,6]\n  const %%w1: f32[4,3,3,3] = ", (long long)n);
  u += put_consts(buf + u, size - u, 108, false);
  u += (size_t)snprintf(buf + u, size - u, "\n  const %%b1: f32[4] = ");
  u += put_consts(buf + u, size - u, 4, false);
  u += (size_t)snprintf(buf + u, size - u, "\n  const %%w2: f32[2,4,1,1] = ");
  u += put_consts(buf + u, size - u, 8, false);
  snprintf(buf + u, size - u,
           "\n  %%c: f32[%lld,4,6,6] = aten.convolution(%%x, %%w1, %%b1) {stride=[1,1], padding=[1,1], "
           "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
           "  %%r: f32[%lld,4,6,6] = aten.relu(%%c)\n"
           "  %%y: f32[%lld,2,6,6] = aten.convolution(%%r, %%w2, _) {stride=[1,1], padding=[0,0], "
           "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
           "  %%m: f32[%lld,2] = aten.mean(%%y) {dim=[2,3], keepdim=false}\n"
           "  output %%y, %%m\n}\n",
           (long long)n, (long long)n, (long long)n, (long long)n);
}

/* Linear over rank-3 rows [s0, 3, 16] -> [s0, 3, 8] (one FullyConnected, own kernel or not). */
static void text_linear(char* buf, size_t size, int64_t n) {
  g_seed = 4242;
  size_t u = (size_t)snprintf(buf, size, "graph lin {\n  input %%x: f32[%lld,3,16]\n  const %%w: f32[8,16] = ",
                              (long long)n);
  u += put_consts(buf + u, size - u, 128, false);
  u += (size_t)snprintf(buf + u, size - u, "\n  const %%b: f32[8] = ");
  u += put_consts(buf + u, size - u, 8, false);
  snprintf(buf + u, size - u,
           "\n  %%y: f32[%lld,3,8] = aten.linear(%%x, %%w, %%b)\n  output %%y\n}\n", (long long)n);
}

/* view to a symbolic size [s0, 8], silu (an internal temporary), linear to [s0, 3]. */
static void text_view(char* buf, size_t size, int64_t n) {
  g_seed = 99;
  size_t u = (size_t)snprintf(buf, size, "graph view {\n  input %%x: f32[%lld,4,2]\n  const %%w: f32[3,8] = ",
                              (long long)n);
  u += put_consts(buf + u, size - u, 24, false);
  snprintf(buf + u, size - u,
           "\n  %%v: f32[%lld,8] = aten.view(%%x) {size=[%lld,8]}\n"
           "  %%a: f32[%lld,8] = aten.silu(%%v)\n"
           "  %%y: f32[%lld,3] = aten.linear(%%a, %%w, _)\n  output %%y\n}\n",
           (long long)n, (long long)n, (long long)n, (long long)n);
}

static void sym_view(xnnd_graph* g) {
  sym_batch(g);
  for (uint32_t i = 0; i < g->num_nodes; i++) {
    xnnd_ir_node* nd = &g->nodes[i];
    if (nd->op != XNND_OP_VIEW) continue;
    int a = xnnd_op_attr_index(XNND_OP_VIEW, "size");
    assert_true(a >= 0);
    xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * 2);
    x[0] = xnnd_dimx_sym(0, 1);
    x[1] = xnnd_dimx_const(8);
    nd->attr_dimx[a] = x;
  }
}

/* int8 convolution (per-channel weights, i32 bias, fused relu) between quantize and
 * dequantize, as the qdq passes leave it. */
static void text_qconv(char* buf, size_t size, int64_t n) {
  g_seed = 31337;
  size_t u = (size_t)snprintf(buf, size,
                              "graph qconv {\n  input %%x: f32[%lld,2,5,5]\n"
                              "  const %%w: i8[3,2,3,3] qc(0, [0.01,0.02,0.015], [0,0,0]) = ",
                              (long long)n);
  u += put_consts(buf + u, size - u, 54, true);
  snprintf(buf + u, size - u,
           "\n  const %%b: i32[3] qc(0, [7.8125e-05,0.00015625,0.0001171875], [0,0,0]) = [1280, -1280, 427]\n"
           "  %%xq: i8[%lld,2,5,5] q(0.0078125, 0) = xnnd.quantize(%%x) {scale=0.0078125, zero_point=0, axis=-1, "
           "dtype=2}\n"
           "  %%yq: i8[%lld,3,5,5] q(0.004, -128) = aten.convolution(%%xq, %%w, %%b) {stride=[1,1], padding=[1,1], "
           "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1} clamp(0, inf)\n"
           "  %%out: f32[%lld,3,5,5] = xnnd.dequantize(%%yq) {scale=0.004, zero_point=-128, axis=-1, dtype=2}\n"
           "  output %%out\n}\n",
           (long long)n, (long long)n, (long long)n);
}

/* Symbolic image size: x [1,3,4*s0,4*s0] -> conv 3x3 stride 2 pad 1 -> [1,4,2*s0,2*s0]. */
static void text_spatial(char* buf, size_t size, int64_t s) {
  g_seed = 5;
  size_t u = (size_t)snprintf(buf, size, "graph spatial {\n  input %%x: f32[1,3,%lld,%lld]\n  const %%w: f32[4,3,3,3] = ",
                              (long long)(4 * s), (long long)(4 * s));
  u += put_consts(buf + u, size - u, 108, false);
  snprintf(buf + u, size - u,
           "\n  %%y: f32[1,4,%lld,%lld] = aten.convolution(%%x, %%w, _) {stride=[2,2], padding=[1,1], "
           "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
           "  %%z: f32[1,4,%lld,%lld] = aten.hardtanh(%%y) {min_val=-0.5, max_val=0.5}\n  output %%z\n}\n",
           (long long)(2 * s), (long long)(2 * s), (long long)(2 * s), (long long)(2 * s));
}

static void sym_spatial(xnnd_graph* g) {
  for (uint32_t d = 2; d < 4; d++) {
    set_form(g, "x", d, 4, 0);
    set_form(g, "y", d, 2, 0);
    set_form(g, "z", d, 2, 0);
  }
}

#define DYN_TEXT_SIZE 16384

static xnnd_graph* dyn_graph(dyn_text_fn text, dyn_sym_fn sym, int64_t min, int64_t max) {
  char* buf = malloc(DYN_TEXT_SIZE);
  text(buf, DYN_TEXT_SIZE, max);
  xnnd_graph* g = parse_ok(buf);
  free(buf);
  g->syms[0] = (xnnd_symbol){"s0", min, max};
  g->num_syms = 1;
  sym(g);
  return g;
}

/* Program tensor of value id at s0 = s (data NULL). */
static xnnd_tensor tensor_at(const xnnd_graph* g, xnnd_id id, int64_t s) {
  xnnd_tensor t = tensor_of(g, id, NULL);
  const xnnd_ir_value* v = &g->values[id];
  for (uint32_t d = 0; v->dimx != NULL && d < v->rank; d++) t.dims[d] = xnnd_dimx_eval(&v->dimx[d], &s, 1);
  return t;
}

static size_t tensor_numel(const xnnd_tensor* t) { return numel_dims(t->rank, t->dims); }

static void* init_delegate(const uint8_t* blob, size_t size, const xnnd_tensor* ti, uint32_t nin, const xnnd_tensor* to,
                           uint32_t nout, const int64_t* syms, uint32_t num_syms, const xnnd_backend_option* opts,
                           uint32_t nopts) {
  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, ti, nin, to, nout, false, opts, nopts, syms, num_syms};
  void* h = NULL;
  char err[512] = "";
  xnnd_status st = xnnd_xnnpack_backend_get()->init(&args, &h, err, sizeof(err));
  if (st != XNND_OK) fail_msg("init: %s (%s)", err, xnnd_status_str(st));
  return h;
}

static void expect_rel(const float* got, const float* want, size_t n, const char* what, int64_t s) {
  for (size_t i = 0; i < n; i++)
    if (!(fabsf(got[i] - want[i]) <= 1e-6f * fmaxf(1.0f, fabsf(want[i]))))
      fail_msg("%s at s0=%lld [%zu]: got %.9g, want %.9g", what, (long long)s, i, (double)got[i], (double)want[i]);
}

/* The graph at s0 = s lowered static, run once on `in`: the reference. */
static void static_reference(dyn_text_fn text, int64_t s, float* const* in, float** ref, const char* own) {
  char* buf = malloc(DYN_TEXT_SIZE);
  text(buf, DYN_TEXT_SIZE, s);
  xnnd_graph* g = parse_ok(buf);
  free(buf);
  size_t size = 0;
  uint8_t* blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  xnnd_tensor ti[4], to[4];
  for (uint32_t i = 0; i < g->num_inputs; i++) ti[i] = tensor_of(g, g->inputs[i], in[i]);
  for (uint32_t i = 0; i < g->num_outputs; i++) {
    ref[i] = malloc(sizeof(float) * value_numel(g, g->outputs[i]) + 16);
    to[i] = tensor_of(g, g->outputs[i], ref[i]);
  }
  const xnnd_backend_option opt = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", own};
  void* h = init_delegate(blob, size, ti, g->num_inputs, to, g->num_outputs, NULL, 0, &opt, 1);
  char err[512];
  if (xnnd_xnnpack_backend_get()->execute(h, ti, g->num_inputs, to, g->num_outputs, err, sizeof(err)) != XNND_OK)
    fail_msg("static execute at %lld: %s", (long long)s, err);
  xnnd_xnnpack_backend_get()->destroy(h);
  free(blob);
  xnnd_graph_destroy(g);
}

/* Lower the dynamic graph once, init at the max, then reshape + execute at each of seq[] and
 * compare with the static lowering at that size. Returns the delegate's describe() text in
 * text (for the cache counts). */
static void run_dynamic(dyn_text_fn text, dyn_sym_fn sym, int64_t min, int64_t max, const int64_t* seq, uint32_t n,
                        const char* own, const char* cache, char* describe, size_t describe_size) {
  xnnd_graph* g = dyn_graph(text, sym, min, max);
  size_t size = 0;
  uint8_t* blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  xnnd_blob_header hdr;
  xnnd_blob_header_read(blob, &hdr);
  assert_int_equal(fb_u32(fb_root(blob + hdr.flatbuffer_offset), XNND_XNNPACK_Graph_num_symbols, 0), 1);
  uint32_t nin = g->num_inputs, nout = g->num_outputs;
  xnnd_tensor ti[4], to[4];
  for (uint32_t i = 0; i < nin; i++) ti[i] = tensor_at(g, g->inputs[i], max);
  for (uint32_t i = 0; i < nout; i++) to[i] = tensor_at(g, g->outputs[i], max);
  const xnnd_backend_option opts[2] = {{XNND_XNNPACK_BACKEND_NAME, "own_kernels", own},
                                       {XNND_XNNPACK_BACKEND_NAME, "shape_cache", cache}};
  void* h = init_delegate(blob, size, ti, nin, to, nout, &max, 1, opts, 2);
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  char err[512];
  for (uint32_t k = 0; k < n; k++) {
    int64_t s = seq[k];
    float* in[4];
    float* out[4];
    float* ref[4];
    for (uint32_t i = 0; i < nin; i++) {
      ti[i] = tensor_at(g, g->inputs[i], s);
      g_seed = 1000u + (uint32_t)s;
      in[i] = rand_buf(tensor_numel(&ti[i]));
      ti[i].data = in[i];
    }
    for (uint32_t i = 0; i < nout; i++) {
      to[i] = tensor_at(g, g->outputs[i], s);
      size_t m = tensor_numel(&to[i]);
      out[i] = malloc(sizeof(float) * m + 16);
      for (size_t j = 0; j < m; j++) out[i][j] = NAN;
      to[i].data = out[i];
    }
    xnnd_status st = be->reshape(h, &s, 1, ti, nin, to, nout, err, sizeof(err));
    if (st != XNND_OK) fail_msg("reshape to s0=%lld: %s (%s)", (long long)s, err, xnnd_status_str(st));
    st = be->execute(h, ti, nin, to, nout, err, sizeof(err));
    if (st != XNND_OK) fail_msg("execute at s0=%lld: %s (%s)", (long long)s, err, xnnd_status_str(st));
    static_reference(text, s, in, ref, own);
    for (uint32_t i = 0; i < nout; i++) {
      expect_rel(out[i], ref[i], tensor_numel(&to[i]), "output", s);
      free(out[i]);
      free(ref[i]);
    }
    for (uint32_t i = 0; i < nin; i++) free(in[i]);
  }
  if (describe != NULL) be->describe(h, describe, describe_size);
  be->destroy(h);
  free(blob);
  xnnd_graph_destroy(g);
}

static void test_dynamic_shapes(void** state) {
  (void)state;
  static const int64_t seq[] = {7, 2, 5, 2, 7, 3, 1, 2};
  const uint32_t n = sizeof(seq) / sizeof(seq[0]);
  char text[4096];
  const char* owns[2] = {"on", "off"};
  for (int o = 0; o < 2; o++) {
    /* Default cache (4): 7, 2, 5 built; 2 and 7 hits; 3 built; 1 evicts 5; 2 hit. */
    run_dynamic(text_conv, sym_batch, 1, 7, seq, n, owns[o], "4", text, sizeof(text));
    assert_non_null(strstr(text, "dynamic shapes: 4 of 4 cached instances (shape_cache=4), 5 built"));
    if (o == 0 && xnnd_f32_conv_cpu_ok()) assert_non_null(strstr(text, "-> xnnd: forced: own_kernels=on"));
    if (o == 1) assert_null(strstr(text, "-> xnnd"));
    /* Cache of 2: every revisit after two others is a rebuild. */
    run_dynamic(text_conv, sym_batch, 1, 7, seq, n, owns[o], "2", text, sizeof(text));
    assert_non_null(strstr(text, "dynamic shapes: 2 of 2 cached instances (shape_cache=2), 7 built"));
    run_dynamic(text_linear, sym_batch, 1, 7, seq, n, owns[o], "3", NULL, 0);
    run_dynamic(text_view, sym_view, 1, 7, seq, n, owns[o], "4", NULL, 0);
    run_dynamic(text_qconv, sym_batch, 1, 7, seq, n, owns[o], "4", NULL, 0);
    static const int64_t hs[] = {4, 2, 3, 2, 4};
    run_dynamic(text_spatial, sym_spatial, 2, 4, hs, 5, owns[o], "4", NULL, 0);
  }
}

/* Offset in the blob of value `id`'s dim_exprs data (longs), and its element count. */
static size_t dim_exprs_at(const uint8_t* blob, uint32_t id, uint32_t* len) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  fb_table root = fb_root(blob + h.flatbuffer_offset);
  fb_vec values = fb_vector(root, XNND_XNNPACK_Graph_values);
  assert_true(id < values.len);
  fb_vec e = fb_vector(fb_vec_table(values, id), XNND_XNNPACK_Value_dim_exprs);
  assert_non_null(e.data);
  *len = e.len;
  return (size_t)((const uint8_t*)e.data - blob);
}

/* First value with dim_exprs / first StaticReshape with new_shape_exprs. */
static uint32_t first_symbolic_value(const uint8_t* blob) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  fb_vec values = fb_vector(fb_root(blob + h.flatbuffer_offset), XNND_XNNPACK_Graph_values);
  for (uint32_t i = 0; i < values.len; i++)
    if (fb_vector(fb_vec_table(values, i), XNND_XNNPACK_Value_dim_exprs).data != NULL) return i;
  fail_msg("no symbolic value in the blob");
  return 0;
}

static size_t reshape_exprs_at(const uint8_t* blob, uint32_t* len) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  fb_vec nodes = fb_vector(fb_root(blob + h.flatbuffer_offset), XNND_XNNPACK_Graph_nodes);
  for (uint32_t i = 0; i < nodes.len; i++) {
    fb_table e = fb_vec_table(nodes, i);
    if (fb_u8(e, XNND_XNNPACK_NodeEntry_node_type, 0) != XNND_XNNPACK_Node_StaticReshape) continue;
    fb_vec x = fb_vector(fb_table_field(e, XNND_XNNPACK_NodeEntry_node), XNND_XNNPACK_StaticReshape_new_shape_exprs);
    if (x.data == NULL) continue;
    *len = x.len;
    return (size_t)((const uint8_t*)x.data - blob);
  }
  fail_msg("no StaticReshape with new_shape_exprs in the blob");
  return 0;
}

static void put_i64(uint8_t* p, int64_t v) { memcpy(p, &v, 8); }

/* init of a (corrupted) dynamic blob with the max-shape tensors fails with `want` and a
 * message containing `needle`. */
static void expect_dyn_init(const uint8_t* blob, size_t size, const xnnd_tensor* ti, uint32_t nin, const xnnd_tensor* to,
                            uint32_t nout, const int64_t* syms, uint32_t num_syms, xnnd_status want,
                            const char* needle) {
  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, ti, nin, to, nout, false, NULL, 0, syms, num_syms};
  void* h = NULL;
  char err[512] = "";
  xnnd_status st = xnnd_xnnpack_backend_get()->init(&args, &h, err, sizeof(err));
  if (st == XNND_OK) xnnd_xnnpack_backend_get()->destroy(h);
  if (st != want || strstr(err, needle) == NULL)
    fail_msg("init gave %s \"%s\"; want %s with \"%s\"", xnnd_status_str(st), err, xnnd_status_str(want), needle);
}

/* Corrupt forms fail init with their own message; a reshape the delegate cannot take fails
 * and leaves it usable at its previous shape; the support check refuses what a blob cannot
 * express. */
static void test_dynamic_errors(void** state) {
  (void)state;
  xnnd_graph* g = dyn_graph(text_view, sym_view, 1, 7);
  size_t size = 0;
  uint8_t* blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  int64_t max = 7;
  xnnd_tensor ti = tensor_at(g, g->inputs[0], max), to = tensor_at(g, g->outputs[0], max);
  uint8_t* bad = malloc(size);
  uint32_t len = 0;
  uint32_t id = first_symbolic_value(blob);
  size_t at = dim_exprs_at(blob, id, &len);
  assert_int_equal(len % 2, 0);  /* rank x (1 + 1 symbol) */
  char needle[128];

  /* a negative coefficient */
  memcpy(bad, blob, size);
  put_i64(bad + at + 8, -1);
  snprintf(needle, sizeof(needle), "values[%u]: dim_exprs breaks the form invariants", id);
  expect_dyn_init(bad, size, &ti, 1, &to, 1, &max, 1, XNND_INVALID_PROGRAM, needle);
  /* a form that disagrees with the stored dim at the init symbols */
  memcpy(bad, blob, size);
  put_i64(bad + at, 1);
  snprintf(needle, sizeof(needle), "values[%u]: dims[0] = 7 but its form gives 8 at symbols (s0=7)", id);
  expect_dyn_init(bad, size, &ti, 1, &to, 1, &max, 1, XNND_INVALID_PROGRAM, needle);
  /* one long short */
  memcpy(bad, blob, size);
  uint32_t shorter = len - 1;
  memcpy(bad + at - 4, &shorter, 4);
  snprintf(needle, sizeof(needle), "values[%u]: dim_exprs has %u entries", id, shorter);
  expect_dyn_init(bad, size, &ti, 1, &to, 1, &max, 1, XNND_INVALID_PROGRAM, needle);
  /* the reshape's new_shape_exprs */
  at = reshape_exprs_at(blob, &len);
  memcpy(bad, blob, size);
  put_i64(bad + at + 8, 2);
  expect_dyn_init(bad, size, &ti, 1, &to, 1, &max, 1, XNND_INVALID_PROGRAM,
                  "(StaticReshape): new_shape[0] = 7 but its form gives 14 at symbols (s0=7)");
  memcpy(bad, blob, size);
  put_i64(bad + at, -((int64_t)1 << 41));
  expect_dyn_init(bad, size, &ti, 1, &to, 1, &max, 1, XNND_INVALID_PROGRAM, "new_shape_exprs breaks the form invariants");
  /* the method has another symbol count; symbol values missing */
  int64_t two[2] = {7, 3};
  expect_dyn_init(blob, size, &ti, 1, &to, 1, two, 2, XNND_INVALID_PROGRAM,
                  "Graph.num_symbols is 1, the method has 2 symbols");
  expect_dyn_init(blob, size, &ti, 1, &to, 1, NULL, 1, XNND_INVALID_ARGUMENT, "num_syms is set but syms is NULL");
  /* init tensors that are not the forms at the symbols given */
  int64_t five = 5;
  expect_dyn_init(blob, size, &ti, 1, &to, 1, &five, 1, XNND_INVALID_PROGRAM, "but its form gives 5 at symbols (s0=5)");
  free(bad);

  /* reshape errors leave the delegate at its shape */
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  void* h = init_delegate(blob, size, &ti, 1, &to, 1, &max, 1, NULL, 0);
  char err[512];
  int64_t s = 3;
  xnnd_tensor ti3 = tensor_at(g, g->inputs[0], s), to3 = tensor_at(g, g->outputs[0], s);
  assert_int_equal(be->reshape(h, &s, 1, &ti3, 1, &to3, 1, err, sizeof(err)), XNND_OK);
  assert_int_equal(be->reshape(h, two, 2, &ti3, 1, &to3, 1, err, sizeof(err)), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err, "reshape with 2 symbol values, the delegate was built for 1"));
  int64_t eight = 8;
  xnnd_tensor ti8 = tensor_at(g, g->inputs[0], eight), to8 = tensor_at(g, g->outputs[0], eight);
  assert_int_equal(be->reshape(h, &eight, 1, &ti8, 1, &to8, 1, err, sizeof(err)), XNND_SHAPE_MISMATCH);
  assert_non_null(strstr(err, "symbol 0 = 8 is outside [0, 7]"));
  int64_t four = 4;  /* tensors of another shape than the symbols say: a miss, verified */
  assert_int_equal(be->reshape(h, &four, 1, &ti3, 1, &to3, 1, err, sizeof(err)), XNND_SHAPE_MISMATCH);
  assert_non_null(strstr(err, "input 0: program shape [3,4,2] vs blob value"));
  s = 3;  /* a hit with tensors of another shape */
  assert_int_equal(be->reshape(h, &s, 1, &ti8, 1, &to8, 1, err, sizeof(err)), XNND_SHAPE_MISMATCH);
  g_seed = 4;
  float* x = rand_buf(tensor_numel(&ti3));
  float y[3 * 3 + 4], ref_y[3 * 3 + 4];
  ti3.data = x;
  to3.data = y;
  assert_int_equal(be->execute(h, &ti3, 1, &to3, 1, err, sizeof(err)), XNND_OK);
  float* ref[1] = {NULL};
  static_reference(text_view, 3, (float* const[]){x}, ref, "auto");
  memcpy(ref_y, ref[0], sizeof(float) * 9);
  free(ref[0]);
  expect_rel(y, ref_y, 9, "output after failed reshapes", 3);
  /* execute with tensors of another shape than the current one */
  assert_int_equal(be->execute(h, &ti, 1, &to, 1, err, sizeof(err)), XNND_INVALID_ARGUMENT);  /* no data */
  ti.data = x;
  to.data = y;
  assert_int_equal(be->execute(h, &ti, 1, &to, 1, err, sizeof(err)), XNND_SHAPE_MISMATCH);
  assert_non_null(strstr(err, "reshape first"));
  /* a shape_cache out of range */
  const xnnd_backend_option bad_cache = {XNND_XNNPACK_BACKEND_NAME, "shape_cache", "65"};
  xnnd_backend_init_args args = {blob, size, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, &bad_cache, 1, &max, 1};
  void* h2 = NULL;
  assert_int_equal(be->init(&args, &h2, err, sizeof(err)), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err, "shape_cache=\"65\": expected an integer 1..64"));
  be->destroy(h);
  free(x);
  free(blob);
  xnnd_graph_destroy(g);

  /* a static blob in a method with symbols: reshape only checks the count */
  char* buf = malloc(DYN_TEXT_SIZE);
  text_linear(buf, DYN_TEXT_SIZE, 2);
  g = parse_ok(buf);
  free(buf);
  blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  ti = tensor_of(g, g->inputs[0], NULL);
  to = tensor_of(g, g->outputs[0], NULL);
  h = init_delegate(blob, size, &ti, 1, &to, 1, &max, 1, NULL, 0);
  s = 2;
  assert_int_equal(be->reshape(h, &s, 1, &ti, 1, &to, 1, err, sizeof(err)), XNND_OK);
  assert_int_equal(be->reshape(h, two, 2, &ti, 1, &to, 1, err, sizeof(err)), XNND_INVALID_ARGUMENT);
  be->destroy(h);
  free(blob);
  xnnd_graph_destroy(g);

  /* what a blob cannot express is refused by the support check */
  char reason[256];
  g = dyn_graph(text_linear, sym_batch, 1, 7);
  set_form(g, "x", 2, 0, 16);  /* still static */
  assert_true(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  xnnd_graph_destroy(g);
  g = dyn_graph(text_linear, sym_batch, 1, 7);
  set_form(g, "x", 2, 1, 9);  /* the contracted dim: s0 + 9 */
  assert_false(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "symbolic dim: input %x dim 2 is symbolic; the contracted dim must be static"));
  xnnd_graph_destroy(g);
  /* a symbolic attribute other than a view's size */
  g = parse_ok("graph pad {\n  input %x: f32[7,4]\n  %y: f32[7,6] = aten.constant_pad_nd(%x) {pad=[1,1], value=0}\n"
               "  output %y\n}\n");
  g->syms[0] = (xnnd_symbol){"s0", 1, 7};
  g->num_syms = 1;
  sym_batch(g);
  assert_true(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  int pad = xnnd_op_attr_index(XNND_OP_CONSTANT_PAD_ND, "pad");
  xnnd_dimx* px = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * 2);
  px[0] = xnnd_dimx_sym(0, 1);
  px[0].c = -6;
  px[1] = xnnd_dimx_const(1);
  g->nodes[0].attr_dimx[pad] = px;
  assert_false(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "symbolic dim: aten.constant_pad_nd with symbolic attribute pad is not lowered"));
  xnnd_graph_destroy(g);
  g = dyn_graph(text_conv, sym_batch, 5, 7);
  assert_true(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  set_form(g, "x", 1, 1, -4);  /* channels s0 - 4 */
  assert_false(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "symbolic dim: input %x dim 1 is symbolic; convolution channels must be static"));
  xnnd_graph_destroy(g);
}

/* Every single-byte flip of a dynamic blob (3 masks per byte) and every truncation is survived:
 * init at the max either fails with a message or builds a delegate that then reshapes to a
 * smaller shape (or fails saying why), executes, and reshapes back. */
static void test_dynamic_byte_flips(void** state) {
  (void)state;
  xnnd_graph* g = dyn_graph(text_view, sym_view, 1, 7);
  size_t size = 0;
  uint8_t* blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  int64_t max = 7, small = 3;
  xnnd_tensor ti = tensor_at(g, g->inputs[0], max), to = tensor_at(g, g->outputs[0], max);
  xnnd_tensor ts = tensor_at(g, g->inputs[0], small), tos = tensor_at(g, g->outputs[0], small);
  float* in = rand_buf(tensor_numel(&ti));
  float* out = malloc(sizeof(float) * tensor_numel(&to) + 16);
  uint8_t* copy = aligned_alloc(64, (size + 63) & ~(size_t)63);
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  const uint8_t masks[3] = {0x01, 0x80, 0xFF};
  char err[512];
  unsigned accepted = 0, reshaped = 0;
  for (size_t i = 0; i < size; i++)
    for (int m = 0; m < 3; m++) {
      memcpy(copy, blob, size);
      copy[i] ^= masks[m];
      xnnd_backend_init_args args = {copy, size, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, &max, 1};
      void* h = NULL;
      err[0] = '\0';
      if (be->init(&args, &h, err, sizeof(err)) != XNND_OK) {
        assert_null(h);
        assert_true(err[0] != '\0');
        continue;
      }
      accepted++;
      err[0] = '\0';
      if (be->reshape(h, &small, 1, &ts, 1, &tos, 1, err, sizeof(err)) == XNND_OK) {
        reshaped++;
        ts.data = in;
        tos.data = out;
        (void)be->execute(h, &ts, 1, &tos, 1, err, sizeof(err));
        ts.data = tos.data = NULL;
      } else {
        assert_true(err[0] != '\0');
      }
      (void)be->reshape(h, &max, 1, &ti, 1, &to, 1, err, sizeof(err));
      be->destroy(h);
    }
  for (size_t n = 0; n < size; n++) {
    xnnd_backend_init_args args = {blob, n, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, &max, 1};
    void* h = NULL;
    assert_int_not_equal(be->init(&args, &h, err, sizeof(err)), XNND_OK);
  }
  print_message("dynamic byte flips: %zu-byte blob, %u of %zu variants accepted, %u reshaped\n", size, accepted,
                size * 3, reshaped);
  assert_true(reshaped > 0);
  free(copy), free(blob), free(in), free(out);
  xnnd_graph_destroy(g);
}

/* Allocation failures while a reshape builds a new instance: each fails with
 * XNND_OUT_OF_MEMORY, leaks nothing, and leaves the delegate executing at its shape. */
static void test_dynamic_reshape_out_of_memory(void** state) {
  (void)state;
  xnnd_graph* g = dyn_graph(text_conv, sym_batch, 1, 7);
  size_t size = 0;
  uint8_t* blob = build_all(g, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &size);
  int64_t max = 7, s = 3;
  xnnd_tensor ti = tensor_at(g, g->inputs[0], max), to[2] = {tensor_at(g, g->outputs[0], max), tensor_at(g, g->outputs[1], max)};
  xnnd_tensor ts = tensor_at(g, g->inputs[0], s), tos[2] = {tensor_at(g, g->outputs[0], s), tensor_at(g, g->outputs[1], s)};
  alloc_ctx ctx = {-1};
  xnnd_allocator a = {&ctx, t_alloc, xt_aligned_free};
  const xnnd_backend_option on = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "on"};
  xnnd_backend_init_args args = {blob, size, NULL, 0, &a, 1, &ti, 1, to, 2, false, &on, 1, &max, 1};
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  void* h = NULL;
  char err[512];
  assert_int_equal(be->init(&args, &h, err, sizeof(err)), XNND_OK);
  g_seed = 8;
  float* x = rand_buf(tensor_numel(&ti));
  float* y0 = malloc(sizeof(float) * tensor_numel(&to[0]) + 16);
  float* y1 = malloc(sizeof(float) * tensor_numel(&to[1]) + 16);
  ti.data = x, to[0].data = y0, to[1].data = y1;
  bool succeeded = false;
  for (long budget = 0; budget < 64 && !succeeded; budget++) {
    ctx.budget = budget;
    xnnd_status st = be->reshape(h, &s, 1, &ts, 1, tos, 2, err, sizeof(err));
    ctx.budget = -1;
    if (st == XNND_OK) {
      succeeded = true;
      break;
    }
    assert_int_equal(st, XNND_OUT_OF_MEMORY);
    assert_int_equal(be->execute(h, &ti, 1, to, 2, err, sizeof(err)), XNND_OK);  /* still at the max */
  }
  assert_true(succeeded);
  ts.data = x, tos[0].data = y0, tos[1].data = y1;
  assert_int_equal(be->execute(h, &ts, 1, tos, 2, err, sizeof(err)), XNND_OK);
  be->destroy(h);
  free(x), free(y0), free(y1), free(blob);
  xnnd_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_stride2_bias_relu),
      cmocka_unit_test(test_f32_conv_shapes),
      cmocka_unit_test(test_backend_options),
      cmocka_unit_test(test_f32_conv_segments),
      cmocka_unit_test(test_grouped_dilated_conv),
      cmocka_unit_test(test_depthwise_hardtanh),
      cmocka_unit_test(test_binary_broadcast),
      cmocka_unit_test(test_binary_low_rank_and_scalar),
      cmocka_unit_test(test_maximum_minimum),
      cmocka_unit_test(test_mean_global_pool),
      cmocka_unit_test(test_view_and_linear),
      cmocka_unit_test(test_addmm_t),
      cmocka_unit_test(test_pools),
      cmocka_unit_test(test_unary_softmax),
      cmocka_unit_test(test_boundary_shortcuts),
      cmocka_unit_test(test_support_reasons),
      cmocka_unit_test(test_activation_lowerings),
      cmocka_unit_test(test_math_lowerings),
      cmocka_unit_test(test_pad_permute_lowerings),
      cmocka_unit_test(test_resize_adaptive_lowerings),
      cmocka_unit_test(test_deconvolution_lowering),
      cmocka_unit_test(test_coverage_reasons),
      cmocka_unit_test(test_blob_corruption),
      cmocka_unit_test(test_blob_byte_flips),
      cmocka_unit_test(test_init_robustness),
      cmocka_unit_test(test_dynamic_shapes),
      cmocka_unit_test(test_dynamic_errors),
      cmocka_unit_test(test_dynamic_byte_flips),
      cmocka_unit_test(test_dynamic_reshape_out_of_memory),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
