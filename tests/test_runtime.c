/* Runtime core: load (buffer, file, misaligned buffer), verification failures each with their
 * status, memory plan, method lifecycle, inputs aliased to outputs, a test delegate, and
 * robustness of the loader against every truncation and single-byte flip. Programs are built
 * here with the fb builder. All runtime memory goes through test_malloc/test_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "small_convnet.h"

#include "fb_builder.h"
#include "program_generated.h"
#include "program_info.h"
#include "pte_format.h"
#include "runtime_internal.h"
#include "xnnd/backend.h"
#include "xnnd/runtime.h"

/* ---- leak-checked allocator (cmocka), with alignment and optional failure injection ---- */

typedef struct test_alloc_ctx {
  long budget;  /* allocations left before failing; < 0 = unlimited */
  long count;
} test_alloc_ctx;

static void* t_alloc(void* context, size_t size, size_t alignment) {
  test_alloc_ctx* c = context;
  if (c) {
    c->count++;
    if (c->budget == 0) return NULL;
    if (c->budget > 0) c->budget--;
  }
  return xt_aligned_alloc(NULL, size, alignment);
}

static const xnnd_allocator test_allocator = {NULL, t_alloc, xt_aligned_free};
static const xnnd_load_options test_options = {.allocator = &test_allocator};

/* ---- program description -> .pte bytes ---- */

typedef struct tval {
  int8_t dtype;
  uint32_t rank;
  int32_t dims[10];
  int32_t constant;  /* -1 none */
} tval;

typedef struct tattr {
  const char* name;
  uint8_t kind;
  int64_t i;
  double f;
} tattr;

typedef struct tstep {
  uint8_t type;      /* XNND_PROGRAM_Instruction_* */
  uint32_t index;    /* operator or delegate */
  uint32_t n_in;
  int32_t in[4];
  uint32_t n_out;
  uint32_t out[4];
  uint32_t n_attrs;
  tattr attrs[2];
} tstep;

#define TMAXV 16
typedef struct tmethod {
  const char* name;
  uint32_t n_values;
  tval values[TMAXV];
  uint32_t n_in, in[4];
  uint32_t n_out, out[4];
  uint32_t n_ops;
  const char* ops[4];
  uint32_t n_steps;
  tstep steps[8];
  /* a memory plan stored as if written at lowering (Method.arena_size, ...) */
  bool plan;
  uint64_t arena;
  uint64_t value_off[TMAXV];
  uint64_t copy_off[4];
} tmethod;

typedef struct tprog {
  uint32_t n_methods;
  tmethod methods[2];
  uint32_t n_constants;
  uint64_t const_off[4], const_size[4];
  const void* const_bytes;
  size_t const_bytes_size;
  uint32_t n_delegates;
  const char* backend[2];
  uint64_t deleg_off[2], deleg_size[2];
  const void* deleg_bytes;
  size_t deleg_bytes_size;
  const char* identifier;  /* NULL = "XNDP" */
  int64_t version;         /* Program.version; 0 = 1, -1 = absent (reads as 0) */
} tprog;

static fb_ref build_method(fb_builder* b, const tmethod* m) {
  fb_ref values[TMAXV], steps[8], ops[4];
  for (uint32_t v = 0; v < m->n_values; v++) {
    const tval* tv = &m->values[v];
    fb_ref dims = fb_create_vector(b, tv->dims, tv->rank, 4);
    fb_table_start(b);
    fb_add_i8(b, XNND_PROGRAM_Tensor_dtype, tv->dtype, 0);
    fb_add_ref(b, XNND_PROGRAM_Tensor_dims, dims);
    fb_add_i32(b, XNND_PROGRAM_Tensor_constant, tv->constant, -1);
    values[v] = fb_table_end(b);
  }
  for (uint32_t s = 0; s < m->n_steps; s++) {
    const tstep* ts = &m->steps[s];
    fb_ref ins = fb_create_vector(b, ts->in, ts->n_in, 4);
    fb_ref outs = fb_create_vector(b, ts->out, ts->n_out, 4);
    fb_ref instr;
    if (ts->type == XNND_PROGRAM_Instruction_KernelCall) {
      fb_ref attrs[2];
      for (uint32_t a = 0; a < ts->n_attrs; a++) {
        fb_ref name = fb_create_string(b, ts->attrs[a].name, strlen(ts->attrs[a].name));
        fb_table_start(b);
        fb_add_ref(b, XNND_PROGRAM_Attr_name, name);
        fb_add_u8(b, XNND_PROGRAM_Attr_kind, ts->attrs[a].kind, 0);
        fb_add_i64(b, XNND_PROGRAM_Attr_i, ts->attrs[a].i, 0);
        fb_add_f64(b, XNND_PROGRAM_Attr_f, ts->attrs[a].f, 0.0);
        attrs[a] = fb_table_end(b);
      }
      fb_ref attrv = fb_create_ref_vector(b, attrs, ts->n_attrs);
      fb_table_start(b);
      fb_add_u32(b, XNND_PROGRAM_KernelCall_op, ts->index, 0);
      fb_add_ref(b, XNND_PROGRAM_KernelCall_inputs, ins);
      fb_add_ref(b, XNND_PROGRAM_KernelCall_outputs, outs);
      fb_add_ref(b, XNND_PROGRAM_KernelCall_attrs, attrv);
      instr = fb_table_end(b);
    } else {
      fb_table_start(b);
      fb_add_u32(b, XNND_PROGRAM_DelegateCall_delegate, ts->index, 0);
      fb_add_ref(b, XNND_PROGRAM_DelegateCall_inputs, ins);
      fb_add_ref(b, XNND_PROGRAM_DelegateCall_outputs, outs);
      instr = fb_table_end(b);
    }
    fb_table_start(b);
    fb_add_u8(b, XNND_PROGRAM_Step_instruction_type, ts->type, 0);
    if (ts->type != 0) fb_add_ref(b, XNND_PROGRAM_Step_instruction, instr);
    steps[s] = fb_table_end(b);
  }
  for (uint32_t o = 0; o < m->n_ops; o++) ops[o] = fb_create_string(b, m->ops[o], strlen(m->ops[o]));
  fb_ref name = m->name ? fb_create_string(b, m->name, strlen(m->name)) : 0;
  fb_ref valv = fb_create_ref_vector(b, values, m->n_values);
  fb_ref inv = fb_create_vector(b, m->in, m->n_in, 4);
  fb_ref outv = fb_create_vector(b, m->out, m->n_out, 4);
  fb_ref opv = fb_create_ref_vector(b, ops, m->n_ops);
  fb_ref stepv = fb_create_ref_vector(b, steps, m->n_steps);
  fb_ref offv = m->plan ? fb_create_vector(b, m->value_off, m->n_values, 8) : 0;
  fb_ref copyv = m->plan ? fb_create_vector(b, m->copy_off, m->n_out, 8) : 0;
  fb_table_start(b);
  if (m->name) fb_add_ref(b, XNND_PROGRAM_Method_name, name);
  fb_add_ref(b, XNND_PROGRAM_Method_values, valv);
  fb_add_ref(b, XNND_PROGRAM_Method_inputs, inv);
  fb_add_ref(b, XNND_PROGRAM_Method_outputs, outv);
  fb_add_ref(b, XNND_PROGRAM_Method_operators, opv);
  fb_add_ref(b, XNND_PROGRAM_Method_steps, stepv);
  fb_add_u64(b, XNND_PROGRAM_Method_arena_size, m->arena, 0);
  fb_add_ref(b, XNND_PROGRAM_Method_value_offsets, offv);
  fb_add_ref(b, XNND_PROGRAM_Method_output_copy_offsets, copyv);
  return fb_table_end(b);
}

static size_t align64(size_t n) { return (n + 63) & ~(size_t)63; }

