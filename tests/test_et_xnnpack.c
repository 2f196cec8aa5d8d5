/* ExecuTorch XNNPACK delegate data -> xnnd blob (runtime/backends/xnnpack/et_xnnpack.c): every
 * fixture written by ExecuTorch 1.5.1 (tests/fixtures/et_xnnpack/, made by
 * tests/et_xnnpack/make_fixtures.py) is translated, run on the built-in XNNPACK backend and
 * compared with ExecuTorch's own runtime's outputs (1e-5 of the output's magnitude for f32,
 * one quantization step for int8); corrupt and unsupported inputs, built here with the
 * FlatBuffers builder from schema/et_xnnpack.fbs's ids, fail with specific statuses and
 * messages. All memory goes through test_malloc/test_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "backends/xnnpack/et_xnnpack.h"
#include "backends/xnnpack/xnnpack_backend.h"
#include "et_xnnpack_generated.h"
#include "fb_builder.h"
#include "pte_format.h"
#include "xnnd/runtime.h"

static const xnnd_allocator k_alloc = {NULL, xt_aligned_alloc, xt_aligned_free};

/* ---- fixtures ---- */
typedef struct named_entry {
  const char* key;
  uint32_t key_len;
  const uint8_t* data;
  uint64_t size;
} named_entry;

typedef struct named_store {
  named_entry entries[512];
  uint32_t count;
  uint32_t lookups;
} named_store;

static const uint8_t* named_lookup(void* ctx, const char* key, size_t key_len, uint64_t* size) {
  named_store* s = ctx;
  s->lookups++;
  for (uint32_t i = 0; i < s->count; i++)
    if (s->entries[i].key_len == key_len && memcmp(s->entries[i].key, key, key_len) == 0) {
      *size = s->entries[i].size;
      return s->entries[i].data;
    }
  return NULL;
}

static uint32_t rd32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void parse_named(const uint8_t* p, size_t size, named_store* s) {
  assert_true(size >= 4);
  s->count = rd32(p);
  assert_true(s->count <= 512);
  size_t pos = 4;
  for (uint32_t i = 0; i < s->count; i++) {
    named_entry* e = &s->entries[i];
    e->key_len = rd32(p + pos);
    e->key = (const char*)p + pos + 4;
    pos += 4 + e->key_len;
    e->size = rd64(p + pos);
    e->data = p + pos + 8;
    pos += 8 + e->size;
    assert_true(pos <= size);
  }
}

typedef struct io_set {
  xnnd_tensor t[8];   /* inputs then outputs; data points into the file */
  uint32_t num_inputs, num_outputs;
} io_set;

static void parse_io(uint8_t* p, size_t size, io_set* io) {
  io->num_inputs = rd32(p);
  io->num_outputs = rd32(p + 4);
  assert_true(io->num_inputs + io->num_outputs <= 8);
  size_t pos = 8;
  for (uint32_t i = 0; i < io->num_inputs + io->num_outputs; i++) {
    xnnd_tensor* t = &io->t[i];
    t->dtype = (xnnd_dtype)rd32(p + pos);
    t->rank = rd32(p + pos + 4);
    assert_true(t->rank <= XNND_MAX_RANK);
    pos += 8;
    for (uint32_t d = 0; d < t->rank; d++, pos += 8) t->dims[d] = (int64_t)rd64(p + pos);
    t->data = p + pos;
    pos += xnnd_tensor_numel(t) * xnnd_dtype_size(t->dtype);
    assert_true(pos <= size);
  }
}

typedef struct fixture {
  const char* name;
  const char* expect_nodes;  /* ExecuTorch node kinds it holds, for the record */
  bool int8;
} fixture;

static const fixture k_fixtures[] = {
    {"conv_bn_relu6", "StaticTranspose x2 (folded), Conv2d [0, 6]", false},
    {"depthwise", "StaticTranspose x2 (folded), DepthwiseConv2d [0, inf]", false},
    {"linear", "FullyConnected [0, inf]", false},
    {"add_mul", "Add, Multiply; the delegate takes (y, x) and gives (y + x, x * y) for forward(x, y) -> (x * y, y + x)",
     false},
    {"pools", "Conv2d, MaxPooling2d, AvgPooling2d (KEEP_DIMS flag)", false},
    {"hardswish", "Conv2d, Hardswish, GlobalAvgPooling2d, size-1 StaticTranspose, StaticReshape, FullyConnected, Softmax", false},
    {"elementwise", "Sigmoid, Abs, Add, Div, Subtract, Clamp", false},
    {"qconv", "Convert, StaticTranspose (folded through the Converts), qint8 Conv2d with per-channel filter", true},
    {"deconv", "StaticTranspose x2 (folded), ConvTranspose2d stride 2, output padding 1", false},
    {"qlinear", "Convert, qint8 FullyConnected with per-channel filter (run as a 1x1 Conv2d), Convert", true},
};

