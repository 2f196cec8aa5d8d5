/* Spatial ops of the core ATen coverage over contiguous f32: 3-D pooling
 * (aten.avg_pool3d, aten.max_pool3d_with_indices), adaptive pooling (aten.adaptive_avg_pool3d,
 * aten.adaptive_max_pool2d/3d), aten.grid_sampler_2d/3d, aten.col2im and the upsample ops
 * beyond upsample_nearest2d/bilinear2d. Windows, divisors, index conventions (flat index
 * inside one channel's volume) and sampling arithmetic follow PyTorch's CPU kernels. Pooling works on 3 spatial dims; 2-D ops get a leading spatial dim of 1. */
#include <math.h>

#include "kernels/kernel_util.h"

typedef struct window_params {
  int64_t planes; /* N*C */
  int64_t in[3], out[3], k[3], s[3], p[3], d[3];
  int64_t divisor; /* avg: divisor_override, 0 when absent */
  bool count_include_pad;
} window_params;
KPARAMS_FIT(window_params);

/* Input x (f32, rank nsp+1 or nsp+2): planes and spatial dims into p (leading dims 1). */
static xnnd_status spatial_input(const kcheck* c, uint32_t nsp, window_params* p) {
  const xnnd_tensor* x = kinput(c, 0);
  xnnd_status s = kcheck_tensor(c, x, "self", XNND_F32, -1);
  if (s != XNND_OK) return s;
  if (x->rank != nsp + 1 && x->rank != nsp + 2)
    return kfail(c, XNND_SHAPE_MISMATCH, "self has rank %u, expected %u or %u", x->rank, nsp + 1,
                 nsp + 2);
  *p = (window_params){.planes = 1};
  for (uint32_t i = 0; i + nsp < x->rank; i++) p->planes *= x->dims[i];
  for (uint32_t i = 0; i < 3; i++) {
    p->in[i] = i + nsp < 3 ? 1 : x->dims[x->rank - 3 + i];
    p->k[i] = p->s[i] = p->d[i] = 1;
  }
  return XNND_OK;
}

/* Outputs: values (f32) and, when num_outputs is 2, indices (i64), of x's leading dims plus
 * p->out. */
static xnnd_status spatial_outputs(const kcheck* c, uint32_t nsp, const window_params* p,
                                   uint32_t num_outputs) {
  const xnnd_tensor* x = kinput(c, 0);
  int64_t want[5];
  for (uint32_t i = 0; i < x->rank; i++)
    want[i] = i + nsp < x->rank ? x->dims[i] : p->out[3 - x->rank + i];
  const xnnd_tensor* y = koutput(c, 0);
  xnnd_status s;
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", x->rank, want)) != XNND_OK)
    return s;
  if (num_outputs == 2) {
    const xnnd_tensor* ind = koutput(c, 1);
    if ((s = kcheck_tensor(c, ind, "indices", XNND_I64, -1)) != XNND_OK ||
        (s = kcheck_shape(c, ind, "indices", x->rank, want)) != XNND_OK)
      return s;
  }
  return XNND_OK;
}

/* kernel_size/stride/padding[/dilation]/ceil_mode windows over 3 spatial dims. */
static xnnd_status pool3d_prepare(const kcheck* c, window_params* p, bool has_dilation,
                                  uint32_t num_outputs) {
  xnnd_status s = kcheck_arity(c, 1, 1, num_outputs);
  if (s != XNND_OK || (s = spatial_input(c, 3, p)) != XNND_OK) return s;
  int64_t k[3], st[3], pd[3], dl[3] = {1, 1, 1};
  bool ceil_mode, stride_empty;
  if ((s = kattr_spatial(c, "kernel_size", 3, 0, true, k, NULL)) != XNND_OK ||
      (s = kattr_spatial(c, "stride", 3, 0, false, st, &stride_empty)) != XNND_OK ||
      (s = kattr_spatial(c, "padding", 3, 0, false, pd, NULL)) != XNND_OK ||
      (has_dilation && (s = kattr_spatial(c, "dilation", 3, 1, false, dl, NULL)) != XNND_OK) ||
      (s = kattr_bool(c, "ceil_mode", false, &ceil_mode)) != XNND_OK)
    return s;
  const xnnd_kattr* sa = xnnd_kattr_get(c->args, "stride");
  const bool stride_is_kernel = stride_empty || !sa || sa->kind == 0;
  for (int i = 0; i < 3; i++) {
    if (stride_is_kernel) st[i] = k[i];
    if (k[i] < 1 || st[i] < 1 || dl[i] < 1)
      return kfail(c, XNND_INVALID_ARGUMENT,
                   "kernel_size %lld, stride %lld and dilation %lld must be positive",
                   (long long)k[i], (long long)st[i], (long long)dl[i]);
    if (pd[i] < 0 || pd[i] > k[i] / 2)
      return kfail(c, XNND_INVALID_ARGUMENT,
                   "padding %lld must be between 0 and half the kernel size %lld",
                   (long long)pd[i], (long long)k[i]);
    p->k[i] = k[i];
    p->s[i] = st[i];
    p->p[i] = pd[i];
    p->d[i] = dl[i];
    p->out[i] = kpool_out_size(p->in[i], k[i], pd[i], st[i], dl[i], ceil_mode);
    if (p->out[i] < 1)
      return kfail(c, XNND_SHAPE_MISMATCH,
                   "spatial dim %d of size %lld is too small for kernel %lld (output would be "
                   "%lld)",
                   i, (long long)p->in[i], (long long)k[i], (long long)p->out[i]);
  }
  return spatial_outputs(c, 3, p, num_outputs);
}

