/* Shared by the fuzz targets that run xnnd XNNPACK blobs on the backend (fuzz_xnnpack_blob,
 * fuzz_et_xnnpack): the program tensor of a blob's external value, and zeroed I/O buffers
 * under one size budget. */
#ifndef XNND_FUZZ_BLOB_H
#define XNND_FUZZ_BLOB_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fb.h"
#include "pte_format.h"
#include "xnnd/xnnd.h"
#include "xnnpack_generated.h"

#define FUZZ_MAX_IO_BYTES ((size_t)4 << 20)

static inline bool fuzz_program_dtype(uint8_t datatype, xnnd_dtype* out) {
  switch (datatype) {
    case XNND_XNNPACK_DataType_FP32: *out = XNND_F32; return true;
    case XNND_XNNPACK_DataType_QINT8: *out = XNND_I8; return true;
    case XNND_XNNPACK_DataType_QUINT8: *out = XNND_U8; return true;
    case XNND_XNNPACK_DataType_QINT32: *out = XNND_I32; return true;
    default: return false;
  }
}

/* The program tensor of blob value `id` (NCHW where flag 4 says so, f32 for a datatype the
 * program has no counterpart of); false when the value is not readable. */
static inline bool fuzz_blob_value_tensor(fb_vec values, uint32_t id, xnnd_tensor* t) {
  if (id >= values.len) return false;
  fb_table v = fb_vec_table(values, id);
  fb_vec dims = fb_vector(v, XNND_XNNPACK_Value_dims);
  if (dims.len > XNND_MAX_RANK) return false;
  *t = (xnnd_tensor){XNND_F32, dims.len, {0}, NULL};
  if (!fuzz_program_dtype(fb_u8(v, XNND_XNNPACK_Value_datatype, 0), &t->dtype)) t->dtype = XNND_F32;
  for (uint32_t d = 0; d < dims.len; d++) t->dims[d] = fb_vec_u32(dims, d);
  if ((fb_u32(v, XNND_XNNPACK_Value_flags, 0) & XNND_XVALUE_NCHW_BOUNDARY) && dims.len == 4) {
    /* blob NHWC -> program NCHW */
    t->dims[1] = fb_vec_u32(dims, 3);
    t->dims[2] = fb_vec_u32(dims, 1);
    t->dims[3] = fb_vec_u32(dims, 2);
  }
  return true;
}

/* A zeroed, 64-aligned buffer for t plus 64 bytes of slack; NULL when t, or the running *total,
 * exceeds FUZZ_MAX_IO_BYTES. Free with free(). */
static inline void* fuzz_zero_buffer(const xnnd_tensor* t, size_t* total) {
  size_t bytes = xnnd_tensor_numel(t) * xnnd_dtype_size(t->dtype);
  if (bytes > FUZZ_MAX_IO_BYTES || (*total += bytes) > FUZZ_MAX_IO_BYTES) return NULL;
  void* p = NULL;
  if (posix_memalign(&p, 64, bytes + 64) != 0) return NULL;
  memset(p, 0, bytes + 64);
  return p;
}

#endif
