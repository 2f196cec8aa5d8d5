/* Pass framework: a pass is a named function over the IR that counts what it changed.
 * The pipeline (pipeline.c) is one static array read top to bottom. Passes mark nodes
 * dead and let the pipeline compact afterwards; they never free while iterating. */
#ifndef XNND_PASSES_PASS_H
#define XNND_PASSES_PASS_H

#include <stdbool.h>
#include <stdio.h>

#include "ir.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_pass {
  const char* name;      /* kebab-case, used by --disable / --dump-after */
  const char* summary;   /* one line for --list-passes */
  /* Rewrite g in place; add the number of rewrites to *changed. Errors go to g->errmsg. */
  xnnd_status (*run)(xnnd_graph* g, uint32_t* changed);
} xnnd_pass;

/* The pipeline in order, NULL-terminated. */
const xnnd_pass* const* xnnd_pipeline(void);
const xnnd_pass* xnnd_pass_find(const char* name);

#define XNND_MAX_PASSES 32

typedef struct xnnd_pipeline_options {
  const char* const* disabled;   /* pass names to skip */
  uint32_t num_disabled;
  const char* dump_after;        /* pass name, or "all"; NULL = none */
  FILE* dump_stream;             /* where dumps go (the CLI passes stdout) */
  bool verify_each;              /* run xnnd_graph_verify after every pass */
} xnnd_pipeline_options;

typedef struct xnnd_pipeline_report {
  uint32_t num_passes;
  struct {
    const char* name;
    uint32_t changed;
    bool skipped;
  } passes[XNND_MAX_PASSES];
} xnnd_pipeline_report;

/* Run every enabled pass, compacting after each. On a verifier failure the message names
 * the pass that broke the invariant. */
xnnd_status xnnd_pipeline_run(xnnd_graph* g, const xnnd_pipeline_options* options,
                              xnnd_pipeline_report* report);

/* Shared helpers for passes (pass_util.c). */
/* Value is a constant with data. */
bool xnnd_value_is_const(const xnnd_graph* g, xnnd_id v);
/* The single live consumer node of value v, or XNND_NO_ID when it has none, several, or
 * v is also a graph output. */
xnnd_id xnnd_single_consumer(const xnnd_graph* g, xnnd_id v);
/* Element count of a value. */
size_t xnnd_value_numel(const xnnd_graph* g, xnnd_id v);
/* A new f32 constant value with a copy of data (numel floats). XNND_NO_ID on failure. */
xnnd_id xnnd_add_f32_const(xnnd_graph* g, const char* name_hint, uint32_t rank,
                           const int64_t* dims, const float* data);

#ifdef __cplusplus
}
#endif

#endif
