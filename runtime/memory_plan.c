/* Memory plan of one method, computed once at load: every value a step writes gets a
 * 64-aligned slot in one arena. Visiting steps in order, slots whose last reader ran before
 * the current step are released, then each output of the step takes the lowest offset gap
 * that fits among the live slots (first fit by offset). Method outputs live to the end, and
 * outputs that are inputs or constants get a slot of their own at a virtual final step, where
 * execute copies them, so every output stays valid after execute. */
#include <string.h>

#include "runtime_internal.h"

typedef struct live_slot {
  uint64_t offset, end;
  uint32_t last_use;
} live_slot;

typedef struct planner {
  live_slot* live;   /* sorted by offset */
  uint32_t num_live;
  uint64_t arena_bytes;
  uint64_t tensor_bytes;
} planner;

/* Offset of a new slot of `nbytes`, or XNND_NO_OFFSET when the arena would overflow. */
static uint64_t place(planner* pl, uint64_t nbytes, uint32_t last_use) {
  uint64_t size = nbytes + XNND_TENSOR_PADDING;
  size = (size + XNND_TENSOR_ALIGN - 1) & ~(uint64_t)(XNND_TENSOR_ALIGN - 1);
  uint64_t at = 0;
  uint32_t k = 0;
  for (; k < pl->num_live; k++) {
    if (pl->live[k].offset >= at && pl->live[k].offset - at >= size) break;
    if (pl->live[k].end > at) at = pl->live[k].end;
  }
  if (at > UINT64_MAX - size || at + size > (uint64_t)SIZE_MAX / 2) return XNND_NO_OFFSET;
  memmove(&pl->live[k + 1], &pl->live[k], (pl->num_live - k) * sizeof(live_slot));
  pl->live[k] = (live_slot){at, at + size, last_use};
  pl->num_live++;
  if (at + size > pl->arena_bytes) pl->arena_bytes = at + size;
  pl->tensor_bytes += nbytes;
  return at;
}

static void release_before(planner* pl, uint32_t step) {
  uint32_t kept = 0;
  for (uint32_t k = 0; k < pl->num_live; k++)
    if (pl->live[k].last_use >= step) pl->live[kept++] = pl->live[k];
  pl->num_live = kept;
}

xnnd_status xnnd_plan_memory(xnnd_method_decl* m, const xnnd_allocator* allocator, char* msg,
                             size_t msg_size) {
  size_t slots = (size_t)m->num_outputs;
  for (uint32_t s = 0; s < m->num_steps; s++) slots += m->steps[s].num_outputs;
  planner pl = {0};
  if (slots > 0) {
    pl.live = xnnd_alloc(allocator, xnnd_mul_size(slots, sizeof(live_slot)), 8);
    if (!pl.live)
      return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY,
                       "method \"%s\": out of memory planning %zu tensors", m->name, slots);
  }
  xnnd_status status = XNND_OK;
  for (uint32_t s = 0; s <= m->num_steps && status == XNND_OK; s++) {
    release_before(&pl, s);
    if (s < m->num_steps) {
      const xnnd_step_decl* st = &m->steps[s];
      for (uint32_t i = 0; i < st->num_outputs; i++) {
        xnnd_value_decl* v = &m->values[st->outputs[i]];
        /* Zero-byte tensors point at the arena start and occupy nothing. */
        v->offset = v->nbytes ? place(&pl, v->nbytes, v->last_use) : 0;
        if (v->offset == XNND_NO_OFFSET) {
          status = XNND_LIMIT_EXCEEDED;
          break;
        }
      }
    } else {
      for (uint32_t o = 0; o < m->num_outputs; o++) {
        xnnd_output_decl* out = &m->outputs[o];
        if (!out->copy) continue;
        const xnnd_value_decl* v = &m->values[out->value];
        out->copy_offset = v->nbytes ? place(&pl, v->nbytes, m->num_steps) : 0;
        if (out->copy_offset == XNND_NO_OFFSET) {
          status = XNND_LIMIT_EXCEEDED;
          break;
        }
      }
    }
  }
  xnnd_free(allocator, pl.live);
  if (status != XNND_OK)
    return xnnd_errf(msg, msg_size, status,
                     "method \"%s\": planned memory exceeds the address space", m->name);
  m->arena_bytes = pl.arena_bytes;
  m->tensor_bytes = pl.tensor_bytes;
  return XNND_OK;
}
