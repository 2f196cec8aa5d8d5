/* The small convnet fixture (see small_convnet.h), written through the toolchain API. */
#include "small_convnet.h"

/* Only tests that link the toolchain can build the fixture (see tests/CMakeLists.txt). */
#if __has_include("partitioner/partitioner.h")
#include <string.h>

#include "test_support.h"
#include "partitioner/partitioner.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "serializer/program_writer.h"

static const char* k_convnet =
    "graph small {\n"
    "  input %x: f32[1,3,16,16]\n"
    "  const %w1: f32[8,3,3,3] = #0000000000000001\n"
    "  const %b1: f32[8] = [0.1, -0.2, 0.3, 0, 0.05, -0.1, 0.2, 0]\n"
    "  const %w2: f32[8,1,3,3] = #0000000000000002\n"
    "  const %fw: f32[10,8] = #0000000000000003\n"
    "  const %fb: f32[10] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n"
    "  %c1: f32[1,8,8,8] = aten.convolution(%x, %w1, %b1) {stride=[2,2], padding=[1,1], dilation=[1,1], transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r1: f32[1,8,8,8] = aten.relu(%c1)\n"
    "  %c2: f32[1,8,8,8] = aten.convolution(%r1, %w2, _) {stride=[1,1], padding=[1,1], dilation=[1,1], transposed=false, output_padding=[0,0], groups=8}\n"
    "  %h: f32[1,8,8,8] = aten.hardtanh(%c2) {min_val=0, max_val=6}\n"
    "  %t: f32[1,8,8,8] = aten.tanh(%h)\n"
    "  %a: f32[1,8,8,8] = aten.add(%r1, %t) {alpha=1}\n"
    "  %p: f32[1,8,4,4] = aten.max_pool2d(%a) {kernel_size=[3,3], stride=[2,2], padding=[1,1], dilation=[1,1], ceil_mode=false}\n"
    "  %m: f32[1,8,1,1] = aten.mean(%p) {dim=[-1,-2], keepdim=true}\n"
    "  %f: f32[1,8] = aten.view(%m) {size=[1,8]}\n"
    "  %y: f32[1,10] = aten.linear(%f, %fw, %fb)\n"
    "  output %y\n"
    "}\n";

void xt_fill_uniform(float* w, size_t n, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 1u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    w[i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.5f;
  }
}

uint8_t* xt_small_convnet_program(bool delegate, size_t* size_out) {
  float w1[8 * 3 * 3 * 3], w2[8 * 9], fw[80];
  xt_fill_uniform(w1, 216, 1);
  xt_fill_uniform(w2, 72, 2);
  xt_fill_uniform(fw, 80, 3);
  xnnd_const_bundle* b = NULL;
  assert_int_equal(xnnd_const_bundle_create(&b), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 1, w1, sizeof(w1)), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 2, w2, sizeof(w2)), XNND_OK);
  assert_int_equal(xnnd_const_bundle_put(b, 3, fw, sizeof(fw)), XNND_OK);
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(k_convnet, strlen(k_convnet), b, &g, &err) != XNND_OK) fail_msg("parse: %s", err.message);
  xnnd_const_bundle_destroy(b);
  if (xnnd_graph_verify(g) != XNND_OK) fail_msg("verify: %s", g->errmsg);
  xnnd_partition_options po = {.backend = &xnnd_xnnpack_toolchain_backend, .no_delegate = !delegate};
  xnnd_partition_plan plan;
  assert_int_equal(xnnd_partition_graph(g, &po, &plan), XNND_OK);
  if (delegate) assert_int_equal(plan.num_parts, 2);
  uint8_t* out = NULL;
  char msg[256];
  if (xnnd_program_write(g, &plan, &out, size_out, msg, sizeof(msg)) != XNND_OK) fail_msg("write: %s", msg);
  xnnd_partition_plan_free(&plan);
  xnnd_graph_destroy(g);
  return out;
}
#endif