KPREPARE(avg_pool3d) {
  const kcheck c = {"aten.avg_pool3d", args, err, err_size};
  window_params* p = params;
  xnnd_status s = pool3d_prepare(&c, p, false, 1);
  if (s != XNND_OK) return s;
  return kattr_avg_pool(&c, &p->count_include_pad, &p->divisor);
}

KRUN(avg_pool3d) {
  const window_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
  float* o = y;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * D * H * W;
    for (int64_t oz = 0; oz < p->out[0]; oz++)
      for (int64_t oy = 0; oy < p->out[1]; oy++)
        for (int64_t ox = 0; ox < p->out[2]; ox++) {
          const int64_t oo[3] = {oz, oy, ox};
          int64_t lo[3], hi[3], pool_size = 1, count = 1;
          for (int i = 0; i < 3; i++) {
            lo[i] = oo[i] * p->s[i] - p->p[i];
            hi[i] = kmin64(lo[i] + p->k[i], p->in[i] + p->p[i]);
            pool_size *= hi[i] - lo[i];
            lo[i] = kmax64(lo[i], 0);
            hi[i] = kmin64(hi[i], p->in[i]);
            count *= kmax64(hi[i] - lo[i], 0);
          }
          float sum = 0.0f;
          for (int64_t iz = lo[0]; iz < hi[0]; iz++)
            for (int64_t iy = lo[1]; iy < hi[1]; iy++)
              for (int64_t ix = lo[2]; ix < hi[2]; ix++) sum += xp[(iz * H + iy) * W + ix];
          const int64_t div = p->divisor ? p->divisor : p->count_include_pad ? pool_size : count;
          *o++ = count == 0 ? 0.0f : sum / (float)div;
        }
  }
  return XNND_OK;
}

KPREPARE(max_pool3d_with_indices) {
  const kcheck c = {"aten.max_pool3d_with_indices", args, err, err_size};
  return pool3d_prepare(&c, params, true, 2);
}

KRUN(max_pool3d_with_indices) {
  const window_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  int64_t* ind = args->outputs[1]->data;
  const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
  int64_t o = 0;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * D * H * W;
    for (int64_t oz = 0; oz < p->out[0]; oz++)
      for (int64_t oy = 0; oy < p->out[1]; oy++)
        for (int64_t ox = 0; ox < p->out[2]; ox++, o++) {
          const int64_t oo[3] = {oz, oy, ox};
          int64_t lo[3], hi[3];
          for (int i = 0; i < 3; i++) {
            lo[i] = oo[i] * p->s[i] - p->p[i];
            hi[i] = kmin64(lo[i] + (p->k[i] - 1) * p->d[i] + 1, p->in[i]);
            while (lo[i] < 0) lo[i] += p->d[i];
          }
          /* First maximum wins; NaN wins over everything (PyTorch). */
          int64_t best_i = (lo[0] * H + lo[1]) * W + lo[2];
          float best = -INFINITY;
          for (int64_t iz = lo[0]; iz < hi[0]; iz += p->d[0])
            for (int64_t iy = lo[1]; iy < hi[1]; iy += p->d[1])
              for (int64_t ix = lo[2]; ix < hi[2]; ix += p->d[2]) {
                const int64_t i = (iz * H + iy) * W + ix;
                const float v = xp[i];
                if (v > best || isnan(v)) {
                  best = v;
                  best_i = i;
                }
              }
          y[o] = best;
          ind[o] = best_i;
        }
  }
  return XNND_OK;
}

/* ---- adaptive pooling: window [floor(o*in/out), ceil((o+1)*in/out)) per dim ---- */

