/* Reductions, scans and sorting (core ATen coverage, reduce family): aten.sum/prod/amax/amin/
 * any/var/var_mean over a dim list (empty: all dims), argmax/argmin and max/min along one dim,
 * cumsum/cumprod, sort, topk, native_group_norm, _native_batch_norm_legit (batch statistics)
 * and the distances _cdist_forward/_pdist_forward.
 *
 * Dtypes f32, i8, u8, i32, i64, bool. Float sums, products, variances and scans accumulate in
 * double and round once (on long rows as accurate as PyTorch's float pairwise sums, without
 * their scratch); integer sums/products/scans wrap in 64 bits like PyTorch's int64 accumulation.
 * run() never allocates: sort works in place in its two output buffers and topk keeps its
 * heap in them. Order: NaN is greater than every number (sort puts it last ascending, first
 * descending; argmax/argmin/max/min return the first NaN; amax/amin propagate it); ties keep
 * the lower index first, which is PyTorch's stable CPU sort. */
#include <math.h>
#include <string.h>

#include "kernels/kernel_util.h"

/* ---- element access in any supported dtype ---- */

static bool dtype_ok(xnnd_dtype dt) { return dt != XNND_F16 && dt < XNND_DTYPE_COUNT; }
static bool is_float(xnnd_dtype dt) { return dt == XNND_F32; }

static inline double ld_d(const void* p, xnnd_dtype dt, int64_t i) {
  switch (dt) {
    case XNND_F32: return ((const float*)p)[i];
    case XNND_I8: return ((const int8_t*)p)[i];
    case XNND_U8: return ((const uint8_t*)p)[i];
    case XNND_I32: return ((const int32_t*)p)[i];
    case XNND_I64: return (double)((const int64_t*)p)[i];
    case XNND_BOOL: return ((const uint8_t*)p)[i] != 0;
    default: return 0.0;
  }
}

/* float -> int64 as C truncation, saturated (NaN -> 0) so bad values are not UB. */
static inline int64_t sat_i64(double v) {
  if (!(v == v)) return 0;
  if (v >= 9.2233720368547758e18) return INT64_MAX;
  if (v <= -9.2233720368547758e18) return INT64_MIN;
  return (int64_t)v;
}

static inline int64_t ld_i(const void* p, xnnd_dtype dt, int64_t i) {
  switch (dt) {
    case XNND_F32: return sat_i64(((const float*)p)[i]);
    case XNND_I8: return ((const int8_t*)p)[i];
    case XNND_U8: return ((const uint8_t*)p)[i];
    case XNND_I32: return ((const int32_t*)p)[i];
    case XNND_I64: return ((const int64_t*)p)[i];
    case XNND_BOOL: return ((const uint8_t*)p)[i] != 0;
    default: return 0;
  }
}

static inline void st_i(void* p, xnnd_dtype dt, int64_t i, int64_t v) {
  switch (dt) {
    case XNND_F32: ((float*)p)[i] = (float)v; break;
    case XNND_I8: ((int8_t*)p)[i] = (int8_t)(uint8_t)(uint64_t)v; break;
    case XNND_U8: ((uint8_t*)p)[i] = (uint8_t)(uint64_t)v; break;
    case XNND_I32: ((int32_t*)p)[i] = (int32_t)(uint32_t)(uint64_t)v; break;
    case XNND_I64: ((int64_t*)p)[i] = v; break;
    case XNND_BOOL: ((uint8_t*)p)[i] = v != 0; break;
    default: break;
  }
}

static inline void st_d(void* p, xnnd_dtype dt, int64_t i, double v) {
  if (dt == XNND_F32)
    ((float*)p)[i] = (float)v;
  else if (dt == XNND_BOOL)
    ((uint8_t*)p)[i] = v != 0.0;
  else
    st_i(p, dt, i, sat_i64(v));
}

/* -1, 0, 1 with NaN above every number and equal to NaN. */
static inline int cmp_elem(const void* pa, int64_t ia, const void* pb, int64_t ib, xnnd_dtype dt) {
  if (is_float(dt)) {
    const float a = ((const float*)pa)[ia], b = ((const float*)pb)[ib];
    const bool na = a != a, nb = b != b;
    if (na || nb) return na - nb;
    return (a > b) - (a < b);
  }
  const int64_t a = ld_i(pa, dt, ia), b = ld_i(pb, dt, ib);
  return (a > b) - (a < b);
}

static xnnd_status check_dtype(const kcheck* c, const xnnd_tensor* t, const char* what) {
  xnnd_status s = kcheck_tensor(c, t, what, -1, -1);
  if (s != XNND_OK) return s;
  if (!dtype_ok(t->dtype))
    return kfail(c, XNND_UNSUPPORTED, "%s is %s; supported: f32, i8, u8, i32, i64, bool", what,
                 xnnd_dtype_name(t->dtype));
  return XNND_OK;
}

static xnnd_status check_out(const kcheck* c, uint32_t k, const char* what, xnnd_dtype dt,
                             uint32_t rank, const int64_t* dims) {
  const xnnd_tensor* y = koutput(c, k);
  xnnd_status s = kcheck_tensor(c, y, what, (int)dt, -1);
  if (s != XNND_OK) return s;
  return kcheck_shape(c, y, what, rank, dims);
}

