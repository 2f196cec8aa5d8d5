/* Writes a .pte: header, program flatbuffer (with the memory plan of the method's arena, made
 * here by the algorithm the runtime uses), constant segment, delegate segment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fb_builder.h"
#include "memory_plan.h"
#include "program_generated.h"
#include "pte_format.h"
#include "serializer/program_writer.h"

#define ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~(uint64_t)((a) - 1))

/* A growable byte buffer with 64-byte-aligned appends. */
typedef struct segment {
  uint8_t* data;
  size_t size, cap;
} segment;

static bool segment_append(segment* s, const void* bytes, size_t n, uint64_t* offset_out) {
  size_t off = ALIGN_UP(s->size, XNND_SEGMENT_ALIGN);
  if (off + n > s->cap) {
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < off + n) cap *= 2;
    uint8_t* d = realloc(s->data, cap);
    if (!d) return false;
    s->data = d;
    s->cap = cap;
  }
  /* UBSan fix: a zero-byte append to a still-empty segment must not offset a NULL pointer. */
  if (off > s->size) memset(s->data + s->size, 0, off - s->size);
  if (n) memcpy(s->data + off, bytes, n);
  s->size = off + n;
  *offset_out = off;
  return true;
}

typedef struct writer {
  const xnnd_graph* g;
  const xnnd_partition_plan* plan;
  fb_builder* fb;
  int32_t* value_map;       /* graph value -> program value, -1 when not in the program */
  uint32_t num_prog_values;
  xnnd_id* prog_values;     /* program value -> graph value */
  segment constants, delegates;
  fb_ref* const_refs;
  uint32_t num_consts;
  fb_ref* delegate_refs;
  const char* op_names[XNND_OP_COUNT];
  int32_t op_index[XNND_OP_COUNT];
  uint32_t num_ops;
  char* err;
  size_t err_size;
} writer;

static xnnd_status fail(writer* w, xnnd_status st, const char* msg) {
  snprintf(w->err, w->err_size, "%s", msg);
  return st;
}

static void map_value(writer* w, xnnd_id v) {
  if (v == XNND_NO_ID || w->value_map[v] >= 0) return;
  w->value_map[v] = (int32_t)w->num_prog_values;
  w->prog_values[w->num_prog_values++] = v;
}

/* Values that appear in the program: graph inputs/outputs, everything a kernel call
 * touches, and partition boundaries. Values internal to a partition stay in its blob. */
static void collect_values(writer* w) {
  const xnnd_graph* g = w->g;
  for (uint32_t i = 0; i < g->num_inputs; i++) map_value(w, g->inputs[i]);
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    if (w->plan->node_part[n] >= 0) continue;
    const xnnd_ir_node* node = &g->nodes[n];
    for (uint32_t k = 0; k < node->num_inputs; k++) map_value(w, node->inputs[k]);
    for (uint32_t k = 0; k < node->num_outputs; k++) map_value(w, node->outputs[k]);
  }
  for (uint32_t p = 0; p < w->plan->num_parts; p++) {
    const xnnd_partition* part = &w->plan->parts[p];
    for (uint32_t i = 0; i < part->num_inputs; i++) map_value(w, part->inputs[i]);
    for (uint32_t i = 0; i < part->num_outputs; i++) map_value(w, part->outputs[i]);
  }
  for (uint32_t i = 0; i < g->num_outputs; i++) map_value(w, g->outputs[i]);
}

static fb_ref write_quant(writer* w, const xnnd_quant* q) {
  if (q->scheme == XNND_QUANT_NONE) return 0;
  fb_ref scale, zp;
  int32_t axis = -1;
  if (q->scheme == XNND_QUANT_PER_TENSOR) {
    scale = fb_create_vector(w->fb, &q->scale, 1, sizeof(float));
    zp = fb_create_vector(w->fb, &q->zero_point, 1, sizeof(int32_t));
  } else {
    scale = fb_create_vector(w->fb, q->scales, q->num_channels, sizeof(float));
    zp = fb_create_vector(w->fb, q->zero_points, q->num_channels, sizeof(int32_t));
    axis = q->axis;
  }
  fb_table_start(w->fb);
  fb_add_ref(w->fb, XNND_PROGRAM_QuantParams_scale, scale);
  fb_add_ref(w->fb, XNND_PROGRAM_QuantParams_zero_point, zp);
  fb_add_i32(w->fb, XNND_PROGRAM_QuantParams_axis, axis, -1);
  return fb_table_end(w->fb);
}

