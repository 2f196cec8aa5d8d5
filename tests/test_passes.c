/* Pass tests: golden text IR per pass (tests/golden/passes/<pass>/<case>.in.ir ->
 * <case>.out.ir, exact text after running just that pass + unused-node removal + compact),
 * including every case a pass must refuse; a differential run of every golden case on the
 * portable runtime (original vs. that pass vs. the whole pipeline, within 1e-5 of
 * max |output|); and the framework: order, --disable, counts, and the verifier naming the
 * pass that broke the graph.
 *
 * Large constants in golden inputs (`#KEY`) are not stored anywhere: the driver fills them
 * with deterministic pseudo-random data derived from the key. XNND_UPDATE_GOLDEN=1 rewrites
 * the .out.ir files (and canonicalizes .in.ir files) instead of comparing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "passes/pass.h"
#include "run_graph.h"
#include "test_support.h"

#define REL_TOL 1e-5  /* portable runtime, before vs. after */
#define XNN_TOL 1e-4  /* XNNPACK after the pipeline vs. portable before */

/* ---- golden cases ---- */

enum {
  RUNS = 0,
  NO_RUN = 1,  /* the portable kernels do not run it (quantized, training batch norm) */
  /* Skip the XNNPACK run (no case needs it now: a clamp whose range cannot meet its
   * producer's fused range stays portable, see serializer/xnnpack/lower_clamp.c). */
  NO_DELEGATE_RUN = 2,
  /* symbolic graph: specialized (every symbol fixed) at its minima, midpoints and maxima, the
   * original and the rewritten graph run on the portable runtime and agree at each size */
  SIZES_RUN = 4,
};

typedef struct golden_case {
  const char* pass;
  const char* name;
  uint32_t changed;  /* the pass's count: 0 for every case it must refuse */
  uint32_t flags;
} golden_case;

