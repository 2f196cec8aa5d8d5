/* Allocation through the app's hook (include/xnnd/xnnd.h xnnd_allocator), for every part of
 * the runtime: core, portable kernels, backends and xnnd's own convolution kernels. NULL, or a
 * hook without alloc, means libc (posix_memalign/free). Implemented in allocator.c. */
#ifndef XNND_RUNTIME_ALLOC_H
#define XNND_RUNTIME_ALLOC_H

#include <stddef.h>

#include "xnnd/xnnd.h"

/* The libc allocator (posix_memalign/free). */
const xnnd_allocator* xnnd_default_allocator(void);
/* alignment: a power of two; NULL on failure or size 0. */
void* xnnd_alloc(const xnnd_allocator* a, size_t size, size_t alignment);
void* xnnd_alloc_zeroed(const xnnd_allocator* a, size_t size, size_t alignment);
/* ptr NULL is a no-op; a hook without free leaks by its own choice. */
void xnnd_free(const xnnd_allocator* a, void* ptr);

#endif
