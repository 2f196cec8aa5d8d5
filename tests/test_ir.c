/* Graph IR tests: op table, graph storage and compaction, shape inference against PyTorch's
 * shapes, the verifier (one test per error class), text round trips of the golden files in
 * tests/golden/ir, parser errors with line:column, constant bundles, and a fuzz loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ir.h"
#include "ir_internal.h"
#include "test_support.h"

#define assert_contains(hay, needle)                                              \
  do {                                                                            \
    const char* hay_ = (hay);                                                     \
    if (!strstr(hay_, (needle))) fail_msg("\"%s\"\n  does not contain \"%s\"", hay_, (needle)); \
  } while (0)

/* ---- helpers ---- */

/* tests/golden/ir/<name>: found next to this source file, so the test runs from any dir. */
static const char* golden_path(const char* name) {
  static char buf[4][4096];
  static int slot;
  char* out = buf[slot++ & 3];
  const char* env = getenv("XNND_SOURCE_DIR");
  if (env) {
    snprintf(out, sizeof buf[0], "%s/tests/golden/ir/%s", env, name);
  } else {
    const char* file = __FILE__;
    const char* slash = strrchr(file, '/');
    int dir = slash ? (int)(slash - file) : 1;
    snprintf(out, sizeof buf[0], "%.*s/golden/ir/%s", dir, slash ? file : ".", name);
  }
  return out;
}

static xnnd_graph* parse_ok_bundle(const char* text, const xnnd_const_bundle* b) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), b, &g, &err);
  if (st != XNND_OK) fail_msg("parse failed: %s\n%s", err.message, text);
  assert_non_null(g);
  return g;
}

static xnnd_graph* parse_ok(const char* text) { return parse_ok_bundle(text, NULL); }

static void expect_parse_error(const char* text, const char* where, const char* what) {
  xnnd_graph* g = (xnnd_graph*)1;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), NULL, &g, &err);
  if (st != XNND_PARSE_ERROR) fail_msg("expected a parse error for:\n%s", text);
  assert_null(g);
  assert_int_equal(err.status, XNND_PARSE_ERROR);
  if (strncmp(err.message, where, strlen(where)) != 0)
    fail_msg("message \"%s\" does not start with \"%s\"", err.message, where);
  assert_contains(err.message, what);
}

/* Parses (must succeed), verifies (must fail) and checks the message. */
static void expect_verify_error(const char* text, const char* what1, const char* what2) {
  xnnd_graph* g = parse_ok(text);
  assert_int_equal(xnnd_graph_verify(g), XNND_VERIFY_ERROR);
  assert_contains(g->errmsg, what1);
  if (what2) assert_contains(g->errmsg, what2);
  xnnd_graph_destroy(g);
}

static void verify_ok(xnnd_graph* g) {
  xnnd_status st = xnnd_graph_verify(g);
  if (st != XNND_OK) fail_msg("verify failed: %s", g->errmsg);
}

static void assert_dims(const xnnd_ir_value* v, xnnd_dtype dtype, uint32_t rank,
                        const int64_t* dims) {
  char want[160], have[160];
  ir_format_dims(want, sizeof want, rank, dims);
  ir_format_dims(have, sizeof have, v->rank, v->dims);
  if (v->dtype != dtype || strcmp(want, have) != 0)
    fail_msg("%%%s is %s%s, expected %s%s", v->name, xnnd_dtype_name(v->dtype), have,
             xnnd_dtype_name(dtype), want);
}

static xnnd_id input(xnnd_graph* g, const char* name, xnnd_dtype dt, uint32_t rank,
                     const int64_t* dims) {
  xnnd_id v = xnnd_graph_add_value(g, name, dt, rank, dims);
  assert_int_not_equal(v, XNND_NO_ID);
  return v;
}

static xnnd_attr ints2(int64_t a, int64_t b) {
  xnnd_attr x = {.kind = XNND_ATTR_INTS, .n = 2, .ints = {a, b}};
  return x;
}

/* Defaults of op, for editing before add_node_infer. */
static void defaults(xnnd_op op, xnnd_attr* attrs) {
  const xnnd_op_info* info = xnnd_op_get(op);
  memset(attrs, 0, sizeof(xnnd_attr) * XNND_MAX_ATTRS);
  for (uint32_t a = 0; a < info->num_attrs; a++) attrs[a] = info->attrs[a].def;
}

static void set_attr(xnnd_op op, xnnd_attr* attrs, const char* name, xnnd_attr value) {
  int idx = xnnd_op_attr_index(op, name);
  assert_true(idx >= 0);
  attrs[idx] = value;
}

static const xnnd_ir_value* out0(xnnd_graph* g, xnnd_id node, uint32_t k) {
  assert_int_not_equal(node, XNND_NO_ID);
  return &g->values[g->nodes[node].outputs[k]];
}

/* ---- op table ---- */

static void test_op_table(void** state) {
  (void)state;
  for (uint32_t op = 0; op < XNND_OP_COUNT; op++) {
    const xnnd_op_info* info = xnnd_op_get((xnnd_op)op);
    assert_non_null(info);
    assert_non_null(info->name);
    assert_non_null(info->infer);
    assert_non_null(info->attrs);
    assert_true(info->min_inputs <= info->max_inputs);
    assert_true(info->num_outputs >= 1 && info->num_outputs <= 3);
    assert_true(info->num_attrs <= XNND_MAX_ATTRS);
    assert_int_equal(xnnd_op_lookup(info->name), op);
    assert_null(info->attrs[info->num_attrs].name);  /* terminator */
    for (uint32_t a = 0; a < info->num_attrs; a++) {
      assert_int_equal(xnnd_op_attr_index((xnnd_op)op, info->attrs[a].name), (int)a);
      const xnnd_attr* d = &info->attrs[a].def;
      assert_true(d->kind == XNND_ATTR_NONE || d->kind == info->attrs[a].kind);
    }
  }
  assert_null(xnnd_op_get(XNND_OP_COUNT));
  assert_int_equal(xnnd_op_lookup("aten.nope"), XNND_OP_COUNT);
  assert_int_equal(xnnd_op_lookup("aten.conv"), XNND_OP_COUNT);
  assert_int_equal(xnnd_op_attr_index(XNND_OP_CONVOLUTION, "groups"), 5);
  assert_int_equal(xnnd_op_attr_index(XNND_OP_RELU, "groups"), -1);
  assert_int_equal(xnnd_op_get(XNND_OP_CONVOLUTION)->optional_inputs, 1u << 2);
  assert_int_equal(xnnd_op_get(XNND_OP_NATIVE_BATCH_NORM)->optional_inputs, 6u);
  assert_int_equal(xnnd_op_get(XNND_OP_LINEAR)->optional_inputs, 1u << 2);
  assert_int_equal(xnnd_op_get(XNND_OP_CAT)->max_inputs, 255);
}

/* ---- graph storage ---- */

static void test_graph_values(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  xnnd_graph_destroy(NULL);
  int64_t d[2] = {2, 3};
  xnnd_id a = input(g, "a", XNND_F32, 2, d);
  xnnd_id v1 = input(g, NULL, XNND_F32, 2, d);
  assert_string_equal(g->values[v1].name, "v1");
  assert_int_equal(xnnd_graph_add_value(g, "a", XNND_F32, 2, d), XNND_NO_ID);
  assert_contains(g->errmsg, "duplicate value name %a");
  assert_int_equal(xnnd_graph_add_value(g, "bad name", XNND_F32, 2, d), XNND_NO_ID);
  int64_t neg[1] = {-1};
  assert_int_equal(xnnd_graph_add_value(g, "n", XNND_F32, 1, neg), XNND_NO_ID);
  assert_int_equal(xnnd_graph_add_value(g, "r", XNND_F32, 9, NULL), XNND_NO_ID);
  /* a user name that looks generated does not collide with later generated names */
  xnnd_id v3 = input(g, "v3", XNND_F32, 0, NULL);
  xnnd_id gen = input(g, NULL, XNND_F32, 0, NULL);
  assert_string_not_equal(g->values[gen].name, g->values[v3].name);
  assert_int_equal(xnnd_graph_find_value(g, "a"), a);
  assert_int_equal(xnnd_graph_find_value(g, "v3"), v3);
  assert_int_equal(xnnd_graph_find_value(g, "zz"), XNND_NO_ID);
  /* many values keep the index consistent */
  char name[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(name, sizeof name, "many%d", i);
    input(g, name, XNND_I8, 1, d);
  }
  assert_int_equal(xnnd_graph_find_value(g, "many777"), gen + 778);

  float data[6] = {1, 2, 3, 4, 5, 6};
  assert_int_equal(xnnd_graph_set_constant(g, a, data, 5), XNND_INVALID_ARGUMENT);
  assert_contains(g->errmsg, "expected 24");
  assert_int_equal(xnnd_graph_set_constant(g, a, data, sizeof data), XNND_OK);
  assert_true(((uintptr_t)g->values[a].data & 63) == 0);
  assert_memory_equal(g->values[a].data, data, sizeof data);
  void* p = xnnd_graph_alloc(g, 100);
  assert_non_null(p);
  assert_true(((uintptr_t)p & 63) == 0);
  void* big = xnnd_graph_alloc(g, 1 << 20);
  assert_true(((uintptr_t)big & 63) == 0);

  float scales[3] = {0.5f, 0.25f, 1};
  assert_int_equal(xnnd_graph_set_quant_per_channel(g, v1, 1, scales, NULL, 3), XNND_OK);
  assert_int_equal(g->values[v1].quant.num_channels, 3);
  assert_int_equal(g->values[v1].quant.zero_points[2], 0);
  assert_true(g->values[v1].quant.scales != scales);
  assert_int_equal(xnnd_graph_set_quant_per_tensor(g, v1, 0.5f, 3), XNND_OK);
  assert_int_equal(g->values[v1].quant.scheme, XNND_QUANT_PER_TENSOR);
  assert_int_equal(xnnd_graph_set_quant_per_tensor(g, 99999, 0.5f, 3), XNND_INVALID_ARGUMENT);
  xnnd_graph_destroy(g);

  assert_int_equal(xnnd_graph_create("0123456789012345678901234567890123456789012345678901234567890"
                                     "123456789", &g), XNND_INVALID_ARGUMENT);
}

static void test_graph_nodes_and_uses(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  int64_t d[2] = {2, 3};
  xnnd_id x = input(g, "x", XNND_F32, 2, d);
  assert_int_equal(xnnd_graph_set_inputs(g, &x, 1), XNND_OK);
  xnnd_id r = xnnd_graph_add_node_infer(g, XNND_OP_RELU, &x, 1, NULL);
  xnnd_id rv = g->nodes[r].outputs[0];
  xnnd_id ins[2] = {x, rv};
  xnnd_id m = xnnd_graph_add_node_infer(g, XNND_OP_MUL, ins, 2, NULL);
  xnnd_id mv = g->nodes[m].outputs[0];
  xnnd_id ins2[2] = {rv, rv};
  xnnd_id a = xnnd_graph_add_node_infer(g, XNND_OP_ADD, ins2, 2, NULL);
  xnnd_id av = g->nodes[a].outputs[0];
  assert_int_equal(g->values[av].producer, a);
  xnnd_id outs[2] = {mv, av};
  assert_int_equal(xnnd_graph_set_outputs(g, outs, 2), XNND_OK);
  verify_ok(g);

  assert_int_equal(xnnd_graph_count_uses(g, x), 2);
  assert_int_equal(xnnd_graph_count_uses(g, rv), 2);  /* mul, add (reads it twice: one node) */
  assert_int_equal(xnnd_graph_count_uses(g, mv), 1);  /* graph output */
  uint32_t counts[16];
  xnnd_graph_use_counts(g, counts);
  for (xnnd_id v = 0; v < g->num_values; v++)
    assert_int_equal(counts[v], xnnd_graph_count_uses(g, v));

  /* wrong arity, absent required input, taken output */
  assert_int_equal(xnnd_graph_add_node(g, XNND_OP_RELU, ins, 2, &mv, 1), XNND_NO_ID);
  xnnd_id absent = XNND_NO_ID;
  assert_int_equal(xnnd_graph_add_node(g, XNND_OP_RELU, &absent, 1, &mv, 1), XNND_NO_ID);
  assert_int_equal(xnnd_graph_add_node(g, XNND_OP_RELU, &x, 1, &mv, 1), XNND_NO_ID);
  assert_contains(g->errmsg, "already produced by node 1");
  /* a failed add_node_infer leaves the graph as it was */
  uint32_t nv = g->num_values, nn = g->num_nodes;
  xnnd_id mm_in[2] = {x, x};
  assert_int_equal(xnnd_graph_add_node_infer(g, XNND_OP_MM, mm_in, 2, NULL), XNND_NO_ID);
  assert_contains(g->errmsg, "inner dim 3");
  assert_int_equal(g->num_values, nv);
  assert_int_equal(g->num_nodes, nn);
  assert_int_equal(xnnd_graph_find_value(g, "v4"), XNND_NO_ID);
  verify_ok(g);

  /* replace relu by clone: new node, redirect uses, mark dead, compact */
  xnnd_id c = xnnd_graph_add_node_infer(g, XNND_OP_CLONE, &x, 1, NULL);
  xnnd_id cv = g->nodes[c].outputs[0];
  xnnd_graph_replace_uses(g, rv, cv);
  g->nodes[r].dead = true;
  assert_int_equal(xnnd_graph_count_uses(g, rv), 0);
  /* clone (node 3) is now used by nodes 1 and 2: out of order until compact */
  assert_int_equal(xnnd_graph_verify(g), XNND_VERIFY_ERROR);
  assert_contains(g->errmsg, "used before its producer node 3 (aten.clone)");
  assert_int_equal(xnnd_graph_compact(g), XNND_OK);
  verify_ok(g);
  assert_int_equal(g->num_nodes, 3);
  assert_int_equal(g->nodes[0].op, XNND_OP_CLONE);
  assert_int_equal(g->nodes[1].op, XNND_OP_MUL);
  assert_int_equal(g->nodes[2].op, XNND_OP_ADD);
  assert_int_equal(g->num_values, 4);  /* x, mul, add, clone: the relu output is gone */
  assert_int_equal(xnnd_graph_find_value(g, "v1"), XNND_NO_ID);
  xnnd_id x2 = xnnd_graph_find_value(g, "x");
  assert_int_equal(g->inputs[0], x2);
  assert_true(g->values[x2].is_input);
  char* text = xnnd_graph_print(g, NULL);
  assert_non_null(text);
  assert_string_equal(text,
                      "graph g {\n"
                      "  input %x: f32[2,3]\n"
                      "  %v4: f32[2,3] = aten.clone(%x)\n"
                      "  %v2: f32[2,3] = aten.mul(%x, %v4)\n"
                      "  %v3: f32[2,3] = aten.add(%v4, %v4) {alpha=1}\n"
                      "  output %v2, %v3\n"
                      "}\n");
  free(text);
  xnnd_graph_destroy(g);
}