/* ---- dynamic shapes: symbolic dims as wire forms (schema/dim_expr.h) ---- */

/* True when any of the n forms has a symbol (all-constant forms are written as static). */
static bool any_symbolic(const xnnd_dimx* x, uint32_t n) {
  for (uint32_t i = 0; x && i < n; i++)
    if (!xnnd_dimx_is_const(&x[i])) return true;
  return false;
}

/* The wire vector of n forms whose upper bounds must equal `upper` (dims[] / ints[] hold the
 * upper bounds: the memory plan and the runtime rely on it); 0 with the error set when not. */
static xnnd_status write_forms(writer* w, const xnnd_dimx* x, uint32_t n, const int64_t* upper,
                               const char* what, fb_ref* ref_out) {
  const xnnd_graph* g = w->g;
  int64_t wire[XNND_MAX_ATTR_INTS > XNND_MAX_RANK ? XNND_MAX_ATTR_INTS * (1 + XNND_MAX_SYMS)
                                                  : XNND_MAX_RANK * (1 + XNND_MAX_SYMS)];
  if (n * (1 + g->num_syms) > sizeof(wire) / sizeof(wire[0]))
    return fail(w, XNND_UNSUPPORTED, "too many symbolic entries");
  for (uint32_t i = 0; i < n; i++) {
    if (!xnnd_dimx_check(&x[i], g->num_syms) ||
        xnnd_dimx_upper(&x[i], g->syms, g->num_syms) != upper[i] ||
        (!xnnd_dimx_is_const(&x[i]) && xnnd_dimx_lower(&x[i], g->syms, g->num_syms) < 0)) {
      char text[96];
      xnnd_dimx_print(text, sizeof(text), &x[i], g->syms, g->num_syms);
      snprintf(w->err, w->err_size,
               "%s entry %u: the form %s does not fit its symbols or its stored upper bound %lld",
               what, i, text, (long long)upper[i]);
      return XNND_VERIFY_ERROR;
    }
  }
  xnnd_dimx_encode(x, n, g->num_syms, wire);
  *ref_out = fb_create_vector(w->fb, wire, n * (1 + g->num_syms), sizeof(int64_t));
  return XNND_OK;
}

static xnnd_status write_tensor(writer* w, xnnd_id v, fb_ref* ref_out) {
  const xnnd_ir_value* val = &w->g->values[v];
  int32_t dims[XNND_MAX_RANK];
  for (uint32_t i = 0; i < val->rank; i++) {
    if (val->dims[i] < 0 || val->dims[i] > INT32_MAX)
      return fail(w, XNND_UNSUPPORTED, "dimension does not fit the program format");
    dims[i] = (int32_t)val->dims[i];
  }
  int32_t constant = -1;
  if (val->data) {
    size_t nbytes = xnnd_dtype_size(val->dtype);
    for (uint32_t i = 0; i < val->rank; i++) nbytes *= (size_t)val->dims[i];
    uint64_t off;
    if (!segment_append(&w->constants, val->data, nbytes, &off))
      return fail(w, XNND_OUT_OF_MEMORY, "out of memory writing constants");
    fb_table_start(w->fb);
    fb_add_u64(w->fb, XNND_PROGRAM_ConstantBuffer_offset, off, 0);
    fb_add_u64(w->fb, XNND_PROGRAM_ConstantBuffer_size, nbytes, 0);
    w->const_refs[w->num_consts] = fb_table_end(w->fb);
    constant = (int32_t)w->num_consts++;
  }
  fb_ref dims_ref = fb_create_vector(w->fb, dims, val->rank, sizeof(int32_t));
  fb_ref quant = write_quant(w, &val->quant);
  fb_ref exprs = 0;  /* absent for a static value: static programs stay byte-identical */
  if (w->g->num_syms > 0 && any_symbolic(val->dimx, val->rank)) {
    char what[160];
    snprintf(what, sizeof(what), "value %s dims", val->name ? val->name : "?");
    if (val->data) return fail(w, XNND_VERIFY_ERROR, "a constant cannot have symbolic dims");
    xnnd_status st = write_forms(w, val->dimx, val->rank, val->dims, what, &exprs);
    if (st != XNND_OK) return st;
  }
  fb_table_start(w->fb);
  fb_add_i8(w->fb, XNND_PROGRAM_Tensor_dtype, (int8_t)val->dtype, 0);
  fb_add_ref(w->fb, XNND_PROGRAM_Tensor_dims, dims_ref);
  fb_add_ref(w->fb, XNND_PROGRAM_Tensor_quant, quant);
  fb_add_i32(w->fb, XNND_PROGRAM_Tensor_constant, constant, -1);
  fb_add_ref(w->fb, XNND_PROGRAM_Tensor_dim_exprs, exprs);
  *ref_out = fb_table_end(w->fb);
  return XNND_OK;
}

