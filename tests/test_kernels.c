/* Portable kernels: each kernel against a naive reference written here (plain loops, double
 * accumulation, no code shared with runtime/kernels), hand-computed exact cases, prepare-time
 * errors, and a differential check against PyTorch (tests/kernels_ref.py) when $XNND_PYTHON is
 * set. Shapes stay small so the suite is quick under valgrind. */
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernel_fastmath.h"
#include "kernels/kernels.h"
#include "test_support.h"

/* ---------------------------------------------------------------- helpers */

typedef struct rng {
  uint64_t s;
} rng;

static uint32_t rng_u32(rng* r) {
  r->s = r->s * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(r->s >> 33);
}
/* Uniform in [lo, hi]. */
static int rng_int(rng* r, int lo, int hi) { return lo + (int)(rng_u32(r) % (uint32_t)(hi - lo + 1)); }
static float rng_float(rng* r, float lo, float hi) {
  return lo + (hi - lo) * (float)(rng_u32(r) & 0xffffff) / (float)0xffffff;
}
static bool rng_bool(rng* r) { return (rng_u32(r) & 1) != 0; }

static xnnd_tensor* tens(xnnd_dtype dtype, uint32_t rank, const int64_t* dims) {
  xnnd_tensor* t = calloc(1, sizeof(*t));
  assert_non_null(t);
  t->dtype = dtype;
  t->rank = rank;
  for (uint32_t i = 0; i < rank; i++) t->dims[i] = dims[i];
  size_t bytes = xnnd_tensor_numel(t) * xnnd_dtype_size(dtype);
  t->data = calloc(bytes ? bytes : 1, 1);
  assert_non_null(t->data);
  return t;
}
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define F32(rank, ...) tens(XNND_F32, rank, DIMS(__VA_ARGS__))

static void tens_free(xnnd_tensor* t) {
  if (!t) return;
  free(t->data);
  free(t);
}
static float* fdata(const xnnd_tensor* t) { return t->data; }
static size_t numel(const xnnd_tensor* t) { return xnnd_tensor_numel(t); }

static void fill_random(xnnd_tensor* t, rng* r, float lo, float hi) {
  float* d = t->data;
  for (size_t i = 0; i < numel(t); i++) d[i] = rng_float(r, lo, hi);
}

/* One kernel invocation: operands, attributes, params, message. Owns its tensors. */
#define KC_MAX_IN 8
#define KC_MAX_ATTRS 12
typedef struct kc {
  const xnnd_kernel* k;
  const char* op;
  xnnd_tensor* in[KC_MAX_IN];
  uint32_t nin;
  xnnd_tensor* out[3];
  uint32_t nout;
  xnnd_kattr attrs[KC_MAX_ATTRS];
  uint32_t nattrs;
  int64_t ints[KC_MAX_ATTRS][XNND_MAX_RANK + 2];
  xnnd_kernel_args args;
  char err[XNND_ERRMSG_SIZE];
  _Alignas(16) unsigned char params[XNND_KERNEL_PARAMS_SIZE];
} kc;

static void kc_init(kc* c, const char* op) {
  memset(c, 0, sizeof(*c));
  c->op = op;
  c->k = xnnd_kernel_find(op);
  if (!c->k) fail_msg("no kernel for %s", op);
}
static xnnd_tensor* kc_in(kc* c, xnnd_tensor* t) {
  assert_true(c->nin < KC_MAX_IN);
  c->in[c->nin++] = t;
  return t;
}
static xnnd_tensor* kc_out(kc* c, xnnd_tensor* t) {
  assert_true(c->nout < 3);
  c->out[c->nout++] = t;
  return t;
}
static xnnd_kattr* kc_attr(kc* c, const char* name, uint8_t kind) {
  assert_true(c->nattrs < KC_MAX_ATTRS);
  xnnd_kattr* a = &c->attrs[c->nattrs++];
  memset(a, 0, sizeof(*a));
  a->name = name;
  a->kind = kind;
  return a;
}
static void kc_int(kc* c, const char* name, int64_t v) { kc_attr(c, name, 1)->i = v; }
static void kc_float(kc* c, const char* name, double v) { kc_attr(c, name, 2)->f = v; }
static void kc_bool(kc* c, const char* name, bool v) { kc_attr(c, name, 3)->i = v; }
static void kc_none(kc* c, const char* name) { kc_attr(c, name, 0); }
static void kc_ints(kc* c, const char* name, uint32_t n, const int64_t* v) {
  assert_true(n <= XNND_MAX_RANK + 2);
  int64_t* store = c->ints[c->nattrs];
  for (uint32_t i = 0; i < n; i++) store[i] = v[i];
  xnnd_kattr* a = kc_attr(c, name, 4);
  a->n = n;
  a->ints = store;
}
#define KC_INTS(c, name, ...) \
  kc_ints(c, name, sizeof(DIMS(__VA_ARGS__)) / sizeof(int64_t), DIMS(__VA_ARGS__))
static void kc_pair(kc* c, const char* name, int64_t a, int64_t b) {
  const int64_t v[2] = {a, b};
  kc_ints(c, name, 2, v);
}

static xnnd_status kc_prepare(kc* c) {
  c->args = (xnnd_kernel_args){.inputs = c->in, .num_inputs = c->nin, .outputs = c->out,
                               .num_outputs = c->nout, .attrs = c->attrs,
                               .num_attrs = c->nattrs};
  memset(c->params, 0xA5, sizeof(c->params)); /* prepare must not rely on zeroed params */
  c->err[0] = '\0';
  return c->k->prepare(&c->args, c->params, c->err, sizeof(c->err));
}

static void kc_run(kc* c) {
  xnnd_status s = kc_prepare(c);
  if (s != XNND_OK) fail_msg("%s prepare failed (%s): %s", c->op, xnnd_status_str(s), c->err);
  assert_int_equal(c->k->run(&c->args, c->params), XNND_OK);
}

static void kc_expect_error(kc* c, xnnd_status want, const char* substr) {
  xnnd_status s = kc_prepare(c);
  if (s != want)
    fail_msg("%s: expected %s, got %s (%s)", c->op, xnnd_status_str(want), xnnd_status_str(s),
             c->err);
  if (!strstr(c->err, substr)) fail_msg("%s: message '%s' lacks '%s'", c->op, c->err, substr);
  if (strncmp(c->err, c->op, strlen(c->op)) != 0)
    fail_msg("message '%s' does not start with the op name", c->err);
}

static void kc_free(kc* c) {
  xnnd_tensor* seen[KC_MAX_IN + 3];
  uint32_t n = 0;
  for (uint32_t i = 0; i < c->nin + c->nout; i++) {
    xnnd_tensor* t = i < c->nin ? c->in[i] : c->out[i - c->nin];
    bool dup = !t;
    for (uint32_t j = 0; j < n && !dup; j++) dup = seen[j] == t;
    if (dup) continue;
    seen[n++] = t;
    tens_free(t);
  }
}

/* got vs want within rtol * max(max|want|, floor) (NaN must match NaN). */
static void expect_close_tol(const char* what, const float* got, const double* want, size_t n,
                             double rtol, double floor) {
  double maxabs = floor;
  for (size_t i = 0; i < n; i++)
    if (isfinite(want[i]) && fabs(want[i]) > maxabs) maxabs = fabs(want[i]);
  const double tol = rtol * maxabs;
  for (size_t i = 0; i < n; i++) {
    if (isnan(want[i]) != isnan(got[i]) ||
        (!isnan(want[i]) && !(fabs((double)got[i] - want[i]) <= tol) && got[i] != want[i]))
      fail_msg("%s: element %zu is %.9g, expected %.9g (tol %.3g)", what, i, (double)got[i],
               want[i], tol);
  }
}
/* Inputs of the naive-reference tests are O(1), so float rounding is O(1e-7) in absolute
 * terms even where cancellation makes an output tiny: the scale never drops below 1. */
static void expect_close(const char* what, const float* got, const double* want, size_t n) {
  expect_close_tol(what, got, want, n, 1e-5, 1.0);
}
static void expect_exact(const char* what, const float* got, const float* want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i])
      fail_msg("%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i],
               (double)want[i]);
}

static double* dalloc(size_t n) {
  double* d = calloc(n ? n : 1, sizeof(double));
  assert_non_null(d);
  return d;
}

/* ---------------------------------------------------------------- table */

static void test_table_covers_ops_def(void** state) {
  (void)state;
  static const char* const ops[] = {
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) name,
#include "../ir/ops.def"
#undef XNND_OP
  };
  for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
    const xnnd_kernel* k = xnnd_kernel_find(ops[i]);
    if (!k) fail_msg("no portable kernel for %s", ops[i]);
    assert_string_equal(k->op, ops[i]);
    assert_non_null(k->prepare);
    assert_non_null(k->run);
  }
  assert_null(xnnd_kernel_find("aten.nonexistent"));
  assert_null(xnnd_kernel_find(""));
  assert_null(xnnd_kernel_find(NULL));
  assert_null(xnnd_kernel_find("aten.conv"));
}

static void test_kattr_get(void** state) {
  (void)state;
  kc c;
  kc_init(&c, "aten.relu");
  kc_int(&c, "a", 3);
  kc_float(&c, "b", 2.5);
  c.args = (xnnd_kernel_args){.attrs = c.attrs, .num_attrs = c.nattrs};
  assert_int_equal(xnnd_kattr_get(&c.args, "a")->i, 3);
  assert_true(xnnd_kattr_get(&c.args, "b")->f == 2.5);
  assert_null(xnnd_kattr_get(&c.args, "c"));
  assert_null(xnnd_kattr_get(&c.args, NULL));
  assert_null(xnnd_kattr_get(NULL, "a"));
}

/* ---------------------------------------------------------------- convolution */

typedef struct conv_cfg {
  int n, c, h, w, oc, kh, kw, sh, sw, ph, pw, dh, dw, groups, oph, opw;
  bool transposed, bias, one_d;
} conv_cfg;

static int conv_out(int in, int k, int s, int p, int d, int op, bool transposed) {
  if (transposed) return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
  int num = in + 2 * p - d * (k - 1) - 1;
  return num < 0 ? 0 : num / s + 1;
}

/* Gather form for both directions: out[oh] takes in[ih] where oh = ih*s - p + k*d (transposed)
 * or ih = oh*s - p + k*d (regular). */
static void conv_ref(const conv_cfg* g, const float* x, const float* w, const float* b, int OH,
                     int OW, double* y) {
  const int cin_g = g->c / g->groups, cout_g = g->oc / g->groups;
  for (int n = 0; n < g->n; n++)
    for (int oc = 0; oc < g->oc; oc++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          double acc = b ? b[oc] : 0.0;
          const int grp = oc / cout_g;
          for (int icl = 0; icl < cin_g; icl++) {
            const int ic = grp * cin_g + icl;
            for (int i = 0; i < g->kh; i++)
              for (int j = 0; j < g->kw; j++) {
                int ih, iw;
                double wv;
                if (!g->transposed) {
                  ih = oh * g->sh - g->ph + i * g->dh;
                  iw = ow * g->sw - g->pw + j * g->dw;
                  wv = w[((oc * cin_g + icl) * g->kh + i) * g->kw + j];
                } else {
                  const int nh = oh + g->ph - i * g->dh, nw = ow + g->pw - j * g->dw;
                  if (nh < 0 || nw < 0 || nh % g->sh || nw % g->sw) continue;
                  ih = nh / g->sh;
                  iw = nw / g->sw;
                  wv = w[((ic * cout_g + oc % cout_g) * g->kh + i) * g->kw + j];
                }
                if (ih < 0 || ih >= g->h || iw < 0 || iw >= g->w) continue;
                acc += wv * x[((n * g->c + ic) * g->h + ih) * g->w + iw];
              }
          }
          y[((n * g->oc + oc) * OH + oh) * OW + ow] = acc;
        }
}

static void conv_check(const conv_cfg* g, uint64_t seed) {
  rng r = {seed};
  const int OH = conv_out(g->h, g->kh, g->sh, g->ph, g->dh, g->oph, g->transposed);
  const int OW = conv_out(g->w, g->kw, g->sw, g->pw, g->dw, g->opw, g->transposed);
  assert_true(OH > 0 && OW > 0);
  kc c;
  kc_init(&c, "aten.convolution");
  xnnd_tensor *x, *w, *b = NULL, *y;
  const int w0 = g->transposed ? g->c : g->oc;
  const int w1 = g->transposed ? g->oc / g->groups : g->c / g->groups;
  if (g->one_d) {
    x = kc_in(&c, F32(3, g->n, g->c, g->w));
    w = kc_in(&c, F32(3, w0, w1, g->kw));
  } else {
    x = kc_in(&c, F32(4, g->n, g->c, g->h, g->w));
    w = kc_in(&c, F32(4, w0, w1, g->kh, g->kw));
  }
  if (g->bias) b = F32(1, g->oc);
  kc_in(&c, b);
  y = g->one_d ? kc_out(&c, F32(3, g->n, g->oc, OW)) : kc_out(&c, F32(4, g->n, g->oc, OH, OW));
  fill_random(x, &r, -1, 1);
  fill_random(w, &r, -1, 1);
  if (b) fill_random(b, &r, -1, 1);
  fill_random(y, &r, -100, 100); /* run() must overwrite everything */
  if (g->one_d) {
    KC_INTS(&c, "stride", g->sw);
    KC_INTS(&c, "padding", g->pw);
    KC_INTS(&c, "dilation", g->dw);
    kc_bool(&c, "transposed", g->transposed);
    KC_INTS(&c, "output_padding", g->opw);
  } else {
    kc_pair(&c, "stride", g->sh, g->sw);
    kc_pair(&c, "padding", g->ph, g->pw);
    kc_pair(&c, "dilation", g->dh, g->dw);
    kc_bool(&c, "transposed", g->transposed);
    kc_pair(&c, "output_padding", g->oph, g->opw);
  }
  kc_int(&c, "groups", g->groups);
  kc_run(&c);
  double* want = dalloc(numel(y));
  conv_ref(g, fdata(x), fdata(w), b ? fdata(b) : NULL, OH, OW, want);
  char what[160];
  snprintf(what, sizeof(what),
           "conv n%d c%d %dx%d oc%d k%dx%d s%d,%d p%d,%d d%d,%d g%d op%d,%d t%d b%d",
           g->n, g->c, g->h, g->w, g->oc, g->kh, g->kw, g->sh, g->sw, g->ph, g->pw, g->dh, g->dw,
           g->groups, g->oph, g->opw, g->transposed, g->bias);
  expect_close(what, fdata(y), want, numel(y));
  free(want);
  kc_free(&c);
}

