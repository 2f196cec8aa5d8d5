/* The XNNPACK delegate: init verifies the blob completely, defines the subgraph with blob
 * value ids as XNNPACK ids, creates the runtime once on its own pthreadpool and allocates the
 * NHWC staging buffers; execute converts at the boundary, re-runs xnn_setup_runtime only when
 * a bound pointer changed, invokes, and converts outputs back. Execute never allocates.
 * A delegate instance is used by one thread at a time (the XNNPACK runtime is stateful). */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pthreadpool.h>
#include <time.h>

#include "backends/xnnpack/xnnpack_backend.h"
#include "pte_format.h"
#include "xnnpack_internal.h"

/* One external value of the delegate call. */
typedef struct xnn_boundary {
  uint32_t value_id;
  bool convert;                 /* NCHW in the program, NHWC inside, and the orders differ */
  xnnd_dtype dtype;
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];  /* program (NCHW) dims, checked every execute */
  size_t n, c, hw, elem_size;
  void* staging;                /* NHWC buffer when convert */
} xnn_boundary;

typedef struct xnn_delegate {
  xnnd_allocator allocator;
  void* blob_copy;              /* only when the caller's blob was misaligned */
  pthreadpool_t pool;
  xnn_runtime_t runtime;
  uint32_t num_inputs, num_outputs;
  xnn_boundary* ext;            /* inputs then outputs */
  struct xnn_external_value* bindings;  /* parallel to ext: what XNNPACK was last set up with */
  bool set_up;
  bool profile;
  xnnd_backend_profile stats;
} xnn_delegate;

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static xnnd_status fail(char* err, size_t err_size, xnnd_status status, const char* fmt, ...) {
  if (err != NULL && err_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return status;
}

static const char* xnn_status_name(enum xnn_status s) {
  switch (s) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
    default: return "unknown XNNPACK status";
  }
}

static void* dalloc(const xnnd_allocator* a, size_t size, size_t alignment) {
  if (size == 0) size = 1;
  if (a != NULL && a->alloc != NULL) return a->alloc(a->context, size, alignment);
  void* p = NULL;
  return posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) == 0 ? p : NULL;
}

static void dfree(const xnnd_allocator* a, void* p) {
  if (p == NULL) return;
  if (a != NULL && a->alloc != NULL) {
    if (a->free != NULL) a->free(a->context, p);
  } else {
    free(p);
  }
}

/* ---- is_available: xnn_initialize exactly once per process ---- */
static pthread_once_t g_init_once = PTHREAD_ONCE_INIT;
static enum xnn_status g_init_status = xnn_status_uninitialized;

static void initialize_once(void) { g_init_status = xnn_initialize(NULL); }

static bool xnnpack_is_available(void) {
  pthread_once(&g_init_once, initialize_once);
  return g_init_status == xnn_status_success;
}

static void xnnpack_destroy(void* handle) {
  xnn_delegate* d = handle;
  if (d == NULL) return;
  if (d->runtime != NULL) xnn_delete_runtime(d->runtime);
  xnnd_xnn_pool_release(d->pool);
  uint32_t total = d->num_inputs + d->num_outputs;
  if (d->ext != NULL)
    for (uint32_t i = 0; i < total; i++) dfree(&d->allocator, d->ext[i].staging);
  dfree(&d->allocator, d->ext);
  dfree(&d->allocator, d->bindings);
  dfree(&d->allocator, d->blob_copy);
  xnnd_allocator a = d->allocator;
  dfree(&a, d);
}

