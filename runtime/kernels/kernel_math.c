/* Unary math, predicates, elu/leaky_relu and dtype conversion. The unary ops share one
 * prepare/run keyed by an op code into k_math[], a table of per-op element functions; the
 * dtype rules are PyTorch's (ir/op_math.c): float math promotes int/bool input to f32, abs/neg/
 * sign/rounding keep the dtype and are exact on ints (two's-complement wrap like PyTorch's),
 * predicates give bool. aten._to_copy and aten.copy convert any pair of dtypes but f16:
 * float -> int truncates toward zero, then wraps to the width; anything nonzero -> true. */
#include <math.h>
#include <string.h>

#include "kernels/kernel_util.h"

enum math_op {
  M_ABS, M_NEG, M_SIGN, M_CEIL, M_FLOOR, M_ROUND, M_TRUNC,
  M_ACOS, M_ACOSH, M_ASIN, M_ASINH, M_ATAN, M_ATANH, M_COS, M_COSH, M_ERF, M_EXP, M_EXPM1,
  M_LOG, M_LOG10, M_LOG1P, M_LOG2, M_RECIPROCAL, M_RSQRT, M_SIN, M_SINH, M_SQRT, M_TAN,
  M_ISNAN, M_ISINF, M_LOGICAL_NOT, M_BITWISE_NOT, M_ELU, M_LEAKY_RELU,
  M_COUNT
};

/* How an op treats dtypes. */
enum math_kind {
  MK_SAME,       /* f32 -> f32, int/bool -> same dtype through i() */
  MK_FLOAT,      /* f32 -> f32, int/bool promoted to f32 first */
  MK_FLOAT_ONLY, /* f32 only (elu, leaky_relu: PyTorch refuses ints) */
  MK_PRED,       /* any -> bool: f() on f32 returns 0/1, i() on int/bool */
  MK_BITS,       /* int/bool only, same dtype */
};

typedef struct math_params {
  int op;
  xnnd_dtype in, out;
  float alpha, scale, input_scale; /* elu; leaky_relu's slope is alpha */
} math_params;
KPARAMS_FIT(math_params);

typedef float (*math_f32_fn)(float x, const math_params* p);
typedef int64_t (*math_int_fn)(int64_t x);

typedef struct math_fn {
  const char* op;
  enum math_kind kind;
  math_f32_fn f; /* NULL: f32 refused */
  math_int_fn i; /* NULL: int/bool promoted to f32 (MK_FLOAT) or refused */
} math_fn;

#define F32(name, expr)                                          \
  static float f_##name(float x, const math_params* p) {         \
    (void)p;                                                     \
    return (expr);                                               \
  }
F32(abs, fabsf(x))
F32(neg, -x)
F32(sign, (float)((0.0f < x) - (x < 0.0f))) /* NaN -> 0, like PyTorch */
F32(ceil, ceilf(x))
F32(floor, floorf(x))
F32(round, nearbyintf(x)) /* half to even in the default rounding mode */
F32(trunc, truncf(x))
F32(acos, acosf(x))
F32(acosh, acoshf(x))
F32(asin, asinf(x))
F32(asinh, asinhf(x))
F32(atan, atanf(x))
F32(atanh, atanhf(x))
F32(cos, cosf(x))
F32(cosh, coshf(x))
F32(erf, erff(x))
F32(exp, expf(x))
F32(expm1, expm1f(x))
F32(log, logf(x))
F32(log10, log10f(x))
F32(log1p, log1pf(x))
F32(log2, log2f(x))
F32(reciprocal, 1.0f / x)
F32(rsqrt, 1.0f / sqrtf(x))
F32(sin, sinf(x))
F32(sinh, sinhf(x))
F32(sqrt, sqrtf(x))
F32(tan, tanf(x))
F32(isnan, isnan(x) ? 1.0f : 0.0f)
F32(isinf, isinf(x) ? 1.0f : 0.0f)
F32(logical_not, x == 0.0f ? 1.0f : 0.0f) /* NaN is true */
#undef F32

/* PyTorch: x <= 0 ? (exp(x * input_scale) - 1) * alpha * scale : x * scale */
static float f_elu(float x, const math_params* p) {
  return x > 0.0f ? x * p->scale : expm1f(x * p->input_scale) * p->alpha * p->scale;
}
static float f_leaky_relu(float x, const math_params* p) { return x > 0.0f ? x : x * p->alpha; }

