/* The XNNPACK lowering table, indexed by xnnd_op and generated from ops.def so that adding
 * an op breaks the build until this file says how (or why not) XNNPACK runs it; the check
 * helpers every lower_<op>.c shares; MAC counts; and xnnd_xnnpack_build_blob. */
#include <math.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "xnn_lower_internal.h"

/* Lowerings added with the operator-coverage work (lower_activation.c, lower_pad.c,
 * lower_permute.c, lower_resize.c). */
XNN_DECLARE_LOWERING(activation)
XNN_DECLARE_LOWERING(adaptive_avg_pool2d)
XNN_DECLARE_LOWERING(constant_pad_nd)
XNN_DECLARE_LOWERING(permute)
XNN_DECLARE_LOWERING(upsample_bilinear2d)

/* L(check, lower): f32 lowering by lower_<op>.c.  LQ(check, lower, check_q8, lower_q8): also
 * lowered quantized (lower_quant.c).  N(reason): no lowering, and why. */
#define XNN_ROW_CONVOLUTION LQ(xnn_check_convolution, xnn_lower_convolution, xnn_check_q8_convolution, xnn_lower_q8_convolution)
#define XNN_ROW_NATIVE_BATCH_NORM N("batch norm is folded into the convolution by passes; XNNPACK has no batch norm node")
#define XNN_ROW_ADDMM L(xnn_check_addmm, xnn_lower_addmm)
#define XNN_ROW_MM L(xnn_check_mm, xnn_lower_mm)
#define XNN_ROW_BMM N("this XNNPACK has no batched matrix multiply node")
#define XNN_ROW_LINEAR LQ(xnn_check_linear, xnn_lower_linear, xnn_check_q8_linear, xnn_lower_linear)
#define XNN_ROW_T L(xnn_check_t, xnn_lower_t)
#define XNN_ROW_PERMUTE LQ(xnn_check_permute, xnn_lower_permute, xnn_check_q8_permute, xnn_lower_permute)
#define XNN_ROW_VIEW LQ(xnn_check_view, xnn_lower_view, xnn_check_q8_view, xnn_lower_view)
#define XNN_ROW_RELU LQ(xnn_check_clamp, xnn_lower_clamp, xnn_check_q8_clamp, xnn_lower_clamp)
#define XNN_ROW_HARDTANH LQ(xnn_check_clamp, xnn_lower_clamp, xnn_check_q8_clamp, xnn_lower_clamp)
#define XNN_ROW_CLAMP LQ(xnn_check_clamp, xnn_lower_clamp, xnn_check_q8_clamp, xnn_lower_clamp)
#define XNN_ROW_SIGMOID L(xnn_check_unary, xnn_lower_unary)
#define XNN_ROW_TANH N("this XNNPACK has no tanh node")
#define XNN_ROW_HARDSWISH L(xnn_check_unary, xnn_lower_unary)
#define XNN_ROW_HARDSIGMOID L(xnn_check_activation, xnn_lower_activation)
#define XNN_ROW_SILU L(xnn_check_activation, xnn_lower_activation)
#define XNN_ROW_GELU N("this XNNPACK has no gelu node")
#define XNN_ROW_CLONE L(xnn_check_identity, xnn_lower_identity)
#define XNN_ROW_DROPOUT L(xnn_check_identity, xnn_lower_identity)
#define XNN_ROW_ADD LQ(xnn_check_binary, xnn_lower_binary, xnn_check_q8_binary, xnn_lower_binary)
#define XNN_ROW_SUB LQ(xnn_check_binary, xnn_lower_binary, xnn_check_q8_binary, xnn_lower_binary)
#define XNN_ROW_MUL LQ(xnn_check_binary, xnn_lower_binary, xnn_check_q8_binary, xnn_lower_binary)
#define XNN_ROW_DIV L(xnn_check_binary, xnn_lower_binary)
#define XNN_ROW_MEAN LQ(xnn_check_global_pool, xnn_lower_global_pool, xnn_check_q8_global_pool, xnn_lower_q8_global_pool)
#define XNN_ROW_MAX_POOL2D_WITH_INDICES L(xnn_check_max_pool2d, xnn_lower_max_pool2d)
#define XNN_ROW_MAX_POOL2D LQ(xnn_check_max_pool2d, xnn_lower_max_pool2d, xnn_check_q8_max_pool2d, xnn_lower_max_pool2d)
#define XNN_ROW_AVG_POOL2D L(xnn_check_avg_pool2d, xnn_lower_avg_pool2d)
#define XNN_ROW_ADAPTIVE_AVG_POOL2D LQ(xnn_check_adaptive_avg_pool2d, xnn_lower_adaptive_avg_pool2d, xnn_check_q8_global_pool, xnn_lower_q8_global_pool)
#define XNN_ROW_SOFTMAX L(xnn_check_softmax, xnn_lower_softmax)
#define XNN_ROW_CAT N("this XNNPACK has no concatenate node")
#define XNN_ROW_SLICE N("this XNNPACK has no slice node")
#define XNN_ROW_SELECT N("this XNNPACK has no slice node")
#define XNN_ROW_EXPAND N("this XNNPACK has no broadcast/tile node")
#define XNN_ROW_CONSTANT_PAD_ND L(xnn_check_constant_pad_nd, xnn_lower_constant_pad_nd)
#define XNN_ROW_LOG_SOFTMAX N("this XNNPACK has no log-softmax node")
#define XNN_ROW_NATIVE_LAYER_NORM N("this XNNPACK has no layer norm node")
#define XNN_ROW_BADDBMM N("this XNNPACK has no batched matrix multiply node")
#define XNN_ROW_UPSAMPLE_NEAREST2D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_BILINEAR2D L(xnn_check_upsample_bilinear2d, xnn_lower_upsample_bilinear2d)
#define XNN_ROW_QUANTIZE L(xnn_check_quant_convert, xnn_lower_quant_convert)  /* lower_quant.c */
#define XNN_ROW_DEQUANTIZE L(xnn_check_quant_convert, xnn_lower_quant_convert)
#define XNN_ROW_ROLL N("this XNNPACK has no roll (slice/concatenate) node")
#define XNN_ROW_NORM N("this XNNPACK has no reduction node other than global average pooling")
/* >>> math */
XNN_DECLARE_LOWERING(math) /* lower_math.c */
#define XNN_ROW_ABS L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_CEIL L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_FLOOR L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_NEG L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_ROUND L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_SQRT L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_ELU L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_LEAKY_RELU L(xnn_check_math, xnn_lower_math)
#define XNN_ROW_SIGN N("this XNNPACK has no sign node")
#define XNN_ROW_TRUNC N("this XNNPACK has no truncation node")
#define XNN_ROW_ACOS N("this XNNPACK has no acos node")
#define XNN_ROW_ACOSH N("this XNNPACK has no acosh node")
#define XNN_ROW_ASIN N("this XNNPACK has no asin node")
#define XNN_ROW_ASINH N("this XNNPACK has no asinh node")
#define XNN_ROW_ATAN N("this XNNPACK has no atan node")
#define XNN_ROW_ATANH N("this XNNPACK has no atanh node")
#define XNN_ROW_COS N("this XNNPACK has no cosine node")
#define XNN_ROW_COSH N("this XNNPACK has no cosh node")
#define XNN_ROW_ERF N("this XNNPACK has no erf node")
#define XNN_ROW_EXP N("this XNNPACK has no exp node")
#define XNN_ROW_EXPM1 N("this XNNPACK has no expm1 node")
#define XNN_ROW_LOG N("this XNNPACK has no log node")
#define XNN_ROW_LOG10 N("this XNNPACK has no log10 node")
#define XNN_ROW_LOG1P N("this XNNPACK has no log1p node")
#define XNN_ROW_LOG2 N("this XNNPACK has no log2 node")
#define XNN_ROW_RECIPROCAL N("this XNNPACK has no reciprocal node")
#define XNN_ROW_RSQRT N("this XNNPACK has no reciprocal square root node")
#define XNN_ROW_SIN N("this XNNPACK has no sine node")
#define XNN_ROW_SINH N("this XNNPACK has no sinh node")
#define XNN_ROW_TAN N("this XNNPACK has no tan node")
#define XNN_ROW_ISNAN N("this XNNPACK has no isnan node")
#define XNN_ROW_ISINF N("this XNNPACK has no isinf node")
#define XNN_ROW_LOGICAL_NOT N("this XNNPACK has no logical not node")
#define XNN_ROW_BITWISE_NOT N("this XNNPACK has no bitwise not node")
#define XNN_ROW_TO_COPY N("this XNNPACK converts only between f32 and quantized int8 (Convert)")
#define XNN_ROW_COPY N("this XNNPACK has no broadcast/convert copy node")
/* <<< math */
/* >>> binary */
#define XNN_ROW_DIV_MODE N("this XNNPACK has no floor/trunc division node")
#define XNN_ROW_ATAN2 N("this XNNPACK has no atan2 node")
#define XNN_ROW_FMOD N("this XNNPACK has no fmod node")
#define XNN_ROW_REMAINDER N("this XNNPACK has no remainder node")
#define XNN_ROW_POW N("this XNNPACK has no pow node")
#define XNN_ROW_MAXIMUM L(xnn_check_binary, xnn_lower_binary)  /* Maximum2 */
#define XNN_ROW_MINIMUM L(xnn_check_binary, xnn_lower_binary)  /* Minimum2 */
#define XNN_ROW_BITWISE_AND N("this XNNPACK has no bitwise and node")
#define XNN_ROW_BITWISE_OR N("this XNNPACK has no bitwise or node")
#define XNN_ROW_BITWISE_XOR N("this XNNPACK has no bitwise xor node")
#define XNN_ROW_LOGICAL_AND N("this XNNPACK has no logical and node")
#define XNN_ROW_LOGICAL_OR N("this XNNPACK has no logical or node")
#define XNN_ROW_LOGICAL_XOR N("this XNNPACK has no logical xor node")
#define XNN_ROW_EQ N("this XNNPACK has no comparison node")
#define XNN_ROW_NE N("this XNNPACK has no comparison node")
#define XNN_ROW_LT N("this XNNPACK has no comparison node")
#define XNN_ROW_LE N("this XNNPACK has no comparison node")
#define XNN_ROW_GT N("this XNNPACK has no comparison node")
#define XNN_ROW_GE N("this XNNPACK has no comparison node")
#define XNN_ROW_WHERE N("this XNNPACK has no select (where) node")
#define XNN_ROW_CLAMP_TENSOR N("this XNNPACK has no clamp node with tensor bounds")
/* <<< binary */
/* >>> reduce */
#define XNN_ROW_SUM N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_PROD N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_AMAX N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_AMIN N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_ANY N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_VAR_MEAN N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_VAR N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_ARGMAX N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_ARGMIN N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_MAX_DIM N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_MIN_DIM N("XNNPACK 2022-02-16 has no reduction node besides global average pooling")
#define XNN_ROW_CUMSUM N("XNNPACK 2022-02-16 has no scan node")
#define XNN_ROW_CUMPROD N("XNNPACK 2022-02-16 has no scan node")
#define XNN_ROW_SORT N("XNNPACK 2022-02-16 has no sort node")
#define XNN_ROW_TOPK N("XNNPACK 2022-02-16 has no top-k node")
#define XNN_ROW_NATIVE_GROUP_NORM N("XNNPACK 2022-02-16 has no normalization node")
#define XNN_ROW_NATIVE_BATCH_NORM_LEGIT N("XNNPACK 2022-02-16 has no normalization node (batch statistics)")
#define XNN_ROW_CDIST N("XNNPACK 2022-02-16 has no distance node")
#define XNN_ROW_PDIST N("XNNPACK 2022-02-16 has no distance node")
/* <<< reduce */
/* >>> index */
#define XNN_ROW_INDEX_SELECT N("this XNNPACK has no gather node")
#define XNN_ROW_GATHER N("this XNNPACK has no gather node")
#define XNN_ROW_INDEX N("this XNNPACK has no gather node")
#define XNN_ROW_INDEX_PUT N("this XNNPACK has no scatter node")
#define XNN_ROW_EMBEDDING_BAG N("this XNNPACK has no gather or segment-reduce node")
#define XNN_ROW_SCATTER N("this XNNPACK has no scatter node")
#define XNN_ROW_SCATTER_REDUCE N("this XNNPACK has no scatter node")
#define XNN_ROW_SELECT_SCATTER N("this XNNPACK has no scatter or strided copy node")
#define XNN_ROW_SLICE_SCATTER N("this XNNPACK has no scatter or strided copy node")
#define XNN_ROW_MASKED_SCATTER N("this XNNPACK has no scatter node")
/* <<< index */
/* >>> shape */
#define XNN_ROW_FLIP N("this XNNPACK has no flip/reverse node")
#define XNN_ROW_REPEAT N("this XNNPACK has no tile/broadcast node")
#define XNN_ROW_REFLECTION_PAD1D N("this XNNPACK pads with a constant only (no reflection padding)")
#define XNN_ROW_REFLECTION_PAD2D N("this XNNPACK pads with a constant only (no reflection padding)")
#define XNN_ROW_REFLECTION_PAD3D N("this XNNPACK pads with a constant only (no reflection padding)")
#define XNN_ROW_REPLICATION_PAD1D N("this XNNPACK pads with a constant only (no replication padding)")
#define XNN_ROW_REPLICATION_PAD2D N("this XNNPACK pads with a constant only (no replication padding)")
#define XNN_ROW_REPLICATION_PAD3D N("this XNNPACK pads with a constant only (no replication padding)")
#define XNN_ROW_DIAGONAL N("this XNNPACK has no strided gather (slice) node")
#define XNN_ROW_AS_STRIDED N("this XNNPACK has no strided gather (slice) node")
/* <<< shape */
/* >>> spatial */
#define XNN_ROW_AVG_POOL3D N("this XNNPACK has no 3-D pooling node")
#define XNN_ROW_MAX_POOL3D_WITH_INDICES N("this XNNPACK has no 3-D pooling node")
#define XNN_ROW_ADAPTIVE_AVG_POOL3D N("this XNNPACK has no 3-D pooling node")
#define XNN_ROW_ADAPTIVE_MAX_POOL2D N("this XNNPACK has no adaptive max pooling node")
#define XNN_ROW_ADAPTIVE_MAX_POOL3D N("this XNNPACK has no 3-D pooling node")
#define XNN_ROW_GRID_SAMPLER_2D N("this XNNPACK has no grid-sample node")
#define XNN_ROW_GRID_SAMPLER_3D N("this XNNPACK has no grid-sample node")
#define XNN_ROW_COL2IM N("this XNNPACK has no col2im (fold) node")
#define XNN_ROW_UPSAMPLE_NEAREST1D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_NEAREST3D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_NEAREST_EXACT1D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_NEAREST_EXACT2D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_NEAREST_EXACT3D N("this XNNPACK has no nearest-neighbour resize node")
#define XNN_ROW_UPSAMPLE_LINEAR1D N("this XNNPACK resizes 2-D (NHWC) only")
#define XNN_ROW_UPSAMPLE_TRILINEAR3D N("this XNNPACK resizes 2-D (NHWC) only")
#define XNN_ROW_UPSAMPLE_BICUBIC2D N("this XNNPACK has no bicubic resize node")
/* <<< spatial */