static xnnd_status define_subgraph(const xnnd_xblob* b, xnn_subgraph_t sg, char* err, size_t err_size) {
  for (uint32_t i = 0; i < b->values.len; i++) {
    xnnd_xvalue v;
    xnnd_xvalue_read(b, i, &v);
    size_t dims[XNND_XNN_MAX_DIMS];
    for (uint32_t d = 0; d < v.rank; d++) dims[d] = v.dims[d];
    const void* data = v.constant_size > 0 ? b->constants + v.constant_offset : NULL;
    uint32_t flags = 0, id = 0;
    if (v.flags & XNND_XVALUE_EXTERNAL_INPUT) flags |= XNN_VALUE_FLAG_EXTERNAL_INPUT;
    if (v.flags & XNND_XVALUE_EXTERNAL_OUTPUT) flags |= XNN_VALUE_FLAG_EXTERNAL_OUTPUT;
    enum xnn_status s;
    switch (v.datatype) {
      case XNND_XNNPACK_DataType_QINT8:
      case XNND_XNNPACK_DataType_QUINT8:
      case XNND_XNNPACK_DataType_QINT32:
        s = xnn_define_quantized_tensor_value(sg, (enum xnn_datatype)v.datatype, v.zero_point, v.scale, v.rank, dims,
                                              data, i, flags, &id);
        break;
      case XNND_XNNPACK_DataType_QCINT8:
      case XNND_XNNPACK_DataType_QCINT32:
        s = xnn_define_channelwise_quantized_tensor_value(sg, (enum xnn_datatype)v.datatype,
                                                          (const float*)v.channel_scales.data, v.rank, v.channel_dim,
                                                          dims, data, i, flags, &id);
        break;
      default:
        s = xnn_define_tensor_value(sg, (enum xnn_datatype)v.datatype, v.rank, dims, data, i, flags, &id);
        break;
    }
    if (s != xnn_status_success)
      return fail(err, err_size, XNND_BACKEND_ERROR, "values[%u]: XNNPACK rejected the value (%s)", i, xnn_status_name(s));
  }
  for (uint32_t i = 0; i < b->nodes.len; i++) {
    fb_table entry = fb_vec_table(b->nodes, i);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
    enum xnn_status s = kind->define(sg, fb_table_field(entry, XNND_XNNPACK_NodeEntry_node));
    if (s != xnn_status_success)
      return fail(err, err_size, XNND_BACKEND_ERROR, "nodes[%u] (%s): XNNPACK rejected the node (%s)", i, kind->name,
                  xnn_status_name(s));
  }
  return XNND_OK;
}