static xnnd_status adaptive_prepare(const kcheck* c, uint32_t nsp, window_params* p,
                                    uint32_t num_outputs) {
  xnnd_status s = kcheck_arity(c, 1, 1, num_outputs);
  if (s != XNND_OK || (s = spatial_input(c, nsp, p)) != XNND_OK) return s;
  int64_t size[3];
  if ((s = kattr_spatial(c, "output_size", nsp, 0, true, size, NULL)) != XNND_OK) return s;
  for (uint32_t i = 0; i < 3; i++) {
    const int64_t o = i + nsp < 3 ? 1 : size[i + nsp - 3];
    if (o < 0)
      return kfail(c, XNND_INVALID_ARGUMENT, "output_size entry %lld is negative", (long long)o);
    if (p->in[i] < 1)
      return kfail(c, XNND_SHAPE_MISMATCH, "self has an empty spatial dim");
    p->out[i] = o;
  }
  return spatial_outputs(c, nsp, p, num_outputs);
}

static void adaptive_window(const window_params* p, const int64_t* oo, int64_t* lo,
                            int64_t* hi) {
  for (int i = 0; i < 3; i++) {
    lo[i] = oo[i] * p->in[i] / p->out[i];
    hi[i] = ((oo[i] + 1) * p->in[i] + p->out[i] - 1) / p->out[i];
  }
}

KPREPARE(adaptive_avg_pool3d) {
  const kcheck c = {"aten.adaptive_avg_pool3d", args, err, err_size};
  return adaptive_prepare(&c, 3, params, 1);
}

KRUN(adaptive_avg_pool3d) {
  const window_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * D * H * W;
    for (int64_t oz = 0; oz < p->out[0]; oz++)
      for (int64_t oy = 0; oy < p->out[1]; oy++)
        for (int64_t ox = 0; ox < p->out[2]; ox++) {
          const int64_t oo[3] = {oz, oy, ox};
          int64_t lo[3], hi[3];
          adaptive_window(p, oo, lo, hi);
          float sum = 0.0f;
          for (int64_t iz = lo[0]; iz < hi[0]; iz++)
            for (int64_t iy = lo[1]; iy < hi[1]; iy++)
              for (int64_t ix = lo[2]; ix < hi[2]; ix++) sum += xp[(iz * H + iy) * W + ix];
          *y++ = sum / (float)((hi[0] - lo[0]) * (hi[1] - lo[1]) * (hi[2] - lo[2]));
        }
  }
  return XNND_OK;
}

KPREPARE(adaptive_max_pool2d) {
  const kcheck c = {"aten.adaptive_max_pool2d", args, err, err_size};
  return adaptive_prepare(&c, 2, params, 2);
}

KPREPARE(adaptive_max_pool3d) {
  const kcheck c = {"aten.adaptive_max_pool3d", args, err, err_size};
  return adaptive_prepare(&c, 3, params, 2);
}

KRUN(adaptive_max_pool) {
  const window_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  int64_t* ind = args->outputs[1]->data;
  const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
  int64_t o = 0;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * D * H * W;
    for (int64_t oz = 0; oz < p->out[0]; oz++)
      for (int64_t oy = 0; oy < p->out[1]; oy++)
        for (int64_t ox = 0; ox < p->out[2]; ox++, o++) {
          const int64_t oo[3] = {oz, oy, ox};
          int64_t lo[3], hi[3];
          adaptive_window(p, oo, lo, hi);
          int64_t best_i = (lo[0] * H + lo[1]) * W + lo[2];
          float best = -INFINITY;
          for (int64_t iz = lo[0]; iz < hi[0]; iz++)
            for (int64_t iy = lo[1]; iy < hi[1]; iy++)
              for (int64_t ix = lo[2]; ix < hi[2]; ix++) {
                const int64_t i = (iz * H + iy) * W + ix;
                if (xp[i] > best || isnan(xp[i])) {
                  best = xp[i];
                  best_i = i;
                }
              }
          y[o] = best;
          ind[o] = best_i;
        }
  }
  return XNND_OK;
}

/* ---- grid_sampler_2d: PyTorch's GridSampler.h arithmetic ---- */

typedef struct grid_params {
  int64_t n, c, h, w, oh, ow;
  int mode;    /* 0 bilinear, 1 nearest, 2 bicubic */
  int padding; /* 0 zeros, 1 border, 2 reflection */
  bool align_corners;
} grid_params;
KPARAMS_FIT(grid_params);

/* What both grid samplers check: input [N,C,spatial...] and grid [N,out spatial...,nsp] of
 * rank nsp + 2, the three attributes (interpolation_mode below max_mode + 1, described by
 * mode_names), non-empty input spatial dims, and out [N,C,out spatial...]. */
