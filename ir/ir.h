/* Graph IR shared by the toolchain (exporter import, passes, partitioner, serializer).
 * Never linked into the runtime.
 *
 * Invariants: values and nodes are uint32_t ids into arrays owned by the graph, never
 * pointers held across rewrites. Dims are always PyTorch's logical order (NCHW for 4-D
 * activations); `layout` says how memory is ordered. Passes mark nodes dead and call
 * xnnd_graph_compact() afterwards; they never free while iterating. */
#ifndef XNND_IR_IR_H
#define XNND_IR_IR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnnd/xnnd.h"
#include "dim_expr.h"  /* schema/: symbolic dims */

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t xnnd_id;
#define XNND_NO_ID UINT32_MAX

/* ---- ops ---- */
typedef enum xnnd_op {
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun) XNND_OP_##id,
#include "ops.def"
#undef XNND_OP
  XNND_OP_COUNT
} xnnd_op;

/* ops.def column `optional`: input i may be absent. */
#define XNND_IN(i) (1u << (i))

/* ops.def column `flags`: categories passes ask about (xnnd_op_info.flags). */
enum {
  XNND_OPF_POINTWISE = 1u << 0,    /* one input, elementwise, output shaped like it */
  XNND_OPF_LAYOUT = 1u << 1,       /* moves elements without computing (t, permute, view) */
  XNND_OPF_CLAMP = 1u << 2,        /* output = clamp(input, range): xnnd_node_clamp_range */
  XNND_OPF_FUSES_CLAMP = 1u << 3,  /* a following clamp may become its output_min/output_max */
};

/* ---- attributes ---- */
typedef enum xnnd_attr_kind {   /* wire values of program.fbs AttrKind */
  XNND_ATTR_NONE = 0,
  XNND_ATTR_INT = 1,
  XNND_ATTR_FLOAT = 2,
  XNND_ATTR_BOOL = 3,
  XNND_ATTR_INTS = 4,
} xnnd_attr_kind;

#define XNND_MAX_ATTR_INTS 8
#define XNND_MAX_ATTRS 8

typedef struct xnnd_attr {
  xnnd_attr_kind kind;   /* NONE: absent optional attribute */
  int64_t i;             /* INT, BOOL */
  double f;              /* FLOAT */
  uint32_t n;            /* INTS count */
  int64_t ints[XNND_MAX_ATTR_INTS];
} xnnd_attr;

typedef struct xnnd_attr_spec {
  const char* name;      /* aten argument name, e.g. "stride" */
  xnnd_attr_kind kind;
  bool optional;         /* may be NONE */
  xnnd_attr def;         /* default, used by xnnd_graph_add_node */
} xnnd_attr_spec;

/* ---- values ---- */
typedef enum xnnd_quant_scheme {
  XNND_QUANT_NONE = 0,
  XNND_QUANT_PER_TENSOR = 1,
  XNND_QUANT_PER_CHANNEL = 2,
} xnnd_quant_scheme;

typedef struct xnnd_quant {
  xnnd_quant_scheme scheme;
  float scale;            /* PER_TENSOR */
  int32_t zero_point;     /* PER_TENSOR */
  int32_t axis;           /* PER_CHANNEL */
  uint32_t num_channels;  /* PER_CHANNEL: == dims[axis] */
  const float* scales;    /* PER_CHANNEL; graph-owned */
  const int32_t* zero_points;
} xnnd_quant;

typedef enum xnnd_layout {
  XNND_LAYOUT_CONTIGUOUS = 0,  /* row-major in logical dim order (NCHW for 4-D) */
  XNND_LAYOUT_NHWC = 1,        /* 4-D only: memory order N, H, W, C */
} xnnd_layout;

typedef struct xnnd_ir_value {
  const char* name;       /* unique, graph-owned, printed as %name */
  xnnd_dtype dtype;
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];
  xnnd_layout layout;
  xnnd_quant quant;
  const void* data;       /* constant data (graph-owned, numel * dtype size bytes) or NULL */
  uint64_t const_key;     /* key of a large constant in a constant bundle; 0 = by content hash */
  xnnd_id producer;       /* producing node, XNND_NO_ID for inputs and constants */
  bool is_input;
  /* Dynamic shapes: NULL for a static value; else `rank` affine forms over the graph's
   * symbols (graph-owned), and dims[] hold each dim's upper bound (every symbol at its max).
   * Passes that rely on a size must check it is static (xnnd_value_dim_static). */
  const xnnd_dimx* dimx;
} xnnd_ir_value;