static void test_conv_hand(void** state) {
  (void)state;
  /* 4x4 input 1..16, 3x3 ones kernel, bias 1: window sums + 1. */
  for (int pad = 0; pad <= 1; pad++) {
    kc c;
    kc_init(&c, "aten.convolution");
    xnnd_tensor* x = kc_in(&c, F32(4, 1, 1, 4, 4));
    xnnd_tensor* w = kc_in(&c, F32(4, 1, 1, 3, 3));
    xnnd_tensor* b = kc_in(&c, F32(1, 1));
    const int o = pad ? 4 : 2;
    xnnd_tensor* y = kc_out(&c, F32(4, 1, 1, o, o));
    for (int i = 0; i < 16; i++) fdata(x)[i] = (float)(i + 1);
    for (int i = 0; i < 9; i++) fdata(w)[i] = 1.0f;
    fdata(b)[0] = 1.0f;
    kc_pair(&c, "padding", pad, pad);
    kc_run(&c);
    if (!pad) {
      const float want[4] = {55, 64, 91, 100};
      expect_exact("conv 3x3 valid", fdata(y), want, 4);
    } else {
      const float want[16] = {15, 25, 31, 23, 34, 55, 64, 46, 58, 91, 100, 70, 47, 73, 79, 55};
      expect_exact("conv 3x3 pad1", fdata(y), want, 16);
    }
    kc_free(&c);
  }
  /* Transposed 2x2 input, 2x2 ones kernel, stride 2: each input spreads to a 2x2 block. */
  kc c;
  kc_init(&c, "aten.convolution");
  xnnd_tensor* x = kc_in(&c, F32(4, 1, 1, 2, 2));
  xnnd_tensor* w = kc_in(&c, F32(4, 1, 1, 2, 2));
  kc_in(&c, NULL);
  xnnd_tensor* y = kc_out(&c, F32(4, 1, 1, 4, 4));
  const float xs[4] = {1, 2, 3, 4}, ws[4] = {1, 10, 100, 1000};
  memcpy(fdata(x), xs, sizeof(xs));
  memcpy(fdata(w), ws, sizeof(ws));
  kc_pair(&c, "stride", 2, 2);
  kc_bool(&c, "transposed", true);
  kc_run(&c);
  const float want[16] = {1, 10, 2, 20, 100, 1000, 200, 2000, 3, 30, 4, 40, 300, 3000, 400, 4000};
  expect_exact("conv transposed s2", fdata(y), want, 16);
  kc_free(&c);
}

static void test_conv_fixed(void** state) {
  (void)state;
  const conv_cfg cfgs[] = {
      /* n c h w oc kh kw sh sw ph pw dh dw g oph opw t bias 1d */
      {1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, false, true, false},
      {2, 4, 7, 9, 6, 3, 2, 2, 2, 1, 0, 1, 1, 1, 0, 0, false, false, false},
      {1, 6, 10, 9, 4, 3, 3, 1, 2, 2, 1, 2, 2, 2, 0, 0, false, true, false},
      {1, 8, 11, 11, 8, 3, 3, 2, 2, 1, 1, 1, 1, 8, 0, 0, false, true, false},   /* depthwise */
      {1, 4, 6, 6, 8, 5, 5, 1, 1, 2, 2, 1, 1, 4, 0, 0, false, true, false},     /* multiplier 2 */
      {2, 16, 5, 5, 8, 1, 1, 1, 1, 0, 0, 1, 1, 1, 0, 0, false, true, false},    /* 1x1 */
      {1, 5, 6, 6, 7, 1, 1, 2, 2, 0, 0, 1, 1, 1, 0, 0, false, false, false},    /* 1x1 s2 */
      {1, 3, 12, 12, 5, 7, 7, 2, 2, 3, 3, 1, 1, 1, 0, 0, false, false, false},  /* stem */
      {1, 2, 3, 3, 2, 5, 5, 1, 1, 2, 2, 1, 1, 1, 0, 0, false, true, false},     /* kernel > in */
      {1, 9, 5, 4, 6, 2, 3, 1, 1, 0, 1, 1, 1, 3, 0, 0, false, true, false},     /* 9 oc rem */
      {2, 3, 1, 12, 4, 1, 3, 1, 2, 0, 1, 1, 1, 1, 0, 0, false, true, true},     /* conv1d */
      {1, 4, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, true, true, false},      /* convT */
      {2, 6, 4, 5, 6, 3, 2, 1, 2, 0, 1, 2, 1, 3, 0, 1, true, false, false},
      {1, 2, 3, 3, 2, 4, 4, 3, 3, 2, 0, 1, 1, 1, 2, 1, true, true, false},
      {1, 4, 1, 7, 2, 1, 3, 1, 2, 0, 1, 1, 1, 2, 0, 1, true, true, true},       /* convT 1d */
  };
  for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) conv_check(&cfgs[i], 100 + i);
}

static void test_conv_random(void** state) {
  (void)state;
  rng r = {42};
  int done = 0;
  while (done < 60) {
    conv_cfg g = {0};
    g.transposed = rng_int(&r, 0, 3) == 0;
    g.groups = rng_int(&r, 1, 3);
    const int cin_g = rng_int(&r, 1, 3), cout_g = rng_int(&r, 1, 5);
    g.c = cin_g * g.groups;
    g.oc = cout_g * g.groups;
    g.n = rng_int(&r, 1, 2);
    g.h = rng_int(&r, 1, 7);
    g.w = rng_int(&r, 1, 9);
    g.kh = rng_int(&r, 1, 4);
    g.kw = rng_int(&r, 1, 4);
    g.sh = rng_int(&r, 1, 3);
    g.sw = rng_int(&r, 1, 3);
    g.ph = rng_int(&r, 0, 2);
    g.pw = rng_int(&r, 0, 2);
    g.dh = rng_int(&r, 1, 2);
    g.dw = rng_int(&r, 1, 2);
    g.bias = rng_bool(&r);
    if (g.transposed) {
      const int mh = g.sh > g.dh ? g.sh : g.dh, mw = g.sw > g.dw ? g.sw : g.dw;
      g.oph = rng_int(&r, 0, mh - 1);
      g.opw = rng_int(&r, 0, mw - 1);
    }
    if (conv_out(g.h, g.kh, g.sh, g.ph, g.dh, g.oph, g.transposed) < 1 ||
        conv_out(g.w, g.kw, g.sw, g.pw, g.dw, g.opw, g.transposed) < 1)
      continue;
    conv_check(&g, 1000 + (uint64_t)done);
    done++;
  }
}

static void test_conv_errors(void** state) {
  (void)state;
  kc c;
  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 3, 8, 8));
  kc_in(&c, F32(4, 4, 16, 3, 3));
  kc_out(&c, F32(4, 1, 4, 6, 6));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH,
                  "aten.convolution: weight has 16 input channels per group, input has 3 "
                  "channels and groups=1");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 8, 8));
  kc_in(&c, F32(4, 6, 2, 3, 3));
  kc_out(&c, F32(4, 1, 6, 8, 8));
  kc_int(&c, "groups", 2);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "out has shape [1,6,8,8], expected [1,6,6,6]");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 8, 8));
  kc_in(&c, F32(4, 6, 2, 3, 3));
  kc_in(&c, F32(1, 5));
  kc_out(&c, F32(4, 1, 6, 6, 6));
  kc_int(&c, "groups", 2);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "bias has 5 entries");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 8, 8));
  kc_in(&c, F32(4, 6, 4, 3, 3));
  kc_out(&c, F32(4, 1, 6, 6, 6));
  kc_int(&c, "groups", 3);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "input has 4 channels, not divisible by groups=3");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 2, 2));
  kc_in(&c, F32(4, 6, 4, 3, 3));
  kc_out(&c, F32(4, 1, 6, 1, 1));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "smaller than the dilated kernel 3");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 5, 5));
  kc_in(&c, F32(4, 4, 2, 3, 3));
  kc_out(&c, F32(4, 1, 2, 12, 12));
  kc_pair(&c, "stride", 2, 2);
  kc_pair(&c, "output_padding", 2, 2);
  kc_bool(&c, "transposed", true);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "output_padding 2 must be");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 5, 5));
  kc_in(&c, F32(4, 4, 4, 3, 3));
  kc_out(&c, F32(4, 1, 4, 3, 3));
  kc_pair(&c, "stride", 0, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "stride must be positive");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, tens(XNND_I64, 4, DIMS(1, 4, 5, 5)));
  kc_in(&c, F32(4, 4, 4, 3, 3));
  kc_out(&c, F32(4, 1, 4, 3, 3));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "input has dtype i64, expected f32");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 5, 5));
  kc_out(&c, F32(4, 1, 4, 3, 3));
  kc_expect_error(&c, XNND_WRONG_INPUT_COUNT, "takes 2 to 3 inputs, got 1");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 5, 5));
  kc_in(&c, F32(4, 4, 4, 3, 3));
  kc_out(&c, F32(4, 1, 4, 3, 3));
  kc_float(&c, "groups", 1.5);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "attribute groups is float, expected int");
  kc_free(&c);

  kc_init(&c, "aten.convolution");
  kc_in(&c, F32(4, 1, 4, 5, 5));
  kc_in(&c, F32(4, 4, 4, 3, 3));
  kc_out(&c, F32(4, 1, 4, 3, 3));
  KC_INTS(&c, "padding", 1, 1, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "attribute padding has 3 entries, expected 2");
  kc_free(&c);
}

/* ---------------------------------------------------------------- linear family */

static void matmul_ref(int M, int K, int N, const float* a, const float* b, double* y) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++) s += (double)a[i * K + k] * b[k * N + j];
      y[i * N + j] = s;
    }
}

static void test_mm_bmm(void** state) {
  (void)state;
  rng r = {7};
  for (int iter = 0; iter < 12; iter++) {
    const int B = rng_int(&r, 1, 3), M = rng_int(&r, 1, 6), K = rng_int(&r, 1, 19),
              N = rng_int(&r, 1, 9);
    const bool batched = iter % 2;
    kc c;
    kc_init(&c, batched ? "aten.bmm" : "aten.mm");
    xnnd_tensor *a, *b, *y;
    if (batched) {
      a = kc_in(&c, F32(3, B, M, K));
      b = kc_in(&c, F32(3, B, K, N));
      y = kc_out(&c, F32(3, B, M, N));
    } else {
      a = kc_in(&c, F32(2, M, K));
      b = kc_in(&c, F32(2, K, N));
      y = kc_out(&c, F32(2, M, N));
    }
    fill_random(a, &r, -1, 1);
    fill_random(b, &r, -1, 1);
    fill_random(y, &r, -9, 9);
    kc_run(&c);
    const int nb = batched ? B : 1;
    double* want = dalloc(numel(y));
    for (int t = 0; t < nb; t++)
      matmul_ref(M, K, N, fdata(a) + t * M * K, fdata(b) + t * K * N, want + t * M * N);
    expect_close(c.op, fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
}

static void test_addmm(void** state) {
  (void)state;
  rng r = {8};
  /* self shapes: [N], [1,N], [M,1], [M,N], [], [1] */
  for (int variant = 0; variant < 6; variant++) {
    const int M = 3 + variant % 2, K = 5, N = 4;
    kc c;
    kc_init(&c, "aten.addmm");
    xnnd_tensor* s;
    int sm = 0, sn = 0; /* strides */
    switch (variant) {
      case 0: s = F32(1, N); sn = 1; break;
      case 1: s = F32(2, 1, N); sn = 1; break;
      case 2: s = F32(2, M, 1); sm = 1; break;
      case 3: s = F32(2, M, N); sm = N; sn = 1; break;
      case 4: s = tens(XNND_F32, 0, NULL); break;
      default: s = F32(1, 1); break;
    }
    kc_in(&c, s);
    xnnd_tensor* a = kc_in(&c, F32(2, M, K));
    xnnd_tensor* b = kc_in(&c, F32(2, K, N));
    xnnd_tensor* y = kc_out(&c, F32(2, M, N));
    fill_random(s, &r, -1, 1);
    fill_random(a, &r, -1, 1);
    fill_random(b, &r, -1, 1);
    const double beta = variant == 5 ? 0.0 : 0.5, alpha = 1.5;
    if (variant == 5) fdata(s)[0] = NAN; /* beta 0 ignores self, NaN included */
    kc_float(&c, "beta", beta);
    kc_float(&c, "alpha", alpha);
    kc_run(&c);
    double* want = dalloc(numel(y));
    matmul_ref(M, K, N, fdata(a), fdata(b), want);
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++)
        want[i * N + j] = alpha * want[i * N + j] +
                          (beta == 0.0 ? 0.0 : beta * fdata(s)[i * sm + j * sn]);
    expect_close("addmm", fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.addmm");
  kc_in(&c, F32(1, 3));
  kc_in(&c, F32(2, 2, 5));
  kc_in(&c, F32(2, 5, 4));
  kc_out(&c, F32(2, 2, 4));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self has shape [3], not broadcastable to [2,4]");
  kc_free(&c);
  kc_init(&c, "aten.mm");
  kc_in(&c, F32(2, 2, 5));
  kc_in(&c, F32(2, 4, 4));
  kc_out(&c, F32(2, 2, 4));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "mat2 has 4 rows, self has 5 columns");
  kc_free(&c);
  kc_init(&c, "aten.bmm");
  kc_in(&c, F32(3, 2, 2, 5));
  kc_in(&c, F32(3, 3, 5, 4));
  kc_out(&c, F32(3, 2, 2, 4));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "mat2 has batch 3, self has batch 2");
  kc_free(&c);
}

/* Shapes past the blocked GEMM's tiles (6 or 4 rows, 16 columns) and k-blocks (64): the attention
 * shapes and odd sizes with every kind of tail. Each output must meet the error bound of its
 * summation, |err| <= (64 + k-blocks + 3) * 2^-24 * sum|a*b| (a block of at most 64 terms, one
 * add per block, alpha's rounding), much tighter than the old kernel's K-term sequential sum for
 * K > 64. An inf in A and a NaN in B must reach exactly their row and column; padding must not leak. */
static void test_gemm_blocked(void** state) {
  (void)state;
  rng r = {31};
  const int shapes[][4] = {{2, 197, 64, 197}, {2, 197, 197, 64}, {1, 13, 150, 37},
                           {3, 7, 65, 17},    {1, 1, 1, 1},      {1, 25, 129, 33}};
  for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
    for (int op = 0; op < 3; op++) { /* bmm, baddbmm, linear */
      const int B = op == 2 ? 1 : shapes[si][0], M = shapes[si][1], K = shapes[si][2],
                N = shapes[si][3];
      kc c;
      xnnd_tensor *s = NULL, *a, *b, *bias = NULL, *y;
      const double alpha = op == 1 ? -0.75 : 1.0, beta = op == 1 ? 2.0 : 0.0;
      if (op == 0) {
        kc_init(&c, "aten.bmm");
      } else if (op == 1) {
        kc_init(&c, "aten.baddbmm");
        s = kc_in(&c, F32(3, B, M, N));
      } else {
        kc_init(&c, "aten.linear");
      }
      a = kc_in(&c, F32(3, B, M, K));
      b = kc_in(&c, op == 2 ? F32(2, N, K) : F32(3, B, K, N));
      if (op == 2) bias = kc_in(&c, F32(1, N));
      y = kc_out(&c, F32(3, B, M, N));
      if (s) fill_random(s, &r, -1, 1);
      if (bias) fill_random(bias, &r, -1, 1);
      fill_random(a, &r, -1, 1);
      fill_random(b, &r, -1, 1);
      const bool special = M > 1 && N > 1 && K > 1;
      const int ri = M / 2, kj = K - 1, cj = N - 1; /* inf at A[0][ri][0], NaN at B[0][kj][cj] */
      if (special) {
        fdata(a)[ri * K] = INFINITY;
        fdata(b)[op == 2 ? cj * K + kj : kj * N + cj] = NAN;
      }
      if (op == 1) {
        kc_float(&c, "beta", beta);
        kc_float(&c, "alpha", alpha);
      }
      kc_run(&c);
      const double bound = (64 + (K + 63) / 64 + 3) * ldexp(1.0, -24);
      for (int t = 0; t < B; t++)
        for (int i = 0; i < M; i++)
          for (int j = 0; j < N; j++) {
            double sum = 0, mag = 0;
            for (int k = 0; k < K; k++) {
              const double p = (double)fdata(a)[(t * M + i) * K + k] *
                               fdata(b)[op == 2 ? j * K + k : (t * K + k) * N + j];
              sum += p;
              mag += fabs(p);
            }
            const size_t o = (size_t)((t * M + i) * N + j);
            const double init = s ? beta * fdata(s)[o] : bias ? fdata(bias)[j] : 0.0;
            const double want = init + alpha * sum;
            const float got = fdata(y)[o];
            if (isnan(want) || isinf(want)) {
              if (!(isnan(want) ? isnan(got) : got == want))
                fail_msg("%s %dx%dx%dx%d: [%d,%d,%d] is %g, expected %g", c.op, B, M, K, N, t,
                         i, j, (double)got, want);
              continue;
            }
            const bool hit = special && t == 0 && (i == ri || j == cj);
            if (hit) fail_msg("%s: [%d,%d,%d] should be inf or NaN, is %g", c.op, t, i, j, (double)got);
            const double tol = bound * (fabs(alpha) * mag + fabs(init)) + 1e-30;
            if (!(fabs((double)got - want) <= tol))
              fail_msg("%s %dx%dx%dx%d: [%d,%d,%d] is %.9g, expected %.9g (bound %.3g)", c.op, B,
                       M, K, N, t, i, j, (double)got, want, tol);
          }
      kc_free(&c);
    }
  }
}

