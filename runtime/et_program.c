/* ExecuTorch programs (FlatBuffers identifier "ET12", schema/et_program.fbs): verified as
 * untrusted input and decoded into the same structures as ours (runtime_internal.h), so method
 * creation, execution and inspection do not know which format a program came from.
 *
 * Invariants: every range (extended header, segments, constants, delegate data) is checked
 * inside the file before use; every EValue index is checked against its plan; every KernelCall
 * maps to a portable kernel at load (et_ops.c) or the load fails naming the operator.
 * ExecuTorch's own memory plan (allocation_info) is not used: we plan at load, like a program
 * of ours without a plan. docs/ARCHITECTURE.md "ExecuTorch programs (ET12)". */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/xnnpack/et_xnnpack.h"
#include "et_ops.h"
#include "et_program_generated.h"
#include "fb.h"
#include "runtime_internal.h"

#define ET_EXT_HEADER_MAGIC "eh00"
#define ET_EXT_HEADER_OFFSET 8u
#define ET_EXT_HEADER_MIN 24u  /* magic, length, program size, segment base offset */

static _Alignas(64) const uint8_t empty_data[64];

typedef struct et_ctx {
  xnnd_program* p;
  const xnnd_load_limits* limits;
  char* msg;
  size_t msg_size;
  fb_table root;
  uint64_t segment_base, segment_size;  /* absolute file range holding the segments */
  fb_vec segments;
  fb_vec const_offsets;                 /* constant_segment.offsets, len 0 when unused */
  const uint8_t* const_segment;
  uint64_t const_segment_size;
  uint32_t constants_cap;
} et_ctx;

#define ERR(c, st, ...) xnnd_errf((c)->msg, (c)->msg_size, (st), __VA_ARGS__)
#define OOM(c, what) ERR(c, XNND_OUT_OF_MEMORY, "out of memory decoding %s", what)

static void* pool_array(et_ctx* c, size_t count, size_t elem, size_t align) {
  return xnnd_pool_alloc(&c->p->pool, xnnd_mul_size(count, elem), align);
}

static uint32_t rd_u32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd_u64(const uint8_t* p) { return rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32; }

/* ---- file layout: extended header and segments ---- */

static xnnd_status read_layout(et_ctx* c, uint64_t* program_size) {
  const xnnd_data_loader* l = &c->p->loader;
  *program_size = l->size;
  c->segment_base = l->size;
  c->segment_size = 0;
  if (l->size < ET_EXT_HEADER_OFFSET + 8 ||
      memcmp(l->data + ET_EXT_HEADER_OFFSET, ET_EXT_HEADER_MAGIC, 4) != 0)
    return XNND_OK;  /* no extended header: the whole file is the flatbuffer, no segments */
  uint32_t len = rd_u32(l->data + ET_EXT_HEADER_OFFSET + 4);
  if (len < ET_EXT_HEADER_MIN || (uint64_t)ET_EXT_HEADER_OFFSET + len > l->size)
    return ERR(c, len < ET_EXT_HEADER_MIN ? XNND_MALFORMED : XNND_TRUNCATED,
               "ExecuTorch extended header: length %u (at least %u, and inside the %zu-byte "
               "file)", len, ET_EXT_HEADER_MIN, l->size);
  uint64_t psize = rd_u64(l->data + 16), base = rd_u64(l->data + 24);
  uint64_t data_size = len >= 32 ? rd_u64(l->data + 32) : 0;
  if (psize < ET_EXT_HEADER_OFFSET + len || psize > l->size)
    return ERR(c, XNND_TRUNCATED, "ExecuTorch extended header: program size %llu does not fit "
               "the %zu-byte file", (unsigned long long)psize, l->size);
  if (base < psize || base > l->size || data_size > l->size - base)
    return ERR(c, XNND_OUT_OF_RANGE, "ExecuTorch extended header: segment data [%llu, +%llu) "
               "lies outside the %zu-byte file or overlaps the %llu-byte program",
               (unsigned long long)base, (unsigned long long)data_size, l->size,
               (unsigned long long)psize);
  *program_size = psize;
  c->segment_base = base;
  c->segment_size = len >= 32 ? data_size : l->size - base;
  return XNND_OK;
}

/* Bytes of segment `index`, checked inside the segment data. */
static xnnd_status segment_bytes(et_ctx* c, uint32_t index, const char* who,
                                 const uint8_t** data, uint64_t* size) {
  if (index >= c->segments.len)
    return ERR(c, XNND_OUT_OF_RANGE, "%s: segment %u out of range (program has %u segments)",
               who, index, c->segments.len);
  fb_table s = fb_vec_table(c->segments, index);
  uint64_t off = fb_u64(s, XNND_ET_PROGRAM_EtDataSegment_offset, 0);
  uint64_t len = fb_u64(s, XNND_ET_PROGRAM_EtDataSegment_size, 0);
  if (off > c->segment_size || len > c->segment_size - off)
    return ERR(c, XNND_OUT_OF_RANGE, "%s: segment %u [%llu, +%llu) lies outside the %llu bytes "
               "of segment data", who, index, (unsigned long long)off, (unsigned long long)len,
               (unsigned long long)c->segment_size);
  *data = len ? xnnd_loader_load(&c->p->loader, c->segment_base + off, len) : empty_data;
  *size = len;
  return *data ? XNND_OK : ERR(c, XNND_OUT_OF_RANGE, "%s: segment %u outside the file", who, index);
}

/* ---- constants ---- */

static int32_t add_constant(et_ctx* c, const uint8_t* data, uint64_t size) {
  xnnd_program* p = c->p;
  if (p->num_constants >= c->constants_cap) return -1;
  /* Kernels read elements in place: keep constants 16-aligned (ExecuTorch aligns them so, but
   * a file need not). */
  if (size && ((uintptr_t)data & 15u)) {
    uint8_t* copy = xnnd_pool_alloc(&p->pool, (size_t)size, 64);
    if (!copy) return -1;
    memcpy(copy, data, (size_t)size);
    data = copy;
  }
  xnnd_constant_decl* k = &p->constants[p->num_constants];
  k->data = size ? data : empty_data;
  k->size = size;
  k->offset = size && data >= p->loader.data && data < p->loader.data + p->loader.size
                  ? (uint64_t)(data - p->loader.data) : 0;
  return (int32_t)p->num_constants++;
}

/* Constant data of buffer `idx` (idx > 0), exactly `nbytes` of it. */
static xnnd_status constant_data(et_ctx* c, const char* who, uint32_t idx, uint64_t nbytes,
                                 const uint8_t** out) {
  if (c->const_offsets.len) {
    if (idx >= c->const_offsets.len)
      return ERR(c, XNND_OUT_OF_RANGE, "%s: data_buffer_idx %u out of range (constant segment "
                 "has %u offsets)", who, idx, c->const_offsets.len);
    uint64_t off = (uint64_t)fb_vec_i64(c->const_offsets, idx);
    if (off > c->const_segment_size || nbytes > c->const_segment_size - off)
      return ERR(c, XNND_OUT_OF_RANGE, "%s: constant %u [%llu, +%llu) lies outside the "
                 "%llu-byte constant segment", who, idx, (unsigned long long)off,
                 (unsigned long long)nbytes, (unsigned long long)c->const_segment_size);
    *out = c->const_segment + off;
    return XNND_OK;
  }
  fb_vec bufs = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_constant_buffer);
  if (idx >= bufs.len)
    return ERR(c, XNND_OUT_OF_RANGE, "%s: data_buffer_idx %u out of range (program has %u "
               "constant buffers)", who, idx, bufs.len);
  fb_vec storage = fb_vector(fb_vec_table(bufs, idx), XNND_ET_PROGRAM_EtBuffer_storage);
  if (storage.len < nbytes)
    return ERR(c, XNND_OUT_OF_RANGE, "%s: constant buffer %u holds %u bytes, the tensor needs "
               "%llu", who, idx, storage.len, (unsigned long long)nbytes);
  *out = storage.data ? storage.data : empty_data;
  return XNND_OK;
}

/* ---- EValues ---- */

typedef struct et_plan {
  const char* name;
  fb_vec values;       /* EValues */
  int32_t* value_of;   /* EValue index -> our value id, -1 when not a tensor */
  xnnd_method_decl* m;
  uint32_t values_cap;
  const et_op_desc** ops;  /* per operator index, resolved at load */
  /* ExecuTorch's planner lets a view share its source's memory and emits no instruction for
   * it: per value of ours, where ExecuTorch placed it and when (if) it was defined, so such a
   * view becomes an explicit aten.view step (resolve_aliases). */
  uint32_t* mem_id;        /* allocation_info.memory_id + 1, 0 when unplanned */
  uint64_t* mem_offset;
  uint32_t* defined_at;    /* 0: not yet defined; else 1 + definition order */
  uint32_t defined_count;
  uint32_t steps_cap;
  uint64_t alias_budget;   /* values left to scan for implicit views (quadratic otherwise) */
} et_plan;

