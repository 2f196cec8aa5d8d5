/* Pooling and reductions over NCHW (or CHW) f32: aten.max_pool2d(_with_indices), aten.avg_pool2d,
 * aten.adaptive_avg_pool2d, and aten.mean / aten.norm (p-norms, inf, -inf, 0) over any dims.
 * Output sizes, window clipping, divisors and index conventions follow PyTorch's CPU kernels so
 * results match it element for element. */
#include <math.h>

#include "kernels/kernel_util.h"

typedef struct pool_params {
  int64_t planes; /* N*C */
  int64_t h, w, oh, ow;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t divisor; /* avg: divisor_override, 0 when absent */
  bool count_include_pad;
  bool with_indices;
} pool_params;
KPARAMS_FIT(pool_params);

/* Input (rank 3 or 4, f32), kernel/stride/padding/dilation attrs, output shape. */
static xnnd_status pool_prepare(const kcheck* c, pool_params* p, bool has_dilation,
                                uint32_t num_outputs) {
  xnnd_status s = kcheck_arity(c, 1, 1, num_outputs);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank != 3 && x->rank != 4)
    return kfail(c, XNND_SHAPE_MISMATCH, "self has rank %u, expected 3 (C,H,W) or 4 (N,C,H,W)",
                 x->rank);
  int64_t k[2], st[2], pd[2], dl[2] = {1, 1};
  bool ceil_mode, stride_empty;
  if ((s = kattr_spatial(c, "kernel_size", 2, 0, true, k, NULL)) != XNND_OK ||
      (s = kattr_spatial(c, "stride", 2, 0, false, st, &stride_empty)) != XNND_OK ||
      (s = kattr_spatial(c, "padding", 2, 0, false, pd, NULL)) != XNND_OK ||
      (has_dilation && (s = kattr_spatial(c, "dilation", 2, 1, false, dl, NULL)) != XNND_OK) ||
      (s = kattr_bool(c, "ceil_mode", false, &ceil_mode)) != XNND_OK)
    return s;
  /* An empty or absent stride means stride = kernel_size (PyTorch). */
  if (stride_empty || !xnnd_kattr_get(c->args, "stride") ||
      xnnd_kattr_get(c->args, "stride")->kind == 0) {
    st[0] = k[0];
    st[1] = k[1];
  }
  const int64_t H = x->dims[x->rank - 2], W = x->dims[x->rank - 1];
  int64_t out[2];
  for (int i = 0; i < 2; i++) {
    if (k[i] < 1)
      return kfail(c, XNND_INVALID_ARGUMENT, "kernel_size must be positive, got %lld",
                   (long long)k[i]);
    if (st[i] < 1)
      return kfail(c, XNND_INVALID_ARGUMENT, "stride must be positive, got %lld",
                   (long long)st[i]);
    if (dl[i] < 1)
      return kfail(c, XNND_INVALID_ARGUMENT, "dilation must be positive, got %lld",
                   (long long)dl[i]);
    if (pd[i] < 0 || pd[i] > k[i] / 2)
      return kfail(c, XNND_INVALID_ARGUMENT,
                   "padding %lld must be between 0 and half the kernel size %lld",
                   (long long)pd[i], (long long)k[i]);
    out[i] = kpool_out_size(i == 0 ? H : W, k[i], pd[i], st[i], dl[i], ceil_mode);
    /* fuzz fix (fuzz_program_load): the message computed the other dim's size before its
     * stride was checked (a stride of 0 divided by zero); report this dim only. */
    if (out[i] < 1)
      return kfail(c, XNND_SHAPE_MISMATCH,
                   "input %lldx%lld is too small for kernel %lldx%lld (output %s would be %lld)",
                   (long long)H, (long long)W, (long long)k[0], (long long)k[1],
                   i == 0 ? "height" : "width", (long long)out[i]);
  }
  int64_t want[4];
  for (uint32_t i = 0; i + 2 < x->rank; i++) want[i] = x->dims[i];
  want[x->rank - 2] = out[0];
  want[x->rank - 1] = out[1];
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", x->rank, want)) != XNND_OK)
    return s;
  if (num_outputs == 2) {
    const xnnd_tensor* ind = koutput(c, 1);
    if ((s = kcheck_tensor(c, ind, "indices", XNND_I64, -1)) != XNND_OK ||
        (s = kcheck_shape(c, ind, "indices", x->rank, want)) != XNND_OK)
      return s;
  }
  *p = (pool_params){.planes = x->rank == 4 ? x->dims[0] * x->dims[1] : x->dims[0],
                     .h = H, .w = W, .oh = out[0], .ow = out[1],
                     .kh = k[0], .kw = k[1], .sh = st[0], .sw = st[1],
                     .ph = pd[0], .pw = pd[1], .dh = dl[0], .dw = dl[1],
                     .with_indices = num_outputs == 2};
  return XNND_OK;
}

