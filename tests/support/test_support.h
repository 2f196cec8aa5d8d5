/* Shared helpers for cmocka tests: reading files, temp paths, env lookups. */
#ifndef XNND_TEST_SUPPORT_H
#define XNND_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

/* Read a whole file into a malloc'd, NUL-terminated buffer (size excludes the NUL).
 * Returns NULL when it cannot be read. */
char* xt_read_file(const char* path, size_t* size_out);
int xt_write_file(const char* path, const void* data, size_t size);
/* $XNND_SOURCE_DIR/rel (or ./rel); static buffer per call slot (4 slots rotate). */
const char* xt_source_path(const char* rel);
const char* xt_build_path(const char* rel);
/* A fresh path under the test's working directory: "<tag>-<pid>-<n><suffix>". */
const char* xt_temp_path(const char* tag, const char* suffix);
/* Run a shell command; returns its exit status (or -1). */
int xt_system(const char* fmt, ...);

/* Aligned allocation through cmocka's test_malloc/test_free, so leaks fail the test; the
 * allocator hook the runtime tests hand to loaders, methods and kernels. */
void* xt_aligned_alloc(void* context, size_t size, size_t alignment);
void xt_aligned_free(void* context, void* ptr);

#endif