/* 64-aligned malloc'd file image; free with free(). */
static uint8_t* build_pte(const tprog* tp, size_t* size_out) {
  fb_builder* b = NULL;
  assert_int_equal(fb_builder_create(NULL, &b), XNND_OK);
  fb_ref methods[2], consts[4], delegs[2];
  for (uint32_t i = 0; i < tp->n_methods; i++) methods[i] = build_method(b, &tp->methods[i]);
  for (uint32_t i = 0; i < tp->n_constants; i++) {
    fb_table_start(b);
    fb_add_u64(b, XNND_PROGRAM_ConstantBuffer_offset, tp->const_off[i], 0);
    fb_add_u64(b, XNND_PROGRAM_ConstantBuffer_size, tp->const_size[i], 0);
    consts[i] = fb_table_end(b);
  }
  for (uint32_t i = 0; i < tp->n_delegates; i++) {
    fb_ref name = fb_create_string(b, tp->backend[i], strlen(tp->backend[i]));
    fb_ref key = fb_create_string(b, "threads", 7);
    const uint8_t val[2] = {'4', 0};
    fb_ref value = fb_create_vector(b, val, 2, 1);
    fb_table_start(b);
    fb_add_ref(b, XNND_PROGRAM_CompileSpec_key, key);
    fb_add_ref(b, XNND_PROGRAM_CompileSpec_value, value);
    fb_ref spec = fb_table_end(b);
    fb_ref specv = fb_create_ref_vector(b, &spec, 1);
    fb_table_start(b);
    fb_add_ref(b, XNND_PROGRAM_BackendDelegate_backend, name);
    fb_add_ref(b, XNND_PROGRAM_BackendDelegate_compile_specs, specv);
    fb_add_u64(b, XNND_PROGRAM_BackendDelegate_offset, tp->deleg_off[i], 0);
    fb_add_u64(b, XNND_PROGRAM_BackendDelegate_size, tp->deleg_size[i], 0);
    delegs[i] = fb_table_end(b);
  }
  fb_ref mv = fb_create_ref_vector(b, methods, tp->n_methods);
  fb_ref cv = fb_create_ref_vector(b, consts, tp->n_constants);
  fb_ref dv = fb_create_ref_vector(b, delegs, tp->n_delegates);
  fb_table_start(b);
  fb_add_u32(b, XNND_PROGRAM_Program_version,
             tp->version == 0 ? 1 : (tp->version < 0 ? 0 : (uint32_t)tp->version), 0);
  fb_add_ref(b, XNND_PROGRAM_Program_methods, mv);
  fb_add_ref(b, XNND_PROGRAM_Program_delegates, dv);
  fb_add_ref(b, XNND_PROGRAM_Program_constants, cv);
  fb_ref root = fb_table_end(b);
  const uint8_t* fbdata;
  size_t fbsize;
  assert_int_equal(fb_finish(b, root, tp->identifier ? tp->identifier : "XNDP", &fbdata, &fbsize),
                   XNND_OK);

  xnnd_pte_header h = {.magic = "XNNDPTE", .version = XNND_PTE_VERSION,
                       .header_size = XNND_PTE_HEADER_SIZE};
  h.program_offset = 64;
  h.program_size = fbsize;
  size_t end = 64 + fbsize;
  if (tp->const_bytes_size) {
    h.constant_offset = align64(end);
    h.constant_size = tp->const_bytes_size;
    end = h.constant_offset + h.constant_size;
  }
  if (tp->deleg_bytes_size) {
    h.delegate_offset = align64(end);
    h.delegate_size = tp->deleg_bytes_size;
    end = h.delegate_offset + h.delegate_size;
  }
  uint8_t* out = NULL;
  assert_int_equal(posix_memalign((void**)&out, 64, align64(end)), 0);
  memset(out, 0, align64(end));
  xnnd_pte_header_write(&h, out);
  memcpy(out + 64, fbdata, fbsize);
  if (tp->const_bytes_size) memcpy(out + h.constant_offset, tp->const_bytes, tp->const_bytes_size);
  if (tp->deleg_bytes_size) memcpy(out + h.delegate_offset, tp->deleg_bytes, tp->deleg_bytes_size);
  fb_builder_destroy(b);
  *size_out = end;
  return out;
}

#define F32 XNND_PROGRAM_ScalarType_F32
#define KCALL XNND_PROGRAM_Instruction_KernelCall
#define DCALL XNND_PROGRAM_Instruction_DelegateCall

static tval f32v(uint32_t rank, int32_t d0, int32_t d1, int32_t constant) {
  tval v = {F32, rank, {d0, d1}, constant};
  return v;
}

/* forward(x: f32[2,3]) -> relu(x) */
static tprog prog_relu(void) {
  tprog p = {0};
  p.n_methods = 1;
  tmethod* m = &p.methods[0];
  m->name = "forward";
  m->n_values = 2;
  m->values[0] = f32v(2, 2, 3, -1);
  m->values[1] = f32v(2, 2, 3, -1);
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 1, m->out[0] = 1;
  m->n_ops = 1, m->ops[0] = "aten.relu";
  m->n_steps = 1;
  m->steps[0] = (tstep){KCALL, 0, 1, {0}, 1, {1}, 0, {{0}}};
  return p;
}

static const float add_const[4] = {1.0f, -2.0f, 3.0f, -4.0f};

/* forward(x: f32[4]) -> (x + c) + x, c a constant */
static tprog prog_add(void) {
  tprog p = {0};
  p.n_methods = 1;
  tmethod* m = &p.methods[0];
  m->name = "forward";
  m->n_values = 4;
  m->values[0] = f32v(1, 4, 0, -1);
  m->values[1] = f32v(1, 4, 0, 0);
  m->values[2] = f32v(1, 4, 0, -1);
  m->values[3] = f32v(1, 4, 0, -1);
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 1, m->out[0] = 3;
  m->n_ops = 1, m->ops[0] = "aten.add";
  m->n_steps = 2;
  tattr alpha = {"alpha", XNND_PROGRAM_AttrKind_FLOAT, 0, 1.0};
  m->steps[0] = (tstep){KCALL, 0, 2, {0, 1}, 1, {2}, 1, {alpha}};
  m->steps[1] = (tstep){KCALL, 0, 2, {2, 0}, 1, {3}, 1, {alpha}};
  p.n_constants = 1;
  p.const_off[0] = 0, p.const_size[0] = 16;
  p.const_bytes = add_const, p.const_bytes_size = sizeof(add_const);
  return p;
}

static const char dbl_blob[64] = "DBL1";

/* forward(x: f32[2,2]) -> doubler(x) via a delegate; optionally relu after it */
static tprog prog_delegate(const char* backend, bool with_relu) {
  tprog p = {0};
  p.n_methods = 1;
  tmethod* m = &p.methods[0];
  m->name = "forward";
  m->n_values = 3;
  for (int i = 0; i < 3; i++) m->values[i] = f32v(2, 2, 2, -1);
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 1, m->out[0] = 1;
  m->n_steps = 1;
  m->steps[0] = (tstep){DCALL, 0, 1, {0}, 1, {1}, 0, {{0}}};
  if (with_relu) {
    m->n_ops = 1, m->ops[0] = "aten.relu";
    m->n_steps = 2;
    m->steps[1] = (tstep){KCALL, 0, 1, {1}, 1, {2}, 0, {{0}}};
    m->out[0] = 2;
  }
  p.n_delegates = 1;
  p.backend[0] = backend;
  p.deleg_off[0] = 0, p.deleg_size[0] = 64;
  p.deleg_bytes = dbl_blob, p.deleg_bytes_size = sizeof(dbl_blob);
  return p;
}

/* forward(x: f32[3]) -> (x, c, x) with no steps at all */
static const float pass_const[4] = {7.0f, 8.0f, 9.0f, 0.0f};
static tprog prog_passthrough(void) {
  tprog p = {0};
  p.n_methods = 1;
  tmethod* m = &p.methods[0];
  m->name = "forward";
  m->n_values = 2;
  m->values[0] = f32v(1, 3, 0, -1);
  m->values[1] = f32v(1, 3, 0, 0);
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 3, m->out[0] = 0, m->out[1] = 1, m->out[2] = 0;
  p.n_constants = 1;
  p.const_off[0] = 0, p.const_size[0] = 12;
  p.const_bytes = pass_const, p.const_bytes_size = 12;
  return p;
}

/* ---- a test delegate: out = 2 * in, for f32 tensors of equal size ---- */

typedef struct dbl_handle {
  const xnnd_allocator* allocator;
  size_t numel;
} dbl_handle;

static bool dbl_available(void) { return true; }

static xnnd_status dbl_init(const xnnd_backend_init_args* a, void** handle_out, char* err,
                            size_t err_size) {
  if (a->blob_size < 4 || memcmp(a->blob, "DBL1", 4) != 0) {
    snprintf(err, err_size, "blob magic is not DBL1");
    return XNND_BAD_MAGIC;
  }
  if (a->num_inputs != 1 || a->num_outputs != 1 || a->inputs[0].data || a->outputs[0].data ||
      a->inputs[0].dtype != XNND_F32 || a->outputs[0].dtype != XNND_F32 ||
      xnnd_tensor_numel(&a->inputs[0]) != xnnd_tensor_numel(&a->outputs[0])) {
    snprintf(err, err_size, "doubler takes one input and one output of equal size");
    return XNND_INVALID_PROGRAM;
  }
  if (a->num_specs != 1 || strcmp(a->specs[0].key, "threads") != 0 || a->specs[0].size != 2 ||
      a->num_threads == 0) {
    snprintf(err, err_size, "compile specs or thread count not passed through");
    return XNND_INVALID_PROGRAM;
  }
  dbl_handle* h = a->allocator->alloc(a->allocator->context, sizeof(*h), 8);
  if (!h) return XNND_OUT_OF_MEMORY;
  h->allocator = a->allocator;
  h->numel = xnnd_tensor_numel(&a->inputs[0]);
  *handle_out = h;
  return XNND_OK;
}