static const char* k_small =
    "graph t {\n"
    "  input %x: f32[1,4,8,8]\n"
    "  const %w: f32[2,4,1,1] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
    "  %y: f32[1,2,8,8] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], "
    "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[1,2,8,8] = aten.relu(%y)\n"
    "  output %r\n"
    "}\n";

static void test_compact_cycle_and_unused(void** state) {
  (void)state;
  xnnd_graph* g = parse_ok(k_small);
  /* an unreferenced constant and a dead node's private output disappear */
  int64_t d[1] = {3};
  xnnd_id u = input(g, "unused", XNND_F32, 1, d);
  float z[3] = {0};
  assert_int_equal(xnnd_graph_set_constant(g, u, z, sizeof z), XNND_OK);
  xnnd_id r = xnnd_graph_find_value(g, "r");
  xnnd_id dead = xnnd_graph_add_node_infer(g, XNND_OP_SIGMOID, &r, 1, NULL);
  g->nodes[dead].dead = true;
  assert_int_equal(xnnd_graph_compact(g), XNND_OK);
  assert_int_equal(g->num_values, 4);
  assert_int_equal(g->num_nodes, 2);
  assert_int_equal(xnnd_graph_find_value(g, "unused"), XNND_NO_ID);
  verify_ok(g);
  char* text = xnnd_graph_print(g, NULL);
  assert_string_equal(text, k_small);
  free(text);

  /* a cycle: compact fails and leaves the graph untouched */
  xnnd_id y = xnnd_graph_find_value(g, "y");
  g->nodes[0].inputs[0] = xnnd_graph_find_value(g, "r");
  assert_int_equal(xnnd_graph_compact(g), XNND_VERIFY_ERROR);
  assert_contains(g->errmsg, "cycle");
  assert_int_equal(g->num_nodes, 2);
  assert_int_equal(g->values[y].producer, 0);
  xnnd_graph_destroy(g);
}

/* ---- shape inference against PyTorch ---- */

static void test_infer_conv(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  xnnd_attr at[XNND_MAX_ATTRS];
  /* resnet stem: 224 -> 112 with k7 s2 p3; mobilenet: k3 s2 p1 */
  int64_t xd[4] = {1, 3, 224, 224}, w7[4] = {64, 3, 7, 7}, w3[4] = {32, 3, 3, 3};
  xnnd_id x = input(g, "x", XNND_F32, 4, xd);
  xnnd_id ins[3] = {x, input(g, "w7", XNND_F32, 4, w7), XNND_NO_ID};
  defaults(XNND_OP_CONVOLUTION, at);
  set_attr(XNND_OP_CONVOLUTION, at, "stride", ints2(2, 2));
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(3, 3));
  xnnd_id n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, ins, 3, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 64, 112, 112});
  ins[1] = input(g, "w3", XNND_F32, 4, w3);
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(1, 1));
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, ins, 2, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 32, 112, 112});
  /* no padding: floor((224 - 3) / 2) + 1 = 111 */
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(0, 0));
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, ins, 2, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 32, 111, 111});
  /* dilation 2, pad 2 keeps 224 */
  set_attr(XNND_OP_CONVOLUTION, at, "stride", ints2(1, 1));
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(2, 2));
  set_attr(XNND_OP_CONVOLUTION, at, "dilation", ints2(2, 2));
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, ins, 2, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 32, 224, 224});
  /* depthwise: groups = channels, weight [C, 1, k, k] */
  int64_t dx[4] = {2, 32, 56, 56}, dwd[4] = {32, 1, 3, 3};
  ins[0] = input(g, "dx", XNND_F32, 4, dx);
  ins[1] = input(g, "dw", XNND_F32, 4, dwd);
  int64_t bd[1] = {32};
  ins[2] = input(g, "db", XNND_F32, 1, bd);
  defaults(XNND_OP_CONVOLUTION, at);
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(1, 1));
  set_attr(XNND_OP_CONVOLUTION, at, "stride", ints2(2, 2));
  at[5].i = 32;
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, ins, 3, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){2, 32, 28, 28});
  /* DCGAN transposed conv: 4 -> 8 with k4 s2 p1; weight [Cin, Cout/groups, k, k] */
  int64_t tx[4] = {1, 512, 4, 4}, tw[4] = {512, 256, 4, 4};
  xnnd_id tins[2] = {input(g, "tx", XNND_F32, 4, tx), input(g, "tw", XNND_F32, 4, tw)};
  defaults(XNND_OP_CONVOLUTION, at);
  set_attr(XNND_OP_CONVOLUTION, at, "stride", ints2(2, 2));
  set_attr(XNND_OP_CONVOLUTION, at, "padding", ints2(1, 1));
  at[3].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, tins, 2, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 256, 8, 8});
  /* grouped transposed with output_padding: (7-1)*2 - 2 + 2 + 1 + 1 = 14, Cout = 2*4 */
  int64_t gx[4] = {1, 8, 7, 7}, gw[4] = {8, 2, 3, 3};
  tins[0] = input(g, "gx", XNND_F32, 4, gx);
  tins[1] = input(g, "gw", XNND_F32, 4, gw);
  set_attr(XNND_OP_CONVOLUTION, at, "output_padding", ints2(1, 1));
  at[5].i = 4;
  n = xnnd_graph_add_node_infer(g, XNND_OP_CONVOLUTION, tins, 2, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 8, 14, 14});
  xnnd_graph_destroy(g);
}

static void test_infer_pool_and_reduce(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  xnnd_attr at[XNND_MAX_ATTRS];
  int64_t xd[4] = {1, 64, 112, 112};
  xnnd_id x = input(g, "x", XNND_F32, 4, xd);
  /* resnet maxpool k3 s2 p1: 112 -> 56 */
  defaults(XNND_OP_MAX_POOL2D, at);
  set_attr(XNND_OP_MAX_POOL2D, at, "kernel_size", ints2(3, 3));
  set_attr(XNND_OP_MAX_POOL2D, at, "stride", ints2(2, 2));
  set_attr(XNND_OP_MAX_POOL2D, at, "padding", ints2(1, 1));
  xnnd_id n = xnnd_graph_add_node_infer(g, XNND_OP_MAX_POOL2D, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 64, 56, 56});
  /* googlenet maxpool k3 s2 ceil_mode: 112 -> 56 (floor mode gives 55) */
  set_attr(XNND_OP_MAX_POOL2D, at, "padding", ints2(0, 0));
  n = xnnd_graph_add_node_infer(g, XNND_OP_MAX_POOL2D, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 64, 55, 55});
  at[4].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_MAX_POOL2D_WITH_INDICES, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 64, 56, 56});
  assert_dims(out0(g, n, 1), XNND_I64, 4, (int64_t[]){1, 64, 56, 56});
  /* ceil_mode drops a last window that would start in the padding: 5, k2 s2 p1 -> 3 */
  int64_t sd[4] = {1, 1, 5, 5};
  xnnd_id s = input(g, "s", XNND_F32, 4, sd);
  set_attr(XNND_OP_MAX_POOL2D, at, "kernel_size", ints2(2, 2));
  set_attr(XNND_OP_MAX_POOL2D, at, "padding", ints2(1, 1));
  n = xnnd_graph_add_node_infer(g, XNND_OP_MAX_POOL2D, &s, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 1, 3, 3});
  /* avg_pool2d ceil on rank 3 (C,H,W): 6, k4 s3 -> ceil((6-4)/3)+1 = 2; 8 -> 3 */
  int64_t cd[3] = {3, 6, 8};
  xnnd_id c = input(g, "c", XNND_F32, 3, cd);
  defaults(XNND_OP_AVG_POOL2D, at);
  set_attr(XNND_OP_AVG_POOL2D, at, "kernel_size", ints2(4, 4));
  set_attr(XNND_OP_AVG_POOL2D, at, "stride", ints2(3, 3));
  at[3].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_AVG_POOL2D, &c, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 3, (int64_t[]){3, 2, 3});
  defaults(XNND_OP_ADAPTIVE_AVG_POOL2D, at);
  at[0] = ints2(7, 7);
  n = xnnd_graph_add_node_infer(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){1, 64, 7, 7});

  /* mean over [-1, 1] with and without keepdim */
  int64_t md[4] = {2, 3, 4, 5};
  xnnd_id m = input(g, "m", XNND_F32, 4, md);
  defaults(XNND_OP_MEAN, at);
  at[0] = (xnnd_attr){.kind = XNND_ATTR_INTS, .n = 2, .ints = {-1, 1}};
  n = xnnd_graph_add_node_infer(g, XNND_OP_MEAN, &m, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 2, (int64_t[]){2, 4});
  at[1].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_MEAN, &m, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){2, 1, 4, 1});
  at[0].ints[1] = -1;
  assert_int_equal(xnnd_graph_add_node_infer(g, XNND_OP_MEAN, &m, 1, at), XNND_NO_ID);
  assert_contains(g->errmsg, "lists dim 3 twice");
  /* softmax keeps the shape; half_to_float turns f16 into f32 */
  int64_t hd[2] = {4, 10};
  xnnd_id h = input(g, "h", XNND_F16, 2, hd);
  defaults(XNND_OP_SOFTMAX, at);
  at[0] = (xnnd_attr){.kind = XNND_ATTR_INT, .i = -1};
  n = xnnd_graph_add_node_infer(g, XNND_OP_SOFTMAX, &h, 1, at);
  assert_dims(out0(g, n, 0), XNND_F16, 2, hd);
  at[1].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_SOFTMAX, &h, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 2, hd);
  /* softmax dim is required */
  defaults(XNND_OP_SOFTMAX, at);
  assert_int_equal(xnnd_graph_add_node_infer(g, XNND_OP_SOFTMAX, &h, 1, at), XNND_NO_ID);
  assert_contains(g->errmsg, "attribute dim is required");
  xnnd_graph_destroy(g);
}

