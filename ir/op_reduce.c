/* Reductions along dims: aten.mean and aten.norm (negative dims, keepdim; an empty dim list
 * reduces all dims as in PyTorch) and aten.softmax / aten.log_softmax. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_mean[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_softmax[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"half_to_float", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};

const xnnd_attr_spec xnnd_attrs_norm[] = {
    {"p", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(2)},
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};

/* Output shape of a reduction over attribute `dim_attr` (ints) with keepdim in `keep_attr`. */
static xnnd_status reduce_shape(xnnd_graph* g, xnnd_id node, uint32_t dim_attr, uint32_t keep_attr) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* dim = &n->attrs[dim_attr];
  bool keepdim = n->attrs[keep_attr].i != 0;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  bool reduced[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < dim->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, dim_attr, dim->ints[i], x->rank, &d));
    if (x->rank == 0) continue;
    if (reduced[d]) return ir_attr_error(g, node, "attribute dim lists dim %u twice", d);
    reduced[d] = true;
  }
  if (dim->n == 0)
    for (uint32_t d = 0; d < x->rank; d++) reduced[d] = true;
  int64_t out[XNND_MAX_RANK];
  uint32_t rank = 0;
  for (uint32_t d = 0; d < x->rank; d++) {
    if (!reduced[d])
      out[rank++] = x->dims[d];
    else if (keepdim)
      out[rank++] = 1;
  }
  return ir_set_output(g, node, 0, x->dtype, rank, out);
}

/* An integer or bool input (PyTorch's mean(dtype=torch.float32)) gives f32; a quantized one
 * keeps its dtype. */
xnnd_status xnnd_infer_mean(xnnd_graph* g, xnnd_id node) {
  IR_TRY(reduce_shape(g, node, 0, 1));
  const xnnd_ir_value* x = ir_input(g, node, 0);
  xnnd_ir_value* y = &g->values[g->nodes[node].outputs[0]];
  if (y->dtype == XNND_F32 || y->dtype == XNND_F16 || x->quant.scheme != XNND_QUANT_NONE)
    return XNND_OK;
  return ir_set_output(g, node, 0, XNND_F32, y->rank, y->dims);
}

xnnd_status xnnd_infer_norm(xnnd_graph* g, xnnd_id node) {
  if (isnan(g->nodes[node].attrs[0].f)) return ir_attr_error(g, node, "attribute p is nan");
  return reduce_shape(g, node, 1, 2);
}

xnnd_status xnnd_infer_softmax(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, n->attrs[0].i, x->rank, &d));
  xnnd_dtype dt = n->attrs[1].i && x->dtype == XNND_F16 ? XNND_F32 : x->dtype;
  return ir_set_output(g, node, 0, dt, x->rank, x->dims);
}

/* ---- core ATen coverage, reduce: sum/prod, amax/amin (schema mean), any, var, argmax/argmin,
 * max/min along a dim, cumsum, sort, topk, group norm and batch-statistics batch norm. ---- */

