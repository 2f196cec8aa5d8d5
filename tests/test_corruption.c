/* Untrusted-input corruption classes against programs written by the real toolchain: a small
 * text IR convnet is parsed, partitioned and serialized (delegated and not), then one byte or
 * field is patched per case and the load / method create / execute must fail with the status
 * of that class and a message naming the place; the memory plan stored at lowering is compared
 * with the one the runtime computes and corrupted the same way. Runtime memory goes through
 * test_malloc. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "small_convnet.h"

#include "fb.h"
#include "ir.h"
#include "partitioner/partitioner.h"
#include "program_generated.h"
#include "program_info.h"
#include "pte_format.h"
#include "runtime_internal.h"
#include "serializer/program_writer.h"
#include "xnnpack_generated.h"
#include "xnnd/bundle.h"
#include "xnnd/runtime.h"

/* ---- leak-checked allocator ---- */

static const xnnd_allocator test_allocator = {NULL, xt_aligned_alloc, xt_aligned_free};

/* ---- the program under test ---- */

/* The small convnet fixture (tests/support/small_convnet.c). */
static uint8_t* write_convnet(bool delegate, size_t* size_out) { return xt_small_convnet_program(delegate, size_out); }

/* A writable, 64-aligned copy of a program, with views into its flatbuffer for patching. */
typedef struct pte {
  uint8_t* data;
  size_t size;
  xnnd_pte_header h;
  fb_table root;
} pte;

static pte pte_make(bool delegate) {
  pte p;
  p.data = write_convnet(delegate, &p.size);
  xnnd_pte_header_read(p.data, &p.h);
  char msg[256];
  assert_int_equal(fb_verify(p.data + p.h.program_offset, (size_t)p.h.program_size,
                             XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT, NULL, msg, sizeof(msg)),
                   XNND_OK);
  p.root = fb_root(p.data + p.h.program_offset);
  return p;
}

static void pte_free(pte* p) { free(p->data); }

static uint16_t le16(const uint8_t* q) { return (uint16_t)(q[0] | (q[1] << 8)); }

/* Writable address of a present scalar field of table t (which points into p->data). */
static uint8_t* field_addr(fb_table t, uint32_t field_id) {
  const uint8_t* vt = t - (int32_t)xnnd_le32(t);
  uint32_t slot = 4 + 2 * field_id;
  uint16_t off = slot + 2 <= le16(vt) ? le16(vt + slot) : 0;
  if (!off) fail_msg("field %u is absent (default value?)", field_id);
  return (uint8_t*)(uintptr_t)(t + off);
}

/* Writable address of a vector's length word. */
static uint8_t* vec_len_addr(fb_vec v) {
  assert_non_null(v.data);
  return (uint8_t*)(uintptr_t)(v.data - 4);
}

static fb_table method0(const pte* p) {
  return fb_vec_table(fb_vector(p->root, XNND_PROGRAM_Program_methods), 0);
}

/* Step `s`'s instruction table, and its union type. */
static fb_table step_instr(const pte* p, uint32_t s, uint8_t* type_out) {
  fb_table step = fb_vec_table(fb_vector(method0(p), XNND_PROGRAM_Method_steps), s);
  *type_out = fb_u8(step, XNND_PROGRAM_Step_instruction_type, 0);
  return fb_table_field(step, XNND_PROGRAM_Step_instruction);
}

/* First step of the given instruction type, its index in *s_out. */
static fb_table find_step(const pte* p, uint8_t want, uint32_t* s_out) {
  fb_vec steps = fb_vector(method0(p), XNND_PROGRAM_Method_steps);
  for (uint32_t s = 0; s < steps.len; s++) {
    uint8_t type;
    fb_table t = step_instr(p, s, &type);
    if (type == want) {
      if (s_out) *s_out = s;
      return t;
    }
  }
  fail_msg("no step of instruction type %u", want);
  return NULL;
}

/* ---- expectations ---- */

static xnnd_status load(const pte* p, size_t size, const xnnd_load_limits* limits,
                        xnnd_program** prog_out, xnnd_error* err) {
  xnnd_load_options o = {.allocator = &test_allocator};
  if (limits) o.limits = *limits;
  return xnnd_program_load_buffer(p->data, size, &o, prog_out, err);
}

static void expect_load(const pte* p, size_t size, xnnd_status want, const char* needle) {
  xnnd_program* prog = (xnnd_program*)1;
  xnnd_error err = {0};
  xnnd_status st = load(p, size, NULL, &prog, &err);
  if (st != want)
    fail_msg("load: expected %s, got %s: %s", xnnd_status_str(want), xnnd_status_str(st),
             err.message);
  assert_null(prog);
  if (needle && !strstr(err.message, needle))
    fail_msg("message \"%s\" does not name \"%s\"", err.message, needle);
}

/* Loads fine, but creating the method fails. */
static void expect_create(const pte* p, xnnd_status want, const char* needle) {
  xnnd_program* prog = NULL;
  xnnd_error err = {0};
  if (load(p, p->size, NULL, &prog, &err) != XNND_OK) fail_msg("load: %s", err.message);
  xnnd_method* m = (xnnd_method*)1;
  xnnd_status st = xnnd_method_create(prog, "forward", NULL, &m, &err);
  if (st != want)
    fail_msg("create: expected %s, got %s: %s", xnnd_status_str(want), xnnd_status_str(st),
             err.message);
  assert_null(m);
  if (needle && !strstr(err.message, needle))
    fail_msg("message \"%s\" does not name \"%s\"", err.message, needle);
  xnnd_program_destroy(prog);
}

static void put_header_u64(pte* p, size_t at, uint64_t v) { xnnd_put_le64(p->data + at, v); }

/* ---- the untouched programs work ---- */

static void run_once(const pte* p, float* out10) {
  xnnd_program* prog = NULL;
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  if (load(p, p->size, NULL, &prog, &err) != XNND_OK) fail_msg("load: %s", err.message);
  if (xnnd_method_create(prog, "forward", NULL, &m, &err) != XNND_OK) fail_msg("create: %s", err.message);
  static float x[3 * 16 * 16];
  xt_fill_uniform(x, 3 * 16 * 16, 9);
  xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  if (xnnd_method_execute(m) != XNND_OK) fail_msg("execute: %s", xnnd_method_errmsg(m));
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.rank, 2);
  assert_int_equal(out.dims[1], 10);
  memcpy(out10, out.data, 10 * sizeof(float));
  xnnd_method_destroy(m);
  xnnd_program_destroy(prog);
}

static void test_intact_programs_run(void** state) {
  (void)state;
  pte d = pte_make(true), n = pte_make(false);
  assert_true(d.h.delegate_size > 0);
  assert_int_equal(n.h.delegate_size, 0);
  float a[10], b[10];
  run_once(&d, a);
  run_once(&n, b);
  for (int i = 0; i < 10; i++) assert_float_equal(a[i], b[i], 1e-4);
  pte_free(&d);
  pte_free(&n);
}

