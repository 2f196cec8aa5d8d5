/* Internal to the XNNPACK lowering: the blob builder used by every lower_<op>.c, shared
 * check helpers, and the per-op check/lower functions the table in xnnpack_lower.c lists.
 *
 * Inside a blob every rank-4 value is NHWC (boundary values carry the NCHW flag and are
 * converted by the runtime). Blob value ids are dense and become XNNPACK value ids. */
#ifndef XNND_SERIALIZER_XNN_LOWER_INTERNAL_H
#define XNND_SERIALIZER_XNN_LOWER_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fb_builder.h"
#include "xnnpack_generated.h"
#include "xnnpack_lower.h"
#include "pte_format.h"
#include "dim_expr.h"

#define XNN_BLOB_MAX_DIMS 6
#define XNN_NO_VALUE UINT32_MAX

/* ---- blob builder (xnn_blob_builder.c) ---- */
xnnd_status xnn_builder_create(const xnnd_graph* g, char* err, size_t err_size, xnnd_xnn_builder** b_out);
void xnn_builder_destroy(xnnd_xnn_builder* b);
/* Declare a partition input/output (in delegate-call order). */
xnnd_status xnn_builder_add_external(xnnd_xnn_builder* b, xnnd_id value, bool is_input, uint32_t index);
/* Header + flatbuffer + constant region, in one malloc'd (64-aligned) buffer. */
xnnd_status xnn_builder_finish(xnnd_xnn_builder* b, uint8_t** blob_out, size_t* size_out);

/* Record a failure (first one wins) and return its status; message gets a "node N (op): "
 * prefix when a node is being lowered. */
xnnd_status xnn_b_fail(xnnd_xnn_builder* b, xnnd_status status, const char* fmt, ...);
xnnd_status xnn_b_status(const xnnd_xnn_builder* b);
void xnn_b_set_node(xnnd_xnn_builder* b, xnnd_id node);
fb_builder* xnn_b_fb(xnnd_xnn_builder* b);

/* Blob id of a value read by a node: a partition input, a value produced earlier in the
 * partition, a constant (copied; rank 4 transposed to NHWC), or aten.t of a 2-D constant
 * (copied transposed). XNN_NO_VALUE after recording a failure. */
uint32_t xnn_b_operand(xnnd_xnn_builder* b, xnnd_id value);
/* Blob id of a value a node writes: the external output if it is one, else a new internal. */
uint32_t xnn_b_output(xnnd_xnn_builder* b, xnnd_id value);
/* A copy of 2-D constant `value` transposed ([a,b] -> [b,a]). */
uint32_t xnn_b_constant_transposed(xnnd_xnn_builder* b, xnnd_id value);
/* A new f32 constant holding a copy of numel(dims) floats. */
uint32_t xnn_b_constant_f32(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims, const float* data);
/* A new internal f32 value. */
uint32_t xnn_b_internal_f32(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims);
/* True when value was declared a partition output. */
bool xnn_b_is_external_output(const xnnd_xnn_builder* b, xnnd_id value);
/* Append a node: `table` is the finished node table of union member `type`. */
xnnd_status xnn_b_node(xnnd_xnn_builder* b, uint8_t type, fb_ref table);

/* Blob dims of an IR value: NHWC for rank 4, else the IR dims. Returns the rank. */
uint32_t xnn_blob_dims(const xnnd_ir_value* v, uint32_t dims[XNN_BLOB_MAX_DIMS]);

/* ---- dynamic shapes (docs/ARCHITECTURE.md "Dynamic shapes") ----
 * Blob values standing for IR values (partition inputs/outputs, node outputs) take the IR
 * value's affine forms in blob order automatically; a StaticReshape to a symbolic output
 * takes the output's forms as new_shape_exprs. A lowering temporary whose dims derive from
 * IR dims gets its forms through xnn_b_set_dimx. Constants are always static. */
/* Form of IR dim d (a constant form for a static value). */
xnnd_dimx xnn_ir_dimx(const xnnd_ir_value* v, uint32_t d);
/* Some dim of v is symbolic. */
bool xnn_value_is_symbolic(const xnnd_ir_value* v);
/* Blob value id takes forms x[0..rank) in blob order (ignored when all are constant); each
 * form's upper bound must equal the value's dim. */
void xnn_b_set_dimx(xnnd_xnn_builder* b, uint32_t id, const xnnd_dimx* x);
/* Symbolic dims the node's lowering cannot express (a size computed from a symbolic dim that
 * is not affine, or one the blob holds only as a number): false with a reason starting
 * "symbolic dim: ". True for nodes without symbolic dims (lower_symbolic.c). */
bool xnn_check_symbolic(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size);

