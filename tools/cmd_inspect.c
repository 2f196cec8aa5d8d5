/* `xnnd inspect MODEL.pte [--dot FILE]`: verify a program with the runtime loader, print its
 * methods, steps, delegates and sizes (planned arena against the sum of tensor sizes, and
 * whether the plan came from the program or was computed at load), and
 * optionally write a Graphviz graph with each delegate's XNNPACK nodes as a cluster. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fb.h"
#include "program_info.h"
#include "pte_format.h"
#include "xnnpack_generated.h"
#include "xnnd/runtime.h"

/* Union member names, index = union type - 1 (as in schema/xnnpack.fbs). */
static const fb_table_desc* const k_node_desc[] = {
    &xnnd_xnnpack_desc_Conv2d, &xnnd_xnnpack_desc_DepthwiseConv2d, &xnnd_xnnpack_desc_FullyConnected,
    &xnnd_xnnpack_desc_Add, &xnnd_xnnpack_desc_Subtract, &xnnd_xnnpack_desc_Multiply,
    &xnnd_xnnpack_desc_Divide, &xnnd_xnnpack_desc_MaxPool2d, &xnnd_xnnpack_desc_AvgPool2d,
    &xnnd_xnnpack_desc_GlobalAvgPool2d, &xnnd_xnnpack_desc_Clamp, &xnnd_xnnpack_desc_Hardswish,
    &xnnd_xnnpack_desc_Sigmoid, &xnnd_xnnpack_desc_Softmax, &xnnd_xnnpack_desc_StaticReshape,
    &xnnd_xnnpack_desc_StaticConstantPad, &xnnd_xnnpack_desc_Convert, &xnnd_xnnpack_desc_StaticResizeBilinear2d,
    &xnnd_xnnpack_desc_Deconv2d, &xnnd_xnnpack_desc_Abs, &xnnd_xnnpack_desc_Ceiling, &xnnd_xnnpack_desc_Floor,
    &xnnd_xnnpack_desc_Negate, &xnnd_xnnpack_desc_SquareRoot, &xnnd_xnnpack_desc_BankersRounding,
    &xnnd_xnnpack_desc_Elu, &xnnd_xnnpack_desc_LeakyRelu,
    &xnnd_xnnpack_desc_Maximum2, &xnnd_xnnpack_desc_Minimum2,
};
_Static_assert(sizeof(k_node_desc) / sizeof(k_node_desc[0]) == XNND_XNNPACK_Node_COUNT - 1,
               "every xnnpack.fbs Node union member needs its descriptor here");

static void print_operands(const xnnd_program* p, uint32_t m, uint32_t s, uint32_t n, int is_output) {
  printf("(");
  for (uint32_t i = 0; i < n; i++) {
    int32_t v = -1;
    xnnd_program_get_step_operand(p, m, s, i, is_output, &v);
    printf("%s%d", i ? ", " : "", v);
  }
  printf(")");
}

static uint8_t* read_file(const char* path, size_t* size_out) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  uint8_t* data = n > 0 ? aligned_alloc(64, ((size_t)n + 63) & ~(size_t)63) : NULL;
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size_out = (size_t)n;
  return data;
}

/* One delegate's XNNPACK nodes as a cluster; edges follow value ids inside the blob. Fields
 * named *_id are operands: output_id is written, the rest are read (constants are skipped). */