/* int8: the quantization scale of the value the output's Convert reads, from the ET data. */
static float output_step(const uint8_t* data) {
  uint32_t fb_off = rd32(data + 10);
  const uint8_t* fb = data + fb_off;
  fb_table g = fb_root(fb);
  fb_vec nodes = fb_vector(g, XNND_ET_XNNPACK_XNNGraph_xnodes);
  fb_vec values = fb_vector(g, XNND_ET_XNNPACK_XNNGraph_xvalues);
  fb_vec outs = fb_vector(g, XNND_ET_XNNPACK_XNNGraph_output_ids);
  uint32_t out = fb_vec_u32(outs, 0);
  for (uint32_t i = 0; i < nodes.len; i++) {
    fb_table xn = fb_vec_table(nodes, i);
    if (fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0) != XNND_ET_XNNPACK_NodeUnion_Convert) continue;
    fb_table n = fb_table_field(xn, XNND_ET_XNNPACK_XNode_node);
    if (fb_u32(n, XNND_ET_XNNPACK_Node1x1_output_id, 0) != out) continue;
    uint32_t in = fb_u32(n, XNND_ET_XNNPACK_Node1x1_input_id, 0);
    fb_table q = fb_table_field(fb_vec_table(values, in), XNND_ET_XNNPACK_XValue_value);
    fb_table pt = fb_table_field(q, XNND_ET_XNNPACK_QuantizedTensorValue_quant_params);
    return fb_f32(pt, XNND_ET_XNNPACK_PerTensorQuant_scale, 0.0f);
  }
  return 0.0f;
}