static xnnd_status grid_check(const kcheck* c, uint32_t nsp, int64_t max_mode, const char* mode_names,
                              const char* grid_shape, int64_t* mode, int64_t* pad, bool* align) {
  const uint32_t rank = nsp + 2;
  xnnd_status s = kcheck_arity(c, 2, 2, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  const xnnd_tensor* grid = kinput(c, 1);
  if ((s = kcheck_tensor(c, x, "input", XNND_F32, (int)rank)) != XNND_OK ||
      (s = kcheck_tensor(c, grid, "grid", XNND_F32, (int)rank)) != XNND_OK)
    return s;
  if (grid->dims[0] != x->dims[0] || grid->dims[rank - 1] != (int64_t)nsp)
    return kfail(c, XNND_SHAPE_MISMATCH, "grid must be [%lld, %s]", (long long)x->dims[0], grid_shape);
  if ((s = kattr_int(c, "interpolation_mode", 0, mode)) != XNND_OK ||
      (s = kattr_int(c, "padding_mode", 0, pad)) != XNND_OK ||
      (s = kattr_bool(c, "align_corners", false, align)) != XNND_OK)
    return s;
  if (*mode < 0 || *mode > max_mode)
    return kfail(c, XNND_INVALID_ARGUMENT, "interpolation_mode %lld must be %s", (long long)*mode,
                 mode_names);
  if (*pad < 0 || *pad > 2)
    return kfail(c, XNND_INVALID_ARGUMENT,
                 "padding_mode %lld must be 0 (zeros), 1 (border) or 2 (reflection)",
                 (long long)*pad);
  int64_t want[XNND_MAX_RANK] = {x->dims[0], x->dims[1]};
  for (uint32_t d = 0; d < nsp; d++) {
    if (x->dims[2 + d] < 1) return kfail(c, XNND_SHAPE_MISMATCH, "input has empty spatial dims");
    want[2 + d] = grid->dims[1 + d];
  }
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", rank, want)) != XNND_OK)
    return s;
  return XNND_OK;
}

KPREPARE(grid_sampler_2d) {
  const kcheck c = {"aten.grid_sampler_2d", args, err, err_size};
  int64_t mode, pad;
  bool align;
  xnnd_status s = grid_check(&c, 2, 2, "0 (bilinear), 1 (nearest) or 2 (bicubic)", "H_out, W_out, 2",
                             &mode, &pad, &align);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  const xnnd_tensor* grid = kinput(&c, 1);
  *(grid_params*)params = (grid_params){.n = x->dims[0], .c = x->dims[1], .h = x->dims[2], .w = x->dims[3],
                                        .oh = grid->dims[1], .ow = grid->dims[2], .mode = (int)mode,
                                        .padding = (int)pad, .align_corners = align};
  return XNND_OK;
}

static float gs_unnormalize(float coord, int64_t size, bool align) {
  return align ? ((coord + 1.0f) / 2.0f) * (float)(size - 1)
               : ((coord + 1.0f) * (float)size - 1.0f) / 2.0f;
}

static float gs_clip(float coord, int64_t size) {
  return fminf((float)(size - 1), fmaxf(coord, 0.0f));
}

/* Reflects coord into [twice_low/2, twice_high/2]. */
static float gs_reflect(float in, int64_t twice_low, int64_t twice_high) {
  if (twice_low == twice_high) return 0.0f;
  const float min = (float)twice_low / 2.0f, span = (float)(twice_high - twice_low) / 2.0f;
  in = fabsf(in - min);
  const float extra = fmodf(in, span);
  const int flips = (int)floorf(in / span);
  return flips % 2 == 0 ? extra + min : span - extra + min;
}

static float gs_coordinates(float coord, int64_t size, int padding, bool align) {
  if (padding == 1) return gs_clip(coord, size);
  if (padding == 2) {
    coord = align ? gs_reflect(coord, 0, 2 * (size - 1)) : gs_reflect(coord, -1, 2 * size - 1);
    return gs_clip(coord, size);
  }
  return coord;
}

static float gs_at(const float* plane, int64_t h, int64_t w, int64_t iy, int64_t ix) {
  return (iy >= 0 && iy < h && ix >= 0 && ix < w) ? plane[iy * w + ix] : 0.0f;
}

static float gs_cubic1(float x, float a) { return ((a + 2) * x - (a + 3)) * x * x + 1; }
static float gs_cubic2(float x, float a) { return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a; }

static void gs_cubic_coeffs(float t, float* c) {
  const float a = -0.75f;
  c[0] = gs_cubic2(t + 1.0f, a);
  c[1] = gs_cubic1(t, a);
  c[2] = gs_cubic1(1.0f - t, a);
  c[3] = gs_cubic2(2.0f - t, a);
}

static float gs_bounded(const float* plane, const grid_params* p, float x, float y) {
  const float cx = gs_coordinates(x, p->w, p->padding, p->align_corners);
  const float cy = gs_coordinates(y, p->h, p->padding, p->align_corners);
  /* Far outside (or NaN) under zeros padding: no tap, and no out-of-range int conversion. */
  if (!(fabsf(cx) < 0x1p40f) || !(fabsf(cy) < 0x1p40f)) return 0.0f;
  return gs_at(plane, p->h, p->w, (int64_t)cy, (int64_t)cx);
}

static float gs_sample(const float* plane, const grid_params* p, float gx, float gy) {
  if (p->mode == 2) { /* bicubic: unnormalized coords, padding per tap */
    const float ix = gs_unnormalize(gx, p->w, p->align_corners);
    const float iy = gs_unnormalize(gy, p->h, p->align_corners);
    const float x0 = floorf(ix), y0 = floorf(iy);
    float cx[4], cy[4], rows[4];
    gs_cubic_coeffs(ix - x0, cx);
    gs_cubic_coeffs(iy - y0, cy);
    for (int i = 0; i < 4; i++) {
      rows[i] = 0.0f;
      for (int j = 0; j < 4; j++)
        rows[i] += cx[j] * gs_bounded(plane, p, x0 - 1 + (float)j, y0 - 1 + (float)i);
    }
    return cy[0] * rows[0] + cy[1] * rows[1] + cy[2] * rows[2] + cy[3] * rows[3];
  }
  const float ix = gs_coordinates(gs_unnormalize(gx, p->w, p->align_corners), p->w, p->padding,
                                  p->align_corners);
  const float iy = gs_coordinates(gs_unnormalize(gy, p->h, p->align_corners), p->h, p->padding,
                                  p->align_corners);
  if (p->mode == 1) {
    if (!(fabsf(ix) < 0x1p40f) || !(fabsf(iy) < 0x1p40f)) return 0.0f; /* NaN or far out */
    return gs_at(plane, p->h, p->w, (int64_t)nearbyintf(iy), (int64_t)nearbyintf(ix));
  }
  if (!(fabsf(ix) < 0x1p40f) || !(fabsf(iy) < 0x1p40f)) return 0.0f;
  const float fx = floorf(ix), fy = floorf(iy);
  const int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
  const float tx = ix - fx, ty = iy - fy;
  return gs_at(plane, p->h, p->w, y0, x0) * (1.0f - tx) * (1.0f - ty) +
         gs_at(plane, p->h, p->w, y0, x0 + 1) * tx * (1.0f - ty) +
         gs_at(plane, p->h, p->w, y0 + 1, x0) * (1.0f - tx) * ty +
         gs_at(plane, p->h, p->w, y0 + 1, x0 + 1) * tx * ty;
}

KRUN(grid_sampler_2d) {
  const grid_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* grid = args->inputs[1]->data;
  float* y = args->outputs[0]->data;
  const int64_t opl = p->oh * p->ow;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t ch = 0; ch < p->c; ch++) {
      const float* plane = x + (n * p->c + ch) * p->h * p->w;
      const float* g = grid + n * opl * 2;
      float* o = y + (n * p->c + ch) * opl;
      for (int64_t i = 0; i < opl; i++) o[i] = gs_sample(plane, p, g[2 * i], g[2 * i + 1]);
    }
  return XNND_OK;
}

