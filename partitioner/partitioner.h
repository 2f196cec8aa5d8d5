/* Partitioner: decides which nodes run inside XNNPACK and groups them into convex
 * partitions (no path leaves a partition and comes back). Records, for every node, why it
 * landed where it did. */
#ifndef XNND_PARTITIONER_H
#define XNND_PARTITIONER_H

#include <stdbool.h>

#include "ir.h"
#include "partitioner/backend.h"

#ifdef __cplusplus
extern "C" {
#endif

#define XNND_REASON_SIZE 160

typedef struct xnnd_partition {
  xnnd_id* nodes;        /* topological order */
  uint32_t num_nodes;
  xnnd_id* inputs;       /* non-constant values read inside, produced outside; by id */
  uint32_t num_inputs;
  xnnd_id* outputs;      /* values produced inside, used outside or graph outputs; by id */
  uint32_t num_outputs;
} xnnd_partition;

typedef struct xnnd_partition_options {
  const xnnd_toolchain_backend* backend; /* borrowed; must outlive the plan. NULL: no partitions */
  bool no_delegate;              /* no partitions at all */
  const char* const* exclude_ops;/* op names never delegated */
  uint32_t num_exclude_ops;
  bool per_op;                   /* every delegated node in its own partition (debugging) */
  uint32_t min_partition_size;   /* smaller partitions fall back to portable kernels */
} xnnd_partition_options;

typedef struct xnnd_partition_plan {
  const xnnd_toolchain_backend* backend; /* the backend the partitions are for (options->backend) */
  xnnd_partition* parts;
  uint32_t num_parts;
  int32_t* node_part;            /* per node: partition index or -1 */
  char (*reasons)[XNND_REASON_SIZE]; /* per node: why not delegated ("" when delegated) */
  uint32_t num_nodes;
  /* Elementary steps the planning took (node and edge visits, set elements merged): what
   * tests/test_partitioner.c checks grows linearly with the graph. */
  uint64_t work;
} xnnd_partition_plan;

/* Plan partitions over a compacted graph for options->backend (options NULL or without a
 * backend: every node stays on the portable kernels). Free with xnnd_partition_plan_free. */
xnnd_status xnnd_partition_graph(const xnnd_graph* g, const xnnd_partition_options* options,
                           xnnd_partition_plan* plan_out);
void xnnd_partition_plan_free(xnnd_partition_plan* plan);

#ifdef __cplusplus
}
#endif

#endif
