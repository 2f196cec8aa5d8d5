/* aten.convolution: direct NCHW convolution, regular and transposed, grouped and dilated,
 * 1-D (N,C,W), 2-D (N,C,H,W) or 3-D (N,C,D,H,W), with no scratch memory. 1-D and 2-D are 3-D
 * with D = KD = 1; a 3-D convolution is a sum of 2-D ones over the depth taps. The regular
 * path is the --no-delegate reference for whole models, so its innermost loop runs along an
 * output row (contiguous input at stride 1) for up to four output channels at once, which the
 * compiler vectorizes. */
#if defined(__GNUC__) && !defined(__clang__)
/* Keep the reference usable in Debug builds: this loop nest is most of a model's runtime. */
#pragma GCC optimize("O3")
#endif

#include <string.h>

#include "kernels/kernel_util.h"

typedef struct conv_params {
  int64_t n, c, d, h, w; /* input, 1-D as d = h = 1, 2-D as d = 1 */
  int64_t oc, od, oh, ow; /* output */
  int64_t kd, kh, kw;
  int64_t sd, sh, sw, pd, ph, pw, dd, dh, dw;
  int64_t groups, cin_g, cout_g; /* channels per group */
  bool transposed, has_bias;
} conv_params;
KPARAMS_FIT(conv_params);