static void test_infer_matmul_shape_broadcast(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  xnnd_attr at[XNND_MAX_ATTRS];
  /* linear over leading dims: [2,3,4] x [5,4]^T -> [2,3,5] */
  xnnd_id li[3] = {input(g, "lx", XNND_F32, 3, (int64_t[]){2, 3, 4}),
                   input(g, "lw", XNND_F32, 2, (int64_t[]){5, 4}),
                   input(g, "lb", XNND_F32, 1, (int64_t[]){5})};
  xnnd_id n = xnnd_graph_add_node_infer(g, XNND_OP_LINEAR, li, 3, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 3, (int64_t[]){2, 3, 5});
  xnnd_id bi[2] = {input(g, "b1", XNND_F32, 3, (int64_t[]){8, 3, 4}),
                   input(g, "b2", XNND_F32, 3, (int64_t[]){8, 4, 6})};
  n = xnnd_graph_add_node_infer(g, XNND_OP_BMM, bi, 2, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 3, (int64_t[]){8, 3, 6});
  /* addmm with a [p] bias: [1,512] x [512,1000] */
  xnnd_id ai[3] = {input(g, "ab", XNND_F32, 1, (int64_t[]){1000}),
                   input(g, "a1", XNND_F32, 2, (int64_t[]){1, 512}),
                   input(g, "a2", XNND_F32, 2, (int64_t[]){512, 1000})};
  n = xnnd_graph_add_node_infer(g, XNND_OP_ADDMM, ai, 3, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 2, (int64_t[]){1, 1000});
  n = xnnd_graph_add_node_infer(g, XNND_OP_T, &ai[2], 1, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 2, (int64_t[]){1000, 512});
  /* broadcasting [3,1,5] + [4,1] -> [3,4,5]; a rank-0 f32 scalar keeps i8 */
  xnnd_id ad[2] = {input(g, "p", XNND_F32, 3, (int64_t[]){3, 1, 5}),
                   input(g, "q", XNND_F32, 2, (int64_t[]){4, 1})};
  n = xnnd_graph_add_node_infer(g, XNND_OP_ADD, ad, 2, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 3, (int64_t[]){3, 4, 5});
  ad[1] = input(g, "r", XNND_F32, 2, (int64_t[]){4, 2});
  assert_int_equal(xnnd_graph_add_node_infer(g, XNND_OP_SUB, ad, 2, NULL), XNND_NO_ID);
  assert_contains(g->errmsg, "node 5 (aten.sub): inputs %p [3,1,5] and %r [4,2] do not broadcast");
  /* permute, view, cat */
  xnnd_id x = input(g, "x", XNND_F32, 4, (int64_t[]){2, 3, 4, 5});
  defaults(XNND_OP_PERMUTE, at);
  at[0] = (xnnd_attr){.kind = XNND_ATTR_INTS, .n = 4, .ints = {0, 2, -1, 1}};
  n = xnnd_graph_add_node_infer(g, XNND_OP_PERMUTE, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){2, 4, 5, 3});
  defaults(XNND_OP_VIEW, at);
  at[0] = (xnnd_attr){.kind = XNND_ATTR_INTS, .n = 2, .ints = {6, 20}};
  n = xnnd_graph_add_node_infer(g, XNND_OP_VIEW, &x, 1, at);
  assert_dims(out0(g, n, 0), XNND_F32, 2, (int64_t[]){6, 20});
  xnnd_id ci[3] = {x, input(g, "y", XNND_F32, 4, (int64_t[]){2, 3, 4, 1}), x};
  defaults(XNND_OP_CAT, at);
  at[0].i = -1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_CAT, ci, 3, at);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){2, 3, 4, 11});
  /* batch norm: eval stats are [0], training stats [C] */
  int64_t c[1] = {3};
  xnnd_id bn[5] = {x, XNND_NO_ID, XNND_NO_ID, input(g, "rm", XNND_F32, 1, c),
                   input(g, "rv", XNND_F32, 1, c)};
  n = xnnd_graph_add_node_infer(g, XNND_OP_NATIVE_BATCH_NORM, bn, 5, NULL);
  assert_dims(out0(g, n, 0), XNND_F32, 4, (int64_t[]){2, 3, 4, 5});
  assert_dims(out0(g, n, 1), XNND_F32, 1, (int64_t[]){0});
  assert_dims(out0(g, n, 2), XNND_F32, 1, (int64_t[]){0});
  defaults(XNND_OP_NATIVE_BATCH_NORM, at);
  at[0].i = 1;
  n = xnnd_graph_add_node_infer(g, XNND_OP_NATIVE_BATCH_NORM, bn, 5, at);
  assert_dims(out0(g, n, 1), XNND_F32, 1, c);
  xnnd_graph_destroy(g);
}

/* ---- verifier: one test per error class ---- */

static xnnd_graph* small(void) {
  xnnd_graph* g = parse_ok(k_small);
  verify_ok(g);
  return g;
}

static void expect_bad(xnnd_graph* g, const char* what1, const char* what2) {
  assert_int_equal(xnnd_graph_verify(g), XNND_VERIFY_ERROR);
  assert_contains(g->errmsg, what1);
  if (what2) assert_contains(g->errmsg, what2);
  xnnd_graph_destroy(g);
}

static void test_verify_structure(void** state) {
  (void)state;
  xnnd_graph* g = small();
  g->nodes[1].inputs[0] = 99;
  expect_bad(g, "node 1 (aten.relu): input 0 is a dangling id 99", NULL);

  g = small();
  g->outputs[0] = 1234;
  expect_bad(g, "graph output 0: id 1234 out of range", NULL);

  g = small();
  g->nodes[1].outputs[0] = xnnd_graph_find_value(g, "y");
  expect_bad(g, "node 1 (aten.relu): output 0 %y already has producer node 0 (aten.convolution)",
             NULL);

  g = small();
  g->values[xnnd_graph_find_value(g, "r")].producer = 0;
  expect_bad(g, "node 1 (aten.relu): output 0 %r: producer field is 0 but node 1 produces it",
             NULL);

  g = small();
  g->nodes[0].inputs[0] = xnnd_graph_find_value(g, "r");
  expect_bad(g, "node 0 (aten.convolution): cycle: input 0 %r is produced by node 1 (aten.relu)",
             NULL);

  /* nodes out of order: use before definition; compact repairs it */
  g = small();
  xnnd_ir_node tmp = g->nodes[0];
  g->nodes[0] = g->nodes[1];
  g->nodes[1] = tmp;
  g->values[xnnd_graph_find_value(g, "y")].producer = 1;
  g->values[xnnd_graph_find_value(g, "r")].producer = 0;
  assert_int_equal(xnnd_graph_verify(g), XNND_VERIFY_ERROR);
  assert_contains(g->errmsg, "node 0 (aten.relu): input 0 %y is used before its producer node 1");
  assert_int_equal(xnnd_graph_compact(g), XNND_OK);
  verify_ok(g);
  xnnd_graph_destroy(g);

  g = small();
  xnnd_id* two = xnnd_graph_alloc(g, 2 * sizeof(xnnd_id));
  two[0] = two[1] = xnnd_graph_find_value(g, "y");
  g->nodes[1].inputs = two;
  g->nodes[1].num_inputs = 2;
  expect_bad(g, "node 1 (aten.relu): has 2 inputs, expected 1 to 1", NULL);

  g = small();
  g->nodes[1].num_outputs = 2;
  expect_bad(g, "node 1 (aten.relu): has 2 outputs, expected 1", NULL);

  g = small();
  g->nodes[0].inputs[1] = XNND_NO_ID;
  expect_bad(g, "node 0 (aten.convolution): input 1 is absent but not optional", NULL);

  g = small();
  g->nodes[0].op = (xnnd_op)1000;
  expect_bad(g, "node 0: invalid op 1000", NULL);

  g = small();
  g->values[xnnd_graph_find_value(g, "w")].data = NULL;
  expect_bad(g, "node 0 (aten.convolution): input 1 %w is not a graph input, a constant or "
             "produced by a live node", NULL);

  g = small();
  g->nodes[0].dead = true;
  expect_bad(g, "node 1 (aten.relu): input 0 %y is not a graph input", NULL);

  g = small();
  g->values[xnnd_graph_find_value(g, "w")].name = "x";
  expect_bad(g, "%x: name is also used by value 0", NULL);

  g = small();
  g->values[0].is_input = false;
  expect_bad(g, "graph input 0 %x is not flagged is_input", NULL);

  g = small();
  g->values[xnnd_graph_find_value(g, "r")].dims[3] = -2;
  expect_bad(g, "node 1 (aten.relu): output 0 %r: dims [1,2,8,-2] are negative or too large",
             NULL);
}

static void test_verify_attrs(void** state) {
  (void)state;
  xnnd_graph* g = small();
  g->nodes[0].attrs[0].kind = XNND_ATTR_INT;
  expect_bad(g, "node 0 (aten.convolution): output %y: attribute stride is int, expected ints",
             NULL);

  g = small();
  g->nodes[0].attrs[3].i = 2;
  expect_bad(g, "attribute transposed is bool but holds 2", NULL);

  g = small();
  g->nodes[1].attrs[0].kind = XNND_ATTR_INT;
  expect_bad(g, "node 1 (aten.relu): output %r: attribute slot 0 is set", NULL);

  g = small();
  g->nodes[0].attrs[5].kind = XNND_ATTR_NONE;
  expect_bad(g, "node 0 (aten.convolution): output %y: attribute groups is required", NULL);

  g = small();
  g->nodes[0].attrs[0].n = 9;
  expect_bad(g, "attribute stride has 9 values, at most 8", NULL);

#define CONV(attrs) "  %y: f32[1,2,8,8] = aten.convolution(%x, %w, _) {" attrs "}\n"
#define SMALL(node) "graph t {\n  input %x: f32[1,4,8,8]\n  const %w: f32[2,4,1,1] = " \
                    "[1, 2, 3, 4, 5, 6, 7, 8]\n" node "  output %y\n}\n"
  expect_verify_error(SMALL(CONV("stride=[-1,1], padding=[0,0], dilation=[1,1], transposed=false, "
                                 "output_padding=[0,0], groups=1")),
                      "node 0 (aten.convolution): output %y: attribute stride[0] = -1 out of "
                      "range", NULL);
  expect_verify_error(SMALL(CONV("stride=[1,1,1], padding=[0,0], dilation=[1,1], "
                                 "transposed=false, output_padding=[0,0], groups=1")),
                      "attribute stride must list 2 ints", NULL);
  expect_verify_error(SMALL(CONV("stride=[1,1], padding=[0,0], dilation=[0,1], transposed=false, "
                                 "output_padding=[0,0], groups=1")),
                      "attribute dilation[0] = 0 out of range", NULL);
  expect_verify_error(SMALL(CONV("stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, "
                                 "output_padding=[0,0], groups=3")),
                      "node 0 (aten.convolution): groups = 3 does not divide the 4 channels of "
                      "input 0 %x", NULL);
  expect_verify_error(SMALL(CONV("stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, "
                                 "output_padding=[0,0], groups=2")),
                      "node 0 (aten.convolution): input 1 %w has 4 input channels per group, "
                      "expected 2", NULL);
  expect_verify_error(SMALL(CONV("stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, "
                                 "output_padding=[0,0], groups=0")),
                      "attribute groups = 0 must be >= 1", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.permute(%x) {dims=[0,0,1,2]}\n"),
                      "node 0 (aten.permute): output %y: attribute dims is not a permutation",
                      NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.permute(%x) {dims=[0,1,2,4]}\n"),
                      "attribute dims: dim 4 out of range for rank 4", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.permute(%x) {dims=[0,1,2]}\n"),
                      "attribute dims has 3 entries but input 0 %x has rank 4", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,4,4] = aten.max_pool2d(%x) {kernel_size=[0,2], "
                            "stride=[2,2], padding=[0,0], dilation=[1,1], ceil_mode=false}\n"),
                      "node 0 (aten.max_pool2d): output %y: attribute kernel_size[0] = 0 out of "
                      "range", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,4,4] = aten.max_pool2d(%x) {kernel_size=[2,2], "
                            "stride=[2,2], padding=[2,0], dilation=[1,1], ceil_mode=false}\n"),
                      "padding[0] = 2 must be at most half the kernel size 2", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,4,4] = aten.max_pool2d(%x) {kernel_size=[9,9], "
                            "stride=[1,1], padding=[0,0], dilation=[1,1], ceil_mode=false}\n"),
                      "input 0 %x: size 8 in dim 2 gives output size 0", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,4,4] = aten.avg_pool2d(%x) {kernel_size=[2,2], "
                            "stride=[2,2], padding=[0,0], ceil_mode=false, "
                            "count_include_pad=true, divisor_override=0}\n"),
                      "attribute divisor_override must not be 0", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4] = aten.mean(%x) {dim=[2,4], keepdim=false}\n"),
                      "node 0 (aten.mean): output %y: attribute dim: dim 4 out of range for "
                      "rank 4", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.softmax(%x) {dim=-5, "
                            "half_to_float=false}\n"),
                      "attribute dim: dim -5 out of range for rank 4", NULL);
  expect_verify_error(SMALL("  %y: f32[1,255] = aten.view(%x) {size=[1,255]}\n"),
                      "node 0 (aten.view): output %y: attribute size [1,255] has 255 elements "
                      "but input 0 %x [1,4,8,8] has 256", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.hardtanh(%x) {min_val=2, max_val=1}\n"),
                      "attribute min_val = 2 must not exceed max_val = 1", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.dropout(%x) {p=1.5, train=true}\n"),
                      "attribute p = 1.5 must be in [0, 1]", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.gelu(%x) {approximate=2}\n"),
                      "attribute approximate = 2 must be 0 (none) or 1 (tanh)", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.add(%x, %x) {alpha=nan}\n"),
                      "attribute alpha = nan must be finite", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8], %m: f32[4], %s: f32[4] = "
                            "aten.native_batch_norm(%x, _, _, %x, %x) {training=false, "
                            "momentum=0.1, eps=-1}\n"),
                      "attribute eps = -1 must be finite and >= 0", NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.relu(%x) clamp(6, 0)\n"),
                      "node 0 (aten.relu): output %y: fused output range clamp(6, 0) is empty",
                      NULL);
  expect_verify_error(SMALL("  %y: f32[1,4,8,8] = aten.relu(%x) clamp(nan, 0)\n"),
                      "fused output range clamp(nan, 0) is empty or nan", NULL);
  expect_verify_error(SMALL("  const %wt: f32[4,2,1,1] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
                            "  %y: f32[1,2,17,17] = aten.convolution(%x, %wt) {stride=[2,2], "
                            "padding=[0,0], dilation=[1,1], transposed=true, "
                            "output_padding=[2,2], groups=1}\n"),
                      "attribute output_padding[0] = 2 must be smaller than stride or dilation",
                      NULL);
#undef CONV
#undef SMALL
}

#define G(body) "graph t {\n  input %x: f32[1,4,8,8]\n" body "}\n"

