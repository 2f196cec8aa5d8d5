/* xnnd runtime: load a program file, instantiate a method, bind inputs, execute.
 * An app links libxnnd_runtime alone (no IR, passes, partitioner or Python).
 *
 * Thread-safety: a loaded xnnd_program is immutable and may be shared by threads;
 * each xnnd_method is used by one thread at a time. Loading and method creation may
 * allocate; xnnd_method_execute never allocates. Each function below says which rule
 * applies; "thread-safe" means any number of threads may call it at once; "one thread
 * per method" means calls on the same method must not overlap (distinct methods of one
 * program may run on different threads at once; tests/test_concurrency.c checks this
 * under TSan). Overlapping xnnd_method_set_input / xnnd_method_execute calls on one method
 * are detected (an atomic busy flag, no lock): the call that finds the method busy returns
 * XNND_BUSY without touching it or its error message; the other call is unaffected. */
#ifndef XNND_RUNTIME_H
#define XNND_RUNTIME_H

#include <stdbool.h>

#include "xnnd/xnnd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_program xnnd_program;
typedef struct xnnd_method xnnd_method;

/* Limits applied while verifying an untrusted program. Zero fields take defaults. */
typedef struct xnnd_load_limits {
  uint64_t max_file_size;     /* default 4 GiB */
  uint32_t max_values;        /* per method, default 1 << 20 */
  uint32_t max_instructions;  /* per method, default 1 << 20 */
  uint32_t max_rank;          /* default XNND_MAX_RANK */
  uint32_t max_depth;         /* flatbuffer nesting, default 32 */
  /* Memory one method may plan: its arena plus its inputs (which may be staged), default
   * 4 GiB. A hostile program can otherwise declare tensors of up to 2^48 bytes. */
  uint64_t max_method_bytes;
} xnnd_load_limits;

typedef struct xnnd_load_options {
  const xnnd_allocator* allocator; /* NULL: libc. Must outlive the program. */
  xnnd_load_limits limits;
  /* xnnd_program_load_file (and xnnd_bundle_load_file) map the file read-only instead of
   * reading it into memory. Saves the copy, but the file must then not change while the
   * program lives: a file truncated or rewritten on disk while mapped makes the next access
   * to the lost pages raise SIGBUS (or read the new bytes, unverified). Only for files the
   * app owns and never modifies. */
  bool map_file;
} xnnd_load_options;

/* Read and verify a program file. By default the whole file is read into memory (allocated
 * with the options' allocator, 64-byte aligned) and the descriptor closed before verification,
 * so later changes to the file (truncation, rewrite) cannot affect the loaded program; a file
 * that changes size while being read fails with XNND_TRUNCATED or XNND_IO_ERROR. With
 * options->map_file the file is mapped instead (see there). Only regular files are read.
 * On failure *program_out is NULL and err (optional) says what is wrong and where.
 * Thread-safe. */
xnnd_status xnnd_program_load_file(const char* path, const xnnd_load_options* options,
                                   xnnd_program** program_out, xnnd_error* err);

/* Verify a program held in memory. The buffer is borrowed and must outlive the program
 * and every method created from it; it should be 64-byte aligned so constants are used
 * in place (otherwise they are copied). Thread-safe. */
xnnd_status xnnd_program_load_buffer(const void* data, size_t size,
                                     const xnnd_load_options* options,
                                     xnnd_program** program_out, xnnd_error* err);

/* Destroys a program; NULL is a no-op. All its methods must be destroyed first, and no
 * other thread may be using the program. */
void xnnd_program_destroy(xnnd_program* program);

/* 0 for NULL. Thread-safe (the program is immutable). */
uint32_t xnnd_program_method_count(const xnnd_program* program);
/* Borrowed; valid while the program lives. NULL when index is out of range. Thread-safe. */
const char* xnnd_program_method_name(const xnnd_program* program, uint32_t index);