static fb_ref write_ids(writer* w, const xnnd_id* ids, uint32_t n, bool allow_absent) {
  int32_t* mapped = malloc(sizeof(int32_t) * (n ? n : 1));
  if (!mapped) return 0;
  for (uint32_t i = 0; i < n; i++)
    mapped[i] = (allow_absent && ids[i] == XNND_NO_ID) ? -1 : w->value_map[ids[i]];
  fb_ref r = fb_create_vector(w->fb, mapped, n, sizeof(int32_t));
  free(mapped);
  return r;
}

static xnnd_status write_kernel_call(writer* w, const xnnd_ir_node* node, fb_ref* step_out) {
  const xnnd_op_info* info = xnnd_op_get(node->op);
  if (w->op_index[node->op] < 0) {
    w->op_index[node->op] = (int32_t)w->num_ops;
    w->op_names[w->num_ops++] = info->name;
  }
  fb_ref attrs[XNND_MAX_ATTRS + 2];
  for (uint32_t a = 0; a < info->num_attrs; a++) {
    const xnnd_attr* at = &node->attrs[a];
    fb_ref name = fb_create_string(w->fb, info->attrs[a].name, strlen(info->attrs[a].name));
    fb_ref ints = at->kind == XNND_ATTR_INTS ? fb_create_vector(w->fb, at->ints, at->n, sizeof(int64_t)) : 0;
    fb_ref exprs = 0;
    if (at->kind == XNND_ATTR_INTS && w->g->num_syms > 0 && any_symbolic(node->attr_dimx[a], at->n)) {
      char what[160];
      snprintf(what, sizeof(what), "node %s attribute %s", info->name, info->attrs[a].name);
      xnnd_status st = write_forms(w, node->attr_dimx[a], at->n, at->ints, what, &exprs);
      if (st != XNND_OK) return st;
    }
    fb_table_start(w->fb);
    fb_add_ref(w->fb, XNND_PROGRAM_Attr_name, name);
    fb_add_u8(w->fb, XNND_PROGRAM_Attr_kind, (uint8_t)at->kind, 0);
    fb_add_i64(w->fb, XNND_PROGRAM_Attr_i, at->i, 0);
    fb_add_f64(w->fb, XNND_PROGRAM_Attr_f, at->f, 0.0);
    fb_add_ref(w->fb, XNND_PROGRAM_Attr_ints, ints);
    fb_add_ref(w->fb, XNND_PROGRAM_Attr_int_exprs, exprs);
    attrs[a] = fb_table_end(w->fb);
  }
  uint32_t num_attrs = info->num_attrs;
  /* ---- fused output range (clamp fusion, passes/clamp_fusion.c): FLOAT attrs
   * "output_min"/"output_max", written only when finite; the runtime clamps after the
   * kernel. ---- */
  const float bound[2] = {node->output_min, node->output_max};
  static const char* const bound_name[2] = {"output_min", "output_max"};
  for (uint32_t k = 0; k < 2; k++) {
    if (!isfinite(bound[k])) continue;
    fb_ref name = fb_create_string(w->fb, bound_name[k], strlen(bound_name[k]));
    fb_table_start(w->fb);
    fb_add_ref(w->fb, XNND_PROGRAM_Attr_name, name);
    fb_add_u8(w->fb, XNND_PROGRAM_Attr_kind, (uint8_t)XNND_ATTR_FLOAT, 0);
    fb_add_f64(w->fb, XNND_PROGRAM_Attr_f, (double)bound[k], 0.0);
    attrs[num_attrs++] = fb_table_end(w->fb);
  }
  /* ---- end fused output range ---- */
  fb_ref attrs_ref = fb_create_ref_vector(w->fb, attrs, num_attrs);
  fb_ref ins = write_ids(w, node->inputs, node->num_inputs, true);
  fb_ref outs = write_ids(w, node->outputs, node->num_outputs, false);
  fb_table_start(w->fb);
  fb_add_u32(w->fb, XNND_PROGRAM_KernelCall_op, (uint32_t)w->op_index[node->op], 0);
  fb_add_ref(w->fb, XNND_PROGRAM_KernelCall_inputs, ins);
  fb_add_ref(w->fb, XNND_PROGRAM_KernelCall_outputs, outs);
  fb_add_ref(w->fb, XNND_PROGRAM_KernelCall_attrs, attrs_ref);
  fb_ref call = fb_table_end(w->fb);
  fb_table_start(w->fb);
  fb_add_u8(w->fb, XNND_PROGRAM_Step_instruction_type, XNND_PROGRAM_Instruction_KernelCall, 0);
  fb_add_ref(w->fb, XNND_PROGRAM_Step_instruction, call);
  *step_out = fb_table_end(w->fb);
  return XNND_OK;
}

