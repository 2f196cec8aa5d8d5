/* Greedy convex partitioning in topological order.
 *
 * deps[n] is the set of partitions node n transitively reads from. A supported node may
 * join partition P only if no producer outside P depends on P: otherwise a path would
 * leave P and re-enter it, and P could not run as one call. Among admissible producer
 * partitions the most recent is taken; else the node opens a new partition.
 *
 * Cost: deps only ever need to answer for a candidate, and a partition can be a candidate
 * only while it is the latest or holds a value some unvisited node reads ("live"); once
 * neither, it never is again. So unions drop partitions that are no longer live, and a
 * node's set is freed once every reader of its outputs is visited. Sets then hold at most
 * the partitions live at once (the graph's width in partitions, not their total), unions are
 * linear merges, and the boundaries are collected in one sweep: the whole is
 * O(nodes + values + edges x live partitions). plan->work counts the elementary steps. */
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

/* dst = dst U {ids of src that keep(id)}: a linear merge of two sorted sets. */
static bool idset_union_live(idset* dst, const idset* src, const bool* dead, uint64_t* work) {
  uint32_t cap = dst->n + src->n;
  if (cap == dst->n) return true;
  uint32_t* out = malloc(cap * sizeof(uint32_t));
  if (!out) return false;
  uint32_t i = 0, j = 0, k = 0;
  while (i < dst->n || j < src->n) {
    uint32_t id;
    if (j == src->n || (i < dst->n && dst->ids[i] < src->ids[j])) {
      id = dst->ids[i++];
    } else if (i == dst->n || src->ids[j] < dst->ids[i]) {
      id = src->ids[j++];
    } else {
      id = dst->ids[i++];
      j++;
    }
    if (!dead[id]) out[k++] = id;
  }
  *work += i + j;
  free(dst->ids);
  dst->ids = out;
  dst->n = k;
  dst->cap = cap;
  return true;
}

static bool op_excluded(const xnnd_graph* g, xnnd_id n, const xnnd_partition_options* o) {
  const char* name = xnnd_op_get(g->nodes[n].op)->name;
  for (uint32_t i = 0; o && i < o->num_exclude_ops; i++)
    if (strcmp(o->exclude_ops[i], name) == 0) return true;
  return false;
}

/* Inputs of a partition: values read inside, produced outside it, not constant. Outputs:
 * values produced inside and read by a node of another partition / no partition, or a graph
 * output. Both in ascending value id. One sweep over nodes and values for all partitions. */
