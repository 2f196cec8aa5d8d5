/* Differential-test helper: run an IR graph on the runtime. The graph is serialized with
 * xnnd_program_write (a no-delegate plan unless asked to delegate), loaded with
 * xnnd_program_load_buffer and executed once on fixed-seed random inputs. Test code only. */
#ifndef XNND_TEST_RUN_GRAPH_H
#define XNND_TEST_RUN_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#define XT_MAX_OUTPUTS 8

typedef struct xt_outputs {
  uint32_t count;
  float* data[XT_MAX_OUTPUTS];  /* malloc'd copies converted to f32 */
  size_t numel[XT_MAX_OUTPUTS];
  uint32_t rank[XT_MAX_OUTPUTS];
  int64_t dims[XT_MAX_OUTPUTS][XNND_MAX_RANK];
} xt_outputs;

typedef struct xt_run_options {
  uint64_t seed;          /* inputs: f32 uniform in [-1, 1), integers small, from this seed */
  bool delegate;          /* partition for XNNPACK instead of the portable kernels only */
  bool xnnpack_kernels_only; /* delegates: XNNPACK's kernels for every node (no xnnd convolution);
                               otherwise xnnd's wherever it takes the node (own_kernels=on) */
} xt_run_options;

/* Runs g (borrowed, not modified). On failure writes err and returns the status. */
xnnd_status xt_run_graph(const xnnd_graph* g, const xt_run_options* options, xt_outputs* out,
                         char* err, size_t err_size);
void xt_outputs_free(xt_outputs* out);

/* max |a - b| / max |a| over all outputs (max |a| floored at 1e-30); a negative value when
 * the counts or shapes differ. */
double xt_outputs_rel_diff(const xt_outputs* a, const xt_outputs* b);

#endif
