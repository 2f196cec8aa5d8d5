/* Process-wide pthreadpools shared by XNNPACK delegates, one per thread count, reference
 * counted. Every delegate owning its own pool made N idle pools spin against each other
 * (a 53-partition program ran 30x slower on 2 threads). pthreadpool serializes concurrent
 * parallelize calls internally, so sharing stays correct when methods run concurrently. */
#include <pthread.h>
#include <pthreadpool.h>

#include "xnnpack_internal.h"

#define MAX_SHARED_POOLS 8

static struct {
  uint32_t threads;
  uint32_t refs;
  pthreadpool_t pool;
} g_pools[MAX_SHARED_POOLS];
static pthread_mutex_t g_pools_mutex = PTHREAD_MUTEX_INITIALIZER;

pthreadpool_t xnnd_xnn_pool_acquire(uint32_t threads) {
  pthreadpool_t pool = NULL;
  pthread_mutex_lock(&g_pools_mutex);
  int free_slot = -1;
  for (int i = 0; i < MAX_SHARED_POOLS && pool == NULL; i++) {
    if (g_pools[i].refs > 0 && g_pools[i].threads == threads) {
      g_pools[i].refs++;
      pool = g_pools[i].pool;
    } else if (g_pools[i].refs == 0 && free_slot < 0) {
      free_slot = i;
    }
  }
  if (pool == NULL && free_slot >= 0) {
    pool = pthreadpool_create(threads);
    if (pool != NULL) {
      g_pools[free_slot].threads = threads;
      g_pools[free_slot].refs = 1;
      g_pools[free_slot].pool = pool;
    }
  }
  pthread_mutex_unlock(&g_pools_mutex);
  return pool;
}

void xnnd_xnn_pool_release(pthreadpool_t pool) {
  if (pool == NULL) return;
  pthread_mutex_lock(&g_pools_mutex);
  for (int i = 0; i < MAX_SHARED_POOLS; i++) {
    if (g_pools[i].refs > 0 && g_pools[i].pool == pool) {
      if (--g_pools[i].refs == 0) {
        pthreadpool_destroy(pool);
        g_pools[i].pool = NULL;
      }
      break;
    }
  }
  pthread_mutex_unlock(&g_pools_mutex);
}
