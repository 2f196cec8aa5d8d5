/* Broadcasting binary ops (add/sub/mul/div, div with rounding, atan2, fmod, remainder, pow,
 * maximum/minimum, bitwise, logical, comparisons) and the ternary where and clamp_tensor, over
 * f32 and the integer/bool dtypes. One prepare/run keyed by an op code whose row functions sit
 * in a table, one float and one int64 version per op (the compute dtype: float when the output
 * or any operand is f32, else int64, where narrower integers wrap like PyTorch's when stored).
 * Operands of another dtype (an int tensor with a float scalar, i32 with i64) are converted in
 * chunks through stack buffers; when every operand and the output already have the compute
 * dtype the row functions read and write the tensors directly.
 * Integer division or modulo by zero (undefined in PyTorch, which raises on CPU) makes run()
 * fail with XNND_INVALID_ARGUMENT; the runtime's message names the step's op. */
#include <math.h>
#include <string.h>

#include "kernels/kernel_util.h"

enum bop {
  B_ADD, B_MUL, B_DIV, B_DIV_TRUNC, B_DIV_FLOOR, B_ATAN2, B_FMOD, B_REMAINDER, B_POW,
  B_MAXIMUM, B_MINIMUM, B_BAND, B_BOR, B_BXOR, B_LAND, B_LOR, B_LXOR,
  B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE, B_WHERE, B_CLAMP, B_CLAMP_MIN, B_CLAMP_MAX,
  B_COUNT
};

typedef struct binary_params {
  kbcast plan;
  float falpha;   /* add: self + alpha * other (sub stores -alpha) */
  int64_t ialpha;
  uint8_t op, nops, compute, out_dtype;
  uint8_t input[KBCAST_MAX_OPERANDS]; /* kernel input index of each operand */
  uint8_t dtype[KBCAST_MAX_OPERANDS];
  bool direct;    /* operands and output all have the compute dtype */
} binary_params;
KPARAMS_FIT(binary_params);

/* A row of n results from operand rows x[k] with element strides s[k]; false on an integer
 * division by zero. */
typedef bool (*frow_fn)(int64_t n, const float* const* x, const int64_t* s, float* y,
                        const binary_params* p);
typedef bool (*irow_fn)(int64_t n, const int64_t* const* x, const int64_t* s, int64_t* y,
                        const binary_params* p);

/* Row loops around an element expression of a, b (and c), with the unit-stride cases
 * spelled out so the compiler vectorizes them. */
#define ROW2(prefix, T, name, expr)                                                            \
  static bool prefix##_##name(int64_t n, const T* const* x, const int64_t* s, T* y,          \
                              const binary_params* p) {                                      \
    (void)p;                                                                                 \
    const T* A = x[0];                                                                       \
    const T* B = x[1];                                                                       \
    const int64_t sa = s[0], sb = s[1];                                                      \
    if (sa == 1 && sb == 1) {                                                                \
      for (int64_t i = 0; i < n; i++) { const T a = A[i], b = B[i]; y[i] = (expr); }        \
    } else if (sa == 1 && sb == 0) {                                                         \
      const T b = B[0];                                                                      \
      for (int64_t i = 0; i < n; i++) { const T a = A[i]; y[i] = (expr); }                   \
    } else {                                                                                 \
      for (int64_t i = 0; i < n; i++) { const T a = A[i * sa], b = B[i * sb]; y[i] = (expr); } \
    }                                                                                        \
    return true;                                                                             \
  }
/* Integer division-like ops: a zero divisor fails the row. */
#define IROW2_DIV(name, expr)                                                                  \
  static bool i_##name(int64_t n, const int64_t* const* x, const int64_t* s, int64_t* y,       \
                       const binary_params* p) {                                               \
    (void)p;                                                                                   \
    for (int64_t i = 0; i < n; i++) {                                                          \
      const int64_t a = x[0][i * s[0]], b = x[1][i * s[1]];                                    \
      if (b == 0) return false;                                                                \
      y[i] = (expr);                                                                           \
    }                                                                                          \
    return true;                                                                               \
  }
