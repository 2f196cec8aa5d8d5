/* Partitioner: convexity (no partition may be left and re-entered), boundaries, options,
 * and the reasons recorded for nodes left on the portable kernels. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "partitioner/partitioner.h"
#include "serializer/program_writer.h"
#include "serializer/xnnpack/xnnpack_lower.h"

static xnnd_graph* parse(const char* text) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  xnnd_status st = xnnd_graph_parse(text, strlen(text), NULL, &g, &err);
  if (st != XNND_OK) fail_msg("parse: %s", err.message);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("verify: %s", g->errmsg);
  return g;
}

static const xnnd_partition_options k_xnnpack = {.backend = &xnnd_xnnpack_toolchain_backend};

static xnnd_id value_named(const xnnd_graph* g, const char* name) {
  for (xnnd_id v = 0; v < g->num_values; v++)
    if (strcmp(g->values[v].name, name) == 0) return v;
  fail_msg("no value %%%s", name);
  return XNND_NO_ID;
}

static int32_t part_of(const xnnd_graph* g, const xnnd_partition_plan* plan, const char* out) {
  return plan->node_part[g->values[value_named(g, out)].producer];
}

/* conv -> tanh (no XNNPACK lowering) -> add(conv, tanh): a naive union of the supported
 * nodes {conv, add} would read conv's output through tanh and back in: a cycle. */
static const char* k_cycle =
    "graph cyc {\n"
    "  input %x: f32[1,2,4,4]\n"
    "  const %w: f32[2,2,1,1] = [1, 0, 0, 1]\n"
    "  %c: f32[1,2,4,4] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %t: f32[1,2,4,4] = aten.tanh(%c)\n"
    "  %a: f32[1,2,4,4] = aten.add(%c, %t) {alpha=1}\n"
    "  output %a\n"
    "}\n";

static void test_naive_union_would_cycle(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_cycle);
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &k_xnnpack, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 2);
  int32_t pc = part_of(g, &plan, "c"), pa = part_of(g, &plan, "a");
  assert_true(pc >= 0 && pa >= 0);
  assert_int_not_equal(pc, pa);
  assert_int_equal(part_of(g, &plan, "t"), -1);
  assert_non_null(strstr(plan.reasons[g->values[value_named(g, "t")].producer], "aten.tanh"));
  /* conv's output leaves its partition for two consumers (tanh and the add's partition). */
  const xnnd_partition* p0 = &plan.parts[pc];
  assert_int_equal(p0->num_outputs, 1);
  assert_int_equal(p0->outputs[0], value_named(g, "c"));
  const xnnd_partition* p1 = &plan.parts[pa];
  assert_int_equal(p1->num_inputs, 2);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
}

/* Two independent branches from the input and constants shared by both join one partition. */
static const char* k_branches =
    "graph br {\n"
    "  input %x: f32[1,2,4,4]\n"
    "  const %w: f32[2,2,1,1] = [1, 2, 3, 4]\n"
    "  %c1: f32[1,2,4,4] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %c2: f32[1,2,4,4] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[1,2,4,4] = aten.relu(%c2)\n"
    "  %a: f32[1,2,4,4] = aten.add(%c1, %r) {alpha=1}\n"
    "  output %a, %x\n"
    "}\n";

static void test_branches_one_partition(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_branches);
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &k_xnnpack, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 1);
  assert_int_equal(plan.parts[0].num_nodes, 4);
  /* The graph input that is also a graph output is an input of the partition only. */
  assert_int_equal(plan.parts[0].num_inputs, 1);
  assert_int_equal(plan.parts[0].inputs[0], value_named(g, "x"));
  assert_int_equal(plan.parts[0].num_outputs, 1);
  assert_int_equal(plan.parts[0].outputs[0], value_named(g, "a"));
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
}

