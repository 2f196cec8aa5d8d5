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

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_execute_does_not_allocate)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
