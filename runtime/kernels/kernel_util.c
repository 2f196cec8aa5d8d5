/* Operand and attribute checks shared by the portable kernels' prepare() functions. Every
 * failure names the op and the operand or attribute; nothing here allocates or prints. */
#include "kernels/kernel_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

xnnd_status kfail(const kcheck* c, xnnd_status status, const char* fmt, ...) {
  if (c->err && c->err_size > 0) {
    int n = snprintf(c->err, c->err_size, "%s: ", c->op);
    if (n >= 0 && (size_t)n < c->err_size) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(c->err + n, c->err_size - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return status;
}

xnnd_status krun_fail(const xnnd_kernel_args* args, const char* op, xnnd_status status,
                      const char* fmt, ...) {
  if (args->run_err && args->run_err_size > 0) {
    int n = snprintf(args->run_err, args->run_err_size, "%s: ", op);
    if (n >= 0 && (size_t)n < args->run_err_size) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(args->run_err + n, args->run_err_size - (size_t)n, fmt, ap);
      va_end(ap);
    }
  }
  return status;
}

xnnd_status kcheck_arity(const kcheck* c, uint32_t min_in, uint32_t max_in, uint32_t min_out) {
  const xnnd_kernel_args* a = c->args;
  if (a->num_inputs < min_in || a->num_inputs > max_in) {
    if (min_in == max_in)
      return kfail(c, XNND_WRONG_INPUT_COUNT, "takes %u inputs, got %u", min_in, a->num_inputs);
    return kfail(c, XNND_WRONG_INPUT_COUNT, "takes %u to %u inputs, got %u", min_in, max_in,
                 a->num_inputs);
  }
  if (a->num_inputs > 0 && !a->inputs)
    return kfail(c, XNND_INVALID_ARGUMENT, "inputs array is NULL");
  if (a->num_outputs < min_out || (a->num_outputs > 0 && !a->outputs))
    return kfail(c, XNND_WRONG_INPUT_COUNT, "produces %u outputs, got %u", min_out,
                 a->num_outputs);
  if (a->num_attrs > 0 && !a->attrs)
    return kfail(c, XNND_INVALID_ARGUMENT, "attrs array is NULL");
  return XNND_OK;
}

const xnnd_tensor* kinput(const kcheck* c, uint32_t i) {
  return i < c->args->num_inputs ? c->args->inputs[i] : NULL;
}

const xnnd_tensor* koutput(const kcheck* c, uint32_t i) {
  return i < c->args->num_outputs ? c->args->outputs[i] : NULL;
}

const char* kshape_str(char* buf, size_t size, uint32_t rank, const int64_t* dims) {
  size_t used = 0;
  int n = snprintf(buf, size, "[");
  if (n > 0) used = (size_t)n;
  for (uint32_t i = 0; i < rank && used < size; i++) {
    n = snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (n > 0) used += (size_t)n;
  }
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

xnnd_status kcheck_tensor(const kcheck* c, const xnnd_tensor* t, const char* what, int dtype,
                          int rank) {
  if (!t) return kfail(c, XNND_INVALID_ARGUMENT, "%s is missing", what);
  if (t->rank > XNND_MAX_RANK)
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has rank %u, more than %d", what, t->rank,
                 XNND_MAX_RANK);
  for (uint32_t i = 0; i < t->rank; i++)
    if (t->dims[i] < 0)
      return kfail(c, XNND_SHAPE_MISMATCH, "%s has negative dim %u (%lld)", what, i,
                   (long long)t->dims[i]);
  /* Sizes come from an untrusted program: keep every byte count representable. */
  int64_t numel = 1;
  for (uint32_t i = 0; i < t->rank; i++) {
    if (t->dims[i] != 0 && numel > (INT64_MAX / 8) / t->dims[i])
      return kfail(c, XNND_SHAPE_MISMATCH, "%s is too large", what);
    numel *= t->dims[i];
  }
  if (xnnd_dtype_size(t->dtype) == 0)
    return kfail(c, XNND_DTYPE_MISMATCH, "%s has invalid dtype %d", what, (int)t->dtype);
  if (dtype >= 0 && (int)t->dtype != dtype)
    return kfail(c, XNND_DTYPE_MISMATCH, "%s has dtype %s, expected %s", what,
                 xnnd_dtype_name(t->dtype), xnnd_dtype_name((xnnd_dtype)dtype));
  if (rank >= 0 && t->rank != (uint32_t)rank)
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has rank %u, expected %d", what, t->rank, rank);
  return XNND_OK;
}

xnnd_status kcheck_shape(const kcheck* c, const xnnd_tensor* t, const char* what, uint32_t rank,
                         const int64_t* dims) {
  bool same = t->rank == rank;
  for (uint32_t i = 0; same && i < rank; i++) same = t->dims[i] == dims[i];
  if (same) return XNND_OK;
  char got[160], want[160];
  return kfail(c, XNND_SHAPE_MISMATCH, "%s has shape %s, expected %s", what,
               kshape_str(got, sizeof(got), t->rank, t->dims),
               kshape_str(want, sizeof(want), rank, dims));
}

xnnd_status kcheck_same(const kcheck* c, const xnnd_tensor* out, const char* what,
                        const xnnd_tensor* in) {
  xnnd_status s = kcheck_tensor(c, out, what, (int)in->dtype, -1);
  if (s != XNND_OK) return s;
  return kcheck_shape(c, out, what, in->rank, in->dims);
}

static const char* kind_name(uint8_t kind) {
  static const char* const names[] = {"none", "int", "float", "bool", "ints"};
  return kind < sizeof(names) / sizeof(names[0]) ? names[kind] : "unknown";
}

/* NULL for absent and for explicit none. */
static const xnnd_kattr* find_attr(const kcheck* c, const char* name) {
  const xnnd_kattr* a = xnnd_kattr_get(c->args, name);
  return (a && a->kind != 0) ? a : NULL;
}

xnnd_status kattr_int_opt(const kcheck* c, const char* name, bool* present, int64_t* out) {
  const xnnd_kattr* a = find_attr(c, name);
  *present = a != NULL;
  if (!a) return XNND_OK;
  if (a->kind != 1 && a->kind != 3)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is %s, expected int", name,
                 kind_name(a->kind));
  *out = a->i;
  return XNND_OK;
}