typedef struct xnnd_method_options {
  uint32_t num_threads;  /* threads for delegates; 0 = 1 */
  bool profile;          /* time every step (read with xnnd_method_get_step_profile) */
  /* Options for the program's backends, borrowed for the call to xnnd_method_create. Each
   * delegate's init sees the ones naming its backend; options for a backend the method does
   * not use are ignored; a key or value its backend does not know fails creation with
   * INVALID_ARGUMENT. XnnpackBackend: "own_kernels" = "on" (default: one-group f32 and int8
   * convolutions run on xnnd's own kernels when the CPU has AVX2 and FMA3, because the
   * packaged XNNPACK's GEMMs are about 2.5x slower here; docs/ARCHITECTURE.md) or "off" (every
   * node in XNNPACK's kernels; `xnnd run --xnnpack-kernels-only`). */
  const xnnd_backend_option* backend_options;
  uint32_t num_backend_options;
  /* Execute non-finite (NaN, +-inf) f32/f16 inputs instead of refusing them. By default
   * xnnd_method_execute scans every f32/f16 input first and fails with
   * XNND_NON_FINITE_INPUT, naming the input and the element's flat index, because the two
   * paths treat them differently and neither promises PyTorch's results:
   * - portable kernels: IEEE arithmetic, so a NaN or inf propagates through sums, products
   *   and most activations as in PyTorch; comparisons (relu, clamp/hardtanh, max pooling)
   *   follow each kernel's comparison order and may drop or keep a NaN differently;
   * - XNNPACK delegates: unspecified. XNNPACK's kernels use min/max instructions and
   *   polynomial approximations that may turn a NaN into a finite value or -inf.
   * Setting this is at the caller's risk: outputs of a program with a delegate may then be
   * finite where PyTorch's are NaN. Huge finite inputs are not refused: wherever an
   * intermediate value overflows f32 (e.g. inputs near 3e38), PyTorch gives inf/NaN while
   * either path here may give different finite or non-finite values (summation order,
   * fused multiply-add, clamped approximations differ); results are specified only for
   * inputs whose intermediate values stay finite. */
  bool allow_non_finite_inputs;
} xnnd_method_options;

/* Instantiate a method: plans memory and initializes delegates (XNNPACK packs weights
 * here). The program must outlive the method. Thread-safe: threads may create methods
 * of one program at once; each gets its own arena and delegate instances. */
xnnd_status xnnd_method_create(xnnd_program* program, const char* name,
                               const xnnd_method_options* options,
                               xnnd_method** method_out, xnnd_error* err);
/* NULL is a no-op. One thread per method; the program may be in use by other methods. */
void xnnd_method_destroy(xnnd_method* method);

/* Counts, 0 for NULL. Read-only: may be called from any thread, even during execute. */
uint32_t xnnd_method_num_inputs(const xnnd_method* method);
uint32_t xnnd_method_num_outputs(const xnnd_method* method);
/* Shape and dtype of an input or output; data is NULL. Dynamic shapes: dims are the upper
 * bounds (every symbol at its max), the shapes the memory is planned for. Read-only: may be
 * called from any thread, even during execute. */
xnnd_status xnnd_method_input_info(const xnnd_method* method, uint32_t index, xnnd_tensor* info_out);
xnnd_status xnnd_method_output_info(const xnnd_method* method, uint32_t index, xnnd_tensor* info_out);

/* Bind input `index` to caller memory. dtype and dims must equal the method's input;
 * the data is borrowed until the next execute returns. One thread per method (BUSY when
 * another set_input or execute on this method is running).
 * Dynamic shapes (an input whose type has symbolic dims, see xnnd_method_input_type_str):
 * each dim may take any value its form allows: a dim k*s+c any value with s an integer in
 * the symbol's range, a dim over several symbols any value within its bounds; otherwise
 * XNND_SHAPE_MISMATCH with a message naming the input, dim, symbol and range, and the
 * previous binding stays. Relations between inputs (input 1 dim 0 = 2*s0) are checked by
 * xnnd_method_execute once every input is bound. */
xnnd_status xnnd_method_set_input(xnnd_method* method, uint32_t index, const xnnd_tensor* input);

/* Run every instruction. Never allocates (except, with dynamic shapes, a delegate's first
 * execute at a shape it has not cached; the portable kernels never do). Fails with XNND_NON_FINITE_INPUT when an f32/f16
 * input holds a NaN or infinity (unless options.allow_non_finite_inputs). One thread per
 * method: XNND_BUSY, and nothing done, when another set_input or execute on this method is
 * running. Methods of one program may execute concurrently (XNNPACK delegates with the same
 * thread count share one pthreadpool, which serializes their parallel sections).
 * Dynamic shapes: the symbols are solved from the bound inputs; an input dim that breaks a
 * relation fails with XNND_SHAPE_MISMATCH (naming input, dim, form and symbol values) before
 * anything runs. When the symbol values differ from the previous execute's, every tensor
 * shape is recomputed and the kernels and delegates are reshaped; if that fails the method
 * goes back to its previous shapes and stays usable. */
