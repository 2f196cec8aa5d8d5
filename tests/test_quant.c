/* int8: the xnnd.quantize / xnnd.dequantize portable kernels (PyTorch's rounding: half to even
 * on x * (1/scale), clamping, per channel, dynamic), their IR checks, the quantized XNNPACK
 * lowering checks, and a differential run of every Q/DQ golden case
 * (tests/golden/passes/qdq-*): the f32 + q/dq original on the portable kernels against
 *   - the whole pipeline delegated to XNNPACK (int8 nodes), and
 *   - the whole pipeline with every quantized node expanded back (xnnd_qdq_expand) on the
 *     portable kernels,
 * each within one step of the output's quantization. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "kernels/kernels.h"
#include "passes/qdq.h"
#include "run_graph.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "test_support.h"

/* ---- kernels ---- */

typedef struct kcall {
  xnnd_tensor in[3], out;
  xnnd_tensor* ins[3];
  xnnd_tensor* outs[1];
  xnnd_kattr attrs[4];
  xnnd_kernel_args args;
  _Alignas(16) unsigned char params[XNND_KERNEL_PARAMS_SIZE];
} kcall;

static void kcall_init(kcall* k, uint32_t num_inputs, double scale, int64_t zp, int64_t axis, int64_t dtype) {
  memset(k, 0, sizeof(*k));
  for (uint32_t i = 0; i < 3; i++) k->ins[i] = i < num_inputs ? &k->in[i] : NULL;
  k->outs[0] = &k->out;
  k->attrs[0] = (xnnd_kattr){.name = "scale", .kind = isnan(scale) ? 0 : 2, .f = scale};
  k->attrs[1] = (xnnd_kattr){.name = "zero_point", .kind = 1, .i = zp};
  k->attrs[2] = (xnnd_kattr){.name = "axis", .kind = 1, .i = axis};
  k->attrs[3] = (xnnd_kattr){.name = "dtype", .kind = 1, .i = dtype};
  k->args = (xnnd_kernel_args){k->ins, num_inputs, k->outs, 1, k->attrs, 4, NULL, 0};
}

static void tensor1(xnnd_tensor* t, xnnd_dtype dt, int64_t n, void* data) {
  *t = (xnnd_tensor){.dtype = dt, .rank = 1, .dims = {n}, .data = data};
}

static xnnd_status kcall_run(kcall* k, const char* op) {
  const xnnd_kernel* kern = xnnd_kernel_find(op);
  assert_non_null(kern);
  char err[256] = "";
  xnnd_status st = kern->prepare(&k->args, k->params, err, sizeof(err));
  if (st != XNND_OK) return st;
  return kern->run(&k->args, k->params);
}

static void test_quantize_per_tensor_rounding(void** state) {
  (void)state;
  /* 0.5 steps round to even; beyond the range clamps; NaN goes to the zero point */
  float x[10] = {0.25f, 0.75f, -0.25f, -0.75f, 1.25f, 100.0f, -100.0f, 0.0f, NAN, 0.26f};
  int8_t q[10];
  kcall k;
  kcall_init(&k, 1, 0.5, 3, -1, XNND_I8);
  tensor1(&k.in[0], XNND_F32, 10, x);
  tensor1(&k.out, XNND_I8, 10, q);
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_OK);
  int8_t want[10] = {3, 5, 3, 1, 5, 127, -128, 3, 3, 4};
  for (int i = 0; i < 10; i++) assert_int_equal(q[i], want[i]);

  uint8_t u[10];
  kcall_init(&k, 1, 0.5, 128, -1, XNND_U8);
  tensor1(&k.in[0], XNND_F32, 10, x);
  tensor1(&k.out, XNND_U8, 10, u);
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_OK);
  /* quint8 with zero point z is qint8 with zero point z - 128, every element shifted */
  kcall_init(&k, 1, 0.5, 0, -1, XNND_I8);
  tensor1(&k.in[0], XNND_F32, 10, x);
  tensor1(&k.out, XNND_I8, 10, q);
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_OK);
  for (int i = 0; i < 10; i++) assert_int_equal((int)u[i] - 128, q[i]);

  float back[10];
  kcall_init(&k, 1, 0.5, 0, -1, XNND_I8);
  tensor1(&k.in[0], XNND_I8, 10, q);
  tensor1(&k.out, XNND_F32, 10, back);
  assert_int_equal(kcall_run(&k, "xnnd.dequantize"), XNND_OK);
  for (int i = 0; i < 10; i++) assert_true(back[i] == (float)q[i] * 0.5f);
}