static void test_linear(void** state) {
  (void)state;
  rng r = {9};
  for (int iter = 0; iter < 8; iter++) {
    const int K = rng_int(&r, 1, 37), N = rng_int(&r, 1, 7);
    const int rank = 1 + iter % 3;
    int64_t xd[3] = {2, 3, 3};
    xd[rank - 1] = K;
    kc c;
    kc_init(&c, "aten.linear");
    xnnd_tensor* x = kc_in(&c, tens(XNND_F32, (uint32_t)rank, xd));
    xnnd_tensor* w = kc_in(&c, F32(2, N, K));
    xnnd_tensor* b = iter % 2 ? F32(1, N) : NULL;
    kc_in(&c, b);
    int64_t yd[3] = {2, 3, 3};
    yd[rank - 1] = N;
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, (uint32_t)rank, yd));
    fill_random(x, &r, -1, 1);
    fill_random(w, &r, -1, 1);
    if (b) fill_random(b, &r, -1, 1);
    kc_run(&c);
    const int M = (int)(numel(x) / (size_t)K);
    double* want = dalloc(numel(y));
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) {
        double s = b ? fdata(b)[j] : 0.0;
        for (int k = 0; k < K; k++) s += (double)fdata(x)[i * K + k] * fdata(w)[j * K + k];
        want[i * N + j] = s;
      }
    expect_close("linear", fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.linear");
  kc_in(&c, F32(2, 2, 5));
  kc_in(&c, F32(2, 3, 4));
  kc_out(&c, F32(2, 2, 3));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "weight has 4 input features, input has 5");
  kc_free(&c);
}

/* ---------------------------------------------------------------- batch norm */

static void test_batch_norm(void** state) {
  (void)state;
  rng r = {10};
  for (int variant = 0; variant < 4; variant++) {
    const int N = 2, C = 3, H = variant == 3 ? 1 : 4, W = 5;
    kc c;
    kc_init(&c, "aten.native_batch_norm");
    xnnd_tensor* x = kc_in(&c, variant == 3 ? F32(2, N, C) : F32(4, N, C, H, W));
    xnnd_tensor* w = variant == 1 ? NULL : F32(1, C);
    xnnd_tensor* b = variant == 2 ? NULL : F32(1, C);
    kc_in(&c, w);
    kc_in(&c, b);
    xnnd_tensor* mean = kc_in(&c, F32(1, C));
    xnnd_tensor* var = kc_in(&c, F32(1, C));
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, x->rank, x->dims));
    xnnd_tensor* sm = kc_out(&c, F32(1, variant == 2 ? C : 0));
    xnnd_tensor* si = kc_out(&c, F32(1, variant == 2 ? C : 0));
    fill_random(x, &r, -3, 3);
    if (w) fill_random(w, &r, -2, 2);
    if (b) fill_random(b, &r, -2, 2);
    fill_random(mean, &r, -1, 1);
    fill_random(var, &r, 0.1f, 2);
    const double eps = variant == 0 ? 1e-5 : 0.25;
    kc_bool(&c, "training", false);
    kc_float(&c, "momentum", 0.1);
    kc_float(&c, "eps", eps);
    kc_run(&c);
    const int inner = variant == 3 ? 1 : H * W;
    double* want = dalloc(numel(y));
    for (int n = 0; n < N; n++)
      for (int ch = 0; ch < C; ch++)
        for (int i = 0; i < inner; i++) {
          const double v = fdata(x)[(n * C + ch) * inner + i];
          want[(n * C + ch) * inner + i] =
              (v - fdata(mean)[ch]) / sqrt((double)fdata(var)[ch] + eps) *
                  (w ? fdata(w)[ch] : 1.0) +
              (b ? fdata(b)[ch] : 0.0);
        }
    expect_close("batch_norm", fdata(y), want, numel(y));
    if (variant == 2)
      for (int ch = 0; ch < C; ch++) {
        assert_true(fdata(sm)[ch] == fdata(mean)[ch]);
        assert_true(fabs(fdata(si)[ch] - 1.0 / sqrt((double)fdata(var)[ch] + eps)) < 1e-5);
      }
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.native_batch_norm");
  kc_in(&c, F32(4, 1, 3, 2, 2));
  kc_in(&c, F32(1, 3));
  kc_in(&c, F32(1, 3));
  kc_in(&c, F32(1, 3));
  kc_in(&c, F32(1, 3));
  kc_out(&c, F32(4, 1, 3, 2, 2));
  kc_out(&c, F32(1, 3));
  kc_out(&c, F32(1, 3));
  kc_bool(&c, "training", true);
  kc_expect_error(&c, XNND_UNSUPPORTED, "training=true is not supported");
  kc_free(&c);
  kc_init(&c, "aten.native_batch_norm");
  kc_in(&c, F32(4, 1, 3, 2, 2));
  kc_in(&c, F32(1, 4));
  kc_in(&c, NULL);
  kc_in(&c, F32(1, 3));
  kc_in(&c, F32(1, 3));
  kc_out(&c, F32(4, 1, 3, 2, 2));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "weight has 4 entries, input has 3 channels");
  kc_free(&c);
}

/* ---------------------------------------------------------------- elementwise */

typedef enum { R_RELU, R_HARDTANH, R_CLAMP_LO, R_CLAMP_HI, R_CLAMP, R_SIGMOID, R_TANH,
               R_HARDSWISH, R_HARDSIGMOID, R_SILU, R_GELU, R_GELU_TANH, R_CLONE, R_DROPOUT,
               R_COUNT } unary_case;

static double relu6(double v) { return v < 0 ? 0 : v > 6 ? 6 : v; }

static double unary_ref(unary_case u, double v) {
  switch (u) {
    case R_RELU: return v > 0 ? v : 0;
    case R_HARDTANH: return v < -0.5 ? -0.5 : v > 2.0 ? 2.0 : v;
    case R_CLAMP_LO: return v < 0.25 ? 0.25 : v;
    case R_CLAMP_HI: return v > -1.0 ? -1.0 : v;
    case R_CLAMP: return v < -2.0 ? -2.0 : v > 3.0 ? 3.0 : v;
    case R_SIGMOID: return 1.0 / (1.0 + exp(-v));
    case R_TANH: return tanh(v);
    case R_HARDSWISH: return v * relu6(v + 3) / 6;
    case R_HARDSIGMOID: return relu6(v + 3) / 6;
    case R_SILU: return v / (1.0 + exp(-v));
    case R_GELU: return 0.5 * v * (1.0 + erf(v / sqrt(2.0)));
    case R_GELU_TANH:
      return 0.5 * v * (1.0 + tanh(sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v)));
    default: return v;
  }
}

static void unary_setup(kc* c, unary_case u) {
  static const char* const names[R_COUNT] = {
      "aten.relu", "aten.hardtanh", "aten.clamp", "aten.clamp", "aten.clamp", "aten.sigmoid",
      "aten.tanh", "aten.hardswish", "aten.hardsigmoid", "aten.silu", "aten.gelu", "aten.gelu",
      "aten.clone", "aten.dropout"};
  kc_init(c, names[u]);
  switch (u) {
    case R_HARDTANH: kc_float(c, "min_val", -0.5); kc_float(c, "max_val", 2.0); break;
    case R_CLAMP_LO: kc_float(c, "min", 0.25); kc_none(c, "max"); break;
    case R_CLAMP_HI: kc_float(c, "max", -1.0); break;
    case R_CLAMP: kc_int(c, "min", -2); kc_float(c, "max", 3.0); break;
    case R_GELU: kc_int(c, "approximate", 0); break;
    case R_GELU_TANH: kc_int(c, "approximate", 1); break;
    case R_DROPOUT: kc_float(c, "p", 0.3); kc_bool(c, "train", false); break;
    default: break;
  }
}

static void test_unary(void** state) {
  (void)state;
  rng r = {11};
  for (int u = 0; u < R_COUNT; u++) {
    for (int iter = 0; iter < 3; iter++) {
      const int rank = iter;
      int64_t d[3] = {3, 5, 7};
      kc c;
      unary_setup(&c, (unary_case)u);
      xnnd_tensor* x = kc_in(&c, tens(XNND_F32, (uint32_t)rank, d));
      xnnd_tensor* y = kc_out(&c, tens(XNND_F32, (uint32_t)rank, d));
      fill_random(x, &r, -8, 8);
      if (numel(x) > 4) {
        /* Points where the piecewise definitions switch. */
        fdata(x)[0] = -3.0f;
        fdata(x)[1] = 3.0f;
        fdata(x)[2] = 0.0f;
        fdata(x)[3] = -90.0f;
        fdata(x)[4] = 90.0f;
      }
      kc_run(&c);
      double* want = dalloc(numel(y));
      for (size_t i = 0; i < numel(y); i++) want[i] = unary_ref((unary_case)u, fdata(x)[i]);
      expect_close(c.op, fdata(y), want, numel(y));
      free(want);
      kc_free(&c);
    }
  }
  /* Exact values. */
  kc c;
  unary_setup(&c, R_HARDSWISH);
  xnnd_tensor* x = kc_in(&c, F32(1, 4));
  xnnd_tensor* y = kc_out(&c, F32(1, 4));
  const float xs[4] = {-3, 3, 0, 1.5f}, ys[4] = {0, 3, 0, 1.125f};
  memcpy(fdata(x), xs, sizeof(xs));
  kc_run(&c);
  expect_exact("hardswish", fdata(y), ys, 4);
  kc_free(&c);

  kc_init(&c, "aten.relu");
  kc_in(&c, F32(1, 4));
  kc_out(&c, F32(1, 5));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "aten.relu: out has shape [5], expected [4]");
  kc_free(&c);
  kc_init(&c, "aten.gelu");
  kc_in(&c, F32(1, 4));
  kc_out(&c, F32(1, 4));
  kc_int(&c, "approximate", 2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "approximate must be 0 (none) or 1 (tanh)");
  kc_free(&c);
  kc_init(&c, "aten.dropout");
  kc_in(&c, F32(1, 4));
  kc_out(&c, F32(1, 4));
  kc_bool(&c, "train", true);
  kc_expect_error(&c, XNND_UNSUPPORTED, "train=true is not supported");
  kc_free(&c);
  kc_init(&c, "aten.clamp");
  kc_in(&c, F32(1, 4));
  kc_out(&c, F32(1, 4));
  kc_none(&c, "min");
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "at least one of min and max");
  kc_free(&c);
  kc_init(&c, "aten.sigmoid");
  kc_in(&c, tens(XNND_I64, 1, DIMS(4)));
  kc_out(&c, F32(1, 4));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "self has dtype i64, expected f32");
  kc_free(&c);
}

static void test_binary(void** state) {
  (void)state;
  static const char* const ops[4] = {"aten.add", "aten.sub", "aten.mul", "aten.div"};
  rng r = {12};
  for (int iter = 0; iter < 80; iter++) {
    const int op = iter % 4;
    const uint32_t rank = (uint32_t)rng_int(&r, 0, 5);
    int64_t od[XNND_MAX_RANK], ad[XNND_MAX_RANK], bd[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) od[i] = rng_int(&r, 1, 4);
    /* Each operand: drop some leading dims, set some dims to 1. */
    const uint32_t ar = (uint32_t)rng_int(&r, 0, (int)rank), br = (iter % 3 == 0) ? rank
                                                                 : (uint32_t)rng_int(&r, 0, (int)rank);
    for (uint32_t i = 0; i < ar; i++) ad[i] = rng_int(&r, 0, 2) ? od[rank - ar + i] : 1;
    for (uint32_t i = 0; i < br; i++) bd[i] = rng_int(&r, 0, 2) ? od[rank - br + i] : 1;
    /* The output is the broadcast of the two, of rank max(ar, br). */
    const uint32_t yr = ar > br ? ar : br;
    for (uint32_t i = 0; i < yr; i++) {
      const int64_t va = i >= yr - ar ? ad[i - (yr - ar)] : 1;
      const int64_t vb = i >= yr - br ? bd[i - (yr - br)] : 1;
      od[i] = va > vb ? va : vb;
    }
    kc c;
    kc_init(&c, ops[op]);
    xnnd_tensor* a = kc_in(&c, tens(XNND_F32, ar, ad));
    xnnd_tensor* b = kc_in(&c, tens(XNND_F32, br, bd));
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, yr, od));
    fill_random(a, &r, -2, 2);
    fill_random(b, &r, 0.5f, 2);
    for (size_t i = 0; i < numel(b); i++)
      if (rng_bool(&r)) fdata(b)[i] = -fdata(b)[i];
    const double alpha = op < 2 ? (iter % 8 < 4 ? 1.0 : -0.75) : 1.0;
    if (op < 2 && alpha != 1.0) kc_float(&c, "alpha", alpha);
    kc_run(&c);
    double* want = dalloc(numel(y));
    int64_t idx[XNND_MAX_RANK] = {0};
    for (size_t o = 0; o < numel(y); o++) {
      size_t ia = 0, ib = 0;
      for (uint32_t i = 0; i < yr; i++) {
        if (i >= yr - ar) {
          const int64_t d = ad[i - (yr - ar)];
          ia = ia * (size_t)d + (size_t)(d == 1 ? 0 : idx[i]);
        }
        if (i >= yr - br) {
          const int64_t d = bd[i - (yr - br)];
          ib = ib * (size_t)d + (size_t)(d == 1 ? 0 : idx[i]);
        }
      }
      const double va = fdata(a)[ia], vb = fdata(b)[ib];
      want[o] = op == 0 ? va + alpha * vb : op == 1 ? va - alpha * vb : op == 2 ? va * vb : va / vb;
      for (uint32_t i = yr; i-- > 0;) {
        if (++idx[i] < od[i]) break;
        idx[i] = 0;
      }
    }
    char what[64];
    snprintf(what, sizeof(what), "%s iter %d", ops[op], iter);
    expect_close(what, fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  /* Exact: [2,1] + [3] with alpha 2. */
  kc c;
  kc_init(&c, "aten.add");
  xnnd_tensor* a = kc_in(&c, F32(2, 2, 1));
  xnnd_tensor* b = kc_in(&c, F32(1, 3));
  xnnd_tensor* y = kc_out(&c, F32(2, 2, 3));
  fdata(a)[0] = 10;
  fdata(a)[1] = 20;
  fdata(b)[0] = 1;
  fdata(b)[1] = 2;
  fdata(b)[2] = 3;
  kc_float(&c, "alpha", 2.0);
  kc_run(&c);
  const float want[6] = {12, 14, 16, 22, 24, 26};
  expect_exact("add broadcast", fdata(y), want, 6);
  kc_free(&c);

  kc_init(&c, "aten.mul");
  kc_in(&c, F32(2, 2, 3));
  kc_in(&c, F32(1, 2));
  kc_out(&c, F32(2, 2, 3));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self [2,3] and other [2] do not broadcast");
  kc_free(&c);
  kc_init(&c, "aten.div");
  kc_in(&c, F32(2, 2, 3));
  kc_in(&c, F32(1, 3));
  kc_out(&c, F32(2, 3, 3));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "out has shape [3,3], expected [2,3]");
  kc_free(&c);
}

