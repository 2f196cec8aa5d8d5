/* The pass pipeline, read top to bottom. Each pass is in its own file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

extern const xnnd_pass xnnd_pass_conv_bn_fold;

static const xnnd_pass* const pipeline[] = {
    &xnnd_pass_conv_bn_fold,
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
      xnnd_status st = (*p)->run(g, &changed);
      if (st == XNND_OK) st = xnnd_graph_compact(g);
      if (st == XNND_OK && verify_each) st = xnnd_graph_verify(g);
      if (st != XNND_OK) {
        char msg[XNND_ERRMSG_SIZE];
        snprintf(msg, sizeof(msg), "pass %s: %s", (*p)->name, g->errmsg);
        memcpy(g->errmsg, msg, sizeof(msg));
        return st;
      }
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
