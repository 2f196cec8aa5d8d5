/* IR partition -> XNNPACK delegate blob (schema/xnnpack.fbs). One file per op lowering
 * (lower_<op>.c); the table in xnnpack_lower.c, indexed by xnnd_op, is exactly what the
 * partitioner asks: a NULL entry means XNNPACK cannot run the op.
 *
 * Inside a blob, 4-D activations are NHWC. Boundary values keep the program's NCHW meaning
 * and carry XNND_XVALUE_NCHW_BOUNDARY so the runtime backend converts them. Weights are
 * transformed (OHWI, 1HWC, ...) at lowering time and stored in the blob's constant region. */
#ifndef XNND_SERIALIZER_XNNPACK_LOWER_H
#define XNND_SERIALIZER_XNNPACK_LOWER_H

#include <stdbool.h>
#include <stddef.h>

#include "ir.h"
#include "partitioner/partitioner.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_xnn_builder xnnd_xnn_builder;  /* state of one blob under construction */

/* True when XNNPACK can run this node as it stands (dtype, rank, static shapes, attrs); else
 * writes a one-line reason ("softmax over dim 1, XNNPACK only does the last dim"). */
typedef bool (*xnnd_xnn_check_fn)(const xnnd_graph* g, const xnnd_ir_node* node,
                                  char* reason, size_t reason_size);
typedef xnnd_status (*xnnd_xnn_lower_fn)(xnnd_xnn_builder* b, const xnnd_graph* g,
                                         const xnnd_ir_node* node);

/* One row per op: the f32 check and lowering, and the same for the op's quantized form (a
 * node with i8 values, made by passes/qdq_fusion.c); check_q8 NULL: not lowered quantized. */
typedef struct xnnd_xnn_lowering {
  xnnd_xnn_check_fn check;
  xnnd_xnn_lower_fn lower;
  xnnd_xnn_check_fn check_q8;
  xnnd_xnn_lower_fn lower_q8;
} xnnd_xnn_lowering;

/* NULL when no lowering exists for op. */
const xnnd_xnn_lowering* xnnd_xnnpack_lowering(xnnd_op op);

/* Table lookup plus check; the reason names the op when there is no lowering. */
bool xnnd_xnnpack_supports(const xnnd_graph* g, xnnd_id node, char* reason, size_t reason_size);

/* The XNNPACK toolchain backend (partitioner/backend.h): supports = xnnd_xnnpack_supports,
 * lower = xnnd_xnnpack_build_blob over the partition, name XNND_XNNPACK_BACKEND_NAME. */
extern const xnnd_toolchain_backend xnnd_xnnpack_toolchain_backend;

/* Build one blob for a partition. nodes are in topological order; inputs/outputs are the
 * graph values crossing the boundary in delegate-call order (constants are never inputs:
 * the blob carries its own copy). *blob_out is malloc'd; the caller frees it. */
xnnd_status xnnd_xnnpack_build_blob(const xnnd_graph* g, const xnnd_id* nodes, uint32_t num_nodes,
                                    const xnnd_id* inputs, uint32_t num_inputs,
                                    const xnnd_id* outputs, uint32_t num_outputs,
                                    uint8_t** blob_out, size_t* blob_size_out,
                                    char* err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