static uint8_t evalue_type(const et_plan* e, uint32_t i) {
  return fb_u8(fb_vec_table(e->values, i), XNND_ET_PROGRAM_EtEValue_val_type, 0);
}
static fb_table evalue(const et_plan* e, uint32_t i) {
  return fb_table_field(fb_vec_table(e->values, i), XNND_ET_PROGRAM_EtEValue_val);
}

static const char* kind_name(uint8_t t) {
  static const char* const names[] = {"none", "Null", "Int", "Bool", "Double", "Tensor",
                                      "String", "IntList", "DoubleList", "BoolList",
                                      "TensorList", "OptionalTensorList"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

static bool map_dtype(int8_t st, xnnd_dtype* out) {
  switch (st) {
    case XNND_ET_PROGRAM_EtScalarType_FLOAT: *out = XNND_F32; return true;
    case XNND_ET_PROGRAM_EtScalarType_HALF: *out = XNND_F16; return true;
    case XNND_ET_PROGRAM_EtScalarType_CHAR: *out = XNND_I8; return true;
    case XNND_ET_PROGRAM_EtScalarType_BYTE: *out = XNND_U8; return true;
    case XNND_ET_PROGRAM_EtScalarType_INT: *out = XNND_I32; return true;
    case XNND_ET_PROGRAM_EtScalarType_LONG: *out = XNND_I64; return true;
    case XNND_ET_PROGRAM_EtScalarType_BOOL: *out = XNND_BOOL; return true;
    default: return false;
  }
}

static xnnd_status decode_tensor(et_ctx* c, et_plan* e, uint32_t i, fb_table t) {
  xnnd_method_decl* m = e->m;
  char who[160];
  snprintf(who, sizeof(who), "plan \"%s\" value %u (Tensor)", e->name, i);
  xnnd_value_decl* v = &m->values[m->num_values];
  int8_t st = fb_i8(t, XNND_ET_PROGRAM_EtTensor_scalar_type, 0);
  if (!map_dtype(st, &v->type.dtype))
    return ERR(c, XNND_UNSUPPORTED, "%s: ExecuTorch scalar type %d has no xnnd dtype", who, st);
  if (fb_u8(t, XNND_ET_PROGRAM_EtTensor_shape_dynamism, 0) != 0)
    return ERR(c, XNND_UNSUPPORTED, "%s: dynamic shapes (shape_dynamism %u) are not supported",
               who, fb_u8(t, XNND_ET_PROGRAM_EtTensor_shape_dynamism, 0));
  if (fb_i32(t, XNND_ET_PROGRAM_EtTensor_storage_offset, 0) != 0)
    return ERR(c, XNND_UNSUPPORTED, "%s: storage_offset %d (only 0 is supported)", who,
               fb_i32(t, XNND_ET_PROGRAM_EtTensor_storage_offset, 0));
  fb_table extra = fb_table_field(t, XNND_ET_PROGRAM_EtTensor_extra_tensor_info);
  if (extra && fb_i8(extra, XNND_ET_PROGRAM_EtExtraTensorInfo_location, 0) != 0)
    return ERR(c, XNND_UNSUPPORTED, "%s: its data lives outside the program (an external "
               ".ptd file), which xnnd does not read", who);
  fb_vec sizes = fb_vector(t, XNND_ET_PROGRAM_EtTensor_sizes);
  fb_vec order = fb_vector(t, XNND_ET_PROGRAM_EtTensor_dim_order);
  if (sizes.len > c->limits->max_rank)
    return ERR(c, XNND_LIMIT_EXCEEDED, "%s: rank %u exceeds the limit of %u", who, sizes.len,
               c->limits->max_rank);
  if (order.len != 0 && order.len != sizes.len)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: dim_order has %u entries for rank %u", who,
               order.len, sizes.len);
  for (uint32_t d = 0; d < order.len; d++)
    if (fb_vec_u8(order, d) != d)
      return ERR(c, XNND_UNSUPPORTED, "%s: dim_order entry %u is %u: only the contiguous order "
                 "(0, 1, ..., rank-1) is supported (channels-last tensors are not)", who, d,
                 fb_vec_u8(order, d));
  v->type.rank = sizes.len;
  for (uint32_t d = 0; d < sizes.len; d++) {
    int32_t dim = fb_vec_i32(sizes, d);
    if (dim < 0)
      return ERR(c, XNND_INVALID_PROGRAM, "%s: size %u is %d, sizes must be >= 0", who, d, dim);
    v->type.dims[d] = dim;
  }
  if (!xnnd_tensor_bytes(v->type.dims, sizes.len, xnnd_dtype_size(v->type.dtype), &v->nbytes))
    return ERR(c, XNND_LIMIT_EXCEEDED, "%s: byte size overflows (more than 2^48 bytes, zero dims "
               "counted as 1)", who);
  v->constant = -1;
  v->offset = XNND_NO_OFFSET;
  fb_table alloc = fb_table_field(t, XNND_ET_PROGRAM_EtTensor_allocation_info);
  if (alloc) {
    e->mem_id[m->num_values] = fb_u32(alloc, XNND_ET_PROGRAM_EtAllocation_memory_id, 0) + 1;
    e->mem_offset[m->num_values] =
        fb_u32(alloc, XNND_ET_PROGRAM_EtAllocation_offset_low, 0) |
        (uint64_t)fb_u32(alloc, XNND_ET_PROGRAM_EtAllocation_offset_high, 0) << 32;
  }
  uint32_t buf = fb_u32(t, XNND_ET_PROGRAM_EtTensor_data_buffer_idx, 0);
  if (buf != 0) {
    const uint8_t* data = NULL;
    xnnd_status status = constant_data(c, who, buf, v->nbytes, &data);
    if (status != XNND_OK) return status;
    v->constant = add_constant(c, data, v->nbytes);
    if (v->constant < 0) return OOM(c, "constants");
    v->type.data = (void*)c->p->constants[v->constant].data;
  }
  e->value_of[i] = (int32_t)m->num_values++;
  return XNND_OK;
}

/* A new rank-0 constant of `dtype` holding a Scalar EValue (Int, Double or Bool). */
static xnnd_status scalar_constant(et_ctx* c, et_plan* e, uint32_t ev, xnnd_dtype dtype,
                                   int32_t* id) {
  xnnd_method_decl* m = e->m;
  uint8_t type = evalue_type(e, ev);
  fb_table s = evalue(e, ev);
  double d;
  int64_t i;
  if (type == XNND_ET_PROGRAM_EtValueKind_EtInt) i = fb_i64(s, XNND_ET_PROGRAM_EtInt_value, 0), d = (double)i;
  else if (type == XNND_ET_PROGRAM_EtValueKind_EtBool) i = fb_u8(s, XNND_ET_PROGRAM_EtBool_value, 0) != 0, d = (double)i;
  else if (type == XNND_ET_PROGRAM_EtValueKind_EtDouble) {
    d = fb_f64(s, XNND_ET_PROGRAM_EtDouble_value, 0.0);
    i = isfinite(d) && fabs(d) < 9e18 ? (int64_t)d : 0;
  } else {
    return XNND_INVALID_ARGUMENT;
  }
  if (m->num_values >= e->values_cap) return OOM(c, "scalar constants");
  uint8_t* data = xnnd_pool_alloc(&c->p->pool, 8, 64);
  if (!data) return OOM(c, "scalar constants");
  switch (dtype) {
    case XNND_F32: { float f = (float)d; memcpy(data, &f, 4); break; }
    case XNND_I32: { int32_t v = (int32_t)i; memcpy(data, &v, 4); break; }
    case XNND_I64: memcpy(data, &i, 8); break;
    case XNND_I8: data[0] = (uint8_t)(int8_t)i; break;
    case XNND_U8: data[0] = (uint8_t)i; break;
    case XNND_BOOL: data[0] = d != 0.0; break;
    default:
      return ERR(c, XNND_UNSUPPORTED, "plan \"%s\" value %u: a %s Scalar cannot become a %s "
                 "tensor", e->name, ev, kind_name(type), xnnd_dtype_name(dtype));
  }
  xnnd_value_decl* v = &m->values[m->num_values];
  v->type.dtype = dtype;
  v->type.rank = 0;
  v->nbytes = xnnd_dtype_size(dtype);
  v->offset = XNND_NO_OFFSET;
  v->constant = add_constant(c, data, v->nbytes);
  if (v->constant < 0) return OOM(c, "constants");
  v->type.data = (void*)c->p->constants[v->constant].data;
  *id = (int32_t)m->num_values++;
  return XNND_OK;
}

/* ---- kernel calls ---- */

typedef struct step_builder {
  int32_t* inputs;
  uint32_t num_inputs;
  uint32_t* outputs;
  uint32_t num_outputs;
  xnnd_kattr* attrs;
  uint32_t num_attrs;
} step_builder;

static const xnnd_kattr* find_attr(const step_builder* b, const char* name) {
  for (uint32_t i = 0; i < b->num_attrs; i++)
    if (strcmp(b->attrs[i].name, name) == 0) return &b->attrs[i];
  return NULL;
}

/* The EValue index of args[k], checked. */
static xnnd_status arg_index(et_ctx* c, const et_plan* e, const char* where, fb_vec args,
                             uint32_t k, uint32_t* ev) {
  int32_t i = fb_vec_i32(args, k);
  if (i < 0 || (uint32_t)i >= e->values.len)
    return ERR(c, XNND_OUT_OF_RANGE, "%s: arg %u = EValue %d out of range (plan has %u values)",
               where, k, i, e->values.len);
  *ev = (uint32_t)i;
  return XNND_OK;
}

static xnnd_status tensor_arg(et_ctx* c, const et_plan* e, const char* where, uint32_t k,
                              uint32_t ev, int32_t* id) {
  if (e->value_of[ev] < 0)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u = EValue %u is a %s, expected a Tensor",
               where, k, ev, kind_name(evalue_type(e, ev)));
  *id = e->value_of[ev];
  return XNND_OK;
}

