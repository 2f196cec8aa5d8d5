/* Graph storage: growable value/node arrays, a name index, use counts and compaction.
 * Ids are array indices; only xnnd_graph_compact() renumbers them. The xnnd_graph handed
 * out is the first member of ir_graph, which adds the name index. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

typedef struct ir_graph {
  xnnd_graph pub;
  uint32_t* slots;    /* open addressing: value id + 1, 0 = empty */
  uint32_t slot_cap;  /* power of two, or 0 */
  uint32_t indexed;   /* values [0, indexed) are in the index; != num_values means rebuild */
  /* Users index: per value, the nodes that may read it. A superset (entries are checked on
   * query), kept up to date by add_node, replace_uses and set_input; rebuilt lazily after
   * compact. Makes use queries O(users) instead of O(nodes). */
  uint32_t** users;
  uint32_t* users_len;
  uint32_t* users_cap;
  uint32_t users_values;  /* values covered; 0 = not built */
  bool users_valid;
  uint32_t* mark;         /* per node: epoch stamp for dedup while counting */
  uint32_t mark_cap, epoch;
  uint32_t name_counter;  /* suffix source for xnnd_graph_unique_name */
} ir_graph;

static ir_graph* impl(xnnd_graph* g) { return (ir_graph*)g; }
static const ir_graph* cimpl(const xnnd_graph* g) { return (const ir_graph*)g; }

/* ---- users index ---- */

static bool node_reads(const xnnd_graph* g, uint32_t n, xnnd_id v) {
  if (n >= g->num_nodes || g->nodes[n].dead) return false;
  const xnnd_ir_node* node = &g->nodes[n];
  for (uint32_t i = 0; i < node->num_inputs; i++)
    if (node->inputs[i] == v) return true;
  return false;
}

static void users_drop(ir_graph* ig) {
  for (uint32_t v = 0; v < ig->users_values; v++) free(ig->users[v]);
  free(ig->users);
  free(ig->users_len);
  free(ig->users_cap);
  ig->users = NULL;
  ig->users_len = ig->users_cap = NULL;
  ig->users_values = 0;
  ig->users_valid = false;
}

/* Cover values [0, num_values); false on OOM (the index is dropped, queries scan). */
static bool users_cover(xnnd_graph* g) {
  ir_graph* ig = impl(g);
  uint32_t nv = g->num_values;
  if (nv <= ig->users_values) return true;
  uint32_t** u = realloc(ig->users, (size_t)nv * sizeof(*u));
  if (u) ig->users = u;
  uint32_t* l = realloc(ig->users_len, (size_t)nv * sizeof(*l));
  if (l) ig->users_len = l;
  uint32_t* c = realloc(ig->users_cap, (size_t)nv * sizeof(*c));
  if (c) ig->users_cap = c;
  if (!u || !l || !c) {
    users_drop(ig);
    return false;
  }
  for (uint32_t v = ig->users_values; v < nv; v++) {
    ig->users[v] = NULL;
    ig->users_len[v] = ig->users_cap[v] = 0;
  }
  ig->users_values = nv;
  return true;
}

static void users_note(xnnd_graph* g, xnnd_id v, uint32_t n) {
  ir_graph* ig = impl(g);
  if (!ig->users_valid) return;
  if (v >= ig->users_values && !users_cover(g)) return;
  if (ig->users_len[v] && ig->users[v][ig->users_len[v] - 1] == n) return;
  if (ig->users_len[v] == ig->users_cap[v]) {
    uint32_t cap = ig->users_cap[v] ? ig->users_cap[v] * 2 : 4;
    uint32_t* a = realloc(ig->users[v], (size_t)cap * sizeof(uint32_t));
    if (!a) {
      users_drop(ig);
      return;
    }
    ig->users[v] = a;
    ig->users_cap[v] = cap;
  }
  ig->users[v][ig->users_len[v]++] = n;
}

/* Build the index when stale; false when it cannot be built (callers then scan). */
static bool users_build(xnnd_graph* g) {
  ir_graph* ig = impl(g);
  if (ig->mark_cap < g->num_nodes) {
    uint32_t cap = g->num_nodes + 64;
    uint32_t* m = realloc(ig->mark, (size_t)cap * sizeof(uint32_t));
    if (!m) return false;
    memset(m + ig->mark_cap, 0, (size_t)(cap - ig->mark_cap) * sizeof(uint32_t));
    ig->mark = m;
    ig->mark_cap = cap;
  }
  if (ig->users_valid) return users_cover(g) && ig->users_valid;
  users_drop(ig);
  if (!users_cover(g)) return false;
  ig->users_valid = true;
  for (uint32_t n = 0; n < g->num_nodes && ig->users_valid; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs; i++)
      if (node->inputs[i] < g->num_values) users_note(g, node->inputs[i], n);
  }
  return ig->users_valid;
}

static uint32_t next_epoch(ir_graph* ig) {
  if (++ig->epoch == 0) {
    memset(ig->mark, 0, (size_t)ig->mark_cap * sizeof(uint32_t));
    ig->epoch = 1;
  }
  return ig->epoch;
}

void ir_set_error(xnnd_graph* g, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g->errmsg, sizeof(g->errmsg), fmt, ap);
  va_end(ap);
}

bool ir_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

bool ir_valid_name(const char* s, size_t len) {
  if (!s || len == 0 || len > IR_MAX_NAME) return false;
  for (size_t i = 0; i < len; i++)
    if (!ir_name_char(s[i])) return false;
  return true;
}