/* ---- file structure ---- */

static void test_truncated_file(void** state) {
  (void)state;
  pte p = pte_make(true);
  expect_load(&p, 0, XNND_TRUNCATED, "header");
  expect_load(&p, 63, XNND_TRUNCATED, "header");
  /* cut inside the last segment (the delegate blobs) */
  expect_load(&p, (size_t)(p.h.delegate_offset + p.h.delegate_size / 2), XNND_TRUNCATED,
              "delegate segment");
  expect_load(&p, (size_t)(p.h.delegate_offset + p.h.delegate_size - 1), XNND_TRUNCATED,
              "runs past the end");
  pte_free(&p);
}

static void test_bad_magic(void** state) {
  (void)state;
  pte p = pte_make(true);
  p.data[3] = 'X';
  expect_load(&p, p.size, XNND_BAD_MAGIC, "magic");
  pte_free(&p);
}

static void test_bad_flatbuffer_identifier(void** state) {
  (void)state;
  pte p = pte_make(true);
  memcpy(p.data + p.h.program_offset + 4, "XNNB", 4);
  expect_load(&p, p.size, XNND_BAD_MAGIC, "program flatbuffer");
  pte_free(&p);
}

static void test_future_version(void** state) {
  (void)state;
  pte p = pte_make(true);
  xnnd_put_le32(p.data + 8, XNND_PTE_VERSION + 1);
  expect_load(&p, p.size, XNND_UNSUPPORTED_VERSION, "header: format version 2");
  pte_free(&p);
  p = pte_make(true);
  xnnd_put_le32(field_addr(p.root, XNND_PROGRAM_Program_version), XNND_PTE_VERSION + 1);
  expect_load(&p, p.size, XNND_UNSUPPORTED_VERSION, "Program.version is 2");
  pte_free(&p);
  /* the delegate blob's own version: checked by the backend at method create */
  p = pte_make(true);
  xnnd_put_le32(p.data + p.h.delegate_offset + 4, XNND_BLOB_VERSION + 1);
  expect_create(&p, XNND_UNSUPPORTED_VERSION, "blob version 2");
  pte_free(&p);
}

static void test_overlapping_segments(void** state) {
  (void)state;
  pte p = pte_make(true);
  put_header_u64(&p, 48, p.h.program_offset);  /* delegate segment on top of the program */
  expect_load(&p, p.size, XNND_OVERLAP, "overlaps delegate segment");
  pte_free(&p);
  p = pte_make(false);
  put_header_u64(&p, 32, 0);  /* constant segment on top of the header */
  expect_load(&p, p.size, XNND_OVERLAP, "overlaps the 64-byte header");
  pte_free(&p);
}

static void test_misaligned_segments(void** state) {
  (void)state;
  pte p = pte_make(true);
  put_header_u64(&p, 48, p.h.delegate_offset + 4);
  put_header_u64(&p, 56, p.h.delegate_size - 4);
  expect_load(&p, p.size, XNND_MISALIGNED, "delegate segment offset");
  pte_free(&p);
  /* a constant buffer inside the constant segment */
  p = pte_make(false);
  fb_vec consts = fb_vector(p.root, XNND_PROGRAM_Program_constants);
  assert_true(consts.len >= 2);
  fb_table c1 = fb_vec_table(consts, 1);
  uint8_t* off = field_addr(c1, XNND_PROGRAM_ConstantBuffer_offset);
  xnnd_put_le64(off, xnnd_le64(off) + 4);
  expect_load(&p, p.size, XNND_MISALIGNED, "constant 1: offset");
  pte_free(&p);
  /* a delegate blob inside the delegate segment */
  p = pte_make(true);
  fb_vec delegates = fb_vector(p.root, XNND_PROGRAM_Program_delegates);
  assert_int_equal(delegates.len, 2);
  off = field_addr(fb_vec_table(delegates, 1), XNND_PROGRAM_BackendDelegate_offset);
  xnnd_put_le64(off, xnnd_le64(off) + 8);
  uint8_t* size = field_addr(fb_vec_table(delegates, 1), XNND_PROGRAM_BackendDelegate_size);
  xnnd_put_le64(size, xnnd_le64(size) - 8);
  expect_load(&p, p.size, XNND_MISALIGNED, "delegate 1 (XnnpackBackend): blob offset");
  pte_free(&p);
}

/* ---- indices ---- */

static void test_value_index_out_of_range(void** state) {
  (void)state;
  pte p = pte_make(true);
  uint32_t s;
  fb_table call = find_step(&p, XNND_PROGRAM_Instruction_DelegateCall, &s);
  fb_vec ins = fb_vector(call, XNND_PROGRAM_DelegateCall_inputs);
  xnnd_put_le32((uint8_t*)(uintptr_t)ins.data, 9999);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "input 0 = value 9999 out of range");
  pte_free(&p);
  p = pte_make(false);
  fb_table kcall = find_step(&p, XNND_PROGRAM_Instruction_KernelCall, &s);
  fb_vec outs = fb_vector(kcall, XNND_PROGRAM_KernelCall_outputs);
  xnnd_put_le32((uint8_t*)(uintptr_t)outs.data, 70000);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "output 0 = value 70000 out of range");
  pte_free(&p);
  p = pte_make(false);
  fb_vec mins = fb_vector(method0(&p), XNND_PROGRAM_Method_inputs);
  xnnd_put_le32((uint8_t*)(uintptr_t)mins.data, 1u << 31);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "input 0 = value 2147483648 out of range");
  pte_free(&p);
}

static void test_constant_index_out_of_range(void** state) {
  (void)state;
  pte p = pte_make(false);
  fb_vec values = fb_vector(method0(&p), XNND_PROGRAM_Method_values);
  uint32_t patched = 0;
  for (uint32_t v = 0; v < values.len && !patched; v++) {
    fb_table t = fb_vec_table(values, v);
    if (fb_i32(t, XNND_PROGRAM_Tensor_constant, -1) < 0) continue;
    xnnd_put_le32(field_addr(t, XNND_PROGRAM_Tensor_constant), 77);
    patched = 1;
  }
  assert_true(patched);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "constant 77 out of range");
  pte_free(&p);
  /* a constant buffer whose bytes run outside the constant segment */
  p = pte_make(false);
  fb_table c0 = fb_vec_table(fb_vector(p.root, XNND_PROGRAM_Program_constants), 0);
  xnnd_put_le64(field_addr(c0, XNND_PROGRAM_ConstantBuffer_size), p.h.constant_size + 1);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "constant 0: bytes");
  pte_free(&p);
}