static xnnd_status collect_boundaries(const xnnd_graph* g, xnnd_partition_plan* plan,
                                      const int32_t* value_part_of_producer) {
  uint32_t nv = g->num_values, np = plan->num_parts;
  uint8_t* used_outside = calloc(nv ? nv : 1, 1);
  uint32_t* stamp = calloc(nv ? nv : 1, sizeof(uint32_t));   /* last partition + 1 that read v */
  uint32_t* first = calloc((size_t)nv + 1, sizeof(uint32_t)); /* readers of v: [first[v], first[v+1]) */
  uint32_t* reader_parts = NULL;
  xnnd_status st = XNND_OUT_OF_MEMORY;
  if (!used_outside || !stamp || !first) goto done;
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    for (uint32_t k = 0; k < node->num_inputs; k++) {
      xnnd_id v = node->inputs[k];
      if (v == XNND_NO_ID) continue;
      if (value_part_of_producer[v] >= 0 && value_part_of_producer[v] != plan->node_part[n]) used_outside[v] = 1;
    }
    plan->work += 1 + node->num_inputs;
  }
  for (uint32_t i = 0; i < g->num_outputs; i++) used_outside[g->outputs[i]] = 1;
  /* (value, reading partition) pairs, each once, bucketed by value. */
  uint32_t pairs = 0;
  for (uint32_t pass = 0; pass < 2; pass++) {
    memset(stamp, 0, nv * sizeof(uint32_t));
    for (uint32_t p = 0; p < np; p++) {
      const xnnd_partition* part = &plan->parts[p];
      for (uint32_t i = 0; i < part->num_nodes; i++) {
        const xnnd_ir_node* node = &g->nodes[part->nodes[i]];
        for (uint32_t k = 0; k < node->num_inputs; k++) {
          xnnd_id v = node->inputs[k];
          if (v == XNND_NO_ID || value_part_of_producer[v] == (int32_t)p || g->values[v].data || stamp[v] == p + 1)
            continue;
          stamp[v] = p + 1;
          if (pass == 0) first[v + 1]++, pairs++;
          else reader_parts[first[v]++] = p;
        }
        plan->work += 1 + node->num_inputs;
      }
    }
    if (pass == 0) {
      for (uint32_t v = 0; v < nv; v++) first[v + 1] += first[v];
      reader_parts = malloc(sizeof(uint32_t) * (pairs ? pairs : 1));
      if (!reader_parts) goto done;
    } else {
      /* first[v] advanced to the end of v's bucket, the start of v+1's: shift back */
      for (uint32_t v = nv; v > 0; v--) first[v] = first[v - 1];
      first[0] = 0;
    }
  }
  uint32_t* num_out = calloc(np ? np : 1, sizeof(uint32_t));
  uint32_t* num_in = calloc(np ? np : 1, sizeof(uint32_t));
  if (!num_out || !num_in) {
    free(num_out), free(num_in);
    goto done;
  }
  for (uint32_t v = 0; v < nv; v++) {
    if (value_part_of_producer[v] >= 0 && used_outside[v]) num_out[value_part_of_producer[v]]++;
    for (uint32_t r = first[v]; r < first[v + 1]; r++) num_in[reader_parts[r]]++;
  }
  bool ok = true;
  for (uint32_t p = 0; p < np && ok; p++) {
    plan->parts[p].outputs = malloc(sizeof(xnnd_id) * (num_out[p] ? num_out[p] : 1));
    plan->parts[p].inputs = malloc(sizeof(xnnd_id) * (num_in[p] ? num_in[p] : 1));
    ok = plan->parts[p].outputs && plan->parts[p].inputs;
  }
  free(num_out), free(num_in);
  if (!ok) goto done;
  for (uint32_t v = 0; v < nv; v++) {
    int32_t p = value_part_of_producer[v];
    if (p >= 0 && used_outside[v]) plan->parts[p].outputs[plan->parts[p].num_outputs++] = v;
    for (uint32_t r = first[v]; r < first[v + 1]; r++) {
      xnnd_partition* part = &plan->parts[reader_parts[r]];
      part->inputs[part->num_inputs++] = v;
    }
    plan->work += 1 + first[v + 1] - first[v];
  }
  st = XNND_OK;
done:
  free(used_outside);
  free(stamp);
  free(first);
  free(reader_parts);
  return st;
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

/* Put supported node n in the most recent admissible partition among its producers' and the
 * latest one (joining one it does not read from is convex-safe under the same check), or a new
 * one. */