static xnnd_status dbl_execute(void* handle, const xnnd_tensor* inputs, uint32_t num_inputs,
                               const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                               size_t err_size) {
  dbl_handle* h = handle;
  if (num_inputs != 1 || num_outputs != 1 || !inputs[0].data || !outputs[0].data) {
    snprintf(err, err_size, "unbound tensors");
    return XNND_INVALID_STATE;
  }
  const float* in = inputs[0].data;
  float* out = outputs[0].data;
  for (size_t i = 0; i < h->numel; i++) out[i] = 2.0f * in[i];
  return XNND_OK;
}

static void dbl_destroy(void* handle) {
  dbl_handle* h = handle;
  h->allocator->free(h->allocator->context, h);
}

static const xnnd_backend dbl_backend = {.name = "TestDoubler", .is_available = dbl_available,
                                         .init = dbl_init, .execute = dbl_execute, .destroy = dbl_destroy};

/* ---- helpers ---- */

static xnnd_status load(const uint8_t* data, size_t size, xnnd_program** p, xnnd_error* err) {
  return xnnd_program_load_buffer(data, size, &test_options, p, err);
}

/* Load `tp` and expect `status` with `needle` in the message. */
static void expect_load_error(const tprog* tp, xnnd_status status, const char* needle) {
  size_t size;
  uint8_t* data = build_pte(tp, &size);
  xnnd_program* p = (xnnd_program*)1;
  xnnd_error err = {0};
  xnnd_status st = load(data, size, &p, &err);
  if (st != status || (needle && !strstr(err.message, needle)))
    print_error("got %s: \"%s\"; want %s with \"%s\"\n", xnnd_status_str(st), err.message,
                xnnd_status_str(status), needle ? needle : "");
  assert_int_equal(st, status);
  assert_int_equal(err.status, status);
  assert_null(p);
  if (needle) assert_non_null(strstr(err.message, needle));
  free(data);
}

/* Patch header field at byte `at` (u64 or u32) and expect `status`. */
static void expect_header_error(const tprog* tp, size_t at, uint64_t value, bool is64,
                                xnnd_status status) {
  size_t size;
  uint8_t* data = build_pte(tp, &size);
  if (is64) xnnd_put_le64(data + at, value);
  else xnnd_put_le32(data + at, (uint32_t)value);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = load(data, size, &p, &err);
  if (st != status)
    print_error("got %s: \"%s\"; want %s\n", xnnd_status_str(st), err.message,
                xnnd_status_str(status));
  assert_int_equal(st, status);
  assert_true(strncmp(err.message, "header:", 7) == 0);
  assert_null(p);
  free(data);
}

static bool kernel_available(const char* op) { return xnnd_kernel_find(op) != NULL; }

#define NEED_KERNEL(op)                                            \
  do {                                                             \
    if (!kernel_available(op)) {                                   \
      print_message("skipped: no portable kernel %s yet\n", op);   \
      skip();                                                      \
    }                                                              \
  } while (0)

/* ---- end to end ---- */

static void run_relu(xnnd_program* p) {
  xnnd_method* m = NULL;
  xnnd_error err = {0};
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  assert_int_equal(xnnd_method_num_inputs(m), 1);
  assert_int_equal(xnnd_method_num_outputs(m), 1);
  xnnd_tensor info;
  assert_int_equal(xnnd_method_input_info(m, 0, &info), XNND_OK);
  assert_int_equal(info.rank, 2);
  assert_int_equal(info.dims[1], 3);
  assert_null(info.data);

  float x[6] = {-1, 2, -3, 4, 0, -0.5f};
  xnnd_tensor in = {XNND_F32, 2, {2, 3}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(out.dtype, XNND_F32);
  assert_int_equal(out.rank, 2);
  assert_true(((uintptr_t)out.data & 63) == 0);
  const float* y = out.data;
  const float want[6] = {0, 2, 0, 4, 0, 0};
  for (int i = 0; i < 6; i++) assert_true(y[i] == want[i]);
  /* Rebinding and re-executing uses the new data. */
  float x2[6] = {5, -5, 5, -5, 5, -5};
  in.data = x2;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_true(y[0] == 5 && y[1] == 0);
  assert_string_equal(xnnd_method_errmsg(m), "");
  xnnd_method_destroy(m);
}

static void test_relu_from_buffer(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = prog_relu();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  assert_int_equal(err.status, XNND_OK);
  assert_int_equal(xnnd_program_method_count(p), 1);
  assert_string_equal(xnnd_program_method_name(p, 0), "forward");
  assert_null(xnnd_program_method_name(p, 1));
  run_relu(p);
  xnnd_program_destroy(p);
  free(data);
}

static void test_relu_from_file(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = prog_relu();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  const char* path = xt_temp_path("relu", ".pte");
  assert_int_equal(xt_write_file(path, data, size), 0);
  free(data);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(xnnd_program_load_file(path, &test_options, &p, &err), XNND_OK);
  run_relu(p);
  xnnd_program_destroy(p);
  remove(path);

  /* Missing file and a directory are IO errors. */
  assert_int_equal(xnnd_program_load_file("/nonexistent/x.pte", &test_options, &p, &err),
                   XNND_IO_ERROR);
  assert_null(p);
  assert_non_null(strstr(err.message, "/nonexistent/x.pte"));
  assert_int_equal(xnnd_program_load_file(".", &test_options, &p, &err), XNND_IO_ERROR);
}

/* Runs prog_add()'s forward on {10, 20, 30, 40} and checks y = 2x + add_const. */
static void check_add_program(xnnd_program* p) {
  xnnd_error err = {0};
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  float x[4] = {10, 20, 30, 40};
  xnnd_tensor in = {XNND_F32, 1, {4}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  const float* y = out.data;
  for (int i = 0; i < 4; i++) assert_true(y[i] == 2 * x[i] + add_const[i]);
  xnnd_method_destroy(m);
}

static void test_add_with_constant(void** state) {
  (void)state;
  NEED_KERNEL("aten.add");
  tprog tp = prog_add();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  /* Misaligned on purpose: the loader copies and constants are still usable. */
  uint8_t* shifted = malloc(size + 1);
  memcpy(shifted + 1, data, size);
  const uint8_t* sources[2] = {data, shifted + 1};
  for (int k = 0; k < 2; k++) {
    xnnd_program* p = NULL;
    xnnd_error err = {0};
    assert_int_equal(load(sources[k], size, &p, &err), XNND_OK);
    check_add_program(p);
    xnnd_program_destroy(p);
  }
  free(shifted);
  free(data);
}

static void test_constants_used_in_place(void** state) {
  (void)state;
  tprog tp = prog_passthrough();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  assert_int_equal(load(data, size, &p, NULL), XNND_OK);
  xnnd_tensor t;
  int32_t c = 0;
  assert_int_equal(xnnd_program_get_value_info(p, 0, 1, &t, &c), XNND_OK);
  assert_int_equal(c, 0);
  xnnd_pte_header h;
  xnnd_pte_header_read(data, &h);
  assert_ptr_equal(t.data, data + h.constant_offset);
  xnnd_program_destroy(p);
  free(data);
}

static void test_input_and_constant_as_outputs(void** state) {
  (void)state;
  tprog tp = prog_passthrough();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  assert_int_equal(xnnd_method_num_outputs(m), 3);
  float x[3] = {1, 2, 3};
  xnnd_tensor in = {XNND_F32, 1, {3}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor o0, o1, o2;
  assert_int_equal(xnnd_method_get_output(m, 0, &o0), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 1, &o1), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 2, &o2), XNND_OK);
  /* Copies in method memory: not the caller's input nor the read-only constant. */
  assert_true(o0.data != (void*)x && o2.data != (void*)x);
  assert_true(o0.data != o1.data && o0.data != o2.data && o1.data != o2.data);
  x[0] = 100;  /* the caller may reuse its buffer after execute */
  const float* y0 = o0.data;
  const float* y1 = o1.data;
  const float* y2 = o2.data;
  assert_true(y0[0] == 1 && y0[1] == 2 && y0[2] == 3);
  assert_true(y2[0] == 1 && y2[2] == 3);
  assert_true(y1[0] == 7 && y1[1] == 8 && y1[2] == 9);
  xnnd_method_info mi;
  assert_int_equal(xnnd_program_get_method_info(p, 0, &mi), XNND_OK);
  assert_int_equal(mi.tensor_bytes, 3 * 12);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

static void test_delegate(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  xnnd_method_options mo = {.num_threads = 4};
  assert_int_equal(xnnd_method_create(p, "forward", &mo, &m, &err), XNND_OK);
  float x[4] = {1, -2, 3, -4};
  xnnd_tensor in = {XNND_F32, 2, {2, 2}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  const float* y = out.data;
  for (int i = 0; i < 4; i++) assert_true(y[i] == 2 * x[i]);

  xnnd_step_info si;
  assert_int_equal(xnnd_program_get_step_info(p, 0, 0, &si), XNND_OK);
  assert_int_equal(si.kind, XNND_STEP_INFO_DELEGATE);
  assert_string_equal(si.backend_name, "TestDoubler");
  assert_int_equal(si.blob_size, 64);
  assert_int_equal(xnnd_program_get_step_info(p, 0, 1, &si), XNND_INVALID_ARGUMENT);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

static void test_delegate_then_kernel(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = prog_delegate("TestDoubler", true);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  float x[4] = {1, -2, 3, -4};
  xnnd_tensor in = {XNND_F32, 2, {2, 2}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  const float* y = out.data;
  assert_true(y[0] == 2 && y[1] == 0 && y[2] == 6 && y[3] == 0);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

static void test_delegate_init_failure(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  static const char bad_blob[64] = "NOPE";
  tp.deleg_bytes = bad_blob;
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = (xnnd_method*)1;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_BAD_MAGIC);
  assert_null(m);
  assert_non_null(strstr(err.message, "step 0 (delegate 0, TestDoubler)"));
  assert_non_null(strstr(err.message, "DBL1"));
  xnnd_program_destroy(p);
  free(data);
}

static void test_method_api_errors(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "backward", NULL, &m, &err), XNND_NOT_FOUND);
  assert_non_null(strstr(err.message, "\"forward\""));
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);

  assert_int_equal(xnnd_method_execute(m), XNND_INVALID_STATE);
  assert_non_null(strstr(xnnd_method_errmsg(m), "input 0"));
  float x[4] = {0};
  xnnd_tensor in = {XNND_I32, 2, {2, 2}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_DTYPE_MISMATCH);
  assert_non_null(strstr(xnnd_method_errmsg(m), "f32[2,2]"));
  in.dtype = XNND_F32;
  in.dims[1] = 3;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_SHAPE_MISMATCH);
  assert_non_null(strstr(xnnd_method_errmsg(m), "got f32[2,3]"));
  in.rank = 3;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_SHAPE_MISMATCH);
  in.rank = 200;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_SHAPE_MISMATCH);
  in.rank = 2, in.dims[1] = 2;
  assert_int_equal(xnnd_method_set_input(m, 1, &in), XNND_WRONG_INPUT_COUNT);
  assert_int_equal(xnnd_method_set_input(m, 0, NULL), XNND_INVALID_ARGUMENT);
  in.data = NULL;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_INVALID_ARGUMENT);
  in.data = (char*)x + 1;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_method_execute(m), XNND_INVALID_STATE);  /* still unbound */
  xnnd_tensor info;
  assert_int_equal(xnnd_method_input_info(m, 1, &info), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_method_output_info(m, 1, &info), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_method_get_output(m, 1, &info), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_method_output_info(m, 0, &info), XNND_OK);
  assert_int_equal(info.rank, 2);

  assert_int_equal(xnnd_method_execute(NULL), XNND_INVALID_ARGUMENT);
  assert_string_equal(xnnd_method_errmsg(NULL), "");
  xnnd_method_destroy(NULL);
  xnnd_program_destroy(NULL);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

