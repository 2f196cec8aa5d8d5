/* A method instance: the planned arena, one tensor view per value, a prepared params block per
 * kernel step and an initialized handle per delegate step. Everything is allocated in
 * xnnd_method_create; xnnd_method_execute only reads bindings, runs steps in order and copies
 * outputs that are inputs or constants into their planned slots.
 *
 * State: `busy` is held (an atomic exchange, no lock) for the whole of set_input and execute,
 * so overlapping calls on one method from several threads fail with XNND_BUSY instead of
 * corrupting the arena; `executed` says the outputs hold the result of the last execute.
 *
 * Dynamic shapes (decl->num_syms > 0; docs/ARCHITECTURE.md "Dynamic shapes"): the method is
 * created at every symbol's max (the planned shapes). set_input checks each dim against its
 * form and keeps the bound dims; execute solves the symbols from them, checks every relation,
 * and when the values changed evaluates every symbolic dim and attribute in place (buffers
 * allocated here at creation), re-prepares the kernel steps that touch them and reshapes the
 * delegates; on a failure it goes back to the previous values. A static method never enters
 * that code. */
#include <math.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runtime_internal.h"

typedef struct step_rt {
  const xnnd_step_decl* decl;
  /* kernel */
  xnnd_kernel_args args;
  void* params;
  /* Fused output range (attrs "output_min"/"output_max"), applied to output 0 after run. */
  bool has_range;
  float range_min, range_max;
  /* profiling (options.profile) */
  uint64_t runs, total_ns;
  /* delegate: views of the call's tensors, data refreshed on every execute */
  const xnnd_backend* backend;
  void* handle;
  bool initialized;
  xnnd_tensor* in_views;
  xnnd_tensor* out_views;
  /* dynamic shapes: the step reads or writes a symbolic value or has a symbolic attribute
   * (kernel: re-prepared when the symbols change); attrs_rt is the method's copy of a
   * kernel step's attributes whose symbolic ints are evaluated in place, else NULL */
  bool dynamic;
  xnnd_kattr* attrs_rt;
} step_rt;

struct xnnd_method {
  xnnd_program* program;
  const xnnd_method_decl* decl;
  xnnd_pool pool;
  uint8_t* arena;
  xnnd_tensor* tensors;   /* one per value */
  bool* bound;            /* one per method input */
  step_rt* steps;
  xnnd_tensor* outputs;   /* one per method output */
  bool profile;
  /* options.backend_options, only while xnnd_method_create runs (delegate init) */
  const xnnd_backend_option* backend_options;
  uint32_t num_backend_options;
  bool allow_non_finite_inputs;
  atomic_bool busy;       /* set_input or execute in progress */
  atomic_bool executed;   /* outputs are valid: the last execute succeeded */
  uint64_t executes, execute_ns;
  /* Method inputs read by a delegate are copied into padded staging at execute: XNNPACK may
   * read up to 16 bytes past an input it is handed directly, and caller buffers have no
   * slack. NULL entries are bound in place. */
  void** stage;
  const void** input_src;
  char errmsg[XNND_ERRMSG_SIZE];
  char kernel_msg[XNND_ERRMSG_SIZE / 2];  /* a portable kernel's run() failure */
  /* Dynamic shapes: the symbol values tensors, attributes, kernels and delegates are at
   * (every max at creation; -1 in syms[0] after a failed roll-back forces a reshape), and
   * each input's bound dims (in_dims[i], valid with bound[i]). */
  int64_t syms[XNND_MAX_SYMS];
  int64_t (*in_dims)[XNND_MAX_RANK];
};

static void step_where(char* buf, size_t size, const xnnd_method_decl* m, uint32_t s) {
  const xnnd_step_decl* st = &m->steps[s];
  if (st->kind == XNND_STEP_KERNEL)
    snprintf(buf, size, "method \"%s\" step %u (%s)", m->name, s, st->op_name);
  else
    snprintf(buf, size, "method \"%s\" step %u (delegate %u, %s)", m->name, s, st->index,
             st->op_name);
}

static xnnd_status method_fail(xnnd_method* m, xnnd_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static xnnd_status method_fail(xnnd_method* m, xnnd_status status, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m->errmsg, sizeof(m->errmsg), fmt, ap);
  va_end(ap);
  return status;
}

static xnnd_status create_fail(xnnd_error* err, xnnd_status status, const char* msg) {
  if (err) {
    err->status = status;
    snprintf(err->message, sizeof(err->message), "%s", msg);
  }
  return status;
}

/* The fused output range of a portable step (clamp fusion), applied in place. */
static void clamp_output(const xnnd_tensor* t, float lo, float hi) {
  float* p = t->data;
  size_t n = xnnd_tensor_numel(t);
  for (size_t i = 0; i < n; i++) p[i] = p[i] < lo ? lo : (p[i] > hi ? hi : p[i]);
}