/* ---- reductions over a dim list: sum, prod, amax, amin, any, var ---- */

enum red_kind { RK_SUM, RK_PROD, RK_AMAX, RK_AMIN, RK_ANY, RK_VAR };

typedef struct red_params {
  int kind;                       /* enum red_kind */
  xnnd_dtype in_dt, out_dt;
  bool fmode;                     /* accumulate in double (else wrapping int64) */
  double correction;              /* var */
  bool with_mean;                 /* var_mean: output 1 is the mean */
  uint32_t rank;                  /* after merging neighbouring dims of the same kind */
  uint8_t reduced[XNND_MAX_RANK];
  int64_t dims[XNND_MAX_RANK];
  int64_t strides[XNND_MAX_RANK]; /* input element strides */
  int64_t count;                  /* elements per output */
} red_params;
KPARAMS_FIT(red_params);

static xnnd_status red_prepare(const kcheck* c, red_params* p, int kind) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = check_dtype(c, x, "self")) != XNND_OK) return s;
  int64_t dims[XNND_MAX_RANK];
  uint32_t n;
  bool keepdim;
  static const int64_t no_dims[1] = {0};
  if ((s = kattr_ints(c, "dim", no_dims, 0, XNND_MAX_RANK, dims, &n)) != XNND_OK ||
      (s = kattr_bool(c, "keepdim", false, &keepdim)) != XNND_OK)
    return s;
  bool red[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t d;
    if ((s = kwrap_dim(c, "dim entry", dims[i], x->rank, &d)) != XNND_OK) return s;
    if (x->rank == 0) continue;
    if (red[d]) return kfail(c, XNND_INVALID_ARGUMENT, "dim %u appears twice in dim", d);
    red[d] = true;
  }
  if (n == 0) /* an empty dim list reduces everything */
    for (uint32_t i = 0; i < x->rank; i++) red[i] = true;

  *p = (red_params){.kind = kind, .in_dt = x->dtype, .count = 1};
  switch (kind) {
    case RK_SUM:
    case RK_PROD: {
      bool has;
      int64_t dt = 0;
      if ((s = kattr_int_opt(c, "dtype", &has, &dt)) != XNND_OK) return s;
      if (has && (dt < 0 || dt >= XNND_DTYPE_COUNT || !dtype_ok((xnnd_dtype)dt)))
        return kfail(c, XNND_UNSUPPORTED, "dtype %lld is not supported", (long long)dt);
      p->out_dt = has ? (xnnd_dtype)dt : is_float(x->dtype) ? x->dtype : XNND_I64;
      p->fmode = is_float(p->out_dt);
      break;
    }
    case RK_AMAX:
    case RK_AMIN:
      p->out_dt = x->dtype;
      p->fmode = is_float(x->dtype);
      break;
    case RK_ANY: /* PyTorch keeps uint8 for a uint8 input */
      p->out_dt = x->dtype == XNND_U8 ? XNND_U8 : XNND_BOOL;
      p->fmode = is_float(x->dtype);
      break;
    default:
      if (!is_float(x->dtype))
        return kfail(c, XNND_UNSUPPORTED, "self is %s, expected f32", xnnd_dtype_name(x->dtype));
      if ((s = kattr_float(c, "correction", 1.0, &p->correction)) != XNND_OK) return s;
      if (isnan(p->correction)) return kfail(c, XNND_INVALID_ARGUMENT, "correction is nan");
      p->out_dt = XNND_F32;
      p->fmode = true;
      break;
  }

  int64_t want[XNND_MAX_RANK];
  uint32_t out_rank = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (!red[i])
      want[out_rank++] = x->dims[i];
    else if (keepdim)
      want[out_rank++] = 1;
  }
  if ((s = check_out(c, 0, "out", p->out_dt, out_rank, want)) != XNND_OK) return s;
  if (kind == RK_VAR && c->args->num_outputs > 1 && koutput(c, 1)) {
    if ((s = check_out(c, 1, "mean", XNND_F32, out_rank, want)) != XNND_OK) return s;
    p->with_mean = true;
  }

  int64_t stride = 1;
  int64_t strides[XNND_MAX_RANK];
  for (uint32_t i = x->rank; i-- > 0;) {
    strides[i] = stride;
    stride *= x->dims[i];
  }
  uint32_t m = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (red[i]) p->count *= x->dims[i];
    if (x->dims[i] == 1) continue;
    if (m > 0 && p->reduced[m - 1] == red[i] && strides[i] * x->dims[i] == p->strides[m - 1]) {
      p->dims[m - 1] *= x->dims[i];
      p->strides[m - 1] = strides[i];
    } else {
      p->dims[m] = x->dims[i];
      p->strides[m] = strides[i];
      p->reduced[m] = red[i];
      m++;
    }
  }
  p->rank = m;
  if ((kind == RK_AMAX || kind == RK_AMIN) && p->count == 0 && knumel(koutput(c, 0)) > 0)
    return kfail(c, XNND_INVALID_ARGUMENT, "cannot reduce over a dim of size 0 (no identity)");
  return XNND_OK;
}