/* ---- grid_sampler_3d: trilinear (0) or nearest (1) over [N,C,D,H,W], grid [...,3] = x,y,z ---- */

typedef struct grid3_params {
  int64_t n, c, d, h, w, od, oh, ow;
  int mode, padding;
  bool align_corners;
} grid3_params;
KPARAMS_FIT(grid3_params);

KPREPARE(grid_sampler_3d) {
  const kcheck c = {"aten.grid_sampler_3d", args, err, err_size};
  int64_t mode, pad;
  bool align;
  xnnd_status s = grid_check(&c, 3, 1, "0 (trilinear) or 1 (nearest)", "D_out, H_out, W_out, 3", &mode,
                             &pad, &align);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  const xnnd_tensor* grid = kinput(&c, 1);
  *(grid3_params*)params = (grid3_params){.n = x->dims[0], .c = x->dims[1], .d = x->dims[2], .h = x->dims[3],
                                          .w = x->dims[4], .od = grid->dims[1], .oh = grid->dims[2],
                                          .ow = grid->dims[3], .mode = (int)mode, .padding = (int)pad,
                                          .align_corners = align};
  return XNND_OK;
}

static float gs3_at(const float* vol, const grid3_params* p, int64_t iz, int64_t iy,
                    int64_t ix) {
  return (iz >= 0 && iz < p->d && iy >= 0 && iy < p->h && ix >= 0 && ix < p->w)
             ? vol[(iz * p->h + iy) * p->w + ix]
             : 0.0f;
}

