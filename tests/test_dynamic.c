/* Dynamic shapes in the program format and the runtime (docs/ARCHITECTURE.md "Dynamic
 * shapes"): IR graphs with symbolic dims (built here: the text IR at the upper bounds, then
 * symbols and forms set on the graph) -> program writer -> loader -> executes at many shapes,
 * each compared exactly with the same graph written static at that shape (same portable
 * kernels, so equal bits). Also: every load-time check on dim_exprs / int_exprs / symbols
 * with its status, input dims out of range and broken relations (SHAPE_MISMATCH, the method
 * stays usable), the importer round trip and the public dynamic-shape queries. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "fb.h"
#include "partitioner/partitioner.h"
#include "xnnd/backend.h"
#include "program_generated.h"
#include "pte_format.h"
#include "serializer/program_writer.h"
#include "xnnd/runtime.h"

/* ---- graphs ---- */

/* Deterministic constant text "[a, b, ...]" of n values. */
static void put_values(char* buf, size_t size, size_t* len, uint32_t n, uint32_t seed) {
  *len += (size_t)snprintf(buf + *len, size - *len, "[");
  uint32_t s = seed * 2654435761u + 12345u;
  for (uint32_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    float v = (float)((s >> 8) % 2001) / 1000.0f - 1.0f;
    *len += (size_t)snprintf(buf + *len, size - *len, "%s%g", i ? ", " : "", (double)v);
  }
  *len += (size_t)snprintf(buf + *len, size - *len, "]");
}

#define APPEND(...) (len += (size_t)snprintf(buf + len, size - len, __VA_ARGS__))

/* Graph A: conv, relu, add, mean, view to [2*n,4], linear, softmax over n in 1..3, h in 3..6. */
static void text_a(char* buf, size_t size, const int64_t* sy) {
  long long n = sy[0], h = sy[1];
  size_t len = 0;
  APPEND("graph a {\n  input %%x: f32[%lld,3,%lld,%lld]\n  const %%w: f32[8,3,3,3] = ", n, h, h);
  put_values(buf, size, &len, 216, 1);
  APPEND("\n  const %%b: f32[8] = ");
  put_values(buf, size, &len, 8, 2);
  APPEND("\n  const %%lw: f32[5,4] = ");
  put_values(buf, size, &len, 20, 3);
  APPEND("\n  const %%lb: f32[5] = ");
  put_values(buf, size, &len, 5, 4);
  APPEND("\n  %%c: f32[%lld,8,%lld,%lld] = aten.convolution(%%x, %%w, %%b) {stride=[1,1], padding=[1,1], "
         "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n", n, h, h);
  APPEND("  %%r: f32[%lld,8,%lld,%lld] = aten.relu(%%c)\n", n, h, h);
  APPEND("  %%a: f32[%lld,8,%lld,%lld] = aten.add(%%r, %%c) {alpha=1}\n", n, h, h);
  APPEND("  %%m: f32[%lld,8] = aten.mean(%%a) {dim=[2,3], keepdim=false}\n", n);
  APPEND("  %%v: f32[%lld,4] = aten.view(%%m) {size=[%lld,4]}\n", 2 * n, 2 * n);
  APPEND("  %%l: f32[%lld,5] = aten.linear(%%v, %%lw, %%lb)\n", 2 * n);
  APPEND("  %%s: f32[%lld,5] = aten.softmax(%%l) {dim=1, half_to_float=false}\n", 2 * n);
  APPEND("  output %%s, %%a\n}\n");
}

/* Graph B: layer norm, linear, view to [2*t,16], softmax, and a mean over the symbolic dim
 * (a static output computed from a dynamic input), t in 1..6. */
static void text_b(char* buf, size_t size, const int64_t* sy) {
  long long t = sy[0];
  size_t len = 0;
  APPEND("graph b {\n  input %%x: f32[2,%lld,16]\n  const %%g: f32[16] = ", t);
  put_values(buf, size, &len, 16, 5);
  APPEND("\n  const %%be: f32[16] = ");
  put_values(buf, size, &len, 16, 6);
  APPEND("\n  const %%lw: f32[16,16] = ");
  put_values(buf, size, &len, 256, 7);
  APPEND("\n  %%ln: f32[2,%lld,16], %%mu: f32[2,%lld,1], %%rs: f32[2,%lld,1] = aten.native_layer_norm(%%x, "
         "%%g, %%be) {normalized_shape=[16], eps=1e-05}\n", t, t, t);
  APPEND("  %%l: f32[2,%lld,16] = aten.linear(%%ln, %%lw)\n", t);
  APPEND("  %%v: f32[%lld,16] = aten.view(%%l) {size=[%lld,16]}\n", 2 * t, 2 * t);
  APPEND("  %%s: f32[%lld,16] = aten.softmax(%%v) {dim=1, half_to_float=false}\n", 2 * t);
  APPEND("  %%q: f32[2,16] = aten.mean(%%x) {dim=[1], keepdim=false}\n");
  APPEND("  output %%s, %%q\n}\n");
}

/* Graph C: two inputs related by b.dim0 = 2*a.dim0, s in 1..4. */
static void text_c(char* buf, size_t size, const int64_t* sy) {
  long long s = sy[0];
  size_t len = 0;
  APPEND("graph c {\n  input %%a: f32[%lld,8]\n  input %%b: f32[%lld,4]\n", s, 2 * s);
  APPEND("  %%bv: f32[%lld,8] = aten.view(%%b) {size=[%lld,8]}\n", s, s);
  APPEND("  %%o: f32[%lld,8] = aten.add(%%a, %%bv) {alpha=1}\n  output %%o\n}\n", s);
}

typedef struct sym_decl { const char* name; int64_t min, max; } sym_decl;
/* A value's dims ("n,3,h,h"), or with attr set a node's INTS attribute, found by the name of
 * the node's first output. */
typedef struct form_decl { const char* value; const char* attr; const char* forms; } form_decl;

typedef struct dyn_graph {
  void (*text)(char* buf, size_t size, const int64_t* syms);
  uint32_t num_syms;
  sym_decl syms[XNND_MAX_SYMS];
  const form_decl* forms;
  uint32_t num_forms;
} dyn_graph;

static const form_decl k_forms_a[] = {
    {"x", NULL, "n,3,h,h"}, {"c", NULL, "n,8,h,h"}, {"r", NULL, "n,8,h,h"},
    {"a", NULL, "n,8,h,h"}, {"m", NULL, "n,8"},     {"v", NULL, "2*n,4"},
    {"v", "size", "2*n,4"}, {"l", NULL, "2*n,5"},   {"s", NULL, "2*n,5"},
};
static const dyn_graph k_graph_a = {text_a, 2, {{"n", 1, 3}, {"h", 3, 6}}, k_forms_a, 9};

