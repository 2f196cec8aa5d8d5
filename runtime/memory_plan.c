/* Memory plan of one method at load: every value a step writes gets a 64-aligned slot in one
 * arena, and every method output that is an input or constant gets a slot of its own at a
 * virtual final step, where execute copies it, so every output stays valid after execute.
 * The algorithm and the check are schema/memory_plan.c, shared with the program writer: a
 * program that carries a plan (written at lowering) is checked here, one without is planned
 * here the same way. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"

/* The method's arena tensors in the order the planner takes them (values by defining step,
 * then copied outputs), with their offsets as currently stored. id: value index, or
 * num_values + output index for a copy. */
typedef struct plan_work {
  xnnd_plan_tensor* tensors;
  xnnd_plan_live* live;
  uint32_t count;
} plan_work;

static xnnd_status work_create(const xnnd_method_decl* m, const xnnd_allocator* allocator,
                               plan_work* w, char* msg, size_t msg_size) {
  size_t slots = (size_t)m->num_outputs;
  for (uint32_t s = 0; s < m->num_steps; s++) slots += m->steps[s].num_outputs;
  memset(w, 0, sizeof(*w));
  if (slots == 0) return XNND_OK;
  /* Each value is written once (check_dataflow) and num_values, num_outputs are 32-bit. */
  if (slots > UINT32_MAX)
    return xnnd_errf(msg, msg_size, XNND_LIMIT_EXCEEDED, "method \"%s\": %zu tensors to plan",
                     m->name, slots);
  w->tensors = xnnd_alloc(allocator, xnnd_mul_size(slots, sizeof(xnnd_plan_tensor)), 8);
  w->live = xnnd_alloc(allocator, xnnd_mul_size(slots, sizeof(xnnd_plan_live)), 8);
  if (!w->tensors || !w->live) {
    xnnd_free(allocator, w->tensors);
    xnnd_free(allocator, w->live);
    return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY,
                     "method \"%s\": out of memory planning %zu tensors", m->name, slots);
  }
  for (uint32_t s = 0; s < m->num_steps; s++) {
    const xnnd_step_decl* st = &m->steps[s];
    for (uint32_t i = 0; i < st->num_outputs; i++) {
      const xnnd_value_decl* v = &m->values[st->outputs[i]];
      w->tensors[w->count++] =
          (xnnd_plan_tensor){v->nbytes, s, v->last_use, st->outputs[i], v->offset};
    }
  }
  for (uint32_t o = 0; o < m->num_outputs; o++) {
    const xnnd_output_decl* out = &m->outputs[o];
    if (!out->copy) continue;
    w->tensors[w->count++] = (xnnd_plan_tensor){m->values[out->value].nbytes, m->num_steps,
                                                m->num_steps, m->num_values + o,
                                                out->copy_offset};
  }
  return XNND_OK;
}

static void work_destroy(plan_work* w, const xnnd_allocator* allocator) {
  xnnd_free(allocator, w->tensors);
  xnnd_free(allocator, w->live);
}

static uint64_t sum_bytes(const plan_work* w) {
  uint64_t sum = 0;
  for (uint32_t i = 0; i < w->count; i++) sum += w->tensors[i].nbytes;  /* <= 2^32 * 2^48 */
  return sum;
}

xnnd_status xnnd_plan_memory(xnnd_method_decl* m, const xnnd_allocator* allocator, char* msg,
                             size_t msg_size) {
  plan_work w;
  xnnd_status status = work_create(m, allocator, &w, msg, msg_size);
  if (status != XNND_OK) return status;
  uint64_t arena = 0;
  if (!xnnd_memory_plan(w.tensors, w.count, (uint64_t)SIZE_MAX / 2, w.live, &arena)) {
    work_destroy(&w, allocator);
    return xnnd_errf(msg, msg_size, XNND_LIMIT_EXCEEDED,
                     "method \"%s\": planned memory exceeds the address space", m->name);
  }
  for (uint32_t i = 0; i < w.count; i++) {
    const xnnd_plan_tensor* t = &w.tensors[i];
    if (t->id < m->num_values) m->values[t->id].offset = t->offset;
    else m->outputs[t->id - m->num_values].copy_offset = t->offset;
  }
  m->arena_bytes = arena;
  m->tensor_bytes = sum_bytes(&w);
  m->planned_at_lowering = false;
  work_destroy(&w, allocator);
  return XNND_OK;
}