bool ir_numel(xnnd_dtype dtype, uint32_t rank, const int64_t* dims, uint64_t* numel_out) {
  size_t esize = xnnd_dtype_size(dtype);
  if (esize == 0 || rank > XNND_MAX_RANK) return false;
  uint64_t n = 1;
  for (uint32_t i = 0; i < rank; i++) {
    if (dims[i] < 0 || dims[i] > IR_MAX_DIM) return false;
    uint64_t d = (uint64_t)dims[i];
    if (d != 0 && n > IR_MAX_BYTES / esize / d) return false;
    n *= d;
  }
  if (numel_out) *numel_out = n;
  return true;
}

char* ir_strdup(xnnd_graph* g, const char* s, size_t len) {
  char* p = ir_arena_alloc(g->arena, len + 1, 1);
  if (!p) return NULL;
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

void* xnnd_graph_alloc(xnnd_graph* g, size_t size) {
  if (!g) return NULL;
  return ir_arena_alloc(g->arena, size, 64);
}

/* ---- create / destroy ---- */

xnnd_status xnnd_graph_create(const char* name, xnnd_graph** graph_out) {
  if (!graph_out) return XNND_INVALID_ARGUMENT;
  *graph_out = NULL;
  if (!name) name = "graph";
  if (strlen(name) >= sizeof(((xnnd_graph*)0)->name)) return XNND_INVALID_ARGUMENT;
  ir_graph* ig = calloc(1, sizeof(*ig));
  if (!ig) return XNND_OUT_OF_MEMORY;
  ig->pub.arena = ir_arena_create();
  if (!ig->pub.arena) {
    free(ig);
    return XNND_OUT_OF_MEMORY;
  }
  strcpy(ig->pub.name, name);
  *graph_out = &ig->pub;
  return XNND_OK;
}

void xnnd_graph_destroy(xnnd_graph* g) {
  if (!g) return;
  ir_graph* ig = impl(g);
  free(g->values);
  free(g->nodes);
  free(ig->slots);
  for (uint32_t v = 0; v < ig->users_values; v++) free(ig->users[v]);
  free(ig->users);
  free(ig->users_len);
  free(ig->users_cap);
  free(ig->mark);
  ir_arena_destroy(g->arena);
  free(ig);
}

/* ---- name index ---- */

static uint32_t name_hash(const char* s) {
  uint64_t h = xnnd_fnv1a64(s, strlen(s));
  return (uint32_t)(h ^ (h >> 32));
}

static void index_invalidate(xnnd_graph* g) { impl(g)->indexed = 0; }

static bool index_insert_raw(ir_graph* ig, xnnd_id id) {
  uint32_t mask = ig->slot_cap - 1;
  uint32_t i = name_hash(ig->pub.values[id].name ? ig->pub.values[id].name : "") & mask;
  while (ig->slots[i] != 0) i = (i + 1) & mask;
  ig->slots[i] = id + 1;
  return true;
}

/* Makes room for `want` entries at load <= 1/2, rebuilding from the values array. */
static bool index_sync(xnnd_graph* g, uint32_t want) {
  ir_graph* ig = impl(g);
  uint64_t need = (uint64_t)want * 2;
  if (need < 16) need = 16;
  bool rebuild = ig->indexed != g->num_values || ig->slot_cap < need;
  if (!rebuild) return true;
  uint32_t cap = ig->slot_cap < 16 ? 16 : ig->slot_cap;
  while (cap < need) {
    if (cap > UINT32_MAX / 2) return false;
    cap *= 2;
  }
  if (cap != ig->slot_cap) {
    uint32_t* slots = calloc(cap, sizeof(uint32_t));
    if (!slots) return false;
    free(ig->slots);
    ig->slots = slots;
    ig->slot_cap = cap;
  } else {
    memset(ig->slots, 0, (size_t)cap * sizeof(uint32_t));
  }
  for (uint32_t v = 0; v < g->num_values; v++) index_insert_raw(ig, v);
  ig->indexed = g->num_values;
  return true;
}

xnnd_id xnnd_graph_find_value(const xnnd_graph* g, const char* name) {
  if (!g || !name) return XNND_NO_ID;
  const ir_graph* ig = cimpl(g);
  if (ig->indexed == g->num_values && ig->slot_cap != 0) {
    uint32_t mask = ig->slot_cap - 1;
    for (uint32_t i = name_hash(name) & mask; ig->slots[i] != 0; i = (i + 1) & mask) {
      xnnd_id id = ig->slots[i] - 1;
      if (id < g->num_values && g->values[id].name && strcmp(g->values[id].name, name) == 0)
        return id;
    }
    return XNND_NO_ID;
  }
  for (xnnd_id v = 0; v < g->num_values; v++)
    if (g->values[v].name && strcmp(g->values[v].name, name) == 0) return v;
  return XNND_NO_ID;
}

/* ---- values ---- */

static bool grow(void** arr, uint32_t* cap, uint32_t need, size_t elem) {
  if (need <= *cap) return true;
  uint64_t c = *cap ? (uint64_t)*cap * 2 : 16;
  while (c < need) c *= 2;
  if (c > UINT32_MAX - 1) c = UINT32_MAX - 1;
  if (c < need || c > SIZE_MAX / elem) return false;
  void* p = realloc(*arr, (size_t)c * elem);
  if (!p) return false;
  *arr = p;
  *cap = (uint32_t)c;
  return true;
}

xnnd_id xnnd_graph_add_value(xnnd_graph* g, const char* name, xnnd_dtype dtype, uint32_t rank,
                             const int64_t* dims) {
  if (!g) return XNND_NO_ID;
  const char* shown = name ? name : "(generated)";
  if ((unsigned)dtype >= XNND_DTYPE_COUNT) {
    ir_set_error(g, "value %%%s: invalid dtype %d", shown, (int)dtype);
    return XNND_NO_ID;
  }
  if (rank > XNND_MAX_RANK) {
    ir_set_error(g, "value %%%s: rank %u exceeds %d", shown, rank, XNND_MAX_RANK);
    return XNND_NO_ID;
  }
  if (rank > 0 && !dims) {
    ir_set_error(g, "value %%%s: dims is NULL for rank %u", shown, rank);
    return XNND_NO_ID;
  }
  if (!ir_numel(dtype, rank, dims, NULL)) {
    char buf[200];
    ir_set_error(g, "value %%%s: dims %s are negative or too large", shown,
                 ir_format_dims(buf, sizeof buf, rank, dims));
    return XNND_NO_ID;
  }
  if (g->num_values >= UINT32_MAX - 2) {
    ir_set_error(g, "too many values");
    return XNND_NO_ID;
  }
  if (!index_sync(g, g->num_values + 1) ||
      !grow((void**)&g->values, &g->cap_values, g->num_values + 1, sizeof(xnnd_ir_value))) {
    ir_set_error(g, "out of memory adding value %%%s", shown);
    return XNND_NO_ID;
  }
  xnnd_id id = g->num_values;
  char gen[48];
  if (name) {
    if (!ir_valid_name(name, strlen(name))) {
      ir_set_error(g, "value name '%.64s' is not [A-Za-z0-9_.]+ of at most %d bytes", name,
                   IR_MAX_NAME);
      return XNND_NO_ID;
    }
    if (xnnd_graph_find_value(g, name) != XNND_NO_ID) {
      ir_set_error(g, "duplicate value name %%%s", name);
      return XNND_NO_ID;
    }
  } else {
    snprintf(gen, sizeof gen, "v%u", id);
    for (uint32_t k = 1; xnnd_graph_find_value(g, gen) != XNND_NO_ID; k++)
      snprintf(gen, sizeof gen, "v%u_%u", id, k);
    name = gen;
  }
  char* owned = ir_strdup(g, name, strlen(name));
  if (!owned) {
    ir_set_error(g, "out of memory adding value %%%s", shown);
    return XNND_NO_ID;
  }
  xnnd_ir_value* v = &g->values[id];
  memset(v, 0, sizeof(*v));
  v->name = owned;
  v->dtype = dtype;
  v->rank = rank;
  for (uint32_t i = 0; i < rank; i++) v->dims[i] = dims[i];
  v->layout = XNND_LAYOUT_CONTIGUOUS;
  v->quant.scheme = XNND_QUANT_NONE;
  v->producer = XNND_NO_ID;
  g->num_values++;
  index_insert_raw(impl(g), id);
  impl(g)->indexed = g->num_values;
  return id;
}

static bool value_ok(xnnd_graph* g, xnnd_id v, const char* what) {
  if (v < g->num_values) return true;
  ir_set_error(g, "%s: value id %u out of range (%u values)", what, v, g->num_values);
  return false;
}

xnnd_status xnnd_graph_set_constant(xnnd_graph* g, xnnd_id value, const void* data, size_t nbytes) {
  if (!g) return XNND_INVALID_ARGUMENT;
  if (!value_ok(g, value, "set_constant")) return XNND_INVALID_ARGUMENT;
  xnnd_ir_value* v = &g->values[value];
  uint64_t numel;
  if (!ir_numel(v->dtype, v->rank, v->dims, &numel)) {
    ir_set_error(g, "value %%%s: invalid dtype or dims", v->name);
    return XNND_INVALID_ARGUMENT;
  }
  uint64_t want = numel * xnnd_dtype_size(v->dtype);
  if ((uint64_t)nbytes != want || (!data && nbytes != 0)) {
    ir_set_error(g, "value %%%s: constant has %zu bytes, expected %llu", v->name, nbytes,
                 (unsigned long long)want);
    return XNND_INVALID_ARGUMENT;
  }
  if (v->is_input) {
    ir_set_error(g, "value %%%s: a graph input cannot be a constant", v->name);
    return XNND_INVALID_ARGUMENT;
  }
  if (v->producer < g->num_nodes && !g->nodes[v->producer].dead) {
    ir_set_error(g, "value %%%s: produced by node %u, cannot be a constant", v->name, v->producer);
    return XNND_INVALID_ARGUMENT;
  }
  void* p = ir_arena_alloc(g->arena, nbytes, 64);
  if (!p) {
    ir_set_error(g, "value %%%s: out of memory for %zu constant bytes", v->name, nbytes);
    return XNND_OUT_OF_MEMORY;
  }
  if (nbytes) memcpy(p, data, nbytes);
  v->data = p;
  v->const_key = 0;  /* new bytes: the key is their hash again */
  v->producer = XNND_NO_ID;
  return XNND_OK;
}

xnnd_status xnnd_graph_set_quant_per_tensor(xnnd_graph* g, xnnd_id value, float scale, int32_t zp) {
  if (!g) return XNND_INVALID_ARGUMENT;
  if (!value_ok(g, value, "set_quant_per_tensor")) return XNND_INVALID_ARGUMENT;
  xnnd_quant* q = &g->values[value].quant;
  memset(q, 0, sizeof(*q));
  q->scheme = XNND_QUANT_PER_TENSOR;
  q->scale = scale;
  q->zero_point = zp;
  return XNND_OK;
}

xnnd_status xnnd_graph_set_quant_per_channel(xnnd_graph* g, xnnd_id value, int32_t axis,
                                             const float* scales, const int32_t* zps, uint32_t n) {
  if (!g) return XNND_INVALID_ARGUMENT;
  if (!value_ok(g, value, "set_quant_per_channel")) return XNND_INVALID_ARGUMENT;
  if (n == 0 || !scales) {
    ir_set_error(g, "value %%%s: per-channel quantization needs n > 0 scales",
                 g->values[value].name);
    return XNND_INVALID_ARGUMENT;
  }
  float* s = ir_arena_alloc(g->arena, (size_t)n * sizeof(float), 64);
  int32_t* z = ir_arena_alloc(g->arena, (size_t)n * sizeof(int32_t), 64);
  if (!s || !z) {
    ir_set_error(g, "value %%%s: out of memory for quantization params", g->values[value].name);
    return XNND_OUT_OF_MEMORY;
  }
  memcpy(s, scales, (size_t)n * sizeof(float));
  if (zps)
    memcpy(z, zps, (size_t)n * sizeof(int32_t));
  else
    memset(z, 0, (size_t)n * sizeof(int32_t));
  xnnd_quant* q = &g->values[value].quant;
  memset(q, 0, sizeof(*q));
  q->scheme = XNND_QUANT_PER_CHANNEL;
  q->axis = axis;
  q->num_channels = n;
  q->scales = s;
  q->zero_points = z;
  return XNND_OK;
}

/* ---- nodes ---- */

xnnd_id xnnd_graph_add_node(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs, uint32_t num_inputs,
                            const xnnd_id* outputs, uint32_t num_outputs) {
  if (!g) return XNND_NO_ID;
  const xnnd_op_info* info = xnnd_op_get(op);
  if (!info) {
    ir_set_error(g, "add_node: unknown op %d", (int)op);
    return XNND_NO_ID;
  }
  if (num_inputs < info->min_inputs || num_inputs > info->max_inputs ||
      (num_inputs > 0 && !inputs)) {
    ir_set_error(g, "add_node %s: %u inputs, expected %u..%u", info->name, num_inputs,
                 info->min_inputs, info->max_inputs);
    return XNND_NO_ID;
  }
  if (num_outputs != info->num_outputs || !outputs) {
    ir_set_error(g, "add_node %s: %u outputs, expected %u", info->name, num_outputs,
                 info->num_outputs);
    return XNND_NO_ID;
  }
  uint32_t optional = ir_op_optional_inputs(op);
  for (uint32_t i = 0; i < num_inputs; i++) {
    if (inputs[i] == XNND_NO_ID && i < 32 && (optional >> i & 1u)) continue;
    if (inputs[i] >= g->num_values) {
      ir_set_error(g, "add_node %s: input %u id %u is %s", info->name, i, inputs[i],
                   inputs[i] == XNND_NO_ID ? "absent but not optional" : "out of range");
      return XNND_NO_ID;
    }
  }
  for (uint32_t k = 0; k < num_outputs; k++) {
    xnnd_id o = outputs[k];
    if (o >= g->num_values) {
      ir_set_error(g, "add_node %s: output %u id %u out of range", info->name, k, o);
      return XNND_NO_ID;
    }
    const xnnd_ir_value* v = &g->values[o];
    for (uint32_t j = 0; j < k; j++)
      if (outputs[j] == o) {
        ir_set_error(g, "add_node %s: output %%%s listed twice", info->name, v->name);
        return XNND_NO_ID;
      }
    if (v->is_input || v->data) {
      ir_set_error(g, "add_node %s: output %u %%%s is a graph input or constant", info->name, k,
                   v->name);
      return XNND_NO_ID;
    }
    if (v->producer < g->num_nodes && !g->nodes[v->producer].dead) {
      ir_set_error(g, "add_node %s: output %u %%%s is already produced by node %u", info->name, k,
                   v->name, v->producer);
      return XNND_NO_ID;
    }
  }
  if (g->num_nodes >= UINT32_MAX - 2 ||
      !grow((void**)&g->nodes, &g->cap_nodes, g->num_nodes + 1, sizeof(xnnd_ir_node))) {
    ir_set_error(g, "add_node %s: out of memory", info->name);
    return XNND_NO_ID;
  }
  xnnd_id* ins = ir_arena_alloc(g->arena, (size_t)num_inputs * sizeof(xnnd_id), 8);
  if (!ins) {
    ir_set_error(g, "add_node %s: out of memory", info->name);
    return XNND_NO_ID;
  }
  if (num_inputs) memcpy(ins, inputs, (size_t)num_inputs * sizeof(xnnd_id));
  xnnd_id id = g->num_nodes++;
  xnnd_ir_node* n = &g->nodes[id];
  memset(n, 0, sizeof(*n));
  n->op = op;
  n->num_inputs = num_inputs;
  n->inputs = ins;
  n->num_outputs = num_outputs;
  for (uint32_t k = 0; k < num_outputs; k++) {
    n->outputs[k] = outputs[k];
    g->values[outputs[k]].producer = id;
  }
  for (uint32_t k = num_outputs; k < IR_ARRAY_LEN(n->outputs); k++) n->outputs[k] = XNND_NO_ID;
  n->output_min = -INFINITY;
  n->output_max = INFINITY;
  for (uint32_t i = 0; i < num_inputs; i++)
    if (ins[i] != XNND_NO_ID) users_note(g, ins[i], id);
  for (uint32_t a = 0; a < info->num_attrs; a++) n->attrs[a] = info->attrs[a].def;
  return id;
}

xnnd_id xnnd_graph_add_node_infer_dimx(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs,
                                       uint32_t num_inputs, const xnnd_attr* attrs,
                                       const xnnd_dimx* const* attr_dimx) {
  if (!g) return XNND_NO_ID;
  const xnnd_op_info* info = xnnd_op_get(op);
  if (!info) {
    ir_set_error(g, "add_node: unknown op %d", (int)op);
    return XNND_NO_ID;
  }
  uint32_t v0 = g->num_values, n0 = g->num_nodes;
  xnnd_id outs[3];
  for (uint32_t k = 0; k < info->num_outputs; k++) {
    outs[k] = xnnd_graph_add_value(g, NULL, XNND_F32, 0, NULL);
    if (outs[k] == XNND_NO_ID) goto rollback;
  }
  xnnd_id id = xnnd_graph_add_node(g, op, inputs, num_inputs, outs, info->num_outputs);
  if (id == XNND_NO_ID) goto rollback;
  if (attrs)
    for (uint32_t a = 0; a < info->num_attrs; a++) g->nodes[id].attrs[a] = attrs[a];
  if (ir_check_attr_kinds(g, id) != XNND_OK) goto rollback;
  for (uint32_t a = 0; attr_dimx && a < XNND_MAX_ATTRS; a++)
    if (attr_dimx[a] && xnnd_graph_set_attr_dimx(g, id, a, attr_dimx[a]) != XNND_OK) goto rollback;
  xnnd_dimx forms[3][XNND_MAX_RANK];
  bool symbolic;
  if (ir_infer_node(g, id, forms, &symbolic) != XNND_OK) goto rollback;
  for (uint32_t k = 0; symbolic && k < info->num_outputs; k++)
    if (xnnd_graph_set_value_dimx(g, outs[k], forms[k]) != XNND_OK) goto rollback;
  return id;
rollback:
  g->num_values = v0;
  g->num_nodes = n0;
  index_invalidate(g);
  return XNND_NO_ID;
}

xnnd_id xnnd_graph_add_node_infer(xnnd_graph* g, xnnd_op op, const xnnd_id* inputs,
                                  uint32_t num_inputs, const xnnd_attr* attrs) {
  return xnnd_graph_add_node_infer_dimx(g, op, inputs, num_inputs, attrs, NULL);
}

static xnnd_id* copy_ids(xnnd_graph* g, const xnnd_id* ids, uint32_t n, const char* what) {
  for (uint32_t i = 0; i < n; i++)
    if (ids[i] >= g->num_values) {
      ir_set_error(g, "%s: id %u at %u out of range (%u values)", what, ids[i], i, g->num_values);
      return NULL;
    }
  xnnd_id* p = ir_arena_alloc(g->arena, (size_t)n * sizeof(xnnd_id), 8);
  if (!p) {
    ir_set_error(g, "%s: out of memory", what);
    return NULL;
  }
  if (n) memcpy(p, ids, (size_t)n * sizeof(xnnd_id));
  return p;
}

xnnd_status xnnd_graph_set_inputs(xnnd_graph* g, const xnnd_id* ids, uint32_t n) {
  if (!g || (n && !ids)) return XNND_INVALID_ARGUMENT;
  xnnd_id* p = copy_ids(g, ids, n, "set_inputs");
  if (!p) return XNND_INVALID_ARGUMENT;
  for (uint32_t i = 0; i < n; i++)
    for (uint32_t j = 0; j < i; j++)
      if (ids[i] == ids[j]) {
        ir_set_error(g, "set_inputs: %%%s listed twice", g->values[ids[i]].name);
        return XNND_INVALID_ARGUMENT;
      }
  for (uint32_t v = 0; v < g->num_values; v++) g->values[v].is_input = false;
  for (uint32_t i = 0; i < n; i++) g->values[ids[i]].is_input = true;
  g->inputs = p;
  g->num_inputs = n;
  return XNND_OK;
}

xnnd_status xnnd_graph_set_outputs(xnnd_graph* g, const xnnd_id* ids, uint32_t n) {
  if (!g || (n && !ids)) return XNND_INVALID_ARGUMENT;
  xnnd_id* p = copy_ids(g, ids, n, "set_outputs");
  if (!p) return XNND_INVALID_ARGUMENT;
  g->outputs = p;
  g->num_outputs = n;
  return XNND_OK;
}

/* ---- uses ---- */

static bool reads_earlier(const xnnd_ir_node* n, uint32_t i) {
  for (uint32_t j = 0; j < i; j++)
    if (n->inputs[j] == n->inputs[i]) return true;
  return false;
}

uint32_t xnnd_graph_count_uses(const xnnd_graph* g, xnnd_id value) {
  if (!g || value == XNND_NO_ID || value >= g->num_values) return 0;
  uint32_t count = 0;
  if (users_build((xnnd_graph*)g)) {
    ir_graph* ig = impl((xnnd_graph*)g);
    uint32_t stamp = next_epoch(ig);
    for (uint32_t k = 0; k < ig->users_len[value]; k++) {
      uint32_t n = ig->users[value][k];
      if (ig->mark[n] == stamp || !node_reads(g, n, value)) continue;
      ig->mark[n] = stamp;
      count++;
    }
  } else {
    for (uint32_t n = 0; n < g->num_nodes; n++) count += node_reads(g, n, value);
  }
  for (uint32_t i = 0; i < g->num_outputs; i++) count += g->outputs[i] == value;
  return count;
}

xnnd_id xnnd_graph_sole_user(const xnnd_graph* g, xnnd_id value) {
  if (!g || value >= g->num_values) return XNND_NO_ID;
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == value) return XNND_NO_ID;
  xnnd_id found = XNND_NO_ID;
  if (users_build((xnnd_graph*)g)) {
    const ir_graph* ig = cimpl(g);
    for (uint32_t k = 0; k < ig->users_len[value]; k++) {
      uint32_t n = ig->users[value][k];
      if (n == found || !node_reads(g, n, value)) continue;
      if (found != XNND_NO_ID) return XNND_NO_ID;
      found = n;
    }
    return found;
  }
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    if (!node_reads(g, n, value)) continue;
    if (found != XNND_NO_ID) return XNND_NO_ID;
    found = n;
  }
  return found;
}

