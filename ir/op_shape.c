/* Shape ops: aten.t, aten.permute, aten.view (concrete sizes, numel preserved), aten.cat,
 * aten.slice, aten.select, aten.expand, aten.constant_pad_nd and aten.roll. */
#include <math.h>

#include "ir_internal.h"

const xnnd_attr_spec xnnd_attrs_t[] = {IR_SCHEMA_END};
const xnnd_attr_spec xnnd_attrs_permute[] = {
    {"dims", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_view[] = {
    {"size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_cat[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_t(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 0, 2, &x));
  int64_t out[2] = {0, 0};
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[x->rank - 1 - i];
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_permute(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n != x->rank)
    return ir_attr_error(g, node, "attribute dims has %u entries but input 0 %%%s has rank %u",
                         a->n, x->name, x->rank);
  bool seen[XNND_MAX_RANK] = {false};
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, 0, a->ints[i], x->rank, &d));
    if (seen[d])
      return ir_attr_error(g, node, "attribute dims is not a permutation: dim %u repeats", d);
    seen[d] = true;
    out[i] = x->dims[d];
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_view(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n > XNND_MAX_RANK)
    return ir_attr_error(g, node, "attribute size has %u entries, rank at most %d", a->n,
                         XNND_MAX_RANK);
  for (uint32_t i = 0; i < a->n; i++)
    if (a->ints[i] < 0 || a->ints[i] > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute size[%u] = %lld must be a concrete size >= 0", i,
                           (long long)a->ints[i]);
  uint64_t in_numel, out_numel;
  if (!ir_numel(x->dtype, x->rank, x->dims, &in_numel))
    return ir_node_error(g, node, "input 0 %%%s has an invalid shape", x->name);
  if (!ir_numel(x->dtype, a->n, a->ints, &out_numel))
    return ir_attr_error(g, node, "attribute size describes a tensor that is too large");
  if (in_numel != out_numel) {
    char bi[160], bo[160];
    return ir_attr_error(g, node, "attribute size %s has %llu elements but input 0 %%%s %s has "
                         "%llu", ir_format_dims(bo, sizeof bo, a->n, a->ints),
                         (unsigned long long)out_numel, x->name,
                         ir_format_dims(bi, sizeof bi, x->rank, x->dims),
                         (unsigned long long)in_numel);
  }
  return ir_set_output(g, node, 0, x->dtype, a->n, a->ints);
}

/* torch.promote_types of two tensor dtypes; XNND_DTYPE_COUNT when the result (u8 with i8:
 * i16) is not an xnnd dtype. The cat kernel converts; it converts no f16. */
static xnnd_dtype cat_promote(xnnd_dtype a, xnnd_dtype b) {
  if (a == b) return a;
  if (a == XNND_BOOL) return b;
  if (b == XNND_BOOL) return a;
  if (a == XNND_F32 || b == XNND_F32) return XNND_F32;
  if (a == XNND_F16 || b == XNND_F16) return XNND_F16;
  if (a == XNND_U8 || b == XNND_U8) {
    const xnnd_dtype other = a == XNND_U8 ? b : a;
    return other == XNND_I8 ? XNND_DTYPE_COUNT : other;
  }
  return xnnd_dtype_size(a) > xnnd_dtype_size(b) ? a : b;
}

xnnd_status xnnd_infer_cat(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value* first;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &first));
  uint32_t dim;
  IR_TRY(ir_attr_dim(g, node, 0, n->attrs[0].i, first->rank, &dim));
  int64_t out[XNND_MAX_RANK];
  for (uint32_t d = 0; d < first->rank; d++) out[d] = first->dims[d];
  xnnd_dtype dtype = first->dtype;
  for (uint32_t i = 1; i < n->num_inputs; i++) {
    const xnnd_ir_value* x;
    IR_TRY(ir_input_rank(g, node, i, first->rank, &x));
    const xnnd_dtype promoted = cat_promote(dtype, x->dtype);
    if (promoted == XNND_DTYPE_COUNT ||
        (x->dtype != dtype && (promoted == XNND_F16 || x->dtype == XNND_F16 || dtype == XNND_F16)))
      return ir_node_error(g, node, "input %u %%%s is %s; it does not promote with %s (u8 with "
                           "i8 gives i16; f16 mixes are not converted)", i, x->name,
                           xnnd_dtype_name(x->dtype), xnnd_dtype_name(dtype));
    dtype = promoted;
    for (uint32_t d = 0; d < first->rank; d++) {
      if (d == dim) continue;
      if (x->dims[d] != first->dims[d])
        return ir_node_error(g, node, "input %u %%%s has size %lld in dim %u, expected %lld", i,
                             x->name, (long long)x->dims[d], d, (long long)first->dims[d]);
    }
    out[dim] += x->dims[dim];  /* <= 255 * 2^40 */
  }
  return ir_set_output(g, node, 0, dtype, first->rank, out);
}

