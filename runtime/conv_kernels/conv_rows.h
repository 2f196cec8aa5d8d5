/* What xnnd's own convolutions (f32_conv.c, qs8_conv.c) share. A convolution is a GEMM whose
 * rows are output pixels: for each kernel tap a row reads the input pixel under it, or a zero
 * row in the padding. Its columns are output channels in packed filter panels, which tasks
 * take in groups that fit in L2. */
#ifndef XNND_RUNTIME_CONV_KERNELS_CONV_ROWS_H
#define XNND_RUNTIME_CONV_KERNELS_CONV_ROWS_H

#include <stddef.h>
#include <stdint.h>

#include "f32_conv.h"

typedef struct xnnd_conv_rows {
  size_t taps, rows;  /* rows = batch * out_h * out_w */
  size_t in_h, in_w, out_h, out_w, stride_h, stride_w, pad_top, pad_left;
  size_t pixel_bytes; /* cin * element size */
  /* 1x1, stride 1, no padding: rows are consecutive input pixels */
  int pointwise;
  uint32_t tap_dy[XNND_F32_CONV_MAX_TAPS], tap_dx[XNND_F32_CONV_MAX_TAPS];  /* dilated tap offsets */
} xnnd_conv_rows;

/* Packed filter panels in groups: a task runs one pixel block against one group, whose panels
 * together fit in half of L2 (at least one panel per group). */
typedef struct xnnd_panel_groups {
  size_t panels, per_group, groups;
} xnnd_panel_groups;

void xnnd_panel_groups_init(xnnd_panel_groups* g, size_t panels, size_t panel_bytes);
/* Panels [*begin, *end) of group `group`. */
static inline void xnnd_panel_group_range(const xnnd_panel_groups* g, size_t group, size_t* begin, size_t* end) {
  *begin = group * g->per_group;
  *end = *begin + g->per_group < g->panels ? *begin + g->per_group : g->panels;
}

/* shape must be supported (taps <= XNND_F32_CONV_MAX_TAPS). */
void xnnd_conv_rows_init(xnnd_conv_rows* r, const xnnd_f32_conv_shape* shape, size_t elem_bytes);
/* a[t * mr_max + i] for taps t and rows i < mr_max of the block starting at row m0 with mr
 * valid rows (rows past mr repeat row mr - 1). */
void xnnd_conv_rows_block(const xnnd_conv_rows* r, const void* input, const void* zero, size_t m0, size_t mr,
                          size_t mr_max, const void** a);

#endif