#define ROW3(prefix, T, name, expr)                                                            \
  static bool prefix##_##name(int64_t n, const T* const* x, const int64_t* s, T* y,          \
                              const binary_params* p) {                                      \
    (void)p;                                                                                 \
    for (int64_t i = 0; i < n; i++) {                                                        \
      const T a = x[0][i * s[0]], b = x[1][i * s[1]], c = x[2][i * s[2]];                    \
      y[i] = (expr);                                                                         \
    }                                                                                        \
    return true;                                                                             \
  }
#define FROW2(name, expr) ROW2(f, float, name, expr)
#define IROW2(name, expr) ROW2(i, int64_t, name, expr)

/* ---- float element functions (PyTorch's CPU formulas) ---- */
static inline float f_floor_div1(float a, float b) {
  if (b == 0.0f) return a / b;
  const float mod = fmodf(a, b);
  float div = (a - mod) / b;
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) div -= 1.0f;
  if (div == 0.0f) return copysignf(0.0f, a / b);
  float fl = floorf(div);
  if (div - fl > 0.5f) fl += 1.0f;
  return fl;
}
static inline float f_remainder1(float a, float b) {
  float mod = fmodf(a, b);
  if (mod != 0.0f && (b < 0.0f) != (mod < 0.0f)) mod += b;
  return mod;
}
static inline float f_max1(float a, float b) { return isnan(a) || isnan(b) ? NAN : (a > b ? a : b); }
static inline float f_min1(float a, float b) { return isnan(a) || isnan(b) ? NAN : (a < b ? a : b); }
static inline float f_clamp1(float a, float lo, float hi) {
  if (isnan(lo) || isnan(hi)) return NAN;
  const float m = a < lo ? lo : a;
  return hi < m ? hi : m;
}

FROW2(add, a + p->falpha * b)
FROW2(mul, a * b)
FROW2(div, a / b)
FROW2(div_trunc, truncf(a / b))
FROW2(div_floor, f_floor_div1(a, b))
FROW2(atan2, atan2f(a, b))
FROW2(fmod, fmodf(a, b))
FROW2(remainder, f_remainder1(a, b))
FROW2(pow, powf(a, b))
FROW2(maximum, f_max1(a, b))
FROW2(minimum, f_min1(a, b))
FROW2(land, (float)(a != 0.0f && b != 0.0f))
FROW2(lor, (float)(a != 0.0f || b != 0.0f))
FROW2(lxor, (float)((a != 0.0f) != (b != 0.0f)))
FROW2(eq, (float)(a == b))
FROW2(ne, (float)(a != b))
FROW2(lt, (float)(a < b))
FROW2(le, (float)(a <= b))
FROW2(gt, (float)(a > b))
FROW2(ge, (float)(a >= b))
FROW2(clamp_min, f_max1(a, b))
FROW2(clamp_max, f_min1(a, b))
ROW3(f, float, where, a != 0.0f ? b : c)
ROW3(f, float, clamp, f_clamp1(a, b, c))

/* ---- int64 element functions: wrapping arithmetic through uint64_t ---- */
static inline int64_t i_neg1(int64_t a) { return (int64_t)(0 - (uint64_t)a); }
static inline int64_t i_floor_div1(int64_t a, int64_t b) {
  if (b == -1) return i_neg1(a);
  int64_t q = a / b;
  if (a % b != 0 && (a < 0) != (b < 0)) q -= 1;
  return q;
}
static inline int64_t i_remainder1(int64_t a, int64_t b) {
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && (r < 0) != (b < 0)) r += b;
  return r;
}
/* PyTorch's powi: a negative exponent gives 0 except for bases 1 and -1. */
static inline int64_t i_pow1(int64_t a, int64_t b) {
  if (b < 0) return a == 1 ? 1 : (a == -1 ? ((b & 1) ? -1 : 1) : 0);
  uint64_t r = 1, x = (uint64_t)a;
  for (uint64_t e = (uint64_t)b; e; e >>= 1) {
    if (e & 1) r *= x;
    x *= x;
  }
  return (int64_t)r;
}
static inline int64_t i_clamp1(int64_t a, int64_t lo, int64_t hi) {
  const int64_t m = a < lo ? lo : a;
  return hi < m ? hi : m;
}

