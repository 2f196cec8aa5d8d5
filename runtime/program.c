/* Program loading: header and segment checks (loader.c), fb_verify of the flatbuffer, then
 * semantic verification while decoding into the internal structs of runtime_internal.h.
 * Nothing is used before it is checked; every failure names the method, step, value,
 * constant or delegate it is about. A loaded program is immutable. */
#include <stdio.h>
#include <string.h>

#include "fb.h"
#include "program_generated.h"
#include "runtime_internal.h"

#define DEFAULT_MAX_FILE_SIZE ((uint64_t)4 << 30)
#define DEFAULT_MAX_VALUES (1u << 20)
#define DEFAULT_MAX_INSTRUCTIONS (1u << 20)
#define DEFAULT_MAX_DEPTH 32u
#define DEFAULT_MAX_METHOD_BYTES ((uint64_t)4 << 30)

/* Data pointer for zero-byte constants, so no tensor with a constant is ever NULL. */
static _Alignas(64) const uint8_t empty_constant[64];

typedef struct load_ctx {
  xnnd_program* p;
  xnnd_load_limits limits;
  char* msg;
  size_t msg_size;
  const uint8_t* constant_segment;
  const uint8_t* delegate_segment;
} load_ctx;

static xnnd_load_limits resolve_limits(const xnnd_load_options* options) {
  xnnd_load_limits l = {0};
  if (options) l = options->limits;
  if (l.max_file_size == 0) l.max_file_size = DEFAULT_MAX_FILE_SIZE;
  if (l.max_values == 0) l.max_values = DEFAULT_MAX_VALUES;
  if (l.max_instructions == 0) l.max_instructions = DEFAULT_MAX_INSTRUCTIONS;
  if (l.max_rank == 0 || l.max_rank > XNND_MAX_RANK) l.max_rank = XNND_MAX_RANK;
  if (l.max_depth == 0) l.max_depth = DEFAULT_MAX_DEPTH;
  if (l.max_method_bytes == 0) l.max_method_bytes = DEFAULT_MAX_METHOD_BYTES;
  return l;
}

static void* pool_array(load_ctx* c, size_t count, size_t elem, size_t align) {
  return xnnd_pool_alloc(&c->p->pool, xnnd_mul_size(count, elem), align);
}

#define OOM(c, what) xnnd_errf((c)->msg, (c)->msg_size, XNND_OUT_OF_MEMORY, "out of memory decoding %s", what)

/* ---- constants and delegates ---- */

static xnnd_status decode_constants(load_ctx* c, fb_table root) {
  xnnd_program* p = c->p;
  const uint64_t seg_size = p->header.constant_size;
  fb_vec vec = fb_vector(root, XNND_PROGRAM_Program_constants);
  p->num_constants = vec.len;
  p->constants = pool_array(c, vec.len, sizeof(xnnd_constant_decl), 8);
  if (!p->constants) return OOM(c, "constants");
  for (uint32_t i = 0; i < vec.len; i++) {
    fb_table t = fb_vec_table(vec, i);
    uint64_t off = fb_u64(t, XNND_PROGRAM_ConstantBuffer_offset, 0);
    uint64_t size = fb_u64(t, XNND_PROGRAM_ConstantBuffer_size, 0);
    if (off > seg_size || size > seg_size - off)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "constant %u: bytes [%llu, +%llu) lie outside the %llu-byte constant segment",
                       i, (unsigned long long)off, (unsigned long long)size,
                       (unsigned long long)seg_size);
    if (off % XNND_SEGMENT_ALIGN != 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_MISALIGNED,
                       "constant %u: offset %llu is not a multiple of %u", i,
                       (unsigned long long)off, XNND_SEGMENT_ALIGN);
    p->constants[i].offset = off;
    p->constants[i].size = size;
    p->constants[i].data = size ? c->constant_segment + off : empty_constant;
  }
  return XNND_OK;
}