xnnd_status xnnd_graph_set_input(xnnd_graph* g, xnnd_id node, uint32_t index, xnnd_id value) {
  if (!g || node >= g->num_nodes || index >= g->nodes[node].num_inputs ||
      (value != XNND_NO_ID && value >= g->num_values))
    return XNND_INVALID_ARGUMENT;
  g->nodes[node].inputs[index] = value;
  if (value != XNND_NO_ID) users_note(g, value, node);
  return XNND_OK;
}

xnnd_status xnnd_graph_set_node_inputs(xnnd_graph* g, xnnd_id node, const xnnd_id* ids, uint32_t n) {
  if (!g || node >= g->num_nodes || (n > 0 && !ids)) return XNND_INVALID_ARGUMENT;
  xnnd_id* ins = ir_arena_alloc(g->arena, (size_t)n * sizeof(xnnd_id), 8);
  if (!ins) return XNND_OUT_OF_MEMORY;
  if (n) memcpy(ins, ids, (size_t)n * sizeof(xnnd_id));
  g->nodes[node].inputs = ins;
  g->nodes[node].num_inputs = n;
  for (uint32_t i = 0; i < n; i++)
    if (ids[i] != XNND_NO_ID && ids[i] < g->num_values) users_note(g, ids[i], node);
  return XNND_OK;
}

