/* Program writer and importer: IR -> .pte (portable only) -> IR gives the same graph, fused
 * output ranges included; a delegated program is refused by the importer with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "partitioner/partitioner.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "serializer/program_writer.h"

static const xnnd_partition_options k_xnnpack = {.backend = &xnnd_xnnpack_toolchain_backend};

static const char* k_graph =
    "graph forward {\n"
    "  input %x: f32[1,2,4,4]\n"
    "  const %w: f32[2,2,1,1] = [1, -1, 0.5, 2]\n"
    "  const %b: f32[2] = [0.25, -0.5]\n"
    "  %c: f32[1,2,4,4] = aten.convolution(%x, %w, %b) {stride=[1,1], padding=[0,0], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1} clamp(0, 6)\n"
    "  %m: f32[1,2,2,2], %i: i64[1,2,2,2] = aten.max_pool2d_with_indices(%c) {kernel_size=[2,2], stride=[2,2], padding=[0,0], dilation=[1,1], ceil_mode=false}\n"
    "  %t: f32[1,2,2,2] = aten.tanh(%m)\n"
    "  output %t, %i\n"
    "}\n";

static xnnd_graph* parse(const char* text) {
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(text, strlen(text), NULL, &g, &err) != XNND_OK) fail_msg("parse: %s", err.message);
  return g;
}

/* Value names differ after import (v<id>), so compare the printed graphs with names
 * normalized by renaming every value to its position. */
static char* print_normalized(xnnd_graph* g) {
  for (xnnd_id v = 0; v < g->num_values; v++) {
    char* name = xnnd_graph_alloc(g, 16);
    snprintf(name, 16, "n%u", v);
    g->values[v].name = name;
    g->values[v].const_key = 0;
  }
  snprintf(g->name, sizeof(g->name), "forward");
  return xnnd_graph_print(g, NULL);
}

static void test_round_trip_portable(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_graph);
  xnnd_partition_plan plan;
  xnnd_partition_options nd = {.backend = &xnnd_xnnpack_toolchain_backend, .no_delegate = true};
  assert_int_equal(xnnd_partition_graph(g, &nd, &plan), XNND_OK);
  uint8_t* bytes = NULL;
  size_t size = 0;
  char err[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, err, sizeof(err)), XNND_OK);
  xnnd_partition_plan_free(&plan);
  xnnd_graph* back = NULL;
  assert_int_equal(xnnd_program_import(bytes, size, &back, err, sizeof(err)), XNND_OK);
  char* a = print_normalized(g);
  char* b = print_normalized(back);
  assert_string_equal(a, b);
  assert_non_null(strstr(b, "clamp(0, 6)"));
  free(a);
  free(b);
  free(bytes);
  xnnd_graph_destroy(back);
  xnnd_graph_destroy(g);
}

static void test_import_refuses_delegates(void** state) {
  (void)state;
  xnnd_graph* g = parse(k_graph);
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &k_xnnpack, &plan), XNND_OK);
  assert_true(plan.num_parts >= 1);
  uint8_t* bytes = NULL;
  size_t size = 0;
  char err[256];
  assert_int_equal(xnnd_program_write(g, &plan, &bytes, &size, err, sizeof(err)), XNND_OK);
  xnnd_partition_plan_free(&plan);
  xnnd_graph* back = NULL;
  assert_int_equal(xnnd_program_import(bytes, size, &back, err, sizeof(err)), XNND_UNSUPPORTED);
  assert_non_null(strstr(err, "delegate call"));
  assert_null(back);
  /* Truncations are refused with a status, never a crash. */
  for (size_t n = 0; n < size; n += 7) {
    back = NULL;
    xnnd_status st = xnnd_program_import(bytes, n, &back, err, sizeof(err));
    assert_int_not_equal(st, XNND_OK);
    assert_null(back);
  }
  free(bytes);
  xnnd_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip_portable),
      cmocka_unit_test(test_import_refuses_delegates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