IROW2(add, (int64_t)((uint64_t)a + (uint64_t)p->ialpha * (uint64_t)b))
IROW2(mul, (int64_t)((uint64_t)a * (uint64_t)b))
IROW2_DIV(div_trunc, b == -1 ? i_neg1(a) : a / b)
IROW2_DIV(div_floor, i_floor_div1(a, b))
IROW2_DIV(fmod, b == -1 ? 0 : a % b)
IROW2_DIV(remainder, i_remainder1(a, b))
IROW2(pow, i_pow1(a, b))
IROW2(maximum, a > b ? a : b)
IROW2(minimum, a < b ? a : b)
IROW2(band, a & b)
IROW2(bor, a | b)
IROW2(bxor, a ^ b)
IROW2(land, (int64_t)(a != 0 && b != 0))
IROW2(lor, (int64_t)(a != 0 || b != 0))
IROW2(lxor, (int64_t)((a != 0) != (b != 0)))
IROW2(eq, (int64_t)(a == b))
IROW2(ne, (int64_t)(a != b))
IROW2(lt, (int64_t)(a < b))
IROW2(le, (int64_t)(a <= b))
IROW2(gt, (int64_t)(a > b))
IROW2(ge, (int64_t)(a >= b))
IROW2(clamp_min, a > b ? a : b)
IROW2(clamp_max, a < b ? a : b)
ROW3(i, int64_t, where, a != 0 ? b : c)
ROW3(i, int64_t, clamp, i_clamp1(a, b, c))

enum {
  OPF_FLOAT = 1,    /* always computed in float (true division, atan2) */
  OPF_INT = 2,      /* integer and bool operands only (bitwise) */
  OPF_BOOL_OUT = 4, /* output is bool (comparisons, logical ops) */
};

static const struct bop_info {
  frow_fn f;
  irow_fn i;
  uint8_t flags;
  uint8_t nops;
} k_ops[B_COUNT] = {
    [B_ADD] = {f_add, i_add, 0, 2},
    [B_MUL] = {f_mul, i_mul, 0, 2},
    [B_DIV] = {f_div, NULL, OPF_FLOAT, 2},
    [B_DIV_TRUNC] = {f_div_trunc, i_div_trunc, 0, 2},
    [B_DIV_FLOOR] = {f_div_floor, i_div_floor, 0, 2},
    [B_ATAN2] = {f_atan2, NULL, OPF_FLOAT, 2},
    [B_FMOD] = {f_fmod, i_fmod, 0, 2},
    [B_REMAINDER] = {f_remainder, i_remainder, 0, 2},
    [B_POW] = {f_pow, i_pow, 0, 2},
    [B_MAXIMUM] = {f_maximum, i_maximum, 0, 2},
    [B_MINIMUM] = {f_minimum, i_minimum, 0, 2},
    [B_BAND] = {NULL, i_band, OPF_INT, 2},
    [B_BOR] = {NULL, i_bor, OPF_INT, 2},
    [B_BXOR] = {NULL, i_bxor, OPF_INT, 2},
    [B_LAND] = {f_land, i_land, OPF_BOOL_OUT, 2},
    [B_LOR] = {f_lor, i_lor, OPF_BOOL_OUT, 2},
    [B_LXOR] = {f_lxor, i_lxor, OPF_BOOL_OUT, 2},
    [B_EQ] = {f_eq, i_eq, OPF_BOOL_OUT, 2},
    [B_NE] = {f_ne, i_ne, OPF_BOOL_OUT, 2},
    [B_LT] = {f_lt, i_lt, OPF_BOOL_OUT, 2},
    [B_LE] = {f_le, i_le, OPF_BOOL_OUT, 2},
    [B_GT] = {f_gt, i_gt, OPF_BOOL_OUT, 2},
    [B_GE] = {f_ge, i_ge, OPF_BOOL_OUT, 2},
    [B_WHERE] = {f_where, i_where, 0, 3},
    [B_CLAMP] = {f_clamp, i_clamp, 0, 3},
    [B_CLAMP_MIN] = {f_clamp_min, i_clamp_min, 0, 2},
    [B_CLAMP_MAX] = {f_clamp_max, i_clamp_max, 0, 2},
};