static const golden_case k_cases[] = {
    /* pointwise-affine: seed PR scenarios */
    {"pointwise-affine", "nchw_pointwise", 1, RUNS},
    {"pointwise-affine", "nchw_addmm_views", 1, RUNS},
    {"pointwise-affine", "nhwc_pointwise", 1, RUNS},
    {"pointwise-affine", "transformer_linear", 1, RUNS},
    {"pointwise-affine", "separate_bias_add", 1, RUNS},
    {"pointwise-affine", "mlp_two_linears", 1, RUNS},
    {"pointwise-affine", "addmm_const_mat2_alpha_beta", 1, RUNS},
    {"pointwise-affine", "square_dims_traced", 1, RUNS},
    {"pointwise-affine", "channel_middle_rank3", 1, RUNS},
    {"pointwise-affine", "exported_mlp_bias_after_view", 1, RUNS},
    {"pointwise-affine", "reject_softmax_channel", 0, RUNS},
    {"pointwise-affine", "reject_add_after_activation", 0, RUNS},
    {"pointwise-affine", "reject_cat_channel", 0, RUNS},
    {"pointwise-affine", "reject_spatial_mean", 0, RUNS},
    {"pointwise-affine", "reject_spatial_avg_pool", 0, RUNS},
    {"pointwise-affine", "reject_broken_restore", 0, RUNS},
    {"pointwise-affine", "reject_channel_not_last_no_permute", 0, RUNS},
    {"pointwise-affine", "reject_several_consumers", 0, RUNS},
    {"pointwise-affine", "reject_output_read_twice", 0, RUNS},
    {"pointwise-affine", "reject_residual_add", 0, RUNS},
    {"pointwise-affine", "reject_row_varying_add", 0, RUNS},
    {"pointwise-affine", "reject_quantized", 0, NO_RUN},
    {"pointwise-affine", "reject_merged_axes", 0, RUNS},
    {"pointwise-affine", "reject_unit_channel", 0, RUNS},
    {"pointwise-affine", "depth_limit", 1, RUNS},
    /* conv-bn-fold */
    {"conv-bn-fold", "conv_bias", 1, RUNS},
    {"conv-bn-fold", "conv_no_bias", 1, RUNS},
    {"conv-bn-fold", "grouped", 1, RUNS},
    {"conv-bn-fold", "depthwise", 1, RUNS},
    {"conv-bn-fold", "transposed", 1, RUNS},
    {"conv-bn-fold", "transposed_grouped", 1, RUNS},
    {"conv-bn-fold", "linear_bn1d", 1, RUNS},
    {"conv-bn-fold", "reject_shared_producer", 0, RUNS},
    {"conv-bn-fold", "reject_training", 0, NO_RUN},
    {"conv-bn-fold", "reject_weight_not_constant", 0, RUNS},
    /* batch-norm-to-affine */
    {"batch-norm-to-affine", "after_input", 1, RUNS},
    {"batch-norm-to-affine", "after_shared_conv", 1, RUNS},
    {"batch-norm-to-affine", "reject_rank2", 0, RUNS},
    /* clamp-fusion */
    {"clamp-fusion", "conv_relu", 1, RUNS},
    {"clamp-fusion", "linear_relu6", 1, RUNS},
    {"clamp-fusion", "add_hardtanh", 1, RUNS},
    {"clamp-fusion", "max_pool_clamp_min", 1, RUNS},
    {"clamp-fusion", "mean_clamp_max", 1, RUNS},
    {"clamp-fusion", "consecutive_into_conv", 2, RUNS},
    {"clamp-fusion", "consecutive_no_producer", 1, RUNS},
    {"clamp-fusion", "reject_shared", 0, RUNS},
    {"clamp-fusion", "reject_graph_output", 0, RUNS},
    {"clamp-fusion", "reject_no_range_producer", 0, RUNS},
    {"clamp-fusion", "empty_range_not_merged", 1, RUNS},
    /* canonicalization */
    {"remove-identity", "dropout_clone_view", 3, RUNS},
    {"remove-identity", "keep_non_identity", 0, RUNS},
    {"collapse-views", "view_chain", 2, RUNS},
    {"collapse-views", "view_back_to_source", 1, RUNS},
    {"fold-constants", "t_permute_view", 3, RUNS},
    {"dedupe-constants", "identical", 2, RUNS},
    {"addmm-to-linear", "addmm_t", 1, RUNS},
    {"addmm-to-linear", "mm_t", 1, RUNS},
    {"addmm-to-linear", "const_mat2_alpha_beta", 1, RUNS},
    {"addmm-to-linear", "reject_row_bias", 0, RUNS},
    {"addmm-to-linear", "reject_activation_product", 0, RUNS},
    {"mean-to-global-pool", "keepdim", 2, RUNS},
    {"mean-to-global-pool", "reject_no_keepdim_or_other_dims", 0, RUNS},
    {"max-pool-indices", "unused_indices", 1, RUNS},
    {"max-pool-indices", "reject_used_indices", 0, RUNS},
    /* int8 Q/DQ passes: fused graphs hold quantized nodes only XNNPACK runs, so their
     * differential runs (portable via expansion, and delegated, within one output step) are
     * in tests/test_quant.c; the refused cases that stay f32 run here too */
    {"qdq-dequant-promotion", "shared_dq", 1, NO_RUN},
    {"qdq-dequant-promotion", "graph_output_dq", 1, NO_RUN},
    {"qdq-dequant-promotion", "reject_single_reader", 0, NO_RUN},
    {"qdq-fusion", "conv_per_tensor", 1, NO_RUN},
    {"qdq-fusion", "conv_per_channel_relu", 1, NO_RUN},
    {"qdq-fusion", "dwconv_relu6_folded", 3, NO_RUN},
    {"qdq-fusion", "linear_per_tensor", 1, NO_RUN},
    {"qdq-fusion", "linear_rank3_views", 3, NO_RUN},
    {"qdq-fusion", "add", 1, NO_RUN},
    {"qdq-fusion", "mul", 1, NO_RUN},
    {"qdq-fusion", "max_pool", 1, NO_RUN},
    {"qdq-fusion", "mean_view", 2, NO_RUN},
    {"qdq-fusion", "requantize_same_params", 2, NO_RUN},
    {"qdq-fusion", "reject_max_pool_mismatched_scales", 0, RUNS | NO_DELEGATE_RUN},
    {"qdq-fusion", "reject_dynamic_scale", 0, RUNS | NO_DELEGATE_RUN},
    {"qdq-fusion", "reject_shared_dq", 0, NO_RUN},
    {"qdq-fusion", "reject_avg_pool", 0, RUNS | NO_DELEGATE_RUN},
    {"qdq-fusion", "reject_asymmetric_weight", 0, RUNS | NO_DELEGATE_RUN},
    {"qdq-linear-to-conv", "per_channel_linear", 1, NO_RUN},
    {"qdq-linear-to-conv", "reject_per_tensor_weights", 0, NO_RUN},
    /* dynamic shapes (symbolic dims): rewrites that hold at every size happen, with the
     * forms carried; those needing a symbolic size are refused. Run specialized at three
     * sizes (SIZES_RUN; the int8 ones are covered like the static Q/DQ cases above). */
    {"conv-bn-fold", "dyn_batch", 1, NO_RUN | SIZES_RUN},
    {"clamp-fusion", "dyn_conv_relu", 1, NO_RUN | SIZES_RUN},
    {"addmm-to-linear", "dyn_batch", 1, NO_RUN | SIZES_RUN},
    {"addmm-to-linear", "reject_dyn_weight", 0, NO_RUN | SIZES_RUN},
    {"batch-norm-to-affine", "dyn_after_input", 1, NO_RUN | SIZES_RUN},
    {"qdq-linear-to-conv", "dyn_batch", 1, NO_RUN},
    {"qdq-linear-to-conv", "reject_two_dynamic_dims", 0, NO_RUN},
    {"qdq-fusion", "dyn_linear_rank3_views", 3, NO_RUN},
    {"mean-to-global-pool", "dyn_keepdim", 1, NO_RUN | SIZES_RUN},
    {"max-pool-indices", "dyn_unused_indices", 1, NO_RUN | SIZES_RUN},
    {"collapse-views", "dyn_view_chain", 3, NO_RUN | SIZES_RUN},
    {"remove-identity", "dyn_views", 2, NO_RUN | SIZES_RUN},
    {"pointwise-affine", "reject_dynamic", 0, NO_RUN | SIZES_RUN},
};

