/* The execute path never allocates. The test executable interposes malloc and friends
 * (forwarding to glibc's __libc_* entry points), so every allocation in the process is seen:
 * the runtime, portable kernels, XNNPACK and pthreadpool alike. Skipped under sanitizers,
 * which own malloc themselves. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "partitioner/partitioner.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "serializer/program_writer.h"
#include "xnnd/runtime.h"

static const xnnd_partition_options k_xnnpack = {.backend = &xnnd_xnnpack_toolchain_backend};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define XT_INTERPOSE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define XT_INTERPOSE 0
#endif
#endif
#ifndef XT_INTERPOSE
#define XT_INTERPOSE 1
#endif

static atomic_int g_counting;
static atomic_long g_allocs;

#if XT_INTERPOSE
extern void* __libc_malloc(size_t);
extern void* __libc_calloc(size_t, size_t);
extern void* __libc_realloc(void*, size_t);
extern void* __libc_memalign(size_t, size_t);
extern void __libc_free(void*);

static void count(void) {
  if (atomic_load(&g_counting)) atomic_fetch_add(&g_allocs, 1);
}
void* malloc(size_t n) {
  count();
  return __libc_malloc(n);
}
void* calloc(size_t a, size_t b) {
  count();
  return __libc_calloc(a, b);
}
void* realloc(void* p, size_t n) {
  count();
  return __libc_realloc(p, n);
}
void* memalign(size_t al, size_t n) {
  count();
  return __libc_memalign(al, n);
}
void* aligned_alloc(size_t al, size_t n) {
  count();
  return __libc_memalign(al, n);
}
int posix_memalign(void** out, size_t al, size_t n) {
  count();
  void* p = __libc_memalign(al, n);
  if (!p) return 12; /* ENOMEM */
  *out = p;
  return 0;
}
void free(void* p) { __libc_free(p); }
#endif

/* A delegated conv+relu, a portable tanh (no XNNPACK lowering), then a delegated add. */
static const char* k_graph =
    "graph mixed {\n"
    "  input %x: f32[1,4,8,8]\n"
    "  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]\n"
    "  %c: f32[1,4,8,8] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[1,4,8,8] = aten.relu(%c)\n"
    "  %t: f32[1,4,8,8] = aten.tanh(%r)\n"
    "  %a: f32[1,4,8,8] = aten.add(%t, %r) {alpha=1}\n"
    "  output %a\n"
    "}\n";