static xnnd_status prepare_kernel(xnnd_method* m, uint32_t s, char* msg, size_t msg_size) {
  const xnnd_step_decl* st = &m->decl->steps[s];
  step_rt* rt = &m->steps[s];
  xnnd_tensor** ins = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->num_inputs, sizeof(void*)), 8);
  xnnd_tensor** outs = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->num_outputs, sizeof(void*)), 8);
  rt->params = xnnd_pool_alloc(&m->pool, XNND_KERNEL_PARAMS_SIZE, 64);
  if (!ins || !outs || !rt->params)
    return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "out of memory preparing step %u", s);
  for (uint32_t i = 0; i < st->num_inputs; i++)
    ins[i] = st->inputs[i] < 0 ? NULL : &m->tensors[st->inputs[i]];
  for (uint32_t i = 0; i < st->num_outputs; i++) outs[i] = &m->tensors[st->outputs[i]];
  const xnnd_kattr* attrs = st->attrs;
  if (st->attr_dimx) {  /* symbolic attributes: a method copy, evaluated at the symbols */
    rt->attrs_rt = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->num_attrs, sizeof(xnnd_kattr)), 8);
    if (!rt->attrs_rt)
      return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "out of memory preparing step %u", s);
    for (uint32_t a = 0; a < st->num_attrs; a++) {
      rt->attrs_rt[a] = st->attrs[a];
      if (!st->attr_dimx[a]) continue;
      int64_t* ints = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->attrs[a].n, sizeof(int64_t)), 8);
      if (!ints)
        return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "out of memory preparing step %u", s);
      memcpy(ints, st->attrs[a].ints, sizeof(int64_t) * st->attrs[a].n);  /* the upper bounds */
      rt->attrs_rt[a].ints = ints;
    }
    attrs = rt->attrs_rt;
  }
  rt->args = (xnnd_kernel_args){ins, st->num_inputs, outs, st->num_outputs, attrs,
                                st->num_attrs, m->kernel_msg, sizeof(m->kernel_msg)};
  rt->range_min = -INFINITY;
  rt->range_max = INFINITY;
  for (uint32_t a = 0; a < st->num_attrs; a++) {
    bool is_min = strcmp(st->attrs[a].name, "output_min") == 0;
    if (!is_min && strcmp(st->attrs[a].name, "output_max") != 0) continue;
    if (st->attrs[a].kind != 2 /* FLOAT */ || isnan(st->attrs[a].f) || st->num_outputs == 0 ||
        m->tensors[st->outputs[0]].dtype != XNND_F32) {
      char where[160];
      step_where(where, sizeof(where), m->decl, s);
      return xnnd_errf(msg, msg_size, XNND_INVALID_PROGRAM,
                       "%s: attribute %s must be a float on an f32 output", where, st->attrs[a].name);
    }
    if (is_min) rt->range_min = (float)st->attrs[a].f;
    else rt->range_max = (float)st->attrs[a].f;
    rt->has_range = true;
  }
  char kmsg[XNND_ERRMSG_SIZE / 2];
  kmsg[0] = '\0';
  xnnd_status status = st->kernel->prepare(&rt->args, rt->params, kmsg, sizeof(kmsg));
  if (status != XNND_OK) {
    char where[160];
    step_where(where, sizeof(where), m->decl, s);
    return xnnd_errf(msg, msg_size, status, "%s: %s", where,
                     kmsg[0] ? kmsg : xnnd_status_str(status));
  }
  return XNND_OK;
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static xnnd_status init_delegate(xnnd_method* m, uint32_t s, uint32_t num_threads, char* msg,
                                 size_t msg_size) {
  const xnnd_step_decl* st = &m->decl->steps[s];
  const xnnd_delegate_decl* d = &m->program->delegates[st->index];
  step_rt* rt = &m->steps[s];
  rt->in_views = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->num_inputs, sizeof(xnnd_tensor)), 8);
  rt->out_views = xnnd_pool_alloc(&m->pool, xnnd_mul_size(st->num_outputs, sizeof(xnnd_tensor)), 8);
  if (!rt->in_views || !rt->out_views)
    return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "out of memory preparing step %u", s);
  for (uint32_t i = 0; i < st->num_inputs; i++) {
    rt->in_views[i] = m->tensors[st->inputs[i]];
    rt->in_views[i].data = NULL;
  }
  for (uint32_t i = 0; i < st->num_outputs; i++) {
    rt->out_views[i] = m->tensors[st->outputs[i]];
    rt->out_views[i].data = NULL;
  }
  xnnd_backend_init_args args = {
      .blob = d->blob,
      .blob_size = (size_t)d->size,
      .specs = d->specs,
      .num_specs = d->num_specs,
      .allocator = &m->program->allocator,
      .num_threads = num_threads,
      .inputs = rt->in_views,
      .num_inputs = st->num_inputs,
      .outputs = rt->out_views,
      .num_outputs = st->num_outputs,
      .profile = m->profile,
      .syms = m->syms,
      .num_syms = m->decl->num_syms,
  };
  /* The options naming this backend, in the caller's order. */
  xnnd_backend_option* mine = NULL;
  uint32_t num_mine = 0;
  for (uint32_t i = 0; i < m->num_backend_options; i++) num_mine += strcmp(m->backend_options[i].backend, d->backend->name) == 0;
  if (num_mine) {
    mine = xnnd_alloc(&m->program->allocator, sizeof(*mine) * num_mine, 64);
    if (!mine) return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "out of memory passing backend options");
    num_mine = 0;
    for (uint32_t i = 0; i < m->num_backend_options; i++)
      if (strcmp(m->backend_options[i].backend, d->backend->name) == 0) mine[num_mine++] = m->backend_options[i];
  }
  args.options = mine;
  args.num_options = num_mine;
  char bmsg[XNND_ERRMSG_SIZE / 2];
  bmsg[0] = '\0';
  rt->backend = d->backend;
  if (rt->dynamic && !d->backend->reshape) {
    xnnd_free(&m->program->allocator, mine);
    char where[160];
    step_where(where, sizeof(where), m->decl, s);
    return xnnd_errf(msg, msg_size, XNND_UNSUPPORTED,
                     "%s: the delegate has inputs or outputs with symbolic dims but backend %s "
                     "cannot reshape (no reshape entry)", where, d->backend->name);
  }
  xnnd_status status = d->backend->init(&args, &rt->handle, bmsg, sizeof(bmsg));
  xnnd_free(&m->program->allocator, mine);
  if (status != XNND_OK) {
    char where[160];
    step_where(where, sizeof(where), m->decl, s);
    return xnnd_errf(msg, msg_size, status, "%s: backend init: %s", where,
                     bmsg[0] ? bmsg : xnnd_status_str(status));
  }
  rt->initialized = true;
  return XNND_OK;
}