/* An IntList's ints (its items are EValue indices of Int values) or one Int as a list. */
static xnnd_status int_list(et_ctx* c, const et_plan* e, const char* where, uint32_t k,
                            uint32_t ev, int64_t** out, uint32_t* n) {
  uint8_t type = evalue_type(e, ev);
  fb_table t = evalue(e, ev);
  if (type == XNND_ET_PROGRAM_EtValueKind_EtInt) {
    *out = pool_array(c, 1, sizeof(int64_t), 8);
    if (!*out) return OOM(c, "int lists");
    (*out)[0] = fb_i64(t, XNND_ET_PROGRAM_EtInt_value, 0);
    *n = 1;
    return XNND_OK;
  }
  if (type != XNND_ET_PROGRAM_EtValueKind_EtIntList)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u = EValue %u is a %s, expected an IntList",
               where, k, ev, kind_name(type));
  fb_vec items = fb_vector(t, XNND_ET_PROGRAM_EtIntList_items);
  int64_t* ints = pool_array(c, items.len, sizeof(int64_t), 8);
  if (!ints) return OOM(c, "int lists");
  for (uint32_t j = 0; j < items.len; j++) {
    int64_t idx = fb_vec_i64(items, j);
    if (idx < 0 || (uint64_t)idx >= e->values.len ||
        evalue_type(e, (uint32_t)idx) != XNND_ET_PROGRAM_EtValueKind_EtInt)
      return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u = IntList EValue %u: item %u = EValue %lld "
                 "is not an Int of the plan", where, k, ev, j, (long long)idx);
    ints[j] = fb_i64(evalue(e, (uint32_t)idx), XNND_ET_PROGRAM_EtInt_value, 0);
  }
  *out = ints;
  *n = items.len;
  return XNND_OK;
}

static xnnd_status normalize_dim(et_ctx* c, const char* where, uint32_t k, int64_t* d,
                                 uint32_t rank) {
  int64_t r = rank ? rank : 1;
  if (*d < -r || *d >= r)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u: dim %lld out of range for rank %u", where,
               k, (long long)*d, rank);
  if (*d < 0) *d += r;
  return XNND_OK;
}

static xnnd_status attr_arg(et_ctx* c, const et_plan* e, const char* where, const et_arg* a,
                            uint32_t k, uint32_t ev, step_builder* b, uint32_t rank) {
  uint8_t type = evalue_type(e, ev);
  fb_table t = evalue(e, ev);
  xnnd_kattr* at = &b->attrs[b->num_attrs];
  at->name = a->attr;
  at->kind = a->kind;
  if (type == XNND_ET_PROGRAM_EtValueKind_EtNull) {
    if (a->norm == ET_NORM_OPTIONAL) return XNND_OK;  /* attribute absent */
    if (a->norm == ET_NORM_DIMS) {   /* reduce over every dim */
      int64_t* all = pool_array(c, rank ? rank : 1, sizeof(int64_t), 8);
      if (!all) return OOM(c, "attributes");
      for (uint32_t d = 0; d < rank; d++) all[d] = d;
      at->ints = all;
      at->n = rank;
      b->num_attrs++;
      return XNND_OK;
    }
    return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u (%s) = EValue %u is None", where, k, a->attr,
               ev);
  }
  switch (a->kind) {
    case ET_ATTR_INTS: {
      int64_t* ints;
      uint32_t n;
      xnnd_status st = int_list(c, e, where, k, ev, &ints, &n);
      if (st != XNND_OK) return st;
      if (a->norm == ET_NORM_DIMS)
        for (uint32_t j = 0; j < n; j++) {
          st = normalize_dim(c, where, k, &ints[j], rank);
          if (st != XNND_OK) return st;
        }
      if (a->norm == ET_NORM_POOL_STRIDE && n == 0) {
        const xnnd_kattr* ks = find_attr(b, "kernel_size");
        if (ks) ints = (int64_t*)ks->ints, n = ks->n;
      }
      at->ints = ints;
      at->n = n;
      break;
    }
    case ET_ATTR_INT:
    case ET_ATTR_BOOL:
      if (type == XNND_ET_PROGRAM_EtValueKind_EtInt) at->i = fb_i64(t, XNND_ET_PROGRAM_EtInt_value, 0);
      else if (type == XNND_ET_PROGRAM_EtValueKind_EtBool) at->i = fb_u8(t, XNND_ET_PROGRAM_EtBool_value, 0) != 0;
      else
        return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u (%s) = EValue %u is a %s, expected %s",
                   where, k, a->attr, ev, kind_name(type),
                   a->kind == ET_ATTR_INT ? "an Int" : "a Bool");
      if (a->norm == ET_NORM_DIM) {
        xnnd_status st = normalize_dim(c, where, k, &at->i, rank);
        if (st != XNND_OK) return st;
      }
      break;
    case ET_ATTR_FLOAT:
      if (type == XNND_ET_PROGRAM_EtValueKind_EtDouble) at->f = fb_f64(t, XNND_ET_PROGRAM_EtDouble_value, 0.0);
      else if (type == XNND_ET_PROGRAM_EtValueKind_EtInt) at->f = (double)fb_i64(t, XNND_ET_PROGRAM_EtInt_value, 0);
      else if (type == XNND_ET_PROGRAM_EtValueKind_EtBool) at->f = fb_u8(t, XNND_ET_PROGRAM_EtBool_value, 0) != 0;
      else
        return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u (%s) = EValue %u is a %s, expected a "
                   "Scalar", where, k, a->attr, ev, kind_name(type));
      break;
    default:
      return ERR(c, XNND_INTERNAL, "%s: arg %u: bad attribute kind in the operator table", where, k);
  }
  b->num_attrs++;
  return XNND_OK;
}

/* Dtype a Scalar in a tensor position becomes: that of the call's first tensor operand in such
 * a position (comparisons compute in it), else that of the first output. */
static xnnd_dtype scalar_dtype(const et_plan* e, const et_op_desc* op, fb_vec args) {
  xnnd_dtype out = XNND_F32;
  bool have_out = false;
  for (uint32_t k = 0; k < op->num_args && k < args.len; k++) {
    int32_t i = fb_vec_i32(args, k);
    if (i < 0 || (uint32_t)i >= e->values.len || e->value_of[i] < 0) continue;
    xnnd_dtype d = e->m->values[e->value_of[i]].type.dtype;
    if (op->args[k].role == ET_ARG_INPUT_SCALAR) return d;
    if (op->args[k].role == ET_ARG_OUTPUT && !have_out) out = d, have_out = true;
  }
  return out;
}