static void test_verify_shapes(void** state) {
  (void)state;
  expect_verify_error(G("  const %w: f32[2,4,1] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
                        "  %y: f32[1,2,8,8] = aten.convolution(%x, %w) {stride=[1,1], "
                        "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                        "groups=1}\n  output %y\n"),
                      "node 0 (aten.convolution): input 1 %w has rank 3, expected 4", NULL);
  expect_verify_error(G("  const %w: f32[2,4,1,1] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
                        "  const %b: f32[3] = [1, 2, 3]\n"
                        "  %y: f32[1,2,8,8] = aten.convolution(%x, %w, %b) {stride=[1,1], "
                        "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                        "groups=1}\n  output %y\n"),
                      "node 0 (aten.convolution): input 2 %b has shape [3], expected [2]", NULL);
  expect_verify_error(G("  const %w: f16[2,4,1,1] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
                        "  %y: f32[1,2,8,8] = aten.convolution(%x, %w) {stride=[1,1], "
                        "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                        "groups=1}\n  output %y\n"),
                      "node 0 (aten.convolution): input 1 %w has dtype f16, expected f32", NULL);
  expect_verify_error(G("  %r: f32[1,4,8,9] = aten.relu(%x)\n  output %r\n"),
                      "node 0 (aten.relu): output 0 %r is f32[1,4,8,9] but shape inference gives "
                      "f32[1,4,8,8]", NULL);
  expect_verify_error(G("  %r: f16[1,4,8,8] = aten.relu(%x)\n  output %r\n"),
                      "node 0 (aten.relu): output 0 %r is f16[1,4,8,8] but shape inference gives "
                      "f32[1,4,8,8]", NULL);
  expect_verify_error(G("  %r: f32[1,4,8,8] = aten.relu(%x)\n"
                        "  %i: f32[1,4,4,4], %j: f32[1,4,4,4] = aten.max_pool2d_with_indices(%r) "
                        "{kernel_size=[2,2], stride=[2,2], padding=[0,0], dilation=[1,1], "
                        "ceil_mode=false}\n  output %i\n"),
                      "node 1 (aten.max_pool2d_with_indices): output 1 %j is f32[1,4,4,4] but "
                      "shape inference gives i64[1,4,4,4]", NULL);
  expect_verify_error(G("  input %rm: f32[4]\n  input %rv: f32[4]\n"
                        "  %y: f32[1,4,8,8], %m: f32[4], %s: f32[4] = aten.native_batch_norm(%x, "
                        "_, _, %rm, %rv) {training=false, momentum=0.1, eps=1e-05}\n"
                        "  output %y\n"),
                      "node 0 (aten.native_batch_norm): output 1 %m is f32[4] but shape inference "
                      "gives f32[0]", NULL);
  expect_verify_error(G("  input %m: f32[3,5]\n  %y: f32[3,3] = aten.mm(%m, %m)\n  output %y\n"),
                      "node 0 (aten.mm): input 0 %m has inner dim 5 but input 1 %m has 3", NULL);
  expect_verify_error(G("  input %a: f32[2,3,4]\n  input %b: f32[3,4,5]\n"
                        "  %y: f32[2,3,5] = aten.bmm(%a, %b)\n  output %y\n"),
                      "batch 2 of input 0 %a differs from batch 3 of input 1 %b", NULL);
  expect_verify_error(G("  input %s: f32[3]\n  input %a: f32[2,4]\n  input %b: f32[4,5]\n"
                        "  %y: f32[2,5] = aten.addmm(%s, %a, %b) {beta=1, alpha=1}\n"
                        "  output %y\n"),
                      "node 0 (aten.addmm): input 0 %s [3] does not broadcast to [2,5]", NULL);
  expect_verify_error(G("  input %w: f32[5,7]\n  %y: f32[1,4,8,5] = aten.linear(%x, %w)\n"
                        "  output %y\n"),
                      "node 0 (aten.linear): input 0 %x has inner dim 8 but input 1 %w has 7",
                      NULL);
  expect_verify_error(G("  input %z: f32[1,4,7,8]\n  %y: f32[2,4,8,8] = aten.cat(%x, %z) "
                        "{dim=0}\n  output %y\n"),
                      "node 0 (aten.cat): input 1 %z has size 7 in dim 2, expected 8", NULL);
  expect_verify_error(G("  input %z: f16[1,4,8,8]\n  %y: f32[2,4,8,8] = aten.cat(%x, %z) "
                        "{dim=0}\n  output %y\n"),
                      "node 0 (aten.cat): input 1 %z is f16; it does not promote with f32", NULL);
  /* f32 with i32 promotes to f32 (PyTorch's type promotion); u8 with i8 would need int16 */
  expect_verify_error(G("  input %z: i32[1,4,8,8]\n  %y: i32[1,4,8,8] = aten.mul(%x, %z)\n"
                        "  output %y\n"),
                      "node 0 (aten.mul): output 0 %y is i32[1,4,8,8] but shape inference gives f32[1,4,8,8]",
                      NULL);
  expect_verify_error(G("  input %u: u8[4]\n  input %s: i8[4]\n  %y: i8[4] = aten.add(%u, %s)\n"
                        "  output %y\n"),
                      "node 0 (aten.add): inputs promote to int16 (u8 with i8), which the IR lacks",
                      NULL);
  expect_verify_error(G("  %y: f32[1,4,8,8] = aten.t(%x)\n  output %y\n"),
                      "node 0 (aten.t): input 0 %x has rank 4, expected 0 to 2", NULL);
}

static void test_verify_quant_and_layout(void** state) {
  (void)state;
  expect_verify_error(G("  const %w: i8[2,4,1,1] qc(0, [0.1,0.2,0.3], [0,0,0]) = [1, 2, 3, 4, "
                        "5, 6, 7, 8]\n  output %w\n"),
                      "value 1 %w: per-channel quantization has 3 channels but dims[0] = 2", NULL);
  expect_verify_error(G("  const %w: i8[2,4,1,1] qc(4, [0.1,0.2], [0,0]) = [1, 2, 3, 4, "
                        "5, 6, 7, 8]\n  %y: f32[1,4,8,8] = aten.relu(%x)\n  output %y, %w\n"),
                      "%w: per-channel axis 4 out of range for rank 4", NULL);
  expect_verify_error(G("  const %w: i8[2,4,1,1] qc(0, [0.1,-0.2], [0,0]) = [1, 2, 3, 4, "
                        "5, 6, 7, 8]\n  output %w\n"),
                      "%w: channel 1 scale -0.2 must be finite and > 0", NULL);
  expect_verify_error(G("  const %w: u8[2,4,1,1] qc(0, [0.1,0.2], [0,-1]) = [1, 2, 3, 4, "
                        "5, 6, 7, 8]\n  output %w\n"),
                      "%w: channel 1 zero point -1 does not fit u8", NULL);
  expect_verify_error(G("  input %q: i8[4] q(0, 0)\n  %y: i8[4] = aten.relu(%q)\n  output %y\n"),
                      "node 0 (aten.relu): input 0 %q: quantization scale 0 must be finite and "
                      "> 0", NULL);
  expect_verify_error(G("  input %q: i8[4] q(nan, 0)\n  output %q\n"),
                      "graph input 1 %q: quantization scale nan must be finite", NULL);
  expect_verify_error(G("  input %q: i8[4] q(inf, 0)\n  output %q\n"),
                      "quantization scale inf must be finite", NULL);
  expect_verify_error(G("  input %q: i8[4] q(0.5, 200)\n  output %q\n"),
                      "graph input 1 %q: zero point 200 does not fit i8", NULL);
  expect_verify_error(G("  %y: f32[1,4,8,8] q(0.5, 0) = aten.relu(%x)\n  output %y\n"),
                      "node 0 (aten.relu): output 0 %y: dtype f32 cannot be quantized", NULL);
  expect_verify_error(G("  input %v: f32[4,4] nhwc\n  output %v\n"),
                      "graph input 1 %v: layout 1 is invalid for rank 2", NULL);
  /* per-channel quantization on an i32 bias is fine */
  xnnd_graph* g = parse_ok(G("  const %b: i32[2] qc(0, [0.001,0.002], [0,0]) = [1, 2]\n"
                             "  output %b\n"));
  verify_ok(g);
  xnnd_graph_destroy(g);
}

/* ---- text round trips ---- */

static const char* k_golden[] = {"convnet", "quantized", "nhwc", "consts", "all_ops",
                                 "coverage_ops", "ops_math", "ops_binary", "ops_index", "ops_shape",
                                 "ops_reduce", "ops_spatial", "dynamic"};

static void test_golden_round_trip(void** state) {
  (void)state;
  for (size_t i = 0; i < IR_ARRAY_LEN(k_golden); i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.ir", k_golden[i]);
    size_t len;
    char* text = xt_read_file(golden_path(name), &len);
    if (!text) fail_msg("cannot read %s", golden_path(name));
    snprintf(name, sizeof name, "%s.xcb", k_golden[i]);
    xnnd_const_bundle* b = NULL;
    xnnd_error err;
    if (access(golden_path(name), R_OK) == 0) {
      if (xnnd_const_bundle_load(golden_path(name), &b, &err) != XNND_OK)
        fail_msg("%s", err.message);
    }
    xnnd_graph* g;
    if (xnnd_graph_parse(text, len, b, &g, &err) != XNND_OK)
      fail_msg("%s: %s", k_golden[i], err.message);
    verify_ok(g);
    xnnd_const_bundle* out;
    assert_int_equal(xnnd_const_bundle_create(&out), XNND_OK);
    char* printed = xnnd_graph_print(g, out);
    assert_non_null(printed);
    if (strcmp(printed, text) != 0) fail_msg("%s: print differs:\n%s", k_golden[i], printed);
    /* the printed bundle holds exactly the large constants, byte for byte */
    assert_int_equal(xnnd_const_bundle_count(out), xnnd_const_bundle_count(b));
    for (uint32_t e = 0; e < xnnd_const_bundle_count(out); e++) {
      uint64_t key;
      const void *d1, *d2;
      size_t s1, s2;
      assert_int_equal(xnnd_const_bundle_entry(out, e, &key, &d1, &s1), XNND_OK);
      assert_int_equal(xnnd_const_bundle_get(b, key, &d2, &s2), XNND_OK);
      assert_int_equal(s1, s2);
      assert_memory_equal(d1, d2, s1);
      assert_int_equal(key, xnnd_fnv1a64(d1, s1));
    }
    /* compact on a compact graph keeps the text */
    assert_int_equal(xnnd_graph_compact(g), XNND_OK);
    char* again = xnnd_graph_print(g, NULL);
    assert_string_equal(again, text);
    free(again);
    free(printed);
    xnnd_const_bundle_destroy(out);
    xnnd_const_bundle_destroy(b);
    xnnd_graph_destroy(g);
    free(text);
  }
}

static void test_round_trip_with_bundle(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("big", &g), XNND_OK);
  xnnd_id x = input(g, "x", XNND_F32, 2, (int64_t[]){3, 20});
  xnnd_id w = input(g, "w", XNND_F32, 2, (int64_t[]){5, 20});
  xnnd_id hw = input(g, "hw", XNND_F16, 1, (int64_t[]){17});
  xnnd_id small_c = input(g, "s", XNND_F32, 1, (int64_t[]){5});
  float wd[100];
  for (int i = 0; i < 100; i++) wd[i] = (float)i / 7.0f - 3.0f;
  uint16_t hd[17];
  for (int i = 0; i < 17; i++) hd[i] = ir_float_to_half((float)i * 0.1f);
  float sd[5] = {0.1f, 1.0f / 3.0f, -2.5f, 1e-20f, 3e38f};
  assert_int_equal(xnnd_graph_set_constant(g, w, wd, sizeof wd), XNND_OK);
  assert_int_equal(xnnd_graph_set_constant(g, hw, hd, sizeof hd), XNND_OK);
  assert_int_equal(xnnd_graph_set_constant(g, small_c, sd, sizeof sd), XNND_OK);
  assert_int_equal(xnnd_graph_set_inputs(g, &x, 1), XNND_OK);
  xnnd_id li[3] = {x, w, small_c};
  xnnd_id n = xnnd_graph_add_node_infer(g, XNND_OP_LINEAR, li, 3, NULL);
  xnnd_id outs[2] = {g->nodes[n].outputs[0], hw};
  assert_int_equal(xnnd_graph_set_outputs(g, outs, 2), XNND_OK);
  verify_ok(g);

  xnnd_const_bundle* b;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  char* text = xnnd_graph_print(g, b);
  assert_non_null(text);
  char key[32];
  snprintf(key, sizeof key, "#%016llx", (unsigned long long)xnnd_fnv1a64(wd, sizeof wd));
  assert_contains(text, key);
  assert_contains(text, "const %s: f32[5] = [0.100000001, 0.333333343, -2.5, 9.99999968e-21, "
                        "3.00000001e+38]");
  assert_int_equal(xnnd_const_bundle_count(b), 2);

  /* through a file */
  const char* path = xt_temp_path("ir-bundle", ".xcb");
  xnnd_error err;
  assert_int_equal(xnnd_const_bundle_save(b, path, &err), XNND_OK);
  xnnd_const_bundle* loaded;
  assert_int_equal(xnnd_const_bundle_load(path, &loaded, &err), XNND_OK);
  unlink(path);
  xnnd_graph* g2 = parse_ok_bundle(text, loaded);
  verify_ok(g2);
  xnnd_id w2 = xnnd_graph_find_value(g2, "w");
  assert_memory_equal(g2->values[w2].data, wd, sizeof wd);
  assert_int_equal(g2->values[w2].const_key, xnnd_fnv1a64(wd, sizeof wd));
  assert_memory_equal(g2->values[xnnd_graph_find_value(g2, "hw")].data, hd, sizeof hd);
  assert_memory_equal(g2->values[xnnd_graph_find_value(g2, "s")].data, sd, sizeof sd);
  char* text2 = xnnd_graph_print(g2, NULL);
  assert_string_equal(text, text2);

  /* the key survives parsing even when it is not the hash; new data resets it */
  char* renamed = strdup(text);
  char* at = strstr(renamed, key);
  memcpy(at + 1, "00000000000000aa", 16);
  xnnd_const_bundle_put(loaded, 0xaa, wd, sizeof wd);
  xnnd_graph* g3 = parse_ok_bundle(renamed, loaded);
  char* text3 = xnnd_graph_print(g3, NULL);
  assert_string_equal(text3, renamed);
  xnnd_id w3 = xnnd_graph_find_value(g3, "w");
  assert_int_equal(xnnd_graph_set_constant(g3, w3, wd, sizeof wd), XNND_OK);
  assert_int_equal(g3->values[w3].const_key, 0);

  /* missing bundle, missing key, wrong size */
  expect_parse_error(text, "3:9:", "needs a constant bundle");
  xnnd_graph* none = NULL;
  xnnd_const_bundle* empty;
  xnnd_const_bundle_create(&empty);
  assert_int_equal(xnnd_graph_parse(text, strlen(text), empty, &none, &err), XNND_PARSE_ERROR);
  assert_contains(err.message, "is not in the bundle");
  xnnd_const_bundle_put(empty, xnnd_fnv1a64(wd, sizeof wd), wd, 12);
  assert_int_equal(xnnd_graph_parse(text, strlen(text), empty, &none, &err), XNND_PARSE_ERROR);
  assert_contains(err.message, "has 12 bytes in the bundle, %w needs 400");
  xnnd_const_bundle_destroy(empty);

  free(text3);
  xnnd_graph_destroy(g3);
  free(renamed);
  free(text2);
  xnnd_graph_destroy(g2);
  xnnd_const_bundle_destroy(loaded);
  xnnd_const_bundle_destroy(b);
  free(text);
  xnnd_graph_destroy(g);
}

