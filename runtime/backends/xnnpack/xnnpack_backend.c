/* The XNNPACK delegate: init verifies the blob completely, plans the segments (runs of nodes
 * XNNPACK executes as one runtime, or one node xnnd's own kernel executes) and the buffers of
 * values crossing them, and builds the first instance on the delegate's pthreadpool: per
 * segment an XNNPACK runtime (blob value ids are XNNPACK ids) or an own kernel. Execute
 * converts at the boundary, re-runs xnn_setup_runtime only when a bound pointer changed,
 * invokes, and converts outputs back; it never allocates.
 *
 * Dynamic shapes (docs/ARCHITECTURE.md "Dynamic shapes"): the blob's dims are affine forms in
 * the method's symbols. Staging and crossing buffers are sized at init, where every symbol is
 * at its max, so they fit every shape. An instance (runtimes, own kernels, boundary shapes) is
 * built for one set of symbol values; `reshape` keeps the last `shape_cache` instances in an
 * LRU cache: a hit switches instance without allocating, a miss verifies the blob at the new
 * shape and builds one (this XNNPACK has no xnn_reshape_runtime, so rebuilding is the only
 * way). Own-kernel choices made at init are reused by node for every later instance.
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
#include "conv_kernels/f32_conv.h"
#include "pte_format.h"
#include "memory_plan.h"
#include "kernel_choice.h"
#include "xnnpack_internal.h"

/* Backend option shape_cache: instances kept for dynamic shapes. */
#define XNND_XNN_SHAPE_CACHE_DEFAULT 4u
#define XNND_XNN_SHAPE_CACHE_MAX 64u

/* One external value of the delegate call (what does not depend on the shape). */
typedef struct xnn_boundary {
  uint32_t value_id;
  bool convert;                 /* NCHW in the program, NHWC inside, and the orders differ */
  xnnd_dtype dtype;
  uint32_t rank;
  size_t elem_size;
  void* staging;                /* NHWC buffer when convert, sized for the largest shape */
} xnn_boundary;

/* An external value at one shape. */
typedef struct xnn_ext_shape {
  int64_t dims[XNND_MAX_RANK];  /* program (NCHW) dims, checked every execute */
  size_t n, c, hw;
} xnn_ext_shape;

/* One segment of an instance: an XNNPACK runtime, or one node xnnd's own kernel runs
 * (runtime/conv_kernels/). Values that cross from one segment to another live in
 * delegate-owned buffers. */
typedef struct xnn_segment {
  xnn_runtime_t runtime;        /* XNNPACK segment */
  uint32_t num_bindings;
  struct xnn_external_value* bindings;  /* what XNNPACK was last set up with */
  bool set_up;
  xnnd_xown own;                /* xnnd segment: own.kernel != NULL */
} xnn_segment;

/* Everything built for one set of symbol values. */
typedef struct xnn_instance {
  bool built;
  int64_t syms[XNND_MAX_SYMS];
  uint64_t last_use;            /* LRU clock */
  xnn_segment* segments;        /* num_segments */
  xnn_ext_shape* ext;           /* inputs then outputs */
} xnn_instance;

#define NO_SEGMENT UINT32_MAX
#define NO_CHOICE UINT32_MAX

