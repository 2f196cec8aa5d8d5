/* aten.mean over dims {2, 3} with keepdim=true of a 4-D tensor -> aten.adaptive_avg_pool2d
 * with output_size [1, 1]: XNNPACK's global average pooling, which also takes an output
 * range. A mean without keepdim has a different rank and stays a mean. */
#include "passes/pass.h"

static bool is_global_mean(const xnnd_graph* g, const xnnd_ir_node* n) {
  const xnnd_ir_value* x = &g->values[n->inputs[0]];
  if (x->rank != 4 || n->attrs[1].i == 0 || n->attrs[0].n != 2) return false;
  bool seen[4] = {false};
  for (uint32_t i = 0; i < 2; i++) {
    int64_t d = n->attrs[0].ints[i];
    if (d < 0) d += 4;
    if (d < 0 || d > 3) return false;
    seen[d] = true;
  }
  return seen[2] && seen[3];
}

static xnnd_status mean_to_global_pool_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;
  for (uint32_t n = 0; n < count; n++) {
    xnnd_ir_node* node = &g->nodes[n];
    if (node->dead || node->op != XNND_OP_MEAN || !is_global_mean(g, node)) continue;
    xnnd_id input = node->inputs[0], out = node->outputs[0];
    float lo = node->output_min, hi = node->output_max;
    xnnd_attr size = {.kind = XNND_ATTR_INTS, .n = 2, .ints = {1, 1}};
    node->dead = true;
    xnnd_id id = xnnd_emit_node(g, XNND_OP_ADAPTIVE_AVG_POOL2D, &input, 1, &size, out);
    if (id == XNND_NO_ID) return XNND_INTERNAL;
    g->nodes[id].output_min = lo;
    g->nodes[id].output_max = hi;
    (*changed)++;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_mean_to_global_pool = {
    "mean-to-global-pool", "mean over H, W with keepdim -> adaptive_avg_pool2d [1, 1]",
    mean_to_global_pool_run};
