/* Concurrency: one loaded program (a small convnet written through the toolchain API, two
 * XNNPACK partitions around a portable step) shared by 4 threads that each create their own
 * method at the same moment and execute it repeatedly; every output must equal, bit for bit,
 * a single-threaded run on the same input. Half the methods use a 2-thread XNNPACK pool (the
 * process-wide shared pool), half run single-threaded. Runs under TSan in scripts/test.
 * Threads never call cmocka: they record failures and the main thread asserts.
 * Also: one method executed from two threads at once is refused with XNND_BUSY (issue 16),
 * deterministically with a backend that holds one execute inside it, and under load. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "small_convnet.h"

#include "ir.h"
#include "partitioner/partitioner.h"
#include "serializer/program_writer.h"
#include "xnnd/backend.h"
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

/* ---- one method, two threads: XNND_BUSY ---- */

/* A backend that writes zeros and, when armed, holds the execute that enters it until
 * released; a second execute entering while one is inside records an overlap. It replaces
 * XNNPACK in a copy of the convnet (the backend name is patched; the blob is not read). */
#define BLOCKER_NAME "XnndTestBlockr"  /* as long as "XnnpackBackend" */
static struct {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int active;
  bool armed, entered, release, overlap;
} blk = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, false, false, false, false};

typedef struct blocker {
  const xnnd_allocator* allocator;
} blocker;

static bool blocker_available(void) { return true; }

static xnnd_status blocker_init(const xnnd_backend_init_args* a, void** handle_out, char* err,
                                size_t err_size) {
  (void)err, (void)err_size;
  blocker* h = a->allocator->alloc(a->allocator->context, sizeof(*h), 8);
  if (!h) return XNND_OUT_OF_MEMORY;
  h->allocator = a->allocator;
  *handle_out = h;
  return XNND_OK;
}

static xnnd_status blocker_execute(void* handle, const xnnd_tensor* inputs, uint32_t num_inputs,
                                   const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                                   size_t err_size) {
  (void)handle, (void)inputs, (void)num_inputs, (void)err, (void)err_size;
  pthread_mutex_lock(&blk.mu);
  if (++blk.active > 1) {
    blk.overlap = true;
  } else if (blk.armed) {
    blk.entered = true;
    pthread_cond_broadcast(&blk.cv);
    while (!blk.release) pthread_cond_wait(&blk.cv, &blk.mu);
    blk.armed = false;
  }
  for (uint32_t o = 0; o < num_outputs; o++)
    memset(outputs[o].data, 0, xnnd_tensor_numel(&outputs[o]) * xnnd_dtype_size(outputs[o].dtype));
  blk.active--;
  pthread_mutex_unlock(&blk.mu);
  return XNND_OK;
}

static void blocker_destroy(void* handle) {
  blocker* h = handle;
  h->allocator->free(h->allocator->context, h);
}

static const xnnd_backend blocker_backend = {.name = BLOCKER_NAME, .is_available = blocker_available,
                                             .init = blocker_init, .execute = blocker_execute,
                                             .destroy = blocker_destroy};

typedef struct exec_arg {
  xnnd_method* m;
  xnnd_status status;
} exec_arg;

static void* execute_main(void* arg) {
  exec_arg* e = arg;
  e->status = xnnd_method_execute(e->m);
  return NULL;
}