/* full_like: the output is a constant filled at load (shapes are static). */
static xnnd_status fold_full_like(et_ctx* c, et_plan* e, const char* where, step_builder* b) {
  const xnnd_kattr* value = find_attr(b, "value");
  xnnd_value_decl* v = &e->m->values[b->outputs[0]];
  if (!value) return ERR(c, XNND_INVALID_PROGRAM, "%s: no fill value", where);
  if (v->nbytes > c->limits->max_method_bytes)
    return ERR(c, XNND_LIMIT_EXCEEDED, "%s: a %llu-byte constant exceeds the method limit",
               where, (unsigned long long)v->nbytes);
  uint8_t* data = xnnd_pool_alloc(&c->p->pool, (size_t)v->nbytes, 64);
  if (!data) return OOM(c, "full_like");
  size_t n = xnnd_tensor_numel(&v->type), es = xnnd_dtype_size(v->type.dtype);
  uint8_t one[8] = {0};
  double f = value->f;
  int64_t i = isfinite(f) && fabs(f) < 9e18 ? (int64_t)f : 0;
  switch (v->type.dtype) {
    case XNND_F32: { float x = (float)f; memcpy(one, &x, 4); break; }
    case XNND_I32: { int32_t x = (int32_t)i; memcpy(one, &x, 4); break; }
    case XNND_I64: memcpy(one, &i, 8); break;
    case XNND_I8: case XNND_U8: one[0] = (uint8_t)i; break;
    case XNND_BOOL: one[0] = f != 0.0; break;
    default: return ERR(c, XNND_UNSUPPORTED, "%s: a %s fill is not supported", where,
                        xnnd_dtype_name(v->type.dtype));
  }
  for (size_t j = 0; j < n; j++) memcpy(data + j * es, one, es);
  v->constant = add_constant(c, data, v->nbytes);
  if (v->constant < 0) return OOM(c, "constants");
  v->type.data = (void*)c->p->constants[v->constant].data;
  return XNND_OK;
}

/* Per-channel zero points ExecuTorch stores as an int64 constant: our dequantize reads
 * int32, so a constant int32 copy takes its place (each value checked to fit). */
static xnnd_status narrow_zero_points(et_ctx* c, et_plan* e, const char* where, int32_t* id) {
  xnnd_method_decl* m = e->m;
  const xnnd_value_decl* zp = &m->values[*id];
  if (zp->type.dtype != XNND_I64) return XNND_OK;
  if (zp->constant < 0)
    return ERR(c, XNND_UNSUPPORTED, "%s: int64 zero points that are not a constant", where);
  if (m->num_values >= e->values_cap) return OOM(c, "values");
  size_t n = xnnd_tensor_numel(&zp->type);
  int32_t* narrow = xnnd_pool_alloc(&c->p->pool, n * 4 + 4, 64);
  if (!narrow) return OOM(c, "zero points");
  for (size_t i = 0; i < n; i++) {
    int64_t v;
    memcpy(&v, (const uint8_t*)zp->type.data + 8 * i, 8);
    if (v < -128 || v > 255)
      return ERR(c, XNND_INVALID_PROGRAM, "%s: zero point %zu is %lld, outside any 8-bit range",
                 where, i, (long long)v);
    narrow[i] = (int32_t)v;
  }
  xnnd_value_decl* v = &m->values[m->num_values];
  v->type = zp->type;
  v->type.dtype = XNND_I32;
  v->nbytes = n * 4;
  v->offset = XNND_NO_OFFSET;
  v->constant = add_constant(c, (const uint8_t*)narrow, v->nbytes);
  if (v->constant < 0) return OOM(c, "constants");
  v->type.data = (void*)c->p->constants[v->constant].data;
  *id = (int32_t)m->num_values++;
  return XNND_OK;
}

/* One KernelCall into step `st`; an op folded at load (full_like) emits no step. */
static xnnd_status decode_kernel_call(et_ctx* c, et_plan* e, uint32_t instr, fb_table call,
                                      xnnd_step_decl* st, bool* emitted) {
  xnnd_method_decl* m = e->m;
  char where[256];
  *emitted = false;
  int32_t op_index = fb_i32(call, XNND_ET_PROGRAM_EtKernelCall_op_index, 0);
  if (op_index < 0 || (uint32_t)op_index >= m->num_operators)
    return ERR(c, XNND_OUT_OF_RANGE, "plan \"%s\" instruction %u: operator %d out of range (plan "
               "has %u operators)", e->name, instr, op_index, m->num_operators);
  const et_op_desc* op = e->ops[op_index];
  snprintf(where, sizeof(where), "plan \"%s\" instruction %u (%s)", e->name, instr, op->name);
  fb_vec args = fb_vector(call, XNND_ET_PROGRAM_EtKernelCall_args);
  if (args.len != op->num_args)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: %u args, its schema has %u (arguments, outputs and "
               "the result)", where, args.len, op->num_args);
  /* Capacities: every arg at most once, a tensor list up to the plan's EValue count. */
  uint32_t cap_in = args.len;
  for (uint32_t k = 0; k < args.len; k++) {
    if (op->args[k].role != ET_ARG_INPUT_LIST) continue;
    uint32_t ev = 0;
    xnnd_status status = arg_index(c, e, where, args, k, &ev);
    if (status != XNND_OK) return status;
    if (evalue_type(e, ev) == XNND_ET_PROGRAM_EtValueKind_EtTensorList)
      cap_in += fb_vector(evalue(e, ev), XNND_ET_PROGRAM_EtTensorList_items).len;
  }
  step_builder b = {0};
  b.inputs = pool_array(c, cap_in, sizeof(int32_t), 4);
  b.outputs = pool_array(c, args.len, sizeof(uint32_t), 4);
  b.attrs = pool_array(c, args.len + 2, sizeof(xnnd_kattr), 8);
  if (!b.inputs || !b.outputs || !b.attrs) return OOM(c, "kernel call");
  xnnd_dtype sdtype = scalar_dtype(e, op, args);
  uint32_t rank = 0;  /* of the first tensor input: what dims normalize against */
  bool have_rank = false;
  for (uint32_t k = 0; k < args.len; k++) {
    const et_arg* a = &op->args[k];
    uint32_t ev = 0;
    int32_t id = -1;
    xnnd_status status = arg_index(c, e, where, args, k, &ev);
    if (status != XNND_OK) return status;
    uint8_t type = evalue_type(e, ev);
    switch (a->role) {
      case ET_ARG_INPUT:
      case ET_ARG_INPUT_OPT:
      case ET_ARG_INPUT_SCALAR:
        if (a->role == ET_ARG_INPUT_OPT && type == XNND_ET_PROGRAM_EtValueKind_EtNull) {
          id = -1;
        } else if (a->role == ET_ARG_INPUT_SCALAR && e->value_of[ev] < 0) {
          status = scalar_constant(c, e, ev, sdtype, &id);
          if (status == XNND_INVALID_ARGUMENT)
            return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u = EValue %u is a %s, expected a "
                       "Tensor or a Scalar", where, k, ev, kind_name(type));
          if (status != XNND_OK) return status;
        } else {
          status = tensor_arg(c, e, where, k, ev, &id);
          if (status != XNND_OK) return status;
        }
        if (id >= 0 && !have_rank) rank = m->values[id].type.rank, have_rank = true;
        b.inputs[b.num_inputs++] = id;
        break;
      case ET_ARG_INPUT_LIST: {
        if (type != XNND_ET_PROGRAM_EtValueKind_EtTensorList)
          return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u = EValue %u is a %s, expected a "
                     "TensorList", where, k, ev, kind_name(type));
        fb_vec items = fb_vector(evalue(e, ev), XNND_ET_PROGRAM_EtTensorList_items);
        for (uint32_t j = 0; j < items.len; j++) {
          int32_t item = fb_vec_i32(items, j);
          if (item < 0 || (uint32_t)item >= e->values.len || e->value_of[item] < 0)
            return ERR(c, XNND_INVALID_PROGRAM, "%s: arg %u: TensorList item %u = EValue %d is "
                       "not a Tensor of the plan", where, k, j, item);
          b.inputs[b.num_inputs++] = e->value_of[item];
          if (!have_rank) rank = m->values[e->value_of[item]].type.rank, have_rank = true;
        }
        break;
      }
      case ET_ARG_OUTPUT:
        status = tensor_arg(c, e, where, k, ev, &id);
        if (status != XNND_OK) return status;
        b.outputs[b.num_outputs++] = (uint32_t)id;
        break;
      case ET_ARG_ATTR:
        status = attr_arg(c, e, where, a, k, ev, &b, rank);
        if (status != XNND_OK) return status;
        break;
      case ET_ARG_NONE:
        if (type != XNND_ET_PROGRAM_EtValueKind_EtNull)
          return ERR(c, XNND_UNSUPPORTED, "%s: arg %u = EValue %u must be None (xnnd does not "
                     "implement this option), it is a %s", where, k, ev, kind_name(type));
        break;
      case ET_ARG_DIM_ORDER:
        if (type != XNND_ET_PROGRAM_EtValueKind_EtNull) {
          int64_t* order;
          uint32_t n;
          status = int_list(c, e, where, k, ev, &order, &n);
          if (status != XNND_OK) return status;
          for (uint32_t j = 0; j < n; j++)
            if (order[j] != (int64_t)j || n != rank)
              return ERR(c, XNND_UNSUPPORTED, "%s: arg %u: dim_order is not the contiguous "
                         "order of a rank-%u tensor (entry %u is %lld)", where, k, rank, j,
                         (long long)order[j]);
        }
        break;
      case ET_ARG_SKIP:
      case ET_ARG_RESULT:
        break;
      default:
        return ERR(c, XNND_INTERNAL, "%s: arg %u: bad role in the operator table", where, k);
    }
  }
  if (b.num_outputs == 0)
    return ERR(c, XNND_INTERNAL, "%s: the operator table gives no output", where);
  const xnnd_value_decl* out0 = &m->values[b.outputs[0]];
  xnnd_kattr* extra = &b.attrs[b.num_attrs];
  switch (op->special) {
    case ET_SPECIAL_FULL_LIKE:
      return fold_full_like(c, e, where, &b);
    case ET_SPECIAL_VIEW: {
      int64_t* size = pool_array(c, out0->type.rank ? out0->type.rank : 1, sizeof(int64_t), 8);
      if (!size) return OOM(c, "attributes");
      for (uint32_t d = 0; d < out0->type.rank; d++) size[d] = out0->type.dims[d];
      *extra = (xnnd_kattr){.name = "size", .kind = ET_ATTR_INTS, .n = out0->type.rank,
                            .ints = size};
      b.num_attrs++;
      break;
    }
    case ET_SPECIAL_TO_COPY:
      *extra = (xnnd_kattr){.name = "dtype", .kind = ET_ATTR_INT, .i = out0->type.dtype};
      b.num_attrs++;
      break;
    case ET_SPECIAL_QUANTIZE:
      *extra = (xnnd_kattr){.name = "dtype", .kind = ET_ATTR_INT, .i = out0->type.dtype};
      b.num_attrs++;
      break;
    case ET_SPECIAL_DEQUANTIZE: {
      *extra = (xnnd_kattr){.name = "dtype", .kind = ET_ATTR_INT,
                            .i = m->values[b.inputs[0]].type.dtype};
      b.num_attrs++;
      if (b.num_inputs > 2 && b.inputs[2] >= 0) {
        xnnd_status status = narrow_zero_points(c, e, where, &b.inputs[2]);
        if (status != XNND_OK) return status;
      }
      break;
    }
    case ET_SPECIAL_TRAINING_FALSE:
      *extra = (xnnd_kattr){.name = "training", .kind = ET_ATTR_BOOL, .i = 0};
      b.num_attrs++;
      break;
    default:
      break;
  }
  st->kind = XNND_STEP_KERNEL;
  st->index = (uint32_t)op_index;
  st->op_name = op->ir_op;
  st->kernel = xnnd_kernel_find(op->ir_op);
  if (!st->kernel)
    return ERR(c, XNND_UNKNOWN_OP, "%s: no portable kernel for %s", where, op->ir_op);
  st->inputs = b.inputs;
  st->num_inputs = b.num_inputs;
  st->outputs = b.outputs;
  st->num_outputs = b.num_outputs;
  st->attrs = b.attrs;
  st->num_attrs = b.num_attrs;
  *emitted = true;
  return XNND_OK;
}

