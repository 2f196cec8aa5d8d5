/* ExecuTorch operators (name + overload, e.g. "aten::convolution" "out") mapped to xnnd's IR ops
 * and portable kernels: what each KernelCall argument becomes. The table is generated from
 * torch's schemas by python/xnnd/et_ops.py (runtime/et_ops_table.inc, committed). */
#ifndef XNND_RUNTIME_ET_OPS_H
#define XNND_RUNTIME_ET_OPS_H

#include <stdint.h>

typedef enum et_arg_role {
  ET_ARG_INPUT = 1,      /* a Tensor input */
  ET_ARG_INPUT_OPT,      /* a Tensor input or None (absent, -1) */
  ET_ARG_INPUT_SCALAR,   /* a Tensor, or a Scalar that becomes a rank-0 constant */
  ET_ARG_INPUT_LIST,     /* a TensorList: each item an input */
  ET_ARG_ATTR,           /* an attribute (kind, norm, attr) */
  ET_ARG_OUTPUT,         /* an out tensor: a step output */
  ET_ARG_NONE,           /* must be None */
  ET_ARG_DIM_ORDER,      /* None or the contiguous order */
  ET_ARG_SKIP,           /* ignored */
  ET_ARG_RESULT,         /* the call's result (the out tensors again): ignored */
} et_arg_role;

/* Attribute kinds: xnnd_kattr wire values (kernels.h). */
enum { ET_ATTR_INT = 1, ET_ATTR_FLOAT = 2, ET_ATTR_BOOL = 3, ET_ATTR_INTS = 4 };

typedef enum et_norm {
  ET_NORM_NONE = 0,
  ET_NORM_OPTIONAL,      /* None omits the attribute */
  ET_NORM_DIM,           /* made non-negative against the first input's rank */
  ET_NORM_DIMS,          /* each made non-negative; None means every dim */
  ET_NORM_POOL_STRIDE,   /* an empty list means kernel_size */
} et_norm;

typedef enum et_special {
  ET_SPECIAL_NONE = 0,
  ET_SPECIAL_VIEW,           /* attribute size = the output's sizes */
  ET_SPECIAL_TO_COPY,        /* attribute dtype = the output's dtype */
  ET_SPECIAL_FULL_LIKE,      /* no step: the output is a constant filled at load */
  ET_SPECIAL_TRAINING_FALSE, /* attribute training = false */
  ET_SPECIAL_QUANTIZE,       /* attribute dtype = the output's dtype */
  ET_SPECIAL_DEQUANTIZE,     /* attribute dtype = input 0's dtype; i64 zero points -> i32 */
} et_special;

typedef struct et_arg {
  uint8_t role, kind, norm;
  const char* attr;
} et_arg;

typedef struct et_op_desc {
  const char* name;       /* "aten::convolution.out" */
  const char* ir_op;      /* "aten.convolution"; NULL when folded at load */
  et_special special;
  const et_arg* args;
  uint32_t num_args;      /* the schema's arguments plus the result */
} et_op_desc;

/* The mapping of ExecuTorch operator `name` overload `overload`, NULL when xnnd has none. */
const et_op_desc* xnnd_et_op_find(const char* name, const char* overload);

#endif