static void test_print_floats(void** state) {
  (void)state;
  /* attribute floats: shortest of %.15g/%.16g/%.17g that round-trips */
  xnnd_graph* g = parse_ok(G("  %y: f32[1,4,8,8] = aten.hardtanh(%x) {min_val=-0.1, "
                             "max_val=0.3333333333333333}\n"
                             "  %z: f32[1,4,8,8] = aten.add(%y, %x) {alpha=1e+300}\n"
                             "  %c: f32[1,4,8,8] = aten.clamp(%z) {min=-inf, max=5e-324}\n"
                             "  output %c\n"));
  verify_ok(g);
  g->nodes[1].attrs[0].f = 0.1 + 0.2;
  char* text = xnnd_graph_print(g, NULL);
  assert_contains(text, "{min_val=-0.1, max_val=0.3333333333333333}");
  assert_contains(text, "{alpha=0.30000000000000004}");
  assert_contains(text, "{min=-inf, max=4.94065645841247e-324}");
  xnnd_graph* g2 = parse_ok(text);
  assert_true(g2->nodes[1].attrs[0].f == 0.1 + 0.2);
  assert_true(g2->nodes[2].attrs[1].f == 5e-324);
  char* text2 = xnnd_graph_print(g2, NULL);
  assert_string_equal(text, text2);
  free(text);
  free(text2);
  xnnd_graph_destroy(g);
  xnnd_graph_destroy(g2);
  /* lenient input: comments, blank lines, tabs, omitted defaults, any attribute order */
  g = parse_ok("# leading comment\n\ngraph t {\n\tinput %x : f32[ 2 , 3 ]\n  # note\n"
               "  %y: f32[2,3] = aten.add(%x,%x)\n  %z: f32[2,3] = aten.clamp(%y) "
               "{max=1,min=none}\n  %w: f32[3,2] = aten.t(%z) {}\n  output %w\n}\n\n# end\n");
  verify_ok(g);
  text = xnnd_graph_print(g, NULL);
  assert_string_equal(text, "graph t {\n  input %x: f32[2,3]\n"
                            "  %y: f32[2,3] = aten.add(%x, %x) {alpha=1}\n"
                            "  %z: f32[2,3] = aten.clamp(%y) {min=none, max=1}\n"
                            "  %w: f32[3,2] = aten.t(%z)\n  output %w\n}\n");
  free(text);
  xnnd_graph_destroy(g);
}

static void test_half_conversion(void** state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = ir_half_to_float((uint16_t)h);
    if (isnan(f)) continue;
    assert_int_equal(ir_float_to_half(f), h);
  }
  assert_int_equal(ir_float_to_half(65520.0f), 0x7c00);  /* rounds up to inf */
  assert_int_equal(ir_float_to_half(1e-8f), 0);
  assert_int_equal(ir_float_to_half(0.1f), 0x2e66);
  assert_true(isnan(ir_half_to_float(ir_float_to_half(NAN))));
}

/* ---- parser errors ---- */

static void test_parse_errors(void** state) {
  (void)state;
  expect_parse_error("", "1:1:", "expected 'graph', got end of input");
  expect_parse_error("graf t {\n", "1:1:", "expected 'graph'");
  expect_parse_error("graph t\n", "1:8:", "expected '{' after the graph name, got end of line");
  expect_parse_error("graph t {\n  input %x: f32[2,3]\n", "3:1:",
                     "expected '}' to close graph t, got end of input");
  expect_parse_error("graph t {\n  input %x: f32[2,3]", "2:21:",
                     "expected '}' to close graph t, got end of input");
  expect_parse_error("graph t {\n  input %x: f32[2,3]\n}\n", "3:1:", "missing output line");
  expect_parse_error("graph t {\n  input %x: f32[2,3\n  output %x\n}\n", "2:20:",
                     "expected ']' to close the dims, got end of line");
  expect_parse_error("graph t {\n  input %x: f32[2,3]\n  output %x\n}\n}\n", "5:1:",
                     "unexpected text after the closing '}'");
  expect_parse_error("graph t {\n  input %x: f32[2,3]\n  output %x\n  output %x\n}\n", "4:3:",
                     "expected '}' after the output line");
  expect_parse_error("graph t {\n  input %x: f64[2]\n  output %x\n}\n", "2:13:",
                     "unknown dtype 'f64'");
  expect_parse_error("graph t {\n  input %x: f32[1,1,1,1,1,1,1,1,1]\n  output %x\n}\n", "2:33:",
                     "rank exceeds 8");
  expect_parse_error("graph t {\n  input %x: f32[99999999999999999999]\n  output %x\n}\n",
                     "2:17:", "a dimension '99999999999999999999' is out of range");
  expect_parse_error("graph t {\n  input %x: f32[-1]\n  output %x\n}\n", "2:17:",
                     "a dimension -1 is out of range");
  expect_parse_error("graph t {\n  input %x: f32[1048576,1048576,1048576]\n  output %x\n}\n",
                     "2:17:", "tensor is larger than");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  input %x: f32[2]\n  output %x\n}\n",
                     "3:9:", "duplicate value name %x");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %x: f32[2] = aten.relu(%x)\n"
                     "  output %x\n}\n", "3:3:", "duplicate value name %x");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%z)\n"
                     "  output %y\n}\n", "3:26:", "unknown value %z");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%y)\n"
                     "  output %y\n}\n", "3:26:", "unknown value %y");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  output %nope\n}\n", "3:10:",
                     "unknown value %nope");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.frobnicate(%x)\n"
                     "  output %y\n}\n", "3:16:", "unknown op 'aten.frobnicate'");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%x, %x)\n"
                     "  output %y\n}\n", "3:25:", "aten.relu takes 1 inputs, got 2");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(_)\n"
                     "  output %y\n}\n", "3:26:", "input 0 of aten.relu is not optional");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2], %z: f32[2] = aten.relu(%x)\n"
                     "  output %y\n}\n", "3:28:", "aten.relu has 1 output, got 2");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%x\n"
                     "  output %y\n}\n", "3:28:", "expected ')' to close the inputs");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.add(%x, %x) "
                     "{alpha=[1]}\n  output %y\n}\n", "3:40:", "expected a float, got '['");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.cat(%x) {dim=1.5}\n"
                     "  output %y\n}\n", "3:34:", "expected an int, got '1.5'");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.cat(%x) {dim=none}\n"
                     "  output %y\n}\n", "3:34:", "attribute dim is not optional");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=1, "
                     "keepdim=false}\n  output %y\n}\n", "3:35:",
                     "expected an int list '[...]' for attribute dim, got '1'");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=[0], "
                     "keepdim=1}\n  output %y\n}\n", "3:48:",
                     "expected true or false for attribute keepdim, got '1'");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=[0,1,2,3,"
                     "4,5,6,7,8]}\n  output %y\n}\n", "3:52:",
                     "attribute dim: list longer than 8");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=[0,1\n"
                     "  output %y\n}\n", "3:39:", "expected ']' to close the list");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=[0]\n"
                     "  output %y\n}\n", "3:38:", "expected '}' to close the attributes");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {keepdim=true}\n"
                     "  output %y\n}\n", "3:44:", "missing attribute dim of aten.mean");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.mean(%x) {dim=[0], "
                     "dim=[0]}\n  output %y\n}\n", "3:40:", "attribute dim given twice");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%x) {alpha=1}\n"
                     "  output %y\n}\n", "3:31:", "aten.relu has no attribute 'alpha'");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.cat(%x) "
                     "{dim=99999999999999999999}\n  output %y\n}\n", "3:34:",
                     "an int '99999999999999999999' is out of range");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.add(%x, %x) "
                     "{alpha=1e999}\n  output %y\n}\n", "3:40:", "a float '1e999' is out of range");
  expect_parse_error("graph t {\n  const %c: f32[2] = [1e39, 0]\n  output %c\n}\n", "2:23:",
                     "a float '1e39' is out of range for f32");
  expect_parse_error("graph t {\n  const %c: i8[2] = [1, 128]\n  output %c\n}\n", "2:25:",
                     "an i8 128 is out of range [-128, 127]");
  expect_parse_error("graph t {\n  const %c: f32[3] = [1, 2]\n  output %c\n}\n", "2:27:",
                     "expected 3 elements for %c, got 2");
  expect_parse_error("graph t {\n  const %c: f32[1] = [1, 2]\n  output %c\n}\n", "2:26:",
                     "too many elements: %c has 1");
  expect_parse_error("graph t {\n  const %c: f32[2] = [1, 2\n  output %c\n}\n", "2:27:",
                     "expected ']' to close the constant");
  expect_parse_error("graph t {\n  const %c: f32[2] = #12\n  output %c\n}\n", "2:23:",
                     "expected 16 hex digits after '#'");
  expect_parse_error("graph t {\n  const %c: bool[2] = [0, 2]\n  output %c\n}\n", "2:27:",
                     "a bool (0 or 1) 2 is out of range");
  expect_parse_error("graph t {\n  input %x: i8[2] q(0.5)\n  output %x\n}\n", "2:24:",
                     "expected ',' after the scale");
  expect_parse_error("graph t {\n  input %x: i8[2] qc(0, [0.5,0.5], [0])\n  output %x\n}\n",
                     "2:36:", "expected 2 zero points, got 1");
  expect_parse_error("graph t {\n  input %x: i8[2] qc(0, [0.5,0.5, [0])\n  output %x\n}\n",
                     "2:35:", "expected a scale, got '['");
  expect_parse_error("graph t {\n  input %x: i8[2] q(0.5, 3000000000)\n  output %x\n}\n",
                     "2:26:", "a zero point 3000000000 is out of range");
  expect_parse_error("graph t {\n  input x: f32[2]\n  output %x\n}\n", "2:9:",
                     "expected '%value', got 'x'");
  expect_parse_error("graph t {\n  input %: f32[2]\n  output %x\n}\n", "2:10:",
                     "expected a value name after '%'");
  expect_parse_error("graph t {\n  node %x\n}\n", "2:3:",
                     "expected 'sym', 'input', 'const', '%value', 'output' or '}', got 'n'");
  expect_parse_error("graph t {\n  input %x: f32[2] junk\n  output %x\n}\n", "2:20:",
                     "expected end of line, got 'j'");
  expect_parse_error("graph t {\n  input %x: f32[2]\x01\n  output %x\n}\n", "2:19:",
                     "expected end of line, got byte 0x01");
  expect_parse_error("graph 0123456789012345678901234567890123456789012345678901234567890123 {"
                     "\n", "1:7:", "graph name longer than 63 bytes");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %a: f32[2], %b: f32[2], %c: f32[2], %d: "
                     "f32[2] = aten.relu(%x)\n  output %x\n}\n", "3:39:",
                     "a node has at most 3 outputs");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%x) clamp(0\n"
                     "  output %y\n}\n", "3:37:", "expected ',' after the output minimum");
  expect_parse_error("graph t {\n  input %x: f32[2]\n  %y: f32[2] = aten.relu(%x) {} clamp(0, 1) "
                     "clamp(0, 1)\n  output %y\n}\n", "3:45:", "expected end of line, got 'c'");
  /* NUL bytes inside the text are errors, not terminators */
  const char nul[] = "graph t {\n  input %x: f32[2]\0\n  output %x\n}\n";
  xnnd_graph* g = NULL;
  xnnd_error err;
  assert_int_equal(xnnd_graph_parse(nul, sizeof nul - 1, NULL, &g, &err), XNND_PARSE_ERROR);
  assert_contains(err.message, "2:19: expected end of line, got byte 0x00");
  assert_int_equal(xnnd_graph_parse(NULL, 0, NULL, &g, &err), XNND_PARSE_ERROR);
  assert_int_equal(xnnd_graph_parse("x", 1, NULL, NULL, &err), XNND_INVALID_ARGUMENT);
  /* a zero-output graph is legal text */
  g = parse_ok("graph t {\n  input %x: f32[2]\n  output\n}\n");
  char* text = xnnd_graph_print(g, NULL);
  assert_string_equal(text, "graph t {\n  input %x: f32[2]\n  output\n}\n");
  free(text);
  xnnd_graph_destroy(g);
}

