/* Internal structures of the runtime core, shared by loader.c, program.c, memory_plan.c,
 * method.c, backend_registry.c, allocator.c and program_info.c. Never installed.
 *
 * Invariant: everything reachable from an xnnd_program was verified at load time; method.c
 * and program_info.c index the decoded arrays without re-checking. */
#ifndef XNND_RUNTIME_INTERNAL_H
#define XNND_RUNTIME_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnnd/backend.h"
#include "xnnd/runtime.h"
#include "kernels/kernels.h"
#include "memory_plan.h"   /* XNND_TENSOR_ALIGN, XNND_TENSOR_PADDING */
#include "pte_format.h"
#include "dim_expr.h"     /* dynamic shapes: xnnd_dimx, xnnd_symbol */
/* Largest byte size one tensor may declare; keeps offset arithmetic far from overflow. */
#define XNND_MAX_TENSOR_BYTES ((uint64_t)1 << 48)

/* ---- allocator.c ---- */

#include "alloc.h"  /* xnnd_alloc, xnnd_free, xnnd_default_allocator */
/* count * size, or SIZE_MAX on overflow (which then fails to allocate). */
size_t xnnd_mul_size(size_t count, size_t size);
/* The byte size of a tensor of rank dims (each >= 0) and elem-byte elements into *nbytes; false
 * when elem times the product of the dims, each zero dim counted as 1, exceeds
 * XNND_MAX_TENSOR_BYTES. Counting zeros as 1 bounds every partial product of the dims a kernel
 * forms (strides, spans), empty tensors included. */
bool xnnd_tensor_bytes(const int64_t* dims, uint32_t rank, size_t elem, uint64_t* nbytes);

/* A bump pool: many small allocations released at once. Zero-initialised memory. */
typedef struct xnnd_pool_block xnnd_pool_block;
typedef struct xnnd_pool {
  const xnnd_allocator* allocator;
  xnnd_pool_block* head;
} xnnd_pool;

void xnnd_pool_init(xnnd_pool* pool, const xnnd_allocator* allocator);
/* Zeroed memory aligned to `alignment` (<= 64); NULL on failure. size 0 gives a valid
 * non-NULL pointer. */
void* xnnd_pool_alloc(xnnd_pool* pool, size_t size, size_t alignment);
void xnnd_pool_release(xnnd_pool* pool);