typedef struct xnn_delegate {
  xnnd_allocator allocator;
  void* blob_copy;              /* only when the caller's blob was misaligned */
  xnnd_xblob view;              /* verified, at the init symbol values */
  pthreadpool_t pool;
  uint32_t num_inputs, num_outputs;
  xnn_boundary* ext;            /* inputs then outputs */
  uint32_t num_values;
  void** value_data;            /* per blob value: where a bound value lives (NULL: inside XNNPACK) */
  void* crossing;               /* arena of the values crossing segments */
  void* scratch;                /* shared by the own kernels (one runs at a time) */
  size_t scratch_bytes;
  /* Segment plan (the same at every shape). */
  uint32_t num_segments;
  uint32_t* seg_first;          /* per segment: first node; the segment ends where the next begins */
  uint32_t* seg_choice;         /* per segment: index in choices of its own-kernel node, or NO_CHOICE */
  uint32_t* producer;           /* per value: segment writing it, NO_SEGMENT for inputs/constants */
  bool* bound;                  /* per value: a delegate external or a crossing value */
  uint32_t* stamp;              /* per value: scratch of define_segment */
  /* Instances: one per shape seen, at most cache_capacity. */
  uint32_t num_syms;
  uint32_t cache_capacity, num_instances;
  xnn_instance* instances;
  xnn_instance* cur;
  uint64_t clock;
  uint64_t builds;              /* instances built (describe) */
  bool profile;
  xnnd_backend_profile stats;
  xnnd_choice_ctx choice_ctx;
  uint32_t num_choices;
  xnnd_kernel_choice* choices;  /* one per node an own kernel could take, in node order */
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

void* xnnd_xnn_alloc(const xnnd_allocator* a, size_t size, size_t alignment) {
  if (size == 0) size = 1;
  if (a != NULL && a->alloc != NULL) return a->alloc(a->context, size, alignment);
  void* p = NULL;
  return posix_memalign(&p, alignment < sizeof(void*) ? sizeof(void*) : alignment, size) == 0 ? p : NULL;
}

void xnnd_xnn_free(const xnnd_allocator* a, void* p) {
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

static void instance_release(const xnnd_allocator* a, uint32_t num_segments, xnn_instance* inst) {
  for (uint32_t i = 0; inst->segments != NULL && i < num_segments; i++) {
    xnn_segment* s = &inst->segments[i];
    if (s->runtime != NULL) xnn_delete_runtime(s->runtime);
    if (s->own.kernel != NULL) s->own.destroy(s->own.kernel, a);
    xnnd_xnn_free(a, s->bindings);
  }
  xnnd_xnn_free(a, inst->segments);
  xnnd_xnn_free(a, inst->ext);
  memset(inst, 0, sizeof(*inst));
}

static void xnnpack_destroy(void* handle) {
  xnn_delegate* d = handle;
  if (d == NULL) return;
  const xnnd_allocator* a = &d->allocator;
  for (uint32_t i = 0; d->instances != NULL && i < d->num_instances; i++)
    instance_release(a, d->num_segments, &d->instances[i]);
  xnnd_xnn_free(a, d->instances);
  xnnd_xnn_pool_release(d->pool);
  uint32_t total = d->num_inputs + d->num_outputs;
  if (d->ext != NULL)
    for (uint32_t i = 0; i < total; i++) xnnd_xnn_free(a, d->ext[i].staging);
  xnnd_xnn_free(a, d->crossing);
  xnnd_xnn_free(a, d->scratch);
  xnnd_xnn_free(a, d->value_data);
  xnnd_xnn_free(a, d->ext);
  xnnd_xnn_free(a, d->seg_first);
  xnnd_xnn_free(a, d->seg_choice);
  xnnd_xnn_free(a, d->producer);
  xnnd_xnn_free(a, d->bound);
  xnnd_xnn_free(a, d->stamp);
  for (uint32_t i = 0; d->choices != NULL && i < d->num_choices; i++) xnnd_kernel_choice_release(a, &d->choices[i]);
  xnnd_xnn_free(a, d->choices);
  xnnd_xnn_free(a, d->blob_copy);
  xnnd_allocator copy = d->allocator;
  xnnd_xnn_free(&copy, d);
}

/* Value ids a node reads and writes (fields of its kind; absent optional inputs skipped). */
static uint32_t node_values(const xnnd_xnode_kind* kind, fb_table node, uint32_t ids[XNND_XNODE_MAX_INPUTS + 1]) {
  uint32_t n = 0;
  for (uint32_t k = 0; k < XNND_XNODE_MAX_INPUTS; k++) {
    uint32_t f = kind->input_fields[k];
    if (f == XNND_XNODE_NO_FIELD) continue;
    uint32_t id = fb_u32(node, f, f == kind->optional_input ? XNN_INVALID_VALUE_ID : 0);
    if (id != XNN_INVALID_VALUE_ID) ids[n++] = id;
  }
  ids[n++] = fb_u32(node, kind->output_field, 0);
  return n;
}

static uint32_t node_values_at(const xnnd_xblob* b, uint32_t i, uint32_t ids[XNND_XNODE_MAX_INPUTS + 1]) {
  fb_table entry = fb_vec_table(b->nodes, i);
  const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
  return node_values(kind, fb_table_field(entry, XNND_XNNPACK_NodeEntry_node), ids);
}

static uint8_t node_type_at(const xnnd_xblob* b, uint32_t i) {
  return fb_u8(fb_vec_table(b->nodes, i), XNND_XNNPACK_NodeEntry_node_type, 0);
}

xnnd_status xnnd_xnn_define_value(const xnnd_xblob* b, xnn_subgraph_t sg, uint32_t i, uint32_t flags, char* err,
                                  size_t err_size) {
  xnnd_xvalue v;
  xnnd_xvalue_read(b, i, &v);
  size_t dims[XNND_XNN_MAX_DIMS];
  for (uint32_t d = 0; d < v.rank; d++) dims[d] = v.dims[d];
  const void* data = v.constant_size > 0 ? b->constants + v.constant_offset : NULL;
  uint32_t id = 0;
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
  return XNND_OK;
}

/* Subgraph of the XNNPACK segment `seg` (nodes [first, end)) at the shape of view b: the
 * values its nodes touch, bound ones as external (output where the segment writes them,
 * input otherwise). Blob value ids are the XNNPACK ids. d->stamp must not hold seg + 1. */
static xnnd_status define_segment(const xnn_delegate* d, const xnnd_xblob* b, uint32_t seg, uint32_t first,
                                  uint32_t end, xnn_subgraph_t sg, uint32_t* num_bound, char* err, size_t err_size) {
  *num_bound = 0;
  for (uint32_t i = first; i < end; i++) {
    fb_table entry = fb_vec_table(b->nodes, i);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
    fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
    uint32_t ids[XNND_XNODE_MAX_INPUTS + 1];
    uint32_t n = node_values(kind, node, ids);
    for (uint32_t k = 0; k < n; k++) {
      uint32_t v = ids[k];
      if (d->stamp[v] == seg + 1) continue;
      d->stamp[v] = seg + 1;
      uint32_t flags = 0;
      if (d->bound[v]) {
        flags = d->producer[v] == seg ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
        (*num_bound)++;
      }
      xnnd_status st = xnnd_xnn_define_value(b, sg, v, flags, err, err_size);
      if (st != XNND_OK) return st;
    }
    enum xnn_status s = kind->define(sg, b, node);
    if (s != xnn_status_success)
      return fail(err, err_size, XNND_BACKEND_ERROR, "nodes[%u] (%s): XNNPACK rejected the node (%s)", i, kind->name,
                  xnn_status_name(s));
  }
  return XNND_OK;
}

/* Above this many (segments x values), cutting the blob would cost XNNPACK too much memory
 * (each subgraph reserves every blob id), so the whole blob stays one XNNPACK runtime. */
#define XNND_XNN_MAX_SEGMENT_VALUES ((uint64_t)1 << 24)

static uint32_t seg_end(const xnn_delegate* d, uint32_t seg) {
  return seg + 1 < d->num_segments ? d->seg_first[seg + 1] : d->view.nodes.len;
}

/* Decide which nodes xnnd's own kernels take (kernel_choice.c, at the init shape), cut the
 * blob into segments, and allocate the buffers of values crossing segments (sized at the init
 * shape, the largest). */
static xnnd_status plan_segments(xnn_delegate* d, char* err, size_t err_size) {
  const xnnd_allocator* a = &d->allocator;
  const xnnd_xblob* b = &d->view;
  uint32_t nv = b->values.len, nn = b->nodes.len;
  uint32_t* node_segment = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nn ? nn : 1), 64);
  uint32_t* last_use = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nv ? nv : 1), 64);
  bool* crossing = xnnd_xnn_alloc(a, sizeof(bool) * (size_t)(nv ? nv : 1), 64);
  uint32_t* choice_of = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nn ? nn : 1), 64);
  d->producer = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nv ? nv : 1), 64);
  d->stamp = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nv ? nv : 1), 64);
  d->bound = xnnd_xnn_alloc(a, sizeof(bool) * (size_t)(nv ? nv : 1), 64);
  xnnd_plan_tensor* tensors = NULL;
  xnnd_plan_live* live = NULL;
  xnnd_status st = XNND_OK;
  if (node_segment == NULL || last_use == NULL || crossing == NULL || choice_of == NULL || d->producer == NULL ||
      d->stamp == NULL || d->bound == NULL) {
    st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory planning delegate segments");
    goto done;
  }
  /* Which nodes xnnd's kernel takes (kernel_choice.c), and the segment of every node. */
  uint32_t candidates = 0;
  for (uint32_t i = 0; i < nn; i++)
    if (xnnd_xown_kind_get(node_type_at(b, i)) != NULL) candidates++;
  if (candidates > 0) {
    d->choices = xnnd_xnn_alloc(a, sizeof(*d->choices) * candidates, 64);
    if (d->choices == NULL) {
      st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory for %u kernel choices", candidates);
      goto done;
    }
    memset(d->choices, 0, sizeof(*d->choices) * candidates);
  }
  uint32_t segments = 0;
  bool prev_own = false;
  for (uint32_t i = 0; i < nn; i++) {
    bool own = false;
    choice_of[i] = NO_CHOICE;
    if (xnnd_xown_kind_get(node_type_at(b, i)) != NULL) {
      xnnd_kernel_choice* c = &d->choices[d->num_choices];
      st = xnnd_kernel_choose(&d->choice_ctx, b, i, c, err, err_size);
      d->num_choices++;  /* released by destroy even when choose failed half-way */
      if (st != XNND_OK) goto done;
      own = c->own;
      choice_of[i] = d->num_choices - 1;
    }
    if (i == 0 || own || prev_own) segments++;
    if (!own) choice_of[i] = NO_CHOICE;
    node_segment[i] = segments - 1;
    prev_own = own;
  }
  if ((uint64_t)segments * nv > XNND_XNN_MAX_SEGMENT_VALUES) {
    segments = nn ? 1 : 0;
    for (uint32_t i = 0; i < nn; i++) choice_of[i] = NO_CHOICE, node_segment[i] = 0;
    for (uint32_t k = 0; k < d->num_choices; k++)
      if (d->choices[k].own) d->choices[k].own = false, d->choices[k].why = "too many values to cut the blob";
  }
  d->seg_first = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(segments ? segments : 1), 64);
  d->seg_choice = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(segments ? segments : 1), 64);
  d->value_data = xnnd_xnn_alloc(a, sizeof(void*) * (size_t)(nv ? nv : 1), 64);
  if (d->seg_first == NULL || d->seg_choice == NULL || d->value_data == NULL) {
    st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating delegate segments");
    goto done;
  }
  d->num_segments = segments;
  for (uint32_t i = 0; i < nn; i++) {
    if (i == 0 || node_segment[i] != node_segment[i - 1]) {
      d->seg_first[node_segment[i]] = i;
      d->seg_choice[node_segment[i]] = choice_of[i];
    }
  }
  d->num_values = nv;
  memset(d->value_data, 0, sizeof(void*) * (size_t)(nv ? nv : 1));
  /* Producers, then the values consumed outside their producer's segment. */
  for (uint32_t v = 0; v < nv; v++) {
    xnnd_xvalue x;
    xnnd_xvalue_read(b, v, &x);
    d->producer[v] = NO_SEGMENT;
    d->stamp[v] = 0;
    last_use[v] = 0;
    crossing[v] = false;
    d->bound[v] = (x.flags & (XNND_XVALUE_EXTERNAL_INPUT | XNND_XVALUE_EXTERNAL_OUTPUT)) != 0;
  }
  for (uint32_t i = 0; i < nn; i++) {
    fb_table entry = fb_vec_table(b->nodes, i);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
    d->producer[fb_u32(fb_table_field(entry, XNND_XNNPACK_NodeEntry_node), kind->output_field, 0)] = node_segment[i];
  }
  /* Values read in a later segment than the one writing them live in one delegate-owned
   * arena, planned with lifetime reuse over segments by the program's own algorithm
   * (schema/memory_plan.h: 64-aligned slots with the 16 spare bytes XNNPACK may read). Sizes
   * are the init shape's, the largest: every form grows with every symbol. */
  uint32_t num_crossing = 0;
  for (uint32_t i = 0; i < nn; i++) {
    uint32_t ids[XNND_XNODE_MAX_INPUTS + 1];
    uint32_t n = node_values_at(b, i, ids);
    for (uint32_t k = 0; k < n; k++) {
      uint32_t v = ids[k];
      if (d->producer[v] == NO_SEGMENT || d->producer[v] == node_segment[i]) continue;
      if (!d->bound[v]) crossing[v] = d->bound[v] = true, num_crossing++;
      if (crossing[v] && node_segment[i] > last_use[v]) last_use[v] = node_segment[i];
    }
  }
  if (num_crossing > 0) {
    tensors = xnnd_xnn_alloc(a, sizeof(*tensors) * (size_t)num_crossing, 64);
    live = xnnd_xnn_alloc(a, sizeof(*live) * (size_t)num_crossing, 64);
    if (tensors == NULL || live == NULL) {
      st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory planning %u crossing values", num_crossing);
      goto done;
    }
    uint32_t t = 0;
    for (uint32_t i = 0; i < nn; i++) {  /* in the order segments write them */
      fb_table entry = fb_vec_table(b->nodes, i);
      const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
      uint32_t v = fb_u32(fb_table_field(entry, XNND_XNNPACK_NodeEntry_node), kind->output_field, 0);
      if (!crossing[v]) continue;
      xnnd_xvalue x;
      xnnd_xvalue_read(b, v, &x);
      tensors[t++] = (xnnd_plan_tensor){.nbytes = xnnd_xvalue_numel(&x) * xnnd_xdatatype_size(x.datatype),
                                        .first_step = node_segment[i], .last_step = last_use[v], .id = v};
    }
    uint64_t arena = 0;
    if (!xnnd_memory_plan(tensors, t, (uint64_t)SIZE_MAX / 2, live, &arena) ||
        (d->crossing = xnnd_xnn_alloc(a, (size_t)arena, 64)) == NULL) {
      st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %llu bytes for %u crossing values",
                (unsigned long long)arena, t);
      goto done;
    }
    for (uint32_t k = 0; k < t; k++) d->value_data[tensors[k].id] = (uint8_t*)d->crossing + tensors[k].offset;
  }