static const form_decl k_forms_b[] = {
    {"x", NULL, "2,t,16"},  {"ln", NULL, "2,t,16"},  {"mu", NULL, "2,t,1"},
    {"rs", NULL, "2,t,1"},  {"l", NULL, "2,t,16"},   {"v", NULL, "2*t,16"},
    {"v", "size", "2*t,16"}, {"s", NULL, "2*t,16"},
};
static const dyn_graph k_graph_b = {text_b, 1, {{"t", 1, 6}}, k_forms_b, 8};

static const form_decl k_forms_c[] = {
    {"a", NULL, "s,8"}, {"b", NULL, "2*s,4"}, {"bv", NULL, "s,8"}, {"bv", "size", "s,8"}, {"o", NULL, "s,8"},
};
static const dyn_graph k_graph_c = {text_c, 1, {{"s", 1, 4}}, k_forms_c, 5};

static xnnd_graph* parse_text(const char* text) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), NULL, &g, &err);
  if (st != XNND_OK) fprintf(stderr, "parse: %s\n", err.message);
  assert_int_equal(st, XNND_OK);
  return g;
}

/* Forms "f0,f1,..." parsed over the graph's symbols into graph memory. */
static const xnnd_dimx* parse_forms(xnnd_graph* g, const char* text, uint32_t n) {
  xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * n);
  assert_non_null(x);
  const char* p = text;
  for (uint32_t i = 0; i < n; i++) {
    char err[128];
    size_t used = xnnd_dimx_parse(p, strlen(p), g->syms, g->num_syms, &x[i], err, sizeof(err));
    assert_true(used > 0);
    p += used;
    assert_true(*p == (i + 1 < n ? ',' : '\0'));
    if (*p == ',') p++;
  }
  return x;
}

static xnnd_id node_of(const xnnd_graph* g, xnnd_id value) {
  for (uint32_t n = 0; n < g->num_nodes; n++)
    if (g->nodes[n].num_outputs > 0 && g->nodes[n].outputs[0] == value) return n;
  fail_msg("no node writes value %u", value);
  return XNND_NO_ID;
}

/* The dynamic graph: the text at every symbol's max, then symbols and forms. */
static xnnd_graph* build_dynamic(const dyn_graph* dg) {
  char* text = malloc(1 << 16);
  assert_non_null(text);
  int64_t max[XNND_MAX_SYMS];
  for (uint32_t i = 0; i < dg->num_syms; i++) max[i] = dg->syms[i].max;
  dg->text(text, 1 << 16, max);
  xnnd_graph* g = parse_text(text);
  free(text);
  g->num_syms = dg->num_syms;
  for (uint32_t i = 0; i < dg->num_syms; i++) {
    memset(&g->syms[i], 0, sizeof(g->syms[i]));
    snprintf(g->syms[i].name, sizeof(g->syms[i].name), "%s", dg->syms[i].name);
    g->syms[i].min = dg->syms[i].min;
    g->syms[i].max = dg->syms[i].max;
  }
  for (uint32_t f = 0; f < dg->num_forms; f++) {
    const form_decl* fd = &dg->forms[f];
    xnnd_id v = xnnd_graph_find_value(g, fd->value);
    assert_int_not_equal(v, XNND_NO_ID);
    if (!fd->attr) {
      g->values[v].dimx = parse_forms(g, fd->forms, g->values[v].rank);
      continue;
    }
    xnnd_ir_node* node = &g->nodes[node_of(g, v)];
    int slot = xnnd_op_attr_index(node->op, fd->attr);
    assert_true(slot >= 0);
    node->attr_dimx[slot] = parse_forms(g, fd->forms, node->attrs[slot].n);
  }
  return g;
}

static uint8_t* write_program(xnnd_graph* g, size_t* size_out) {
  xnnd_partition_options po = {.no_delegate = true};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &po, &plan), XNND_OK);
  uint8_t* bytes = NULL;
  char msg[256];
  xnnd_status st = xnnd_program_write(g, &plan, &bytes, size_out, msg, sizeof(msg));
  if (st != XNND_OK) fprintf(stderr, "write: %s\n", msg);
  assert_int_equal(st, XNND_OK);
  xnnd_partition_plan_free(&plan);
  return bytes;
}

static uint8_t* dynamic_program(const dyn_graph* dg, size_t* size_out) {
  xnnd_graph* g = build_dynamic(dg);
  uint8_t* bytes = write_program(g, size_out);
  xnnd_graph_destroy(g);
  return bytes;
}

/* ---- running ---- */

typedef struct loaded {
  uint8_t* bytes;
  xnnd_program* program;
  xnnd_method* method;
} loaded;

static loaded load(uint8_t* bytes, size_t size) {
  loaded l = {bytes, NULL, NULL};
  xnnd_error err;
  xnnd_status st = xnnd_program_load_buffer(bytes, size, NULL, &l.program, &err);
  if (st != XNND_OK) fprintf(stderr, "load: %s\n", err.message);
  assert_int_equal(st, XNND_OK);
  st = xnnd_method_create(l.program, "forward", NULL, &l.method, &err);
  if (st != XNND_OK) fprintf(stderr, "create: %s\n", err.message);
  assert_int_equal(st, XNND_OK);
  return l;
}

static loaded load_dynamic(const dyn_graph* dg) {
  size_t size;
  uint8_t* bytes = dynamic_program(dg, &size);
  return load(bytes, size);
}

static void unload(loaded* l) {
  xnnd_method_destroy(l->method);
  xnnd_program_destroy(l->program);
  free(l->bytes);
}

/* Input i's dims at the symbol values (from the graph's forms). */
static void input_dims(const dyn_graph* dg, uint32_t input, const int64_t* sy, xnnd_tensor* t) {
  char* text = malloc(1 << 16);
  assert_non_null(text);
  dg->text(text, 1 << 16, sy);
  xnnd_graph* g = parse_text(text);
  free(text);
  const xnnd_ir_value* v = &g->values[g->inputs[input]];
  t->dtype = v->dtype;
  t->rank = v->rank;
  memcpy(t->dims, v->dims, sizeof(int64_t) * v->rank);
  xnnd_graph_destroy(g);
}

#define MAX_ELEMS 4096

/* Fixed-seed inputs at sy for graph dg into bufs (MAX_ELEMS floats each), bound to m. */
static void bind_inputs(xnnd_method* m, const dyn_graph* dg, const int64_t* sy, float (*bufs)[MAX_ELEMS],
                        uint32_t seed) {
  for (uint32_t i = 0; i < xnnd_method_num_inputs(m); i++) {
    xnnd_tensor t;
    input_dims(dg, i, sy, &t);
    size_t n = xnnd_tensor_numel(&t);
    assert_true(n <= MAX_ELEMS);
    uint32_t s = seed * 7919u + i;
    for (size_t k = 0; k < n; k++) {
      s = s * 1664525u + 1013904223u;
      bufs[i][k] = (float)((s >> 8) % 4001) / 2000.0f - 1.0f;
    }
    t.data = bufs[i];
    xnnd_status st = xnnd_method_set_input(m, i, &t);
    if (st != XNND_OK) fprintf(stderr, "set_input: %s\n", xnnd_method_errmsg(m));
    assert_int_equal(st, XNND_OK);
  }
}