void xnnd_graph_unique_name(xnnd_graph* g, const char* hint, char* out, size_t size) {
  ir_graph* ig = impl(g);
  snprintf(out, size, "%.80s", hint);
  while (xnnd_graph_find_value(g, out) != XNND_NO_ID) snprintf(out, size, "%.80s_%u", hint, ++ig->name_counter);
}

bool ir_users_consistent(xnnd_graph* g) {
  ir_graph* ig = impl(g);
  if (!ig->users_valid || !users_build(g)) return true;
  /* Readers found through the index (entries are checked) must equal readers found by a
   * full scan; the index can only miss readers, so equal counts mean it is complete. */
  uint32_t* actual = calloc((size_t)g->num_values + 1, sizeof(uint32_t));
  if (!actual) return true;
  xnnd_graph_use_counts(g, actual);
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] < g->num_values) actual[g->outputs[i]]--;
  bool ok = true;
  for (xnnd_id v = 0; v < g->num_values && ok; v++) {
    uint32_t stamp = next_epoch(ig), found = 0;
    for (uint32_t k = 0; k < ig->users_len[v]; k++) {
      uint32_t n = ig->users[v][k];
      if (ig->mark[n] == stamp || !node_reads(g, n, v)) continue;
      ig->mark[n] = stamp;
      found++;
    }
    ok = found == actual[v];
  }
  free(actual);
  return ok;
}