static xnnd_status write_delegate(writer* w, uint32_t p, fb_ref* step_out) {
  const xnnd_partition* part = &w->plan->parts[p];
  uint8_t* blob = NULL;
  size_t blob_size = 0;
  char err[256];
  const xnnd_toolchain_backend* be = w->plan->backend;
  xnnd_status st = be->lower(w->g, part, &blob, &blob_size, err, sizeof(err));
  if (st != XNND_OK) {
    snprintf(w->err, w->err_size, "partition %u: %s", p, err);
    return st;
  }
  uint64_t off;
  bool ok = segment_append(&w->delegates, blob, blob_size, &off);
  free(blob);
  if (!ok) return fail(w, XNND_OUT_OF_MEMORY, "out of memory writing delegate blobs");
  fb_ref backend = fb_create_string(w->fb, be->name, strlen(be->name));
  fb_table_start(w->fb);
  fb_add_ref(w->fb, XNND_PROGRAM_BackendDelegate_backend, backend);
  fb_add_u64(w->fb, XNND_PROGRAM_BackendDelegate_offset, off, 0);
  fb_add_u64(w->fb, XNND_PROGRAM_BackendDelegate_size, blob_size, 0);
  w->delegate_refs[p] = fb_table_end(w->fb);

  fb_ref ins = write_ids(w, part->inputs, part->num_inputs, false);
  fb_ref outs = write_ids(w, part->outputs, part->num_outputs, false);
  fb_table_start(w->fb);
  fb_add_u32(w->fb, XNND_PROGRAM_DelegateCall_delegate, p, 0);
  fb_add_ref(w->fb, XNND_PROGRAM_DelegateCall_inputs, ins);
  fb_add_ref(w->fb, XNND_PROGRAM_DelegateCall_outputs, outs);
  fb_ref call = fb_table_end(w->fb);
  fb_table_start(w->fb);
  fb_add_u8(w->fb, XNND_PROGRAM_Step_instruction_type, XNND_PROGRAM_Instruction_DelegateCall, 0);
  fb_add_ref(w->fb, XNND_PROGRAM_Step_instruction, call);
  *step_out = fb_table_end(w->fb);
  return XNND_OK;
}

/* ---- memory plan (schema/memory_plan.h) ---- */

/* Byte size the runtime computes for a value, or UINT64_MAX above its 2^48 limit. */
static uint64_t value_nbytes(const xnnd_ir_value* val) {
  uint64_t n = xnnd_dtype_size(val->dtype);
  for (uint32_t i = 0; i < val->rank; i++) {
    uint64_t d = (uint64_t)val->dims[i];
    if (d != 0 && n > ((uint64_t)1 << 48) / d) return UINT64_MAX;
    n *= d;
  }
  return n;
}

/* A unit's operands as graph ids: a partition's boundary, or a node's inputs / outputs. */
static void unit_io(const writer* w, uint32_t u, const xnnd_id** ins, uint32_t* n_in,
                    const xnnd_id** outs, uint32_t* n_out) {
  if (u < w->plan->num_parts) {
    const xnnd_partition* part = &w->plan->parts[u];
    *ins = part->inputs, *n_in = part->num_inputs;
    *outs = part->outputs, *n_out = part->num_outputs;
  } else {
    const xnnd_ir_node* node = &w->g->nodes[u - w->plan->num_parts];
    *ins = node->inputs, *n_in = node->num_inputs;
    *outs = node->outputs, *n_out = node->num_outputs;
  }
}

