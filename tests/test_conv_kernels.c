/* xnnd's own convolution kernels (runtime/conv_kernels/) on their own, without XNNPACK or a
 * program: f32 direct and Winograd paths against a double-precision reference, int8 bit for bit
 * against a scalar model of XNNPACK's fp32 requantization, what `supported` refuses, and that
 * create/destroy leak nothing through the allocator hook. tests/test_xnnpack.c runs the same
 * kernels inside the delegate. Skipped on CPUs without AVX2 and FMA3. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "conv_kernels/f32_conv.h"
#include "conv_kernels/f32_fc.h"
#include "conv_kernels/qs8_conv.h"

/* ---- leak-checked allocator ---- */

static const xnnd_allocator k_alloc = {NULL, xt_aligned_alloc, xt_aligned_free};

static uint32_t g_seed = 12345;
static float frand(void) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}
static int irand(int lo, int hi) {
  g_seed = g_seed * 1664525u + 1013904223u;
  return lo + (int)((g_seed >> 8) % (uint32_t)(hi - lo + 1));
}

static int cpu_ok(void) {
  if (xnnd_f32_conv_cpu_ok()) return 1;
  print_message("CPU without AVX2/FMA3: xnnd's own kernels are not used here\n");
  return 0;
}

static xnnd_f32_conv_shape shape_of(uint32_t n, uint32_t h, uint32_t w, uint32_t cin, uint32_t cout, uint32_t kh,
                                    uint32_t kw, uint32_t s, uint32_t d, uint32_t pad) {
  xnnd_f32_conv_shape sh = {.batch = n, .in_h = h, .in_w = w, .cin = cin, .cout = cout, .kernel_h = kh,
                            .kernel_w = kw, .stride_h = s, .stride_w = s, .dilation_h = d, .dilation_w = d,
                            .pad_top = pad, .pad_left = pad, .min = -INFINITY, .max = INFINITY};
  sh.out_h = (h + 2 * pad - (d * (kh - 1) + 1)) / s + 1;
  sh.out_w = (w + 2 * pad - (d * (kw - 1) + 1)) / s + 1;
  return sh;
}

/* Input pixel (n, y, x) of the NHWC input for output (oy, ox) and tap (ky, kx), or -1 in the
 * padding. */
static long in_index(const xnnd_f32_conv_shape* s, uint32_t n, uint32_t oy, uint32_t ox, uint32_t ky, uint32_t kx) {
  long y = (long)(oy * s->stride_h + ky * s->dilation_h) - (long)s->pad_top;
  long x = (long)(ox * s->stride_w + kx * s->dilation_w) - (long)s->pad_left;
  if (y < 0 || x < 0 || y >= (long)s->in_h || x >= (long)s->in_w) return -1;
  return ((long)n * s->in_h + y) * s->in_w + x;
}

/* ---- f32 ---- */

static void ref_f32(const xnnd_f32_conv_shape* s, const float* in, const float* filter, const float* bias,
                    double* out) {
  for (uint32_t n = 0; n < s->batch; n++)
    for (uint32_t oy = 0; oy < s->out_h; oy++)
      for (uint32_t ox = 0; ox < s->out_w; ox++)
        for (uint32_t o = 0; o < s->cout; o++) {
          double acc = bias ? bias[o] : 0.0;
          for (uint32_t ky = 0; ky < s->kernel_h; ky++)
            for (uint32_t kx = 0; kx < s->kernel_w; kx++) {
              long p = in_index(s, n, oy, ox, ky, kx);
              if (p < 0) continue;
              for (uint32_t c = 0; c < s->cin; c++)
                acc += (double)in[p * s->cin + c] *
                       filter[((o * s->kernel_h + ky) * s->kernel_w + kx) * s->cin + c];
            }
          out[((n * s->out_h + oy) * s->out_w + ox) * s->cout + o] = acc;
        }
}

