/* Program file (without delegates) -> IR graph, for `xnnd lower`. The bytes are untrusted:
 * header and flatbuffer are verified, every index is range-checked before use, and the
 * resulting graph goes through xnnd_graph_verify. */
#include <stdio.h>
#include <string.h>

#include "fb.h"
#include "program_generated.h"
#include "pte_format.h"
#include "serializer/program_writer.h"

typedef struct importer {
  const uint8_t* data;
  size_t size;
  xnnd_pte_header h;
  fb_table method;
  xnnd_graph* g;
  char* err;
  size_t err_size;
} importer;

#define FAIL(st, ...) (snprintf(im->err, im->err_size, __VA_ARGS__), (st))

static xnnd_status check_header(importer* im) {
  if (im->size < XNND_PTE_HEADER_SIZE) return FAIL(XNND_TRUNCATED, "file has %zu bytes, header needs 64", im->size);
  xnnd_pte_header_read(im->data, &im->h);
  if (memcmp(im->h.magic, XNND_PTE_MAGIC, 8) != 0) return FAIL(XNND_BAD_MAGIC, "not an xnnd program (bad magic)");
  if (im->h.version != XNND_PTE_VERSION)
    return FAIL(XNND_UNSUPPORTED_VERSION, "format version %u, this build reads %u", im->h.version, XNND_PTE_VERSION);
  const struct { const char* name; uint64_t off, size; } segs[] = {
      {"program", im->h.program_offset, im->h.program_size},
      {"constant", im->h.constant_offset, im->h.constant_size},
      {"delegate", im->h.delegate_offset, im->h.delegate_size}};
  for (unsigned i = 0; i < 3; i++) {
    if (segs[i].off > im->size || segs[i].size > im->size - segs[i].off)
      return FAIL(XNND_TRUNCATED, "%s segment [%llu, +%llu) runs past the end of the file (%zu bytes)", segs[i].name,
                  (unsigned long long)segs[i].off, (unsigned long long)segs[i].size, im->size);
    if (segs[i].off % XNND_SEGMENT_ALIGN)
      return FAIL(XNND_MISALIGNED, "%s segment offset %llu is not 64-byte aligned", segs[i].name,
                  (unsigned long long)segs[i].off);
  }
  return XNND_OK;
}

/* ---- dynamic shapes: Method.symbols, Tensor.dim_exprs, Attr.int_exprs ---- */

static xnnd_status import_symbols(importer* im) {
  fb_vec vec = fb_vector(im->method, XNND_PROGRAM_Method_symbols);
  if (vec.len > XNND_MAX_SYMS) return FAIL(XNND_INVALID_PROGRAM, "method has %u symbols, at most %d", vec.len, XNND_MAX_SYMS);
  for (uint32_t i = 0; i < vec.len; i++) {
    fb_table t = fb_vec_table(vec, i);
    xnnd_symbol* sym = &im->g->syms[i];
    const char* name = fb_string(t, XNND_PROGRAM_Symbol_name, NULL);
    if (!name) name = "";
    memset(sym, 0, sizeof(*sym));
    if (strnlen(name, XNND_SYM_NAME_SIZE) < XNND_SYM_NAME_SIZE) memcpy(sym->name, name, strlen(name));
    sym->min = fb_i64(t, XNND_PROGRAM_Symbol_min, 0);
    sym->max = fb_i64(t, XNND_PROGRAM_Symbol_max, 0);
    if (!xnnd_symbol_check(sym)) return FAIL(XNND_INVALID_PROGRAM, "symbols[%u]: invalid name or range", i);
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(im->g->syms[j].name, sym->name) == 0) return FAIL(XNND_INVALID_PROGRAM, "symbols[%u]: name \"%s\" repeats symbols[%u]", i, sym->name, j);
  }
  im->g->num_syms = vec.len;
  return XNND_OK;
}

/* n forms (graph memory) from a wire vector, each with upper bound upper[i]; *out NULL when
 * every form is static. */