/* The lifetimes the runtime derives from the written steps (a value lives from the step writing
 * it to the last step reading it; method outputs to the end; an output that is an input or
 * constant is copied into a slot of its own at the end), planned by xnnd_memory_plan. Fills
 * value_offsets (one per program value) and copy_offsets (one per graph output), with
 * XNND_PLAN_NO_OFFSET where there is no slot. */
static xnnd_status plan_memory(writer* w, const uint32_t* order, uint32_t num_units,
                               uint64_t* value_offsets, uint64_t* copy_offsets,
                               uint64_t* arena_out) {
  const xnnd_graph* g = w->g;
  const uint32_t nv = w->num_prog_values;
  uint32_t* def = malloc(sizeof(uint32_t) * (nv + 1));
  uint32_t* last = malloc(sizeof(uint32_t) * (nv + 1));
  xnnd_plan_tensor* tensors = malloc(sizeof(xnnd_plan_tensor) * (nv + g->num_outputs + 1));
  xnnd_plan_live* live = malloc(sizeof(xnnd_plan_live) * (nv + g->num_outputs + 1));
  xnnd_status st = XNND_OK;
  if (!def || !last || !tensors || !live) {
    st = fail(w, XNND_OUT_OF_MEMORY, "out of memory planning memory");
    goto done;
  }
  for (uint32_t v = 0; v < nv; v++) def[v] = UINT32_MAX, last[v] = 0;
  for (uint32_t i = 0; i < num_units; i++) {
    const xnnd_id *ins, *outs;
    uint32_t n_in, n_out;
    unit_io(w, order[i], &ins, &n_in, &outs, &n_out);
    for (uint32_t k = 0; k < n_in; k++)
      if (ins[k] != XNND_NO_ID) last[w->value_map[ins[k]]] = i;
    for (uint32_t k = 0; k < n_out; k++) {
      uint32_t pv = (uint32_t)w->value_map[outs[k]];
      def[pv] = last[pv] = i;
    }
  }
  for (uint32_t o = 0; o < g->num_outputs; o++) {
    uint32_t pv = (uint32_t)w->value_map[g->outputs[o]];
    if (def[pv] != UINT32_MAX) last[pv] = num_units;
  }
  uint32_t count = 0;
  for (uint32_t i = 0; i < num_units; i++) {
    const xnnd_id *ins, *outs;
    uint32_t n_in, n_out;
    unit_io(w, order[i], &ins, &n_in, &outs, &n_out);
    for (uint32_t k = 0; k < n_out; k++) {
      uint32_t pv = (uint32_t)w->value_map[outs[k]];
      tensors[count++] = (xnnd_plan_tensor){value_nbytes(&g->values[outs[k]]), i, last[pv], pv, 0};
    }
  }
  for (uint32_t o = 0; o < g->num_outputs; o++) {
    const xnnd_ir_value* val = &g->values[g->outputs[o]];
    if (def[w->value_map[g->outputs[o]]] == UINT32_MAX && (val->is_input || val->data))
      tensors[count++] = (xnnd_plan_tensor){value_nbytes(val), num_units, num_units, nv + o, 0};
  }
  for (uint32_t i = 0; i < count; i++) {
    if (tensors[i].nbytes == UINT64_MAX) {
      st = fail(w, XNND_UNSUPPORTED, "a tensor is larger than the program format allows (2^48 bytes)");
      goto done;
    }
  }
  if (!xnnd_memory_plan(tensors, count, UINT64_MAX / 2, live, arena_out)) {
    st = fail(w, XNND_UNSUPPORTED, "the memory plan exceeds the address space");
    goto done;
  }
  for (uint32_t v = 0; v < nv; v++) value_offsets[v] = XNND_PLAN_NO_OFFSET;
  for (uint32_t o = 0; o < g->num_outputs; o++) copy_offsets[o] = XNND_PLAN_NO_OFFSET;
  for (uint32_t i = 0; i < count; i++) {
    if (tensors[i].id < nv) value_offsets[tensors[i].id] = tensors[i].offset;
    else copy_offsets[tensors[i].id - nv] = tensors[i].offset;
  }
done:
  free(def);
  free(last);
  free(tensors);
  free(live);
  return st;
}

