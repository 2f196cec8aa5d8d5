/* Concurrency: one loaded program (a small convnet written through the toolchain API, two
 * XNNPACK partitions around a portable step) shared by 4 threads that each create their own
 * method at the same moment and execute it repeatedly; every output must equal, bit for bit,
 * a single-threaded run on the same input. Half the methods use a 2-thread XNNPACK pool (the
 * process-wide shared pool), half run single-threaded. Runs under TSan in scripts/test.
 * Threads never call cmocka: they record failures and the main thread asserts. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "ir.h"
#include "partitioner/partitioner.h"
#include "serializer/program_writer.h"
#include "xnnd/runtime.h"

#define NUM_THREADS 4
#define ITERS 200
#define IN_NUMEL (3 * 16 * 16)
#define OUT_NUMEL 10

static const char* k_convnet =
    "graph small {\n"
    "  input %x: f32[1,3,16,16]\n"
    "  const %w1: f32[8,3,3,3] = #0000000000000001\n"
    "  const %b1: f32[8] = [0.1, -0.2, 0.3, 0, 0.05, -0.1, 0.2, 0]\n"
    "  const %w2: f32[8,1,3,3] = #0000000000000002\n"
    "  const %fw: f32[10,8] = #0000000000000003\n"
    "  const %fb: f32[10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    "  %c1: f32[1,8,8,8] = aten.convolution(%x, %w1, %b1) {stride=[2,2], padding=[1,1], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r1: f32[1,8,8,8] = aten.relu(%c1)\n"
    "  %c2: f32[1,8,8,8] = aten.convolution(%r1, %w2, _) {stride=[1,1], padding=[1,1], dilation=[1,1], transposed=false, output_padding=[0,0], groups=8}\n"
    "  %h: f32[1,8,8,8] = aten.hardtanh(%c2) {min_val=0, max_val=6}\n"
    "  %t: f32[1,8,8,8] = aten.tanh(%h)\n"
    "  %a: f32[1,8,8,8] = aten.add(%r1, %t) {alpha=1}\n"
    "  %p: f32[1,8,4,4] = aten.max_pool2d(%a) {kernel_size=[3,3], stride=[2,2], padding=[1,1], dilation=[1,1], ceil_mode=false}\n"
    "  %m: f32[1,8,1,1] = aten.mean(%p) {dim=[-1,-2], keepdim=true}\n"
    "  %f: f32[1,8] = aten.view(%m) {size=[1,8]}\n"
    "  %y: f32[1,10] = aten.linear(%f, %fw, %fb)\n"
    "  output %y\n"
    "}\n";

static void fill(float* w, size_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    w[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.5f;
  }
}

static uint8_t* write_convnet(size_t* size_out) {
  float w1[216], w2[72], fw[80];
  fill(w1, 216, 1);
  fill(w2, 72, 2);
  fill(fw, 80, 3);
  xnnd_const_bundle* b = NULL;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 1, w1, sizeof(w1)), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 2, w2, sizeof(w2)), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 3, fw, sizeof(fw)), XNND_OK);
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(k_convnet, strlen(k_convnet), b, &g, &err) != XNND_OK)
    fail_msg("parse: %s", err.message);
  xnnd_const_bundle_destroy(b);
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, NULL, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 2);
  uint8_t* out = NULL;
  char msg[256];
  if (xnnd_program_write(g, &plan, &out, size_out, msg, sizeof(msg)) != XNND_OK)
    fail_msg("write: %s", msg);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
  return out;
}

typedef struct worker {
  xnnd_program* program;
  pthread_barrier_t* start;
  uint32_t num_threads;        /* XNNPACK threads of this method */
  const float* inputs;         /* ITERS inputs */
  const float* expected;       /* ITERS outputs */
  uint32_t mismatches;
  char error[XNND_ERRMSG_SIZE + 64];
} worker;

static void* worker_main(void* arg) {
  worker* w = arg;
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  pthread_barrier_wait(w->start);  /* create methods at the same moment */
  xnnd_method_options mo = {.num_threads = w->num_threads};
  bool created = xnnd_method_create(w->program, "forward", &mo, &m, &err) == XNND_OK;
  if (!created) snprintf(w->error, sizeof(w->error), "create: %s", err.message);
  pthread_barrier_wait(w->start);  /* and start executing at the same moment */
  if (!created) return NULL;
  for (int it = 0; it < ITERS; it++) {
    xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, (void*)(w->inputs + (size_t)it * IN_NUMEL)};
    xnnd_status st = xnnd_method_set_input(m, 0, &in);
    if (st == XNND_OK) st = xnnd_method_execute(m);
    if (st != XNND_OK) {
      snprintf(w->error, sizeof(w->error), "iteration %d: %s: %s", it, xnnd_status_str(st),
               xnnd_method_errmsg(m));
      break;
    }
    xnnd_tensor out;
    xnnd_method_get_output(m, 0, &out);
    if (memcmp(out.data, w->expected + (size_t)it * OUT_NUMEL, OUT_NUMEL * sizeof(float)) != 0)
      w->mismatches++;
  }
  xnnd_method_destroy(m);
  return NULL;
}