/* Issue 16: misuse and state of the method API. */
static void test_numel_null(void** state) {
  (void)state;
  assert_int_equal(xnnd_tensor_numel(NULL), 0);
  xnnd_tensor t = {XNND_F32, 2, {3, 4}, NULL};
  assert_int_equal(xnnd_tensor_numel(&t), 12);
}

static void test_output_before_execute(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = prog_relu();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  xnnd_tensor out = {XNND_I64, 7, {0}, (void*)&out};
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_NOT_EXECUTED);
  assert_int_equal(out.dtype, XNND_I64);  /* untouched */
  assert_int_equal(out.rank, 7);
  assert_int_equal(xnnd_method_execute(m), XNND_INVALID_STATE);  /* unbound input */
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_NOT_EXECUTED);
  float x[6] = {-1, 2, -3, 4, 0, -0.5f};
  xnnd_tensor in = {XNND_F32, 2, {2, 3}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_NOT_EXECUTED);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_true(((const float*)out.data)[1] == 2.0f);
  /* A failed execute leaves no complete result either. */
  x[3] = NAN;
  assert_int_equal(xnnd_method_execute(m), XNND_NON_FINITE_INPUT);
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_NOT_EXECUTED);
  assert_string_equal(xnnd_status_str(XNND_NOT_EXECUTED),
                      "no output yet: the method has not executed successfully");
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

/* Non-finite inputs: refused by default, naming input and element; with the option, the
 * portable path propagates them (relu keeps NaN and +inf, as PyTorch does). */
static void test_non_finite_inputs(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = prog_relu();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  float x[6] = {-1, 2, -3, 4, NAN, -0.5f};
  xnnd_tensor in = {XNND_F32, 2, {2, 3}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_NON_FINITE_INPUT);
  assert_non_null(strstr(xnnd_method_errmsg(m), "input 0 element 4 (flat index) is NaN"));
  assert_non_null(strstr(xnnd_method_errmsg(m), "allow_non_finite_inputs"));
  x[4] = 0;
  x[2] = -INFINITY;
  assert_int_equal(xnnd_method_execute(m), XNND_NON_FINITE_INPUT);
  assert_non_null(strstr(xnnd_method_errmsg(m), "input 0 element 2 (flat index) is infinite"));
  x[2] = 3.0e38f;  /* huge but finite: accepted */
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_method_destroy(m);

  xnnd_method_options mo = {.allow_non_finite_inputs = true};
  assert_int_equal(xnnd_method_create(p, "forward", &mo, &m, &err), XNND_OK);
  float y[6] = {NAN, -INFINITY, INFINITY, -1, 1, -NAN};
  in.data = y;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  const float* r = out.data;
  assert_true(isnan(r[0]) && r[1] == 0.0f && isinf(r[2]) && r[2] > 0 && r[3] == 0.0f &&
              r[4] == 1.0f && isnan(r[5]));
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

/* The refusal covers programs with XNNPACK delegates, whose NaN handling is unspecified. */
static void test_non_finite_inputs_delegated(void** state) {
  (void)state;
  size_t size;
  uint8_t* data = xt_small_convnet_program(true, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  static float x[XT_CONVNET_IN_NUMEL];
  xt_fill_uniform(x, XT_CONVNET_IN_NUMEL, 5);
  x[700] = NAN;
  xnnd_tensor in = {XNND_F32, 4, {1, 3, 16, 16}, x};
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_NON_FINITE_INPUT);
  assert_non_null(strstr(xnnd_method_errmsg(m), "input 0 element 700 (flat index) is NaN"));
  x[700] = 0.1f;
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);
}

/* A program file truncated on disk after loading: the default load read it into memory, so
 * executing (which reads the constant) is unaffected; a mapped load would raise SIGBUS. */
static void test_file_truncated_after_load(void** state) {
  (void)state;
  NEED_KERNEL("aten.add");
  tprog tp = prog_add();
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  const char* path = xt_temp_path("truncated_after_load", ".pte");
  for (int map = 0; map < 2; map++) {
    assert_int_equal(xt_write_file(path, data, size), 0);
    xnnd_load_options o = {.allocator = &test_allocator, .map_file = map != 0};
    xnnd_program* p = NULL;
    xnnd_error err = {0};
    assert_int_equal(xnnd_program_load_file(path, &o, &p, &err), XNND_OK);
    if (!map) assert_int_equal(truncate(path, 0), 0);  /* only safe without the mapping */
    check_add_program(p);
    xnnd_program_destroy(p);
  }
  remove(path);
  free(data);
}

/* Verifier: repeated or nameless attributes, Program.version 0, nameless methods, no methods. */
static void test_program_field_checks(void** state) {
  (void)state;
  tprog tp = prog_add();
  tattr alpha1 = {"alpha", XNND_PROGRAM_AttrKind_FLOAT, 0, 1.0};
  tattr alpha2 = {"alpha", XNND_PROGRAM_AttrKind_FLOAT, 0, 2.0};
  tp.methods[0].steps[1].n_attrs = 2;
  tp.methods[0].steps[1].attrs[0] = alpha1;
  tp.methods[0].steps[1].attrs[1] = alpha2;
  expect_load_error(&tp, XNND_INVALID_PROGRAM,
                    "method \"forward\" step 1 (aten.add): attribute \"alpha\" is given twice "
                    "(attributes 0 and 1)");
  tp.methods[0].steps[1].attrs[1].name = "";
  expect_load_error(&tp, XNND_INVALID_PROGRAM,
                    "method \"forward\" step 1 (aten.add): attribute 1 has no name");

  tp = prog_add();
  tp.version = -1;
  expect_load_error(&tp, XNND_UNSUPPORTED_VERSION, "Program.version is 0 (absent)");
  tp.version = 2;
  expect_load_error(&tp, XNND_UNSUPPORTED_VERSION, "Program.version is 2");

  tp = prog_add();
  tp.methods[0].name = NULL;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "method 0 has no name");
  tp.methods[0].name = "";
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "method 0 has no name");
  tp = prog_add();
  tp.n_methods = 2;
  tp.methods[1] = tp.methods[0];
  tp.methods[1].name = NULL;  /* the duplicate-name check must not read it */
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "method 1 has no name");

  tp = prog_add();
  tp.n_methods = 0;
  expect_load_error(&tp, XNND_INVALID_PROGRAM,
                    "Program.methods is empty: the program has no method to run");
}