done:
  xnnd_xnn_free(a, live);
  xnnd_xnn_free(a, tensors);
  xnnd_xnn_free(a, choice_of);
  xnnd_xnn_free(a, crossing);
  xnnd_xnn_free(a, last_use);
  xnnd_xnn_free(a, node_segment);
  return st;
}

/* XNNPACK runtime of segment seg at the shape of view b. */
static xnnd_status build_xnn_segment(xnn_delegate* d, const xnnd_xblob* b, uint32_t seg, xnn_segment* sgm, char* err,
                                     size_t err_size) {
  const xnnd_allocator* a = &d->allocator;
  uint32_t first = d->seg_first[seg], end = seg_end(d, seg);
  xnn_subgraph_t sg = NULL;
  enum xnn_status xs = xnn_create_subgraph(b->values.len, 0, &sg);
  if (xs != xnn_status_success)
    return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_create_subgraph failed (%s)", xnn_status_name(xs));
  uint32_t num_bound = 0;
  xnnd_status st = define_segment(d, b, seg, first, end, sg, &num_bound, err, err_size);
  if (st == XNND_OK) {
    sgm->bindings = xnnd_xnn_alloc(a, sizeof(*sgm->bindings) * (size_t)(num_bound ? num_bound : 1), 64);
    if (sgm->bindings == NULL) st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating bindings");
  }
  if (st == XNND_OK) {
    xs = xnn_create_runtime_v2(sg, d->pool, 0, &sgm->runtime);
    if (xs != xnn_status_success) {
      sgm->runtime = NULL;
      st = fail(err, err_size, xs == xnn_status_out_of_memory ? XNND_OUT_OF_MEMORY : XNND_BACKEND_ERROR,
                "xnn_create_runtime_v2 failed (%s)", xnn_status_name(xs));
    }
  }
  xnn_delete_subgraph(sg);
  if (st != XNND_OK) return st;
  /* The bound values of the segment, in the order define_segment met them. */
  uint32_t k = 0;
  for (uint32_t i = first; i < end; i++) {
    uint32_t ids[XNND_XNODE_MAX_INPUTS + 1];
    uint32_t n = node_values_at(b, i, ids);
    for (uint32_t j = 0; j < n; j++) {
      uint32_t v = ids[j];
      if (!d->bound[v] || d->stamp[v] == UINT32_MAX) continue;
      d->stamp[v] = UINT32_MAX;  /* listed */
      sgm->bindings[k++] = (struct xnn_external_value){.id = v, .data = NULL};
    }
  }
  for (uint32_t j = 0; j < k; j++) d->stamp[sgm->bindings[j].id] = seg + 1;
  sgm->num_bindings = k;
  return XNND_OK;
}