KPREPARE(sum) {
  const kcheck c = {"aten.sum", args, err, err_size};
  return red_prepare(&c, params, RK_SUM);
}
KPREPARE(prod) {
  const kcheck c = {"aten.prod", args, err, err_size};
  return red_prepare(&c, params, RK_PROD);
}
KPREPARE(amax) {
  const kcheck c = {"aten.amax", args, err, err_size};
  return red_prepare(&c, params, RK_AMAX);
}
KPREPARE(amin) {
  const kcheck c = {"aten.amin", args, err, err_size};
  return red_prepare(&c, params, RK_AMIN);
}
KPREPARE(any) {
  const kcheck c = {"aten.any", args, err, err_size};
  return red_prepare(&c, params, RK_ANY);
}
KPREPARE(var) {
  const kcheck c = {"aten.var", args, err, err_size};
  return red_prepare(&c, params, RK_VAR);
}
KPREPARE(var_mean) {
  const kcheck c = {"aten.var_mean", args, err, err_size};
  return red_prepare(&c, params, RK_VAR);
}

KRUN(reduce) {
  const red_params* p = params;
  const void* x = args->inputs[0]->data;
  void* y = args->outputs[0]->data;
  const xnnd_dtype dt = p->in_dt;
  int64_t kd[XNND_MAX_RANK], ks[XNND_MAX_RANK], rd[XNND_MAX_RANK], rs[XNND_MAX_RANK];
  uint32_t nk, nr;
  ksplit_reduced(p->rank, p->reduced, p->dims, p->strides, kd, ks, &nk, rd, rs, &nr);
  int64_t outer = 1;
  for (uint32_t i = 0; i < nk; i++) outer *= kd[i];
  int64_t kidx[XNND_MAX_RANK] = {0};
  int64_t base = 0;
  for (int64_t o = 0; o < outer; o++) {
    double accd = p->kind == RK_PROD ? 1.0 : 0.0, mean = 0.0;
    uint64_t acci = p->kind == RK_PROD ? 1u : 0u;
    bool have = false;
    const int passes = p->kind == RK_VAR ? 2 : 1;
    for (int pass = 0; pass < passes; pass++) {
      int64_t ridx[XNND_MAX_RANK] = {0};
      int64_t off = base;
      for (int64_t r = 0; r < p->count; r++) {
        switch (p->kind) {
          case RK_SUM:
            if (p->fmode) accd += ld_d(x, dt, off);
            else acci += (uint64_t)ld_i(x, dt, off);
            break;
          case RK_PROD:
            if (p->fmode) accd *= ld_d(x, dt, off);
            else acci *= (uint64_t)ld_i(x, dt, off);
            break;
          case RK_AMAX:
          case RK_AMIN: {
            /* acci: the position of the best so far; the first NaN stays (propagates) */
            if (!have) {
              acci = (uint64_t)off;
              have = true;
            } else if (!(is_float(dt) && isnan(ld_d(x, dt, (int64_t)acci)))) {
              const int cmp = cmp_elem(x, off, x, (int64_t)acci, dt);
              const bool nan = is_float(dt) && isnan(ld_d(x, dt, off));
              if ((p->kind == RK_AMAX ? cmp > 0 : cmp < 0) || nan)
                acci = (uint64_t)off;
            }
            break;
          }
          case RK_ANY:
            if (!acci && (p->fmode ? ld_d(x, dt, off) != 0.0 : ld_i(x, dt, off) != 0)) acci = 1;
            break;
          default:
            if (pass == 0) {
              accd += ld_d(x, dt, off);
            } else {
              const double dv = ld_d(x, dt, off) - mean;
              accd += dv * dv;
            }
            break;
        }
        for (int d = (int)nr - 1; d >= 0; d--) { /* odometer over the reduced dims */
          off += rs[d];
          if (++ridx[d] < rd[d]) break;
          off -= rs[d] * rd[d];
          ridx[d] = 0;
        }
      }
      if (p->kind == RK_VAR && pass == 0) {
        mean = accd / (double)p->count;
        accd = 0.0;
      }
    }
    switch (p->kind) {
      case RK_AMAX:
      case RK_AMIN:
        if (p->fmode) st_d(y, p->out_dt, o, ld_d(x, dt, (int64_t)acci));
        else st_i(y, p->out_dt, o, ld_i(x, dt, (int64_t)acci));
        break;
      case RK_ANY: st_i(y, p->out_dt, o, (int64_t)acci); break;
      case RK_VAR: {
        const double div = fmax(0.0, (double)p->count - p->correction);
        st_d(y, XNND_F32, o, accd / div);
        if (p->with_mean) st_d(args->outputs[1]->data, XNND_F32, o, mean);
        break;
      }
      default:
        if (p->fmode) st_d(y, p->out_dt, o, accd);
        else st_i(y, p->out_dt, o, (int64_t)acci);
        break;
    }
    for (uint32_t d = nk; d-- > 0;) {
      base += ks[d];
      if (++kidx[d] < kd[d]) break;
      base -= ks[d] * kd[d];
      kidx[d] = 0;
    }
  }
  return XNND_OK;
}

/* ---- along one dim: [outer, len, inner] ---- */

typedef struct dim_params {
  int64_t outer, len, inner;
  xnnd_dtype in_dt, out_dt;
  bool is_max;      /* arg_reduce: max (else min); sort: descending; topk: largest */
  bool has_values;  /* arg_reduce: output 0 holds the values, output 1 the indices */
  bool sorted;      /* topk */
  int64_t k;        /* topk */
} dim_params;
KPARAMS_FIT(dim_params);