static void test_no_delegate_and_exclude(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_branches);
  xnnd_partition_plan plan;
  xnnd_partition_options nd = {.backend = &xnnd_xnnpack_toolchain_backend, .no_delegate = true};
  assert_int_equal(xnnd_partition_graph(g, &nd, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 0);
  assert_non_null(strstr(plan.reasons[0], "--no-delegate"));
  xnnd_partition_plan_free(&plan);

  const char* ex[] = {"aten.relu"};
  xnnd_partition_options eo = {.backend = &xnnd_xnnpack_toolchain_backend, .exclude_ops = ex, .num_exclude_ops = 1};
  assert_int_equal(xnnd_partition_graph(g, &eo, &plan), XNND_OK);
  assert_int_equal(part_of(g, &plan, "r"), -1);
  assert_non_null(strstr(plan.reasons[g->values[value_named(g, "r")].producer], "exclude"));
  /* relu outside splits: c2 feeds relu which feeds the add, so c1/c2 and the add cannot all
   * share one partition. */
  assert_int_not_equal(part_of(g, &plan, "c2"), part_of(g, &plan, "a"));
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
}

/* ---- a fake backend: the partitioner and the writer see only partitioner/backend.h ---- */
static uint32_t g_fake_lowered, g_fake_nodes_lowered;

static bool fake_supports(const xnnd_graph* g, xnnd_id node, char* reason, size_t reason_size) {
  xnnd_op op = g->nodes[node].op;
  if (op == XNND_OP_RELU || op == XNND_OP_ADD) return true;
  snprintf(reason, reason_size, "fake backend runs relu and add only, not %s", xnnd_op_get(op)->name);
  return false;
}

/* Blob: "FAKE", then num_nodes, num_inputs, num_outputs as u32. */
static xnnd_status fake_lower(const xnnd_graph* g, const xnnd_partition* part, uint8_t** blob_out,
                              size_t* blob_size_out, char* err, size_t err_size) {
  (void)g, (void)err, (void)err_size;
  uint8_t* b = malloc(16);
  if (!b) return XNND_OUT_OF_MEMORY;
  uint32_t counts[3] = {part->num_nodes, part->num_inputs, part->num_outputs};
  memcpy(b, "FAKE", 4);
  memcpy(b + 4, counts, sizeof(counts));
  *blob_out = b;
  *blob_size_out = 16;
  g_fake_lowered++;
  g_fake_nodes_lowered += part->num_nodes;
  return XNND_OK;
}

static const xnnd_toolchain_backend k_fake = {
    .name = "FakeBackend", .display_name = "fake", .supports = fake_supports, .lower = fake_lower};

/* relu -> tanh -> relu -> add(relu2, relu1): tanh stays out, so relu2 cannot join relu1's
 * partition (the path relu1 -> tanh -> relu2 would leave and re-enter it); add joins relu2. */
static const char* k_fake_graph =
    "graph fake {\n"
    "  input %x: f32[1,4]\n"
    "  %r1: f32[1,4] = aten.relu(%x)\n"
    "  %t: f32[1,4] = aten.tanh(%r1)\n"
    "  %r2: f32[1,4] = aten.relu(%t)\n"
    "  %a: f32[1,4] = aten.add(%r2, %r1) {alpha=1}\n"
    "  output %a\n"
    "}\n";

static void test_fake_backend(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_fake_graph);
  xnnd_partition_options o = {.backend = &k_fake};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &o, &plan), XNND_OK);
  assert_ptr_equal(plan.backend, &k_fake);
  assert_int_equal(plan.num_parts, 2);
  assert_int_equal(part_of(g, &plan, "r1"), 0);
  assert_int_equal(part_of(g, &plan, "t"), -1);
  assert_int_equal(part_of(g, &plan, "r2"), 1);
  assert_int_equal(part_of(g, &plan, "a"), 1);
  assert_string_equal(plan.reasons[g->values[value_named(g, "t")].producer],
                      "fake backend runs relu and add only, not aten.tanh");
  assert_int_equal(plan.parts[0].num_outputs, 1);
  assert_int_equal(plan.parts[1].num_inputs, 2);

  /* The writer lowers each partition through the backend and records its name. */
  g_fake_lowered = g_fake_nodes_lowered = 0;
  uint8_t* bytes = NULL;
  size_t size = 0;
  char err[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, err, sizeof(err)), XNND_OK);
  assert_int_equal(g_fake_lowered, 2);
  assert_int_equal(g_fake_nodes_lowered, 3);
  assert_non_null(memmem(bytes, size, "FakeBackend", 11));
  uint8_t blob1[16] = {'F', 'A', 'K', 'E'};
  uint32_t counts1[3] = {2, 2, 1};
  memcpy(blob1 + 4, counts1, sizeof(counts1));
  assert_non_null(memmem(bytes, size, blob1, sizeof(blob1)));
  assert_null(memmem(bytes, size, "XnnpackBackend", 14));
  free(bytes);
  xnnd_partition_plan_free(&plan);

  /* Without a backend nothing is delegated and the reason says so. */
  assert_int_equal(xnnd_partition_graph(g, NULL, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, 0);
  assert_string_equal(plan.reasons[0], "no delegate backend");
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
}