#define NUM_CASES (sizeof(k_cases) / sizeof(k_cases[0]))

static bool update_golden(void) {
  const char* e = getenv("XNND_UPDATE_GOLDEN");
  return e && e[0] == '1';
}

static const char* case_path(const golden_case* c, const char* suffix) {
  static char buf[4][1024];
  static int slot;
  char* out = buf[slot++ & 3];
  char rel[512];
  snprintf(rel, sizeof(rel), "tests/golden/passes/%s/%s%s", c->pass, c->name, suffix);
  snprintf(out, sizeof(buf[0]), "%s", xt_source_path(rel));
  return out;
}

/* Deterministic data for every `const %n: TYPE[dims] ... = #KEY` line of text. */
static xnnd_const_bundle* synthetic_bundle(const char* text) {
  xnnd_const_bundle* b = NULL;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  for (const char* line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
    const char* end = strchr(line, '\n');
    if (!end) end = line + strlen(line);
    const char* s = line;
    while (*s == ' ') s++;
    if (strncmp(s, "const ", 6) != 0) continue;
    const char* hash = memchr(s, '#', (size_t)(end - s));
    const char* colon = memchr(s, ':', (size_t)(end - s));
    if (!hash || !colon) continue;
    uint64_t key = strtoull(hash + 1, NULL, 16);
    const char* t = colon + 1;
    while (*t == ' ') t++;
    static const struct { const char* name; size_t size; bool is_float; } types[] = {
        {"f32", 4, true}, {"f16", 2, false}, {"i8", 1, false}, {"u8", 1, false},
        {"i32", 4, false}, {"i64", 8, false}, {"bool", 1, false}};
    size_t esize = 0;
    bool is_float = false;
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
      size_t n = strlen(types[i].name);
      if (strncmp(t, types[i].name, n) == 0 && t[n] == '[') {
        esize = types[i].size;
        is_float = types[i].is_float;
        t += n + 1;
        break;
      }
    }
    assert_true(esize > 0);
    size_t numel = 1;
    while (*t != ']') {
      char* next;
      numel *= (size_t)strtoull(t, &next, 10);
      t = *next == ',' ? next + 1 : next;
    }
    uint8_t* data = malloc(numel * esize + 1);
    assert_non_null(data);
    uint64_t st = key;
    for (size_t i = 0; i < numel; i++) {
      st = st * 6364136223846793005ull + 1442695040888963407ull;
      uint32_t r = (uint32_t)(st >> 33);
      if (is_float) {
        float f = (float)((double)r / 2147483648.0 - 1.0);  /* [-1, 1) */
        memcpy(data + i * 4, &f, 4);
      } else {
        for (size_t k = 0; k < esize; k++) data[i * esize + k] = (uint8_t)(k == 0 ? r % 7 : 0);
      }
    }
    assert_int_equal(xnnd_const_bundle_put(b, key, data, numel * esize), XNND_OK);
    free(data);
  }
  return b;
}