static xnnd_status xnnpack_init(const xnnd_backend_init_args* args, void** handle_out, char* err, size_t err_size) {
  if (handle_out == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "handle_out is NULL");
  *handle_out = NULL;
  if (args == NULL || args->blob == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "no blob");
  if (!xnnpack_is_available())
    return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_initialize failed (%s)", xnn_status_name(g_init_status));
  const xnnd_allocator* alloc = args->allocator;

  xnn_delegate* d = dalloc(alloc, sizeof(*d), 64);
  if (d == NULL) return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating the delegate");
  memset(d, 0, sizeof(*d));
  if (alloc != NULL) d->allocator = *alloc;
  d->profile = args->profile;

  /* The flatbuffer must be 4-aligned and constants element-aligned in memory; a blob at an
   * odd address is copied once rather than rejected. */
  const uint8_t* blob = args->blob;
  if (((uintptr_t)blob & 15u) != 0) {
    d->blob_copy = dalloc(alloc, args->blob_size, 64);
    if (d->blob_copy == NULL) {
      xnnpack_destroy(d);
      return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory copying a misaligned blob");
    }
    memcpy(d->blob_copy, blob, args->blob_size);
    blob = d->blob_copy;
  }

  xnnd_xblob view;
  xnnd_status st = xnnd_xblob_verify(blob, args->blob_size, args->inputs, args->num_inputs, args->outputs,
                                     args->num_outputs, &view, err, err_size);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }

  uint8_t* scratch = dalloc(alloc, view.values.len, 64);
  if (scratch == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory verifying the blob dataflow");
  }
  st = xnnd_xblob_verify_dataflow(&view, scratch, err, err_size);
  dfree(alloc, scratch);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }

  d->num_inputs = args->num_inputs;
  d->num_outputs = args->num_outputs;
  uint32_t total = d->num_inputs + d->num_outputs;
  d->ext = dalloc(alloc, sizeof(*d->ext) * total, 64);
  if (d->ext != NULL) memset(d->ext, 0, sizeof(*d->ext) * total);
  d->bindings = dalloc(alloc, sizeof(*d->bindings) * total, 64);
  if (d->ext == NULL || d->bindings == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating boundary tables");
  }
  for (uint32_t i = 0; i < total; i++) {
    bool is_input = i < d->num_inputs;
    uint32_t k = is_input ? i : i - d->num_inputs;
    const xnnd_tensor* t = is_input ? &args->inputs[k] : &args->outputs[k];
    xnn_boundary* e = &d->ext[i];
    e->value_id = fb_vec_u32(is_input ? view.input_ids : view.output_ids, k);
    e->dtype = t->dtype;
    e->rank = t->rank;
    memcpy(e->dims, t->dims, sizeof(e->dims));
    e->elem_size = xnnd_dtype_size(t->dtype);
    xnnd_xvalue v;
    xnnd_xvalue_read(&view, e->value_id, &v);
    if (v.flags & XNND_XVALUE_NCHW_BOUNDARY) {
      e->n = (size_t)t->dims[0];
      e->c = (size_t)t->dims[1];
      e->hw = (size_t)t->dims[2] * (size_t)t->dims[3];
      /* With C == 1 or H == W == 1 both orders are the same bytes: bind the program pointer. */
      e->convert = e->c != 1 && e->hw != 1;
    }
    if (e->convert) {
      /* XNNPACK may read up to XNN_EXTRA_BYTES past an input. */
      size_t bytes = e->n * e->c * e->hw * e->elem_size + XNN_EXTRA_BYTES;
      e->staging = dalloc(alloc, bytes, 64);
      if (e->staging == NULL) {
        xnnpack_destroy(d);
        return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %zu staging bytes for %s %u", bytes,
                    is_input ? "input" : "output", k);
      }
    }
    d->bindings[i].id = e->value_id;
    d->bindings[i].data = e->staging;
  }

  xnn_subgraph_t sg = NULL;
  enum xnn_status xs = xnn_create_subgraph(view.values.len, 0, &sg);
  if (xs != xnn_status_success) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_create_subgraph failed (%s)", xnn_status_name(xs));
  }
  st = define_subgraph(&view, sg, err, err_size);
  if (st != XNND_OK) {
    xnn_delete_subgraph(sg);
    xnnpack_destroy(d);
    return st;
  }
  /* More workers than online CPUs makes pthreadpool's spin-waits pathological (x1000
   * slower measured on 2 CPUs with 4 threads), so the pool is capped at the CPU count. */
  uint32_t threads = args->num_threads;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0 && threads > (uint32_t)cpus) threads = (uint32_t)cpus;
  if (threads > 1) {
    d->pool = xnnd_xnn_pool_acquire(threads);
    if (d->pool == NULL) {
      xnn_delete_subgraph(sg);
      xnnpack_destroy(d);
      return fail(err, err_size, XNND_OUT_OF_MEMORY, "no shared pthreadpool of %u threads could be created", threads);
    }
  }
  xs = xnn_create_runtime_v2(sg, d->pool, 0, &d->runtime);
  xnn_delete_subgraph(sg);
  if (xs != xnn_status_success) {
    d->runtime = NULL;
    xnnpack_destroy(d);
    return fail(err, err_size, xs == xnn_status_out_of_memory ? XNND_OUT_OF_MEMORY : XNND_BACKEND_ERROR,
                "xnn_create_runtime_v2 failed (%s)", xnn_status_name(xs));
  }
  *handle_out = d;
  return XNND_OK;
}