static xnnd_status decode_delegates(load_ctx* c, fb_table root) {
  xnnd_program* p = c->p;
  const uint64_t seg_size = p->header.delegate_size;
  fb_vec vec = fb_vector(root, XNND_PROGRAM_Program_delegates);
  p->num_delegates = vec.len;
  p->delegates = pool_array(c, vec.len, sizeof(xnnd_delegate_decl), 8);
  if (!p->delegates) return OOM(c, "delegates");
  for (uint32_t i = 0; i < vec.len; i++) {
    xnnd_delegate_decl* d = &p->delegates[i];
    fb_table t = fb_vec_table(vec, i);
    d->backend_name = fb_string(t, XNND_PROGRAM_BackendDelegate_backend, NULL);
    d->offset = fb_u64(t, XNND_PROGRAM_BackendDelegate_offset, 0);
    d->size = fb_u64(t, XNND_PROGRAM_BackendDelegate_size, 0);
    if (d->offset > seg_size || d->size > seg_size - d->offset)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "delegate %u (%s): blob [%llu, +%llu) lies outside the %llu-byte delegate "
                       "segment", i, d->backend_name, (unsigned long long)d->offset,
                       (unsigned long long)d->size, (unsigned long long)seg_size);
    if (d->offset % XNND_SEGMENT_ALIGN != 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_MISALIGNED,
                       "delegate %u (%s): blob offset %llu is not a multiple of %u", i,
                       d->backend_name, (unsigned long long)d->offset, XNND_SEGMENT_ALIGN);
    d->blob = d->size ? c->delegate_segment + d->offset : empty_constant;

    d->backend = xnnd_backend_find(d->backend_name);
    if (!d->backend) {
      char names[256];
      xnnd_backend_names(names, sizeof(names));
      return xnnd_errf(c->msg, c->msg_size, XNND_UNKNOWN_BACKEND,
                       "delegate %u: backend \"%s\" is not registered (registered: %s)", i,
                       d->backend_name, names[0] ? names : "none");
    }
    if (d->backend->is_available && !d->backend->is_available())
      return xnnd_errf(c->msg, c->msg_size, XNND_UNKNOWN_BACKEND,
                       "delegate %u: backend \"%s\" is registered but not available here", i,
                       d->backend_name);

    fb_vec specs = fb_vector(t, XNND_PROGRAM_BackendDelegate_compile_specs);
    xnnd_compile_spec* out = pool_array(c, specs.len, sizeof(xnnd_compile_spec), 8);
    if (!out) return OOM(c, "compile specs");
    for (uint32_t k = 0; k < specs.len; k++) {
      fb_table cs = fb_vec_table(specs, k);
      fb_vec value = fb_vector(cs, XNND_PROGRAM_CompileSpec_value);
      out[k].key = fb_string(cs, XNND_PROGRAM_CompileSpec_key, NULL);
      out[k].value = value.data;
      out[k].size = value.len;
    }
    d->specs = out;
    d->num_specs = specs.len;
  }
  return XNND_OK;
}

/* ---- methods ---- */

/* `method "forward" step 7 (aten.convolution)` */
static void step_where(char* buf, size_t size, const xnnd_method_decl* m, uint32_t s,
                       const xnnd_step_decl* st) {
  if (st->kind == XNND_STEP_KERNEL && st->op_name)
    snprintf(buf, size, "method \"%s\" step %u (%s)", m->name, s, st->op_name);
  else if (st->kind == XNND_STEP_DELEGATE && st->op_name)
    snprintf(buf, size, "method \"%s\" step %u (delegate %u, %s)", m->name, s, st->index,
             st->op_name);
  else
    snprintf(buf, size, "method \"%s\" step %u", m->name, s);
}

/* ---- dynamic shapes: symbols and affine dim forms (schema/dim_expr.h) ---- */

/* Method.symbols: at most XNND_MAX_SYMS, each an identifier (unique in the method) with
 * 0 <= min <= max <= 2^40. */
static xnnd_status decode_symbols(load_ctx* c, xnnd_method_decl* m, fb_table t) {
  fb_vec vec = fb_vector(t, XNND_PROGRAM_Method_symbols);
  if (vec.len > XNND_MAX_SYMS)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "method \"%s\": %u symbols, the format allows at most %d", m->name, vec.len,
                     XNND_MAX_SYMS);
  for (uint32_t i = 0; i < vec.len; i++) {
    fb_table st = fb_vec_table(vec, i);
    xnnd_symbol* sym = &m->syms[i];
    const char* name = fb_string(st, XNND_PROGRAM_Symbol_name, NULL);
    memset(sym, 0, sizeof(*sym));
    if (name && strnlen(name, XNND_SYM_NAME_SIZE) < XNND_SYM_NAME_SIZE) memcpy(sym->name, name, strlen(name));
    if (!xnnd_symbol_check(sym))  /* with min = max = 0 only the name can fail */
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" symbol %u: name %s%.40s%s is not an identifier of at most %d "
                       "characters", m->name, i, name ? "\"" : "", name ? name : "(absent)",
                       name ? "\"" : "", XNND_SYM_NAME_SIZE - 1);
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(m->syms[j].name, sym->name) == 0)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" symbol %u: name \"%s\" is already used by symbol %u",
                         m->name, i, sym->name, j);
    sym->min = fb_i64(st, XNND_PROGRAM_Symbol_min, 0);
    sym->max = fb_i64(st, XNND_PROGRAM_Symbol_max, 0);
    if (!xnnd_symbol_check(sym))
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "method \"%s\" symbol %u (%s): range %lld..%lld is not within 0 <= min <= "
                       "max <= 2^40", m->name, i, sym->name, (long long)sym->min,
                       (long long)sym->max);
  }
  m->num_syms = vec.len;
  return XNND_OK;
}

/* n forms from a wire vector (per form 1 + num_syms longs) checked against their upper bounds
 * `upper` (Tensor.dims or Attr.ints): length (MALFORMED), invariants (OUT_OF_RANGE), upper
 * bound equal to `upper` (INVALID_PROGRAM), a symbolic form's value at the minima >= 0
 * (OUT_OF_RANGE; a static entry may be negative, like a view's -1). `what` names the owner for messages ("value 3 dim"). *symbolic_out says
 * whether any form has a symbol. */