static void dot_blob(FILE* out, const uint8_t* blob, size_t size, uint32_t d, const xnnd_program* p, uint32_t step) {
  if (size < XNND_BLOB_HEADER_SIZE) return;
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  fb_table g = fb_root(blob + h.flatbuffer_offset);
  fb_vec values = fb_vector(g, XNND_XNNPACK_Graph_values);
  fb_vec nodes = fb_vector(g, XNND_XNNPACK_Graph_nodes);
  fprintf(out, "  subgraph cluster_d%u {\n    label=\"delegate %u (XNNPACK, %u nodes)\"; style=filled; color=lightblue;\n", d,
          d, nodes.len);
  for (uint32_t i = 0; i < nodes.len; i++) {
    fb_table entry = fb_vec_table(nodes, i);
    uint8_t type = fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0);
    fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
    if (type == 0 || type > sizeof(k_node_desc) / sizeof(k_node_desc[0]) || !node) continue;
    const fb_table_desc* desc = k_node_desc[type - 1];
    fprintf(out, "    d%un%u [label=\"%s\", shape=box];\n", d, i, desc->name);
    for (uint32_t f = 0; f < desc->num_fields; f++) {
      const char* name = desc->fields[f].name;
      size_t len = strlen(name);
      if (len < 3 || strcmp(name + len - 3, "_id") != 0 || strcmp(name, "output_id") == 0) continue;
      /* Schema defaults: bias_id is 4294967295 (absent), every other id is 0. */
      uint32_t v = fb_u32(node, f, strcmp(name, "bias_id") == 0 ? UINT32_MAX : 0);
      if (v >= values.len || fb_u64(fb_vec_table(values, v), XNND_XNNPACK_Value_constant_size, 0) > 0) continue;
      fprintf(out, "    d%uv%u [shape=point];\n    d%uv%u -> d%un%u;\n", d, v, d, v, d, i);
    }
    for (uint32_t f = 0; f < desc->num_fields; f++)
      if (strcmp(desc->fields[f].name, "output_id") == 0)
        fprintf(out, "    d%un%u -> d%uv%u;\n    d%uv%u [shape=point];\n", d, i, d, fb_u32(node, f, 0), d,
                fb_u32(node, f, 0));
  }
  fprintf(out, "  }\n");
  /* Program values enter and leave through the blob's external values. */
  for (uint32_t v = 0; v < values.len; v++) {
    fb_table val = fb_vec_table(values, v);
    uint32_t flags = fb_u32(val, XNND_XNNPACK_Value_flags, 0);
    uint32_t ext = fb_u32(val, XNND_XNNPACK_Value_external_index, UINT32_MAX);
    int32_t pv = -1;
    if (flags & XNND_XVALUE_EXTERNAL_INPUT) {
      xnnd_program_get_step_operand(p, 0, step, ext, 0, &pv);
      if (pv >= 0) fprintf(out, "  v%d -> d%uv%u;\n", pv, d, v);
    }
    if (flags & XNND_XVALUE_EXTERNAL_OUTPUT) {
      xnnd_program_get_step_operand(p, 0, step, ext, 1, &pv);
      if (pv >= 0) fprintf(out, "  d%uv%u -> v%d;\n  v%d [shape=point];\n", d, v, pv, pv);
    }
  }
}