static void test_delegate_index_out_of_range(void** state) {
  (void)state;
  pte p = pte_make(true);
  /* the second call names delegate 1 (the first, delegate 0, is a default and not stored) */
  fb_vec steps = fb_vector(method0(&p), XNND_PROGRAM_Method_steps);
  bool patched = false;
  for (uint32_t s = 0; s < steps.len && !patched; s++) {
    uint8_t type;
    fb_table t = step_instr(&p, s, &type);
    if (type != XNND_PROGRAM_Instruction_DelegateCall) continue;
    if (fb_u32(t, XNND_PROGRAM_DelegateCall_delegate, 0) == 0) continue;
    xnnd_put_le32(field_addr(t, XNND_PROGRAM_DelegateCall_delegate), 5);
    patched = true;
  }
  assert_true(patched);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "delegate 5 out of range (program has 2 delegates)");
  pte_free(&p);
  /* a blob lying outside the delegate segment */
  p = pte_make(true);
  fb_table d0 = fb_vec_table(fb_vector(p.root, XNND_PROGRAM_Program_delegates), 0);
  xnnd_put_le64(field_addr(d0, XNND_PROGRAM_BackendDelegate_size), p.h.delegate_size + 64);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "delegate 0 (XnnpackBackend): blob");
  pte_free(&p);
}

static void test_operator_index_out_of_range(void** state) {
  (void)state;
  pte p = pte_make(false);
  fb_vec steps = fb_vector(method0(&p), XNND_PROGRAM_Method_steps);
  bool patched = false;
  for (uint32_t s = 0; s < steps.len && !patched; s++) {
    uint8_t type;
    fb_table t = step_instr(&p, s, &type);
    if (fb_u32(t, XNND_PROGRAM_KernelCall_op, 0) == 0) continue;
    xnnd_put_le32(field_addr(t, XNND_PROGRAM_KernelCall_op), 4000);
    patched = true;
  }
  assert_true(patched);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "operator 4000 out of range");
  pte_free(&p);
  /* an empty operator table: every KernelCall (op 0 included) is out of range */
  p = pte_make(false);
  xnnd_put_le32(vec_len_addr(fb_vector(method0(&p), XNND_PROGRAM_Method_operators)), 0);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "operator 0 out of range (method has 0 operators)");
  pte_free(&p);
}

/* ---- program vs blob ---- */

/* The blob of delegate `d`, its verified flatbuffer root (writable through p->data). */
static fb_table blob_graph(const pte* p, uint32_t d) {
  fb_table del = fb_vec_table(fb_vector(p->root, XNND_PROGRAM_Program_delegates), d);
  const uint8_t* blob = p->data + p->h.delegate_offset +
                        fb_u64(del, XNND_PROGRAM_BackendDelegate_offset, 0);
  xnnd_blob_header bh;
  xnnd_blob_header_read(blob, &bh);
  char msg[256];
  assert_int_equal(fb_verify(blob + bh.flatbuffer_offset, (size_t)bh.flatbuffer_size,
                             XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, NULL, msg, sizeof(msg)),
                   XNND_OK);
  return fb_root(blob + bh.flatbuffer_offset);
}

/* The delegate step that reads method input 0 (%x) is the first step. */
static void test_program_blob_shape_mismatch(void** state) {
  (void)state;
  pte p = pte_make(true);
  uint8_t type;
  fb_table call = step_instr(&p, 0, &type);
  assert_int_equal(type, XNND_PROGRAM_Instruction_DelegateCall);
  uint32_t x = fb_vec_u32(fb_vector(call, XNND_PROGRAM_DelegateCall_inputs), 0);
  fb_table xv = fb_vec_table(fb_vector(method0(&p), XNND_PROGRAM_Method_values), x);
  fb_vec dims = fb_vector(xv, XNND_PROGRAM_Tensor_dims);
  assert_int_equal(dims.len, 4);
  xnnd_put_le32((uint8_t*)(uintptr_t)dims.data + 12, 8);  /* W 16 -> 8 */
  expect_create(&p, XNND_SHAPE_MISMATCH, "input 0: program shape [1,3,16,8]");
  pte_free(&p);
}

static void test_program_blob_dtype_mismatch(void** state) {
  (void)state;
  pte p = pte_make(true);
  fb_table graph = blob_graph(&p, 0);
  uint32_t id = fb_vec_u32(fb_vector(graph, XNND_XNNPACK_Graph_input_ids), 0);
  fb_table v = fb_vec_table(fb_vector(graph, XNND_XNNPACK_Graph_values), id);
  assert_int_equal(fb_u8(v, XNND_XNNPACK_Value_datatype, 0), XNND_XNNPACK_DataType_FP32);
  *field_addr(v, XNND_XNNPACK_Value_datatype) = XNND_XNNPACK_DataType_QINT8;
  expect_create(&p, XNND_DTYPE_MISMATCH, "program dtype f32 vs blob value");
  pte_free(&p);
}

/* tests/corruption/qconv.ir (an int8 convolution with per-channel weights and int32 bias
 * between quantize and dequantize) compiled delegated by the CLI (build/xnnd compile). */
static pte pte_quantized(void) {
  const char* path = xt_temp_path("quantized", ".pte");
  if (xt_system("%s compile %s -o %s >/dev/null", xt_build_path("xnnd"),
                xt_source_path("tests/corruption/qconv.ir"), path) != 0)
    fail_msg("xnnd compile tests/corruption/qconv.ir failed");
  size_t size;
  uint8_t* bytes = (uint8_t*)xt_read_file(path, &size);
  assert_non_null(bytes);
  remove(path);
  pte p;
  p.size = size;
  assert_int_equal(posix_memalign((void**)&p.data, 64, size), 0);
  memcpy(p.data, bytes, size);
  free(bytes);
  xnnd_pte_header_read(p.data, &p.h);
  p.root = fb_root(p.data + p.h.program_offset);
  return p;
}

/* Issue 16: an int32 bias whose scale is not input scale x filter scale (XNNPACK ignores the
 * bias scale and would silently compute with the wrong one) is refused at method create. */
