/* Private to ir/: the arena, the graph's name index, error helpers and the helpers
 * shape inference shares. Nothing outside ir/ includes this. */
#ifndef XNND_IR_IR_INTERNAL_H
#define XNND_IR_IR_INTERNAL_H

#include <stdarg.h>

#include "ir.h"

/* Limits that keep shape arithmetic far from int64 overflow: every dim <= 2^40 and every
 * tensor <= 2^48 bytes. Real models are many orders of magnitude below both. */
#define IR_MAX_DIM ((int64_t)1 << 40)
#define IR_MAX_BYTES ((uint64_t)1 << 48)
/* Attribute ints that feed shape arithmetic (stride, padding, kernel, ...) stay below this. */
#define IR_MAX_ATTR_VALUE ((int64_t)INT32_MAX)

#define IR_TRY(expr)                     \
  do {                                   \
    xnnd_status ir_try_st_ = (expr);     \
    if (ir_try_st_ != XNND_OK) return ir_try_st_; \
  } while (0)

#define IR_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- arena (arena.c): bump allocator, freed all at once ---- */
struct xnnd_arena;
struct xnnd_arena* ir_arena_create(void);
void ir_arena_destroy(struct xnnd_arena* a);
/* align must be a power of two <= 64. NULL on OOM or overflow. size 0 gives a valid pointer. */
void* ir_arena_alloc(struct xnnd_arena* a, size_t size, size_t align);