/* The binary kernel over integer/bool dtypes: floor division, mixed dtypes, the refusals and
 * integer division by zero (run fails, nothing aborts). */
static void test_binary_int(void** state) {
  (void)state;
  static const int64_t d4[1] = {4};
  kc c;
  kc_init(&c, "aten.div_mode");
  xnnd_tensor* a = kc_in(&c, tens(XNND_I32, 1, d4));
  xnnd_tensor* b = kc_in(&c, tens(XNND_I32, 1, d4));
  xnnd_tensor* y = kc_out(&c, tens(XNND_I32, 1, d4));
  kc_int(&c, "rounding_mode", 1);
  const int32_t av[4] = {-7, 7, -7, 7}, bv[4] = {2, -2, -2, 2}, want[4] = {-4, -4, 3, 3};
  memcpy(a->data, av, sizeof(av));
  memcpy(b->data, bv, sizeof(bv));
  kc_run(&c);
  assert_memory_equal(y->data, want, sizeof(want));
  ((int32_t*)b->data)[2] = 0;
  assert_int_equal(c.k->run(&c.args, c.params), XNND_INVALID_ARGUMENT);
  kc_free(&c);

  /* an integral alpha beyond int64 is refused at prepare (the fuzzer's -5.49e303) */
  kc_init(&c, "aten.add");
  kc_in(&c, tens(XNND_I64, 1, d4));
  kc_in(&c, tens(XNND_I64, 1, d4));
  kc_out(&c, tens(XNND_I64, 1, d4));
  kc_float(&c, "alpha", -5.48612e303);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "alpha -5.48612e+303 does not fit int64");
  kc_free(&c);

  /* i32 [4] + f32 rank-0 computes in float */
  kc_init(&c, "aten.add");
  a = kc_in(&c, tens(XNND_I32, 1, d4));
  b = kc_in(&c, tens(XNND_F32, 0, NULL));
  y = kc_out(&c, tens(XNND_F32, 1, d4));
  memcpy(a->data, av, sizeof(av));
  fdata(b)[0] = 0.5f;
  kc_run(&c);
  const float fwant[4] = {-6.5f, 7.5f, -6.5f, 7.5f};
  expect_exact("i32 + f32 scalar", fdata(y), fwant, 4);
  kc_free(&c);

  kc_init(&c, "aten.bitwise_and");
  kc_in(&c, tens(XNND_F32, 1, d4));
  kc_in(&c, tens(XNND_I32, 1, d4));
  kc_out(&c, tens(XNND_F32, 1, d4));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "operands must be integer or bool, not f32");
  kc_free(&c);
  kc_init(&c, "aten.where");
  kc_in(&c, tens(XNND_F32, 1, d4));
  kc_in(&c, tens(XNND_F32, 1, d4));
  kc_in(&c, tens(XNND_F32, 1, d4));
  kc_out(&c, tens(XNND_F32, 1, d4));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "condition has dtype f32, expected bool");
  kc_free(&c);
  kc_init(&c, "aten.eq");
  kc_in(&c, tens(XNND_I64, 1, d4));
  kc_in(&c, tens(XNND_I32, 0, NULL));
  kc_out(&c, tens(XNND_F32, 1, d4));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "out has dtype f32, expected bool");
  kc_free(&c);
  kc_init(&c, "aten.maximum");
  kc_in(&c, tens(XNND_F16, 1, d4));
  kc_in(&c, tens(XNND_F16, 1, d4));
  kc_out(&c, tens(XNND_F16, 1, d4));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "self has dtype f16; expected f32, i8, u8, i32, i64 or bool");
  kc_free(&c);
}

/* ---------------------------------------------------------------- pooling */

typedef struct pool_cfg {
  int n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw;
  bool ceil, include_pad;
  int divisor;
} pool_cfg;

static int pool_out(int in, int k, int s, int p, int d, bool ceil_mode) {
  const double span = (double)(in + 2 * p - d * (k - 1) - 1) / s;
  int out = (int)(ceil_mode ? ceil(span) : floor(span)) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) out--;
  return out;
}

static void maxpool_check(const pool_cfg* g, bool with_indices, uint64_t seed) {
  rng r = {seed};
  const int OH = pool_out(g->h, g->kh, g->sh, g->ph, g->dh, g->ceil);
  const int OW = pool_out(g->w, g->kw, g->sw, g->pw, g->dw, g->ceil);
  kc c;
  kc_init(&c, with_indices ? "aten.max_pool2d_with_indices" : "aten.max_pool2d");
  xnnd_tensor* x = kc_in(&c, F32(4, g->n, g->c, g->h, g->w));
  xnnd_tensor* y = kc_out(&c, F32(4, g->n, g->c, OH, OW));
  xnnd_tensor* ind = with_indices ? kc_out(&c, tens(XNND_I64, 4, DIMS(g->n, g->c, OH, OW))) : NULL;
  fill_random(x, &r, -5, 5);
  kc_pair(&c, "kernel_size", g->kh, g->kw);
  kc_pair(&c, "stride", g->sh, g->sw);
  kc_pair(&c, "padding", g->ph, g->pw);
  kc_pair(&c, "dilation", g->dh, g->dw);
  kc_bool(&c, "ceil_mode", g->ceil);
  kc_run(&c);
  double* want = dalloc(numel(y));
  for (int pl = 0; pl < g->n * g->c; pl++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        double best = -INFINITY;
        int64_t bi = -1;
        for (int i = 0; i < g->kh; i++)
          for (int j = 0; j < g->kw; j++) {
            const int ih = oh * g->sh - g->ph + i * g->dh, iw = ow * g->sw - g->pw + j * g->dw;
            if (ih < 0 || iw < 0 || ih >= g->h || iw >= g->w) continue;
            const double v = fdata(x)[(pl * g->h + ih) * g->w + iw];
            if (v > best) {
              best = v;
              bi = ih * g->w + iw;
            }
          }
        const int o = (pl * OH + oh) * OW + ow;
        want[o] = best;
        if (ind && ((int64_t*)ind->data)[o] != bi)
          fail_msg("max_pool2d index %d is %lld, expected %lld", o,
                   (long long)((int64_t*)ind->data)[o], (long long)bi);
      }
  expect_close(c.op, fdata(y), want, numel(y));
  free(want);
  kc_free(&c);
}

static void avgpool_check(const pool_cfg* g, uint64_t seed) {
  rng r = {seed};
  const int OH = pool_out(g->h, g->kh, g->sh, g->ph, 1, g->ceil);
  const int OW = pool_out(g->w, g->kw, g->sw, g->pw, 1, g->ceil);
  kc c;
  kc_init(&c, "aten.avg_pool2d");
  xnnd_tensor* x = kc_in(&c, F32(4, g->n, g->c, g->h, g->w));
  xnnd_tensor* y = kc_out(&c, F32(4, g->n, g->c, OH, OW));
  fill_random(x, &r, -5, 5);
  kc_pair(&c, "kernel_size", g->kh, g->kw);
  kc_pair(&c, "stride", g->sh, g->sw);
  kc_pair(&c, "padding", g->ph, g->pw);
  kc_bool(&c, "ceil_mode", g->ceil);
  kc_bool(&c, "count_include_pad", g->include_pad);
  if (g->divisor)
    kc_int(&c, "divisor_override", g->divisor);
  else
    kc_none(&c, "divisor_override");
  kc_run(&c);
  double* want = dalloc(numel(y));
  for (int pl = 0; pl < g->n * g->c; pl++)
    for (int oh = 0; oh < OH; oh++)
      for (int ow = 0; ow < OW; ow++) {
        double sum = 0;
        int inside = 0, padded = 0;
        for (int i = 0; i < g->kh; i++)
          for (int j = 0; j < g->kw; j++) {
            const int ih = oh * g->sh - g->ph + i, iw = ow * g->sw - g->pw + j;
            if (ih < g->h + g->ph && iw < g->w + g->pw) padded++; /* inside input + padding */
            if (ih < 0 || iw < 0 || ih >= g->h || iw >= g->w) continue;
            sum += fdata(x)[(pl * g->h + ih) * g->w + iw];
            inside++;
          }
        const int div = g->divisor ? g->divisor : g->include_pad ? padded : inside;
        want[(pl * OH + oh) * OW + ow] = inside ? sum / div : 0.0;
      }
  expect_close(c.op, fdata(y), want, numel(y));
  free(want);
  kc_free(&c);
}

static void test_pool_random(void** state) {
  (void)state;
  rng r = {13};
  int done = 0;
  while (done < 80) {
    pool_cfg g = {0};
    g.n = rng_int(&r, 1, 2);
    g.c = rng_int(&r, 1, 3);
    g.kh = rng_int(&r, 1, 4);
    g.kw = rng_int(&r, 1, 4);
    g.sh = rng_int(&r, 1, 3);
    g.sw = rng_int(&r, 1, 3);
    g.ph = rng_int(&r, 0, g.kh / 2);
    g.pw = rng_int(&r, 0, g.kw / 2);
    g.dh = done % 2 ? rng_int(&r, 1, 2) : 1;
    g.dw = done % 2 ? rng_int(&r, 1, 2) : 1;
    g.h = rng_int(&r, 1, 9);
    g.w = rng_int(&r, 1, 9);
    g.ceil = rng_bool(&r);
    g.include_pad = rng_bool(&r);
    g.divisor = rng_int(&r, 0, 3) == 0 ? rng_int(&r, 1, 7) : 0;
    if (pool_out(g.h, g.kh, g.sh, g.ph, g.dh, g.ceil) < 1 ||
        pool_out(g.w, g.kw, g.sw, g.pw, g.dw, g.ceil) < 1 ||
        pool_out(g.h, g.kh, g.sh, g.ph, 1, g.ceil) < 1 ||
        pool_out(g.w, g.kw, g.sw, g.pw, 1, g.ceil) < 1)
      continue;
    maxpool_check(&g, done % 3 != 0, 2000 + (uint64_t)done);
    avgpool_check(&g, 3000 + (uint64_t)done);
    done++;
  }
}

static void test_pool_hand(void** state) {
  (void)state;
  /* max_pool2d_with_indices 2x2/2 on a 4x4 plane: values and PyTorch flat h*W+w indices. */
  kc c;
  kc_init(&c, "aten.max_pool2d_with_indices");
  xnnd_tensor* x = kc_in(&c, F32(3, 1, 4, 4));
  xnnd_tensor* y = kc_out(&c, F32(3, 1, 2, 2));
  xnnd_tensor* ind = kc_out(&c, tens(XNND_I64, 3, DIMS(1, 2, 2)));
  const float xs[16] = {1, 5, 2, 0, 3, 4, 8, 8, -1, -2, -7, -9, -3, -1, -8, -6};
  memcpy(fdata(x), xs, sizeof(xs));
  kc_pair(&c, "kernel_size", 2, 2);
  kc_ints(&c, "stride", 0, NULL); /* empty: stride = kernel_size */
  kc_run(&c);
  const float want[4] = {5, 8, -1, -6};
  expect_exact("max_pool2d", fdata(y), want, 4);
  const int64_t* got = ind->data;
  assert_int_equal(got[0], 1);
  assert_int_equal(got[1], 6); /* first of two equal maxima */
  assert_int_equal(got[2], 8);
  assert_int_equal(got[3], 15);
  kc_free(&c);

  /* avg_pool2d 3x3/2 pad 1 on 5x5 ones, count_include_pad false: all ones; true: corners 4/9. */
  for (int inc = 0; inc < 2; inc++) {
    kc_init(&c, "aten.avg_pool2d");
    x = kc_in(&c, F32(4, 1, 1, 5, 5));
    y = kc_out(&c, F32(4, 1, 1, 3, 3));
    for (int i = 0; i < 25; i++) fdata(x)[i] = 1.0f;
    kc_pair(&c, "kernel_size", 3, 3);
    kc_pair(&c, "stride", 2, 2);
    kc_pair(&c, "padding", 1, 1);
    kc_bool(&c, "count_include_pad", inc);
    kc_run(&c);
    const float c4 = inc ? 4.0f / 9.0f : 1.0f, e6 = inc ? 6.0f / 9.0f : 1.0f;
    const float want2[9] = {c4, e6, c4, e6, 1, e6, c4, e6, c4};
    expect_exact("avg_pool2d", fdata(y), want2, 9);
    kc_free(&c);
  }
}