static xnnd_status decode_forms(load_ctx* c, const xnnd_method_decl* m, fb_vec vec, uint32_t n,
                                const int64_t* upper, const char* what,
                                const char* field, xnnd_dimx* out, bool* symbolic_out) {
  const uint32_t per = 1 + m->num_syms;
  *symbolic_out = false;
  if (m->num_syms == 0)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "method \"%s\" %s: %s is present but the method declares no symbols",
                     m->name, what, field);
  if ((uint64_t)vec.len != (uint64_t)n * per)
    return xnnd_errf(c->msg, c->msg_size, XNND_MALFORMED,
                     "method \"%s\" %s: %s holds %u longs, %u entries over %u symbols need %u",
                     m->name, what, field, vec.len, n, m->num_syms, n * per);
  for (uint32_t d = 0; d < n; d++) {
    int64_t wire[1 + XNND_MAX_SYMS];
    for (uint32_t k = 0; k < per; k++) wire[k] = fb_vec_i64(vec, d * per + k);
    if (!xnnd_dimx_decode(wire, 1, m->num_syms, &out[d]))
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "method \"%s\" %s %u: %s entry out of range (coefficients must be in "
                       "0..2^40, the constant in -2^40..2^40)", m->name, what, d, field);
    char text[96];
    xnnd_dimx_print(text, sizeof(text), &out[d], m->syms, m->num_syms);
    int64_t hi = xnnd_dimx_upper(&out[d], m->syms, m->num_syms);
    if (hi != upper[d])
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" %s %u: the form %s has upper bound %lld but the stored "
                       "bound is %lld", m->name, what, d, text, (long long)hi, (long long)upper[d]);
    bool symbolic = !xnnd_dimx_is_const(&out[d]);
    int64_t lo = xnnd_dimx_lower(&out[d], m->syms, m->num_syms);
    if (symbolic && lo < 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "method \"%s\" %s %u: the form %s is %lld at the symbols' minima; it must "
                       "be >= 0", m->name, what, d, text, (long long)lo);
    *symbolic_out |= symbolic;
  }
  return XNND_OK;
}

/* Every symbol must be readable from the inputs: some input dim is k*s+c with no other
 * symbol (xnnd_method_execute solves s from it). */
static xnnd_status check_symbols_solvable(load_ctx* c, xnnd_method_decl* m) {
  for (uint32_t s = 0; s < m->num_syms; s++) {
    bool found = false;
    for (uint32_t i = 0; i < m->num_inputs && !found; i++) {
      const xnnd_value_decl* v = &m->values[m->inputs[i]];
      for (uint32_t d = 0; v->dimx && d < v->type.rank && !found; d++) {
        if (xnnd_dimx_single_symbol(&v->dimx[d]) != (int)s) continue;
        m->solve_input[s] = i;
        m->solve_dim[s] = d;
        found = true;
      }
    }
    if (!found)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" symbol %u (%s) cannot be solved from the inputs: no input "
                       "dim is k*%s+c with no other symbol", m->name, s, m->syms[s].name,
                       m->syms[s].name);
  }
  return XNND_OK;
}

static xnnd_status decode_values(load_ctx* c, xnnd_method_decl* m, fb_vec vec) {
  const xnnd_program* p = c->p;
  for (uint32_t v = 0; v < vec.len; v++) {
    xnnd_value_decl* val = &m->values[v];
    fb_table t = fb_vec_table(vec, v);
    int dtype = fb_i8(t, XNND_PROGRAM_Tensor_dtype, 0);
    if (dtype < 0 || dtype >= XNND_DTYPE_COUNT)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" value %u: dtype %d is not a ScalarType", m->name, v, dtype);
    fb_vec dims = fb_vector(t, XNND_PROGRAM_Tensor_dims);
    if (dims.len > c->limits.max_rank)
      return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                       "method \"%s\" value %u: rank %u exceeds the limit of %u", m->name, v,
                       dims.len, c->limits.max_rank);
    val->type.dtype = (xnnd_dtype)dtype;
    val->type.rank = dims.len;
    for (uint32_t d = 0; d < dims.len; d++) {
      int32_t dim = fb_vec_i32(dims, d);
      if (dim < 0)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" value %u: dim %u is %d, dims must be >= 0", m->name, v, d,
                         dim);
      val->type.dims[d] = dim;
    }
    /* fuzz fix: zero dims count as 1, so an empty tensor cannot carry dims whose product
     * overflows in a kernel's strides */
    if (!xnnd_tensor_bytes(val->type.dims, dims.len, xnnd_dtype_size((xnnd_dtype)dtype), &val->nbytes))
      return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                       "method \"%s\" value %u: byte size overflows (more than 2^48 bytes, zero dims "
                       "counted as 1)", m->name, v);

    fb_table q = fb_table_field(t, XNND_PROGRAM_Tensor_quant);
    if (q) {
      fb_vec scale = fb_vector(q, XNND_PROGRAM_QuantParams_scale);
      fb_vec zp = fb_vector(q, XNND_PROGRAM_QuantParams_zero_point);
      int32_t axis = fb_i32(q, XNND_PROGRAM_QuantParams_axis, -1);
      if (axis < -1 || axis >= (int32_t)dims.len)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" value %u: quantization axis %d out of range for rank %u",
                         m->name, v, axis, dims.len);
      if (zp.len != 0 && zp.len != scale.len)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" value %u: %u quantization scales but %u zero points",
                         m->name, v, scale.len, zp.len);
    }

    int32_t constant = fb_i32(t, XNND_PROGRAM_Tensor_constant, -1);
    val->constant = -1;
    val->offset = XNND_NO_OFFSET;
    if (constant != -1) {
      if (constant < 0 || (uint32_t)constant >= p->num_constants)
        return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                         "method \"%s\" value %u: constant %d out of range (program has %u "
                         "constants)", m->name, v, constant, p->num_constants);
      const xnnd_constant_decl* k = &p->constants[constant];
      if (k->size != val->nbytes) {
        char type[128];
        xnnd_format_type(type, sizeof(type), &val->type);
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" value %u: %s needs %llu bytes but constant %d holds %llu",
                         m->name, v, type, (unsigned long long)val->nbytes, constant,
                         (unsigned long long)k->size);
      }
      val->constant = constant;
      val->type.data = (void*)k->data;  /* read-only: steps may never write constants */
    }

    val->dimx = NULL;
    if (fb_has_field(t, XNND_PROGRAM_Tensor_dim_exprs)) {
      xnnd_dimx forms[XNND_MAX_RANK];
      char what[48];
      bool symbolic;
      snprintf(what, sizeof(what), "value %u dim", v);
      xnnd_status status = decode_forms(c, m, fb_vector(t, XNND_PROGRAM_Tensor_dim_exprs),
                                        dims.len, val->type.dims, what, "dim_exprs", forms,
                                        &symbolic);
      if (status != XNND_OK) return status;
      if (symbolic && val->constant >= 0)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "method \"%s\" value %u: a constant cannot have symbolic dims", m->name, v);
      if (symbolic) {
        xnnd_dimx* keep = pool_array(c, dims.len, sizeof(xnnd_dimx), 8);
        if (!keep) return OOM(c, "dim_exprs");
        memcpy(keep, forms, sizeof(xnnd_dimx) * dims.len);
        val->dimx = keep;
      }
    }
  }
  return XNND_OK;
}

