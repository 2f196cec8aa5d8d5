/* The delegation report as JSON (`xnnd compile|lower --report-json FILE`), read by the Python
 * API (python/xnnd/api.py): every node after the passes with its op, the name of its first
 * output, its partition (-1: portable kernels), why it is not delegated, its
 * multiply-accumulates, whether it computes in int8, and whether it sits between a dequantize
 * (some input) and a quantize (some consumer of its output): a float node in that position is
 * a quantized pattern the passes did not lower to int8. Then the partitions and totals.
 * Same facts as xnnd_print_report, as data. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "passes/qdq.h"

static void json_string(FILE* out, const char* s) {
  fputc('"', out);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
    else if (c < 0x20) fprintf(out, "\\u%04x", c);
    else fputc(c, out);
  }
  fputc('"', out);
}

static bool reads_dequantize(const xnnd_graph* g, const xnnd_ir_node* node) {
  for (uint32_t i = 0; i < node->num_inputs; i++) {
    xnnd_id v = node->inputs[i];
    if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
    if (g->nodes[g->values[v].producer].op == XNND_OP_DEQUANTIZE) return true;
  }
  return false;
}

xnnd_status xnnd_write_report_json(FILE* out, const xnnd_graph* g, const xnnd_partition_plan* plan) {
  /* per value: read by a quantize node */
  bool* quantized_by = calloc(g->num_values ? g->num_values : 1, sizeof(bool));
  if (!quantized_by) return XNND_OUT_OF_MEMORY;
  for (uint32_t n = 0; n < g->num_nodes; n++)
    if (!g->nodes[n].dead && g->nodes[n].op == XNND_OP_QUANTIZE && g->nodes[n].num_inputs)
      quantized_by[g->nodes[n].inputs[0]] = true;
  uint64_t macs_total = 0, macs_in = 0;
  uint32_t delegated = 0, live = 0;
  fprintf(out, "{\n  \"graph\": ");
  json_string(out, g->name);
  fprintf(out, ",\n  \"nodes\": [");
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    uint64_t m = xnnd_node_macs(g, n);
    bool in = plan->node_part[n] >= 0;
    macs_total += m;
    macs_in += in ? m : 0;
    delegated += in;
    fprintf(out, "%s\n    {\"op\": ", live++ ? "," : "");
    json_string(out, xnnd_op_get(node->op)->name);
    fprintf(out, ", \"output\": ");
    json_string(out, node->num_outputs ? g->values[node->outputs[0]].name : "");
    fprintf(out, ", \"partition\": %d, \"reason\": ", plan->node_part[n]);
    json_string(out, in ? "" : plan->reasons[n]);
    bool q_out = false;
    for (uint32_t o = 0; o < node->num_outputs; o++) q_out |= quantized_by[node->outputs[o]];
    fprintf(out, ", \"macs\": %llu, \"int8\": %s, \"dq_input\": %s, \"q_output\": %s}", (unsigned long long)m,
            in && xnnd_qdq_node_is_quantized(g, n) ? "true" : "false", reads_dequantize(g, node) ? "true" : "false",
            q_out ? "true" : "false");
  }
  fprintf(out, "\n  ],\n  \"partitions\": [");
  for (uint32_t p = 0; p < plan->num_parts; p++)
    fprintf(out, "%s{\"nodes\": %u, \"inputs\": %u, \"outputs\": %u}", p ? ", " : "", plan->parts[p].num_nodes,
            plan->parts[p].num_inputs, plan->parts[p].num_outputs);
  fprintf(out, "],\n  \"nodes_delegated\": %u,\n  \"nodes_total\": %u,\n", delegated, live);
  fprintf(out, "  \"macs_delegated\": %llu,\n  \"macs_total\": %llu\n}\n", (unsigned long long)macs_in,
          (unsigned long long)macs_total);
  free(quantized_by);
  return XNND_OK;
}