xnnd_status kattr_int(const kcheck* c, const char* name, int64_t def, int64_t* out) {
  bool present;
  *out = def;
  return kattr_int_opt(c, name, &present, out);
}

xnnd_status kattr_float_opt(const kcheck* c, const char* name, bool* present, double* out) {
  const xnnd_kattr* a = find_attr(c, name);
  *present = a != NULL;
  if (!a) return XNND_OK;
  if (a->kind == 2)
    *out = a->f;
  else if (a->kind == 1)
    *out = (double)a->i;
  else
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is %s, expected float", name,
                 kind_name(a->kind));
  return XNND_OK;
}

xnnd_status kattr_float(const kcheck* c, const char* name, double def, double* out) {
  bool present;
  *out = def;
  return kattr_float_opt(c, name, &present, out);
}

xnnd_status kattr_bool(const kcheck* c, const char* name, bool def, bool* out) {
  const xnnd_kattr* a = find_attr(c, name);
  *out = def;
  if (!a) return XNND_OK;
  if (a->kind != 3 && a->kind != 1)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is %s, expected bool", name,
                 kind_name(a->kind));
  *out = a->i != 0;
  return XNND_OK;
}

xnnd_status kattr_ints(const kcheck* c, const char* name, const int64_t* def, uint32_t def_n,
                       uint32_t max_n, int64_t* out, uint32_t* n_out) {
  const xnnd_kattr* a = find_attr(c, name);
  if (!a) {
    if (!def) return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is missing", name);
    for (uint32_t i = 0; i < def_n; i++) out[i] = def[i];
    *n_out = def_n;
    return XNND_OK;
  }
  if (a->kind == 1) {
    if (max_n < 1)
      return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s must be an empty list", name);
    out[0] = a->i;
    *n_out = 1;
    return XNND_OK;
  }
  if (a->kind != 4)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is %s, expected ints", name,
                 kind_name(a->kind));
  if (a->n > max_n)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s has %u entries, at most %u allowed",
                 name, a->n, max_n);
  if (a->n > 0 && !a->ints)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s has no data", name);
  for (uint32_t i = 0; i < a->n; i++) out[i] = a->ints[i];
  *n_out = a->n;
  return XNND_OK;
}