/* Reference: one method, this thread only. */
static void reference(xnnd_program* p, uint32_t num_threads, const float* inputs, float* out) {
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  xnnd_method_options mo = {.num_threads = num_threads};
  if (xnnd_method_create(p, "forward", &mo, &m, &err) != XNND_OK) fail_msg("create: %s", err.message);
  for (int it = 0; it < ITERS; it++) {
    xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, (void*)(inputs + (size_t)it * IN_NUMEL)};
    assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
    if (xnnd_method_execute(m) != XNND_OK) fail_msg("execute: %s", xnnd_method_errmsg(m));
    xnnd_tensor o;
    assert_int_equal(xnnd_method_get_output(m, 0, &o), XNND_OK);
    memcpy(out + (size_t)it * OUT_NUMEL, o.data, OUT_NUMEL * sizeof(float));
  }
  xnnd_method_destroy(m);
}

static void test_four_methods_four_threads(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = write_convnet(&size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  if (xnnd_program_load_buffer(bytes, size, NULL, &p, &err) != XNND_OK)
    fail_msg("load: %s", err.message);

  /* Each thread gets its own inputs, so a method reading another's memory would show. */
  float* inputs = malloc(sizeof(float) * IN_NUMEL * ITERS * NUM_THREADS);
  float* expected = malloc(sizeof(float) * OUT_NUMEL * ITERS * NUM_THREADS);
  assert_non_null(inputs);
  assert_non_null(expected);
  worker w[NUM_THREADS];
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, NUM_THREADS);
  for (int t = 0; t < NUM_THREADS; t++) {
    float* in = inputs + (size_t)t * IN_NUMEL * ITERS;
    float* ex = expected + (size_t)t * OUT_NUMEL * ITERS;
    for (int it = 0; it < ITERS; it++) fill(in + (size_t)it * IN_NUMEL, IN_NUMEL, 100u + 37u * (uint32_t)t + (uint32_t)it);
    memset(&w[t], 0, sizeof(w[t]));
    w[t].program = p;
    w[t].start = &start;
    w[t].num_threads = (t & 1) ? 2 : 1;
    w[t].inputs = in;
    w[t].expected = ex;
    reference(p, w[t].num_threads, in, ex);
  }

  pthread_t th[NUM_THREADS];
  for (int t = 0; t < NUM_THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
  for (int t = 0; t < NUM_THREADS; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start);
  for (int t = 0; t < NUM_THREADS; t++) {
    if (w[t].error[0]) fail_msg("thread %d: %s", t, w[t].error);
    if (w[t].mismatches) fail_msg("thread %d: %u of %d outputs differ from the single-threaded run", t,
                                  w[t].mismatches, ITERS);
  }
  /* The 1-thread and 2-thread methods agree on the same inputs. */
  float* two = malloc(sizeof(float) * OUT_NUMEL * ITERS);
  assert_non_null(two);
  reference(p, 2, inputs, two);
  for (int i = 0; i < OUT_NUMEL * ITERS; i++) assert_float_equal(expected[i], two[i], 1e-5);
  free(two);

  free(inputs);
  free(expected);
  xnnd_program_destroy(p);
  free(bytes);
}

/* Programs load concurrently too (loading is documented thread-safe). */
static void* load_main(void* arg) {
  const uint8_t* bytes = ((const void* const*)arg)[0];
  size_t size = *(const size_t*)((const void* const*)arg)[1];
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = xnnd_program_load_buffer(bytes, size, NULL, &p, &err);
  xnnd_method* m = NULL;
  if (st == XNND_OK) st = xnnd_method_create(p, "forward", NULL, &m, &err);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  return (void*)(uintptr_t)st;
}

static void test_concurrent_loads(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = write_convnet(&size);
  const void* arg[2] = {bytes, &size};
  pthread_t th[NUM_THREADS];
  for (int t = 0; t < NUM_THREADS; t++) assert_int_equal(pthread_create(&th[t], NULL, load_main, arg), 0);
  for (int t = 0; t < NUM_THREADS; t++) {
    void* rc;
    pthread_join(th[t], &rc);
    assert_int_equal((xnnd_status)(uintptr_t)rc, XNND_OK);
  }
  free(bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_four_methods_four_threads),
      cmocka_unit_test(test_concurrent_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