/* Builds *inst at the shape of view b. The init instance (first) takes the own kernels the
 * choices created; later ones create them at their shape for the nodes the choices gave to
 * xnnd, falling back to an XNNPACK runtime where the own kernel does not take the node at
 * that shape. On failure *inst is released. */
static xnnd_status build_instance(xnn_delegate* d, const xnnd_xblob* b, bool first, xnn_instance* inst, char* err,
                                  size_t err_size) {
  const xnnd_allocator* a = &d->allocator;
  memset(inst, 0, sizeof(*inst));
  uint32_t total = d->num_inputs + d->num_outputs;
  size_t seg_bytes = sizeof(xnn_segment) * (size_t)(d->num_segments ? d->num_segments : 1);
  size_t ext_bytes = sizeof(xnn_ext_shape) * (size_t)(total ? total : 1);
  inst->segments = xnnd_xnn_alloc(a, seg_bytes, 64);
  if (inst->segments != NULL) memset(inst->segments, 0, seg_bytes);
  inst->ext = xnnd_xnn_alloc(a, ext_bytes, 64);
  if (inst->ext != NULL) memset(inst->ext, 0, ext_bytes);
  if (inst->segments == NULL || inst->ext == NULL) {
    instance_release(a, d->num_segments, inst);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating a delegate instance");
  }
  for (uint32_t s = 0; s < b->num_syms; s++) inst->syms[s] = b->syms[s];
  /* Program dims of each external at this shape ([N,C,H,W] is blob [N,H,W,C] at an NCHW
   * boundary). */
  for (uint32_t i = 0; i < total; i++) {
    xnnd_xvalue v;
    xnnd_xvalue_read(b, d->ext[i].value_id, &v);
    xnn_ext_shape* e = &inst->ext[i];
    bool nchw = (v.flags & XNND_XVALUE_NCHW_BOUNDARY) != 0;
    for (uint32_t k = 0; k < v.rank && k < XNND_MAX_RANK && k < XNND_XNN_MAX_DIMS; k++)
      e->dims[k] = v.dims[nchw ? (k == 0 ? 0 : k == 1 ? 3 : k - 1) : k];
    if (nchw) {
      e->n = (size_t)e->dims[0];
      e->c = (size_t)e->dims[1];
      e->hw = (size_t)e->dims[2] * (size_t)e->dims[3];
    }
  }
  for (uint32_t v = 0; v < b->values.len; v++) d->stamp[v] = 0;
  xnnd_status st = XNND_OK;
  size_t scratch = 0;
  for (uint32_t seg = 0; seg < d->num_segments && st == XNND_OK; seg++) {
    xnn_segment* sgm = &inst->segments[seg];
    uint32_t ci = d->seg_choice[seg];
    if (ci != NO_CHOICE) {
      xnnd_kernel_choice* c = &d->choices[ci];
      if (first) {
        sgm->own = c->made;  /* the segment takes the kernel the choice created */
        c->made.kernel = NULL;
      } else {
        uint32_t node_index = d->seg_first[seg];
        fb_table node = fb_table_field(fb_vec_table(b->nodes, node_index), XNND_XNNPACK_NodeEntry_node);
        const xnnd_xown_kind* kind = xnnd_xown_kind_get(node_type_at(b, node_index));
        const char* why = NULL;
        if (kind->supported(b, node, &why)) {
          st = kind->create(b, node, d->choice_ctx.flags, a, &sgm->own);
          if (st != XNND_OK) {
            if (sgm->own.kernel != NULL) sgm->own.destroy(sgm->own.kernel, a);
            sgm->own.kernel = NULL;
            st = fail(err, err_size, st, "nodes[%u]: xnnd's own kernel could not be created at this shape", node_index);
          }
        }
      }
      if (sgm->own.kernel != NULL) {
        if (sgm->own.scratch_bytes > scratch) scratch = sgm->own.scratch_bytes;
        continue;
      }
      if (st != XNND_OK) break;
    }
    st = build_xnn_segment(d, b, seg, sgm, err, err_size);
  }
  if (st == XNND_OK && scratch > d->scratch_bytes) {
    void* p = xnnd_xnn_alloc(a, scratch, 64);
    if (p == NULL) {
      st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %zu scratch bytes", scratch);
    } else {
      xnnd_xnn_free(a, d->scratch);
      d->scratch = p;
      d->scratch_bytes = scratch;
    }
  }
  if (st != XNND_OK) {
    instance_release(a, d->num_segments, inst);
    return st;
  }
  inst->built = true;
  d->builds++;
  return XNND_OK;
}