void xnnd_graph_use_counts(const xnnd_graph* g, uint32_t* counts) {
  if (!g || !counts) return;
  memset(counts, 0, (size_t)g->num_values * sizeof(uint32_t));
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs; i++) {
      xnnd_id v = node->inputs[i];
      if (v < g->num_values && !reads_earlier(node, i)) counts[v]++;
    }
  }
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] < g->num_values) counts[g->outputs[i]]++;
}

void xnnd_graph_replace_uses(xnnd_graph* g, xnnd_id from, xnnd_id to) {
  if (!g || from == XNND_NO_ID) return;
  if (from < g->num_values && users_build(g)) {
    ir_graph* ig = impl(g);
    uint32_t len = ig->users_len[from];
    ig->users_len[from] = 0;  /* every reader moves to `to` */
    for (uint32_t k = 0; k < len; k++) {
      uint32_t n = ig->users[from][k];
      if (!node_reads(g, n, from)) continue;
      xnnd_ir_node* node = &g->nodes[n];
      for (uint32_t i = 0; i < node->num_inputs; i++)
        if (node->inputs[i] == from) node->inputs[i] = to;
      if (to != XNND_NO_ID) users_note(g, to, n);
    }
    for (uint32_t i = 0; i < g->num_outputs; i++)
      if (g->outputs[i] == from) g->outputs[i] = to;
    return;
  }
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs; i++)
      if (node->inputs[i] == from) node->inputs[i] = to;
  }
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == from) g->outputs[i] = to;
}