static float gs3_sample(const float* vol, const grid3_params* p, const float* g) {
  const int64_t size[3] = {p->w, p->h, p->d};
  float co[3];
  for (int i = 0; i < 3; i++) {
    co[i] = gs_coordinates(gs_unnormalize(g[i], size[i], p->align_corners), size[i],
                           p->padding, p->align_corners);
    if (!(fabsf(co[i]) < 0x1p40f)) return 0.0f; /* NaN or far out */
  }
  if (p->mode == 1)
    return gs3_at(vol, p, (int64_t)nearbyintf(co[2]), (int64_t)nearbyintf(co[1]),
                  (int64_t)nearbyintf(co[0]));
  const float fx = floorf(co[0]), fy = floorf(co[1]), fz = floorf(co[2]);
  const int64_t x0 = (int64_t)fx, y0 = (int64_t)fy, z0 = (int64_t)fz;
  const float tx = co[0] - fx, ty = co[1] - fy, tz = co[2] - fz;
  float acc = 0.0f;
  for (int dz = 0; dz < 2; dz++)
    for (int dy = 0; dy < 2; dy++)
      for (int dx = 0; dx < 2; dx++) {
        const float wgt = (dx ? tx : 1.0f - tx) * (dy ? ty : 1.0f - ty) * (dz ? tz : 1.0f - tz);
        acc += gs3_at(vol, p, z0 + dz, y0 + dy, x0 + dx) * wgt;
      }
  return acc;
}

KRUN(grid_sampler_3d) {
  const grid3_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* grid = args->inputs[1]->data;
  float* y = args->outputs[0]->data;
  const int64_t ovol = p->od * p->oh * p->ow, ivol = p->d * p->h * p->w;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t ch = 0; ch < p->c; ch++) {
      const float* vol = x + (n * p->c + ch) * ivol;
      const float* g = grid + n * ovol * 3;
      float* o = y + (n * p->c + ch) * ovol;
      for (int64_t i = 0; i < ovol; i++) o[i] = gs3_sample(vol, p, g + 3 * i);
    }
  return XNND_OK;
}

/* ---- col2im (torch.nn.functional.fold): sums each column into its kernel window ---- */

typedef struct col2im_params {
  int64_t n, c, oh, ow, kh, kw, dh, dw, ph, pw, sh, sw, bh, bw;
} col2im_params;
KPARAMS_FIT(col2im_params);

KPREPARE(col2im) {
  const kcheck c = {"aten.col2im", args, err, err_size};
  col2im_params* p = params;
  xnnd_status s = kcheck_arity(&c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "self", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank != 2 && x->rank != 3)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, expected 2 (C*kH*kW, L) or 3",
                 x->rank);
  int64_t os[2], k[2], d[2], pd[2], st[2], blocks[2];
  if ((s = kattr_spatial(&c, "output_size", 2, 0, true, os, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "kernel_size", 2, 0, true, k, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "dilation", 2, 1, false, d, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "padding", 2, 0, false, pd, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "stride", 2, 1, false, st, NULL)) != XNND_OK)
    return s;
  for (int i = 0; i < 2; i++) {
    if (os[i] < 1 || k[i] < 1 || d[i] < 1 || st[i] < 1 || pd[i] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT,
                   "output_size, kernel_size, dilation and stride must be positive and padding "
                   "non-negative");
    const int64_t span = d[i] * (k[i] - 1) + 1;
    if (os[i] + 2 * pd[i] < span)
      return kfail(&c, XNND_SHAPE_MISMATCH, "output_size %lld is too small for the kernel",
                   (long long)os[i]);
    blocks[i] = (os[i] + 2 * pd[i] - span) / st[i] + 1;
  }
  const uint32_t r = x->rank;
  const int64_t kk = k[0] * k[1];
  if (x->dims[r - 2] % kk != 0 || x->dims[r - 1] != blocks[0] * blocks[1])
    return kfail(&c, XNND_SHAPE_MISMATCH,
                 "self is [..., %lld, %lld], expected [..., C*%lld, %lld] (kernel %lldx%lld, "
                 "%lldx%lld blocks)",
                 (long long)x->dims[r - 2], (long long)x->dims[r - 1], (long long)kk,
                 (long long)(blocks[0] * blocks[1]), (long long)k[0], (long long)k[1],
                 (long long)blocks[0], (long long)blocks[1]);
  const int64_t C = x->dims[r - 2] / kk, N = r == 3 ? x->dims[0] : 1;
  int64_t want[4];
  uint32_t o = 0;
  if (r == 3) want[o++] = N;
  want[o++] = C;
  want[o++] = os[0];
  want[o++] = os[1];
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", o, want)) != XNND_OK)
    return s;
  *p = (col2im_params){.n = N, .c = C, .oh = os[0], .ow = os[1], .kh = k[0], .kw = k[1],
                       .dh = d[0], .dw = d[1], .ph = pd[0], .pw = pd[1], .sh = st[0],
                       .sw = st[1], .bh = blocks[0], .bw = blocks[1]};
  return XNND_OK;
}

