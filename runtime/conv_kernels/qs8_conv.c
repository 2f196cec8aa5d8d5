/* Direct int8 convolution as a GEMM over kernel taps (see qs8_conv.h). Each run first widens
 * the input to int16 (rows of cin2 = cin rounded up to even); rows of the GEMM are output
 * pixels in blocks of 6, columns output channels in panels of 16 packed once at create; a task
 * computes one pixel block against a group of panels that fits in L2. */
#include "qs8_conv.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "conv_rows.h"
#include "parallel.h"
#include "alloc.h"

#if XNND_F32_CONV_X86

#define MR 6
#define NR 16

typedef void (*qs8_ukernel)(size_t mr, size_t nc, size_t taps, size_t kc2, const void* const* a, const void* w,
                            int8_t* c, size_t ldc, const xnnd_qs8_requant* rq);

struct xnnd_qs8_conv {
  qs8_ukernel ukernel;
  size_t cin, cin2, cout, taps, pixels, row_blocks, panels, panel_bytes;
  xnnd_panel_groups groups;
  xnnd_conv_rows geometry;
  xnnd_qs8_requant rq;
  uint8_t* packed;
  int16_t* zero;  /* cin2 of the input zero point */
};

static float requant_scale(const xnnd_qs8_conv_params* p, size_t o) {
  /* XNNPACK's order of operations, in float. */
  return p->input_scale * p->filter_scales[p->per_channel ? o : 0] / p->output_scale;
}

static pthread_once_t g_vnni_once = PTHREAD_ONCE_INIT;
static bool g_vnni;
/* __builtin_cpu_supports also checks that the OS saves the AVX-512 state. */
static void detect_vnni(void) {
  __builtin_cpu_init();
  g_vnni = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni");
}

static bool use_vnni(const xnnd_qs8_conv_params* p) {
  if (p->isa != XNND_QS8_ISA_BEST) return false;
  pthread_once(&g_vnni_once, detect_vnni);
  return g_vnni;
}

const char* xnnd_qs8_conv_isa_name(const xnnd_qs8_conv_params* p) { return use_vnni(p) ? "AVX512-VNNI" : "AVX2"; }

bool xnnd_qs8_conv_supported(const xnnd_f32_conv_shape* s, const xnnd_qs8_conv_params* p) {
  if (!xnnd_f32_conv_supported(s)) return false;
  for (size_t o = 0; o < (p->per_channel ? s->cout : 1); o++) {
    float scale = requant_scale(p, o);
    if (!(scale > 0.0f && scale < 1.0f && isnormal(scale))) return false;
  }
  return true;
}

xnnd_status xnnd_qs8_conv_create(const xnnd_f32_conv_shape* s, const xnnd_qs8_conv_params* p, const int8_t* filter,
                                 const int32_t* bias, const xnnd_allocator* allocator, xnnd_qs8_conv** conv_out) {
  *conv_out = NULL;
  if (!xnnd_qs8_conv_supported(s, p)) return XNND_INVALID_ARGUMENT;
  xnnd_qs8_conv* c = xnnd_alloc(allocator, sizeof(*c), 64);
  if (c == NULL) return XNND_OUT_OF_MEMORY;
  memset(c, 0, sizeof(*c));
  c->cin = s->cin;
  c->cout = s->cout;
  c->cin2 = (c->cin + 1) & ~(size_t)1;
  c->pixels = (size_t)s->batch * s->in_h * s->in_w;
  xnnd_conv_rows_init(&c->geometry, s, sizeof(int16_t));
  c->geometry.pixel_bytes = c->cin2 * sizeof(int16_t);
  c->taps = c->geometry.taps;
  c->ukernel = use_vnni(p) ? xnnd_qs8_gemm_6x16c2_avx512vnni : xnnd_qs8_gemm_6x16c2_avx2;
  c->row_blocks = (c->geometry.rows + MR - 1) / MR;
  c->panels = (c->cout + NR - 1) / NR;
  c->panel_bytes = 4 * 32 + c->taps * (c->cin2 / 2) * 2 * 32;
  xnnd_panel_groups_init(&c->groups, c->panels, c->panel_bytes);
  c->rq.max_less_zero_point = (float)((int32_t)p->qmax - p->output_zero_point);
  c->rq.zero_point = (int16_t)p->output_zero_point;
  c->rq.qmin = p->qmin;
  c->packed = xnnd_alloc(allocator, c->panels * c->panel_bytes, 64);
  c->zero = xnnd_alloc(allocator, c->cin2 * sizeof(int16_t), 64);
  if (c->packed == NULL || c->zero == NULL) {
    xnnd_qs8_conv_destroy(c, allocator);
    return XNND_OUT_OF_MEMORY;
  }
  for (size_t k = 0; k < c->cin2; k++) c->zero[k] = (int16_t)p->input_zero_point;
  memset(c->packed, 0, c->panels * c->panel_bytes);
  for (size_t panel = 0; panel < c->panels; panel++) {
    uint8_t* base = c->packed + panel * c->panel_bytes;
    int32_t* acc = (int32_t*)base;
    float* scale = (float*)(base + 2 * 32);
    int16_t* w = (int16_t*)(base + 4 * 32);
    for (size_t j = 0; j < NR && panel * NR + j < c->cout; j++) {
      size_t o = panel * NR + j;
      const int8_t* f = filter + o * c->taps * c->cin;
      int32_t sum = 0;
      for (size_t k = 0; k < c->taps * c->cin; k++) sum += f[k];
      /* Wraps like XNNPACK's int32 packing (unsigned arithmetic: no undefined overflow). */
      acc[j] =
          (int32_t)((uint32_t)(bias != NULL ? bias[o] : 0) - (uint32_t)p->input_zero_point * (uint32_t)sum);
      scale[j] = requant_scale(p, o);
      for (size_t t = 0; t < c->taps; t++)
        for (size_t k = 0; k < c->cin; k++)
          w[((t * (c->cin2 / 2) + k / 2) * 2 + j / 8) * 16 + (j % 8) * 2 + k % 2] = f[t * c->cin + k];
    }
  }
  *conv_out = c;
  return XNND_OK;
}