/* The step reads or writes a value with symbolic dims, or has a symbolic attribute. */
static bool step_is_dynamic(const xnnd_method_decl* d, uint32_t s) {
  const xnnd_step_decl* st = &d->steps[s];
  if (st->attr_dimx) return true;
  for (uint32_t i = 0; i < st->num_inputs; i++)
    if (st->inputs[i] >= 0 && d->values[st->inputs[i]].dimx) return true;
  for (uint32_t i = 0; i < st->num_outputs; i++)
    if (d->values[st->outputs[i]].dimx) return true;
  return false;
}

xnnd_status xnnd_method_create(xnnd_program* program, const char* name,
                               const xnnd_method_options* options, xnnd_method** method_out,
                               xnnd_error* err) {
  if (method_out) *method_out = NULL;
  if (!program || !name || !method_out)
    return create_fail(err, XNND_INVALID_ARGUMENT, "program, name and method_out must be non-NULL");
  const xnnd_method_decl* decl = NULL;
  for (uint32_t i = 0; i < program->num_methods; i++)
    if (strcmp(program->methods[i].name, name) == 0) decl = &program->methods[i];
  char msg[XNND_ERRMSG_SIZE];
  if (!decl) {
    size_t n = (size_t)snprintf(msg, sizeof(msg), "program has no method \"%s\" (methods:", name);
    for (uint32_t i = 0; i < program->num_methods && n < sizeof(msg); i++)
      n += (size_t)snprintf(msg + n, sizeof(msg) - n, " \"%s\"", program->methods[i].name);
    if (n < sizeof(msg)) snprintf(msg + n, sizeof(msg) - n, ")");
    return create_fail(err, XNND_NOT_FOUND, msg);
  }
  if (options && options->num_backend_options && !options->backend_options)
    return create_fail(err, XNND_INVALID_ARGUMENT, "num_backend_options is set but backend_options is NULL");
  for (uint32_t i = 0; options && i < options->num_backend_options; i++) {
    const xnnd_backend_option* o = &options->backend_options[i];
    if (!o->backend || !o->key || !o->value) {
      snprintf(msg, sizeof(msg), "backend option %u: backend, key and value must be non-NULL", i);
      return create_fail(err, XNND_INVALID_ARGUMENT, msg);
    }
  }
  if (decl->arena_bytes > SIZE_MAX - XNND_TENSOR_ALIGN)
    return create_fail(err, XNND_OUT_OF_MEMORY, "planned arena does not fit in memory");

  const xnnd_allocator* a = &program->allocator;
  xnnd_method* m = xnnd_alloc_zeroed(a, sizeof(*m), 64);
  if (!m) return create_fail(err, XNND_OUT_OF_MEMORY, "out of memory allocating the method");
  m->program = program;
  m->decl = decl;
  atomic_init(&m->busy, false);
  atomic_init(&m->executed, false);
  xnnd_pool_init(&m->pool, a);

  xnnd_status status = XNND_OK;
  size_t arena_bytes = decl->arena_bytes ? (size_t)decl->arena_bytes : XNND_TENSOR_ALIGN;
  m->arena = xnnd_alloc(a, arena_bytes, XNND_TENSOR_ALIGN);
  m->tensors = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_values, sizeof(xnnd_tensor)), 8);
  m->bound = xnnd_pool_alloc(&m->pool, decl->num_inputs, 1);
  m->steps = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_steps, sizeof(step_rt)), 8);
  m->outputs = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_outputs, sizeof(xnnd_tensor)), 8);
  m->stage = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_inputs + 1, sizeof(void*)), 8);
  m->input_src = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_inputs + 1, sizeof(void*)), 8);
  if (!m->arena || !m->tensors || !m->bound || !m->steps || !m->outputs || !m->stage || !m->input_src) {
    snprintf(msg, sizeof(msg), "method \"%s\": out of memory (arena %zu bytes)", name, arena_bytes);
    status = XNND_OUT_OF_MEMORY;
  }

  if (status == XNND_OK) {
    for (uint32_t v = 0; v < decl->num_values; v++) {
      const xnnd_value_decl* vd = &decl->values[v];
      m->tensors[v] = vd->type;  /* constants already point at their bytes */
      if (vd->offset != XNND_NO_OFFSET) m->tensors[v].data = m->arena + vd->offset;
    }
    for (uint32_t i = 0; i < decl->num_inputs && status == XNND_OK; i++) {
      m->stage[i] = NULL;
      bool to_delegate = false;
      for (uint32_t s = 0; s < decl->num_steps && !to_delegate; s++) {
        const xnnd_step_decl* st = &decl->steps[s];
        for (uint32_t k = 0; st->kind != XNND_STEP_KERNEL && k < st->num_inputs; k++)
          to_delegate |= st->inputs[k] == (int32_t)decl->inputs[i];
      }
      if (!to_delegate) continue;
      size_t nbytes = (size_t)decl->values[decl->inputs[i]].nbytes;
      m->stage[i] = xnnd_pool_alloc(&m->pool, nbytes + XNND_TENSOR_ALIGN, XNND_TENSOR_ALIGN);
      if (!m->stage[i]) {
        snprintf(msg, sizeof(msg), "method \"%s\": out of memory staging input %u", name, i);
        status = XNND_OUT_OF_MEMORY;
        break;
      }
      m->tensors[decl->inputs[i]].data = m->stage[i];
    }
    for (uint32_t o = 0; o < decl->num_outputs; o++) {
      const xnnd_output_decl* od = &decl->outputs[o];
      m->outputs[o] = m->tensors[od->value];
      if (od->copy) m->outputs[o].data = m->arena + od->copy_offset;
    }
    uint32_t num_threads = options && options->num_threads ? options->num_threads : 1;
    m->profile = options && options->profile;
    m->backend_options = options ? options->backend_options : NULL;
    m->num_backend_options = options ? options->num_backend_options : 0;
    m->allow_non_finite_inputs = options && options->allow_non_finite_inputs;
    for (uint32_t k = 0; k < decl->num_syms; k++) m->syms[k] = decl->syms[k].max;
    if (decl->num_syms && status == XNND_OK) {
      m->in_dims = xnnd_pool_alloc(&m->pool, xnnd_mul_size(decl->num_inputs + 1, sizeof(*m->in_dims)), 8);
      if (!m->in_dims) {
        snprintf(msg, sizeof(msg), "method \"%s\": out of memory", name);
        status = XNND_OUT_OF_MEMORY;
      }
      for (uint32_t s = 0; s < decl->num_steps; s++) m->steps[s].dynamic = step_is_dynamic(decl, s);
    }
    for (uint32_t s = 0; s < decl->num_steps && status == XNND_OK; s++) {
      m->steps[s].decl = &decl->steps[s];
      if (decl->steps[s].kind == XNND_STEP_KERNEL)
        status = prepare_kernel(m, s, msg, sizeof(msg));
      else
        status = init_delegate(m, s, num_threads, msg, sizeof(msg));
    }
    m->backend_options = NULL;  /* borrowed for this call only */
    m->num_backend_options = 0;
  }
  if (status != XNND_OK) {
    xnnd_method_destroy(m);
    return create_fail(err, status, msg);
  }
  *method_out = m;
  return create_fail(err, XNND_OK, "");
}

