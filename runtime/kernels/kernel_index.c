/* Gathers and scatters: aten.index_select, aten.gather, aten.index (embedding), aten.index_put,
 * aten._embedding_bag, aten.scatter, aten.scatter_reduce, aten.select_scatter,
 * aten.slice_scatter, aten.masked_scatter.
 * Index tensors are i64 or i32; a negative index counts from the end as in PyTorch. Index
 * values are data, so run() checks every one before it is used and returns
 * XNND_OUT_OF_RANGE with a message naming the op, the operand, the position and the value:
 * no index ever reaches memory unchecked. Ops that only move elements work on any dtype (by
 * element size); the ones that compute (accumulate, reduce) take f32, i32, i64, i8 and u8. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels/kernel_util.h"

/* ---- shared helpers ---- */

static inline int64_t load_index(const void* p, bool i64, size_t k) {
  return i64 ? ((const int64_t*)p)[k] : (int64_t)((const int32_t*)p)[k];
}

/* Advanced indexing (aten.index, aten.index_put) takes [-n, n), negatives counting from the
 * end; index_select, gather, scatter and embedding take [0, n) like PyTorch, which refuses a
 * negative index there. */
static inline bool wrap_index(int64_t* v, int64_t n, bool negative) {
  int64_t x = *v < 0 && negative ? *v + n : *v;
  if (x < 0 || x >= n) return false;
  *v = x;
  return true;
}

static xnnd_status index_oob(const xnnd_kernel_args* args, const char* op, const char* operand,
                             size_t pos, int64_t value, uint32_t dim, int64_t n, bool negative) {
  return krun_fail(args, op, XNND_OUT_OF_RANGE,
                   "%s[%zu] = %lld is out of range for dim %u of size %lld (valid: [%lld, %lld))",
                   operand, pos, (long long)value, dim, (long long)n,
                   (long long)(negative ? -n : 0), (long long)n);
}

static void contiguous_strides(uint32_t rank, const int64_t* dims, int64_t* strides) {
  int64_t k = 1;
  for (uint32_t i = rank; i-- > 0;) {
    strides[i] = k;
    k *= dims[i];
  }
}

static xnnd_status check_index_tensor(const kcheck* c, const xnnd_tensor* t, const char* what) {
  xnnd_status s = kcheck_tensor(c, t, what, -1, -1);
  if (s != XNND_OK) return s;
  if (t->dtype != XNND_I64 && t->dtype != XNND_I32)
    return kfail(c, XNND_DTYPE_MISMATCH, "%s has dtype %s, expected i64 or i32", what,
                 xnnd_dtype_name(t->dtype));
  return XNND_OK;
}

/* Dtypes the arithmetic kernels take. */
static bool arith_dtype(xnnd_dtype t) {
  return t == XNND_F32 || t == XNND_I32 || t == XNND_I64 || t == XNND_I8 || t == XNND_U8;
}

static inline int64_t dim_or_one(const xnnd_tensor* t, uint32_t d) {
  return t->rank == 0 ? 1 : t->dims[d];
}

/* ---- aten.index_select: y[outer, k, inner] = x[outer, index[k], inner] ----
 * The index may have any rank (embedding: weight[indices] along dim 0): its dims replace
 * self's dim; a 0-D index keeps the dim with size 1 as torch.index_select does. */
typedef struct index_select_params {
  int64_t outer, n, count;
  size_t inner_bytes;
  uint32_t dim;
  bool i64;
} index_select_params;
KPARAMS_FIT(index_select_params);

KPREPARE(index_select) {
  const kcheck c = {"aten.index_select", args, err, err_size};
  index_select_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor *x = kinput(&c, 0), *idx = kinput(&c, 1);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK ||
      (s = check_index_tensor(&c, idx, "index")) != XNND_OK)
    return s;
  int64_t dim;
  bool has_dim;
  if ((s = kattr_int_opt(&c, "dim", &has_dim, &dim)) != XNND_OK) return s;
  if (!has_dim) return kfail(&c, XNND_INVALID_ARGUMENT, "attribute dim is missing");
  uint32_t d;
  if ((s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  const int64_t count = (int64_t)knumel(idx);
  int64_t out[XNND_MAX_RANK];
  uint32_t r = 0;
  if (x->rank == 0 && count != 1)
    return kfail(&c, XNND_SHAPE_MISMATCH, "a 0-D self takes a 1-element index, got %lld",
                 (long long)count);
  if (x->rank > 0 && x->rank - 1 + (idx->rank ? idx->rank : 1) > XNND_MAX_RANK)
    return kfail(&c, XNND_SHAPE_MISMATCH, "result rank exceeds %d", XNND_MAX_RANK);
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i != d) {
      out[r++] = x->dims[i];
    } else if (idx->rank == 0) {
      out[r++] = 1;
    } else {
      for (uint32_t k = 0; k < idx->rank; k++) out[r++] = idx->dims[k];
    }
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", r, out)) != XNND_OK)
    return s;
  *p = (index_select_params){.outer = 1, .n = 1, .count = count, .dim = d,
                             .i64 = idx->dtype == XNND_I64};
  int64_t inner = 1;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i < d) p->outer *= x->dims[i];
    else if (i == d) p->n = x->dims[i];
    else inner *= x->dims[i];
  }
  p->inner_bytes = (size_t)inner * xnnd_dtype_size(x->dtype);
  return XNND_OK;
}

KRUN(index_select) {
  const index_select_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  const void* idx = args->inputs[1]->data;
  uint8_t* y = args->outputs[0]->data;
  for (int64_t k = 0; k < p->count; k++) {
    int64_t v = load_index(idx, p->i64, (size_t)k);
    if (!wrap_index(&v, p->n, false))
      return index_oob(args, "aten.index_select", "index", (size_t)k, v, p->dim, p->n, false);
  }
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t k = 0; k < p->count; k++) {
      const int64_t v = load_index(idx, p->i64, (size_t)k);
      memcpy(y + (size_t)(o * p->count + k) * p->inner_bytes,
             x + (size_t)(o * p->n + v) * p->inner_bytes, p->inner_bytes);
    }
  return XNND_OK;
}

/* ---- aten.gather / aten.scatter / aten.scatter_reduce: walk the index's shape ----
 * gather: y[i] = x[i with i_dim = index[i]]; scatter: y[i with i_dim = index[i]] = src[i]. */