KRUN(col2im) {
  const col2im_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t plane = p->oh * p->ow, L = p->bh * p->bw;
  for (int64_t i = 0; i < p->n * p->c * plane; i++) y[i] = 0.0f;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t ch = 0; ch < p->c; ch++) {
      float* o = y + (n * p->c + ch) * plane;
      for (int64_t ki = 0; ki < p->kh; ki++)
        for (int64_t kj = 0; kj < p->kw; kj++) {
          const float* col = x + ((n * p->c + ch) * p->kh * p->kw + ki * p->kw + kj) * L;
          for (int64_t by = 0; by < p->bh; by++) {
            const int64_t oy = by * p->sh - p->ph + ki * p->dh;
            if (oy < 0 || oy >= p->oh) continue;
            for (int64_t bx = 0; bx < p->bw; bx++) {
              const int64_t ox = bx * p->sw - p->pw + kj * p->dw;
              if (ox >= 0 && ox < p->ow) o[oy * p->ow + ox] += col[by * p->bw + bx];
            }
          }
        }
    }
  return XNND_OK;
}

/* ---- upsample_nearest1d/3d, _upsample_nearest_exact1d/2d/3d, upsample_linear1d,
 * upsample_trilinear3d, upsample_bicubic2d: PyTorch's UpSample.h index and weight rules,
 * separable over up to 3 spatial dims (missing leading dims are 1 -> 1, one tap). ---- */

enum { UP_NEAREST, UP_NEAREST_EXACT, UP_LINEAR, UP_CUBIC };

typedef struct upsample_params {
  int64_t planes;
  int64_t in[3], out[3];
  float scale[3]; /* nearest: compute_scales_value; linear/cubic: area_pixel_compute_scale */
  int mode;
  bool align_corners;
} upsample_params;
KPARAMS_FIT(upsample_params);

static xnnd_status upsample_prepare(const kcheck* c, upsample_params* p, uint32_t nsp, int mode) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", XNND_F32, (int)nsp + 2)) != XNND_OK) return s;
  int64_t size[3];
  bool align, has_scale[3];
  double scales[3];
  static const char* const names[3] = {"scales_d", "scales_h", "scales_w"};
  if ((s = kattr_spatial(c, "output_size", nsp, 0, true, size, NULL)) != XNND_OK ||
      (s = kattr_bool(c, "align_corners", false, &align)) != XNND_OK)
    return s;
  for (int i = 0; i < 3; i++)
    if ((s = kattr_float_opt(c, names[i], &has_scale[i], &scales[i])) != XNND_OK) return s;
  *p = (upsample_params){.planes = x->dims[0] * x->dims[1], .mode = mode,
                         .align_corners = align};
  int64_t want[5] = {x->dims[0], x->dims[1]};
  for (uint32_t i = 0; i < 3; i++) {
    const bool real = i + nsp >= 3;
    const int64_t in = real ? x->dims[2 + i + nsp - 3] : 1;
    const int64_t out = real ? size[i + nsp - 3] : 1;
    if (in < 1 || out < 1)
      return kfail(c, XNND_SHAPE_MISMATCH, "input and output spatial sizes must be positive, "
                   "got %lld -> %lld", (long long)in, (long long)out);
    if (real) want[2 + i + nsp - 3] = out;
    p->in[i] = in;
    p->out[i] = out;
    const bool given = real && has_scale[i] && scales[i] > 0.0;
    const float value_scale = given ? (float)(1.0 / scales[i]) : (float)in / (float)out;
    /* Source indices are value_scale * output index: keep them far inside int64. */
    if (!((double)value_scale * (double)out < 0x1p50))
      return kfail(c, XNND_INVALID_ARGUMENT, "%s = %g is too small for output size %lld",
                   names[i], scales[i], (long long)out);
    if (mode == UP_NEAREST || mode == UP_NEAREST_EXACT || !align)
      p->scale[i] = value_scale;
    else
      p->scale[i] = out > 1 ? (float)(in - 1) / (float)(out - 1) : 0.0f;
  }
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", nsp + 2, want)) != XNND_OK)
    return s;
  return XNND_OK;
}