void xnnd_method_destroy(xnnd_method* method) {
  if (!method) return;
  const xnnd_allocator* a = &method->program->allocator;
  if (method->steps) {
    for (uint32_t s = method->decl->num_steps; s-- > 0;) {
      step_rt* rt = &method->steps[s];
      if (rt->initialized) rt->backend->destroy(rt->handle);
    }
  }
  xnnd_pool_release(&method->pool);
  xnnd_free(a, method->arena);
  xnnd_free(a, method);
}

uint32_t xnnd_method_num_inputs(const xnnd_method* method) {
  return method ? method->decl->num_inputs : 0;
}

uint32_t xnnd_method_num_outputs(const xnnd_method* method) {
  return method ? method->decl->num_outputs : 0;
}

xnnd_status xnnd_method_input_info(const xnnd_method* method, uint32_t index,
                                   xnnd_tensor* info_out) {
  if (!method || !info_out || index >= method->decl->num_inputs) return XNND_INVALID_ARGUMENT;
  *info_out = method->decl->values[method->decl->inputs[index]].type;
  info_out->data = NULL;
  return XNND_OK;
}

xnnd_status xnnd_method_output_info(const xnnd_method* method, uint32_t index,
                                    xnnd_tensor* info_out) {
  if (!method || !info_out || index >= method->decl->num_outputs) return XNND_INVALID_ARGUMENT;
  *info_out = method->decl->values[method->decl->outputs[index].value].type;
  info_out->data = NULL;
  return XNND_OK;
}

static bool method_enter(xnnd_method* m) {
  return !atomic_exchange_explicit(&m->busy, true, memory_order_acquire);
}

static void method_leave(xnnd_method* m) { atomic_store_explicit(&m->busy, false, memory_order_release); }

/* ---- dynamic shapes ---- */

/* `s0 = 2, h = 7` for the symbols form x uses. */
static void format_sym_values(char* buf, size_t size, const xnnd_method_decl* d,
                              const xnnd_dimx* x, const int64_t* syms) {
  size_t n = 0;
  buf[0] = '\0';
  for (uint32_t k = 0; k < d->num_syms && n < size; k++)
    if (x->k[k] != 0)
      n += (size_t)snprintf(buf + n, size - n, "%s%s = %lld", n ? ", " : "", d->syms[k].name,
                            (long long)syms[k]);
}

/* Each dim of a symbolic input against its form, alone: a static dim must be equal; a dim
 * k*s+c must give an integral s within its range; a dim over several symbols must lie within
 * its bounds (the relation between inputs is checked at execute, once every symbol is known). */