static void test_quantize_per_channel_and_dynamic(void** state) {
  (void)state;
  /* [2, 3, 2] along axis 1 */
  float x[12], back[12];
  for (int i = 0; i < 12; i++) x[i] = (float)i * 0.3f - 1.7f;
  float scales[3] = {0.1f, 0.05f, 0.2f};
  int32_t zps[3] = {0, -3, 7};
  int8_t q[12];
  kcall k;
  kcall_init(&k, 3, NAN, 0, 1, XNND_I8);
  k.in[0] = (xnnd_tensor){.dtype = XNND_F32, .rank = 3, .dims = {2, 3, 2}, .data = x};
  tensor1(&k.in[1], XNND_F32, 3, scales);
  tensor1(&k.in[2], XNND_I32, 3, zps);
  k.out = (xnnd_tensor){.dtype = XNND_I8, .rank = 3, .dims = {2, 3, 2}, .data = q};
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_OK);
  for (int i = 0; i < 12; i++) {
    int c = (i / 2) % 3;
    float t = nearbyintf(x[i] * (1.0f / scales[c])) + (float)zps[c];
    t = t < -128 ? -128 : t > 127 ? 127 : t;
    assert_int_equal(q[i], (int)t);
  }
  kcall_init(&k, 3, NAN, 0, 1, XNND_I8);
  k.in[0] = (xnnd_tensor){.dtype = XNND_I8, .rank = 3, .dims = {2, 3, 2}, .data = q};
  tensor1(&k.in[1], XNND_F32, 3, scales);
  tensor1(&k.in[2], XNND_I32, 3, zps);
  k.out = (xnnd_tensor){.dtype = XNND_F32, .rank = 3, .dims = {2, 3, 2}, .data = back};
  assert_int_equal(kcall_run(&k, "xnnd.dequantize"), XNND_OK);
  for (int i = 0; i < 12; i++) {
    int c = (i / 2) % 3;
    assert_true(back[i] == (float)(q[i] - zps[c]) * scales[c]);
  }

  /* dynamic: the scale is a run-time input; an invalid one fails at run time */
  float s1[1] = {0.25f};
  kcall_init(&k, 2, NAN, 2, -1, XNND_I8);
  k.in[0] = (xnnd_tensor){.dtype = XNND_F32, .rank = 3, .dims = {2, 3, 2}, .data = x};
  tensor1(&k.in[1], XNND_F32, 1, s1);
  k.out = (xnnd_tensor){.dtype = XNND_I8, .rank = 3, .dims = {2, 3, 2}, .data = q};
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_OK);
  for (int i = 0; i < 12; i++) assert_int_equal(q[i], (int)(nearbyintf(x[i] * 4.0f) + 2.0f));
  s1[0] = -1.0f;
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_INVALID_ARGUMENT);

  /* prepare rejects: a scale attribute with a scales input, a zero point out of range */
  kcall_init(&k, 2, 0.5, 0, -1, XNND_I8);
  k.in[0] = (xnnd_tensor){.dtype = XNND_F32, .rank = 1, .dims = {1}, .data = x};
  tensor1(&k.in[1], XNND_F32, 1, s1);
  k.out = (xnnd_tensor){.dtype = XNND_I8, .rank = 1, .dims = {1}, .data = q};
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_INVALID_ARGUMENT);
  kcall_init(&k, 1, 0.5, 200, -1, XNND_I8);
  k.in[0] = (xnnd_tensor){.dtype = XNND_F32, .rank = 1, .dims = {1}, .data = x};
  k.out = (xnnd_tensor){.dtype = XNND_I8, .rank = 1, .dims = {1}, .data = q};
  assert_int_equal(kcall_run(&k, "xnnd.quantize"), XNND_INVALID_ARGUMENT);
}

/* ---- IR ---- */

static xnnd_graph* parse(const char* text, xnnd_status want_verify) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), NULL, &g, &err);
  if (st != XNND_OK) fail_msg("parse: %s", err.message);
  st = xnnd_graph_verify(g);
  if (st != want_verify) fail_msg("verify gave %s: %s", xnnd_status_str(st), g->errmsg);
  return g;
}