/* dir NULL: the committed fixtures. */
static void run_fixture(const char* dir, const fixture* f, const char* own_kernels) {
  char path[1024];
  size_t xnn_size = 0, named_size = 0, io_size = 0;
  const char* base = dir != NULL ? dir : xt_source_path("tests/fixtures/et_xnnpack");
  char base_copy[768];
  snprintf(base_copy, sizeof(base_copy), "%s", base);
  snprintf(path, sizeof(path), "%s/%s.xnn", base_copy, f->name);
  uint8_t* raw = (uint8_t*)xt_read_file(path, &xnn_size);
  snprintf(path, sizeof(path), "%s/%s.named", base_copy, f->name);
  uint8_t* named_raw = (uint8_t*)xt_read_file(path, &named_size);
  snprintf(path, sizeof(path), "%s/%s.io", base_copy, f->name);
  uint8_t* io_raw = (uint8_t*)xt_read_file(path, &io_size);
  if (raw == NULL || named_raw == NULL || io_raw == NULL) fail_msg("%s: fixture files missing", f->name);
  uint8_t* data = xt_aligned_alloc(NULL, xnn_size, 64);
  memcpy(data, raw, xnn_size);
  named_store named;
  memset(&named, 0, sizeof(named));
  parse_named((const uint8_t*)named_raw, named_size, &named);
  io_set io;
  parse_io(io_raw, io_size, &io);

  xnnd_et_xnnpack_result r;
  char err[512] = "";
  xnnd_status st = xnnd_et_xnnpack_translate(data, xnn_size, named_lookup, &named, &k_alloc, &r, err, sizeof(err));
  if (st != XNND_OK) fail_msg("%s: translate: %s (%s)", f->name, err, xnnd_status_str(st));
  assert_int_equal(r.num_inputs, io.num_inputs);
  assert_int_equal(r.num_outputs, io.num_outputs);
  assert_int_equal(named.lookups, named.count);  /* each key the delegate uses, once (int8: scales too) */
  assert_true(((uintptr_t)r.blob & 63u) == 0);
  {  /* the same bytes at an odd address (inline delegate data need not be aligned): same blob */
    uint8_t* odd = xt_aligned_alloc(NULL, xnn_size + 1, 64);
    memcpy(odd + 1, data, xnn_size);
    xnnd_et_xnnpack_result r2;
    st = xnnd_et_xnnpack_translate(odd + 1, xnn_size, named_lookup, &named, &k_alloc, &r2, err, sizeof(err));
    if (st != XNND_OK) fail_msg("%s at an odd address: %s", f->name, err);
    assert_int_equal(r2.blob_size, r.blob_size);
    assert_memory_equal(r2.blob, r.blob, r.blob_size);
    xt_aligned_free(NULL, r2.blob);
    xt_aligned_free(NULL, odd);
  }

  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  xnnd_tensor ins[8], outs[8];
  float* obuf[8];
  for (uint32_t i = 0; i < io.num_inputs; i++) {
    ins[i] = io.t[i];
    size_t bytes = xnnd_tensor_numel(&ins[i]) * xnnd_dtype_size(ins[i].dtype);
    ins[i].data = xt_aligned_alloc(NULL, bytes + 64, 64);
    memcpy(ins[i].data, io.t[i].data, bytes);
  }
  for (uint32_t i = 0; i < io.num_outputs; i++) {
    outs[i] = io.t[io.num_inputs + i];
    assert_int_equal(outs[i].dtype, XNND_F32);
    size_t n = xnnd_tensor_numel(&outs[i]);
    obuf[i] = xt_aligned_alloc(NULL, sizeof(float) * n + 64, 64);
    outs[i].data = obuf[i];
  }
  xnnd_backend_option opt = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", own_kernels};
  xnnd_backend_init_args args = {r.blob, r.blob_size, NULL, 0, &k_alloc, 1, ins, io.num_inputs, outs,
                                 io.num_outputs, false, &opt, 1, NULL, 0};
  void* h = NULL;
  st = be->init(&args, &h, err, sizeof(err));
  if (st != XNND_OK) fail_msg("%s: init: %s (%s)", f->name, err, xnnd_status_str(st));
  float step = f->int8 ? output_step(data) : 0.0f;
  if (f->int8) assert_true(step > 0.0f);
  for (int round = 0; round < 2; round++) {
    for (uint32_t i = 0; i < io.num_outputs; i++)
      for (size_t k = 0; k < xnnd_tensor_numel(&outs[i]); k++) obuf[i][k] = NAN;
    st = be->execute(h, ins, io.num_inputs, outs, io.num_outputs, err, sizeof(err));
    if (st != XNND_OK) fail_msg("%s: execute: %s (%s)", f->name, err, xnnd_status_str(st));
    for (uint32_t i = 0; i < io.num_outputs; i++) {
      const float* ref = io.t[io.num_inputs + i].data;
      size_t n = xnnd_tensor_numel(&outs[i]);
      double mag = 0, worst = 0;
      for (size_t k = 0; k < n; k++) mag = fmax(mag, fabs((double)ref[k]));
      for (size_t k = 0; k < n; k++) {
        double e = fabs((double)obuf[i][k] - (double)ref[k]);
        if (!(e == e)) e = INFINITY;
        worst = fmax(worst, e);
      }
      double bound = f->int8 ? 1.0001 * step : 1e-5 * fmax(mag, 1e-30);
      if (round == 0 || !(worst <= bound))
        printf("  %-14s own_kernels=%-3s output %u: %zu values, max |err| %.3g (%s %.3g)\n", f->name, own_kernels, i,
               n, worst, f->int8 ? "step" : "|ref| max", f->int8 ? step : mag);
      if (!(worst <= bound) && getenv("XNND_ET_KEEP_GOING") == NULL)
        fail_msg("%s output %u: max |err| %g exceeds %g", f->name, i, worst, bound);
    }
  }
  be->destroy(h);
  for (uint32_t i = 0; i < io.num_inputs; i++) xt_aligned_free(NULL, ins[i].data);
  for (uint32_t i = 0; i < io.num_outputs; i++) xt_aligned_free(NULL, obuf[i]);
  xt_aligned_free(NULL, r.blob);
  xt_aligned_free(NULL, data);
  free(raw);
  free(named_raw);
  free(io_raw);
}