static xnnd_status check_dynamic_input(xnnd_method* m, uint32_t index, const xnnd_tensor* input) {
  const xnnd_method_decl* d = m->decl;
  const xnnd_value_decl* v = &d->values[d->inputs[index]];
  char type[160], form[96], got[160];
  xnnd_format_sym_type(type, sizeof(type), v, d);
  if (input->rank != v->type.rank) {
    if (input->rank <= XNND_MAX_RANK) xnnd_format_type(got, sizeof(got), input);
    else snprintf(got, sizeof(got), "rank %u", input->rank);
    return method_fail(m, XNND_SHAPE_MISMATCH, "input %u: expected %s, got %s", index, type, got);
  }
  for (uint32_t k = 0; k < v->type.rank; k++) {
    const xnnd_dimx* x = &v->dimx[k];
    const int64_t dim = input->dims[k];
    const int64_t lo = xnnd_dimx_lower(x, d->syms, d->num_syms);
    const int64_t hi = xnnd_dimx_upper(x, d->syms, d->num_syms);
    xnnd_dimx_print(form, sizeof(form), x, d->syms, d->num_syms);
    if (xnnd_dimx_is_const(x)) {
      if (dim != x->c)
        return method_fail(m, XNND_SHAPE_MISMATCH, "input %u dim %u = %lld: expected %lld (%s)",
                           index, k, (long long)dim, (long long)x->c, type);
      continue;
    }
    int s = xnnd_dimx_single_symbol(x);
    if (s < 0) {
      if (dim < lo || dim > hi)
        return method_fail(m, XNND_SHAPE_MISMATCH,
                           "input %u dim %u = %lld: %s must be in %lld..%lld (%s)", index, k,
                           (long long)dim, form, (long long)lo, (long long)hi, type);
      continue;
    }
    const xnnd_symbol* sym = &d->syms[s];
    /* dim within [lo, hi] first: then dim - c cannot overflow */
    if (dim < lo || dim > hi || (dim - x->c) % x->k[s] != 0) {
      if (x->k[s] == 1 && x->c == 0)
        return method_fail(m, XNND_SHAPE_MISMATCH, "input %u dim %u = %lld: %s must be in %lld..%lld (%s)",
                           index, k, (long long)dim, sym->name, (long long)sym->min,
                           (long long)sym->max, type);
      return method_fail(m, XNND_SHAPE_MISMATCH,
                         "input %u dim %u = %lld: must be %s with %s in %lld..%lld (%lld..%lld in "
                         "steps of %lld) (%s)", index, k, (long long)dim, form, sym->name,
                         (long long)sym->min, (long long)sym->max, (long long)lo, (long long)hi,
                         (long long)x->k[s], type);
    }
  }
  return XNND_OK;
}

/* The symbol values the bound inputs give (each from the input dim the loader chose), after
 * checking every symbolic input dim equals its form at them. Nothing is changed on failure. */
static xnnd_status solve_symbols(xnnd_method* m, int64_t* syms) {
  const xnnd_method_decl* d = m->decl;
  for (uint32_t s = 0; s < d->num_syms; s++) {
    const xnnd_dimx* x = &d->values[d->inputs[d->solve_input[s]]].dimx[d->solve_dim[s]];
    syms[s] = (m->in_dims[d->solve_input[s]][d->solve_dim[s]] - x->c) / x->k[s];
  }
  for (uint32_t i = 0; i < d->num_inputs; i++) {
    const xnnd_value_decl* v = &d->values[d->inputs[i]];
    for (uint32_t k = 0; v->dimx && k < v->type.rank; k++) {
      int64_t want = xnnd_dimx_eval(&v->dimx[k], syms, d->num_syms);
      if (m->in_dims[i][k] == want) continue;
      char form[96], vals[160], type[160];
      xnnd_dimx_print(form, sizeof(form), &v->dimx[k], d->syms, d->num_syms);
      format_sym_values(vals, sizeof(vals), d, &v->dimx[k], syms);
      xnnd_format_sym_type(type, sizeof(type), v, d);
      int s = 0;  /* a symbol of this form, to say where its value came from */
      while (s < (int)d->num_syms - 1 && v->dimx[k].k[s] == 0) s++;
      return method_fail(m, XNND_SHAPE_MISMATCH,
                         "method \"%s\": input %u dim %u = %lld breaks a relation: %s must be "
                         "%lld with %s (%s read from input %u dim %u) (%s)", d->name, i, k,
                         (long long)m->in_dims[i][k], form, (long long)want, vals,
                         d->syms[s].name, d->solve_input[s], d->solve_dim[s], type);
    }
  }
  return XNND_OK;
}

/* Evaluate every symbolic dim and attribute at syms, re-prepare the kernel steps that use
 * them and reshape the delegates. Allocates nothing (a backend's reshape may, on a shape it
 * has not cached). */