/* "value 7" or "output 2 (a copy of value 0)" */
static void tensor_name(char* buf, size_t size, const xnnd_method_decl* m, uint32_t id) {
  if (id < m->num_values)
    snprintf(buf, size, "value %u", id);
  else
    snprintf(buf, size, "output %u (a copy of value %u)", id - m->num_values,
             m->outputs[id - m->num_values].value);
}

/* Only what steps write, and copied outputs, may have a slot; each of them must have one. */
static xnnd_status check_slot_owners(const xnnd_method_decl* m, char* msg, size_t msg_size) {
  for (uint32_t v = 0; v < m->num_values; v++) {
    const xnnd_value_decl* val = &m->values[v];
    bool written = val->flags & XNND_VALUE_DEFINED;
    if (written && val->offset == XNND_NO_OFFSET)
      return xnnd_errf(msg, msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" value %u: written by step %u but the memory plan gives it "
                       "no offset", m->name, v, val->def_step);
    if (!written && val->offset != XNND_NO_OFFSET) {
      const char* what = val->constant >= 0              ? "a constant"
                         : (val->flags & XNND_VALUE_INPUT) ? "a method input"
                                                           : "written by no step";
      return xnnd_errf(msg, msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" value %u: is %s, so has no arena slot, but the memory plan "
                       "gives it offset %" PRIu64, m->name, v, what, val->offset);
    }
  }
  for (uint32_t o = 0; o < m->num_outputs; o++) {
    const xnnd_output_decl* out = &m->outputs[o];
    if (out->copy && out->copy_offset == XNND_NO_OFFSET)
      return xnnd_errf(msg, msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" output %u: value %u is an input or constant and is copied, "
                       "but the memory plan gives the copy no offset", m->name, o, out->value);
    if (!out->copy && out->copy_offset != XNND_NO_OFFSET)
      return xnnd_errf(msg, msg_size, XNND_INVALID_PROGRAM,
                       "method \"%s\" output %u: value %u is written by a step and is not copied, "
                       "but the memory plan gives it a copy offset %" PRIu64, m->name, o,
                       out->value, out->copy_offset);
  }
  return XNND_OK;
}

xnnd_status xnnd_check_memory_plan(xnnd_method_decl* m, const xnnd_allocator* allocator,
                                   char* msg, size_t msg_size) {
  xnnd_status status = check_slot_owners(m, msg, msg_size);
  if (status != XNND_OK) return status;
  plan_work w;
  status = work_create(m, allocator, &w, msg, msg_size);
  if (status != XNND_OK) return status;
  uint32_t bad = 0, other = 0;
  status = xnnd_memory_plan_check(w.tensors, w.count, m->arena_bytes, w.live, &bad, &other);
  if (status != XNND_OK) {
    const xnnd_plan_tensor* t = &w.tensors[bad];
    const xnnd_plan_tensor* u = &w.tensors[other];
    const uint64_t extent = t->nbytes ? t->nbytes + XNND_TENSOR_PADDING : 0;
    char name[96], other_name[96];
    tensor_name(name, sizeof(name), m, t->id);
    tensor_name(other_name, sizeof(other_name), m, u->id);
    if (status == XNND_MISALIGNED)
      xnnd_errf(msg, msg_size, status,
                "method \"%s\" %s: planned offset %" PRIu64 " is not a multiple of %u", m->name,
                name, t->offset, XNND_TENSOR_ALIGN);
    else if (status == XNND_OUT_OF_RANGE)
      xnnd_errf(msg, msg_size, status,
                "method \"%s\" %s: planned slot [%" PRIu64 ", +%" PRIu64 ") (%" PRIu64
                " tensor bytes + %u padding) lies outside the %" PRIu64 "-byte arena",
                m->name, name, t->offset, extent, t->nbytes, XNND_TENSOR_PADDING,
                m->arena_bytes);
    else
      xnnd_errf(msg, msg_size, status,
                "method \"%s\" %s: planned slot [%" PRIu64 ", +%" PRIu64 ") overlaps %s [%" PRIu64
                ", +%" PRIu64 ") while both are live (steps %u..%u and %u..%u)", m->name, name,
                t->offset, extent, other_name, u->offset, u->nbytes + XNND_TENSOR_PADDING,
                t->first_step, t->last_step, u->first_step, u->last_step);
  } else {
    m->tensor_bytes = sum_bytes(&w);
    m->planned_at_lowering = true;
  }
  work_destroy(&w, allocator);
  return status;
}
