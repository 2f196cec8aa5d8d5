/* Constants with the same dtype, dims, layout, quantization and bytes are stored once:
 * readers of later copies read the first one (lowest id, so the printed order is kept).
 * A constant that is itself a graph output keeps its own value. */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

typedef struct keyed {
  uint64_t hash;
  xnnd_id id;
} keyed;

static int by_hash_then_id(const void* a, const void* b) {
  const keyed* x = a;
  const keyed* y = b;
  if (x->hash != y->hash) return x->hash < y->hash ? -1 : 1;
  return x->id < y->id ? -1 : (x->id > y->id);
}

static bool same_quant(const xnnd_quant* a, const xnnd_quant* b) {
  if (a->scheme != b->scheme) return false;
  if (a->scheme == XNND_QUANT_PER_TENSOR) return a->scale == b->scale && a->zero_point == b->zero_point;
  if (a->scheme == XNND_QUANT_PER_CHANNEL)
    return a->axis == b->axis && a->num_channels == b->num_channels &&
           memcmp(a->scales, b->scales, a->num_channels * sizeof(float)) == 0 &&
           memcmp(a->zero_points, b->zero_points, a->num_channels * sizeof(int32_t)) == 0;
  return true;
}

static bool same_constant(const xnnd_graph* g, xnnd_id a, xnnd_id b) {
  const xnnd_ir_value* x = &g->values[a];
  const xnnd_ir_value* y = &g->values[b];
  if (x->dtype != y->dtype || x->layout != y->layout || !xnnd_same_dims(x, y) ||
      !same_quant(&x->quant, &y->quant))
    return false;
  return memcmp(x->data, y->data, xnnd_value_numel(g, a) * xnnd_dtype_size(x->dtype)) == 0;
}

static xnnd_status dedupe_constants_run(xnnd_graph* g, uint32_t* changed) {
  keyed* keys = malloc(sizeof(keyed) * ((size_t)g->num_values + 1));
  if (!keys) {
    snprintf(g->errmsg, sizeof(g->errmsg), "dedupe-constants: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  uint32_t count = 0;
  for (xnnd_id v = 0; v < g->num_values; v++) {
    const xnnd_ir_value* val = &g->values[v];
    if (!val->data || val->is_input) continue;
    uint64_t h = xnnd_fnv1a64(val->data, xnnd_value_numel(g, v) * xnnd_dtype_size(val->dtype));
    keys[count++] = (keyed){h ^ ((uint64_t)val->dtype << 56) ^ val->rank, v};
  }
  qsort(keys, count, sizeof(keyed), by_hash_then_id);
  for (uint32_t i = 0; i < count; i++) {
    if (keys[i].id == XNND_NO_ID) continue;  /* already merged into an earlier one */
    for (uint32_t j = i + 1; j < count && keys[j].hash == keys[i].hash; j++) {
      if (keys[j].id == XNND_NO_ID || xnnd_value_is_graph_output(g, keys[j].id) ||
          !same_constant(g, keys[i].id, keys[j].id))
        continue;
      xnnd_graph_replace_uses(g, keys[j].id, keys[i].id);
      keys[j].id = XNND_NO_ID;
      (*changed)++;
    }
  }
  free(keys);
  return XNND_OK;
}

const xnnd_pass xnnd_pass_dedupe_constants = {
    "dedupe-constants", "identical constants stored once", dedupe_constants_run};