static xnnd_status decode_value_list(load_ctx* c, const xnnd_method_decl* m, fb_vec vec,
                                     const char* what, uint32_t** out) {
  uint32_t* ids = pool_array(c, vec.len, sizeof(uint32_t), 4);
  if (!ids) return OOM(c, what);
  for (uint32_t i = 0; i < vec.len; i++) {
    ids[i] = fb_vec_u32(vec, i);
    if (ids[i] >= m->num_values)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "method \"%s\" %s %u = value %u out of range (method has %u values)",
                       m->name, what, i, ids[i], m->num_values);
  }
  *out = ids;
  return XNND_OK;
}

static xnnd_status decode_step_io(load_ctx* c, const xnnd_method_decl* m, uint32_t s,
                                   xnnd_step_decl* st, fb_vec ins, fb_vec outs, bool signed_ins) {
  char where[256];
  step_where(where, sizeof(where), m, s, st);
  int32_t* in_ids = pool_array(c, ins.len, sizeof(int32_t), 4);
  uint32_t* out_ids = pool_array(c, outs.len, sizeof(uint32_t), 4);
  if (!in_ids || !out_ids) return OOM(c, "step operands");
  for (uint32_t i = 0; i < ins.len; i++) {
    int64_t id = signed_ins ? (int64_t)fb_vec_i32(ins, i) : (int64_t)fb_vec_u32(ins, i);
    if (signed_ins && id == -1) {
      in_ids[i] = -1;
      continue;
    }
    if (id < 0 || id >= (int64_t)m->num_values)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "%s: input %u = value %lld out of range (method has %u values)", where, i,
                       (long long)id, m->num_values);
    in_ids[i] = (int32_t)id;
  }
  for (uint32_t i = 0; i < outs.len; i++) {
    out_ids[i] = fb_vec_u32(outs, i);
    if (out_ids[i] >= m->num_values)
      return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                       "%s: output %u = value %u out of range (method has %u values)", where, i,
                       out_ids[i], m->num_values);
  }
  st->inputs = in_ids;
  st->num_inputs = ins.len;
  st->outputs = out_ids;
  st->num_outputs = outs.len;
  return XNND_OK;
}