/* Integer versions work on int64 in unsigned arithmetic, so the store's truncation to the
 * tensor's width gives two's-complement wrap (abs(INT_MIN) == INT_MIN, neg of u8 mod 256). */
static int64_t i_abs(int64_t x) { return x < 0 ? (int64_t)(0 - (uint64_t)x) : x; }
static int64_t i_neg(int64_t x) { return (int64_t)(0 - (uint64_t)x); }
static int64_t i_sign(int64_t x) { return (x > 0) - (x < 0); }
static int64_t i_identity(int64_t x) { return x; }
static int64_t i_false(int64_t x) { (void)x; return 0; }
static int64_t i_logical_not(int64_t x) { return x == 0; }
static int64_t i_bitwise_not(int64_t x) { return ~x; }

static const math_fn k_math[M_COUNT] = {
    [M_ABS] = {"aten.abs", MK_SAME, f_abs, i_abs},
    [M_NEG] = {"aten.neg", MK_SAME, f_neg, i_neg},
    [M_SIGN] = {"aten.sign", MK_SAME, f_sign, i_sign},
    [M_CEIL] = {"aten.ceil", MK_SAME, f_ceil, i_identity},
    [M_FLOOR] = {"aten.floor", MK_SAME, f_floor, i_identity},
    [M_ROUND] = {"aten.round", MK_SAME, f_round, i_identity},
    [M_TRUNC] = {"aten.trunc", MK_SAME, f_trunc, i_identity},
    [M_ACOS] = {"aten.acos", MK_FLOAT, f_acos, NULL},
    [M_ACOSH] = {"aten.acosh", MK_FLOAT, f_acosh, NULL},
    [M_ASIN] = {"aten.asin", MK_FLOAT, f_asin, NULL},
    [M_ASINH] = {"aten.asinh", MK_FLOAT, f_asinh, NULL},
    [M_ATAN] = {"aten.atan", MK_FLOAT, f_atan, NULL},
    [M_ATANH] = {"aten.atanh", MK_FLOAT, f_atanh, NULL},
    [M_COS] = {"aten.cos", MK_FLOAT, f_cos, NULL},
    [M_COSH] = {"aten.cosh", MK_FLOAT, f_cosh, NULL},
    [M_ERF] = {"aten.erf", MK_FLOAT, f_erf, NULL},
    [M_EXP] = {"aten.exp", MK_FLOAT, f_exp, NULL},
    [M_EXPM1] = {"aten.expm1", MK_FLOAT, f_expm1, NULL},
    [M_LOG] = {"aten.log", MK_FLOAT, f_log, NULL},
    [M_LOG10] = {"aten.log10", MK_FLOAT, f_log10, NULL},
    [M_LOG1P] = {"aten.log1p", MK_FLOAT, f_log1p, NULL},
    [M_LOG2] = {"aten.log2", MK_FLOAT, f_log2, NULL},
    [M_RECIPROCAL] = {"aten.reciprocal", MK_FLOAT, f_reciprocal, NULL},
    [M_RSQRT] = {"aten.rsqrt", MK_FLOAT, f_rsqrt, NULL},
    [M_SIN] = {"aten.sin", MK_FLOAT, f_sin, NULL},
    [M_SINH] = {"aten.sinh", MK_FLOAT, f_sinh, NULL},
    [M_SQRT] = {"aten.sqrt", MK_FLOAT, f_sqrt, NULL},
    [M_TAN] = {"aten.tan", MK_FLOAT, f_tan, NULL},
    [M_ISNAN] = {"aten.isnan", MK_PRED, f_isnan, i_false},
    [M_ISINF] = {"aten.isinf", MK_PRED, f_isinf, i_false},
    [M_LOGICAL_NOT] = {"aten.logical_not", MK_PRED, f_logical_not, i_logical_not},
    [M_BITWISE_NOT] = {"aten.bitwise_not", MK_BITS, NULL, i_bitwise_not},
    [M_ELU] = {"aten.elu", MK_FLOAT_ONLY, f_elu, NULL},
    [M_LEAKY_RELU] = {"aten.leaky_relu", MK_FLOAT_ONLY, f_leaky_relu, NULL},
};

/* ---- element access by dtype (f16 is refused by every prepare here) ---- */