/* ---- delegates ---- */

typedef struct named_ctx {
  et_ctx* c;
} named_ctx;

static const uint8_t* named_data_lookup(void* ctx, const char* key, size_t key_len,
                                        uint64_t* size) {
  et_ctx* c = ((named_ctx*)ctx)->c;
  fb_vec named = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_named_data);
  for (uint32_t i = 0; i < named.len; i++) {
    fb_table t = fb_vec_table(named, i);
    uint32_t len;
    const char* k = fb_string(t, XNND_ET_PROGRAM_EtNamedData_key, &len);
    if (len != key_len || memcmp(k, key, key_len) != 0) continue;
    const uint8_t* data = NULL;
    if (segment_bytes(c, fb_u32(t, XNND_ET_PROGRAM_EtNamedData_segment_index, 0), "named_data", &data,
                      size) != XNND_OK)
      return NULL;
    return data;
  }
  return NULL;
}

/* Delegate `d` of plan `e` becomes program delegate `slot`, run by our XNNPACK backend on
 * the translated blob. */
static xnnd_status decode_delegate(et_ctx* c, const et_plan* e, uint32_t d, fb_table t,
                                   uint32_t slot, xnnd_et_xnnpack_result* res) {
  xnnd_program* p = c->p;
  xnnd_delegate_decl* dd = &p->delegates[slot];
  const char* id = fb_string(t, XNND_ET_PROGRAM_EtBackendDelegate_id, NULL);
  if (strcmp(id, XNND_XNNPACK_BACKEND_NAME) != 0)
    return ERR(c, XNND_UNKNOWN_BACKEND, "plan \"%s\" delegate %u: backend \"%s\" is not "
               "supported (xnnd runs ExecuTorch's \"%s\" delegates only)", e->name, d, id,
               XNND_XNNPACK_BACKEND_NAME);
  fb_table ref = fb_table_field(t, XNND_ET_PROGRAM_EtBackendDelegate_processed);
  if (!ref)
    return ERR(c, XNND_INVALID_PROGRAM, "plan \"%s\" delegate %u: no processed data", e->name, d);
  uint8_t loc = (uint8_t)fb_i8(ref, XNND_ET_PROGRAM_EtDelegateDataRef_location, 0);
  uint32_t index = fb_u32(ref, XNND_ET_PROGRAM_EtDelegateDataRef_index, 0);
  char who[128];
  snprintf(who, sizeof(who), "plan \"%s\" delegate %u", e->name, d);
  const uint8_t* data = NULL;
  uint64_t size;
  if (loc == XNND_ET_PROGRAM_EtDataLocation_INLINE) {
    fb_vec inl = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_backend_delegate_data);
    if (index >= inl.len)
      return ERR(c, XNND_OUT_OF_RANGE, "%s: inline data %u out of range (program has %u)", who,
                 index, inl.len);
    fb_vec bytes = fb_vector(fb_vec_table(inl, index), XNND_ET_PROGRAM_EtInlineData_data);
    data = bytes.data ? bytes.data : empty_data;
    size = bytes.len;
  } else if (loc == XNND_ET_PROGRAM_EtDataLocation_SEGMENT) {
    xnnd_status status = segment_bytes(c, index, who, &data, &size);
    if (status != XNND_OK) return status;
  } else {
    return ERR(c, XNND_INVALID_PROGRAM, "%s: data location %u is neither inline (0) nor segment "
               "(1)", who, loc);
  }
  named_ctx nctx = {c};
  char err[XNND_ERRMSG_SIZE - 64];
  err[0] = '\0';
  xnnd_status status = xnnd_et_xnnpack_translate(data, (size_t)size, named_data_lookup, &nctx,
                                                 &p->allocator, res, err, sizeof(err));
  if (status != XNND_OK) return ERR(c, status, "%s (XnnpackBackend): %s", who, err);
  /* The blob lives as long as the program: copied into its pool, freed with it. */
  uint8_t* blob = xnnd_pool_alloc(&p->pool, res->blob_size, 64);
  if (blob && res->blob_size) memcpy(blob, res->blob, res->blob_size);
  xnnd_free(&p->allocator, res->blob);
  res->blob = NULL;
  if (!blob) return OOM(c, "delegate blob");
  dd->backend_name = XNND_XNNPACK_BACKEND_NAME;
  dd->blob = res->blob_size ? blob : empty_data;
  dd->offset = data >= p->loader.data && data < p->loader.data + p->loader.size
                   ? (uint64_t)(data - p->loader.data) : 0;
  dd->size = res->blob_size;
  dd->backend = xnnd_backend_find(XNND_XNNPACK_BACKEND_NAME);
  if (!dd->backend || (dd->backend->is_available && !dd->backend->is_available()))
    return ERR(c, XNND_UNKNOWN_BACKEND, "%s: the XNNPACK backend is not available here", who);
  fb_vec specs = fb_vector(t, XNND_ET_PROGRAM_EtBackendDelegate_compile_specs);
  xnnd_compile_spec* out = pool_array(c, specs.len, sizeof(xnnd_compile_spec), 8);
  if (!out) return OOM(c, "compile specs");
  for (uint32_t k = 0; k < specs.len; k++) {
    fb_table cs = fb_vec_table(specs, k);
    fb_vec value = fb_vector(cs, XNND_ET_PROGRAM_EtCompileSpec_value);
    out[k].key = fb_string(cs, XNND_ET_PROGRAM_EtCompileSpec_key, NULL);
    out[k].value = value.data;
    out[k].size = value.len;
  }
  dd->specs = out;
  dd->num_specs = specs.len;
  p->header.delegate_size += size;
  return XNND_OK;
}

