/* The delegation report: per op, how many nodes run inside the plan's backend and why the rest do
 * not; partitions; the share of multiply-accumulates delegated; pass counts. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "passes/qdq.h"

#define MAX_REASONS_PER_OP 4

void xnnd_print_report(FILE* out, const xnnd_graph* g, const xnnd_partition_plan* plan,
                       const xnnd_pipeline_report* passes) {
  if (passes && passes->num_passes) {
    fprintf(out, "passes:\n");
    for (uint32_t i = 0; i < passes->num_passes; i++)
      fprintf(out, "  %-24s %s%u change(s)\n", passes->passes[i].name, passes->passes[i].skipped ? "skipped, " : "",
              passes->passes[i].changed);
  }
  uint32_t delegated[XNND_OP_COUNT] = {0}, kept[XNND_OP_COUNT] = {0};
  const char* reasons[XNND_OP_COUNT][MAX_REASONS_PER_OP];
  uint32_t num_reasons[XNND_OP_COUNT] = {0};
  uint64_t macs_total = 0, macs_in = 0;
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    xnnd_op op = g->nodes[n].op;
    uint64_t m = xnnd_node_macs(g, n);
    macs_total += m;
    if (plan->node_part[n] >= 0) {
      delegated[op]++;
      macs_in += m;
      continue;
    }
    kept[op]++;
    const char* r = plan->reasons[n];
    bool seen = false;
    for (uint32_t i = 0; i < num_reasons[op]; i++) seen |= strcmp(reasons[op][i], r) == 0;
    if (!seen && num_reasons[op] < MAX_REASONS_PER_OP) reasons[op][num_reasons[op]++] = r;
  }
  fprintf(out, "delegation (%s):\n  %-32s %9s %9s  %s\n", plan->backend ? plan->backend->display_name : "none", "op", "delegated", "portable",
          "why not delegated");
  uint32_t total_in = 0, total = 0;
  for (uint32_t op = 0; op < XNND_OP_COUNT; op++) {
    if (!delegated[op] && !kept[op]) continue;
    total_in += delegated[op];
    total += delegated[op] + kept[op];
    fprintf(out, "  %-32s %9u %9u  %s\n", xnnd_op_get((xnnd_op)op)->name, delegated[op], kept[op],
            num_reasons[op] ? reasons[op][0] : "");
    for (uint32_t i = 1; i < num_reasons[op]; i++) fprintf(out, "  %-32s %9s %9s  %s\n", "", "", "", reasons[op][i]);
  }
  fprintf(out, "  nodes delegated: %u of %u\n", total_in, total);
  fprintf(out, "  partitions: %u", plan->num_parts);
  for (uint32_t p = 0; p < plan->num_parts; p++)
    fprintf(out, "%s%u nodes", p ? ", " : " (", plan->parts[p].num_nodes);
  fprintf(out, "%s\n", plan->num_parts ? ")" : "");
  if (macs_total)
    fprintf(out, "  multiply-accumulates in %s: %.2f%% (%.1f M of %.1f M)\n",
            plan->backend ? plan->backend->display_name : "none", 100.0 * (double)macs_in / (double)macs_total,
            (double)macs_in / 1e6, (double)macs_total / 1e6);
  /* ---- int8 (passes/qdq_*.c): the dtype each delegated node computes in ---- */
  uint32_t q8[XNND_OP_COUNT] = {0}, any_q8 = 0;
  for (uint32_t n = 0; n < g->num_nodes; n++)
    if (plan->node_part[n] >= 0 && xnnd_qdq_node_is_quantized(g, n)) q8[g->nodes[n].op]++, any_q8++;
  if (!any_q8) return;
  fprintf(out, "delegated dtype (int8: quantized i8 in and out):\n");
  for (uint32_t op = 0; op < XNND_OP_COUNT; op++) {
    if (!delegated[op]) continue;
    if (op == XNND_OP_QUANTIZE || op == XNND_OP_DEQUANTIZE)
      fprintf(out, "  %-32s convert %u (f32 <-> int8 at the partition edge)\n", xnnd_op_get((xnnd_op)op)->name,
              delegated[op]);
    else
      fprintf(out, "  %-32s int8 %u, f32 %u\n", xnnd_op_get((xnnd_op)op)->name, q8[op], delegated[op] - q8[op]);
  }
  /* ---- end int8 ---- */
}