xnnd_status xnnd_method_execute(xnnd_method* method);

/* View of output `index`; data points into method memory, valid until the next
 * execute or destroy. Its dims are the actual ones of the last execute (dynamic shapes:
 * xnnd_method_output_info gives the upper bounds). XNND_NOT_EXECUTED (and *output_out untouched) before the first
 * successful execute and after a failed one, when the memory holds no complete result.
 * One thread per method: XNND_BUSY during that method's execute. */
xnnd_status xnnd_method_get_output(const xnnd_method* method, uint32_t index, xnnd_tensor* output_out);

/* Profiling (method created with options.profile): cumulative figures since creation.
 * Strings are borrowed from the program. Same thread-safety as execute. */
typedef struct xnnd_step_profile {
  const char* name;        /* op name, or backend name for a delegate call */
  bool is_delegate;
  uint64_t runs;
  uint64_t total_ns;       /* wall time of the step, dispatch included */
  uint64_t compute_ns;     /* delegate only: inside the backend's compute */
  uint64_t boundary_ns;    /* delegate only: layout conversion and setup */
  uint64_t own_kernel_ns;  /* delegate only: part of compute_ns in xnnd's own kernels */
} xnnd_step_profile;

/* Number of steps, 0 for NULL. Read-only: may be called from any thread. */
uint32_t xnnd_method_num_steps(const xnnd_method* method);
/* INVALID_STATE when the method was created without profiling. */
xnnd_status xnnd_method_get_step_profile(const xnnd_method* method, uint32_t step,
                                         xnnd_step_profile* profile_out);
/* What a delegate step's backend decided at init (XNNPACK: which kernel each convolution got
 * and why; backend.h `describe`), as text lines into buf (size bytes, NUL-terminated,
 * truncated to fit). "" for kernel steps and backends with nothing to say. Returns the length
 * the whole text needs (like snprintf); 0 for a NULL method or a step out of range. Read-only:
 * may be called from any thread. */
size_t xnnd_method_describe_step(const xnnd_method* method, uint32_t step, char* buf, size_t size);
/* Executes and their total wall time since creation. */
xnnd_status xnnd_method_get_execute_profile(const xnnd_method* method, uint64_t* runs_out,
                                            uint64_t* total_ns_out);

/* ---- Dynamic shapes (docs/ARCHITECTURE.md "Dynamic shapes") ----
 * A method may have up to 4 symbols, each an integer in [min, max]; a symbolic dim is an
 * affine form c + k0*s0 + ... with k >= 0 ("s0", "32*h", "2*s0", "s0-1"). Memory is planned
 * for every symbol at its max; each execute runs at the values the bound inputs give. */
typedef struct xnnd_symbol_info {
  const char* name;   /* borrowed from the program */
  int64_t min, max;
  int64_t value;      /* the value the method last ran at (max before the first execute) */
} xnnd_symbol_info;

/* Number of symbols, 0 for a static method or NULL. Read-only: any thread. */
uint32_t xnnd_method_num_symbols(const xnnd_method* method);
/* Symbol `index`. INVALID_ARGUMENT when out of range. One thread per method (value is
 * updated by execute). */
xnnd_status xnnd_method_get_symbol(const xnnd_method* method, uint32_t index,
                                   xnnd_symbol_info* info_out);
/* The smallest and largest value input `input` dim `dim` may take (equal for a static dim).
 * A dim k*s+c takes only the values c + k*s between them. Read-only: any thread. */
xnnd_status xnnd_method_input_dim_range(const xnnd_method* method, uint32_t input,
                                        uint32_t dim, int64_t* min_out, int64_t* max_out);
/* Input `input`'s type with symbolic dims as their forms, e.g. "f32[s0,3,224,224]", into buf
 * (size bytes, NUL-terminated, truncated); returns the length the whole text needs (like
 * snprintf), 0 for NULL or an index out of range. Read-only: any thread. */
size_t xnnd_method_input_type_str(const xnnd_method* method, uint32_t input, char* buf,
                                  size_t size);

/* Last error message of this method; never NULL ("" when none). Borrowed, overwritten by
 * the next failing call on the method. One thread per method. */
const char* xnnd_method_errmsg(const xnnd_method* method);

#ifdef __cplusplus
}
#endif

#endif /* XNND_RUNTIME_H */