static void test_int8_bias_scale(void** state) {
  (void)state;
  pte p = pte_quantized();
  assert_int_equal(fb_vector(p.root, XNND_PROGRAM_Program_delegates).len, 1);
  fb_table graph = blob_graph(&p, 0);
  fb_vec values = fb_vector(graph, XNND_XNNPACK_Graph_values);
  fb_vec bias_scales = {0};
  uint32_t bias_id = 0;
  for (uint32_t v = 0; v < values.len; v++) {
    fb_table t = fb_vec_table(values, v);
    if (fb_u8(t, XNND_XNNPACK_Value_datatype, 0) == XNND_XNNPACK_DataType_QCINT32)
      bias_scales = fb_vector(t, XNND_XNNPACK_Value_channel_scales), bias_id = v;
  }
  assert_int_equal(bias_scales.len, 3);
  {
    xnnd_program* prog = NULL;
    xnnd_method* m = NULL;
    xnnd_error err = {0};
    assert_int_equal(load(&p, p.size, NULL, &prog, &err), XNND_OK);
    if (xnnd_method_create(prog, "forward", NULL, &m, &err) != XNND_OK) fail_msg("intact: %s", err.message);
    xnnd_method_destroy(m);
    xnnd_program_destroy(prog);
  }
  /* 0.001 = 0.05 (input) x 0.02 (filter channel 1); twice that is refused. */
  float* s1 = (float*)(uintptr_t)(bias_scales.data + 4);
  assert_float_equal(*s1, 0.001, 1e-9);
  *s1 = 0.002f;
  char want[96];
  snprintf(want, sizeof(want), "bias %u scale[1] 0.00200000009 is not input scale 0.0500000007", bias_id);
  expect_create(&p, XNND_INVALID_PROGRAM, want);
  /* A float-rounding difference is not a mismatch. */
  *s1 = nextafterf(0.001f, 1.0f);
  xnnd_program* prog = NULL;
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(&p, p.size, NULL, &prog, &err), XNND_OK);
  if (xnnd_method_create(prog, "forward", NULL, &m, &err) != XNND_OK) fail_msg("rounded: %s", err.message);
  xnnd_method_destroy(m);
  xnnd_program_destroy(prog);
  pte_free(&p);
}

/* ---- names ---- */

static void test_unknown_op_name(void** state) {
  (void)state;
  pte p = pte_make(false);
  fb_vec ops = fb_vector(method0(&p), XNND_PROGRAM_Method_operators);
  uint32_t len;
  char* name = (char*)(uintptr_t)fb_vec_string(ops, 0, &len);
  assert_true(len > 2);
  name[len - 1] = 'Q';
  char want[64];
  snprintf(want, sizeof(want), "operator \"%s\" has no portable kernel", name);
  expect_load(&p, p.size, XNND_UNKNOWN_OP, want);
  pte_free(&p);
}

static void test_unknown_backend_name(void** state) {
  (void)state;
  pte p = pte_make(true);
  fb_table d1 = fb_vec_table(fb_vector(p.root, XNND_PROGRAM_Program_delegates), 1);
  uint32_t len;
  char* name = (char*)(uintptr_t)fb_string(d1, XNND_PROGRAM_BackendDelegate_backend, &len);
  assert_string_equal(name, XNND_XNNPACK_BACKEND_NAME);
  name[0] = 'Z';
  expect_load(&p, p.size, XNND_UNKNOWN_BACKEND, "delegate 1: backend \"ZnnpackBackend\"");
  pte_free(&p);
}

/* ---- limits ---- */

