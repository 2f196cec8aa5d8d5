/* Private helpers of the portable kernels: operand and attribute checks whose failures write
 * "<op>: <operand> <problem>" into the caller's buffer, plus small index arithmetic.
 * Attributes absent from the program or of kind NONE take the op table's default. */
#ifndef XNND_KERNEL_UTIL_H
#define XNND_KERNEL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernels.h"

/* Where a prepare() reports: the op name and the caller's message buffer. */
typedef struct kcheck {
  const char* op;
  const xnnd_kernel_args* args;
  char* err;
  size_t err_size;
} kcheck;

/* Writes "<op>: <formatted message>" and returns status. */
xnnd_status kfail(const kcheck* c, xnnd_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* For run(): writes "<op>: <formatted message>" into args->run_err (when set) and returns
 * status. Data-dependent failures only (an index out of range); shapes are prepare()'s. */
xnnd_status krun_fail(const xnnd_kernel_args* args, const char* op, xnnd_status status,
                      const char* fmt, ...) __attribute__((format(printf, 4, 5)));

/* Checks num_inputs in [min_in, max_in] and num_outputs >= min_out. */
xnnd_status kcheck_arity(const kcheck* c, uint32_t min_in, uint32_t max_in, uint32_t min_out);
/* inputs[i], or NULL when absent (past num_inputs or a NULL entry). */
const xnnd_tensor* kinput(const kcheck* c, uint32_t i);
const xnnd_tensor* koutput(const kcheck* c, uint32_t i);

/* Present, rank <= XNND_MAX_RANK, dims >= 0; dtype (-1: any) and rank (-1: any) as given. */
xnnd_status kcheck_tensor(const kcheck* c, const xnnd_tensor* t, const char* what, int dtype,
                          int rank);
/* t has exactly this shape (rank and dims). */
xnnd_status kcheck_shape(const kcheck* c, const xnnd_tensor* t, const char* what, uint32_t rank,
                         const int64_t* dims);
/* out is present and has in's dtype and shape. */
xnnd_status kcheck_same(const kcheck* c, const xnnd_tensor* out, const char* what,
                        const xnnd_tensor* in);

/* Attribute getters. *_opt variants report presence; others fall back to def. */
xnnd_status kattr_int(const kcheck* c, const char* name, int64_t def, int64_t* out);
xnnd_status kattr_int_opt(const kcheck* c, const char* name, bool* present, int64_t* out);
xnnd_status kattr_float(const kcheck* c, const char* name, double def, double* out);
xnnd_status kattr_float_opt(const kcheck* c, const char* name, bool* present, double* out);
xnnd_status kattr_bool(const kcheck* c, const char* name, bool def, bool* out);
/* An int list of at most max_n entries; def NULL makes it required. */
xnnd_status kattr_ints(const kcheck* c, const char* name, const int64_t* def, uint32_t def_n,
                       uint32_t max_n, int64_t* out, uint32_t* n_out);
/* A per-spatial-dim list of exactly n entries (one entry is repeated); def repeats when absent.
 * required makes absence an error; allow_empty returns *empty = true for []. */
xnnd_status kattr_spatial(const kcheck* c, const char* name, uint32_t n, int64_t def,
                          bool required, int64_t* out, bool* empty);

/* Wraps a possibly negative dim into [0, rank) (rank 0 accepts -1 and 0 as 0). */
xnnd_status kwrap_dim(const kcheck* c, const char* what, int64_t dim, uint32_t rank,
                      uint32_t* out);

/* "[1,2,3]" into buf. */
const char* kshape_str(char* buf, size_t size, uint32_t rank, const int64_t* dims);

int64_t kfloor_div(int64_t a, int64_t b);
static inline int64_t kceil_div(int64_t a, int64_t b) { return -kfloor_div(-a, b); }
static inline int64_t kmin64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t kmax64(int64_t a, int64_t b) { return a > b ? a : b; }

/* PyTorch's pooling_output_shape: windows along one dim of size in. */
int64_t kpool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                       bool ceil_mode);
/* avg_pool's count_include_pad (default true) and divisor_override (*divisor 0 when absent,
 * an error when given as 0). */
xnnd_status kattr_avg_pool(const kcheck* c, bool* count_include_pad, int64_t* divisor);

/* A reduction's (merged) dims split, in order, into kept dims (kd, ks: sizes and input strides,
 * *nk of them) and reduced dims (rd, rs, *nr of them); reduced[i] != 0 marks a reduced dim. */
void ksplit_reduced(uint32_t rank, const uint8_t* reduced, const int64_t* dims,
                    const int64_t* strides, int64_t* kd, int64_t* ks, uint32_t* nk, int64_t* rd,
                    int64_t* rs, uint32_t* nr);

size_t knumel(const xnnd_tensor* t);

/* dst (contiguous, shape dims[rank]) = src[offset + sum(i_d * strides[d])], in elements of
 * elem bytes (1, 2, 4 or 8). The one strided copy behind permute, slice and select. */
xnnd_status kstrided_gather(const void* src, void* dst, size_t elem, uint32_t rank, const int64_t* dims,
                            const int64_t* strides, int64_t offset);

/* Numpy broadcasting of up to KBCAST_MAX_OPERANDS operands (rank-0 included) to out: neighbouring
 * dims along which every operand broadcasts alike are merged and size-1 dims dropped, so the
 * innermost plan dim is as long as possible. Checks that the operands broadcast and that out
 * has the broadcast shape; names[k] names operand k in messages. */
#define KBCAST_MAX_OPERANDS 3
typedef struct kbcast {
  uint32_t rank;                  /* >= 1 (a scalar is one dim of 1) */
  uint8_t varies[XNND_MAX_RANK];  /* bit k: operand k advances along this dim */
  int64_t dims[XNND_MAX_RANK];
} kbcast;
xnnd_status kbcast_plan(const kcheck* c, uint32_t n, const xnnd_tensor* const* operands,
                        const char* const* names, const xnnd_tensor* out, kbcast* plan);
/* Element strides of operand k along the plan's dims, 0 where it broadcasts. */
void kbcast_strides(const kbcast* plan, uint32_t k, int64_t* strides);

#define KPARAMS_FIT(type) \
  _Static_assert(sizeof(type) <= XNND_KERNEL_PARAMS_SIZE, #type " exceeds kernel params")

/* Entry points named in kernels.c's table; defined in kernel_<family>.c. */
#define KPREPARE(name)                                                                       \
  xnnd_status xnnd_kprepare_##name(const xnnd_kernel_args* args, void* params, char* err, \
                                   size_t err_size)
#define KRUN(name) xnnd_status xnnd_krun_##name(const xnnd_kernel_args* args, const void* params)

#endif
