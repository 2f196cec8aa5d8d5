/* xnnd's f32 convolution (see f32_conv.h), two algorithms:
 * - Direct, as a GEMM over kernel taps. Rows are output pixels, columns output channels in
 *   panels of 16; the filter is packed per panel as 16 bias floats then [tap][cin][16]. A task
 *   computes one 6-pixel block against a group of panels that fits in L2: it points each row
 *   at the input pixel under every tap (or at a zero row in the padding) once, then calls the
 *   microkernel per panel.
 * - Winograd F(4x4, 3x3) for 3x3 stride-1 convolutions with enough 4x4 output tiles: each
 *   tile's 6x6 input patch is transformed (B^T d B) into 36 rows, 36 independent GEMMs against
 *   the transformed filters (G g G^T, computed in double at create) multiply 4x fewer terms
 *   than the direct form, and each tile's 36 results become its 4x4 outputs (A^T m A) plus
 *   bias, clamped. Its f32 error is about ten times the direct form's (tests allow 1e-5 of
 *   the output's magnitude). */
#include "f32_conv.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "conv_rows.h"
#include "parallel.h"
#include "alloc.h"

#if XNND_F32_CONV_X86
static pthread_once_t g_cpu_once = PTHREAD_ONCE_INIT;
static bool g_cpu_ok;