/* Order units (partitions and lone nodes) so every producer comes first (Kahn). Unit u <
 * num_parts is a partition, else node u - num_parts. */
static xnnd_status order_units(writer* w, uint32_t** order_out, uint32_t* count_out) {
  const xnnd_graph* g = w->g;
  uint32_t np = w->plan->num_parts, nu = np + g->num_nodes;
  uint32_t* unit_of = malloc(sizeof(uint32_t) * (g->num_nodes + 1));
  uint32_t* indeg = calloc(nu + 1, sizeof(uint32_t));
  uint32_t* order = malloc(sizeof(uint32_t) * (nu + 1));
  uint32_t* edge_start = calloc(nu + 2, sizeof(uint32_t));
  bool* live = calloc(nu + 1, sizeof(bool));
  uint32_t* edges = NULL;
  xnnd_status st = XNND_OK;
  if (!unit_of || !indeg || !order || !edge_start || !live) {
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    int32_t p = w->plan->node_part[n];
    unit_of[n] = p >= 0 ? (uint32_t)p : np + n;
    live[unit_of[n]] = true;
  }
  /* CSR adjacency: producer unit -> consumer unit, one edge per crossing input. */
  uint32_t ne = 0;
  for (int pass = 0; pass < 2; pass++) {
    for (uint32_t n = 0; n < g->num_nodes; n++) {
      const xnnd_ir_node* node = &g->nodes[n];
      for (uint32_t k = 0; k < node->num_inputs; k++) {
        xnnd_id v = node->inputs[k];
        if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
        uint32_t from = unit_of[g->values[v].producer], to = unit_of[n];
        if (from == to) continue;
        if (pass == 0) {
          edge_start[from + 1]++;
          ne++;
        } else {
          edges[edge_start[from]++] = to;
          indeg[to]++;
        }
      }
    }
    if (pass == 0) {
      for (uint32_t u = 0; u < nu; u++) edge_start[u + 1] += edge_start[u];
      edges = malloc(sizeof(uint32_t) * (ne + 1));
      if (!edges) {
        st = XNND_OUT_OF_MEMORY;
        goto done;
      }
    }
  }
  /* After the fill pass edge_start[u] is the end of u's edges; the start is edge_start[u-1]. */
  uint32_t head = 0, tail = 0;
  /* Seed in node order so the program reads like the graph. */
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    uint32_t u = unit_of[n];
    if (live[u] && indeg[u] == 0) {
      order[tail++] = u;
      live[u] = false;
    }
  }
  while (head < tail) {
    uint32_t u = order[head++];
    uint32_t begin = u == 0 ? 0 : edge_start[u - 1];
    for (uint32_t e = begin; e < edge_start[u]; e++) {
      uint32_t v = edges[e];
      if (--indeg[v] == 0 && live[v]) {
        order[tail++] = v;
        live[v] = false;
      }
    }
  }
  uint32_t expected = 0;
  for (uint32_t u = 0; u < nu; u++) expected += (u < np) || (w->plan->node_part[u - np] < 0);
  if (tail != expected) {
    st = fail(w, XNND_INTERNAL, "partitions form a cycle (partitioner bug)");
    goto done;
  }
  *order_out = order;
  *count_out = tail;
  order = NULL;
done:
  free(unit_of);
  free(indeg);
  free(order);
  free(edge_start);
  free(live);
  free(edges);
  return st;
}

