/* pthreadpool for xnnd's own kernels, visible to ThreadSanitizer. pthreadpool hands a task's
 * context to its workers through atomics in an uninstrumented library, so TSan would see the
 * caller's writes and the workers' reads as unordered. Under TSan these wrappers add the
 * release/acquire edges the pool really provides (caller -> tasks -> caller); otherwise they
 * call pthreadpool directly. pool may be NULL (runs on the calling thread). */
#ifndef XNND_RUNTIME_CONV_KERNELS_PARALLEL_H
#define XNND_RUNTIME_CONV_KERNELS_PARALLEL_H

#include <stddef.h>

#include <pthreadpool.h>

typedef void (*xnnd_task_1d)(void* context, size_t i);
typedef void (*xnnd_task_2d)(void* context, size_t i, size_t j);

void xnnd_parallelize_1d(pthreadpool_t pool, xnnd_task_1d task, void* context, size_t range);
void xnnd_parallelize_2d(pthreadpool_t pool, xnnd_task_2d task, void* context, size_t range_i, size_t range_j);

#endif
