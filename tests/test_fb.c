/* Tests for schema/fb.c: builder round trips for both schemas read back field by field,
 * verifier error codes and paths, builder misuse and OOM, and robustness of the verifier
 * and readers against every truncation and single-byte corruption of valid buffers. */
#include "test_support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fb_builder.h"
#include "program_generated.h"
#include "xnnpack_generated.h"

#define P(id) XNND_PROGRAM_##id
#define X(id) XNND_XNNPACK_##id
#define N_ELEMS(a) ((uint32_t)(sizeof(a) / sizeof((a)[0])))

/* ---------------------------------------------------------------- allocator hooks */

static void* t_alloc(void* ctx, size_t size, size_t alignment) {
  (void)ctx;
  assert_true(alignment <= 8);
  return test_malloc(size);
}

static void t_free(void* ctx, void* p) {
  (void)ctx;
  test_free(p);
}

static const xnnd_allocator test_allocator = {NULL, t_alloc, t_free};

/* Fails once `budget` allocations have succeeded. */
typedef struct failing_ctx {
  int budget;
} failing_ctx;

static void* failing_alloc(void* ctx, size_t size, size_t alignment) {
  failing_ctx* f = ctx;
  (void)alignment;
  if (f->budget <= 0) return NULL;
  f->budget--;
  return test_malloc(size);
}

/* ---------------------------------------------------------------- small helpers */

static fb_ref str(fb_builder* b, const char* s) { return fb_create_string(b, s, strlen(s)); }

/* Copy into exactly-sized heap memory so valgrind catches any read past the end. */
static uint8_t* exact_copy(const uint8_t* data, size_t size) {
  uint8_t* p = test_malloc(size ? size : 1);
  if (size) memcpy(p, data, size);
  return p;
}

/* Address of a present field's inline bytes (test-only peek into the wire format). */
static uint8_t* field_ptr(uint8_t* buf, fb_table t, uint32_t id) {
  int32_t soff;
  memcpy(&soff, t, 4);
  const uint8_t* vt = t - soff;
  uint16_t off;
  memcpy(&off, vt + 4 + 2 * id, 2);
  assert_int_not_equal(off, 0);
  return buf + ((t - buf) + off);
}