static void run_case(uint32_t threads) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_graph_parse(k_graph, strlen(k_graph), NULL, &g, &err), XNND_OK);
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &k_xnnpack, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 2);
  uint8_t* bytes = NULL;
  size_t size = 0;
  char msg[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, msg, sizeof(msg)), XNND_OK);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);

  xnnd_program* p = NULL;
  assert_int_equal(xnnd_program_load_buffer(bytes, size, NULL, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  xnnd_method_options mo = {.num_threads = threads};
  assert_int_equal(xnnd_method_create(p, "forward", &mo, &m, &err), XNND_OK);
  float in[256];
  for (int i = 0; i < 256; i++) in[i] = (float)(i % 17) / 8.0f - 1.0f;
  xnnd_tensor t = {XNND_F32, 4, {1, 4, 8, 8}, in};
  assert_int_equal(xnnd_method_set_input(m, 0, &t), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK); /* first execute sets XNNPACK up */
  assert_int_equal(xnnd_method_execute(m), XNND_OK);

  atomic_store(&g_allocs, 0);
  atomic_store(&g_counting, 1);
  xnnd_status st = XNND_OK;
  for (int i = 0; i < 20 && st == XNND_OK; i++) st = xnnd_method_execute(m);
  atomic_store(&g_counting, 0);
  assert_int_equal(st, XNND_OK);
  assert_int_equal(atomic_load(&g_allocs), 0);

  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  const float* o = out.data;
  for (int i = 0; i < 256; i++) {
    float r = in[i] > 0 ? in[i] : 0;
    assert_true(fabsf(o[i] - (tanhf(r) + r)) < 1e-5f);
  }
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(bytes);
}

static void test_execute_does_not_allocate(void** state) {
  (void)state;
  if (!XT_INTERPOSE) skip();
  /* The counter must see allocations at all, or a zero proves nothing. */
  atomic_store(&g_allocs, 0);
  atomic_store(&g_counting, 1);
  void* volatile probe = malloc(64);
  atomic_store(&g_counting, 0);
  free(probe);
  assert_int_equal(atomic_load(&g_allocs), 1);
  run_case(1);
  run_case(2);
}

/* Dynamic shapes, portable kernels only: a program whose batch is a symbol s in 1..4 (conv,
 * relu, a view with a symbolic size, softmax), executed with a different batch on every
 * execute. Re-evaluating the shapes and re-preparing the kernels must not allocate. */
static const char* k_dynamic_graph =
    "graph dyn {\n"
    "  input %x: f32[4,4,6,6]\n"
    "  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]\n"
    "  %c: f32[4,4,6,6] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[4,4,6,6] = aten.relu(%c)\n"
    "  %v: f32[4,144] = aten.view(%r) {size=[4,144]}\n"
    "  %s: f32[4,144] = aten.softmax(%v) {dim=1, half_to_float=false}\n"
    "  output %s\n"
    "}\n";

static void test_dynamic_shape_change_does_not_allocate(void** state) {
  (void)state;
  if (!XT_INTERPOSE) skip();
  xnnd_graph* g = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_graph_parse(k_dynamic_graph, strlen(k_dynamic_graph), NULL, &g, &err), XNND_OK);
  g->num_syms = 1;
  memset(&g->syms[0], 0, sizeof(g->syms[0]));
  strcpy(g->syms[0].name, "s");
  g->syms[0].min = 1;
  g->syms[0].max = 4;
  static const char* const batch_first[] = {"x", "c", "r", "v", "s"};  /* dim 0 is s */
  for (uint32_t i = 0; i < 5; i++) {
    xnnd_ir_value* v = &g->values[xnnd_graph_find_value(g, batch_first[i])];
    xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * v->rank);
    assert_non_null(x);
    for (uint32_t d = 0; d < v->rank; d++) x[d] = d == 0 ? xnnd_dimx_sym(0, 1) : xnnd_dimx_const(v->dims[d]);
    v->dimx = x;
  }
  xnnd_ir_node* view = &g->nodes[g->values[xnnd_graph_find_value(g, "v")].producer];
  int slot = xnnd_op_attr_index(view->op, "size");
  assert_true(slot >= 0);
  xnnd_dimx* size_forms = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * 2);
  assert_non_null(size_forms);
  size_forms[0] = xnnd_dimx_sym(0, 1);
  size_forms[1] = xnnd_dimx_const(144);
  view->attr_dimx[slot] = size_forms;
  xnnd_partition_options no_delegate = {.no_delegate = true};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &no_delegate, &plan), XNND_OK);
  uint8_t* bytes = NULL;
  size_t size = 0;
  char msg[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, msg, sizeof(msg)), XNND_OK);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);

  xnnd_program* p = NULL;
  assert_int_equal(xnnd_program_load_buffer(bytes, size, NULL, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  assert_int_equal(xnnd_method_num_symbols(m), 1);
  static float in[4 * 144];
  for (int i = 0; i < 4 * 144; i++) in[i] = (float)(i % 13) / 4.0f - 1.5f;
  xnnd_tensor t = {XNND_F32, 4, {4, 4, 6, 6}, in};
  assert_int_equal(xnnd_method_set_input(m, 0, &t), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);

  atomic_store(&g_allocs, 0);
  atomic_store(&g_counting, 1);
  xnnd_status st = XNND_OK;
  int64_t batch = 4;
  for (int i = 0; i < 20 && st == XNND_OK; i++) {
    batch = batch % 4 + 1;  /* 1, 2, 3, 4, 1, ...: a new shape every execute */
    t.dims[0] = batch;
    st = xnnd_method_set_input(m, 0, &t);
    if (st == XNND_OK) st = xnnd_method_execute(m);
  }
  atomic_store(&g_counting, 0);
  assert_int_equal(st, XNND_OK);
  assert_int_equal(atomic_load(&g_allocs), 0);

  /* the last execute ran at batch 4 (20 executes cycling 1..4): rows are softmaxes of relu(x) */
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dims[0], batch);
  assert_int_equal(out.dims[1], 144);
  const float* o = out.data;
  for (int64_t r = 0; r < batch; r++) {
    double sum = 0, denom = 0;
    for (int k = 0; k < 144; k++) denom += exp(fmax(in[r * 144 + k], 0.0));
    for (int k = 0; k < 144; k++) {
      double want = exp(fmax(in[r * 144 + k], 0.0)) / denom;
      assert_true(fabs(o[r * 144 + k] - want) < 1e-6);
      sum += o[r * 144 + k];
    }
    assert_true(fabs(sum - 1.0) < 1e-5);
  }
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(bytes);
}

/* ---- dynamic shapes in the XNNPACK delegate (the backend's reshape + execute, as the method
 * calls them): once both shapes are warm (instances built and set up), alternating between
 * them on every execute allocates nothing. */