static void expect_limit(const pte* p, xnnd_load_limits lim, const char* needle) {
  xnnd_program* prog = NULL;
  xnnd_error err = {0};
  xnnd_status st = load(p, p->size, &lim, &prog, &err);
  if (st != XNND_LIMIT_EXCEEDED)
    fail_msg("expected LIMIT_EXCEEDED, got %s: %s", xnnd_status_str(st), err.message);
  if (!strstr(err.message, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_limits(void** state) {
  (void)state;
  pte p = pte_make(false);
  expect_limit(&p, (xnnd_load_limits){.max_file_size = p.size - 1}, "more than the limit");
  expect_limit(&p, (xnnd_load_limits){.max_values = 5}, "values exceed the limit of 5");
  expect_limit(&p, (xnnd_load_limits){.max_instructions = 3}, "steps exceed the limit of 3");
  expect_limit(&p, (xnnd_load_limits){.max_rank = 3}, "exceeds the limit of 3");
  expect_limit(&p, (xnnd_load_limits){.max_depth = 2}, "nested deeper than 2 tables");
  expect_limit(&p, (xnnd_load_limits){.max_method_bytes = 4096}, "input bytes, more than the limit of 4096");
  /* and just at the limits it loads */
  xnnd_program* prog = NULL;
  xnnd_error err = {0};
  xnnd_load_limits at = {.max_file_size = p.size, .max_rank = 4};
  assert_int_equal(load(&p, p.size, &at, &prog, &err), XNND_OK);
  xnnd_program_destroy(prog);
  pte_free(&p);
}

/* ---- the memory plan written at lowering (Method.arena_size, value_offsets,
 * output_copy_offsets) ---- */

/* Make a present field absent, as a writer from before the field left it: zero its vtable
 * slot. The Method's vtable is its own (no other table has its shape). */
static void drop_field(fb_table t, uint32_t field_id) {
  uint8_t* vt = (uint8_t*)(uintptr_t)(t - (int32_t)xnnd_le32(t));
  uint32_t slot = 4 + 2 * field_id;
  assert_true(slot + 2 <= le16(vt));
  vt[slot] = vt[slot + 1] = 0;
}

static void drop_plan(pte* p) {
  drop_field(method0(p), XNND_PROGRAM_Method_arena_size);
  drop_field(method0(p), XNND_PROGRAM_Method_value_offsets);
  drop_field(method0(p), XNND_PROGRAM_Method_output_copy_offsets);
}

static uint64_t stored_arena(const pte* p) {
  return fb_u64(method0(p), XNND_PROGRAM_Method_arena_size, 0);
}

/* Writable address of value v's stored offset. */
static uint8_t* stored_offset_addr(const pte* p, uint32_t v) {
  fb_vec offs = fb_vector(method0(p), XNND_PROGRAM_Method_value_offsets);
  assert_true(v < offs.len);
  return (uint8_t*)(uintptr_t)offs.data + 8 * (size_t)v;
}

static uint64_t stored_offset(const pte* p, uint32_t v) { return xnnd_le64(stored_offset_addr(p, v)); }

static void set_stored_offset(pte* p, uint32_t v, uint64_t off) {
  xnnd_put_le64(stored_offset_addr(p, v), off);
}

static xnnd_program* load_ok(const pte* p) {
  xnnd_program* prog = NULL;
  xnnd_error err = {0};
  if (load(p, p->size, NULL, &prog, &err) != XNND_OK) fail_msg("load: %s", err.message);
  return prog;
}

/* (a) The writer stores the plan the runtime's own algorithm gives (the same program without
 * its plan is planned at load), the runtime takes it from the file, and outputs agree. */
static void test_plan_written_at_lowering(void** state) {
  (void)state;
  for (int delegate = 0; delegate < 2; delegate++) {
    pte p = pte_make(delegate), q = pte_make(delegate);
    drop_plan(&q);
    assert_false(fb_has_field(method0(&q), XNND_PROGRAM_Method_value_offsets));
    xnnd_program* stored = load_ok(&p);
    xnnd_program* computed = load_ok(&q);
    const xnnd_method_decl* ms = &stored->methods[0];
    const xnnd_method_decl* mc = &computed->methods[0];
    assert_true(ms->planned_at_lowering);
    assert_false(mc->planned_at_lowering);
    assert_true(stored_arena(&p) > 0);
    assert_int_equal(stored_arena(&p), mc->arena_bytes);
    assert_int_equal(ms->arena_bytes, mc->arena_bytes);
    assert_int_equal(ms->tensor_bytes, mc->tensor_bytes);
    if (!delegate) assert_true(mc->arena_bytes < mc->tensor_bytes);  /* slots were reused */
    uint32_t planned = 0;
    for (uint32_t v = 0; v < mc->num_values; v++) {
      assert_int_equal(stored_offset(&p, v), mc->values[v].offset);
      assert_int_equal(ms->values[v].offset, mc->values[v].offset);
      planned += mc->values[v].offset != XNND_NO_OFFSET;
    }
    assert_true(planned >= (delegate ? 2u : 9u));
    fb_vec copies = fb_vector(method0(&p), XNND_PROGRAM_Method_output_copy_offsets);
    assert_int_equal(copies.len, 1);
    assert_int_equal((uint64_t)fb_vec_i64(copies, 0), XNND_NO_OFFSET);
    xnnd_method_info mi;
    assert_int_equal(xnnd_program_get_method_info(stored, 0, &mi), XNND_OK);
    assert_int_equal(mi.planned_at_lowering, 1);
    assert_int_equal(xnnd_program_get_method_info(computed, 0, &mi), XNND_OK);
    assert_int_equal(mi.planned_at_lowering, 0);
    xnnd_program_destroy(stored);
    xnnd_program_destroy(computed);
    /* (c) the program without a plan still runs, to the same outputs */
    float a[10], b[10];
    run_once(&p, a);
    run_once(&q, b);
    for (int i = 0; i < 10; i++) assert_true(a[i] == b[i]);
    pte_free(&p);
    pte_free(&q);
  }
}

/* A different valid plan (every slot 64 bytes higher) is used as stored, not recomputed. */
static void test_plan_from_file_is_used(void** state) {
  (void)state;
  pte p = pte_make(false), shifted = pte_make(false);
  uint32_t n = fb_vector(method0(&p), XNND_PROGRAM_Method_value_offsets).len;
  for (uint32_t v = 0; v < n; v++)
    if (stored_offset(&shifted, v) != XNND_NO_OFFSET)
      set_stored_offset(&shifted, v, stored_offset(&shifted, v) + 64);
  uint8_t* arena = field_addr(method0(&shifted), XNND_PROGRAM_Method_arena_size);
  xnnd_put_le64(arena, xnnd_le64(arena) + 64);
  xnnd_program* prog = load_ok(&shifted);
  const xnnd_method_decl* m = &prog->methods[0];
  assert_true(m->planned_at_lowering);
  assert_int_equal(m->arena_bytes, stored_arena(&p) + 64);
  for (uint32_t v = 0; v < n; v++) assert_int_equal(m->values[v].offset, stored_offset(&shifted, v));
  xnnd_program_destroy(prog);
  float a[10], b[10];
  run_once(&p, a);
  run_once(&shifted, b);
  for (int i = 0; i < 10; i++) assert_true(a[i] == b[i]);
  pte_free(&p);
  pte_free(&shifted);
}

/* Step s's first output and an input of it that a step wrote (both non-empty). */
static bool step_reads_written(const xnnd_method_decl* m, uint32_t s, uint32_t* in_out,
                               uint32_t* out_out) {
  const xnnd_step_decl* st = &m->steps[s];
  if (st->num_outputs == 0 || m->values[st->outputs[0]].nbytes == 0) return false;
  for (uint32_t i = 0; i < st->num_inputs; i++) {
    if (st->inputs[i] < 0) continue;
    const xnnd_value_decl* v = &m->values[st->inputs[i]];
    if (!(v->flags & XNND_VALUE_DEFINED) || v->nbytes == 0) continue;
    *in_out = (uint32_t)st->inputs[i];
    *out_out = st->outputs[0];
    return true;
  }
  return false;
}

/* (b) Each way a stored plan can be wrong, with its status and a message naming the value. */
static void test_corrupt_memory_plan(void** state) {
  (void)state;
  char want[160];
  pte p = pte_make(false);
  xnnd_program* prog = load_ok(&p);
  const xnnd_method_decl* m = &prog->methods[0];
  const uint64_t arena = m->arena_bytes;
  const uint32_t first = m->steps[0].outputs[0];   /* written by step 0 */
  const uint32_t input = m->inputs[0];
  uint32_t constant = UINT32_MAX, read = 0, written = 0;
  for (uint32_t v = 0; v < m->num_values && constant == UINT32_MAX; v++)
    if (m->values[v].constant >= 0) constant = v;
  bool found = false;
  for (uint32_t s = 1; s < m->num_steps && !found; s++) found = step_reads_written(m, s, &read, &written);
  assert_true(found && constant != UINT32_MAX);
  const uint64_t first_off = stored_offset(&p, first);
  xnnd_program_destroy(prog);
  pte_free(&p);

  /* a slot past the end of the arena, and one whose end would overflow */
  p = pte_make(false);
  set_stored_offset(&p, first, arena);
  snprintf(want, sizeof(want), "method \"forward\" value %u: planned slot [%llu, +", first,
           (unsigned long long)arena);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, want);
  set_stored_offset(&p, first, UINT64_MAX - 63);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "lies outside the");
  pte_free(&p);
  p = pte_make(false);
  xnnd_put_le64(field_addr(method0(&p), XNND_PROGRAM_Method_arena_size), 64);
  expect_load(&p, p.size, XNND_OUT_OF_RANGE, "lies outside the 64-byte arena");
  pte_free(&p);

  /* a misaligned offset */
  p = pte_make(false);
  set_stored_offset(&p, first, first_off + 8);
  snprintf(want, sizeof(want), "value %u: planned offset %llu is not a multiple of 64", first,
           (unsigned long long)first_off + 8);
  expect_load(&p, p.size, XNND_MISALIGNED, want);
  pte_free(&p);

  /* a step's output placed on top of an input it reads (both live at that step) */
  p = pte_make(false);
  set_stored_offset(&p, written, stored_offset(&p, read));
  snprintf(want, sizeof(want), "value %u: planned slot [%llu, +", written,
           (unsigned long long)stored_offset(&p, read));
  expect_load(&p, p.size, XNND_OVERLAP, want);
  snprintf(want, sizeof(want), "overlaps value %u [", read);
  expect_load(&p, p.size, XNND_OVERLAP, want);
  pte_free(&p);

  /* an arena above the method memory limit (every slot still inside it) */
  p = pte_make(false);
  xnnd_put_le64(field_addr(method0(&p), XNND_PROGRAM_Method_arena_size), (uint64_t)1 << 40);
  expect_load(&p, p.size, XNND_LIMIT_EXCEEDED, "plans 1099511627776 arena bytes");
  pte_free(&p);

  /* slots for what has none, none for what needs one, vectors of the wrong length */
  p = pte_make(false);
  set_stored_offset(&p, input, 0);
  snprintf(want, sizeof(want), "value %u: is a method input", input);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, want);
  pte_free(&p);
  p = pte_make(false);
  set_stored_offset(&p, constant, 0);
  snprintf(want, sizeof(want), "value %u: is a constant", constant);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, want);
  pte_free(&p);
  p = pte_make(false);
  set_stored_offset(&p, first, XNND_NO_OFFSET);
  snprintf(want, sizeof(want), "value %u: written by step 0 but the memory plan gives it no offset",
           first);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, want);
  pte_free(&p);
  p = pte_make(false);
  fb_vec offs = fb_vector(method0(&p), XNND_PROGRAM_Method_value_offsets);
  xnnd_put_le32(vec_len_addr(offs), offs.len - 1);
  snprintf(want, sizeof(want), "the memory plan has %u value offsets for %u values", offs.len - 1,
           offs.len);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, want);
  pte_free(&p);
  p = pte_make(false);
  drop_field(method0(&p), XNND_PROGRAM_Method_output_copy_offsets);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, "0 output copy offsets for 1 outputs");
  pte_free(&p);
  p = pte_make(false);
  fb_vec copies = fb_vector(method0(&p), XNND_PROGRAM_Method_output_copy_offsets);
  xnnd_put_le64((uint8_t*)(uintptr_t)copies.data, 0);
  expect_load(&p, p.size, XNND_INVALID_PROGRAM, "output 0: value");
  pte_free(&p);
}