static uint32_t get_u32(const uint8_t* p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void put_u32(uint8_t* p, uint32_t v) { memcpy(p, &v, 4); }

/* ---------------------------------------------------------------- the Program model */

static const int32_t k_dims0[] = {1, 3, 8, 8};
static const int32_t k_dims1[] = {4, 3, 3, 3};
static const int32_t k_dims2[] = {4};
static const int32_t k_dims3[] = {1, 4, 6, 6};
static const float k_scale1[] = {0.5f, 0.25f, 0.125f, 1.0f};
static const int32_t k_zp1[] = {0, 1, -1, 2};
static const float k_scale5[] = {0.02f};
static const int32_t k_zp5[] = {128};
static const uint32_t k_method_inputs[] = {0};
static const uint32_t k_method_outputs[] = {5};
static const char* const k_operators[] = {"aten::convolution", "aten::relu"};
static const int32_t k_kc0_inputs[] = {0, 1, 2};
static const uint32_t k_kc0_outputs[] = {3};
static const int64_t k_stride[] = {1, -2, INT64_MAX};
static const int32_t k_kc2_inputs[] = {-1, 3};
static const uint32_t k_kc2_outputs[] = {5};
static const uint32_t k_dc_inputs[] = {3, 4};
static const uint32_t k_dc_outputs[] = {4};
static const uint8_t k_spec_value[] = {4, 0, 0, 0, 255};

static fb_ref build_tensor(fb_builder* b, int8_t dtype, const int32_t* dims, uint32_t rank,
                           fb_ref quant, int32_t constant) {
  fb_ref d = fb_create_vector(b, dims, rank, sizeof(int32_t));
  fb_table_start(b);
  fb_add_i8(b, P(Tensor_dtype), dtype, 0);
  fb_add_ref(b, P(Tensor_dims), d);
  fb_add_ref(b, P(Tensor_quant), quant);
  fb_add_i32(b, P(Tensor_constant), constant, -1);
  return fb_table_end(b);
}

static fb_ref build_quant(fb_builder* b, const float* scale, const int32_t* zp, uint32_t n,
                          int32_t axis) {
  fb_ref s = fb_create_vector(b, scale, n, sizeof(float));
  fb_ref z = fb_create_vector(b, zp, n, sizeof(int32_t));
  fb_table_start(b);
  fb_add_ref(b, P(QuantParams_scale), s);
  fb_add_ref(b, P(QuantParams_zero_point), z);
  fb_add_i32(b, P(QuantParams_axis), axis, -1);
  return fb_table_end(b);
}

static fb_ref build_attr(fb_builder* b, const char* name, uint8_t kind, int64_t i, double f,
                         const int64_t* ints, uint32_t nints) {
  fb_ref n = str(b, name);
  fb_ref v = ints ? fb_create_vector(b, ints, nints, sizeof(int64_t)) : 0;
  fb_table_start(b);
  fb_add_ref(b, P(Attr_name), n);
  fb_add_u8(b, P(Attr_kind), kind, 0);
  fb_add_i64(b, P(Attr_i), i, 0);
  fb_add_f64(b, P(Attr_f), f, 0.0);
  fb_add_ref(b, P(Attr_ints), v);
  return fb_table_end(b);
}

static fb_ref build_step(fb_builder* b, uint8_t type, fb_ref instruction) {
  fb_table_start(b);
  fb_add_u8(b, P(Step_instruction_type), type, 0);
  fb_add_ref(b, P(Step_instruction), instruction);
  return fb_table_end(b);
}

static fb_ref build_kernel_call(fb_builder* b, uint32_t op, const int32_t* in, uint32_t nin,
                                const uint32_t* out, uint32_t nout, const fb_ref* attrs,
                                uint32_t nattrs) {
  fb_ref i = fb_create_vector(b, in, nin, 4);
  fb_ref o = fb_create_vector(b, out, nout, 4);
  fb_ref a = attrs ? fb_create_ref_vector(b, attrs, nattrs) : 0;
  fb_table_start(b);
  fb_add_u32(b, P(KernelCall_op), op, 0);
  fb_add_ref(b, P(KernelCall_inputs), i);
  fb_add_ref(b, P(KernelCall_outputs), o);
  fb_add_ref(b, P(KernelCall_attrs), a);
  return fb_table_end(b);
}

/* Program{version 7, one Method "forward" with six values, three steps (KernelCall with
 * four attrs, DelegateCall, KernelCall), two delegates, two constants}. */
static fb_ref build_program(fb_builder* b) {
  fb_ref values[6];
  values[0] = build_tensor(b, P(ScalarType_F32), k_dims0, 4, 0, -1);
  fb_ref q1 = build_quant(b, k_scale1, k_zp1, 4, 0);
  values[1] = build_tensor(b, P(ScalarType_I8), k_dims1, 4, q1, 0);
  values[2] = build_tensor(b, P(ScalarType_F32), k_dims2, 1, 0, 1);
  values[3] = build_tensor(b, P(ScalarType_F32), k_dims3, 4, 0, -1);
  values[4] = build_tensor(b, P(ScalarType_I64), NULL, 0, 0, -1);
  fb_ref q5 = build_quant(b, k_scale5, k_zp5, 1, -1);
  values[5] = build_tensor(b, P(ScalarType_U8), k_dims3, 4, q5, -1);
  fb_ref vals = fb_create_ref_vector(b, values, 6);

  fb_ref attrs[4];
  attrs[0] = build_attr(b, "stride", P(AttrKind_INTS), 0, 0.0, k_stride, N_ELEMS(k_stride));
  attrs[1] = build_attr(b, "alpha", P(AttrKind_FLOAT), 0, 0.1, NULL, 0);
  attrs[2] = build_attr(b, "flag", P(AttrKind_BOOL), 1, 0.0, NULL, 0);
  attrs[3] = build_attr(b, "big", P(AttrKind_INT), INT64_MIN + 1, 0.0, NULL, 0);
  fb_ref steps[3];
  fb_ref kc0 = build_kernel_call(b, 0, k_kc0_inputs, 3, k_kc0_outputs, 1, attrs, 4);
  steps[0] = build_step(b, P(Instruction_KernelCall), kc0);
  fb_ref dci = fb_create_vector(b, k_dc_inputs, 2, 4);
  fb_ref dco = fb_create_vector(b, k_dc_outputs, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, P(DelegateCall_delegate), 1, 0);
  fb_add_ref(b, P(DelegateCall_inputs), dci);
  fb_add_ref(b, P(DelegateCall_outputs), dco);
  steps[1] = build_step(b, P(Instruction_DelegateCall), fb_table_end(b));
  fb_ref kc2 = build_kernel_call(b, 1, k_kc2_inputs, 2, k_kc2_outputs, 1, NULL, 0);
  steps[2] = build_step(b, P(Instruction_KernelCall), kc2);
  fb_ref stepv = fb_create_ref_vector(b, steps, 3);

  fb_ref ops[2] = {str(b, k_operators[0]), str(b, k_operators[1])};
  fb_ref opv = fb_create_ref_vector(b, ops, 2);
  fb_ref name = str(b, "forward");
  fb_ref in = fb_create_vector(b, k_method_inputs, 1, 4);
  fb_ref out = fb_create_vector(b, k_method_outputs, 1, 4);
  fb_table_start(b);
  fb_add_ref(b, P(Method_name), name);
  fb_add_ref(b, P(Method_values), vals);
  fb_add_ref(b, P(Method_inputs), in);
  fb_add_ref(b, P(Method_outputs), out);
  fb_add_ref(b, P(Method_operators), opv);
  fb_add_ref(b, P(Method_steps), stepv);
  fb_ref method = fb_table_end(b);
  fb_ref methods = fb_create_ref_vector(b, &method, 1);

  fb_ref delegates[2];
  fb_ref key = str(b, "threads");
  fb_ref value = fb_create_vector(b, k_spec_value, N_ELEMS(k_spec_value), 1);
  fb_table_start(b);
  fb_add_ref(b, P(CompileSpec_key), key);
  fb_add_ref(b, P(CompileSpec_value), value);
  fb_ref spec = fb_table_end(b);
  fb_ref specs = fb_create_ref_vector(b, &spec, 1);
  fb_ref backend = str(b, "XnnpackBackend");
  fb_table_start(b);
  fb_add_ref(b, P(BackendDelegate_backend), backend);
  fb_add_ref(b, P(BackendDelegate_compile_specs), specs);
  fb_add_u64(b, P(BackendDelegate_offset), 0, 0);
  fb_add_u64(b, P(BackendDelegate_size), 1344, 0);
  delegates[0] = fb_table_end(b);
  backend = str(b, "XnnpackBackend");
  fb_table_start(b);
  fb_add_ref(b, P(BackendDelegate_backend), backend);
  fb_add_u64(b, P(BackendDelegate_offset), 1408, 0);
  fb_add_u64(b, P(BackendDelegate_size), UINT64_C(0x100000000), 0);
  delegates[1] = fb_table_end(b);
  fb_ref delv = fb_create_ref_vector(b, delegates, 2);

  fb_ref consts[2];
  fb_table_start(b);
  fb_add_u64(b, P(ConstantBuffer_offset), 0, 0);
  fb_add_u64(b, P(ConstantBuffer_size), 432, 0);
  consts[0] = fb_table_end(b);
  fb_table_start(b);
  fb_add_u64(b, P(ConstantBuffer_offset), 448, 0);
  fb_add_u64(b, P(ConstantBuffer_size), 16, 0);
  consts[1] = fb_table_end(b);
  fb_ref constv = fb_create_ref_vector(b, consts, 2);

  fb_table_start(b);
  fb_add_u32(b, P(Program_version), 7, 0);
  fb_add_ref(b, P(Program_methods), methods);
  fb_add_ref(b, P(Program_delegates), delv);
  fb_add_ref(b, P(Program_constants), constv);
  return fb_table_end(b);
}

static void check_i32_vec(fb_vec v, const int32_t* want, uint32_t n) {
  assert_int_equal(v.len, n);
  for (uint32_t i = 0; i < n; i++) assert_int_equal(fb_vec_i32(v, i), want[i]);
}

static void check_u32_vec(fb_vec v, const uint32_t* want, uint32_t n) {
  assert_int_equal(v.len, n);
  for (uint32_t i = 0; i < n; i++) assert_int_equal(fb_vec_u32(v, i), want[i]);
}

static void check_f32_vec(fb_vec v, const float* want, uint32_t n) {
  assert_int_equal(v.len, n);
  for (uint32_t i = 0; i < n; i++) assert_true(fb_vec_f32(v, i) == want[i]);
}

static void check_tensor(fb_table t, int8_t dtype, const int32_t* dims, uint32_t rank,
                         int32_t constant) {
  assert_non_null(t);
  assert_int_equal(fb_i8(t, P(Tensor_dtype), 0), dtype);
  assert_true(fb_has_field(t, P(Tensor_dims)));
  check_i32_vec(fb_vector(t, P(Tensor_dims)), dims, rank);
  assert_int_equal(fb_i32(t, P(Tensor_constant), -1), constant);
}

static void check_string(const char* got, uint32_t len, const char* want) {
  assert_int_equal(len, strlen(want));
  assert_string_equal(got, want);
  assert_int_equal(got[len], '\0');
}

static void check_str(fb_table t, uint32_t id, const char* want) {
  uint32_t len = 0;
  const char* got = fb_string(t, id, &len);
  check_string(got, len, want);
}

static void check_program(const uint8_t* buf) {
  fb_table prog = fb_root(buf);
  assert_int_equal(fb_u32(prog, P(Program_version), 0), 7);
  fb_vec methods = fb_vector(prog, P(Program_methods));
  assert_int_equal(methods.len, 1);
  fb_table m = fb_vec_table(methods, 0);
  uint32_t len;
  check_str(m, P(Method_name), "forward");

  fb_vec values = fb_vector(m, P(Method_values));
  assert_int_equal(values.len, 6);
  check_tensor(fb_vec_table(values, 0), P(ScalarType_F32), k_dims0, 4, -1);
  assert_false(fb_has_field(fb_vec_table(values, 0), P(Tensor_quant)));
  assert_false(fb_has_field(fb_vec_table(values, 0), P(Tensor_dtype))); /* default F32 */
  assert_false(fb_has_field(fb_vec_table(values, 0), P(Tensor_constant)));
  fb_table v1 = fb_vec_table(values, 1);
  check_tensor(v1, P(ScalarType_I8), k_dims1, 4, 0);
  fb_table q1 = fb_table_field(v1, P(Tensor_quant));
  assert_non_null(q1);
  check_f32_vec(fb_vector(q1, P(QuantParams_scale)), k_scale1, 4);
  check_i32_vec(fb_vector(q1, P(QuantParams_zero_point)), k_zp1, 4);
  assert_int_equal(fb_i32(q1, P(QuantParams_axis), -1), 0);
  assert_true(fb_has_field(q1, P(QuantParams_axis))); /* 0 is not the default */
  check_tensor(fb_vec_table(values, 2), P(ScalarType_F32), k_dims2, 1, 1);
  check_tensor(fb_vec_table(values, 3), P(ScalarType_F32), k_dims3, 4, -1);
  check_tensor(fb_vec_table(values, 4), P(ScalarType_I64), NULL, 0, -1);
  fb_table v5 = fb_vec_table(values, 5);
  check_tensor(v5, P(ScalarType_U8), k_dims3, 4, -1);
  fb_table q5 = fb_table_field(v5, P(Tensor_quant));
  check_f32_vec(fb_vector(q5, P(QuantParams_scale)), k_scale5, 1);
  check_i32_vec(fb_vector(q5, P(QuantParams_zero_point)), k_zp5, 1);
  assert_false(fb_has_field(q5, P(QuantParams_axis)));
  assert_int_equal(fb_i32(q5, P(QuantParams_axis), -1), -1);
  assert_null(fb_vec_table(values, 6)); /* out of range index */

  check_u32_vec(fb_vector(m, P(Method_inputs)), k_method_inputs, 1);
  check_u32_vec(fb_vector(m, P(Method_outputs)), k_method_outputs, 1);
  fb_vec ops = fb_vector(m, P(Method_operators));
  assert_int_equal(ops.len, 2);
  for (uint32_t i = 0; i < 2; i++) {
    const char* s = fb_vec_string(ops, i, &len);
    check_string(s, len, k_operators[i]);
  }
  assert_string_equal(fb_vec_string(ops, 2, &len), "");
  assert_int_equal(len, 0);

  fb_vec steps = fb_vector(m, P(Method_steps));
  assert_int_equal(steps.len, 3);
  fb_table s0 = fb_vec_table(steps, 0);
  assert_int_equal(fb_u8(s0, P(Step_instruction_type), 0), P(Instruction_KernelCall));
  fb_table kc0 = fb_table_field(s0, P(Step_instruction));
  assert_int_equal(fb_u32(kc0, P(KernelCall_op), 0), 0);
  assert_false(fb_has_field(kc0, P(KernelCall_op)));
  check_i32_vec(fb_vector(kc0, P(KernelCall_inputs)), k_kc0_inputs, 3);
  check_u32_vec(fb_vector(kc0, P(KernelCall_outputs)), k_kc0_outputs, 1);
  fb_vec attrs = fb_vector(kc0, P(KernelCall_attrs));
  assert_int_equal(attrs.len, 4);
  fb_table a0 = fb_vec_table(attrs, 0);
  check_str(a0, P(Attr_name), "stride");
  assert_int_equal(fb_u8(a0, P(Attr_kind), 0), P(AttrKind_INTS));
  fb_vec ints = fb_vector(a0, P(Attr_ints));
  assert_int_equal(ints.len, 3);
  assert_true(((uintptr_t)ints.data & 7) == 0);
  for (uint32_t i = 0; i < 3; i++) assert_true(fb_vec_i64(ints, i) == k_stride[i]);
  fb_table a1 = fb_vec_table(attrs, 1);
  check_str(a1, P(Attr_name), "alpha");
  assert_int_equal(fb_u8(a1, P(Attr_kind), 0), P(AttrKind_FLOAT));
  assert_true(fb_f64(a1, P(Attr_f), 0.0) == 0.1);
  assert_false(fb_has_field(a1, P(Attr_i)));
  assert_false(fb_has_field(a1, P(Attr_ints)));
  assert_int_equal(fb_vector(a1, P(Attr_ints)).len, 0);
  assert_null(fb_vector(a1, P(Attr_ints)).data);
  fb_table a2 = fb_vec_table(attrs, 2);
  assert_int_equal(fb_u8(a2, P(Attr_kind), 0), P(AttrKind_BOOL));
  assert_true(fb_i64(a2, P(Attr_i), 0) == 1);
  fb_table a3 = fb_vec_table(attrs, 3);
  check_str(a3, P(Attr_name), "big");
  assert_true(fb_i64(a3, P(Attr_i), 0) == INT64_MIN + 1);
  assert_true(fb_u64(a3, P(Attr_i), 0) == (uint64_t)(INT64_MIN + 1));

  fb_table s1 = fb_vec_table(steps, 1);
  assert_int_equal(fb_u8(s1, P(Step_instruction_type), 0), P(Instruction_DelegateCall));
  fb_table dc = fb_table_field(s1, P(Step_instruction));
  assert_int_equal(fb_u32(dc, P(DelegateCall_delegate), 0), 1);
  check_u32_vec(fb_vector(dc, P(DelegateCall_inputs)), k_dc_inputs, 2);
  check_u32_vec(fb_vector(dc, P(DelegateCall_outputs)), k_dc_outputs, 1);
  fb_table s2 = fb_vec_table(steps, 2);
  fb_table kc2 = fb_table_field(s2, P(Step_instruction));
  assert_int_equal(fb_u32(kc2, P(KernelCall_op), 0), 1);
  check_i32_vec(fb_vector(kc2, P(KernelCall_inputs)), k_kc2_inputs, 2);
  check_u32_vec(fb_vector(kc2, P(KernelCall_outputs)), k_kc2_outputs, 1);
  assert_false(fb_has_field(kc2, P(KernelCall_attrs)));

  fb_vec dels = fb_vector(prog, P(Program_delegates));
  assert_int_equal(dels.len, 2);
  fb_table d0 = fb_vec_table(dels, 0);
  check_str(d0, P(BackendDelegate_backend), "XnnpackBackend");
  assert_false(fb_has_field(d0, P(BackendDelegate_offset)));
  assert_true(fb_u64(d0, P(BackendDelegate_size), 0) == 1344);
  fb_vec specs = fb_vector(d0, P(BackendDelegate_compile_specs));
  assert_int_equal(specs.len, 1);
  fb_table sp = fb_vec_table(specs, 0);
  check_str(sp, P(CompileSpec_key), "threads");
  fb_vec sv = fb_vector(sp, P(CompileSpec_value));
  assert_int_equal(sv.len, N_ELEMS(k_spec_value));
  for (uint32_t i = 0; i < sv.len; i++) assert_int_equal(fb_vec_u8(sv, i), k_spec_value[i]);
  assert_memory_equal(sv.data, k_spec_value, sv.len);
  fb_table d1 = fb_vec_table(dels, 1);
  assert_true(fb_u64(d1, P(BackendDelegate_offset), 0) == 1408);
  assert_true(fb_u64(d1, P(BackendDelegate_size), 0) == UINT64_C(0x100000000));
  assert_int_equal(fb_vector(d1, P(BackendDelegate_compile_specs)).len, 0);

  fb_vec consts = fb_vector(prog, P(Program_constants));
  assert_int_equal(consts.len, 2);
  assert_true(fb_u64(fb_vec_table(consts, 0), P(ConstantBuffer_size), 0) == 432);
  assert_true(fb_u64(fb_vec_table(consts, 1), P(ConstantBuffer_offset), 0) == 448);
  assert_true(fb_u64(fb_vec_table(consts, 1), P(ConstantBuffer_size), 0) == 16);

  /* Readers on absent things. */
  assert_null(fb_table_field(NULL, 0));
  assert_int_equal(fb_u32(NULL, 0, 42), 42);
  assert_string_equal(fb_string(prog, 40, &len), "");
  assert_int_equal(len, 0);
  assert_false(fb_has_field(prog, 1000));
}

/* ---------------------------------------------------------------- the Graph model */

static const uint32_t k_gdims0[] = {1, 8, 8, 3};
static const uint32_t k_gdims1[] = {4, 3, 3, 3};
static const uint32_t k_gdims2[] = {4};
static const uint32_t k_gdims3[] = {1, 6, 6, 4};
static const float k_cscales[] = {0.5f, 0.25f, 0.75f, 2.0f};
static const uint32_t k_new_shape[] = {1, 144};
static const uint32_t k_pre[] = {0, 1, 1, 0};
static const uint32_t k_post[] = {0, 2, 2, 0};
static const uint32_t k_graph_in[] = {0};
static const uint32_t k_graph_out[] = {3};

static fb_ref build_value(fb_builder* b, uint8_t dt, const uint32_t* dims, uint32_t rank,
                          float scale, int32_t zp, const float* cs, uint32_t ncs,
                          uint32_t flags, uint32_t ext, uint64_t coff, uint64_t csize) {
  fb_ref d = fb_create_vector(b, dims, rank, 4);
  fb_ref c = cs ? fb_create_vector(b, cs, ncs, 4) : 0;
  fb_table_start(b);
  fb_add_u8(b, X(Value_datatype), dt, 0);
  fb_add_ref(b, X(Value_dims), d);
  fb_add_f32(b, X(Value_scale), scale, 1.0f);
  fb_add_i32(b, X(Value_zero_point), zp, 0);
  fb_add_ref(b, X(Value_channel_scales), c);
  fb_add_u32(b, X(Value_channel_dim), 0, 0);
  fb_add_u32(b, X(Value_flags), flags, 0);
  fb_add_u32(b, X(Value_external_index), ext, UINT32_MAX);
  fb_add_u64(b, X(Value_constant_offset), coff, 0);
  fb_add_u64(b, X(Value_constant_size), csize, 0);
  return fb_table_end(b);
}

static fb_ref node_entry(fb_builder* b, uint8_t type, fb_ref node) {
  fb_table_start(b);
  fb_add_u8(b, X(NodeEntry_node_type), type, 0);
  fb_add_ref(b, X(NodeEntry_node), node);
  return fb_table_end(b);
}

static fb_ref build_graph(fb_builder* b) {
  fb_ref values[5];
  values[0] = build_value(b, X(DataType_FP32), k_gdims0, 4, 1.0f, 0, NULL, 0, 1, 0, 0, 0);
  values[1] = build_value(b, X(DataType_QCINT8), k_gdims1, 4, 1.0f, 0, k_cscales, 4, 0,
                          UINT32_MAX, 0, 108);
  values[2] = build_value(b, X(DataType_QINT32), k_gdims2, 1, 0.25f, -3, NULL, 0, 0,
                          UINT32_MAX, 128, 16);
  values[3] = build_value(b, X(DataType_FP32), k_gdims3, 4, 1.0f, 0, NULL, 0, 2 | 4, 0, 0, 0);
  values[4] = build_value(b, X(DataType_FP32), k_gdims3, 4, 1.0f, 0, NULL, 0, 0, UINT32_MAX,
                          UINT64_C(0x123456789), 0);
  fb_ref vals = fb_create_ref_vector(b, values, 5);

  fb_ref nodes[6];
  fb_table_start(b);
  for (uint32_t id = X(Conv2d_padding_top); id <= X(Conv2d_group_output_channels); id++)
    fb_add_u32(b, id, 100 + id, 0);
  fb_add_u32(b, X(Conv2d_input_id), 0, 0);
  fb_add_u32(b, X(Conv2d_filter_id), 1, 0);
  fb_add_u32(b, X(Conv2d_bias_id), 2, UINT32_MAX);
  fb_add_u32(b, X(Conv2d_output_id), 4, 0);
  fb_add_f32(b, X(Conv2d_output_min), 0.0f, -INFINITY);
  fb_add_f32(b, X(Conv2d_output_max), 6.0f, INFINITY);
  fb_add_u32(b, X(Conv2d_flags), 0, 0);
  nodes[0] = node_entry(b, X(Node_Conv2d), fb_table_end(b));

  fb_table_start(b); /* every field at its default */
  fb_add_u32(b, X(FullyConnected_input_id), 4, 0);
  fb_add_u32(b, X(FullyConnected_filter_id), 1, 0);
  fb_add_u32(b, X(FullyConnected_bias_id), UINT32_MAX, UINT32_MAX);
  fb_add_u32(b, X(FullyConnected_output_id), 3, 0);
  fb_add_f32(b, X(FullyConnected_output_min), -INFINITY, -INFINITY);
  fb_add_f32(b, X(FullyConnected_output_max), INFINITY, INFINITY);
  nodes[1] = node_entry(b, X(Node_FullyConnected), fb_table_end(b));

  fb_table_start(b);
  fb_add_u32(b, X(Clamp_input_id), 3, 0);
  fb_add_u32(b, X(Clamp_output_id), 4, 0);
  fb_add_f32(b, X(Clamp_output_min), -1.5f, -INFINITY);
  fb_add_f32(b, X(Clamp_output_max), INFINITY, INFINITY);
  fb_add_u32(b, X(Clamp_flags), 8, 0);
  nodes[2] = node_entry(b, X(Node_Clamp), fb_table_end(b));

  fb_ref shape = fb_create_vector(b, k_new_shape, 2, 4);
  fb_table_start(b);
  fb_add_ref(b, X(StaticReshape_new_shape), shape);
  fb_add_u32(b, X(StaticReshape_input_id), 4, 0);
  fb_add_u32(b, X(StaticReshape_output_id), 3, 0);
  nodes[3] = node_entry(b, X(Node_StaticReshape), fb_table_end(b));

  fb_ref pre = fb_create_vector(b, k_pre, 4, 4);
  fb_ref post = fb_create_vector(b, k_post, 4, 4);
  fb_table_start(b);
  fb_add_ref(b, X(StaticConstantPad_pre_paddings), pre);
  fb_add_ref(b, X(StaticConstantPad_post_paddings), post);
  fb_add_f32(b, X(StaticConstantPad_padding_value), -0.5f, 0.0f);
  fb_add_u32(b, X(StaticConstantPad_input_id), 3, 0);
  fb_add_u32(b, X(StaticConstantPad_output_id), 4, 0);
  nodes[4] = node_entry(b, X(Node_StaticConstantPad), fb_table_end(b));

  nodes[5] = node_entry(b, X(Node_NONE), 0); /* an empty entry is legal */
  fb_ref nodev = fb_create_ref_vector(b, nodes, 6);

  fb_ref in = fb_create_vector(b, k_graph_in, 1, 4);
  fb_ref out = fb_create_vector(b, k_graph_out, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, X(Graph_version), 1, 0);
  fb_add_ref(b, X(Graph_values), vals);
  fb_add_ref(b, X(Graph_nodes), nodev);
  fb_add_ref(b, X(Graph_input_ids), in);
  fb_add_ref(b, X(Graph_output_ids), out);
  return fb_table_end(b);
}

static void check_graph(const uint8_t* buf) {
  fb_table g = fb_root(buf);
  assert_int_equal(fb_u32(g, X(Graph_version), 0), 1);
  check_u32_vec(fb_vector(g, X(Graph_input_ids)), k_graph_in, 1);
  check_u32_vec(fb_vector(g, X(Graph_output_ids)), k_graph_out, 1);
  fb_vec values = fb_vector(g, X(Graph_values));
  assert_int_equal(values.len, 5);

  fb_table v0 = fb_vec_table(values, 0);
  assert_int_equal(fb_u8(v0, X(Value_datatype), 0), X(DataType_FP32));
  check_u32_vec(fb_vector(v0, X(Value_dims)), k_gdims0, 4);
  assert_false(fb_has_field(v0, X(Value_scale)));
  assert_true(fb_f32(v0, X(Value_scale), 1.0f) == 1.0f);
  assert_int_equal(fb_u32(v0, X(Value_flags), 0), 1);
  assert_true(fb_has_field(v0, X(Value_external_index)));
  assert_int_equal(fb_u32(v0, X(Value_external_index), UINT32_MAX), 0);

  fb_table v1 = fb_vec_table(values, 1);
  assert_int_equal(fb_u8(v1, X(Value_datatype), 0), X(DataType_QCINT8));
  check_u32_vec(fb_vector(v1, X(Value_dims)), k_gdims1, 4);
  check_f32_vec(fb_vector(v1, X(Value_channel_scales)), k_cscales, 4);
  assert_int_equal(fb_u32(v1, X(Value_channel_dim), 7), 7); /* absent: caller default */
  assert_false(fb_has_field(v1, X(Value_external_index)));
  assert_int_equal(fb_u32(v1, X(Value_external_index), UINT32_MAX), UINT32_MAX);
  assert_true(fb_u64(v1, X(Value_constant_size), 0) == 108);
  assert_false(fb_has_field(v1, X(Value_constant_offset)));

  fb_table v2 = fb_vec_table(values, 2);
  assert_int_equal(fb_u8(v2, X(Value_datatype), 0), X(DataType_QINT32));
  assert_true(fb_f32(v2, X(Value_scale), 1.0f) == 0.25f);
  assert_int_equal(fb_i32(v2, X(Value_zero_point), 0), -3);
  assert_true(fb_u64(v2, X(Value_constant_offset), 0) == 128);
  assert_true(fb_u64(v2, X(Value_constant_size), 0) == 16);
  fb_table v3 = fb_vec_table(values, 3);
  assert_int_equal(fb_u32(v3, X(Value_flags), 0), 6);
  check_u32_vec(fb_vector(v3, X(Value_dims)), k_gdims3, 4);
  fb_table v4 = fb_vec_table(values, 4);
  assert_true(fb_u64(v4, X(Value_constant_offset), 0) == UINT64_C(0x123456789));

  fb_vec nodes = fb_vector(g, X(Graph_nodes));
  assert_int_equal(nodes.len, 6);
  fb_table e0 = fb_vec_table(nodes, 0);
  assert_int_equal(fb_u8(e0, X(NodeEntry_node_type), 0), X(Node_Conv2d));
  fb_table conv = fb_table_field(e0, X(NodeEntry_node));
  for (uint32_t id = X(Conv2d_padding_top); id <= X(Conv2d_group_output_channels); id++)
    assert_int_equal(fb_u32(conv, id, 0), 100 + id);
  assert_int_equal(fb_u32(conv, X(Conv2d_input_id), 0), 0);
  assert_int_equal(fb_u32(conv, X(Conv2d_filter_id), 0), 1);
  assert_int_equal(fb_u32(conv, X(Conv2d_bias_id), UINT32_MAX), 2);
  assert_int_equal(fb_u32(conv, X(Conv2d_output_id), 0), 4);
  assert_true(fb_f32(conv, X(Conv2d_output_min), -INFINITY) == 0.0f);
  assert_true(fb_has_field(conv, X(Conv2d_output_min)));
  assert_true(fb_f32(conv, X(Conv2d_output_max), INFINITY) == 6.0f);
  assert_false(fb_has_field(conv, X(Conv2d_flags)));

  fb_table e1 = fb_vec_table(nodes, 1);
  assert_int_equal(fb_u8(e1, X(NodeEntry_node_type), 0), X(Node_FullyConnected));
  fb_table fc = fb_table_field(e1, X(NodeEntry_node));
  assert_int_equal(fb_u32(fc, X(FullyConnected_input_id), 0), 4);
  assert_int_equal(fb_u32(fc, X(FullyConnected_filter_id), 0), 1);
  assert_false(fb_has_field(fc, X(FullyConnected_bias_id)));
  assert_int_equal(fb_u32(fc, X(FullyConnected_bias_id), UINT32_MAX), UINT32_MAX);
  assert_int_equal(fb_u32(fc, X(FullyConnected_output_id), 0), 3);
  assert_false(fb_has_field(fc, X(FullyConnected_output_min)));
  assert_false(fb_has_field(fc, X(FullyConnected_output_max)));
  float mn = fb_f32(fc, X(FullyConnected_output_min), -INFINITY);
  assert_true(isinf(mn) && mn < 0);

  fb_table clamp = fb_table_field(fb_vec_table(nodes, 2), X(NodeEntry_node));
  assert_int_equal(fb_u8(fb_vec_table(nodes, 2), X(NodeEntry_node_type), 0), X(Node_Clamp));
  assert_true(fb_f32(clamp, X(Clamp_output_min), -INFINITY) == -1.5f);
  assert_false(fb_has_field(clamp, X(Clamp_output_max)));
  assert_int_equal(fb_u32(clamp, X(Clamp_flags), 0), 8);

  fb_table e3 = fb_vec_table(nodes, 3);
  assert_int_equal(fb_u8(e3, X(NodeEntry_node_type), 0), X(Node_StaticReshape));
  fb_table rs = fb_table_field(e3, X(NodeEntry_node));
  check_u32_vec(fb_vector(rs, X(StaticReshape_new_shape)), k_new_shape, 2);
  assert_int_equal(fb_u32(rs, X(StaticReshape_input_id), 0), 4);
  assert_int_equal(fb_u32(rs, X(StaticReshape_output_id), 0), 3);

  fb_table e4 = fb_vec_table(nodes, 4);
  assert_int_equal(fb_u8(e4, X(NodeEntry_node_type), 0), X(Node_StaticConstantPad));
  fb_table pad = fb_table_field(e4, X(NodeEntry_node));
  check_u32_vec(fb_vector(pad, X(StaticConstantPad_pre_paddings)), k_pre, 4);
  check_u32_vec(fb_vector(pad, X(StaticConstantPad_post_paddings)), k_post, 4);
  assert_true(fb_f32(pad, X(StaticConstantPad_padding_value), 0.0f) == -0.5f);

  fb_table e5 = fb_vec_table(nodes, 5);
  assert_int_equal(fb_u8(e5, X(NodeEntry_node_type), 0), X(Node_NONE));
  assert_null(fb_table_field(e5, X(NodeEntry_node)));
}

/* ---------------------------------------------------------------- generic walk */

/* Touch every field the descriptor knows through the public readers. On a buffer that
 * passed fb_verify this must stay in bounds (valgrind checks, with exact-size copies). */
static uint64_t walk(fb_table t, const fb_table_desc* d, int depth) {
  uint64_t acc = 0;
  if (!t || depth > 64) return 0;
  for (uint32_t i = 0; i < d->num_fields; i++) {
    const fb_field_desc* f = &d->fields[i];
    uint32_t len;
    switch (f->kind) {
      case FB_FIELD_SCALAR:
      case FB_FIELD_UNION_TYPE:
        if (f->size == 8) acc += fb_u64(t, i, 0);
        else if (f->size == 4) acc += fb_u32(t, i, 0);
        else acc += fb_u8(t, i, 0);
        break;
      case FB_FIELD_STRING: {
        const char* s = fb_string(t, i, &len);
        for (uint32_t k = 0; k <= len; k++) acc += (uint8_t)s[k];
        break;
      }
      case FB_FIELD_TABLE:
        acc += walk(fb_table_field(t, i), f->table, depth + 1);
        break;
      case FB_FIELD_VEC_SCALAR: {
        fb_vec v = fb_vector(t, i);
        for (uint32_t k = 0; k < v.len; k++)
          acc += f->size == 1 ? fb_vec_u8(v, k)
                 : f->size == 4 ? fb_vec_u32(v, k) : (uint64_t)fb_vec_i64(v, k);
        break;
      }
      case FB_FIELD_VEC_STRING: {
        fb_vec v = fb_vector(t, i);
        for (uint32_t k = 0; k < v.len; k++) {
          const char* s = fb_vec_string(v, k, &len);
          for (uint32_t c = 0; c <= len; c++) acc += (uint8_t)s[c];
        }
        break;
      }
      case FB_FIELD_VEC_TABLE: {
        fb_vec v = fb_vector(t, i);
        for (uint32_t k = 0; k < v.len; k++) acc += walk(fb_vec_table(v, k), f->table, depth + 1);
        break;
      }
      case FB_FIELD_UNION: {
        uint8_t type = fb_u8(t, i - 1, 0);
        if (type >= 1 && type <= f->union_count)
          acc += walk(fb_table_field(t, i), f->union_tables[type - 1], depth + 1);
        break;
      }
    }
  }
  return acc;
}

/* ---------------------------------------------------------------- fixtures */

typedef struct built {
  fb_builder* b;
  const uint8_t* data;
  size_t size;
} built;

static built build_with(fb_ref (*fn)(fb_builder*), const char* ident) {
  built r = {0};
  assert_int_equal(fb_builder_create(&test_allocator, &r.b), XNND_OK);
  fb_ref root = fn(r.b);
  assert_int_not_equal(root, 0);
  assert_int_equal(fb_finish(r.b, root, ident, &r.data, &r.size), XNND_OK);
  assert_true(((uintptr_t)r.data & 7) == 0);
  assert_true((r.size & 7) == 0);
  return r;
}

static xnnd_status verify_program(const uint8_t* buf, size_t size, const fb_verify_limits* lim,
                                  char* msg, size_t msg_size) {
  return fb_verify(buf, size, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT, lim, msg, msg_size);
}

/* ---------------------------------------------------------------- tests */

static void test_program_round_trip(void** state) {
  (void)state;
  built r = build_with(build_program, XNND_PROGRAM_IDENTIFIER);
  char msg[256];
  assert_int_equal(verify_program(r.data, r.size, NULL, msg, sizeof msg), XNND_OK);
  assert_string_equal(msg, "");
  assert_memory_equal(r.data + 4, "XNDP", 4);
  check_program(r.data);
  /* Identifier NULL skips the check. */
  assert_int_equal(fb_verify(r.data, r.size, NULL, XNND_PROGRAM_ROOT, NULL, NULL, 0), XNND_OK);
  fb_builder_destroy(r.b);
}

static void test_graph_round_trip(void** state) {
  (void)state;
  built r = build_with(build_graph, XNND_XNNPACK_IDENTIFIER);
  char msg[256];
  assert_int_equal(fb_verify(r.data, r.size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, NULL,
                             msg, sizeof msg),
                   XNND_OK);
  check_graph(r.data);
  /* The wrong schema's identifier is refused. */
  assert_int_equal(fb_verify(r.data, r.size, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT, NULL,
                             msg, sizeof msg),
                   XNND_BAD_MAGIC);
  fb_builder_destroy(r.b);
}

static void test_builder_libc_allocator(void** state) {
  (void)state;
  fb_builder* b;
  assert_int_equal(fb_builder_create(NULL, &b), XNND_OK);
  const uint8_t* data;
  size_t size;
  assert_int_equal(fb_finish(b, build_graph(b), XNND_XNNPACK_IDENTIFIER, &data, &size), XNND_OK);
  assert_int_equal(fb_verify(data, size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, NULL, NULL,
                             0),
                   XNND_OK);
  check_graph(data);
  fb_builder_destroy(b);
  fb_builder_destroy(NULL);
}

static void test_builder_oom(void** state) {
  (void)state;
  for (int budget = 0;; budget++) {
    failing_ctx ctx = {budget};
    xnnd_allocator a = {&ctx, failing_alloc, t_free};
    fb_builder* b = NULL;
    xnnd_status st = fb_builder_create(&a, &b);
    if (st != XNND_OK) {
      assert_int_equal(st, XNND_OUT_OF_MEMORY);
      assert_null(b);
      continue;
    }
    fb_ref root = build_program(b);
    const uint8_t* data = NULL;
    size_t size = 0;
    st = fb_finish(b, root, XNND_PROGRAM_IDENTIFIER, &data, &size);
    if (st == XNND_OK) {
      assert_int_equal(verify_program(data, size, NULL, NULL, 0), XNND_OK);
      check_program(data);
      fb_builder_destroy(b);
      assert_true(budget > 2);
      break;
    }
    assert_int_equal(st, XNND_OUT_OF_MEMORY);
    assert_int_equal(root, 0);
    fb_builder_destroy(b);
  }
}

static void test_builder_misuse(void** state) {
  (void)state;
  fb_builder* b;
  const uint8_t* data;
  size_t size;
  /* A field outside a table. */
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_add_u32(b, 0, 1, 0);
  assert_int_equal(fb_finish(b, 4, NULL, &data, &size), XNND_INVALID_STATE);
  fb_builder_destroy(b);
  /* Nested tables. */
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_table_start(b);
  fb_table_start(b);
  assert_int_equal(fb_table_end(b), 0);
  assert_int_equal(fb_finish(b, 4, NULL, &data, &size), XNND_INVALID_STATE);
  fb_builder_destroy(b);
  /* A string while a table is open. */
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_table_start(b);
  assert_int_equal(str(b, "x"), 0);
  fb_builder_destroy(b);
  /* The same field twice. */
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_table_start(b);
  fb_add_u32(b, 1, 5, 0);
  fb_add_u32(b, 1, 6, 0);
  assert_int_equal(fb_table_end(b), 0);
  assert_int_equal(fb_finish(b, 4, NULL, &data, &size), XNND_INVALID_ARGUMENT);
  fb_builder_destroy(b);
  /* Bad root, bad identifier, finishing twice. */
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_table_start(b);
  fb_ref t = fb_table_end(b);
  assert_int_equal(fb_finish(b, 0, NULL, &data, &size), XNND_INVALID_ARGUMENT);
  assert_int_equal(fb_finish(b, t + 100, NULL, &data, &size), XNND_INVALID_ARGUMENT);
  assert_int_equal(fb_finish(b, t, "ABC", &data, &size), XNND_INVALID_ARGUMENT);
  assert_int_equal(fb_finish(b, t, "ABCDE", &data, &size), XNND_INVALID_ARGUMENT);
  assert_int_equal(fb_finish(b, t, NULL, &data, &size), XNND_OK);
  assert_int_equal(fb_finish(b, t, NULL, &data, &size), XNND_INVALID_STATE);
  fb_builder_destroy(b);
  assert_int_equal(fb_builder_create(&test_allocator, NULL), XNND_INVALID_ARGUMENT);
}

static void test_builder_layout(void** state) {
  (void)state;
  fb_builder* b;
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  const uint8_t bytes[3] = {1, 2, 3};
  fb_ref odd = fb_create_vector(b, bytes, 3, 1);
  const int64_t wide[2] = {-1, 2};
  fb_ref w = fb_create_vector(b, wide, 2, 8);
  fb_ref s = fb_create_string(b, "a\0b", 3); /* embedded NUL kept, terminator added */
  fb_ref empty = fb_create_string(b, NULL, 0);
  /* Same layout twice (an 8-byte vtable keeps the size 4-aligned): the vtable is shared. */
  fb_table_start(b);
  fb_add_u32(b, 0, 1, 0);
  fb_add_u32(b, 1, 10, 0);
  fb_ref t1 = fb_table_end(b);
  fb_table_start(b);
  fb_add_u32(b, 0, 2, 0);
  fb_add_u32(b, 1, 20, 0);
  fb_ref t2 = fb_table_end(b);
  fb_ref tables[2] = {t1, t2};
  fb_ref tv = fb_create_ref_vector(b, tables, 2);
  fb_table_start(b);
  fb_add_ref(b, 0, odd);
  fb_add_ref(b, 1, w);
  fb_add_ref(b, 2, s);
  fb_add_ref(b, 3, empty);
  fb_add_ref(b, 4, tv);
  fb_add_u8(b, 5, 0, 0);                       /* default: omitted */
  fb_add_f32(b, 6, -INFINITY, -INFINITY);     /* default: omitted */
  fb_add_f32(b, 7, NAN, NAN);                  /* NaN never equals its default */
  fb_add_i8(b, 8, -1, 0);
  fb_ref root = fb_table_end(b);
  const uint8_t* data;
  size_t size;
  assert_int_equal(fb_finish(b, root, NULL, &data, &size), XNND_OK);
  fb_table t = fb_root(data);
  fb_vec v = fb_vector(t, 0);
  assert_int_equal(v.len, 3);
  assert_memory_equal(v.data, bytes, 3);
  v = fb_vector(t, 1);
  assert_int_equal(v.len, 2);
  assert_true(((uintptr_t)v.data & 7) == 0);
  assert_true(fb_vec_i64(v, 0) == -1 && fb_vec_i64(v, 1) == 2);
  assert_true(fb_vec_i64(v, 2) == 0);
  uint32_t len;
  const char* sp = fb_string(t, 2, &len);
  assert_int_equal(len, 3);
  assert_memory_equal(sp, "a\0b\0", 4);
  assert_string_equal(fb_string(t, 3, &len), "");
  assert_true(fb_has_field(t, 3));
  fb_vec tv2 = fb_vector(t, 4);
  fb_table a = fb_vec_table(tv2, 0), c = fb_vec_table(tv2, 1);
  int32_t sa, sc;
  memcpy(&sa, a, 4);
  memcpy(&sc, c, 4);
  assert_ptr_equal(a - sa, c - sc);
  assert_int_equal(fb_u32(a, 0, 0), 1);
  assert_int_equal(fb_u32(a, 1, 0), 10);
  assert_int_equal(fb_u32(c, 0, 0), 2);
  assert_int_equal(fb_u32(c, 1, 0), 20);
  assert_false(fb_has_field(t, 5));
  assert_false(fb_has_field(t, 6));
  assert_true(isnan(fb_f32(t, 7, 0.0f)));
  assert_int_equal(fb_i8(t, 8, 0), -1);
  fb_builder_destroy(b);
}

static void test_unknown_fields_allowed(void** state) {
  (void)state;
  fb_builder* b;
  assert_int_equal(fb_builder_create(&test_allocator, &b), XNND_OK);
  fb_table_start(b);
  fb_add_u32(b, P(Program_version), 3, 0);
  fb_add_u64(b, 9, 77, 0); /* a field a newer writer added */
  fb_ref root = fb_table_end(b);
  const uint8_t* data;
  size_t size;
  assert_int_equal(fb_finish(b, root, XNND_PROGRAM_IDENTIFIER, &data, &size), XNND_OK);
  assert_int_equal(verify_program(data, size, NULL, NULL, 0), XNND_OK);
  assert_int_equal(fb_u32(fb_root(data), P(Program_version), 0), 3);
  assert_int_equal(fb_vector(fb_root(data), P(Program_methods)).len, 0);
  fb_builder_destroy(b);
}

/* Verify a mutated copy of a valid buffer; return its status and message. */
static xnnd_status mutate_and_verify(const built* r, void (*mutate)(uint8_t*, size_t),
                                     const fb_verify_limits* lim, char* msg, size_t msg_size) {
  uint8_t* copy = exact_copy(r->data, r->size);
  mutate(copy, r->size);
  xnnd_status st = verify_program(copy, r->size, lim, msg, msg_size);
  test_free(copy);
  return st;
}

static void no_mutation(uint8_t* buf, size_t size) { (void)buf; (void)size; }

static void bad_identifier(uint8_t* buf, size_t size) {
  (void)size;
  memcpy(buf + 4, "XNNB", 4);
}

static fb_table method0(uint8_t* buf) {
  return fb_vec_table(fb_vector(fb_root(buf), P(Program_methods)), 0);
}

static void long_inputs_vector(uint8_t* buf, size_t size) {
  (void)size;
  fb_vec v = fb_vector(method0(buf), P(Method_inputs));
  put_u32(buf + (v.data - 4 - buf), 0x10000);
}

static void huge_inputs_vector(uint8_t* buf, size_t size) {
  (void)size;
  fb_vec v = fb_vector(method0(buf), P(Method_inputs));
  put_u32(buf + (v.data - 4 - buf), 0xFFFFFFFFu);
}

static fb_table step0(uint8_t* buf) {
  return fb_vec_table(fb_vector(method0(buf), P(Method_steps)), 0);
}

static void union_type_out_of_range(uint8_t* buf, size_t size) {
  (void)size;
  *field_ptr(buf, step0(buf), P(Step_instruction_type)) = P(Instruction_COUNT);
}

static void union_type_none_with_value(uint8_t* buf, size_t size) {
  (void)size;
  *field_ptr(buf, step0(buf), P(Step_instruction_type)) = 0;
}

static void name_not_terminated(uint8_t* buf, size_t size) {
  (void)size;
  uint32_t len;
  const char* s = fb_string(method0(buf), P(Method_name), &len);
  buf[(const uint8_t*)s - buf + len] = 'x';
}

static void name_offset_past_end(uint8_t* buf, size_t size) {
  uint8_t* f = field_ptr(buf, method0(buf), P(Method_name));
  put_u32(f, (uint32_t)(size - (size_t)(f - buf)) + 8);
}

static void misalign_ints(uint8_t* buf, size_t size) {
  (void)size;
  fb_table kc = fb_table_field(step0(buf), P(Step_instruction));
  fb_table a0 = fb_vec_table(fb_vector(kc, P(KernelCall_attrs)), 0);
  uint8_t* f = field_ptr(buf, a0, P(Attr_ints));
  put_u32(f, get_u32(f) + 4);
}

static void field_outside_table(uint8_t* buf, size_t size) {
  (void)size;
  fb_table root = fb_root(buf);
  int32_t soff;
  memcpy(&soff, root, 4);
  uint8_t* vt = buf + (root - buf) - soff;
  uint16_t big = 0xFFF0;
  memcpy(vt + 4 + 2 * P(Program_version), &big, 2);
}

static void vtable_outside(uint8_t* buf, size_t size) {
  (void)size;
  fb_table root = fb_root(buf);
  put_u32(buf + (root - buf), 0x80000000u);
}

static void expect(const built* r, void (*mutate)(uint8_t*, size_t), const fb_verify_limits* lim,
                   xnnd_status want, const char* msg_part) {
  char msg[512];
  xnnd_status st = mutate_and_verify(r, mutate, lim, msg, sizeof msg);
  if (st != want || (msg_part && !strstr(msg, msg_part)))
    fail_msg("got %s (%d) \"%s\"; want %s with \"%s\"", xnnd_status_str(st), (int)st, msg,
             xnnd_status_str(want), msg_part ? msg_part : "");
}

static void test_verify_error_codes(void** state) {
  (void)state;
  built r = build_with(build_program, XNND_PROGRAM_IDENTIFIER);
  expect(&r, no_mutation, NULL, XNND_OK, NULL);
  expect(&r, bad_identifier, NULL, XNND_BAD_MAGIC, "file identifier \"XNNB\", expected \"XNDP\"");
  expect(&r, long_inputs_vector, NULL, XNND_OUT_OF_RANGE,
         "Program.methods[0].inputs: vector runs past end of buffer (offset ");
  expect(&r, huge_inputs_vector, NULL, XNND_LIMIT_EXCEEDED, "Program.methods[0].inputs: ");
  expect(&r, union_type_out_of_range, NULL, XNND_MALFORMED,
         "Program.methods[0].steps[0].instruction: union type 3 out of range");
  expect(&r, union_type_none_with_value, NULL, XNND_MALFORMED,
         "Program.methods[0].steps[0].instruction: union value present with type NONE");
  expect(&r, name_not_terminated, NULL, XNND_MALFORMED, "Program.methods[0].name: string not");
  expect(&r, name_offset_past_end, NULL, XNND_OUT_OF_RANGE, "Program.methods[0].name: ");
  expect(&r, misalign_ints, NULL, XNND_MISALIGNED,
         "Program.methods[0].steps[0].instruction.attrs[0].ints: ");
  expect(&r, field_outside_table, NULL, XNND_MALFORMED, "Program.version: field at");
  expect(&r, vtable_outside, NULL, XNND_OUT_OF_RANGE, "Program: Program vtable");

  /* Limits: Program > Method > Step > KernelCall > Attr is five tables deep. */
  fb_verify_limits lim = {5, 0, 0};
  expect(&r, no_mutation, &lim, XNND_OK, NULL);
  lim.max_depth = 4;
  expect(&r, no_mutation, &lim, XNND_LIMIT_EXCEEDED,
         "Program.methods[0].steps[0].instruction.attrs[0]: Attr nested deeper than 4");
  fb_verify_limits few_tables = {0, 0, 3};
  expect(&r, no_mutation, &few_tables, XNND_LIMIT_EXCEEDED, "more than 3 tables");
  fb_verify_limits short_vectors = {0, 3, 0};
  expect(&r, no_mutation, &short_vectors, XNND_LIMIT_EXCEEDED,
         "Program.methods[0].values: vector length 6 exceeds limit 3");

  /* Header-level failures. */
  char msg[128];
  assert_int_equal(verify_program(r.data, 7, NULL, msg, sizeof msg), XNND_TRUNCATED);
  assert_int_equal(verify_program(r.data, 0, NULL, msg, sizeof msg), XNND_TRUNCATED);
  uint8_t* shifted = test_malloc(r.size + 8);
  memcpy(shifted + 1, r.data, r.size);
  assert_int_equal(verify_program(shifted + 1, r.size, NULL, msg, sizeof msg), XNND_MISALIGNED);
  test_free(shifted);
  assert_int_equal(verify_program(NULL, 8, NULL, msg, sizeof msg), XNND_INVALID_ARGUMENT);
  /* A tiny message buffer is truncated, not overrun. */
  char tiny[8];
  assert_int_equal(mutate_and_verify(&r, long_inputs_vector, NULL, tiny, sizeof tiny),
                   XNND_OUT_OF_RANGE);
  assert_int_equal(strlen(tiny), sizeof tiny - 1);
  fb_builder_destroy(r.b);
}

static void robustness(fb_ref (*fn)(fb_builder*), const char* ident, const fb_table_desc* root) {
  built r = build_with(fn, ident);
  char msg[512];
  /* Every strict prefix is refused. */
  for (size_t len = 0; len < r.size; len++) {
    uint8_t* copy = exact_copy(r.data, len);
    xnnd_status st = fb_verify(copy, len, ident, root, NULL, msg, sizeof msg);
    if (st == XNND_OK) fail_msg("prefix of %zu/%zu bytes verified", len, r.size);
    test_free(copy);
  }
  /* Any single-byte change either fails verification or stays readable in bounds. */
  static const uint8_t deltas[] = {0x01, 0x80, 0xFF, 0x10};
  size_t ok = 0, bad = 0;
  for (size_t i = 0; i < r.size; i++) {
    for (size_t d = 0; d < sizeof deltas; d++) {
      uint8_t* copy = exact_copy(r.data, r.size);
      copy[i] ^= deltas[d];
      xnnd_status st = fb_verify(copy, r.size, ident, root, NULL, msg, sizeof msg);
      if (st == XNND_OK) {
        ok++;
        (void)walk(fb_root(copy), root, 0);
      } else {
        bad++;
        assert_true(st == XNND_BAD_MAGIC || st == XNND_OUT_OF_RANGE || st == XNND_MISALIGNED ||
                    st == XNND_MALFORMED || st == XNND_LIMIT_EXCEEDED);
        assert_true(strlen(msg) > 0);
      }
      copy[i] = 0xFF; /* also a saturated byte */
      if (fb_verify(copy, r.size, ident, root, NULL, NULL, 0) == XNND_OK)
        (void)walk(fb_root(copy), root, 0);
      test_free(copy);
    }
  }
  assert_true(ok > 0 && bad > 0);
  fb_builder_destroy(r.b);
}

static void test_program_truncation_and_corruption(void** state) {
  (void)state;
  robustness(build_program, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT);
}

static void test_graph_truncation_and_corruption(void** state) {
  (void)state;
  robustness(build_graph, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_program_round_trip),
      cmocka_unit_test(test_graph_round_trip),
      cmocka_unit_test(test_builder_libc_allocator),
      cmocka_unit_test(test_builder_oom),
      cmocka_unit_test(test_builder_misuse),
      cmocka_unit_test(test_builder_layout),
      cmocka_unit_test(test_unknown_fields_allowed),
      cmocka_unit_test(test_verify_error_codes),
      cmocka_unit_test(test_program_truncation_and_corruption),
      cmocka_unit_test(test_graph_truncation_and_corruption),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
