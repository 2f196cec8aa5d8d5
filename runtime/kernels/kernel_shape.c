/* Data movement: aten.view, aten.clone, aten.dropout (inference: identity), aten.permute,
 * aten.t and aten.cat. Any dtype: elements are moved by size, never interpreted, except by a
 * cat of mixed dtypes, which converts to the promoted one. A view whose output shares the
 * input's buffer is a no-op. */
#include <stdio.h>
#include <string.h>

#include "kernels/kernel_util.h"

typedef struct copy_params {
  size_t bytes;
} copy_params;
KPARAMS_FIT(copy_params);

typedef struct permute_params {
  uint32_t rank;
  uint32_t elem;
  int64_t dims[XNND_MAX_RANK];    /* output dims */
  int64_t strides[XNND_MAX_RANK]; /* input element stride of each output dim */
} permute_params;
KPARAMS_FIT(permute_params);

typedef struct cat_params {
  uint32_t dim;
  int64_t outer; /* product of dims before dim */
  int64_t inner; /* product of dims after dim (elements) */
} cat_params;
KPARAMS_FIT(cat_params);

static xnnd_status copy_prepare(const kcheck* c, copy_params* p) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", -1, -1)) != XNND_OK) return s;
  if ((s = kcheck_same(c, koutput(c, 0), "out", x)) != XNND_OK) return s;
  p->bytes = knumel(x) * xnnd_dtype_size(x->dtype);
  return XNND_OK;
}

KPREPARE(clone) {
  const kcheck c = {"aten.clone", args, err, err_size};
  return copy_prepare(&c, params);
}

KPREPARE(dropout) {
  const kcheck c = {"aten.dropout", args, err, err_size};
  bool train;
  double prob;
  xnnd_status s;
  if ((s = kattr_float(&c, "p", 0.5, &prob)) != XNND_OK ||
      (s = kattr_bool(&c, "train", false, &train)) != XNND_OK)
    return s;
  if (!(prob >= 0.0 && prob <= 1.0))
    return kfail(&c, XNND_INVALID_ARGUMENT, "p must be in [0, 1], got %g", prob);
  if (train && prob != 0.0)
    return kfail(&c, XNND_UNSUPPORTED,
                 "train=true is not supported (inference only: export the model in eval mode)");
  return copy_prepare(&c, params);
}

