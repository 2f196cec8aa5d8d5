/* Gathers and scatters: aten.index_select, aten.gather, aten.index (embedding maps here),
 * aten.index_put, aten._embedding_bag, aten.scatter, aten.scatter_reduce, aten.select_scatter,
 * aten.slice_scatter, aten.masked_scatter. Index operands are i64 or i32 tensors whose values
 * are data: inference checks only shapes; the kernels check every index value at run time. */
#include <string.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_index_select[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_gather[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_index[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_index_put[] = {
    {"accumulate", XNND_ATTR_BOOL, false, IR_DEF_BOOL(false)},
    IR_SCHEMA_END,
};
/* mode: 0 sum, 1 mean, 2 max (PyTorch's numbering); padding_idx -1 = none. */
const xnnd_attr_spec xnnd_attrs_embedding_bag[] = {
    {"mode", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"include_last_offset", XNND_ATTR_BOOL, false, IR_DEF_BOOL(false)},
    {"padding_idx", XNND_ATTR_INT, false, IR_DEF_INT(-1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_scatter[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
/* reduce: 0 sum, 1 prod, 2 mean, 3 amax, 4 amin. */
const xnnd_attr_spec xnnd_attrs_scatter_reduce[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"reduce", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"include_self", XNND_ATTR_BOOL, false, IR_DEF_BOOL(true)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_select_scatter[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"index", XNND_ATTR_INT, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_slice_scatter[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"start", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"end", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"step", XNND_ATTR_INT, false, IR_DEF_INT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_masked_scatter[] = {IR_SCHEMA_END};

static xnnd_status index_operand(xnnd_graph* g, xnnd_id node, uint32_t i,
                                 const xnnd_ir_value** out) {
  IR_TRY(ir_require_input(g, node, i, out));
  if ((*out)->dtype != XNND_I64 && (*out)->dtype != XNND_I32)
    return ir_node_error(g, node, "input %u %%%s has dtype %s, expected an i64 or i32 index", i,
                         (*out)->name, xnnd_dtype_name((*out)->dtype));
  return XNND_OK;
}

/* A rank-0 tensor indexes like a 1-element vector (PyTorch's rule for dim-wise ops). */
static int64_t dim_or_one(const xnnd_ir_value* v, uint32_t d) {
  return v->rank == 0 ? 1 : v->dims[d];
}

xnnd_status xnnd_infer_index_select(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *idx;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(index_operand(g, node, 1, &idx));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, g->nodes[node].attrs[0].i, x->rank, &d));
  int64_t out[XNND_MAX_RANK];
  if (x->rank == 0) {
    uint64_t n;
    if (!ir_numel(idx->dtype, idx->rank, idx->dims, &n) || n != 1)
      return ir_node_error(g, node, "a 0-D input 0 %%%s takes a 1-element index", x->name);
    return ir_set_output(g, node, 0, x->dtype, 0, out);
  }
  /* the index's dims replace dim d (embedding); a 0-D index keeps it with size 1 */
  if (x->rank - 1 + (idx->rank ? idx->rank : 1) > XNND_MAX_RANK)
    return ir_node_error(g, node, "result rank exceeds %d", XNND_MAX_RANK);
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i != d) out[r++] = x->dims[i];
    else if (idx->rank == 0) out[r++] = 1;
    else for (uint32_t k = 0; k < idx->rank; k++) out[r++] = idx->dims[k];
  }
  return ir_set_output(g, node, 0, x->dtype, r, out);
}

/* gather/scatter share PyTorch's shape rule: index has self's rank (0-D counts as 1-D) and
 * index.size(d) <= self.size(d) for every d != dim (and <= src.size(d) for all d). */
static xnnd_status gather_shape_check(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x,
                                      const xnnd_ir_value* idx, uint32_t dim,
                                      const xnnd_ir_value* src) {
  const uint32_t rx = x->rank ? x->rank : 1, ri = idx->rank ? idx->rank : 1;
  if (rx != ri)
    return ir_node_error(g, node, "index %%%s has rank %u, expected the rank of %%%s (%u)",
                         idx->name, idx->rank, x->name, x->rank);
  for (uint32_t d = 0; d < rx; d++) {
    const int64_t n = dim_or_one(idx, d);
    if (d != dim && n > dim_or_one(x, d))
      return ir_node_error(g, node, "index %%%s has size %lld in dim %u, larger than %%%s's %lld",
                           idx->name, (long long)n, d, x->name, (long long)dim_or_one(x, d));
    if (src && src->rank != 0) {
      if ((src->rank ? src->rank : 1) != rx)
        return ir_node_error(g, node, "src %%%s has rank %u, expected %u (or 0-D)", src->name,
                             src->rank, x->rank);
      if (n > dim_or_one(src, d))
        return ir_node_error(g, node, "index %%%s has size %lld in dim %u, larger than src "
                             "%%%s's %lld", idx->name, (long long)n, d, src->name,
                             (long long)dim_or_one(src, d));
    }
  }
  return XNND_OK;
}

xnnd_status xnnd_infer_gather(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *idx;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(index_operand(g, node, 1, &idx));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, g->nodes[node].attrs[0].i, x->rank, &d));
  IR_TRY(gather_shape_check(g, node, x, idx, d, NULL));
  return ir_set_output(g, node, 0, x->dtype, idx->rank, idx->dims);
}

/* The result shape of self[indices] (PyTorch advanced indexing): the index tensors
 * broadcast to B; when the indexed dims are adjacent B replaces them in place, else B comes
 * first and the kept dims follow in order. first is the input holding the index for dim 0. */
static xnnd_status index_result_shape(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x,
                                      uint32_t first, uint32_t* rank_out, int64_t* out) {
  const xnnd_ir_node* n = &g->nodes[node];
  const uint32_t count = n->num_inputs - first;
  if (count > x->rank)
    return ir_node_error(g, node, "%u index tensors for input 0 %%%s of rank %u", count, x->name,
                         x->rank);
  uint32_t br = 0, lo = XNND_MAX_RANK, hi = 0, present = 0;
  int64_t b[XNND_MAX_RANK];
  for (uint32_t k = 0; k < count; k++) {
    if (n->inputs[first + k] == XNND_NO_ID) continue;
    const xnnd_ir_value* idx;
    IR_TRY(index_operand(g, node, first + k, &idx));
    if (lo == XNND_MAX_RANK) lo = k;
    hi = k;
    present++;
    /* numpy broadcast into b (aligned from the right) */
    const uint32_t r = idx->rank > br ? idx->rank : br;
    int64_t nb[XNND_MAX_RANK];
    for (uint32_t i = 0; i < r; i++) {
      const int64_t da = i + br >= r ? b[i + br - r] : 1;
      const int64_t di = i + idx->rank >= r ? idx->dims[i + idx->rank - r] : 1;
      if (da != di && da != 1 && di != 1) {
        char buf[160];
        return ir_node_error(g, node, "index %%%s %s does not broadcast with the other index "
                             "tensors", idx->name,
                             ir_format_dims(buf, sizeof buf, idx->rank, idx->dims));
      }
      nb[i] = da == 1 ? di : da;
    }
    memcpy(b, nb, sizeof(int64_t) * r);
    br = r;
  }
  if (present == 0) return ir_node_error(g, node, "every index tensor is absent");
  const bool adjacent = hi - lo + 1 == present;
  const uint32_t rank = x->rank - present + br;
  if (rank > XNND_MAX_RANK)
    return ir_node_error(g, node, "result rank %u exceeds %d", rank, XNND_MAX_RANK);
  uint32_t r = 0;
  if (adjacent) {
    for (uint32_t d = 0; d < lo; d++) out[r++] = x->dims[d];
    for (uint32_t i = 0; i < br; i++) out[r++] = b[i];
    for (uint32_t d = hi + 1; d < x->rank; d++) out[r++] = x->dims[d];
  } else {
    for (uint32_t i = 0; i < br; i++) out[r++] = b[i];
    for (uint32_t d = 0; d < x->rank; d++)
      if (d >= count || n->inputs[first + d] == XNND_NO_ID) out[r++] = x->dims[d];
  }
  *rank_out = r;
  return XNND_OK;
}

xnnd_status xnnd_infer_index(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  uint32_t rank;
  int64_t out[XNND_MAX_RANK];
  IR_TRY(index_result_shape(g, node, x, 1, &rank, out));
  return ir_set_output(g, node, 0, x->dtype, rank, out);
}

/* x[mask] = v: one boolean index covering self dims [k, k + rank(mask)). The indexed shape
 * is [pre, N, post] with N data-dependent, so values take size 1 (or nothing) there; res gets
 * 1 for N. */
static xnnd_status mask_put_shape(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x,
                                  uint32_t k, uint32_t* rank_out, int64_t* res) {
  const xnnd_ir_node* n = &g->nodes[node];
  for (uint32_t i = 2; i < n->num_inputs; i++)
    if (i != 2 + k && n->inputs[i] != XNND_NO_ID)
      return ir_node_error(g, node, "a boolean mask index (input %u) takes no other index "
                           "tensor", 2 + k);
  const xnnd_ir_value* m = ir_input(g, node, 2 + k);
  if (m->rank == 0 || k + m->rank > x->rank)
    return ir_node_error(g, node, "mask %%%s of rank %u at dim %u does not fit %%%s", m->name,
                         m->rank, k, x->name);
  for (uint32_t i = 0; i < m->rank; i++)
    if (m->dims[i] != x->dims[k + i])
      return ir_node_error(g, node, "mask %%%s has size %lld in dim %u, expected %lld", m->name,
                           (long long)m->dims[i], i, (long long)x->dims[k + i]);
  uint32_t r = 0;
  for (uint32_t d = 0; d < k; d++) res[r++] = x->dims[d];
  res[r++] = 1;
  for (uint32_t d = k + m->rank; d < x->rank; d++) res[r++] = x->dims[d];
  *rank_out = r;
  return XNND_OK;
}

xnnd_status xnnd_infer_index_put(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *v;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(ir_require_input(g, node, 1, &v));
  IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
  uint32_t rank = 0;
  int64_t res[XNND_MAX_RANK];
  int mask_at = -1;
  for (uint32_t i = 2; i < g->nodes[node].num_inputs; i++) {
    const xnnd_ir_value* m = ir_input(g, node, i);
    if (m && m->dtype == XNND_BOOL) mask_at = (int)(i - 2);
  }
  if (mask_at >= 0) IR_TRY(mask_put_shape(g, node, x, (uint32_t)mask_at, &rank, res));
  else IR_TRY(index_result_shape(g, node, x, 2, &rank, res));
  /* values broadcast to the indexed result's shape */
  bool ok = v->rank <= rank;
  for (uint32_t i = 0; ok && i < v->rank; i++) {
    const int64_t dv = v->dims[v->rank - 1 - i], dr = res[rank - 1 - i];
    ok = dv == dr || dv == 1;
  }
  if (!ok) {
    char bv[160], br[160];
    return ir_node_error(g, node, "values %%%s %s do not broadcast to the indexed shape %s",
                         v->name, ir_format_dims(bv, sizeof bv, v->rank, v->dims),
                         ir_format_dims(br, sizeof br, rank, res));
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

xnnd_status xnnd_infer_embedding_bag(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value *w, *idx, *off;
  IR_TRY(ir_input_rank(g, node, 0, 2, &w));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  IR_TRY(index_operand(g, node, 1, &idx));
  IR_TRY(index_operand(g, node, 2, &off));
  if (idx->rank != 1 || off->rank != 1)
    return ir_node_error(g, node, "indices %%%s and offsets %%%s must be 1-D", idx->name,
                         off->name);
  if (off->dtype != idx->dtype)
    return ir_node_error(g, node, "offsets %%%s has dtype %s, expected indices' %s", off->name,
                         xnnd_dtype_name(off->dtype), xnnd_dtype_name(idx->dtype));
  const xnnd_ir_value* psw = ir_input(g, node, 3);
  if (psw) {
    IR_TRY(ir_input_dtype(g, node, 3, XNND_F32));
    IR_TRY(ir_input_vector(g, node, 3, idx->dims[0]));
    if (a[0].i != 0)
      return ir_attr_error(g, node, "per_sample_weights take mode 0 (sum), got mode %lld",
                           (long long)a[0].i);
  }
  if (a[0].i < 0 || a[0].i > 2)
    return ir_attr_error(g, node, "attribute mode = %lld, expected 0 (sum), 1 (mean) or 2 (max)",
                         (long long)a[0].i);
  const int64_t bags = off->dims[0] - (a[1].i ? 1 : 0);
  if (bags < 0)
    return ir_attr_error(g, node, "include_last_offset needs at least one offset");
  const int64_t out[2] = {bags, w->dims[1]};
  return ir_set_output(g, node, 0, XNND_F32, 2, out);
}

xnnd_status xnnd_infer_scatter(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *idx, *src;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(index_operand(g, node, 1, &idx));
  IR_TRY(ir_require_input(g, node, 2, &src));
  IR_TRY(ir_input_dtype(g, node, 2, x->dtype));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, g->nodes[node].attrs[0].i, x->rank, &d));
  IR_TRY(gather_shape_check(g, node, x, idx, d, src));
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

/* Output 1 counts the values reduced into each element (self included when include_self):
 * the mean's divisor, kept as an output so run() needs no scratch. */
xnnd_status xnnd_infer_scatter_reduce(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  IR_TRY(xnnd_infer_scatter(g, node));
  if (a[1].i < 0 || a[1].i > 4)
    return ir_attr_error(g, node, "attribute reduce = %lld, expected 0 sum, 1 prod, 2 mean, "
                         "3 amax or 4 amin", (long long)a[1].i);
  const xnnd_ir_value* x = ir_input(g, node, 0);
  return ir_set_output(g, node, 1, XNND_I64, x->rank, x->dims);
}

xnnd_status xnnd_infer_select_scatter(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value *x, *src;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  IR_TRY(ir_input_rank(g, node, 1, x->rank - 1, &src));
  IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, a[0].i, x->rank, &d));
  if (a[1].i < 0 || a[1].i >= x->dims[d])
    return ir_attr_error(g, node, "attribute index = %lld out of range [0, %lld) for dim %u of "
                         "%%%s", (long long)a[1].i, (long long)x->dims[d], d, x->name);
  for (uint32_t i = 0, j = 0; i < x->rank; i++) {
    if (i == d) continue;
    if (src->dims[j] != x->dims[i])
      return ir_node_error(g, node, "src %%%s has size %lld in dim %u, expected %lld", src->name,
                           (long long)src->dims[j], j, (long long)x->dims[i]);
    j++;
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

xnnd_status xnnd_infer_slice_scatter(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value *x, *src;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  IR_TRY(ir_input_rank(g, node, 1, x->rank, &src));
  IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, a[0].i, x->rank, &d));
  const int64_t size = x->dims[d], start = a[1].i, end = a[2].i, step = a[3].i;
  if (step < 1 || step > IR_MAX_ATTR_VALUE)
    return ir_attr_error(g, node, "attribute step = %lld must be in [1, %lld]", (long long)step,
                         (long long)IR_MAX_ATTR_VALUE);
  if (start < 0 || start > size || end < start || end > size)
    return ir_attr_error(g, node, "attributes start = %lld, end = %lld must satisfy 0 <= start "
                         "<= end <= %lld (size of dim %u of %%%s)", (long long)start,
                         (long long)end, (long long)size, d, x->name);
  for (uint32_t i = 0; i < x->rank; i++) {
    const int64_t want = i == d ? (end - start + step - 1) / step : x->dims[i];
    if (src->dims[i] != want)
      return ir_node_error(g, node, "src %%%s has size %lld in dim %u, expected %lld", src->name,
                           (long long)src->dims[i], i, (long long)want);
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

xnnd_status xnnd_infer_masked_scatter(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value *x, *src;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(ir_input_dtype(g, node, 1, XNND_BOOL));
  IR_TRY(ir_require_input(g, node, 2, &src));
  IR_TRY(ir_input_dtype(g, node, 2, x->dtype));
  uint32_t rank;
  int64_t out[XNND_MAX_RANK];
  IR_TRY(ir_broadcast(g, node, 0, 1, &rank, out));
  return ir_set_output(g, node, 0, x->dtype, rank, out);
}