KPREPARE(convolution) {
  const kcheck c = {"aten.convolution", args, err, err_size};
  conv_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  const xnnd_tensor* w = kinput(&c, 1);
  const xnnd_tensor* b = kinput(&c, 2);
  const xnnd_tensor* y = koutput(&c, 0);
  if ((s = kcheck_tensor(&c, x, "input", XNND_F32, -1)) != XNND_OK) return s;
  if (x->rank < 3 || x->rank > 5)
    return kfail(&c, XNND_SHAPE_MISMATCH,
                 "input has rank %u, expected 3 (N,C,W), 4 (N,C,H,W) or 5 (N,C,D,H,W)", x->rank);
  const uint32_t nsp = x->rank - 2;
  if ((s = kcheck_tensor(&c, w, "weight", XNND_F32, (int)x->rank)) != XNND_OK) return s;
  if (b && (s = kcheck_tensor(&c, b, "bias", XNND_F32, 1)) != XNND_OK) return s;

  int64_t stride[3], padding[3], dilation[3], opad[3], groups;
  bool transposed;
  if ((s = kattr_spatial(&c, "stride", nsp, 1, false, stride, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "padding", nsp, 0, false, padding, NULL)) != XNND_OK ||
      (s = kattr_spatial(&c, "dilation", nsp, 1, false, dilation, NULL)) != XNND_OK ||
      (s = kattr_bool(&c, "transposed", false, &transposed)) != XNND_OK ||
      (s = kattr_spatial(&c, "output_padding", nsp, 0, false, opad, NULL)) != XNND_OK ||
      (s = kattr_int(&c, "groups", 1, &groups)) != XNND_OK)
    return s;
  for (uint32_t i = 0; i < nsp; i++) {
    if (stride[i] < 1)
      return kfail(&c, XNND_INVALID_ARGUMENT, "stride must be positive, got %lld",
                   (long long)stride[i]);
    if (dilation[i] < 1)
      return kfail(&c, XNND_INVALID_ARGUMENT, "dilation must be positive, got %lld",
                   (long long)dilation[i]);
    if (padding[i] < 0)
      return kfail(&c, XNND_INVALID_ARGUMENT, "padding must be non-negative, got %lld",
                   (long long)padding[i]);
    if (transposed && (opad[i] < 0 || (opad[i] >= stride[i] && opad[i] >= dilation[i])))
      return kfail(&c, XNND_INVALID_ARGUMENT,
                   "output_padding %lld must be non-negative and smaller than stride %lld or "
                   "dilation %lld",
                   (long long)opad[i], (long long)stride[i], (long long)dilation[i]);
  }
  if (groups < 1 || groups > (1 << 30))
    return kfail(&c, XNND_INVALID_ARGUMENT, "groups must be positive, got %lld",
                 (long long)groups);

  const int64_t C = x->dims[1];
  int64_t cin_g, cout_g;
  if (C % groups != 0)
    return kfail(&c, XNND_SHAPE_MISMATCH, "input has %lld channels, not divisible by groups=%lld",
                 (long long)C, (long long)groups);
  if (!transposed) {
    cin_g = w->dims[1];
    if (cin_g * groups != C)
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "weight has %lld input channels per group, input has %lld channels and "
                   "groups=%lld",
                   (long long)cin_g, (long long)C, (long long)groups);
    if (w->dims[0] % groups != 0)
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "weight has %lld output channels, not divisible by groups=%lld",
                   (long long)w->dims[0], (long long)groups);
    cout_g = w->dims[0] / groups;
  } else {
    if (w->dims[0] != C)
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "weight has %lld input channels (transposed: weight is [in, out/groups, k...]), "
                   "input has %lld channels",
                   (long long)w->dims[0], (long long)C);
    cin_g = C / groups;
    cout_g = w->dims[1];
  }
  const int64_t OC = cout_g * groups;

  /* Normalize to 3-D: missing leading spatial dims are 1 with kernel 1, stride 1, no padding. */
  int64_t in_sp[3], k_sp[3], st[3], pd[3], dl[3], op[3];
  const uint32_t lead = 3 - nsp;
  for (uint32_t i = 0; i < 3; i++) {
    const bool real = i >= lead;
    in_sp[i] = real ? x->dims[2 + i - lead] : 1;
    k_sp[i] = real ? w->dims[2 + i - lead] : 1;
    st[i] = real ? stride[i - lead] : 1;
    pd[i] = real ? padding[i - lead] : 0;
    dl[i] = real ? dilation[i - lead] : 1;
    op[i] = real ? opad[i - lead] : 0;
  }
  int64_t out_sp[3];
  for (int i = 0; i < 3; i++) {
    if (k_sp[i] < 1)
      return kfail(&c, XNND_SHAPE_MISMATCH, "weight has empty kernel dim %d", 2 + i);
    const int64_t span = dl[i] * (k_sp[i] - 1) + 1; /* dilated kernel extent */
    if (!transposed) {
      const int64_t padded = in_sp[i] + 2 * pd[i];
      if (padded < span)
        return kfail(&c, XNND_SHAPE_MISMATCH,
                     "input spatial dim %d is %lld (%lld padded), smaller than the dilated "
                     "kernel %lld",
                     2 + i - (int)lead, (long long)in_sp[i], (long long)padded,
                     (long long)span);
      out_sp[i] = (padded - span) / st[i] + 1;
    } else {
      out_sp[i] = (in_sp[i] - 1) * st[i] - 2 * pd[i] + span + op[i];
      if (out_sp[i] < 1)
        return kfail(&c, XNND_SHAPE_MISMATCH,
                     "transposed output spatial dim %d would be %lld (input %lld)",
                     2 + i - (int)lead, (long long)out_sp[i], (long long)in_sp[i]);
    }
  }
  if (b && b->dims[0] != OC)
    return kfail(&c, XNND_SHAPE_MISMATCH, "bias has %lld entries, expected %lld (output channels)",
                 (long long)b->dims[0], (long long)OC);

  int64_t want[5] = {x->dims[0], OC};
  for (uint32_t i = 0; i < nsp; i++) want[2 + i] = out_sp[lead + i];
  if ((s = kcheck_tensor(&c, y, "out", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(&c, y, "out", x->rank, want)) != XNND_OK)
    return s;

  *p = (conv_params){
      .n = x->dims[0], .c = C, .d = in_sp[0], .h = in_sp[1], .w = in_sp[2],
      .oc = OC, .od = out_sp[0], .oh = out_sp[1], .ow = out_sp[2],
      .kd = k_sp[0], .kh = k_sp[1], .kw = k_sp[2],
      .sd = st[0], .sh = st[1], .sw = st[2], .pd = pd[0], .ph = pd[1], .pw = pd[2],
      .dd = dl[0], .dh = dl[1], .dw = dl[2],
      .groups = groups, .cin_g = cin_g, .cout_g = cout_g,
      .transposed = transposed, .has_bias = b != NULL,
  };
  /* A 1x1(x1), stride-1, unpadded convolution sees each volume as one long row. */
  if (!transposed && p->kd == 1 && p->kh == 1 && p->kw == 1 && p->sd == 1 && p->sh == 1 &&
      p->sw == 1 && p->pd == 0 && p->ph == 0 && p->pw == 0) {
    p->w = p->d * p->h * p->w;
    p->ow = p->od * p->oh * p->ow;
    p->d = p->od = p->h = p->oh = 1;
  }
  return XNND_OK;
}