static xnnd_status build(writer* w, fb_ref* root_out) {
  const xnnd_graph* g = w->g;
  collect_values(w);
  fb_ref* tensors = malloc(sizeof(fb_ref) * (w->num_prog_values + 1));
  if (!tensors) return fail(w, XNND_OUT_OF_MEMORY, "out of memory");
  xnnd_status st = XNND_OK;
  for (uint32_t i = 0; i < w->num_prog_values && st == XNND_OK; i++)
    st = write_tensor(w, w->prog_values[i], &tensors[i]);
  uint32_t* order = NULL;
  uint32_t num_units = 0;
  fb_ref* steps = NULL;
  if (st == XNND_OK) st = order_units(w, &order, &num_units);
  if (st == XNND_OK && !(steps = malloc(sizeof(fb_ref) * (num_units + 1))))
    st = fail(w, XNND_OUT_OF_MEMORY, "out of memory");
  for (uint32_t i = 0; st == XNND_OK && i < num_units; i++) {
    uint32_t u = order[i];
    if (u < w->plan->num_parts)
      st = write_delegate(w, u, &steps[i]);
    else
      st = write_kernel_call(w, &g->nodes[u - w->plan->num_parts], &steps[i]);
  }
  uint64_t* value_offsets = malloc(sizeof(uint64_t) * (w->num_prog_values + 1));
  uint64_t* copy_offsets = malloc(sizeof(uint64_t) * (g->num_outputs + 1));
  uint64_t arena = 0;
  if (st == XNND_OK && (!value_offsets || !copy_offsets))
    st = fail(w, XNND_OUT_OF_MEMORY, "out of memory");
  if (st == XNND_OK) st = plan_memory(w, order, num_units, value_offsets, copy_offsets, &arena);
  if (st == XNND_OK) {
    fb_ref values = fb_create_ref_vector(w->fb, tensors, w->num_prog_values);
    fb_ref ins = write_ids(w, g->inputs, g->num_inputs, false);
    fb_ref outs = write_ids(w, g->outputs, g->num_outputs, false);
    fb_ref names[XNND_OP_COUNT];
    for (uint32_t i = 0; i < w->num_ops; i++)
      names[i] = fb_create_string(w->fb, w->op_names[i], strlen(w->op_names[i]));
    fb_ref ops = fb_create_ref_vector(w->fb, names, w->num_ops);
    fb_ref steps_ref = fb_create_ref_vector(w->fb, steps, num_units);
    fb_ref name = fb_create_string(w->fb, "forward", 7);
    fb_ref offsets_ref = fb_create_vector(w->fb, value_offsets, w->num_prog_values, sizeof(uint64_t));
    fb_ref copies_ref = fb_create_vector(w->fb, copy_offsets, g->num_outputs, sizeof(uint64_t));
    fb_ref symbols_ref = 0;  /* absent for a static method */
    if (g->num_syms > 0) {
      fb_ref syms[XNND_MAX_SYMS];
      for (uint32_t i = 0; i < g->num_syms && i < XNND_MAX_SYMS; i++) {
        fb_ref sname = fb_create_string(w->fb, g->syms[i].name, strlen(g->syms[i].name));
        fb_table_start(w->fb);
        fb_add_ref(w->fb, XNND_PROGRAM_Symbol_name, sname);
        fb_add_i64(w->fb, XNND_PROGRAM_Symbol_min, g->syms[i].min, 0);
        fb_add_i64(w->fb, XNND_PROGRAM_Symbol_max, g->syms[i].max, 0);
        syms[i] = fb_table_end(w->fb);
      }
      symbols_ref = fb_create_ref_vector(w->fb, syms, g->num_syms);
    }
    fb_table_start(w->fb);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_name, name);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_values, values);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_inputs, ins);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_outputs, outs);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_operators, ops);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_steps, steps_ref);
    fb_add_u64(w->fb, XNND_PROGRAM_Method_arena_size, arena, 0);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_value_offsets, offsets_ref);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_output_copy_offsets, copies_ref);
    fb_add_ref(w->fb, XNND_PROGRAM_Method_symbols, symbols_ref);
    fb_ref method = fb_table_end(w->fb);
    fb_ref methods = fb_create_ref_vector(w->fb, &method, 1);
    fb_ref delegates = fb_create_ref_vector(w->fb, w->delegate_refs, w->plan->num_parts);
    fb_ref consts = fb_create_ref_vector(w->fb, w->const_refs, w->num_consts);
    fb_table_start(w->fb);
    fb_add_u32(w->fb, XNND_PROGRAM_Program_version, XNND_PTE_VERSION, 0);
    fb_add_ref(w->fb, XNND_PROGRAM_Program_methods, methods);
    fb_add_ref(w->fb, XNND_PROGRAM_Program_delegates, delegates);
    fb_add_ref(w->fb, XNND_PROGRAM_Program_constants, consts);
    *root_out = fb_table_end(w->fb);
  }
  free(tensors);
  free(order);
  free(steps);
  free(value_offsets);
  free(copy_offsets);
  return st;
}