static xnnd_status apply_symbols(xnnd_method* m, const int64_t* syms, char* msg, size_t msg_size) {
  const xnnd_method_decl* d = m->decl;
  for (uint32_t k = 0; k < d->num_syms; k++) m->syms[k] = syms[k];
  for (uint32_t v = 0; v < d->num_values; v++) {
    const xnnd_value_decl* vd = &d->values[v];
    for (uint32_t k = 0; vd->dimx && k < vd->type.rank; k++)
      m->tensors[v].dims[k] = xnnd_dimx_eval(&vd->dimx[k], syms, d->num_syms);
  }
  for (uint32_t o = 0; o < d->num_outputs; o++)
    memcpy(m->outputs[o].dims, m->tensors[d->outputs[o].value].dims, sizeof(m->outputs[o].dims));
  for (uint32_t s = 0; s < d->num_steps; s++) {
    const xnnd_step_decl* st = &d->steps[s];
    step_rt* rt = &m->steps[s];
    char where[160], kmsg[XNND_ERRMSG_SIZE / 2];
    kmsg[0] = '\0';
    xnnd_status status = XNND_OK;
    if (st->kind == XNND_STEP_KERNEL) {
      if (!rt->dynamic) continue;
      for (uint32_t a = 0; rt->attrs_rt && a < st->num_attrs; a++) {
        int64_t* ints = (int64_t*)rt->attrs_rt[a].ints;  /* method-owned (prepare_kernel) */
        for (uint32_t j = 0; st->attr_dimx[a] && j < st->attrs[a].n; j++)
          ints[j] = xnnd_dimx_eval(&st->attr_dimx[a][j], syms, d->num_syms);
      }
      memset(rt->params, 0, XNND_KERNEL_PARAMS_SIZE);  /* as at creation */
      status = st->kernel->prepare(&rt->args, rt->params, kmsg, sizeof(kmsg));
    } else if (rt->backend->reshape) {
      for (uint32_t i = 0; i < st->num_inputs; i++) {  /* data NULL (backend.h); execute sets it */
        memcpy(rt->in_views[i].dims, m->tensors[st->inputs[i]].dims, sizeof(rt->in_views[i].dims));
        rt->in_views[i].data = NULL;
      }
      for (uint32_t i = 0; i < st->num_outputs; i++) {
        memcpy(rt->out_views[i].dims, m->tensors[st->outputs[i]].dims, sizeof(rt->out_views[i].dims));
        rt->out_views[i].data = NULL;
      }
      status = rt->backend->reshape(rt->handle, syms, d->num_syms, rt->in_views, st->num_inputs,
                                    rt->out_views, st->num_outputs, kmsg, sizeof(kmsg));
    }
    if (status != XNND_OK) {
      step_where(where, sizeof(where), d, s);
      return xnnd_errf(msg, msg_size, status, "%s: %s at %s", where,
                       kmsg[0] ? kmsg : xnnd_status_str(status),
                       st->kind == XNND_STEP_KERNEL ? "the new shapes" : "reshape");
    }
  }
  return XNND_OK;
}

/* Bring the method to the symbol values of the bound inputs; on failure back to the values
 * it had (the method stays usable there). */
static xnnd_status reshape_method(xnnd_method* m) {
  const xnnd_method_decl* d = m->decl;
  int64_t syms[XNND_MAX_SYMS], old[XNND_MAX_SYMS];
  xnnd_status status = solve_symbols(m, syms);
  if (status != XNND_OK) return status;
  if (memcmp(syms, m->syms, sizeof(int64_t) * d->num_syms) == 0) return XNND_OK;
  memcpy(old, m->syms, sizeof(old));
  char msg[XNND_ERRMSG_SIZE - 64];
  status = apply_symbols(m, syms, msg, sizeof(msg));
  if (status == XNND_OK) return XNND_OK;
  char back[XNND_ERRMSG_SIZE / 2];
  /* Always possible unless a backend cannot go back to a shape it ran before. */
  if (old[0] < 0 || apply_symbols(m, old, back, sizeof(back)) != XNND_OK) {
    m->syms[0] = -1;  /* unknown state: the next execute reshapes from scratch */
    return method_fail(m, status, "%s (and restoring the previous shapes failed)", msg);
  }
  return method_fail(m, status, "%s; the method stays at its previous shapes", msg);
}

static xnnd_status set_input(xnnd_method* method, uint32_t index, const xnnd_tensor* input);

xnnd_status xnnd_method_set_input(xnnd_method* method, uint32_t index, const xnnd_tensor* input) {
  if (!method) return XNND_INVALID_ARGUMENT;
  /* No message on BUSY: errmsg belongs to the call that holds the method. */
  if (!method_enter(method)) return XNND_BUSY;
  xnnd_status status = set_input(method, index, input);
  method_leave(method);
  return status;
}

static xnnd_status set_input(xnnd_method* method, uint32_t index, const xnnd_tensor* input) {
  const xnnd_method_decl* d = method->decl;
  if (!input) return method_fail(method, XNND_INVALID_ARGUMENT, "input %u: tensor is NULL", index);
  if (index >= d->num_inputs)
    return method_fail(method, XNND_WRONG_INPUT_COUNT,
                       "input %u: method \"%s\" has %u inputs", index, d->name, d->num_inputs);
  const xnnd_value_decl* v = &d->values[d->inputs[index]];
  char want[160], got[160];
  if (input->dtype != v->type.dtype) {
    xnnd_format_type(want, sizeof(want), &v->type);
    return method_fail(method, XNND_DTYPE_MISMATCH, "input %u: expected %s, got dtype %s", index,
                       want, xnnd_dtype_name(input->dtype));
  }
  if (v->dimx) {
    xnnd_status status = check_dynamic_input(method, index, input);
    if (status != XNND_OK) return status;
  }
  bool same = input->rank == v->type.rank;
  for (uint32_t i = 0; !v->dimx && same && i < input->rank; i++) same = input->dims[i] == v->type.dims[i];
  if (!same) {
    xnnd_format_type(want, sizeof(want), &v->type);
    if (input->rank <= XNND_MAX_RANK)
      xnnd_format_type(got, sizeof(got), input);
    else
      snprintf(got, sizeof(got), "rank %u", input->rank);
    return method_fail(method, XNND_SHAPE_MISMATCH, "input %u: expected %s, got %s", index, want,
                       got);
  }
  if (!input->data && v->nbytes > 0)
    return method_fail(method, XNND_INVALID_ARGUMENT, "input %u: data is NULL", index);
  size_t align = xnnd_dtype_size(v->type.dtype);
  if (((uintptr_t)input->data & (align - 1)) != 0)
    return method_fail(method, XNND_INVALID_ARGUMENT,
                       "input %u: data %p is not aligned to its %zu-byte elements", index,
                       input->data, align);
  method->input_src[index] = input->data;
  if (!method->stage[index]) method->tensors[d->inputs[index]].data = input->data;
  if (v->dimx) memcpy(method->in_dims[index], input->dims, sizeof(int64_t) * v->type.rank);
  method->bound[index] = true;
  return XNND_OK;
}

