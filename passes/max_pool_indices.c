/* aten.max_pool2d_with_indices whose indices output nothing reads -> aten.max_pool2d with
 * the same attributes and the same output value (XNNPACK has no indices output). */
#include "passes/pass.h"

static xnnd_status max_pool_indices_run(xnnd_graph* g, uint32_t* changed) {
  uint32_t count = g->num_nodes;  /* nodes appended below need no visit */
  for (uint32_t n = 0; n < count; n++) {
    xnnd_ir_node* node = &g->nodes[n];
    if (node->dead || node->op != XNND_OP_MAX_POOL2D_WITH_INDICES) continue;
    if (xnnd_graph_count_uses(g, node->outputs[1]) != 0) continue;
    xnnd_attr attrs[XNND_MAX_ATTRS];
    const xnnd_dimx* attr_dimx[XNND_MAX_ATTRS];
    for (uint32_t a = 0; a < XNND_MAX_ATTRS; a++) {
      attrs[a] = node->attrs[a];
      attr_dimx[a] = node->attr_dimx[a];
    }
    xnnd_id input = node->inputs[0], out = node->outputs[0];
    float lo = node->output_min, hi = node->output_max;
    node->dead = true;
    xnnd_id id = xnnd_emit_node_dimx(g, XNND_OP_MAX_POOL2D, &input, 1, attrs, attr_dimx, out);
    if (id == XNND_NO_ID) return XNND_INTERNAL;
    g->nodes[id].output_min = lo;
    g->nodes[id].output_max = hi;
    (*changed)++;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_max_pool_indices = {
    "max-pool-indices", "max_pool2d_with_indices with unused indices -> max_pool2d",
    max_pool_indices_run};
