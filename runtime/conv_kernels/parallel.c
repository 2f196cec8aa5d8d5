/* See parallel.h. */
#include "parallel.h"

#if defined(__SANITIZE_THREAD__)
#define XNND_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XNND_TSAN 1
#endif
#endif

#ifdef XNND_TSAN
void __tsan_acquire(void* addr);
void __tsan_release(void* addr);

typedef struct tsan_ctx {
  void* context;
  xnnd_task_1d task_1d;
  xnnd_task_2d task_2d;
} tsan_ctx;

static void run_1d(void* c, size_t i) {
  tsan_ctx* t = c;
  __tsan_acquire(t);
  t->task_1d(t->context, i);
  __tsan_release(t);
}

static void run_2d(void* c, size_t i, size_t j) {
  tsan_ctx* t = c;
  __tsan_acquire(t);
  t->task_2d(t->context, i, j);
  __tsan_release(t);
}

void xnnd_parallelize_1d(pthreadpool_t pool, xnnd_task_1d task, void* context, size_t range) {
  tsan_ctx t = {context, task, NULL};
  __tsan_release(&t);
  pthreadpool_parallelize_1d(pool, run_1d, &t, range, 0);
  __tsan_acquire(&t);
}

void xnnd_parallelize_2d(pthreadpool_t pool, xnnd_task_2d task, void* context, size_t range_i, size_t range_j) {
  tsan_ctx t = {context, NULL, task};
  __tsan_release(&t);
  pthreadpool_parallelize_2d(pool, run_2d, &t, range_i, range_j, 0);
  __tsan_acquire(&t);
}

#else

void xnnd_parallelize_1d(pthreadpool_t pool, xnnd_task_1d task, void* context, size_t range) {
  pthreadpool_parallelize_1d(pool, task, context, range, 0);
}

void xnnd_parallelize_2d(pthreadpool_t pool, xnnd_task_2d task, void* context, size_t range_i, size_t range_j) {
  pthreadpool_parallelize_2d(pool, task, context, range_i, range_j, 0);
}

#endif