/* The backend's options (xnnd_backend_init_args.options): own_kernels = auto | on | off
 * (kernel_choice.c), winograd = off | on (xnnd's f32 3x3 kernels may use Winograd F(4x4,3x3),
 * whose error is several times PyTorch's), shape_cache = 1..64 (dynamic shapes: instances
 * kept, one per set of symbol values; default 4). */
static xnnd_status parse_options(const xnnd_backend_init_args* args, xnnd_choice_ctx* ctx, uint32_t* shape_cache,
                                 char* err, size_t err_size) {
  ctx->policy = XNND_OWN_AUTO;
  ctx->flags = 0;
  *shape_cache = XNND_XNN_SHAPE_CACHE_DEFAULT;
  for (uint32_t i = 0; i < args->num_options; i++) {
    const xnnd_backend_option* o = &args->options[i];
    if (strcmp(o->key, "own_kernels") == 0) {
      if (strcmp(o->value, "auto") == 0) ctx->policy = XNND_OWN_AUTO;
      else if (strcmp(o->value, "on") == 0) ctx->policy = XNND_OWN_ON;
      else if (strcmp(o->value, "off") == 0) ctx->policy = XNND_OWN_OFF;
      else
        return fail(err, err_size, XNND_INVALID_ARGUMENT, "option own_kernels=\"%s\": expected auto, on or off",
                    o->value);
    } else if (strcmp(o->key, "winograd") == 0) {
      if (strcmp(o->value, "on") != 0 && strcmp(o->value, "off") != 0)
        return fail(err, err_size, XNND_INVALID_ARGUMENT, "option winograd=\"%s\": expected on or off", o->value);
      ctx->flags = strcmp(o->value, "on") == 0 ? XNND_XOWN_WINOGRAD : 0;
    } else if (strcmp(o->key, "shape_cache") == 0) {
      char* end = NULL;
      long n = strtol(o->value, &end, 10);
      if (end == o->value || *end != '\0' || n < 1 || n > (long)XNND_XNN_SHAPE_CACHE_MAX)
        return fail(err, err_size, XNND_INVALID_ARGUMENT, "option shape_cache=\"%s\": expected an integer 1..%u",
                    o->value, XNND_XNN_SHAPE_CACHE_MAX);
      *shape_cache = (uint32_t)n;
    } else {
      return fail(err, err_size, XNND_INVALID_ARGUMENT,
                  "unknown option \"%s\" (XnnpackBackend knows own_kernels=auto|on|off, winograd=on|off, "
                  "shape_cache=1..%u)",
                  o->key, XNND_XNN_SHAPE_CACHE_MAX);
    }
  }
  return XNND_OK;
}