static int write_dot(const char* model, const xnnd_program* p, const char* path) {
  size_t size;
  uint8_t* data = read_file(model, &size);
  FILE* out = fopen(path, "w");
  if (!data || !out) {
    free(data);
    if (out) fclose(out);
    fprintf(stderr, "xnnd inspect: cannot write %s\n", path);
    return XNND_EXIT_FAIL;
  }
  xnnd_pte_header h;
  xnnd_pte_header_read(data, &h);
  fprintf(out, "digraph xnnd {\n  rankdir=TB; node [fontname=\"Helvetica\"];\n");
  xnnd_program_info pi;
  xnnd_program_get_info(p, &pi);
  xnnd_method_info mi;
  xnnd_program_get_method_info(p, 0, &mi);
  for (uint32_t i = 0; i < mi.num_inputs; i++) {
    uint32_t v;
    xnnd_program_get_method_io(p, 0, i, 0, &v);
    fprintf(out, "  v%u [label=\"input %u\", shape=ellipse];\n", v, i);
  }
  for (uint32_t s = 0; s < mi.num_steps; s++) {
    xnnd_step_info si;
    xnnd_program_get_step_info(p, 0, s, &si);
    if (si.kind == XNND_STEP_INFO_DELEGATE && pi.executorch) {  /* the blob is not in the file */
      fprintf(out, "  s%u [label=\"delegate %u (%s)\", shape=box];\n", s, si.delegate_index, si.backend_name);
      for (uint32_t i = 0; i < si.num_inputs + si.num_outputs; i++) {
        int32_t v;
        xnnd_program_get_step_operand(p, 0, s, i < si.num_inputs ? i : i - si.num_inputs, i >= si.num_inputs, &v);
        if (i < si.num_inputs) fprintf(out, "  v%d -> s%u;\n", v, s);
        else fprintf(out, "  s%u -> v%d;\n  v%d [shape=point];\n", s, v, v);
      }
      continue;
    }
    if (si.kind == XNND_STEP_INFO_DELEGATE) {
      xnnd_delegate_info di;
      xnnd_program_get_delegate_info(p, si.delegate_index, &di);
      dot_blob(out, data + h.delegate_offset + di.blob_offset, di.blob_size, si.delegate_index, p, s);
      continue;
    }
    fprintf(out, "  s%u [label=\"%s\", shape=box, style=filled, fillcolor=lightyellow];\n", s, si.op_name);
    for (uint32_t i = 0; i < si.num_inputs; i++) {
      int32_t v;
      xnnd_program_get_step_operand(p, 0, s, i, 0, &v);
      if (v < 0) continue;
      int32_t c = -1;
      xnnd_tensor t;
      xnnd_program_get_value_info(p, 0, (uint32_t)v, &t, &c);
      if (c >= 0) fprintf(out, "  v%d [label=\"const\", shape=note, fontsize=9];\n", v);
      fprintf(out, "  v%d -> s%u;\n", v, s);
    }
    for (uint32_t i = 0; i < si.num_outputs; i++) {
      int32_t v;
      xnnd_program_get_step_operand(p, 0, s, i, 1, &v);
      fprintf(out, "  s%u -> v%d;\n  v%d [shape=point];\n", s, v, v);
    }
  }
  fprintf(out, "}\n");
  int rc = fclose(out) == 0 ? 0 : XNND_EXIT_FAIL;
  free(data);
  return rc;
}

