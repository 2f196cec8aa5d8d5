/* Elementwise f32 ops. Unary activations share one prepare/run keyed by an op code; binary
 * add/sub/mul/div broadcast numpy-style (rank-0 operands included): prepare() aligns both
 * operands to the output's rank, merges dims that broadcast alike, and stores the strides. */
#include <math.h>

#include "kernels/kernel_util.h"

enum unary_op {
  U_RELU,
  U_HARDTANH, /* and clamp: lo/hi bounds, each optional */
  U_SIGMOID,
  U_TANH,
  U_HARDSWISH,
  U_HARDSIGMOID,
  U_SILU,
  U_GELU,
  U_GELU_TANH,
};

typedef struct unary_params {
  int op;
  float lo, hi;
  bool has_lo, has_hi;
} unary_params;
KPARAMS_FIT(unary_params);

static xnnd_status unary_prepare(const kcheck* c, unary_params* p, int op) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  if ((s = kcheck_same(c, koutput(c, 0), "out", x)) != XNND_OK) return s;
  *p = (unary_params){.op = op};
  return XNND_OK;
}

#define UNARY_PREPARE(name, code)                                 \
  KPREPARE(name) {                                                \
    const kcheck c = {"aten." #name, args, err, err_size};        \
    return unary_prepare(&c, params, code);                       \
  }
UNARY_PREPARE(relu, U_RELU)
UNARY_PREPARE(sigmoid, U_SIGMOID)
UNARY_PREPARE(tanh, U_TANH)
UNARY_PREPARE(hardswish, U_HARDSWISH)
UNARY_PREPARE(hardsigmoid, U_HARDSIGMOID)
UNARY_PREPARE(silu, U_SILU)

KPREPARE(hardtanh) {
  const kcheck c = {"aten.hardtanh", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_HARDTANH);
  if (s != XNND_OK) return s;
  double lo, hi;
  if ((s = kattr_float(&c, "min_val", -1.0, &lo)) != XNND_OK ||
      (s = kattr_float(&c, "max_val", 1.0, &hi)) != XNND_OK)
    return s;
  /* A NaN bound makes every comparison false: PyTorch then returns NaN, XNNPACK refuses it. */
  if (isnan(lo) || isnan(hi))
    return kfail(&c, XNND_INVALID_ARGUMENT, "%s is NaN", isnan(lo) ? "min_val" : "max_val");
  if (lo > hi)
    return kfail(&c, XNND_INVALID_ARGUMENT, "min_val %g is greater than max_val %g", lo, hi);
  p->lo = (float)lo;
  p->hi = (float)hi;
  p->has_lo = p->has_hi = true;
  return XNND_OK;
}

KPREPARE(clamp) {
  const kcheck c = {"aten.clamp", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_HARDTANH);
  if (s != XNND_OK) return s;
  double lo = 0, hi = 0;
  if ((s = kattr_float_opt(&c, "min", &p->has_lo, &lo)) != XNND_OK ||
      (s = kattr_float_opt(&c, "max", &p->has_hi, &hi)) != XNND_OK)
    return s;
  if (!p->has_lo && !p->has_hi)
    return kfail(&c, XNND_INVALID_ARGUMENT, "at least one of min and max must be given");
  if ((p->has_lo && isnan(lo)) || (p->has_hi && isnan(hi)))
    return kfail(&c, XNND_INVALID_ARGUMENT, "%s is NaN", p->has_lo && isnan(lo) ? "min" : "max");
  p->lo = (float)lo;
  p->hi = (float)hi;
  return XNND_OK;
}

KPREPARE(gelu) {
  const kcheck c = {"aten.gelu", args, err, err_size};
  unary_params* p = params;
  xnnd_status s = unary_prepare(&c, p, U_GELU);
  if (s != XNND_OK) return s;
  int64_t approx;
  if ((s = kattr_int(&c, "approximate", 0, &approx)) != XNND_OK) return s;
  if (approx != 0 && approx != 1)
    return kfail(&c, XNND_INVALID_ARGUMENT, "approximate must be 0 (none) or 1 (tanh), got %lld",
                 (long long)approx);
  p->op = approx ? U_GELU_TANH : U_GELU;
  return XNND_OK;
}

static inline float relu6_div6(float v) {
  float r = v + 3.0f;
  r = r < 0.0f ? 0.0f : r;
  r = r > 6.0f ? 6.0f : r;
  return r / 6.0f;
}

KRUN(unary) {
  const unary_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const size_t n = knumel(args->inputs[0]);
  switch (p->op) {
    case U_RELU:
      /* NaN stays NaN, as in PyTorch. */
      for (size_t i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
      break;
    case U_HARDTANH: {
      const float lo = p->lo, hi = p->hi;
      /* clamp(min > max) yields max, like PyTorch's min(max(x, lo), hi). */
      for (size_t i = 0; i < n; i++) {
        float v = x[i];
        if (p->has_lo && v < lo) v = lo;
        if (p->has_hi && v > hi) v = hi;
        y[i] = v;
      }
      break;
    }
    case U_SIGMOID:
      for (size_t i = 0; i < n; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
      break;
    case U_TANH:
      for (size_t i = 0; i < n; i++) y[i] = tanhf(x[i]);
      break;
    case U_HARDSWISH:
      for (size_t i = 0; i < n; i++) y[i] = x[i] * relu6_div6(x[i]);
      break;
    case U_HARDSIGMOID:
      for (size_t i = 0; i < n; i++) y[i] = relu6_div6(x[i]);
      break;
    case U_SILU:
      for (size_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
      break;
    case U_GELU:
      for (size_t i = 0; i < n; i++)
        y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
      break;
    case U_GELU_TANH:
      for (size_t i = 0; i < n; i++) {
        const float v = x[i];
        const float inner = 0.79788456080286536f * (v + 0.044715f * v * v * v);
        y[i] = 0.5f * v * (1.0f + tanhf(inner));
      }
      break;
    default:
      return XNND_INTERNAL;
  }
  return XNND_OK;
}

/* ---- binary ops with broadcasting ---- */

enum binary_op { B_ADD, B_MUL, B_DIV };

typedef struct binary_params {
  int op;
  float alpha;       /* add: self + alpha * other (sub stores -alpha) */
  uint32_t rank;     /* after merging, >= 1 */
  int64_t dims[XNND_MAX_RANK];
  int64_t sa[XNND_MAX_RANK], sb[XNND_MAX_RANK]; /* element strides, 0 = broadcast */
} binary_params;
KPARAMS_FIT(binary_params);

static xnnd_status binary_prepare(const kcheck* c, binary_params* p, int op, bool has_alpha,
                                  bool negate) {
  xnnd_status s = kcheck_arity(c, 2, 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* a = kinput(c, 0);
  const xnnd_tensor* b = kinput(c, 1);
  if ((s = kcheck_tensor(c, a, "self", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_tensor(c, b, "other", XNND_F32, -1)) != XNND_OK)
    return s;
  double alpha = 1.0;
  if (has_alpha && (s = kattr_float(c, "alpha", 1.0, &alpha)) != XNND_OK) return s;

  /* Broadcast shape, aligned at the trailing dim. */
  const uint32_t r = a->rank > b->rank ? a->rank : b->rank;
  int64_t out[XNND_MAX_RANK], da[XNND_MAX_RANK], db[XNND_MAX_RANK];
  for (uint32_t i = 0; i < r; i++) {
    const int64_t ia = (int64_t)i - (int64_t)(r - a->rank);
    const int64_t ib = (int64_t)i - (int64_t)(r - b->rank);
    da[i] = ia >= 0 ? a->dims[ia] : 1;
    db[i] = ib >= 0 ? b->dims[ib] : 1;
    if (da[i] != db[i] && da[i] != 1 && db[i] != 1) {
      char sa[160], sb[160];
      return kfail(c, XNND_SHAPE_MISMATCH, "self %s and other %s do not broadcast (dim %u)",
                   kshape_str(sa, sizeof(sa), a->rank, a->dims),
                   kshape_str(sb, sizeof(sb), b->rank, b->dims), i);
    }
    out[i] = da[i] == 1 ? db[i] : da[i];
  }
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", r, out)) != XNND_OK)
    return s;

  /* Merge neighbouring dims whose broadcast pattern matches, drop size-1 dims. */
  *p = (binary_params){.op = op, .alpha = (float)(negate ? -alpha : alpha)};
  uint32_t m = 0;
  int last_pattern = -1;
  for (uint32_t i = 0; i < r; i++) {
    if (out[i] == 1) continue;
    const int pattern = (da[i] != 1) | ((db[i] != 1) << 1);
    if (m > 0 && pattern == last_pattern) {
      p->dims[m - 1] *= out[i];
    } else {
      p->dims[m] = out[i];
      p->sa[m] = pattern & 1;
      p->sb[m] = (pattern >> 1) & 1;
      m++;
      last_pattern = pattern;
    }
  }
  if (m == 0) {
    p->dims[0] = 1;
    p->sa[0] = p->sb[0] = 0;
    m = 1;
  }
  /* Flags become element strides, innermost first. */
  int64_t ka = 1, kb = 1;
  for (uint32_t i = m; i-- > 0;) {
    const bool ua = p->sa[i] != 0, ub = p->sb[i] != 0;
    p->sa[i] = ua ? ka : 0;
    p->sb[i] = ub ? kb : 0;
    if (ua) ka *= p->dims[i];
    if (ub) kb *= p->dims[i];
  }
  p->rank = m;
  return XNND_OK;
}

KPREPARE(add) {
  const kcheck c = {"aten.add", args, err, err_size};
  return binary_prepare(&c, params, B_ADD, true, false);
}
KPREPARE(sub) {
  const kcheck c = {"aten.sub", args, err, err_size};
  return binary_prepare(&c, params, B_ADD, true, true);
}
KPREPARE(mul) {
  const kcheck c = {"aten.mul", args, err, err_size};
  return binary_prepare(&c, params, B_MUL, false, false);
}
KPREPARE(div) {
  const kcheck c = {"aten.div", args, err, err_size};
  return binary_prepare(&c, params, B_DIV, false, false);
}

/* One innermost row: n elements with strides sa/sb (each 0 or 1). */
static void binary_row(int op, float alpha, int64_t n, const float* a, int64_t sa,
                       const float* b, int64_t sb, float* y) {
  switch (op) {
    case B_ADD:
      if (alpha == 1.0f)
        for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb];
      else
        for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] + alpha * b[i * sb];
      break;
    case B_MUL:
      for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] * b[i * sb];
      break;
    default:
      for (int64_t i = 0; i < n; i++) y[i] = a[i * sa] / b[i * sb];
      break;
  }
}

KRUN(binary) {
  const binary_params* p = params;
  const float* a = args->inputs[0]->data;
  const float* b = args->inputs[1]->data;
  float* y = args->outputs[0]->data;
  const uint32_t r = p->rank;
  const int64_t n = p->dims[r - 1];
  int64_t outer = 1;
  for (uint32_t i = 0; i + 1 < r; i++) outer *= p->dims[i];
  int64_t idx[XNND_MAX_RANK] = {0};
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < outer; o++) {
    binary_row(p->op, p->alpha, n, a + oa, p->sa[r - 1], b + ob, p->sb[r - 1], y + o * n);
    /* Odometer over the outer dims. */
    for (uint32_t d = r - 1; d-- > 0;) {
      oa += p->sa[d];
      ob += p->sb[d];
      if (++idx[d] < p->dims[d]) break;
      oa -= p->sa[d] * p->dims[d];
      ob -= p->sb[d] * p->dims[d];
      idx[d] = 0;
    }
  }
  return XNND_OK;
}