static xnnd_graph* parse_text(const char* text, const char* what) {
  xnnd_const_bundle* b = synthetic_bundle(text);
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), b, &g, &err);
  xnnd_const_bundle_destroy(b);
  if (st != XNND_OK) fail_msg("%s: parse failed: %s", what, err.message);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("%s: verify failed: %s", what, g->errmsg);
  return g;
}

static char* print_graph(const xnnd_graph* g) {
  char* text = xnnd_graph_print(g, NULL);
  assert_non_null(text);
  return text;
}

static void run_outputs(const xnnd_graph* g, bool delegate, xt_outputs* out, const char* what) {
  char err[512];
  xt_run_options o = {.seed = 7, .delegate = delegate};
  xnnd_status st = xt_run_graph(g, &o, out, err, sizeof(err));
  if (st != XNND_OK) fail_msg("%s: run failed: %s: %s", what, xnnd_status_str(st), err);
}

static void expect_same_outputs(const xt_outputs* ref, const xnnd_graph* g, bool delegate,
                                double tol, const char* what) {
  xt_outputs got;
  run_outputs(g, delegate, &got, what);
  double d = xt_outputs_rel_diff(ref, &got);
  xt_outputs_free(&got);
  if (!(d >= 0.0 && d <= tol)) fail_msg("%s: outputs differ: relative %g (tolerance %g)", what, d, tol);
}

/* The point `which` of g's symbols: 0 minima, 1 midpoints, 2 maxima. */
static void specialize_at(xnnd_graph* g, int which, const char* what) {
  int64_t at[XNND_MAX_SYMS];
  for (uint32_t s = 0; s < g->num_syms; s++) {
    const xnnd_symbol* y = &g->syms[s];
    at[s] = which == 0 ? y->min : which == 2 ? y->max : y->min + (y->max - y->min) / 2;
  }
  if (xnnd_graph_specialize(g, at, g->num_syms) != XNND_OK) fail_msg("%s: %s", what, g->errmsg);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("%s specialized: %s", what, g->errmsg);
}

/* The symbolic input, the pass's result (pass NULL: none) and the pipeline's, each specialized
 * at three sizes and run on the portable runtime (the pipeline's also delegated to XNNPACK when
 * `delegated`). The rewrites run on the symbolic graph (fresh parses: the constants the passes
 * compute are not in the .out.ir text). */