static xnnd_status import_forms(importer* im, fb_vec v, uint32_t n, const int64_t* upper, const char* what,
                                uint32_t index, const xnnd_dimx** out) {
  const xnnd_graph* g = im->g;
  uint32_t per = 1 + g->num_syms;
  *out = NULL;
  if (g->num_syms == 0) return FAIL(XNND_INVALID_PROGRAM, "%s[%u]: symbolic dims but the method has no symbols", what, index);
  if ((uint64_t)v.len != (uint64_t)n * per) return FAIL(XNND_MALFORMED, "%s[%u]: %u longs for %u dims over %u symbols", what, index, v.len, n, g->num_syms);
  xnnd_dimx* x = xnnd_graph_alloc(im->g, sizeof(xnnd_dimx) * (n ? n : 1));
  if (!x) return FAIL(XNND_OUT_OF_MEMORY, "out of memory");
  bool symbolic = false;
  for (uint32_t d = 0; d < n; d++) {
    int64_t wire[1 + XNND_MAX_SYMS];
    for (uint32_t k = 0; k < per; k++) wire[k] = fb_vec_i64(v, d * per + k);
    if (!xnnd_dimx_decode(wire, 1, g->num_syms, &x[d])) return FAIL(XNND_OUT_OF_RANGE, "%s[%u] entry %u: form out of range", what, index, d);
    if (xnnd_dimx_upper(&x[d], g->syms, g->num_syms) != upper[d])
      return FAIL(XNND_INVALID_PROGRAM, "%s[%u] entry %u: upper bound %lld, stored %lld", what, index, d,
                  (long long)xnnd_dimx_upper(&x[d], g->syms, g->num_syms), (long long)upper[d]);
    bool sym = !xnnd_dimx_is_const(&x[d]);
    if (sym && xnnd_dimx_lower(&x[d], g->syms, g->num_syms) < 0)
      return FAIL(XNND_OUT_OF_RANGE, "%s[%u] entry %u: negative at the symbols' minima", what, index, d);
    symbolic |= sym;
  }
  if (symbolic) *out = x;
  return XNND_OK;
}

static xnnd_status import_value(importer* im, fb_table t, uint32_t index, fb_vec constants) {
  uint8_t dtype = fb_u8(t, XNND_PROGRAM_Tensor_dtype, 0);
  if (dtype >= XNND_DTYPE_COUNT) return FAIL(XNND_INVALID_PROGRAM, "values[%u]: dtype %u invalid", index, dtype);
  fb_vec dims = fb_vector(t, XNND_PROGRAM_Tensor_dims);
  if (dims.len > XNND_MAX_RANK) return FAIL(XNND_LIMIT_EXCEEDED, "values[%u]: rank %u > %d", index, dims.len, XNND_MAX_RANK);
  int64_t d[XNND_MAX_RANK];
  size_t nbytes = xnnd_dtype_size((xnnd_dtype)dtype);
  for (uint32_t i = 0; i < dims.len; i++) {
    d[i] = fb_vec_i32(dims, i);
    if (d[i] < 0) return FAIL(XNND_INVALID_PROGRAM, "values[%u]: dims[%u] = %lld is negative", index, i, (long long)d[i]);
    if (d[i] && nbytes > SIZE_MAX / (size_t)d[i]) return FAIL(XNND_LIMIT_EXCEEDED, "values[%u]: size overflows", index);
    nbytes *= (size_t)d[i];
  }
  char name[32];
  snprintf(name, sizeof(name), "v%u", index);
  xnnd_id id = xnnd_graph_add_value(im->g, name, (xnnd_dtype)dtype, dims.len, d);
  if (id == XNND_NO_ID) return FAIL(XNND_OUT_OF_MEMORY, "values[%u]: %s", index, im->g->errmsg);
  if (fb_has_field(t, XNND_PROGRAM_Tensor_dim_exprs)) {
    const xnnd_dimx* x;
    xnnd_status st = import_forms(im, fb_vector(t, XNND_PROGRAM_Tensor_dim_exprs), dims.len, d, "values", index, &x);
    if (st != XNND_OK) return st;
    im->g->values[id].dimx = x;
  }
  fb_table q = fb_table_field(t, XNND_PROGRAM_Tensor_quant);
  if (q) {
    fb_vec sc = fb_vector(q, XNND_PROGRAM_QuantParams_scale), zp = fb_vector(q, XNND_PROGRAM_QuantParams_zero_point);
    int32_t axis = fb_i32(q, XNND_PROGRAM_QuantParams_axis, -1);
    if (sc.len == 0 || sc.len != zp.len) return FAIL(XNND_INVALID_PROGRAM, "values[%u].quant: %u scales, %u zero points", index, sc.len, zp.len);
    xnnd_status st;
    if (axis < 0) {
      st = xnnd_graph_set_quant_per_tensor(im->g, id, fb_vec_f32(sc, 0), fb_vec_i32(zp, 0));
    } else {
      float scales[4096];
      int32_t zps[4096];
      if (sc.len > 4096) return FAIL(XNND_LIMIT_EXCEEDED, "values[%u].quant: %u channels", index, sc.len);
      for (uint32_t i = 0; i < sc.len; i++) {
        scales[i] = fb_vec_f32(sc, i);
        zps[i] = fb_vec_i32(zp, i);
      }
      st = xnnd_graph_set_quant_per_channel(im->g, id, axis, scales, zps, sc.len);
    }
    if (st != XNND_OK) return FAIL(XNND_INVALID_PROGRAM, "values[%u].quant: %s", index, im->g->errmsg);
  }
  int32_t c = fb_i32(t, XNND_PROGRAM_Tensor_constant, -1);
  if (c >= 0) {
    if ((uint32_t)c >= constants.len) return FAIL(XNND_OUT_OF_RANGE, "values[%u].constant = %d, program has %u", index, c, constants.len);
    fb_table cb = fb_vec_table(constants, (uint32_t)c);
    uint64_t off = fb_u64(cb, XNND_PROGRAM_ConstantBuffer_offset, 0), size = fb_u64(cb, XNND_PROGRAM_ConstantBuffer_size, 0);
    if (off > im->h.constant_size || size > im->h.constant_size - off)
      return FAIL(XNND_OUT_OF_RANGE, "constants[%d] [%llu, +%llu) outside the constant segment", c, (unsigned long long)off, (unsigned long long)size);
    if (size != nbytes) return FAIL(XNND_INVALID_PROGRAM, "values[%u]: constant has %llu bytes, tensor needs %zu", index, (unsigned long long)size, nbytes);
    if (xnnd_graph_set_constant(im->g, id, im->data + im->h.constant_offset + off, nbytes) != XNND_OK)
      return FAIL(XNND_OUT_OF_MEMORY, "values[%u]: %s", index, im->g->errmsg);
  }
  return XNND_OK;
}