/* Execute the dynamic method at sy and the graph written static at sy on the same inputs:
 * outputs equal bit for bit, dims included. */
static void check_against_static(xnnd_method* dyn, const dyn_graph* dg, const int64_t* sy, uint32_t seed) {
  static float bufs[4][MAX_ELEMS];
  bind_inputs(dyn, dg, sy, bufs, seed);
  xnnd_status st = xnnd_method_execute(dyn);
  if (st != XNND_OK) fprintf(stderr, "execute: %s\n", xnnd_method_errmsg(dyn));
  assert_int_equal(st, XNND_OK);

  char* text = malloc(1 << 16);
  assert_non_null(text);
  dg->text(text, 1 << 16, sy);
  xnnd_graph* g = parse_text(text);
  free(text);
  size_t size;
  uint8_t* bytes = write_program(g, &size);
  xnnd_graph_destroy(g);
  loaded ref = load(bytes, size);
  static float ref_bufs[4][MAX_ELEMS];
  bind_inputs(ref.method, dg, sy, ref_bufs, seed);
  assert_int_equal(xnnd_method_execute(ref.method), XNND_OK);

  assert_int_equal(xnnd_method_num_outputs(dyn), xnnd_method_num_outputs(ref.method));
  for (uint32_t o = 0; o < xnnd_method_num_outputs(dyn); o++) {
    xnnd_tensor a, b;
    assert_int_equal(xnnd_method_get_output(dyn, o, &a), XNND_OK);
    assert_int_equal(xnnd_method_get_output(ref.method, o, &b), XNND_OK);
    assert_int_equal(a.rank, b.rank);
    for (uint32_t d = 0; d < a.rank; d++) assert_int_equal(a.dims[d], b.dims[d]);
    size_t n = xnnd_tensor_numel(&a);
    assert_true(n > 0);
    assert_memory_equal(a.data, b.data, n * sizeof(float));
    const float* f = a.data;
    for (size_t k = 0; k < n; k++) assert_true(isfinite(f[k]));
  }
  unload(&ref);
}

/* ---- tests ---- */

/* Every shape of graph A, in an order that changes the shape on every execute, then again
 * backwards: each equal to the static program at that shape. */
static void test_graph_a_every_shape(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_a);
  assert_int_equal(xnnd_method_num_symbols(l.method), 2);
  uint32_t round = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < 12; i++) {
      int k = pass == 0 ? i : 11 - i;
      int64_t sy[2] = {1 + k % 3, 3 + k / 3};
      check_against_static(l.method, &k_graph_a, sy, round++);
      xnnd_symbol_info si;
      assert_int_equal(xnnd_method_get_symbol(l.method, 1, &si), XNND_OK);
      assert_string_equal(si.name, "h");
      assert_int_equal(si.value, sy[1]);
    }
  }
  unload(&l);
}

/* Graph B over t = 1..6 and back down, shape changing every execute. */
static void test_graph_b_every_shape(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_b);
  const int64_t order[] = {3, 1, 6, 2, 5, 4, 1, 6, 3};
  for (uint32_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
    check_against_static(l.method, &k_graph_b, &order[i], i);
  unload(&l);
}

/* The same shape twice, then the upper bound (the shapes the method was created at). */
static void test_same_shape_and_upper_bound(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_b);
  const int64_t order[] = {6, 2, 2, 6};
  for (uint32_t i = 0; i < 4; i++) check_against_static(l.method, &k_graph_b, &order[i], 40 + i);
  unload(&l);
}

/* A shape change on every execute, many times (tests/CMakeLists.txt: runs under ASan+UBSan in
 * scripts/test): outputs checked against the static programs made once per shape. */
static void test_shape_change_every_execute_loop(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_c);
  loaded ref[4];
  for (int k = 1; k <= 4; k++) {
    char text[1024];
    int64_t sy = k;
    text_c(text, sizeof(text), &sy);
    xnnd_graph* g = parse_text(text);
    size_t rs;
    uint8_t* bytes = write_program(g, &rs);
    xnnd_graph_destroy(g);
    ref[k - 1] = load(bytes, rs);
  }
  float a[32], b[32];
  int64_t s = 4;  /* the shapes the method was created at */
  for (int it = 0; it < 200; it++) {
    s = 1 + (s + it % 3) % 4;  /* moves by 1..3 (mod 4): a new shape every execute */
    for (int k = 0; k < 32; k++) a[k] = (float)((it * 31 + k * 7) % 23) - 11.0f, b[k] = (float)(k % 5) * 0.5f;
    xnnd_tensor ta = {XNND_F32, 2, {s, 8}, a}, tb = {XNND_F32, 2, {2 * s, 4}, b};
    assert_int_equal(xnnd_method_set_input(l.method, 0, &ta), XNND_OK);
    assert_int_equal(xnnd_method_set_input(l.method, 1, &tb), XNND_OK);
    assert_int_equal(xnnd_method_execute(l.method), XNND_OK);
    xnnd_method* r = ref[s - 1].method;
    assert_int_equal(xnnd_method_set_input(r, 0, &ta), XNND_OK);
    assert_int_equal(xnnd_method_set_input(r, 1, &tb), XNND_OK);
    assert_int_equal(xnnd_method_execute(r), XNND_OK);
    xnnd_tensor x, y;
    assert_int_equal(xnnd_method_get_output(l.method, 0, &x), XNND_OK);
    assert_int_equal(xnnd_method_get_output(r, 0, &y), XNND_OK);
    assert_int_equal(x.dims[0], s);
    assert_int_equal(x.dims[1], 8);
    assert_memory_equal(x.data, y.data, (size_t)s * 8 * sizeof(float));
    for (int k = 0; k < s * 8; k++) assert_true(((float*)x.data)[k] == a[k] + b[k]);
  }
  for (int k = 0; k < 4; k++) unload(&ref[k]);
  unload(&l);
}

/* Dims outside a symbol's range, not of the form, or a static dim changed: SHAPE_MISMATCH at
 * set_input with a message naming input, dim, symbol and range; then a valid shape runs. */
