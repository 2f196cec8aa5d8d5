/* Greedy convex partitioning in topological order.
 *
 * deps[n] is the set of partitions node n transitively reads from. A supported node may
 * join partition P only if no producer outside P depends on P: otherwise a path would
 * leave P and re-enter it, and P could not run as one call. Among admissible producer
 * partitions the most recent is taken; else the node opens a new partition. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partitioner/partitioner.h"

/* A small sorted set of partition ids. */
typedef struct idset {
  uint32_t* ids;
  uint32_t n, cap;
} idset;

static bool idset_has(const idset* s, uint32_t id) {
  uint32_t lo = 0, hi = s->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (s->ids[mid] == id) return true;
    if (s->ids[mid] < id) lo = mid + 1; else hi = mid;
  }
  return false;
}

static bool idset_add(idset* s, uint32_t id) {
  if (idset_has(s, id)) return true;
  if (s->n == s->cap) {
    uint32_t cap = s->cap ? s->cap * 2 : 4;
    uint32_t* ids = realloc(s->ids, cap * sizeof(uint32_t));
    if (!ids) return false;
    s->ids = ids;
    s->cap = cap;
  }
  uint32_t i = s->n;
  while (i > 0 && s->ids[i - 1] > id) {
    s->ids[i] = s->ids[i - 1];
    i--;
  }
  s->ids[i] = id;
  s->n++;
  return true;
}

static bool idset_union(idset* dst, const idset* src) {
  for (uint32_t i = 0; i < src->n; i++)
    if (!idset_add(dst, src->ids[i])) return false;
  return true;
}

static bool op_excluded(const xnnd_graph* g, xnnd_id n, const xnnd_partition_options* o) {
  const char* name = xnnd_op_get(g->nodes[n].op)->name;
  for (uint32_t i = 0; o && i < o->num_exclude_ops; i++)
    if (strcmp(o->exclude_ops[i], name) == 0) return true;
  return false;
}

static xnnd_status collect_boundaries(const xnnd_graph* g, xnnd_partition_plan* plan,
                                      const int32_t* value_part_of_producer) {
  uint32_t* uses_outside = calloc(g->num_values, sizeof(uint32_t));
  if (!uses_outside) return XNND_OUT_OF_MEMORY;
  for (uint32_t p = 0; p < plan->num_parts; p++) {
    xnnd_partition* part = &plan->parts[p];
    /* Inputs: read inside, produced outside, not constant. Outputs: produced inside and
     * read by a node of another partition / no partition, or a graph output. */
    part->inputs = malloc(sizeof(xnnd_id) * (g->num_values ? g->num_values : 1));
    part->outputs = malloc(sizeof(xnnd_id) * (g->num_values ? g->num_values : 1));
    if (!part->inputs || !part->outputs) {
      free(uses_outside);
      return XNND_OUT_OF_MEMORY;
    }
    memset(uses_outside, 0, g->num_values * sizeof(uint32_t));
    for (uint32_t n = 0; n < g->num_nodes; n++) {
      if (plan->node_part[n] == (int32_t)p) continue;
      const xnnd_ir_node* node = &g->nodes[n];
      for (uint32_t k = 0; k < node->num_inputs; k++)
        if (node->inputs[k] != XNND_NO_ID) uses_outside[node->inputs[k]] = 1;
    }
    for (uint32_t i = 0; i < g->num_outputs; i++) uses_outside[g->outputs[i]] = 1;
    for (xnnd_id v = 0; v < g->num_values; v++) {
      bool produced_inside = value_part_of_producer[v] == (int32_t)p;
      if (produced_inside && uses_outside[v]) part->outputs[part->num_outputs++] = v;
    }
    /* Reuse the flags array: mark values read inside this partition. */
    memset(uses_outside, 0, g->num_values * sizeof(uint32_t));
    for (uint32_t i = 0; i < part->num_nodes; i++) {
      const xnnd_ir_node* node = &g->nodes[part->nodes[i]];
      for (uint32_t k = 0; k < node->num_inputs; k++)
        if (node->inputs[k] != XNND_NO_ID) uses_outside[node->inputs[k]] = 1;
    }
    for (xnnd_id v = 0; v < g->num_values; v++)
      if (uses_outside[v] && value_part_of_producer[v] != (int32_t)p && !g->values[v].data)
        part->inputs[part->num_inputs++] = v;
  }
  free(uses_outside);
  return XNND_OK;
}

/* Partitions below the minimum size go back to the portable kernels; the rest are
 * renumbered densely. Convexity holds: every admissibility check already treated these
 * nodes as outside the other partitions. */
static void dissolve_small(const xnnd_graph* g, xnnd_partition_plan* plan, int32_t* value_part, uint32_t min_size) {
  uint32_t kept = 0;
  for (uint32_t p = 0; p < plan->num_parts; p++) {
    xnnd_partition part = plan->parts[p];
    bool small = part.num_nodes < min_size;
    for (uint32_t i = 0; i < part.num_nodes; i++) {
      xnnd_id n = part.nodes[i];
      plan->node_part[n] = small ? -1 : (int32_t)kept;
      if (small)
        snprintf(plan->reasons[n], XNND_REASON_SIZE, "partition of %u node(s) is below --min-partition-size %u",
                 part.num_nodes, min_size);
      for (uint32_t k = 0; k < g->nodes[n].num_outputs; k++) value_part[g->nodes[n].outputs[k]] = plan->node_part[n];
    }
    if (small) {
      free(part.nodes);
    } else {
      plan->parts[kept++] = part;
    }
  }
  for (uint32_t p = kept; p < plan->num_parts; p++) memset(&plan->parts[p], 0, sizeof(plan->parts[p]));
  plan->num_parts = kept;
}