xnnd_status xnnd_program_write(const xnnd_graph* g, const xnnd_partition_plan* plan,
                               uint8_t** out, size_t* size_out, char* err, size_t err_size) {
  writer w;
  memset(&w, 0, sizeof(w));
  w.g = g;
  w.plan = plan;
  w.err = err;
  w.err_size = err_size;
  for (uint32_t i = 0; i < XNND_OP_COUNT; i++) w.op_index[i] = -1;
  w.value_map = malloc(sizeof(int32_t) * (g->num_values + 1));
  w.prog_values = malloc(sizeof(xnnd_id) * (g->num_values + 1));
  w.const_refs = malloc(sizeof(fb_ref) * (g->num_values + 1));
  w.delegate_refs = malloc(sizeof(fb_ref) * (plan->num_parts + 1));
  xnnd_status st = XNND_OK;
  if (plan->num_parts > 0 && (!plan->backend || !plan->backend->lower || !plan->backend->name)) {
    st = fail(&w, XNND_INVALID_ARGUMENT, "the partition plan has partitions but no backend to lower them");
    goto done;
  }
  if (!w.value_map || !w.prog_values || !w.const_refs || !w.delegate_refs) {
    st = fail(&w, XNND_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  for (uint32_t v = 0; v < g->num_values; v++) w.value_map[v] = -1;
  if (g->num_syms > XNND_MAX_SYMS) {
    st = fail(&w, XNND_UNSUPPORTED, "more than 4 symbols");
    goto done;
  }
  for (uint32_t i = 0; i < g->num_syms; i++) {
    if (!xnnd_symbol_check(&g->syms[i])) {
      snprintf(err, err_size, "symbol %u has an invalid name or range", i);
      st = XNND_VERIFY_ERROR;
      goto done;
    }
  }
  st = fb_builder_create(NULL, &w.fb);
  if (st != XNND_OK) goto done;
  fb_ref root = 0;
  st = build(&w, &root);
  if (st != XNND_OK) goto done;
  const uint8_t* fbdata;
  size_t fbsize;
  st = fb_finish(w.fb, root, XNND_PROGRAM_IDENTIFIER, &fbdata, &fbsize);
  if (st != XNND_OK) {
    fail(&w, st, "flatbuffer builder failed");
    goto done;
  }
  xnnd_pte_header h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, XNND_PTE_MAGIC, 8);
  h.version = XNND_PTE_VERSION;
  h.header_size = XNND_PTE_HEADER_SIZE;
  h.program_offset = XNND_PTE_HEADER_SIZE;
  h.program_size = fbsize;
  h.constant_offset = ALIGN_UP(h.program_offset + fbsize, XNND_SEGMENT_ALIGN);
  h.constant_size = w.constants.size;
  h.delegate_offset = ALIGN_UP(h.constant_offset + h.constant_size, XNND_SEGMENT_ALIGN);
  h.delegate_size = w.delegates.size;
  size_t total = h.delegate_offset + h.delegate_size;
  uint8_t* file = aligned_alloc(64, ALIGN_UP(total, 64));
  if (!file) {
    st = fail(&w, XNND_OUT_OF_MEMORY, "out of memory");
    goto done;
  }
  memset(file, 0, total);
  xnnd_pte_header_write(&h, file);
  memcpy(file + h.program_offset, fbdata, fbsize);
  if (w.constants.size) memcpy(file + h.constant_offset, w.constants.data, w.constants.size);
  if (w.delegates.size) memcpy(file + h.delegate_offset, w.delegates.data, w.delegates.size);
  *out = file;
  *size_out = total;
done:
  fb_builder_destroy(w.fb);
  free(w.value_map);
  free(w.prog_values);
  free(w.const_refs);
  free(w.delegate_refs);
  free(w.constants.data);
  free(w.delegates.data);
  return st;
}

xnnd_status xnnd_program_write_file(const xnnd_graph* g, const xnnd_partition_plan* plan,
                                    const char* path, char* err, size_t err_size) {
  uint8_t* data;
  size_t size;
  xnnd_status st = xnnd_program_write(g, plan, &data, &size, err, err_size);
  if (st != XNND_OK) return st;
  FILE* f = fopen(path, "wb");
  if (!f) {
    free(data);
    snprintf(err, err_size, "cannot open %s for writing", path);
    return XNND_IO_ERROR;
  }
  size_t wrote = fwrite(data, 1, size, f);
  int closed = fclose(f);
  free(data);
  if (wrote != size || closed != 0) {
    snprintf(err, err_size, "cannot write %s", path);
    return XNND_IO_ERROR;
  }
  return XNND_OK;
}