static void test_adaptive_avg_pool(void** state) {
  (void)state;
  /* PyTorch: 7 -> 3 uses windows [0,3), [2,5), [4,7). x[h][w] = 7h + w gives 7*{1,3,5}+{1,3,5}. */
  kc c;
  kc_init(&c, "aten.adaptive_avg_pool2d");
  xnnd_tensor* x = kc_in(&c, F32(3, 1, 7, 7));
  xnnd_tensor* y = kc_out(&c, F32(3, 1, 3, 3));
  for (int i = 0; i < 49; i++) fdata(x)[i] = (float)i;
  kc_pair(&c, "output_size", 3, 3);
  kc_run(&c);
  const float want[9] = {8, 10, 12, 22, 24, 26, 36, 38, 40};
  expect_exact("adaptive 7->3", fdata(y), want, 9);
  kc_free(&c);

  rng r = {14};
  for (int iter = 0; iter < 20; iter++) {
    const int N = rng_int(&r, 1, 2), C = rng_int(&r, 1, 3), H = rng_int(&r, 1, 11),
              W = rng_int(&r, 1, 11), OH = rng_int(&r, 1, 7), OW = rng_int(&r, 1, 7);
    kc_init(&c, "aten.adaptive_avg_pool2d");
    x = kc_in(&c, F32(4, N, C, H, W));
    y = kc_out(&c, F32(4, N, C, OH, OW));
    fill_random(x, &r, -3, 3);
    kc_pair(&c, "output_size", OH, OW);
    kc_run(&c);
    double* ref = dalloc(numel(y));
    for (int pl = 0; pl < N * C; pl++)
      for (int oh = 0; oh < OH; oh++)
        for (int ow = 0; ow < OW; ow++) {
          const int h0 = (int)floor((double)oh * H / OH), h1 = (int)ceil((double)(oh + 1) * H / OH);
          const int w0 = (int)floor((double)ow * W / OW), w1 = (int)ceil((double)(ow + 1) * W / OW);
          double s = 0;
          for (int i = h0; i < h1; i++)
            for (int j = w0; j < w1; j++) s += fdata(x)[(pl * H + i) * W + j];
          ref[(pl * OH + oh) * OW + ow] = s / ((h1 - h0) * (w1 - w0));
        }
    expect_close("adaptive_avg_pool2d", fdata(y), ref, numel(y));
    free(ref);
    kc_free(&c);
  }
}

static void test_pool_errors(void** state) {
  (void)state;
  kc c;
  kc_init(&c, "aten.max_pool2d");
  kc_in(&c, F32(4, 1, 1, 8, 8));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  kc_pair(&c, "kernel_size", 2, 2);
  kc_pair(&c, "stride", 2, 2);
  kc_pair(&c, "padding", 2, 0);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "padding 2 must be between 0 and half the kernel");
  kc_free(&c);
  kc_init(&c, "aten.max_pool2d");
  kc_in(&c, F32(4, 1, 1, 8, 8));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "attribute kernel_size is missing");
  kc_free(&c);
  kc_init(&c, "aten.max_pool2d_with_indices");
  kc_in(&c, F32(4, 1, 1, 8, 8));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  kc_pair(&c, "kernel_size", 2, 2);
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "indices has dtype f32, expected i64");
  kc_free(&c);
  kc_init(&c, "aten.avg_pool2d");
  kc_in(&c, F32(4, 1, 1, 8, 8));
  kc_out(&c, F32(4, 1, 1, 5, 5));
  kc_pair(&c, "kernel_size", 3, 3);
  kc_pair(&c, "stride", 2, 2);
  kc_pair(&c, "padding", 1, 1);
  kc_bool(&c, "ceil_mode", false);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "out has shape [1,1,5,5], expected [1,1,4,4]");
  kc_free(&c);
  kc_init(&c, "aten.avg_pool2d");
  kc_in(&c, F32(4, 1, 1, 8, 8));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  kc_pair(&c, "kernel_size", 2, 2);
  kc_int(&c, "divisor_override", 0);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "divisor_override must be non-zero");
  kc_free(&c);
  kc_init(&c, "aten.adaptive_avg_pool2d");
  kc_in(&c, F32(2, 8, 8));
  kc_out(&c, F32(2, 1, 1));
  kc_pair(&c, "output_size", 1, 1);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self has rank 2, expected 3");
  kc_free(&c);
}

/* ---------------------------------------------------------------- mean, softmax */

static void test_mean(void** state) {
  (void)state;
  rng r = {15};
  for (int iter = 0; iter < 40; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 0, 5);
    int64_t xd[XNND_MAX_RANK], yd[XNND_MAX_RANK], dims[XNND_MAX_RANK];
    bool red[XNND_MAX_RANK] = {false};
    for (uint32_t i = 0; i < rank; i++) xd[i] = rng_int(&r, 1, 4);
    uint32_t nd = 0;
    for (uint32_t i = 0; i < rank; i++)
      if (rng_bool(&r)) {
        red[i] = true;
        dims[nd++] = rng_bool(&r) ? (int64_t)i : (int64_t)i - (int64_t)rank;
      }
    if (nd == 0)
      for (uint32_t i = 0; i < rank; i++) red[i] = true; /* [] reduces everything */
    const bool keepdim = rng_bool(&r);
    uint32_t yr = 0;
    for (uint32_t i = 0; i < rank; i++)
      if (!red[i] || keepdim) yd[yr++] = red[i] ? 1 : xd[i];
    kc c;
    kc_init(&c, "aten.mean");
    xnnd_tensor* x = kc_in(&c, tens(XNND_F32, rank, xd));
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, yr, yd));
    fill_random(x, &r, -4, 4);
    kc_ints(&c, "dim", nd, dims);
    kc_bool(&c, "keepdim", keepdim);
    kc_run(&c);
    double* want = dalloc(numel(y));
    size_t count = 1;
    for (uint32_t i = 0; i < rank; i++)
      if (red[i]) count *= (size_t)xd[i];
    int64_t idx[XNND_MAX_RANK] = {0};
    for (size_t e = 0; e < numel(x); e++) {
      size_t o = 0;
      for (uint32_t i = 0; i < rank; i++)
        if (!red[i]) o = o * (size_t)xd[i] + (size_t)idx[i];
      want[o] += fdata(x)[e];
      for (uint32_t i = rank; i-- > 0;) {
        if (++idx[i] < xd[i]) break;
        idx[i] = 0;
      }
    }
    for (size_t o = 0; o < numel(y); o++) want[o] /= (double)count;
    expect_close("mean", fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.mean");
  kc_in(&c, F32(3, 2, 3, 4));
  kc_out(&c, F32(1, 2));
  KC_INTS(&c, "dim", 1, -2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dim 1 appears twice");
  kc_free(&c);
  kc_init(&c, "aten.mean");
  kc_in(&c, F32(3, 2, 3, 4));
  kc_out(&c, F32(1, 2));
  KC_INTS(&c, "dim", 3);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dim entry 3 is out of range for rank 3");
  kc_free(&c);
}

static void test_softmax(void** state) {
  (void)state;
  rng r = {16};
  for (int iter = 0; iter < 30; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 0, 4);
    int64_t xd[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) xd[i] = rng_int(&r, 1, 5);
    const int dim = rank ? rng_int(&r, -(int)rank, (int)rank - 1) : rng_int(&r, -1, 0);
    const uint32_t d = (uint32_t)(dim < 0 ? dim + (int)(rank ? rank : 1) : dim);
    kc c;
    kc_init(&c, "aten.softmax");
    xnnd_tensor* x = kc_in(&c, tens(XNND_F32, rank, xd));
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, rank, xd));
    fill_random(x, &r, -30, 30);
    if (iter == 0 && numel(x) > 1) fdata(x)[0] = 1000.0f; /* overflows a naive exp */
    kc_int(&c, "dim", dim);
    kc_bool(&c, "half_to_float", false);
    kc_run(&c);
    size_t outer = 1, n = 1, inner = 1;
    for (uint32_t i = 0; i < rank; i++) {
      if (i < d) outer *= (size_t)xd[i];
      else if (i == d) n = (size_t)xd[i];
      else inner *= (size_t)xd[i];
    }
    double* want = dalloc(numel(y));
    for (size_t o = 0; o < outer; o++)
      for (size_t j = 0; j < inner; j++) {
        double m = -INFINITY, s = 0;
        for (size_t k = 0; k < n; k++) m = fmax(m, fdata(x)[(o * n + k) * inner + j]);
        for (size_t k = 0; k < n; k++) s += exp(fdata(x)[(o * n + k) * inner + j] - m);
        for (size_t k = 0; k < n; k++)
          want[(o * n + k) * inner + j] = exp(fdata(x)[(o * n + k) * inner + j] - m) / s;
      }
    expect_close("softmax", fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.softmax");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  kc_int(&c, "dim", 2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dim 2 is out of range for rank 2");
  kc_free(&c);
  kc_init(&c, "aten.softmax");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "attribute dim is missing");
  kc_free(&c);
}

/* ---------------------------------------------------------------- shape ops */

static void fill_i64(xnnd_tensor* t, int64_t base) {
  int64_t* d = t->data;
  for (size_t i = 0; i < numel(t); i++) d[i] = base + (int64_t)i * 3 - 7;
}

static void test_view_clone(void** state) {
  (void)state;
  for (int dt = 0; dt < 2; dt++) {
    const xnnd_dtype dtype = dt ? XNND_I64 : XNND_F32;
    kc c;
    kc_init(&c, "aten.view");
    xnnd_tensor* x = kc_in(&c, tens(dtype, 3, DIMS(2, 3, 4)));
    xnnd_tensor* y = kc_out(&c, tens(dtype, 2, DIMS(4, 6)));
    if (dt)
      fill_i64(x, 5);
    else
      for (int i = 0; i < 24; i++) fdata(x)[i] = (float)i * 0.5f;
    KC_INTS(&c, "size", 4, 6);
    kc_run(&c);
    assert_memory_equal(x->data, y->data, 24 * xnnd_dtype_size(dtype));
    kc_free(&c);

    kc_init(&c, "aten.clone");
    x = kc_in(&c, tens(dtype, 2, DIMS(3, 5)));
    y = kc_out(&c, tens(dtype, 2, DIMS(3, 5)));
    if (dt)
      fill_i64(x, 1);
    else
      for (int i = 0; i < 15; i++) fdata(x)[i] = (float)i - 3.25f;
    kc_run(&c);
    assert_memory_equal(x->data, y->data, 15 * xnnd_dtype_size(dtype));
    kc_free(&c);
  }
  /* A view sharing its input's buffer is a no-op. */
  kc c;
  kc_init(&c, "aten.view");
  xnnd_tensor* x = kc_in(&c, F32(1, 6));
  xnnd_tensor* y = kc_out(&c, F32(2, 2, 3));
  free(y->data);
  y->data = x->data;
  fdata(x)[5] = 42.0f;
  KC_INTS(&c, "size", 2, 3);
  kc_run(&c);
  assert_true(fdata(y)[5] == 42.0f);
  y->data = NULL;
  kc_free(&c);

  kc_init(&c, "aten.view");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 4, 2));
  KC_INTS(&c, "size", 4, 2);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "size [4,2] has 8 elements, self [2,3] has 6");
  kc_free(&c);
  kc_init(&c, "aten.view");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(1, 6));
  KC_INTS(&c, "size", 3, 2);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "out has shape [6], expected [3,2]");
  kc_free(&c);
  kc_init(&c, "aten.view");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(1, 6));
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "attribute size is missing");
  kc_free(&c);
}

static void test_permute_t(void** state) {
  (void)state;
  rng r = {17};
  for (int iter = 0; iter < 30; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 0, 6);
    const xnnd_dtype dtype = iter % 3 == 0 ? XNND_I64 : XNND_F32;
    int64_t xd[XNND_MAX_RANK], yd[XNND_MAX_RANK], perm[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) {
      xd[i] = rng_int(&r, 1, 4);
      perm[i] = i;
    }
    for (uint32_t i = rank; i > 1; i--) { /* Fisher-Yates */
      const uint32_t j = rng_u32(&r) % i;
      const int64_t t = perm[i - 1];
      perm[i - 1] = perm[j];
      perm[j] = t;
    }
    for (uint32_t i = 0; i < rank; i++) yd[i] = xd[perm[i]];
    kc c;
    kc_init(&c, "aten.permute");
    xnnd_tensor* x = kc_in(&c, tens(dtype, rank, xd));
    xnnd_tensor* y = kc_out(&c, tens(dtype, rank, yd));
    if (dtype == XNND_I64)
      fill_i64(x, iter);
    else
      fill_random(x, &r, -1, 1);
    int64_t pd[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) pd[i] = rng_bool(&r) ? perm[i] : perm[i] - (int64_t)rank;
    kc_ints(&c, "dims", rank, pd);
    kc_run(&c);
    int64_t in_stride[XNND_MAX_RANK];
    int64_t s = 1;
    for (uint32_t i = rank; i-- > 0;) {
      in_stride[i] = s;
      s *= xd[i];
    }
    int64_t idx[XNND_MAX_RANK] = {0};
    const size_t es = xnnd_dtype_size(dtype);
    for (size_t o = 0; o < numel(y); o++) {
      size_t src = 0;
      for (uint32_t i = 0; i < rank; i++) src += (size_t)(idx[i] * in_stride[perm[i]]);
      if (memcmp((char*)y->data + o * es, (char*)x->data + src * es, es) != 0)
        fail_msg("permute iter %d: element %zu differs", iter, o);
      for (uint32_t i = rank; i-- > 0;) {
        if (++idx[i] < yd[i]) break;
        idx[i] = 0;
      }
    }
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.t");
  xnnd_tensor* x = kc_in(&c, F32(2, 2, 3));
  xnnd_tensor* y = kc_out(&c, F32(2, 3, 2));
  for (int i = 0; i < 6; i++) fdata(x)[i] = (float)i;
  kc_run(&c);
  const float want[6] = {0, 3, 1, 4, 2, 5};
  expect_exact("t", fdata(y), want, 6);
  kc_free(&c);
  kc_init(&c, "aten.t");
  x = kc_in(&c, F32(1, 4));
  y = kc_out(&c, F32(1, 4));
  for (int i = 0; i < 4; i++) fdata(x)[i] = (float)i;
  kc_run(&c);
  expect_exact("t 1-d", fdata(y), fdata(x), 4);
  kc_free(&c);

  kc_init(&c, "aten.permute");
  kc_in(&c, F32(3, 2, 3, 4));
  kc_out(&c, F32(3, 2, 3, 4));
  KC_INTS(&c, "dims", 0, 1, -2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dims repeats dim 1");
  kc_free(&c);
  kc_init(&c, "aten.permute");
  kc_in(&c, F32(3, 2, 3, 4));
  kc_out(&c, F32(3, 2, 3, 4));
  KC_INTS(&c, "dims", 0, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dims has 2 entries, self has rank 3");
  kc_free(&c);
  kc_init(&c, "aten.t");
  kc_in(&c, F32(3, 2, 3, 4));
  kc_out(&c, F32(3, 2, 3, 4));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self has rank 3, expected at most 2");
  kc_free(&c);
}

static void test_cat(void** state) {
  (void)state;
  rng r = {18};
  for (int iter = 0; iter < 30; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 1, 4);
    const uint32_t d = (uint32_t)rng_int(&r, 0, (int)rank - 1);
    const int count = rng_int(&r, 1, 4);
    const xnnd_dtype dtype = iter % 2 ? XNND_I64 : XNND_F32;
    const size_t es = xnnd_dtype_size(dtype);
    int64_t base[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) base[i] = rng_int(&r, 1, 3);
    kc c;
    kc_init(&c, "aten.cat");
    int64_t total = 0, sizes[4];
    for (int k = 0; k < count; k++) {
      int64_t dims[XNND_MAX_RANK];
      memcpy(dims, base, sizeof(dims));
      dims[d] = sizes[k] = rng_int(&r, 0, 3);
      total += sizes[k];
      xnnd_tensor* t = kc_in(&c, tens(dtype, rank, dims));
      if (dtype == XNND_I64)
        fill_i64(t, 100 * k);
      else
        fill_random(t, &r, -1, 1);
    }
    int64_t yd[XNND_MAX_RANK];
    memcpy(yd, base, sizeof(yd));
    yd[d] = total;
    xnnd_tensor* y = kc_out(&c, tens(dtype, rank, yd));
    kc_int(&c, "dim", rng_bool(&r) ? (int64_t)d : (int64_t)d - (int64_t)rank);
    kc_run(&c);
    /* Reference: element (pre, j, post) of the output comes from the input owning row j. */
    size_t pre = 1, post = 1;
    for (uint32_t i = 0; i < d; i++) pre *= (size_t)base[i];
    for (uint32_t i = d + 1; i < rank; i++) post *= (size_t)base[i];
    for (size_t p = 0; p < pre; p++)
      for (int64_t j = 0; j < total; j++)
        for (size_t q = 0; q < post; q++) {
          int k = 0;
          int64_t jj = j;
          while (jj >= sizes[k]) jj -= sizes[k++];
          const size_t src = (p * (size_t)sizes[k] + (size_t)jj) * post + q;
          const size_t dst = (p * (size_t)total + (size_t)j) * post + q;
          if (memcmp((char*)y->data + dst * es, (char*)c.in[k]->data + src * es, es) != 0)
            fail_msg("cat iter %d: element %zu differs", iter, dst);
        }
    kc_free(&c);
  }
  /* Legacy: a 1-D empty input is skipped whatever the other shapes. */
  kc c;
  kc_init(&c, "aten.cat");
  kc_in(&c, F32(1, 0));
  xnnd_tensor* a = kc_in(&c, F32(2, 2, 2));
  xnnd_tensor* y = kc_out(&c, F32(2, 2, 2));
  for (int i = 0; i < 4; i++) fdata(a)[i] = (float)i + 1;
  kc_int(&c, "dim", 1);
  kc_run(&c);
  expect_exact("cat legacy empty", fdata(y), fdata(a), 4);
  kc_free(&c);

  kc_init(&c, "aten.cat");
  kc_in(&c, F32(2, 2, 3));
  kc_in(&c, F32(2, 3, 3));
  kc_out(&c, F32(2, 2, 6));
  kc_int(&c, "dim", 1);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "tensors[1] has shape [3,3], incompatible with [2,3]");
  kc_free(&c);
  /* mixed dtypes promote as PyTorch's: f32 with i64 and bool gives f32 */
  kc_init(&c, "aten.cat");
  xnnd_tensor* mf = kc_in(&c, F32(2, 1, 2));
  xnnd_tensor* mi = kc_in(&c, tens(XNND_I64, 2, DIMS(1, 2)));
  xnnd_tensor* mb = kc_in(&c, tens(XNND_BOOL, 2, DIMS(1, 1)));
  y = kc_out(&c, F32(2, 1, 5));
  kc_int(&c, "dim", 1);
  fdata(mf)[0] = 0.5f, fdata(mf)[1] = -1.5f;
  ((int64_t*)mi->data)[0] = -7, ((int64_t*)mi->data)[1] = 1 << 20;
  ((uint8_t*)mb->data)[0] = 1;
  kc_run(&c);
  const float mixed[5] = {0.5f, -1.5f, -7.0f, 1048576.0f, 1.0f};
  expect_exact("cat mixed dtypes", fdata(y), mixed, 5);
  kc_free(&c);
  kc_init(&c, "aten.cat");
  kc_in(&c, tens(XNND_U8, 2, DIMS(2, 3)));
  kc_in(&c, tens(XNND_I8, 2, DIMS(2, 3)));
  kc_out(&c, tens(XNND_I8, 2, DIMS(4, 3)));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "tensors mix u8 and i8, which promote to i16");
  kc_free(&c);
  kc_init(&c, "aten.cat");
  kc_in(&c, F32(2, 2, 3));
  kc_in(&c, tens(XNND_I64, 2, DIMS(2, 3)));
  kc_out(&c, tens(XNND_I64, 2, DIMS(4, 3)));
  kc_expect_error(&c, XNND_DTYPE_MISMATCH, "out has dtype i64, expected f32");
  kc_free(&c);
}