static xnnd_status check_tensor(const xnn_boundary* e, const xnnd_tensor* t, const char* what, uint32_t k, char* err,
                                size_t err_size) {
  if (t->data == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "%s %u has no data", what, k);
  if (t->dtype != e->dtype)
    return fail(err, err_size, XNND_DTYPE_MISMATCH, "%s %u is %s, the delegate was built for %s", what, k,
                xnnd_dtype_name(t->dtype), xnnd_dtype_name(e->dtype));
  bool same = t->rank == e->rank;
  for (uint32_t d = 0; same && d < e->rank; d++) same = t->dims[d] == e->dims[d];
  if (!same) return fail(err, err_size, XNND_SHAPE_MISMATCH, "%s %u shape differs from the one given at init", what, k);
  return XNND_OK;
}

static xnnd_status xnnpack_execute(void* handle, const xnnd_tensor* inputs, uint32_t num_inputs,
                                   const xnnd_tensor* outputs, uint32_t num_outputs, char* err, size_t err_size) {
  xnn_delegate* d = handle;
  if (d == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "no delegate");
  if (num_inputs != d->num_inputs || num_outputs != d->num_outputs)
    return fail(err, err_size, XNND_WRONG_INPUT_COUNT, "delegate takes %u inputs and %u outputs, got %u and %u",
                d->num_inputs, d->num_outputs, num_inputs, num_outputs);
  if ((num_inputs > 0 && inputs == NULL) || (num_outputs > 0 && outputs == NULL))
    return fail(err, err_size, XNND_INVALID_ARGUMENT, "tensor array is NULL");
  uint64_t t0 = d->profile ? now_ns() : 0;
  bool changed = !d->set_up;
  uint32_t total = num_inputs + num_outputs;
  for (uint32_t i = 0; i < total; i++) {
    bool is_input = i < num_inputs;
    uint32_t k = is_input ? i : i - num_inputs;
    const xnnd_tensor* t = is_input ? &inputs[k] : &outputs[k];
    xnn_boundary* e = &d->ext[i];
    xnnd_status st = check_tensor(e, t, is_input ? "input" : "output", k, err, err_size);
    if (st != XNND_OK) return st;
    if (e->convert) {
      if (is_input) xnnd_xnn_nchw_to_nhwc(t->data, e->staging, e->n, e->c, e->hw, e->elem_size);
      continue;  /* bound to staging since init */
    }
    if (d->bindings[i].data != t->data) {
      d->bindings[i].data = t->data;
      changed = true;
    }
  }
  if (changed) {
    enum xnn_status s = xnn_setup_runtime(d->runtime, total, d->bindings);
    if (s != xnn_status_success) {
      d->set_up = false;
      return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_setup_runtime failed (%s)", xnn_status_name(s));
    }
    d->set_up = true;
  }
  uint64_t t1 = d->profile ? now_ns() : 0;
  enum xnn_status s = xnn_invoke_runtime(d->runtime);
  if (s != xnn_status_success)
    return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_invoke_runtime failed (%s)", xnn_status_name(s));
  uint64_t t2 = d->profile ? now_ns() : 0;
  for (uint32_t k = 0; k < num_outputs; k++) {
    const xnn_boundary* e = &d->ext[num_inputs + k];
    if (e->convert) xnnd_xnn_nhwc_to_nchw(e->staging, outputs[k].data, e->n, e->c, e->hw, e->elem_size);
  }
  if (d->profile) {
    d->stats.executes++;
    d->stats.compute_ns += t2 - t1;
    d->stats.boundary_ns += (t1 - t0) + (now_ns() - t2);
  }
  return XNND_OK;
}

static xnnd_status xnnpack_get_profile(void* handle, xnnd_backend_profile* out) {
  const xnn_delegate* d = handle;
  if (d == NULL || out == NULL) return XNND_INVALID_ARGUMENT;
  *out = d->stats;
  return XNND_OK;
}

static const xnnd_backend k_xnnpack_backend = {
    .name = XNND_XNNPACK_BACKEND_NAME,
    .is_available = xnnpack_is_available,
    .init = xnnpack_init,
    .execute = xnnpack_execute,
    .destroy = xnnpack_destroy,
    .get_profile = xnnpack_get_profile,
};

const xnnd_backend* xnnd_xnnpack_backend_get(void) { return &k_xnnpack_backend; }