static xnnd_status xnnpack_init(const xnnd_backend_init_args* args, void** handle_out, char* err, size_t err_size) {
  if (handle_out == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "handle_out is NULL");
  *handle_out = NULL;
  if (args == NULL || args->blob == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "no blob");
  if (args->num_options > 0 && args->options == NULL)
    return fail(err, err_size, XNND_INVALID_ARGUMENT, "num_options is set but options is NULL");
  xnnd_choice_ctx choice_ctx;
  uint32_t shape_cache = 0;
  xnnd_status opt_st = parse_options(args, &choice_ctx, &shape_cache, err, err_size);
  if (opt_st != XNND_OK) return opt_st;
  if (!xnnpack_is_available())
    return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_initialize failed (%s)", xnn_status_name(g_init_status));
  const xnnd_allocator* alloc = args->allocator;

  xnn_delegate* d = xnnd_xnn_alloc(alloc, sizeof(*d), 64);
  if (d == NULL) return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating the delegate");
  memset(d, 0, sizeof(*d));
  if (alloc != NULL) d->allocator = *alloc;
  d->profile = args->profile;

  /* The flatbuffer must be 4-aligned and constants element-aligned in memory; a blob at an
   * odd address is copied once rather than rejected. */
  const uint8_t* blob = args->blob;
  if (((uintptr_t)blob & 15u) != 0) {
    d->blob_copy = xnnd_xnn_alloc(alloc, args->blob_size, 64);
    if (d->blob_copy == NULL) {
      xnnpack_destroy(d);
      return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory copying a misaligned blob");
    }
    memcpy(d->blob_copy, blob, args->blob_size);
    blob = d->blob_copy;
  }

  xnnd_status st = xnnd_xblob_verify(blob, args->blob_size, args->inputs, args->num_inputs, args->outputs,
                                     args->num_outputs, args->syms, args->num_syms, &d->view, err, err_size);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }
  d->num_syms = args->num_syms;

  uint8_t* scratch = xnnd_xnn_alloc(alloc, d->view.values.len, 64);
  if (scratch == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory verifying the blob dataflow");
  }
  st = xnnd_xblob_verify_dataflow(&d->view, scratch, err, err_size);
  xnnd_xnn_free(alloc, scratch);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }

  d->num_inputs = args->num_inputs;
  d->num_outputs = args->num_outputs;
  uint32_t total = d->num_inputs + d->num_outputs;
  d->ext = xnnd_xnn_alloc(alloc, sizeof(*d->ext) * (total ? total : 1), 64);
  if (d->ext == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating boundary tables");
  }
  memset(d->ext, 0, sizeof(*d->ext) * (total ? total : 1));
  for (uint32_t i = 0; i < total; i++) {
    bool is_input = i < d->num_inputs;
    uint32_t k = is_input ? i : i - d->num_inputs;
    const xnnd_tensor* t = is_input ? &args->inputs[k] : &args->outputs[k];
    xnn_boundary* e = &d->ext[i];
    e->value_id = fb_vec_u32(is_input ? d->view.input_ids : d->view.output_ids, k);
    e->dtype = t->dtype;
    e->rank = t->rank;
    e->elem_size = xnnd_dtype_size(t->dtype);
    xnnd_xvalue v;
    xnnd_xvalue_read(&d->view, e->value_id, &v);
    if (v.flags & XNND_XVALUE_NCHW_BOUNDARY) {
      size_t n = (size_t)t->dims[0], c = (size_t)t->dims[1], hw = (size_t)t->dims[2] * (size_t)t->dims[3];
      /* With C == 1 or H == W == 1 both orders are the same bytes: bind the program pointer.
       * Forms never decrease with a symbol, so at a smaller shape C and H*W stay 1. */
      e->convert = c != 1 && hw != 1;
      if (e->convert) {
        /* XNNPACK may read up to XNN_EXTRA_BYTES past an input. The init shape is the largest. */
        size_t bytes = n * c * hw * e->elem_size + XNN_EXTRA_BYTES;
        e->staging = xnnd_xnn_alloc(alloc, bytes, 64);
        if (e->staging == NULL) {
          xnnpack_destroy(d);
          return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %zu staging bytes for %s %u",
                      bytes, is_input ? "input" : "output", k);
        }
      }
    }
  }

  /* More workers than online CPUs makes pthreadpool's spin-waits pathological (x1000
   * slower measured on 2 CPUs with 4 threads), so the pool is capped at the CPU count. */
  uint32_t threads = args->num_threads;
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (cpus > 0 && threads > (uint32_t)cpus) threads = (uint32_t)cpus;
  if (threads > 1) {
    d->pool = xnnd_xnn_pool_acquire(threads);
    if (d->pool == NULL) {
      xnnpack_destroy(d);
      return fail(err, err_size, XNND_OUT_OF_MEMORY, "no shared pthreadpool of %u threads could be created", threads);
    }
  }
  choice_ctx.allocator = &d->allocator;
  choice_ctx.pool = d->pool;
  choice_ctx.threads = threads > 1 ? threads : 1;
  d->choice_ctx = choice_ctx;
  /* A static delegate has one shape: one instance. */
  d->cache_capacity = d->view.dynamic ? shape_cache : 1;
  d->instances = xnnd_xnn_alloc(alloc, sizeof(xnn_instance) * d->cache_capacity, 64);
  if (d->instances == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating the shape cache");
  }
  memset(d->instances, 0, sizeof(xnn_instance) * d->cache_capacity);
  st = plan_segments(d, err, err_size);
  if (st == XNND_OK) st = build_instance(d, &d->view, true, &d->instances[0], err, err_size);
  /* Own kernels created for timing and not chosen. */
  for (uint32_t k = 0; d->choices != NULL && k < d->num_choices; k++)
    xnnd_kernel_choice_release(&d->allocator, &d->choices[k]);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }
  d->num_instances = 1;
  d->cur = &d->instances[0];
  d->cur->last_use = ++d->clock;
  for (uint32_t i = 0; i < total; i++)
    if (d->ext[i].convert) d->value_data[d->ext[i].value_id] = d->ext[i].staging;
  *handle_out = d;
  return XNND_OK;
}