/* Core ATen coverage, shape family: the integer pad value cast, and prepare()'s refusals. */
static void test_shape_family(void** state) {
  (void)state;
  kc c;
  /* constant_pad_nd on i32 and u8: value 3.7 truncates to 3, -1.5 wraps to 255 in u8 */
  kc_init(&c, "aten.constant_pad_nd");
  xnnd_tensor* x = kc_in(&c, tens(XNND_I32, 1, DIMS(2)));
  xnnd_tensor* y = kc_out(&c, tens(XNND_I32, 1, DIMS(4)));
  ((int32_t*)x->data)[0] = -5, ((int32_t*)x->data)[1] = 9;
  KC_INTS(&c, "pad", 1, 1);
  kc_float(&c, "value", 3.7);
  kc_run(&c);
  const int32_t want_i32[4] = {3, -5, 9, 3};
  assert_memory_equal(y->data, want_i32, sizeof(want_i32));
  kc_free(&c);
  kc_init(&c, "aten.constant_pad_nd");
  x = kc_in(&c, tens(XNND_U8, 1, DIMS(1)));
  y = kc_out(&c, tens(XNND_U8, 1, DIMS(3)));
  ((uint8_t*)x->data)[0] = 7;
  KC_INTS(&c, "pad", 2, 0);
  kc_float(&c, "value", -1.5);
  kc_run(&c);
  const uint8_t want_u8[3] = {255, 255, 7};
  assert_memory_equal(y->data, want_u8, sizeof(want_u8));
  kc_free(&c);

  kc_init(&c, "aten.reflection_pad1d");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 7));
  KC_INTS(&c, "padding", 3, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "padding (3, 1) must be less than the size 3 of dim 1");
  kc_free(&c);
  kc_init(&c, "aten.replication_pad2d");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  KC_INTS(&c, "padding", 0, 0);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "padding has 2 entries, expected 4");
  kc_free(&c);
  kc_init(&c, "aten.replication_pad1d");
  kc_in(&c, F32(2, 2, 0));
  kc_out(&c, F32(2, 2, 2));
  KC_INTS(&c, "padding", 1, 1);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self has size 0 in padded dim 1");
  kc_free(&c);
  kc_init(&c, "aten.as_strided");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 3, 3));
  KC_INTS(&c, "size", 3, 3);
  KC_INTS(&c, "stride", 2, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "reads element 6 but self has 6");
  kc_free(&c);
  kc_init(&c, "aten.flip");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  KC_INTS(&c, "dims", 1, -1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dim 1 appears twice");
  kc_free(&c);
  kc_init(&c, "aten.repeat");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(1, 6));
  KC_INTS(&c, "repeats", 2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "repeats has 1 entries, fewer than self's rank 2");
  kc_free(&c);
  kc_init(&c, "aten.diagonal");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(1, 2));
  kc_int(&c, "dim1", -1);
  kc_int(&c, "dim2", 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "dim1 and dim2 are both dim 1");
  kc_free(&c);
}

/* ---------------------------------------------------------------- coverage ops */

/* Row-major index of coordinate idx in dims. */
static size_t flat_index(uint32_t rank, const int64_t* dims, const int64_t* idx) {
  size_t k = 0;
  for (uint32_t i = 0; i < rank; i++) k = k * (size_t)dims[i] + (size_t)idx[i];
  return k;
}
/* Advances idx through dims (odometer); false after the last coordinate. */
static bool next_index(uint32_t rank, const int64_t* dims, int64_t* idx) {
  for (uint32_t i = rank; i-- > 0;) {
    if (++idx[i] < dims[i]) return true;
    idx[i] = 0;
  }
  return false;
}

static void test_slice_select_expand(void** state) {
  (void)state;
  rng r = {21};
  for (int iter = 0; iter < 60; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 1, 5);
    int64_t xd[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) xd[i] = rng_int(&r, 1, 5);
    const xnnd_dtype dtype = rng_bool(&r) ? XNND_I64 : XNND_F32;
    const uint32_t d = (uint32_t)rng_int(&r, 0, (int)rank - 1);
    /* slice */
    int64_t start = rng_int(&r, 0, (int)xd[d]), end = rng_int(&r, 0, (int)xd[d]), step = rng_int(&r, 1, 3);
    if (end < start) end = start;
    int64_t yd[XNND_MAX_RANK];
    memcpy(yd, xd, sizeof(yd));
    yd[d] = (end - start + step - 1) / step;
    kc c;
    kc_init(&c, "aten.slice");
    xnnd_tensor* x = kc_in(&c, tens(dtype, rank, xd));
    xnnd_tensor* y = kc_out(&c, tens(dtype, rank, yd));
    if (dtype == XNND_I64) fill_i64(x, 5); else fill_random(x, &r, -1, 1);
    kc_int(&c, "dim", rng_bool(&r) ? (int64_t)d - (int64_t)rank : (int64_t)d);
    kc_int(&c, "start", start);
    kc_int(&c, "end", end);
    kc_int(&c, "step", step);
    kc_run(&c);
    const size_t es = xnnd_dtype_size(dtype);
    int64_t idx[XNND_MAX_RANK] = {0}, src[XNND_MAX_RANK];
    if (numel(y) > 0) do {
      memcpy(src, idx, sizeof(src));
      src[d] = start + idx[d] * step;
      if (memcmp((char*)y->data + flat_index(rank, yd, idx) * es, (char*)x->data + flat_index(rank, xd, src) * es, es))
        fail_msg("slice iter %d: element %zu differs", iter, flat_index(rank, yd, idx));
    } while (next_index(rank, yd, idx));
    tens_free(y);
    /* select */
    const int64_t index = rng_int(&r, 0, (int)xd[d] - 1);
    uint32_t sr = 0;
    for (uint32_t i = 0; i < rank; i++)
      if (i != d) yd[sr++] = xd[i];
    c.out[0] = y = tens(dtype, sr, yd);
    c.k = xnnd_kernel_find("aten.select");
    c.op = "aten.select";
    c.nattrs = 0;
    kc_int(&c, "dim", d);
    kc_int(&c, "index", index);
    kc_run(&c);
    memset(idx, 0, sizeof(idx));
    do {
      uint32_t k = 0;
      for (uint32_t i = 0; i < rank; i++) src[i] = i == d ? index : idx[k++];
      if (memcmp((char*)y->data + flat_index(sr, yd, idx) * es, (char*)x->data + flat_index(rank, xd, src) * es, es))
        fail_msg("select iter %d: element differs", iter);
    } while (sr > 0 && next_index(sr, yd, idx));
    tens_free(y);
    /* expand: size-1 dims of a copy grow, plus leading dims */
    int64_t sd[XNND_MAX_RANK], ed[XNND_MAX_RANK];
    const uint32_t lead = (uint32_t)rng_int(&r, 0, 2);
    for (uint32_t i = 0; i < lead; i++) ed[i] = rng_int(&r, 1, 3);
    for (uint32_t i = 0; i < rank; i++) {
      sd[i] = rng_bool(&r) ? 1 : xd[i];
      ed[lead + i] = sd[i] == 1 ? rng_int(&r, 1, 3) : sd[i];
    }
    tens_free(x);
    c.in[0] = x = tens(dtype, rank, sd);
    if (dtype == XNND_I64) fill_i64(x, -3); else fill_random(x, &r, -1, 1);
    c.out[0] = y = tens(dtype, lead + rank, ed);
    c.k = xnnd_kernel_find("aten.expand");
    c.op = "aten.expand";
    c.nattrs = 0;
    kc_ints(&c, "size", lead + rank, ed);
    kc_run(&c);
    memset(idx, 0, sizeof(idx));
    do {
      for (uint32_t i = 0; i < rank; i++) src[i] = sd[i] == 1 ? 0 : idx[lead + i];
      if (memcmp((char*)y->data + flat_index(lead + rank, ed, idx) * es,
                 (char*)x->data + flat_index(rank, sd, src) * es, es))
        fail_msg("expand iter %d: element differs", iter);
    } while (next_index(lead + rank, ed, idx));
    kc_free(&c);
  }
  /* errors */
  kc c;
  kc_init(&c, "aten.slice");
  kc_in(&c, F32(2, 4, 3));
  kc_out(&c, F32(2, 4, 1));
  kc_int(&c, "dim", 1);
  kc_int(&c, "start", 2);
  kc_int(&c, "end", 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "0 <= start <= end <= 3");
  kc_free(&c);
  kc_init(&c, "aten.select");
  kc_in(&c, F32(2, 4, 3));
  kc_out(&c, F32(1, 4));
  kc_int(&c, "dim", -1);
  kc_int(&c, "index", 3);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "index 3 out of range [0, 3)");
  kc_free(&c);
  kc_init(&c, "aten.expand");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 4, 3));
  KC_INTS(&c, "size", 4, 3);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "does not expand to [4,3]");
  kc_free(&c);
}

static void test_constant_pad(void** state) {
  (void)state;
  rng r = {22};
  for (int iter = 0; iter < 40; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 0, 4);
    int64_t xd[XNND_MAX_RANK], yd[XNND_MAX_RANK], lo[XNND_MAX_RANK] = {0}, hi[XNND_MAX_RANK] = {0};
    for (uint32_t i = 0; i < rank; i++) xd[i] = rng_int(&r, 1, 5);
    const uint32_t pairs = rank ? (uint32_t)rng_int(&r, 0, (int)rank) : 0;
    int64_t pad[2 * XNND_MAX_RANK];
    for (uint32_t p = 0; p < pairs; p++) {
      const uint32_t d = rank - 1 - p;
      lo[d] = pad[2 * p] = rng_int(&r, -(int)xd[d], 3);
      hi[d] = pad[2 * p + 1] = rng_int(&r, -(int)(xd[d] + lo[d]), 3);
    }
    for (uint32_t i = 0; i < rank; i++) yd[i] = xd[i] + lo[i] + hi[i];
    kc c;
    kc_init(&c, "aten.constant_pad_nd");
    xnnd_tensor* x = kc_in(&c, tens(XNND_F32, rank, xd));
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, rank, yd));
    fill_random(x, &r, -1, 1);
    kc_ints(&c, "pad", 2 * pairs, pad);
    kc_float(&c, "value", 2.5);
    kc_run(&c);
    int64_t idx[XNND_MAX_RANK] = {0}, src[XNND_MAX_RANK];
    if (numel(y) > 0) do {
      bool inside = true;
      for (uint32_t i = 0; i < rank; i++) {
        src[i] = idx[i] - lo[i];
        inside = inside && src[i] >= 0 && src[i] < xd[i];
      }
      const float want = inside ? fdata(x)[flat_index(rank, xd, src)] : 2.5f;
      if (fdata(y)[flat_index(rank, yd, idx)] != want) fail_msg("pad iter %d: element differs", iter);
    } while (rank > 0 && next_index(rank, yd, idx));
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.constant_pad_nd");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  KC_INTS(&c, "pad", 1, 1, 1);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "pad has 3 entries");
  kc_free(&c);
  kc_init(&c, "aten.constant_pad_nd");
  kc_in(&c, F32(2, 2, 3));
  kc_out(&c, F32(2, 2, 3));
  KC_INTS(&c, "pad", -2, -2);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "makes dim 1 negative");
  kc_free(&c);
}

/* ------------------------------------------- fast exp, softmax rows, gelu, layer norm rows */
/* Distance in units of the last place of want (as a float); subnormal wants count in units of
 * the smallest subnormal. */