/* hardtanh/clamp with a NaN bound: PyTorch gives NaN, XNNPACK refuses; so does the portable
 * kernel, at method creation. */
static void test_hardtanh_nan_bound(void** state) {
  (void)state;
  NEED_KERNEL("aten.hardtanh");
  const struct { const char* op; const char* attr; const char* msg; } cases[] = {
      {"aten.hardtanh", "max_val", "max_val is NaN"},
      {"aten.hardtanh", "min_val", "min_val is NaN"},
      {"aten.clamp", "max", "max is NaN"},
      {"aten.clamp", "min", "min is NaN"},
  };
  for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
    tprog tp = prog_relu();
    tp.methods[0].ops[0] = cases[k].op;
    tp.methods[0].steps[0].n_attrs = 1;
    tp.methods[0].steps[0].attrs[0] = (tattr){cases[k].attr, XNND_PROGRAM_AttrKind_FLOAT, 0, NAN};
    size_t size;
    uint8_t* data = build_pte(&tp, &size);
    xnnd_program* p = NULL;
    xnnd_error err = {0};
    assert_int_equal(load(data, size, &p, &err), XNND_OK);
    xnnd_method* m = NULL;
    assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_INVALID_ARGUMENT);
    assert_null(m);
    if (!strstr(err.message, cases[k].msg) || !strstr(err.message, "step 0"))
      fail_msg("%s %s: %s", cases[k].op, cases[k].attr, err.message);
    xnnd_program_destroy(p);
    free(data);
  }
}

/* ---- memory plan ---- */

/* x -> relu -> relu -> ... (n steps): each intermediate dies after the next step, so the
 * arena needs two slots plus the output, not n. */
static void test_plan_reuses_memory(void** state) {
  (void)state;
  tprog tp = {0};
  tp.n_methods = 1;
  tmethod* m = &tp.methods[0];
  m->name = "forward";
  m->n_values = 7;
  for (uint32_t v = 0; v < 7; v++) m->values[v] = f32v(2, 16, 64, -1);  /* 4096 bytes */
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 1, m->out[0] = 6;
  m->n_ops = 1, m->ops[0] = "aten.relu";
  m->n_steps = 6;
  for (uint32_t s = 0; s < 6; s++) m->steps[s] = (tstep){KCALL, 0, 1, {(int32_t)s}, 1, {s + 1}, 0, {{0}}};
  NEED_KERNEL("aten.relu");
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  xnnd_method_info mi;
  assert_int_equal(xnnd_program_get_method_info(p, 0, &mi), XNND_OK);
  assert_int_equal(mi.tensor_bytes, 6 * 4096);
  assert_true(mi.arena_bytes <= 3 * (4096 + 64));
  assert_int_equal(mi.num_kernel_steps, 6);
  xnnd_method* me = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &me, &err), XNND_OK);
  float* x = malloc(4096);
  for (int i = 0; i < 1024; i++) x[i] = (float)(i % 7) - 3;
  xnnd_tensor in = {XNND_F32, 2, {16, 64}, x};
  assert_int_equal(xnnd_method_set_input(me, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(me), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(me, 0, &out), XNND_OK);
  const float* y = out.data;
  for (int i = 0; i < 1024; i++) assert_true(y[i] == (x[i] > 0 ? x[i] : 0));
  free(x);
  xnnd_method_destroy(me);
  xnnd_program_destroy(p);
  free(data);
}

/* Random DAGs planned directly: values live at the same time never share bytes, and the check
 * of a stored plan accepts the plan. */
static void test_plan_random_no_overlap(void** state) {
  (void)state;
  srand(1234);
  for (int iter = 0; iter < 300; iter++) {
    enum { NV = 40 };
    xnnd_value_decl values[NV];
    xnnd_step_decl steps[NV];
    uint32_t outs[NV];
    int32_t ins[NV][2];
    xnnd_output_decl mouts[3];
    memset(values, 0, sizeof(values));
    memset(steps, 0, sizeof(steps));
    uint32_t ns = 1 + (uint32_t)(rand() % (NV - 1));
    /* value 0 is the input; step s writes value s + 1 from two earlier values */
    for (uint32_t v = 0; v <= ns; v++) {
      values[v].nbytes = (uint64_t)(rand() % 5 == 0 ? 0 : 1 + rand() % 3000);
      values[v].offset = XNND_NO_OFFSET;
      values[v].constant = -1;
    }
    values[0].flags = XNND_VALUE_INPUT;
    for (uint32_t s = 0; s < ns; s++) {
      ins[s][0] = rand() % (int)(s + 1);
      ins[s][1] = rand() % (int)(s + 1);
      outs[s] = s + 1;
      steps[s] = (xnnd_step_decl){XNND_STEP_KERNEL, 0, "x", NULL, 2, 1, 0, ins[s], &outs[s], NULL, NULL};
      values[s + 1].flags |= XNND_VALUE_DEFINED;
      values[s + 1].def_step = s;
      values[s + 1].last_use = s;
      values[ins[s][0]].last_use = s;
      values[ins[s][1]].last_use = s;
    }
    mouts[0] = (xnnd_output_decl){ns, false, XNND_NO_OFFSET};
    mouts[1] = (xnnd_output_decl){0, true, XNND_NO_OFFSET};
    mouts[2] = (xnnd_output_decl){ns / 2 + 1, false, XNND_NO_OFFSET};
    values[ns].last_use = ns;
    values[ns / 2 + 1].last_use = ns;
    xnnd_method_decl md = {.name = "rand", .num_values = ns + 1, .num_outputs = 3,
                           .num_steps = ns, .values = values, .outputs = mouts, .steps = steps};
    char msg[256];
    assert_int_equal(xnnd_plan_memory(&md, &test_allocator, msg, sizeof(msg)), XNND_OK);
    /* what the planner makes, the check of a stored plan accepts */
    const uint64_t arena = md.arena_bytes;
    if (xnnd_check_memory_plan(&md, &test_allocator, msg, sizeof(msg)) != XNND_OK) fail_msg("%s", msg);
    assert_int_equal(md.arena_bytes, arena);
    uint64_t sum = 0;
    for (uint32_t a = 1; a <= ns; a++) {
      const xnnd_value_decl* va = &values[a];
      assert_true(va->offset != XNND_NO_OFFSET);
      assert_true(va->offset % 64 == 0);
      assert_true(va->offset + va->nbytes <= md.arena_bytes || va->nbytes == 0);
      sum += va->nbytes;
      for (uint32_t b = a + 1; b <= ns; b++) {
        const xnnd_value_decl* vb = &values[b];
        if (!va->nbytes || !vb->nbytes) continue;
        bool live_together = va->def_step <= vb->last_use && vb->def_step <= va->last_use;
        bool share = va->offset < vb->offset + vb->nbytes && vb->offset < va->offset + va->nbytes;
        assert_false(live_together && share);
      }
      /* the copy slot of output 1 is live at the end alongside the outputs */
      if (va->last_use == ns && values[0].nbytes)
        assert_false(mouts[1].copy_offset < va->offset + va->nbytes &&
                     va->offset < mouts[1].copy_offset + values[0].nbytes);
    }
    assert_int_equal(md.tensor_bytes, sum + values[0].nbytes);
  }
}