#define L(check, lower) {check, lower, NULL, NULL}
#define LQ(check, lower, check_q8, lower_q8) {check, lower, check_q8, lower_q8}
#define N(reason) {NULL, NULL, NULL, NULL}
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) [XNND_OP_##id] = XNN_ROW_##id,
static const xnnd_xnn_lowering k_lowerings[] = {
#include "ops.def"
};
#undef XNND_OP
#undef L
#undef LQ
#undef N
static_assert(sizeof(k_lowerings) / sizeof(k_lowerings[0]) == XNND_OP_COUNT,
              "every op in ops.def needs a row in the XNNPACK lowering table");

#define L(check, lower) NULL
#define LQ(check, lower, check_q8, lower_q8) NULL
#define N(reason) reason
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) [XNND_OP_##id] = XNN_ROW_##id,
static const char* const k_unsupported_reason[] = {
#include "ops.def"
};
#undef XNND_OP
#undef L
#undef LQ
#undef N
static_assert(sizeof(k_unsupported_reason) / sizeof(k_unsupported_reason[0]) == XNND_OP_COUNT,
              "reason table out of step with ops.def");

const xnnd_xnn_lowering* xnnd_xnnpack_lowering(xnnd_op op) {
  if ((unsigned)op >= XNND_OP_COUNT || k_lowerings[op].check == NULL) return NULL;
  return &k_lowerings[op];
}

static const char* op_name(xnnd_op op) {
  const xnnd_op_info* info = xnnd_op_get(op);
  return info != NULL && info->name != NULL ? info->name : "?";
}

/* Ops whose XNNPACK node takes output_min/output_max, so a fused clamp can ride along. */
static const bool k_takes_range[XNND_OP_COUNT] = {
    [XNND_OP_CONVOLUTION] = true, [XNND_OP_LINEAR] = true, [XNND_OP_ADDMM] = true, [XNND_OP_MM] = true,
    [XNND_OP_ADD] = true, [XNND_OP_SUB] = true, [XNND_OP_MUL] = true, [XNND_OP_DIV] = true,
    [XNND_OP_MAX_POOL2D] = true, [XNND_OP_MAX_POOL2D_WITH_INDICES] = true, [XNND_OP_AVG_POOL2D] = true,
    [XNND_OP_ADAPTIVE_AVG_POOL2D] = true, [XNND_OP_MEAN] = true, [XNND_OP_RELU] = true,
    [XNND_OP_HARDTANH] = true, [XNND_OP_CLAMP] = true, [XNND_OP_SILU] = true,
};

bool xnnd_xnnpack_supports(const xnnd_graph* g, xnnd_id node, char* reason, size_t reason_size) {
  if (g == NULL || node >= g->num_nodes) return xnn_reason(reason, reason_size, "node %u out of range", node);
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_xnn_lowering* l = xnnd_xnnpack_lowering(n->op);
  if (l == NULL) {
    const char* why = (unsigned)n->op < XNND_OP_COUNT ? k_unsupported_reason[n->op] : "unknown op";
    return xnn_reason(reason, reason_size, "%s has no XNNPACK lowering: %s", op_name(n->op), why);
  }
  if (reason != NULL && reason_size > 0) reason[0] = '\0';
  if ((isfinite(n->output_min) || isfinite(n->output_max)) && !k_takes_range[n->op])
    return xnn_reason(reason, reason_size, "%s with a fused output range: its XNNPACK node takes none",
                      op_name(n->op));
  if (!xnn_node_is_quantized(g, n)) {
    if (!l->check(g, n, reason, reason_size)) return false;
  } else {
    if (!xnn_check_q8_operands(g, n, reason, reason_size)) return false;
    if (l->check_q8 == NULL)
      return xnn_reason(reason, reason_size, "quantized %s is not lowered (this XNNPACK or xnnd lacks it)",
                        op_name(n->op));
    if (!l->check_q8(g, n, reason, reason_size)) return false;
  }
  return xnn_check_symbolic(g, n, reason, reason_size);
}

/* ---- check helpers ---- */
bool xnn_reason(char* reason, size_t reason_size, const char* fmt, ...) {
  if (reason != NULL && reason_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, reason_size, fmt, ap);
    va_end(ap);
  }
  return false;
}