/* Splits x at dim d (has_dim false: the whole flattened tensor is one row). */
static void split_dims(const xnnd_tensor* x, bool has_dim, uint32_t d, dim_params* p) {
  p->outer = 1;
  p->inner = 1;
  p->len = 1;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (!has_dim) p->len *= x->dims[i];
    else if (i < d) p->outer *= x->dims[i];
    else if (i == d) p->len = x->dims[i];
    else p->inner *= x->dims[i];
  }
}

/* Output shape of a one-dim reduction. */
static uint32_t one_dim_out(const xnnd_tensor* x, bool has_dim, uint32_t d, bool keepdim,
                            int64_t* out) {
  uint32_t rank = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (has_dim && i != d) out[rank++] = x->dims[i];
    else if (keepdim) out[rank++] = 1;
  }
  return rank;
}

static xnnd_status arg_prepare(const kcheck* c, dim_params* p, bool is_max, bool values) {
  xnnd_status s = kcheck_arity(c, 1, 1, values ? 2 : 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = check_dtype(c, x, "self")) != XNND_OK) return s;
  bool has_dim, keepdim;
  int64_t dim = 0;
  if ((s = kattr_int_opt(c, "dim", &has_dim, &dim)) != XNND_OK ||
      (s = kattr_bool(c, "keepdim", false, &keepdim)) != XNND_OK)
    return s;
  if (values && !has_dim) return kfail(c, XNND_INVALID_ARGUMENT, "attribute dim is required");
  uint32_t d = 0;
  if (has_dim && (s = kwrap_dim(c, "dim", dim, x->rank, &d)) != XNND_OK) return s;
  if (x->rank == 0) has_dim = false;
  *p = (dim_params){.in_dt = x->dtype, .out_dt = XNND_I64, .is_max = is_max,
                    .has_values = values};
  split_dims(x, has_dim, d, p);
  int64_t out[XNND_MAX_RANK];
  const uint32_t rank = one_dim_out(x, has_dim, d, keepdim, out);
  if (p->len == 0 && p->outer * p->inner > 0)
    return kfail(c, XNND_INVALID_ARGUMENT, "cannot reduce over an empty dim (no identity)");
  if (values) {
    if ((s = check_out(c, 0, "values", x->dtype, rank, out)) != XNND_OK ||
        (s = check_out(c, 1, "indices", XNND_I64, rank, out)) != XNND_OK)
      return s;
  } else if ((s = check_out(c, 0, "out", XNND_I64, rank, out)) != XNND_OK) {
    return s;
  }
  return XNND_OK;
}

KPREPARE(argmax) {
  const kcheck c = {"aten.argmax", args, err, err_size};
  return arg_prepare(&c, params, true, false);
}
KPREPARE(argmin) {
  const kcheck c = {"aten.argmin", args, err, err_size};
  return arg_prepare(&c, params, false, false);
}
KPREPARE(max_dim) {
  const kcheck c = {"aten.max", args, err, err_size};
  return arg_prepare(&c, params, true, true);
}
KPREPARE(min_dim) {
  const kcheck c = {"aten.min", args, err, err_size};
  return arg_prepare(&c, params, false, true);
}

KRUN(arg_reduce) {
  const dim_params* p = params;
  const void* x = args->inputs[0]->data;
  const xnnd_dtype dt = p->in_dt;
  const size_t esize = xnnd_dtype_size(dt);
  int64_t* idx = args->outputs[p->has_values ? 1 : 0]->data;
  char* vals = p->has_values ? args->outputs[0]->data : NULL;
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t in = 0; in < p->inner; in++) {
      const int64_t row = o * p->len * p->inner + in;
      int64_t best = 0;
      for (int64_t j = 1; j < p->len; j++) {
        const int64_t bi = row + best * p->inner;
        if (is_float(dt) && ld_d(x, dt, bi) != ld_d(x, dt, bi)) break; /* first NaN wins */
        const int cmp = cmp_elem(x, row + j * p->inner, x, bi, dt);
        const bool nan = is_float(dt) && isnan(ld_d(x, dt, row + j * p->inner));
        if ((p->is_max ? cmp > 0 : cmp < 0) || nan)
          best = j; /* a NaN is also argmin's answer */
      }
      const int64_t o_pos = o * p->inner + in;
      idx[o_pos] = best;
      if (vals)
        memcpy(vals + (size_t)o_pos * esize,
               (const char*)x + (size_t)(row + best * p->inner) * esize, esize);
    }
  }
  return XNND_OK;
}

/* ---- cumsum, cumprod (is_max: product) ---- */

static xnnd_status scan_prepare(const kcheck* cp, dim_params* p, bool product) {
  const kcheck c = *cp;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = check_dtype(&c, x, "self")) != XNND_OK) return s;
  int64_t dim, dt = 0;
  bool has_dt;
  uint32_t d;
  if ((s = kattr_int(&c, "dim", 0, &dim)) != XNND_OK ||
      (s = kattr_int_opt(&c, "dtype", &has_dt, &dt)) != XNND_OK ||
      (s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK)
    return s;
  if (has_dt && (dt < 0 || dt >= XNND_DTYPE_COUNT || !dtype_ok((xnnd_dtype)dt)))
    return kfail(&c, XNND_UNSUPPORTED, "dtype %lld is not supported", (long long)dt);
  *p = (dim_params){.in_dt = x->dtype,
                    .out_dt = has_dt ? (xnnd_dtype)dt : is_float(x->dtype) ? x->dtype : XNND_I64,
                    .is_max = product};
  split_dims(x, x->rank > 0, d, p);
  return check_out(&c, 0, "out", p->out_dt, x->rank, x->dims);
}

