/* Read-only queries over a loaded (verified) program, for `xnnd inspect` and tests. Internal
 * to the project: the CLI includes it from runtime/; apps use xnnd/runtime.h only.
 * All strings are borrowed from the program and valid while it lives. Thread-safe. */
#ifndef XNND_RUNTIME_PROGRAM_INFO_H
#define XNND_RUNTIME_PROGRAM_INFO_H

#include <stdint.h>

#include "xnnd/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_program_info {
  int executorch;                  /* 1: an ExecuTorch program (ET12); 0: ours */
  uint32_t version;                /* Program.version of the file */
  uint64_t file_size;
  uint64_t program_size;           /* flatbuffer bytes */
  uint64_t constant_segment_size;
  uint64_t delegate_segment_size;  /* ExecuTorch: the delegates' data as stored in the file */
  uint32_t num_methods;
  uint32_t num_constants;
  uint32_t num_delegates;
} xnnd_program_info;

typedef struct xnnd_method_info {
  const char* name;
  uint32_t num_values, num_inputs, num_outputs, num_steps;
  uint32_t num_kernel_steps, num_delegate_steps;
  uint32_t num_constant_values;
  uint64_t constant_bytes;         /* bytes of the constants this method's values use */
  uint64_t arena_bytes;            /* planned arena (with reuse, alignment and padding) */
  uint64_t tensor_bytes;           /* sum of the planned tensors' sizes, without reuse */
  int planned_at_lowering;         /* 1: the plan was read from the program (and checked);
                                      0: computed at load (a program without one) */
  uint32_t num_symbols;            /* dynamic shapes: 0 for a static method; the plan is
                                      sized for every symbol at its max */
} xnnd_method_info;

typedef enum xnnd_step_info_kind {
  XNND_STEP_INFO_KERNEL = 1,
  XNND_STEP_INFO_DELEGATE = 2,
} xnnd_step_info_kind;

typedef struct xnnd_step_info {
  xnnd_step_info_kind kind;
  const char* op_name;             /* kernel: "aten.relu"; delegate: NULL */
  uint32_t delegate_index;         /* delegate only */
  const char* backend_name;        /* delegate only */
  uint64_t blob_size;              /* delegate only */
  uint32_t num_inputs, num_outputs, num_attrs;
} xnnd_step_info;

typedef struct xnnd_delegate_info {
  const char* backend_name;
  uint64_t blob_offset;            /* within the delegate segment (ExecuTorch: file offset of
                                      the delegate data the blob was translated from) */
  uint64_t blob_size;
  uint32_t num_compile_specs;
} xnnd_delegate_info;

/* Each returns XNND_INVALID_ARGUMENT for a NULL pointer or an index out of range. */
xnnd_status xnnd_program_get_info(const xnnd_program* program, xnnd_program_info* info_out);
xnnd_status xnnd_program_get_method_info(const xnnd_program* program, uint32_t method,
                                         xnnd_method_info* info_out);
xnnd_status xnnd_program_get_step_info(const xnnd_program* program, uint32_t method,
                                       uint32_t step, xnnd_step_info* info_out);
xnnd_status xnnd_program_get_delegate_info(const xnnd_program* program, uint32_t delegate,
                                           xnnd_delegate_info* info_out);
/* Type of one value (data points at the constant's bytes for a constant, else NULL);
 * constant_out (optional) gets the constant index or -1. */
xnnd_status xnnd_program_get_value_info(const xnnd_program* program, uint32_t method,
                                        uint32_t value, xnnd_tensor* type_out,
                                        int32_t* constant_out);
/* Value id of method input / output `index`. */
xnnd_status xnnd_program_get_method_io(const xnnd_program* program, uint32_t method,
                                       uint32_t index, int is_output, uint32_t* value_out);
/* Value ids of one step's operands; a kernel's absent optional input is -1. */
xnnd_status xnnd_program_get_step_operand(const xnnd_program* program, uint32_t method,
                                          uint32_t step, uint32_t index, int is_output,
                                          int32_t* value_out);

/* Dynamic shapes: symbol `index` of a method (name borrowed from the program). */
xnnd_status xnnd_program_get_symbol(const xnnd_program* program, uint32_t method,
                                    uint32_t index, const char** name_out, int64_t* min_out,
                                    int64_t* max_out);
/* A value's type with symbolic dims as their forms, "f32[s0,3,224,224]", into buf (NUL-
 * terminated, truncated); returns the length the whole text needs; 0 for an index out of
 * range. */
size_t xnnd_program_format_value_type(const xnnd_program* program, uint32_t method,
                                      uint32_t value, char* buf, size_t size);

#ifdef __cplusplus
}
#endif

#endif
