/* Internal to the XNNPACK backend: the verified view of a delegate blob, the table of node
 * kinds (verify rule + xnn_define_* call per schema union member) and the layout helpers.
 * Nothing here is reachable before blob_verify has accepted the bytes. */
#ifndef XNND_RUNTIME_XNNPACK_INTERNAL_H
#define XNND_RUNTIME_XNNPACK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xnnpack.h>

#include "dim_expr.h"
#include "fb.h"
#include "xnnd/backend.h"
#include "xnnpack_generated.h"

/* XNNPACK's own limit on tensor rank. */
#define XNND_XNN_MAX_DIMS 6

/* Largest value (numel * element size) a blob may declare; keeps XNNPACK's internal
 * allocations bounded for a hostile blob. */
#ifndef XNND_XNN_MAX_VALUE_BYTES
#define XNND_XNN_MAX_VALUE_BYTES ((uint64_t)1 << 31)
#endif
#ifndef XNND_XNN_MAX_VALUES
#define XNND_XNN_MAX_VALUES (1u << 20)
#endif
#ifndef XNND_XNN_MAX_NODES
#define XNND_XNN_MAX_NODES (1u << 20)
#endif

/* One Value table decoded; dims beyond XNND_XNN_MAX_DIMS are not read (the verifier rejects
 * such ranks). */
typedef struct xnnd_xvalue {
  uint8_t datatype;             /* XNND_XNNPACK_DataType_* == enum xnn_datatype */
  uint32_t rank;
  uint32_t dims[XNND_XNN_MAX_DIMS];
  float scale;
  int32_t zero_point;
  fb_vec channel_scales;
  uint32_t channel_dim;
  uint32_t flags;               /* XNND_XVALUE_* */
  uint32_t external_index;
  uint64_t constant_offset, constant_size;
  bool symbolic;                /* dims were evaluated from dim_exprs at the view's symbols */
} xnnd_xvalue;

/* A blob that passed the structural checks: header, flatbuffer, constant region.
 * Dynamic shapes: a value's dim_exprs (and a StaticReshape's new_shape_exprs) are affine
 * forms over Graph.num_symbols symbols; a view reads every such dim evaluated at `syms`, so
 * a copy of the view with other symbol values is the blob at that shape (node checks,
 * defines and own kernels read dims only through it). */
typedef struct xnnd_xblob {
  const uint8_t* fb;
  size_t fb_size;
  const uint8_t* constants;
  uint64_t constants_size;
  fb_table graph;
  fb_vec values, nodes, input_ids, output_ids;
  uint32_t num_syms;             /* Graph.num_symbols */
  bool dynamic;                  /* some value or reshape carries forms */
  int64_t syms[XNND_MAX_SYMS];   /* where forms are evaluated */
} xnnd_xblob;

/* Reads value id; a dim with a valid form is its value at b->syms clamped to [0, UINT32_MAX]
 * (the verifier rejects forms that are invalid or evaluate outside [1, UINT32_MAX]). */
void xnnd_xvalue_read(const xnnd_xblob* b, uint32_t id, xnnd_xvalue* v);
/* Decodes a forms vector (dim_exprs / new_shape_exprs) of rank dims: false when its length is
 * not rank * (1 + b->num_syms) or a form breaks the invariants (xnnd_dimx_decode). */
bool xnnd_xforms_read(const xnnd_xblob* b, fb_vec exprs, uint32_t rank, xnnd_dimx* out);
/* A StaticReshape's new shape at the view's symbols; returns its rank (entries past
 * XNND_XNN_MAX_DIMS are not read). */
uint32_t xnnd_xreshape_shape(const xnnd_xblob* b, fb_table node, uint64_t dims[XNND_XNN_MAX_DIMS]);
uint64_t xnnd_xvalue_numel(const xnnd_xvalue* v);
/* Bytes per element of a blob datatype, 0 when invalid. */
size_t xnnd_xdatatype_size(uint8_t datatype);
const char* xnnd_xdatatype_name(uint8_t datatype);

/* Verify bytes completely (header, flatbuffer, symbolic forms against the method's symbol
 * values syms[0..num_syms) the call's tensors were evaluated at, values, nodes, externals
 * against the program tensors of the call). On success fills *view (evaluated at syms);
 * `blob` must be 4-byte aligned at its flatbuffer (the caller copies otherwise). Allocates
 * nothing. Thread-safe. */
xnnd_status xnnd_xblob_verify(const uint8_t* blob, size_t size,
                              const xnnd_tensor* inputs, uint32_t num_inputs,
                              const xnnd_tensor* outputs, uint32_t num_outputs,
                              const int64_t* syms, uint32_t num_syms,
                              xnnd_xblob* view, char* err, size_t err_size);
/* The shape-dependent part of xnnd_xblob_verify on a verified view at other symbol values
 * (view->syms): every value's dims in range, the externals against the call's tensors at
 * that shape, every node's rule. Messages name the symbol values. */
xnnd_status xnnd_xblob_verify_shapes(const xnnd_xblob* view, const xnnd_tensor* inputs, uint32_t num_inputs,
                                     const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                                     size_t err_size);

/* Dataflow of a verified blob: every node reads only constants, external inputs and values
 * written by earlier nodes; writes each value once; every written value is read later or is an
 * external output; every external output is written. XNNPACK asserts (aborts) on some of
 * these. `state` is scratch of values.len bytes. */