KPREPARE(cumsum) {
  const kcheck c = {"aten.cumsum", args, err, err_size};
  return scan_prepare(&c, params, false);
}
KPREPARE(cumprod) {
  const kcheck c = {"aten.cumprod", args, err, err_size};
  return scan_prepare(&c, params, true);
}

KRUN(cumsum) {
  const dim_params* p = params;
  const void* x = args->inputs[0]->data;
  void* y = args->outputs[0]->data;
  const bool fmode = is_float(p->out_dt);
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t in = 0; in < p->inner; in++) {
      const int64_t row = o * p->len * p->inner + in;
      double accd = p->is_max ? 1.0 : 0.0;
      uint64_t acci = p->is_max ? 1u : 0u;
      for (int64_t j = 0; j < p->len; j++) {
        const int64_t at = row + j * p->inner;
        if (fmode) {
          if (p->is_max) accd *= ld_d(x, p->in_dt, at);
          else accd += ld_d(x, p->in_dt, at);
          st_d(y, p->out_dt, at, accd);
        } else {
          if (p->is_max) acci *= (uint64_t)ld_i(x, p->in_dt, at);
          else acci += (uint64_t)ld_i(x, p->in_dt, at);
          st_i(y, p->out_dt, at, (int64_t)acci);
        }
      }
    }
  }
  return XNND_OK;
}

/* ---- sort and topk: heaps over a strided row of (value, index) pairs ---- */

typedef struct row_ref {
  char* v;        /* values base (row start) */
  int64_t* ix;    /* indices base (row start) */
  int64_t stride; /* elements between neighbours */
  size_t esize;
  xnnd_dtype dt;
  bool desc;      /* "first" means larger */
} row_ref;

/* Strict total order: a comes first (larger value when desc, else smaller; NaN is largest;
 * equal values: lower original index first). */
static inline bool first_ab(const row_ref* r, const void* va, int64_t ia, const void* vb,
                            int64_t ib) {
  int cmp = cmp_elem(va, 0, vb, 0, r->dt);
  if (r->desc) cmp = -cmp;
  return cmp != 0 ? cmp < 0 : ia < ib;
}

static inline bool first_at(const row_ref* r, int64_t a, int64_t b) {
  return first_ab(r, r->v + (size_t)(a * r->stride) * r->esize, r->ix[a * r->stride],
                  r->v + (size_t)(b * r->stride) * r->esize, r->ix[b * r->stride]);
}

static inline void swap_at(const row_ref* r, int64_t a, int64_t b) {
  char tmp[8];
  char* pa = r->v + (size_t)(a * r->stride) * r->esize;
  char* pb = r->v + (size_t)(b * r->stride) * r->esize;
  memcpy(tmp, pa, r->esize);
  memcpy(pa, pb, r->esize);
  memcpy(pb, tmp, r->esize);
  const int64_t t = r->ix[a * r->stride];
  r->ix[a * r->stride] = r->ix[b * r->stride];
  r->ix[b * r->stride] = t;
}

/* Heap whose root comes last in the order (every parent is after its children). */
static void sift_down(const row_ref* r, int64_t i, int64_t n) {
  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) return;
    if (c + 1 < n && first_at(r, c, c + 1)) c++; /* the later child */
    if (!first_at(r, i, c)) return;
    swap_at(r, i, c);
    i = c;
  }
}

/* Heapsort into the order (in place, O(n log n), no scratch). */
static void heap_sort(const row_ref* r, int64_t n) {
  for (int64_t i = n / 2; i-- > 0;) sift_down(r, i, n);
  for (int64_t end = n - 1; end > 0; end--) {
    swap_at(r, 0, end);
    sift_down(r, 0, end);
  }
}

KPREPARE(sort) {
  const kcheck c = {"aten.sort", args, err, err_size};
  dim_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 2);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = check_dtype(&c, x, "self")) != XNND_OK) return s;
  int64_t dim;
  bool desc;
  uint32_t d;
  if ((s = kattr_int(&c, "dim", -1, &dim)) != XNND_OK ||
      (s = kattr_bool(&c, "descending", false, &desc)) != XNND_OK ||
      (s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK)
    return s;
  *p = (dim_params){.in_dt = x->dtype, .is_max = desc};
  split_dims(x, x->rank > 0, d, p);
  if ((s = check_out(&c, 0, "values", x->dtype, x->rank, x->dims)) != XNND_OK) return s;
  return check_out(&c, 1, "indices", XNND_I64, x->rank, x->dims);
}

