/* Shared by the fuzz targets: a capped allocator, so a hostile input that asks for huge
 * memory gets XNND_OUT_OF_MEMORY from the library instead of exhausting the fuzzer, and
 * aligned copies of the input bytes. Fuzzers are single-threaded: plain globals. */
#ifndef XNND_FUZZ_COMMON_H
#define XNND_FUZZ_COMMON_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xnnd/xnnd.h"

#define FUZZ_MAX_ALLOC ((size_t)64 << 20)
#define FUZZ_MAX_LIVE ((size_t)256 << 20)

static size_t fuzz_live_bytes;

static inline void* fuzz_alloc(void* context, size_t size, size_t alignment) {
  (void)context;
  if (size == 0 || size > FUZZ_MAX_ALLOC || size > FUZZ_MAX_LIVE - fuzz_live_bytes) return NULL;
  if (alignment < 16) alignment = 16;
  /* one 16-byte prefix (rounded to the alignment) records the size for the budget */
  size_t prefix = alignment;
  uint8_t* raw = NULL;
  if (posix_memalign((void**)&raw, alignment, size + prefix) != 0) return NULL;
  memcpy(raw + prefix - sizeof(size_t), &size, sizeof(size_t));
  memcpy(raw + prefix - 2 * sizeof(size_t), &prefix, sizeof(size_t));
  fuzz_live_bytes += size;
  return raw + prefix;
}

static inline void fuzz_free(void* context, void* ptr) {
  (void)context;
  if (!ptr) return;
  uint8_t* p = ptr;
  size_t size, prefix;
  memcpy(&size, p - sizeof(size_t), sizeof(size_t));
  memcpy(&prefix, p - 2 * sizeof(size_t), sizeof(size_t));
  fuzz_live_bytes -= size;
  free(p - prefix);
}

static const xnnd_allocator fuzz_allocator = {NULL, fuzz_alloc, fuzz_free};

/* 64-aligned copy of the input (NULL on failure); free with free(). */
static inline uint8_t* fuzz_aligned_copy(const uint8_t* data, size_t size) {
  uint8_t* copy = NULL;
  if (posix_memalign((void**)&copy, 64, size ? size : 1) != 0) return NULL;
  if (size) memcpy(copy, data, size);
  return copy;
}

#endif
