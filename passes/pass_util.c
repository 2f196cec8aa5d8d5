/* Small queries and constructors shared by passes. */
#include <stdio.h>
#include <string.h>

#include "passes/pass.h"

bool xnnd_value_is_const(const xnnd_graph* g, xnnd_id v) {
  return v < g->num_values && g->values[v].data != NULL;
}

xnnd_id xnnd_single_consumer(const xnnd_graph* g, xnnd_id v) {
  xnnd_id found = XNND_NO_ID;
  for (uint32_t i = 0; i < g->num_outputs; i++)
    if (g->outputs[i] == v) return XNND_NO_ID;
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    const xnnd_ir_node* node = &g->nodes[n];
    if (node->dead) continue;
    for (uint32_t k = 0; k < node->num_inputs; k++) {
      if (node->inputs[k] != v) continue;
      if (found != XNND_NO_ID && found != n) return XNND_NO_ID;
      found = n;
    }
  }
  return found;
}

size_t xnnd_value_numel(const xnnd_graph* g, xnnd_id v) {
  size_t n = 1;
  for (uint32_t i = 0; i < g->values[v].rank; i++) n *= (size_t)g->values[v].dims[i];
  return n;
}

xnnd_id xnnd_add_f32_const(xnnd_graph* g, const char* name_hint, uint32_t rank,
                           const int64_t* dims, const float* data) {
  char name[96];
  for (uint32_t attempt = 0;; attempt++) {
    if (attempt == 0)
      snprintf(name, sizeof(name), "%s", name_hint);
    else
      snprintf(name, sizeof(name), "%s_%u", name_hint, attempt);
    bool taken = false;
    for (uint32_t v = 0; v < g->num_values && !taken; v++)
      taken = g->values[v].name && strcmp(g->values[v].name, name) == 0;
    if (!taken) break;
  }
  xnnd_id id = xnnd_graph_add_value(g, name, XNND_F32, rank, dims);
  if (id == XNND_NO_ID) return XNND_NO_ID;
  size_t numel = 1;
  for (uint32_t i = 0; i < rank; i++) numel *= (size_t)dims[i];
  if (xnnd_graph_set_constant(g, id, data, numel * sizeof(float)) != XNND_OK) return XNND_NO_ID;
  return id;
}
