/* NCHW <-> NHWC at the delegate boundary: per image, a [C][HW] <-> [HW][C] transpose done in
 * square tiles so both the reads and the writes stay within a few cache lines. Never allocates. */
#include <string.h>

#include "xnnpack_internal.h"

#define TILE 32

/* dst[j][i] = src[i][j] for an rows x cols matrix of T. */
#define DEFINE_TRANSPOSE(name, T)                                                            \
  static void name(const T* src, T* dst, size_t rows, size_t cols) {                         \
    for (size_t i0 = 0; i0 < rows; i0 += TILE) {                                             \
      size_t i1 = i0 + TILE < rows ? i0 + TILE : rows;                                       \
      for (size_t j0 = 0; j0 < cols; j0 += TILE) {                                           \
        size_t j1 = j0 + TILE < cols ? j0 + TILE : cols;                                     \
        for (size_t i = i0; i < i1; i++)                                                     \
          for (size_t j = j0; j < j1; j++) dst[j * rows + i] = src[i * cols + j];            \
      }                                                                                      \
    }                                                                                        \
  }
DEFINE_TRANSPOSE(transpose_u8, uint8_t)
DEFINE_TRANSPOSE(transpose_u16, uint16_t)
DEFINE_TRANSPOSE(transpose_u32, uint32_t)
DEFINE_TRANSPOSE(transpose_u64, uint64_t)

static void transpose_batch(const void* src, void* dst, size_t n, size_t rows, size_t cols, size_t elem_size) {
  size_t plane = rows * cols * elem_size;
  for (size_t b = 0; b < n; b++) {
    const void* s = (const uint8_t*)src + b * plane;
    void* d = (uint8_t*)dst + b * plane;
    if (rows == 1 || cols == 1) {
      memcpy(d, s, plane);
      continue;
    }
    switch (elem_size) {
      case 1: transpose_u8(s, d, rows, cols); break;
      case 2: transpose_u16(s, d, rows, cols); break;
      case 4: transpose_u32(s, d, rows, cols); break;
      case 8: transpose_u64(s, d, rows, cols); break;
      default: break; /* the verifier only admits 1-, 2-, 4- and 8-byte elements */
    }
  }
}

void xnnd_xnn_nchw_to_nhwc(const void* src, void* dst, size_t n, size_t c, size_t hw, size_t elem_size) {
  transpose_batch(src, dst, n, c, hw, elem_size);
}

void xnnd_xnn_nhwc_to_nchw(const void* src, void* dst, size_t n, size_t c, size_t hw, size_t elem_size) {
  transpose_batch(src, dst, n, hw, c, elem_size);
}