/* n may join partition P unless a producer outside P depends on P (path out and back). */
static bool admissible(const xnnd_graph* g, const xnnd_partition_plan* plan, const idset* deps,
                       const xnnd_ir_node* node, int32_t cand) {
  for (uint32_t j = 0; j < node->num_inputs; j++) {
    xnnd_id u = node->inputs[j];
    if (u == XNND_NO_ID || g->values[u].producer == XNND_NO_ID) continue;
    xnnd_id p = g->values[u].producer;
    if (plan->node_part[p] != cand && idset_has(&deps[p], (uint32_t)cand)) return false;
  }
  return true;
}

xnnd_status xnnd_partition_graph(const xnnd_graph* g, const xnnd_partition_options* options,
                           xnnd_partition_plan* plan) {
  memset(plan, 0, sizeof(*plan));
  uint32_t nn = g->num_nodes;
  plan->num_nodes = nn;
  plan->backend = options ? options->backend : NULL;
  plan->node_part = malloc(sizeof(int32_t) * (nn ? nn : 1));
  plan->reasons = calloc(nn ? nn : 1, XNND_REASON_SIZE);
  plan->parts = calloc(nn ? nn : 1, sizeof(xnnd_partition));
  idset* deps = calloc(nn ? nn : 1, sizeof(idset));
  int32_t* value_part = malloc(sizeof(int32_t) * (g->num_values ? g->num_values : 1));
  uint32_t* part_cap = calloc(nn ? nn : 1, sizeof(uint32_t));
  xnnd_status st = XNND_OK;
  if (!plan->node_part || !plan->reasons || !plan->parts || !deps || !value_part || !part_cap) {
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (uint32_t v = 0; v < g->num_values; v++) value_part[v] = -1;

  for (uint32_t n = 0; n < nn; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    plan->node_part[n] = -1;
    /* deps[n] = union over producers p of ({part(p)} if any) + deps[p] */
    for (uint32_t k = 0; k < node->num_inputs; k++) {
      xnnd_id v = node->inputs[k];
      if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
      xnnd_id p = g->values[v].producer;
      if (!idset_union(&deps[n], &deps[p]) ||
          (plan->node_part[p] >= 0 && !idset_add(&deps[n], (uint32_t)plan->node_part[p]))) {
        st = XNND_OUT_OF_MEMORY;
        goto done;
      }
    }
    bool supported;
    if (options && options->no_delegate) {
      snprintf(plan->reasons[n], XNND_REASON_SIZE, "delegation disabled (--no-delegate)");
      supported = false;
    } else if (op_excluded(g, n, options)) {
      snprintf(plan->reasons[n], XNND_REASON_SIZE, "excluded by --exclude-ops");
      supported = false;
    } else if (!plan->backend) {
      snprintf(plan->reasons[n], XNND_REASON_SIZE, "no delegate backend");
      supported = false;
    } else {
      supported = plan->backend->supports(g, n, plan->reasons[n], XNND_REASON_SIZE);
    }
    if (!supported) continue;
    plan->reasons[n][0] = '\0';

    /* Candidates: partitions of producers, and the most recent partition (joining one
     * the node does not read from is convex-safe under the same check). */
    int32_t chosen = -1;
    for (uint32_t k = 0; k <= node->num_inputs && !(options && options->per_op); k++) {
      int32_t cand;
      if (k == node->num_inputs) {
        cand = (int32_t)plan->num_parts - 1;
      } else {
        xnnd_id v = node->inputs[k];
        if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
        cand = plan->node_part[g->values[v].producer];
      }
      if (cand < 0 || cand <= chosen) continue;
      if (admissible(g, plan, deps, node, cand)) chosen = cand;
    }
    if (chosen < 0) chosen = (int32_t)plan->num_parts++;
    xnnd_partition* part = &plan->parts[chosen];
    if (part->num_nodes == part_cap[chosen]) {
      uint32_t cap = part_cap[chosen] ? part_cap[chosen] * 2 : 16;
      xnnd_id* nodes = realloc(part->nodes, cap * sizeof(xnnd_id));
      if (!nodes) {
        st = XNND_OUT_OF_MEMORY;
        goto done;
      }
      part->nodes = nodes;
      part_cap[chosen] = cap;
    }
    part->nodes[part->num_nodes++] = n;
    plan->node_part[n] = chosen;
    for (uint32_t k = 0; k < node->num_outputs; k++) value_part[node->outputs[k]] = chosen;
  }
  if (options && options->min_partition_size > 1) dissolve_small(g, plan, value_part, options->min_partition_size);
  st = collect_boundaries(g, plan, value_part);
done:
  for (uint32_t n = 0; deps && n < nn; n++) free(deps[n].ids);
  free(deps);
  free(value_part);
  free(part_cap);
  if (st != XNND_OK) xnnd_partition_plan_free(plan);
  return st;
}

void xnnd_partition_plan_free(xnnd_partition_plan* plan) {
  for (uint32_t p = 0; plan->parts && p < plan->num_parts; p++) {
    free(plan->parts[p].nodes);
    free(plan->parts[p].inputs);
    free(plan->parts[p].outputs);
  }
  free(plan->parts);
  free(plan->node_part);
  free(plan->reasons);
  memset(plan, 0, sizeof(*plan));
}