xnnd_status kattr_spatial(const kcheck* c, const char* name, uint32_t n, int64_t def,
                          bool required, int64_t* out, bool* empty) {
  int64_t vals[XNND_MAX_RANK];
  uint32_t got = 0;
  if (empty) *empty = false;
  const xnnd_kattr* a = find_attr(c, name);
  if (!a) {
    if (required) return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s is missing", name);
    for (uint32_t i = 0; i < n; i++) out[i] = def;
    return XNND_OK;
  }
  xnnd_status s = kattr_ints(c, name, NULL, 0, XNND_MAX_RANK, vals, &got);
  if (s != XNND_OK) return s;
  if (got == 0 && empty) {
    *empty = true;
    for (uint32_t i = 0; i < n; i++) out[i] = def;
    return XNND_OK;
  }
  if (got != n && got != 1)
    return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s has %u entries, expected %u", name, got,
                 n);
  for (uint32_t i = 0; i < n; i++) out[i] = vals[got == 1 ? 0 : i];
  /* fuzz fix (fuzz_program_load): a padding of 2^62 from an untrusted program overflowed the
   * output-size arithmetic of conv and pooling. Bounding every spatial attribute keeps all
   * size and index products in int64 (dims are below 2^40); real models use single digits. */
  for (uint32_t i = 0; i < n; i++)
    if (out[i] > ((int64_t)1 << 20) || out[i] < -((int64_t)1 << 20))
      return kfail(c, XNND_INVALID_ARGUMENT, "attribute %s entry %u is %lld, beyond +-2^20", name,
                   i, (long long)out[i]);
  return XNND_OK;
}

xnnd_status kwrap_dim(const kcheck* c, const char* what, int64_t dim, uint32_t rank,
                      uint32_t* out) {
  int64_t r = rank == 0 ? 1 : (int64_t)rank;
  if (dim < -r || dim >= r)
    return kfail(c, XNND_INVALID_ARGUMENT, "%s %lld is out of range for rank %u", what,
                 (long long)dim, rank);
  *out = (uint32_t)(dim < 0 ? dim + r : dim);
  return XNND_OK;
}

int64_t kfloor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
  return q;
}