/* ---- graph internals (graph.c) ---- */
void ir_set_error(xnnd_graph* g, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
char* ir_strdup(xnnd_graph* g, const char* s, size_t len);
/* Names are [A-Za-z0-9_.]+, at most IR_MAX_NAME bytes. */
#define IR_MAX_NAME 255
bool ir_name_char(char c);
bool ir_valid_name(const char* s, size_t len);
/* Element count with overflow check; false when the tensor exceeds the limits above. */
bool ir_numel(xnnd_dtype dtype, uint32_t rank, const int64_t* dims, uint64_t* numel_out);
/* Optional-input bitmask of an op (bit i: input i may be XNND_NO_ID). */
uint32_t ir_op_optional_inputs(xnnd_op op);
/* Checks attribute kinds and list lengths against the schema. */
xnnd_status ir_check_attr_kinds(xnnd_graph* g, xnnd_id node);
/* Live nodes in topological order (lowest index first among ready nodes); malloc'd array
 * the caller frees. XNND_VERIFY_ERROR on bad ids, two producers or a cycle. */
xnnd_status ir_topo_order(xnnd_graph* g, uint32_t** order_out, uint32_t* count_out);

/* The users index holds every live reader of every value (verify checks it after passes). */
bool ir_users_consistent(xnnd_graph* g);

/* ---- symbolic dims (symbolic.c) ---- */
/* x printed over the graph's symbols into buf. */
const char* ir_format_dimx(const xnnd_graph* g, char* buf, size_t cap, const xnnd_dimx* x);
/* Runs the node's shape inference. A node with no symbolic input or attr: the op's infer,
 * *symbolic_out false. Otherwise the op's infer at sample points of the symbols; forms[k][d]
 * gets the affine form of output k dim d (VERIFY_ERROR when not affine) and the outputs'
 * dtype/rank/dims are left as at every symbol's max; *symbolic_out true. */
xnnd_status ir_infer_node(xnnd_graph* g, xnnd_id node, xnnd_dimx forms[3][XNND_MAX_RANK],
                          bool* symbolic_out);
/* The node's declared output dims (dimx, or dims when static) equal forms, symbols with
 * min == max folded into the constant; else VERIFY_ERROR printing both forms. */
xnnd_status ir_check_declared_forms(xnnd_graph* g, xnnd_id node, xnnd_dimx forms[3][XNND_MAX_RANK]);

/* ---- error and shape-inference helpers (infer_util.c) ---- */
const char* ir_value_name(const xnnd_graph* g, xnnd_id v);
const char* ir_op_name(xnnd_op op);
const char* ir_attr_name(xnnd_op op, uint32_t attr);
/* "node N (op): " + message; returns XNND_VERIFY_ERROR. */
xnnd_status ir_node_error(xnnd_graph* g, xnnd_id node, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "node N (op): output %y: " + message, for attribute errors; returns XNND_VERIFY_ERROR. */
xnnd_status ir_attr_error(xnnd_graph* g, xnnd_id node, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Writes "[d0,d1,...]" into buf. */
const char* ir_format_dims(char* buf, size_t cap, uint32_t rank, const int64_t* dims);

/* Input i of the node, NULL when absent (XNND_NO_ID) or beyond num_inputs. */
const xnnd_ir_value* ir_input(const xnnd_graph* g, xnnd_id node, uint32_t i);
/* Required input i; error when absent. */
xnnd_status ir_require_input(xnnd_graph* g, xnnd_id node, uint32_t i, const xnnd_ir_value** out);
/* Required input i with exactly this rank. */
xnnd_status ir_input_rank(xnnd_graph* g, xnnd_id node, uint32_t i, uint32_t rank,
                          const xnnd_ir_value** out);
/* Required input i with rank in [lo, hi]. */
xnnd_status ir_input_rank_range(xnnd_graph* g, xnnd_id node, uint32_t i, uint32_t lo, uint32_t hi,
                                const xnnd_ir_value** out);
/* Input i (if present) must have dtype `dtype`. */
xnnd_status ir_input_dtype(xnnd_graph* g, xnnd_id node, uint32_t i, xnnd_dtype dtype);
/* Optional input i (if present) must be rank 1 of length `len`. */
xnnd_status ir_input_vector(xnnd_graph* g, xnnd_id node, uint32_t i, int64_t len);
/* Int-list attribute with exactly `count` entries, each in [lo, IR_MAX_ATTR_VALUE]. */
xnnd_status ir_attr_ints(xnnd_graph* g, xnnd_id node, uint32_t attr, uint32_t count, int64_t lo,
                         int64_t* out);
/* Normalizes a possibly negative dim against rank (rank 0 accepts -1 and 0 like PyTorch). */
xnnd_status ir_attr_dim(xnnd_graph* g, xnnd_id node, uint32_t attr, int64_t dim, uint32_t rank,
                        uint32_t* out);
/* Sets output k; checks the limits. */
xnnd_status ir_set_output(xnnd_graph* g, xnnd_id node, uint32_t k, xnnd_dtype dtype,
                          uint32_t rank, const int64_t* dims);
/* Broadcast a and b (numpy rules) into out. */
xnnd_status ir_broadcast(xnnd_graph* g, xnnd_id node, uint32_t ia, uint32_t ib, uint32_t* rank_out,
                         int64_t* dims_out);
/* PyTorch's pooling_output_shape over x's last nsp dims (windows k, s, p, d of nsp entries,
 * ceil_mode keeps the last window starting inside); leading dims are copied. Attrs are bounded
 * by IR_MAX_ATTR_VALUE and dims by 2^40, so nothing overflows. */
xnnd_status ir_pool_shape(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* x, uint32_t nsp,
                          const int64_t* k, const int64_t* s, const int64_t* p, const int64_t* d,
                          bool ceil_mode, int64_t* out);

/* ---- op schemas and shape inference (op_*.c), declared from ops.def ----
 * Each schema is declared with its ops.def length (+1 for the {NULL} terminator): a definition
 * with another number of entries, or two rows disagreeing on a shared schema, does not compile. */
#define XNND_OP(id, name, min_in, max_in, n_out, attrs, num_attrs, optional, flags, kprepare, krun)          \
  extern const xnnd_attr_spec xnnd_attrs_##attrs[(num_attrs) + 1]; \
  xnnd_status xnnd_infer_##attrs(xnnd_graph* g, xnnd_id node);
#include "ops.def"
#undef XNND_OP

/* Attribute defaults for schema tables. */
#define IR_DEF_NONE {.kind = XNND_ATTR_NONE}
#define IR_DEF_INT(v) {.kind = XNND_ATTR_INT, .i = (v)}
#define IR_DEF_FLOAT(v) {.kind = XNND_ATTR_FLOAT, .f = (v)}
#define IR_DEF_BOOL(v) {.kind = XNND_ATTR_BOOL, .i = (v)}
#define IR_DEF_INTS2(a, b) {.kind = XNND_ATTR_INTS, .n = 2, .ints = {(a), (b)}}
#define IR_SCHEMA_END {NULL, XNND_ATTR_NONE, false, IR_DEF_NONE}

/* ---- half precision (print.c / parse.c) ---- */
float ir_half_to_float(uint16_t h);
uint16_t ir_float_to_half(float f);

#endif /* XNND_IR_IR_INTERNAL_H */