static inline int64_t load_int(const void* d, size_t k, xnnd_dtype dt) {
  switch (dt) {
    case XNND_I8: return ((const int8_t*)d)[k];
    case XNND_U8: return ((const uint8_t*)d)[k];
    case XNND_I32: return ((const int32_t*)d)[k];
    case XNND_I64: return ((const int64_t*)d)[k];
    case XNND_BOOL: return ((const uint8_t*)d)[k] != 0;
    default: return 0;
  }
}

/* Truncates to the width (two's complement); bool keeps the lowest bit, which is what
 * bitwise_not and the identities need (conversion to bool tests nonzero before storing). */
static inline void store_int(void* d, size_t k, xnnd_dtype dt, int64_t v) {
  switch (dt) {
    case XNND_I8: ((int8_t*)d)[k] = (int8_t)(uint8_t)v; break;
    case XNND_U8: ((uint8_t*)d)[k] = (uint8_t)v; break;
    case XNND_I32: ((int32_t*)d)[k] = (int32_t)(uint32_t)v; break;
    case XNND_I64: ((int64_t*)d)[k] = v; break;
    case XNND_BOOL: ((uint8_t*)d)[k] = (uint8_t)(v & 1); break;
    default: break;
  }
}

static inline float load_float(const void* d, size_t k, xnnd_dtype dt) {
  return dt == XNND_F32 ? ((const float*)d)[k] : (float)load_int(d, k, dt);
}

/* float -> int truncating toward zero, through int64 for i64 and int32 for the narrower
 * types (then wrapped to the width). NaN and out-of-range values give the type's minimum, as
 * x86's cvttss2si does for PyTorch; PyTorch leaves them undefined. */
static inline int64_t float_to_int(float v, xnnd_dtype out) {
  if (out == XNND_I64)
    return v >= -9223372036854775808.0f && v < 9223372036854775808.0f ? (int64_t)v : INT64_MIN;
  return v >= -2147483648.0f && v < 2147483648.0f ? (int32_t)v : INT32_MIN;
}

/* ---- unary math ---- */