/* ---- compaction ---- */

/* Min-heap of node indices: Kahn's algorithm pops the lowest original index first, so an
 * already sorted graph keeps its order. */
typedef struct heap {
  uint32_t* a;
  uint32_t n;
} heap;

static void heap_push(heap* h, uint32_t x) {
  uint32_t i = h->n++;
  while (i > 0) {
    uint32_t p = (i - 1) / 2;
    if (h->a[p] <= x) break;
    h->a[i] = h->a[p];
    i = p;
  }
  h->a[i] = x;
}

static uint32_t heap_pop(heap* h) {
  uint32_t top = h->a[0], x = h->a[--h->n], i = 0;
  for (;;) {
    uint32_t c = 2 * i + 1;
    if (c >= h->n) break;
    if (c + 1 < h->n && h->a[c + 1] < h->a[c]) c++;
    if (h->a[c] >= x) break;
    h->a[i] = h->a[c];
    i = c;
  }
  if (h->n) h->a[i] = x;
  return top;
}

typedef struct topo {
  uint32_t* prod;       /* [num_values] live producer node or XNND_NO_ID */
  uint32_t* order;      /* [num_nodes] live nodes in topological order */
  uint32_t num_order;
  uint32_t* indeg;      /* [num_nodes] left > 0 for nodes on or behind a cycle */
} topo;

