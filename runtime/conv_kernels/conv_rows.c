/* See conv_rows.h. */
#include "conv_rows.h"

#define L2_BUDGET ((size_t)256 << 10)

void xnnd_panel_groups_init(xnnd_panel_groups* g, size_t panels, size_t panel_bytes) {
  g->panels = panels;
  g->per_group = panel_bytes >= L2_BUDGET ? 1 : L2_BUDGET / panel_bytes;
  if (g->per_group > panels) g->per_group = panels;
  if (g->per_group == 0) g->per_group = 1;
  g->groups = (panels + g->per_group - 1) / g->per_group;
}

void xnnd_conv_rows_init(xnnd_conv_rows* r, const xnnd_f32_conv_shape* s, size_t elem_bytes) {
  r->taps = (size_t)s->kernel_h * s->kernel_w;
  r->rows = (size_t)s->batch * s->out_h * s->out_w;
  r->in_h = s->in_h, r->in_w = s->in_w, r->out_h = s->out_h, r->out_w = s->out_w;
  r->stride_h = s->stride_h, r->stride_w = s->stride_w, r->pad_top = s->pad_top, r->pad_left = s->pad_left;
  r->pixel_bytes = (size_t)s->cin * elem_bytes;
  r->pointwise = r->taps == 1 && s->stride_h == 1 && s->stride_w == 1 && s->pad_top == 0 && s->pad_left == 0 &&
                 s->in_h == s->out_h && s->in_w == s->out_w;
  for (size_t t = 0; t < r->taps; t++) {
    r->tap_dy[t] = (uint32_t)(t / s->kernel_w) * s->dilation_h;
    r->tap_dx[t] = (uint32_t)(t % s->kernel_w) * s->dilation_w;
  }
}

void xnnd_conv_rows_block(const xnnd_conv_rows* r, const void* input, const void* zero, size_t m0, size_t mr,
                          size_t mr_max, const void** a) {
  const uint8_t* in = input;
  if (r->pointwise) {
    for (size_t i = 0; i < mr_max; i++) a[i] = in + (m0 + (i < mr ? i : mr - 1)) * r->pixel_bytes;
    return;
  }
  size_t plane = r->out_h * r->out_w;
  size_t n = m0 / plane, oy = (m0 % plane) / r->out_w, ox = m0 % r->out_w;
  for (size_t i = 0; i < mr_max; i++) {
    if (i < mr && i > 0 && ++ox == r->out_w) {
      ox = 0;
      if (++oy == r->out_h) {
        oy = 0;
        n++;
      }
    }
    const uint8_t* image = in + n * r->in_h * r->in_w * r->pixel_bytes;
    /* Unsigned wrap-around makes a position in the top/left padding huge, so one compare
     * per axis tests both sides. */
    size_t y0 = oy * r->stride_h - r->pad_top, x0 = ox * r->stride_w - r->pad_left;
    for (size_t t = 0; t < r->taps; t++) {
      size_t iy = y0 + r->tap_dy[t], ix = x0 + r->tap_dx[t];
      a[t * mr_max + i] = iy < r->in_h && ix < r->in_w ? image + (iy * r->in_w + ix) * r->pixel_bytes : zero;
    }
  }
}
