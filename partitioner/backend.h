/* The toolchain side of a delegate backend: which nodes it can run and how a partition
 * becomes its blob. `xnnd compile` / `xnnd lower` pick one and hand it to the partitioner
 * (which asks `supports`), and through the plan to the program writer (which calls `lower`
 * and records `name`) and the report (which prints `display_name`). The partitioner knows
 * no backend beyond this interface; serializer/xnnpack provides the XNNPACK one. */
#ifndef XNND_PARTITIONER_BACKEND_H
#define XNND_PARTITIONER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

#ifdef __cplusplus
extern "C" {
#endif

struct xnnd_partition;

typedef struct xnnd_toolchain_backend {
  /* The runtime backend's registered name, written into each program delegate. */
  const char* name;
  /* Short name for reports ("XNNPACK"). */
  const char* display_name;
  /* True when the backend can run node as it stands; else writes a one-line reason naming
   * the op. Must be pure: the partitioner may ask once per node in any order. */
  bool (*supports)(const xnnd_graph* g, xnnd_id node, char* reason, size_t reason_size);
  /* One partition (nodes in topological order; inputs/outputs in delegate-call order) ->
   * blob. *blob_out is malloc'd and owned by the caller. On failure err names the node. */
  xnnd_status (*lower)(const xnnd_graph* g, const struct xnnd_partition* part, uint8_t** blob_out,
                       size_t* blob_size_out, char* err, size_t err_size);
} xnnd_toolchain_backend;

#ifdef __cplusplus
}
#endif

#endif