typedef struct xnnd_ir_node {
  xnnd_op op;
  uint32_t num_inputs;
  xnnd_id* inputs;        /* graph-owned; XNND_NO_ID for an absent optional input */
  uint32_t num_outputs;
  xnnd_id outputs[3];
  xnnd_attr attrs[XNND_MAX_ATTRS]; /* in the op's schema order */
  /* Fused output range (clamp fusion): outputs are clamped to [output_min, output_max].
   * -inf/+inf (the default set by add_node) means none. Text form: a trailing
   * ` clamp(MIN, MAX)` after the attributes, printed only when either bound is finite.
   * In a program it travels as KernelCall attrs "output_min"/"output_max". */
  float output_min, output_max;
  bool dead;
  /* Dynamic shapes: NULL, or for an INTS attribute holding symbolic dims (a view's size)
   * attrs[a].n affine forms (graph-owned); attrs[a].ints then hold their upper bounds. */
  const xnnd_dimx* attr_dimx[XNND_MAX_ATTRS];
} xnnd_ir_node;

typedef struct xnnd_graph {
  char name[64];
  xnnd_ir_value* values;
  uint32_t num_values, cap_values;
  xnnd_ir_node* nodes;    /* in topological order after xnnd_graph_compact() */
  uint32_t num_nodes, cap_nodes;
  xnnd_id* inputs;
  uint32_t num_inputs;
  xnnd_id* outputs;
  uint32_t num_outputs;
  struct xnnd_arena* arena;  /* strings, id arrays, constant data */
  char errmsg[XNND_ERRMSG_SIZE];
  /* Dynamic shapes: the symbols value dims are affine in (text IR `sym NAME = MIN..MAX`). */
  xnnd_symbol syms[XNND_MAX_SYMS];
  uint32_t num_syms;
} xnnd_graph;

/* ---- op table ---- */
typedef struct xnnd_op_info {
  const char* name;
  uint8_t min_inputs, max_inputs, num_outputs;
  uint8_t num_attrs;
  const xnnd_attr_spec* attrs;
  /* Fill dtype, rank and dims of the node's outputs from its inputs and attrs.
   * Returns XNND_VERIFY_ERROR with a message naming the node and value on mismatch. */
  xnnd_status (*infer)(xnnd_graph* g, xnnd_id node);
  uint32_t optional_inputs;  /* bit i set: input i may be XNND_NO_ID (printed `_`) */
  uint32_t flags;            /* XNND_OPF_* */
} xnnd_op_info;

const xnnd_op_info* xnnd_op_get(xnnd_op op);
/* XNND_OP_COUNT when unknown. Accepts the exact table name. */
xnnd_op xnnd_op_lookup(const char* name);
/* Index of attribute `name` in op's schema, or -1. */
int xnnd_op_attr_index(xnnd_op op, const char* name);
/* True when op's row has every flag in `flags` (XNND_OPF_*). */
bool xnnd_op_has(xnnd_op op, uint32_t flags);

/* ---- graph ----
 * A graph is not thread-safe; functions taking a const graph may run concurrently with each
 * other. The op table functions above are thread-safe. */
/* name is copied; it must be shorter than 64 bytes (else XNND_INVALID_ARGUMENT). */
xnnd_status xnnd_graph_create(const char* name, xnnd_graph** graph_out);
void xnnd_graph_destroy(xnnd_graph* g);  /* NULL is a no-op */

/* Id of the value named `name` (without '%'), or XNND_NO_ID. O(1) through a name index. */
xnnd_id xnnd_graph_find_value(const xnnd_graph* g, const char* name);

/* Graph-owned memory, freed with the graph; 64-byte aligned; NULL on OOM. */
void* xnnd_graph_alloc(xnnd_graph* g, size_t size);

/* name NULL = generated ("v<id>"). Returns XNND_NO_ID on OOM or a duplicate name
 * (message in g->errmsg). Names are [A-Za-z0-9_.]+ of at most 255 bytes (so they print as
 * %name); dims are in [0, 2^40] and a tensor is at most 2^48 bytes. */
xnnd_id xnnd_graph_add_value(xnnd_graph* g, const char* name, xnnd_dtype dtype,
                             uint32_t rank, const int64_t* dims);
/* Copies nbytes (must equal numel * dtype size) into graph memory. Resets const_key to 0,
 * so the printed key becomes the hash of the new bytes. */
xnnd_status xnnd_graph_set_constant(xnnd_graph* g, xnnd_id value, const void* data, size_t nbytes);
xnnd_status xnnd_graph_set_quant_per_tensor(xnnd_graph* g, xnnd_id value, float scale, int32_t zp);
/* Copies the arrays; zps NULL = all zero. Consistency (n == dims[axis], scales > 0) is
 * checked by xnnd_graph_verify. */