/* dtype attributes hold an xnnd_dtype; none means PyTorch's default (ints and bool -> i64). */
const xnnd_attr_spec xnnd_attrs_sum[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"dtype", XNND_ATTR_INT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_amax[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_any[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_var[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"correction", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
/* var_mean: var's attributes; outputs var, mean. */
const xnnd_attr_spec xnnd_attrs_var_mean[] = {
    {"dim", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"correction", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1)},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
/* dim none: over the flattened input. */
const xnnd_attr_spec xnnd_attrs_argmax[] = {
    {"dim", XNND_ATTR_INT, true, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_max_dim[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"keepdim", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_cumsum[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"dtype", XNND_ATTR_INT, true, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_sort[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(-1)},
    {"descending", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_topk[] = {
    {"k", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(-1)},
    {"largest", XNND_ATTR_BOOL, false, IR_DEF_BOOL(1)},
    {"sorted", XNND_ATTR_BOOL, false, IR_DEF_BOOL(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_native_group_norm[] = {
    {"n", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"c", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"hw", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"group", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"eps", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1e-05)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_native_batch_norm_legit[] = {
    {"eps", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(1e-05)},
    IR_SCHEMA_END,
};

static bool is_float_dtype(xnnd_dtype dt) { return dt == XNND_F32 || dt == XNND_F16; }

/* The dtype attribute, or PyTorch's accumulation default for sum/prod/cumsum. */
static xnnd_status accum_dtype(xnnd_graph* g, xnnd_id node, uint32_t attr, xnnd_dtype in,
                               xnnd_dtype* out) {
  const xnnd_attr* a = &g->nodes[node].attrs[attr];
  if (a->kind == XNND_ATTR_NONE) {
    *out = is_float_dtype(in) ? in : XNND_I64;
    return XNND_OK;
  }
  if (a->i < 0 || a->i >= XNND_DTYPE_COUNT || a->i == XNND_BOOL)
    return ir_attr_error(g, node, "attribute dtype %lld is not a numeric xnnd dtype",
                         (long long)a->i);
  *out = (xnnd_dtype)a->i;
  return XNND_OK;
}

xnnd_status xnnd_infer_sum(xnnd_graph* g, xnnd_id node) {
  IR_TRY(reduce_shape(g, node, 0, 1));
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  xnnd_dtype dt = XNND_F32;
  IR_TRY(accum_dtype(g, node, 2, x->dtype, &dt));
  xnnd_ir_value* y = &g->values[g->nodes[node].outputs[0]];
  return ir_set_output(g, node, 0, dt, y->rank, y->dims);
}

xnnd_status xnnd_infer_amax(xnnd_graph* g, xnnd_id node) { return reduce_shape(g, node, 0, 1); }

xnnd_status xnnd_infer_any(xnnd_graph* g, xnnd_id node) {
  IR_TRY(reduce_shape(g, node, 0, 1));
  xnnd_ir_value* y = &g->values[g->nodes[node].outputs[0]];
  /* PyTorch keeps uint8 for a uint8 input (its legacy byte masks) */
  return ir_set_output(g, node, 0, y->dtype == XNND_U8 ? XNND_U8 : XNND_BOOL, y->rank, y->dims);
}

xnnd_status xnnd_infer_var(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (!is_float_dtype(x->dtype))
    return ir_node_error(g, node, "input %s is %s, var needs a floating-point input",
                         ir_value_name(g, g->nodes[node].inputs[0]), xnnd_dtype_name(x->dtype));
  if (isnan(g->nodes[node].attrs[1].f))
    return ir_attr_error(g, node, "attribute correction is nan");
  return reduce_shape(g, node, 0, 2);
}

xnnd_status xnnd_infer_var_mean(xnnd_graph* g, xnnd_id node) {
  IR_TRY(xnnd_infer_var(g, node));
  const xnnd_ir_value* y = &g->values[g->nodes[node].outputs[0]];
  return ir_set_output(g, node, 1, y->dtype, y->rank, y->dims);
}

/* Shape of a reduction along one dim (dim < 0: all dims, flattened), dtype of output k. */
static xnnd_status one_dim_shape(xnnd_graph* g, xnnd_id node, bool has_dim, int64_t dim,
                                 bool keepdim, uint32_t k, xnnd_dtype dt) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  int64_t out[XNND_MAX_RANK];
  uint32_t rank = 0;
  if (!has_dim) {
    if (keepdim)
      for (uint32_t d = 0; d < x->rank; d++) out[rank++] = 1;
    return ir_set_output(g, node, k, dt, rank, out);
  }
  uint32_t d0;
  IR_TRY(ir_attr_dim(g, node, 0, dim, x->rank, &d0));
  if (x->rank > 0 && x->dims[d0] == 0)
    return ir_node_error(g, node, "cannot reduce over dim %u of size 0", d0);
  for (uint32_t d = 0; d < x->rank; d++) {
    if (d != d0)
      out[rank++] = x->dims[d];
    else if (keepdim)
      out[rank++] = 1;
  }
  return ir_set_output(g, node, k, dt, rank, out);
}

xnnd_status xnnd_infer_argmax(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint64_t numel;
  if (n->attrs[0].kind == XNND_ATTR_NONE && ir_numel(x->dtype, x->rank, x->dims, &numel) &&
      numel == 0)
    return ir_node_error(g, node, "cannot reduce an empty input");
  return one_dim_shape(g, node, n->attrs[0].kind != XNND_ATTR_NONE, n->attrs[0].i,
                       n->attrs[1].i != 0, 0, XNND_I64);
}

xnnd_status xnnd_infer_max_dim(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(one_dim_shape(g, node, true, n->attrs[0].i, n->attrs[1].i != 0, 0, x->dtype));
  return one_dim_shape(g, node, true, n->attrs[0].i, n->attrs[1].i != 0, 1, XNND_I64);
}

xnnd_status xnnd_infer_cumsum(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, g->nodes[node].attrs[0].i, x->rank, &d));
  xnnd_dtype dt = XNND_F32;
  IR_TRY(accum_dtype(g, node, 1, x->dtype, &dt));
  return ir_set_output(g, node, 0, dt, x->rank, x->dims);
}

xnnd_status xnnd_infer_sort(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, g->nodes[node].attrs[0].i, x->rank, &d));
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, x->dims));
  return ir_set_output(g, node, 1, XNND_I64, x->rank, x->dims);
}

xnnd_status xnnd_infer_topk(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 1, n->attrs[1].i, x->rank, &d));
  const int64_t size = x->rank ? x->dims[d] : 1;
  const int64_t k = n->attrs[0].i;
  if (k < 0 || k > size)
    return ir_attr_error(g, node, "attribute k=%lld is outside [0, %lld] (the size of dim %u)",
                         (long long)k, (long long)size, d);
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) out[i] = i == d ? k : x->dims[i];
  IR_TRY(ir_set_output(g, node, 0, x->dtype, x->rank, out));
  return ir_set_output(g, node, 1, XNND_I64, x->rank, out);
}

xnnd_status xnnd_infer_native_group_norm(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, XNND_MAX_RANK, &x));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  const int64_t N = n->attrs[0].i, C = n->attrs[1].i, HxW = n->attrs[2].i, G = n->attrs[3].i;
  int64_t inner = 1;
  for (uint32_t d = 2; d < x->rank; d++) inner *= x->dims[d];
  if (N != x->dims[0] || C != x->dims[1] || HxW != inner)
    return ir_attr_error(g, node, "attributes n=%lld c=%lld hw=%lld disagree with the input shape",
                         (long long)N, (long long)C, (long long)HxW);
  if (G <= 0 || C % G != 0)
    return ir_attr_error(g, node, "attribute group=%lld does not divide C=%lld", (long long)G,
                         (long long)C);
  IR_TRY(ir_input_dtype(g, node, 1, XNND_F32));
  IR_TRY(ir_input_dtype(g, node, 2, XNND_F32));
  IR_TRY(ir_input_vector(g, node, 1, C));
  IR_TRY(ir_input_vector(g, node, 2, C));
  const int64_t stats[2] = {N, G};
  IR_TRY(ir_set_output(g, node, 0, XNND_F32, x->rank, x->dims));
  IR_TRY(ir_set_output(g, node, 1, XNND_F32, 2, stats));
  return ir_set_output(g, node, 2, XNND_F32, 2, stats);
}

xnnd_status xnnd_infer_native_batch_norm_legit(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, XNND_MAX_RANK, &x));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  const int64_t C = x->dims[1];
  IR_TRY(ir_input_dtype(g, node, 1, XNND_F32));
  IR_TRY(ir_input_dtype(g, node, 2, XNND_F32));
  IR_TRY(ir_input_vector(g, node, 1, C));
  IR_TRY(ir_input_vector(g, node, 2, C));
  IR_TRY(ir_set_output(g, node, 0, XNND_F32, x->rank, x->dims));
  IR_TRY(ir_set_output(g, node, 1, XNND_F32, 1, &C));
  return ir_set_output(g, node, 2, XNND_F32, 1, &C);
}