static double ulps(float got, double want) {
  const float w = (float)fabs(want);
  const double ulp = w < FLT_MIN ? 0x1p-149 : (double)(nextafterf(w, INFINITY) - w);
  return fabs((double)got - want) / ulp;
}

static void test_fast_exp(void** state) {
  (void)state;
  double worst = 0, worst_sub = 0;
  for (uint32_t sign = 0; sign < 2; sign++)
    for (uint32_t b = 0; b < 0x42D00000u; b += 997) { /* |x| < 104, every 997th float */
      const uint32_t bits = b | sign << 31;
      float x;
      memcpy(&x, &bits, sizeof(x));
      if (x > 88.5f) continue;
      const double want = exp((double)x), u = ulps(kfm_expf(x), want);
      if (want < FLT_MIN) worst_sub = fmax(worst_sub, u);
      else worst = fmax(worst, u);
    }
  if (!(worst <= 1.02) || !(worst_sub <= 1.0))
    fail_msg("kfm_expf: %.3f ulp (normal results), %.3f (subnormal)", worst, worst_sub);
  assert_true(isnan(kfm_expf(NAN)));
  assert_true(kfm_expf(INFINITY) == INFINITY && kfm_expf(89.0f) == INFINITY);
  assert_true(kfm_expf(-INFINITY) == 0.0f && kfm_expf(-1e30f) == 0.0f);
  assert_true(kfm_expf(0.0f) == 1.0f && kfm_expf(-0.0f) == 1.0f);
}

/* The contiguous (inner == 1) softmax/log_softmax path: line lengths around the 8 lanes. */
static void test_softmax_rows(void** state) {
  (void)state;
  rng r = {61};
  static const int lens[] = {1, 2, 7, 8, 9, 15, 64, 197, 203};
  for (int log_form = 0; log_form < 2; log_form++)
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
      const int64_t D = lens[li], O = 3;
      kc c;
      kc_init(&c, log_form ? "aten.log_softmax" : "aten.softmax");
      xnnd_tensor* x = kc_in(&c, F32(2, O, D));
      xnnd_tensor* y = kc_out(&c, F32(2, O, D));
      fill_random(x, &r, -30, 30);
      float* xv = fdata(x);
      xv[D] = -INFINITY; /* row 1: a -inf entry gives 0 (log: -inf) */
      xv[2 * D + D - 1] = NAN; /* row 2: a NaN makes the row NaN */
      kc_int(&c, "dim", -1);
      kc_run(&c);
      for (int64_t o = 0; o < O; o++) {
        const float* xr = xv + o * D;
        const float* yr = fdata(y) + o * D;
        double m = -INFINITY, s = 0;
        for (int64_t k = 0; k < D; k++) m = fmax(m, xr[k]);
        for (int64_t k = 0; k < D; k++) s += exp((double)xr[k] - m);
        for (int64_t k = 0; k < D; k++) {
          if (o == 2) {
            if (!isnan(yr[k])) fail_msg("D=%lld: element %lld is %g, not NaN", (long long)D,
                                        (long long)k, (double)yr[k]);
            continue;
          }
          if (o == 1 && k == 0 && D > 1) {
            assert_true(log_form ? yr[k] == -INFINITY : yr[k] == 0.0f);
            continue;
          }
          const double want = log_form ? ((double)xr[k] - m) - log(s) : exp((double)xr[k] - m) / s;
          if (isnan(want)) { /* D == 1 and x = -inf: -inf - -inf, as before */
            assert_true(isnan(yr[k]));
            continue;
          }
          /* softmax: a few ulp relative, plus the rounding of x - m in f32 (half an ulp of
           * |x - m|, as in PyTorch); log_softmax: absolute, on the scale of |x - m|. */
          const double err = log_form ? fabs(yr[k] - want) / fmax(1.0, fabs(want))
                                      : (want < FLT_MIN ? 0 : fabs(yr[k] - want) / want);
          if (!(err <= 4e-7 + 6e-8 * fabs((double)xr[k] - m)))
            fail_msg("%s D=%lld row %lld: element %lld is %.9g, expected %.9g",
                     log_form ? "log_softmax" : "softmax", (long long)D, (long long)o,
                     (long long)k, (double)yr[k], want);
        }
      }
      kc_free(&c);
    }
}

/* gelu (erf and tanh forms) on an odd length, against double, plus the special values. */
static void test_gelu_fast(void** state) {
  (void)state;
  rng r = {67};
  for (int approx = 0; approx < 2; approx++) {
    const int64_t n = 1037;
    kc c;
    kc_init(&c, "aten.gelu");
    xnnd_tensor* x = kc_in(&c, F32(1, n));
    xnnd_tensor* y = kc_out(&c, F32(1, n));
    fill_random(x, &r, -12, 12);
    float* xv = fdata(x);
    static const float special[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-30f, -1e-30f,
                                    3e38f, -3e38f, -9.0f, 5.5f};
    for (size_t i = 0; i < sizeof(special) / sizeof(special[0]); i++) xv[n - 1 - i] = special[i];
    kc_int(&c, "approximate", approx);
    kc_run(&c);
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
      const double v = xv[i];
      /* The tanh form's exp argument 2u is computed in f32: its rounding (~|2u| * 6e-8) is
       * the error in the negative tail, where exp(-2u) is large. */
      const double arg = fabs(1.5957691216057307 * (v + 0.044715 * v * v * v));
      double want;
      if (approx) {
        const double u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
        want = u < -20 ? v * exp(2 * u) / (1 + exp(2 * u)) : v / (1 + exp(-2 * u));
      } else {
        want = 0.5 * v * erfc(-v / sqrt(2.0));
      }
      /* path 0: the kernel (AVX2 where the CPU has it); path 1: the inline code */
      for (int path = 0; path < 2; path++) {
        const float inl = approx ? kfm_gelu_tanh(xv[i]) : kfm_gelu_erf(xv[i]);
        const float got = path ? inl : fdata(y)[i];
        if (isnan(v) || v == -INFINITY) {
          assert_true(isnan(got)); /* as 0.5 x (1 + erf(x)) gives */
          continue;
        }
        if (v == INFINITY) {
          assert_true(got == INFINITY);
          continue;
        }
        /* In the far negative tail (|gelu| < 1e-30) exp(-x^2/2) is subnormal: absolute error. */
        if (fabs(want) >= 1e-30)
          worst = fmax(worst, approx ? ulps(got, want) / (4.0 + 2.0 * arg) : ulps(got, want) / 8.0);
        if (fabs(want) < 1e-30 && !(fabs(got - want) <= 1e-35))
          fail_msg("gelu approx=%d path %d: x=%.9g gives %.9g, expected %.9g", approx, path, v,
                   (double)got, want);
      }
    }
    /* erf form: 8 ulp (6.7 over a sweep of every 61st float); tanh form: 4 + 2 |2u| ulp */
    if (!(worst <= 1.0)) fail_msg("gelu approx=%d: error %.2f x its bound", approx, worst);
    kc_free(&c);
  }
}

/* layer norm over rows whose length is not a multiple of the 8 lanes, tight tolerance. */
static void test_layer_norm_rows(void** state) {
  (void)state;
  rng r = {71};
  static const int lens[] = {1, 7, 8, 9, 771};
  for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++)
    for (int affine = 0; affine < 2; affine++) {
      const int64_t M = lens[li], R = 3;
      kc c;
      kc_init(&c, "aten.native_layer_norm");
      xnnd_tensor* x = kc_in(&c, F32(2, R, M));
      xnnd_tensor* w = kc_in(&c, affine ? F32(1, M) : NULL);
      xnnd_tensor* b = kc_in(&c, affine ? F32(1, M) : NULL);
      xnnd_tensor* y = kc_out(&c, F32(2, R, M));
      fill_random(x, &r, -3, 5);
      if (affine) {
        fill_random(w, &r, 0.5f, 1.5f);
        fill_random(b, &r, -1, 1);
      }
      kc_ints(&c, "normalized_shape", 1, &M);
      kc_float(&c, "eps", 1e-6);
      kc_run(&c);
      for (int64_t row = 0; row < R; row++) {
        const float* xr = fdata(x) + row * M;
        double s = 0, q = 0;
        for (int64_t i = 0; i < M; i++) s += xr[i];
        const double mean = s / (double)M;
        for (int64_t i = 0; i < M; i++) q += ((double)xr[i] - mean) * ((double)xr[i] - mean);
        const double rstd = 1.0 / sqrt(q / (double)M + 1e-6);
        for (int64_t i = 0; i < M; i++) {
          double want = ((double)xr[i] - mean) * rstd;
          if (affine) want = want * fdata(w)[i] + fdata(b)[i];
          const float got = fdata(y)[row * M + i];
          if (!(ulps(got, want) <= 1.0) && !(fabs(got - want) <= 1e-7))
            fail_msg("layer_norm M=%lld row %lld: element %lld is %.9g, expected %.9g",
                     (long long)M, (long long)row, (long long)i, (double)got, want);
        }
      }
      kc_free(&c);
    }
}

static void test_layer_norm_log_softmax(void** state) {
  (void)state;
  rng r = {23};
  for (int iter = 0; iter < 20; iter++) {
    const uint32_t rank = (uint32_t)rng_int(&r, 1, 4);
    int64_t xd[XNND_MAX_RANK], sd[XNND_MAX_RANK];
    for (uint32_t i = 0; i < rank; i++) xd[i] = rng_int(&r, 1, 6);
    const uint32_t n = (uint32_t)rng_int(&r, 1, (int)rank), axis = rank - n;
    for (uint32_t i = 0; i < rank; i++) sd[i] = i < axis ? xd[i] : 1;
    const bool affine = rng_bool(&r);
    kc c;
    kc_init(&c, "aten.native_layer_norm");
    xnnd_tensor* x = kc_in(&c, tens(XNND_F32, rank, xd));
    xnnd_tensor* w = kc_in(&c, affine ? tens(XNND_F32, n, xd + axis) : NULL);
    xnnd_tensor* b = kc_in(&c, affine ? tens(XNND_F32, n, xd + axis) : NULL);
    xnnd_tensor* y = kc_out(&c, tens(XNND_F32, rank, xd));
    xnnd_tensor* mean = kc_out(&c, tens(XNND_F32, rank, sd));
    xnnd_tensor* rstd = kc_out(&c, tens(XNND_F32, rank, sd));
    fill_random(x, &r, -3, 5);
    if (affine) {
      fill_random(w, &r, 0.5f, 1.5f);
      fill_random(b, &r, -1, 1);
    }
    kc_ints(&c, "normalized_shape", n, xd + axis);
    kc_float(&c, "eps", 1e-5);
    kc_run(&c);
    size_t M = 1;
    for (uint32_t i = axis; i < rank; i++) M *= (size_t)xd[i];
    const size_t rows = numel(x) / M;
    double* want = dalloc(numel(x));
    double* wm = dalloc(rows);
    double* wr = dalloc(rows);
    for (size_t row = 0; row < rows; row++) {
      double s = 0, q = 0;
      for (size_t i = 0; i < M; i++) s += fdata(x)[row * M + i];
      wm[row] = s / (double)M;
      for (size_t i = 0; i < M; i++) q += pow(fdata(x)[row * M + i] - wm[row], 2);
      wr[row] = 1.0 / sqrt(q / (double)M + 1e-5);
      for (size_t i = 0; i < M; i++) {
        double v = (fdata(x)[row * M + i] - wm[row]) * wr[row];
        want[row * M + i] = affine ? v * fdata(w)[i] + fdata(b)[i] : v;
      }
    }
    expect_close("layer_norm", fdata(y), want, numel(y));
    expect_close_tol("layer_norm mean", fdata(mean), wm, rows, 1e-5, 1.0);
    expect_close_tol("layer_norm rstd", fdata(rstd), wr, rows, 1e-4, 1.0);
    free(want);
    free(wm);
    free(wr);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.native_layer_norm");
  kc_in(&c, F32(2, 3, 4));
  kc_out(&c, F32(2, 3, 4));
  KC_INTS(&c, "normalized_shape", 3);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "does not match the trailing dims");
  kc_free(&c);
  /* log_softmax along each dim, with a large value that overflows a naive exp */
  for (int dim = -3; dim < 3; dim++) {
    kc_init(&c, "aten.log_softmax");
    xnnd_tensor* x = kc_in(&c, F32(3, 3, 4, 5));
    xnnd_tensor* y = kc_out(&c, F32(3, 3, 4, 5));
    fill_random(x, &r, -20, 20);
    fdata(x)[7] = 500.0f;
    kc_int(&c, "dim", dim);
    kc_run(&c);
    const uint32_t d = (uint32_t)(dim < 0 ? dim + 3 : dim);
    const int64_t xd[3] = {3, 4, 5};
    size_t outer = 1, inner = 1, n = (size_t)xd[d];
    for (uint32_t i = 0; i < 3; i++) {
      if (i < d) outer *= (size_t)xd[i];
      if (i > d) inner *= (size_t)xd[i];
    }
    double* want = dalloc(numel(x));
    for (size_t o = 0; o < outer; o++)
      for (size_t j = 0; j < inner; j++) {
        double m = -INFINITY, s = 0;
        for (size_t k = 0; k < n; k++) m = fmax(m, fdata(x)[(o * n + k) * inner + j]);
        for (size_t k = 0; k < n; k++) s += exp(fdata(x)[(o * n + k) * inner + j] - m);
        for (size_t k = 0; k < n; k++) want[(o * n + k) * inner + j] = fdata(x)[(o * n + k) * inner + j] - m - log(s);
      }
    expect_close_tol("log_softmax", fdata(y), want, numel(y), 1e-6, 10.0);
    free(want);
    kc_free(&c);
  }
}

static void test_baddbmm(void** state) {
  (void)state;
  rng r = {24};
  for (int iter = 0; iter < 12; iter++) {
    const int B = rng_int(&r, 1, 3), M = rng_int(&r, 1, 5), K = rng_int(&r, 1, 6), N = rng_int(&r, 1, 5);
    const uint32_t srank = (uint32_t)rng_int(&r, 0, 3);
    int64_t sdims[3];
    const int64_t full[3] = {B, M, N};
    for (uint32_t i = 0; i < srank; i++) sdims[i] = rng_bool(&r) ? 1 : full[3 - srank + i];
    const double beta = iter == 0 ? 0.0 : rng_float(&r, -2, 2), alpha = rng_float(&r, -2, 2);
    kc c;
    kc_init(&c, "aten.baddbmm");
    xnnd_tensor* s = kc_in(&c, tens(XNND_F32, srank, sdims));
    xnnd_tensor* a = kc_in(&c, F32(3, B, M, K));
    xnnd_tensor* b = kc_in(&c, F32(3, B, K, N));
    xnnd_tensor* y = kc_out(&c, F32(3, B, M, N));
    fill_random(s, &r, -1, 1);
    if (iter == 0) fdata(s)[0] = NAN; /* beta == 0 ignores self */
    fill_random(a, &r, -1, 1);
    fill_random(b, &r, -1, 1);
    kc_float(&c, "beta", beta);
    kc_float(&c, "alpha", alpha);
    kc_run(&c);
    double* want = dalloc(numel(y));
    for (int t = 0; t < B; t++)
      for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
          const int64_t at[3] = {t, i, j};
          size_t si = 0;
          for (uint32_t k = 0; k < srank; k++) si = si * (size_t)sdims[k] + (size_t)(sdims[k] == 1 ? 0 : at[3 - srank + k]);
          double acc = 0;
          for (int k = 0; k < K; k++) acc += (double)fdata(a)[(t * M + i) * K + k] * fdata(b)[(t * K + k) * N + j];
          want[(t * M + i) * N + j] = (beta == 0.0 ? 0.0 : beta * fdata(s)[si]) + alpha * acc;
        }
    expect_close("baddbmm", fdata(y), want, numel(y));
    free(want);
    kc_free(&c);
  }
  kc c;
  kc_init(&c, "aten.baddbmm");
  kc_in(&c, F32(2, 3, 3));
  kc_in(&c, F32(3, 2, 2, 4));
  kc_in(&c, F32(3, 2, 4, 2));
  kc_out(&c, F32(3, 2, 2, 2));
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "not broadcastable to [2,2,2]");
  kc_free(&c);
}