static void test_execute_while_executing_is_busy(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = write_convnet(&size);
  size_t patched = 0;
  for (size_t i = 0; i + 14 <= size; i++)
    if (memcmp(bytes + i, "XnnpackBackend", 14) == 0) memcpy(bytes + i, BLOCKER_NAME, 14), patched++;
  assert_true(patched > 0);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  if (xnnd_program_load_buffer(bytes, size, NULL, &p, &err) != XNND_OK) fail_msg("load: %s", err.message);
  xnnd_method* m = NULL;
  if (xnnd_method_create(p, "forward", NULL, &m, &err) != XNND_OK) fail_msg("create: %s", err.message);
  static float x[IN_NUMEL];
  xt_fill_uniform(x, IN_NUMEL, 9);
  xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);

  pthread_mutex_lock(&blk.mu);
  blk.armed = true, blk.entered = false, blk.release = false, blk.overlap = false;
  pthread_mutex_unlock(&blk.mu);
  exec_arg first = {m, XNND_INTERNAL};
  pthread_t th;
  assert_int_equal(pthread_create(&th, NULL, execute_main, &first), 0);
  pthread_mutex_lock(&blk.mu);
  while (!blk.entered) pthread_cond_wait(&blk.cv, &blk.mu);
  pthread_mutex_unlock(&blk.mu);

  /* The first execute is inside the backend: every call that needs the method is refused
   * and leaves it alone. */
  xnnd_status second = xnnd_method_execute(m);
  xnnd_status bind = xnnd_method_set_input(m, 0, &in);
  xnnd_tensor out;
  xnnd_status get = xnnd_method_get_output(m, 0, &out);

  pthread_mutex_lock(&blk.mu);
  blk.release = true;
  pthread_cond_broadcast(&blk.cv);
  pthread_mutex_unlock(&blk.mu);
  pthread_join(th, NULL);
  assert_false(blk.overlap);
  assert_int_equal(second, XNND_BUSY);
  assert_int_equal(bind, XNND_BUSY);
  assert_int_equal(get, XNND_BUSY);
  assert_int_equal(first.status, XNND_OK);
  assert_string_equal(xnnd_method_errmsg(m), "");
  /* Free again once the first call returned. */
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(bytes);
}

/* Two threads hammer one XNNPACK method until each has HAMMER_RUNS successful executes,
 * yielding after a BUSY: every call is OK or BUSY, never anything else (and TSan sees no race);
 * the method is intact afterwards. */
#define HAMMER_RUNS 50
typedef struct hammer {
  xnnd_method* m;
  const float* x;
  pthread_barrier_t* start;
  uint32_t ok, busy, other;
  xnnd_status other_status;
} hammer;

static void* hammer_main(void* arg) {
  hammer* h = arg;
  xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, (void*)h->x};
  pthread_barrier_wait(h->start);
  while (h->ok < HAMMER_RUNS && h->other == 0) {
    xnnd_status st = xnnd_method_set_input(h->m, 0, &in);
    if (st == XNND_OK) st = xnnd_method_execute(h->m);
    if (st == XNND_OK) {
      h->ok++;
    } else if (st == XNND_BUSY) {
      h->busy++;
      sched_yield();
    } else {
      h->other++, h->other_status = st;
    }
  }
  return NULL;
}

static void test_one_method_two_threads(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = write_convnet(&size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  if (xnnd_program_load_buffer(bytes, size, NULL, &p, &err) != XNND_OK) fail_msg("load: %s", err.message);
  static float x[IN_NUMEL], want[OUT_NUMEL];
  xt_fill_uniform(x, IN_NUMEL, 11);
  xnnd_method* m = NULL;
  if (xnnd_method_create(p, "forward", NULL, &m, &err) != XNND_OK) fail_msg("create: %s", err.message);
  xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, x};
  xnnd_tensor out;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  memcpy(want, out.data, sizeof(want));
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, 2);
  hammer h[2] = {{m, x, &start, 0, 0, 0, XNND_OK}, {m, x, &start, 0, 0, 0, XNND_OK}};
  pthread_t th[2];
  for (int t = 0; t < 2; t++) assert_int_equal(pthread_create(&th[t], NULL, hammer_main, &h[t]), 0);
  for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
  pthread_barrier_destroy(&start);
  for (int t = 0; t < 2; t++) {
    if (h[t].other) fail_msg("thread %d: %u calls returned %s", t, h[t].other, xnnd_status_str(h[t].other_status));
    assert_int_equal(h[t].ok, HAMMER_RUNS);
  }
  print_message("one method, two threads: %u executes, %u BUSY\n", h[0].ok + h[1].ok, h[0].busy + h[1].busy);
  memset(out.data, 0, sizeof(want));
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_memory_equal(out.data, want, sizeof(want));
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(bytes);
}

int main(void) {
  if (xnnd_backend_register(&blocker_backend) != XNND_OK) {
    fprintf(stderr, "cannot register the test backend\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_execute_while_executing_is_busy),
      cmocka_unit_test(test_one_method_two_threads),
      cmocka_unit_test(test_four_methods_four_threads),
      cmocka_unit_test(test_concurrent_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