int xnnd_cmd_inspect(int argc, char** argv) {
  const char* model = NULL;
  const char* dot = NULL;
  bool kernels = false;
  unsigned threads = 1;
  xnnd_backend_option opts[16];
  uint32_t num_opts = 0;
  for (int i = 0; i < argc; i++) {
    bool next = i + 1 < argc;
    if (strcmp(argv[i], "--dot") == 0 && next) dot = argv[++i];
    else if (strcmp(argv[i], "--kernels") == 0) kernels = true;
    else if (strcmp(argv[i], "--threads") == 0 && next) threads = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--backend-option") == 0 && next && num_opts < 16) {
      if (!xnnd_cli_backend_option("inspect", argv[++i], &opts[num_opts++])) return XNND_EXIT_USAGE;
    } else if (argv[i][0] != '-' && !model) model = argv[i];
    else model = NULL, i = argc;
  }
  if (!model) {
    fprintf(stderr, "usage: xnnd inspect MODEL.pte [--dot FILE.dot] [--kernels [--threads N] "
                    "[--backend-option BACKEND:KEY=VALUE ...]]\n");
    return XNND_EXIT_USAGE;
  }
  xnnd_error err = {0};
  xnnd_program* p = NULL;
  xnnd_status st = xnnd_program_load_file(model, NULL, &p, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd inspect: %s: %s: %s\n", model, xnnd_status_str(st), err.message);
    return XNND_EXIT_USAGE;
  }
  xnnd_program_info pi;
  xnnd_program_get_info(p, &pi);
  printf("%s: format %s (version %u)\n", model,
         pi.executorch ? "ExecuTorch ET12 (read by xnnd; memory planned at load)" : "xnnd", pi.version);
  printf("%s: %llu bytes: program %llu, constants %llu (%u buffers), delegates %llu (%u blobs)\n", model,
         (unsigned long long)pi.file_size, (unsigned long long)pi.program_size,
         (unsigned long long)pi.constant_segment_size, pi.num_constants, (unsigned long long)pi.delegate_segment_size,
         pi.num_delegates);
  for (uint32_t d = 0; d < pi.num_delegates; d++) {
    xnnd_delegate_info di;
    xnnd_program_get_delegate_info(p, d, &di);
    printf("  delegate %u: backend %s, blob %llu bytes at +%llu, %u compile spec(s)\n", d, di.backend_name,
           (unsigned long long)di.blob_size, (unsigned long long)di.blob_offset, di.num_compile_specs);
  }
  for (uint32_t m = 0; m < pi.num_methods; m++) {
    xnnd_method_info mi;
    xnnd_program_get_method_info(p, m, &mi);
    printf("method \"%s\": %u values (%u constant, %.2f MB), %u inputs, %u outputs, %u steps (%u kernel, %u delegate)\n",
           mi.name, mi.num_values, mi.num_constant_values, (double)mi.constant_bytes / 1e6, mi.num_inputs,
           mi.num_outputs, mi.num_steps, mi.num_kernel_steps, mi.num_delegate_steps);
    printf("  planned memory: arena %.3f MB for %.3f MB of tensors (%.1f%%), %s\n", (double)mi.arena_bytes / 1e6,
           (double)mi.tensor_bytes / 1e6, mi.tensor_bytes ? 100.0 * (double)mi.arena_bytes / (double)mi.tensor_bytes : 0.0,
           mi.planned_at_lowering ? "planned at lowering"
           : pi.executorch        ? "planned at load (ExecuTorch's allocation_info is not used)"
                                  : "computed at load (the program carries no plan)");
    if (mi.num_symbols > 0) {  /* dynamic shapes */
      printf("  symbols:");
      for (uint32_t k = 0; k < mi.num_symbols; k++) {
        const char* name;
        int64_t lo, hi;
        xnnd_program_get_symbol(p, m, k, &name, &lo, &hi);
        printf("%s %s in %lld..%lld", k ? "," : "", name, (long long)lo, (long long)hi);
      }
      printf("\n");
      for (uint32_t k = 0; k < mi.num_inputs + mi.num_outputs; k++) {
        uint32_t v;
        char type[512];
        int is_output = k >= mi.num_inputs;
        xnnd_program_get_method_io(p, m, is_output ? k - mi.num_inputs : k, is_output, &v);
        xnnd_program_format_value_type(p, m, v, type, sizeof(type));
        printf("  %s %u: %s\n", is_output ? "output" : "input", is_output ? k - mi.num_inputs : k, type);
      }
      printf("  arena %llu bytes, planned for the upper bounds (every symbol at its max)\n",
             (unsigned long long)mi.arena_bytes);
    }
    for (uint32_t s = 0; s < mi.num_steps; s++) {
      xnnd_step_info si;
      xnnd_program_get_step_info(p, m, s, &si);
      if (si.kind == XNND_STEP_INFO_DELEGATE)
        printf("  %4u: delegate %u (%s) ", s, si.delegate_index, si.backend_name);
      else
        printf("  %4u: %s ", s, si.op_name);
      print_operands(p, m, s, si.num_inputs, 0);
      printf(" -> ");
      print_operands(p, m, s, si.num_outputs, 1);
      printf("\n");
    }
  }
  int rc = dot ? write_dot(model, p, dot) : 0;
  /* --kernels: create each method (delegates decide their kernels at init) and say what they
   * chose. */
  for (uint32_t m = 0; kernels && rc == 0 && m < pi.num_methods; m++) {
    xnnd_method_options mo = {.num_threads = threads, .backend_options = num_opts ? opts : NULL,
                              .num_backend_options = num_opts};
    xnnd_method* method = NULL;
    st = xnnd_method_create(p, xnnd_program_method_name(p, m), &mo, &method, &err);
    if (st != XNND_OK) {
      fprintf(stderr, "xnnd inspect: %s: method %u: %s: %s\n", model, m, xnnd_status_str(st), err.message);
      rc = XNND_EXIT_FAIL;
      break;
    }
    printf("method \"%s\" on this CPU, %u thread%s:\n", xnnd_program_method_name(p, m), threads,
           threads == 1 ? "" : "s");
    xnnd_cli_print_delegate_choices(stdout, method);
    xnnd_method_destroy(method);
  }
  if (dot && rc == 0) printf("wrote %s (render: dot -Tpng %s -o graph.png)\n", dot, dot);
  xnnd_program_destroy(p);
  return rc;
}