KPREPARE(view) {
  const kcheck c = {"aten.view", args, err, err_size};
  copy_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t size[XNND_MAX_RANK];
  uint32_t rank;
  if ((s = kattr_ints(&c, "size", NULL, 0, XNND_MAX_RANK, size, &rank)) != XNND_OK) return s;
  int64_t numel = 1;
  for (uint32_t i = 0; i < rank; i++) {
    if (size[i] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT, "size[%u] is %lld, expected a concrete size", i,
                   (long long)size[i]);
    if (size[i] != 0 && numel > INT64_MAX / size[i])
      return kfail(&c, XNND_INVALID_ARGUMENT, "size is too large");
    numel *= size[i];
  }
  if ((size_t)numel != knumel(x)) {
    char got[160], want[160];
    return kfail(&c, XNND_SHAPE_MISMATCH, "size %s has %lld elements, self %s has %zu",
                 kshape_str(want, sizeof(want), rank, size), (long long)numel,
                 kshape_str(got, sizeof(got), x->rank, x->dims), knumel(x));
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", rank, size)) != XNND_OK)
    return s;
  p->bytes = knumel(x) * xnnd_dtype_size(x->dtype);
  return XNND_OK;
}

KRUN(copy) {
  const copy_params* p = params;
  const void* x = args->inputs[0]->data;
  void* y = args->outputs[0]->data;
  if (x != y && p->bytes > 0) memmove(y, x, p->bytes);
  return XNND_OK;
}

/* Fills p for out[i0..] = in[perm applied]; perm is validated. */
static void permute_setup(permute_params* p, const xnnd_tensor* x, const uint32_t* perm) {
  int64_t in_strides[XNND_MAX_RANK];
  int64_t k = 1;
  for (uint32_t i = x->rank; i-- > 0;) {
    in_strides[i] = k;
    k *= x->dims[i];
  }
  p->rank = x->rank;
  p->elem = (uint32_t)xnnd_dtype_size(x->dtype);
  for (uint32_t i = 0; i < x->rank; i++) {
    p->dims[i] = x->dims[perm[i]];
    p->strides[i] = in_strides[perm[i]];
  }
}

KPREPARE(permute) {
  const kcheck c = {"aten.permute", args, err, err_size};
  permute_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t dims[XNND_MAX_RANK];
  uint32_t n;
  if ((s = kattr_ints(&c, "dims", NULL, 0, XNND_MAX_RANK, dims, &n)) != XNND_OK) return s;
  if (n != x->rank)
    return kfail(&c, XNND_INVALID_ARGUMENT, "dims has %u entries, self has rank %u", n, x->rank);
  uint32_t perm[XNND_MAX_RANK];
  bool seen[XNND_MAX_RANK] = {false};
  for (uint32_t i = 0; i < n; i++) {
    if ((s = kwrap_dim(&c, "dims entry", dims[i], x->rank, &perm[i])) != XNND_OK) return s;
    if (seen[perm[i]])
      return kfail(&c, XNND_INVALID_ARGUMENT, "dims repeats dim %u", perm[i]);
    seen[perm[i]] = true;
  }
  permute_setup(p, x, perm);
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(&c, y, "out", p->rank, p->dims);
}

KPREPARE(t) {
  const kcheck c = {"aten.t", args, err, err_size};
  permute_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  if (x->rank > 2)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, expected at most 2", x->rank);
  const uint32_t perm[2] = {x->rank == 2 ? 1u : 0u, 0u};
  permute_setup(p, x, perm);
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(&c, y, "out", p->rank, p->dims);
}

KRUN(permute) {
  const permute_params* p = params;
  return kstrided_gather(args->inputs[0]->data, args->outputs[0]->data, p->elem, p->rank, p->dims, p->strides, 0);
}

/* Legacy PyTorch cat skips 1-D empty inputs whatever the other shapes. */
static bool cat_skipped(const xnnd_tensor* t) { return t->rank == 1 && t->dims[0] == 0; }

/* PyTorch's promotion of two tensor dtypes (torch.promote_types); XNND_DTYPE_COUNT when the
 * result is not an xnnd dtype (u8 with i8 gives i16). */
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
  return xnnd_dtype_size(a) > xnnd_dtype_size(b) ? a : b; /* signed ints: the wider */
}

/* n elements of dtype from (bool or integer; f16 excluded by prepare) converted to dtype to:
 * integers through int64 (wrapping as PyTorch's casts do), to f32 by value. */
static void cat_convert(const uint8_t* src, xnnd_dtype from, uint8_t* dst, xnnd_dtype to,
                        int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    int64_t v = 0;
    float f = 0.0f;
    switch (from) {
      case XNND_BOOL: v = src[i] != 0; break;
      case XNND_U8: v = src[i]; break;
      case XNND_I8: v = ((const int8_t*)src)[i]; break;
      case XNND_I32: { int32_t t; memcpy(&t, src + 4 * i, 4); v = t; break; }
      case XNND_I64: memcpy(&v, src + 8 * i, 8); break;
      case XNND_F32: memcpy(&f, src + 4 * i, 4); break;
      default: break;
    }
    if (from != XNND_F32) f = (float)v;
    switch (to) {
      case XNND_F32: memcpy(dst + 4 * i, &f, 4); break;
      case XNND_I64: memcpy(dst + 8 * i, &v, 8); break;
      case XNND_I32: { const int32_t t = (int32_t)(uint32_t)(uint64_t)v; memcpy(dst + 4 * i, &t, 4); break; }
      case XNND_I8: dst[i] = (uint8_t)(uint64_t)v; break;
      case XNND_U8: dst[i] = (uint8_t)(uint64_t)v; break;
      case XNND_BOOL: dst[i] = v != 0; break;
      default: break;
    }
  }
}