/* Tensors of a reshape or execute call against the instance's shapes. */
static xnnd_status check_shapes(const xnn_delegate* d, const xnn_instance* inst, const xnnd_tensor* inputs,
                                const xnnd_tensor* outputs, bool need_data, char* err, size_t err_size) {
  uint32_t total = d->num_inputs + d->num_outputs;
  for (uint32_t i = 0; i < total; i++) {
    bool is_input = i < d->num_inputs;
    uint32_t k = is_input ? i : i - d->num_inputs;
    const char* what = is_input ? "input" : "output";
    const xnnd_tensor* t = is_input ? &inputs[k] : &outputs[k];
    const xnn_boundary* e = &d->ext[i];
    if (need_data && t->data == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "%s %u has no data", what, k);
    if (t->dtype != e->dtype)
      return fail(err, err_size, XNND_DTYPE_MISMATCH, "%s %u is %s, the delegate was built for %s", what, k,
                  xnnd_dtype_name(t->dtype), xnnd_dtype_name(e->dtype));
    bool same = t->rank == e->rank;
    for (uint32_t r = 0; same && r < e->rank; r++) same = t->dims[r] == inst->ext[i].dims[r];
    if (!same)
      return fail(err, err_size, XNND_SHAPE_MISMATCH, "%s %u shape differs from the delegate's current shape%s", what,
                  k, d->view.dynamic ? " (reshape first)" : " (the one given at init)");
  }
  return XNND_OK;
}

static bool same_syms(const int64_t* a, const int64_t* b, uint32_t n) {
  for (uint32_t s = 0; s < n; s++)
    if (a[s] != b[s]) return false;
  return true;
}