static xnnd_status read_ids(importer* im, fb_vec v, xnnd_id* out, uint32_t max, const char* what, uint32_t step, bool allow_absent) {
  if (v.len > max) return FAIL(XNND_LIMIT_EXCEEDED, "steps[%u].%s: %u entries", step, what, v.len);
  for (uint32_t i = 0; i < v.len; i++) {
    int32_t id = fb_vec_i32(v, i);
    if (id == -1 && allow_absent) {
      out[i] = XNND_NO_ID;
      continue;
    }
    if (id < 0 || (uint32_t)id >= im->g->num_values)
      return FAIL(XNND_OUT_OF_RANGE, "steps[%u].%s[%u] = %d, method has %u values", step, what, i, id, im->g->num_values);
    out[i] = (xnnd_id)id;
  }
  return XNND_OK;
}

static xnnd_status import_step(importer* im, fb_table step, uint32_t index, fb_vec operators) {
  uint8_t type = fb_u8(step, XNND_PROGRAM_Step_instruction_type, 0);
  if (type == XNND_PROGRAM_Instruction_DelegateCall)
    return FAIL(XNND_UNSUPPORTED, "steps[%u] is a delegate call: `lower` takes a program without delegates (export with --no-delegate)", index);
  if (type != XNND_PROGRAM_Instruction_KernelCall) return FAIL(XNND_INVALID_PROGRAM, "steps[%u]: no instruction", index);
  fb_table call = fb_table_field(step, XNND_PROGRAM_Step_instruction);
  uint32_t op_index = fb_u32(call, XNND_PROGRAM_KernelCall_op, 0);
  if (op_index >= operators.len) return FAIL(XNND_OUT_OF_RANGE, "steps[%u].op = %u, method has %u operators", index, op_index, operators.len);
  const char* opname = fb_vec_string(operators, op_index, NULL);
  xnnd_op op = xnnd_op_lookup(opname);
  if (op == XNND_OP_COUNT) return FAIL(XNND_UNKNOWN_OP, "steps[%u]: unknown op \"%s\"", index, opname);
  xnnd_id ins[256], outs[3];
  fb_vec iv = fb_vector(call, XNND_PROGRAM_KernelCall_inputs), ov = fb_vector(call, XNND_PROGRAM_KernelCall_outputs);
  xnnd_status st = read_ids(im, iv, ins, 256, "inputs", index, true);
  if (st == XNND_OK) st = read_ids(im, ov, outs, 3, "outputs", index, false);
  if (st != XNND_OK) return st;
  xnnd_id n = xnnd_graph_add_node(im->g, op, ins, iv.len, outs, ov.len);
  if (n == XNND_NO_ID) return FAIL(XNND_INVALID_PROGRAM, "steps[%u] (%s): %s", index, opname, im->g->errmsg);
  fb_vec attrs = fb_vector(call, XNND_PROGRAM_KernelCall_attrs);
  for (uint32_t a = 0; a < attrs.len; a++) {
    fb_table at = fb_vec_table(attrs, a);
    const char* aname = fb_string(at, XNND_PROGRAM_Attr_name, NULL);
    bool is_min = strcmp(aname, "output_min") == 0;
    if (is_min || strcmp(aname, "output_max") == 0) {
      /* A fused output range (clamp fusion) travels as these two float attributes. */
      if (fb_u8(at, XNND_PROGRAM_Attr_kind, 0) != XNND_ATTR_FLOAT)
        return FAIL(XNND_INVALID_PROGRAM, "steps[%u] (%s).%s: expected a float", index, opname, aname);
      float v = (float)fb_f64(at, XNND_PROGRAM_Attr_f, 0.0);
      if (is_min) im->g->nodes[n].output_min = v;
      else im->g->nodes[n].output_max = v;
      continue;
    }
    int slot = xnnd_op_attr_index(op, aname);
    if (slot < 0) return FAIL(XNND_INVALID_PROGRAM, "steps[%u] (%s): unknown attribute \"%s\"", index, opname, aname);
    xnnd_attr* dst = &im->g->nodes[n].attrs[slot];
    memset(dst, 0, sizeof(*dst));
    dst->kind = (xnnd_attr_kind)fb_u8(at, XNND_PROGRAM_Attr_kind, 0);
    dst->i = fb_i64(at, XNND_PROGRAM_Attr_i, 0);
    dst->f = fb_f64(at, XNND_PROGRAM_Attr_f, 0.0);
    fb_vec ints = fb_vector(at, XNND_PROGRAM_Attr_ints);
    if (ints.len > XNND_MAX_ATTR_INTS) return FAIL(XNND_LIMIT_EXCEEDED, "steps[%u] (%s).%s: %u ints", index, opname, aname, ints.len);
    dst->n = ints.len;
    for (uint32_t i = 0; i < ints.len; i++) dst->ints[i] = fb_vec_i64(ints, i);
    if (fb_has_field(at, XNND_PROGRAM_Attr_int_exprs)) {
      if (dst->kind != XNND_ATTR_INTS) return FAIL(XNND_INVALID_PROGRAM, "steps[%u] (%s).%s: int_exprs on a non-INTS attribute", index, opname, aname);
      const xnnd_dimx* x;
      xnnd_status st2 = import_forms(im, fb_vector(at, XNND_PROGRAM_Attr_int_exprs), ints.len, dst->ints, "steps", index, &x);
      if (st2 != XNND_OK) return st2;
      im->g->nodes[n].attr_dimx[slot] = x;
    }
  }
  return XNND_OK;
}