xnnd_status xnnd_graph_set_quant_per_channel(xnnd_graph* g, xnnd_id value, int32_t axis,
                                             const float* scales, const int32_t* zps, uint32_t n);

/* Appends a node (attrs start at their defaults) and makes it the producer of outputs.
 * Returns XNND_NO_ID on failure (message in g->errmsg). */
xnnd_id xnnd_graph_add_node(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                            const xnnd_id* outputs, uint32_t num_outputs);
/* Appends a node and a fresh output value per op output with shapes from shape inference
 * (symbolic when an input is: the outputs get dimx, see xnnd_graph_set_value_dimx). */
xnnd_id xnnd_graph_add_node_infer(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs,
                                  uint32_t num_inputs, const xnnd_attr* attrs /* NULL = defaults */);
/* The same with symbolic INTS attributes: attr_dimx NULL, or XNND_MAX_ATTRS entries each
 * NULL or attrs[a].n forms (copied; attrs[a].ints are replaced by their upper bounds). */
xnnd_id xnnd_graph_add_node_infer_dimx(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs,
                                       uint32_t num_inputs, const xnnd_attr* attrs,
                                       const xnnd_dimx* const* attr_dimx);
xnnd_status xnnd_graph_set_inputs(xnnd_graph* g, const xnnd_id* ids, uint32_t n);
xnnd_status xnnd_graph_set_outputs(xnnd_graph* g, const xnnd_id* ids, uint32_t n);

/* Number of live nodes reading `value` plus 1 per appearance in the graph outputs. O(nodes).
 * A node that reads the value twice (mul(x, x)) counts once. */
uint32_t xnnd_graph_count_uses(const xnnd_graph* g, xnnd_id value);
/* Fill counts[num_values] with use counts as above in one sweep. */
void xnnd_graph_use_counts(const xnnd_graph* g, uint32_t* counts);
/* Replace every use of `from` (node inputs and graph outputs) with `to`. */
void xnnd_graph_replace_uses(xnnd_graph* g, xnnd_id from, xnnd_id to);
/* The one live node reading `value`, or XNND_NO_ID when none, several, or it is a graph
 * output. */
xnnd_id xnnd_graph_sole_user(const xnnd_graph* g, xnnd_id value);
/* Passes change node inputs only through these two, so the users index that makes use
 * queries O(users) stays complete (xnnd_graph_verify checks it). set_node_inputs copies ids. */
xnnd_status xnnd_graph_set_input(xnnd_graph* g, xnnd_id node, uint32_t index, xnnd_id value);
xnnd_status xnnd_graph_set_node_inputs(xnnd_graph* g, xnnd_id node, const xnnd_id* ids, uint32_t n);
/* A value name not yet in the graph: `hint`, else hint_<k> with a graph-wide counter. */
void xnnd_graph_unique_name(xnnd_graph* g, const char* hint, char* out, size_t size);

/* Drop dead nodes, values nothing references, and put nodes in topological order.
 * Renumbers ids. Fails with VERIFY_ERROR on a cycle. Node input arrays are reallocated
 * (pointers into the old ones must not be kept); already-sorted nodes keep their order. */
xnnd_status xnnd_graph_compact(xnnd_graph* g);

/* ---- symbolic dims (dynamic shapes; ir/symbolic.c) ----
 * A value's dimx is NULL when every dim is static; else `rank` graph-owned forms that are
 * never modified once set (values may share them), and dims[] hold the upper bounds. The same
 * holds for a node's attr_dimx[a] and attrs[a].ints. */
/* Dim d / every dim of v has no symbol. */
bool xnnd_value_dim_static(const xnnd_ir_value* v, uint32_t d);
bool xnnd_value_static(const xnnd_ir_value* v);
/* Some input of the node has symbolic dims or some attribute is symbolic. */
bool xnnd_node_symbolic(const xnnd_graph* g, xnnd_id node);
/* Appends a symbol (index *index_out, may be NULL): name [A-Za-z_][A-Za-z0-9_]* shorter than
 * XNND_SYM_NAME_SIZE, unique, 0 <= min <= max <= 2^40, at most XNND_MAX_SYMS. */
xnnd_status xnnd_graph_add_symbol(xnnd_graph* g, const char* name, int64_t min, int64_t max,
                                  uint32_t* index_out);
/* Copies rank forms into graph memory as the value's dimx (NULL when all are static; forms
 * NULL clears) and sets dims[] to their upper bounds. Each form must be valid over the graph's
 * symbols (coefficients >= 0, >= 0 at the minima); a constant's dims must stay static. */
