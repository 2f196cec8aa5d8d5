/* Q/DQ helpers shared by the quantization passes (passes/qdq_*.c) and the toolchain.
 *
 * Vocabulary: a "dq" is a live xnnd.dequantize, a "q" a live xnnd.quantize. Static per-tensor
 * means a scale attribute and axis -1; the i8 side of such a node carries the same
 * parameters in its type (checked by the verifier). A "quantized node" is any other node with
 * a quantized input or output: the qdq passes make them and only XNNPACK runs them, so a
 * quantized node that ends up outside every partition is expanded back into
 * dequantize -> f32 op -> quantize (xnnd_qdq_expand), which the portable kernels run. */
#ifndef XNND_PASSES_QDQ_H
#define XNND_PASSES_QDQ_H

#include "passes/pass.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Live xnnd.quantize / xnnd.dequantize with static per-tensor parameters and an i8 quantized
 * side that carries them. */
bool xnnd_qdq_is_static_per_tensor(const xnnd_graph* g, xnnd_id node);
/* Live producer of v with op `op`, else XNND_NO_ID. */
xnnd_id xnnd_qdq_producer(const xnnd_graph* g, xnnd_id v, xnnd_op op);
/* Two per-tensor quantized values with the same scale and zero point. */
bool xnnd_qdq_same_params(const xnnd_ir_value* a, const xnnd_ir_value* b);
/* Not a quantize/dequantize, and some input or output carries quantization. */
bool xnnd_qdq_node_is_quantized(const xnnd_graph* g, xnnd_id node);

/* Rewrite quantized node `node` as dequantize(each quantized input) -> the f32 op (same attrs
 * and output range) -> quantize into its original output. i32 biases become f32 constants.
 * Marks the node dead; the caller compacts. */
xnnd_status xnnd_qdq_expand(xnnd_graph* g, xnnd_id node);
/* xnnd_qdq_expand on every quantized node with node_part[n] < 0 (node_part NULL: every one);
 * *expanded counts them. node_part is indexed like g->nodes (a partition plan's). */
xnnd_status xnnd_qdq_expand_undelegated(xnnd_graph* g, const int32_t* node_part, uint32_t* expanded);

#ifdef __cplusplus
}
#endif

#endif