/* ---- constant bundles ---- */

static void put64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void expect_bundle_error(const unsigned char* bytes, size_t size, xnnd_status want,
                                const char* what) {
  const char* path = xt_temp_path("ir-bad", ".xcb");
  assert_int_equal(xt_write_file(path, bytes, size), 0);
  xnnd_const_bundle* b = (xnnd_const_bundle*)1;
  xnnd_error err;
  xnnd_status st = xnnd_const_bundle_load(path, &b, &err);
  unlink(path);
  if (st != want) fail_msg("status %d (%s), expected %d", st, err.message, want);
  assert_null(b);
  assert_int_equal(err.status, want);
  assert_contains(err.message, what);
}

static void test_bundle_load_errors(void** state) {
  (void)state;
  unsigned char img[128];
  memset(img, 0, sizeof img);
  memcpy(img, "XNDC\1\0\0\0", 8);
  put64(img + 8, 2);
  put64(img + 16, 0x11);
  put64(img + 24, 3);
  memcpy(img + 32, "abc", 3);  /* padded to 8 */
  put64(img + 40, 0x22);
  put64(img + 48, 8);
  memcpy(img + 56, "01234567", 8);
  size_t good = 64;
  /* the good image loads */
  const char* path = xt_temp_path("ir-good", ".xcb");
  assert_int_equal(xt_write_file(path, img, good), 0);
  xnnd_const_bundle* b;
  xnnd_error err;
  assert_int_equal(xnnd_const_bundle_load(path, &b, &err), XNND_OK);
  unlink(path);
  const void* data;
  size_t size;
  assert_int_equal(xnnd_const_bundle_get(b, 0x11, &data, &size), XNND_OK);
  assert_int_equal(size, 3);
  assert_memory_equal(data, "abc", 3);
  assert_int_equal(xnnd_const_bundle_get(b, 0x33, &data, &size), XNND_NOT_FOUND);
  /* save writes the same bytes back */
  path = xt_temp_path("ir-save", ".xcb");
  assert_int_equal(xnnd_const_bundle_save(b, path, &err), XNND_OK);
  size_t len;
  char* back = xt_read_file(path, &len);
  unlink(path);
  assert_int_equal(len, good);
  assert_memory_equal(back, img, good);
  free(back);
  xnnd_const_bundle_destroy(b);

  for (size_t cut = 0; cut < good; cut++) {
    xnnd_const_bundle* t = NULL;
    path = xt_temp_path("ir-cut", ".xcb");
    xt_write_file(path, img, cut);
    assert_int_equal(xnnd_const_bundle_load(path, &t, &err), XNND_TRUNCATED);
    unlink(path);
  }
  expect_bundle_error(img, 10, XNND_TRUNCATED, "header needs 16 bytes, file has 10");
  expect_bundle_error(img, 48, XNND_TRUNCATED, "record 1 header at offset 40 is truncated");
  expect_bundle_error(img, 60, XNND_TRUNCATED,
                      "record 1 (key #0000000000000022) has 8 bytes at offset 56 but only 4 "
                      "remain");
  expect_bundle_error(img, 34, XNND_TRUNCATED, "record count 2 needs more");
  unsigned char bad[128];
  memcpy(bad, img, sizeof img);
  bad[0] = 'Y';
  expect_bundle_error(bad, good, XNND_BAD_MAGIC, "magic");
  memcpy(bad, img, sizeof img);
  bad[4] = 2;
  expect_bundle_error(bad, good, XNND_UNSUPPORTED_VERSION, "version 2, expected 1");
  memcpy(bad, img, sizeof img);
  put64(bad + 8, UINT64_MAX);
  expect_bundle_error(bad, good, XNND_TRUNCATED, "record count 18446744073709551615");
  memcpy(bad, img, sizeof img);
  put64(bad + 24, UINT64_MAX - 3);  /* size that overflows offset arithmetic */
  expect_bundle_error(bad, good, XNND_TRUNCATED, "has 18446744073709551612 bytes");
  memcpy(bad, img, sizeof img);
  bad[36] = 1;
  expect_bundle_error(bad, good, XNND_MALFORMED, "record 0 (key #0000000000000011) has nonzero "
                      "padding");
  memcpy(bad, img, sizeof img);
  put64(bad + 40, 0x11);
  expect_bundle_error(bad, good, XNND_MALFORMED, "record 1 repeats key #0000000000000011");
  memcpy(bad, img, sizeof img);
  put64(bad + 8, 1);
  expect_bundle_error(bad, good, XNND_MALFORMED, "24 trailing bytes after the last record");
  expect_bundle_error(img, good + 8, XNND_MALFORMED, "8 trailing bytes");
  assert_int_equal(xnnd_const_bundle_load("/nonexistent/x.xcb", &b, &err), XNND_IO_ERROR);
  assert_contains(err.message, "/nonexistent/x.xcb: cannot open");

  /* put replaces, entries keep insertion order, empty records are fine */
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  for (uint64_t k = 0; k < 100; k++) assert_int_equal(xnnd_const_bundle_put(b, k * 977, &k, 8),
                                                      XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 5 * 977, "", 0), XNND_OK);
  assert_int_equal(xnnd_const_bundle_count(b), 100);
  assert_int_equal(xnnd_const_bundle_get(b, 5 * 977, &data, &size), XNND_OK);
  assert_int_equal(size, 0);
  uint64_t key;
  assert_int_equal(xnnd_const_bundle_entry(b, 7, &key, &data, &size), XNND_OK);
  assert_int_equal(key, 7 * 977);
  assert_int_equal(xnnd_const_bundle_entry(b, 100, &key, &data, &size), XNND_OUT_OF_RANGE);
  path = xt_temp_path("ir-many", ".xcb");
  assert_int_equal(xnnd_const_bundle_save(b, path, &err), XNND_OK);
  xnnd_const_bundle* b2;
  assert_int_equal(xnnd_const_bundle_load(path, &b2, &err), XNND_OK);
  unlink(path);
  assert_int_equal(xnnd_const_bundle_count(b2), 100);
  assert_int_equal(xnnd_const_bundle_get(b2, 99 * 977, &data, &size), XNND_OK);
  assert_int_equal(*(const uint64_t*)data, 99);
  xnnd_const_bundle_destroy(b2);
  xnnd_const_bundle_destroy(b);
  assert_int_equal(xnnd_fnv1a64("", 0), 0xcbf29ce484222325ull);
  assert_int_equal(xnnd_fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
}

/* ---- fuzz ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rng(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}

/* Any input gives OK or PARSE_ERROR; a parsed graph survives verify, print and compact. */
static void fuzz_one(const char* text, size_t len, const xnnd_const_bundle* b) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, len, b, &g, &err);
  if (st != XNND_OK) {
    assert_int_equal(st, XNND_PARSE_ERROR);
    assert_null(g);
    assert_true(err.message[0] != '\0');
    return;
  }
  st = xnnd_graph_verify(g);
  assert_true(st == XNND_OK || st == XNND_VERIFY_ERROR);
  char* printed = xnnd_graph_print(g, NULL);
  assert_non_null(printed);
  if (st == XNND_OK) {
    /* a verified graph prints canonically: parse(print) prints the same */
    xnnd_graph* g2 = NULL;
    assert_int_equal(xnnd_graph_parse(printed, strlen(printed), b, &g2, &err), XNND_OK);
    char* again = xnnd_graph_print(g2, NULL);
    assert_string_equal(printed, again);
    free(again);
    xnnd_graph_destroy(g2);
  }
  st = xnnd_graph_compact(g);
  assert_true(st == XNND_OK || st == XNND_VERIFY_ERROR);
  free(printed);
  xnnd_graph_destroy(g);
}

static void test_fuzz(void** state) {
  (void)state;
  static const char special[] = "[](){},=%_#:-.0123456789\n \x00\xff" "eEinfa";
  for (size_t i = 0; i < IR_ARRAY_LEN(k_golden); i++) {
    char name[64];
    snprintf(name, sizeof name, "%s.ir", k_golden[i]);
    size_t len;
    char* text = xt_read_file(golden_path(name), &len);
    assert_non_null(text);
    snprintf(name, sizeof name, "%s.xcb", k_golden[i]);
    xnnd_const_bundle* b = NULL;
    xnnd_error err;
    if (access(golden_path(name), R_OK) == 0)
      assert_int_equal(xnnd_const_bundle_load(golden_path(name), &b, &err), XNND_OK);
    /* every prefix, in an exactly sized buffer so overreads show under valgrind */
    size_t step = len > 3000 ? 3 : 1;
    for (size_t n = 0; n <= len; n += step) {
      char* prefix = malloc(n ? n : 1);
      memcpy(prefix, text, n);
      fuzz_one(prefix, n, b);
      free(prefix);
    }
    char* mutated = malloc(len);
    for (int round = 0; round < 300; round++) {
      memcpy(mutated, text, len);
      int flips = 1 + (int)(rng() % 4);
      for (int f = 0; f < flips; f++) {
        size_t at = rng() % len;
        switch (rng() % 3) {
          case 0: mutated[at] = (char)(rng() & 0xff); break;
          case 1: mutated[at] = special[rng() % (sizeof special - 1)]; break;
          default: mutated[at] ^= (char)(1u << (rng() % 8)); break;
        }
      }
      fuzz_one(mutated, len, b);
    }
    free(mutated);
    xnnd_const_bundle_destroy(b);
    free(text);
  }
}


/* ---- symbolic dims (dynamic shapes) ---- */

#define DYN_HEAD "graph d {\n  sym s0 = 1..8\n  sym h = 5..8\n"

static void test_symbolic_text(void** state) {
  (void)state;
  xnnd_graph* g = parse_ok(DYN_HEAD
                           "  input %x: f32[s0,3,32*h+1]\n"
                           "  %y: f32[s0,3,32*h+1] = aten.relu(%x)\n"
                           "  %v: f32[3*s0,32*h+1] = aten.view(%y) {size=[3*s0,32*h+1]}\n"
                           "  output %v\n"
                           "}\n");
  verify_ok(g);
  assert_int_equal(g->num_syms, 2);
  assert_string_equal(g->syms[1].name, "h");
  assert_int_equal(g->syms[1].min, 5);
  assert_int_equal(g->syms[1].max, 8);
  const xnnd_ir_value* x = &g->values[xnnd_graph_find_value(g, "x")];
  assert_non_null(x->dimx);
  assert_int_equal(x->dims[0], 8);
  assert_int_equal(x->dims[1], 3);
  assert_int_equal(x->dims[2], 32 * 8 + 1);
  assert_false(xnnd_value_dim_static(x, 0));
  assert_true(xnnd_value_dim_static(x, 1));
  assert_false(xnnd_value_static(x));
  assert_int_equal(x->dimx[2].k[1], 32);
  assert_int_equal(x->dimx[2].c, 1);
  const xnnd_ir_node* view = &g->nodes[1];
  assert_non_null(view->attr_dimx[0]);
  assert_int_equal(view->attrs[0].ints[0], 24);
  assert_int_equal(view->attrs[0].ints[1], 257);
  assert_int_equal(view->attr_dimx[0][0].k[0], 3);
  assert_true(xnnd_node_symbolic(g, 1));
  char* text = xnnd_graph_print(g, NULL);
  assert_string_equal(text, DYN_HEAD
                      "  input %x: f32[s0,3,32*h+1]\n"
                      "  %y: f32[s0,3,32*h+1] = aten.relu(%x)\n"
                      "  %v: f32[3*s0,32*h+1] = aten.view(%y) {size=[3*s0,32*h+1]}\n"
                      "  output %v\n"
                      "}\n");
  free(text);
  xnnd_graph_destroy(g);

  /* non-canonical forms print canonically; an all-static form is a static value */
  g = parse_ok("graph d {\n  sym s0 = 1..8\n  input %x: f32[1+s0,0*s0+3]\n"
               "  %y: f32[s0*1+1,3] = aten.relu(%x)\n  output %y\n}\n");
  verify_ok(g);
  assert_null(g->values[xnnd_graph_find_value(g, "y")].dimx == NULL ? NULL : (void*)0);
  text = xnnd_graph_print(g, NULL);
  assert_string_equal(text, "graph d {\n  sym s0 = 1..8\n  input %x: f32[s0+1,3]\n"
                      "  %y: f32[s0+1,3] = aten.relu(%x)\n  output %y\n}\n");
  free(text);
  xnnd_graph_destroy(g);
  g = parse_ok("graph d {\n  sym s0 = 1..8\n  input %x: f32[0*s0+3]\n"
               "  %y: f32[3] = aten.relu(%x)\n  output %y\n}\n");
  assert_null(g->values[0].dimx);
  verify_ok(g);
  xnnd_graph_destroy(g);
}

/* The longest form prints whole (4 terms with 31-byte names and 2^40 coefficients). */
static void test_symbolic_longest_form(void** state) {
  (void)state;
  char text[2048], names[4][32];
  int n = snprintf(text, sizeof text, "graph d {\n");
  for (int i = 0; i < 4; i++) {
    memset(names[i], 'a' + i, 31);
    names[i][31] = '\0';
    n += snprintf(text + n, sizeof text - (size_t)n, "  sym %s = 0..0\n", names[i]);
  }
  n += snprintf(text + n, sizeof text - (size_t)n, "  input %%x: i8[");
  for (int i = 0; i < 4; i++)
    n += snprintf(text + n, sizeof text - (size_t)n, "%s1099511627776*%s", i ? "+" : "", names[i]);
  n += snprintf(text + n, sizeof text - (size_t)n, "+1099511627776]\n  output %%x\n}\n");
  xnnd_graph* g = parse_ok(text);
  verify_ok(g);
  assert_int_equal(g->values[0].dims[0], XNND_DIMX_LIMIT);
  char* printed = xnnd_graph_print(g, NULL);
  assert_string_equal(printed, text);
  free(printed);
  xnnd_graph_destroy(g);
}