void xnnd_qs8_conv_destroy(xnnd_qs8_conv* c, const xnnd_allocator* allocator) {
  if (c == NULL) return;
  xnnd_free(allocator, c->packed);
  xnnd_free(allocator, c->zero);
  xnnd_free(allocator, c);
}

typedef struct run_ctx {
  const xnnd_qs8_conv* c;
  const int8_t* input;
  int8_t* output;
  int16_t* wide;  /* the widened input (scratch), pixels x cin2 */
} run_ctx;

size_t xnnd_qs8_conv_scratch_size(const xnnd_qs8_conv* c) { return c->pixels * c->cin2 * sizeof(int16_t) + 64; }

static void run_block(void* context, size_t group, size_t block) {
  const run_ctx* r = context;
  const xnnd_qs8_conv* c = r->c;
  const void* a[XNND_F32_CONV_MAX_TAPS * MR];
  size_t m0 = block * MR, mr = c->geometry.rows - m0 < MR ? c->geometry.rows - m0 : MR;
  xnnd_conv_rows_block(&c->geometry, r->wide, c->zero, m0, mr, MR, a);
  size_t p_begin, p_end;
  xnnd_panel_group_range(&c->groups, group, &p_begin, &p_end);
  for (size_t panel = p_begin; panel < p_end; panel++) {
    size_t n0 = panel * NR, nc = c->cout - n0 < NR ? c->cout - n0 : NR;
    c->ukernel(mr, nc, c->taps, c->cin2 / 2, a, c->packed + panel * c->panel_bytes, r->output + m0 * c->cout + n0,
               c->cout, &c->rq);
  }
}

#define WIDEN_PIXELS 64

static void widen(void* context, size_t chunk) {
  const run_ctx* r = context;
  const xnnd_qs8_conv* c = r->c;
  size_t p0 = chunk * WIDEN_PIXELS, n = c->pixels - p0 < WIDEN_PIXELS ? c->pixels - p0 : WIDEN_PIXELS;
  xnnd_qs8_widen_avx2(r->input + p0 * c->cin, n, c->cin, c->cin2, r->wide + p0 * c->cin2);
}

void xnnd_qs8_conv_run(const xnnd_qs8_conv* c, const int8_t* input, int8_t* output, void* scratch,
                       pthreadpool_t pool) {
  run_ctx r = {c, input, output, (int16_t*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63)};
  xnnd_parallelize_1d(pool, widen, &r, (c->pixels + WIDEN_PIXELS - 1) / WIDEN_PIXELS);
  xnnd_parallelize_2d(pool, run_block, &r, c->groups.groups, c->row_blocks);
}

#else /* !XNND_F32_CONV_X86: the delegate keeps every convolution in XNNPACK. */

bool xnnd_qs8_conv_supported(const xnnd_f32_conv_shape* shape, const xnnd_qs8_conv_params* params) {
  (void)shape, (void)params;
  return false;
}
xnnd_status xnnd_qs8_conv_create(const xnnd_f32_conv_shape* shape, const xnnd_qs8_conv_params* params,
                                 const int8_t* filter, const int32_t* bias, const xnnd_allocator* allocator,
                                 xnnd_qs8_conv** conv_out) {
  (void)shape, (void)params, (void)filter, (void)bias, (void)allocator;
  *conv_out = NULL;
  return XNND_INVALID_ARGUMENT;
}
size_t xnnd_qs8_conv_scratch_size(const xnnd_qs8_conv* conv) {
  (void)conv;
  return 0;
}
void xnnd_qs8_conv_run(const xnnd_qs8_conv* conv, const int8_t* input, int8_t* output, void* scratch,
                       pthreadpool_t pool) {
  (void)conv, (void)input, (void)output, (void)scratch, (void)pool;
}
void xnnd_qs8_conv_destroy(xnnd_qs8_conv* conv, const xnnd_allocator* allocator) { (void)conv, (void)allocator; }
const char* xnnd_qs8_conv_isa_name(const xnnd_qs8_conv_params* params) {
  (void)params;
  return "none";
}

#endif
