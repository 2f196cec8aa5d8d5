/* xnnd common public types: status codes, dtypes, tensors, the allocator hook.
 * Shared by the runtime API, the backend interface and the toolchain. */
#ifndef XNND_XNND_H
#define XNND_XNND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xnnd_status {
#define XNND_STATUS(name, value, desc) XNND_##name = value,
#include "xnnd/status.def"
#undef XNND_STATUS
} xnnd_status;

/* Static string for a status; never NULL. Thread-safe. */
const char* xnnd_status_str(xnnd_status status);

/* Element types. Values are the wire values of program.fbs ScalarType. */
typedef enum xnnd_dtype {
  XNND_F32 = 0,
  XNND_F16 = 1,
  XNND_I8 = 2,
  XNND_U8 = 3,
  XNND_I32 = 4,
  XNND_I64 = 5,
  XNND_BOOL = 6,
  XNND_DTYPE_COUNT
} xnnd_dtype;

/* Size in bytes of one element, 0 for an invalid dtype. Thread-safe. */
size_t xnnd_dtype_size(xnnd_dtype dtype);
/* "f32", "f16", "i8", "u8", "i32", "i64", "bool"; "?" when invalid. Thread-safe. */
const char* xnnd_dtype_name(xnnd_dtype dtype);

#define XNND_MAX_RANK 8

/* A dense, contiguous, row-major tensor view. Never owns data. */
typedef struct xnnd_tensor {
  xnnd_dtype dtype;
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];
  void* data;
} xnnd_tensor;

/* Element count of a tensor view (1 for rank 0, 0 for NULL). Thread-safe. */
size_t xnnd_tensor_numel(const xnnd_tensor* t);

/* The one allocator hook. All entries take the context pointer. NULL hook = libc. */
typedef struct xnnd_allocator {
  void* context;
  void* (*alloc)(void* context, size_t size, size_t alignment);
  void (*free)(void* context, void* ptr);
} xnnd_allocator;

/* A runtime option for one backend, as key and value (the way ExecuTorch's backend options
 * work): generic code carries them, only the named backend interprets them. Strings are
 * borrowed for the call they are passed to. */
typedef struct xnnd_backend_option {
  const char* backend;  /* registered backend name, e.g. "XnnpackBackend" */
  const char* key;
  const char* value;
} xnnd_backend_option;

/* A message buffer for calls that fail before there is an object to keep it. */
#define XNND_ERRMSG_SIZE 512
typedef struct xnnd_error {
  xnnd_status status;
  char message[XNND_ERRMSG_SIZE];
} xnnd_error;

#ifdef __cplusplus
}
#endif

#endif /* XNND_XNND_H */