bool xnn_check_value(const xnnd_graph* g, xnnd_id id, const char* what, char* reason, size_t reason_size) {
  if (id >= g->num_values) return xnn_reason(reason, reason_size, "%s is missing or out of range", what);
  const xnnd_ir_value* v = &g->values[id];
  if (v->dtype != XNND_F32)
    return xnn_reason(reason, reason_size, "%s %%%s is %s; the XNNPACK lowering handles f32 only", what, v->name,
                      xnnd_dtype_name(v->dtype));
  if (v->quant.scheme != XNND_QUANT_NONE)
    return xnn_reason(reason, reason_size, "%s %%%s is quantized; not lowered yet", what, v->name);
  if (v->rank > XNN_BLOB_MAX_DIMS)
    return xnn_reason(reason, reason_size, "%s %%%s has rank %u; XNNPACK allows %u", what, v->name, v->rank,
                      XNN_BLOB_MAX_DIMS);
  for (uint32_t d = 0; d < v->rank; d++)
    if (v->dims[d] < 1 || v->dims[d] > (int64_t)UINT32_MAX)
      return xnn_reason(reason, reason_size, "%s %%%s dim %u is %lld", what, v->name, d, (long long)v->dims[d]);
  if (v->data != NULL && v->rank == 4 && v->layout != XNND_LAYOUT_CONTIGUOUS)
    return xnn_reason(reason, reason_size, "%s %%%s is a constant in NHWC layout; expected contiguous", what, v->name);
  return true;
}