static xnnd_status math_prepare(const kcheck* c, math_params* p, int op) {
  const math_fn* fn = &k_math[op];
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", -1, -1)) != XNND_OK) return s;
  const xnnd_dtype in = x->dtype;
  const bool float_in = in == XNND_F32;
  if (in == XNND_F16 || (float_in && !fn->f) ||
      (!float_in && (fn->kind == MK_FLOAT_ONLY || (!fn->i && fn->kind != MK_FLOAT))))
    return kfail(c, XNND_DTYPE_MISMATCH, "self has dtype %s, expected %s", xnnd_dtype_name(in),
                 fn->kind == MK_BITS ? "an integer or bool dtype"
                 : fn->kind == MK_FLOAT_ONLY ? "f32" : "f32 or an integer or bool dtype");
  xnnd_dtype out = in;
  if (fn->kind == MK_PRED) out = XNND_BOOL;
  if (fn->kind == MK_FLOAT) out = XNND_F32;
  if ((s = kcheck_tensor(c, y, "out", (int)out, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", x->rank, x->dims)) != XNND_OK)
    return s;
  *p = (math_params){.op = op, .in = in, .out = out, .alpha = 1, .scale = 1, .input_scale = 1};
  return XNND_OK;
}

#define MATH_PREPARE(name, code)                          \
  KPREPARE(name) {                                        \
    const kcheck c = {k_math[code].op, args, err, err_size}; \
    return math_prepare(&c, params, code);                \
  }
MATH_PREPARE(abs, M_ABS)
MATH_PREPARE(neg, M_NEG)
MATH_PREPARE(sign, M_SIGN)
MATH_PREPARE(ceil, M_CEIL)
MATH_PREPARE(floor, M_FLOOR)
MATH_PREPARE(round, M_ROUND)
MATH_PREPARE(trunc, M_TRUNC)
MATH_PREPARE(acos, M_ACOS)
MATH_PREPARE(acosh, M_ACOSH)
MATH_PREPARE(asin, M_ASIN)
MATH_PREPARE(asinh, M_ASINH)
MATH_PREPARE(atan, M_ATAN)
MATH_PREPARE(atanh, M_ATANH)
MATH_PREPARE(cos, M_COS)
MATH_PREPARE(cosh, M_COSH)
MATH_PREPARE(erf, M_ERF)
MATH_PREPARE(exp, M_EXP)
MATH_PREPARE(expm1, M_EXPM1)
MATH_PREPARE(log, M_LOG)
MATH_PREPARE(log10, M_LOG10)
MATH_PREPARE(log1p, M_LOG1P)
MATH_PREPARE(log2, M_LOG2)
MATH_PREPARE(reciprocal, M_RECIPROCAL)
MATH_PREPARE(rsqrt, M_RSQRT)
MATH_PREPARE(sin, M_SIN)
MATH_PREPARE(sinh, M_SINH)
MATH_PREPARE(sqrt, M_SQRT)
MATH_PREPARE(tan, M_TAN)
MATH_PREPARE(isnan, M_ISNAN)
MATH_PREPARE(isinf, M_ISINF)
MATH_PREPARE(logical_not, M_LOGICAL_NOT)
MATH_PREPARE(bitwise_not, M_BITWISE_NOT)
#undef MATH_PREPARE

static xnnd_status finite_attr(const kcheck* c, const char* name, double def, float* out) {
  double v;
  xnnd_status s = kattr_float(c, name, def, &v);
  if (s != XNND_OK) return s;
  if (!isfinite(v)) return kfail(c, XNND_INVALID_ARGUMENT, "%s = %g must be finite", name, v);
  *out = (float)v;
  return XNND_OK;
}

KPREPARE(elu) {
  const kcheck c = {"aten.elu", args, err, err_size};
  math_params* p = params;
  xnnd_status s = math_prepare(&c, p, M_ELU);
  if (s != XNND_OK || (s = finite_attr(&c, "alpha", 1.0, &p->alpha)) != XNND_OK ||
      (s = finite_attr(&c, "scale", 1.0, &p->scale)) != XNND_OK)
    return s;
  return finite_attr(&c, "input_scale", 1.0, &p->input_scale);
}

KPREPARE(leaky_relu) {
  const kcheck c = {"aten.leaky_relu", args, err, err_size};
  math_params* p = params;
  xnnd_status s = math_prepare(&c, p, M_LEAKY_RELU);
  if (s != XNND_OK) return s;
  return finite_attr(&c, "negative_slope", 0.01, &p->alpha);
}

KRUN(math_unary) {
  const math_params* p = params;
  const math_fn* fn = &k_math[p->op];
  const void* x = args->inputs[0]->data;
  void* y = args->outputs[0]->data;
  const size_t n = knumel(args->inputs[0]);
  if (p->in == XNND_F32 && p->out == XNND_F32) {
    const float* xf = x;
    float* yf = y;
    for (size_t k = 0; k < n; k++) yf[k] = fn->f(xf[k], p);
  } else if (p->in == XNND_F32) { /* predicates */
    const float* xf = x;
    uint8_t* yb = y;
    for (size_t k = 0; k < n; k++) yb[k] = fn->f(xf[k], p) != 0.0f;
  } else if (p->out == XNND_F32) { /* int/bool promoted */
    float* yf = y;
    for (size_t k = 0; k < n; k++) yf[k] = fn->f(load_float(x, k, p->in), p);
  } else if (p->out == XNND_BOOL && fn->kind == MK_PRED) {
    uint8_t* yb = y;
    for (size_t k = 0; k < n; k++) yb[k] = fn->i(load_int(x, k, p->in)) != 0;
  } else {
    for (size_t k = 0; k < n; k++) store_int(y, k, p->out, fn->i(load_int(x, k, p->in)));
  }
  return XNND_OK;
}

/* ---- dtype conversion: aten._to_copy (src = self) and aten.copy (src = input 1, broadcast
 * to self's shape, converted to self's dtype) ---- */

typedef struct convert_params {
  uint32_t src;            /* input index of the source */
  xnnd_dtype in, out;
  bool broadcast;          /* else element k of out is element k of src */
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];    /* out dims */
  int64_t strides[XNND_MAX_RANK]; /* src element stride per out dim, 0 = broadcast */
} convert_params;
KPARAMS_FIT(convert_params);

static xnnd_status check_convertible(const kcheck* c, const xnnd_tensor* t, const char* what) {
  if (t->dtype == XNND_F16)
    return kfail(c, XNND_DTYPE_MISMATCH, "%s has dtype f16; only f32, i8, u8, i32, i64 and bool "
                 "are converted", what);
  return XNND_OK;
}

KPREPARE(to_copy) {
  const kcheck c = {"aten._to_copy", args, err, err_size};
  convert_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  const xnnd_tensor* y = koutput(&c, 0);
  int64_t dtype;
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK ||
      (s = kattr_int(&c, "dtype", -1, &dtype)) != XNND_OK)
    return s;
  if (dtype < 0 || dtype >= XNND_DTYPE_COUNT)
    return kfail(&c, XNND_INVALID_ARGUMENT, "dtype %lld is not an xnnd dtype", (long long)dtype);
  if ((s = kcheck_tensor(&c, y, "out", (int)dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", x->rank, x->dims)) != XNND_OK ||
      (s = check_convertible(&c, x, "self")) != XNND_OK ||
      (s = check_convertible(&c, y, "out")) != XNND_OK)
    return s;
  *p = (convert_params){.src = 0, .in = x->dtype, .out = y->dtype};
  return XNND_OK;
}

KPREPARE(copy) {
  const kcheck c = {"aten.copy", args, err, err_size};
  convert_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* self = kinput(&c, 0);
  const xnnd_tensor* src = kinput(&c, 1);
  if ((s = kcheck_tensor(&c, self, "self", -1, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, src, "src", -1, -1)) != XNND_OK ||
      (s = kcheck_same(&c, koutput(&c, 0), "out", self)) != XNND_OK ||
      (s = check_convertible(&c, self, "self")) != XNND_OK ||
      (s = check_convertible(&c, src, "src")) != XNND_OK)
    return s;
  if (src->rank > self->rank) goto mismatch;
  *p = (convert_params){.src = 1, .in = src->dtype, .out = self->dtype, .rank = self->rank};
  int64_t k = 1;
  for (uint32_t i = self->rank; i-- > 0;) {
    const int64_t is = (int64_t)i - (int64_t)(self->rank - src->rank);
    const int64_t d = is >= 0 ? src->dims[is] : 1;
    if (d != self->dims[i] && d != 1) goto mismatch;
    p->dims[i] = self->dims[i];
    p->strides[i] = d == 1 ? 0 : k;
    if (d != self->dims[i]) p->broadcast = true;
    k *= d;
  }
  if (src->rank != self->rank) p->broadcast = true;
  return XNND_OK;
mismatch: {
  char a[160], b[160];
  return kfail(&c, XNND_SHAPE_MISMATCH, "src %s does not broadcast to self's shape %s",
               kshape_str(a, sizeof a, src->rank, src->dims),
               kshape_str(b, sizeof b, self->rank, self->dims));
}
}

static inline void convert_one(const void* x, size_t i, xnnd_dtype in, void* y, size_t k,
                               xnnd_dtype out) {
  if (out == XNND_F32) {
    ((float*)y)[k] = load_float(x, i, in);
  } else if (out == XNND_BOOL) {
    ((uint8_t*)y)[k] = in == XNND_F32 ? ((const float*)x)[i] != 0.0f : load_int(x, i, in) != 0;
  } else {
    store_int(y, k, out, in == XNND_F32 ? float_to_int(((const float*)x)[i], out) : load_int(x, i, in));
  }
}

KRUN(convert) {
  const convert_params* p = params;
  const void* x = args->inputs[p->src]->data;
  void* y = args->outputs[0]->data;
  const size_t n = knumel(args->outputs[0]);
  if (!p->broadcast) {
    if (p->in == p->out) {
      if (n > 0 && x != y) memmove(y, x, n * xnnd_dtype_size(p->in));
      return XNND_OK;
    }
    for (size_t k = 0; k < n; k++) convert_one(x, k, p->in, y, k, p->out);
    return XNND_OK;
  }
  int64_t idx[XNND_MAX_RANK] = {0};
  int64_t off = 0;
  for (size_t k = 0; k < n; k++) {
    convert_one(x, (size_t)off, p->in, y, k, p->out);
    for (uint32_t d = p->rank; d-- > 0;) { /* odometer */
      off += p->strides[d];
      if (++idx[d] < p->dims[d]) break;
      off -= p->strides[d] * p->dims[d];
      idx[d] = 0;
    }
  }
  return XNND_OK;
}
