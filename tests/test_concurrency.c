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
#include "small_convnet.h"

#include "ir.h"
#include "partitioner/partitioner.h"
#include "serializer/program_writer.h"
#include "xnnd/runtime.h"

#define NUM_THREADS 4
#define ITERS 200
#define IN_NUMEL XT_CONVNET_IN_NUMEL
#define OUT_NUMEL XT_CONVNET_OUT_NUMEL

static uint8_t* write_convnet(size_t* size_out) { return xt_small_convnet_program(true, size_out); }

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
    for (int it = 0; it < ITERS; it++) xt_fill_uniform(in + (size_t)it * IN_NUMEL, IN_NUMEL, 100u + 37u * (uint32_t)t + (uint32_t)it);
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