static void test_ir_checks(void** state) {
  (void)state;
  const char* bad[] = {
      /* the value's parameters disagree with the node's */
      "graph g {\n  input %x: f32[2]\n  %q: i8[2] q(0.5, 1) = xnnd.quantize(%x) {scale=0.25, zero_point=1, axis=-1, "
      "dtype=2}\n  output %q\n}\n",
      /* zero point out of range for i8 */
      "graph g {\n  input %x: f32[2]\n  %q: i8[2] = xnnd.quantize(%x) {scale=0.25, zero_point=300, axis=-1, "
      "dtype=2}\n  output %q\n}\n",
      /* per channel without scales */
      "graph g {\n  input %x: f32[2,3]\n  %q: i8[2,3] = xnnd.quantize(%x) {scale=none, zero_point=0, axis=1, "
      "dtype=2}\n  output %q\n}\n",
      /* scales of the wrong length */
      "graph g {\n  input %x: f32[2,3]\n  const %s: f32[2] = [1, 2]\n  const %z: i32[2] = [0, 0]\n"
      "  %q: i8[2,3] = xnnd.quantize(%x, %s, %z) {scale=none, zero_point=0, axis=1, dtype=2}\n  output %q\n}\n",
      /* dequantize of an input whose dtype is not the attribute's */
      "graph g {\n  input %x: i8[2]\n  %y: f32[2] = xnnd.dequantize(%x) {scale=0.5, zero_point=0, axis=-1, "
      "dtype=3}\n  output %y\n}\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) xnnd_graph_destroy(parse(bad[i], XNND_VERIFY_ERROR));
  xnnd_graph_destroy(parse("graph g {\n  input %x: f32[2,3]\n  const %s: f32[3] = [1, 2, 0.5]\n"
                           "  const %z: i32[3] = [0, 1, -1]\n  %q: i8[2,3] qc(1, [1,2,0.5], [0,1,-1]) = "
                           "xnnd.quantize(%x, %s, %z) {scale=none, zero_point=0, axis=1, dtype=2}\n  output %q\n}\n",
                           XNND_OK));
}

/* ---- XNNPACK checks of quantized nodes ---- */

static void test_lowering_checks(void** state) {
  (void)state;
  char reason[256];
  /* a quantized average pool: this XNNPACK has none; the expansion makes it f32 again */
  xnnd_graph* g = parse(
      "graph g {\n  input %x: f32[1,2,4,4]\n"
      "  %xq: i8[1,2,4,4] q(0.0078125, 0) = xnnd.quantize(%x) {scale=0.0078125, zero_point=0, axis=-1, dtype=2}\n"
      "  %y: i8[1,2,2,2] q(0.0078125, 0) = aten.avg_pool2d(%xq) {kernel_size=[2,2], stride=[2,2], padding=[0,0], "
      "ceil_mode=false, count_include_pad=true, divisor_override=none}\n"
      "  %out: f32[1,2,2,2] = xnnd.dequantize(%y) {scale=0.0078125, zero_point=0, axis=-1, dtype=2}\n"
      "  output %out\n}\n",
      XNND_OK);
  assert_true(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));   /* the quantize: a Convert */
  assert_false(xnnd_xnnpack_supports(g, 1, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "quantized aten.avg_pool2d is not lowered"));
  assert_true(xnnd_qdq_node_is_quantized(g, 1));
  uint32_t expanded = 0;
  assert_int_equal(xnnd_qdq_expand_undelegated(g, NULL, &expanded), XNND_OK);
  assert_int_equal(expanded, 1);
  xnnd_remove_unused_nodes(g);
  assert_int_equal(xnnd_graph_compact(g), XNND_OK);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("after expansion: %s", g->errmsg);
  for (uint32_t n = 0; n < g->num_nodes; n++) assert_false(xnnd_qdq_node_is_quantized(g, n));
  xt_outputs out;
  char err[256];
  xt_run_options o = {.seed = 3, .delegate = false};
  assert_int_equal(xt_run_graph(g, &o, &out, err, sizeof(err)), XNND_OK);
  xt_outputs_free(&out);
  xnnd_graph_destroy(g);

  /* a per-channel dequantize of a weight stays portable; a requantization >= 256 is refused */
  g = parse("graph g {\n  input %x: f32[1,2,1,1]\n  const %w: i8[2,2,1,1] qc(0, [1,0.5], [0,0]) = [1, 2, 3, 4]\n"
            "  const %s: f32[2] = [1, 0.5]\n  const %z: i32[2] = [0, 0]\n"
            "  %wd: f32[2,2,1,1] = xnnd.dequantize(%w, %s, %z) {scale=none, zero_point=0, axis=0, dtype=2}\n"
            "  %xq: i8[1,2,1,1] q(1, 0) = xnnd.quantize(%x) {scale=1, zero_point=0, axis=-1, dtype=2}\n"
            "  %y: i8[1,2,1,1] q(0.001, 0) = aten.convolution(%xq, %w, _) {stride=[1,1], padding=[0,0], "
            "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
            "  %out: f32[1,2,1,1] = xnnd.dequantize(%y) {scale=0.001, zero_point=0, axis=-1, dtype=2}\n"
            "  output %out, %wd\n}\n",
            XNND_OK);
  assert_false(xnnd_xnnpack_supports(g, 0, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "per-channel"));
  assert_false(xnnd_xnnpack_supports(g, 2, reason, sizeof(reason)));
  assert_non_null(strstr(reason, "requantization scale"));
  xnnd_graph_destroy(g);
}