#define UPSAMPLE_PREPARE(name, nsp, mode)                          \
  KPREPARE(name) {                                                 \
    const kcheck c = {"aten." #name, args, err, err_size};        \
    return upsample_prepare(&c, params, nsp, mode);                \
  }
UPSAMPLE_PREPARE(upsample_nearest1d, 1, UP_NEAREST)
UPSAMPLE_PREPARE(upsample_nearest3d, 3, UP_NEAREST)
UPSAMPLE_PREPARE(upsample_linear1d, 1, UP_LINEAR)
UPSAMPLE_PREPARE(upsample_trilinear3d, 3, UP_LINEAR)
UPSAMPLE_PREPARE(upsample_bicubic2d, 2, UP_CUBIC)
#undef UPSAMPLE_PREPARE
#define UPSAMPLE_EXACT_PREPARE(n)                                              \
  KPREPARE(upsample_nearest_exact##n##d) {                                     \
    const kcheck c = {"aten._upsample_nearest_exact" #n "d", args, err, err_size}; \
    return upsample_prepare(&c, params, n, UP_NEAREST_EXACT);                  \
  }
UPSAMPLE_EXACT_PREPARE(1)
UPSAMPLE_EXACT_PREPARE(2)
UPSAMPLE_EXACT_PREPARE(3)
#undef UPSAMPLE_EXACT_PREPARE

/* Source taps of output index o along dim i: up to 4 clamped indices and weights. */
static int upsample_taps(const upsample_params* p, int i, int64_t o, int64_t* idx, float* w) {
  const int64_t in = p->in[i], out = p->out[i];
  const float scale = p->scale[i];
  if (in == 1 && out == 1) {
    idx[0] = 0;
    w[0] = 1.0f;
    return 1;
  }
  switch (p->mode) {
    case UP_NEAREST:
      idx[0] = out == in ? o
               : out == 2 * in ? o >> 1
                               : kmin64((int64_t)floorf((float)o * scale), in - 1);
      w[0] = 1.0f;
      return 1;
    case UP_NEAREST_EXACT:
      idx[0] = kmin64((int64_t)floorf(((float)o + 0.5f) * scale), in - 1);
      w[0] = 1.0f;
      return 1;
    case UP_LINEAR: {
      float src = p->align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
      if (src < 0.0f) src = 0.0f;
      const int64_t i0 = kmin64((int64_t)floorf(src), in - 1);
      const float l = fminf(fmaxf(src - (float)i0, 0.0f), 1.0f);
      idx[0] = i0;
      idx[1] = i0 + (i0 < in - 1 ? 1 : 0);
      w[0] = 1.0f - l;
      w[1] = l;
      return 2;
    }
    default: {
      const float src = p->align_corners ? scale * (float)o : scale * ((float)o + 0.5f) - 0.5f;
      const float f = floorf(src);
      const int64_t i0 = (int64_t)f;
      gs_cubic_coeffs(src - f, w);
      for (int k = 0; k < 4; k++) idx[k] = kmin64(kmax64(i0 - 1 + k, 0), in - 1);
      return 4;
    }
  }
}

KRUN(upsample_nd) {
  const upsample_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t D = p->in[0], H = p->in[1], W = p->in[2];
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * D * H * W;
    for (int64_t oz = 0; oz < p->out[0]; oz++) {
      int64_t iz[4], iy[4], ix[4];
      float wz[4], wy[4], wx[4];
      const int nz = upsample_taps(p, 0, oz, iz, wz);
      for (int64_t oy = 0; oy < p->out[1]; oy++) {
        const int ny = upsample_taps(p, 1, oy, iy, wy);
        for (int64_t ox = 0; ox < p->out[2]; ox++) {
          const int nx = upsample_taps(p, 2, ox, ix, wx);
          float acc = 0.0f;
          for (int a = 0; a < nz; a++) {
            float acc_y = 0.0f;
            for (int b = 0; b < ny; b++) {
              const float* row = xp + (iz[a] * H + iy[b]) * W;
              float acc_x = 0.0f;
              for (int k = 0; k < nx; k++) acc_x += wx[k] * row[ix[k]];
              acc_y += wy[b] * acc_x;
            }
            acc += wz[a] * acc_y;
          }
          *y++ = acc;
        }
      }
    }
  }
  return XNND_OK;
}
