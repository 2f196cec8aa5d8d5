/* Portable C kernels: the runtime's fallback for every op outside a delegate, and the
 * reference for differential tests. One table (kernels.c), generated from ir/ops.def and
 * looked up by the program's op name ("aten.convolution"); one file per op family
 * (kernel_<family>.c).
 *
 * Tensors are contiguous row-major in the program's logical order (NCHW for 4-D).
 * prepare() runs once at method creation and may reject shapes/attrs with a message;
 * run() runs every execute and never allocates. */
#ifndef XNND_RUNTIME_KERNELS_H
#define XNND_RUNTIME_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnnd/xnnd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One decoded attribute (program.fbs Attr). ints points into the program buffer. */
typedef struct xnnd_kattr {
  const char* name;
  uint8_t kind;          /* xnnd_attr_kind wire values: 0 NONE, 1 INT, 2 FLOAT, 3 BOOL, 4 INTS */
  int64_t i;
  double f;
  uint32_t n;
  const int64_t* ints;
} xnnd_kattr;

typedef struct xnnd_kernel_args {
  xnnd_tensor* const* inputs;   /* NULL entry: absent optional input */
  uint32_t num_inputs;
  xnnd_tensor* const* outputs;
  uint32_t num_outputs;
  const xnnd_kattr* attrs;
  uint32_t num_attrs;
  /* Where run() may explain a data-dependent failure (an index out of range): "<op>: ...".
   * NULL when the caller keeps no message; the runtime points it at a method buffer. */
  char* run_err;
  size_t run_err_size;
} xnnd_kernel_args;

#define XNND_KERNEL_PARAMS_SIZE 256

typedef struct xnnd_kernel {
  const char* op;
  /* Validate dtypes, shapes and attrs against each other and precompute what run() needs
   * into params (XNND_KERNEL_PARAMS_SIZE bytes, 16-aligned). Data pointers may be NULL
   * here. On failure write a message naming the op, operand and expectation. */
  xnnd_status (*prepare)(const xnnd_kernel_args* args, void* params, char* err, size_t err_size);
  xnnd_status (*run)(const xnnd_kernel_args* args, const void* params);
} xnnd_kernel;

/* NULL when no portable kernel implements op. */
const xnnd_kernel* xnnd_kernel_find(const char* op);
/* Attribute by name, NULL when absent. */
const xnnd_kattr* xnnd_kattr_get(const xnnd_kernel_args* args, const char* name);

#ifdef __cplusplus
}
#endif

#endif