static xnnd_status decode_delegate_call(et_ctx* c, et_plan* e, uint32_t instr, fb_table call,
                                        uint32_t base, uint32_t num_delegates,
                                        const xnnd_et_xnnpack_result* results,
                                        xnnd_step_decl* st) {
  char where[256];
  int32_t d = fb_i32(call, XNND_ET_PROGRAM_EtDelegateCall_delegate_index, 0);
  if (d < 0 || (uint32_t)d >= num_delegates)
    return ERR(c, XNND_OUT_OF_RANGE, "plan \"%s\" instruction %u: delegate %d out of range (plan "
               "has %u delegates)", e->name, instr, d, num_delegates);
  snprintf(where, sizeof(where), "plan \"%s\" instruction %u (delegate %d)", e->name, instr, d);
  const xnnd_et_xnnpack_result* r = &results[d];
  fb_vec args = fb_vector(call, XNND_ET_PROGRAM_EtDelegateCall_args);
  if ((uint64_t)r->num_inputs + r->num_outputs != args.len)
    return ERR(c, XNND_INVALID_PROGRAM, "%s: %u args, the delegate's graph has %u inputs and %u "
               "outputs", where, args.len, r->num_inputs, r->num_outputs);
  int32_t* ins = pool_array(c, r->num_inputs, sizeof(int32_t), 4);
  uint32_t* outs = pool_array(c, r->num_outputs, sizeof(uint32_t), 4);
  if (!ins || !outs) return OOM(c, "delegate call");
  for (uint32_t k = 0; k < args.len; k++) {
    uint32_t ev = 0;
    int32_t id = -1;
    xnnd_status status = arg_index(c, e, where, args, k, &ev);
    if (status == XNND_OK) status = tensor_arg(c, e, where, k, ev, &id);
    if (status != XNND_OK) return status;
    if (k < r->num_inputs) ins[k] = id;
    else outs[k - r->num_inputs] = (uint32_t)id;
  }
  st->kind = XNND_STEP_DELEGATE;
  st->index = base + (uint32_t)d;
  st->op_name = XNND_XNNPACK_BACKEND_NAME;
  st->inputs = ins;
  st->num_inputs = r->num_inputs;
  st->outputs = outs;
  st->num_outputs = r->num_outputs;
  return XNND_OK;
}

/* Appends step `dst = aten.view(src)` (size = dst's sizes). */
static xnnd_status emit_view(et_ctx* c, et_plan* e, uint32_t src, uint32_t dst) {
  xnnd_method_decl* m = e->m;
  const xnnd_value_decl* v = &m->values[dst];
  if (m->num_steps >= e->steps_cap) return OOM(c, "steps");
  xnnd_step_decl* st = &m->steps[m->num_steps++];
  int32_t* in = pool_array(c, 1, sizeof(int32_t), 4);
  uint32_t* out = pool_array(c, 1, sizeof(uint32_t), 4);
  xnnd_kattr* at = pool_array(c, 1, sizeof(xnnd_kattr), 8);
  int64_t* size = pool_array(c, v->type.rank ? v->type.rank : 1, sizeof(int64_t), 8);
  if (!in || !out || !at || !size) return OOM(c, "views");
  for (uint32_t d = 0; d < v->type.rank; d++) size[d] = v->type.dims[d];
  in[0] = (int32_t)src;
  out[0] = dst;
  *at = (xnnd_kattr){.name = "size", .kind = ET_ATTR_INTS, .n = v->type.rank, .ints = size};
  st->kind = XNND_STEP_KERNEL;
  st->index = UINT32_MAX;
  st->op_name = "aten.view";
  st->kernel = xnnd_kernel_find("aten.view");
  if (!st->kernel) return ERR(c, XNND_INTERNAL, "no portable kernel for aten.view");
  st->inputs = in;
  st->num_inputs = 1;
  st->outputs = out;
  st->num_outputs = 1;
  st->attrs = at;
  st->num_attrs = 1;
  if (!e->defined_at[dst]) e->defined_at[dst] = ++e->defined_count;
  return XNND_OK;
}

/* A value read before any step writes it, that ExecuTorch placed where an already defined
 * value of the same byte size lives (the latest such), is a view ExecuTorch left implicit:
 * emit `aten.view` from that value. Values that match nothing are left to check_dataflow. */
static xnnd_status resolve_alias(et_ctx* c, et_plan* e, uint32_t id) {
  xnnd_method_decl* m = e->m;
  xnnd_value_decl* v = &m->values[id];
  if (e->defined_at[id] || v->constant >= 0 || !e->mem_id[id]) return XNND_OK;
  int64_t src = -1;
  if (e->alias_budget < m->num_values)
    return ERR(c, XNND_LIMIT_EXCEEDED, "plan \"%s\": too many implicit views to resolve "
               "(value %u)", e->name, id);
  e->alias_budget -= m->num_values;
  for (uint32_t j = 0; j < m->num_values; j++)
    if (e->defined_at[j] && e->mem_id[j] == e->mem_id[id] &&
        e->mem_offset[j] == e->mem_offset[id] && m->values[j].nbytes == v->nbytes &&
        m->values[j].type.dtype == v->type.dtype &&
        (src < 0 || e->defined_at[j] > e->defined_at[src]))
      src = j;
  if (src < 0) return XNND_OK;
  return emit_view(c, e, (uint32_t)src, id);
}

/* Appends step `st` after resolving the implicit views it reads, and records what it
 * defines. */
static xnnd_status place_step(et_ctx* c, et_plan* e, const xnnd_step_decl* st) {
  xnnd_method_decl* m = e->m;
  for (uint32_t i = 0; i < st->num_inputs; i++) {
    if (st->inputs[i] < 0) continue;
    xnnd_status status = resolve_alias(c, e, (uint32_t)st->inputs[i]);
    if (status != XNND_OK) return status;
  }
  if (m->num_steps >= e->steps_cap) return OOM(c, "steps");
  m->steps[m->num_steps++] = *st;
  for (uint32_t i = 0; i < st->num_outputs; i++)
    if (!e->defined_at[st->outputs[i]]) e->defined_at[st->outputs[i]] = ++e->defined_count;
  return XNND_OK;
}

/* A new value of id's dtype with sizes [1] (no data yet). */
static xnnd_status add_rank1_twin(et_ctx* c, et_plan* e, uint32_t id, uint32_t* twin) {
  xnnd_method_decl* m = e->m;
  if (m->num_values >= e->values_cap) return OOM(c, "values");
  xnnd_value_decl* v = &m->values[m->num_values];
  v->type.dtype = m->values[id].type.dtype;
  v->type.rank = 1;
  v->type.dims[0] = 1;
  v->nbytes = m->values[id].nbytes;
  v->constant = -1;
  v->offset = XNND_NO_OFFSET;
  *twin = m->num_values++;
  return XNND_OK;
}

/* A delegate call: ExecuTorch's XNNPACK delegate declares a rank-0 operand as sizes [1]
 * (backends/xnnpack/operators/node_visitor.py), so a rank-0 operand goes through a [1] twin
 * and a view on each side. */
