/* aten.upsample_nearest2d and aten.upsample_bilinear2d on f32 NCHW, with PyTorch's CPU
 * index arithmetic in float: the source scale is 1/scales_x when the model gave a scale
 * factor, else in/out (align_corners: (in-1)/(out-1)); nearest takes floor(dst * scale)
 * (exact shortcuts for out == in and out == 2*in, as PyTorch); bilinear takes half-pixel
 * centres clamped at 0 and blends height-outer, width-inner. */
#include <math.h>

#include "kernels/kernel_util.h"

typedef struct resize_params {
  int64_t planes, ih, iw, oh, ow;
  float scale_h, scale_w;
  bool bilinear, align_corners;
} resize_params;
KPARAMS_FIT(resize_params);

static float scales_value(bool has_scale, double scale, int64_t in, int64_t out) {
  return has_scale && scale > 0.0 ? (float)(1.0 / scale) : (float)in / (float)out;
}

static xnnd_status resize_prepare(const kcheck* c, resize_params* p, bool bilinear) {
  xnnd_status s = kcheck_arity(c, 1, 1, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", XNND_F32, 4)) != XNND_OK) return s;
  int64_t size[2];
  if ((s = kattr_spatial(c, "output_size", 2, 0, true, size, NULL)) != XNND_OK) return s;
  bool has_h, has_w, align = false;
  double sh = 0.0, sw = 0.0;
  if ((s = kattr_float_opt(c, "scales_h", &has_h, &sh)) != XNND_OK ||
      (s = kattr_float_opt(c, "scales_w", &has_w, &sw)) != XNND_OK)
    return s;
  if (bilinear && (s = kattr_bool(c, "align_corners", false, &align)) != XNND_OK) return s;
  if ((has_h && !(sh > 0.0 && isfinite(sh))) || (has_w && !(sw > 0.0 && isfinite(sw))))
    return kfail(c, XNND_INVALID_ARGUMENT, "scales must be finite and > 0");
  if (size[0] < 1 || size[1] < 1)
    return kfail(c, XNND_INVALID_ARGUMENT, "output_size [%lld,%lld] must be positive",
                 (long long)size[0], (long long)size[1]);
  if (x->dims[2] < 1 || x->dims[3] < 1)
    return kfail(c, XNND_SHAPE_MISMATCH, "self has an empty spatial dim");
  const int64_t want[4] = {x->dims[0], x->dims[1], size[0], size[1]};
  const xnnd_tensor* y = koutput(c, 0);
  if ((s = kcheck_tensor(c, y, "out", XNND_F32, 4)) != XNND_OK ||
      (s = kcheck_shape(c, y, "out", 4, want)) != XNND_OK)
    return s;
  *p = (resize_params){.planes = x->dims[0] * x->dims[1], .ih = x->dims[2], .iw = x->dims[3],
                       .oh = size[0], .ow = size[1], .bilinear = bilinear,
                       .align_corners = align};
  if (bilinear && align) {
    p->scale_h = p->oh > 1 ? (float)(p->ih - 1) / (float)(p->oh - 1) : 0.0f;
    p->scale_w = p->ow > 1 ? (float)(p->iw - 1) / (float)(p->ow - 1) : 0.0f;
  } else {
    p->scale_h = scales_value(has_h, sh, p->ih, p->oh);
    p->scale_w = scales_value(has_w, sw, p->iw, p->ow);
  }
  return XNND_OK;
}

KPREPARE(upsample_nearest2d) {
  const kcheck c = {"aten.upsample_nearest2d", args, err, err_size};
  return resize_prepare(&c, params, false);
}

KPREPARE(upsample_bilinear2d) {
  const kcheck c = {"aten.upsample_bilinear2d", args, err, err_size};
  return resize_prepare(&c, params, true);
}

static int64_t nearest_index(int64_t dst, int64_t in, int64_t out, float scale) {
  if (out == in) return dst;
  if (out == 2 * in) return dst >> 1;
  const int64_t src = (int64_t)floorf((float)dst * scale);
  return src < in - 1 ? src : in - 1;
}

/* Source index, neighbour offset (0 or 1) and weight of the second tap. */
static void linear_taps(int64_t dst, int64_t in, float scale, bool align, int64_t* i0,
                        int64_t* step, float* w1) {
  float real = align ? scale * (float)dst : scale * ((float)dst + 0.5f) - 0.5f;
  if (real < 0.0f) real = 0.0f;
  int64_t i = (int64_t)real;
  if (i > in - 1) i = in - 1;
  *i0 = i;
  *step = i < in - 1 ? 1 : 0;
  float l = real - (float)i;
  *w1 = l < 0.0f ? 0.0f : l > 1.0f ? 1.0f : l;
}

KRUN(resize) {
  const resize_params* p = params;
  const float* x = args->inputs[0]->data;
  float* y = args->outputs[0]->data;
  const int64_t IH = p->ih, IW = p->iw, OH = p->oh, OW = p->ow;
  for (int64_t pl = 0; pl < p->planes; pl++) {
    const float* xp = x + pl * IH * IW;
    float* yp = y + pl * OH * OW;
    for (int64_t oy = 0; oy < OH; oy++) {
      if (!p->bilinear) {
        const float* row = xp + nearest_index(oy, IH, OH, p->scale_h) * IW;
        for (int64_t ox = 0; ox < OW; ox++)
          yp[oy * OW + ox] = row[nearest_index(ox, IW, OW, p->scale_w)];
        continue;
      }
      int64_t y0, ys;
      float hw1;
      linear_taps(oy, IH, p->scale_h, p->align_corners, &y0, &ys, &hw1);
      const float hw0 = 1.0f - hw1;
      const float* r0 = xp + y0 * IW;
      const float* r1 = r0 + ys * IW;
      for (int64_t ox = 0; ox < OW; ox++) {
        int64_t x0, xs;
        float ww1;
        linear_taps(ox, IW, p->scale_w, p->align_corners, &x0, &xs, &ww1);
        const float ww0 = 1.0f - ww1;
        const float top = r0[x0] * ww0 + r0[x0 + xs] * ww1;
        const float bottom = r1[x0] * ww0 + r1[x0 + xs] * ww1;
        yp[oy * OW + ox] = top * hw0 + bottom * hw1;
      }
    }
  }
  return XNND_OK;
}