static void detect_cpu(void) {
  __builtin_cpu_init();
  g_cpu_ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

bool xnnd_f32_conv_cpu_ok(void) {
#if XNND_F32_CONV_X86
  /* Once per process: delegates are created from several threads at once. */
  pthread_once(&g_cpu_once, detect_cpu);
  return g_cpu_ok;
#else
  return false;
#endif
}

#if XNND_F32_CONV_X86

#define MR 6
#define NR 16

/* Winograd F(4x4, 3x3) pays off for 3x3 stride-1 convolutions with at least this many 4x4
 * output tiles; with fewer, the 4x larger transformed filter makes it memory-bound. */
#define WINO_MIN_TILES 16

struct xnnd_f32_conv {
  xnnd_f32_conv_shape s;
  size_t taps, rows, row_blocks, panels, panel_floats;
  /* Winograd: tiles_h x tiles_w tiles per image; rows of the 36 GEMMs are tiles; v and m
   * (in the caller's scratch) hold the transformed input [36][tiles][cin] and the GEMM
   * results [36][tiles][cout];
   * packed holds 36 packed filters of taps = 1. */
  bool winograd;
  size_t tiles_h, tiles_w, tiles;
  float* bias;    /* cout floats (zeros when the node has none) */
  xnnd_panel_groups groups;
  xnnd_conv_rows geometry;
  float* packed;
  float* zero;    /* cin zeros */
};

bool xnnd_f32_conv_supported(const xnnd_f32_conv_shape* s) {
  if (!xnnd_f32_conv_cpu_ok()) return false;
  if (s->batch == 0 || s->in_h == 0 || s->in_w == 0 || s->cin == 0 || s->out_h == 0 || s->out_w == 0 ||
      s->cout == 0 || s->kernel_h == 0 || s->kernel_w == 0 || s->stride_h == 0 || s->stride_w == 0 ||
      s->dilation_h == 0 || s->dilation_w == 0)
    return false;
  return (uint64_t)s->kernel_h * s->kernel_w <= XNND_F32_CONV_MAX_TAPS;
}

/* U = G g G^T per (output, input) channel pair in double, G rows [1/4 0 0]
 * [-1/6 -1/6 -1/6] [-1/6 1/6 -1/6] [1/24 1/12 1/6] [1/24 -1/12 1/6] [0 0 1]; U[k] packed
 * like a 1x1 filter (zero bias: the output transform adds it). */
static void pack_winograd(xnnd_f32_conv* c, const float* filter) {
  static const double G[6][3] = {{0.25, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                 {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
  const xnnd_f32_conv_shape* s = &c->s;
  for (size_t o = 0; o < s->cout; o++)
    for (size_t i = 0; i < s->cin; i++) {
      double g[3][3], t[6][3];
      for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) g[y][x] = filter[((o * 3 + (size_t)y) * 3 + (size_t)x) * s->cin + i];
      for (int r = 0; r < 6; r++)
        for (int x = 0; x < 3; x++) t[r][x] = G[r][0] * g[0][x] + G[r][1] * g[1][x] + G[r][2] * g[2][x];
      for (int r = 0; r < 6; r++)
        for (int q = 0; q < 6; q++) {
          double u = t[r][0] * G[q][0] + t[r][1] * G[q][1] + t[r][2] * G[q][2];
          size_t k = (size_t)r * 6 + (size_t)q, panel = o / NR;
          float* w = c->packed + (k * c->panels + panel) * c->panel_floats;
          w[NR + i * NR + o % NR] = (float)u;
        }
    }
}

xnnd_status xnnd_f32_conv_create(const xnnd_f32_conv_shape* s, const float* filter, const float* bias,
                                 const xnnd_allocator* allocator, xnnd_f32_conv** conv_out) {
  *conv_out = NULL;
  if (!xnnd_f32_conv_supported(s)) return XNND_INVALID_ARGUMENT;
  xnnd_f32_conv* c = xnnd_alloc(allocator, sizeof(*c), 64);
  if (c == NULL) return XNND_OUT_OF_MEMORY;
  memset(c, 0, sizeof(*c));
  c->s = *s;
  c->taps = (size_t)s->kernel_h * s->kernel_w;
  c->tiles_h = ((size_t)s->out_h + 3) / 4;
  c->tiles_w = ((size_t)s->out_w + 3) / 4;
  c->tiles = (size_t)s->batch * c->tiles_h * c->tiles_w;
  c->winograd = s->winograd && s->kernel_h == 3 && s->kernel_w == 3 && s->stride_h == 1 && s->stride_w == 1 &&
                s->dilation_h == 1 && s->dilation_w == 1 && c->tiles >= WINO_MIN_TILES;
  c->rows = c->winograd ? c->tiles : (size_t)s->batch * s->out_h * s->out_w;
  c->row_blocks = (c->rows + MR - 1) / MR;
  c->panels = ((size_t)s->cout + NR - 1) / NR;
  c->panel_floats = NR + (c->winograd ? 1 : c->taps) * s->cin * NR;
  xnnd_conv_rows_init(&c->geometry, s, sizeof(float));
  /* A task computes one pixel block against a group of panels, so the block's row pointers
   * are worked out once per group; the group's packed filter stays within half of L2. */
  xnnd_panel_groups_init(&c->groups, c->panels, c->panel_floats * sizeof(float));
  size_t filters = c->winograd ? 36 : 1;
  c->packed = xnnd_alloc(allocator, filters * c->panels * c->panel_floats * sizeof(float), 64);
  c->zero = xnnd_alloc(allocator, (size_t)s->cin * sizeof(float), 64);
  if (c->packed == NULL || c->zero == NULL) {
    xnnd_f32_conv_destroy(c, allocator);
    return XNND_OUT_OF_MEMORY;
  }
  memset(c->zero, 0, (size_t)s->cin * sizeof(float));
  memset(c->packed, 0, filters * c->panels * c->panel_floats * sizeof(float));
  if (c->winograd) {
    c->bias = xnnd_alloc(allocator, (size_t)s->cout * sizeof(float), 64);
    if (c->bias == NULL) {
      xnnd_f32_conv_destroy(c, allocator);
      return XNND_OUT_OF_MEMORY;
    }
    for (size_t o = 0; o < s->cout; o++) c->bias[o] = bias != NULL ? bias[o] : 0.0f;
    pack_winograd(c, filter);
    *conv_out = c;
    return XNND_OK;
  }
  for (size_t p = 0; p < c->panels; p++) {
    float* w = c->packed + p * c->panel_floats;
    for (size_t j = 0; j < NR && p * NR + j < s->cout; j++) {
      size_t o = p * NR + j;
      w[j] = bias != NULL ? bias[o] : 0.0f;
      for (size_t t = 0; t < c->taps; t++)
        for (size_t k = 0; k < s->cin; k++) w[NR + (t * s->cin + k) * NR + j] = filter[(o * c->taps + t) * s->cin + k];
    }
  }
  *conv_out = c;
  return XNND_OK;
}

void xnnd_f32_conv_destroy(xnnd_f32_conv* c, const xnnd_allocator* allocator) {
  if (c == NULL) return;
  xnnd_free(allocator, c->bias);
  xnnd_free(allocator, c->packed);
  xnnd_free(allocator, c->zero);
  xnnd_free(allocator, c);
}

typedef struct run_ctx {
  const xnnd_f32_conv* c;
  const float* input;
  float* output;
  float* v;  /* Winograd: scratch */
  float* m;
} run_ctx;

size_t xnnd_f32_conv_scratch_size(const xnnd_f32_conv* c) {
  if (!c->winograd) return 0;
  return 36 * c->tiles * ((size_t)c->s.cin + c->s.cout) * sizeof(float) + 64;
}

static void run_block(void* context, size_t group, size_t block) {
  const run_ctx* r = context;
  const xnnd_f32_conv* c = r->c;
  const void* a[XNND_F32_CONV_MAX_TAPS * MR];
  size_t m0 = block * MR, mr = c->rows - m0 < MR ? c->rows - m0 : MR;
  xnnd_conv_rows_block(&c->geometry, r->input, c->zero, m0, mr, MR, a);
  size_t p_begin, p_end;
  xnnd_panel_group_range(&c->groups, group, &p_begin, &p_end);
  for (size_t panel = p_begin; panel < p_end; panel++) {
    size_t n0 = panel * NR, nc = c->s.cout - n0 < NR ? c->s.cout - n0 : NR;
    xnnd_f32_gemm_6x16_avx2(mr, nc, c->taps, c->s.cin, a, c->packed + panel * c->panel_floats,
                            r->output + m0 * c->s.cout + n0, c->s.cout, c->s.min, c->s.max);
  }
}

/* ---- Winograd: input transform, 36 GEMMs, output transform ---- */
static void wino_input(void* context, size_t tile) {
  const run_ctx* r = context;
  const xnnd_f32_conv* c = r->c;
  const xnnd_f32_conv_shape* s = &c->s;
  size_t n = tile / (c->tiles_h * c->tiles_w), t = tile % (c->tiles_h * c->tiles_w);
  size_t y0 = (t / c->tiles_w) * 4 - s->pad_top, x0 = (t % c->tiles_w) * 4 - s->pad_left;
  const float* image = r->input + n * s->in_h * s->in_w * s->cin;
  const float* rows[6];
  for (size_t y = 0; y < 6; y++) rows[y] = y0 + y < s->in_h ? image + (y0 + y) * s->in_w * s->cin : NULL;
  xnnd_f32_wino_input_avx2(rows, s->in_w, s->cin, x0, r->v + tile * s->cin, c->tiles * s->cin);
}

static void wino_gemm(void* context, size_t k_group, size_t block) {
  const run_ctx* r = context;
  const xnnd_f32_conv* c = r->c;
  size_t k = k_group / c->groups.groups, group = k_group % c->groups.groups;
  size_t m0 = block * MR, mr = c->rows - m0 < MR ? c->rows - m0 : MR;
  const void* a[MR];
  const float* vk = r->v + k * c->tiles * c->s.cin;
  for (size_t i = 0; i < MR; i++) a[i] = vk + (m0 + (i < mr ? i : mr - 1)) * c->s.cin;
  float* mk = r->m + k * c->tiles * c->s.cout;
  size_t p_begin, p_end;
  xnnd_panel_group_range(&c->groups, group, &p_begin, &p_end);
  for (size_t panel = p_begin; panel < p_end; panel++) {
    size_t n0 = panel * NR, nc = c->s.cout - n0 < NR ? c->s.cout - n0 : NR;
    xnnd_f32_gemm_6x16_avx2(mr, nc, 1, c->s.cin, a, c->packed + (k * c->panels + panel) * c->panel_floats,
                            mk + m0 * c->s.cout + n0, c->s.cout, -INFINITY, INFINITY);
  }
}

static void wino_output(void* context, size_t tile) {
  const run_ctx* r = context;
  const xnnd_f32_conv* c = r->c;
  const xnnd_f32_conv_shape* s = &c->s;
  size_t n = tile / (c->tiles_h * c->tiles_w), t = tile % (c->tiles_h * c->tiles_w);
  size_t oy = (t / c->tiles_w) * 4, ox = (t % c->tiles_w) * 4;
  size_t rows_n = s->out_h - oy < 4 ? s->out_h - oy : 4, cols_n = s->out_w - ox < 4 ? s->out_w - ox : 4;
  float* rows[4];
  for (size_t y = 0; y < rows_n; y++) rows[y] = r->output + ((n * s->out_h + oy + y) * s->out_w + ox) * s->cout;
  xnnd_f32_wino_output_avx2(r->m + tile * s->cout, c->tiles * s->cout, s->cout, c->bias, s->min, s->max, rows, rows_n,
                            cols_n);
}

void xnnd_f32_conv_run(const xnnd_f32_conv* c, const float* input, float* output, void* scratch,
                       pthreadpool_t pool) {
  run_ctx r = {c, input, output, NULL, NULL};
  if (c->winograd) {
    /* 64-aligned pieces: v then m. */
    r.v = (float*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    r.m = r.v + 36 * c->tiles * c->s.cin;
    xnnd_parallelize_1d(pool, wino_input, &r, c->tiles);
    xnnd_parallelize_2d(pool, wino_gemm, &r, 36 * c->groups.groups, c->row_blocks);
    xnnd_parallelize_1d(pool, wino_output, &r, c->tiles);
    return;
  }
  xnnd_parallelize_2d(pool, run_block, &r, c->groups.groups, c->row_blocks);
}

#else /* !XNND_F32_CONV_X86: the delegate keeps every convolution in XNNPACK. */

bool xnnd_f32_conv_supported(const xnnd_f32_conv_shape* shape) {
  (void)shape;
  return false;
}
xnnd_status xnnd_f32_conv_create(const xnnd_f32_conv_shape* shape, const float* filter, const float* bias,
                                 const xnnd_allocator* allocator, xnnd_f32_conv** conv_out) {
  (void)shape, (void)filter, (void)bias, (void)allocator;
  *conv_out = NULL;
  return XNND_INVALID_ARGUMENT;
}
size_t xnnd_f32_conv_scratch_size(const xnnd_f32_conv* conv) {
  (void)conv;
  return 0;
}
void xnnd_f32_conv_run(const xnnd_f32_conv* conv, const float* input, float* output, void* scratch,
                       pthreadpool_t pool) {
  (void)conv, (void)input, (void)output, (void)scratch, (void)pool;
}
void xnnd_f32_conv_destroy(xnnd_f32_conv* conv, const xnnd_allocator* allocator) { (void)conv, (void)allocator; }

#endif