static xnnd_status decode_attrs(load_ctx* c, const xnnd_method_decl* m, uint32_t s,
                                xnnd_step_decl* st, fb_vec vec) {
  xnnd_kattr* attrs = pool_array(c, vec.len, sizeof(xnnd_kattr), 8);
  if (!attrs) return OOM(c, "attributes");
  for (uint32_t i = 0; i < vec.len; i++) {
    fb_table a = fb_vec_table(vec, i);
    xnnd_kattr* k = &attrs[i];
    k->name = fb_string(a, XNND_PROGRAM_Attr_name, NULL);
    k->kind = fb_u8(a, XNND_PROGRAM_Attr_kind, 0);
    /* Kernels look attributes up by name and take the first: a repeat would be silently
     * ignored, and a nameless one could never be read. */
    if (!k->name || !k->name[0]) {
      char where[256];
      step_where(where, sizeof(where), m, s, st);
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM, "%s: attribute %u has no name",
                       where, i);
    }
    for (uint32_t j = 0; j < i; j++) {
      if (strcmp(attrs[j].name, k->name) != 0) continue;
      char where[256];
      step_where(where, sizeof(where), m, s, st);
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "%s: attribute \"%s\" is given twice (attributes %u and %u)", where,
                       k->name, j, i);
    }
    if (k->kind > XNND_PROGRAM_AttrKind_INTS) {
      char where[256];
      step_where(where, sizeof(where), m, s, st);
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "%s: attribute %u (\"%s\") has kind %u, not an AttrKind", where, i, k->name,
                       k->kind);
    }
    k->i = fb_i64(a, XNND_PROGRAM_Attr_i, 0);
    k->f = fb_f64(a, XNND_PROGRAM_Attr_f, 0.0);
    fb_vec ints = fb_vector(a, XNND_PROGRAM_Attr_ints);
    /* Copied: the kernels get naturally aligned int64s whatever the buffer's layout. */
    int64_t* copy = pool_array(c, ints.len, sizeof(int64_t), 8);
    if (!copy) return OOM(c, "attribute ints");
    for (uint32_t j = 0; j < ints.len; j++) copy[j] = fb_vec_i64(ints, j);
    k->n = ints.len;
    k->ints = copy;
    if (fb_has_field(a, XNND_PROGRAM_Attr_int_exprs)) {
      char where[256], what[320];
      step_where(where, sizeof(where), m, s, st);
      snprintf(what, sizeof(what), "step %u (%s) attribute \"%s\" entry", s, st->op_name,
               k->name);
      if (k->kind != XNND_PROGRAM_AttrKind_INTS)
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "%s: attribute \"%s\" has int_exprs but is not INTS", where, k->name);
      xnnd_dimx* forms = pool_array(c, ints.len, sizeof(xnnd_dimx), 8);
      if (!forms) return OOM(c, "int_exprs");
      bool symbolic;
      xnnd_status status = decode_forms(c, m, fb_vector(a, XNND_PROGRAM_Attr_int_exprs), ints.len,
                                        copy, what, "int_exprs", forms, &symbolic);
      if (status != XNND_OK) return status;
      if (symbolic) {
        if (!st->attr_dimx) {
          st->attr_dimx = pool_array(c, vec.len, sizeof(xnnd_dimx*), 8);
          if (!st->attr_dimx) return OOM(c, "int_exprs");
        }
        ((const xnnd_dimx**)st->attr_dimx)[i] = forms;
      }
    }
  }
  st->attrs = attrs;
  st->num_attrs = vec.len;
  return XNND_OK;
}

static xnnd_status decode_steps(load_ctx* c, xnnd_method_decl* m, fb_vec vec) {
  const xnnd_program* p = c->p;
  for (uint32_t s = 0; s < vec.len; s++) {
    xnnd_step_decl* st = &m->steps[s];
    fb_table step = fb_vec_table(vec, s);
    uint8_t type = fb_u8(step, XNND_PROGRAM_Step_instruction_type, 0);
    fb_table instr = fb_table_field(step, XNND_PROGRAM_Step_instruction);
    xnnd_status status;
    if (type == XNND_PROGRAM_Instruction_KernelCall && instr) {
      st->kind = XNND_STEP_KERNEL;
      st->index = fb_u32(instr, XNND_PROGRAM_KernelCall_op, 0);
      if (st->index >= m->num_operators)
        return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                         "method \"%s\" step %u: operator %u out of range (method has %u "
                         "operators)", m->name, s, st->index, m->num_operators);
      st->op_name = m->operators[st->index];
      st->kernel = xnnd_kernel_find(st->op_name);
      if (!st->kernel)
        return xnnd_errf(c->msg, c->msg_size, XNND_UNKNOWN_OP,
                         "method \"%s\" step %u: operator \"%s\" has no portable kernel", m->name,
                         s, st->op_name);
      status = decode_step_io(c, m, s, st, fb_vector(instr, XNND_PROGRAM_KernelCall_inputs),
                              fb_vector(instr, XNND_PROGRAM_KernelCall_outputs), true);
      if (status != XNND_OK) return status;
      status = decode_attrs(c, m, s, st, fb_vector(instr, XNND_PROGRAM_KernelCall_attrs));
      if (status != XNND_OK) return status;
    } else if (type == XNND_PROGRAM_Instruction_DelegateCall && instr) {
      st->kind = XNND_STEP_DELEGATE;
      st->index = fb_u32(instr, XNND_PROGRAM_DelegateCall_delegate, 0);
      if (st->index >= p->num_delegates)
        return xnnd_errf(c->msg, c->msg_size, XNND_OUT_OF_RANGE,
                         "method \"%s\" step %u: delegate %u out of range (program has %u "
                         "delegates)", m->name, s, st->index, p->num_delegates);
      st->op_name = p->delegates[st->index].backend_name;
      status = decode_step_io(c, m, s, st, fb_vector(instr, XNND_PROGRAM_DelegateCall_inputs),
                              fb_vector(instr, XNND_PROGRAM_DelegateCall_outputs), false);
      if (status != XNND_OK) return status;
    } else {
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" step %u: no instruction (type %u)", m->name, s, type);
    }
  }
  return XNND_OK;
}