static void run_at_sizes(const char* before, const xnnd_pass* pass, const char* name,
                         bool delegated) {
  for (int which = 0; which < 3; which++) {
    xnnd_graph* ref = parse_text(before, name);
    xnnd_graph* full = parse_text(before, name);
    if (xnnd_pipeline_run(full, NULL, NULL) != XNND_OK) fail_msg("pipeline: %s", full->errmsg);
    specialize_at(ref, which, "original");
    specialize_at(full, which, "after the pipeline");
    xt_outputs want;
    run_outputs(ref, false, &want, "original, specialized");
    if (pass) {
      xnnd_graph* got = parse_text(before, name);
      uint32_t changed = 0;
      if (xnnd_pass_run_one(got, pass, true, &changed) != XNND_OK) fail_msg("%s", got->errmsg);
      specialize_at(got, which, "after the pass");
      expect_same_outputs(&want, got, false, REL_TOL, "after the pass, specialized");
      xnnd_graph_destroy(got);
    }
    expect_same_outputs(&want, full, false, REL_TOL, "after the pipeline, specialized");
    if (delegated)
      expect_same_outputs(&want, full, true, XNN_TOL, "after the pipeline, specialized, delegated");
    xt_outputs_free(&want);
    xnnd_graph_destroy(full);
    xnnd_graph_destroy(ref);
  }
}

static void test_golden_case(void** state) {
  const golden_case* c = *state;
  const xnnd_pass* pass = xnnd_pass_find(c->pass);
  if (!pass) fail_msg("no pass named %s", c->pass);
  size_t len;
  char* in_text = xt_read_file(case_path(c, ".in.ir"), &len);
  if (!in_text) fail_msg("cannot read %s", case_path(c, ".in.ir"));
  xnnd_graph* g = parse_text(in_text, case_path(c, ".in.ir"));
  char* canonical = print_graph(g);
  if (strcmp(canonical, in_text) != 0) {
    if (update_golden())
      xt_write_file(case_path(c, ".in.ir"), canonical, strlen(canonical));
    else
      fail_msg("%s is not in canonical form; expected:\n%s", case_path(c, ".in.ir"), canonical);
  }

  uint32_t changed = 0;
  xnnd_status st = xnnd_pass_run_one(g, pass, true, &changed);
  if (st != XNND_OK) fail_msg("%s: %s", c->name, g->errmsg);
  char* got = print_graph(g);
  const char* out_path = case_path(c, ".out.ir");
  if (update_golden()) {
    xt_write_file(out_path, got, strlen(got));
  } else {
    char* want = xt_read_file(out_path, &len);
    if (!want) fail_msg("cannot read %s", out_path);
    if (strcmp(want, got) != 0) fail_msg("%s differs; got:\n%s", out_path, got);
    free(want);
  }
  if (changed != c->changed) fail_msg("%s/%s: pass counted %u rewrites, expected %u", c->pass, c->name, changed, c->changed);
  if (c->changed == 0 && strcmp(got, canonical) != 0)
    fail_msg("%s/%s: a refused case changed the graph", c->pass, c->name);

  if (c->flags & SIZES_RUN) run_at_sizes(canonical, pass, c->name, false);
  if (!(c->flags & NO_RUN)) {
    xnnd_graph* ref = parse_text(canonical, "reference");
    xt_outputs want_out;
    run_outputs(ref, false, &want_out, "original");
    expect_same_outputs(&want_out, g, false, REL_TOL, "after the pass");
    xnnd_graph* full = parse_text(canonical, "pipeline input");
    st = xnnd_pipeline_run(full, NULL, NULL);
    if (st != XNND_OK) fail_msg("pipeline: %s", full->errmsg);
    expect_same_outputs(&want_out, full, false, REL_TOL, "after the pipeline");
    /* and what XNNPACK makes of the pipeline's output (fused ranges, 1x1 convolutions) */
    if (!(c->flags & NO_DELEGATE_RUN))
      expect_same_outputs(&want_out, full, true, XNN_TOL, "after the pipeline, delegated");
    xt_outputs_free(&want_out);
    xnnd_graph_destroy(full);
    xnnd_graph_destroy(ref);
  }
  free(got);
  free(canonical);
  free(in_text);
  xnnd_graph_destroy(g);
}

/* ---- framework ---- */