/* snprintf into an error buffer; returns status. buf may be NULL. */
xnnd_status xnnd_errf(char* buf, size_t size, xnnd_status status, const char* fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Writes "f32[1,3,224,224]" into buf. */
void xnnd_format_type(char* buf, size_t size, const xnnd_tensor* t);

/* ---- loader.c: the data-loader abstraction ---- */

/* The bytes of a whole program file, read-only, plus what it takes to give them back.
 * ExecuTorch-style: the rest of the runtime asks the loader for [offset, size) ranges. */
typedef struct xnnd_data_loader {
  const uint8_t* data;    /* 64-aligned */
  size_t size;
  const xnnd_allocator* allocator;
  void* mapping;          /* mmap base, or NULL */
  size_t mapping_size;
  void* owned_copy;       /* file read into memory, or aligned copy of a misaligned borrowed
                             buffer, or NULL */
} xnnd_data_loader;

/* Reads the whole regular file into a 64-aligned copy, or maps it read-only when `map`
 * (the file must then not change while the loader is open: truncation means SIGBUS). */
xnnd_status xnnd_loader_open_file(xnnd_data_loader* loader, const char* path, uint64_t max_size,
                                  bool map, const xnnd_allocator* allocator, char* msg,
                                  size_t msg_size);
/* Borrows `data` when it is 64-aligned, else copies it (constants stay usable in place). */
xnnd_status xnnd_loader_open_buffer(xnnd_data_loader* loader, const void* data, size_t size,
                                    uint64_t max_size, const xnnd_allocator* allocator,
                                    char* msg, size_t msg_size);
/* Pointer to [offset, offset + size) or NULL when the range is not inside the data. */
const uint8_t* xnnd_loader_load(const xnnd_data_loader* loader, uint64_t offset, uint64_t size);
void xnnd_loader_close(xnnd_data_loader* loader);

/* Check header magic, version, header size and the three segments (in file, aligned,
 * disjoint). On success *header_out holds the header. */
xnnd_status xnnd_pte_check_header(const xnnd_data_loader* loader, xnnd_pte_header* header_out,
                                  char* msg, size_t msg_size);

/* ---- program.c: decoded, verified program ---- */

enum {
  XNND_VALUE_INPUT = 1u,      /* a method input */
  XNND_VALUE_OUTPUT = 2u,     /* a method output */
  XNND_VALUE_DEFINED = 4u,    /* written by some step */
};

#define XNND_NO_OFFSET XNND_PLAN_NO_OFFSET

typedef struct xnnd_value_decl {
  xnnd_tensor type;       /* dtype, rank, dims; data = constant bytes or NULL */
  uint64_t nbytes;
  int32_t constant;       /* index into program constants, -1 when none */
  uint32_t flags;
  uint32_t def_step;      /* valid with XNND_VALUE_DEFINED */
  uint32_t last_use;      /* last step reading it; num_steps for outputs */
  uint64_t offset;        /* arena offset from the plan, XNND_NO_OFFSET when unplanned */
  /* Dynamic shapes: NULL for a static value (also one whose dim_exprs are all constant);
   * else rank verified forms over the method's symbols, and type.dims hold their upper
   * bounds. */
  const xnnd_dimx* dimx;
} xnnd_value_decl;

typedef enum xnnd_step_kind {
  XNND_STEP_KERNEL = 1,
  XNND_STEP_DELEGATE = 2,
} xnnd_step_kind;

typedef struct xnnd_step_decl {
  xnnd_step_kind kind;
  uint32_t index;             /* operator index (kernel) or delegate index */
  const char* op_name;        /* kernel: operator name; delegate: backend name */
  const xnnd_kernel* kernel;  /* kernel only */
  uint32_t num_inputs, num_outputs, num_attrs;
  const int32_t* inputs;      /* value ids; -1 = absent optional input (kernel only) */
  const uint32_t* outputs;
  const xnnd_kattr* attrs;
  /* Dynamic shapes: NULL when no attribute is symbolic; else num_attrs entries, each NULL
   * or attrs[a].n verified forms (attrs[a].ints hold their upper bounds). */
  const xnnd_dimx* const* attr_dimx;
} xnnd_step_decl;

typedef struct xnnd_output_decl {
  uint32_t value;
  bool copy;                  /* input or constant: copied into copy_offset on execute */
  uint64_t copy_offset;
} xnnd_output_decl;

typedef struct xnnd_method_decl {
  const char* name;
  uint32_t num_values, num_inputs, num_outputs, num_steps, num_operators;
  xnnd_value_decl* values;
  const uint32_t* inputs;
  xnnd_output_decl* outputs;
  xnnd_step_decl* steps;
  const char* const* operators;
  uint64_t arena_bytes;       /* planned arena size */
  uint64_t tensor_bytes;      /* sum of planned tensor sizes without reuse */
  bool planned_at_lowering;   /* the plan came from the program (checked), not computed at load */
  /* Dynamic shapes (docs/ARCHITECTURE.md "Dynamic shapes"): the method's symbols, 0 for a
   * static method (which then takes none of the dynamic paths). Symbol s is read at execute
   * from input solve_input[s], dim solve_dim[s], whose form is k*s+c with no other symbol. */
  uint32_t num_syms;
  xnnd_symbol syms[XNND_MAX_SYMS];
  uint32_t solve_input[XNND_MAX_SYMS], solve_dim[XNND_MAX_SYMS];
} xnnd_method_decl;

typedef struct xnnd_delegate_decl {
  const char* backend_name;
  const xnnd_backend* backend;
  const uint8_t* blob;
  uint64_t offset, size;
  const xnnd_compile_spec* specs;
  uint32_t num_specs;
} xnnd_delegate_decl;

typedef struct xnnd_constant_decl {
  const uint8_t* data;
  uint64_t offset, size;
} xnnd_constant_decl;

/* What file a program was read from (xnnd inspect says which). */
typedef enum xnnd_program_format {
  XNND_FORMAT_XNND = 1,       /* ours: "XNNDPTE" header, schema/program.fbs */
  XNND_FORMAT_EXECUTORCH = 2, /* ExecuTorch's: FlatBuffers identifier "ET12" (et_program.c) */
} xnnd_program_format;

struct xnnd_program {
  xnnd_allocator allocator;   /* copy of the caller's hook, or libc */
  xnnd_program_format format;
  xnnd_pool pool;             /* all decoded arrays */
  xnnd_data_loader loader;
  xnnd_pte_header header;
  const uint8_t* flatbuffer;
  uint32_t num_methods, num_delegates, num_constants;
  xnnd_method_decl* methods;
  xnnd_delegate_decl* delegates;
  xnnd_constant_decl* constants;
};

/* A value's type with its symbolic dims as forms, "f32[s0,3,32*h,32*h]" (program_info.c);
 * returns the length the whole text needs, like snprintf. */
size_t xnnd_format_sym_type(char* buf, size_t size, const xnnd_value_decl* v,
                            const xnnd_method_decl* m);

/* Shared by both loaders (program.c): each value written once by a step before any step
 * reads it, never an input or constant; fills flags, def_step, last_use and outputs[].copy. */
xnnd_status xnnd_method_check_dataflow(xnnd_method_decl* method, char* msg, size_t msg_size);
/* The method's planned arena plus its input bytes stay within limits->max_method_bytes. */
xnnd_status xnnd_method_check_size(const xnnd_method_decl* method,
                                   const xnnd_load_limits* limits, char* msg, size_t msg_size);

/* ---- et_program.c: ExecuTorch programs ("ET12") ---- */
#define XNND_ET_FILE_IDENTIFIER "ET12"
/* Verify the program's loader bytes as an ExecuTorch program and fill p's methods, values,
 * steps, constants and delegates like program.c does for ours (p->pool, p->allocator and
 * p->loader are set up). Limits are resolved (no zeros). */
xnnd_status xnnd_et_program_decode(xnnd_program* p, const xnnd_load_limits* limits, char* msg,
                                   size_t msg_size);

/* ---- memory_plan.c: the method's arena, through schema/memory_plan.h ---- */

/* Fill values[].offset, outputs[].copy_offset, arena_bytes and tensor_bytes with the shared
 * plan (xnnd_memory_plan over [def_step, last_use] intervals, values in definition order, then
 * copied outputs). Needs def_step / last_use / flags / copy from check_dataflow. Temporary
 * memory comes from `allocator`. */
xnnd_status xnnd_plan_memory(xnnd_method_decl* method, const xnnd_allocator* allocator,
                             char* msg, size_t msg_size);
/* Check a plan read from the program, already stored in values[].offset,
 * outputs[].copy_offset and arena_bytes: exactly the values steps write and the copied outputs
 * have an offset (XNND_INVALID_PROGRAM otherwise), then xnnd_memory_plan_check (XNND_MISALIGNED,
 * XNND_OUT_OF_RANGE, XNND_OVERLAP), with a message naming the method and value or output.
 * Fills tensor_bytes. The arena limit is the caller's. */
xnnd_status xnnd_check_memory_plan(xnnd_method_decl* method, const xnnd_allocator* allocator,
                                   char* msg, size_t msg_size);

/* ---- backend_registry.c ---- */
/* (public: xnnd_backend_register / xnnd_backend_find in xnnd/backend.h) */

/* Comma-separated names of every registered backend, for messages. */
void xnnd_backend_names(char* buf, size_t size);

#endif