static xnnd_status place(const xnnd_graph* g, xnnd_partition_plan* plan, const idset* deps, uint32_t* part_cap,
                         bool per_op, xnnd_id n, int32_t* chosen_out) {
  const xnnd_ir_node* node = &g->nodes[n];
  int32_t chosen = -1;
  for (uint32_t k = 0; k <= node->num_inputs && !per_op; k++) {
    int32_t cand;
    if (k == node->num_inputs) {
      cand = (int32_t)plan->num_parts - 1;
    } else {
      xnnd_id v = node->inputs[k];
      if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
      cand = plan->node_part[g->values[v].producer];
    }
    if (cand < 0 || cand <= chosen) continue;
    plan->work += 1 + node->num_inputs;
    if (admissible(g, plan, deps, node, cand)) chosen = cand;
  }
  if (chosen < 0) chosen = (int32_t)plan->num_parts++;
  xnnd_partition* part = &plan->parts[chosen];
  if (part->num_nodes == part_cap[chosen]) {
    uint32_t cap = part_cap[chosen] ? part_cap[chosen] * 2 : 16;
    xnnd_id* nodes = realloc(part->nodes, cap * sizeof(xnnd_id));
    if (!nodes) return XNND_OUT_OF_MEMORY;
    part->nodes = nodes;
    part_cap[chosen] = cap;
  }
  part->nodes[part->num_nodes++] = n;
  plan->node_part[n] = chosen;
  *chosen_out = chosen;
  return XNND_OK;
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
  /* Liveness (see the top of the file): unvisited reads left per value, values with such
   * reads per partition and per node, and the partitions that can no longer be candidates. */
  uint32_t* remaining = calloc(g->num_values ? g->num_values : 1, sizeof(uint32_t));
  uint32_t* live = calloc(nn ? nn : 1, sizeof(uint32_t));
  uint32_t* open_outputs = calloc(nn ? nn : 1, sizeof(uint32_t));
  bool* dead = calloc(nn ? nn : 1, sizeof(bool));
  xnnd_status st = XNND_OK;
  if (!plan->node_part || !plan->reasons || !plan->parts || !deps || !value_part || !part_cap || !remaining || !live ||
      !open_outputs || !dead) {
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  for (uint32_t v = 0; v < g->num_values; v++) value_part[v] = -1;
  for (uint32_t n = 0; n < nn; n++)
    for (uint32_t k = 0; k < g->nodes[n].num_inputs; k++)
      if (g->nodes[n].inputs[k] != XNND_NO_ID) remaining[g->nodes[n].inputs[k]]++;
  plan->work += g->num_values + nn;

  for (uint32_t n = 0; n < nn; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    plan->node_part[n] = -1;
    /* deps[n] = union over producers p of ({part(p)} if any) + deps[p] */
    for (uint32_t k = 0; k < node->num_inputs; k++) {
      xnnd_id v = node->inputs[k];
      if (v == XNND_NO_ID || g->values[v].producer == XNND_NO_ID) continue;
      xnnd_id p = g->values[v].producer;
      int32_t q = plan->node_part[p];
      if (!idset_union_live(&deps[n], &deps[p], dead, &plan->work) || (q >= 0 && !dead[q] && !idset_add(&deps[n], (uint32_t)q))) {
        st = XNND_OUT_OF_MEMORY;
        goto done;
      }
      plan->work += 1 + deps[n].n;
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
    int32_t chosen = -1;
    if (supported) {
      plan->reasons[n][0] = '\0';
      st = place(g, plan, deps, part_cap, options && options->per_op, n, &chosen);
      if (st != XNND_OK) goto done;
      for (uint32_t k = 0; k < node->num_outputs; k++) value_part[node->outputs[k]] = chosen;
    }
    /* Bookkeeping: n's outputs that later nodes read keep n's set and its partition live;
     * n's reads may end a producer's (and a partition's) life. */
    for (uint32_t k = 0; k < node->num_outputs; k++)
      if (remaining[node->outputs[k]] > 0) {
        open_outputs[n]++;
        if (chosen >= 0) live[chosen]++;
      }
    for (uint32_t k = 0; k < node->num_inputs; k++) {
      xnnd_id v = node->inputs[k];
      if (v == XNND_NO_ID || --remaining[v] > 0 || g->values[v].producer == XNND_NO_ID) continue;
      int32_t q = value_part[v];
      if (q >= 0 && --live[q] == 0 && q != (int32_t)plan->num_parts - 1) dead[q] = true;
      xnnd_id p = g->values[v].producer;
      if (--open_outputs[p] == 0) {
        free(deps[p].ids);
        deps[p] = (idset){0};
      }
    }
    if (open_outputs[n] == 0) {
      free(deps[n].ids);
      deps[n] = (idset){0};
    }
    /* a partition stops being the latest when a newer one opens */
    if (chosen >= 1 && chosen == (int32_t)plan->num_parts - 1 && plan->parts[chosen].num_nodes == 1 &&
        live[chosen - 1] == 0)
      dead[chosen - 1] = true;
    plan->work += 1 + node->num_inputs + node->num_outputs;
  }
  if (options && options->min_partition_size > 1) dissolve_small(g, plan, value_part, options->min_partition_size);
  st = collect_boundaries(g, plan, value_part);
done:
  for (uint32_t n = 0; deps && n < nn; n++) free(deps[n].ids);
  free(deps);
  free(value_part);
  free(part_cap);
  free(remaining);
  free(live);
  free(open_outputs);
  free(dead);
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
