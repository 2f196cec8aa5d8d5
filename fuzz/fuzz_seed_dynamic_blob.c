/* Seed helper for fuzz_xnnpack_blob (not a fuzzer): lowers a small graph with a dynamic batch
 * (symbol s0 in 1..4: conv + relu with an NCHW boundary, a global mean with its pooled
 * temporary, a view to a symbolic size) and writes its blob, with the fuzzer's flags byte (0)
 * in front, to OUT. A dynamic blob carries dim_exprs, new_shape_exprs and num_symbols, which
 * the fuzzer then initialises, reshapes and runs. usage: fuzz_seed_dynamic_blob OUT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir.h"
#include "serializer/xnnpack/xnnpack_lower.h"

static const char k_graph[] =
    "graph dyn {\n  input %x: f32[4,2,5,5]\n"
    "  const %w: f32[3,2,3,3] = [1,-2,3,-4,5,-6,7,-8,9,1,-2,3,-4,5,-6,7,-8,9,1,-2,3,-4,5,-6,7,-8,9,"
    "1,-2,3,-4,5,-6,7,-8,9,1,-2,3,-4,5,-6,7,-8,9,1,-2,3,-4,5,-6,7,-8,9]\n"
    "  %c: f32[4,3,5,5] = aten.convolution(%x, %w, _) {stride=[1,1], padding=[1,1], dilation=[1,1], "
    "transposed=false, output_padding=[0,0], groups=1}\n"
    "  %r: f32[4,3,5,5] = aten.relu(%c)\n"
    "  %m: f32[4,3] = aten.mean(%r) {dim=[2,3], keepdim=false}\n"
    "  %v: f32[4,3,1] = aten.view(%m) {size=[4,3,1]}\n"
    "  output %r, %v\n}\n";

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fuzz_seed_dynamic_blob OUT\n");
    return 2;
  }
  xnnd_graph* g = NULL;
  xnnd_error err;
  if (xnnd_graph_parse(k_graph, strlen(k_graph), NULL, &g, &err) != XNND_OK) {
    fprintf(stderr, "fuzz_seed_dynamic_blob: %s\n", err.message);
    return 1;
  }
  /* Dim 0 of every activation is s0 (what symbolic shape inference gives for a batch). */
  g->syms[0] = (xnnd_symbol){"s0", 1, 4};
  g->num_syms = 1;
  for (uint32_t i = 0; i < g->num_values; i++) {
    xnnd_ir_value* v = &g->values[i];
    if (v->data != NULL || v->rank == 0) continue;
    xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * v->rank);
    if (x == NULL) return 1;
    for (uint32_t d = 0; d < v->rank; d++) x[d] = xnnd_dimx_const(v->dims[d]);
    x[0] = xnnd_dimx_sym(0, 1);
    v->dimx = x;
  }
  int size_attr = xnnd_op_attr_index(XNND_OP_VIEW, "size");
  for (uint32_t i = 0; i < g->num_nodes; i++) {
    if (g->nodes[i].op != XNND_OP_VIEW || size_attr < 0) continue;
    xnnd_dimx* x = xnnd_graph_alloc(g, sizeof(xnnd_dimx) * 3);
    if (x == NULL) return 1;
    x[0] = xnnd_dimx_sym(0, 1);
    x[1] = xnnd_dimx_const(3);
    x[2] = xnnd_dimx_const(1);
    g->nodes[i].attr_dimx[size_attr] = x;
  }
  xnnd_id nodes[64];
  uint32_t n = 0;
  for (uint32_t i = 0; i < g->num_nodes && n < 64; i++) nodes[n++] = i;
  uint8_t* blob = NULL;
  size_t size = 0;
  char msg[256];
  int rc = 0;
  if (xnnd_xnnpack_build_blob(g, nodes, n, g->inputs, g->num_inputs, g->outputs, g->num_outputs, &blob, &size, msg,
                              sizeof(msg)) != XNND_OK) {
    fprintf(stderr, "fuzz_seed_dynamic_blob: %s\n", msg);
    rc = 1;
  } else {
    FILE* f = fopen(argv[1], "wb");
    const uint8_t flags = 0;
    if (!f || fwrite(&flags, 1, 1, f) != 1 || fwrite(blob, 1, size, f) != size) rc = 1;
    if (f && fclose(f) != 0) rc = 1;
  }
  free(blob);
  xnnd_graph_destroy(g);
  return rc;
}