static bool is_int_dtype(xnnd_dtype d) {
  return d == XNND_I8 || d == XNND_U8 || d == XNND_I32 || d == XNND_I64 || d == XNND_BOOL;
}

/* Operand k of the op is kernel input input_index[k]; names[k] names it in messages. */
static xnnd_status binary_prepare(const kcheck* c, binary_params* p, int op, uint32_t nops,
                                  const uint32_t* input_index, const char* const* names,
                                  double alpha) {
  const struct bop_info* info = &k_ops[op];
  const xnnd_tensor* operands[KBCAST_MAX_OPERANDS];
  xnnd_status s;
  *p = (binary_params){.op = (uint8_t)op, .nops = (uint8_t)nops};
  bool any_float = false;
  for (uint32_t k = 0; k < nops; k++) {
    operands[k] = kinput(c, input_index[k]);
    if ((s = kcheck_tensor(c, operands[k], names[k], -1, -1)) != XNND_OK) return s;
    const xnnd_dtype d = operands[k]->dtype;
    if (d != XNND_F32 && !is_int_dtype(d))
      return kfail(c, XNND_DTYPE_MISMATCH, "%s has dtype %s; expected f32, i8, u8, i32, i64 or bool",
                   names[k], xnnd_dtype_name(d));
    any_float = any_float || d == XNND_F32;
    p->input[k] = (uint8_t)input_index[k];
    p->dtype[k] = (uint8_t)d;
  }
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", -1, -1)) != XNND_OK) return s;
  if (op == B_WHERE && operands[0]->dtype != XNND_BOOL)
    return kfail(c, XNND_DTYPE_MISMATCH, "condition has dtype %s, expected bool",
                 xnnd_dtype_name(operands[0]->dtype));
  if (info->flags & OPF_BOOL_OUT) {
    if (y->dtype != XNND_BOOL)
      return kfail(c, XNND_DTYPE_MISMATCH, "out has dtype %s, expected bool", xnnd_dtype_name(y->dtype));
  } else {
    any_float = any_float || y->dtype == XNND_F32;
  }
  const bool compute_float = any_float || (info->flags & OPF_FLOAT);
  if (compute_float && (info->flags & OPF_INT))
    return kfail(c, XNND_DTYPE_MISMATCH, "operands must be integer or bool, not f32");
  if (!(info->flags & OPF_BOOL_OUT)) {
    const bool ok = compute_float ? y->dtype == XNND_F32 : is_int_dtype(y->dtype);
    if (!ok)
      return kfail(c, XNND_DTYPE_MISMATCH, "out has dtype %s, expected %s", xnnd_dtype_name(y->dtype),
                   compute_float ? "f32 (the operands promote to float)" : "an integer or bool dtype");
  }
  p->compute = compute_float ? XNND_F32 : XNND_I64;
  p->out_dtype = (uint8_t)y->dtype;
  if (!isfinite(alpha)) return kfail(c, XNND_INVALID_ARGUMENT, "alpha %g must be finite", alpha);
  if (!compute_float && alpha != floor(alpha))
    return kfail(c, XNND_INVALID_ARGUMENT, "alpha %g must be an integer for integer operands", alpha);
  /* fuzz fix: a huge integral alpha must not reach the int64 conversion (UB). */
  if (!compute_float && !(alpha >= -0x1p63 && alpha < 0x1p63))
    return kfail(c, XNND_INVALID_ARGUMENT, "alpha %g does not fit int64", alpha);
  p->falpha = (float)alpha;
  p->ialpha = compute_float ? 0 : (int64_t)alpha;
  p->direct = y->dtype == p->compute;
  for (uint32_t k = 0; k < nops; k++) p->direct = p->direct && p->dtype[k] == p->compute;
  return kbcast_plan(c, nops, operands, names, y, &p->plan);
}