/* The first NaN or infinity in a bound f32/f16 input, as a failure naming input and element
 * (flat row-major index). */
static xnnd_status check_finite_inputs(xnnd_method* method) {
  const xnnd_method_decl* d = method->decl;
  for (uint32_t i = 0; i < d->num_inputs; i++) {
    const xnnd_value_decl* v = &d->values[d->inputs[i]];
    /* the bound shape (a symbolic input's dims were evaluated at its symbols) */
    size_t n = xnnd_tensor_numel(&method->tensors[d->inputs[i]]);
    size_t bad = SIZE_MAX;
    bool is_nan = false;
    if (v->type.dtype == XNND_F32) {
      const uint32_t* x = method->input_src[i];
      for (size_t k = 0; k < n && bad == SIZE_MAX; k++)
        if ((x[k] & 0x7f800000u) == 0x7f800000u) bad = k, is_nan = (x[k] & 0x007fffffu) != 0;
    } else if (v->type.dtype == XNND_F16) {
      const uint16_t* x = method->input_src[i];
      for (size_t k = 0; k < n && bad == SIZE_MAX; k++)
        if ((x[k] & 0x7c00u) == 0x7c00u) bad = k, is_nan = (x[k] & 0x03ffu) != 0;
    }
    if (bad != SIZE_MAX)
      return method_fail(method, XNND_NON_FINITE_INPUT,
                         "method \"%s\": input %u element %zu (flat index) is %s; non-finite "
                         "inputs are refused unless xnnd_method_options.allow_non_finite_inputs "
                         "is set", d->name, i, bad, is_nan ? "NaN" : "infinite");
  }
  return XNND_OK;
}

static xnnd_status execute(xnnd_method* method);

xnnd_status xnnd_method_execute(xnnd_method* method) {
  if (!method) return XNND_INVALID_ARGUMENT;
  /* No message on BUSY: errmsg belongs to the call that holds the method. */
  if (!method_enter(method)) return XNND_BUSY;
  atomic_store_explicit(&method->executed, false, memory_order_relaxed);
  xnnd_status status = execute(method);
  if (status == XNND_OK) atomic_store_explicit(&method->executed, true, memory_order_relaxed);
  method_leave(method);
  return status;
}

static xnnd_status execute(xnnd_method* method) {
  const xnnd_method_decl* d = method->decl;
  for (uint32_t i = 0; i < d->num_inputs; i++)
    if (!method->bound[i])
      return method_fail(method, XNND_INVALID_STATE,
                         "method \"%s\": input %u (value %u) is not bound; call "
                         "xnnd_method_set_input first", d->name, i, d->inputs[i]);
  uint64_t t_exec = method->profile ? now_ns() : 0;
  if (d->num_syms) {
    xnnd_status status = reshape_method(method);
    if (status != XNND_OK) return status;
  }
  if (!method->allow_non_finite_inputs) {
    xnnd_status status = check_finite_inputs(method);
    if (status != XNND_OK) return status;
  }
  for (uint32_t i = 0; i < d->num_inputs; i++) {
    const xnnd_tensor* t = &method->tensors[d->inputs[i]];
    size_t nbytes = d->num_syms ? xnnd_tensor_numel(t) * xnnd_dtype_size(t->dtype)
                                : (size_t)d->values[d->inputs[i]].nbytes;
    if (method->stage[i] && nbytes > 0) memcpy(method->stage[i], method->input_src[i], nbytes);
  }
  for (uint32_t s = 0; s < d->num_steps; s++) {
    const xnnd_step_decl* st = &d->steps[s];
    step_rt* rt = &method->steps[s];
    xnnd_status status;
    char where[160];
    uint64_t t_step = method->profile ? now_ns() : 0;
    if (st->kind == XNND_STEP_KERNEL) {
      method->kernel_msg[0] = '\0';
      status = st->kernel->run(&rt->args, rt->params);
      if (status != XNND_OK) {
        step_where(where, sizeof(where), d, s);
        if (method->kernel_msg[0])
          return method_fail(method, status, "%s: %s", where, method->kernel_msg);
        return method_fail(method, status, "%s: kernel failed: %s", where,
                           xnnd_status_str(status));
      }
      if (rt->has_range) clamp_output(rt->args.outputs[0], rt->range_min, rt->range_max);
    } else {
      for (uint32_t i = 0; i < st->num_inputs; i++)
        rt->in_views[i].data = method->tensors[st->inputs[i]].data;
      for (uint32_t i = 0; i < st->num_outputs; i++)
        rt->out_views[i].data = method->tensors[st->outputs[i]].data;
      char bmsg[XNND_ERRMSG_SIZE / 2];
      bmsg[0] = '\0';
      status = rt->backend->execute(rt->handle, rt->in_views, st->num_inputs, rt->out_views,
                                    st->num_outputs, bmsg, sizeof(bmsg));
      if (status != XNND_OK) {
        step_where(where, sizeof(where), d, s);
        return method_fail(method, status, "%s: %s", where,
                           bmsg[0] ? bmsg : xnnd_status_str(status));
      }
    }
    if (method->profile) {
      rt->runs++;
      rt->total_ns += now_ns() - t_step;
    }
  }
  for (uint32_t o = 0; o < d->num_outputs; o++) {
    const xnnd_output_decl* od = &d->outputs[o];
    const xnnd_tensor* t = &method->tensors[od->value];
    size_t nbytes = d->num_syms ? xnnd_tensor_numel(t) * xnnd_dtype_size(t->dtype)
                                : (size_t)d->values[od->value].nbytes;
    if (od->copy && nbytes > 0) memcpy(method->outputs[o].data, t->data, nbytes);
  }
  if (method->profile) {
    method->executes++;
    method->execute_ns += now_ns() - t_exec;
  }
  method->errmsg[0] = '\0';
  return XNND_OK;
}

