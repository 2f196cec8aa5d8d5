/* Layout ops that map output indices to input indices: aten.repeat (tile the input; each tile
 * is written once and then copied) and reflection/replication padding (mirror or clamp the
 * index along each padded dim). Any dtype: elements are moved by size. */
#include <string.h>

#include "kernels/kernel_util.h"

typedef struct repeat_params {
  uint32_t rank; /* of the output; self is viewed with leading 1s to this rank */
  uint32_t elem;
  int64_t in_dims[XNND_MAX_RANK];
  int64_t reps[XNND_MAX_RANK];
} repeat_params;
KPARAMS_FIT(repeat_params);

KPREPARE(repeat) {
  const kcheck c = {"aten.repeat", args, err, err_size};
  repeat_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", -1, -1)) != XNND_OK) return s;
  int64_t reps[XNND_MAX_RANK];
  uint32_t n;
  if ((s = kattr_ints(&c, "repeats", NULL, 0, XNND_MAX_RANK, reps, &n)) != XNND_OK) return s;
  if (n < x->rank)
    return kfail(&c, XNND_INVALID_ARGUMENT, "repeats has %u entries, fewer than self's rank %u", n,
                 x->rank);
  *p = (repeat_params){.rank = n, .elem = (uint32_t)xnnd_dtype_size(x->dtype)};
  int64_t out[XNND_MAX_RANK];
  const int64_t lim = (int64_t)1 << 40;
  for (uint32_t i = 0; i < n; i++) {
    p->in_dims[i] = i < n - x->rank ? 1 : x->dims[i - (n - x->rank)];
    if (reps[i] < 0 || reps[i] > lim || (p->in_dims[i] > 0 && reps[i] > lim / p->in_dims[i]))
      return kfail(&c, XNND_INVALID_ARGUMENT, "repeats[%u] = %lld is negative or too large", i,
                   (long long)reps[i]);
    p->reps[i] = reps[i];
    out[i] = p->in_dims[i] * reps[i];
  }
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(&c, y, "out", n, out);
}

/* Fills the output block of dims k.. at y (output strides ostride) from the input block at x:
 * first the input's extent along dim k, each sub-block recursively, then that filled slab
 * copied reps[k] - 1 more times (the slab is contiguous because dims after k are whole). Depth
 * at most XNND_MAX_RANK. */
static void repeat_fill(const repeat_params* p, uint32_t k, const uint8_t* x, uint8_t* y,
                        const int64_t* istride, const int64_t* ostride) {
  const size_t es = p->elem;
  const int64_t n = p->in_dims[k];
  if (k + 1 == p->rank) {
    memcpy(y, x, (size_t)n * es);
  } else {
    for (int64_t i = 0; i < n; i++)
      repeat_fill(p, k + 1, x + (size_t)(i * istride[k]) * es, y + (size_t)(i * ostride[k]) * es,
                  istride, ostride);
  }
  const size_t slab = (size_t)(n * ostride[k]) * es;
  for (int64_t r = 1; r < p->reps[k]; r++) memcpy(y + (size_t)r * slab, y, slab);
}

KRUN(repeat) {
  const repeat_params* p = params;
  const uint8_t* x = args->inputs[0]->data;
  uint8_t* y = args->outputs[0]->data;
  if (p->rank == 0) {
    memcpy(y, x, p->elem);
    return XNND_OK;
  }
  int64_t istride[XNND_MAX_RANK], ostride[XNND_MAX_RANK], ki = 1, ko = 1;
  for (uint32_t d = p->rank; d-- > 0;) {
    istride[d] = ki;
    ostride[d] = ko;
    ki *= p->in_dims[d];
    ko *= p->in_dims[d] * p->reps[d];
  }
  if (ko == 0) return XNND_OK;
  repeat_fill(p, 0, x, y, istride, ostride);
  return XNND_OK;
}

/* ---- reflection_pad{1,2,3}d, replication_pad{1,2,3}d ---- */
typedef struct edge_pad_params {
  uint32_t rank;
  uint32_t elem;
  bool reflect;
  int64_t lo[XNND_MAX_RANK]; /* before-padding per dim (0 for dims not padded; may be < 0) */
} edge_pad_params;
KPARAMS_FIT(edge_pad_params);

