/* Bundled programs: a .pte together with test cases (inputs, expected outputs and per-output
 * tolerances), so an app's own test can check that this runtime on this machine reproduces
 * the reference outputs. Part of libxnnd_runtime.
 *
 * File format (little endian), verified completely on load like a program:
 *
 *   offset size field
 *        0    8 magic "XNDBNDL\0"
 *        8    4 version (1 or 2)
 *       12    4 header size (64)
 *       16    8 program offset (64-aligned, >= 64)      the .pte bytes, used in place
 *       24    8 program size
 *       32    8 cases offset (8-aligned, after the program)
 *       40    8 cases size (the case records fill it exactly)
 *       48    4 number of cases
 *       52    4 zero
 *       56    8 version 2: checksum, FNV-1a 64 (offset basis 0xcbf29ce484222325, prime
 *                0x100000001b3) over every byte of the bundle, these 8 read as zero
 *                (xnnd_bundle_checksum); version 1: zero
 *
 * Version 2 is checked first: any single changed byte anywhere (the program, inputs,
 * expected outputs, tolerances, padding) fails the load with XNND_MALFORMED, so a corrupted
 * bundle cannot verify against altered data. Version 1 has no checksum: its structure is
 * verified, but a changed weight, input or expected value, a loosened tolerance or a padding
 * byte inside the program goes unnoticed unless it changes the comparison (see
 * tests/test_corruption.c, test_bundle_byte_flips, for which bytes those are).
 *
 * A case is u32 num_inputs, u32 num_outputs, then num_inputs input tensors, then num_outputs
 * expected tensors. A tensor is u32 dtype (xnnd_dtype), u32 rank (<= XNND_MAX_RANK),
 * i64 dims[rank] (>= 0), for expected tensors f64 atol and f64 rtol (finite, >= 0), u64
 * nbytes (== numel * dtype size), the bytes, zero padding to a multiple of 8.
 *
 * An output element passes when |actual - expected| <= atol + rtol * |expected| (NumPy's
 * allclose); NaN passes only against NaN. */
#ifndef XNND_BUNDLE_H
#define XNND_BUNDLE_H

#include <stdbool.h>

#include "xnnd/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_bundle xnnd_bundle;

#define XNND_BUNDLE_MAX_CASES 4096u
#define XNND_BUNDLE_MAX_TENSORS 64u   /* inputs or outputs per case */

/* The version 2 checksum of `size` bytes (bytes 56..63 read as zero): what a writer stores
 * at offset 56. Thread-safe. */
uint64_t xnnd_bundle_checksum(const void* data, size_t size);

/* Read (or map, options->map_file) and verify a bundle file, then load its program (options as for
 * xnnd_program_load_file; limits apply to the program, and max_file_size to the bundle).
 * On failure *bundle_out is NULL and err (optional) names the case and tensor. Thread-safe. */
xnnd_status xnnd_bundle_load_file(const char* path, const xnnd_load_options* options,
                                  xnnd_bundle** bundle_out, xnnd_error* err);
/* Same from memory. The buffer is borrowed and must outlive the bundle; when it is not
 * 64-byte aligned it is copied. Thread-safe. */
xnnd_status xnnd_bundle_load_buffer(const void* data, size_t size, const xnnd_load_options* options,
                                    xnnd_bundle** bundle_out, xnnd_error* err);
/* NULL is a no-op. Methods created from the bundle's program must be destroyed first. */
void xnnd_bundle_destroy(xnnd_bundle* bundle);

/* The embedded program; borrowed, valid while the bundle lives. Thread-safe. */
xnnd_program* xnnd_bundle_program(const xnnd_bundle* bundle);
/* 0 for NULL. Thread-safe. */
uint32_t xnnd_bundle_num_cases(const xnnd_bundle* bundle);
uint32_t xnnd_bundle_case_num_inputs(const xnnd_bundle* bundle, uint32_t case_index);
uint32_t xnnd_bundle_case_num_outputs(const xnnd_bundle* bundle, uint32_t case_index);
/* Views into the bundle's bytes (data borrowed, read-only, valid while the bundle lives).
 * INVALID_ARGUMENT for an index out of range. Thread-safe. */
xnnd_status xnnd_bundle_case_input(const xnnd_bundle* bundle, uint32_t case_index,
                                   uint32_t index, xnnd_tensor* input_out);
xnnd_status xnnd_bundle_case_expected(const xnnd_bundle* bundle, uint32_t case_index,
                                      uint32_t index, xnnd_tensor* expected_out,
                                      double* atol_out, double* rtol_out);

/* Error statistics of one output, over one case or (xnnd_bundle_verify) all cases. */
typedef struct xnnd_bundle_output_stats {
  double max_abs_error;       /* max |actual - expected|; inf when a NaN is unmatched */
  double max_rel_error;       /* max |actual - expected| / |expected| over expected != 0 */
  uint64_t num_over_tolerance;
  uint64_t numel;             /* elements compared */
  double atol, rtol;          /* the tolerances (the loosest seen, over several cases) */
} xnnd_bundle_output_stats;

/* Compare one actual output with an expected tensor: dtype and shape must match
 * (DTYPE_MISMATCH / SHAPE_MISMATCH), then fills *stats. Thread-safe. */
xnnd_status xnnd_bundle_compare(const xnnd_tensor* actual, const xnnd_tensor* expected,
                                double atol, double rtol, xnnd_bundle_output_stats* stats);

/* Run case `case_index` on `method` (created from the bundle's program): bind its inputs,
 * execute, compare every output. stats (capacity entries, >= the case's outputs) receives
 * one entry per output; *passed_out is true when no element is over tolerance. Returns a
 * non-OK status only when the case cannot be run (input count/shape, execute failure,
 * output dtype/shape); the message goes to err. One thread per method. */
xnnd_status xnnd_bundle_run_case(const xnnd_bundle* bundle, xnnd_method* method,
                                 uint32_t case_index, xnnd_bundle_output_stats* stats,
                                 uint32_t capacity, bool* passed_out, xnnd_error* err);

/* Create method `method_name` (NULL: the program's first) with `options` (may be NULL), run
 * every case, and return per-output statistics aggregated over the cases (max errors, summed
 * counts) in stats[0 .. *num_outputs_out). Every case must have the method's output count.
 * *passed_out is true when every case passed. Thread-safe (uses its own method). */
xnnd_status xnnd_bundle_verify(const xnnd_bundle* bundle, const char* method_name,
                               const xnnd_method_options* options,
                               xnnd_bundle_output_stats* stats, uint32_t capacity,
                               uint32_t* num_outputs_out, bool* passed_out, xnnd_error* err);

#ifdef __cplusplus
}
#endif

#endif /* XNND_BUNDLE_H */