/* Store in tp's method 0 the plan the runtime computes for it (loaded without a plan). */
static void store_runtime_plan(tprog* tp) {
  tmethod* tm = &tp->methods[0];
  tm->plan = false;
  size_t size;
  uint8_t* data = build_pte(tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  const xnnd_method_decl* md = &p->methods[0];
  assert_false(md->planned_at_lowering);
  tm->plan = true;
  tm->arena = md->arena_bytes;
  for (uint32_t v = 0; v < tm->n_values; v++) tm->value_off[v] = md->values[v].offset;
  for (uint32_t o = 0; o < tm->n_out; o++) tm->copy_off[o] = md->outputs[o].copy_offset;
  xnnd_program_destroy(p);
  free(data);
}

/* Outputs that are an input or a constant are copied into slots of the stored plan: the copies
 * are checked like values (the convnet in test_corruption.c has none). */
static void test_plan_stored_with_copies(void** state) {
  (void)state;
  tprog tp = prog_passthrough();
  store_runtime_plan(&tp);
  tmethod* tm = &tp.methods[0];
  assert_int_equal(tm->value_off[0], XNND_NO_OFFSET);
  assert_int_equal(tm->value_off[1], XNND_NO_OFFSET);
  assert_int_equal(tm->copy_off[0], 0);
  assert_int_equal(tm->copy_off[1], 64);
  assert_int_equal(tm->copy_off[2], 128);
  assert_int_equal(tm->arena, 192);
  /* stored and used: the passthrough test's outputs, with the stored (shuffled) slots */
  tm->copy_off[0] = 128, tm->copy_off[2] = 0;
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size, &p, &err), XNND_OK);
  assert_true(p->methods[0].planned_at_lowering);
  assert_int_equal(p->methods[0].outputs[0].copy_offset, 128);
  assert_int_equal(p->methods[0].tensor_bytes, 36);
  xnnd_method* m = NULL;
  assert_int_equal(xnnd_method_create(p, "forward", NULL, &m, &err), XNND_OK);
  float x[3] = {1, 2, 3};
  xnnd_tensor in = {XNND_F32, 1, {3}, x}, o0, o1, o2;
  assert_int_equal(xnnd_method_set_input(m, 0, &in), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 0, &o0), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 1, &o1), XNND_OK);
  assert_int_equal(xnnd_method_get_output(m, 2, &o2), XNND_OK);
  assert_true((uint8_t*)o0.data == (uint8_t*)o2.data + 128);
  const float* y0 = o0.data;
  const float* y1 = o1.data;
  const float* y2 = o2.data;
  assert_true(y0[0] == 1 && y0[2] == 3 && y2[1] == 2 && y1[0] == 7 && y1[2] == 9);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(data);

  tprog bad = tp;
  bad.methods[0].copy_off[2] = 128;  /* on top of output 0's copy, both live at the end */
  expect_load_error(&bad, XNND_OVERLAP,
                    "method \"forward\" output 2 (a copy of value 0): planned slot [128, +28) "
                    "overlaps output 0 (a copy of value 0) [128, +28)");
  bad = tp;
  bad.methods[0].copy_off[1] = 72;
  expect_load_error(&bad, XNND_MISALIGNED,
                    "output 1 (a copy of value 1): planned offset 72 is not a multiple of 64");
  bad = tp;
  bad.methods[0].copy_off[1] = 192;
  expect_load_error(&bad, XNND_OUT_OF_RANGE, "lies outside the 192-byte arena");
  bad = tp;
  bad.methods[0].copy_off[1] = XNND_NO_OFFSET;
  expect_load_error(&bad, XNND_INVALID_PROGRAM, "the memory plan gives the copy no offset");
  bad = tp;
  bad.methods[0].value_off[1] = 0;
  expect_load_error(&bad, XNND_INVALID_PROGRAM, "value 1: is a constant");
  bad = tp;
  bad.methods[0].arena = 0;  /* absent: every slot is outside */
  expect_load_error(&bad, XNND_OUT_OF_RANGE, "lies outside the 0-byte arena");
}

/* The chain of relus with its stored plan: values alternate between two slots. */
static void test_plan_stored_chain(void** state) {
  (void)state;
  NEED_KERNEL("aten.relu");
  tprog tp = {0};
  tp.n_methods = 1;
  tmethod* m = &tp.methods[0];
  m->name = "forward";
  m->n_values = 5;
  for (uint32_t v = 0; v < 5; v++) m->values[v] = f32v(2, 4, 4, -1);  /* 64 bytes: slot 128 */
  m->n_in = 1, m->in[0] = 0;
  m->n_out = 1, m->out[0] = 4;
  m->n_ops = 1, m->ops[0] = "aten.relu";
  m->n_steps = 4;
  for (uint32_t s = 0; s < 4; s++) m->steps[s] = (tstep){KCALL, 0, 1, {(int32_t)s}, 1, {s + 1}, 0, {{0}}};
  store_runtime_plan(&tp);
  assert_int_equal(m->arena, 256);
  assert_int_equal(m->value_off[1], 0);
  assert_int_equal(m->value_off[2], 128);
  assert_int_equal(m->value_off[3], 0);
  assert_int_equal(m->value_off[4], 128);
  /* value 3 reuses value 1's bytes (1 is dead after step 1); on top of value 2 it is not */
  tprog bad = tp;
  bad.methods[0].value_off[3] = 128;
  expect_load_error(&bad, XNND_OVERLAP, "value 3: planned slot [128, +80) overlaps value 2 [128, +80) "
                                        "while both are live (steps 2..3 and 1..2)");
  /* the output lives to the end: a value written after it may not take its bytes, even
   * though no step reads the output after it is written */
  bad = tp;
  bad.methods[0].n_out = 1, bad.methods[0].out[0] = 2;
  bad.methods[0].value_off[4] = 128;
  bad.methods[0].value_off[3] = 0;
  expect_load_error(&bad, XNND_OVERLAP, "value 4: planned slot [128, +80) overlaps value 2");
}

/* Random stored plans: the sweep in xnnd_memory_plan_check agrees with comparing every pair. */
static void test_plan_check_matches_pairs(void** state) {
  (void)state;
  srand(99);
  enum { NT = 24 };
  xnnd_plan_tensor t[NT];
  xnnd_plan_live live[NT];
  int disagreements = 0, rejected = 0;
  for (int iter = 0; iter < 3000; iter++) {
    uint32_t n = 1 + (uint32_t)(rand() % NT), steps = 1 + (uint32_t)(rand() % 8);
    uint64_t arena = 64 * (uint64_t)(rand() % 24);
    uint32_t first = 0;
    for (uint32_t i = 0; i < n; i++) {
      first += rand() % 3 == 0;
      if (first > steps) first = steps;
      uint32_t last = first + (uint32_t)(rand() % 4);
      t[i] = (xnnd_plan_tensor){(uint64_t)(rand() % 4 == 0 ? 0 : 1 + rand() % 200), first,
                                last > steps ? steps : last, i,
                                rand() % 16 == 0 ? 64 * (uint64_t)(rand() % 24) + 8
                                                 : 64 * (uint64_t)(rand() % 24)};
    }
    /* the pairwise verdict, in the same precedence: first bad tensor in order */
    xnnd_status want = XNND_OK;
    uint32_t want_bad = 0;
    for (uint32_t i = 0; i < n && want == XNND_OK; i++) {
      uint64_t ext = t[i].nbytes ? t[i].nbytes + XNND_TENSOR_PADDING : 0;
      want_bad = i;
      if (t[i].offset % 64) want = XNND_MISALIGNED;
      else if (t[i].offset + ext > arena) want = XNND_OUT_OF_RANGE;
      for (uint32_t j = 0; j < i && want == XNND_OK && ext; j++) {
        if (!t[j].nbytes) continue;
        bool live = t[j].first_step <= t[i].last_step && t[i].first_step <= t[j].last_step;
        bool share = t[j].offset < t[i].offset + ext &&
                     t[i].offset < t[j].offset + t[j].nbytes + XNND_TENSOR_PADDING;
        if (live && share) want = XNND_OVERLAP;
      }
    }
    uint32_t bad = 0, other = 0;
    xnnd_status got = xnnd_memory_plan_check(t, n, arena, live, &bad, &other);
    if (got != want || (got != XNND_OK && bad != want_bad)) disagreements++;
    rejected += got != XNND_OK;
    if (got == XNND_OVERLAP) assert_true(other < bad);
  }
  assert_int_equal(disagreements, 0);
  assert_true(rejected > 100 && rejected < 2900);  /* both verdicts were exercised */
}

/* ---- verification failures, each with its status ---- */

static void test_bad_header(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_pte_header h;
  xnnd_pte_header_read(data, &h);
  free(data);

  expect_header_error(&tp, 0, 'Y', false, XNND_BAD_MAGIC);                   /* magic */
  expect_header_error(&tp, 8, 2, false, XNND_UNSUPPORTED_VERSION);           /* version */
  expect_header_error(&tp, 8, 0, false, XNND_UNSUPPORTED_VERSION);
  expect_header_error(&tp, 12, 32, false, XNND_MALFORMED);                   /* header_size */
  expect_header_error(&tp, 48, (uint64_t)1 << 40, true, XNND_OUT_OF_RANGE);  /* delegate off */
  expect_header_error(&tp, 48, UINT64_MAX - 63, true, XNND_OUT_OF_RANGE);
  expect_header_error(&tp, 56, UINT64_MAX, true, XNND_OUT_OF_RANGE);         /* wraps */
  expect_header_error(&tp, 56, h.delegate_size + 64, true, XNND_TRUNCATED);  /* runs past end */
  expect_header_error(&tp, 48, h.delegate_offset + 8, true, XNND_MISALIGNED);
  expect_header_error(&tp, 48, 64, true, XNND_OVERLAP);                      /* on the program */
  expect_header_error(&tp, 48, 0, true, XNND_OVERLAP);                       /* on the header */
  expect_header_error(&tp, 24, 0, true, XNND_MALFORMED);                     /* no program */
  expect_header_error(&tp, 24, h.program_size + 64, true, XNND_OVERLAP);
}