static void test_out_of_range_inputs(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_c);
  xnnd_method* m = l.method;
  float a[64] = {0}, b[64] = {0};
  xnnd_tensor ta = {XNND_F32, 2, {5, 8}, a};
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_SHAPE_MISMATCH);
  assert_string_equal(xnnd_method_errmsg(m), "input 0 dim 0 = 5: s must be in 1..4 (f32[s,8])");
  ta.dims[0] = 0;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_SHAPE_MISMATCH);
  ta.dims[0] = -3;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_SHAPE_MISMATCH);
  ta.dims[0] = 2, ta.dims[1] = 7;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_SHAPE_MISMATCH);
  assert_string_equal(xnnd_method_errmsg(m), "input 0 dim 1 = 7: expected 8 (f32[s,8])");
  ta.rank = 3;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_SHAPE_MISMATCH);
  xnnd_tensor tb = {XNND_F32, 2, {5, 4}, b};  /* odd: not 2*s */
  assert_int_equal(xnnd_method_set_input(m, 1, &tb), XNND_SHAPE_MISMATCH);
  assert_string_equal(xnnd_method_errmsg(m),
                      "input 1 dim 0 = 5: must be 2*s with s in 1..4 (2..8 in steps of 2) (f32[2*s,4])");
  tb.dims[0] = 10;
  assert_int_equal(xnnd_method_set_input(m, 1, &tb), XNND_SHAPE_MISMATCH);

  /* ranges for apps and the CLI */
  int64_t lo, hi;
  assert_int_equal(xnnd_method_input_dim_range(m, 1, 0, &lo, &hi), XNND_OK);
  assert_int_equal(lo, 2);
  assert_int_equal(hi, 8);
  assert_int_equal(xnnd_method_input_dim_range(m, 1, 1, &lo, &hi), XNND_OK);
  assert_int_equal(lo, 4);
  assert_int_equal(hi, 4);
  assert_int_equal(xnnd_method_input_dim_range(m, 1, 2, &lo, &hi), XNND_INVALID_ARGUMENT);
  char type[64];
  assert_int_equal(xnnd_method_input_type_str(m, 1, type, sizeof(type)), strlen("f32[2*s,4]"));
  assert_string_equal(type, "f32[2*s,4]");
  xnnd_tensor info;
  assert_int_equal(xnnd_method_input_info(m, 1, &info), XNND_OK);
  assert_int_equal(info.dims[0], 8);  /* the upper bound */

  /* still usable */
  ta = (xnnd_tensor){XNND_F32, 2, {3, 8}, a};
  tb = (xnnd_tensor){XNND_F32, 2, {6, 4}, b};
  for (int k = 0; k < 24; k++) a[k] = (float)k, b[k] = 1.0f;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_OK);
  assert_int_equal(xnnd_method_set_input(m, 1, &tb), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dims[0], 3);
  for (int k = 0; k < 24; k++) assert_true(((float*)out.data)[k] == (float)k + 1.0f);
  unload(&l);
}

/* Inputs each fine alone but breaking b.dim0 = 2*a.dim0: execute fails before running
 * anything, naming the input, dim, form and symbol; the method then runs valid shapes,
 * including the one it ran before. */
static void test_broken_relation(void** state) {
  (void)state;
  loaded l = load_dynamic(&k_graph_c);
  xnnd_method* m = l.method;
  float a[64], b[64];
  for (int k = 0; k < 64; k++) a[k] = (float)k, b[k] = 2.0f;
  xnnd_tensor ta = {XNND_F32, 2, {2, 8}, a}, tb = {XNND_F32, 2, {4, 4}, b};
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_OK);
  assert_int_equal(xnnd_method_set_input(m, 1, &tb), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);

  ta.dims[0] = 3;  /* s = 3 from input 0, but input 1 says s = 2 */
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_SHAPE_MISMATCH);
  assert_string_equal(xnnd_method_errmsg(m),
                      "method \"forward\": input 1 dim 0 = 4 breaks a relation: 2*s must be 6 with "
                      "s = 3 (s read from input 0 dim 0) (f32[2*s,4])");
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_NOT_EXECUTED);
  xnnd_symbol_info si;
  assert_int_equal(xnnd_method_get_symbol(m, 0, &si), XNND_OK);
  assert_int_equal(si.value, 2);  /* still at the previous shapes */

  ta.dims[0] = 2;  /* back to the previous shape: no reshape needed */
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dims[0], 2);
  for (int k = 0; k < 16; k++) assert_true(((float*)out.data)[k] == (float)k + 2.0f);

  tb.dims[0] = 6;  /* a valid new shape */
  ta.dims[0] = 3;
  assert_int_equal(xnnd_method_set_input(m, 0, &ta), XNND_OK);
  assert_int_equal(xnnd_method_set_input(m, 1, &tb), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dims[0], 3);
  for (int k = 0; k < 24; k++) assert_true(((float*)out.data)[k] == (float)k + 2.0f);
  unload(&l);
}

/* ---- corrupt programs: every load-time check with its status ---- */

/* Writable address of a scalar field of a table (the field must be present). */
static uint8_t* field_addr(fb_table t, uint32_t field_id) {
  int32_t soff;
  memcpy(&soff, t, 4);
  const uint8_t* vt = t - soff;
  uint16_t vt_size, off;
  memcpy(&vt_size, vt, 2);
  assert_true(4 + 2 * field_id + 2 <= vt_size);
  memcpy(&off, vt + 4 + 2 * field_id, 2);
  assert_true(off != 0);
  return (uint8_t*)t + off;
}

typedef struct corrupt_ctx {
  uint8_t* bytes;
  size_t size;
  fb_table method;
} corrupt_ctx;

static corrupt_ctx fresh_copy(const uint8_t* bytes, size_t size) {
  corrupt_ctx c = {aligned_alloc(64, (size + 63) & ~(size_t)63), size, NULL};
  assert_non_null(c.bytes);
  memcpy(c.bytes, bytes, size);
  xnnd_pte_header h;
  xnnd_pte_header_read(c.bytes, &h);
  c.method = fb_vec_table(fb_vector(fb_root(c.bytes + h.program_offset), XNND_PROGRAM_Program_methods), 0);
  return c;
}

static void expect_load_fails(corrupt_ctx* c, xnnd_status want, const char* needle) {
  xnnd_program* p = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_program_load_buffer(c->bytes, c->size, NULL, &p, &err);
  if (st != want || !strstr(err.message, needle))
    fail_msg("want %s containing \"%s\", got %s: %s", xnnd_status_str(want), needle, xnnd_status_str(st),
             err.message);
  assert_null(p);
  free(c->bytes);
}

static fb_table value_table(const corrupt_ctx* c, uint32_t v) {
  return fb_vec_table(fb_vector(c->method, XNND_PROGRAM_Method_values), v);
}