KPREPARE(max_pool2d) {
  const kcheck c = {"aten.max_pool2d", args, err, err_size};
  return pool_prepare(&c, params, true, 1);
}

KPREPARE(max_pool2d_with_indices) {
  const kcheck c = {"aten.max_pool2d_with_indices", args, err, err_size};
  return pool_prepare(&c, params, true, 2);
}

KRUN(max_pool2d) {
  const pool_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  int64_t* ind = p->with_indices ? args->outputs[1]->data : NULL;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * p->h * p->w;
    for (int64_t oy = 0; oy < p->oh; oy++) {
      int64_t y0 = oy * p->sh - p->ph;
      const int64_t y1 = kmin64(y0 + (p->kh - 1) * p->dh + 1, p->h);
      while (y0 < 0) y0 += p->dh;
      for (int64_t ox = 0; ox < p->ow; ox++) {
        int64_t x0 = ox * p->sw - p->pw;
        const int64_t x1 = kmin64(x0 + (p->kw - 1) * p->dw + 1, p->w);
        while (x0 < 0) x0 += p->dw;
        /* First maximum wins; NaN wins over everything (PyTorch). */
        int64_t best_i = y0 * p->w + x0;
        float best = -INFINITY;
        for (int64_t iy = y0; iy < y1; iy += p->dh)
          for (int64_t ix = x0; ix < x1; ix += p->dw) {
            const float v = xp[iy * p->w + ix];
            if (v > best || isnan(v)) {
              best = v;
              best_i = iy * p->w + ix;
            }
          }
        const int64_t o = (pl * p->oh + oy) * p->ow + ox;
        y[o] = best;
        if (ind) ind[o] = best_i;
      }
    }
  }
  return XNND_OK;
}

KPREPARE(avg_pool2d) {
  const kcheck c = {"aten.avg_pool2d", args, err, err_size};
  pool_params* p = params;
  xnnd_status s = pool_prepare(&c, p, false, 1);
  if (s != XNND_OK) return s;
  return kattr_avg_pool(&c, &p->count_include_pad, &p->divisor);
}

KRUN(avg_pool2d) {
  const pool_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * p->h * p->w;
    for (int64_t oy = 0; oy < p->oh; oy++) {
      for (int64_t ox = 0; ox < p->ow; ox++) {
        int64_t y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw;
        int64_t y1 = kmin64(y0 + p->kh, p->h + p->ph), x1 = kmin64(x0 + p->kw, p->w + p->pw);
        const int64_t pool_size = (y1 - y0) * (x1 - x0); /* window clipped to the padding */
        y0 = kmax64(y0, 0);
        x0 = kmax64(x0, 0);
        y1 = kmin64(y1, p->h);
        x1 = kmin64(x1, p->w);
        const int64_t o = (pl * p->oh + oy) * p->ow + ox;
        if (y0 >= y1 || x0 >= x1) {
          y[o] = 0.0f;
          continue;
        }
        float sum = 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) sum += xp[iy * p->w + ix];
        const int64_t div = p->divisor           ? p->divisor
                            : p->count_include_pad ? pool_size
                                                   : (y1 - y0) * (x1 - x0);
        y[o] = sum / (float)div;
      }
    }
  }
  return XNND_OK;
}

KPREPARE(adaptive_avg_pool2d) {
  const kcheck c = {"aten.adaptive_avg_pool2d", args, err, err_size};
  pool_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank != 3 && x->rank != 4)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, expected 3 (C,H,W) or 4 (N,C,H,W)",
                 x->rank);
  int64_t out[2];
  if ((s = kattr_spatial(&c, "output_size", 2, 0, true, out, NULL)) != XNND_OK) return s;
  if (out[0] < 0 || out[1] < 0)
    return kfail(&c, XNND_INVALID_ARGUMENT, "output_size must be non-negative, got [%lld,%lld]",
                 (long long)out[0], (long long)out[1]);
  const int64_t H = x->dims[x->rank - 2], W = x->dims[x->rank - 1];
  if (H < 1 || W < 1)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has empty spatial dims %lldx%lld", (long long)H,
                 (long long)W);
  int64_t want[4];
  for (uint32_t i = 0; i + 2 < x->rank; i++) want[i] = x->dims[i];
  want[x->rank - 2] = out[0];
  want[x->rank - 1] = out[1];
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", x->rank, want)) != XNND_OK)
    return s;
  *p = (pool_params){.planes = x->rank == 4 ? x->dims[0] * x->dims[1] : x->dims[0],
                     .h = H, .w = W, .oh = out[0], .ow = out[1]};
  return XNND_OK;
}

