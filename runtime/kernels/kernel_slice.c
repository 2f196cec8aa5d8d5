/* Indexed data movement: aten.slice, aten.select, aten.expand (strided gathers: each output
 * element reads input[offset + sum(i_d * stride_d)], a stride of 0 broadcasting),
 * aten.constant_pad_nd (fill, then copy the kept region; negative pads crop) and aten.roll
 * (each row copied in at most two pieces), plus aten.flip, aten.diagonal and aten.as_strided
 * (gathers too). Any dtype: elements are moved by size; constant_pad_nd casts its float value
 * to self's dtype once, in prepare(), as PyTorch does (toward zero for integers, != 0 for bool).
 * prepare() merges dims the gather walks contiguously, so a slice along dim 1 of a contiguous
 * tensor is a handful of memcpy calls. */
#include <string.h>

#include "kernels/kernel_util.h"

typedef struct gather_params {
  uint32_t rank; /* >= 1 after merging */
  uint32_t elem;
  int64_t offset; /* elements */
  int64_t dims[XNND_MAX_RANK];
  int64_t strides[XNND_MAX_RANK]; /* input element stride of each output dim; 0 broadcasts */
} gather_params;
KPARAMS_FIT(gather_params);

typedef struct pad_params {
  uint32_t rank;
  uint32_t elem;
  uint8_t value[8];                /* the pad value in self's dtype */
  bool any_copy;                   /* some input element survives the crop */
  int64_t count[XNND_MAX_RANK];    /* kept extent per dim */
  int64_t in_lo[XNND_MAX_RANK];    /* first kept input index per dim */
  int64_t out_lo[XNND_MAX_RANK];   /* where it lands in the output */
} pad_params;
KPARAMS_FIT(pad_params);

static void contiguous_strides(const xnnd_tensor* x, int64_t* strides) {
  int64_t k = 1;
  for (uint32_t i = x->rank; i-- > 0;) {
    strides[i] = k;
    k *= x->dims[i];
  }
}

/* Drops size-1 dims and merges neighbours the gather walks as one run. */
static void gather_simplify(gather_params* p, uint32_t rank, const int64_t* dims,
                            const int64_t* strides) {
  uint32_t m = 0;
  for (uint32_t i = 0; i < rank; i++) {
    if (dims[i] == 1) continue;
    if (m > 0 && p->strides[m - 1] == strides[i] * dims[i]) {
      p->dims[m - 1] *= dims[i];
      p->strides[m - 1] = strides[i];
    } else {
      p->dims[m] = dims[i];
      p->strides[m] = strides[i];
      m++;
    }
  }
  if (m == 0) {
    p->dims[0] = 1;
    p->strides[0] = 1;
    m = 1;
  }
  p->rank = m;
}

static xnnd_status gather_out(const kcheck* c, const xnnd_tensor* x, uint32_t rank,
                              const int64_t* dims) {
  const xnnd_tensor* y = koutput(c, 0);
  xnnd_status s = kcheck_tensor(c, y, "out", (int)x->dtype, -1);
  if (s != XNND_OK) return s;
  return kcheck_shape(c, y, "out", rank, dims);
}