#include "backends/xnnpack/xnnpack_backend.h"
#include "pte_format.h"

static const char* k_dyn_graph =
    "graph dyn {\n"
    "  input %x: f32[4,4,8,8]\n"
    "  const %w: f32[4,4,1,1] = [1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1]\n"
    "  %c: f32[4,4,8,8] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[4,4,8,8] = aten.relu(%c)\n"
    "  %m: f32[4,4] = aten.mean(%r) {dim=[2,3], keepdim=false}\n"
    "  output %r, %m\n"
    "}\n";

static void run_dynamic_delegate(uint32_t threads, const char* own_kernels) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_graph_parse(k_dyn_graph, strlen(k_dyn_graph), NULL, &g, &err), XNND_OK);
  /* Batch s0 in 1..4 on every activation (what symbolic shape inference gives). */
  g->syms[0] = (xnnd_symbol){"s0", 1, 4};
  g->num_syms = 1;
  for (uint32_t i = 0; i < g->num_values; i++) {
    xnnd_ir_value* v = &g->values[i];
    if (v->data != NULL) continue;
    xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * v->rank);
    for (uint32_t d = 0; d < v->rank; d++) x[d] = xnnd_dimx_const(v->dims[d]);
    x[0] = xnnd_dimx_sym(0, 1);
    v->dimx = x;
  }
  xnnd_id nodes[3] = {0, 1, 2};
  uint8_t* blob = NULL;
  size_t size = 0;
  char msg[256];
  assert_int_equal(xnnd_xnnpack_build_blob(g, nodes, 3, g->inputs, 1, g->outputs, 2, &blob, &size, msg, sizeof(msg)),
                   XNND_OK);
  xnnd_graph_destroy(g);

  static float in[4 * 256 + 16], r[4 * 256 + 16], mean[16 + 16];
  for (int i = 0; i < 4 * 256; i++) in[i] = (float)(i % 19) / 8.0f - 1.0f;
  int64_t max = 4;
  xnnd_tensor ti = {XNND_F32, 4, {4, 4, 8, 8}, NULL}, to[2] = {{XNND_F32, 4, {4, 4, 8, 8}, NULL}, {XNND_F32, 2, {4, 4}, NULL}};
  const xnnd_backend_option opt = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", own_kernels};
  xnnd_backend_init_args args = {blob, size, NULL, 0, NULL, threads, &ti, 1, to, 2, false, &opt, 1, &max, 1};
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  void* h = NULL;
  assert_int_equal(be->init(&args, &h, msg, sizeof(msg)), XNND_OK);
  ti.data = in;
  to[0].data = r;
  to[1].data = mean;
  /* Shapes 2 and 3: warm each (built, then set up by its first execute). */
  const int64_t sizes[2] = {2, 3};
  xnnd_status st = XNND_OK;
  for (int round = 0; round < 22 && st == XNND_OK; round++) {
    if (round == 4) {
      atomic_store(&g_allocs, 0);
      atomic_store(&g_counting, 1);
    }
    int64_t s = sizes[round % 2];
    ti.dims[0] = to[0].dims[0] = to[1].dims[0] = s;
    st = be->reshape(h, &s, 1, &ti, 1, to, 2, msg, sizeof(msg));
    if (st == XNND_OK) st = be->execute(h, &ti, 1, to, 2, msg, sizeof(msg));
  }
  atomic_store(&g_counting, 0);
  if (st != XNND_OK) fail_msg("%s", msg);
  assert_int_equal(atomic_load(&g_allocs), 0);
  /* The last execute ran at s0 = 3: identity conv, relu, mean over the 64 pixels. */
  for (int i = 0; i < 3 * 256; i++) assert_true(fabsf(r[i] - (in[i] > 0 ? in[i] : 0)) < 1e-6f);
  for (int c = 0; c < 12; c++) {
    double sum = 0;
    for (int k = 0; k < 64; k++) sum += r[c * 64 + k];
    assert_true(fabs(mean[c] - sum / 64) < 1e-5);
  }
  be->destroy(h);
  free(blob);
}

static void test_dynamic_delegate_does_not_allocate(void** state) {
  (void)state;
  if (!XT_INTERPOSE) skip();
  run_dynamic_delegate(1, "off");
  run_dynamic_delegate(1, "on");
  run_dynamic_delegate(2, "on");
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_execute_does_not_allocate),
                                     cmocka_unit_test(test_dynamic_shape_change_does_not_allocate),
                                     cmocka_unit_test(test_dynamic_delegate_does_not_allocate)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