/* Runs one shape; tol_rel is relative to the largest reference output. */
static void check_f32(xnnd_f32_conv_shape s, bool with_bias, double tol_rel) {
  size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.cin, out_n = (size_t)s.batch * s.out_h * s.out_w * s.cout;
  size_t w_n = (size_t)s.cout * s.kernel_h * s.kernel_w * s.cin;
  float* in = malloc(in_n * sizeof(float));
  float* w = malloc(w_n * sizeof(float));
  float* b = malloc(s.cout * sizeof(float));
  float* out = malloc(out_n * sizeof(float));
  double* ref = malloc(out_n * sizeof(double));
  for (size_t i = 0; i < in_n; i++) in[i] = frand();
  for (size_t i = 0; i < w_n; i++) w[i] = frand();
  for (size_t i = 0; i < s.cout; i++) b[i] = frand();
  ref_f32(&s, in, w, with_bias ? b : NULL, ref);
  double max_ref = 0.0;
  for (size_t i = 0; i < out_n; i++) max_ref = fmax(max_ref, fabs(ref[i]));
  assert_true(xnnd_f32_conv_supported(&s));
  xnnd_f32_conv* conv = NULL;
  assert_int_equal(xnnd_f32_conv_create(&s, w, with_bias ? b : NULL, &k_alloc, &conv), XNND_OK);
  size_t scratch_n = xnnd_f32_conv_scratch_size(conv);
  void* scratch = scratch_n ? xt_aligned_alloc(NULL, scratch_n, 64) : NULL;
  xnnd_f32_conv_run(conv, in, out, scratch, NULL);
  for (size_t i = 0; i < out_n; i++) {
    double want = fmin(fmax(ref[i], (double)s.min), (double)s.max);
    if (fabs((double)out[i] - want) > tol_rel * max_ref + 1e-6)
      fail_msg("%ux%u conv, cin %u cout %u: output %zu is %.9g, reference %.9g", s.kernel_h, s.kernel_w, s.cin,
               s.cout, i, (double)out[i], want);
  }
  xt_aligned_free(NULL, scratch);
  xnnd_f32_conv_destroy(conv, &k_alloc);
  free(in), free(w), free(b), free(out), free(ref);
}

static void test_f32_direct(void** state) {
  (void)state;
  if (!cpu_ok()) skip();
  /* partial 6-pixel blocks and 16-channel panels, strides, dilation, padding, batch */
  check_f32(shape_of(1, 7, 5, 3, 17, 3, 3, 2, 1, 1), true, 1e-6);
  check_f32(shape_of(2, 9, 8, 5, 16, 1, 1, 1, 1, 0), false, 1e-6);
  check_f32(shape_of(1, 12, 11, 4, 33, 5, 5, 1, 2, 2), true, 1e-6);
  check_f32(shape_of(1, 6, 6, 2, 3, 8, 8, 1, 1, 3), true, 1e-6);  /* 64 taps: the largest taken */
  xnnd_f32_conv_shape s = shape_of(1, 10, 10, 6, 20, 3, 3, 2, 1, 1);
  s.min = -0.25f, s.max = 0.5f;  /* fused output range */
  check_f32(s, true, 1e-6);
}

/* 3x3 stride 1 with at least 16 output tiles takes Winograd F(4x4, 3x3); its f32 error is
 * about ten times the direct form's. */
static xnnd_f32_conv_shape winograd_shape(uint32_t n, uint32_t h, uint32_t w, uint32_t cin, uint32_t cout,
                                          uint32_t pad) {
  xnnd_f32_conv_shape s = shape_of(n, h, w, cin, cout, 3, 3, 1, 1, pad);
  s.winograd = true;
  return s;
}

static void test_f32_winograd(void** state) {
  (void)state;
  if (!cpu_ok()) skip();
  check_f32(winograd_shape(1, 16, 16, 16, 32, 1), true, 1e-5);
  check_f32(winograd_shape(2, 15, 13, 12, 20, 1), false, 1e-5);
  xnnd_f32_conv_shape s = winograd_shape(1, 19, 18, 9, 7, 0);
  s.min = 0.0f;
  check_f32(s, true, 1e-5);
  /* Without the flag the same shape takes the direct path, whose error is PyTorch's order. */
  check_f32(shape_of(1, 16, 16, 16, 32, 3, 3, 1, 1, 1), true, 1e-6);
}