uint32_t xnnd_method_num_steps(const xnnd_method* method) { return method ? method->decl->num_steps : 0; }

xnnd_status xnnd_method_get_step_profile(const xnnd_method* method, uint32_t step, xnnd_step_profile* out) {
  if (!method || !out || step >= method->decl->num_steps) return XNND_INVALID_ARGUMENT;
  if (!method->profile) return XNND_INVALID_STATE;
  const xnnd_step_decl* st = &method->decl->steps[step];
  const step_rt* rt = &method->steps[step];
  memset(out, 0, sizeof(*out));
  out->is_delegate = st->kind != XNND_STEP_KERNEL;
  out->name = out->is_delegate ? rt->backend->name : st->op_name;
  out->runs = rt->runs;
  out->total_ns = rt->total_ns;
  xnnd_backend_profile bp;
  if (out->is_delegate && rt->backend->get_profile && rt->backend->get_profile(rt->handle, &bp) == XNND_OK) {
    out->compute_ns = bp.compute_ns;
    out->boundary_ns = bp.boundary_ns;
    out->own_kernel_ns = bp.own_kernel_ns;
  }
  return XNND_OK;
}

size_t xnnd_method_describe_step(const xnnd_method* method, uint32_t step, char* buf, size_t size) {
  if (buf != NULL && size > 0) buf[0] = '\0';
  if (!method || step >= method->decl->num_steps) return 0;
  const step_rt* rt = &method->steps[step];
  if (method->decl->steps[step].kind == XNND_STEP_KERNEL || rt->backend == NULL || rt->backend->describe == NULL)
    return 0;
  return rt->backend->describe(rt->handle, buf, buf != NULL ? size : 0);
}

xnnd_status xnnd_method_get_execute_profile(const xnnd_method* method, uint64_t* runs_out, uint64_t* total_ns_out) {
  if (!method || !runs_out || !total_ns_out) return XNND_INVALID_ARGUMENT;
  if (!method->profile) return XNND_INVALID_STATE;
  *runs_out = method->executes;
  *total_ns_out = method->execute_ns;
  return XNND_OK;
}

xnnd_status xnnd_method_get_output(const xnnd_method* method, uint32_t index,
                                   xnnd_tensor* output_out) {
  if (!method || !output_out || index >= method->decl->num_outputs) return XNND_INVALID_ARGUMENT;
  /* The object is not const; only the atomics are read. */
  xnnd_method* m = (xnnd_method*)method;
  if (atomic_load_explicit(&m->busy, memory_order_acquire)) return XNND_BUSY;
  if (!atomic_load_explicit(&m->executed, memory_order_relaxed)) return XNND_NOT_EXECUTED;
  *output_out = method->outputs[index];
  return XNND_OK;
}

const char* xnnd_method_errmsg(const xnnd_method* method) {
  return method ? method->errmsg : "";
}

uint32_t xnnd_method_num_symbols(const xnnd_method* method) {
  return method ? method->decl->num_syms : 0;
}

xnnd_status xnnd_method_get_symbol(const xnnd_method* method, uint32_t index,
                                   xnnd_symbol_info* info_out) {
  if (!method || !info_out || index >= method->decl->num_syms) return XNND_INVALID_ARGUMENT;
  const xnnd_symbol* sym = &method->decl->syms[index];
  info_out->name = sym->name;
  info_out->min = sym->min;
  info_out->max = sym->max;
  info_out->value = method->syms[index];
  return XNND_OK;
}

xnnd_status xnnd_method_input_dim_range(const xnnd_method* method, uint32_t input, uint32_t dim,
                                        int64_t* min_out, int64_t* max_out) {
  if (!method || !min_out || !max_out || input >= method->decl->num_inputs) return XNND_INVALID_ARGUMENT;
  const xnnd_method_decl* d = method->decl;
  const xnnd_value_decl* v = &d->values[d->inputs[input]];
  if (dim >= v->type.rank) return XNND_INVALID_ARGUMENT;
  if (v->dimx) {
    *min_out = xnnd_dimx_lower(&v->dimx[dim], d->syms, d->num_syms);
    *max_out = xnnd_dimx_upper(&v->dimx[dim], d->syms, d->num_syms);
  } else {
    *min_out = *max_out = v->type.dims[dim];
  }
  return XNND_OK;
}

size_t xnnd_method_input_type_str(const xnnd_method* method, uint32_t input, char* buf,
                                  size_t size) {
  if (buf && size > 0) buf[0] = '\0';
  if (!method || input >= method->decl->num_inputs) return 0;
  const xnnd_method_decl* d = method->decl;
  return xnnd_format_sym_type(buf, buf ? size : 0, &d->values[d->inputs[input]], d);
}