static void test_truncated(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  assert_int_equal(load(data, size - 1, &p, &err), XNND_TRUNCATED);
  assert_non_null(strstr(err.message, "delegate segment"));
  assert_int_equal(load(data, 10, &p, &err), XNND_TRUNCATED);
  assert_int_equal(load(data, 0, &p, &err), XNND_TRUNCATED);
  assert_int_equal(load(NULL, 0, &p, &err), XNND_TRUNCATED);
  assert_null(p);
  /* and from a file */
  const char* path = xt_temp_path("trunc", ".pte");
  assert_int_equal(xt_write_file(path, data, size - 3), 0);
  assert_int_equal(xnnd_program_load_file(path, &test_options, &p, &err), XNND_TRUNCATED);
  assert_int_equal(xt_write_file(path, data, 0), 0);
  assert_int_equal(xnnd_program_load_file(path, &test_options, &p, &err), XNND_TRUNCATED);
  remove(path);
  free(data);
}

static void test_bad_identifier(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  tp.identifier = "XNNB";
  expect_load_error(&tp, XNND_BAD_MAGIC, "program flatbuffer");
}

static void test_value_index_out_of_range(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].in[0] = 99;
  expect_load_error(&tp, XNND_OUT_OF_RANGE,
                    "method \"forward\" step 0 (delegate 0, TestDoubler): input 0 = value 99 out "
                    "of range (method has 3 values)");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].out[0] = 3;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "output 0 = value 3 out of range");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].in[0] = 5;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "method \"forward\" input 0 = value 5 out of range");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].out[0] = 7;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "method \"forward\" output 0 = value 7");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].index = 1;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "step 0: delegate 1 out of range");
  tp = prog_passthrough();
  tp.methods[0].values[1].constant = 1;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "value 1: constant 1 out of range");
  tp = prog_passthrough();
  tp.methods[0].values[1].constant = -5;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "value 1: constant -5");
  tp = prog_relu();
  tp.methods[0].steps[0].index = 2;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "step 0: operator 2 out of range");
  if (kernel_available("aten.relu")) {
    tp = prog_relu();
    tp.methods[0].steps[0].in[0] = -2;
    expect_load_error(&tp, XNND_OUT_OF_RANGE,
                      "step 0 (aten.relu): input 0 = value -2 out of range");
  }
}

static void test_unknown_op(void** state) {
  (void)state;
  tprog tp = prog_relu();
  tp.methods[0].ops[0] = "aten.frobnicate";
  expect_load_error(&tp, XNND_UNKNOWN_OP,
                    "method \"forward\" step 0: operator \"aten.frobnicate\" has no portable kernel");
}

static void test_unknown_backend(void** state) {
  (void)state;
  tprog tp = prog_delegate("NoSuchBackend", false);
  expect_load_error(&tp, XNND_UNKNOWN_BACKEND, "delegate 0: backend \"NoSuchBackend\"");
}

static void test_constant_checks(void** state) {
  (void)state;
  tprog tp = prog_passthrough();
  tp.const_size[0] = 8;  /* f32[3] needs 12 */
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "value 1: f32[3] needs 12 bytes but constant 0 holds 8");
  tp = prog_passthrough();
  tp.const_size[0] = 16;  /* past the 12-byte segment */
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "constant 0: bytes [0, +16) lie outside");
  tp = prog_passthrough();
  tp.const_off[0] = UINT64_MAX;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "constant 0");
  static float big[32];
  tp = prog_passthrough();
  tp.const_bytes = big, tp.const_bytes_size = sizeof(big);
  tp.const_off[0] = 4;
  expect_load_error(&tp, XNND_MISALIGNED, "constant 0: offset 4");
  tp = prog_delegate("TestDoubler", false);
  tp.deleg_size[0] = 65;
  expect_load_error(&tp, XNND_OUT_OF_RANGE, "delegate 0 (TestDoubler): blob");
  tp = prog_delegate("TestDoubler", false);
  tp.deleg_off[0] = 8, tp.deleg_size[0] = 8;
  expect_load_error(&tp, XNND_MISALIGNED, "delegate 0 (TestDoubler): blob offset 8");
}

static void test_tensor_checks(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  tp.methods[0].values[2].dtype = 9;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "value 2: dtype 9");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].values[2].dtype = -1;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "value 2: dtype -1");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].values[2].rank = 9;
  expect_load_error(&tp, XNND_LIMIT_EXCEEDED, "value 2: rank 9");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].values[2].dims[1] = -3;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "value 2: dim 1 is -3");
  tp = prog_delegate("TestDoubler", false);
  tval huge = {F32, 4, {65536, 65536, 65536, 65536}, -1};
  tp.methods[0].values[2] = huge;
  expect_load_error(&tp, XNND_LIMIT_EXCEEDED, "value 2: byte size overflows");
}

static void test_dataflow_checks(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].out[0] = 0;  /* writes the method input */
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "output 0 = value 0 is a method input");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].in[0] = 2;  /* never written */
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "input 0 = value 2 is read before");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].out[0] = 2;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "method \"forward\" output 0 = value 2 is never written");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].n_steps = 2;
  tp.methods[0].steps[1] = tp.methods[0].steps[0];
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "step 1 (delegate 0, TestDoubler): output 0 = value 1 was already written by step 0");
  tp = prog_passthrough();
  tp.methods[0].n_in = 2, tp.methods[0].in[1] = 0;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "input 1 = value 0 is listed as an input twice");
  tp = prog_passthrough();
  tp.methods[0].n_in = 2, tp.methods[0].in[1] = 1;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "input 1 = value 1 is a constant");
  tp = prog_passthrough();
  tp.methods[0].n_values = 3;
  tp.methods[0].values[2] = f32v(1, 3, 0, -1);
  tp.n_delegates = 1, tp.backend[0] = "TestDoubler", tp.deleg_size[0] = 64;
  tp.deleg_bytes = dbl_blob, tp.deleg_bytes_size = 64;
  tp.methods[0].n_steps = 1;
  tp.methods[0].steps[0] = (tstep){DCALL, 0, 1, {0}, 1, {1}, 0, {{0}}};  /* writes a constant */
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "output 0 = value 1 is a constant");
  tp = prog_passthrough();
  tp.n_methods = 2;
  tp.methods[1] = tp.methods[0];
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "method 1: name \"forward\" is already used");
  tp = prog_delegate("TestDoubler", false);
  tp.methods[0].steps[0].type = 0;
  expect_load_error(&tp, XNND_INVALID_PROGRAM, "step 0: no instruction");
}

static void test_limits(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_load_options o = test_options;
  o.limits.max_values = 2;
  assert_int_equal(xnnd_program_load_buffer(data, size, &o, &p, &err), XNND_LIMIT_EXCEEDED);
  assert_non_null(strstr(err.message, "3 values exceed the limit of 2"));
  o = test_options;
  o.limits.max_rank = 1;
  assert_int_equal(xnnd_program_load_buffer(data, size, &o, &p, &err), XNND_LIMIT_EXCEEDED);
  o = test_options;
  o.limits.max_file_size = size - 1;
  assert_int_equal(xnnd_program_load_buffer(data, size, &o, &p, &err), XNND_LIMIT_EXCEEDED);
  o = test_options;
  o.limits.max_depth = 1;
  assert_int_not_equal(xnnd_program_load_buffer(data, size, &o, &p, &err), XNND_OK);
  o = test_options;
  o.limits.max_instructions = 1;
  assert_int_equal(xnnd_program_load_buffer(data, size, &o, &p, &err), XNND_OK);
  xnnd_program_destroy(p);
  free(data);
}

static void test_backend_registry(void** state) {
  (void)state;
  assert_ptr_equal(xnnd_backend_find("TestDoubler"), &dbl_backend);
  assert_int_equal(xnnd_backend_register(&dbl_backend), XNND_INVALID_STATE);
  assert_int_equal(xnnd_backend_register(NULL), XNND_INVALID_ARGUMENT);
  assert_null(xnnd_backend_find("NoSuchBackend"));
  assert_null(xnnd_backend_find(NULL));
  const xnnd_backend* x = xnnd_backend_find(XNND_XNNPACK_BACKEND_NAME);
  assert_non_null(x);
  assert_string_equal(x->name, XNND_XNNPACK_BACKEND_NAME);
}