static void test_upsample(void** state) {
  (void)state;
  /* nearest x2 and bilinear align_corners on a 2x2 plane, by hand */
  kc c;
  kc_init(&c, "aten.upsample_nearest2d");
  xnnd_tensor* x = kc_in(&c, F32(4, 1, 1, 2, 2));
  xnnd_tensor* y = kc_out(&c, F32(4, 1, 1, 4, 4));
  const float xv[4] = {1, 2, 3, 4};
  memcpy(x->data, xv, sizeof(xv));
  KC_INTS(&c, "output_size", 4, 4);
  kc_none(&c, "scales_h");
  kc_run(&c);
  const float nearest[16] = {1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4};
  expect_exact("nearest x2", fdata(y), nearest, 16);
  kc_free(&c);
  kc_init(&c, "aten.upsample_bilinear2d");
  x = kc_in(&c, F32(4, 1, 1, 2, 2));
  y = kc_out(&c, F32(4, 1, 1, 3, 3));
  memcpy(x->data, xv, sizeof(xv));
  KC_INTS(&c, "output_size", 3, 3);
  kc_bool(&c, "align_corners", true);
  kc_run(&c);
  const float align[9] = {1, 1.5f, 2, 2, 2.5f, 3, 3, 3.5f, 4};
  expect_exact("bilinear align_corners", fdata(y), align, 9);
  kc_free(&c);
  /* half-pixel: 2 -> 4 samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped tap) */
  kc_init(&c, "aten.upsample_bilinear2d");
  x = kc_in(&c, F32(4, 1, 1, 1, 2));
  y = kc_out(&c, F32(4, 1, 1, 1, 4));
  memcpy(x->data, xv, 2 * sizeof(float));
  KC_INTS(&c, "output_size", 1, 4);
  kc_run(&c);
  const float half[4] = {1, 1.25f, 1.75f, 2};
  expect_exact("bilinear half-pixel", fdata(y), half, 4);
  kc_free(&c);
  kc_init(&c, "aten.upsample_nearest2d");
  kc_in(&c, F32(3, 1, 2, 2));
  kc_out(&c, F32(3, 1, 4, 4));
  KC_INTS(&c, "output_size", 4, 4);
  kc_expect_error(&c, XNND_SHAPE_MISMATCH, "self has rank 3, expected 4");
  kc_free(&c);
  kc_init(&c, "aten.upsample_bilinear2d");
  kc_in(&c, F32(4, 1, 1, 2, 2));
  kc_out(&c, F32(4, 1, 1, 4, 4));
  KC_INTS(&c, "output_size", 4, 4);
  kc_float(&c, "scales_h", -1.0);
  kc_expect_error(&c, XNND_INVALID_ARGUMENT, "scales must be finite and > 0");
  kc_free(&c);
}

/* ---------------------------------------------------------------- PyTorch differential */

typedef struct reader {
  const uint8_t* p;
  const uint8_t* end;
} reader;

static const void* rd_take(reader* r, size_t n) {
  if ((size_t)(r->end - r->p) < n) fail_msg("kernels_ref output truncated");
  const void* at = r->p;
  r->p += n;
  return at;
}
static uint8_t rd_u8(reader* r) { return *(const uint8_t*)rd_take(r, 1); }
static uint32_t rd_u32(reader* r) {
  uint32_t v;
  memcpy(&v, rd_take(r, 4), 4);
  return v;
}
static int64_t rd_i64(reader* r) {
  int64_t v;
  memcpy(&v, rd_take(r, 8), 8);
  return v;
}
static double rd_f64(reader* r) {
  double v;
  memcpy(&v, rd_take(r, 8), 8);
  return v;
}
/* Returns a malloc'd NUL-terminated copy. */
static char* rd_str(reader* r) {
  const uint32_t n = rd_u32(r);
  char* s = malloc((size_t)n + 1);
  assert_non_null(s);
  memcpy(s, rd_take(r, n), n);
  s[n] = '\0';
  return s;
}
static xnnd_tensor* rd_tensor(reader* r) {
  if (!rd_u8(r)) return NULL;
  const xnnd_dtype dtype = (xnnd_dtype)rd_u8(r);
  const uint32_t rank = rd_u32(r);
  assert_true(rank <= XNND_MAX_RANK);
  int64_t dims[XNND_MAX_RANK];
  for (uint32_t i = 0; i < rank; i++) dims[i] = rd_i64(r);
  xnnd_tensor* t = tens(dtype, rank, dims);
  const size_t bytes = numel(t) * xnnd_dtype_size(dtype);
  memcpy(t->data, rd_take(r, bytes), bytes);
  return t;
}

/* Index values are data: run() checks each one and fails with OUT_OF_RANGE and a message in
 * run_err naming the op, the operand, the position and the value; nothing is read out of
 * bounds (ASan). aten.index wraps negatives, index_select does not (PyTorch's ranges). */
static void test_index_run_errors(void** state) {
  (void)state;
  char msg[256];
  kc c;
  kc_init(&c, "aten.index_select");
  xnnd_tensor* x = kc_in(&c, F32(2, 2, 3));
  xnnd_tensor* idx = kc_in(&c, tens(XNND_I64, 1, DIMS(2)));
  xnnd_tensor* y = kc_out(&c, F32(2, 2, 2));
  for (int i = 0; i < 6; i++) fdata(x)[i] = (float)i;
  kc_int(&c, "dim", 1);
  int64_t* iv = idx->data;
  iv[0] = 2;
  iv[1] = 0;
  kc_run(&c);
  assert_true(fdata(y)[0] == 2 && fdata(y)[1] == 0 && fdata(y)[2] == 5 && fdata(y)[3] == 3);
  c.args.run_err = msg;
  c.args.run_err_size = sizeof(msg);
  iv[1] = -1;
  assert_int_equal(c.k->run(&c.args, c.params), XNND_OUT_OF_RANGE);
  if (!strstr(msg, "aten.index_select: index[1] = -1 is out of range for dim 1 of size 3"))
    fail_msg("message: %s", msg);
  iv[1] = INT64_MAX;
  c.args.run_err = NULL; /* no message buffer: the status alone */
  assert_int_equal(c.k->run(&c.args, c.params), XNND_OUT_OF_RANGE);
  kc_free(&c);

  kc_init(&c, "aten.index");
  x = kc_in(&c, F32(2, 2, 3));
  kc_in(&c, NULL);
  idx = kc_in(&c, tens(XNND_I32, 1, DIMS(2)));
  y = kc_out(&c, F32(2, 2, 2));
  for (int i = 0; i < 6; i++) fdata(x)[i] = (float)i;
  int32_t* jv = idx->data;
  jv[0] = -1;
  jv[1] = 1;
  kc_run(&c);
  assert_true(fdata(y)[0] == 2 && fdata(y)[1] == 1 && fdata(y)[2] == 5 && fdata(y)[3] == 4);
  c.args.run_err = msg;
  c.args.run_err_size = sizeof(msg);
  jv[1] = -4;
  assert_int_equal(c.k->run(&c.args, c.params), XNND_OUT_OF_RANGE);
  if (!strstr(msg, "aten.index: indices[1][1] = -4 is out of range for dim 1 of size 3 "
                   "(valid: [-3, 3))"))
    fail_msg("message: %s", msg);
  kc_free(&c);

  kc_init(&c, "aten.scatter_reduce");
  x = kc_in(&c, F32(1, 3));
  idx = kc_in(&c, tens(XNND_I64, 1, DIMS(3)));
  xnnd_tensor* src = kc_in(&c, F32(1, 3));
  y = kc_out(&c, F32(1, 3));
  xnnd_tensor* cnt = kc_out(&c, tens(XNND_I64, 1, DIMS(3)));
  kc_int(&c, "dim", 0);
  kc_int(&c, "reduce", 2); /* mean */
  kc_bool(&c, "include_self", false);
  iv = idx->data;
  iv[0] = 2;
  iv[1] = 2;
  iv[2] = 0;
  for (int i = 0; i < 3; i++) {
    fdata(x)[i] = 10.0f;
    fdata(src)[i] = (float)(i + 1);
  }
  kc_run(&c);
  const int64_t* cv = cnt->data;
  assert_true(fdata(y)[0] == 3.0f && fdata(y)[1] == 10.0f && fdata(y)[2] == 1.5f);
  assert_true(cv[0] == 1 && cv[1] == 0 && cv[2] == 2);
  c.args.run_err = msg;
  c.args.run_err_size = sizeof(msg);
  iv[2] = 3;
  assert_int_equal(c.k->run(&c.args, c.params), XNND_OUT_OF_RANGE);
  if (!strstr(msg, "aten.scatter_reduce: index[2] = 3 is out of range")) fail_msg("%s", msg);
  kc_free(&c);
}

static void test_pytorch_reference(void** state) {
  (void)state;
  const char* python = getenv("XNND_PYTHON");
  if (!python || !*python) {
    print_message("XNND_PYTHON unset: skipping the PyTorch differential check\n");
    skip();
  }
  const char* script = xt_source_path("tests/kernels_ref.py");
  char out_path[256];
  snprintf(out_path, sizeof(out_path), "%s", xt_temp_path("kernels_ref", ".bin"));
  const int rc = xt_system("'%s' '%s' '%s'", python, script, out_path);
  if (rc != 0) fail_msg("%s %s exited with %d", python, script, rc);
  size_t size = 0;
  char* buf = xt_read_file(out_path, &size);
  remove(out_path);
  assert_non_null(buf);
  reader r = {(const uint8_t*)buf, (const uint8_t*)buf + size};
  assert_memory_equal(rd_take(&r, 4), "XKRF", 4);
  assert_int_equal(rd_u32(&r), 1);
  const uint32_t ncases = rd_u32(&r);
  assert_true(ncases > 40);
  for (uint32_t ci = 0; ci < ncases; ci++) {
    char* op = rd_str(&r);
    char* label = rd_str(&r);
    kc c;
    kc_init(&c, op);
    char* names[KC_MAX_ATTRS];
    const uint32_t nattrs = rd_u32(&r);
    assert_true(nattrs <= KC_MAX_ATTRS);
    for (uint32_t i = 0; i < nattrs; i++) {
      names[i] = rd_str(&r);
      const uint8_t kind = rd_u8(&r);
      const int64_t iv = rd_i64(&r);
      const double fv = rd_f64(&r);
      const uint32_t n = rd_u32(&r);
      assert_true(n <= XNND_MAX_RANK);
      int64_t ints[XNND_MAX_RANK];
      for (uint32_t k = 0; k < n; k++) ints[k] = rd_i64(&r);
      if (kind == 4) {
        kc_ints(&c, names[i], n, ints);
      } else {
        xnnd_kattr* a = kc_attr(&c, names[i], kind);
        a->i = iv;
        a->f = fv;
      }
    }
    const uint32_t nin = rd_u32(&r);
    for (uint32_t i = 0; i < nin; i++) kc_in(&c, rd_tensor(&r));
    const uint32_t nout = rd_u32(&r);
    assert_true(nout <= 3);
    xnnd_tensor* want[3] = {NULL, NULL, NULL};
    for (uint32_t i = 0; i < nout; i++) {
      want[i] = rd_tensor(&r);
      assert_non_null(want[i]);
      xnnd_tensor* got = kc_out(&c, tens(want[i]->dtype, want[i]->rank, want[i]->dims));
      memset(got->data, 0x7f, numel(got) * xnnd_dtype_size(got->dtype));
    }
    xnnd_status s = kc_prepare(&c);
    if (s != XNND_OK) fail_msg("%s (%s): prepare failed: %s", label, op, c.err);
    assert_int_equal(c.k->run(&c.args, c.params), XNND_OK);
    for (uint32_t i = 0; i < nout; i++) {
      char what[128];
      snprintf(what, sizeof(what), "%s (%s) output %u", label, op, i);
      const size_t n = numel(want[i]);
      if (want[i]->dtype == XNND_F32) {
        double* ref = dalloc(n);
        for (size_t k = 0; k < n; k++) ref[k] = fdata(want[i])[k];
        expect_close_tol(what, fdata(c.out[i]), ref, n, 1e-5, 1e-6);
        free(ref);
      } else if (n && memcmp(c.out[i]->data, want[i]->data, n * xnnd_dtype_size(want[i]->dtype)))
        fail_msg("%s differs", what);
      tens_free(want[i]);
    }
    kc_free(&c);
    for (uint32_t i = 0; i < nattrs; i++) free(names[i]);
    free(op);
    free(label);
  }
  assert_true(r.p == r.end);
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_table_covers_ops_def),
      cmocka_unit_test(test_kattr_get),
      cmocka_unit_test(test_conv_hand),
      cmocka_unit_test(test_conv_fixed),
      cmocka_unit_test(test_conv_random),
      cmocka_unit_test(test_conv_errors),
      cmocka_unit_test(test_mm_bmm),
      cmocka_unit_test(test_addmm),
      cmocka_unit_test(test_linear),
      cmocka_unit_test(test_gemm_blocked),
      cmocka_unit_test(test_batch_norm),
      cmocka_unit_test(test_unary),
      cmocka_unit_test(test_binary),
      cmocka_unit_test(test_binary_int),
      cmocka_unit_test(test_pool_random),
      cmocka_unit_test(test_pool_hand),
      cmocka_unit_test(test_adaptive_avg_pool),
      cmocka_unit_test(test_pool_errors),
      cmocka_unit_test(test_mean),
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_view_clone),
      cmocka_unit_test(test_permute_t),
      cmocka_unit_test(test_cat),
      cmocka_unit_test(test_slice_select_expand),
      cmocka_unit_test(test_constant_pad),
      cmocka_unit_test(test_shape_family),
      cmocka_unit_test(test_layer_norm_log_softmax),
      cmocka_unit_test(test_fast_exp),
      cmocka_unit_test(test_softmax_rows),
      cmocka_unit_test(test_gelu_fast),
      cmocka_unit_test(test_layer_norm_rows),
      cmocka_unit_test(test_baddbmm),
      cmocka_unit_test(test_upsample),
      cmocka_unit_test(test_index_run_errors),
      cmocka_unit_test(test_pytorch_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
