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
KERNEL_DECL(baddbmm, baddbmm)
KERNEL_DECL(bmm, mm)
KERNEL_DECL(cat, cat)
KERNEL_DECL(clamp, unary)
KERNEL_DECL(clone, copy)
KERNEL_DECL(constant_pad_nd, constant_pad_nd)
KERNEL_DECL(convolution, convolution)
KERNEL_DECL(div, binary)
KERNEL_DECL(dropout, copy)
KERNEL_DECL(expand, gather)
KERNEL_DECL(gelu, unary)
KERNEL_DECL(hardsigmoid, unary)
KERNEL_DECL(hardswish, unary)
KERNEL_DECL(hardtanh, unary)
KERNEL_DECL(linear, linear)
KERNEL_DECL(log_softmax, softmax)
KERNEL_DECL(max_pool2d, max_pool2d)
KERNEL_DECL(max_pool2d_with_indices, max_pool2d)
KERNEL_DECL(mean, mean)
KERNEL_DECL(mm, mm)
KERNEL_DECL(mul, binary)
KERNEL_DECL(native_batch_norm, native_batch_norm)
KERNEL_DECL(native_layer_norm, native_layer_norm)
KERNEL_DECL(norm, mean)
KERNEL_DECL(permute, permute)
KERNEL_DECL(relu, unary)
KERNEL_DECL(roll, roll)
KERNEL_DECL(select, gather)
KERNEL_DECL(sigmoid, unary)
KERNEL_DECL(silu, unary)
KERNEL_DECL(slice, gather)
KERNEL_DECL(softmax, softmax)
KERNEL_DECL(sub, binary)
KERNEL_DECL(t, permute)
KERNEL_DECL(tanh, unary)
KERNEL_DECL(upsample_bilinear2d, resize)
KERNEL_DECL(upsample_nearest2d, resize)
KERNEL_DECL(view, copy)
KERNEL_DECL(quantize, quantize)   /* kernel_quant.c */
KERNEL_DECL(dequantize, dequantize)
#undef KERNEL_DECL

#define ROW(name, run) {"aten." #name, xnnd_kprepare_##name, xnnd_krun_##run}
static const xnnd_kernel kernel_table[] = {
    ROW(adaptive_avg_pool2d, adaptive_avg_pool2d),
    ROW(add, binary),
    ROW(addmm, addmm),
    ROW(avg_pool2d, avg_pool2d),
    ROW(baddbmm, baddbmm),
    ROW(bmm, mm),
    ROW(cat, cat),
    ROW(clamp, unary),
    ROW(clone, copy),
    ROW(constant_pad_nd, constant_pad_nd),
    ROW(convolution, convolution),
    ROW(div, binary),
    ROW(dropout, copy),
    ROW(expand, gather),
    ROW(gelu, unary),
    ROW(hardsigmoid, unary),
    ROW(hardswish, unary),
    ROW(hardtanh, unary),
    ROW(linear, linear),
    ROW(log_softmax, softmax),
    ROW(max_pool2d, max_pool2d),
    ROW(max_pool2d_with_indices, max_pool2d),
    ROW(mean, mean),
    ROW(mm, mm),
    ROW(mul, binary),
    ROW(native_batch_norm, native_batch_norm),
    ROW(native_layer_norm, native_layer_norm),
    ROW(norm, mean),
    ROW(permute, permute),
    ROW(relu, unary),
    ROW(roll, roll),
    ROW(select, gather),
    ROW(sigmoid, unary),
    ROW(silu, unary),
    ROW(slice, gather),
    ROW(softmax, softmax),
    ROW(sub, binary),
    ROW(t, permute),
    ROW(tanh, unary),
    ROW(upsample_bilinear2d, resize),
    ROW(upsample_nearest2d, resize),
    ROW(view, copy),
    {"xnnd.dequantize", xnnd_kprepare_dequantize, xnnd_krun_dequantize},  /* kernel_quant.c */
    {"xnnd.quantize", xnnd_kprepare_quantize, xnnd_krun_quantize},
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