KPREPARE(cat) {
  const kcheck c = {"aten.cat", args, err, err_size};
  cat_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, UINT32_MAX, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* ref = NULL;
  char what[32];
  for (uint32_t i = 0; i < args->num_inputs; i++) {
    snprintf(what, sizeof(what), "tensors[%u]", i);
    if ((s = kcheck_tensor(&c, kinput(&c, i), what, -1, -1)) != XNND_OK) return s;
    if (!ref && !cat_skipped(kinput(&c, i))) ref = kinput(&c, i);
  }
  if (!ref) ref = kinput(&c, 0);
  /* mixed dtypes are promoted as PyTorch does; the output has the promoted dtype */
  xnnd_dtype out_dtype = kinput(&c, 0)->dtype;
  for (uint32_t i = 1; i < args->num_inputs && out_dtype != XNND_DTYPE_COUNT; i++)
    out_dtype = cat_promote(out_dtype, kinput(&c, i)->dtype);
  if (out_dtype == XNND_DTYPE_COUNT)
    return kfail(&c, XNND_DTYPE_MISMATCH, "tensors mix u8 and i8, which promote to i16 (no "
                 "such xnnd dtype)");
  int64_t dim;
  if ((s = kattr_int(&c, "dim", 0, &dim)) != XNND_OK) return s;
  if (ref->rank == 0) return kfail(&c, XNND_SHAPE_MISMATCH, "tensors must have rank >= 1");
  uint32_t d;
  if ((s = kwrap_dim(&c, "dim", dim, ref->rank, &d)) != XNND_OK) return s;
  int64_t want[XNND_MAX_RANK];
  for (uint32_t i = 0; i < ref->rank; i++) want[i] = ref->dims[i];
  want[d] = 0;
  for (uint32_t i = 0; i < args->num_inputs; i++) {
    const xnnd_tensor* t = kinput(&c, i);
    if (t->dtype != out_dtype && (t->dtype == XNND_F16 || out_dtype == XNND_F16))
      return kfail(&c, XNND_DTYPE_MISMATCH, "tensors[%u] has dtype %s, the result %s: mixed "
                   "dtypes with f16 are not supported", i, xnnd_dtype_name(t->dtype),
                   xnnd_dtype_name(out_dtype));
    if (cat_skipped(t) && t != ref) continue;
    bool ok = t->rank == ref->rank;
    for (uint32_t k = 0; ok && k < ref->rank; k++) ok = k == d || t->dims[k] == ref->dims[k];
    if (!ok) {
      char got[160], exp[160];
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "tensors[%u] has shape %s, incompatible with %s outside dim %u", i,
                   kshape_str(got, sizeof(got), t->rank, t->dims),
                   kshape_str(exp, sizeof(exp), ref->rank, ref->dims), d);
    }
    want[d] += t->dims[d];
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)out_dtype, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", ref->rank, want)) != XNND_OK)
    return s;
  p->dim = d;
  p->outer = 1;
  for (uint32_t i = 0; i < d; i++) p->outer *= ref->dims[i];
  p->inner = 1;
  for (uint32_t i = d + 1; i < ref->rank; i++) p->inner *= ref->dims[i];
  return XNND_OK;
}

KRUN(cat) {
  const cat_params* p = params;
  const xnnd_tensor* y = args->outputs[0];
  uint8_t* dst = y->data;
  const size_t es = xnnd_dtype_size(y->dtype);
  const int64_t out_row = y->dims[p->dim] * p->inner; /* elements */
  int64_t col = 0; /* element offset of the current input within an output row */
  for (uint32_t i = 0; i < args->num_inputs; i++) {
    const xnnd_tensor* t = args->inputs[i];
    if (t->rank != y->rank) continue; /* a skipped legacy empty input */
    const int64_t row = t->dims[p->dim] * p->inner;
    if (row == 0) continue;
    const uint8_t* src = t->data;
    const size_t ts = xnnd_dtype_size(t->dtype);
    for (int64_t o = 0; o < p->outer; o++) {
      uint8_t* d = dst + (size_t)(o * out_row + col) * es;
      if (t->dtype == y->dtype)
        memcpy(d, src + (size_t)(o * row) * es, (size_t)row * es);
      else
        cat_convert(src + (size_t)(o * row) * ts, t->dtype, d, y->dtype, row);
    }
    col += row;
  }
  return XNND_OK;
}