static void test_program_info(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  xnnd_program* p = NULL;
  assert_int_equal(load(data, size, &p, NULL), XNND_OK);
  xnnd_program_info pi;
  assert_int_equal(xnnd_program_get_info(p, &pi), XNND_OK);
  assert_int_equal(pi.file_size, size);
  assert_int_equal(pi.num_methods, 1);
  assert_int_equal(pi.num_delegates, 1);
  assert_int_equal(pi.delegate_segment_size, 64);
  xnnd_method_info mi;
  assert_int_equal(xnnd_program_get_method_info(p, 0, &mi), XNND_OK);
  assert_string_equal(mi.name, "forward");
  assert_int_equal(mi.num_values, 3);
  assert_int_equal(mi.num_steps, 1);
  assert_int_equal(mi.num_delegate_steps, 1);
  assert_int_equal(mi.tensor_bytes, 16);
  assert_int_equal(mi.arena_bytes, 64);
  assert_int_equal(xnnd_program_get_method_info(p, 1, &mi), XNND_INVALID_ARGUMENT);
  xnnd_delegate_info di;
  assert_int_equal(xnnd_program_get_delegate_info(p, 0, &di), XNND_OK);
  assert_string_equal(di.backend_name, "TestDoubler");
  assert_int_equal(di.num_compile_specs, 1);
  uint32_t vid;
  assert_int_equal(xnnd_program_get_method_io(p, 0, 0, 1, &vid), XNND_OK);
  assert_int_equal(vid, 1);
  int32_t op;
  assert_int_equal(xnnd_program_get_step_operand(p, 0, 0, 0, 0, &op), XNND_OK);
  assert_int_equal(op, 0);
  xnnd_program_destroy(p);
  free(data);
}

/* ---- allocation failures: every failing allocation is reported, nothing leaks ---- */

static void test_allocation_failures(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", false);
  size_t size;
  uint8_t* data = build_pte(&tp, &size);
  uint8_t* shifted = malloc(size + 1);
  memcpy(shifted + 1, data, size);
  for (int misaligned = 0; misaligned < 2; misaligned++) {
    const uint8_t* src = misaligned ? shifted + 1 : data;
    bool loaded = false;
    for (long budget = 0; budget < 1000 && !loaded; budget++) {
      test_alloc_ctx ctx = {budget, 0};
      xnnd_allocator a = {&ctx, t_alloc, xt_aligned_free};
      xnnd_load_options o = {.allocator = &a};
      xnnd_program* p = NULL;
      xnnd_error err = {0};
      xnnd_status st = xnnd_program_load_buffer(src, size, &o, &p, &err);
      if (st != XNND_OK) {
        assert_int_equal(st, XNND_OUT_OF_MEMORY);
        assert_null(p);
        continue;
      }
      loaded = true;
      bool created = false;
      for (long mb = 0; mb < 1000 && !created; mb++) {
        ctx.budget = mb;
        xnnd_method* m = NULL;
        st = xnnd_method_create(p, "forward", NULL, &m, &err);
        if (st == XNND_OK) {
          created = true;
          xnnd_method_destroy(m);
        } else {
          assert_int_equal(st, XNND_OUT_OF_MEMORY);
          assert_null(m);
        }
      }
      assert_true(created);
      xnnd_program_destroy(p);
    }
    assert_true(loaded);
  }
  free(shifted);
  free(data);
}

/* ---- robustness: every prefix and every single-byte flip loads or fails cleanly ---- */

static void exercise(const uint8_t* data, size_t size) {
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = load(data, size, &p, &err);
  if (st != XNND_OK) {
    assert_null(p);
    assert_true(err.message[0] != '\0');
    return;
  }
  /* Whatever verified must also instantiate or fail cleanly, and run if it instantiates. */
  for (uint32_t mi = 0; mi < xnnd_program_method_count(p); mi++) {
    xnnd_method_info info;
    assert_int_equal(xnnd_program_get_method_info(p, mi, &info), XNND_OK);
    if (info.arena_bytes > (1u << 24)) continue;  /* a flipped dim: valid, just too big */
    xnnd_method* m = NULL;
    if (xnnd_method_create(p, xnnd_program_method_name(p, mi), NULL, &m, &err) != XNND_OK) continue;
    void* bufs[8] = {0};
    uint32_t n = xnnd_method_num_inputs(m);
    bool ok = n <= 8;
    for (uint32_t i = 0; ok && i < n; i++) {
      xnnd_tensor t;
      assert_int_equal(xnnd_method_input_info(m, i, &t), XNND_OK);
      size_t bytes = xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype);
      if (bytes > (1u << 20)) { ok = false; break; }
      bufs[i] = calloc(1, bytes + 64);
      t.data = bufs[i];
      assert_int_equal(xnnd_method_set_input(m, i, &t), XNND_OK);
    }
    if (ok) (void)xnnd_method_execute(m);
    for (uint32_t i = 0; i < 8; i++) free(bufs[i]);
    xnnd_method_destroy(m);
  }
  xnnd_program_destroy(p);
}

static void fuzz_program(const tprog* tp) {
  size_t size;
  uint8_t* data = build_pte(tp, &size);
  uint8_t* copy = NULL;
  assert_int_equal(posix_memalign((void**)&copy, 64, size), 0);
  for (size_t n = 0; n < size; n++) exercise(data, n);
  static const uint8_t patterns[] = {0xff, 0x01, 0x80, 0x7f};
  for (size_t i = 0; i < size; i++) {
    for (size_t k = 0; k < sizeof(patterns); k++) {
      memcpy(copy, data, size);
      copy[i] ^= patterns[k];
      exercise(copy, size);
    }
  }
  free(copy);
  free(data);
}

static void test_fuzz_delegate_program(void** state) {
  (void)state;
  tprog tp = prog_delegate("TestDoubler", kernel_available("aten.relu"));
  fuzz_program(&tp);
}

static void test_fuzz_add_program(void** state) {
  (void)state;
  NEED_KERNEL("aten.add");
  tprog tp = prog_add();
  fuzz_program(&tp);
}

static void test_fuzz_passthrough_program(void** state) {
  (void)state;
  tprog tp = prog_passthrough();
  fuzz_program(&tp);
}

/* Every flip of a stored plan's bytes is rejected or leaves a plan that is safe to run. */
static void test_fuzz_planned_program(void** state) {
  (void)state;
  NEED_KERNEL("aten.add");
  tprog tp = prog_add();
  store_runtime_plan(&tp);
  fuzz_program(&tp);
  tp = prog_passthrough();
  store_runtime_plan(&tp);
  fuzz_program(&tp);
}

int main(void) {
  if (xnnd_backend_register(&dbl_backend) != XNND_OK) {
    fprintf(stderr, "cannot register the test backend\n");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_relu_from_buffer),
      cmocka_unit_test(test_relu_from_file),
      cmocka_unit_test(test_add_with_constant),
      cmocka_unit_test(test_constants_used_in_place),
      cmocka_unit_test(test_input_and_constant_as_outputs),
      cmocka_unit_test(test_delegate),
      cmocka_unit_test(test_delegate_then_kernel),
      cmocka_unit_test(test_delegate_init_failure),
      cmocka_unit_test(test_method_api_errors),
      cmocka_unit_test(test_numel_null),
      cmocka_unit_test(test_output_before_execute),
      cmocka_unit_test(test_non_finite_inputs),
      cmocka_unit_test(test_non_finite_inputs_delegated),
      cmocka_unit_test(test_file_truncated_after_load),
      cmocka_unit_test(test_program_field_checks),
      cmocka_unit_test(test_hardtanh_nan_bound),
      cmocka_unit_test(test_plan_reuses_memory),
      cmocka_unit_test(test_plan_random_no_overlap),
      cmocka_unit_test(test_plan_stored_with_copies),
      cmocka_unit_test(test_plan_stored_chain),
      cmocka_unit_test(test_plan_check_matches_pairs),
      cmocka_unit_test(test_bad_header),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_bad_identifier),
      cmocka_unit_test(test_value_index_out_of_range),
      cmocka_unit_test(test_unknown_op),
      cmocka_unit_test(test_unknown_backend),
      cmocka_unit_test(test_constant_checks),
      cmocka_unit_test(test_tensor_checks),
      cmocka_unit_test(test_dataflow_checks),
      cmocka_unit_test(test_limits),
      cmocka_unit_test(test_backend_registry),
      cmocka_unit_test(test_program_info),
      cmocka_unit_test(test_allocation_failures),
      cmocka_unit_test(test_fuzz_delegate_program),
      cmocka_unit_test(test_fuzz_add_program),
      cmocka_unit_test(test_fuzz_passthrough_program),
      cmocka_unit_test(test_fuzz_planned_program),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