bool xnn_is_const(const xnnd_graph* g, xnnd_id id) { return id < g->num_values && g->values[id].data != NULL; }

xnnd_id xnn_t_source(const xnnd_graph* g, xnnd_id id) {
  if (id >= g->num_values) return XNND_NO_ID;
  xnnd_id p = g->values[id].producer;
  if (p >= g->num_nodes) return XNND_NO_ID;
  const xnnd_ir_node* n = &g->nodes[p];
  if (n->dead || n->op != XNND_OP_T || n->num_inputs < 1) return XNND_NO_ID;
  xnnd_id src = n->inputs[0];
  if (!xnn_is_const(g, src) || g->values[src].rank != 2 || g->values[src].dtype != XNND_F32) return XNND_NO_ID;
  return src;
}

bool xnn_nhwc_same_bytes(const xnnd_ir_value* v) {
  return v->rank == 4 && (v->dims[1] == 1 || v->dims[2] * v->dims[3] == 1);
}

const xnnd_attr* xnn_attr(const xnnd_ir_node* node, const char* name) {
  int i = xnnd_op_attr_index(node->op, name);
  return i >= 0 && i < XNND_MAX_ATTRS ? &node->attrs[i] : NULL;
}

int64_t xnn_attr_int(const xnnd_ir_node* node, const char* name, int64_t def) {
  const xnnd_attr* a = xnn_attr(node, name);
  if (a == NULL) return def;
  if (a->kind == XNND_ATTR_INT || a->kind == XNND_ATTR_BOOL) return a->i;
  if (a->kind == XNND_ATTR_FLOAT) return (int64_t)a->f;
  return def;
}