static void test_pipeline_order(void** state) {
  (void)state;
  static const char* const want[] = {
      "remove-identity", "collapse-views", "max-pool-indices", "addmm-to-linear",
      "fold-constants", "qdq-dequant-promotion", "qdq-fusion", "qdq-linear-to-conv",
      "conv-bn-fold", "batch-norm-to-affine", "pointwise-affine",
      "mean-to-global-pool", "clamp-fusion", "dedupe-constants", NULL};
  const xnnd_pass* const* p = xnnd_pipeline();
  for (uint32_t i = 0; want[i]; i++) {
    assert_non_null(p[i]);
    assert_string_equal(p[i]->name, want[i]);
    assert_ptr_equal(xnnd_pass_find(want[i]), p[i]);
    assert_true(strlen(p[i]->summary) > 0);
  }
  assert_null(p[14]);
  assert_null(xnnd_pass_find("no-such-pass"));
}

static xnnd_status break_graph(xnnd_graph* g, uint32_t* changed) {
  g->nodes[0].inputs[0] = g->nodes[0].outputs[0];  /* reads its own output: a cycle */
  (*changed)++;
  return XNND_OK;
}

static void test_verifier_names_pass(void** state) {
  (void)state;
  const char* text =
      "graph g {\n"
      "  input %x: f32[2,3]\n"
      "  %y: f32[2,3] = aten.relu(%x)\n"
      "  output %y\n"
      "}\n";
  xnnd_graph* g = parse_text(text, "broken");
  const xnnd_pass broken = {"break-things", "test", break_graph};
  uint32_t changed = 0;
  assert_int_not_equal(xnnd_pass_run_one(g, &broken, true, &changed), XNND_OK);
  if (strncmp(g->errmsg, "pass break-things: ", 19) != 0) fail_msg("message: %s", g->errmsg);
  xnnd_graph_destroy(g);
}

static const char* k_convnext_like =
    "graph block {\n"
    "  input %x: f32[1,4,5,5]\n"
    "  const %w1: f32[8,4] = #00000000000000a1\n"
    "  const %w2: f32[4,8] = #00000000000000a2\n"
    "  %p: f32[1,5,5,4] = aten.permute(%x) {dims=[0,2,3,1]}\n"
    "  %c: f32[1,5,5,4] = aten.clone(%p)\n"
    "  %v: f32[25,4] = aten.view(%c) {size=[25,4]}\n"
    "  %t1: f32[4,8] = aten.t(%w1)\n"
    "  %m1: f32[25,8] = aten.mm(%v, %t1)\n"
    "  %r: f32[25,8] = aten.relu(%m1)\n"
    "  %t2: f32[8,4] = aten.t(%w2)\n"
    "  %m2: f32[25,4] = aten.mm(%r, %t2)\n"
    "  %u: f32[1,5,5,4] = aten.view(%m2) {size=[1,5,5,4]}\n"
    "  %q: f32[1,4,5,5] = aten.permute(%u) {dims=[0,3,1,2]}\n"
    "  %y: f32[1,4,5,5] = aten.add(%q, %x) {alpha=1}\n"
    "  output %y\n"
    "}\n";

static uint32_t count_op(const xnnd_graph* g, xnnd_op op) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->num_nodes; i++) n += !g->nodes[i].dead && g->nodes[i].op == op;
  return n;
}

static void test_pipeline_disable_and_report(void** state) {
  (void)state;
  xnnd_graph* g = parse_text(k_convnext_like, "block");
  xnnd_pipeline_report rep;
  assert_int_equal(xnnd_pipeline_run(g, NULL, &rep), XNND_OK);
  assert_int_equal(count_op(g, XNND_OP_PERMUTE), 0);
  assert_int_equal(count_op(g, XNND_OP_CONVOLUTION), 2);
  assert_int_equal(count_op(g, XNND_OP_RELU), 0);  /* fused into the first convolution */
  bool saw = false;
  for (uint32_t i = 0; i < rep.num_passes; i++) {
    if (strcmp(rep.passes[i].name, "pointwise-affine") == 0) {
      assert_int_equal(rep.passes[i].changed, 1);
      saw = true;
    }
    if (strcmp(rep.passes[i].name, "addmm-to-linear") == 0) assert_int_equal(rep.passes[i].changed, 2);
  }
  assert_true(saw);
  xnnd_graph_destroy(g);

  g = parse_text(k_convnext_like, "block");
  const char* disabled[] = {"pointwise-affine"};
  xnnd_pipeline_options o = {disabled, 1, NULL, NULL, true};
  assert_int_equal(xnnd_pipeline_run(g, &o, &rep), XNND_OK);
  assert_int_equal(count_op(g, XNND_OP_PERMUTE), 2);
  assert_int_equal(count_op(g, XNND_OP_LINEAR), 2);
  for (uint32_t i = 0; i < rep.num_passes; i++)
    if (strcmp(rep.passes[i].name, "pointwise-affine") == 0) assert_true(rep.passes[i].skipped);
  xnnd_graph_destroy(g);
}

