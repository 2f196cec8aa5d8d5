/* The memory plan of one method's non-delegated tensors: one arena, lifetime reuse. Shared by
 * the program writer (plans at lowering and stores the plan in the program) and the runtime
 * (checks a stored plan, or plans at load when a program has none), so both use one algorithm.
 * Pure: no allocation (the caller passes scratch), no limits beyond the ones passed in.
 * See docs/ARCHITECTURE.md "Memory plan". */
#ifndef XNND_SCHEMA_MEMORY_PLAN_H
#define XNND_SCHEMA_MEMORY_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "xnnd/xnnd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Every planned tensor is 64-aligned and followed by at least this many spare bytes, because
 * XNNPACK kernels may read (never write) up to XNN_EXTRA_BYTES past a tensor. Part of the
 * program format: a stored plan must respect both. */
#define XNND_TENSOR_ALIGN 64u
#define XNND_TENSOR_PADDING 16u
/* Stored offset of a value (or output) that has no arena slot. */
#define XNND_PLAN_NO_OFFSET UINT64_MAX

/* One tensor that needs arena memory while steps [first_step, last_step] run (inclusive: a
 * step's outputs never share bytes with its inputs). */
typedef struct xnnd_plan_tensor {
  uint64_t nbytes;       /* 0: placed at offset 0, occupies nothing */
  uint32_t first_step;   /* the step writing it; num_steps for a copied method output */
  uint32_t last_step;    /* the last step reading it; num_steps for a method output */
  uint32_t id;           /* the caller's (value or output index); not used by the plan */
  uint64_t offset;       /* written by xnnd_memory_plan, read by xnnd_memory_plan_check */
} xnnd_plan_tensor;

/* Scratch for both functions: one entry per tensor. */
typedef struct xnnd_plan_live {
  uint64_t offset, end;
  uint32_t last_step;
  uint32_t tensor;       /* index into the tensor array */
} xnnd_plan_live;

/* Bytes one tensor reserves in a plan: nbytes + padding rounded up to the alignment, 0 for 0.
 * nbytes must be below 2^63. */
uint64_t xnnd_plan_slot_size(uint64_t nbytes);

/* First fit by offset. Tensors come in order of non-decreasing first_step (the order steps
 * write them, then copied outputs). Before a tensor of step s is placed, slots whose last step
 * is before s are released; the tensor then takes the lowest offset gap among the live slots
 * that fits its slot size. Sets every tensor's offset and *arena_bytes_out (the end of the
 * highest slot). Returns false, with offsets unspecified, when the arena would pass
 * max_arena_bytes. nbytes must each be at most 2^48. Thread-safe. */
bool xnnd_memory_plan(xnnd_plan_tensor* tensors, uint32_t count, uint64_t max_arena_bytes,
                      xnnd_plan_live* scratch, uint64_t* arena_bytes_out);

/* Check a plan someone else made (an untrusted file): every offset is a multiple of
 * XNND_TENSOR_ALIGN (else XNND_MISALIGNED); [offset, offset + nbytes + padding) lies inside
 * [0, arena_bytes), or offset <= arena_bytes for a zero-byte tensor (else XNND_OUT_OF_RANGE);
 * no two tensors whose step intervals intersect share a byte of those ranges (else
 * XNND_OVERLAP, *other_out the tensor already there). *bad_out is the index of the offending
 * tensor. Tensors in the order xnnd_memory_plan takes them; a sweep over steps keeping the
 * live slots sorted by offset, O(count * live). Overflow-safe for any offset. Thread-safe. */
xnnd_status xnnd_memory_plan_check(const xnnd_plan_tensor* tensors, uint32_t count,
                                   uint64_t arena_bytes, xnnd_plan_live* scratch,
                                   uint32_t* bad_out, uint32_t* other_out);

#ifdef __cplusplus
}
#endif

#endif /* XNND_SCHEMA_MEMORY_PLAN_H */
