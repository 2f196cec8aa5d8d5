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
#include "conv_kernels/f32_conv.h"
#include "pte_format.h"
#include "memory_plan.h"
#include "kernel_choice.h"
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

/* The blob's nodes in order, cut into segments: a run of nodes XNNPACK executes as one
 * runtime, or one convolution xnnd's own kernel executes (runtime/conv_kernels/). Values that cross
 * from one segment to another live in delegate-owned buffers. */
typedef struct xnn_segment {
  xnn_runtime_t runtime;        /* XNNPACK segment */
  uint32_t num_bindings;
  struct xnn_external_value* bindings;  /* what XNNPACK was last set up with */
  bool set_up;
  xnnd_xown own;                /* xnnd segment: own.kernel != NULL */
} xnn_segment;

typedef struct xnn_delegate {
  xnnd_allocator allocator;
  void* blob_copy;              /* only when the caller's blob was misaligned */
  pthreadpool_t pool;
  uint32_t num_inputs, num_outputs;
  xnn_boundary* ext;            /* inputs then outputs */
  uint32_t num_values;
  void** value_data;            /* per blob value: where a bound value lives (NULL: inside XNNPACK) */
  void* crossing;               /* arena of the values crossing segments */
  void* scratch;                /* shared by the own kernels (one runs at a time) */
  uint32_t num_segments;
  xnn_segment* segments;
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

static void xnnpack_destroy(void* handle) {
  xnn_delegate* d = handle;
  if (d == NULL) return;
  const xnnd_allocator* a = &d->allocator;
  for (uint32_t i = 0; d->segments != NULL && i < d->num_segments; i++) {
    if (d->segments[i].runtime != NULL) xnn_delete_runtime(d->segments[i].runtime);
    if (d->segments[i].own.kernel != NULL) d->segments[i].own.destroy(d->segments[i].own.kernel, a);
    xnnd_xnn_free(a, d->segments[i].bindings);
  }
  xnnd_xnn_free(a, d->segments);
  xnnd_xnn_pool_release(d->pool);
  uint32_t total = d->num_inputs + d->num_outputs;
  if (d->ext != NULL)
    for (uint32_t i = 0; i < total; i++) xnnd_xnn_free(a, d->ext[i].staging);
  xnnd_xnn_free(a, d->crossing);
  xnnd_xnn_free(a, d->scratch);
  xnnd_xnn_free(a, d->value_data);
  xnnd_xnn_free(a, d->ext);
  for (uint32_t i = 0; d->choices != NULL && i < d->num_choices; i++) xnnd_kernel_choice_release(a, &d->choices[i]);
  xnnd_xnn_free(a, d->choices);
  xnnd_xnn_free(a, d->blob_copy);
  xnnd_allocator copy = d->allocator;
  xnnd_xnn_free(&copy, d);
}

#define NO_SEGMENT UINT32_MAX

/* Segment plan, scratch of init: which segment each node is in, who produces each value. */
typedef struct seg_plan {
  uint32_t* node_segment;     /* per node */
  uint32_t* producer;         /* per value: segment writing it, NO_SEGMENT for inputs/constants */
  uint32_t* stamp;            /* per value: last segment (+1) that defined it */
  bool* bound;                /* per value: a delegate external or a crossing value */
  uint32_t* last_use;         /* per value: last segment reading it */
  bool* crossing;             /* per value: read in a later segment than the one writing it */
} seg_plan;

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

/* Subgraph of the XNNPACK segment `seg` (nodes [first, end)): the values its nodes touch,
 * bound ones as external (output where the segment writes them, input otherwise). Blob
 * value ids are the XNNPACK ids. */
static xnnd_status define_segment(const xnnd_xblob* b, const seg_plan* plan, uint32_t seg, uint32_t first,
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
      if (plan->stamp[v] == seg + 1) continue;
      plan->stamp[v] = seg + 1;
      uint32_t flags = 0;
      if (plan->bound[v]) {
        flags = plan->producer[v] == seg ? XNN_VALUE_FLAG_EXTERNAL_OUTPUT : XNN_VALUE_FLAG_EXTERNAL_INPUT;
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

/* Cut the blob into segments, allocate crossing buffers, create each segment's runtime or
 * xnnd convolution. */
static xnnd_status build_segments(xnn_delegate* d, const xnnd_xblob* b, char* err, size_t err_size) {
  const xnnd_allocator* a = &d->allocator;
  uint32_t nv = b->values.len, nn = b->nodes.len;
  seg_plan plan = {0};
  plan.node_segment = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nn ? nn : 1), 64);
  plan.producer = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)nv, 64);
  plan.stamp = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)nv, 64);
  plan.bound = xnnd_xnn_alloc(a, sizeof(bool) * (size_t)nv, 64);
  plan.last_use = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)nv, 64);
  plan.crossing = xnnd_xnn_alloc(a, sizeof(bool) * (size_t)nv, 64);
  bool* own = xnnd_xnn_alloc(a, sizeof(bool) * (size_t)(nn ? nn : 1), 64);
  uint32_t* choice_of = xnnd_xnn_alloc(a, sizeof(uint32_t) * (size_t)(nn ? nn : 1), 64);
  xnnd_plan_tensor* tensors = NULL;
  xnnd_plan_live* live = NULL;
  xnnd_status st = XNND_OK;
  if (plan.node_segment == NULL || plan.producer == NULL || plan.stamp == NULL || plan.bound == NULL ||
      plan.last_use == NULL || plan.crossing == NULL || own == NULL || choice_of == NULL) {
    st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory planning delegate segments");
    goto done;
  }
  /* Which nodes xnnd's kernel takes (kernel_choice.c), and the segment of every node. */
  uint32_t candidates = 0;
  for (uint32_t i = 0; i < nn; i++)
    if (xnnd_xown_kind_get(fb_u8(fb_vec_table(b->nodes, i), XNND_XNNPACK_NodeEntry_node_type, 0)) != NULL)
      candidates++;
  if (candidates > 0) {
    d->choices = xnnd_xnn_alloc(a, sizeof(*d->choices) * candidates, 64);
    if (d->choices == NULL) {
      st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory for %u kernel choices", candidates);
      goto done;
    }
    memset(d->choices, 0, sizeof(*d->choices) * candidates);
  }
  uint32_t segments = 0;
  for (uint32_t i = 0; i < nn; i++) {
    fb_table entry = fb_vec_table(b->nodes, i);
    own[i] = false;
    choice_of[i] = UINT32_MAX;
    if (xnnd_xown_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0)) != NULL) {
      xnnd_kernel_choice* c = &d->choices[d->num_choices];
      st = xnnd_kernel_choose(&d->choice_ctx, b, i, c, err, err_size);
      d->num_choices++;  /* released by destroy even when choose failed half-way */
      if (st != XNND_OK) goto done;
      own[i] = c->own;
      choice_of[i] = d->num_choices - 1;
    }
    if (i == 0 || own[i] || own[i - 1]) segments++;
    plan.node_segment[i] = segments - 1;
  }
  if ((uint64_t)segments * nv > XNND_XNN_MAX_SEGMENT_VALUES) {
    segments = nn ? 1 : 0;
    for (uint32_t i = 0; i < nn; i++) own[i] = false, plan.node_segment[i] = 0;
    for (uint32_t k = 0; k < d->num_choices; k++)
      if (d->choices[k].own) d->choices[k].own = false, d->choices[k].why = "too many values to cut the blob";
  }
  /* Producers, then the values consumed outside their producer's segment. */
  for (uint32_t v = 0; v < nv; v++) {
    xnnd_xvalue x;
    xnnd_xvalue_read(b, v, &x);
    plan.producer[v] = NO_SEGMENT;
    plan.stamp[v] = 0;
    plan.last_use[v] = 0;
    plan.crossing[v] = false;
    plan.bound[v] = (x.flags & (XNND_XVALUE_EXTERNAL_INPUT | XNND_XVALUE_EXTERNAL_OUTPUT)) != 0;
  }
  for (uint32_t i = 0; i < nn; i++) {
    fb_table entry = fb_vec_table(b->nodes, i);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
    plan.producer[fb_u32(fb_table_field(entry, XNND_XNNPACK_NodeEntry_node), kind->output_field, 0)] =
        plan.node_segment[i];
  }
  d->value_data = xnnd_xnn_alloc(a, sizeof(void*) * (size_t)nv, 64);
  d->segments = xnnd_xnn_alloc(a, sizeof(xnn_segment) * (size_t)(segments ? segments : 1), 64);
  if (d->value_data == NULL || d->segments == NULL) {
    st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating delegate segments");
    goto done;
  }
  d->num_values = nv;
  memset(d->value_data, 0, sizeof(void*) * (size_t)nv);
  memset(d->segments, 0, sizeof(xnn_segment) * (size_t)(segments ? segments : 1));
  d->num_segments = segments;
  /* Values read in a later segment than the one writing them live in one delegate-owned
   * arena, planned with lifetime reuse over segments by the program's own algorithm
   * (schema/memory_plan.h: 64-aligned slots with the 16 spare bytes XNNPACK may read). */
  uint32_t num_crossing = 0;
  for (uint32_t i = 0; i < nn; i++) {
    uint32_t ids[XNND_XNODE_MAX_INPUTS + 1];
    uint32_t n = node_values_at(b, i, ids);
    for (uint32_t k = 0; k < n; k++) {
      uint32_t v = ids[k];
      if (plan.producer[v] == NO_SEGMENT || plan.producer[v] == plan.node_segment[i]) continue;
      if (!plan.bound[v]) plan.crossing[v] = plan.bound[v] = true, num_crossing++;
      if (plan.crossing[v] && plan.node_segment[i] > plan.last_use[v]) plan.last_use[v] = plan.node_segment[i];
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
      if (!plan.crossing[v]) continue;
      xnnd_xvalue x;
      xnnd_xvalue_read(b, v, &x);
      tensors[t++] = (xnnd_plan_tensor){.nbytes = xnnd_xvalue_numel(&x) * xnnd_xdatatype_size(x.datatype),
                                        .first_step = plan.node_segment[i], .last_step = plan.last_use[v], .id = v};
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
  /* Each segment: an xnnd convolution or an XNNPACK runtime. */
  for (uint32_t first = 0; first < nn;) {
    uint32_t seg = plan.node_segment[first], end = first + 1;
    while (end < nn && plan.node_segment[end] == seg) end++;
    xnn_segment* sgm = &d->segments[seg];
    if (own[first]) {
      xnnd_kernel_choice* c = &d->choices[choice_of[first]];
      sgm->own = c->made;  /* the segment takes the kernel the choice created */
      c->made.kernel = NULL;
      first = end;
      continue;
    }
    xnn_subgraph_t sg = NULL;
    enum xnn_status xs = xnn_create_subgraph(nv, 0, &sg);
    if (xs != xnn_status_success) {
      st = fail(err, err_size, XNND_BACKEND_ERROR, "xnn_create_subgraph failed (%s)", xnn_status_name(xs));
      goto done;
    }
    uint32_t num_bound = 0;
    st = define_segment(b, &plan, seg, first, end, sg, &num_bound, err, err_size);
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
    if (st != XNND_OK) goto done;
    /* The bound values of the segment, in the order define_segment met them. */
    uint32_t k = 0;
    for (uint32_t i = first; i < end; i++) {
      uint32_t ids[XNND_XNODE_MAX_INPUTS + 1];
      uint32_t n = node_values_at(b, i, ids);
      for (uint32_t j = 0; j < n; j++) {
        uint32_t v = ids[j];
        if (!plan.bound[v] || plan.stamp[v] == UINT32_MAX) continue;
        plan.stamp[v] = UINT32_MAX;  /* listed */
        sgm->bindings[k++] = (struct xnn_external_value){.id = v, .data = NULL};
      }
    }
    for (uint32_t j = 0; j < k; j++) plan.stamp[sgm->bindings[j].id] = seg + 1;
    sgm->num_bindings = k;
    first = end;
  }
  size_t scratch = 0;
  for (uint32_t g = 0; g < segments; g++)
    if (d->segments[g].own.scratch_bytes > scratch) scratch = d->segments[g].own.scratch_bytes;
  if (scratch > 0 && (d->scratch = xnnd_xnn_alloc(a, scratch, 64)) == NULL)
    st = fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %zu scratch bytes", scratch);
done:
  xnnd_xnn_free(a, live);
  xnnd_xnn_free(a, tensors);
  xnnd_xnn_free(a, plan.crossing);
  xnnd_xnn_free(a, plan.last_use);
  xnnd_xnn_free(a, own);
  xnnd_xnn_free(a, choice_of);
  /* Own kernels created for timing and not chosen. */
  for (uint32_t k = 0; d->choices != NULL && k < d->num_choices; k++) xnnd_kernel_choice_release(a, &d->choices[k]);
  xnnd_xnn_free(a, plan.bound);
  xnnd_xnn_free(a, plan.stamp);
  xnnd_xnn_free(a, plan.producer);
  xnnd_xnn_free(a, plan.node_segment);
  return st;
}

/* The backend's options (xnnd_backend_init_args.options): own_kernels = auto | on | off
 * (kernel_choice.c), winograd = off | on (xnnd's f32 3x3 kernels may use Winograd F(4x4,3x3),
 * whose error is several times PyTorch's). */
static xnnd_status parse_options(const xnnd_backend_init_args* args, xnnd_choice_ctx* ctx, char* err, size_t err_size) {
  ctx->policy = XNND_OWN_AUTO;
  ctx->flags = 0;
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
    } else {
      return fail(err, err_size, XNND_INVALID_ARGUMENT,
                  "unknown option \"%s\" (XnnpackBackend knows own_kernels=auto|on|off, winograd=on|off)", o->key);
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
  xnnd_status opt_st = parse_options(args, &choice_ctx, err, err_size);
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

  xnnd_xblob view;
  xnnd_status st = xnnd_xblob_verify(blob, args->blob_size, args->inputs, args->num_inputs, args->outputs,
                                     args->num_outputs, &view, err, err_size);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }

  uint8_t* scratch = xnnd_xnn_alloc(alloc, view.values.len, 64);
  if (scratch == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory verifying the blob dataflow");
  }
  st = xnnd_xblob_verify_dataflow(&view, scratch, err, err_size);
  xnnd_xnn_free(alloc, scratch);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }

  d->num_inputs = args->num_inputs;
  d->num_outputs = args->num_outputs;
  uint32_t total = d->num_inputs + d->num_outputs;
  d->ext = xnnd_xnn_alloc(alloc, sizeof(*d->ext) * total, 64);
  if (d->ext == NULL) {
    xnnpack_destroy(d);
    return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating boundary tables");
  }
  memset(d->ext, 0, sizeof(*d->ext) * total);
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
      e->staging = xnnd_xnn_alloc(alloc, bytes, 64);
      if (e->staging == NULL) {
        xnnpack_destroy(d);
        return fail(err, err_size, XNND_OUT_OF_MEMORY, "out of memory allocating %zu staging bytes for %s %u", bytes,
                    is_input ? "input" : "output", k);
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
  st = build_segments(d, &view, err, err_size);
  if (st != XNND_OK) {
    xnnpack_destroy(d);
    return st;
  }
  for (uint32_t i = 0; i < total; i++)
    if (d->ext[i].convert) d->value_data[d->ext[i].value_id] = d->ext[i].staging;
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
    d->value_data[e->value_id] = t->data;
  }
  /* Set up each XNNPACK segment whose bound pointers changed (only the first time when the
   * caller passes the same tensors). */
  for (uint32_t g = 0; g < d->num_segments; g++) {
    xnn_segment* sgm = &d->segments[g];
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
    const xnn_segment* sgm = &d->segments[g];
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

static size_t xnnpack_describe(void* handle, char* buf, size_t size) {
  const xnn_delegate* d = handle;
  if (d == NULL) return 0;
  if (d->num_choices == 0) {
    if (size > 0) buf[0] = '\0';
    return 0;
  }
  return xnnd_kernel_choice_format(&d->choice_ctx, d->choices, d->num_choices, buf, size);
}

static const xnnd_backend k_xnnpack_backend = {
    .name = XNND_XNNPACK_BACKEND_NAME,
    .is_available = xnnpack_is_available,
    .init = xnnpack_init,
    .execute = xnnpack_execute,
    .destroy = xnnpack_destroy,
    .get_profile = xnnpack_get_profile,
    .describe = xnnpack_describe,
};

const xnnd_backend* xnnd_xnnpack_backend_get(void) { return &k_xnnpack_backend; }