/* A plan with partitions and no backend cannot be written: a status, not a crash. */
static void test_writer_needs_backend(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_fake_graph);
  xnnd_partition_options o = {.backend = &k_fake};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &o, &plan), XNND_OK);
  plan.backend = NULL;
  uint8_t* bytes = NULL;
  size_t size = 0;
  char err[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, err, sizeof(err)), XNND_INVALID_ARGUMENT);
  assert_non_null(strstr(err, "no backend"));
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
}

/* ---- cost: linear in the graph however many partitions it makes ---- */

/* blocks x (a = relu(prev); t = tanh(a); prev = add(a, t)): with the fake backend each add
 * opens a partition (joining a's would leave it through tanh and come back), so there is one
 * partition per block. */
static xnnd_graph* ladder(uint32_t blocks) {
  size_t cap = 128 + (size_t)blocks * 160, len = 0;
  char* text = malloc(cap);
  len += (size_t)snprintf(text + len, cap - len, "graph ladder {\n  input %%x: f32[1,4]\n");
  const char* prev = "x";
  char prevbuf[32];
  for (uint32_t i = 0; i < blocks; i++) {
    len += (size_t)snprintf(text + len, cap - len,
                            "  %%a%u: f32[1,4] = aten.relu(%%%s)\n  %%t%u: f32[1,4] = aten.tanh(%%a%u)\n"
                            "  %%b%u: f32[1,4] = aten.add(%%a%u, %%t%u) {alpha=1}\n",
                            i, prev, i, i, i, i, i);
    snprintf(prevbuf, sizeof(prevbuf), "b%u", i);
    prev = prevbuf;
  }
  snprintf(text + len, cap - len, "  output %%%s\n}\n", prev);
  xnnd_graph* g = parse(text);
  free(text);
  return g;
}

static uint64_t ladder_work(uint32_t blocks) {
  xnnd_graph* g = ladder(blocks);
  xnnd_partition_options o = {.backend = &k_fake};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &o, &plan), XNND_OK);
  assert_int_equal(plan.num_parts, blocks + 1);  /* the first relu's own, then one per add */
  uint64_t work = plan.work, size = (uint64_t)g->num_nodes + g->num_values;
  if (work > 16 * size) fail_msg("%u blocks: %llu steps for %llu nodes + values", blocks, (unsigned long long)work,
                                 (unsigned long long)size);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
  return work;
}

static void test_cost_is_linear(void** state) {
  (void)state;
  uint64_t small = ladder_work(250), big = ladder_work(4000);
  /* 16 times the graph: a quadratic partitioner does about 256 times the work */
  if (big > 17 * small)
    fail_msg("250 blocks: %llu steps, 4000 blocks: %llu", (unsigned long long)small, (unsigned long long)big);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_naive_union_would_cycle),
      cmocka_unit_test(test_branches_one_partition),
      cmocka_unit_test(test_no_delegate_and_exclude),
      cmocka_unit_test(test_fake_backend),
      cmocka_unit_test(test_writer_needs_backend),
      cmocka_unit_test(test_cost_is_linear),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