KRUN(sort) {
  const dim_params* p = params;
  const char* x = args->inputs[0]->data;
  char* v = args->outputs[0]->data;
  int64_t* ix = args->outputs[1]->data;
  const size_t esize = xnnd_dtype_size(p->in_dt);
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t in = 0; in < p->inner; in++) {
      const int64_t row = o * p->len * p->inner + in;
      const row_ref r = {v + (size_t)row * esize, ix + row, p->inner, esize, p->in_dt, p->is_max};
      for (int64_t j = 0; j < p->len; j++) {
        memcpy(r.v + (size_t)(j * p->inner) * esize, x + (size_t)(row + j * p->inner) * esize,
               esize);
        r.ix[j * p->inner] = j;
      }
      heap_sort(&r, p->len);
    }
  }
  return XNND_OK;
}

KPREPARE(topk) {
  const kcheck c = {"aten.topk", args, err, err_size};
  dim_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 2);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = check_dtype(&c, x, "self")) != XNND_OK) return s;
  int64_t k, dim;
  bool largest, sorted;
  uint32_t d;
  if ((s = kattr_int(&c, "k", -1, &k)) != XNND_OK ||
      (s = kattr_int(&c, "dim", -1, &dim)) != XNND_OK ||
      (s = kattr_bool(&c, "largest", true, &largest)) != XNND_OK ||
      (s = kattr_bool(&c, "sorted", true, &sorted)) != XNND_OK ||
      (s = kwrap_dim(&c, "dim", dim, x->rank, &d)) != XNND_OK)
    return s;
  *p = (dim_params){.in_dt = x->dtype, .is_max = largest, .sorted = sorted, .k = k};
  split_dims(x, x->rank > 0, d, p);
  if (k < 0 || k > p->len)
    return kfail(&c, XNND_INVALID_ARGUMENT, "k=%lld is outside [0, %lld], the size of dim %u",
                 (long long)k, (long long)p->len, d);
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < x->rank; i++) out[i] = i == d ? k : x->dims[i];
  if ((s = check_out(&c, 0, "values", x->dtype, x->rank, out)) != XNND_OK) return s;
  return check_out(&c, 1, "indices", XNND_I64, x->rank, out);
}

/* The k best of each row stay in a heap in the outputs whose root is the worst kept; each
 * later element that beats the root replaces it. Then heapsort orders them best first (also
 * for sorted=false, which leaves the order to the implementation). Equal values: the lower
 * index is kept and comes first. */
KRUN(topk) {
  const dim_params* p = params;
  const char* x = args->inputs[0]->data;
  char* v = args->outputs[0]->data;
  int64_t* ix = args->outputs[1]->data;
  const size_t esize = xnnd_dtype_size(p->in_dt);
  const int64_t k = p->k;
  if (k == 0) return XNND_OK;
  for (int64_t o = 0; o < p->outer; o++) {
    for (int64_t in = 0; in < p->inner; in++) {
      const int64_t row = o * p->len * p->inner + in;
      const int64_t orow = o * k * p->inner + in;
      const row_ref r = {v + (size_t)orow * esize, ix + orow, p->inner, esize, p->in_dt,
                         p->is_max};
      for (int64_t j = 0; j < p->len; j++) {
        const char* e = x + (size_t)(row + j * p->inner) * esize;
        int64_t at;
        if (j < k) { /* fill, then sift the new leaf up */
          at = j;
          memcpy(r.v + (size_t)(at * p->inner) * esize, e, esize);
          r.ix[at * p->inner] = j;
          while (at > 0 && first_at(&r, (at - 1) / 2, at)) {
            swap_at(&r, (at - 1) / 2, at);
            at = (at - 1) / 2;
          }
        } else if (first_ab(&r, e, j, r.v, r.ix[0])) {
          memcpy(r.v, e, esize);
          r.ix[0] = j;
          sift_down(&r, 0, k);
        }
      }
      for (int64_t end = k - 1; end > 0; end--) {
        swap_at(&r, 0, end);
        sift_down(&r, 0, end);
      }
    }
  }
  return XNND_OK;
}

/* ---- group norm and batch-statistics batch norm ---- */

typedef struct gn_params {
  int64_t n, c, inner, groups; /* batch norm: groups = c, statistics across n */
  double eps;
  bool has_weight, has_bias, batch; /* batch: _native_batch_norm_legit */
} gn_params;
KPARAMS_FIT(gn_params);

static xnnd_status check_affine(const kcheck* c, uint32_t i, const char* what, int64_t ch) {
  const xnnd_tensor* t = kinput(c, i);
  if (!t) return XNND_OK;
  xnnd_status s = kcheck_tensor(c, t, what, XNND_F32, 1);
  if (s != XNND_OK) return s;
  if (t->dims[0] != ch)
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has %lld entries, input has %lld channels", what,
                 (long long)t->dims[0], (long long)ch);
  return XNND_OK;
}