/* The program value whose dim_exprs are present and the first (input 0 of graph A: x). */
static int64_t* dim_exprs_of_input0(const corrupt_ctx* c, uint32_t* len_out) {
  uint32_t v = fb_vec_u32(fb_vector(c->method, XNND_PROGRAM_Method_inputs), 0);
  fb_vec e = fb_vector(value_table(c, v), XNND_PROGRAM_Tensor_dim_exprs);
  assert_int_equal(e.len, 12);  /* rank 4 * (1 + 2 symbols) */
  *len_out = e.len;
  return (int64_t*)e.data;
}

static void put_i64(int64_t* p, int64_t v) { memcpy(p, &v, 8); }

static void test_corrupt_dim_exprs(void** state) {
  (void)state;
  size_t size;
  uint8_t* good = dynamic_program(&k_graph_a, &size);
  uint32_t len;
  {  /* the uncorrupted copy loads */
    corrupt_ctx c = fresh_copy(good, size);
    xnnd_program* p = NULL;
    xnnd_error err;
    assert_int_equal(xnnd_program_load_buffer(c.bytes, c.size, NULL, &p, &err), XNND_OK);
    xnnd_program_destroy(p);
    free(c.bytes);
  }
  /* wire x dims [n,3,h,h]: per dim {c, k_n, k_h} */
  corrupt_ctx c = fresh_copy(good, size);
  int64_t* e = dim_exprs_of_input0(&c, &len);
  uint32_t* vec_len = (uint32_t*)((uint8_t*)e - 4);
  *vec_len = 11;  /* length does not match rank * (1 + symbols) */
  expect_load_fails(&c, XNND_MALFORMED, "value 0 dim: dim_exprs holds 11 longs, 4 entries over 2 symbols need 12");

  c = fresh_copy(good, size);
  e = dim_exprs_of_input0(&c, &len);
  put_i64(&e[1], -1);  /* negative coefficient */
  expect_load_fails(&c, XNND_OUT_OF_RANGE, "value 0 dim 0: dim_exprs entry out of range");

  c = fresh_copy(good, size);
  e = dim_exprs_of_input0(&c, &len);
  put_i64(&e[2], (int64_t)1 << 41);  /* coefficient past 2^40 */
  expect_load_fails(&c, XNND_OUT_OF_RANGE, "value 0 dim 0: dim_exprs entry out of range");

  c = fresh_copy(good, size);
  e = dim_exprs_of_input0(&c, &len);
  put_i64(&e[0], 1);  /* n+1: upper bound 4, dims says 3 */
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "value 0 dim 0: the form n+1 has upper bound 4 but the stored bound is 3");

  c = fresh_copy(good, size);
  e = dim_exprs_of_input0(&c, &len);
  put_i64(&e[3], 3 - 12), put_i64(&e[5], 2);  /* dim 1 = 2*h-9: upper 3 as stored, -3 at h = 3 */
  expect_load_fails(&c, XNND_OUT_OF_RANGE, "value 0 dim 1: the form 2*h-9 is -3 at the symbols' minima");

  c = fresh_copy(good, size);
  e = dim_exprs_of_input0(&c, &len);
  put_i64(&e[1], 0), put_i64(&e[0], 3);  /* n no longer solvable from an input (dim 0 static 3) */
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "symbol 0 (n) cannot be solved from the inputs");

  free(good);
}

static void test_corrupt_symbols_and_attrs(void** state) {
  (void)state;
  size_t size;
  uint8_t* good = dynamic_program(&k_graph_a, &size);

  corrupt_ctx c = fresh_copy(good, size);
  fb_vec syms = fb_vector(c.method, XNND_PROGRAM_Method_symbols);
  assert_int_equal(syms.len, 2);
  *(uint32_t*)(syms.data - 4) = 0;  /* dim_exprs without symbols */
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "dim_exprs is present but the method declares no symbols");

  c = fresh_copy(good, size);
  fb_table s0 = fb_vec_table(fb_vector(c.method, XNND_PROGRAM_Method_symbols), 0);
  int64_t v = 0;
  memcpy(field_addr(s0, XNND_PROGRAM_Symbol_min), &v, 8);
  v = 5;
  memcpy(field_addr(s0, XNND_PROGRAM_Symbol_min), &v, 8);  /* min 5 > max 3 */
  expect_load_fails(&c, XNND_OUT_OF_RANGE, "symbol 0 (n): range 5..3 is not within 0 <= min <= max <= 2^40");

  c = fresh_copy(good, size);
  s0 = fb_vec_table(fb_vector(c.method, XNND_PROGRAM_Method_symbols), 0);
  v = -1;
  memcpy(field_addr(s0, XNND_PROGRAM_Symbol_min), &v, 8);
  expect_load_fails(&c, XNND_OUT_OF_RANGE, "symbol 0 (n): range -1..3");

  c = fresh_copy(good, size);
  s0 = fb_vec_table(fb_vector(c.method, XNND_PROGRAM_Method_symbols), 0);
  v = 4;  /* max 4: every upper bound computed with n changes, dims no longer match */
  memcpy(field_addr(s0, XNND_PROGRAM_Symbol_max), &v, 8);
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "has upper bound 4 but the stored bound is 3");

  c = fresh_copy(good, size);
  s0 = fb_vec_table(fb_vector(c.method, XNND_PROGRAM_Method_symbols), 0);
  char* name = (char*)fb_string(s0, XNND_PROGRAM_Symbol_name, NULL);
  name[0] = '7';  /* not an identifier */
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "symbol 0: name \"7\" is not an identifier");

  c = fresh_copy(good, size);
  s0 = fb_vec_table(fb_vector(c.method, XNND_PROGRAM_Method_symbols), 0);
  name = (char*)fb_string(s0, XNND_PROGRAM_Symbol_name, NULL);
  name[0] = 'h';  /* the same name as symbol 1 */
  expect_load_fails(&c, XNND_INVALID_PROGRAM, "symbol 1: name \"h\" is already used by symbol 0");

  /* Attr.int_exprs of the view's size [2*n,4] */
  fb_vec steps;
  int64_t* ie = NULL;
  for (int pass = 0; pass < 7; pass++) {
    c = fresh_copy(good, size);
    steps = fb_vector(c.method, XNND_PROGRAM_Method_steps);
    fb_table attr = NULL;
    for (uint32_t s = 0; s < steps.len && !attr; s++) {
      fb_table call = fb_table_field(fb_vec_table(steps, s), XNND_PROGRAM_Step_instruction);
      fb_vec attrs = fb_vector(call, XNND_PROGRAM_KernelCall_attrs);
      for (uint32_t a = 0; a < attrs.len && !attr; a++)
        if (fb_has_field(fb_vec_table(attrs, a), XNND_PROGRAM_Attr_int_exprs)) attr = fb_vec_table(attrs, a);
    }
    assert_non_null(attr);
    fb_vec ev = fb_vector(attr, XNND_PROGRAM_Attr_int_exprs);
    assert_int_equal(ev.len, 6);  /* 2 entries * (1 + 2) */
    ie = (int64_t*)ev.data;
    switch (pass) {
      case 0:
        *(uint32_t*)((uint8_t*)ie - 4) = 5;
        expect_load_fails(&c, XNND_MALFORMED, "attribute \"size\" entry: int_exprs holds 5 longs");
        break;
      case 1:
        put_i64(&ie[1], 3);  /* 3*n: upper 9, ints say 6 */
        expect_load_fails(&c, XNND_INVALID_PROGRAM, "attribute \"size\" entry 0: the form 3*n has upper bound 9 but the stored bound is 6");
        break;
      case 2:
        put_i64(&ie[2], -2);
        expect_load_fails(&c, XNND_OUT_OF_RANGE, "attribute \"size\" entry 0: int_exprs entry out of range");
        break;
      case 3:
        put_i64(&ie[0], -6), put_i64(&ie[1], 4);  /* 4*n-6: upper 6, -2 at n = 1 */
        expect_load_fails(&c, XNND_OUT_OF_RANGE, "the form 4*n-6 is -2 at the symbols' minima");
        break;
      case 4:  /* int_exprs on a non-INTS attribute */
        *field_addr(attr, XNND_PROGRAM_Attr_kind) = XNND_PROGRAM_AttrKind_INT;
        expect_load_fails(&c, XNND_INVALID_PROGRAM, "attribute \"size\" has int_exprs but is not INTS");
        break;
      case 5:  /* a valid change the writer would also accept: 2*n -> n+3 (upper 6) loads */
        put_i64(&ie[0], 3), put_i64(&ie[1], 1);
        {
          xnnd_program* p = NULL;
          xnnd_error err;
          assert_int_equal(xnnd_program_load_buffer(c.bytes, c.size, NULL, &p, &err), XNND_OK);
          xnnd_program_destroy(p);
          free(c.bytes);
        }
        break;
      default:
        free(c.bytes);
        break;
    }
  }
  free(good);
}