/* ---- aten.slice, aten.select, aten.expand, aten.constant_pad_nd ----
 * The exporter normalizes PyTorch's lenient arguments: slice bounds are clamped into
 * 0 <= start <= end <= size, select's index is non-negative, expand sizes are concrete
 * (no -1). Inference checks the normalized form so a kernel never has to clamp. */
const xnnd_attr_spec xnnd_attrs_slice[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"start", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"end", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"step", XNND_ATTR_INT, false, IR_DEF_INT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_select[] = {
    {"dim", XNND_ATTR_INT, false, IR_DEF_NONE},
    {"index", XNND_ATTR_INT, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_expand[] = {
    {"size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_constant_pad_nd[] = {
    {"pad", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"value", XNND_ATTR_FLOAT, false, IR_DEF_FLOAT(0)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_slice(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, a[0].i, x->rank, &d));
  int64_t size = x->dims[d], start = a[1].i, end = a[2].i, step = a[3].i;
  if (step < 1 || step > IR_MAX_ATTR_VALUE)
    return ir_attr_error(g, node, "attribute step = %lld must be in [1, %lld]", (long long)step,
                         (long long)IR_MAX_ATTR_VALUE);
  if (start < 0 || start > size || end < start || end > size)
    return ir_attr_error(g, node, "attributes start = %lld, end = %lld must satisfy 0 <= start "
                         "<= end <= %lld (size of dim %u of %%%s)", (long long)start,
                         (long long)end, (long long)size, d, x->name);
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[i];
  out[d] = (end - start + step - 1) / step;
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_select(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 1, XNND_MAX_RANK, &x));
  uint32_t d;
  IR_TRY(ir_attr_dim(g, node, 0, a[0].i, x->rank, &d));
  if (a[1].i < 0 || a[1].i >= x->dims[d])
    return ir_attr_error(g, node, "attribute index = %lld out of range [0, %lld) for dim %u of "
                         "%%%s", (long long)a[1].i, (long long)x->dims[d], d, x->name);
  int64_t out[XNND_MAX_RANK];
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++)
    if (i != d) out[r++] = x->dims[i];
  return ir_set_output(g, node, 0, x->dtype, r, out);
}

xnnd_status xnnd_infer_expand(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n < x->rank || a->n > XNND_MAX_RANK)
    return ir_attr_error(g, node, "attribute size has %u entries; input 0 %%%s has rank %u (at "
                         "most %d)", a->n, x->name, x->rank, XNND_MAX_RANK);
  const uint32_t lead = a->n - x->rank;
  for (uint32_t i = 0; i < a->n; i++) {
    int64_t want = a->ints[i];
    if (want < 0 || want > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute size[%u] = %lld must be a concrete size >= 0", i,
                           (long long)want);
    if (i >= lead) {
      int64_t have = x->dims[i - lead];
      if (have != want && have != 1) {
        char bi[160], bo[160];
        return ir_attr_error(g, node, "input 0 %%%s %s does not expand to %s (dim %u)", x->name,
                             ir_format_dims(bi, sizeof bi, x->rank, x->dims),
                             ir_format_dims(bo, sizeof bo, a->n, a->ints), i);
      }
    }
  }
  return ir_set_output(g, node, 0, x->dtype, a->n, a->ints);
}

xnnd_status xnnd_infer_constant_pad_nd(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a[0].n % 2 != 0 || a[0].n / 2 > x->rank)
    return ir_attr_error(g, node, "attribute pad has %u entries; expected pairs for at most %u "
                         "trailing dims of %%%s", a[0].n, x->rank, x->name);
  if (isnan(a[1].f)) return ir_attr_error(g, node, "attribute value is nan");
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[i];
  /* pad lists (before, after) pairs starting from the last dim, as torch.nn.functional.pad */
  for (uint32_t p = 0; p < a[0].n / 2; p++) {
    uint32_t d = x->rank - 1 - p;
    int64_t lo = a[0].ints[2 * p], hi = a[0].ints[2 * p + 1];
    if (lo < -IR_MAX_DIM || lo > IR_MAX_DIM || hi < -IR_MAX_DIM || hi > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute pad[%u..%u] out of range", 2 * p, 2 * p + 1);
    out[d] = x->dims[d] + lo + hi;
    if (out[d] < 0)
      return ir_attr_error(g, node, "padding (%lld, %lld) makes dim %u of %%%s negative",
                           (long long)lo, (long long)hi, d, x->name);
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

/* aten.roll: shifts per dim (any sign); an empty dims rolls the flattened tensor by shifts[0]. */
const xnnd_attr_spec xnnd_attrs_roll[] = {
    {"shifts", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"dims", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_roll(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a[1].n == 0 ? a[0].n != 1 : a[0].n != a[1].n)
    return ir_attr_error(g, node, "attribute shifts has %u entries for %u dims", a[0].n, a[1].n);
  for (uint32_t i = 0; i < a[1].n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, 1, a[1].ints[i], x->rank, &d));
  }
  for (uint32_t i = 0; i < a[0].n; i++)
    if (a[0].ints[i] < -IR_MAX_DIM || a[0].ints[i] > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute shifts[%u] out of range", i);
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

/* ---- aten.flip, aten.repeat, reflection/replication pads, aten.diagonal, aten.as_strided ----
 * Index-mapping copies. The IR has no strided views, so diagonal and as_strided materialize
 * their output; as_strided's strides address the input's own (contiguous) elements, which the
 * exporter guarantees are the whole storage PyTorch would read. */
const xnnd_attr_spec xnnd_attrs_flip[] = {
    {"dims", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_repeat[] = {
    {"repeats", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_edge_pad[] = {
    {"padding", XNND_ATTR_INTS, false, IR_DEF_NONE},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_diagonal[] = {
    {"offset", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"dim1", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    {"dim2", XNND_ATTR_INT, false, IR_DEF_INT(1)},
    IR_SCHEMA_END,
};
const xnnd_attr_spec xnnd_attrs_as_strided[] = {
    {"size", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"stride", XNND_ATTR_INTS, false, IR_DEF_NONE},
    {"storage_offset", XNND_ATTR_INT, false, IR_DEF_INT(0)},
    IR_SCHEMA_END,
};

xnnd_status xnnd_infer_flip(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n > (x->rank == 0 ? 1u : x->rank))
    return ir_attr_error(g, node, "attribute dims has %u entries for rank %u", a->n, x->rank);
  bool seen[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < a->n; i++) {
    uint32_t d;
    IR_TRY(ir_attr_dim(g, node, 0, a->ints[i], x->rank, &d));
    if (seen[d]) return ir_attr_error(g, node, "attribute dims: dim %u repeats", d);
    seen[d] = true;
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, x->dims);
}

xnnd_status xnnd_infer_repeat(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = &g->nodes[node].attrs[0];
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a->n < x->rank || a->n > XNND_MAX_RANK)
    return ir_attr_error(g, node, "attribute repeats has %u entries; input 0 %%%s has rank %u "
                         "(at most %d)", a->n, x->name, x->rank, XNND_MAX_RANK);
  const uint32_t lead = a->n - x->rank;
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < a->n; i++) {
    if (a->ints[i] < 0 || a->ints[i] > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute repeats[%u] = %lld must be >= 0", i,
                           (long long)a->ints[i]);
    const int64_t have = i < lead ? 1 : x->dims[i - lead];
    if (have != 0 && a->ints[i] > IR_MAX_DIM / have)
      return ir_attr_error(g, node, "attribute repeats[%u] makes dim %u too large", i, i);
    out[i] = have * a->ints[i];
  }
  return ir_set_output(g, node, 0, x->dtype, a->n, out);
}

/* reflection_pad{1,2,3}d / replication_pad{1,2,3}d: padding lists (before, after) pairs from
 * the last dim, one pair per padded dim (the op's 1/2/3). Reflection needs pad < size (the
 * mirrored index must exist), replication a non-empty dim. */
xnnd_status xnnd_infer_edge_pad(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* a = &n->attrs[0];
  bool reflect = true;
  uint32_t k = 3; /* padded dims */
  switch (n->op) {
    case XNND_OP_REFLECTION_PAD1D: k = 1; break;
    case XNND_OP_REFLECTION_PAD2D: k = 2; break;
    case XNND_OP_REPLICATION_PAD1D: k = 1, reflect = false; break;
    case XNND_OP_REPLICATION_PAD2D: k = 2, reflect = false; break;
    case XNND_OP_REPLICATION_PAD3D: reflect = false; break;
    default: break;
  }
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, k, XNND_MAX_RANK, &x));
  if (a->n != 2 * k)
    return ir_attr_error(g, node, "attribute padding has %u entries, expected %u", a->n, 2 * k);
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[i];
  for (uint32_t p = 0; p < k; p++) {
    const uint32_t d = x->rank - 1 - p;
    const int64_t lo = a->ints[2 * p], hi = a->ints[2 * p + 1], size = x->dims[d];
    if (lo < -IR_MAX_DIM || lo > IR_MAX_DIM || hi < -IR_MAX_DIM || hi > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute padding[%u..%u] out of range", 2 * p, 2 * p + 1);
    if (size == 0)
      return ir_node_error(g, node, "input 0 %%%s has size 0 in padded dim %u", x->name, d);
    if (reflect && (lo >= size || hi >= size))
      return ir_attr_error(g, node, "reflection padding (%lld, %lld) must be less than the size "
                           "%lld of dim %u of %%%s", (long long)lo, (long long)hi,
                           (long long)size, d, x->name);
    out[d] = size + lo + hi;
    if (out[d] < 1 || (reflect && (lo < -size || hi < -size)))
      return ir_attr_error(g, node, "padding (%lld, %lld) leaves dim %u of %%%s empty",
                           (long long)lo, (long long)hi, d, x->name);
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}

xnnd_status xnnd_infer_diagonal(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_input_rank_range(g, node, 0, 2, XNND_MAX_RANK, &x));
  uint32_t d1, d2;
  IR_TRY(ir_attr_dim(g, node, 1, a[1].i, x->rank, &d1));
  IR_TRY(ir_attr_dim(g, node, 2, a[2].i, x->rank, &d2));
  if (d1 == d2) return ir_attr_error(g, node, "attributes dim1 and dim2 are both dim %u", d1);
  const int64_t off = a[0].i;
  if (off < -IR_MAX_DIM || off > IR_MAX_DIM)
    return ir_attr_error(g, node, "attribute offset = %lld out of range", (long long)off);
  int64_t out[XNND_MAX_RANK];
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++)
    if (i != d1 && i != d2) out[r++] = x->dims[i];
  int64_t len = off >= 0 ? x->dims[d2] - off : x->dims[d1] + off;
  if (len > (off >= 0 ? x->dims[d1] : x->dims[d2])) len = off >= 0 ? x->dims[d1] : x->dims[d2];
  out[r++] = len < 0 ? 0 : len;
  return ir_set_output(g, node, 0, x->dtype, r, out);
}

xnnd_status xnnd_infer_as_strided(xnnd_graph* g, xnnd_id node) {
  const xnnd_attr* a = g->nodes[node].attrs;
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  if (a[0].n != a[1].n || a[0].n > XNND_MAX_RANK)
    return ir_attr_error(g, node, "attributes size (%u entries) and stride (%u) must have the same "
                         "length, at most %d", a[0].n, a[1].n, XNND_MAX_RANK);
  uint64_t in_numel;
  if (!ir_numel(x->dtype, x->rank, x->dims, &in_numel))
    return ir_node_error(g, node, "input 0 %%%s has an invalid shape", x->name);
  if (a[2].i < 0 || a[2].i > IR_MAX_DIM)
    return ir_attr_error(g, node, "attribute storage_offset = %lld must be >= 0",
                         (long long)a[2].i);
  int64_t last = a[2].i; /* the largest element index read */
  bool empty = false;
  for (uint32_t i = 0; i < a[0].n; i++) {
    const int64_t n = a[0].ints[i], s = a[1].ints[i];
    if (n < 0 || n > IR_MAX_DIM || s < 0 || s > IR_MAX_DIM)
      return ir_attr_error(g, node, "attribute size[%u] = %lld, stride[%u] = %lld must be in "
                           "[0, 2^40]", i, (long long)n, i, (long long)s);
    if (n == 0) empty = true;
  }
  for (uint32_t i = 0; i < a[0].n && !empty; i++) {
    const int64_t n = a[0].ints[i], s = a[1].ints[i];
    if (n > 1 && s > ((int64_t)in_numel - last) / (n - 1))
      return ir_attr_error(g, node, "attributes size and stride read beyond the %llu elements "
                           "of input 0 %%%s (dim %u)", (unsigned long long)in_numel, x->name, i);
    if (n > 1) last += (n - 1) * s;
  }
  if (!empty && (uint64_t)last >= in_numel)
    return ir_attr_error(g, node, "attributes size, stride and storage_offset read element %lld "
                         "but input 0 %%%s has %llu", (long long)last, x->name,
                         (unsigned long long)in_numel);
  return ir_set_output(g, node, 0, x->dtype, a[0].n, a[0].ints);
}