static const uint32_t k_first[3] = {0, 1, 2};
static const char* const k_self_other[2] = {"self", "other"};

static xnnd_status prepare_two(const kcheck* c, void* params, int op) {
  xnnd_status s = kcheck_arity(c, 2, 2, 1);
  if (s != XNND_OK) return s;
  return binary_prepare(c, params, op, 2, k_first, k_self_other, 1.0);
}

static xnnd_status prepare_add(const kcheck* c, void* params, bool negate) {
  xnnd_status s = kcheck_arity(c, 2, 2, 1);
  if (s != XNND_OK) return s;
  double alpha;
  if ((s = kattr_float(c, "alpha", 1.0, &alpha)) != XNND_OK) return s;
  return binary_prepare(c, params, B_ADD, 2, k_first, k_self_other, negate ? -alpha : alpha);
}

KPREPARE(add) {
  const kcheck c = {"aten.add", args, err, err_size};
  return prepare_add(&c, params, false);
}
KPREPARE(sub) {
  const kcheck c = {"aten.sub", args, err, err_size};
  return prepare_add(&c, params, true);
}

#define BINARY_PREPARE(name, code)                           \
  KPREPARE(name) {                                           \
    const kcheck c = {"aten." #name, args, err, err_size};   \
    return prepare_two(&c, params, code);                    \
  }
BINARY_PREPARE(mul, B_MUL)
BINARY_PREPARE(div, B_DIV)
BINARY_PREPARE(atan2, B_ATAN2)
BINARY_PREPARE(fmod, B_FMOD)
BINARY_PREPARE(remainder, B_REMAINDER)
BINARY_PREPARE(pow, B_POW)
BINARY_PREPARE(maximum, B_MAXIMUM)
BINARY_PREPARE(minimum, B_MINIMUM)
BINARY_PREPARE(bitwise_and, B_BAND)
BINARY_PREPARE(bitwise_or, B_BOR)
BINARY_PREPARE(bitwise_xor, B_BXOR)
BINARY_PREPARE(logical_and, B_LAND)
BINARY_PREPARE(logical_or, B_LOR)
BINARY_PREPARE(logical_xor, B_LXOR)
BINARY_PREPARE(eq, B_EQ)
BINARY_PREPARE(ne, B_NE)
BINARY_PREPARE(lt, B_LT)
BINARY_PREPARE(le, B_LE)
BINARY_PREPARE(gt, B_GT)
BINARY_PREPARE(ge, B_GE)

KPREPARE(div_mode) {
  const kcheck c = {"aten.div_mode", args, err, err_size};
  int64_t mode = 0;
  bool rounds;
  xnnd_status s = kattr_int_opt(&c, "rounding_mode", &rounds, &mode);
  if (s != XNND_OK) return s;
  if (rounds && mode != 0 && mode != 1)
    return kfail(&c, XNND_INVALID_ARGUMENT,
                 "rounding_mode must be none, 0 (trunc) or 1 (floor), got %lld", (long long)mode);
  return prepare_two(&c, params, !rounds ? B_DIV : (mode ? B_DIV_FLOOR : B_DIV_TRUNC));
}

KPREPARE(where) {
  const kcheck c = {"aten.where", args, err, err_size};
  xnnd_status s = kcheck_arity(&c, 3, 3, 1);
  if (s != XNND_OK) return s;
  static const char* const names[3] = {"condition", "self", "other"};
  return binary_prepare(&c, params, B_WHERE, 3, k_first, names, 1.0);
}

KPREPARE(clamp_tensor) {
  const kcheck c = {"aten.clamp_tensor", args, err, err_size};
  xnnd_status s = kcheck_arity(&c, 1, 3, 1);
  if (s != XNND_OK) return s;
  const bool has_min = kinput(&c, 1) != NULL, has_max = kinput(&c, 2) != NULL;
  if (!has_min && !has_max)
    return kfail(&c, XNND_INVALID_ARGUMENT, "at least one of min and max must be given");
  static const char* const both[3] = {"self", "min", "max"};
  static const char* const only_min[2] = {"self", "min"};
  static const char* const only_max[2] = {"self", "max"};
  static const uint32_t self_max[2] = {0, 2};
  if (has_min && has_max) return binary_prepare(&c, params, B_CLAMP, 3, k_first, both, 1.0);
  if (has_min) return binary_prepare(&c, params, B_CLAMP_MIN, 2, k_first, only_min, 1.0);
  return binary_prepare(&c, params, B_CLAMP_MAX, 2, self_max, only_max, 1.0);
}

/* ---- dtype conversion through chunk buffers ---- */
#define CHUNK 256

#define LOAD_CASE(DT, T, conv)                                                  \
  case DT: {                                                                    \
    const T* src = (const T*)base + off;                                        \
    for (int64_t i = 0; i < m; i++) dst[i] = conv(src[i * s]);                  \
    break;                                                                      \
  }
#define AS_IS(v) (v)
#define AS_BOOL(v) ((v) != 0)

static void load_f(uint8_t dt, const void* base, int64_t off, int64_t s, int64_t m, float* dst) {
  switch (dt) {
    LOAD_CASE(XNND_F32, float, AS_IS)
    LOAD_CASE(XNND_I8, int8_t, (float))
    LOAD_CASE(XNND_U8, uint8_t, (float))
    LOAD_CASE(XNND_I32, int32_t, (float))
    LOAD_CASE(XNND_I64, int64_t, (float))
    LOAD_CASE(XNND_BOOL, uint8_t, (float)AS_BOOL)
    default: break;
  }
}

static void load_i(uint8_t dt, const void* base, int64_t off, int64_t s, int64_t m, int64_t* dst) {
  switch (dt) {
    LOAD_CASE(XNND_I8, int8_t, (int64_t))
    LOAD_CASE(XNND_U8, uint8_t, (int64_t))
    LOAD_CASE(XNND_I32, int32_t, (int64_t))
    LOAD_CASE(XNND_I64, int64_t, AS_IS)
    LOAD_CASE(XNND_BOOL, uint8_t, (int64_t)AS_BOOL)
    default: break;
  }
}

/* Narrower integers keep the low bits (two's complement wrap, as PyTorch's integer ops). */
#define STORE_CASE(DT, T, conv)                                                 \
  case DT: {                                                                    \
    T* dst = (T*)out + off;                                                     \
    for (int64_t i = 0; i < m; i++) dst[i] = conv(src[i]);                      \
    break;                                                                      \
  }
#define WRAP8(v) ((int8_t)(uint8_t)(uint64_t)(v))
#define WRAPU8(v) ((uint8_t)(uint64_t)(v))
#define WRAP32(v) ((int32_t)(uint32_t)(uint64_t)(v))

static void store_f(uint8_t dt, const float* src, int64_t m, void* out, int64_t off) {
  switch (dt) {
    STORE_CASE(XNND_F32, float, AS_IS)
    STORE_CASE(XNND_BOOL, uint8_t, (uint8_t)AS_BOOL)
    default: break;
  }
}

static void store_i(uint8_t dt, const int64_t* src, int64_t m, void* out, int64_t off) {
  switch (dt) {
    STORE_CASE(XNND_I8, int8_t, WRAP8)
    STORE_CASE(XNND_U8, uint8_t, WRAPU8)
    STORE_CASE(XNND_I32, int32_t, WRAP32)
    STORE_CASE(XNND_I64, int64_t, AS_IS)
    STORE_CASE(XNND_BOOL, uint8_t, (uint8_t)AS_BOOL)
    default: break;
  }
}

/* One output row of n elements at output offset yoff; operand k starts at off[k] with stride
 * s[k]. */
static bool run_row(const binary_params* p, int64_t n, const void* const* base, const int64_t* off,
                    const int64_t* s, void* y, int64_t yoff) {
  const struct bop_info* info = &k_ops[p->op];
  const uint32_t nops = p->nops;
  static const int64_t unit[KBCAST_MAX_OPERANDS] = {1, 1, 1};
  if (p->compute == XNND_F32) {
    if (p->direct) {
      const float* x[KBCAST_MAX_OPERANDS] = {NULL, NULL, NULL};
      for (uint32_t k = 0; k < nops; k++) x[k] = (const float*)base[k] + off[k];
      return info->f(n, x, s, (float*)y + yoff, p);
    }
    float buf[KBCAST_MAX_OPERANDS + 1][CHUNK];
    const float* x[KBCAST_MAX_OPERANDS] = {buf[0], buf[1], buf[2]};
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
      const int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
      for (uint32_t k = 0; k < nops; k++) load_f(p->dtype[k], base[k], off[k] + i0 * s[k], s[k], m, buf[k]);
      if (!info->f(m, x, unit, buf[KBCAST_MAX_OPERANDS], p)) return false;
      store_f(p->out_dtype, buf[KBCAST_MAX_OPERANDS], m, y, yoff + i0);
    }
    return true;
  }
  if (p->direct) {
    const int64_t* x[KBCAST_MAX_OPERANDS] = {NULL, NULL, NULL};
    for (uint32_t k = 0; k < nops; k++) x[k] = (const int64_t*)base[k] + off[k];
    return info->i(n, x, s, (int64_t*)y + yoff, p);
  }
  int64_t buf[KBCAST_MAX_OPERANDS + 1][CHUNK];
  const int64_t* x[KBCAST_MAX_OPERANDS] = {buf[0], buf[1], buf[2]};
  for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
    const int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
    for (uint32_t k = 0; k < nops; k++) load_i(p->dtype[k], base[k], off[k] + i0 * s[k], s[k], m, buf[k]);
    if (!info->i(m, x, unit, buf[KBCAST_MAX_OPERANDS], p)) return false;
    store_i(p->out_dtype, buf[KBCAST_MAX_OPERANDS], m, y, yoff + i0);
  }
  return true;
}