double xnn_attr_float(const xnnd_ir_node* node, const char* name, double def) {
  const xnnd_attr* a = xnn_attr(node, name);
  if (a == NULL) return def;
  if (a->kind == XNND_ATTR_FLOAT) return a->f;
  if (a->kind == XNND_ATTR_INT) return (double)a->i;
  return def;
}

bool xnn_attr_pair(const xnnd_ir_node* node, const char* name, int64_t def, int64_t out[2]) {
  const xnnd_attr* a = xnn_attr(node, name);
  out[0] = out[1] = def;
  if (a == NULL || a->kind == XNND_ATTR_NONE) return true;
  if (a->kind == XNND_ATTR_INT) {
    out[0] = out[1] = a->i;
    return true;
  }
  if (a->kind != XNND_ATTR_INTS || a->n > 2) return false;
  if (a->n == 1) out[0] = out[1] = a->ints[0];
  if (a->n == 2) {
    out[0] = a->ints[0];
    out[1] = a->ints[1];
  }
  return true;
}

uint32_t xnn_node_index(const xnnd_graph* g, const xnnd_ir_node* node) { return (uint32_t)(node - g->nodes); }

/* ---- blob ---- */
xnnd_status xnnd_xnnpack_build_blob(const xnnd_graph* g, const xnnd_id* nodes, uint32_t num_nodes,
                                    const xnnd_id* inputs, uint32_t num_inputs, const xnnd_id* outputs,
                                    uint32_t num_outputs, uint8_t** blob_out, size_t* blob_size_out, char* err,
                                    size_t err_size) {
  if (err != NULL && err_size > 0) err[0] = '\0';
  if (blob_out == NULL || blob_size_out == NULL || g == NULL || (num_nodes > 0 && nodes == NULL) ||
      (num_inputs > 0 && inputs == NULL) || (num_outputs > 0 && outputs == NULL)) {
    if (err != NULL && err_size > 0) snprintf(err, err_size, "invalid argument to xnnd_xnnpack_build_blob");
    return XNND_INVALID_ARGUMENT;
  }
  *blob_out = NULL;
  *blob_size_out = 0;
  xnnd_xnn_builder* b = NULL;
  xnnd_status st = xnn_builder_create(g, err, err_size, &b);
  if (st != XNND_OK) return st;
  for (uint32_t i = 0; i < num_inputs && st == XNND_OK; i++) st = xnn_builder_add_external(b, inputs[i], true, i);
  for (uint32_t i = 0; i < num_outputs && st == XNND_OK; i++) st = xnn_builder_add_external(b, outputs[i], false, i);
  char reason[256];
  for (uint32_t i = 0; i < num_nodes && st == XNND_OK; i++) {
    xnnd_id id = nodes[i];
    if (id >= g->num_nodes) {
      st = xnn_b_fail(b, XNND_INVALID_ARGUMENT, "partition node %u: id %u out of range", i, id);
      break;
    }
    xnn_b_set_node(b, id);
    const xnnd_ir_node* n = &g->nodes[id];
    const xnnd_xnn_lowering* l = xnnd_xnnpack_lowering(n->op);
    if (!xnnd_xnnpack_supports(g, id, reason, sizeof(reason))) {
      st = xnn_b_fail(b, XNND_UNSUPPORTED, "%s", reason);
      break;
    }
    st = xnn_node_is_quantized(g, n) ? l->lower_q8(b, g, n) : l->lower(b, g, n);
    if (st == XNND_OK) st = xnn_b_status(b);
  }
  if (st == XNND_OK) st = xnn_builder_finish(b, blob_out, blob_size_out);
  xnn_builder_destroy(b);
  return st;
}

/* ---- the toolchain backend ---- */
static xnnd_status lower_partition(const xnnd_graph* g, const xnnd_partition* part, uint8_t** blob_out,
                                   size_t* blob_size_out, char* err, size_t err_size) {
  return xnnd_xnnpack_build_blob(g, part->nodes, part->num_nodes, part->inputs, part->num_inputs, part->outputs,
                                 part->num_outputs, blob_out, blob_size_out, err, err_size);
}

const xnnd_toolchain_backend xnnd_xnnpack_toolchain_backend = {
    .name = XNND_XNNPACK_BACKEND_NAME,
    .display_name = "XNNPACK",
    .supports = xnnd_xnnpack_supports,
    .lower = lower_partition,
};