xnnd_status xnnd_xblob_verify_dataflow(const xnnd_xblob* view, uint8_t* state, char* err, size_t err_size);

/* ---- node kinds ---- */
typedef struct xnnd_xnode_ctx {
  const xnnd_xblob* blob;
  uint32_t index;            /* node index, for messages */
  const char* kind;          /* node kind name, for messages */
  char* err;
  size_t err_size;
} xnnd_xnode_ctx;

#define XNND_XNODE_MAX_INPUTS 3
#define XNND_XNODE_NO_FIELD UINT32_MAX

/* A node xnnd runs with its own kernel instead of XNNPACK (runtime/conv_kernels/). */
#include <pthreadpool.h>
typedef struct xnnd_xown {
  uint32_t input_id, output_id;
  void* kernel;
  size_t scratch_bytes;  /* run's scratch (the delegate keeps one buffer for all its kernels) */
  void (*run)(const void* kernel, const void* input, void* output, void* scratch, pthreadpool_t pool);
  void (*destroy)(void* kernel, const xnnd_allocator* allocator);
} xnnd_xown;

typedef struct xnnd_xnode_kind {
  const char* name;
  /* Value-id fields read (a bias_id field may hold XNN_INVALID_VALUE_ID = absent) and the one
   * written; used for the dataflow check. */
  uint32_t input_fields[XNND_XNODE_MAX_INPUTS];  /* XNND_XNODE_NO_FIELD when unused */
  uint32_t optional_input;                       /* field id of an optional input, or NO_FIELD */
  uint32_t output_field;
  /* Every value id in range, dtypes consistent, shapes exactly what XNNPACK will compute,
   * parameters XNNPACK accepts; message names the node index and field. */
  xnnd_status (*check)(const xnnd_xnode_ctx* ctx, fb_table node);
  /* Adds the verified node to subgraph (blob: for kinds that need a value's type). */
  enum xnn_status (*define)(xnn_subgraph_t subgraph, const xnnd_xblob* blob, fb_table node);
} xnnd_xnode_kind;

/* NULL when `type` is not a known union member. */
const xnnd_xnode_kind* xnnd_xnode_kind_get(uint8_t type);

/* Node types xnnd's own kernels can run (own_nodes.c): whether they take this verified node
 * instead of XNNPACK, what work it is (the calibration cache key and a one-line text), and
 * creating that kernel (packs weights; allocates). */
#define XNND_XOWN_KEY_WORDS 20
typedef struct xnnd_xown_key {
  uint32_t w[XNND_XOWN_KEY_WORDS];
} xnnd_xown_key;
/* create flags */
#define XNND_XOWN_WINOGRAD 1u  /* f32 3x3 stride 1: Winograd allowed */
#define XNND_XOWN_ALWAYS INT32_MAX
typedef struct xnnd_xown_kind {
  /* own_kernels=auto takes xnnd's kernel when own_time * 100 <= xnnpack_time * (100 + margin):
   * a negative margin asks xnnd's to be that much faster (convolutions: xnnd's kernel only pays
   * off when faster). XNND_XOWN_ALWAYS: xnnd's kernel whenever it takes the node, untimed
   * (it is more accurate, and accuracy comes first). */
  int32_t margin_pct;
  const char* wins;   /* why xnnd's kernel runs when it does */
  /* false with *why (a static string) when xnnd's kernel does not take the node. */
  bool (*supported)(const xnnd_xblob* blob, fb_table node, const char** why);
  void (*describe)(const xnnd_xblob* blob, fb_table node, uint32_t flags, xnnd_xown_key* key, char* text,
                   size_t text_size);
  xnnd_status (*create)(const xnnd_xblob* blob, fb_table node, uint32_t flags, const xnnd_allocator* allocator,
                        xnnd_xown* out);
} xnnd_xown_kind;
/* NULL when no own kernel runs nodes of `type`. */
const xnnd_xown_kind* xnnd_xown_kind_get(uint8_t type);

/* Defines blob value `id` in subgraph with XNNPACK value flags (backend's define_value). */
xnnd_status xnnd_xnn_define_value(const xnnd_xblob* blob, xnn_subgraph_t subgraph, uint32_t id, uint32_t flags,
                                  char* err, size_t err_size);

/* Allocation through the delegate's allocator (libc when it has no alloc hook). */
void* xnnd_xnn_alloc(const xnnd_allocator* allocator, size_t size, size_t alignment);
void xnnd_xnn_free(const xnnd_allocator* allocator, void* p);

/* ---- layout conversion (no allocation) ---- */
/* src [n][c][hw] -> dst [n][hw][c], elements of elem_size bytes (1, 2, 4 or 8). */
void xnnd_xnn_nchw_to_nhwc(const void* src, void* dst, size_t n, size_t c, size_t hw, size_t elem_size);
/* src [n][hw][c] -> dst [n][c][hw]. */
void xnnd_xnn_nhwc_to_nchw(const void* src, void* dst, size_t n, size_t c, size_t hw, size_t elem_size);

/* Shared pthreadpools (thread_pools.c): one per thread count, reference counted. NULL when
 * the pool cannot be created or all slots are taken. */
#include <pthreadpool.h>
pthreadpool_t xnnd_xnn_pool_acquire(uint32_t threads);
void xnnd_xnn_pool_release(pthreadpool_t pool);

#endif