int64_t kpool_out_size(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                       bool ceil_mode) {
  int64_t out =
      kfloor_div(in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  /* The last window must start inside the input or the left padding. */
  if (ceil_mode && (out - 1) * stride >= in + pad) out--;
  return out;
}

xnnd_status kattr_avg_pool(const kcheck* c, bool* count_include_pad, int64_t* divisor) {
  bool has_div;
  xnnd_status s;
  *divisor = 0;
  if ((s = kattr_bool(c, "count_include_pad", true, count_include_pad)) != XNND_OK ||
      (s = kattr_int_opt(c, "divisor_override", &has_div, divisor)) != XNND_OK)
    return s;
  if (!has_div) *divisor = 0;
  else if (*divisor == 0)
    return kfail(c, XNND_INVALID_ARGUMENT, "divisor_override must be non-zero");
  return XNND_OK;
}

void ksplit_reduced(uint32_t rank, const uint8_t* reduced, const int64_t* dims,
                    const int64_t* strides, int64_t* kd, int64_t* ks, uint32_t* nk, int64_t* rd,
                    int64_t* rs, uint32_t* nr) {
  *nk = *nr = 0;
  for (uint32_t i = 0; i < rank; i++) {
    if (reduced[i]) {
      rd[*nr] = dims[i];
      rs[(*nr)++] = strides[i];
    } else {
      kd[*nk] = dims[i];
      ks[(*nk)++] = strides[i];
    }
  }
}

size_t knumel(const xnnd_tensor* t) { return xnnd_tensor_numel(t); }

#define STRIDED_GATHER_LOOP(type)                                               \
  do {                                                                          \
    const type* s = (const type*)src + offset;                                  \
    type* d = dst;                                                              \
    for (int64_t o = 0; o < outer; o++) {                                       \
      if (stride == 1)                                                          \
        memcpy(d + o * n, s + off, (size_t)n * sizeof(type));                   \
      else                                                                      \
        for (int64_t i = 0; i < n; i++) d[o * n + i] = s[off + i * stride];     \
      for (uint32_t k = rank - 1; k-- > 0;) {                                   \
        off += strides[k];                                                      \
        if (++idx[k] < dims[k]) break;                                          \
        off -= strides[k] * dims[k];                                            \
        idx[k] = 0;                                                             \
      }                                                                         \
    }                                                                           \
  } while (0)

xnnd_status kstrided_gather(const void* src, void* dst, size_t elem, uint32_t rank, const int64_t* dims,
                            const int64_t* strides, int64_t offset) {
  if (rank == 0) {
    memcpy(dst, (const uint8_t*)src + offset * (int64_t)elem, elem);
    return XNND_OK;
  }
  const int64_t n = dims[rank - 1], stride = strides[rank - 1];
  int64_t outer = 1;
  for (uint32_t i = 0; i + 1 < rank; i++) outer *= dims[i];
  if (n == 0 || outer == 0) return XNND_OK;
  int64_t idx[XNND_MAX_RANK] = {0};
  int64_t off = 0;
  switch (elem) {
    case 1: STRIDED_GATHER_LOOP(uint8_t); break;
    case 2: STRIDED_GATHER_LOOP(uint16_t); break;
    case 4: STRIDED_GATHER_LOOP(uint32_t); break;
    case 8: STRIDED_GATHER_LOOP(uint64_t); break;
    default: return XNND_INTERNAL;
  }
  return XNND_OK;
}

xnnd_status kbcast_plan(const kcheck* c, uint32_t n, const xnnd_tensor* const* operands,
                        const char* const* names, const xnnd_tensor* out, kbcast* plan) {
  if (n == 0 || n > KBCAST_MAX_OPERANDS) return XNND_INTERNAL;
  uint32_t r = 0;
  for (uint32_t k = 0; k < n; k++) r = operands[k]->rank > r ? operands[k]->rank : r;
  /* Aligned at the trailing dim; shape[k][i] is operand k's size along output dim i. */
  int64_t shape[KBCAST_MAX_OPERANDS][XNND_MAX_RANK], full[XNND_MAX_RANK] = {0};
  for (uint32_t i = 0; i < r; i++) {
    full[i] = 1;
    for (uint32_t k = 0; k < n; k++) {
      const xnnd_tensor* t = operands[k];
      const int64_t at = (int64_t)i - (int64_t)(r - t->rank);
      shape[k][i] = at >= 0 ? t->dims[at] : 1;
      if (shape[k][i] != 1 && full[i] != 1 && shape[k][i] != full[i]) {
        char sa[160], sb[160];
        const xnnd_tensor* o = operands[0];
        const uint32_t j = k > 1 && shape[1][i] != 1 ? 1 : 0; /* the operand it clashes with */
        o = operands[j];
        return kfail(c, XNND_SHAPE_MISMATCH, "%s %s and %s %s do not broadcast (dim %u)", names[j],
                     kshape_str(sa, sizeof(sa), o->rank, o->dims), names[k],
                     kshape_str(sb, sizeof(sb), t->rank, t->dims), i);
      }
      if (shape[k][i] != 1) full[i] = shape[k][i];
    }
  }
  xnnd_status s = kcheck_shape(c, out, "out", r, full);
  if (s != XNND_OK) return s;

  *plan = (kbcast){.rank = 0};
  int last = -1;
  for (uint32_t i = 0; i < r; i++) {
    if (full[i] == 1) continue;
    int pattern = 0;
    for (uint32_t k = 0; k < n; k++) pattern |= (shape[k][i] != 1) << k;
    if (plan->rank > 0 && pattern == last) {
      plan->dims[plan->rank - 1] *= full[i];
    } else {
      plan->dims[plan->rank] = full[i];
      plan->varies[plan->rank] = (uint8_t)pattern;
      plan->rank++;
      last = pattern;
    }
  }
  if (plan->rank == 0) {
    plan->dims[0] = 1;
    plan->varies[0] = 0;
    plan->rank = 1;
  }
  return XNND_OK;
}

void kbcast_strides(const kbcast* plan, uint32_t k, int64_t* strides) {
  int64_t step = 1;
  for (uint32_t i = plan->rank; i-- > 0;) {
    const bool varies = (plan->varies[i] >> k) & 1;
    strides[i] = varies ? step : 0;
    if (varies) step *= plan->dims[i];
  }
}