static xnnd_status xnnpack_reshape(void* handle, const int64_t* syms, uint32_t num_syms, const xnnd_tensor* inputs,
                                   uint32_t num_inputs, const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                                   size_t err_size) {
  xnn_delegate* d = handle;
  if (d == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "no delegate");
  if (num_syms != d->num_syms)
    return fail(err, err_size, XNND_INVALID_ARGUMENT, "reshape with %u symbol values, the delegate was built for %u",
                num_syms, d->num_syms);
  if (num_syms > 0 && syms == NULL) return fail(err, err_size, XNND_INVALID_ARGUMENT, "num_syms is set but syms is NULL");
  if (num_inputs != d->num_inputs || num_outputs != d->num_outputs)
    return fail(err, err_size, XNND_WRONG_INPUT_COUNT, "delegate takes %u inputs and %u outputs, got %u and %u",
                d->num_inputs, d->num_outputs, num_inputs, num_outputs);
  if ((num_inputs > 0 && inputs == NULL) || (num_outputs > 0 && outputs == NULL))
    return fail(err, err_size, XNND_INVALID_ARGUMENT, "tensor array is NULL");
  /* Buffers are sized for the init values (each symbol's max); forms grow with every symbol. */
  for (uint32_t s = 0; s < num_syms; s++)
    if (syms[s] < 0 || syms[s] > d->view.syms[s])
      return fail(err, err_size, XNND_SHAPE_MISMATCH,
                  "symbol %u = %lld is outside [0, %lld], the range the delegate was built for", s,
                  (long long)syms[s], (long long)d->view.syms[s]);
  /* Symbols the blob does not use (num_symbols 0): the one instance fits every shape. */
  if (!d->view.dynamic) return check_shapes(d, d->cur, inputs, outputs, false, err, err_size);
  for (uint32_t i = 0; i < d->num_instances; i++) {
    xnn_instance* inst = &d->instances[i];
    if (!same_syms(inst->syms, syms, num_syms)) continue;
    xnnd_status st = check_shapes(d, inst, inputs, outputs, false, err, err_size);
    if (st != XNND_OK) return st;
    d->cur = inst;
    inst->last_use = ++d->clock;
    return XNND_OK;
  }
  /* A miss: the blob at the new shape is verified like at init, then built. */
  xnnd_xblob at = d->view;
  for (uint32_t s = 0; s < num_syms; s++) at.syms[s] = syms[s];
  xnnd_status st = xnnd_xblob_verify_shapes(&at, inputs, num_inputs, outputs, num_outputs, err, err_size);
  if (st != XNND_OK) return st;
  xnn_instance fresh;
  st = build_instance(d, &at, false, &fresh, err, err_size);
  if (st != XNND_OK) return st;
  xnn_instance* slot;
  if (d->num_instances < d->cache_capacity) {
    slot = &d->instances[d->num_instances++];
  } else {
    slot = &d->instances[0];
    for (uint32_t i = 1; i < d->num_instances; i++)
      if (d->instances[i].last_use < slot->last_use) slot = &d->instances[i];
    instance_release(&d->allocator, d->num_segments, slot);
  }
  *slot = fresh;
  d->cur = slot;
  slot->last_use = ++d->clock;
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
  xnn_instance* inst = d->cur;
  xnnd_status st = check_shapes(d, inst, inputs, outputs, true, err, err_size);
  if (st != XNND_OK) return st;
  uint32_t total = num_inputs + num_outputs;
  for (uint32_t i = 0; i < total; i++) {
    bool is_input = i < num_inputs;
    const xnnd_tensor* t = is_input ? &inputs[i] : &outputs[i - num_inputs];
    const xnn_boundary* e = &d->ext[i];
    if (e->convert) {
      const xnn_ext_shape* s = &inst->ext[i];
      if (is_input) xnnd_xnn_nchw_to_nhwc(t->data, e->staging, s->n, s->c, s->hw, e->elem_size);
      continue;  /* bound to staging since init */
    }
    d->value_data[e->value_id] = t->data;
  }
  /* Set up each XNNPACK segment whose bound pointers changed (only the first time when the
   * caller passes the same tensors). */
  for (uint32_t g = 0; g < d->num_segments; g++) {
    xnn_segment* sgm = &inst->segments[g];
    if (sgm->runtime == NULL) continue;
    bool changed = !sgm->set_up;
    for (uint32_t j = 0; j < sgm->num_bindings; j++) {
      void* p = d->value_data[sgm->bindings[j].id];
      if (sgm->bindings[j].data != p) {
        sgm->bindings[j].data = p;
        changed = true;
      }
    }
    if (!changed) continue;
    enum xnn_status s = xnn_setup_runtime(sgm->runtime, sgm->num_bindings, sgm->bindings);
    if (s != xnn_status_success) {
      sgm->set_up = false;
      return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_setup_runtime failed (%s)", xnn_status_name(s));
    }
    sgm->set_up = true;
  }
  uint64_t t1 = d->profile ? now_ns() : 0;
  for (uint32_t g = 0; g < d->num_segments; g++) {
    const xnn_segment* sgm = &inst->segments[g];
    if (sgm->own.kernel != NULL) {
      uint64_t k0 = d->profile ? now_ns() : 0;
      sgm->own.run(sgm->own.kernel, d->value_data[sgm->own.input_id], d->value_data[sgm->own.output_id], d->scratch,
                   d->pool);
      if (d->profile) d->stats.own_kernel_ns += now_ns() - k0;
      continue;
    }
    enum xnn_status s = xnn_invoke_runtime(sgm->runtime);
    if (s != xnn_status_success)
      return fail(err, err_size, XNND_BACKEND_ERROR, "xnn_invoke_runtime failed (%s)", xnn_status_name(s));
  }
  uint64_t t2 = d->profile ? now_ns() : 0;
  for (uint32_t k = 0; k < num_outputs; k++) {
    const xnn_boundary* e = &d->ext[num_inputs + k];
    const xnn_ext_shape* s = &inst->ext[num_inputs + k];
    if (e->convert) xnnd_xnn_nhwc_to_nchw(e->staging, outputs[k].data, s->n, s->c, s->hw, e->elem_size);
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

static size_t xnnpack_describe(void* handle, char* buf, size_t size) {
  const xnn_delegate* d = handle;
  if (d == NULL) return 0;
  size_t used = 0;
  if (size > 0) buf[0] = '\0';
  if (d->num_choices > 0) used = xnnd_kernel_choice_format(&d->choice_ctx, d->choices, d->num_choices, buf, size);
  if (d->view.dynamic) {
    /* Kernel choices above were made at the init shape and hold at every shape. */
    int w = snprintf(buf + (used < size ? used : size), used < size ? size - used : 0,
                     "dynamic shapes: %u of %u cached instances (shape_cache=%u), %llu built\n", d->num_instances,
                     d->cache_capacity, d->cache_capacity, (unsigned long long)d->builds);
    if (w > 0) used += (size_t)w;
  }
  return used;
}

static const xnnd_backend k_xnnpack_backend = {
    .name = XNND_XNNPACK_BACKEND_NAME,
    .is_available = xnnpack_is_available,
    .init = xnnpack_init,
    .execute = xnnpack_execute,
    .destroy = xnnpack_destroy,
    .get_profile = xnnpack_get_profile,
    .describe = xnnpack_describe,
    .reshape = xnnpack_reshape,
};

const xnnd_backend* xnnd_xnnpack_backend_get(void) { return &k_xnnpack_backend; }
