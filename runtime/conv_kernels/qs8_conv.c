/* Direct int8 convolution as a GEMM over kernel taps (see qs8_conv.h). Each run first prepares
 * the input in the microkernel's form: AVX2 widens it to int16 (rows of cin rounded up to a pair
 * of k), AVX512-VNNI offsets it to uint8 (x + 128, rows of cin rounded up to a quad of k, the
 * offset taken back out of the initial accumulators); rows of the GEMM are output pixels in
 * blocks of 6, columns output channels in panels of 16 packed once at create; a task computes
 * one pixel block against a group of panels that fits in L2. */
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

typedef void (*qs8_ukernel)(size_t mr, size_t nc, size_t taps, size_t kgroups, const void* const* a, const void* w,
                            int8_t* c, size_t ldc, const xnnd_qs8_requant* rq);

typedef void (*qs8_prepare_fn)(const int8_t* in, size_t pixels, size_t cin, size_t cink, void* out);

/* The two input forms: k grouped by `kgroup` per 32-bit lane, elements of `elem_bytes`. */
typedef struct qs8_form {
  size_t kgroup, elem_bytes;
  int32_t input_offset;   /* added to every input value (and the zero point) by prepare */
  qs8_prepare_fn prepare;
  qs8_ukernel ukernel;
} qs8_form;

static void prepare_u8_avx512vnni(const int8_t* in, size_t pixels, size_t cin, size_t cink, void* out) {
  xnnd_qs8_offset_u8_avx512vnni(in, pixels, cin, cink, out);
}
static void prepare_i16_avx2(const int8_t* in, size_t pixels, size_t cin, size_t cink, void* out) {
  xnnd_qs8_widen_avx2(in, pixels, cin, cink, out);
}

static const qs8_form k_form_avx2 = {2, sizeof(int16_t), 0, prepare_i16_avx2, xnnd_qs8_gemm_6x16c2_avx2};
static const qs8_form k_form_vnni = {4, 1, 128, prepare_u8_avx512vnni, xnnd_qs8_gemm_6x16c4_avx512vnni};

struct xnnd_qs8_conv {
  const qs8_form* form;
  size_t cin, cink, cout, taps, pixels, row_blocks, panels, panel_bytes;
  xnnd_panel_groups groups;
  xnnd_conv_rows geometry;
  xnnd_qs8_requant rq;
  uint8_t* packed;
  void* zero;  /* cink of the input zero point, in the prepared form */
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
  const qs8_form* form = use_vnni(p) ? &k_form_vnni : &k_form_avx2;
  const size_t g = form->kgroup;
  c->form = form;
  c->cin = s->cin;
  c->cout = s->cout;
  c->cink = (c->cin + g - 1) / g * g;
  c->pixels = (size_t)s->batch * s->in_h * s->in_w;
  xnnd_conv_rows_init(&c->geometry, s, form->elem_bytes);
  c->geometry.pixel_bytes = c->cink * form->elem_bytes;
  c->taps = c->geometry.taps;
  c->row_blocks = (c->geometry.rows + MR - 1) / MR;
  c->panels = (c->cout + NR - 1) / NR;
  /* 16 int32 initial accumulators, 16 float scales, then per tap and group of k one 64-byte
   * vector: 16 channels x kgroup weights of elem_bytes (kgroup * elem_bytes == 4) */
  c->panel_bytes = 128 + c->taps * (c->cink / g) * 64;
  xnnd_panel_groups_init(&c->groups, c->panels, c->panel_bytes);
  c->rq.max_less_zero_point = (float)((int32_t)p->qmax - p->output_zero_point);
  c->rq.zero_point = (int16_t)p->output_zero_point;
  c->rq.qmin = p->qmin;
  c->packed = xnnd_alloc(allocator, c->panels * c->panel_bytes, 64);
  c->zero = xnnd_alloc(allocator, c->cink * form->elem_bytes, 64);
  if (c->packed == NULL || c->zero == NULL) {
    xnnd_qs8_conv_destroy(c, allocator);
    return XNND_OUT_OF_MEMORY;
  }
  const int32_t zero_point = p->input_zero_point + form->input_offset;
  for (size_t k = 0; k < c->cink; k++) {
    if (form->elem_bytes == 1)
      ((uint8_t*)c->zero)[k] = (uint8_t)zero_point;
    else
      ((int16_t*)c->zero)[k] = (int16_t)zero_point;
  }
  memset(c->packed, 0, c->panels * c->panel_bytes);
  for (size_t panel = 0; panel < c->panels; panel++) {
    uint8_t* base = c->packed + panel * c->panel_bytes;
    int32_t* acc = (int32_t*)base;
    float* scale = (float*)(base + 64);
    uint8_t* w = base + 128;
    for (size_t j = 0; j < NR && panel * NR + j < c->cout; j++) {
      size_t o = panel * NR + j;
      const int8_t* f = filter + o * c->taps * c->cin;
      int32_t sum = 0;
      for (size_t k = 0; k < c->taps * c->cin; k++) sum += f[k];
      /* The prepared input is x + input_offset and padding reads the zero point (in the same
       * form), so sum_k (x_k - zp) * f_k = sum_k x'_k * f_k - zp' * sum_k f_k. Wraps like
       * XNNPACK's int32 packing (unsigned arithmetic: no undefined overflow). */
      acc[j] = (int32_t)((uint32_t)(bias != NULL ? bias[o] : 0) - (uint32_t)zero_point * (uint32_t)sum);
      scale[j] = requant_scale(p, o);
      for (size_t t = 0; t < c->taps; t++)
        for (size_t k = 0; k < c->cin; k++) {
          /* lane j of the group's vector (AVX2's two 256-bit halves hold lanes 0-7 and 8-15) */
          const size_t at = ((t * (c->cink / g) + k / g) * 16 + j) * g + k % g;
          if (form->elem_bytes == 1)
            w[at] = (uint8_t)f[t * c->cin + k];
          else
            ((int16_t*)w)[at] = f[t * c->cin + k];
        }
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
  uint8_t* wide;  /* the prepared input (scratch), pixels x cink elements */
} run_ctx;

size_t xnnd_qs8_conv_scratch_size(const xnnd_qs8_conv* c) { return c->pixels * c->cink * c->form->elem_bytes + 64; }

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
    c->form->ukernel(mr, nc, c->taps, c->cink / c->form->kgroup, a, c->packed + panel * c->panel_bytes,
                     r->output + m0 * c->cout + n0, c->cout, &c->rq);
  }
}

#define WIDEN_PIXELS 64

static void widen(void* context, size_t chunk) {
  const run_ctx* r = context;
  const xnnd_qs8_conv* c = r->c;
  size_t p0 = chunk * WIDEN_PIXELS, n = c->pixels - p0 < WIDEN_PIXELS ? c->pixels - p0 : WIDEN_PIXELS;
  c->form->prepare(r->input + p0 * c->cin, n, c->cin, c->cink, r->wide + p0 * c->cink * c->form->elem_bytes);
}

void xnnd_qs8_conv_run(const xnnd_qs8_conv* c, const int8_t* input, int8_t* output, void* scratch,
                       pthreadpool_t pool) {
  run_ctx r = {c, input, output, (uint8_t*)(((uintptr_t)scratch + 63) & ~(uintptr_t)63)};
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