KRUN(adaptive_avg_pool2d) {
  const pool_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * p->h * p->w;
    for (int64_t oy = 0; oy < p->oh; oy++) {
      /* Window [floor(o*in/out), ceil((o+1)*in/out)). */
      const int64_t y0 = oy * p->h / p->oh, y1 = ((oy + 1) * p->h + p->oh - 1) / p->oh;
      for (int64_t ox = 0; ox < p->ow; ox++) {
        const int64_t x0 = ox * p->w / p->ow, x1 = ((ox + 1) * p->w + p->ow - 1) / p->ow;
        float sum = 0.0f;
        for (int64_t iy = y0; iy < y1; iy++)
          for (int64_t ix = x0; ix < x1; ix++) sum += xp[iy * p->w + ix];
        y[(pl * p->oh + oy) * p->ow + ox] = sum / (float)((y1 - y0) * (x1 - x0));
      }
    }
  }
  return XNND_OK;
}

/* ---- mean over a set of dims ---- */

enum reduce_mode { R_MEAN, R_NORM_P, R_NORM_INF, R_NORM_NEG_INF, R_NORM_0 };

typedef struct mean_params {
  int mode;                       /* enum reduce_mode */
  double p;                       /* R_NORM_P: sum |x|^p, then ^(1/p) */
  uint32_t rank;                  /* after merging neighbouring dims of the same kind */
  uint8_t reduced[XNND_MAX_RANK]; /* 1: reduced dim */
  int64_t dims[XNND_MAX_RANK];
  int64_t strides[XNND_MAX_RANK]; /* input element strides */
  int64_t count;                  /* elements per mean */
  xnnd_dtype in_dt;               /* R_MEAN also takes integer/bool input (dtype=float) */
} mean_params;
KPARAMS_FIT(mean_params);