/* Writer: static graphs carry none of the new fields; forms inconsistent with dims[] are
 * refused. Importer: symbols and forms come back. */
static void test_writer_and_import(void** state) {
  (void)state;
  xnnd_graph* g = build_dynamic(&k_graph_c);
  size_t size;
  uint8_t* bytes = write_program(g, &size);
  xnnd_graph* back = NULL;
  char msg[256];
  xnnd_status st = xnnd_program_import(bytes, size, &back, msg, sizeof(msg));
  if (st != XNND_OK) fprintf(stderr, "import: %s\n", msg);
  assert_int_equal(st, XNND_OK);
  assert_int_equal(back->num_syms, 1);
  assert_string_equal(back->syms[0].name, "s");
  assert_int_equal(back->syms[0].min, 1);
  assert_int_equal(back->syms[0].max, 4);
  uint32_t symbolic_values = 0, symbolic_attrs = 0;
  for (uint32_t v = 0; v < back->num_values; v++) {
    if (!back->values[v].dimx) continue;
    symbolic_values++;
    assert_int_equal(xnnd_dimx_single_symbol(&back->values[v].dimx[0]), 0);
    assert_true(xnnd_dimx_is_const(&back->values[v].dimx[1]));
  }
  for (uint32_t n = 0; n < back->num_nodes; n++)
    for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) symbolic_attrs += back->nodes[n].attr_dimx[a] != NULL;
  assert_int_equal(symbolic_values, 4);
  assert_int_equal(symbolic_attrs, 1);
  /* writing the imported graph gives the same bytes */
  size_t size2;
  uint8_t* bytes2 = write_program(back, &size2);
  assert_int_equal(size, size2);
  assert_memory_equal(bytes, bytes2, size);
  free(bytes2);
  xnnd_graph_destroy(back);
  free(bytes);

  /* dims[] that are not the forms' upper bounds */
  xnnd_id a = xnnd_graph_find_value(g, "a");
  xnnd_dimx* bad = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * 2);
  bad[0] = xnnd_dimx_sym(0, 2);  /* 2*s: upper 8, dims[0] is 4 */
  bad[1] = xnnd_dimx_const(8);
  g->values[a].dimx = bad;
  xnnd_partition_options po = {.no_delegate = true};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &po, &plan), XNND_OK);
  uint8_t* out = NULL;
  assert_int_equal(xnnd_program_write(g, &plan, &out, &size, msg, sizeof(msg)), XNND_VERIFY_ERROR);
  assert_non_null(strstr(msg, "value a dims entry 0: the form 2*s"));
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);

  /* a static graph: no symbols, no dim_exprs */
  char text[1024];
  int64_t sy = 2;
  text_c(text, sizeof(text), &sy);
  g = parse_text(text);
  bytes = write_program(g, &size);
  xnnd_graph_destroy(g);
  loaded l = load(bytes, size);
  assert_int_equal(xnnd_method_num_symbols(l.method), 0);
  char type[64];
  xnnd_method_input_type_str(l.method, 1, type, sizeof(type));
  assert_string_equal(type, "f32[4,4]");
  unload(&l);
}

/* ---- delegates: a test backend that runs relu and records its reshapes ---- */

static struct {
  uint32_t reshapes;
  int64_t last_syms[XNND_MAX_SYMS];
  uint32_t last_num_syms;
  int64_t last_in_dim0, last_out_dim0;
  bool data_was_null;
  int64_t fail_at;        /* reshape fails when syms[0] equals this */
  int64_t init_syms0;     /* syms[0] seen by init */
  int64_t init_in_dim0;
} g_fake;

static bool fake_supports(const xnnd_graph* g, xnnd_id node, char* reason, size_t size) {
  if (g->nodes[node].op == XNND_OP_RELU) return true;
  snprintf(reason, size, "not relu");
  return false;
}

static xnnd_status fake_lower(const xnnd_graph* g, const struct xnnd_partition* part, uint8_t** blob_out,
                              size_t* size_out, char* err, size_t err_size) {
  (void)g, (void)part, (void)err, (void)err_size;
  *blob_out = malloc(1);
  **blob_out = 7;
  *size_out = 1;
  return XNND_OK;
}

static xnnd_status fake_init(const xnnd_backend_init_args* args, void** handle_out, char* err, size_t size) {
  (void)err, (void)size;
  g_fake.init_syms0 = args->num_syms ? args->syms[0] : -1;
  g_fake.init_in_dim0 = args->inputs[0].dims[0];
  *handle_out = &g_fake;
  return XNND_OK;
}