xnnd_status xnnd_graph_set_value_dimx(xnnd_graph* g, xnnd_id value, const xnnd_dimx* forms);
/* The same for INTS attribute `attr` of node (attrs[attr].n forms; ints[] = upper bounds). */
xnnd_status xnnd_graph_set_attr_dimx(xnnd_graph* g, xnnd_id node, uint32_t attr,
                                     const xnnd_dimx* forms);

/* Fixes every symbol: symbol s takes values[s] (within its range; n == g->num_syms), every
 * value's dims and symbolic attr become their numbers at that point, and the graph has no
 * symbols left. For tests and tools that want the static graph at one size. */
xnnd_status xnnd_graph_specialize(xnnd_graph* g, const int64_t* values, uint32_t n);
/* Runs shape inference on node (symbolic when xnnd_node_symbolic) and sets its outputs'
 * dtype, rank, dims and dimx. VERIFY_ERROR (message in g->errmsg) when it fails or a dim is
 * not affine in the symbols. */
xnnd_status xnnd_graph_infer_node(xnnd_graph* g, xnnd_id node);
/* a and b have the same rank and the same dims: equal forms (a static dim is its number). */
bool xnnd_value_same_dims(const xnnd_ir_value* a, const xnnd_ir_value* b);

/* Multiply-accumulates of one node from its shapes (0 for ops without MACs, or an id out of
 * range); used by the delegation report. ir/macs.c. */
uint64_t xnnd_node_macs(const xnnd_graph* g, xnnd_id node);

/* For an XNND_OPF_CLAMP node (relu, hardtanh, clamp): the range it clamps to, narrowed by its
 * own fused output_min/output_max; false for other ops. Attributes as verified. */
bool xnnd_node_clamp_range(const xnnd_ir_node* n, float* lo, float* hi);

/* Check every invariant: ids in range, one producer per value, no cycles, arity and attr
 * kinds per the op table, attr values in range, shapes and dtypes agree with shape
 * inference, constants have data of the right size. Message names node and value.
 * Nodes must already be in topological order (call xnnd_graph_compact after rewrites).
 * Leaves the graph unchanged (only g->errmsg is written). */
xnnd_status xnnd_graph_verify(xnnd_graph* g);

/* ---- text form (docs/ARCHITECTURE.md "Text IR") ---- */
typedef struct xnnd_const_bundle xnnd_const_bundle;  /* key -> bytes store */

xnnd_status xnnd_const_bundle_create(xnnd_const_bundle** out);
void xnnd_const_bundle_destroy(xnnd_const_bundle* b);
/* Read a bundle file (untrusted: verified). */
xnnd_status xnnd_const_bundle_load(const char* path, xnnd_const_bundle** out, xnnd_error* err);
xnnd_status xnnd_const_bundle_save(const xnnd_const_bundle* b, const char* path, xnnd_error* err);
/* Store a copy of `size` bytes under `key`, replacing an entry with the same key. */
xnnd_status xnnd_const_bundle_put(xnnd_const_bundle* b, uint64_t key, const void* data,
                                  size_t size);
/* Borrowed pointer to the bytes under `key` (valid until the entry is replaced or the bundle
 * is destroyed); XNND_NOT_FOUND when absent. */
xnnd_status xnnd_const_bundle_get(const xnnd_const_bundle* b, uint64_t key, const void** data_out,
                                  size_t* size_out);
/* Entries in insertion (file) order, for iteration: 0 <= index < count. */
uint32_t xnnd_const_bundle_count(const xnnd_const_bundle* b);
xnnd_status xnnd_const_bundle_entry(const xnnd_const_bundle* b, uint32_t index, uint64_t* key_out,
                                    const void** data_out, size_t* size_out);

/* Print the graph. Constants with more than XNND_INLINE_CONST_MAX elements are written to
 * `bundle` (may be NULL: then only shown by key) and shown by key. Returns a malloc'd
 * NUL-terminated string the caller frees, or NULL on OOM. */
#define XNND_INLINE_CONST_MAX 16
char* xnnd_graph_print(const xnnd_graph* g, xnnd_const_bundle* bundle);
/* Parse text; large constants are looked up in `bundle` (may be NULL if there are none).
 * Errors name the line and column. */
xnnd_status xnnd_graph_parse(const char* text, size_t len, const xnnd_const_bundle* bundle,
                             xnnd_graph** graph_out, xnnd_error* err);

uint64_t xnnd_fnv1a64(const void* data, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* XNND_IR_IR_H */