static xnnd_status reduce_prepare(const kcheck* cp, mean_params* p, int mode, double pnorm) {
  const kcheck c = *cp;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", mode == R_MEAN ? -1 : XNND_F32, -1)) != XNND_OK)
    return s;
  if (x->dtype == XNND_F16)
    return kfail(&c, XNND_UNSUPPORTED, "self is f16; supported: f32, i8, u8, i32, i64, bool");
  int64_t dims[XNND_MAX_RANK];
  uint32_t n;
  bool keepdim;
  static const int64_t no_dims[1] = {0};
  if ((s = kattr_ints(&c, "dim", no_dims, 0, XNND_MAX_RANK, dims, &n)) != XNND_OK ||
      (s = kattr_bool(&c, "keepdim", false, &keepdim)) != XNND_OK)
    return s;
  bool red[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < n; i++) {
    uint32_t d;
    if ((s = kwrap_dim(&c, "dim entry", dims[i], x->rank, &d)) != XNND_OK) return s;
    if (red[d]) return kfail(&c, XNND_INVALID_ARGUMENT, "dim %u appears twice in dim", d);
    red[d] = true;
  }
  if (n == 0) /* an empty dim list reduces everything */
    for (uint32_t i = 0; i < x->rank; i++) red[i] = true;

  int64_t want[XNND_MAX_RANK];
  uint32_t out_rank = 0;
  for (uint32_t i = 0; i < x->rank; i++) {
    if (!red[i])
      want[out_rank++] = x->dims[i];
    else if (keepdim)
      want[out_rank++] = 1;
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", out_rank, want)) != XNND_OK)
    return s;

  *p = (mean_params){.count = 1, .mode = mode, .p = pnorm, .in_dt = x->dtype};
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
    if (m > 0 && p->reduced[m - 1] == red[i]) {
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
  return XNND_OK;
}

KPREPARE(mean) {
  const kcheck c = {"aten.mean", args, err, err_size};
  return reduce_prepare(&c, params, R_MEAN, 0.0);
}

KPREPARE(norm) {
  const kcheck c = {"aten.norm", args, err, err_size};
  double pn;
  xnnd_status s = kattr_float(&c, "p", 2.0, &pn);
  if (s != XNND_OK) return s;
  if (isnan(pn)) return kfail(&c, XNND_INVALID_ARGUMENT, "p is nan");
  int mode = R_NORM_P;
  if (isinf(pn)) mode = pn > 0 ? R_NORM_INF : R_NORM_NEG_INF;
  else if (pn == 0.0) mode = R_NORM_0;
  return reduce_prepare(&c, params, mode, pn);
}

static double reduce_finish(const mean_params* p, double acc) {
  switch (p->mode) {
    case R_MEAN: return acc / (double)p->count;
    case R_NORM_P: return p->p == 2.0 ? sqrt(acc) : p->p == 1.0 ? acc : pow(acc, 1.0 / p->p);
    default: return acc;
  }
}

static double mean_load(const void* x, xnnd_dtype dt, int64_t i) {
  switch (dt) {
    case XNND_I8: return ((const int8_t*)x)[i];
    case XNND_U8: return ((const uint8_t*)x)[i];
    case XNND_BOOL: return ((const uint8_t*)x)[i] != 0;
    case XNND_I32: return ((const int32_t*)x)[i];
    case XNND_I64: return (double)((const int64_t*)x)[i];
    default: return ((const float*)x)[i];
  }
}

/* R_MEAN of an integer or bool input (PyTorch's mean(dtype=float32)): one odometer over the
 * kept dims and one over the reduced dims, double accumulation. */
static void mean_int(const mean_params* p, const void* x, float* y) {
  int64_t kd[XNND_MAX_RANK], ks[XNND_MAX_RANK], rd[XNND_MAX_RANK], rs[XNND_MAX_RANK];
  uint32_t nk, nr;
  ksplit_reduced(p->rank, p->reduced, p->dims, p->strides, kd, ks, &nk, rd, rs, &nr);
  int64_t outer = 1;
  for (uint32_t i = 0; i < nk; i++) outer *= kd[i];
  int64_t kidx[XNND_MAX_RANK] = {0}, base = 0;
  for (int64_t o = 0; o < outer; o++) {
    double sum = 0.0;
    int64_t ridx[XNND_MAX_RANK] = {0}, off = base;
    for (int64_t r = 0; r < p->count; r++) {
      sum += mean_load(x, p->in_dt, off);
      for (int d = (int)nr - 1; d >= 0; d--) {
        off += rs[d];
        if (++ridx[d] < rd[d]) break;
        off -= rs[d] * rd[d];
        ridx[d] = 0;
      }
    }
    y[o] = (float)(sum / (double)p->count);
    for (uint32_t d = nk; d-- > 0;) {
      base += ks[d];
      if (++kidx[d] < kd[d]) break;
      base -= ks[d] * kd[d];
      kidx[d] = 0;
    }
  }
}

KRUN(mean) {
  const mean_params* p = params;
  if (p->in_dt != XNND_F32) {
    mean_int(p, args->inputs[0]->data, args->outputs[0]->data);
    return XNND_OK;
  }
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  int64_t kd[XNND_MAX_RANK], ks[XNND_MAX_RANK], rd[XNND_MAX_RANK], rs[XNND_MAX_RANK];
  uint32_t nk, nr;
  ksplit_reduced(p->rank, p->reduced, p->dims, p->strides, kd, ks, &nk, rd, rs, &nr);
  int64_t outer = 1, inner = 1;
  for (uint32_t i = 0; i < nk; i++) outer *= kd[i];
  for (uint32_t i = 0; i < nr; i++) inner *= rd[i];
  /* The innermost reduced run is contiguous when it is the last input dim. */
  const int64_t span = nr ? rd[nr - 1] : 1, span_stride = nr ? rs[nr - 1] : 1;
  const int64_t spans = span ? inner / span : 0;
  int64_t kidx[XNND_MAX_RANK] = {0};
  int64_t base = 0;
  const double init = p->mode == R_NORM_NEG_INF ? INFINITY : 0.0;
  for (int64_t o = 0; o < outer; o++) {
    double sum = init;
    int64_t ridx[XNND_MAX_RANK] = {0};
    int64_t off = base;
    for (int64_t r = 0; r < spans; r++) {
      const float* row = x + off;
      switch (p->mode) {
        case R_MEAN:
          for (int64_t i = 0; i < span; i++) sum += row[i * span_stride];
          break;
        case R_NORM_INF:
          for (int64_t i = 0; i < span; i++) sum = fmax(sum, fabs(row[i * span_stride]));
          break;
        case R_NORM_NEG_INF:
          for (int64_t i = 0; i < span; i++) sum = fmin(sum, fabs(row[i * span_stride]));
          break;
        case R_NORM_0:
          for (int64_t i = 0; i < span; i++) sum += row[i * span_stride] != 0.0f;
          break;
        default:
          if (p->p == 2.0)
            for (int64_t i = 0; i < span; i++) {
              const double v = row[i * span_stride];
              sum += v * v;
            }
          else
            for (int64_t i = 0; i < span; i++) sum += pow(fabs(row[i * span_stride]), p->p);
          break;
      }
      for (int d = (int)nr - 2; d >= 0; d--) { /* odometer over the outer reduced dims */
        off += rs[d];
        if (++ridx[d] < rd[d]) break;
        off -= rs[d] * rd[d];
        ridx[d] = 0;
      }
    }
    y[o] = (float)reduce_finish(p, sum);
    for (uint32_t d = nk; d-- > 0;) {
      base += ks[d];
      if (++kidx[d] < kd[d]) break;
      base -= ks[d] * kd[d];
      kidx[d] = 0;
    }
  }
  return XNND_OK;
}