/* Each value is written at most once, by a step, before any step reads it; steps never
 * write method inputs or constants (inputs are borrowed, constants may be read-only
 * mappings). Also fills def_step / last_use for the memory plan. */
static xnnd_status check_dataflow(load_ctx* c, xnnd_method_decl* m) {
  return xnnd_method_check_dataflow(m, c->msg, c->msg_size);
}

xnnd_status xnnd_method_check_dataflow(xnnd_method_decl* m, char* msg, size_t msg_size) {
  load_ctx ctx = {.msg = msg, .msg_size = msg_size};
  load_ctx* c = &ctx;
  char where[256];
  for (uint32_t s = 0; s < m->num_steps; s++) {
    xnnd_step_decl* st = &m->steps[s];
    for (uint32_t i = 0; i < st->num_inputs; i++) {
      if (st->inputs[i] < 0) continue;
      xnnd_value_decl* v = &m->values[st->inputs[i]];
      if (!(v->flags & (XNND_VALUE_INPUT | XNND_VALUE_DEFINED)) && v->constant < 0) {
        step_where(where, sizeof(where), m, s, st);
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "%s: input %u = value %d is read before any step writes it and is "
                         "neither a method input nor a constant", where, i, st->inputs[i]);
      }
      v->last_use = s;
    }
    for (uint32_t i = 0; i < st->num_outputs; i++) {
      xnnd_value_decl* v = &m->values[st->outputs[i]];
      const char* why = NULL;
      if (v->constant >= 0) why = "a constant";
      else if (v->flags & XNND_VALUE_INPUT) why = "a method input";
      if (why) {
        step_where(where, sizeof(where), m, s, st);
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "%s: output %u = value %u is %s and cannot be written", where, i,
                         st->outputs[i], why);
      }
      if (v->flags & XNND_VALUE_DEFINED) {
        step_where(where, sizeof(where), m, s, st);
        return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                         "%s: output %u = value %u was already written by step %u", where, i,
                         st->outputs[i], v->def_step);
      }
      v->flags |= XNND_VALUE_DEFINED;
      v->def_step = s;
      v->last_use = s;
    }
  }
  for (uint32_t o = 0; o < m->num_outputs; o++) {
    xnnd_output_decl* out = &m->outputs[o];
    xnnd_value_decl* v = &m->values[out->value];
    v->flags |= XNND_VALUE_OUTPUT;
    if (v->flags & XNND_VALUE_DEFINED) {
      v->last_use = m->num_steps;  /* outputs stay valid after execute */
    } else if ((v->flags & XNND_VALUE_INPUT) || v->constant >= 0) {
      out->copy = true;
    } else {
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" output %u = value %u is never written", m->name, o,
                       out->value);
    }
  }
  return XNND_OK;
}

/* The memory plan made at lowering (Method.arena_size, value_offsets, output_copy_offsets):
 * one offset per value and per output, checked like everything else in the file. */
static xnnd_status decode_memory_plan(load_ctx* c, xnnd_method_decl* m, fb_table t) {
  fb_vec offsets = fb_vector(t, XNND_PROGRAM_Method_value_offsets);
  fb_vec copies = fb_vector(t, XNND_PROGRAM_Method_output_copy_offsets);
  if (offsets.len != m->num_values)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "method \"%s\": the memory plan has %u value offsets for %u values", m->name,
                     offsets.len, m->num_values);
  if (copies.len != m->num_outputs)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "method \"%s\": the memory plan has %u output copy offsets for %u outputs",
                     m->name, copies.len, m->num_outputs);
  /* Any size: the slot checks are overflow-safe, and decode_method applies the limit. */
  m->arena_bytes = fb_u64(t, XNND_PROGRAM_Method_arena_size, 0);
  for (uint32_t v = 0; v < m->num_values; v++)
    m->values[v].offset = (uint64_t)fb_vec_i64(offsets, v);
  for (uint32_t o = 0; o < m->num_outputs; o++)
    m->outputs[o].copy_offset = (uint64_t)fb_vec_i64(copies, o);
  return xnnd_check_memory_plan(m, &c->p->allocator, c->msg, c->msg_size);
}