/* Real ExecuTorch delegates xnnd refuses, with the node named. */
static void test_refused_fixtures(void** state) {
  (void)state;
  static const struct {
    const char* name;
    const char* message;
  } cases[] = {
      {"cat", "xnodes[1] (Concatenate2): no concatenate in this XNNPACK"},
      {"permute", "xnodes[1] (StaticTranspose): no static transpose in this XNNPACK"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char rel[256];
    size_t size = 0;
    snprintf(rel, sizeof(rel), "tests/fixtures/et_xnnpack/%s.xnn", cases[i].name);
    uint8_t* raw = (uint8_t*)xt_read_file(xt_source_path(rel), &size);
    if (raw == NULL) fail_msg("%s: fixture missing", cases[i].name);
    xnnd_et_xnnpack_result r;
    char err[512] = "";
    xnnd_status st = xnnd_et_xnnpack_translate(raw, size, NULL, NULL, &k_alloc, &r, err, sizeof(err));
    if (st != XNND_UNSUPPORTED || strstr(err, cases[i].message) == NULL)
      fail_msg("%s: want UNSUPPORTED \"%s\", got %s: %s", cases[i].name, cases[i].message, xnnd_status_str(st), err);
    assert_null(r.blob);
    free(raw);
  }
}

static void test_fixtures_match_executorch(void** state) {
  (void)state;
  for (size_t i = 0; i < sizeof(k_fixtures) / sizeof(k_fixtures[0]); i++) {
    run_fixture(NULL, &k_fixtures[i], "off");
    run_fixture(NULL, &k_fixtures[i], "on");
  }
  /* Larger delegates made on demand (make_fixtures.py --torchvision DIR NAME...):
   * XNND_ET_EXTRA=DIR:NAME,NAME (a NAME ending in _int8 is compared in quantization steps). */
  const char* extra = getenv("XNND_ET_EXTRA");
  if (extra == NULL) return;
  char buf[1024];
  snprintf(buf, sizeof(buf), "%s", extra);
  char* names = strchr(buf, ':');
  assert_non_null(names);
  *names++ = '\0';
  for (char* name = strtok(names, ","); name != NULL; name = strtok(NULL, ",")) {
    size_t n = strlen(name);
    fixture f = {name, "", n > 5 && strcmp(name + n - 5, "_int8") == 0};
    run_fixture(buf, &f, "off");
    run_fixture(buf, &f, "on");
  }
}

/* ---- synthetic ExecuTorch data, for the failure cases ---- */
#define E(t, f) XNND_ET_XNNPACK_##t##_##f

typedef struct synth_value {
  int16_t datatype;
  uint32_t rank, dims[4];
  uint32_t constant_idx, external_id, flags;
} synth_value;

typedef struct synth_node {
  uint8_t type;     /* NodeUnion member */
  uint32_t in1, in2, out;
  uint32_t perm[4]; /* StaticTranspose */
} synth_node;

typedef struct synth {
  synth_value values[8];
  uint32_t num_values;
  synth_node nodes[4];
  uint32_t num_nodes;
  uint32_t inputs[4], num_inputs, outputs[4], num_outputs;
  uint64_t const_offset[4], const_size[4];
  const char* const_key[4];
  uint32_t num_consts;      /* entries after the reserved 0 */
  uint32_t constant_bytes;  /* constant region after the flatbuffer */
} synth;

/* XH00 header | flatbuffer | constant region, malloc'd through test_malloc. */
static uint8_t* synth_build(const synth* s, size_t* size_out) {
  fb_builder* b = NULL;
  assert_int_equal(fb_builder_create(&k_alloc, &b), XNND_OK);
  fb_ref values[8], nodes[4], consts[5];
  for (uint32_t i = 0; i < s->num_values; i++) {
    const synth_value* v = &s->values[i];
    fb_ref dims = fb_create_vector(b, v->dims, v->rank, 4);
    fb_table_start(b);
    fb_add_u32(b, E(TensorValue, id_out), i, 0);
    fb_add_ref(b, E(TensorValue, dims), dims);
    fb_add_u32(b, E(TensorValue, num_dims), v->rank, 0);
    fb_add_u32(b, E(TensorValue, constant_buffer_idx), v->constant_idx, 0);
    fb_add_u32(b, E(TensorValue, external_id), v->external_id, 0);
    fb_add_u32(b, E(TensorValue, flags), v->flags, 0);
    fb_add_i16(b, E(TensorValue, datatype), v->datatype, 0);
    fb_ref tv = fb_table_end(b);
    fb_table_start(b);
    fb_add_u8(b, E(XValue, value_type), XNND_ET_XNNPACK_ValueUnion_TensorValue, 0);
    fb_add_ref(b, E(XValue, value), tv);
    values[i] = fb_table_end(b);
  }
  for (uint32_t i = 0; i < s->num_nodes; i++) {
    const synth_node* n = &s->nodes[i];
    fb_ref t;
    if (n->type == XNND_ET_XNNPACK_NodeUnion_StaticTranspose) {
      fb_ref perm = fb_create_vector(b, n->perm, 4, 4);
      fb_table_start(b);
      fb_add_u32(b, E(StaticTranspose, num_dims), 4, 0);
      fb_add_ref(b, E(StaticTranspose, perm), perm);
      fb_add_u32(b, E(StaticTranspose, input_id), n->in1, 0);
      fb_add_u32(b, E(StaticTranspose, output_id), n->out, 0);
      t = fb_table_end(b);
    } else if (n->type == XNND_ET_XNNPACK_NodeUnion_Concatenate2) {
      fb_table_start(b);
      fb_add_u32(b, E(Cat, input1_id), n->in1, 0);
      fb_add_u32(b, E(Cat, input2_id), n->in2, 0);
      fb_add_u32(b, E(Cat, output_id), n->out, 0);
      t = fb_table_end(b);
    } else { /* Node2x1 kinds */
      fb_table_start(b);
      fb_add_u32(b, E(Node2x1, input1_id), n->in1, 0);
      fb_add_u32(b, E(Node2x1, input2_id), n->in2, 0);
      fb_add_u32(b, E(Node2x1, output_id), n->out, 0);
      t = fb_table_end(b);
    }
    fb_table_start(b);
    fb_add_u8(b, E(XNode, node_type), n->type, 0);
    fb_add_ref(b, E(XNode, node), t);
    nodes[i] = fb_table_end(b);
  }
  fb_table_start(b);
  consts[0] = fb_table_end(b);
  for (uint32_t i = 0; i < s->num_consts; i++) {
    fb_ref key = s->const_key[i] ? fb_create_string(b, s->const_key[i], strlen(s->const_key[i])) : 0;
    fb_table_start(b);
    fb_add_u64(b, E(ConstantDataOffset, offset), s->const_offset[i], 0);
    fb_add_u64(b, E(ConstantDataOffset, size), s->const_size[i], 0);
    fb_add_ref(b, E(ConstantDataOffset, named_key), key);
    consts[i + 1] = fb_table_end(b);
  }
  fb_ref vv = fb_create_ref_vector(b, values, s->num_values);
  fb_ref nv = fb_create_ref_vector(b, nodes, s->num_nodes);
  fb_ref cv = fb_create_ref_vector(b, consts, s->num_consts + 1);
  fb_ref iv = fb_create_vector(b, s->inputs, s->num_inputs, 4);
  fb_ref ov = fb_create_vector(b, s->outputs, s->num_outputs, 4);
  fb_table_start(b);
  fb_add_ref(b, E(XNNGraph, xnodes), nv);
  fb_add_ref(b, E(XNNGraph, xvalues), vv);
  fb_add_u32(b, E(XNNGraph, num_externs), s->num_inputs + s->num_outputs, 0);
  fb_add_ref(b, E(XNNGraph, input_ids), iv);
  fb_add_ref(b, E(XNNGraph, output_ids), ov);
  fb_add_ref(b, E(XNNGraph, constant_data), cv);
  fb_ref root = fb_table_end(b);
  const uint8_t* fb = NULL;
  size_t fb_size = 0;
  assert_int_equal(fb_finish(b, root, XNND_ET_XNNPACK_IDENTIFIER, &fb, &fb_size), XNND_OK);
  size_t c_off = 32 + ((fb_size + 15) & ~(size_t)15);
  size_t total = c_off + s->constant_bytes;
  uint8_t* out = xt_aligned_alloc(NULL, total, 64);
  memset(out, 0, total);
  memcpy(out + 4, "XH00", 4);
  out[8] = 30;
  uint32_t u = 32;
  memcpy(out + 10, &u, 4);
  u = (uint32_t)fb_size;
  memcpy(out + 14, &u, 4);
  u = (uint32_t)c_off;
  memcpy(out + 18, &u, 4);
  uint64_t cs = s->constant_bytes;
  memcpy(out + 22, &cs, 8);
  memcpy(out + 32, fb, fb_size);
  for (size_t k = c_off; k < total; k++) out[k] = (uint8_t)k;
  fb_builder_destroy(b);
  *size_out = total;
  return out;
}

/* x [1,4] + c [1,4] (constant 1) -> y, external input 0 / output 1. */
static synth synth_add(void) {
  synth s;
  memset(&s, 0, sizeof(s));
  s.values[0] = (synth_value){1, 2, {1, 4}, 0, 0, 1};
  s.values[1] = (synth_value){1, 2, {1, 4}, 1, UINT32_MAX, 0};
  s.values[2] = (synth_value){1, 2, {1, 4}, 0, 1, 2};
  s.num_values = 3;
  s.nodes[0] = (synth_node){XNND_ET_XNNPACK_NodeUnion_Add, 0, 1, 2, {0}};
  s.num_nodes = 1;
  s.inputs[0] = 0;
  s.num_inputs = 1;
  s.outputs[0] = 2;
  s.num_outputs = 1;
  s.const_offset[0] = 0;
  s.const_size[0] = 16;
  s.num_consts = 1;
  s.constant_bytes = 64;
  return s;
}

static void expect_fail(const synth* s, xnnd_status want, const char* needle) {
  size_t size = 0;
  uint8_t* data = synth_build(s, &size);
  xnnd_et_xnnpack_result r;
  char err[512] = "";
  xnnd_status st = xnnd_et_xnnpack_translate(data, size, NULL, NULL, &k_alloc, &r, err, sizeof(err));
  if (st != want || strstr(err, needle) == NULL)
    fail_msg("want %s with \"%s\", got %s: %s", xnnd_status_str(want), needle, xnnd_status_str(st), err);
  assert_null(r.blob);
  xt_aligned_free(NULL, data);
}

static void test_synthetic_ok(void** state) {
  (void)state;
  synth s = synth_add();
  size_t size = 0;
  uint8_t* data = synth_build(&s, &size);
  xnnd_et_xnnpack_result r;
  char err[512] = "";
  xnnd_status st = xnnd_et_xnnpack_translate(data, size, NULL, NULL, &k_alloc, &r, err, sizeof(err));
  if (st != XNND_OK) fail_msg("%s", err);
  /* run it: y = x + the constant bytes 32..47 of the blob's constant region as floats */
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  float x[4 + 4] = {1, 2, 3, 4}, y[4 + 4];
  xnnd_tensor ti = {XNND_F32, 2, {1, 4}, x}, to = {XNND_F32, 2, {1, 4}, y};
  xnnd_backend_init_args args = {r.blob, r.blob_size, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, NULL, 0};
  void* h = NULL;
  st = be->init(&args, &h, err, sizeof(err));
  if (st != XNND_OK) fail_msg("init: %s", err);
  assert_int_equal(be->execute(h, &ti, 1, &to, 1, err, sizeof(err)), XNND_OK);
  uint32_t c_off = rd32(data + 18);
  for (int k = 0; k < 4; k++) {
    float c;
    memcpy(&c, data + c_off + 4 * k, 4);
    assert_true(y[k] == x[k] + c);
  }
  be->destroy(h);
  xt_aligned_free(NULL, r.blob);
  xt_aligned_free(NULL, data);
}

static void test_corrupt_header(void** state) {
  (void)state;
  synth s = synth_add();
  size_t size = 0;
  uint8_t* good = synth_build(&s, &size);
  uint8_t* d = xt_aligned_alloc(NULL, size, 64);
  xnnd_et_xnnpack_result r;
  char err[512];
  struct {
    size_t at, len;        /* patch */
    uint64_t value;
    size_t size;           /* bytes handed over */
    xnnd_status want;
    const char* needle;
  } cases[] = {
      {0, 0, 0, 7, XNND_TRUNCATED, "too short"},
      {0, 0, 0, 20, XNND_TRUNCATED, "the header needs 30"},
      {4, 1, 'Y', 0, XNND_BAD_MAGIC, "XH00"},
      {8, 2, 8, 0, XNND_MALFORMED, "length 8"},
      {10, 4, 16, 0, XNND_OUT_OF_RANGE, "inside the 30-byte header"},
      {14, 4, 1u << 20, 0, XNND_OUT_OF_RANGE, "flatbuffer [32, +1048576) outside"},
      {22, 8, 1u << 20, 0, XNND_OUT_OF_RANGE, "constant data"},
      {18, 4, 40, 0, XNND_OVERLAP, "overlaps the flatbuffer"},
      {36, 1, 'Z', 0, XNND_BAD_MAGIC, "ExecuTorch XNNPACK flatbuffer"},  /* "XN01" inside the flatbuffer */
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    memcpy(d, good, size);
    if (cases[i].len) memcpy(d + cases[i].at, &cases[i].value, cases[i].len);
    size_t n = cases[i].size ? cases[i].size : size;
    err[0] = '\0';
    xnnd_status st = xnnd_et_xnnpack_translate(d, n, NULL, NULL, &k_alloc, &r, err, sizeof(err));
    if (st != cases[i].want || strstr(err, cases[i].needle) == NULL)
      fail_msg("case %zu: want %s with \"%s\", got %s: %s", i, xnnd_status_str(cases[i].want), cases[i].needle,
               xnnd_status_str(st), err);
  }
  /* every truncation fails cleanly */
  for (size_t n = 0; n < size; n++) {
    xnnd_status st = xnnd_et_xnnpack_translate(good, n, NULL, NULL, &k_alloc, &r, err, sizeof(err));
    if (st == XNND_OK) {  /* only a cut inside the unused tail of the constant region can pass */
      assert_true(n >= size - 48);
      xt_aligned_free(NULL, r.blob);
    }
  }
  xt_aligned_free(NULL, d);
  xt_aligned_free(NULL, good);
}

static void test_corrupt_graph(void** state) {
  (void)state;
  synth s = synth_add();
  s.values[1].constant_idx = 5;
  expect_fail(&s, XNND_OUT_OF_RANGE, "constant_buffer_idx 5 out of range (2 constant_data entries)");

  s = synth_add();
  s.const_offset[0] = 60;
  expect_fail(&s, XNND_OUT_OF_RANGE, "constant_data[1] (xvalues[1]): [60, +16) outside the 64-byte constant data");

  s = synth_add();
  s.const_key[0] = "weights";
  s.const_offset[0] = UINT64_MAX;
  expect_fail(&s, XNND_NOT_FOUND, "named_data key \"weights\" not in the program");

  s = synth_add();
  s.nodes[0].type = 60;  /* a node kind from a newer ExecuTorch */
  expect_fail(&s, XNND_MALFORMED, "union type 60 out of range");

  s = synth_add();
  s.nodes[0].in2 = 9;
  expect_fail(&s, XNND_OUT_OF_RANGE, "xnodes[0] (Add): input value 9 out of range (3 values)");

  /* ExecuTorch's datatypes from 10 up are not XNNPACK's: 12 is int32, never treated as ours. */
  s = synth_add();
  s.values[1].datatype = 12;
  expect_fail(&s, XNND_UNSUPPORTED, "xvalues[1] (id 1): datatype 12 (int32) not translated by xnnd");
  s.values[1].datatype = 10;
  expect_fail(&s, XNND_UNSUPPORTED, "datatype 10 (qbint4)");
  s.values[1].datatype = 9;
  expect_fail(&s, XNND_UNSUPPORTED, "datatype 9 (qdint8 (dynamic quantization))");
  s.values[1].datatype = 15;
  expect_fail(&s, XNND_MALFORMED, "datatype 15 is not an ExecuTorch XNNPACK datatype");

  s = synth_add();
  s.values[2].external_id = 0;
  expect_fail(&s, XNND_MALFORMED, "value 2: external_id 0 outside the outputs' range [1, 2)");

  s = synth_add();
  s.nodes[0].type = XNND_ET_XNNPACK_NodeUnion_BatchMatrixMultiply;
  expect_fail(&s, XNND_UNSUPPORTED, "xnodes[0] (BatchMatrixMultiply): no batch matrix multiply in this XNNPACK");
  s.nodes[0].type = XNND_ET_XNNPACK_NodeUnion_PReLU;
  expect_fail(&s, XNND_UNSUPPORTED, "xnodes[0] (PReLU): not translated by xnnd");
  s.nodes[0].type = XNND_ET_XNNPACK_NodeUnion_Concatenate2;
  expect_fail(&s, XNND_UNSUPPORTED, "xnodes[0] (Concatenate2): no concatenate in this XNNPACK");
}

/* Transposes: [0,2,3,1] after an external input and [0,3,1,2] before an external output fold
 * into flag 4; an interior one (here two in a row) is refused. */
static void test_transposes(void** state) {
  (void)state;
  synth s;
  memset(&s, 0, sizeof(s));
  s.values[0] = (synth_value){1, 4, {1, 3, 4, 5}, 0, 0, 1};          /* x NCHW, input */
  s.values[1] = (synth_value){1, 4, {1, 4, 5, 3}, 0, UINT32_MAX, 0}; /* NHWC */
  s.values[2] = (synth_value){1, 4, {1, 4, 5, 3}, 0, UINT32_MAX, 0}; /* NHWC */
  s.values[3] = (synth_value){1, 4, {1, 3, 4, 5}, 0, 1, 2};          /* y NCHW, output */
  s.num_values = 4;
  s.nodes[0] = (synth_node){XNND_ET_XNNPACK_NodeUnion_StaticTranspose, 0, 0, 1, {0, 2, 3, 1}};
  s.nodes[1] = (synth_node){XNND_ET_XNNPACK_NodeUnion_Multiply, 1, 1, 2, {0}};
  s.nodes[2] = (synth_node){XNND_ET_XNNPACK_NodeUnion_StaticTranspose, 2, 0, 3, {0, 3, 1, 2}};
  s.num_nodes = 3;
  s.inputs[0] = 0;
  s.num_inputs = 1;
  s.outputs[0] = 3;
  s.num_outputs = 1;
  size_t size = 0;
  uint8_t* data = synth_build(&s, &size);
  xnnd_et_xnnpack_result r;
  char err[512] = "";
  if (xnnd_et_xnnpack_translate(data, size, NULL, NULL, &k_alloc, &r, err, sizeof(err)) != XNND_OK)
    fail_msg("%s", err);
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  float x[60 + 4], y[60 + 4];
  for (int k = 0; k < 60; k++) x[k] = (float)k - 30.0f;
  xnnd_tensor ti = {XNND_F32, 4, {1, 3, 4, 5}, x}, to = {XNND_F32, 4, {1, 3, 4, 5}, y};
  xnnd_backend_init_args args = {r.blob, r.blob_size, NULL, 0, &k_alloc, 1, &ti, 1, &to, 1, false, NULL, 0, NULL, 0};
  void* h = NULL;
  if (be->init(&args, &h, err, sizeof(err)) != XNND_OK) fail_msg("init: %s", err);
  assert_int_equal(be->execute(h, &ti, 1, &to, 1, err, sizeof(err)), XNND_OK);
  for (int k = 0; k < 60; k++) assert_true(y[k] == x[k] * x[k]);
  be->destroy(h);
  xt_aligned_free(NULL, r.blob);

  /* the same flatbuffer without the XH00 header (no constants): accepted as such */
  uint32_t fb_size = rd32(data + 14);
  uint8_t* bare = xt_aligned_alloc(NULL, fb_size, 64);
  memcpy(bare, data + 32, fb_size);
  if (xnnd_et_xnnpack_translate(bare, fb_size, NULL, NULL, &k_alloc, &r, err, sizeof(err)) != XNND_OK)
    fail_msg("bare flatbuffer: %s", err);
  assert_int_equal(r.num_inputs, 1);
  assert_int_equal(r.num_outputs, 1);
  xt_aligned_free(NULL, r.blob);
  xt_aligned_free(NULL, bare);
  xt_aligned_free(NULL, data);

  /* the input transposed twice: the second transpose is interior */
  s.nodes[1] = (synth_node){XNND_ET_XNNPACK_NodeUnion_StaticTranspose, 1, 0, 2, {0, 1, 2, 3}};
  s.values[2] = (synth_value){1, 4, {1, 4, 5, 3}, 0, UINT32_MAX, 0};
  s.nodes[1].perm[0] = 0, s.nodes[1].perm[1] = 2, s.nodes[1].perm[2] = 1, s.nodes[1].perm[3] = 3;
  s.values[2].dims[1] = 5, s.values[2].dims[2] = 4;
  s.values[3] = (synth_value){1, 4, {1, 3, 5, 4}, 0, 1, 2};
  expect_fail(&s, XNND_UNSUPPORTED, "xnodes[1] (StaticTranspose): no static transpose in this XNNPACK");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixtures_match_executorch),
      cmocka_unit_test(test_refused_fixtures),
      cmocka_unit_test(test_synthetic_ok),
      cmocka_unit_test(test_corrupt_header),
      cmocka_unit_test(test_corrupt_graph),
      cmocka_unit_test(test_transposes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