/* ---- check helpers (xnnpack_lower.c) ---- */
/* Writes the reason and returns false, so checks can `return xnn_reason(...)`. */
bool xnn_reason(char* reason, size_t reason_size, const char* fmt, ...);
/* f32, not quantized, rank <= 6, every dim in [1, UINT32_MAX]. */
bool xnn_check_value(const xnnd_graph* g, xnnd_id id, const char* what, char* reason, size_t reason_size);
bool xnn_is_const(const xnnd_graph* g, xnnd_id id);
/* When `id` is aten.t of a 2-D constant, its source constant; else XNND_NO_ID. */
xnnd_id xnn_t_source(const xnnd_graph* g, xnnd_id id);
/* Rank 4 with C == 1 or H*W == 1: NCHW and NHWC are the same bytes. */
bool xnn_nhwc_same_bytes(const xnnd_ir_value* v);
const xnnd_attr* xnn_attr(const xnnd_ir_node* node, const char* name);
int64_t xnn_attr_int(const xnnd_ir_node* node, const char* name, int64_t def);
double xnn_attr_float(const xnnd_ir_node* node, const char* name, double def);
/* Two-int attribute (stride, padding, ...): a single int is used for both, empty -> def. */
bool xnn_attr_pair(const xnnd_ir_node* node, const char* name, int64_t def, int64_t out[2]);
uint32_t xnn_node_index(const xnnd_graph* g, const xnnd_ir_node* node);

/* The node's fused output range (clamp fusion) as table T's output_min/output_max; the
 * schema defaults (-inf, +inf) are omitted. */
#define XNN_ADD_RANGE(fb, T, node)                                                        \
  do {                                                                                    \
    fb_add_f32((fb), XNND_XNNPACK_##T##_output_min, (node)->output_min, -INFINITY);       \
    fb_add_f32((fb), XNND_XNNPACK_##T##_output_max, (node)->output_max, INFINITY);        \
  } while (0)

/* Shared emitters. */
xnnd_status xnn_emit_fully_connected(xnnd_xnn_builder* b, uint32_t input, uint32_t filter, uint32_t bias,
                                     uint32_t output, float output_min, float output_max);
/* A PyTorch conv weight [Cout, Cin/g, kh, kw] (elements of elem bytes) in XNNPACK's layout:
 * depthwise [1, kh, kw, Cout], else OHWI [Cout, kh, kw, Cin/g]. dst holds the same count;
 * fdims gets XNNPACK's dims. Shared by the f32 and int8 convolution lowerings. */
void xnn_conv_filter_layout(const void* src, void* dst, size_t elem, bool depthwise, size_t cout, size_t cpg,
                            size_t kh, size_t kw, uint32_t fdims[4]);

xnnd_status xnn_emit_reshape(xnnd_xnn_builder* b, uint32_t input, uint32_t output, uint32_t rank,
                             const uint32_t* dims);

/* ---- per-op lowerings (lower_<op>.c) ---- */
#define XNN_DECLARE_LOWERING(op)                                                                      \
  bool xnn_check_##op(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size); \
  xnnd_status xnn_lower_##op(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node);
XNN_DECLARE_LOWERING(convolution)
XNN_DECLARE_LOWERING(linear)
XNN_DECLARE_LOWERING(addmm)
XNN_DECLARE_LOWERING(mm)
XNN_DECLARE_LOWERING(t)
XNN_DECLARE_LOWERING(binary)
XNN_DECLARE_LOWERING(clamp)
XNN_DECLARE_LOWERING(unary)
XNN_DECLARE_LOWERING(identity)
XNN_DECLARE_LOWERING(max_pool2d)
XNN_DECLARE_LOWERING(avg_pool2d)
XNN_DECLARE_LOWERING(global_pool)
XNN_DECLARE_LOWERING(view)
XNN_DECLARE_LOWERING(softmax)

/* ---- quantized forms (lower_quant.c) ---- */
/* A new constant of a quantized blob datatype (1-byte or, for QINT32/QCINT32, 4-byte elements);
 * channel_scales (copied; NULL for per-tensor types) has dims[channel_dim] entries. */
uint32_t xnn_b_constant_quant(xnnd_xnn_builder* b, uint8_t datatype, uint32_t rank, const uint32_t* dims,
                              const void* data, float scale, int32_t zero_point, const float* channel_scales,
                              uint32_t channel_dim);
/* A new internal value typed like IR value `like` (f32 or per-tensor quantized). */
uint32_t xnn_b_internal_like(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims, const xnnd_ir_value* like);
/* Some input or output of the node is quantized (quantize/dequantize excepted): it is
 * checked and lowered by its row's q8 columns, not the f32 ones. */
bool xnn_node_is_quantized(const xnnd_graph* g, const xnnd_ir_node* node);
/* Every quantized node: input 0 and output 0 are per-tensor i8 activations (run before the
 * row's q8 check). */
bool xnn_check_q8_operands(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size);
#define XNN_DECLARE_Q8_CHECK(op) \
  bool xnn_check_q8_##op(const xnnd_graph* g, const xnnd_ir_node* node, char* reason, size_t reason_size);
XNN_DECLARE_Q8_CHECK(convolution)
XNN_DECLARE_Q8_CHECK(linear)
XNN_DECLARE_Q8_CHECK(binary)
XNN_DECLARE_Q8_CHECK(max_pool2d)
XNN_DECLARE_Q8_CHECK(global_pool)
XNN_DECLARE_Q8_CHECK(clamp)
XNN_DECLARE_Q8_CHECK(view)
XNN_DECLARE_Q8_CHECK(permute)
xnnd_status xnn_lower_q8_convolution(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node);
xnnd_status xnn_lower_q8_global_pool(xnnd_xnn_builder* b, const xnnd_graph* g, const xnnd_ir_node* node);
XNN_DECLARE_LOWERING(quant_convert)

#endif