static void test_dump_after(void** state) {
  (void)state;
  xnnd_graph* g = parse_text(k_convnext_like, "block");
  char* buf = NULL;
  size_t size = 0;
  FILE* f = open_memstream(&buf, &size);
  assert_non_null(f);
  xnnd_pipeline_options o = {NULL, 0, "pointwise-affine", f, false};
  assert_int_equal(xnnd_pipeline_run(g, &o, NULL), XNND_OK);
  fclose(f);
  assert_non_null(strstr(buf, "# after pointwise-affine\ngraph block {"));
  assert_null(strstr(buf, "# after clamp-fusion"));
  free(buf);
  xnnd_graph_destroy(g);
}

/* The golden models in tests/golden/{ir,export}: after the pipeline no batch norm, relu or
 * hardtanh is left, and outputs agree. */
static void pipeline_on_file(const char* rel, const char* bundle_rel) {
  size_t len;
  char* text = xt_read_file(xt_source_path(rel), &len);
  if (!text) fail_msg("cannot read %s", rel);
  xnnd_graph* g;
  xnnd_graph* ref;
  if (bundle_rel) {
    xnnd_const_bundle* b = NULL;
    xnnd_error err;
    if (xnnd_const_bundle_load(xt_source_path(bundle_rel), &b, &err) != XNND_OK) fail_msg("%s", err.message);
    assert_int_equal(xnnd_graph_parse(text, len, b, &g, &err), XNND_OK);
    assert_int_equal(xnnd_graph_parse(text, len, b, &ref, &err), XNND_OK);
    xnnd_const_bundle_destroy(b);
  } else {
    g = parse_text(text, rel);
    ref = parse_text(text, rel);
  }
  xt_outputs want;
  run_outputs(ref, false, &want, rel);
  xnnd_status st = xnnd_pipeline_run(g, NULL, NULL);
  if (st != XNND_OK) fail_msg("%s: %s", rel, g->errmsg);
  assert_int_equal(count_op(g, XNND_OP_NATIVE_BATCH_NORM), 0);
  assert_int_equal(count_op(g, XNND_OP_RELU), 0);
  assert_int_equal(count_op(g, XNND_OP_HARDTANH), 0);
  assert_int_equal(count_op(g, XNND_OP_ADDMM), 0);
  expect_same_outputs(&want, g, false, REL_TOL, rel);
  expect_same_outputs(&want, g, true, XNN_TOL, rel);
  xt_outputs_free(&want);
  xnnd_graph_destroy(ref);
  xnnd_graph_destroy(g);
  free(text);
}

static void test_pipeline_golden_models(void** state) {
  (void)state;
  pipeline_on_file("tests/golden/ir/convnet.ir", "tests/golden/ir/convnet.xcb");
  pipeline_on_file("tests/golden/export/tiny_conv_bn_relu_linear.ir", NULL);
}

/* A dynamic model (batch s0 in 1..8, views with symbolic sizes) through the whole pipeline:
 * exact text (tests/golden/passes/pipeline/dynamic_convnet.{in,out}.ir). Batch norm folds into
 * the convolution, relu/hardtanh fuse as ranges, the pool loses its indices, the mean becomes a
 * global pool, dropout goes, addmm becomes linear, and every value keeps its forms. */