static void test_f32_refuses(void** state) {
  (void)state;
  xnnd_f32_conv_shape s = shape_of(1, 20, 20, 2, 2, 9, 8, 1, 1, 0);  /* 72 taps */
  assert_false(xnnd_f32_conv_supported(&s));
  xnnd_f32_conv* conv = NULL;
  float w[2 * 9 * 8 * 2] = {0};
  assert_int_equal(xnnd_f32_conv_create(&s, w, NULL, &k_alloc, &conv), XNND_INVALID_ARGUMENT);
  assert_null(conv);
  s = shape_of(1, 4, 4, 0, 2, 1, 1, 1, 1, 0);  /* no input channels */
  assert_false(xnnd_f32_conv_supported(&s));
}

/* ---- int8: XNNPACK's fp32 requantization, scalar ---- */

static int8_t requant(int32_t acc, float scale, int32_t zp, int8_t qmin, int8_t qmax) {
  float v = (float)acc * scale;
  float hi = (float)((int32_t)qmax - zp);
  if (v > hi) v = hi;
  long r = lrintf(v);  /* round to nearest even (default rounding mode) */
  if (r > INT16_MAX) r = INT16_MAX;
  if (r < INT16_MIN) r = INT16_MIN;
  long q = r + zp;
  if (q > INT16_MAX) q = INT16_MAX;
  if (q < INT16_MIN) q = INT16_MIN;
  if (q > INT8_MAX) q = INT8_MAX;
  if (q < INT8_MIN) q = INT8_MIN;
  if (q < qmin) q = qmin;
  return (int8_t)q;
}

static xnnd_qs8_isa g_qs8_isa;

static void check_qs8(xnnd_f32_conv_shape s, bool per_channel, bool with_bias, int8_t qmin, int8_t qmax) {
  size_t in_n = (size_t)s.batch * s.in_h * s.in_w * s.cin, out_n = (size_t)s.batch * s.out_h * s.out_w * s.cout;
  size_t w_n = (size_t)s.cout * s.kernel_h * s.kernel_w * s.cin;
  int8_t* in = malloc(in_n);
  int8_t* w = malloc(w_n);
  int32_t* b = malloc(s.cout * sizeof(int32_t));
  float* fs = malloc(s.cout * sizeof(float));
  int8_t* out = malloc(out_n);
  for (size_t i = 0; i < in_n; i++) in[i] = (int8_t)irand(-128, 127);
  for (size_t i = 0; i < w_n; i++) w[i] = (int8_t)irand(-127, 127);
  for (size_t i = 0; i < s.cout; i++) b[i] = irand(-5000, 5000), fs[i] = 0.002f + 0.001f * (float)(i % 7);
  xnnd_qs8_conv_params p = {.input_zero_point = -3, .output_zero_point = 5, .input_scale = 0.05f,
                            .output_scale = 0.9f, .filter_scales = fs, .per_channel = per_channel,
                            .qmin = qmin, .qmax = qmax, .isa = g_qs8_isa};
  assert_true(xnnd_qs8_conv_supported(&s, &p));
  xnnd_qs8_conv* conv = NULL;
  assert_int_equal(xnnd_qs8_conv_create(&s, &p, w, with_bias ? b : NULL, &k_alloc, &conv), XNND_OK);
  void* scratch = xt_aligned_alloc(NULL, xnnd_qs8_conv_scratch_size(conv) + 1, 64);
  xnnd_qs8_conv_run(conv, in, out, scratch, NULL);
  for (uint32_t n = 0; n < s.batch; n++)
    for (uint32_t oy = 0; oy < s.out_h; oy++)
      for (uint32_t ox = 0; ox < s.out_w; ox++)
        for (uint32_t o = 0; o < s.cout; o++) {
          int32_t acc = with_bias ? b[o] : 0;
          for (uint32_t ky = 0; ky < s.kernel_h; ky++)
            for (uint32_t kx = 0; kx < s.kernel_w; kx++) {
              long px = in_index(&s, n, oy, ox, ky, kx);
              if (px < 0) continue;  /* padding reads the zero point: contributes 0 */
              for (uint32_t c = 0; c < s.cin; c++)
                acc += ((int32_t)in[px * s.cin + c] - p.input_zero_point) *
                       (int32_t)w[((o * s.kernel_h + ky) * s.kernel_w + kx) * s.cin + c];
            }
          float scale = p.input_scale * fs[per_channel ? o : 0] / p.output_scale;
          int8_t want = requant(acc, scale, p.output_zero_point, qmin, qmax);
          size_t i = ((n * s.out_h + oy) * s.out_w + ox) * s.cout + o;
          if (out[i] != want)
            fail_msg("int8 %ux%u conv (%s), cin %u cout %u: output %zu is %d, reference %d (acc %d)", s.kernel_h,
                     s.kernel_w, xnnd_qs8_conv_isa_name(&p), s.cin, s.cout, i, out[i], want, acc);
        }
  xt_aligned_free(NULL, scratch);
  xnnd_qs8_conv_destroy(conv, &k_alloc);
  free(in), free(w), free(b), free(fs), free(out);
}