static xnnd_status norm_prepare(const kcheck* c, gn_params* p, bool batch) {
  xnnd_status s = kcheck_arity(c, 1, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "input", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank < 2)
    return kfail(c, XNND_SHAPE_MISMATCH, "input has rank %u, expected at least 2 (N,C,...)",
                 x->rank);
  *p = (gn_params){.n = x->dims[0], .c = x->dims[1], .inner = 1, .batch = batch};
  for (uint32_t i = 2; i < x->rank; i++) p->inner *= x->dims[i];
  if ((s = kattr_float(c, "eps", 1e-5, &p->eps)) != XNND_OK) return s;
  if (!(p->eps >= 0.0)) return kfail(c, XNND_INVALID_ARGUMENT, "eps must be non-negative");
  if (batch) {
    p->groups = p->c;
  } else {
    int64_t N, C, HxW;
    if ((s = kattr_int(c, "n", -1, &N)) != XNND_OK || (s = kattr_int(c, "c", -1, &C)) != XNND_OK ||
        (s = kattr_int(c, "hw", -1, &HxW)) != XNND_OK ||
        (s = kattr_int(c, "group", -1, &p->groups)) != XNND_OK)
      return s;
    if (N != p->n || C != p->c || HxW != p->inner)
      return kfail(c, XNND_SHAPE_MISMATCH, "n=%lld c=%lld hw=%lld disagree with the input",
                   (long long)N, (long long)C, (long long)HxW);
    if (p->groups <= 0 || p->c % p->groups != 0)
      return kfail(c, XNND_INVALID_ARGUMENT, "group=%lld does not divide C=%lld",
                   (long long)p->groups, (long long)p->c);
  }
  if ((s = check_affine(c, 1, "weight", p->c)) != XNND_OK ||
      (s = check_affine(c, 2, "bias", p->c)) != XNND_OK)
    return s;
  p->has_weight = kinput(c, 1) != NULL;
  p->has_bias = kinput(c, 2) != NULL;
  if ((s = check_out(c, 0, "out", XNND_F32, x->rank, x->dims)) != XNND_OK) return s;
  const int64_t stats[2] = {p->n, p->groups};
  for (uint32_t k = 1; k < 3; k++) {
    if (!koutput(c, k)) continue;
    const char* what = k == 1 ? "mean" : "rstd";
    s = batch ? check_out(c, k, what, XNND_F32, 1, &p->c)
              : check_out(c, k, what, XNND_F32, 2, stats);
    if (s != XNND_OK) return s;
  }
  return XNND_OK;
}

KPREPARE(native_group_norm) {
  const kcheck c = {"aten.native_group_norm", args, err, err_size};
  return norm_prepare(&c, params, false);
}
KPREPARE(native_batch_norm_legit) {
  const kcheck c = {"aten._native_batch_norm_legit", args, err, err_size};
  return norm_prepare(&c, params, true);
}

/* Statistics per (n, group) (group norm) or per channel across the batch (batch norm), two
 * passes in double; the variance is biased, as both ops define it. */
KRUN(native_group_norm) {
  const gn_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* w = p->has_weight ? args->inputs[1]->data : NULL;
  const float* b = p->has_bias ? args->inputs[2]->data : NULL;
  float* y = args->outputs[0]->data;
  float* mean_out = args->num_outputs > 1 && args->outputs[1] ? args->outputs[1]->data : NULL;
  float* rstd_out = args->num_outputs > 2 && args->outputs[2] ? args->outputs[2]->data : NULL;
  const int64_t cpg = p->c / p->groups;
  const int64_t sets = p->batch ? 1 : p->n;     /* statistics sets along n */
  const int64_t per_n = p->batch ? p->n : 1;    /* batch items in one set */
  for (int64_t s = 0; s < sets; s++) {
    for (int64_t g = 0; g < p->groups; g++) {
      double sum = 0.0, sq = 0.0;
      int64_t count = 0;
      for (int pass = 0; pass < 2; pass++) {
        const double mean = pass ? sum / (double)(count ? count : 1) : 0.0;
        for (int64_t n = s; n < s + per_n; n++)
          for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++) {
            const float* xi = x + (n * p->c + ch) * p->inner;
            for (int64_t i = 0; i < p->inner; i++) {
              if (pass == 0) {
                sum += xi[i];
              } else {
                const double dv = xi[i] - mean;
                sq += dv * dv;
              }
            }
            if (pass == 0) count += p->inner;
          }
      }
      const double mean = count ? sum / (double)count : NAN;
      const double rstd = 1.0 / sqrt((count ? sq / (double)count : NAN) + p->eps);
      const int64_t st = s * p->groups + g;
      if (mean_out) mean_out[st] = (float)mean;
      if (rstd_out) rstd_out[st] = (float)rstd;
      for (int64_t n = s; n < s + per_n; n++)
        for (int64_t ch = g * cpg; ch < (g + 1) * cpg; ch++) {
          const double scale = (w ? (double)w[ch] : 1.0) * rstd;
          const double shift = (b ? (double)b[ch] : 0.0) - mean * scale;
          const float* xi = x + (n * p->c + ch) * p->inner;
          float* yi = y + (n * p->c + ch) * p->inner;
          for (int64_t i = 0; i < p->inner; i++) yi[i] = (float)(xi[i] * scale + shift);
        }
    }
  }
  return XNND_OK;
}

/* ---- distances: _cdist_forward, _pdist_forward ---- */

typedef struct dist_params {
  double p;
  int64_t rows1, rows2, cols;   /* P, R, M */
  uint32_t batch_rank;
  int64_t batch[XNND_MAX_RANK]; /* output batch dims */
  int64_t s1[XNND_MAX_RANK];    /* x1 batch strides in elements (0: broadcast) */
  int64_t s2[XNND_MAX_RANK];
} dist_params;
KPARAMS_FIT(dist_params);

