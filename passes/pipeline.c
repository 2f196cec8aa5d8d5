/* The pass pipeline, read top to bottom. Each pass is in its own file; after each one the
 * framework drops nodes nothing reads, compacts, and (tests, debug builds, --verify-each)
 * verifies, naming the pass that broke an invariant.
 *
 * There is no pass for in-place ops (relu_, add_, ...): the exporter functionalizes the
 * graph, so every IR op is pure and writes only its own outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

extern const xnnd_pass xnnd_pass_remove_identity;
extern const xnnd_pass xnnd_pass_collapse_views;
extern const xnnd_pass xnnd_pass_max_pool_indices;
extern const xnnd_pass xnnd_pass_addmm_to_linear;
extern const xnnd_pass xnnd_pass_fold_constants;
extern const xnnd_pass xnnd_pass_qdq_dequant_promotion;
extern const xnnd_pass xnnd_pass_qdq_fusion;
extern const xnnd_pass xnnd_pass_qdq_linear_to_conv;
extern const xnnd_pass xnnd_pass_conv_bn_fold;
extern const xnnd_pass xnnd_pass_batch_norm_to_affine;
extern const xnnd_pass xnnd_pass_pointwise_affine;
extern const xnnd_pass xnnd_pass_mean_to_global_pool;
extern const xnnd_pass xnnd_pass_clamp_fusion;
extern const xnnd_pass xnnd_pass_dedupe_constants;

static const xnnd_pass* const pipeline[] = {
    /* canonicalize: fewer spellings of the same computation for everything below */
    &xnnd_pass_remove_identity,      /* dropout (eval), clone, same-shape view */
    &xnnd_pass_collapse_views,       /* view(view(x)) -> view(x) */
    &xnnd_pass_max_pool_indices,     /* unused indices -> aten.max_pool2d */
    &xnnd_pass_addmm_to_linear,      /* addmm/mm with a transposed weight -> aten.linear */
    &xnnd_pass_fold_constants,       /* t/permute/view of constants, computed now */
    /* int8: dq -> op -> q patterns become quantized nodes (passes/qdq_*.c) */
    &xnnd_pass_qdq_dequant_promotion, /* one dequantize per reader */
    &xnnd_pass_qdq_fusion,            /* conv, linear, add, mul, pools, clamp, view over i8 */
    &xnnd_pass_qdq_linear_to_conv,    /* per-channel linear -> 1x1 convolution */
    /* fold batch norm away: into its producer, else into a depthwise 1x1 convolution */
    &xnnd_pass_conv_bn_fold,
    &xnnd_pass_batch_norm_to_affine,
    /* layout: linears over the channel axis of NCHW tensors become 1x1 convolutions */
    &xnnd_pass_pointwise_affine,
    &xnnd_pass_mean_to_global_pool,  /* mean over H, W (keepdim) -> global average pool */
    /* last, so every producer above can take the range */
    &xnnd_pass_clamp_fusion,         /* relu/hardtanh/clamp -> producer's output range */
    &xnnd_pass_dedupe_constants,     /* identical constants stored once */
    NULL,
};

const xnnd_pass* const* xnnd_pipeline(void) { return pipeline; }

const xnnd_pass* xnnd_pass_find(const char* name) {
  for (const xnnd_pass* const* p = pipeline; *p; p++)
    if (strcmp((*p)->name, name) == 0) return *p;
  return NULL;
}

static bool is_disabled(const xnnd_pipeline_options* o, const char* name) {
  for (uint32_t i = 0; o && i < o->num_disabled; i++)
    if (strcmp(o->disabled[i], name) == 0) return true;
  return false;
}

static xnnd_status dump(const xnnd_graph* g, const char* pass, FILE* out) {
  char* text = xnnd_graph_print(g, NULL);
  if (!text) return XNND_OUT_OF_MEMORY;
  fprintf(out, "# after %s\n%s", pass, text);
  free(text);
  return XNND_OK;
}

xnnd_status xnnd_pass_run_one(xnnd_graph* g, const xnnd_pass* pass, bool verify, uint32_t* changed) {
  uint32_t count = 0;
  xnnd_status st = pass->run(g, &count);
  if (st == XNND_OK) {
    xnnd_remove_unused_nodes(g);
    st = xnnd_graph_compact(g);
  }
  if (st == XNND_OK && verify) st = xnnd_graph_verify(g);
  if (st != XNND_OK) {
    char msg[XNND_ERRMSG_SIZE];
    snprintf(msg, sizeof(msg), "pass %.40s: %.440s", pass->name, g->errmsg);
    memcpy(g->errmsg, msg, sizeof(msg));
  }
  if (changed) *changed += count;
  return st;
}

xnnd_status xnnd_pipeline_run(xnnd_graph* g, const xnnd_pipeline_options* options,
                              xnnd_pipeline_report* report) {
  bool verify_each = options && options->verify_each;
#ifdef XNND_VERIFY_EACH_PASS
  verify_each = true;
#endif
  if (report) memset(report, 0, sizeof(*report));
  for (const xnnd_pass* const* p = pipeline; *p; p++) {
    uint32_t changed = 0;
    bool skip = is_disabled(options, (*p)->name);
    if (!skip) {
      xnnd_status st = xnnd_pass_run_one(g, *p, verify_each, &changed);
      if (st != XNND_OK) return st;
    }
    if (report && report->num_passes < XNND_MAX_PASSES) {
      report->passes[report->num_passes].name = (*p)->name;
      report->passes[report->num_passes].changed = changed;
      report->passes[report->num_passes].skipped = skip;
      report->num_passes++;
    }
    if (options && options->dump_after && options->dump_stream &&
        (strcmp(options->dump_after, "all") == 0 || strcmp(options->dump_after, (*p)->name) == 0)) {
      xnnd_status st = dump(g, (*p)->name, options->dump_stream);
      if (st != XNND_OK) return st;
    }
  }
  return XNND_OK;
}