static xnnd_status decode_method(load_ctx* c, uint32_t index, fb_table t) {
  xnnd_program* p = c->p;
  xnnd_method_decl* m = &p->methods[index];
  xnnd_status status;
  m->name = fb_string(t, XNND_PROGRAM_Method_name, NULL);
  if (!m->name || !m->name[0])
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "method %u has no name (methods are created by name)", index);
  for (uint32_t i = 0; i < index; i++)
    if (strcmp(p->methods[i].name, m->name) == 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method %u: name \"%s\" is already used by method %u", index, m->name, i);

  fb_vec values = fb_vector(t, XNND_PROGRAM_Method_values);
  fb_vec steps = fb_vector(t, XNND_PROGRAM_Method_steps);
  fb_vec ops = fb_vector(t, XNND_PROGRAM_Method_operators);
  if (values.len > c->limits.max_values)
    return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                     "method \"%s\": %u values exceed the limit of %u", m->name, values.len,
                     c->limits.max_values);
  if (steps.len > c->limits.max_instructions)
    return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                     "method \"%s\": %u steps exceed the limit of %u", m->name, steps.len,
                     c->limits.max_instructions);
  m->num_values = values.len;
  m->num_steps = steps.len;
  m->num_operators = ops.len;
  m->values = pool_array(c, values.len, sizeof(xnnd_value_decl), 8);
  m->steps = pool_array(c, steps.len, sizeof(xnnd_step_decl), 8);
  const char** op_names = pool_array(c, ops.len, sizeof(char*), 8);
  if (!m->values || !m->steps || !op_names) return OOM(c, "method");
  for (uint32_t i = 0; i < ops.len; i++) op_names[i] = fb_vec_string(ops, i, NULL);
  m->operators = op_names;

  status = decode_symbols(c, m, t);
  if (status != XNND_OK) return status;
  status = decode_values(c, m, values);
  if (status != XNND_OK) return status;

  uint32_t* ids;
  fb_vec ins = fb_vector(t, XNND_PROGRAM_Method_inputs);
  status = decode_value_list(c, m, ins, "input", &ids);
  if (status != XNND_OK) return status;
  m->inputs = ids;
  m->num_inputs = ins.len;
  for (uint32_t i = 0; i < m->num_inputs; i++) {
    xnnd_value_decl* v = &m->values[ids[i]];
    if (v->constant >= 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" input %u = value %u is a constant", m->name, i, ids[i]);
    if (v->flags & XNND_VALUE_INPUT)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" input %u = value %u is listed as an input twice", m->name,
                       i, ids[i]);
    v->flags |= XNND_VALUE_INPUT;
  }
  status = check_symbols_solvable(c, m);
  if (status != XNND_OK) return status;

  fb_vec outs = fb_vector(t, XNND_PROGRAM_Method_outputs);
  status = decode_value_list(c, m, outs, "output", &ids);
  if (status != XNND_OK) return status;
  m->num_outputs = outs.len;
  m->outputs = pool_array(c, outs.len, sizeof(xnnd_output_decl), 8);
  if (!m->outputs) return OOM(c, "method outputs");
  for (uint32_t i = 0; i < outs.len; i++) {
    m->outputs[i].value = ids[i];
    m->outputs[i].copy_offset = XNND_NO_OFFSET;
  }

  status = decode_steps(c, m, steps);
  if (status != XNND_OK) return status;
  status = check_dataflow(c, m);
  if (status != XNND_OK) return status;
  if (fb_has_field(t, XNND_PROGRAM_Method_value_offsets))
    status = decode_memory_plan(c, m, t);
  else  /* written before plans were stored: plan here, the same way */
    status = xnnd_plan_memory(m, &p->allocator, c->msg, c->msg_size);
  if (status != XNND_OK) return status;
  return xnnd_method_check_size(m, &c->limits, c->msg, c->msg_size);
}

xnnd_status xnnd_method_check_size(const xnnd_method_decl* m, const xnnd_load_limits* limits,
                                   char* msg, size_t msg_size) {
  load_ctx ctx = {.limits = *limits, .msg = msg, .msg_size = msg_size};
  load_ctx* c = &ctx;
  /* hardening: bound what xnnd_method_create will allocate (arena, staged inputs); a
   * saturating sum. */
  uint64_t input_bytes = 0;
  for (uint32_t i = 0; i < m->num_inputs; i++) {
    uint64_t nb = m->values[m->inputs[i]].nbytes;
    input_bytes = nb > UINT64_MAX - input_bytes ? UINT64_MAX : input_bytes + nb;
  }
  if (m->arena_bytes > c->limits.max_method_bytes ||
      input_bytes > c->limits.max_method_bytes - m->arena_bytes)
    return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                     "method \"%s\": plans %llu arena bytes and %llu input bytes, more than the "
                     "limit of %llu", m->name, (unsigned long long)m->arena_bytes,
                     (unsigned long long)input_bytes,
                     (unsigned long long)c->limits.max_method_bytes);
  return XNND_OK;
}

/* ---- load ---- */