xnnd_status xnnd_program_import(const uint8_t* data, size_t size, xnnd_graph** graph_out,
                                char* err, size_t err_size) {
  importer imv = {.data = data, .size = size, .err = err, .err_size = err_size};
  importer* im = &imv;
  *graph_out = NULL;
  xnnd_status st = check_header(im);
  if (st != XNND_OK) return st;
  char msg[400];
  st = fb_verify(data + im->h.program_offset, im->h.program_size, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT, NULL, msg, sizeof(msg));
  if (st != XNND_OK) return FAIL(st, "program flatbuffer: %s", msg);
  fb_table root = fb_root(data + im->h.program_offset);
  fb_vec methods = fb_vector(root, XNND_PROGRAM_Program_methods);
  if (methods.len != 1) return FAIL(XNND_UNSUPPORTED, "program has %u methods, lower takes exactly 1", methods.len);
  im->method = fb_vec_table(methods, 0);
  st = xnnd_graph_create(fb_string(im->method, XNND_PROGRAM_Method_name, NULL), &im->g);
  if (st != XNND_OK) return FAIL(st, "out of memory");
  st = import_symbols(im);
  fb_vec values = fb_vector(im->method, XNND_PROGRAM_Method_values);
  fb_vec constants = fb_vector(root, XNND_PROGRAM_Program_constants);
  for (uint32_t i = 0; st == XNND_OK && i < values.len; i++) st = import_value(im, fb_vec_table(values, i), i, constants);
  fb_vec operators = fb_vector(im->method, XNND_PROGRAM_Method_operators);
  fb_vec steps = fb_vector(im->method, XNND_PROGRAM_Method_steps);
  for (uint32_t i = 0; i < steps.len && st == XNND_OK; i++) st = import_step(im, fb_vec_table(steps, i), i, operators);
  xnnd_id ids[256];
  fb_vec iv = fb_vector(im->method, XNND_PROGRAM_Method_inputs), ov = fb_vector(im->method, XNND_PROGRAM_Method_outputs);
  if (st == XNND_OK) st = read_ids(im, iv, ids, 256, "method inputs", 0, false);
  if (st == XNND_OK) st = xnnd_graph_set_inputs(im->g, ids, iv.len);
  if (st == XNND_OK) st = read_ids(im, ov, ids, 256, "method outputs", 0, false);
  if (st == XNND_OK) st = xnnd_graph_set_outputs(im->g, ids, ov.len);
  if (st == XNND_OK && (st = xnnd_graph_verify(im->g)) != XNND_OK) st = FAIL(st, "program graph: %s", im->g->errmsg);
  if (st != XNND_OK) {
    xnnd_graph_destroy(im->g);
    return st;
  }
  *graph_out = im->g;
  return XNND_OK;
}