static xnnd_status place_delegate_step(et_ctx* c, et_plan* e, xnnd_step_decl* st) {
  xnnd_method_decl* m = e->m;
  int32_t* ins = (int32_t*)st->inputs;
  uint32_t* outs = (uint32_t*)st->outputs;
  for (uint32_t i = 0; i < st->num_inputs; i++) {
    if (m->values[ins[i]].type.rank != 0) continue;
    uint32_t twin = 0;
    xnnd_status status = resolve_alias(c, e, (uint32_t)ins[i]);
    if (status == XNND_OK) status = add_rank1_twin(c, e, (uint32_t)ins[i], &twin);
    if (status == XNND_OK) status = emit_view(c, e, (uint32_t)ins[i], twin);
    if (status != XNND_OK) return status;
    ins[i] = (int32_t)twin;
  }
  uint32_t num_fix = 0;
  uint32_t fix_from[8], fix_to[8];
  for (uint32_t i = 0; i < st->num_outputs; i++) {
    if (m->values[outs[i]].type.rank != 0) continue;
    if (num_fix == 8)
      return ERR(c, XNND_UNSUPPORTED, "plan \"%s\": a delegate with more than 8 rank-0 outputs",
                 e->name);
    uint32_t twin = 0;
    xnnd_status status = add_rank1_twin(c, e, outs[i], &twin);
    if (status != XNND_OK) return status;
    fix_from[num_fix] = twin;
    fix_to[num_fix++] = outs[i];
    outs[i] = twin;
  }
  xnnd_status status = place_step(c, e, st);
  for (uint32_t k = 0; status == XNND_OK && k < num_fix; k++)
    status = emit_view(c, e, fix_from[k], fix_to[k]);
  return status;
}

/* ---- plans ---- */

static xnnd_status io_list(et_ctx* c, et_plan* e, fb_vec vec, const char* what, uint32_t** out) {
  uint32_t* ids = pool_array(c, vec.len, sizeof(uint32_t), 4);
  if (!ids) return OOM(c, what);
  for (uint32_t i = 0; i < vec.len; i++) {
    int32_t ev = fb_vec_i32(vec, i);
    if (ev < 0 || (uint32_t)ev >= e->values.len)
      return ERR(c, XNND_OUT_OF_RANGE, "plan \"%s\" %s %u = EValue %d out of range (plan has %u "
                 "values)", e->name, what, i, ev, e->values.len);
    if (e->value_of[ev] < 0)
      return ERR(c, XNND_UNSUPPORTED, "plan \"%s\" %s %u = EValue %d is a %s: xnnd methods take "
                 "and return tensors only", e->name, what, i, ev,
                 kind_name(evalue_type(e, (uint32_t)ev)));
    ids[i] = (uint32_t)e->value_of[ev];
  }
  *out = ids;
  return XNND_OK;
}

static xnnd_status decode_plan(et_ctx* c, uint32_t index, fb_table t, uint32_t* delegate_base) {
  xnnd_program* p = c->p;
  xnnd_method_decl* m = &p->methods[index];
  et_plan e = {.m = m, .alias_budget = (uint64_t)1 << 28};
  xnnd_status status;
  m->name = fb_string(t, XNND_ET_PROGRAM_EtExecutionPlan_name, NULL);
  e.name = m->name;
  if (!m->name[0])
    return ERR(c, XNND_INVALID_PROGRAM, "execution plan %u has no name", index);
  for (uint32_t i = 0; i < index; i++)
    if (strcmp(p->methods[i].name, m->name) == 0)
      return ERR(c, XNND_INVALID_PROGRAM, "execution plan %u: name \"%s\" is already used by "
                 "plan %u", index, m->name, i);
  e.values = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_values);
  fb_vec chains = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_chains);
  fb_vec ops = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_operators);
  if (chains.len != 1)
    return ERR(c, XNND_UNSUPPORTED, "plan \"%s\": %u chains, xnnd runs plans of exactly one",
               m->name, chains.len);
  fb_vec instrs = fb_vector(fb_vec_table(chains, 0), XNND_ET_PROGRAM_EtChain_instructions);
  if (e.values.len > c->limits->max_values)
    return ERR(c, XNND_LIMIT_EXCEEDED, "plan \"%s\": %u values exceed the limit of %u", m->name,
               e.values.len, c->limits->max_values);
  if (instrs.len > c->limits->max_instructions)
    return ERR(c, XNND_LIMIT_EXCEEDED, "plan \"%s\": %u instructions exceed the limit of %u",
               m->name, instrs.len, c->limits->max_instructions);

  /* Operators: each must map to a portable kernel, named at load when it does not. */
  e.ops = pool_array(c, ops.len, sizeof(*e.ops), 8);
  const char** op_names = pool_array(c, ops.len, sizeof(char*), 8);
  if (!e.ops || !op_names) return OOM(c, "operators");
  for (uint32_t i = 0; i < ops.len; i++) {
    fb_table o = fb_vec_table(ops, i);
    const char* name = fb_string(o, XNND_ET_PROGRAM_EtOperator_name, NULL);
    const char* overload = fb_string(o, XNND_ET_PROGRAM_EtOperator_overload, NULL);
    e.ops[i] = xnnd_et_op_find(name, overload);
    if (!e.ops[i])
      return ERR(c, XNND_UNKNOWN_OP, "plan \"%s\" operator %u: %s%s%s has no xnnd portable kernel "
                 "mapping (runtime/et_ops_table.inc)", m->name, i, name, overload[0] ? "." : "",
                 overload);
    op_names[i] = e.ops[i]->ir_op ? e.ops[i]->ir_op : e.ops[i]->name;
  }
  m->operators = op_names;
  m->num_operators = ops.len;

  /* Values: tensors get our ids in EValue order; Scalars in tensor positions add rank-0
   * constants after them (at most one per KernelCall arg). */
  uint64_t extra = 0;
  for (uint32_t s = 0; s < instrs.len; s++) {
    fb_table in = fb_vec_table(instrs, s);
    uint8_t type = fb_u8(in, XNND_ET_PROGRAM_EtInstruction_instr_type, 0);
    if (type == XNND_ET_PROGRAM_EtInstructionKind_EtKernelCall)
      extra += fb_vector(fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr),
                         XNND_ET_PROGRAM_EtKernelCall_args).len;
    else if (type == XNND_ET_PROGRAM_EtInstructionKind_EtDelegateCall)
      extra += fb_vector(fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr),
                         XNND_ET_PROGRAM_EtDelegateCall_args).len;
  }
  if (e.values.len + extra > c->limits->max_values + (uint64_t)c->limits->max_values)
    return ERR(c, XNND_LIMIT_EXCEEDED, "plan \"%s\": too many kernel arguments", m->name);
  e.values_cap = (uint32_t)(e.values.len + extra);
  m->values = pool_array(c, e.values_cap, sizeof(xnnd_value_decl), 8);
  e.value_of = pool_array(c, e.values.len, sizeof(int32_t), 4);
  e.mem_id = pool_array(c, e.values_cap, sizeof(uint32_t), 4);
  e.mem_offset = pool_array(c, e.values_cap, sizeof(uint64_t), 8);
  e.defined_at = pool_array(c, e.values_cap, sizeof(uint32_t), 4);
  if (!m->values || !e.value_of || !e.mem_id || !e.mem_offset || !e.defined_at)
    return OOM(c, "values");
  if (p->num_constants + (uint64_t)e.values_cap > UINT32_MAX)
    return ERR(c, XNND_LIMIT_EXCEEDED, "plan \"%s\": too many constants", m->name);
  for (uint32_t i = 0; i < e.values.len; i++) {
    e.value_of[i] = -1;
    uint8_t type = evalue_type(&e, i);
    fb_table v = evalue(&e, i);
    if (type == 0 || type >= XNND_ET_PROGRAM_EtValueKind_COUNT || (!v && type != 0))
      return ERR(c, XNND_INVALID_PROGRAM, "plan \"%s\" value %u: no value (type %u)", m->name, i,
                 type);
    if (type == XNND_ET_PROGRAM_EtValueKind_EtTensor) {
      status = decode_tensor(c, &e, i, v);
      if (status != XNND_OK) return status;
    }
  }

  status = io_list(c, &e, fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_inputs), "input",
                   (uint32_t**)&m->inputs);
  if (status != XNND_OK) return status;
  m->num_inputs = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_inputs).len;
  for (uint32_t i = 0; i < m->num_inputs; i++) {
    xnnd_value_decl* v = &m->values[m->inputs[i]];
    if (v->constant >= 0 || (v->flags & XNND_VALUE_INPUT))
      return ERR(c, XNND_INVALID_PROGRAM, "plan \"%s\" input %u = value %u is %s", m->name, i,
                 m->inputs[i], v->constant >= 0 ? "a constant" : "listed as an input twice");
    v->flags |= XNND_VALUE_INPUT;
    e.defined_at[m->inputs[i]] = ++e.defined_count;
  }
  uint32_t* outs;
  fb_vec out_vec = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_outputs);
  status = io_list(c, &e, out_vec, "output", &outs);
  if (status != XNND_OK) return status;
  m->num_outputs = out_vec.len;
  m->outputs = pool_array(c, out_vec.len, sizeof(xnnd_output_decl), 8);
  if (!m->outputs) return OOM(c, "outputs");
  for (uint32_t i = 0; i < out_vec.len; i++) {
    m->outputs[i].value = outs[i];
    m->outputs[i].copy_offset = XNND_NO_OFFSET;
  }

  /* Delegates: translated at load so a node this build cannot run is named now. */
  fb_vec dels = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_delegates);
  xnnd_et_xnnpack_result* results = pool_array(c, dels.len, sizeof(*results), 8);
  if (!results) return OOM(c, "delegates");
  for (uint32_t d = 0; d < dels.len; d++) {
    status = decode_delegate(c, &e, d, fb_vec_table(dels, d), *delegate_base + d, &results[d]);
    if (status != XNND_OK) return status;
  }

  /* Each instruction is one step at most, plus an implicit view per tensor it reads and per
   * method output. */
  e.steps_cap = (uint32_t)(instrs.len + extra + m->num_outputs);
  for (uint32_t s = 0; s < instrs.len; s++) {
    fb_table in = fb_vec_table(instrs, s);
    if (fb_u8(in, XNND_ET_PROGRAM_EtInstruction_instr_type, 0) ==
        XNND_ET_PROGRAM_EtInstructionKind_EtDelegateCall)
      e.steps_cap += 2 * fb_vector(fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr),
                                   XNND_ET_PROGRAM_EtDelegateCall_args).len;
  }
  m->steps = pool_array(c, e.steps_cap + 1, sizeof(xnnd_step_decl), 8);
  if (!m->steps) return OOM(c, "steps");
  for (uint32_t s = 0; s < instrs.len; s++) {
    fb_table in = fb_vec_table(instrs, s);
    uint8_t type = fb_u8(in, XNND_ET_PROGRAM_EtInstruction_instr_type, 0);
    fb_table call = fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr);
    xnnd_step_decl step = {0};
    xnnd_step_decl* st = &step;
    bool emitted = false, delegate = false;
    if (type == XNND_ET_PROGRAM_EtInstructionKind_EtKernelCall && call) {
      status = decode_kernel_call(c, &e, s, call, st, &emitted);
    } else if (type == XNND_ET_PROGRAM_EtInstructionKind_EtDelegateCall && call) {
      status = decode_delegate_call(c, &e, s, call, *delegate_base, dels.len, results, st);
      emitted = delegate = true;
    } else if (type == XNND_ET_PROGRAM_EtInstructionKind_EtFreeCall && call) {
      status = XNND_OK;  /* our plan decides lifetimes */
    } else if (type == XNND_ET_PROGRAM_EtInstructionKind_EtMoveCall ||
               type == XNND_ET_PROGRAM_EtInstructionKind_EtJumpFalseCall) {
      return ERR(c, XNND_UNSUPPORTED, "plan \"%s\" instruction %u: %s is not supported (xnnd "
                 "runs straight-line plans)", m->name, s,
                 type == XNND_ET_PROGRAM_EtInstructionKind_EtMoveCall ? "MoveCall" : "JumpFalseCall");
    } else {
      return ERR(c, XNND_INVALID_PROGRAM, "plan \"%s\" instruction %u: no instruction (type %u)",
                 m->name, s, type);
    }
    if (status != XNND_OK) return status;
    if (emitted) {
      status = delegate ? place_delegate_step(c, &e, st) : place_step(c, &e, st);
      if (status != XNND_OK) return status;
    }
  }
  for (uint32_t o = 0; o < m->num_outputs; o++) {
    status = resolve_alias(c, &e, m->outputs[o].value);
    if (status != XNND_OK) return status;
  }
  *delegate_base += dels.len;

  status = xnnd_method_check_dataflow(m, c->msg, c->msg_size);
  if (status == XNND_OK) status = xnnd_plan_memory(m, &p->allocator, c->msg, c->msg_size);
  if (status == XNND_OK) status = xnnd_method_check_size(m, c->limits, c->msg, c->msg_size);
  return status;
}

