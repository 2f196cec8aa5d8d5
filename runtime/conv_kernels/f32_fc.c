/* xnnd's f32 fully connected layer (see f32_fc.h). The weights are packed per panel of 16
 * outputs as 16 bias floats then [k][16]; a task computes one block of rows (8 with AVX-512,
 * 3 with AVX2) against a group of panels that fits in half of L2 (the grouping f32_conv.c
 * uses). */
#include "f32_fc.h"

#include <pthread.h>
#include <string.h>

#include "alloc.h"
#include "conv_rows.h"
#include "f32_conv.h"
#include "parallel.h"

#define NR 16

typedef void (*fc_ukernel)(size_t mr, size_t nc, size_t k, const float* a, size_t lda, const float* w, float* c,
                           size_t ldc, float min, float max);

struct xnnd_f32_fc {
  xnnd_f32_fc_shape s;
  fc_ukernel ukernel;
  size_t mr;
  size_t panels, panel_floats, row_blocks;
  xnnd_panel_groups groups;
  float* packed;
};

#if defined(__x86_64__)
static pthread_once_t g_avx512_once = PTHREAD_ONCE_INIT;
static bool g_avx512;
/* __builtin_cpu_supports also checks that the OS saves the AVX-512 state. */
static void detect_avx512(void) {
  __builtin_cpu_init();
  g_avx512 = __builtin_cpu_supports("avx512f");
}
#endif

static bool use_avx512(const xnnd_f32_fc_shape* s) {
#if defined(__x86_64__)
  if (s->isa != XNND_F32_FC_ISA_BEST) return false;
  pthread_once(&g_avx512_once, detect_avx512);
  return g_avx512;
#else
  (void)s;
  return false;
#endif
}

bool xnnd_f32_fc_supported(const xnnd_f32_fc_shape* s) {
  return xnnd_f32_conv_cpu_ok() && s->rows > 0 && s->k > 0 && s->n > 0;
}

const char* xnnd_f32_fc_isa_name(const xnnd_f32_fc_shape* s) { return use_avx512(s) ? "AVX-512" : "AVX2"; }

void xnnd_f32_fc_destroy(xnnd_f32_fc* fc, const xnnd_allocator* allocator) {
  if (fc == NULL) return;
  xnnd_free(allocator, fc->packed);
  xnnd_free(allocator, fc);
}

xnnd_status xnnd_f32_fc_create(const xnnd_f32_fc_shape* s, const float* weight, const float* bias,
                               const xnnd_allocator* allocator, xnnd_f32_fc** fc_out) {
  *fc_out = NULL;
  if (!xnnd_f32_fc_supported(s)) return XNND_INVALID_ARGUMENT;
  xnnd_f32_fc* fc = xnnd_alloc(allocator, sizeof(*fc), 64);
  if (fc == NULL) return XNND_OUT_OF_MEMORY;
  memset(fc, 0, sizeof(*fc));
  fc->s = *s;
  fc->panels = ((size_t)s->n + NR - 1) / NR;
  fc->panel_floats = NR + (size_t)s->k * NR;
  const bool wide = use_avx512(s);
  fc->ukernel = wide ? xnnd_f32_fc_8x16_avx512 : xnnd_f32_fc_3x16_avx2;
  fc->mr = wide ? 8 : 3;
  fc->row_blocks = ((size_t)s->rows + fc->mr - 1) / fc->mr;
  xnnd_panel_groups_init(&fc->groups, fc->panels, fc->panel_floats * sizeof(float));
  fc->packed = xnnd_alloc(allocator, fc->panels * fc->panel_floats * sizeof(float), 64);
  if (fc->packed == NULL) {
    xnnd_f32_fc_destroy(fc, allocator);
    return XNND_OUT_OF_MEMORY;
  }
  memset(fc->packed, 0, fc->panels * fc->panel_floats * sizeof(float));
  for (size_t p = 0; p < fc->panels; p++) {
    float* panel = fc->packed + p * fc->panel_floats;
    for (size_t j = 0; j < NR && p * NR + j < s->n; j++) {
      size_t o = p * NR + j;
      panel[j] = bias != NULL ? bias[o] : 0.0f;
      for (size_t i = 0; i < s->k; i++) panel[NR + i * NR + j] = weight[o * s->k + i];
    }
  }
  *fc_out = fc;
  return XNND_OK;
}

typedef struct fc_run {
  const xnnd_f32_fc* fc;
  const float* x;
  float* y;
} fc_run;

static void run_block(void* context, size_t group, size_t block) {
  const fc_run* r = context;
  const xnnd_f32_fc* fc = r->fc;
  size_t m0 = block * fc->mr, mr = fc->s.rows - m0 < fc->mr ? fc->s.rows - m0 : fc->mr;
  size_t p_begin, p_end;
  xnnd_panel_group_range(&fc->groups, group, &p_begin, &p_end);
  for (size_t p = p_begin; p < p_end; p++) {
    size_t n0 = p * NR, nc = fc->s.n - n0 < NR ? fc->s.n - n0 : NR;
    fc->ukernel(mr, nc, fc->s.k, r->x + m0 * fc->s.k, fc->s.k, fc->packed + p * fc->panel_floats,
                r->y + m0 * fc->s.n + n0, fc->s.n, fc->s.min, fc->s.max);
  }
}

void xnnd_f32_fc_run(const xnnd_f32_fc* fc, const float* x, float* y, pthreadpool_t pool) {
  fc_run r = {fc, x, y};
  xnnd_parallelize_2d(pool, run_block, &r, fc->groups.groups, fc->row_blocks);
}
