/* The allocator hook (NULL = libc), a bump pool for the many small decoded arrays of a
 * program or method, and error-message helpers. Nothing here prints or aborts. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime_internal.h"

static void* libc_alloc(void* context, size_t size, size_t alignment) {
  (void)context;
  void* p = NULL;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  if (posix_memalign(&p, alignment, size) != 0) return NULL;
  return p;
}

static void libc_free(void* context, void* ptr) {
  (void)context;
  free(ptr);
}

static const xnnd_allocator libc_allocator = {NULL, libc_alloc, libc_free};

const xnnd_allocator* xnnd_default_allocator(void) { return &libc_allocator; }

void* xnnd_alloc(const xnnd_allocator* a, size_t size, size_t alignment) {
  if (size == 0 || size == SIZE_MAX) return NULL;
  if (!a || !a->alloc) a = &libc_allocator;
  return a->alloc(a->context, size, alignment);
}

void* xnnd_alloc_zeroed(const xnnd_allocator* a, size_t size, size_t alignment) {
  void* p = xnnd_alloc(a, size, alignment);
  if (p) memset(p, 0, size);
  return p;
}

void xnnd_free(const xnnd_allocator* a, void* ptr) {
  if (!ptr) return;
  if (!a || !a->alloc) a = &libc_allocator;
  if (a->free) a->free(a->context, ptr);
}

size_t xnnd_mul_size(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return SIZE_MAX;
  return count * size;
}

/* ---- pool ---- */

#define POOL_BLOCK_SIZE ((size_t)16384)
#define POOL_MAX_ALIGN ((size_t)64)

struct xnnd_pool_block {
  xnnd_pool_block* next;
  size_t size;   /* usable bytes after the header */
  size_t used;
};

/* Header rounded up so the payload starts 64-aligned inside a 64-aligned block. */
#define POOL_HEADER_SIZE (((sizeof(xnnd_pool_block) + POOL_MAX_ALIGN - 1) / POOL_MAX_ALIGN) * POOL_MAX_ALIGN)

void xnnd_pool_init(xnnd_pool* pool, const xnnd_allocator* allocator) {
  pool->allocator = allocator;
  pool->head = NULL;
}

void* xnnd_pool_alloc(xnnd_pool* pool, size_t size, size_t alignment) {
  if (alignment == 0) alignment = 1;
  if (alignment > POOL_MAX_ALIGN) return NULL;
  xnnd_pool_block* b = pool->head;
  if (b) {
    size_t at = (b->used + alignment - 1) & ~(alignment - 1);
    if (at <= b->size && size <= b->size - at) {
      b->used = at + size;
      return (uint8_t*)b + POOL_HEADER_SIZE + at;
    }
  }
  if (size > SIZE_MAX - POOL_HEADER_SIZE - POOL_BLOCK_SIZE) return NULL;
  size_t payload = size > POOL_BLOCK_SIZE ? size : POOL_BLOCK_SIZE;
  b = xnnd_alloc(pool->allocator, POOL_HEADER_SIZE + payload, POOL_MAX_ALIGN);
  if (!b) return NULL;
  memset(b, 0, POOL_HEADER_SIZE + payload);
  b->size = payload;
  b->used = size;
  /* A big one-off block goes behind the current head so the head keeps its free space. */
  if (pool->head && size > POOL_BLOCK_SIZE / 2) {
    b->next = pool->head->next;
    pool->head->next = b;
  } else {
    b->next = pool->head;
    pool->head = b;
  }
  return (uint8_t*)b + POOL_HEADER_SIZE;
}

void xnnd_pool_release(xnnd_pool* pool) {
  xnnd_pool_block* b = pool->head;
  while (b) {
    xnnd_pool_block* next = b->next;
    xnnd_free(pool->allocator, b);
    b = next;
  }
  pool->head = NULL;
}

/* ---- messages ---- */

xnnd_status xnnd_errf(char* buf, size_t size, xnnd_status status, const char* fmt, ...) {
  if (buf && size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
  }
  return status;
}

void xnnd_format_type(char* buf, size_t size, const xnnd_tensor* t) {
  if (size == 0) return;
  size_t n = (size_t)snprintf(buf, size, "%s[", xnnd_dtype_name(t->dtype));
  for (uint32_t i = 0; i < t->rank && i < XNND_MAX_RANK && n < size; i++)
    n += (size_t)snprintf(buf + n, size - n, i ? ",%lld" : "%lld", (long long)t->dims[i]);
  if (n < size) snprintf(buf + n, size - n, "]");
}

bool xnnd_tensor_bytes(const int64_t* dims, uint32_t rank, size_t elem, uint64_t* nbytes) {
  uint64_t span = elem, bytes = elem;
  for (uint32_t d = 0; d < rank; d++) {
    const uint64_t dim = (uint64_t)dims[d];
    if (dim > 1 && span > XNND_MAX_TENSOR_BYTES / dim) return false;
    span *= dim > 1 ? dim : 1;
    bytes *= dim;
  }
  *nbytes = bytes;
  return span <= XNND_MAX_TENSOR_BYTES;
}