xnnd_status xnnd_et_program_decode(xnnd_program* p, const xnnd_load_limits* limits, char* msg,
                                   size_t msg_size) {
  et_ctx cx = {.p = p, .limits = limits, .msg = msg, .msg_size = msg_size};
  et_ctx* c = &cx;
  uint64_t program_size;
  xnnd_status status = read_layout(c, &program_size);
  if (status != XNND_OK) return status;
  p->flatbuffer = p->loader.data;
  char fbmsg[XNND_ERRMSG_SIZE - 48];
  fbmsg[0] = '\0';
  fb_verify_limits fl = {limits->max_depth, 0, 0};
  status = fb_verify(p->flatbuffer, (size_t)program_size, XNND_ET_PROGRAM_IDENTIFIER, XNND_ET_PROGRAM_ROOT, &fl,
                     fbmsg, sizeof(fbmsg));
  if (status != XNND_OK)
    return ERR(c, status, "ExecuTorch program flatbuffer: %s",
               fbmsg[0] ? fbmsg : xnnd_status_str(status));
  c->root = fb_root(p->flatbuffer);
  c->segments = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_segments);
  p->header.version = fb_u32(c->root, XNND_ET_PROGRAM_EtProgram_version, 0);
  p->header.program_offset = 0;
  p->header.program_size = program_size;

  fb_table cseg = fb_table_field(c->root, XNND_ET_PROGRAM_EtProgram_constant_segment);
  if (cseg) {
    c->const_offsets = fb_vector(cseg, XNND_ET_PROGRAM_EtSubsegmentOffsets_offsets);
    if (c->const_offsets.len) {
      status = segment_bytes(c, fb_u32(cseg, XNND_ET_PROGRAM_EtSubsegmentOffsets_segment_index, 0),
                             "constant_segment", &c->const_segment, &c->const_segment_size);
      if (status != XNND_OK) return status;
      p->header.constant_offset = (uint64_t)(c->const_segment - p->loader.data);
      p->header.constant_size = c->const_segment_size;
    }
  }
  fb_vec mutable_segs = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_mutable_data_segments);
  if (mutable_segs.len)
    return ERR(c, XNND_UNSUPPORTED, "the program has %u mutable data segments (mutable buffers "
               "are not supported)", mutable_segs.len);

  fb_vec plans = fb_vector(c->root, XNND_ET_PROGRAM_EtProgram_execution_plan);
  if (plans.len == 0)
    return ERR(c, XNND_INVALID_PROGRAM, "EtProgram.execution_plan is empty: no method to run");
  /* Upper bounds for the flattened program-level arrays. */
  uint64_t num_delegates = 0, num_constants = 0;
  for (uint32_t i = 0; i < plans.len; i++) {
    fb_table t = fb_vec_table(plans, i);
    num_delegates += fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_delegates).len;
    num_constants += fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_values).len;
    fb_vec chains = fb_vector(t, XNND_ET_PROGRAM_EtExecutionPlan_chains);
    for (uint32_t ch = 0; ch < chains.len; ch++) {
      fb_vec instrs = fb_vector(fb_vec_table(chains, ch), XNND_ET_PROGRAM_EtChain_instructions);
      for (uint32_t s = 0; s < instrs.len; s++) {
        fb_table in = fb_vec_table(instrs, s);
        if (fb_u8(in, XNND_ET_PROGRAM_EtInstruction_instr_type, 0) == XNND_ET_PROGRAM_EtInstructionKind_EtKernelCall)
          num_constants += fb_vector(fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr),
                                     XNND_ET_PROGRAM_EtKernelCall_args).len;
      }
    }
  }
  if (num_constants > UINT32_MAX / 2)
    return ERR(c, XNND_LIMIT_EXCEEDED, "the program declares too many values");
  c->constants_cap = (uint32_t)num_constants;
  p->constants = pool_array(c, num_constants, sizeof(xnnd_constant_decl), 8);
  p->delegates = pool_array(c, num_delegates, sizeof(xnnd_delegate_decl), 8);
  p->methods = pool_array(c, plans.len, sizeof(xnnd_method_decl), 8);
  if (!p->constants || !p->delegates || !p->methods) return OOM(c, "program");
  p->num_delegates = (uint32_t)num_delegates;
  p->num_methods = plans.len;
  uint32_t delegate_base = 0;
  for (uint32_t i = 0; i < plans.len; i++) {
    status = decode_plan(c, i, fb_vec_table(plans, i), &delegate_base);
    if (status != XNND_OK) return status;
  }
  return XNND_OK;
}