typedef struct elements_params {
  uint32_t rank; /* of the walk (index rank, >= 1) */
  uint32_t dim;
  uint32_t elem;
  bool i64;
  int64_t n;                      /* size of self's dim */
  int64_t dims[XNND_MAX_RANK];    /* index shape */
  int64_t xstr[XNND_MAX_RANK];    /* self (gather) or out (scatter) strides */
  int64_t sstr[XNND_MAX_RANK];    /* src strides (scatter; 0 for a 0-D src) */
  int32_t reduce;                 /* scatter_reduce: 0 sum, 1 prod, 2 mean, 3 amax, 4 amin */
  bool include_self;
} elements_params;
KPARAMS_FIT(elements_params);

static xnnd_status elements_prepare(const kcheck* c, elements_params* p, bool scatter) {
  xnnd_status s = kcheck_arity(c, scatter ? 3 : 2, scatter ? 3 : 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor *x = kinput(c, 0), *idx = kinput(c, 1), *src = scatter ? kinput(c, 2) : NULL;
  if ((s = kcheck_tensor(c, x, "self", -1, -1)) != XNND_OK ||
      (s = check_index_tensor(c, idx, "index")) != XNND_OK)
    return s;
  if (src && (s = kcheck_tensor(c, src, "src", (int)x->dtype, -1)) != XNND_OK) return s;
  int64_t dim;
  bool has_dim;
  if ((s = kattr_int_opt(c, "dim", &has_dim, &dim)) != XNND_OK) return s;
  if (!has_dim) return kfail(c, XNND_INVALID_ARGUMENT, "attribute dim is missing");
  uint32_t d;
  if ((s = kwrap_dim(c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  const uint32_t r = x->rank ? x->rank : 1;
  if ((idx->rank ? idx->rank : 1) != r)
    return kfail(c, XNND_SHAPE_MISMATCH, "index has rank %u, expected self's rank %u", idx->rank,
                 x->rank);
  if (src && src->rank != 0 && src->rank != x->rank)
    return kfail(c, XNND_SHAPE_MISMATCH, "src has rank %u, expected %u or 0", src->rank, x->rank);
  memset(p, 0, sizeof(*p));
  p->rank = r;
  p->dim = d;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->i64 = idx->dtype == XNND_I64;
  p->n = dim_or_one(x, d);
  int64_t xd[XNND_MAX_RANK], sd[XNND_MAX_RANK];
  for (uint32_t i = 0; i < r; i++) {
    p->dims[i] = dim_or_one(idx, i);
    xd[i] = dim_or_one(x, i);
    sd[i] = src && src->rank ? src->dims[i] : 1;
    if (i != d && p->dims[i] > xd[i])
      return kfail(c, XNND_SHAPE_MISMATCH, "index has size %lld in dim %u, larger than self's %lld",
                   (long long)p->dims[i], i, (long long)xd[i]);
    if (src && src->rank && p->dims[i] > sd[i])
      return kfail(c, XNND_SHAPE_MISMATCH, "index has size %lld in dim %u, larger than src's %lld",
                   (long long)p->dims[i], i, (long long)sd[i]);
  }
  contiguous_strides(r, xd, p->xstr);
  contiguous_strides(r, sd, p->sstr);
  if (src && src->rank == 0)
    for (uint32_t i = 0; i < r; i++) p->sstr[i] = 0;
  const xnnd_tensor* y = koutput(c, 0);
  if (scatter) return kcheck_same(c, y, "out", x);
  if ((s = kcheck_tensor(c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(c, y, "out", idx->rank, idx->dims);
}

KPREPARE(gather) {
  const kcheck c = {"aten.gather", args, err, err_size};
  return elements_prepare(&c, params, false);
}

/* Calls body for every index position with k (position), dst/src offsets in elements; off_x
 * is the self/out offset with the index applied. Stops with OUT_OF_RANGE on a bad index. */
#define WALK_ELEMENTS(p, idx, op, body)                                                \
  do {                                                                                 \
    int64_t total_ = 1;                                                                \
    for (uint32_t i_ = 0; i_ < (p)->rank; i_++) total_ *= (p)->dims[i_];               \
    int64_t co_[XNND_MAX_RANK] = {0};                                                  \
    for (int64_t k = 0; k < total_; k++) {                                             \
      int64_t v_ = load_index((idx), (p)->i64, (size_t)k);                             \
      if (!wrap_index(&v_, (p)->n, false))                                             \
        return index_oob(args, (op), "index", (size_t)k, v_, (p)->dim, (p)->n, false); \
      int64_t off_x = 0, off_s = 0;                                                    \
      for (uint32_t i_ = 0; i_ < (p)->rank; i_++) {                                    \
        off_x += (i_ == (p)->dim ? v_ : co_[i_]) * (p)->xstr[i_];                       \
        off_s += co_[i_] * (p)->sstr[i_];                                              \
      }                                                                                \
      (void)off_s;                                                                     \
      body;                                                                            \
      for (uint32_t i_ = (p)->rank; i_-- > 0;) {                                       \
        if (++co_[i_] < (p)->dims[i_]) break;                                          \
        co_[i_] = 0;                                                                   \
      }                                                                                \
    }                                                                                  \
  } while (0)

KRUN(gather_elements) {
  const elements_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  uint8_t* y = args->outputs[0]->data;
  const size_t es = p->elem;
  WALK_ELEMENTS(p, args->inputs[1]->data, "aten.gather",
                memcpy(y + (size_t)k * es, x + (size_t)off_x * es, es));
  return XNND_OK;
}

KPREPARE(scatter) {
  const kcheck c = {"aten.scatter", args, err, err_size};
  return elements_prepare(&c, params, true);
}

/* Checks every index first, so a bad one leaves nothing half-scattered behind a failure. */
static xnnd_status check_elements(const xnnd_kernel_args* args, const elements_params* p,
                                  const char* op) {
  WALK_ELEMENTS(p, args->inputs[1]->data, op, (void)off_x);
  return XNND_OK;
}

KRUN(scatter) {
  const elements_params* p = params;
  const uint8_t* src = args->inputs[2]->data;
  uint8_t* y = args->outputs[0]->data;
  const size_t es = p->elem;
  xnnd_status s = check_elements(args, p, "aten.scatter");
  if (s != XNND_OK) return s;
  memcpy(y, args->inputs[0]->data, knumel(args->outputs[0]) * es);
  WALK_ELEMENTS(p, args->inputs[1]->data, "aten.scatter",
                memcpy(y + (size_t)off_x * es, src + (size_t)off_s * es, es));
  return XNND_OK;
}

KPREPARE(scatter_reduce) {
  const kcheck c = {"aten.scatter_reduce", args, err, err_size};
  elements_params* p = params;
  xnnd_status s = elements_prepare(&c, p, true);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if (!arith_dtype(x->dtype))
    return kfail(&c, XNND_DTYPE_MISMATCH, "self has dtype %s, expected f32, i32, i64, i8 or u8",
                 xnnd_dtype_name(x->dtype));
  int64_t reduce;
  bool has_reduce, include_self;
  if ((s = kattr_int_opt(&c, "reduce", &has_reduce, &reduce)) != XNND_OK ||
      (s = kattr_bool(&c, "include_self", true, &include_self)) != XNND_OK)
    return s;
  if (!has_reduce || reduce < 0 || reduce > 4)
    return kfail(&c, XNND_INVALID_ARGUMENT,
                 "attribute reduce must be 0 sum, 1 prod, 2 mean, 3 amax or 4 amin");
  p->reduce = (int32_t)reduce;
  p->include_self = include_self;
  const xnnd_tensor* cnt = koutput(&c, 1);
  if ((s = kcheck_tensor(&c, cnt, "count", XNND_I64, -1)) != XNND_OK) return s;
  return kcheck_shape(&c, cnt, "count", x->rank, x->dims);
}

/* amax/amin propagate NaN like PyTorch's CPU kernel. */
#define SCATTER_REDUCE(T, LO, HI, IS_FLOAT)                                                 \
  do {                                                                                      \
    T* y = args->outputs[0]->data;                                                          \
    const T* src = args->inputs[2]->data;                                                   \
    if (!p->include_self) {                                                                 \
      const T ident = p->reduce == 1 ? (T)1 : p->reduce == 3 ? (LO) : p->reduce == 4 ? (HI) \
                                                                                  : (T)0;   \
      WALK_ELEMENTS(p, idx, "aten.scatter_reduce", y[off_x] = ident);                       \
    }                                                                                       \
    WALK_ELEMENTS(p, idx, "aten.scatter_reduce", {                                          \
      const T v = src[off_s];                                                               \
      T* d = &y[off_x];                                                                     \
      switch (p->reduce) {                                                                  \
        case 0: case 2: *d = (T)(*d + v); break;                                            \
        case 1: *d = (T)(*d * v); break;                                                    \
        case 3: if ((IS_FLOAT && v != v) || v > *d) *d = v; break;                          \
        default: if ((IS_FLOAT && v != v) || v < *d) *d = v; break;                         \
      }                                                                                     \
      cnt[off_x]++;                                                                         \
    });                                                                                     \
    if (p->reduce == 2)                                                                     \
      for (size_t i = 0; i < total; i++) {                                                  \
        if (cnt[i] <= 1) continue;                                                          \
        if (IS_FLOAT) y[i] = (T)(y[i] / (T)cnt[i]);                                         \
        else y[i] = (T)kfloor_div((int64_t)y[i], cnt[i]);                                   \
      }                                                                                     \
  } while (0)

KRUN(scatter_reduce) {
  const elements_params* p = params;
  const void* idx = args->inputs[1]->data;
  int64_t* cnt = args->outputs[1]->data;
  const size_t total = knumel(args->outputs[0]);
  xnnd_status s = check_elements(args, p, "aten.scatter_reduce");
  if (s != XNND_OK) return s;
  memcpy(args->outputs[0]->data, args->inputs[0]->data, total * p->elem);
  for (size_t i = 0; i < total; i++) cnt[i] = p->include_self ? 1 : 0;
  switch (args->inputs[0]->dtype) {
    case XNND_F32: SCATTER_REDUCE(float, -INFINITY, INFINITY, 1); break;
    case XNND_I32: SCATTER_REDUCE(int32_t, INT32_MIN, INT32_MAX, 0); break;
    case XNND_I64: SCATTER_REDUCE(int64_t, INT64_MIN, INT64_MAX, 0); break;
    case XNND_I8: SCATTER_REDUCE(int8_t, INT8_MIN, INT8_MAX, 0); break;
    default: SCATTER_REDUCE(uint8_t, 0, UINT8_MAX, 0); break;
  }
  return XNND_OK;
}

/* ---- aten.index / aten.index_put: PyTorch advanced indexing ----
 * The result shape R: the index tensors broadcast to B; B replaces the indexed dims when they
 * are adjacent, else B comes first and the kept dims follow. Every result dim is either a kept
 * self dim (self_stride) or a B dim (per-index strides); trailing kept dims that end self form
 * a contiguous block moved whole. Built in run() from the tensors (it exceeds the params). */
typedef struct index_plan {
  uint32_t rank;            /* of R */
  uint32_t outer_rank;      /* dims walked one by one; the rest are the block */
  int64_t dims[XNND_MAX_RANK];
  int64_t self_stride[XNND_MAX_RANK];
  uint32_t nidx;
  uint32_t pos[XNND_MAX_RANK];          /* self dim of each index tensor */
  const void* data[XNND_MAX_RANK];
  bool i64[XNND_MAX_RANK];
  int64_t istride[XNND_MAX_RANK][XNND_MAX_RANK];
  int64_t xstride[XNND_MAX_RANK];       /* self stride of each index's dim */
  int64_t xsize[XNND_MAX_RANK];
  int64_t block;                         /* elements per block */
} index_plan;

/* Shape checks shared by prepare (once) and the plan (every run, after prepare passed). */
static xnnd_status index_plan_build(const kcheck* c, const xnnd_tensor* x,
                                    const xnnd_tensor* const* idx, uint32_t count,
                                    index_plan* p) {
  memset(p, 0, sizeof(*p));
  if (count > x->rank)
    return kfail(c, XNND_SHAPE_MISMATCH, "%u index tensors for a self of rank %u", count, x->rank);
  uint32_t br = 0, lo = 0, hi = 0;
  int64_t b[XNND_MAX_RANK];
  for (uint32_t k = 0; k < count; k++) {
    if (!idx[k]) continue;
    char what[32];
    snprintf(what, sizeof what, "indices[%u]", k);
    xnnd_status s = check_index_tensor(c, idx[k], what);
    if (s != XNND_OK) return s;
    if (p->nidx == 0) lo = k;
    hi = k;
    p->pos[p->nidx] = k;
    p->data[p->nidx] = idx[k]->data;
    p->i64[p->nidx] = idx[k]->dtype == XNND_I64;
    p->nidx++;
    const uint32_t r = idx[k]->rank > br ? idx[k]->rank : br;
    int64_t nb[XNND_MAX_RANK];
    for (uint32_t i = 0; i < r; i++) {
      const int64_t da = i + br >= r ? b[i + br - r] : 1;
      const int64_t di = i + idx[k]->rank >= r ? idx[k]->dims[i + idx[k]->rank - r] : 1;
      if (da != di && da != 1 && di != 1) {
        char buf[160];
        return kfail(c, XNND_SHAPE_MISMATCH, "%s %s does not broadcast with the other indices",
                     what, kshape_str(buf, sizeof buf, idx[k]->rank, idx[k]->dims));
      }
      nb[i] = da == 1 ? di : da;
    }
    memcpy(b, nb, sizeof(int64_t) * r);
    br = r;
  }
  if (p->nidx == 0) return kfail(c, XNND_INVALID_ARGUMENT, "every index tensor is absent");
  const bool adjacent = hi - lo + 1 == p->nidx;
  p->rank = x->rank - p->nidx + br;
  if (p->rank > XNND_MAX_RANK)
    return kfail(c, XNND_SHAPE_MISMATCH, "result rank %u exceeds %d", p->rank, XNND_MAX_RANK);
  int64_t xs[XNND_MAX_RANK];
  contiguous_strides(x->rank, x->dims, xs);
  for (uint32_t k = 0; k < p->nidx; k++) {
    p->xstride[k] = xs[p->pos[k]];
    p->xsize[k] = x->dims[p->pos[k]];
  }
  /* kept[j]: the self dim of result dim j, or -1 for a B dim (b_at[j] its index in B) */
  int32_t kept[XNND_MAX_RANK];
  uint32_t b_at[XNND_MAX_RANK] = {0};
  uint32_t j = 0;
  const uint32_t b_start = adjacent ? lo : 0;
  for (uint32_t d = 0; d < b_start; d++) kept[j++] = (int32_t)d;
  for (uint32_t i = 0; i < br; i++) {
    b_at[j] = i;
    kept[j++] = -1;
  }
  for (uint32_t d = adjacent ? hi + 1 : 0; d < x->rank; d++) {
    bool indexed = d < count && idx[d];
    if (!indexed) kept[j++] = (int32_t)d;
  }
  for (j = 0; j < p->rank; j++) {
    if (kept[j] >= 0) {
      p->dims[j] = x->dims[kept[j]];
      p->self_stride[j] = xs[kept[j]];
      continue;
    }
    p->dims[j] = b[b_at[j]];
    for (uint32_t k = 0; k < p->nidx; k++) {
      const xnnd_tensor* t = idx[p->pos[k]];
      const int64_t tdim = (int64_t)b_at[j] - (int64_t)(br - t->rank);
      if (tdim < 0 || t->dims[tdim] == 1) continue;
      int64_t ts[XNND_MAX_RANK];
      contiguous_strides(t->rank, t->dims, ts);
      p->istride[k][j] = ts[tdim];
    }
  }
  /* trailing kept dims that end self in order are one contiguous block */
  p->outer_rank = p->rank;
  p->block = 1;
  int32_t want = (int32_t)x->rank - 1;
  while (p->outer_rank > 0 && kept[p->outer_rank - 1] == want) {
    p->block *= p->dims[p->outer_rank - 1];
    p->outer_rank--;
    want--;
  }
  return XNND_OK;
}

/* Self offset (elements) of the block at result coordinates co[0..outer_rank). */
static xnnd_status index_plan_offset(const xnnd_kernel_args* args, const char* op,
                                     const index_plan* p, const int64_t* co, int64_t* off) {
  int64_t o = 0;
  for (uint32_t j = 0; j < p->outer_rank; j++) o += co[j] * p->self_stride[j];
  for (uint32_t k = 0; k < p->nidx; k++) {
    int64_t e = 0;
    for (uint32_t j = 0; j < p->outer_rank; j++) e += co[j] * p->istride[k][j];
    int64_t v = load_index(p->data[k], p->i64[k], (size_t)e);
    if (!wrap_index(&v, p->xsize[k], true)) {
      char what[32];
      snprintf(what, sizeof what, "indices[%u]", p->pos[k]);
      return index_oob(args, op, what, (size_t)e, load_index(p->data[k], p->i64[k], (size_t)e),
                       p->pos[k], p->xsize[k], true);
    }
    o += v * p->xstride[k];
  }
  *off = o;
  return XNND_OK;
}

static bool advance(int64_t* co, const int64_t* dims, uint32_t rank) {
  for (uint32_t j = rank; j-- > 0;) {
    if (++co[j] < dims[j]) return true;
    co[j] = 0;
  }
  return false;
}

static int64_t outer_count(const index_plan* p) {
  int64_t n = 1;
  for (uint32_t j = 0; j < p->outer_rank; j++) n *= p->dims[j];
  return n;
}

typedef struct index_params {
  uint32_t first; /* input of the index for self dim 0 */
  uint32_t elem;
  bool accumulate;
  /* index_put with one boolean mask (x[mask] = v): the mask covers self dims
   * [mask_pos, mask_pos + mask_rank); values broadcast without the data-dependent dim */
  bool mask;
  uint32_t mask_pos, mask_rank;
} index_params;
KPARAMS_FIT(index_params);

static const xnnd_tensor* const* index_inputs(const xnnd_kernel_args* args, uint32_t first,
                                              uint32_t* count) {
  *count = args->num_inputs - first;
  return (const xnnd_tensor* const*)args->inputs + first;
}

KPREPARE(index) {
  const kcheck c = {"aten.index", args, err, err_size};
  index_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 1 + XNND_MAX_RANK, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  uint32_t count;
  const xnnd_tensor* const* idx = index_inputs(args, 1, &count);
  index_plan plan;
  if ((s = index_plan_build(&c, x, idx, count, &plan)) != XNND_OK) return s;
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", plan.rank, plan.dims)) != XNND_OK)
    return s;
  *p = (index_params){.first = 1, .elem = (uint32_t)xnnd_dtype_size(x->dtype)};
  return XNND_OK;
}

KRUN(index) {
  const index_params* p = params;
  const kcheck c = {"aten.index", args, NULL, 0};
  uint32_t count;
  const xnnd_tensor* const* idx = index_inputs(args, p->first, &count);
  index_plan plan;
  xnnd_status s = index_plan_build(&c, args->inputs[0], idx, count, &plan);
  if (s != XNND_OK) return s;
  const uint8_t* x = args->inputs[0]->data;
  uint8_t* y = args->outputs[0]->data;
  const size_t bytes = (size_t)plan.block * p->elem;
  const int64_t n = outer_count(&plan);
  if (bytes == 0) return XNND_OK;
  int64_t co[XNND_MAX_RANK] = {0};
  for (int64_t o = 0; o < n; o++) {
    int64_t off;
    if ((s = index_plan_offset(args, "aten.index", &plan, co, &off)) != XNND_OK) return s;
    memcpy(y + (size_t)o * bytes, x + (size_t)off * p->elem, bytes);
    advance(co, plan.dims, plan.outer_rank);
  }
  return XNND_OK;
}

/* x[mask] = v: the result shape of x[mask] is [pre, N, post] with N (the number of true
 * elements) known only at run time, so values must not span it (size 1 or absent there). */
static xnnd_status mask_put_prepare(const kcheck* c, index_params* p, const xnnd_tensor* x,
                                    const xnnd_tensor* v, const xnnd_tensor* const* idx,
                                    uint32_t count, uint32_t k, bool accumulate) {
  for (uint32_t i = 0; i < count; i++)
    if (i != k && idx[i])
      return kfail(c, XNND_INVALID_ARGUMENT,
                   "a boolean mask index (indices[%u]) takes no other index tensor", k);
  const xnnd_tensor* m = idx[k];
  xnnd_status s = kcheck_tensor(c, m, "mask", XNND_BOOL, -1);
  if (s != XNND_OK) return s;
  if (m->rank == 0 || k + m->rank > x->rank)
    return kfail(c, XNND_SHAPE_MISMATCH, "mask of rank %u at dim %u does not fit self's rank %u",
                 m->rank, k, x->rank);
  for (uint32_t i = 0; i < m->rank; i++)
    if (m->dims[i] != x->dims[k + i]) {
      char bm[160], bx[160];
      return kfail(c, XNND_SHAPE_MISMATCH, "mask %s does not match self %s at dim %u",
                   kshape_str(bm, sizeof bm, m->rank, m->dims),
                   kshape_str(bx, sizeof bx, x->rank, x->dims), k);
    }
  /* result dims: x[0..k), N, x[k+m..); values aligned from the right */
  const uint32_t rr = x->rank - m->rank + 1;
  bool ok = v->rank <= rr;
  for (uint32_t i = 0; ok && i < v->rank; i++) {
    const uint32_t j = rr - 1 - i;  /* result dim */
    const int64_t dv = v->dims[v->rank - 1 - i];
    const int64_t dr = j < k ? x->dims[j] : j == k ? 1 : x->dims[j + m->rank - 1];
    ok = dv == dr || dv == 1;
  }
  if (!ok) {
    char bv[160];
    return kfail(c, XNND_SHAPE_MISMATCH, "values %s do not broadcast to self[mask] (whose "
                 "masked dim must take values of size 1)",
                 kshape_str(bv, sizeof bv, v->rank, v->dims));
  }
  if ((s = kcheck_same(c, koutput(c, 0), "out", x)) != XNND_OK) return s;
  *p = (index_params){.first = 2, .elem = (uint32_t)xnnd_dtype_size(x->dtype),
                      .accumulate = accumulate, .mask = true, .mask_pos = k,
                      .mask_rank = m->rank};
  return XNND_OK;
}

#define MASK_ACCUMULATE(T) ((T*)y)[dst] = (T)(((T*)y)[dst] + ((const T*)vals)[vo])

static xnnd_status mask_put_run(const xnnd_kernel_args* args, const index_params* p) {
  const xnnd_tensor *x = args->inputs[0], *v = args->inputs[1];
  const uint8_t* m = args->inputs[p->first + p->mask_pos]->data; /* any nonzero byte: true */
  uint8_t* y = args->outputs[0]->data;
  const uint8_t* vals = v->data;
  const size_t es = p->elem;
  memcpy(y, x->data, knumel(x) * es);
  const uint32_t k = p->mask_pos, mr = p->mask_rank, rr = x->rank - mr + 1;
  /* values strides over the result dims [pre, N, post]; N always broadcasts */
  int64_t rdims[XNND_MAX_RANK], vstr[XNND_MAX_RANK] = {0}, vs[XNND_MAX_RANK];
  for (uint32_t j = 0; j < rr; j++)
    rdims[j] = j < k ? x->dims[j] : j == k ? 1 : x->dims[j + mr - 1];
  contiguous_strides(v->rank, v->dims, vs);
  for (uint32_t i = 0; i < v->rank; i++)
    vstr[rr - v->rank + i] = v->dims[i] == 1 ? 0 : vs[i];
  int64_t pre = 1, mid = 1, post = 1;
  for (uint32_t d = 0; d < x->rank; d++) {
    if (d < k) pre *= x->dims[d];
    else if (d < k + mr) mid *= x->dims[d];
    else post *= x->dims[d];
  }
  for (int64_t a = 0; a < pre; a++) {
    int64_t vpre = 0, r = a;
    for (uint32_t j = k; j-- > 0;) {
      vpre += (r % rdims[j]) * vstr[j];
      r /= rdims[j];
    }
    for (int64_t b = 0; b < mid; b++) {
      if (!m[b]) continue;
      for (int64_t e = 0; e < post; e++) {
        int64_t vo = vpre, q = e;
        for (uint32_t j = rr; j-- > k + 1;) {
          vo += (q % rdims[j]) * vstr[j];
          q /= rdims[j];
        }
        const int64_t dst = (a * mid + b) * post + e;
        if (!p->accumulate) {
          memcpy(y + (size_t)dst * es, vals + (size_t)vo * es, es);
          continue;
        }
        switch (v->dtype) {
          case XNND_F32: MASK_ACCUMULATE(float); break;
          case XNND_I32: MASK_ACCUMULATE(int32_t); break;
          case XNND_I64: MASK_ACCUMULATE(int64_t); break;
          case XNND_I8: MASK_ACCUMULATE(int8_t); break;
          default: MASK_ACCUMULATE(uint8_t); break;
        }
      }
    }
  }
  return XNND_OK;
}

KPREPARE(index_put) {
  const kcheck c = {"aten.index_put", args, err, err_size};
  index_params* p = params;
  xnnd_status s = kcheck_arity(&c, 3, 2 + XNND_MAX_RANK, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor *x = kinput(&c, 0), *v = kinput(&c, 1);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, v, "values", (int)x->dtype, -1)) != XNND_OK)
    return s;
  bool accumulate;
  if ((s = kattr_bool(&c, "accumulate", false, &accumulate)) != XNND_OK) return s;
  if (accumulate && !arith_dtype(x->dtype))
    return kfail(&c, XNND_DTYPE_MISMATCH,
                 "accumulate takes f32, i32, i64, i8 or u8, self has dtype %s",
                 xnnd_dtype_name(x->dtype));
  uint32_t count;
  const xnnd_tensor* const* idx = index_inputs(args, 2, &count);
  for (uint32_t k = 0; k < count; k++)
    if (idx[k] && idx[k]->dtype == XNND_BOOL)
      return mask_put_prepare(&c, p, x, v, idx, count, k, accumulate);
  index_plan plan;
  if ((s = index_plan_build(&c, x, idx, count, &plan)) != XNND_OK) return s;
  bool ok = v->rank <= plan.rank;
  for (uint32_t i = 0; ok && i < v->rank; i++) {
    const int64_t dv = v->dims[v->rank - 1 - i], dr = plan.dims[plan.rank - 1 - i];
    ok = dv == dr || dv == 1;
  }
  if (!ok) {
    char bv[160], br[160];
    return kfail(&c, XNND_SHAPE_MISMATCH, "values %s do not broadcast to the indexed shape %s",
                 kshape_str(bv, sizeof bv, v->rank, v->dims),
                 kshape_str(br, sizeof br, plan.rank, plan.dims));
  }
  if ((s = kcheck_same(&c, koutput(&c, 0), "out", x)) != XNND_OK) return s;
  *p = (index_params){.first = 2, .elem = (uint32_t)xnnd_dtype_size(x->dtype),
                      .accumulate = accumulate};
  return XNND_OK;
}

#define ACCUMULATE(T)                                                \
  do {                                                               \
    T* yt = (T*)y + off;                                             \
    const T* vt = (const T*)vals;                                    \
    for (int64_t e = 0; e < plan.block; e++) {                       \
      const int64_t vo = vbase + block_voff(&plan, vstr, e);         \
      yt[e] = (T)(yt[e] + vt[vo]);                                   \
    }                                                                \
  } while (0)

/* Offset into values of element e of a block (values broadcast over the result). */
static int64_t block_voff(const index_plan* p, const int64_t* vstr, int64_t e) {
  int64_t o = 0;
  for (uint32_t j = p->rank; j-- > p->outer_rank;) {
    o += (e % p->dims[j]) * vstr[j];
    e /= p->dims[j];
  }
  return o;
}

KRUN(index_put) {
  const index_params* p = params;
  if (p->mask) return mask_put_run(args, p);
  const kcheck c = {"aten.index_put", args, NULL, 0};
  uint32_t count;
  const xnnd_tensor* const* idx = index_inputs(args, p->first, &count);
  const xnnd_tensor* v = args->inputs[1];
  index_plan plan;
  xnnd_status s = index_plan_build(&c, args->inputs[0], idx, count, &plan);
  if (s != XNND_OK) return s;
  /* values strides over the result dims, 0 where values broadcast */
  int64_t vstr[XNND_MAX_RANK] = {0}, vs[XNND_MAX_RANK];
  contiguous_strides(v->rank, v->dims, vs);
  for (uint32_t i = 0; i < v->rank; i++) {
    const uint32_t j = plan.rank - v->rank + i;
    vstr[j] = v->dims[i] == 1 ? 0 : vs[i];
  }
  const int64_t n = outer_count(&plan);
  int64_t co[XNND_MAX_RANK] = {0};
  for (int64_t o = 0; o < n && plan.block > 0; o++) {  /* every index first */
    int64_t off;
    if ((s = index_plan_offset(args, "aten.index_put", &plan, co, &off)) != XNND_OK) return s;
    advance(co, plan.dims, plan.outer_rank);
  }
  uint8_t* y = args->outputs[0]->data;
  const uint8_t* vals = v->data;
  const size_t es = p->elem;
  memcpy(y, args->inputs[0]->data, knumel(args->outputs[0]) * es);
  if (plan.block == 0) return XNND_OK;
  memset(co, 0, sizeof(co));
  for (int64_t o = 0; o < n; o++) {
    int64_t off, vbase = 0;
    if ((s = index_plan_offset(args, "aten.index_put", &plan, co, &off)) != XNND_OK) return s;
    for (uint32_t j = 0; j < plan.outer_rank; j++) vbase += co[j] * vstr[j];
    if (!p->accumulate) {
      for (int64_t e = 0; e < plan.block; e++)
        memcpy(y + (size_t)(off + e) * es, vals + (size_t)(vbase + block_voff(&plan, vstr, e)) * es,
               es);
    } else {
      switch (v->dtype) {
        case XNND_F32: ACCUMULATE(float); break;
        case XNND_I32: ACCUMULATE(int32_t); break;
        case XNND_I64: ACCUMULATE(int64_t); break;
        case XNND_I8: ACCUMULATE(int8_t); break;
        default: ACCUMULATE(uint8_t); break;
      }
    }
    advance(co, plan.dims, plan.outer_rank);
  }
  return XNND_OK;
}

/* ---- aten._embedding_bag: out[b] = reduce(weight[indices[offsets[b] .. end_b)]) ----
 * Bag b ends at the next offset (the last one at len(indices), or at the final offset with
 * include_last_offset). Entries equal to padding_idx are skipped (not counted by mean); an
 * empty bag gives zeros. Offsets are checked like indices: 0 <= offsets[b] <= end <= N. */
typedef struct embedding_bag_params {
  int64_t rows, dim, n, bags, noff;
  int64_t padding_idx; /* -1 none, else in [0, rows) */
  int32_t mode;
  bool i64, include_last, has_psw;
} embedding_bag_params;
KPARAMS_FIT(embedding_bag_params);

KPREPARE(embedding_bag) {
  const kcheck c = {"aten._embedding_bag", args, err, err_size};
  embedding_bag_params* p = params;
  xnnd_status s = kcheck_arity(&c, 3, 4, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor *w = kinput(&c, 0), *idx = kinput(&c, 1), *off = kinput(&c, 2),
                    *psw = kinput(&c, 3);
  if ((s = kcheck_tensor(&c, w, "weight", XNND_F32, 2)) != XNND_OK ||
      (s = check_index_tensor(&c, idx, "indices")) != XNND_OK ||
      (s = check_index_tensor(&c, off, "offsets")) != XNND_OK)
    return s;
  if (idx->rank != 1 || off->rank != 1 || off->dtype != idx->dtype)
    return kfail(&c, XNND_SHAPE_MISMATCH, "indices and offsets must be 1-D of one dtype");
  int64_t mode, padding_idx;
  bool include_last;
  if ((s = kattr_int(&c, "mode", 0, &mode)) != XNND_OK ||
      (s = kattr_bool(&c, "include_last_offset", false, &include_last)) != XNND_OK ||
      (s = kattr_int(&c, "padding_idx", -1, &padding_idx)) != XNND_OK)
    return s;
  if (mode < 0 || mode > 2)
    return kfail(&c, XNND_INVALID_ARGUMENT, "mode %lld, expected 0 sum, 1 mean or 2 max",
                 (long long)mode);
  if (padding_idx < -1 || padding_idx >= w->dims[0])
    return kfail(&c, XNND_INVALID_ARGUMENT, "padding_idx %lld out of range for %lld rows",
                 (long long)padding_idx, (long long)w->dims[0]);
  if (psw) {
    if ((s = kcheck_tensor(&c, psw, "per_sample_weights", XNND_F32, 1)) != XNND_OK) return s;
    if (psw->dims[0] != idx->dims[0] || mode != 0)
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "per_sample_weights must match indices and take mode 0 (sum)");
  }
  const int64_t bags = off->dims[0] - (include_last ? 1 : 0);
  if (bags < 0)
    return kfail(&c, XNND_SHAPE_MISMATCH, "include_last_offset needs at least one offset");
  const int64_t out[2] = {bags, w->dims[1]};
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", 2, out)) != XNND_OK)
    return s;
  *p = (embedding_bag_params){.rows = w->dims[0], .dim = w->dims[1], .n = idx->dims[0],
                              .bags = bags, .noff = off->dims[0], .padding_idx = padding_idx,
                              .mode = (int32_t)mode, .i64 = idx->dtype == XNND_I64,
                              .include_last = include_last, .has_psw = psw != NULL};
  return XNND_OK;
}

KRUN(embedding_bag) {
  const embedding_bag_params* p = params;
  const char* op = "aten._embedding_bag";
  const float* w = args->inputs[0]->data;
  const void* idx = args->inputs[1]->data;
  const void* offs = args->inputs[2]->data;
  const float* psw = p->has_psw ? args->inputs[3]->data : NULL;
  float* y = args->outputs[0]->data;
  const int64_t D = p->dim;
  for (int64_t k = 0; k < p->n; k++) {
    const int64_t v = load_index(idx, p->i64, (size_t)k);
    if (v < 0 || v >= p->rows)  /* PyTorch takes no negative embedding index */
      return krun_fail(args, op, XNND_OUT_OF_RANGE,
                       "indices[%lld] = %lld is out of range for a weight of %lld rows "
                       "(valid: [0, %lld))", (long long)k, (long long)v, (long long)p->rows,
                       (long long)p->rows);
  }
  for (int64_t b = 0, prev = 0; b < p->noff; b++) {
    const int64_t o = load_index(offs, p->i64, (size_t)b);
    if (o < prev || o > p->n || (b == 0 && o != 0))
      return krun_fail(args, op, XNND_OUT_OF_RANGE,
                       "offsets[%lld] = %lld is out of range: offsets start at 0, never "
                       "decrease and stay <= %lld (the number of indices)", (long long)b,
                       (long long)o, (long long)p->n);
    prev = o;
  }
  for (int64_t b = 0; b < p->bags; b++) {
    const int64_t start = load_index(offs, p->i64, (size_t)b);
    const int64_t end = b + 1 < p->noff ? load_index(offs, p->i64, (size_t)(b + 1)) : p->n;
    float* row = y + b * D;
    for (int64_t e = 0; e < D; e++) row[e] = 0.0f;
    int64_t used = 0;
    for (int64_t k = start; k < end; k++) {
      const int64_t v = load_index(idx, p->i64, (size_t)k);
      if (v == p->padding_idx) continue;
      const float* src = w + v * D;
      const float scale = psw ? psw[k] : 1.0f;
      if (p->mode == 2 && used == 0)
        for (int64_t e = 0; e < D; e++) row[e] = src[e];
      else if (p->mode == 2)
        for (int64_t e = 0; e < D; e++) row[e] = (src[e] > row[e] || isnan(src[e])) ? src[e] : row[e];
      else
        for (int64_t e = 0; e < D; e++) row[e] += scale * src[e];
      used++;
    }
    if (p->mode == 1 && used > 0)
      for (int64_t e = 0; e < D; e++) row[e] /= (float)used;
  }
  return XNND_OK;
}

/* ---- aten.select_scatter / aten.slice_scatter: out = self, then src into a region ---- */
typedef struct region_params {
  uint32_t rank; /* of src (>= 1 after padding a 0-D src) */
  uint32_t elem;
  int64_t offset;
  int64_t dims[XNND_MAX_RANK];
  int64_t strides[XNND_MAX_RANK]; /* out strides of each src dim */
} region_params;
KPARAMS_FIT(region_params);

static xnnd_status region_operands(const kcheck* c, const xnnd_tensor** x, const xnnd_tensor** src,
                                   uint32_t* d) {
  xnnd_status s = kcheck_arity(c, 2, 2, 1);
  if (s != XNND_OK) return s;
  *x = kinput(c, 0);
  *src = kinput(c, 1);
  if ((s = kcheck_tensor(c, *x, "self", -1, -1)) != XNND_OK ||
      (s = kcheck_tensor(c, *src, "src", (int)(*x)->dtype, -1)) != XNND_OK ||
      (s = kcheck_same(c, koutput(c, 0), "out", *x)) != XNND_OK)
    return s;
  if ((*x)->rank == 0) return kfail(c, XNND_SHAPE_MISMATCH, "self has rank 0, expected >= 1");
  int64_t dim;
  bool has_dim;
  if ((s = kattr_int_opt(c, "dim", &has_dim, &dim)) != XNND_OK) return s;
  if (!has_dim) dim = 0;
  return kwrap_dim(c, "dim", dim, (*x)->rank, d);
}

KPREPARE(select_scatter) {
  const kcheck c = {"aten.select_scatter", args, err, err_size};
  region_params* p = params;
  const xnnd_tensor *x, *src;
  uint32_t d;
  xnnd_status s = region_operands(&c, &x, &src, &d);
  if (s != XNND_OK) return s;
  int64_t index;
  bool has_index;
  if ((s = kattr_int_opt(&c, "index", &has_index, &index)) != XNND_OK) return s;
  if (!has_index || index < 0 || index >= x->dims[d])
    return kfail(&c, XNND_INVALID_ARGUMENT, "attribute index must be in [0, %lld) for dim %u",
                 (long long)x->dims[d], d);
  int64_t xs[XNND_MAX_RANK], want[XNND_MAX_RANK];
  contiguous_strides(x->rank, x->dims, xs);
  memset(p, 0, sizeof(*p));
  uint32_t r = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (i == d) continue;
    want[r] = x->dims[i];
    p->dims[r] = x->dims[i];
    p->strides[r++] = xs[i];
  }
  if ((s = kcheck_shape(&c, src, "src", r, want)) != XNND_OK) return s;
  if (r == 0) {
    p->dims[0] = 1;
    p->strides[0] = 1;
    r = 1;
  }
  p->rank = r;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = index * xs[d];
  return XNND_OK;
}

KPREPARE(slice_scatter) {
  const kcheck c = {"aten.slice_scatter", args, err, err_size};
  region_params* p = params;
  const xnnd_tensor *x, *src;
  uint32_t d;
  xnnd_status s = region_operands(&c, &x, &src, &d);
  if (s != XNND_OK) return s;
  int64_t start, end, step;
  bool has_end;
  if ((s = kattr_int(&c, "start", 0, &start)) != XNND_OK ||
      (s = kattr_int_opt(&c, "end", &has_end, &end)) != XNND_OK ||
      (s = kattr_int(&c, "step", 1, &step)) != XNND_OK)
    return s;
  const int64_t size = x->dims[d];
  if (!has_end) end = size;
  if (step < 1 || start < 0 || start > size || end < start || end > size)
    return kfail(&c, XNND_INVALID_ARGUMENT,
                 "start %lld, end %lld, step %lld must satisfy 0 <= start <= end <= %lld, "
                 "step >= 1 (dim %u)", (long long)start, (long long)end, (long long)step,
                 (long long)size, d);
  if (step > size) step = size > 0 ? size : 1;  /* keeps strides * step far from overflow */
  int64_t xs[XNND_MAX_RANK], want[XNND_MAX_RANK];
  contiguous_strides(x->rank, x->dims, xs);
  memset(p, 0, sizeof(*p));
  for (uint32_t i = 0; i < x->rank; i++) {
    want[i] = i == d ? (end - start + step - 1) / step : x->dims[i];
    p->dims[i] = want[i];
    p->strides[i] = i == d ? xs[i] * step : xs[i];
  }
  if ((s = kcheck_shape(&c, src, "src", x->rank, want)) != XNND_OK) return s;
  p->rank = x->rank;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  p->offset = start * xs[d];
  return XNND_OK;
}

KRUN(region_scatter) {
  const region_params* p = params;
  uint8_t* y = args->outputs[0]->data;
  const uint8_t* src = args->inputs[1]->data;
  const size_t es = p->elem;
  memcpy(y, args->inputs[0]->data, knumel(args->outputs[0]) * es);
  int64_t total = 1;
  for (uint32_t i = 0; i < p->rank; i++) total *= p->dims[i];
  const int64_t inner = p->dims[p->rank - 1];
  if (total == 0) return XNND_OK;
  const bool contiguous = p->strides[p->rank - 1] == 1;
  int64_t co[XNND_MAX_RANK] = {0};
  for (int64_t k = 0; k < total; k += inner) {
    int64_t off = p->offset;
    for (uint32_t i = 0; i + 1 < p->rank; i++) off += co[i] * p->strides[i];
    if (contiguous) {
      memcpy(y + (size_t)off * es, src + (size_t)k * es, (size_t)inner * es);
    } else {
      for (int64_t e = 0; e < inner; e++)
        memcpy(y + (size_t)(off + e * p->strides[p->rank - 1]) * es, src + (size_t)(k + e) * es,
               es);
    }
    advance(co, p->dims, p->rank - 1);
  }
  return XNND_OK;
}

/* ---- aten.masked_scatter: out = broadcast(self, mask); where mask, the next source element
 * in row-major order. Running out of source elements is a data-dependent error. ---- */
typedef struct masked_scatter_params {
  uint32_t rank;
  uint32_t elem;
  int64_t dims[XNND_MAX_RANK];
  int64_t xstr[XNND_MAX_RANK];
  int64_t mstr[XNND_MAX_RANK];
} masked_scatter_params;
KPARAMS_FIT(masked_scatter_params);

static void broadcast_strides(const xnnd_tensor* t, uint32_t rank, int64_t* out) {
  int64_t ts[XNND_MAX_RANK];
  contiguous_strides(t->rank, t->dims, ts);
  for (uint32_t j = 0; j < rank; j++) {
    const int64_t i = (int64_t)j - (int64_t)(rank - t->rank);
    out[j] = i < 0 || t->dims[i] == 1 ? 0 : ts[i];
  }
}

KPREPARE(masked_scatter) {
  const kcheck c = {"aten.masked_scatter", args, err, err_size};
  masked_scatter_params* p = params;
  xnnd_status s = kcheck_arity(&c, 3, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor *x = kinput(&c, 0), *m = kinput(&c, 1), *src = kinput(&c, 2);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, m, "mask", XNND_BOOL, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, src, "source", (int)x->dtype, -1)) != XNND_OK)
    return s;
  memset(p, 0, sizeof(*p));
  const uint32_t r = x->rank > m->rank ? x->rank : m->rank;
  for (uint32_t j = 0; j < r; j++) {
    const int64_t dx = j + x->rank >= r ? x->dims[j + x->rank - r] : 1;
    const int64_t dm = j + m->rank >= r ? m->dims[j + m->rank - r] : 1;
    if (dx != dm && dx != 1 && dm != 1) {
      char bx[160], bm[160];
      return kfail(&c, XNND_SHAPE_MISMATCH, "self %s and mask %s do not broadcast",
                   kshape_str(bx, sizeof bx, x->rank, x->dims),
                   kshape_str(bm, sizeof bm, m->rank, m->dims));
    }
    p->dims[j] = dx == 1 ? dm : dx;
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", r, p->dims)) != XNND_OK)
    return s;
  p->rank = r;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  broadcast_strides(x, r, p->xstr);
  broadcast_strides(m, r, p->mstr);
  return XNND_OK;
}

KRUN(masked_scatter) {
  const masked_scatter_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  const uint8_t* m = args->inputs[1]->data; /* bool: any nonzero byte */
  const uint8_t* src = args->inputs[2]->data;
  uint8_t* y = args->outputs[0]->data;
  const size_t es = p->elem, have = knumel(args->inputs[2]), total = knumel(args->outputs[0]);
  size_t next = 0;
  int64_t co[XNND_MAX_RANK] = {0};
  for (size_t k = 0; k < total; k++) {
    int64_t xo = 0, mo = 0;
    for (uint32_t j = 0; j < p->rank; j++) {
      xo += co[j] * p->xstr[j];
      mo += co[j] * p->mstr[j];
    }
    if (m[mo]) {
      if (next >= have)
        return krun_fail(args, "aten.masked_scatter", XNND_OUT_OF_RANGE,
                         "mask selects more elements than source's %zu (at element %zu)", have,
                         k);
      memcpy(y + k * es, src + next * es, es);
      next++;
    } else {
      memcpy(y + k * es, x + (size_t)xo * es, es);
    }
    advance(co, p->dims, p->rank);
  }
  return XNND_OK;
}