static void test_symbolic_parse_errors(void** state) {
  (void)state;
  expect_parse_error("graph d {\n  input %x: f32[2]\n  sym s0 = 1..8\n  output %x\n}\n", "3:3:",
                     "'sym' lines must come before inputs, constants and nodes");
  expect_parse_error("graph d {\n  sym a = 1..2\n  sym b = 1..2\n  sym c = 1..2\n  sym e = 1..2\n"
                     "  sym f = 1..2\n  output\n}\n", "6:3:", "more than 4 symbols");
  expect_parse_error("graph d {\n  sym s0 = 1..8\n  sym s0 = 1..4\n  output\n}\n", "3:7:",
                     "duplicate symbol name s0");
  expect_parse_error("graph d {\n  sym 0s = 1..8\n  output\n}\n", "2:7:",
                     "symbol name '0s' must start with a letter or '_'");
  expect_parse_error("graph d {\n  sym s0 = 8..1\n  output\n}\n", "2:7:",
                     "symbol s0: range 8..1 is empty");
  expect_parse_error("graph d {\n  sym s0 = 1..1099511627777\n  output\n}\n", "2:15:",
                     "maximum of symbol s0 is out of range");
  expect_parse_error("graph d {\n  sym s0 = -1..8\n  output\n}\n", "2:12:",
                     "expected the minimum of symbol s0 (an integer >= 0), got '-'");
  expect_parse_error("graph d {\n  sym s0 = 1.8\n  output\n}\n", "2:13:",
                     "expected '..' between the minimum and maximum of symbol s0");
  expect_parse_error("graph d {\n  sym s0 1..8\n  output\n}\n", "2:10:",
                     "expected '=' after the symbol name");
  expect_parse_error("graph d {\n  sym s0 = 1..8 x\n  output\n}\n", "2:17:",
                     "expected end of line");
  expect_parse_error("graph d {\n  sym abcdefghijabcdefghijabcdefghijab = 1..8\n  output\n}\n",
                     "2:7:", "symbol name longer than 31 bytes");
  expect_parse_error(DYN_HEAD "  input %x: f32[2,t]\n  output %x\n}\n", "4:19:",
                     "dimension: unknown symbol 't' in dim 't'");
  expect_parse_error(DYN_HEAD "  input %x: f32[2,3-s0]\n  output %x\n}\n", "4:19:",
                     "negative coefficient of 's0'");
  expect_parse_error(DYN_HEAD "  input %x: f32[2,s0-2]\n  output %x\n}\n", "4:19:",
                     "dimension 's0-2' is -1 at the symbols' minima (must be >= 0)");
  expect_parse_error(DYN_HEAD "  input %x: f32[2,2*s0*3]\n  output %x\n}\n", "4:23:",
                     "unexpected '*' in dimension");
  expect_parse_error(DYN_HEAD "  input %x: f32[2,s0 h]\n  output %x\n}\n", "4:22:",
                     "expected ']' to close the dims");
  expect_parse_error(DYN_HEAD "  input %x: f32[1099511627776*s0]\n  output %x\n}\n", "4:17:",
                     "at the symbols' maxima (at most 2^40)");
  expect_parse_error("graph d {\n  input %x: f32[s0]\n  output %x\n}\n", "2:17:",
                     "unknown symbol 's0'");
  expect_parse_error(DYN_HEAD "  const %c: f32[s0] = [1]\n  output %c\n}\n", "4:13:",
                     "constant %c must have static dims");
  expect_parse_error(DYN_HEAD "  input %x: f32[s0,4]\n"
                     "  %v: f32[s0,4] = aten.view(%x) {size=[s0,t]}\n  output %v\n}\n", "5:43:",
                     "int list entry: unknown symbol 't'");
  expect_parse_error(DYN_HEAD "  input %x: f32[s0,4]\n"
                     "  %v: f32[s0,4] = aten.view(%x) {size=[s0-3,4]}\n  output %v\n}\n", "5:40:",
                     "int list entry 's0-3' is -2 at the symbols' minima");
}

static void test_symbolic_inference(void** state) {
  (void)state;
  /* declared forms are checked against inference, both forms printed */
  expect_verify_error(DYN_HEAD "  input %x: f32[s0,3]\n  %y: f32[8,3] = aten.relu(%x)\n"
                      "  output %y\n}\n",
                      "node 0 (aten.relu): output 0 %y: dim 0 is 8 but shape inference gives s0",
                      NULL);
  expect_verify_error(DYN_HEAD "  input %x: f32[s0,3]\n  %y: f32[2*s0,3] = aten.relu(%x)\n"
                      "  output %y\n}\n",
                      "node 0 (aten.relu): output 0 %y is f32[16,3] but shape inference gives f32[8,3]",
                      NULL);
  expect_verify_error(DYN_HEAD "  input %x: f32[h+3,3]\n  %y: f32[s0+3,3] = aten.relu(%x)\n"
                      "  output %y\n}\n",
                      "dim 0 is s0+3 but shape inference gives h+3", NULL);
  /* a static node cannot have symbolic outputs */
  expect_verify_error(DYN_HEAD "  input %x: f32[8,3]\n  %y: f32[s0,3] = aten.relu(%x)\n"
                      "  output %y\n}\n", "dim 0 is s0 but shape inference gives 8", NULL);
  /* not affine: a stride-2 convolution of a dim that is not a multiple of 2 */
  expect_verify_error(DYN_HEAD "  input %x: f32[1,3,s0,4]\n"
                      "  const %w: f32[2,3,1,1] = [1, 2, 3, 4, 5, 6]\n"
                      "  %y: f32[1,2,4,2] = aten.convolution(%x, %w, _) {stride=[2,2], "
                      "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                      "groups=1}\n  output %y\n}\n",
                      "node 0 (aten.convolution): output 0 %y: dim 2 is not affine in the symbols",
                      "(the fit 4 gives 4 at s0=1, shape inference 1)");
  /* ... and the fix the exporter suggests: a step (32*h) makes it affine */
  xnnd_graph* g = parse_ok(DYN_HEAD "  input %x: f32[1,3,32*h,4]\n"
                           "  const %w: f32[2,3,1,1] = [1, 2, 3, 4, 5, 6]\n"
                           "  %y: f32[1,2,16*h,2] = aten.convolution(%x, %w, _) {stride=[2,2], "
                           "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                           "groups=1}\n  output %y\n}\n");
  verify_ok(g);
  xnnd_graph_destroy(g);
  /* a product of symbols is not affine (view of a flattened s0 x h) */
  expect_verify_error(DYN_HEAD "  input %x: f32[s0,h,2]\n"
                      "  %y: f32[s0,2] = aten.mean(%x) {dim=[1], keepdim=false}\n"
                      "  %z: f32[64] = aten.view(%x) {size=[s0,2*h]}\n  output %z\n}\n",
                      "node 1 (aten.view)", NULL);
  /* shrinking as a symbol grows: a negative coefficient */
  expect_verify_error("graph d {\n  sym k = 1..3\n  input %x: f32[1,3,16,16]\n"
                      "  input %w: f32[4,3,k,k]\n"
                      "  %y: f32[1,4,16,16] = aten.convolution(%x, %w, _) {stride=[1,1], "
                      "padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], "
                      "groups=1}\n  output %y\n}\n",
                      "node 0 (aten.convolution): output 0 %y: dim 2 is not affine in the symbols "
                      "(it shrinks as k grows: 15 at k=2, 14 at 3)", NULL);
  /* an inference error at a sample point names the point */
  expect_verify_error(DYN_HEAD "  input %x: f32[s0,3]\n  input %z: f32[h,3]\n"
                      "  %y: f32[8,3] = aten.add(%x, %z) {alpha=1}\n  output %y\n}\n",
                      "(at s0=", NULL);
  /* a symbol with min == max is static for fitting: the declared s0 and 4 both verify */
  g = parse_ok("graph d {\n  sym b = 4..4\n  input %x: f32[b,3]\n"
               "  %y: f32[4,3] = aten.relu(%x)\n  %z: f32[b,3] = aten.relu(%y)\n  output %z\n}\n");
  verify_ok(g);
  xnnd_graph_destroy(g);
  /* broadcasting a symbolic dim against 1 and a relation (2*s0) across inputs */
  g = parse_ok(DYN_HEAD "  input %x: f32[s0,1,2*s0]\n  input %z: f32[1,h,2*s0]\n"
               "  %y: f32[s0,h,2*s0] = aten.mul(%x, %z)\n  output %y\n}\n");
  verify_ok(g);
  xnnd_graph_destroy(g);
}

/* Every node's inferred forms, evaluated at EVERY point of the (small) symbol ranges, equal the
 * op's concrete shape inference there: the sample-and-fit inference is exact, not only at the
 * points it samples. */
static void check_forms_everywhere(xnnd_graph* g) {
  int64_t pt[XNND_MAX_SYMS] = {0};
  for (uint32_t s = 0; s < g->num_syms; s++) pt[s] = g->syms[s].min;
  uint32_t points = 0;
  for (;;) {
    for (xnnd_id n = 0; n < g->num_nodes; n++) {
      xnnd_ir_node* node = &g->nodes[n];
      int64_t saved[8][XNND_MAX_RANK], ints[XNND_MAX_ATTRS][XNND_MAX_ATTR_INTS];
      assert_true(node->num_inputs <= 8);
      for (uint32_t i = 0; i < node->num_inputs; i++) {
        if (node->inputs[i] == XNND_NO_ID) continue;
        xnnd_ir_value* v = &g->values[node->inputs[i]];
        memcpy(saved[i], v->dims, sizeof saved[i]);
      }
      for (uint32_t i = 0; i < node->num_inputs; i++) {
        if (node->inputs[i] == XNND_NO_ID) continue;
        xnnd_ir_value* v = &g->values[node->inputs[i]];
        for (uint32_t d = 0; v->dimx && d < v->rank; d++)
          v->dims[d] = xnnd_dimx_eval(&v->dimx[d], pt, g->num_syms);
      }
      for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
        memcpy(ints[a], node->attrs[a].ints, sizeof ints[a]);
        for (uint32_t i = 0; node->attr_dimx[a] && i < node->attrs[a].n; i++)
          node->attrs[a].ints[i] = xnnd_dimx_eval(&node->attr_dimx[a][i], pt, g->num_syms);
      }
      xnnd_ir_value outs[3];
      for (uint32_t k = 0; k < node->num_outputs; k++) outs[k] = g->values[node->outputs[k]];
      if (xnnd_op_get(node->op)->infer(g, n) != XNND_OK) fail_msg("node %u: %s", n, g->errmsg);
      for (uint32_t k = 0; k < node->num_outputs; k++) {
        const xnnd_ir_value* got = &g->values[node->outputs[k]];
        assert_int_equal(got->rank, outs[k].rank);
        for (uint32_t d = 0; d < got->rank; d++) {
          int64_t want = outs[k].dimx ? xnnd_dimx_eval(&outs[k].dimx[d], pt, g->num_syms)
                                      : outs[k].dims[d];
          if (got->dims[d] != want)
            fail_msg("node %u output %u dim %u at s0=%lld: form gives %lld, inference %lld", n, k,
                     d, (long long)pt[0], (long long)want, (long long)got->dims[d]);
        }
        g->values[node->outputs[k]] = outs[k];
      }
      for (uint32_t i = 0; i < node->num_inputs; i++)
        if (node->inputs[i] != XNND_NO_ID)
          memcpy(g->values[node->inputs[i]].dims, saved[i], sizeof saved[i]);
      for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++)
        memcpy(node->attrs[a].ints, ints[a], sizeof ints[a]);
    }
    points++;
    uint32_t s = 0;
    while (s < g->num_syms && pt[s] == g->syms[s].max) {
      pt[s] = g->syms[s].min;
      s++;
    }
    if (s == g->num_syms) break;
    pt[s]++;
  }
  assert_true(points > 1);
}