static void fill_planes(const conv_params* p, const float* bias, float* y) {
  const int64_t plane = p->od * p->oh * p->ow;
  for (int64_t n = 0; n < p->n; n++)
    for (int64_t oc = 0; oc < p->oc; oc++) {
      float* o = y + (n * p->oc + oc) * plane;
      const float v = bias ? bias[oc] : 0.0f;
      for (int64_t i = 0; i < plane; i++) o[i] = v;
    }
}

static void axpy1(int64_t n, float a, const float* restrict x, int64_t sx, float* restrict y) {
  if (sx == 1) {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i];
  } else {
    for (int64_t i = 0; i < n; i++) y[i] += a * x[i * sx];
  }
}

static void axpy4(int64_t n, const float* a, const float* restrict x, int64_t sx,
                  float* restrict y0, float* restrict y1, float* restrict y2,
                  float* restrict y3) {
  const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  if (sx == 1) {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i];
      y0[i] += a0 * v;
      y1[i] += a1 * v;
      y2[i] += a2 * v;
      y3[i] += a3 * v;
    }
  } else {
    for (int64_t i = 0; i < n; i++) {
      const float v = x[i * sx];
      y0[i] += a0 * v;
      y1[i] += a1 * v;
      y2[i] += a2 * v;
      y3[i] += a3 * v;
    }
  }
}

/* Output columns [lo, hi) whose tap kx reads a column inside [0, in_w). */
static void tap_range(const conv_params* p, int64_t kx, int64_t* lo, int64_t* hi) {
  const int64_t off = kx * p->dw - p->pw; /* input column of output column 0 */
  if (p->sw == 1) {
    *lo = kmax64(0, -off);
    *hi = kmin64(p->ow, p->w - off);
  } else {
    *lo = kmax64(0, kceil_div(-off, p->sw));
    *hi = kmin64(p->ow, kfloor_div(p->w - 1 - off, p->sw) + 1);
  }
}