static void topo_free(topo* t) {
  free(t->prod);
  free(t->order);
  free(t->indeg);
}

/* Topologically sorts the live nodes. On a structural problem or a cycle returns
 * XNND_VERIFY_ERROR with a message; t is filled either way (free with topo_free). */
static xnnd_status topo_sort(xnnd_graph* g, topo* t) {
  uint32_t nv = g->num_values, nn = g->num_nodes;
  memset(t, 0, sizeof(*t));
  t->prod = malloc(((size_t)nv + 1) * sizeof(uint32_t));
  t->order = malloc(((size_t)nn + 1) * sizeof(uint32_t));
  t->indeg = calloc((size_t)nn + 1, sizeof(uint32_t));
  uint32_t* start = calloc((size_t)nv + 2, sizeof(uint32_t));
  uint32_t* users = NULL;
  heap h = {malloc(((size_t)nn + 1) * sizeof(uint32_t)), 0};
  xnnd_status st = XNND_OK;
  if (!t->prod || !t->order || !t->indeg || !start || !h.a) {
    ir_set_error(g, "compact: out of memory");
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (uint32_t v = 0; v < nv; v++) t->prod[v] = XNND_NO_ID;
  size_t slots = 0;
  for (uint32_t n = 0; n < nn; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    if (node->num_outputs > IR_ARRAY_LEN(node->outputs) || (node->num_inputs && !node->inputs)) {
      st = ir_node_error(g, n, "malformed node (%u outputs)", node->num_outputs);
      goto done;
    }
    for (uint32_t k = 0; k < node->num_outputs; k++) {
      xnnd_id o = node->outputs[k];
      if (o >= nv) {
        st = ir_node_error(g, n, "output %u id %u out of range", k, o);
        goto done;
      }
      if (t->prod[o] != XNND_NO_ID) {
        st = ir_node_error(g, n, "output %u %%%s is also produced by node %u (%s)", k,
                           g->values[o].name, t->prod[o], ir_op_name(g->nodes[t->prod[o]].op));
        goto done;
      }
      t->prod[o] = n;
    }
    for (uint32_t i = 0; i < node->num_inputs; i++) {
      xnnd_id v = node->inputs[i];
      if (v != XNND_NO_ID && v >= nv) {
        st = ir_node_error(g, n, "input %u id %u out of range", i, v);
        goto done;
      }
    }
  }
  /* consumers in CSR form, one entry per input slot fed by a live node */
  for (uint32_t n = 0; n < nn; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs; i++) {
      xnnd_id v = node->inputs[i];
      if (v != XNND_NO_ID && t->prod[v] != XNND_NO_ID) {
        start[v + 1]++;
        t->indeg[n]++;
        slots++;
      }
    }
  }
  for (uint32_t v = 0; v < nv; v++) start[v + 1] += start[v];
  users = malloc((slots + 1) * sizeof(uint32_t));
  if (!users) {
    ir_set_error(g, "compact: out of memory");
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (uint32_t n = 0; n < nn; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t i = 0; i < node->num_inputs; i++) {
      xnnd_id v = node->inputs[i];
      if (v != XNND_NO_ID && t->prod[v] != XNND_NO_ID) users[start[v]++] = n;
    }
  }
  for (uint32_t v = nv; v > 0; v--) start[v] = start[v - 1];
  start[0] = 0;
  uint32_t live = 0;
  for (uint32_t n = 0; n < nn; n++) {
    if (g->nodes[n].dead) continue;
    live++;
    if (t->indeg[n] == 0) heap_push(&h, n);
  }
  while (h.n) {
    uint32_t n = heap_pop(&h);
    t->order[t->num_order++] = n;
    const xnnd_ir_node* node = &g->nodes[n];
    for (uint32_t k = 0; k < node->num_outputs; k++) {
      xnnd_id o = node->outputs[k];
      for (uint32_t u = start[o]; u < start[o + 1]; u++)
        if (--t->indeg[users[u]] == 0) heap_push(&h, users[u]);
    }
  }
  if (t->num_order != live) {
    /* Report a node whose input comes from another node that never became ready. */
    for (uint32_t n = 0; n < nn && st == XNND_OK; n++) {
      const xnnd_ir_node* node = &g->nodes[n];
      if (node->dead || t->indeg[n] == 0) continue;
      for (uint32_t i = 0; i < node->num_inputs; i++) {
        xnnd_id v = node->inputs[i];
        if (v == XNND_NO_ID || t->prod[v] == XNND_NO_ID || t->indeg[t->prod[v]] == 0) continue;
        st = ir_node_error(g, n, "cycle: input %u %%%s is produced by node %u (%s), which "
                           "depends on this node", i, g->values[v].name, t->prod[v],
                           ir_op_name(g->nodes[t->prod[v]].op));
        break;
      }
    }
    if (st == XNND_OK) {
      ir_set_error(g, "graph has a cycle");
      st = XNND_VERIFY_ERROR;
    }
  }
done:
  free(start);
  free(users);
  free(h.a);
  return st;
}