KRUN(binary) {
  const binary_params* p = params;
  const kbcast* plan = &p->plan;
  const uint32_t r = plan->rank, nops = p->nops;
  int64_t strides[KBCAST_MAX_OPERANDS][XNND_MAX_RANK];
  const void* base[KBCAST_MAX_OPERANDS] = {NULL, NULL, NULL};
  int64_t inner[KBCAST_MAX_OPERANDS] = {0, 0, 0}, off[KBCAST_MAX_OPERANDS] = {0, 0, 0};
  for (uint32_t k = 0; k < nops; k++) {
    kbcast_strides(plan, k, strides[k]);
    base[k] = args->inputs[p->input[k]]->data;
    inner[k] = strides[k][r - 1];
  }
  const int64_t n = plan->dims[r - 1];
  int64_t outer = 1;
  for (uint32_t d = 0; d + 1 < r; d++) outer *= plan->dims[d];
  if (n == 0 || outer == 0) return XNND_OK;
  int64_t idx[XNND_MAX_RANK] = {0};
  void* y = args->outputs[0]->data;
  for (int64_t o = 0; o < outer; o++) {
    if (!run_row(p, n, base, off, inner, y, o * n)) return XNND_INVALID_ARGUMENT;
    /* Odometer over the outer dims. */
    for (uint32_t d = r - 1; d-- > 0;) {
      for (uint32_t k = 0; k < nops; k++) off[k] += strides[k][d];
      if (++idx[d] < plan->dims[d]) break;
      for (uint32_t k = 0; k < nops; k++) off[k] -= strides[k][d] * plan->dims[d];
      idx[d] = 0;
    }
  }
  return XNND_OK;
}