/* Both microkernels where the CPU has AVX512-VNNI (the best one, then AVX2 forced), each
 * bit-exact against the scalar model. */
static void test_qs8(void** state) {
  (void)state;
  if (!cpu_ok()) skip();
  for (int isa = 0; isa < 2; isa++) {
    g_qs8_isa = isa ? XNND_QS8_ISA_AVX2 : XNND_QS8_ISA_BEST;
    const xnnd_qs8_conv_params probe = {.isa = g_qs8_isa};
    print_message("int8 convolution, %s microkernel\n", xnnd_qs8_conv_isa_name(&probe));
    check_qs8(shape_of(1, 7, 6, 3, 17, 3, 3, 1, 1, 1), true, true, -128, 127);
    check_qs8(shape_of(2, 8, 9, 5, 16, 1, 1, 1, 1, 0), false, true, -128, 127);  /* odd cin: widened pairs */
    check_qs8(shape_of(1, 11, 10, 8, 24, 3, 3, 2, 1, 1), true, false, -128, 127);
    check_qs8(shape_of(1, 9, 9, 4, 9, 3, 3, 1, 2, 2), true, true, 5, 60);  /* fused range (relu-like) */
    check_qs8(shape_of(1, 5, 7, 64, 40, 1, 1, 1, 1, 0), true, true, -128, 127); /* long k, partial panel */
  }
}

/* XNNPACK requires requantization scales below 1 for int8 convolutions. */
static void test_qs8_refuses_scale(void** state) {
  (void)state;
  xnnd_f32_conv_shape s = shape_of(1, 4, 4, 2, 2, 1, 1, 1, 1, 0);
  float fs[1] = {1.0f};
  xnnd_qs8_conv_params p = {.input_zero_point = 0, .output_zero_point = 0, .input_scale = 1.0f,
                            .output_scale = 0.5f, .filter_scales = fs, .per_channel = 0, .qmin = -128, .qmax = 127};
  assert_false(xnnd_qs8_conv_supported(&s, &p));
}

/* ---- f32 fully connected ---- */

/* Runs xnnd's fully connected layer on seeded data; returns its worst error against a double
 * reference relative to max |reference| and, in *seq_err, that of one sequential float
 * accumulator per output (what a plain GEMM kernel does). */
static xnnd_f32_fc_isa g_fc_isa;

