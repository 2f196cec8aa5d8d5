/* view(view(x)) -> view(x): a view only reinterprets the row-major order, so a chain of
 * views is one view to the last size; when that size is x's own shape the view goes away.
 * The inner view stays while anything else reads it. */
#include "passes/pass.h"

static xnnd_id producing_view(const xnnd_graph* g, xnnd_id v) {
  xnnd_id p = g->values[v].producer;
  if (p >= g->num_nodes || g->nodes[p].dead || g->nodes[p].op != XNND_OP_VIEW) return XNND_NO_ID;
  return p;
}

static xnnd_status collapse_views_run(xnnd_graph* g, uint32_t* changed) {
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    xnnd_ir_node* node = &g->nodes[n];
    if (node->dead || node->op != XNND_OP_VIEW || xnnd_node_has_range(node)) continue;
    xnnd_id inner = producing_view(g, node->inputs[0]);
    if (inner == XNND_NO_ID || xnnd_node_has_range(&g->nodes[inner])) continue;
    xnnd_id src = g->nodes[inner].inputs[0], out = node->outputs[0];
    const xnnd_ir_value* s = &g->values[src];
    const xnnd_ir_value* o = &g->values[out];
    if (s->dtype != o->dtype || s->quant.scheme != XNND_QUANT_NONE ||
        o->quant.scheme != XNND_QUANT_NONE || s->layout != o->layout)
      continue;
    bool back_to_source = xnnd_same_dims(s, o);
    if (back_to_source && xnnd_value_is_graph_output(g, out) &&
        (s->is_input || xnnd_value_is_const(g, src) || xnnd_value_is_graph_output(g, src))) {
      back_to_source = false;  /* keep graph outputs distinct: still collapse to one view */
    }
    if (back_to_source) {
      node->dead = true;
      xnnd_graph_replace_uses(g, out, src);
    } else {
      xnnd_graph_set_input(g, (xnnd_id)(node - g->nodes), 0, src);
    }
    (*changed)++;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_collapse_views = {
    "collapse-views", "view of a view -> one view (none when it restores the shape)",
    collapse_views_run};