/* ---- execute-time misuse ---- */

static void test_execute_misuse(void** state) {
  (void)state;
  pte p = pte_make(true);
  xnnd_program* prog = NULL;
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(&p, p.size, NULL, &prog, &err), XNND_OK);
  assert_int_equal(xnnd_method_create(prog, "forward", NULL, &m, &err), XNND_OK);
  static float x[3 * 16 * 16];
  static int32_t xi[3 * 16 * 16];
  xnnd_tensor good = {XNND_F32, 4, {1, 3, 16, 16}, x};

  assert_int_equal(xnnd_method_execute(m), XNND_INVALID_STATE);  /* nothing bound */
  assert_non_null(strstr(xnnd_method_errmsg(m), "input 0 (value"));
  assert_int_equal(xnnd_method_set_input(m, 1, &good), XNND_WRONG_INPUT_COUNT);
  assert_non_null(strstr(xnnd_method_errmsg(m), "has 1 inputs"));
  xnnd_tensor bad_shape = {XNND_F32, 4, {1, 3, 16, 15}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &bad_shape), XNND_SHAPE_MISMATCH);
  assert_non_null(strstr(xnnd_method_errmsg(m), "expected f32[1,3,16,16], got f32[1,3,16,15]"));
  xnnd_tensor bad_rank = {XNND_F32, 3, {3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &bad_rank), XNND_SHAPE_MISMATCH);
  xnnd_tensor wild_rank = {XNND_F32, 1000, {1, 3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &wild_rank), XNND_SHAPE_MISMATCH);
  xnnd_tensor bad_dtype = {XNND_I32, 4, {1, 3, 16, 16}, xi};
  assert_int_equal(xnnd_method_set_input(m, 0, &bad_dtype), XNND_DTYPE_MISMATCH);
  assert_non_null(strstr(xnnd_method_errmsg(m), "got dtype i32"));
  xnnd_tensor wild_dtype = {(xnnd_dtype)77, 4, {1, 3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &wild_dtype), XNND_DTYPE_MISMATCH);
  assert_int_equal(xnnd_method_execute(m), XNND_INVALID_STATE);  /* still nothing bound */

  assert_int_equal(xnnd_method_set_input(m, 0, &good), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 1, &out), XNND_INVALID_ARGUMENT);
  xnnd_method_destroy(m);
  xnnd_program_destroy(prog);
  pte_free(&p);
}


/* ---- bundled programs (include/xnnd/bundle.h) ---- */

/* Bundle bytes around the convnet: one case, input x, expected output `want` (10 floats),
 * atol/rtol. Layout offsets into the result, for patching: */
enum { B_PROG = 64 };
typedef struct bundle_img {
  uint8_t* data;
  size_t size;
  size_t cases_off, expected_data_off, tol_off, input_dtype_off;
} bundle_img;

static size_t put(uint8_t* b, size_t at, const void* src, size_t n) {
  memcpy(b + at, src, n);
  return at + n;
}

static bundle_img make_bundle(const pte* p, const float* x, const float* want, double atol,
                              double rtol) {
  bundle_img img;
  size_t in_bytes = 3 * 16 * 16 * 4, out_bytes = 10 * 4;
  img.cases_off = (B_PROG + p->size + 7) & ~(size_t)7;
  size_t cases_size = 8 + (8 + 4 * 8 + 8 + in_bytes) + (8 + 2 * 8 + 16 + 8 + out_bytes);
  img.size = img.cases_off + cases_size;
  assert_int_equal(posix_memalign((void**)&img.data, 64, img.size), 0);
  memset(img.data, 0, img.size);
  memcpy(img.data, "XNDBNDL", 8);
  xnnd_put_le32(img.data + 8, 1);
  xnnd_put_le32(img.data + 12, 64);
  xnnd_put_le64(img.data + 16, B_PROG);
  xnnd_put_le64(img.data + 24, p->size);
  xnnd_put_le64(img.data + 32, img.cases_off);
  xnnd_put_le64(img.data + 40, cases_size);
  xnnd_put_le32(img.data + 48, 1);
  memcpy(img.data + B_PROG, p->data, p->size);
  size_t at = img.cases_off;
  uint8_t w[8];
  xnnd_put_le32(w, 1), xnnd_put_le32(w + 4, 1);
  at = put(img.data, at, w, 8);                          /* 1 input, 1 output */
  img.input_dtype_off = at;
  xnnd_put_le32(w, XNND_F32), xnnd_put_le32(w + 4, 4);
  at = put(img.data, at, w, 8);
  const int64_t xd[4] = {1, 3, 16, 16};
  for (int d = 0; d < 4; d++) xnnd_put_le64(img.data + at + 8 * (size_t)d, (uint64_t)xd[d]);
  at += 32;
  xnnd_put_le64(img.data + at, in_bytes);
  at = put(img.data, at + 8, x, in_bytes);
  xnnd_put_le32(w, XNND_F32), xnnd_put_le32(w + 4, 2);
  at = put(img.data, at, w, 8);
  xnnd_put_le64(img.data + at, 1), xnnd_put_le64(img.data + at + 8, 10);
  at += 16;
  img.tol_off = at;
  at = put(img.data, at, &atol, 8);  /* little-endian host */
  at = put(img.data, at, &rtol, 8);
  xnnd_put_le64(img.data + at, out_bytes);
  img.expected_data_off = at + 8;
  at = put(img.data, at + 8, want, out_bytes);
  assert_int_equal(at, img.size);
  return img;
}