static xnnd_status dist_p(const kcheck* c, double* p) {
  xnnd_status s = kattr_float(c, "p", 2.0, p);
  if (s != XNND_OK) return s;
  if (!(*p >= 0.0)) return kfail(c, XNND_INVALID_ARGUMENT, "p must be >= 0, got %g", *p);
  return XNND_OK;
}

/* Distance of two rows of n floats, accumulated in double like PyTorch's CPU kernel. */
static float row_dist(const float* a, const float* b, int64_t n, double p) {
  double acc = 0.0;
  if (p == 0.0) {
    for (int64_t i = 0; i < n; i++) acc += a[i] != b[i];
    return (float)acc;
  }
  if (isinf(p)) {
    for (int64_t i = 0; i < n; i++) {
      const double d = fabs((double)a[i] - b[i]);
      if (d > acc || d != d) acc = d;
    }
    return (float)acc;
  }
  for (int64_t i = 0; i < n; i++) {
    const double d = fabs((double)a[i] - b[i]);
    acc += p == 1.0 ? d : p == 2.0 ? d * d : pow(d, p);
  }
  return (float)(p == 1.0 ? acc : p == 2.0 ? sqrt(acc) : pow(acc, 1.0 / p));
}

KPREPARE(cdist) {
  const kcheck c = {"aten._cdist_forward", args, err, err_size};
  dist_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* a = kinput(&c, 0);
  const xnnd_tensor* b = kinput(&c, 1);
  if ((s = kcheck_tensor(&c, a, "x1", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, b, "x2", XNND_F32, -1)) != XNND_OK)
    return s;
  if (a->rank < 2 || b->rank < 2)
    return kfail(&c, XNND_SHAPE_MISMATCH, "x1 and x2 need rank >= 2, got %u and %u", a->rank,
                 b->rank);
  *p = (dist_params){.rows1 = a->dims[a->rank - 2], .rows2 = b->dims[b->rank - 2],
                     .cols = a->dims[a->rank - 1]};
  if ((s = dist_p(&c, &p->p)) != XNND_OK) return s;
  if (b->dims[b->rank - 1] != p->cols)
    return kfail(&c, XNND_SHAPE_MISMATCH, "x1 has %lld columns, x2 has %lld",
                 (long long)p->cols, (long long)b->dims[b->rank - 1]);
  const uint32_t rank = a->rank > b->rank ? a->rank : b->rank;
  p->batch_rank = rank - 2;
  int64_t sa = p->rows1 * p->cols, sb = p->rows2 * p->cols;
  for (uint32_t i = rank - 2; i-- > 0;) {
    const int64_t da = i + a->rank >= rank ? a->dims[i + a->rank - rank] : 1;
    const int64_t db = i + b->rank >= rank ? b->dims[i + b->rank - rank] : 1;
    if (da != db && da != 1 && db != 1)
      return kfail(&c, XNND_SHAPE_MISMATCH, "batch dims %lld and %lld do not broadcast",
                   (long long)da, (long long)db);
    p->batch[i] = da == 1 ? db : da;
    p->s1[i] = da == 1 ? 0 : sa;
    p->s2[i] = db == 1 ? 0 : sb;
    sa *= da;
    sb *= db;
  }
  int64_t out[XNND_MAX_RANK];
  for (uint32_t i = 0; i < p->batch_rank; i++) out[i] = p->batch[i];
  out[rank - 2] = p->rows1;
  out[rank - 1] = p->rows2;
  return check_out(&c, 0, "out", XNND_F32, rank, out);
}

KRUN(cdist) {
  const dist_params* p = params;
  const float* a = args->inputs[0]->data;
  const float* b = args->inputs[1]->data;
  float* y = args->outputs[0]->data;
  int64_t nb = 1;
  for (uint32_t i = 0; i < p->batch_rank; i++) nb *= p->batch[i];
  for (int64_t bi = 0; bi < nb; bi++) {
    int64_t rest = bi, oa = 0, ob = 0;
    for (uint32_t i = p->batch_rank; i-- > 0;) {
      const int64_t coord = rest % p->batch[i];
      rest /= p->batch[i];
      oa += coord * p->s1[i];
      ob += coord * p->s2[i];
    }
    float* yb = y + bi * p->rows1 * p->rows2;
    for (int64_t i = 0; i < p->rows1; i++)
      for (int64_t j = 0; j < p->rows2; j++)
        yb[i * p->rows2 + j] =
            row_dist(a + oa + i * p->cols, b + ob + j * p->cols, p->cols, p->p);
  }
  return XNND_OK;
}

KPREPARE(pdist) {
  const kcheck c = {"aten._pdist_forward", args, err, err_size};
  dist_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", XNND_F32, 2)) != XNND_OK) return s;
  *p = (dist_params){.rows1 = x->dims[0], .cols = x->dims[1]};
  if ((s = dist_p(&c, &p->p)) != XNND_OK) return s;
  const int64_t pairs = p->rows1 * (p->rows1 - 1) / 2;
  return check_out(&c, 0, "out", XNND_F32, 1, &pairs);
}

KRUN(pdist) {
  const dist_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  int64_t k = 0;
  for (int64_t i = 0; i < p->rows1; i++)
    for (int64_t j = i + 1; j < p->rows1; j++)
      y[k++] = row_dist(x + i * p->cols, x + j * p->cols, p->cols, p->p);
  return XNND_OK;
}