static double check_fc(uint32_t rows, uint32_t k, uint32_t n, bool with_bias, float min, float max, double* seq_err) {
  xnnd_f32_fc_shape s = {.rows = rows, .k = k, .n = n, .min = min, .max = max, .isa = g_fc_isa};
  float* x = malloc((size_t)rows * k * sizeof(float));
  float* w = malloc((size_t)n * k * sizeof(float));
  float* b = malloc(n * sizeof(float));
  float* y = malloc((size_t)rows * n * sizeof(float));
  for (size_t i = 0; i < (size_t)rows * k; i++) x[i] = frand();
  for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand();
  for (size_t i = 0; i < n; i++) b[i] = frand();
  assert_true(xnnd_f32_fc_supported(&s));
  xnnd_f32_fc* fc = NULL;
  assert_int_equal(xnnd_f32_fc_create(&s, w, with_bias ? b : NULL, &k_alloc, &fc), XNND_OK);
  for (size_t i = 0; i < (size_t)rows * n; i++) y[i] = NAN;
  xnnd_f32_fc_run(fc, x, y, NULL);
  double max_ref = 0.0, err = 0.0, seq = 0.0;
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t r = 0; r < rows; r++) {
      for (uint32_t o = 0; o < n; o++) {
        double ref = with_bias ? b[o] : 0.0;
        float acc = with_bias ? b[o] : 0.0f;
        for (uint32_t i = 0; i < k; i++) {
          ref += (double)x[(size_t)r * k + i] * w[(size_t)o * k + i];
          acc = fmaf(x[(size_t)r * k + i], w[(size_t)o * k + i], acc);
        }
        double want = fmin(fmax(ref, (double)min), (double)max);
        if (pass == 0) {
          max_ref = fmax(max_ref, fabs(want));
          continue;
        }
        double got = y[(size_t)r * n + o];
        if (!(fabs(got - want) <= 1e-5 * max_ref + 1e-6))
          fail_msg("linear (%s) %ux%u -> %u: output [%u][%u] is %.9g, reference %.9g", xnnd_f32_fc_isa_name(&s), rows, k,
                   n, r, o, got, want);
        err = fmax(err, fabs(got - want));
        seq = fmax(seq, fabs(fmin(fmax((double)acc, (double)min), (double)max) - want));
      }
    }
  }
  xnnd_f32_fc_destroy(fc, &k_alloc);
  free(x), free(w), free(b), free(y);
  *seq_err = seq / (max_ref ? max_ref : 1.0);
  return err / (max_ref ? max_ref : 1.0);
}

/* Both microkernels where the CPU has AVX-512 (the best one, then AVX2 forced); AVX2 alone
 * elsewhere (the two passes then run the same kernel). */
static void test_f32_fc(void** state) {
  (void)state;
  if (!cpu_ok()) skip();
  for (int isa = 0; isa < 2; isa++) {
    g_fc_isa = isa ? XNND_F32_FC_ISA_AVX2 : XNND_F32_FC_ISA_BEST;
    const xnnd_f32_fc_shape probe = {.rows = 8, .k = 1, .n = 1, .isa = g_fc_isa};
    print_message("f32 fully connected, %s microkernel\n", xnnd_f32_fc_isa_name(&probe));
    double seq;
    /* one row (the 4-way unrolled path, k not a multiple of 4 or of the 64-term block), partial
     * row blocks (3 or 8) and 16-output panels, clamping, no bias */
    check_fc(1, 1, 1, true, -INFINITY, INFINITY, &seq);
    check_fc(1, 3, 17, false, -INFINITY, INFINITY, &seq);
    check_fc(1, 130, 37, true, -INFINITY, INFINITY, &seq);
    check_fc(1, 67, 33, false, -0.5f, 0.75f, &seq);
    check_fc(1, 1280, 1000, true, -INFINITY, INFINITY, &seq); /* mobilenet_v2's classifier */
    check_fc(2, 64, 16, false, -INFINITY, INFINITY, &seq);
    check_fc(2, 129, 18, true, -INFINITY, INFINITY, &seq);
    check_fc(3, 5, 31, true, 0.0f, INFINITY, &seq);
    check_fc(5, 301, 33, true, -0.5f, 0.75f, &seq);
    check_fc(7, 7, 50, true, 0.0f, INFINITY, &seq);
    check_fc(8, 65, 17, true, -INFINITY, INFINITY, &seq);
    check_fc(19, 200, 40, false, -1.0f, 1.0f, &seq);
    /* Long dot products: the blocked sums are several times closer to the exact result than one
     * sequential accumulator (what makes XNNPACK's kernel miss PyTorch's float32 accuracy). */
    double one_row = check_fc(1, 8192, 64, true, -INFINITY, INFINITY, &seq);
    print_message("k 8192, 1 row: relative error %.2e blocked, %.2e sequential\n", one_row, seq);
    assert_true(one_row * 2.0 < seq);
    double rows = check_fc(11, 8192, 64, true, -INFINITY, INFINITY, &seq);
    print_message("k 8192, 11 rows: relative error %.2e blocked, %.2e sequential\n", rows, seq);
    assert_true(rows * 2.0 < seq);
  }
}