static xnnd_status edge_pad_prepare(const kcheck* c, edge_pad_params* p, uint32_t k,
                                    bool reflect) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", -1, -1)) != XNND_OK) return s;
  if (x->rank < k)
    return kfail(c, XNND_SHAPE_MISMATCH, "self has rank %u, expected at least %u", x->rank, k);
  int64_t pad[6];
  uint32_t n;
  if ((s = kattr_ints(c, "padding", NULL, 0, 6, pad, &n)) != XNND_OK) return s;
  if (n != 2 * k)
    return kfail(c, XNND_INVALID_ARGUMENT, "padding has %u entries, expected %u", n, 2 * k);
  *p = (edge_pad_params){.rank = x->rank, .elem = (uint32_t)xnnd_dtype_size(x->dtype),
                         .reflect = reflect};
  int64_t out[XNND_MAX_RANK];
  for (uint32_t d = 0; d < x->rank; d++) out[d] = x->dims[d];
  const int64_t lim = (int64_t)1 << 40;
  for (uint32_t i = 0; i < k; i++) {
    const uint32_t d = x->rank - 1 - i;
    const int64_t lo = pad[2 * i], hi = pad[2 * i + 1], size = x->dims[d];
    if (lo < -lim || lo > lim || hi < -lim || hi > lim)
      return kfail(c, XNND_INVALID_ARGUMENT, "padding for dim %u is out of range", d);
    if (size == 0)
      return kfail(c, XNND_SHAPE_MISMATCH, "self has size 0 in padded dim %u", d);
    if (reflect && (lo >= size || hi >= size))
      return kfail(c, XNND_INVALID_ARGUMENT,
                   "padding (%lld, %lld) must be less than the size %lld of dim %u",
                   (long long)lo, (long long)hi, (long long)size, d);
    out[d] = size + lo + hi;
    if (out[d] < 1 || (reflect && (lo < -size || hi < -size)))
      return kfail(c, XNND_INVALID_ARGUMENT, "padding (%lld, %lld) leaves dim %u empty",
                   (long long)lo, (long long)hi, d);
    p->lo[d] = lo;
  }
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", (int)x->dtype, -1)) != XNND_OK) return s;
  return kcheck_shape(c, y, "out", x->rank, out);
}

#define EDGE_PAD_PREPARE(name, k, reflect)                        \
  KPREPARE(name) {                                                \
    const kcheck c = {"aten." #name, args, err, err_size};        \
    return edge_pad_prepare(&c, params, (k), (reflect));          \
  }
EDGE_PAD_PREPARE(reflection_pad1d, 1, true)
EDGE_PAD_PREPARE(reflection_pad2d, 2, true)
EDGE_PAD_PREPARE(reflection_pad3d, 3, true)
EDGE_PAD_PREPARE(replication_pad1d, 1, false)
EDGE_PAD_PREPARE(replication_pad2d, 2, false)
EDGE_PAD_PREPARE(replication_pad3d, 3, false)

/* Input index of output index o along a dim of size n padded by lo before: mirrored about the
 * edge element (reflection; |pad| < n, so one reflection suffices) or clamped (replication). */
static inline int64_t edge_index(int64_t o, int64_t lo, int64_t n, bool reflect) {
  int64_t i = o - lo;
  if (reflect) {
    if (i < 0) i = -i;
    if (i >= n) i = 2 * (n - 1) - i;
    return i;
  }
  return i < 0 ? 0 : i >= n ? n - 1 : i;
}

KRUN(edge_pad) {
  const edge_pad_params* p = params;
  const xnnd_tensor* xt = args->inputs[0];
  const xnnd_tensor* yt = args->outputs[0];
  const uint8_t* x = xt->data;
  uint8_t* y = yt->data;
  const uint32_t r = p->rank; /* >= 1 */
  const size_t es = p->elem;
  int64_t is[XNND_MAX_RANK], k = 1;
  for (uint32_t d = r; d-- > 0;) {
    is[d] = k;
    k *= xt->dims[d];
  }
  int64_t outer = 1;
  for (uint32_t d = 0; d + 1 < r; d++) outer *= yt->dims[d];
  const int64_t n = xt->dims[r - 1], w = yt->dims[r - 1], lo = p->lo[r - 1];
  if (outer == 0 || w == 0) return XNND_OK;
  /* output columns [c0, c1) read input columns [c0 - lo, c1 - lo) in order: one memcpy */
  const int64_t c0 = kmax64(0, lo), c1 = kmin64(w, lo + n);
  int64_t idx[XNND_MAX_RANK] = {0};
  for (int64_t o = 0; o < outer; o++) {
    int64_t src = 0;
    for (uint32_t d = 0; d + 1 < r; d++)
      src += edge_index(idx[d], p->lo[d], xt->dims[d], p->reflect) * is[d];
    const uint8_t* row = x + (size_t)src * es;
    uint8_t* dst = y + (size_t)(o * w) * es;
    for (int64_t j = 0; j < c0 && j < w; j++)
      memcpy(dst + (size_t)j * es, row + (size_t)edge_index(j, lo, n, p->reflect) * es, es);
    if (c1 > c0) memcpy(dst + (size_t)c0 * es, row + (size_t)(c0 - lo) * es, (size_t)(c1 - c0) * es);
    for (int64_t j = kmax64(c0, c1); j < w; j++)
      memcpy(dst + (size_t)j * es, row + (size_t)edge_index(j, lo, n, p->reflect) * es, es);
    for (uint32_t d = r - 1; d-- > 0;) {
      if (++idx[d] < yt->dims[d]) break;
      idx[d] = 0;
    }
  }
  return XNND_OK;
}