static void conv_forward(const conv_params* p, const float* x, const float* w, float* y) {
  const int64_t D = p->d, H = p->h, W = p->w, OD = p->od, OH = p->oh, OW = p->ow;
  const int64_t KD = p->kd, KH = p->kh, KW = p->kw;
  const int64_t plane = OH * OW, vol = OD * plane, kplane = KH * KW, ksize = KD * kplane;
  for (int64_t n = 0; n < p->n; n++) {
    for (int64_t g = 0; g < p->groups; g++) {
      for (int64_t ocb = 0; ocb < p->cout_g; ocb += 4) {
        const int64_t nb = kmin64(4, p->cout_g - ocb);
        const int64_t oc0 = g * p->cout_g + ocb;
        float* o[4];
        for (int64_t j = 0; j < 4; j++) o[j] = y + (n * p->oc + oc0 + (j < nb ? j : 0)) * vol;
        for (int64_t ic = 0; ic < p->cin_g; ic++) {
          const float* xin = x + (n * p->c + g * p->cin_g + ic) * D * H * W;
          const int64_t wstep = p->cin_g * ksize; /* next output channel, same ic */
          for (int64_t oz = 0; oz < OD; oz++) {
            for (int64_t kz = 0; kz < KD; kz++) {
              const int64_t iz = oz * p->sd - p->pd + kz * p->dd;
              if (iz < 0 || iz >= D) continue;
              const float* xpl = xin + iz * H * W;
              const float* wk = w + (oc0 * p->cin_g + ic) * ksize + kz * kplane;
              for (int64_t oy = 0; oy < OH; oy++) {
                float* orow[4];
                for (int64_t j = 0; j < 4; j++) orow[j] = o[j] + oz * plane + oy * OW;
                for (int64_t ky = 0; ky < KH; ky++) {
                  const int64_t iy = oy * p->sh - p->ph + ky * p->dh;
                  if (iy < 0 || iy >= H) continue;
                  for (int64_t kx = 0; kx < KW; kx++) {
                    int64_t lo, hi;
                    tap_range(p, kx, &lo, &hi);
                    if (lo >= hi) continue;
                    const float* src = xpl + iy * W + lo * p->sw + kx * p->dw - p->pw;
                    const int64_t t = ky * KW + kx;
                    if (nb == 4) {
                      const float a[4] = {wk[t], wk[wstep + t], wk[2 * wstep + t],
                                          wk[3 * wstep + t]};
                      axpy4(hi - lo, a, src, p->sw, orow[0] + lo, orow[1] + lo, orow[2] + lo,
                            orow[3] + lo);
                    } else {
                      for (int64_t j = 0; j < nb; j++)
                        axpy1(hi - lo, wk[j * wstep + t], src, p->sw, orow[j] + lo);
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

/* Transposed: every input pixel scatters its kernel-weighted value into the output. */
static void conv_transposed(const conv_params* p, const float* x, const float* w, float* y) {
  const int64_t D = p->d, H = p->h, W = p->w, OD = p->od, OH = p->oh, OW = p->ow;
  const int64_t KD = p->kd, KH = p->kh, KW = p->kw;
  const int64_t plane = OH * OW, kplane = KH * KW, ksize = KD * kplane;
  for (int64_t n = 0; n < p->n; n++) {
    for (int64_t g = 0; g < p->groups; g++) {
      for (int64_t icl = 0; icl < p->cin_g; icl++) {
        const int64_t ic = g * p->cin_g + icl;
        const float* xin = x + (n * p->c + ic) * D * H * W;
        for (int64_t ocl = 0; ocl < p->cout_g; ocl++) {
          float* o = y + (n * p->oc + g * p->cout_g + ocl) * OD * plane;
          const float* wk = w + (ic * p->cout_g + ocl) * ksize;
          for (int64_t iz = 0; iz < D; iz++) {
            for (int64_t kz = 0; kz < KD; kz++) {
              const int64_t oz = iz * p->sd - p->pd + kz * p->dd;
              if (oz < 0 || oz >= OD) continue;
              for (int64_t iy = 0; iy < H; iy++) {
                for (int64_t ky = 0; ky < KH; ky++) {
                  const int64_t oy = iy * p->sh - p->ph + ky * p->dh;
                  if (oy < 0 || oy >= OH) continue;
                  for (int64_t kx = 0; kx < KW; kx++) {
                    const int64_t off = kx * p->dw - p->pw; /* output column of input column 0 */
                    const int64_t lo = kmax64(0, kceil_div(-off, p->sw));
                    const int64_t hi = kmin64(W, kfloor_div(OW - 1 - off, p->sw) + 1);
                    const float a = wk[kz * kplane + ky * KW + kx];
                    const float* src = xin + (iz * H + iy) * W;
                    float* dst = o + oz * plane + oy * OW;
                    for (int64_t ix = lo; ix < hi; ix++) dst[off + ix * p->sw] += a * src[ix];
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}

KRUN(convolution) {
  const conv_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* w = args->inputs[1]->data;
  const float* b = p->has_bias ? args->inputs[2]->data : NULL;
  float* y = args->outputs[0]->data;
  fill_planes(p, b, y);
  if (p->transposed)
    conv_transposed(p, x, w, y);
  else
    conv_forward(p, x, w, y);
  return XNND_OK;
}
