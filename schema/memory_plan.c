/* The one memory planning algorithm (memory_plan.h) and the check of a stored plan. Both sweep
 * the tensors in step order keeping the live slots sorted by offset and pairwise disjoint, so
 * a new slot only has to be compared with its two neighbours. */
#include "memory_plan.h"

#include <assert.h>
#include <string.h>

uint64_t xnnd_plan_slot_size(uint64_t nbytes) {
  if (nbytes == 0) return 0;
  uint64_t size = nbytes + XNND_TENSOR_PADDING;
  return (size + XNND_TENSOR_ALIGN - 1) & ~(uint64_t)(XNND_TENSOR_ALIGN - 1);
}

/* Drop live slots whose last step is before `step`, keeping the offset order. */
static uint32_t release_before(xnnd_plan_live* live, uint32_t num_live, uint32_t step) {
  uint32_t kept = 0;
  for (uint32_t k = 0; k < num_live; k++)
    if (live[k].last_step >= step) live[kept++] = live[k];
  return kept;
}

static void insert_at(xnnd_plan_live* live, uint32_t num_live, uint32_t k, xnnd_plan_live slot) {
  memmove(&live[k + 1], &live[k], (num_live - k) * sizeof(xnnd_plan_live));
  live[k] = slot;
}

bool xnnd_memory_plan(xnnd_plan_tensor* tensors, uint32_t count, uint64_t max_arena_bytes,
                      xnnd_plan_live* live, uint64_t* arena_bytes_out) {
  uint32_t num_live = 0;
  uint64_t arena = 0;
  for (uint32_t i = 0; i < count; i++) {
    xnnd_plan_tensor* t = &tensors[i];
    assert(i == 0 || t->first_step >= tensors[i - 1].first_step);
    /* Zero-byte tensors point at the arena start and occupy nothing. */
    t->offset = 0;
    if (t->nbytes == 0) continue;
    num_live = release_before(live, num_live, t->first_step);
    uint64_t size = xnnd_plan_slot_size(t->nbytes);
    uint64_t at = 0;
    uint32_t k = 0;
    for (; k < num_live; k++) {
      if (live[k].offset >= at && live[k].offset - at >= size) break;
      if (live[k].end > at) at = live[k].end;
    }
    if (at > max_arena_bytes || size > max_arena_bytes - at) return false;
    insert_at(live, num_live++, k, (xnnd_plan_live){at, at + size, t->last_step, i});
    t->offset = at;
    if (at + size > arena) arena = at + size;
  }
  *arena_bytes_out = arena;
  return true;
}

xnnd_status xnnd_memory_plan_check(const xnnd_plan_tensor* tensors, uint32_t count,
                                   uint64_t arena_bytes, xnnd_plan_live* live,
                                   uint32_t* bad_out, uint32_t* other_out) {
  uint32_t num_live = 0;
  for (uint32_t i = 0; i < count; i++) {
    const xnnd_plan_tensor* t = &tensors[i];
    assert(i == 0 || t->first_step >= tensors[i - 1].first_step);
    *bad_out = i;
    *other_out = i;
    if (t->offset % XNND_TENSOR_ALIGN != 0) return XNND_MISALIGNED;
    uint64_t extent = t->nbytes ? t->nbytes + XNND_TENSOR_PADDING : 0;
    if (t->offset > arena_bytes || extent > arena_bytes - t->offset) return XNND_OUT_OF_RANGE;
    if (extent == 0) continue;
    num_live = release_before(live, num_live, t->first_step);
    /* k: the first live slot at or above t's offset. */
    uint32_t lo = 0, hi = num_live;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (live[mid].offset < t->offset) lo = mid + 1;
      else hi = mid;
    }
    const uint64_t end = t->offset + extent;
    if (lo > 0 && live[lo - 1].end > t->offset) {
      *other_out = live[lo - 1].tensor;
      return XNND_OVERLAP;
    }
    if (lo < num_live && live[lo].offset < end) {
      *other_out = live[lo].tensor;
      return XNND_OVERLAP;
    }
    insert_at(live, num_live++, lo, (xnnd_plan_live){t->offset, end, t->last_step, i});
  }
  return XNND_OK;
}