KPREPARE(slice) {
  const kcheck c = {"aten.slice", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  if (x->rank == 0) return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank 0, expected at least 1");
  int64_t dim, start, end = 0, step;
  bool has_end;
  if ((s = kattr_int(&c, "dim", 0, &dim)) != XNND_OK ||
      (s = kattr_int(&c, "start", 0, &start)) != XNND_OK ||
      (s = kattr_int_opt(&c, "end", &has_end, &end)) != XNND_OK ||
      (s = kattr_int(&c, "step", 1, &step)) != XNND_OK)
    return s;
  uint32_t d;
  if ((s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  const int64_t size = x->dims[d];
  if (!has_end) end = size;
  if (step < 1)
    return kfail(&c, XNND_INVALID_ARGUMENT, "step must be >= 1, got %lld", (long long)step);
  /* fuzz fix (fuzz_program_load): strides[d] * step overflowed for a step of 2^61. A step
   * beyond the dim selects at most one element either way, so clamping changes nothing. */
  if (step > size) step = size > 0 ? size : 1;
  if (start < 0 || start > size || end < start || end > size)
    return kfail(&c, XNND_INVALID_ARGUMENT,
                 "start %lld and end %lld must satisfy 0 <= start <= end <= %lld (dim %u)",
                 (long long)start, (long long)end, (long long)size, d);
  int64_t out[XNND_MAX_RANK], strides[XNND_MAX_RANK];
  contiguous_strides(x, strides);
  for (uint32_t i = 0; i < x->rank; i++) out[i] = x->dims[i];
  out[d] = (end - start + step - 1) / step;
  if ((s = gather_out(&c, x, x->rank, out)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = start * strides[d];
  strides[d] *= step;
  gather_simplify(p, x->rank, out, strides);
  return XNND_OK;
}

KPREPARE(select) {
  const kcheck c = {"aten.select", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  if (x->rank == 0) return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank 0, expected at least 1");
  int64_t dim, index;
  bool has_dim, has_index;
  if ((s = kattr_int_opt(&c, "dim", &has_dim, &dim)) != XNND_OK ||
      (s = kattr_int_opt(&c, "index", &has_index, &index)) != XNND_OK)
    return s;
  if (!has_dim || !has_index)
    return kfail(&c, XNND_INVALID_ARGUMENT, "attribute %s is missing", has_dim ? "index" : "dim");
  uint32_t d;
  if ((s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  if (index < 0 || index >= x->dims[d])
    return kfail(&c, XNND_INVALID_ARGUMENT, "index %lld out of range [0, %lld) for dim %u",
                 (long long)index, (long long)x->dims[d], d);
  int64_t out[XNND_MAX_RANK], ostrides[XNND_MAX_RANK], strides[XNND_MAX_RANK];
  contiguous_strides(x, strides);
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i == d) continue;
    out[r] = x->dims[i];
    ostrides[r++] = strides[i];
  }
  if ((s = gather_out(&c, x, r, out)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = index * strides[d];
  gather_simplify(p, r, out, ostrides);
  return XNND_OK;
}

KPREPARE(expand) {
  const kcheck c = {"aten.expand", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t size[XNND_MAX_RANK];
  uint32_t n;
  if ((s = kattr_ints(&c, "size", NULL, 0, XNND_MAX_RANK, size, &n)) != XNND_OK) return s;
  if (n < x->rank)
    return kfail(&c, XNND_INVALID_ARGUMENT, "size has %u entries, self has rank %u", n, x->rank);
  int64_t in_strides[XNND_MAX_RANK], strides[XNND_MAX_RANK];
  contiguous_strides(x, in_strides);
  const uint32_t lead = n - x->rank;
  for (uint32_t i = 0; i < n; i++) {
    if (size[i] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT, "size[%u] is %lld, expected a concrete size", i,
                   (long long)size[i]);
    if (i < lead) {
      strides[i] = 0;
      continue;
    }
    const int64_t have = x->dims[i - lead];
    if (have != size[i] && have != 1) {
      char got[160], want[160];
      return kfail(&c, XNND_SHAPE_MISMATCH, "self %s does not expand to %s (dim %u)",
                   kshape_str(got, sizeof(got), x->rank, x->dims),
                   kshape_str(want, sizeof(want), n, size), i);
    }
    strides[i] = have == 1 ? 0 : in_strides[i - lead];
  }
  if ((s = gather_out(&c, x, n, size)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = 0;
  gather_simplify(p, n, size, strides);
  return XNND_OK;
}

/* aten.flip: a gather with negative strides along the flipped dims, starting at their ends. */
KPREPARE(flip) {
  const kcheck c = {"aten.flip", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t dims[XNND_MAX_RANK];
  uint32_t n;
  if ((s = kattr_ints(&c, "dims", NULL, 0, XNND_MAX_RANK, dims, &n)) != XNND_OK) return s;
  int64_t strides[XNND_MAX_RANK];
  contiguous_strides(x, strides);
  bool flipped[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t d;
    if ((s = kwrap_dim(&c, "dims entry", dims[i], x->rank, &d)) != XNND_OK) return s;
    if (x->rank > 0 && flipped[d])
      return kfail(&c, XNND_INVALID_ARGUMENT, "dim %u appears twice in dims", d);
    if (x->rank > 0) flipped[d] = true;
  }
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = 0;
  for (uint32_t d = 0; d < x->rank; d++) {
    if (!flipped[d] || x->dims[d] == 0) continue;
    p->offset += (x->dims[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  gather_simplify(p, x->rank, x->dims, strides);
  return XNND_OK;
}

/* aten.diagonal: dims other than dim1, dim2 in order, then the diagonal, whose stride is the
 * sum of the two. */
KPREPARE(diagonal) {
  const kcheck c = {"aten.diagonal", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  if (x->rank < 2)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, expected at least 2", x->rank);
  int64_t offset, dim1, dim2;
  if ((s = kattr_int(&c, "offset", 0, &offset)) != XNND_OK ||
      (s = kattr_int(&c, "dim1", 0, &dim1)) != XNND_OK ||
      (s = kattr_int(&c, "dim2", 1, &dim2)) != XNND_OK)
    return s;
  uint32_t d1, d2;
  if ((s = kwrap_dim(&c, "dim1", dim1, x->rank, &d1)) != XNND_OK ||
      (s = kwrap_dim(&c, "dim2", dim2, x->rank, &d2)) != XNND_OK)
    return s;
  if (d1 == d2) return kfail(&c, XNND_INVALID_ARGUMENT, "dim1 and dim2 are both dim %u", d1);
  const int64_t n1 = x->dims[d1], n2 = x->dims[d2];
  if (offset < -n1 - n2 || offset > n1 + n2) offset = n1 + n2; /* no element either way */
  const int64_t len = kmax64(0, offset >= 0 ? kmin64(n1, n2 - offset) : kmin64(n1 + offset, n2));
  int64_t strides[XNND_MAX_RANK], out[XNND_MAX_RANK], ostrides[XNND_MAX_RANK];
  contiguous_strides(x, strides);
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i == d1 || i == d2) continue;
    out[r] = x->dims[i];
    ostrides[r++] = strides[i];
  }
  out[r] = len;
  ostrides[r++] = strides[d1] + strides[d2];
  if ((s = gather_out(&c, x, r, out)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = len == 0 ? 0 : offset >= 0 ? offset * strides[d2] : -offset * strides[d1];
  gather_simplify(p, r, out, ostrides);
  return XNND_OK;
}

/* aten.as_strided over self's contiguous elements: out[i] = self[storage_offset +
 * sum(i_d * stride_d)]; every index read must lie inside self. */
KPREPARE(as_strided) {
  const kcheck c = {"aten.as_strided", args, err, err_size};
  gather_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t size[XNND_MAX_RANK], stride[XNND_MAX_RANK], offset;
  uint32_t n, ns;
  if ((s = kattr_ints(&c, "size", NULL, 0, XNND_MAX_RANK, size, &n)) != XNND_OK ||
      (s = kattr_ints(&c, "stride", NULL, 0, XNND_MAX_RANK, stride, &ns)) != XNND_OK ||
      (s = kattr_int(&c, "storage_offset", 0, &offset)) != XNND_OK)
    return s;
  if (n != ns)
    return kfail(&c, XNND_INVALID_ARGUMENT, "size has %u entries but stride has %u", n, ns);
  const int64_t numel = (int64_t)knumel(x);
  bool empty = false;
  for (uint32_t i = 0; i < n; i++) {
    if (size[i] < 0 || stride[i] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT, "size[%u] = %lld and stride[%u] = %lld must be >= 0",
                   i, (long long)size[i], i, (long long)stride[i]);
    if (size[i] == 0) empty = true;
  }
  if (offset < 0)
    return kfail(&c, XNND_INVALID_ARGUMENT, "storage_offset %lld is negative", (long long)offset);
  int64_t last = offset;
  for (uint32_t i = 0; i < n && !empty; i++) {
    if (size[i] > 1 && stride[i] > (numel - last) / (size[i] - 1))
      return kfail(&c, XNND_INVALID_ARGUMENT, "size and stride read beyond the %lld elements of "
                   "self (dim %u)", (long long)numel, i);
    if (size[i] > 1) last += (size[i] - 1) * stride[i];
  }
  if (!empty && last >= numel)
    return kfail(&c, XNND_INVALID_ARGUMENT, "storage_offset %lld with size and stride reads "
                 "element %lld but self has %lld", (long long)offset, (long long)last,
                 (long long)numel);
  if ((s = gather_out(&c, x, n, size)) != XNND_OK) return s;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = empty ? 0 : offset;
  gather_simplify(p, n, size, stride);
  return XNND_OK;
}

KRUN(gather) {
  const gather_params* p = params;
  return kstrided_gather(args->inputs[0]->data, args->outputs[0]->data, p->elem, p->rank, p->dims, p->strides,
                         p->offset);
}

/* value cast to dtype as PyTorch's fill does: toward zero for integers (wrapping into the
 * type's range), != 0 for bool. f16 is refused: the runtime has no float-to-half conversion. */
static xnnd_status pad_value_bytes(const kcheck* c, xnnd_dtype dtype, double value,
                                   uint8_t* out) {
  memset(out, 0, 8);
  const bool finite = value > -9.2e18 && value < 9.2e18;
  const int64_t i = finite ? (int64_t)value : 0;
  if (dtype != XNND_F32 && dtype != XNND_BOOL && !finite)
    return kfail(c, XNND_INVALID_ARGUMENT, "pad value %g does not fit %s", value,
                 xnnd_dtype_name(dtype));
  switch (dtype) {
    case XNND_F32: { const float f = (float)value; memcpy(out, &f, 4); break; }
    case XNND_I64: memcpy(out, &i, 8); break;
    case XNND_I32: { const int32_t v = (int32_t)(uint32_t)(uint64_t)i; memcpy(out, &v, 4); break; }
    case XNND_I8: { const int8_t v = (int8_t)(uint8_t)(uint64_t)i; memcpy(out, &v, 1); break; }
    case XNND_U8: out[0] = (uint8_t)(uint64_t)i; break;
    case XNND_BOOL: out[0] = value != 0.0; break;
    default:
      return kfail(c, XNND_UNSUPPORTED, "self is %s; expected f32, i64, i32, i8, u8 or bool",
                   xnnd_dtype_name(dtype));
  }
  return XNND_OK;
}

KPREPARE(constant_pad_nd) {
  const kcheck c = {"aten.constant_pad_nd", args, err, err_size};
  pad_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t pad[2 * XNND_MAX_RANK];
  uint32_t n;
  double value;
  if ((s = kattr_ints(&c, "pad", NULL, 0, 2 * XNND_MAX_RANK, pad, &n)) != XNND_OK ||
      (s = kattr_float(&c, "value", 0.0, &value)) != XNND_OK)
    return s;
  if (n % 2 != 0 || n / 2 > x->rank)
    return kfail(&c, XNND_INVALID_ARGUMENT,
                 "pad has %u entries; expected pairs for at most %u trailing dims", n, x->rank);
  *p = (pad_params){.rank = x->rank, .elem = (uint32_t)xnnd_dtype_size(x->dtype),
                    .any_copy = true};
  if ((s = pad_value_bytes(&c, x->dtype, value, p->value)) != XNND_OK) return s;
  int64_t out_dims[XNND_MAX_RANK];
  for (uint32_t d = 0; d < x->rank; d++) {
    int64_t lo = 0, hi = 0;
    const uint32_t pair = x->rank - 1 - d; /* pad pairs start from the last dim */
    if (pair < n / 2) {
      lo = pad[2 * pair];
      hi = pad[2 * pair + 1];
    }
    const int64_t in = x->dims[d];
    const int64_t lim = (int64_t)1 << 40; /* keeps in + lo + hi far from overflow */
    if (lo < -lim || lo > lim || hi < -lim || hi > lim)
      return kfail(&c, XNND_INVALID_ARGUMENT, "pad for dim %u is out of range", d);
    out_dims[d] = in + lo + hi;
    if (out_dims[d] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT, "pad (%lld, %lld) makes dim %u negative",
                   (long long)lo, (long long)hi, d);
    p->in_lo[d] = lo < 0 ? -lo : 0;
    p->out_lo[d] = lo > 0 ? lo : 0;
    p->count[d] = in - (lo < 0 ? -lo : 0) - (hi < 0 ? -hi : 0);
    if (p->count[d] <= 0) {
      p->count[d] = 0;
      p->any_copy = false;
    }
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(&c, y, "out", x->rank, out_dims);
}

KRUN(constant_pad_nd) {
  const pad_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  uint8_t* y = args->outputs[0]->data;
  const size_t total = knumel(args->outputs[0]), es = p->elem;
  if (total > 0) { /* fill by doubling: one element, then copies of the filled prefix */
    memcpy(y, p->value, es);
    for (size_t done = 1; done < total;) {
      const size_t n = done < total - done ? done : total - done;
      memcpy(y + done * es, y, n * es);
      done += n;
    }
  }
  if (!p->any_copy || p->rank == 0) {
    if (p->rank == 0 && total == 1) memcpy(y, x, es);
    return XNND_OK;
  }
  int64_t is[XNND_MAX_RANK], os[XNND_MAX_RANK];
  int64_t ki = 1, ko = 1;
  for (uint32_t d = p->rank; d-- > 0;) {
    is[d] = ki;
    os[d] = ko;
    ki *= args->inputs[0]->dims[d];
    ko *= args->outputs[0]->dims[d];
  }
  const uint32_t r = p->rank;
  int64_t src = 0, dst = 0;
  for (uint32_t d = 0; d < r; d++) {
    src += p->in_lo[d] * is[d];
    dst += p->out_lo[d] * os[d];
  }
  int64_t outer = 1;
  for (uint32_t d = 0; d + 1 < r; d++) outer *= p->count[d];
  const size_t row = (size_t)p->count[r - 1] * es;
  int64_t idx[XNND_MAX_RANK] = {0};
  for (int64_t o = 0; o < outer; o++) {
    memcpy(y + (size_t)dst * es, x + (size_t)src * es, row);
    for (uint32_t d = r - 1; d-- > 0;) {
      src += is[d];
      dst += os[d];
      if (++idx[d] < p->count[d]) break;
      src -= is[d] * p->count[d];
      dst -= os[d] * p->count[d];
      idx[d] = 0;
    }
  }
  return XNND_OK;
}

/* aten.roll: output[i] = input[(i - shift) mod n] along each rolled dim. An empty dims rolls
 * the flattened tensor, which is the 1-D case of the same loop. */
typedef struct roll_params {
  uint32_t rank;
  uint32_t elem;
  int64_t dims[XNND_MAX_RANK];
  int64_t shift[XNND_MAX_RANK]; /* in [0, dims[d]) */
} roll_params;
KPARAMS_FIT(roll_params);

KPREPARE(roll) {
  const kcheck c = {"aten.roll", args, err, err_size};
  roll_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;
  int64_t shifts[XNND_MAX_RANK], dims[XNND_MAX_RANK];
  uint32_t ns, nd;
  static const int64_t none[1] = {0};
  if ((s = kattr_ints(&c, "shifts", NULL, 0, XNND_MAX_RANK, shifts, &ns)) != XNND_OK ||
      (s = kattr_ints(&c, "dims", none, 0, XNND_MAX_RANK, dims, &nd)) != XNND_OK)
    return s;
  *p = (roll_params){.elem = (uint32_t)xnnd_dtype_size(x->dtype)};
  if (nd == 0) {
    if (ns != 1)
      return kfail(&c, XNND_INVALID_ARGUMENT, "shifts has %u entries; without dims it takes 1", ns);
    p->rank = 1;
    p->dims[0] = (int64_t)knumel(x);
    p->shift[0] = p->dims[0] ? ((shifts[0] % p->dims[0]) + p->dims[0]) % p->dims[0] : 0;
    return XNND_OK;
  }
  if (ns != nd)
    return kfail(&c, XNND_INVALID_ARGUMENT, "shifts has %u entries for %u dims", ns, nd);
  p->rank = x->rank;
  for (uint32_t i = 0; i < x->rank; i++) p->dims[i] = x->dims[i];
  for (uint32_t i = 0; i < nd; i++) {
    uint32_t d;
    if ((s = kwrap_dim(&c, "dims entry", dims[i], x->rank, &d)) != XNND_OK) return s;
    const int64_t n = x->dims[d];
    /* a dim listed twice rolls by the sum */
    if (n > 0) p->shift[d] = (((p->shift[d] + shifts[i] % n) % n) + n) % n;
  }
  return XNND_OK;
}

KRUN(roll) {
  const roll_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  uint8_t* y = args->outputs[0]->data;
  const uint32_t r = p->rank;
  if (r == 0) {
    memcpy(y, x, p->elem);
    return XNND_OK;
  }
  int64_t outer = 1, strides[XNND_MAX_RANK], k = 1;
  for (uint32_t d = r; d-- > 0;) {
    strides[d] = k;
    k *= p->dims[d];
  }
  for (uint32_t d = 0; d + 1 < r; d++) outer *= p->dims[d];
  const int64_t n = p->dims[r - 1], sh = p->shift[r - 1];
  if (n == 0 || outer == 0) return XNND_OK;
  const size_t es = p->elem;
  int64_t idx[XNND_MAX_RANK] = {0};
  for (int64_t o = 0; o < outer; o++) {
    int64_t src = 0, dst = 0;
    for (uint32_t d = 0; d + 1 < r; d++) {
      int64_t si = idx[d] - p->shift[d];
      if (si < 0) si += p->dims[d];
      src += si * strides[d];
      dst += idx[d] * strides[d];
    }
    /* out[sh..n) = in[0..n-sh), out[0..sh) = in[n-sh..n) */
    memcpy(y + (size_t)(dst + sh) * es, x + (size_t)src * es, (size_t)(n - sh) * es);
    if (sh > 0) memcpy(y + (size_t)dst * es, x + (size_t)(src + n - sh) * es, (size_t)sh * es);
    for (uint32_t d = r - 1; d-- > 0;) {
      if (++idx[d] < p->dims[d]) break;
      idx[d] = 0;
    }
  }
  return XNND_OK;
}