static void expect_bundle(const bundle_img* img, size_t size, xnnd_status want, const char* needle) {
  xnnd_bundle* b = (xnnd_bundle*)1;
  xnnd_error err = {0};
  xnnd_load_options o = {.allocator = &test_allocator};
  xnnd_status st = xnnd_bundle_load_buffer(img->data, size, &o, &b, &err);
  if (st != want)
    fail_msg("bundle: expected %s, got %s: %s", xnnd_status_str(want), xnnd_status_str(st), err.message);
  assert_null(b);
  if (needle && !strstr(err.message, needle)) fail_msg("message \"%s\" lacks \"%s\"", err.message, needle);
}

static void test_bundle_verifies_and_detects_mismatch(void** state) {
  (void)state;
  pte p = pte_make(true);
  static float x[3 * 16 * 16];
  xt_fill_uniform(x, 3 * 16 * 16, 9);
  float want[10];
  run_once(&p, want);  /* the same input as run_once uses */
  bundle_img img = make_bundle(&p, x, want, 1e-5, 1e-4);

  xnnd_load_options o = {.allocator = &test_allocator};
  xnnd_bundle* b = NULL;
  xnnd_error err = {0};
  if (xnnd_bundle_load_buffer(img.data, img.size, &o, &b, &err) != XNND_OK) fail_msg("%s", err.message);
  assert_int_equal(xnnd_bundle_num_cases(b), 1);
  assert_int_equal(xnnd_program_method_count(xnnd_bundle_program(b)), 1);
  xnnd_bundle_output_stats stats[2];
  uint32_t n = 0;
  bool passed = false;
  assert_int_equal(xnnd_bundle_verify(b, NULL, NULL, stats, 2, &n, &passed, &err), XNND_OK);
  assert_true(passed);
  assert_int_equal(n, 1);
  assert_int_equal(stats[0].numel, 10);
  assert_int_equal(stats[0].num_over_tolerance, 0);
  assert_true(stats[0].max_abs_error <= 1e-5);
  xnnd_bundle_destroy(b);

  /* tamper with one expected value: verification fails and says by how much */
  float bad = want[3] + 0.25f;
  memcpy(img.data + img.expected_data_off + 12, &bad, 4);
  assert_int_equal(xnnd_bundle_load_buffer(img.data, img.size, &o, &b, &err), XNND_OK);
  assert_int_equal(xnnd_bundle_verify(b, "forward", NULL, stats, 2, &n, &passed, &err), XNND_OK);
  assert_false(passed);
  assert_int_equal(stats[0].num_over_tolerance, 1);
  assert_float_equal(stats[0].max_abs_error, 0.25, 1e-4);
  /* run_case on a method of one's own */
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(xnnd_bundle_program(b), "forward", NULL, &m, &err), XNND_OK);
  assert_int_equal(xnnd_bundle_run_case(b, m, 0, stats, 1, &passed, &err), XNND_OK);
  assert_false(passed);
  assert_int_equal(xnnd_bundle_run_case(b, m, 1, stats, 1, &passed, &err), XNND_INVALID_ARGUMENT);
  xnnd_method_destroy(m);
  xnnd_bundle_destroy(b);
  free(img.data);
  pte_free(&p);
}

static void test_bundle_corruption(void** state) {
  (void)state;
  pte p = pte_make(true);
  static float x[3 * 16 * 16];
  float want[10] = {0};
  bundle_img img = make_bundle(&p, x, want, 1e-5, 1e-4);
  expect_bundle(&img, 40, XNND_TRUNCATED, NULL);
  expect_bundle(&img, img.size - 1, XNND_TRUNCATED, "cases [");
  img.data[0] = 'Y';
  expect_bundle(&img, img.size, XNND_BAD_MAGIC, "bundle: magic");
  img.data[0] = 'X';
  xnnd_put_le32(img.data + 8, 3);
  expect_bundle(&img, img.size, XNND_UNSUPPORTED_VERSION, "bundle: format version 3");
  xnnd_put_le32(img.data + 8, 1);
  img.data[60] = 1;
  expect_bundle(&img, img.size, XNND_MALFORMED, "reserved header byte 60");
  img.data[60] = 0;
  xnnd_put_le64(img.data + 16, 72);
  expect_bundle(&img, img.size, XNND_MISALIGNED, "program offset 72");
  xnnd_put_le64(img.data + 16, 0);
  expect_bundle(&img, img.size, XNND_OVERLAP, "overlaps the header");
  xnnd_put_le64(img.data + 16, B_PROG);
  xnnd_put_le64(img.data + 32, img.cases_off - 8);
  expect_bundle(&img, img.size, XNND_OVERLAP, "overlap the program");
  xnnd_put_le64(img.data + 32, img.cases_off);
  xnnd_put_le32(img.data + 48, 5000);
  expect_bundle(&img, img.size, XNND_LIMIT_EXCEEDED, "5000 cases");
  xnnd_put_le32(img.data + 48, 2);
  expect_bundle(&img, img.size, XNND_TRUNCATED, "case 1 header");
  xnnd_put_le32(img.data + 48, 0);
  expect_bundle(&img, img.size, XNND_MALFORMED, "after the last case");
  xnnd_put_le32(img.data + 48, 1);
  xnnd_put_le32(img.data + img.input_dtype_off, 9);
  expect_bundle(&img, img.size, XNND_INVALID_PROGRAM, "case 0 input 0: dtype 9");
  xnnd_put_le32(img.data + img.input_dtype_off, XNND_I64);
  expect_bundle(&img, img.size, XNND_INVALID_PROGRAM, "i64[1,3,16,16] needs 6144 bytes, the record says 3072");
  xnnd_put_le32(img.data + img.input_dtype_off, XNND_F32);
  xnnd_put_le32(img.data + img.input_dtype_off + 4, 9);
  expect_bundle(&img, img.size, XNND_LIMIT_EXCEEDED, "rank 9");
  xnnd_put_le32(img.data + img.input_dtype_off + 4, 4);
  double neg = -1;
  memcpy(img.data + img.tol_off, &neg, 8);
  expect_bundle(&img, img.size, XNND_INVALID_PROGRAM, "expected output 0: tolerances");
  double ok = 1e-5;
  memcpy(img.data + img.tol_off, &ok, 8);
  img.data[B_PROG + 1] = 'Q';  /* the embedded program's magic */
  expect_bundle(&img, img.size, XNND_BAD_MAGIC, "bundle: embedded program: header: magic");
  img.data[B_PROG + 1] = 'N';
  /* a dim that disagrees with the stored byte count */
  xnnd_put_le64(img.data + img.input_dtype_off + 8 + 24, 8);  /* W 16 -> 8, nbytes stays */
  expect_bundle(&img, img.size, XNND_INVALID_PROGRAM, "needs 1536 bytes");
  free(img.data);
  pte_free(&p);
}