xnnd_status ir_topo_order(xnnd_graph* g, uint32_t** order_out, uint32_t* count_out) {
  topo t;
  xnnd_status st = topo_sort(g, &t);
  if (st == XNND_OK) {
    *order_out = t.order;
    *count_out = t.num_order;
    t.order = NULL;
  }
  topo_free(&t);
  return st;
}

xnnd_status xnnd_graph_compact(xnnd_graph* g) {
  if (!g) return XNND_INVALID_ARGUMENT;
  users_drop(impl(g));  /* ids are renumbered: rebuilt on the next query */
  uint32_t nv = g->num_values;
  for (uint32_t i = 0; i < g->num_inputs; i++)
    if (g->inputs[i] >= nv) {
      ir_set_error(g, "graph input %u: id %u out of range", i, g->inputs[i]);
      return XNND_VERIFY_ERROR;
    }
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] >= nv) {
      ir_set_error(g, "graph output %u: id %u out of range", i, g->outputs[i]);
      return XNND_VERIFY_ERROR;
    }
  topo t;
  xnnd_status st = topo_sort(g, &t);
  if (st != XNND_OK) {
    topo_free(&t);
    return st;
  }
  uint32_t live = t.num_order;
  uint32_t* new_id = malloc(((size_t)nv + 1) * sizeof(uint32_t));
  xnnd_ir_node* nodes = malloc(((size_t)live + 1) * sizeof(xnnd_ir_node));
  size_t slots = 0;
  for (uint32_t k = 0; k < live; k++) slots += g->nodes[t.order[k]].num_inputs;
  xnnd_id* ins = ir_arena_alloc(g->arena, (slots + g->num_inputs + g->num_outputs + 1) *
                                sizeof(xnnd_id), 8);
  if (!new_id || !nodes || !ins) {
    free(new_id);
    free(nodes);
    topo_free(&t);
    ir_set_error(g, "compact: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  /* keep every value something references */
  for (uint32_t v = 0; v < nv; v++) new_id[v] = XNND_NO_ID;
  for (uint32_t k = 0; k < live; k++) {
    const xnnd_ir_node* node = &g->nodes[t.order[k]];
    for (uint32_t i = 0; i < node->num_inputs; i++)
      if (node->inputs[i] != XNND_NO_ID) new_id[node->inputs[i]] = 0;
    for (uint32_t o = 0; o < node->num_outputs; o++) new_id[node->outputs[o]] = 0;
  }
  for (uint32_t i = 0; i < g->num_inputs; i++) new_id[g->inputs[i]] = 0;
  for (uint32_t i = 0; i < g->num_outputs; i++) new_id[g->outputs[i]] = 0;
  uint32_t kept = 0;
  for (uint32_t v = 0; v < nv; v++) {
    if (new_id[v] == XNND_NO_ID) continue;
    new_id[v] = kept;
    if (kept != v) g->values[kept] = g->values[v];
    g->values[kept].producer = XNND_NO_ID;
    kept++;
  }
  g->num_values = kept;
  /* nodes in topological order with fresh input arrays (a pass may have shared one) */
  for (uint32_t k = 0; k < live; k++) {
    nodes[k] = g->nodes[t.order[k]];
    xnnd_ir_node* node = &nodes[k];
    for (uint32_t i = 0; i < node->num_inputs; i++)
      ins[i] = node->inputs[i] == XNND_NO_ID ? XNND_NO_ID : new_id[node->inputs[i]];
    node->inputs = ins;
    ins += node->num_inputs;
    for (uint32_t o = 0; o < node->num_outputs; o++) {
      node->outputs[o] = new_id[node->outputs[o]];
      g->values[node->outputs[o]].producer = k;
    }
  }
  free(g->nodes);
  g->nodes = nodes;
  g->num_nodes = live;
  g->cap_nodes = live + 1;
  for (uint32_t i = 0; i < g->num_inputs; i++) ins[i] = new_id[g->inputs[i]];
  g->inputs = ins;
  ins += g->num_inputs;
  for (uint32_t i = 0; i < g->num_outputs; i++) ins[i] = new_id[g->outputs[i]];
  g->outputs = ins;
  free(new_id);
  topo_free(&t);
  index_invalidate(g);
  return XNND_OK;
}