/* Distances: p-norms of row differences (p = 0 counts differing entries, inf takes the max). */
const xnnd_attr_spec xnnd_attrs_cdist[] = {
    {"p", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(2)},
    {"compute_mode", XNND_ATTR_INT, true, IR_DEF_NONE}, /* PyTorch's speed hint; ignored */
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_pdist[] = {
    {"p", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(2)},
    IR_SCHEMA_END,
};

static xnnd_status check_p(xnnd_graph* g, xnnd_id node) {
  const double p = g->nodes[node].attrs[0].f;
  if (!(p >= 0.0)) return ir_attr_error(g, node, "attribute p must be >= 0, got %g", p);
  return XNND_OK;
}

/* x1 [*, P, M], x2 [*, R, M] -> [broadcast(*), P, R]. */
xnnd_status xnnd_infer_cdist(xnnd_graph* g, xnnd_id node) {
  IR_TRY(check_p(g, node));
  const xnnd_ir_value *a, *b;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, XNND_MAX_RANK, &a));
  IR_TRY(ir_input_rank_range(g, node, 1, 2, XNND_MAX_RANK, &b));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  IR_TRY(ir_input_dtype(g, node, 1, XNND_F32));
  if (a->dims[a->rank - 1] != b->dims[b->rank - 1])
    return ir_node_error(g, node, "x1 has %lld columns, x2 has %lld",
                         (long long)a->dims[a->rank - 1], (long long)b->dims[b->rank - 1]);
  const uint32_t rank = a->rank > b->rank ? a->rank : b->rank;
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i + 2 < rank; i++) { /* batch dims, aligned from the right */
    const int64_t da = i + a->rank >= rank ? a->dims[i + a->rank - rank] : 1;
    const int64_t db = i + b->rank >= rank ? b->dims[i + b->rank - rank] : 1;
    if (da != db && da != 1 && db != 1)
      return ir_node_error(g, node, "batch dims %lld and %lld do not broadcast", (long long)da,
                           (long long)db);
    out[i] = da == 1 ? db : da;
  }
  out[rank - 2] = a->dims[a->rank - 2];
  out[rank - 1] = b->dims[b->rank - 2];
  return ir_set_output(g, node, 0, XNND_F32, rank, out);
}

/* [N, M] -> [N * (N - 1) / 2]: rows i < j in row-major order. */
xnnd_status xnnd_infer_pdist(xnnd_graph* g, xnnd_id node) {
  IR_TRY(check_p(g, node));
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank(g, node, 0, 2, &x));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  const int64_t n = x->dims[0], pairs = n * (n - 1) / 2;
  return ir_set_output(g, node, 0, XNND_F32, 1, &pairs);
}