/* Issue 16: which single-byte flips of a bundle still verify. Version 1 (no checksum): every
 * byte of the structure and every third byte of the data regions is flipped (lowest bit, the
 * smallest change) and the bundle loaded and verified; flips that still pass are
 * counted per region and printed, and none may be in the structure (bundle header, case and
 * tensor records). Version 2: every byte flipped two ways (bit 0, bit 7) is refused at load. */
typedef struct flip_region {
  const char* name;
  size_t begin, end;
  uint32_t flipped, passed;
  bool structural;
} flip_region;

static bool bundle_passes(const uint8_t* data, size_t size) {
  xnnd_load_options o = {.allocator = &test_allocator};
  xnnd_bundle* b = NULL;
  xnnd_error err = {0};
  if (xnnd_bundle_load_buffer(data, size, &o, &b, &err) != XNND_OK) return false;
  xnnd_bundle_output_stats stats[4];
  uint32_t n = 0;
  bool passed = false;
  xnnd_status st = xnnd_bundle_verify(b, NULL, NULL, stats, 4, &n, &passed, &err);
  xnnd_bundle_destroy(b);
  return st == XNND_OK && passed;
}

static void test_bundle_byte_flips(void** state) {
  (void)state;
  pte p = pte_make(true);
  static float x[3 * 16 * 16];
  xt_fill_uniform(x, 3 * 16 * 16, 9);
  float want[10];
  run_once(&p, want);
  bundle_img img = make_bundle(&p, x, want, 1e-5, 1e-4);
  assert_true(bundle_passes(img.data, img.size));

  const size_t prog = B_PROG;
  const xnnd_pte_header* h = &p.h;
  const size_t in_data = img.input_dtype_off + 8 + 32 + 8;
  flip_region r[] = {
      {"bundle header", 0, 64, 0, 0, true},
      {"program: .pte header", prog, prog + 64, 0, 0, false},
      {"program: flatbuffer", prog + h->program_offset, prog + h->program_offset + h->program_size, 0, 0, false},
      {"program: constant segment", prog + h->constant_offset, prog + h->constant_offset + h->constant_size, 0, 0, false},
      {"program: delegate blobs", prog + h->delegate_offset, prog + h->delegate_offset + h->delegate_size, 0, 0, false},
      {"case and tensor records", img.cases_off, in_data, 0, 0, true},
      {"input data", in_data, in_data + 3 * 16 * 16 * 4, 0, 0, false},
      {"expected record", in_data + 3 * 16 * 16 * 4, img.tol_off, 0, 0, true},
      {"tolerances", img.tol_off, img.tol_off + 16, 0, 0, false},
      {"expected size", img.tol_off + 16, img.expected_data_off, 0, 0, true},
      {"expected data", img.expected_data_off, img.size, 0, 0, false},
      {"padding between regions", 0, 0, 0, 0, false},
  };
  const size_t nr = sizeof(r) / sizeof(r[0]);
  for (size_t i = 0; i < img.size; i++) {
    size_t k = nr - 1;
    for (size_t j = 0; j + 1 < nr; j++)
      if (i >= r[j].begin && i < r[j].end) k = j;
    if (!r[k].structural && r[k].end - r[k].begin > 256 && i % 3 != 0) continue;
    img.data[i] ^= 0x01;
    r[k].flipped++;
    if (bundle_passes(img.data, img.size)) r[k].passed++;
    img.data[i] ^= 0x01;
  }
  print_message("version 1 bundle, %zu bytes, flipped in bit 0: flips that still verify\n", img.size);
  uint32_t structural_passes = 0;
  for (size_t j = 0; j < nr; j++) {
    print_message("  %-26s %6u flipped %6u still verify\n", r[j].name, r[j].flipped, r[j].passed);
    if (r[j].structural) structural_passes += r[j].passed;
  }
  assert_int_equal(structural_passes, 0);

  /* Version 2: the checksum catches every flip, before anything else is read. */
  xnnd_put_le32(img.data + 8, 2);
  xnnd_put_le64(img.data + 56, xnnd_bundle_checksum(img.data, img.size));
  assert_true(bundle_passes(img.data, img.size));
  uint32_t refused = 0;
  for (size_t i = 0; i < img.size; i++) {
    for (int bit = 0; bit < 8; bit += 7) {
      img.data[i] ^= (uint8_t)(1u << bit);
      xnnd_load_options o = {.allocator = &test_allocator};
      xnnd_bundle* b = NULL;
      xnnd_error err = {0};
      xnnd_status st = xnnd_bundle_load_buffer(img.data, img.size, &o, &b, &err);
      if (st == XNND_OK) fail_msg("version 2: flipping bit %d of byte %zu still loads", bit, i);
      refused++;
      img.data[i] ^= (uint8_t)(1u << bit);
    }
  }
  print_message("version 2 bundle: %u of %u single-bit flips refused at load\n", refused,
                (unsigned)(2 * img.size));
  expect_bundle(&img, img.size - 8, XNND_MALFORMED, "checksum");  /* cut: checksum first */
  free(img.data);
  pte_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_intact_programs_run),
      cmocka_unit_test(test_truncated_file),
      cmocka_unit_test(test_bad_magic),
      cmocka_unit_test(test_bad_flatbuffer_identifier),
      cmocka_unit_test(test_future_version),
      cmocka_unit_test(test_overlapping_segments),
      cmocka_unit_test(test_misaligned_segments),
      cmocka_unit_test(test_value_index_out_of_range),
      cmocka_unit_test(test_constant_index_out_of_range),
      cmocka_unit_test(test_delegate_index_out_of_range),
      cmocka_unit_test(test_operator_index_out_of_range),
      cmocka_unit_test(test_program_blob_shape_mismatch),
      cmocka_unit_test(test_program_blob_dtype_mismatch),
      cmocka_unit_test(test_int8_bias_scale),
      cmocka_unit_test(test_unknown_op_name),
      cmocka_unit_test(test_unknown_backend_name),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_plan_written_at_lowering),
      cmocka_unit_test(test_plan_from_file_is_used),
      cmocka_unit_test(test_corrupt_memory_plan),
      cmocka_unit_test(test_execute_misuse),
      cmocka_unit_test(test_bundle_verifies_and_detects_mismatch),
      cmocka_unit_test(test_bundle_corruption),
      cmocka_unit_test(test_bundle_byte_flips),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