static xnnd_status fake_execute(void* h, const xnnd_tensor* in, uint32_t ni, const xnnd_tensor* out, uint32_t no,
                                char* err, size_t size) {
  (void)h, (void)ni, (void)no, (void)err, (void)size;
  size_t n = xnnd_tensor_numel(&in[0]);
  assert_int_equal(n, xnnd_tensor_numel(&out[0]));
  for (size_t i = 0; i < n; i++) {
    float v = ((const float*)in[0].data)[i];
    ((float*)out[0].data)[i] = v > 0 ? v : 0;
  }
  return XNND_OK;
}

static void fake_destroy(void* h) { (void)h; }

static xnnd_status fake_reshape(void* h, const int64_t* syms, uint32_t num_syms, const xnnd_tensor* in, uint32_t ni,
                                const xnnd_tensor* out, uint32_t no, char* err, size_t size) {
  (void)h, (void)ni, (void)no;
  g_fake.reshapes++;
  g_fake.last_num_syms = num_syms;
  memcpy(g_fake.last_syms, syms, sizeof(int64_t) * num_syms);
  g_fake.last_in_dim0 = in[0].dims[0];
  g_fake.last_out_dim0 = out[0].dims[0];
  g_fake.data_was_null = in[0].data == NULL && out[0].data == NULL;
  if (syms[0] == g_fake.fail_at) {
    snprintf(err, size, "no runtime for s = %lld", (long long)syms[0]);
    return XNND_BACKEND_ERROR;
  }
  return XNND_OK;
}

static const xnnd_backend k_fake = {"TestReshapeBackend", NULL, fake_init, fake_execute, fake_destroy,
                                    NULL, NULL, fake_reshape};
static const xnnd_backend k_fake_static = {"TestStaticBackend", NULL, fake_init, fake_execute, fake_destroy,
                                           NULL, NULL, NULL};

/* x f32[s,8], s in 1..4: relu (delegated) then add(relu, x) (portable). */
static uint8_t* delegated_program(const char* backend, size_t* size_out) {
  static const char* text =
      "graph d {\n  input %x: f32[4,8]\n  %r: f32[4,8] = aten.relu(%x)\n"
      "  %o: f32[4,8] = aten.add(%r, %x) {alpha=1}\n  output %o\n}\n";
  xnnd_graph* g = parse_text(text);
  g->num_syms = 1;
  memset(&g->syms[0], 0, sizeof(g->syms[0]));
  strcpy(g->syms[0].name, "s");
  g->syms[0].min = 1;
  g->syms[0].max = 4;
  static const char* const names[] = {"x", "r", "o"};
  for (int i = 0; i < 3; i++) {
    xnnd_id v = xnnd_graph_find_value(g, names[i]);
    g->values[v].dimx = parse_forms(g, "s,8", 2);
  }
  xnnd_toolchain_backend tb = {backend, "test", fake_supports, fake_lower};
  xnnd_partition_options po = {.backend = &tb};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &po, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 1);
  uint8_t* bytes = NULL;
  char msg[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, size_out, msg, sizeof(msg)), XNND_OK);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
  return bytes;
}

static void run_delegated(xnnd_method* m, int64_t s, float* x, xnnd_status want) {
  for (int i = 0; i < 32; i++) x[i] = (float)((i * 5 + (int)s) % 9) - 4.0f;
  xnnd_tensor t = {XNND_F32, 2, {s, 8}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &t), XNND_OK);
  xnnd_status st = xnnd_method_execute(m);
  if (st != want) fprintf(stderr, "execute: %s\n", xnnd_method_errmsg(m));
  assert_int_equal(st, want);
  if (want != XNND_OK) return;
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dims[0], s);
  for (int i = 0; i < s * 8; i++) assert_true(((float*)out.data)[i] == (x[i] > 0 ? x[i] : 0) + x[i]);
}

/* A delegate with symbolic inputs/outputs: init sees the max point, reshape gets the new symbol
 * values and dims (data NULL) once per change; a failing reshape leaves the method at its
 * previous shapes (reshaped back) and usable. */
static void test_delegate_reshape_and_rollback(void** state) {
  (void)state;
  assert_int_equal(xnnd_backend_register(&k_fake), XNND_OK);
  memset(&g_fake, 0, sizeof(g_fake));
  g_fake.fail_at = 3;
  size_t size;
  uint8_t* bytes = delegated_program(k_fake.name, &size);
  loaded l = load(bytes, size);
  assert_int_equal(g_fake.init_syms0, 4);
  assert_int_equal(g_fake.init_in_dim0, 4);
  float x[32];
  run_delegated(l.method, 2, x, XNND_OK);
  assert_int_equal(g_fake.reshapes, 1);
  assert_int_equal(g_fake.last_num_syms, 1);
  assert_int_equal(g_fake.last_syms[0], 2);
  assert_int_equal(g_fake.last_in_dim0, 2);
  assert_int_equal(g_fake.last_out_dim0, 2);
  assert_true(g_fake.data_was_null);
  run_delegated(l.method, 2, x, XNND_OK);  /* same shape: no reshape */
  assert_int_equal(g_fake.reshapes, 1);

  run_delegated(l.method, 3, x, XNND_BACKEND_ERROR);
  assert_non_null(strstr(xnnd_method_errmsg(l.method),
                         "step 0 (delegate 0, TestReshapeBackend): no runtime for s = 3 at reshape; the method "
                         "stays at its previous shapes"));
  assert_int_equal(g_fake.reshapes, 3);  /* the failed one, then back to s = 2 */
  assert_int_equal(g_fake.last_syms[0], 2);
  xnnd_symbol_info si;
  assert_int_equal(xnnd_method_get_symbol(l.method, 0, &si), XNND_OK);
  assert_int_equal(si.value, 2);
  run_delegated(l.method, 2, x, XNND_OK);
  assert_int_equal(g_fake.reshapes, 3);
  run_delegated(l.method, 1, x, XNND_OK);
  run_delegated(l.method, 4, x, XNND_OK);
  assert_int_equal(g_fake.reshapes, 5);
  unload(&l);
}

/* A backend without reshape cannot take a delegate with symbolic dims: creation fails naming
 * the delegate. */
static void test_delegate_without_reshape(void** state) {
  (void)state;
  assert_int_equal(xnnd_backend_register(&k_fake_static), XNND_OK);
  size_t size;
  uint8_t* bytes = delegated_program(k_fake_static.name, &size);
  xnnd_program* p = NULL;
  xnnd_method* m = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_program_load_buffer(bytes, size, NULL, &p, &err), XNND_OK);
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_UNSUPPORTED);
  assert_null(m);
  assert_string_equal(err.message,
                      "method \"forward\" step 0 (delegate 0, TestStaticBackend): the delegate has inputs or "
                      "outputs with symbolic dims but backend TestStaticBackend cannot reshape (no reshape "
                      "entry)");
  xnnd_program_destroy(p);
  free(bytes);
}