static void test_pipeline_dynamic_golden(void** state) {
  (void)state;
  static const golden_case c = {"pipeline", "dynamic_convnet", 0, NO_RUN};
  size_t len;
  char* in_text = xt_read_file(case_path(&c, ".in.ir"), &len);
  if (!in_text) fail_msg("cannot read %s", case_path(&c, ".in.ir"));
  xnnd_graph* g = parse_text(in_text, case_path(&c, ".in.ir"));
  char* canonical = print_graph(g);
  if (strcmp(canonical, in_text) != 0) {
    if (update_golden())
      xt_write_file(case_path(&c, ".in.ir"), canonical, strlen(canonical));
    else
      fail_msg("not canonical; expected:\n%s", canonical);
  }
  xnnd_pipeline_options o = {NULL, 0, NULL, NULL, true};
  xnnd_status st = xnnd_pipeline_run(g, &o, NULL);
  if (st != XNND_OK) fail_msg("pipeline: %s", g->errmsg);
  assert_int_equal(xnnd_graph_verify(g), XNND_OK);
  char* got = print_graph(g);
  if (update_golden()) {
    xt_write_file(case_path(&c, ".out.ir"), got, strlen(got));
  } else {
    char* want = xt_read_file(case_path(&c, ".out.ir"), &len);
    if (!want) fail_msg("cannot read %s", case_path(&c, ".out.ir"));
    if (strcmp(want, got) != 0) fail_msg("pipeline output differs; got:\n%s", got);
    free(want);
  }
  /* the printed result parses back to the same graph (forms and symbolic attrs included) */
  xnnd_graph* again = parse_text(got, "pipeline output");
  char* got2 = print_graph(again);
  assert_string_equal(got2, got);
  free(got2);
  xnnd_graph_destroy(again);
  /* at batch 1, 4 and 8: the pipeline's graph computes what the original does, on the
   * portable runtime and delegated to XNNPACK (both static at that size) */
  run_at_sizes(canonical, NULL, "pipeline input", true);
  free(got);
  free(canonical);
  free(in_text);
  xnnd_graph_destroy(g);
}

/* A fused output range reaches both runtimes: the writer's KernelCall attrs for portable
 * kernels and the XNNPACK node's output_min/output_max. */
static void test_fused_range_runs(void** state) {
  (void)state;
  const char* text =
      "graph ranged {\n"
      "  input %x: f32[2,8]\n"
      "  %y: f32[2,8] = aten.add(%x, %x) {alpha=1} clamp(-0.25, 0.5)\n"
      "  output %y\n"
      "}\n";
  xnnd_graph* g = parse_text(text, "ranged");
  for (int delegate = 0; delegate < 2; delegate++) {
    xt_outputs out;
    run_outputs(g, delegate, &out, delegate ? "delegated" : "portable");
    bool below = false, above = false;
    for (size_t k = 0; k < out.numel[0]; k++) {
      float v = out.data[0][k];
      assert_true(v >= -0.25f && v <= 0.5f);
      below = below || v == -0.25f;
      above = above || v == 0.5f;
    }
    assert_true(below && above);  /* the seeded inputs do reach both bounds */
    xt_outputs_free(&out);
  }
  xnnd_graph_destroy(g);
}

int main(void) {
  struct CMUnitTest tests[NUM_CASES + 8];
  static char names[NUM_CASES][128];
  size_t n = 0;
  for (size_t i = 0; i < NUM_CASES; i++) {
    snprintf(names[i], sizeof(names[i]), "%s/%s", k_cases[i].pass, k_cases[i].name);
    tests[n++] = (struct CMUnitTest){names[i], test_golden_case, NULL, NULL, (void*)&k_cases[i]};
  }
  const struct CMUnitTest fixed[] = {
      cmocka_unit_test(test_pipeline_order),
      cmocka_unit_test(test_verifier_names_pass),
      cmocka_unit_test(test_pipeline_disable_and_report),
      cmocka_unit_test(test_dump_after),
      cmocka_unit_test(test_pipeline_golden_models),
      cmocka_unit_test(test_fused_range_runs),
      cmocka_unit_test(test_pipeline_dynamic_golden),
  };
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) tests[n++] = fixed[i];
  return _cmocka_run_group_tests("test_passes", tests, n, NULL, NULL);
}