static void test_symbolic_forms_exact(void** state) {
  (void)state;
  xnnd_const_bundle* b;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  float w[54];
  for (int i = 0; i < 54; i++) w[i] = (float)i;
  assert_int_equal(xnnd_const_bundle_put(b, 1, w, sizeof w), XNND_OK);
  xnnd_graph* g = parse_ok_bundle(
      "graph d {\n  sym s0 = 1..6\n  sym h = 1..5\n"
      "  input %x: f32[s0,3,32*h,16*h+4]\n"
      "  input %t: f32[s0,h+4]\n"
      "  input %u: f32[2*s0+1,h+4]\n"
      "  input %b1: f32[s0,h,4]\n"
      "  input %b2: f32[s0,4,6]\n"
      "  const %w: f32[2,3,3,3] = #0000000000000001\n"
      "  const %lw: f32[5,6] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, "
      "20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30]\n"
      "  %c: f32[s0,2,16*h,8*h+2] = aten.convolution(%x, %w, _) {stride=[2,2], padding=[1,1], "
      "dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
      "  %ct: f32[s0,3,32*h-1,16*h+3] = aten.convolution(%c, %w, _) {stride=[2,2], padding=[1,1], "
      "dilation=[1,1], transposed=true, output_padding=[0,0], groups=1}\n"
      "  %ap: f32[s0,2,8*h+1,4*h+2] = aten.avg_pool2d(%c) {kernel_size=[3,3], stride=[2,2], "
      "padding=[1,1], ceil_mode=true, count_include_pad=true, divisor_override=none}\n"
      "  %ga: f32[s0,2,1,1] = aten.adaptive_avg_pool2d(%ap) {output_size=[1,1]}\n"
      "  %cat0: f32[3*s0+1,h+4] = aten.cat(%t, %u) {dim=0}\n"
      "  %cat1: f32[s0,2*h+8] = aten.cat(%t, %t) {dim=1}\n"
      "  %sl: f32[s0,3] = aten.slice(%t) {dim=1, start=1, end=4, step=1}\n"
      "  %sel: f32[h+4] = aten.select(%t) {dim=0, index=0}\n"
      "  %pad: f32[s0,h+7] = aten.constant_pad_nd(%t) {pad=[1,2], value=0}\n"
      "  %ex: f32[s0,3,h+4] = aten.expand(%sel) {size=[s0,3,h+4]}\n"
      "  %mn: f32[s0] = aten.mean(%t) {dim=[1], keepdim=false}\n"
      "  %bm: f32[s0,h,6] = aten.bmm(%b1, %b2)\n"
      "  %li: f32[s0,h,5] = aten.linear(%bm, %lw)\n"
      "  %pm: f32[h,5,s0] = aten.permute(%li) {dims=[1,2,0]}\n"
      "  %vw: f32[5*h,s0] = aten.view(%pm) {size=[5*h,s0]}\n"
      "  output %ct, %ga, %cat0, %cat1, %sl, %pad, %ex, %mn, %vw\n"
      "}\n", b);
  xnnd_const_bundle_destroy(b);
  verify_ok(g);
  check_forms_everywhere(g);
  xnnd_graph_destroy(g);
}

static void test_symbolic_add_node_and_compact(void** state) {
  (void)state;
  xnnd_graph* g;
  assert_int_equal(xnnd_graph_create("g", &g), XNND_OK);
  uint32_t s0, h;
  assert_int_equal(xnnd_graph_add_symbol(g, "s0", 1, 8, &s0), XNND_OK);
  assert_int_equal(xnnd_graph_add_symbol(g, "h", 5, 8, &h), XNND_OK);
  assert_int_equal(xnnd_graph_add_symbol(g, "s0", 1, 2, NULL), XNND_INVALID_ARGUMENT);
  assert_contains(g->errmsg, "duplicate symbol name s0");
  assert_int_equal(xnnd_graph_add_symbol(g, "9x", 1, 2, NULL), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_graph_add_symbol(g, "x", 3, 2, NULL), XNND_INVALID_ARGUMENT);
  assert_int_equal(xnnd_graph_add_symbol(g, "a", 1, 2, NULL), XNND_OK);
  assert_int_equal(xnnd_graph_add_symbol(g, "b", 1, 2, NULL), XNND_OK);
  assert_int_equal(xnnd_graph_add_symbol(g, "c", 1, 2, NULL), XNND_INVALID_ARGUMENT);
  assert_contains(g->errmsg, "at most 4 symbols");
  int64_t dims[4] = {1, 3, 1, 1};
  xnnd_id x = xnnd_graph_add_value(g, "x", XNND_F32, 4, dims);
  xnnd_dimx f[4] = {xnnd_dimx_sym(s0, 1), xnnd_dimx_const(3), xnnd_dimx_sym(h, 32),
                    xnnd_dimx_sym(h, 32)};
  assert_int_equal(xnnd_graph_set_value_dimx(g, x, f), XNND_OK);
  assert_int_equal(g->values[x].dims[0], 8);
  assert_int_equal(g->values[x].dims[2], 256);
  xnnd_dimx bad[4] = {xnnd_dimx_sym(s0, 1), xnnd_dimx_const(3), xnnd_dimx_sym(h, 32),
                      xnnd_dimx_sym(h, 32)};
  bad[0].c = -2;
  assert_int_equal(xnnd_graph_set_value_dimx(g, x, bad), XNND_INVALID_ARGUMENT);
  assert_contains(g->errmsg, "value %x: dim 0 = s0-2 is invalid");
  assert_int_equal(xnnd_graph_set_inputs(g, &x, 1), XNND_OK);
  /* relu, then a stride-2 pool: outputs get fitted forms */
  xnnd_id r = xnnd_graph_add_node_infer(g, XNND_OP_RELU, &x, 1, NULL);
  assert_int_not_equal(r, XNND_NO_ID);
  const xnnd_ir_value* rv = &g->values[g->nodes[r].outputs[0]];
  assert_non_null(rv->dimx);
  assert_ptr_not_equal(rv->dimx, g->values[x].dimx);
  assert_true(xnnd_dimx_equal(&rv->dimx[2], &f[2]));
  xnnd_attr at[XNND_MAX_ATTRS];
  const xnnd_op_info* info = xnnd_op_get(XNND_OP_MAX_POOL2D);
  for (uint32_t a = 0; a < info->num_attrs; a++) at[a] = info->attrs[a].def;
  at[0] = (xnnd_attr){.kind = XNND_ATTR_INTS, .n = 2, .ints = {2, 2}};
  at[1] = (xnnd_attr){.kind = XNND_ATTR_INTS, .n = 2, .ints = {2, 2}};
  xnnd_id rout = g->nodes[r].outputs[0];
  xnnd_id p = xnnd_graph_add_node_infer(g, XNND_OP_MAX_POOL2D, &rout, 1, at);
  assert_int_not_equal(p, XNND_NO_ID);
  xnnd_id pout = g->nodes[p].outputs[0];
  char buf[64];
  xnnd_dimx_print(buf, sizeof buf, &g->values[pout].dimx[2], g->syms, g->num_syms);
  assert_string_equal(buf, "16*h");
  assert_int_equal(g->values[pout].dims[2], 128);
  /* a view with a symbolic size through add_node_infer_dimx */
  xnnd_attr vat[XNND_MAX_ATTRS] = {{.kind = XNND_ATTR_INTS, .n = 2}};
  xnnd_dimx vf[2] = {xnnd_dimx_sym(s0, 3), xnnd_dimx_sym(h, 16)};
  const xnnd_dimx* vforms[XNND_MAX_ATTRS] = {vf};
  vf[1].k[h] = 16;
  /* [s0,3,16h,16h] -> [3*s0, 256*h*h] is not affine: refused */
  assert_int_equal(xnnd_graph_add_node_infer_dimx(g, XNND_OP_VIEW, &pout, 1, vat, vforms),
                   XNND_NO_ID);
  xnnd_id m = xnnd_graph_add_node_infer(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &pout, 1,
                                        &(xnnd_attr){.kind = XNND_ATTR_INTS, .n = 2, .ints = {1, 1}});
  assert_int_not_equal(m, XNND_NO_ID);
  xnnd_id mout = g->nodes[m].outputs[0];
  vf[1] = xnnd_dimx_const(1);
  xnnd_id v = xnnd_graph_add_node_infer_dimx(g, XNND_OP_VIEW, &mout, 1, vat, vforms);
  if (v == XNND_NO_ID) fail_msg("%s", g->errmsg);
  assert_non_null(g->nodes[v].attr_dimx[0]);
  assert_int_equal(g->nodes[v].attrs[0].ints[0], 24);
  xnnd_id vout = g->nodes[v].outputs[0];
  assert_int_equal(xnnd_graph_set_outputs(g, &vout, 1), XNND_OK);
  /* a dead node in between: compact keeps every form */
  xnnd_id dead = xnnd_graph_add_node_infer(g, XNND_OP_SIGMOID, &x, 1, NULL);
  g->nodes[dead].dead = true;
  verify_ok(g);
  assert_int_equal(xnnd_graph_compact(g), XNND_OK);
  verify_ok(g);
  char* text = xnnd_graph_print(g, NULL);
  assert_string_equal(text,
      "graph g {\n  sym s0 = 1..8\n  sym h = 5..8\n  sym a = 1..2\n  sym b = 1..2\n"
      "  input %x: f32[s0,3,32*h,32*h]\n"
      "  %v1: f32[s0,3,32*h,32*h] = aten.relu(%x)\n"
      "  %v2: f32[s0,3,16*h,16*h] = aten.max_pool2d(%v1) {kernel_size=[2,2], stride=[2,2], "
      "padding=[0,0], dilation=[1,1], ceil_mode=false}\n"
      "  %v3: f32[s0,3,1,1] = aten.adaptive_avg_pool2d(%v2) {output_size=[1,1]}\n"
      "  %v4: f32[3*s0,1] = aten.view(%v3) {size=[3*s0,1]}\n"
      "  output %v4\n}\n");
  free(text);
  xnnd_graph_destroy(g);
}

static void test_symbolic_verify_invariants(void** state) {
  (void)state;
  const char* text = DYN_HEAD "  input %x: f32[s0,4]\n  %y: f32[s0,4] = aten.relu(%x)\n"
                     "  %v: f32[4,s0] = aten.view(%y) {size=[4,s0]}\n  output %v\n}\n";
  xnnd_graph* g = parse_ok(text);
  g->values[0].dims[0] = 7;
  expect_bad(g, "node 0 (aten.relu): input 0 %x: dim 0 = s0: dims[0] is 7, not its upper bound 8", NULL);
  g = parse_ok(text);
  ((xnnd_dimx*)g->values[0].dimx)[0].c = -3;
  g->values[0].dims[0] = 5;
  expect_bad(g, "node 0 (aten.relu): input 0 %x: dim 0 = s0-3 is -2 at the symbols' minima", NULL);
  g = parse_ok(text);
  ((xnnd_dimx*)g->values[0].dimx)[0].k[3] = 1;
  expect_bad(g, "dim 0: symbolic form is out of range or uses an undeclared symbol", NULL);
  g = parse_ok(text);
  ((xnnd_dimx*)g->values[0].dimx)[0] = xnnd_dimx_const(8);
  expect_bad(g, "symbolic dims without a symbol (dimx must be NULL)", NULL);
  g = parse_ok(text);
  g->nodes[1].attrs[0].ints[1] = 3;
  expect_bad(g, "node 1 (aten.view): output %v: attribute size entry 1 = s0: the int is 3, not its "
             "upper bound 8", NULL);
  g = parse_ok(text);
  ((xnnd_dimx*)g->nodes[1].attr_dimx[0])[1] = xnnd_dimx_const(8);
  expect_bad(g, "attribute size is symbolic without a symbol", NULL);
  g = parse_ok(text);
  g->nodes[0].attr_dimx[0] = g->values[0].dimx;
  expect_bad(g, "node 0 (aten.relu)", NULL);
  g = parse_ok(text);
  strcpy(g->syms[1].name, "s0");
  expect_bad(g, "symbols 0 and 1 are both named s0", NULL);
  g = parse_ok(text);
  g->syms[1].min = 9;
  expect_bad(g, "symbol 1 'h' = 9..8", NULL);
  g = parse_ok(text);
  g->num_syms = 5;
  expect_bad(g, "graph has 5 symbols, at most 4", NULL);
  /* constants are static */
  g = parse_ok(DYN_HEAD "  input %x: f32[s0]\n  const %c: f32[8] = [1, 2, 3, 4, 5, 6, 7, 8]\n"
               "  %y: f32[s0] = aten.mul(%x, %c)\n  output %y\n}\n");
  g->values[1].dimx = g->values[0].dimx;
  expect_bad(g, "node 0 (aten.mul): input 1 %c: a constant's dims must be static", NULL);
  /* per-channel quantization needs a static axis */
  g = parse_ok(DYN_HEAD "  input %x: i8[s0,2] qc(0, [0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5], "
               "[0,0,0,0,0,0,0,0])\n  output %x\n}\n");
  expect_bad(g, "per-channel quantization axis 0 must be a static dim, not s0", NULL);
  g = parse_ok(DYN_HEAD "  input %x: i8[s0,2] qc(1, [0.5,0.25], [0,0])\n  output %x\n}\n");
  verify_ok(g);
  xnnd_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_op_table),
      cmocka_unit_test(test_graph_values),
      cmocka_unit_test(test_graph_nodes_and_uses),
      cmocka_unit_test(test_compact_cycle_and_unused),
      cmocka_unit_test(test_infer_conv),
      cmocka_unit_test(test_infer_pool_and_reduce),
      cmocka_unit_test(test_infer_matmul_shape_broadcast),
      cmocka_unit_test(test_verify_structure),
      cmocka_unit_test(test_verify_attrs),
      cmocka_unit_test(test_verify_shapes),
      cmocka_unit_test(test_verify_quant_and_layout),
      cmocka_unit_test(test_golden_round_trip),
      cmocka_unit_test(test_round_trip_with_bundle),
      cmocka_unit_test(test_print_floats),
      cmocka_unit_test(test_half_conversion),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_bundle_load_errors),
      cmocka_unit_test(test_fuzz),
      cmocka_unit_test(test_symbolic_text),
      cmocka_unit_test(test_symbolic_parse_errors),
      cmocka_unit_test(test_symbolic_longest_form),
      cmocka_unit_test(test_symbolic_forms_exact),
      cmocka_unit_test(test_symbolic_inference),
      cmocka_unit_test(test_symbolic_add_node_and_compact),
      cmocka_unit_test(test_symbolic_verify_invariants),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