/* ---- golden differential ---- */

typedef struct qcase {
  const char* pass;
  const char* name;
} qcase;

static const qcase k_cases[] = {
    {"qdq-dequant-promotion", "shared_dq"},
    {"qdq-dequant-promotion", "graph_output_dq"},
    {"qdq-fusion", "conv_per_tensor"},
    {"qdq-fusion", "conv_per_channel_relu"},
    {"qdq-fusion", "dwconv_relu6_folded"},
    {"qdq-fusion", "linear_per_tensor"},
    {"qdq-fusion", "linear_rank3_views"},
    {"qdq-fusion", "add"},
    {"qdq-fusion", "mul"},
    {"qdq-fusion", "max_pool"},
    {"qdq-fusion", "mean_view"},
    {"qdq-fusion", "requantize_same_params"},
    {"qdq-fusion", "reject_max_pool_mismatched_scales"},
    {"qdq-fusion", "reject_dynamic_scale"},
    {"qdq-fusion", "reject_shared_dq"},
    {"qdq-fusion", "reject_avg_pool"},
    {"qdq-fusion", "reject_asymmetric_weight"},
    {"qdq-linear-to-conv", "per_channel_linear"},
    {"qdq-linear-to-conv", "reject_per_tensor_weights"},
};

/* Deterministic bytes for `const ... = #KEY` lines (small i8 values, f32 in [-1, 1)). */
static xnnd_const_bundle* synthetic_bundle(const char* text) {
  xnnd_const_bundle* b = NULL;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  for (const char* line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    const char* s = line;
    while (*s == ' ') s++;
    const char* end = strchr(s, '\n');
    if (!end) end = s + strlen(s);
    const char* hash = memchr(s, '#', (size_t)(end - s));
    if (strncmp(s, "const ", 6) != 0 || !hash) continue;
    const char* t = strchr(s, ':') + 2;
    size_t esize = strncmp(t, "i8[", 3) == 0 ? 1 : 4;
    bool is_float = strncmp(t, "f32[", 4) == 0;
    t = strchr(t, '[') + 1;
    size_t numel = 1;
    while (*t != ']') {
      char* next;
      numel *= (size_t)strtoull(t, &next, 10);
      t = *next == ',' ? next + 1 : next;
    }
    uint64_t key = strtoull(hash + 1, NULL, 16), st = key;
    uint8_t* data = calloc(numel * esize + 1, 1);
    for (size_t i = 0; i < numel; i++) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t r = (uint32_t)(st >> 33);
      if (is_float) {
        float f = (float)((double)r / 2147483648.0 - 1.0);
        memcpy(data + i * 4, &f, 4);
      } else {
        data[i * esize] = (uint8_t)(r % 61) - 30;
      }
    }
    assert_int_equal(xnnd_const_bundle_put(b, key, data, numel * esize), XNND_OK);
    free(data);
  }
  return b;
}

static xnnd_graph* load_case(const qcase* c) {
  char rel[256];
  snprintf(rel, sizeof(rel), "tests/golden/passes/%s/%s.in.ir", c->pass, c->name);
  size_t len;
  char* text = xt_read_file(xt_source_path(rel), &len);
  if (!text) fail_msg("cannot read %s", rel);
  xnnd_const_bundle* b = synthetic_bundle(text);
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(text, len, b, &g, &err) != XNND_OK) fail_msg("%s: %s", rel, err.message);
  xnnd_const_bundle_destroy(b);
  free(text);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("%s: %s", rel, g->errmsg);
  return g;
}

static void expand_all(xnnd_graph* g, const char* what) {
  uint32_t n = 0;
  if (xnnd_qdq_expand_undelegated(g, NULL, &n) != XNND_OK) fail_msg("%s: expand: %s", what, g->errmsg);
  xnnd_remove_unused_nodes(g);
  if (xnnd_graph_compact(g) != XNND_OK || xnnd_graph_verify(g) != XNND_OK) fail_msg("%s: %s", what, g->errmsg);
}

