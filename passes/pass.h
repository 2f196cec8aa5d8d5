/* Pass framework: a pass is a named function over the IR that counts what it changed.
 * The pipeline (pipeline.c) is one static array read top to bottom. Passes mark nodes
 * dead and let the framework drop unused nodes and compact afterwards; they never free
 * while iterating. */
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

/* Run one pass the way the pipeline does: the pass, then xnnd_remove_unused_nodes, then
 * xnnd_graph_compact, then (when verify) xnnd_graph_verify. On failure g->errmsg starts
 * with "pass NAME: ". Tests use it to run a single pass. */
xnnd_status xnnd_pass_run_one(xnnd_graph* g, const xnnd_pass* pass, bool verify, uint32_t* changed);

/* ---- shared helpers for passes (pass_util.c) ---- */

/* Value is a constant with data. */
bool xnnd_value_is_const(const xnnd_graph* g, xnnd_id v);
/* Value is plain f32: dtype f32, not quantized, contiguous layout. */
bool xnnd_value_is_plain_f32(const xnnd_graph* g, xnnd_id v);
/* Data of a plain f32 constant, else NULL. */
const float* xnnd_const_f32(const xnnd_graph* g, xnnd_id v);
/* The single live consumer node of value v, or XNND_NO_ID when it has none, several, or
 * v is also a graph output. */
xnnd_id xnnd_single_consumer(const xnnd_graph* g, xnnd_id v);
/* v is one of the graph outputs. */
bool xnnd_value_is_graph_output(const xnnd_graph* g, xnnd_id v);
/* Element count of a value. */
size_t xnnd_value_numel(const xnnd_graph* g, xnnd_id v);
/* Same rank and dims, symbolic forms included (xnnd_value_same_dims). */
bool xnnd_same_dims(const xnnd_ir_value* a, const xnnd_ir_value* b);
/* Node has a finite fused output range (clamp fusion). */
bool xnnd_node_has_range(const xnnd_ir_node* n);

/* A new value named after name_hint (made unique with a _N suffix). XNND_NO_ID on failure
 * (message in g->errmsg). */
xnnd_id xnnd_add_value_hint(xnnd_graph* g, const char* name_hint, xnnd_dtype dtype,
                            uint32_t rank, const int64_t* dims);
/* A new f32 constant value with a copy of data (numel floats). XNND_NO_ID on failure. */
xnnd_id xnnd_add_f32_const(xnnd_graph* g, const char* name_hint, uint32_t rank,
                           const int64_t* dims, const float* data);
/* Append a node with the given attrs (NULL = defaults) writing existing value `output`
 * (single-output ops), then run shape inference on it, which must agree with the
 * output's declared dtype and dims. The output's previous producer must already be dead.
 * XNND_NO_ID on failure (message in g->errmsg). */
xnnd_id xnnd_emit_node(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                       const xnnd_attr* attrs, xnnd_id output);

/* The same with symbolic INTS attributes (attr_dimx NULL or XNND_MAX_ATTRS entries, each
 * NULL or attrs[a].n forms). An output the pass just made (no producer, static) takes the
 * inferred symbolic dims; an existing output must keep exactly its forms. */
xnnd_id xnnd_emit_node_dimx(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                            const xnnd_attr* attrs, const xnnd_dimx* const* attr_dimx,
                            xnnd_id output);
/* Mark live nodes dead when nothing reads any of their outputs (all ops are pure: the
 * exporter functionalizes). Returns the number of nodes removed. */
uint32_t xnnd_remove_unused_nodes(xnnd_graph* g);

/* A matrix product with a known weight, as passes see it:
 *   aten.linear(x, w, b?)                  weight = w            [out, in]
 *   aten.addmm(b, x, t(w)), aten.mm(x, t(w)) weight = w           [out, in]
 *   aten.addmm(b, x, m), aten.mm(x, m), m a constant: weight = m  [in, out] (transposed)
 * out = beta * b + alpha * (x @ weight^T) over the last dim of x. */
typedef struct xnnd_affine {
  xnnd_id node;
  xnnd_id input;            /* the activation */
  xnnd_id weight;
  bool weight_transposed;   /* weight value is [in, out] */
  xnnd_id bias;             /* XNND_NO_ID when absent (mm, linear without bias, beta == 0) */
  double alpha, beta;
  int64_t in_features, out_features;
} xnnd_affine;

bool xnnd_match_affine(const xnnd_graph* g, xnnd_id node, xnnd_affine* out);
/* weight as [out, in] floats times alpha into dst (out*in floats). The weight must be a
 * plain f32 constant. */
void xnnd_affine_weight(const xnnd_graph* g, const xnnd_affine* a, float* dst);
/* Bias as [out] floats times beta into dst; zeros when absent. A present bias must be a
 * plain f32 constant whose numel is 1 or out (broadcast over rows); returns false when it
 * is not (a per-row or non-constant bias). */
bool xnnd_affine_bias(const xnnd_graph* g, const xnnd_affine* a, float* dst);

#ifdef __cplusplus
}
#endif

#endif