/* A program the loader cannot see is wrong (a view whose symbolic size, s+4, matches its
 * input, 2*s, only at s = 4): a kernel's prepare fails at the new shapes, the method goes back
 * to its previous ones and keeps running them. */
static void test_kernel_prepare_failure_rolls_back(void** state) {
  (void)state;
  static const char* text =
      "graph e {\n  input %b: f32[8,4]\n  %v: f32[8,4] = aten.view(%b) {size=[8,4]}\n"
      "  %r: f32[8,4] = aten.relu(%v)\n  output %r\n}\n";
  xnnd_graph* g = parse_text(text);
  g->num_syms = 1;
  memset(&g->syms[0], 0, sizeof(g->syms[0]));
  strcpy(g->syms[0].name, "s");
  g->syms[0].min = 1;
  g->syms[0].max = 4;
  g->values[xnnd_graph_find_value(g, "b")].dimx = parse_forms(g, "2*s,4", 2);
  g->values[xnnd_graph_find_value(g, "v")].dimx = parse_forms(g, "s+4,4", 2);
  g->values[xnnd_graph_find_value(g, "r")].dimx = parse_forms(g, "s+4,4", 2);
  xnnd_ir_node* view = &g->nodes[node_of(g, xnnd_graph_find_value(g, "v"))];
  view->attr_dimx[xnnd_op_attr_index(view->op, "size")] = parse_forms(g, "s+4,4", 2);
  size_t size;
  uint8_t* bytes = write_program(g, &size);
  xnnd_graph_destroy(g);
  loaded l = load(bytes, size);
  float b[32];
  for (int i = 0; i < 32; i++) b[i] = (float)(i % 5) - 2.0f;
  for (int round = 0; round < 2; round++) {
    xnnd_tensor t = {XNND_F32, 2, {8, 4}, b};
    assert_int_equal(xnnd_method_set_input(l.method, 0, &t), XNND_OK);
    assert_int_equal(xnnd_method_execute(l.method), XNND_OK);
    xnnd_tensor out;
    assert_int_equal(xnnd_method_get_output(l.method, 0, &out), XNND_OK);
    assert_int_equal(out.dims[0], 8);
    for (int i = 0; i < 32; i++) assert_true(((float*)out.data)[i] == (b[i] > 0 ? b[i] : 0));
    t.dims[0] = round == 0 ? 4 : 6;  /* s = 2 or 3: the view's size no longer fits */
    assert_int_equal(xnnd_method_set_input(l.method, 0, &t), XNND_OK);
    xnnd_status st = xnnd_method_execute(l.method);
    assert_int_not_equal(st, XNND_OK);
    const char* msg = xnnd_method_errmsg(l.method);
    assert_non_null(strstr(msg, "method \"forward\" step 0 (aten.view): "));
    assert_non_null(strstr(msg, "at the new shapes; the method stays at its previous shapes"));
    assert_int_equal(xnnd_method_get_output(l.method, 0, &out), XNND_NOT_EXECUTED);
    xnnd_symbol_info si;
    assert_int_equal(xnnd_method_get_symbol(l.method, 0, &si), XNND_OK);
    assert_int_equal(si.value, 4);
  }
  unload(&l);
}

/* ---- the CLI: `xnnd inspect` shows the symbols and symbolic types, `xnnd run` takes shapes
 * within the bounds ---- */

static char* run_cli(const char* args, int* rc_out) {
  const char* out = xt_temp_path("dyn_cli", ".txt");
  *rc_out = xt_system("'%s' %s > '%s' 2>&1", xt_build_path("xnnd"), args, out);
  size_t size;
  char* text = xt_read_file(out, &size);
  assert_non_null(text);
  remove(out);
  return text;
}

static void test_cli_inspect_and_run(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = dynamic_program(&k_graph_a, &size);
  char path[512], args[1024];
  snprintf(path, sizeof(path), "%s", xt_temp_path("dyn_a", ".pte"));
  assert_int_equal(xt_write_file(path, bytes, size), 0);
  free(bytes);
  int rc;
  snprintf(args, sizeof(args), "inspect '%s'", path);
  char* text = run_cli(args, &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(text, "  symbols: n in 1..3, h in 3..6\n"));
  assert_non_null(strstr(text, "  input 0: f32[n,3,h,h]\n"));
  assert_non_null(strstr(text, "  output 0: f32[2*n,5]\n  output 1: f32[n,8,h,h]\n"));
  assert_non_null(strstr(text, " bytes, planned for the upper bounds"));
  free(text);

  snprintf(args, sizeof(args), "run '%s' --shapes '1,3,3,3;0=3,3,6,6;2,3,4,4' --iters 2", path);
  text = run_cli(args, &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(text, "symbols: n in 1..3, h in 3..6; inputs: f32[n,3,h,h]\n"));
  assert_non_null(strstr(text, "shapes 1,3,3,3: output 0 f32[2,5], first execute "));
  assert_non_null(strstr(text, "shapes 0=3,3,6,6: output 0 f32[6,5], first execute "));
  assert_non_null(strstr(text, "shapes 2,3,4,4: output 0 f32[4,5], first execute "));
  free(text);

  snprintf(args, sizeof(args), "run '%s' --input-shape 0=2,3,5,5 --iters 1", path);
  text = run_cli(args, &rc);
  assert_int_equal(rc, 0);
  assert_non_null(strstr(text, "output 0: f32[4,5]\noutput 1: f32[2,8,5,5]\n"));
  free(text);

  snprintf(args, sizeof(args), "run '%s' --input-shape 0=2,3,5,4", path);  /* h twice: 5 and 4 */
  text = run_cli(args, &rc);
  assert_int_not_equal(rc, 0);
  assert_non_null(strstr(text, "execute: input shape mismatch: method \"forward\": input 0 dim 3 = 4 breaks a "
                               "relation: h must be 5 with h = 5"));
  free(text);

  snprintf(args, sizeof(args), "run '%s' --shapes '2,3,7,7'", path);
  text = run_cli(args, &rc);
  assert_int_not_equal(rc, 0);
  free(text);
  remove(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_graph_a_every_shape),
      cmocka_unit_test(test_graph_b_every_shape),
      cmocka_unit_test(test_same_shape_and_upper_bound),
      cmocka_unit_test(test_shape_change_every_execute_loop),
      cmocka_unit_test(test_out_of_range_inputs),
      cmocka_unit_test(test_broken_relation),
      cmocka_unit_test(test_corrupt_dim_exprs),
      cmocka_unit_test(test_corrupt_symbols_and_attrs),
      cmocka_unit_test(test_writer_and_import),
      cmocka_unit_test(test_delegate_reshape_and_rollback),
      cmocka_unit_test(test_delegate_without_reshape),
      cmocka_unit_test(test_kernel_prepare_failure_rolls_back),
      cmocka_unit_test(test_cli_inspect_and_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