static xnnd_status verify_and_decode(load_ctx* c) {
  xnnd_program* p = c->p;
  /* ExecuTorch's own programs carry their FlatBuffers identifier at bytes 4..8 (ours start
   * with the "XNNDPTE" magic instead): runtime/et_program.c reads them. */
  if (p->loader.size >= 8 && memcmp(p->loader.data + 4, XNND_ET_FILE_IDENTIFIER, 4) == 0) {
    p->format = XNND_FORMAT_EXECUTORCH;
    return xnnd_et_program_decode(p, &c->limits, c->msg, c->msg_size);
  }
  p->format = XNND_FORMAT_XNND;
  xnnd_status status = xnnd_pte_check_header(&p->loader, &p->header, c->msg, c->msg_size);
  if (status != XNND_OK) return status;
  const xnnd_pte_header* h = &p->header;
  p->flatbuffer = xnnd_loader_load(&p->loader, h->program_offset, h->program_size);
  c->constant_segment = h->constant_size ? xnnd_loader_load(&p->loader, h->constant_offset,
                                                            h->constant_size)
                                         : NULL;
  c->delegate_segment = h->delegate_size ? xnnd_loader_load(&p->loader, h->delegate_offset,
                                                            h->delegate_size)
                                         : NULL;

  char fbmsg[XNND_ERRMSG_SIZE - 32];
  fbmsg[0] = '\0';
  fb_verify_limits fl = {c->limits.max_depth, 0, 0};
  status = fb_verify(p->flatbuffer, (size_t)h->program_size, XNND_PROGRAM_IDENTIFIER,
                     XNND_PROGRAM_ROOT, &fl, fbmsg, sizeof(fbmsg));
  if (status != XNND_OK)
    return xnnd_errf(c->msg, c->msg_size, status, "program flatbuffer: %s",
                     fbmsg[0] ? fbmsg : xnnd_status_str(status));

  fb_table root = fb_root(p->flatbuffer);
  uint32_t version = fb_u32(root, XNND_PROGRAM_Program_version, 0);
  if (version == 0 || version > XNND_PTE_VERSION)
    return xnnd_errf(c->msg, c->msg_size, XNND_UNSUPPORTED_VERSION,
                     "Program.version is %u%s, this runtime reads version %u", version,
                     version == 0 ? " (absent)" : "", XNND_PTE_VERSION);
  status = decode_constants(c, root);
  if (status != XNND_OK) return status;
  status = decode_delegates(c, root);
  if (status != XNND_OK) return status;

  fb_vec methods = fb_vector(root, XNND_PROGRAM_Program_methods);
  if (methods.len == 0)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "Program.methods is %s: the program has no method to run",
                     fb_has_field(root, XNND_PROGRAM_Program_methods) ? "empty" : "absent");
  p->num_methods = methods.len;
  p->methods = pool_array(c, methods.len, sizeof(xnnd_method_decl), 8);
  if (!p->methods) return OOM(c, "methods");
  for (uint32_t i = 0; i < methods.len; i++) {
    status = decode_method(c, i, fb_vec_table(methods, i));
    if (status != XNND_OK) return status;
  }
  return XNND_OK;
}

static xnnd_status set_error(xnnd_error* err, xnnd_status status, const char* msg) {
  if (err) {
    err->status = status;
    snprintf(err->message, sizeof(err->message), "%s", status == XNND_OK ? "" : msg);
  }
  return status;
}

/* Shared by both entry points: path != NULL maps a file, else borrows data/size. */
static xnnd_status program_load(const char* path, const void* data, size_t size,
                                const xnnd_load_options* options, xnnd_program** program_out,
                                xnnd_error* err) {
  char msg[XNND_ERRMSG_SIZE];
  msg[0] = '\0';
  if (!program_out)
    return set_error(err, XNND_INVALID_ARGUMENT, "program_out is NULL");
  *program_out = NULL;
  const xnnd_allocator* a = options && options->allocator ? options->allocator
                                                          : xnnd_default_allocator();
  if (!a->alloc || !a->free)
    return set_error(err, XNND_INVALID_ARGUMENT, "allocator has a NULL alloc or free entry");

  xnnd_program* p = xnnd_alloc_zeroed(a, sizeof(*p), 64);
  if (!p) return set_error(err, XNND_OUT_OF_MEMORY, "out of memory allocating the program");
  p->allocator = *a;
  xnnd_pool_init(&p->pool, &p->allocator);

  load_ctx c = {.p = p, .limits = resolve_limits(options), .msg = msg, .msg_size = sizeof(msg)};
  xnnd_status status;
  if (path)
    status = xnnd_loader_open_file(&p->loader, path, c.limits.max_file_size,
                                   options && options->map_file, &p->allocator, msg,
                                   sizeof(msg));
  else
    status = xnnd_loader_open_buffer(&p->loader, data, size, c.limits.max_file_size,
                                     &p->allocator, msg, sizeof(msg));
  if (status == XNND_OK) status = verify_and_decode(&c);
  if (status != XNND_OK) {
    xnnd_program_destroy(p);
    return set_error(err, status, msg);
  }
  *program_out = p;
  return set_error(err, XNND_OK, "");
}

xnnd_status xnnd_program_load_file(const char* path, const xnnd_load_options* options,
                                   xnnd_program** program_out, xnnd_error* err) {
  if (!path) {
    if (program_out) *program_out = NULL;
    return set_error(err, XNND_INVALID_ARGUMENT, "path is NULL");
  }
  return program_load(path, NULL, 0, options, program_out, err);
}

xnnd_status xnnd_program_load_buffer(const void* data, size_t size,
                                     const xnnd_load_options* options,
                                     xnnd_program** program_out, xnnd_error* err) {
  return program_load(NULL, data, size, options, program_out, err);
}

void xnnd_program_destroy(xnnd_program* program) {
  if (!program) return;
  xnnd_allocator a = program->allocator;
  xnnd_pool_release(&program->pool);
  xnnd_loader_close(&program->loader);
  xnnd_free(&a, program);
}

uint32_t xnnd_program_method_count(const xnnd_program* program) {
  return program ? program->num_methods : 0;
}

const char* xnnd_program_method_name(const xnnd_program* program, uint32_t index) {
  if (!program || index >= program->num_methods) return NULL;
  return program->methods[index].name;
}