/* One row (batch 1, a matrix-vector product) runs the AVX-512 kernel wherever the CPU has
 * AVX-512F, as more rows do, and its one-row path sums exactly as the AVX2 one does (four
 * chains of k-terms i mod 4, added pairwise per 64-term block, then in double): the two give
 * the same bits. Where the CPU lacks AVX-512F both runs take the AVX2 kernel. */
static void test_f32_fc_one_row(void** state) {
  (void)state;
  if (!cpu_ok()) skip();
  bool avx512 = false;
#if defined(__x86_64__)
  __builtin_cpu_init();
  avx512 = __builtin_cpu_supports("avx512f");
#endif
  static const uint32_t shapes[][2] = {{1, 1}, {3, 17}, {4, 16}, {67, 33}, {129, 1}, {1280, 1000}, {1283, 47}};
  for (size_t t = 0; t < sizeof(shapes) / sizeof(shapes[0]); t++) {
    const uint32_t k = shapes[t][0], n = shapes[t][1];
    xnnd_f32_fc_shape best = {.rows = 1, .k = k, .n = n, .min = -2.0f, .max = INFINITY, .isa = XNND_F32_FC_ISA_BEST};
    xnnd_f32_fc_shape avx2 = best;
    avx2.isa = XNND_F32_FC_ISA_AVX2;
    assert_string_equal(xnnd_f32_fc_isa_name(&best), avx512 ? "AVX-512" : "AVX2");
    assert_string_equal(xnnd_f32_fc_isa_name(&avx2), "AVX2");
    float* x = malloc((size_t)k * sizeof(float));
    float* w = malloc((size_t)n * k * sizeof(float));
    float* b = malloc(n * sizeof(float));
    float* y_best = malloc(n * sizeof(float));
    float* y_avx2 = malloc(n * sizeof(float));
    for (size_t i = 0; i < k; i++) x[i] = frand();
    for (size_t i = 0; i < (size_t)n * k; i++) w[i] = frand();
    for (size_t i = 0; i < n; i++) b[i] = frand();
    xnnd_f32_fc *fc_best = NULL, *fc_avx2 = NULL;
    assert_int_equal(xnnd_f32_fc_create(&best, w, b, &k_alloc, &fc_best), XNND_OK);
    assert_int_equal(xnnd_f32_fc_create(&avx2, w, b, &k_alloc, &fc_avx2), XNND_OK);
    for (size_t i = 0; i < n; i++) y_best[i] = NAN, y_avx2[i] = NAN;
    xnnd_f32_fc_run(fc_best, x, y_best, NULL);
    xnnd_f32_fc_run(fc_avx2, x, y_avx2, NULL);
    for (uint32_t o = 0; o < n; o++) {
      if (isnan(y_best[o]) || memcmp(&y_best[o], &y_avx2[o], sizeof(float)) != 0)
        fail_msg("linear 1x%u -> %u: output %u is %.9g with %s, %.9g with AVX2", k, n, o, y_best[o],
                 xnnd_f32_fc_isa_name(&best), y_avx2[o]);
    }
    /* A NaN input term makes every output NaN (the clamp must not turn it into a bound). */
    x[k - 1] = NAN;
    xnnd_f32_fc_run(fc_best, x, y_best, NULL);
    xnnd_f32_fc_run(fc_avx2, x, y_avx2, NULL);
    for (uint32_t o = 0; o < n; o++)
      if (!isnan(y_best[o]) || !isnan(y_avx2[o]))
        fail_msg("linear 1x%u -> %u with a NaN input: output %u is %.9g (%s), %.9g (AVX2)", k, n, o, y_best[o],
                 xnnd_f32_fc_isa_name(&best), y_avx2[o]);
    xnnd_f32_fc_destroy(fc_best, &k_alloc);
    xnnd_f32_fc_destroy(fc_avx2, &k_alloc);
    free(x), free(w), free(b), free(y_best), free(y_avx2);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f32_fc),      cmocka_unit_test(test_f32_fc_one_row),
      cmocka_unit_test(test_f32_direct),  cmocka_unit_test(test_f32_winograd),
      cmocka_unit_test(test_f32_refuses), cmocka_unit_test(test_qs8),
      cmocka_unit_test(test_qs8_refuses_scale),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