static void run_with(const xnnd_graph* g, bool delegate, bool xnnpack_only, xt_outputs* out, const char* what) {
  char err[512];
  xt_run_options o = {.seed = 11, .delegate = delegate, .xnnpack_kernels_only = xnnpack_only};
  xnnd_status st = xt_run_graph(g, &o, out, err, sizeof(err));
  if (st != XNND_OK) fail_msg("%s: run failed: %s: %s", what, xnnd_status_str(st), err);
}

static void run(const xnnd_graph* g, bool delegate, xt_outputs* out, const char* what) {
  run_with(g, delegate, false, out, what);
}

/* Largest difference in output quantization steps (the scale of each output's dequantize). */
static double max_steps(const xnnd_graph* g, const xt_outputs* a, const xt_outputs* b) {
  assert_int_equal(a->count, b->count);
  double worst = 0.0;
  for (uint32_t o = 0; o < a->count; o++) {
    xnnd_id v = g->outputs[o];
    xnnd_id p = g->values[v].producer;
    assert_true(p < g->num_nodes && g->nodes[p].op == XNND_OP_DEQUANTIZE);
    double scale = g->nodes[p].attrs[0].kind == XNND_ATTR_FLOAT ? g->nodes[p].attrs[0].f : 1.0;
    assert_int_equal(a->numel[o], b->numel[o]);
    for (size_t i = 0; i < a->numel[o]; i++) {
      double d = fabs((double)a->data[o][i] - b->data[o][i]) / scale;
      if (d > worst) worst = d;
    }
  }
  return worst;
}

static void test_golden_differential(void** state) {
  const qcase* c = *state;
  xnnd_graph* orig = load_case(c);
  if (strcmp(c->pass, "qdq-linear-to-conv") == 0) expand_all(orig, "original");
  xt_outputs want;
  run(orig, false, &want, "original");

  xnnd_graph* g = load_case(c);
  if (xnnd_pipeline_run(g, NULL, NULL) != XNND_OK) fail_msg("pipeline: %s", g->errmsg);
  /* every quantized node the passes left is one XNNPACK runs */
  char reason[256];
  for (uint32_t n = 0; n < g->num_nodes; n++)
    if (xnnd_qdq_node_is_quantized(g, n) && !xnnd_xnnpack_supports(g, n, reason, sizeof(reason)))
      fail_msg("%s/%s: quantized node %u is not lowered: %s", c->pass, c->name, n, reason);
  xt_outputs got;
  run(g, true, &got, "pipeline, delegated");
  double d = max_steps(orig, &want, &got);
  if (!(d <= 1.0 + 1e-4)) fail_msg("%s/%s: delegated int8 differs by %g steps", c->pass, c->name, d);
  /* xnnd's own int8 convolution is bit-exact with XNNPACK's. */
  xt_outputs xnn;
  run_with(g, true, true, &xnn, "pipeline, delegated, XNNPACK kernels only");
  d = max_steps(orig, &xnn, &got);
  if (d != 0.0) fail_msg("%s/%s: xnnd's kernels differ from XNNPACK's by %g steps", c->pass, c->name, d);
  xt_outputs_free(&xnn);
  xt_outputs_free(&got);

  expand_all(g, "pipeline");
  run(g, false, &got, "pipeline, expanded, portable");
  d = max_steps(orig, &want, &got);
  if (!(d <= 1.0 + 1e-4)) fail_msg("%s/%s: expanded portable run differs by %g steps", c->pass, c->name, d);
  xt_outputs_free(&got);
  xt_outputs_free(&want);
  xnnd_graph_destroy(g);
  xnnd_graph_destroy(orig);
}

int main(void) {
  enum { NUM_CASES = sizeof(k_cases) / sizeof(k_cases[0]) };
  struct CMUnitTest tests[NUM_CASES + 4];
  static char names[NUM_CASES][96];
  uint32_t n = 0;
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_quantize_per_tensor_rounding);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_quantize_per_channel_and_dynamic);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_ir_checks);
  tests[n++] = (struct CMUnitTest)cmocka_unit_test(test_lowering_checks);
  for (uint32_t i = 0; i < NUM_CASES; i++) {
    snprintf(names[i], sizeof(names[i]), "differential %s/%s", k_cases[i].pass, k_cases[i].name);
    tests[n++] = (struct CMUnitTest){names[i], test_golden_differential, NULL, NULL, (void*)&k_cases[i]};
  }
  return _cmocka_run_group_tests("test_quant", tests, n, NULL, NULL);
}
