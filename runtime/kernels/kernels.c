/* The one table of portable kernels, keyed by program op name. Rows are sorted by name (a test
 * checks it, and that every op in ir/ops.def has a row); lookup is a binary search. */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel_util.h"

#define KERNEL_DECL(prep, run) \
  KPREPARE(prep);              \
  KRUN(run);
KERNEL_DECL(adaptive_avg_pool2d, adaptive_avg_pool2d)
KERNEL_DECL(add, binary)
KERNEL_DECL(addmm, addmm)
KERNEL_DECL(avg_pool2d, avg_pool2d)
KERNEL_DECL(bmm, mm)
KERNEL_DECL(cat, cat)
KERNEL_DECL(clamp, unary)
KERNEL_DECL(clone, copy)
KERNEL_DECL(convolution, convolution)
KERNEL_DECL(div, binary)
KERNEL_DECL(dropout, copy)
KERNEL_DECL(gelu, unary)
KERNEL_DECL(hardsigmoid, unary)
KERNEL_DECL(hardswish, unary)
KERNEL_DECL(hardtanh, unary)
KERNEL_DECL(linear, linear)
KERNEL_DECL(max_pool2d, max_pool2d)
KERNEL_DECL(max_pool2d_with_indices, max_pool2d)
KERNEL_DECL(mean, mean)
KERNEL_DECL(mm, mm)
KERNEL_DECL(mul, binary)
KERNEL_DECL(native_batch_norm, native_batch_norm)
KERNEL_DECL(permute, permute)
KERNEL_DECL(relu, unary)
KERNEL_DECL(sigmoid, unary)
KERNEL_DECL(silu, unary)
KERNEL_DECL(softmax, softmax)
KERNEL_DECL(sub, binary)
KERNEL_DECL(t, permute)
KERNEL_DECL(tanh, unary)
KERNEL_DECL(view, copy)
#undef KERNEL_DECL

#define ROW(name, run) {"aten." #name, xnnd_kprepare_##name, xnnd_krun_##run}
static const xnnd_kernel kernel_table[] = {
    ROW(adaptive_avg_pool2d, adaptive_avg_pool2d),
    ROW(add, binary),
    ROW(addmm, addmm),
    ROW(avg_pool2d, avg_pool2d),
    ROW(bmm, mm),
    ROW(cat, cat),
    ROW(clamp, unary),
    ROW(clone, copy),
    ROW(convolution, convolution),
    ROW(div, binary),
    ROW(dropout, copy),
    ROW(gelu, unary),
    ROW(hardsigmoid, unary),
    ROW(hardswish, unary),
    ROW(hardtanh, unary),
    ROW(linear, linear),
    ROW(max_pool2d, max_pool2d),
    ROW(max_pool2d_with_indices, max_pool2d),
    ROW(mean, mean),
    ROW(mm, mm),
    ROW(mul, binary),
    ROW(native_batch_norm, native_batch_norm),
    ROW(permute, permute),
    ROW(relu, unary),
    ROW(sigmoid, unary),
    ROW(silu, unary),
    ROW(softmax, softmax),
    ROW(sub, binary),
    ROW(t, permute),
    ROW(tanh, unary),
    ROW(view, copy),
};
#undef ROW

static int compare_row(const void* key, const void* row) {
  return strcmp((const char*)key, ((const xnnd_kernel*)row)->op);
}

const xnnd_kernel* xnnd_kernel_find(const char* op) {
  if (!op) return NULL;
  return bsearch(op, kernel_table, sizeof(kernel_table) / sizeof(kernel_table[0]),
                 sizeof(kernel_table[0]), compare_row);
}

const xnnd_kattr* xnnd_kattr_get(const xnnd_kernel_args* args, const char* name) {
  if (!args || !name || !args->attrs) return NULL;
  for (uint32_t i = 0; i < args->num_attrs; i++)
    if (args->attrs[i].name && strcmp(args->attrs[i].name, name) == 0) return &args->attrs[i];
  return NULL;
}
