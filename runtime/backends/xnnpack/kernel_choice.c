/* Which convolutions and fully connected layers xnnd's own kernels (runtime/conv_kernels/)
 * run and which stay in XNNPACK, decided per CPU at delegate init and never wired to one
 * microarchitecture.
 *
 * own_kernels=auto (the default): for each node an own kernel takes, both kernels are timed on
 * the node's real shape and weights on the delegate's thread pool: the own kernel as created
 * for the delegate, XNNPACK's as a one-node runtime; one warm-up each, then alternating runs
 * (at least 3, at most 9, stopping after about 20 ms), best time of each. A convolution runs
 * xnnd's kernel only when it is at least 10% faster alone: inside a model the gain is smaller,
 * because cutting the XNNPACK runtime in two around it costs XNNPACK's own memory reuse. A fully connected layer runs xnnd's kernel, untimed: it is more
 * accurate, and accuracy comes first (the kinds' margin_pct, own_nodes.c). Results are cached
 * for the process by (shape, dtype, Winograd, threads), so a model's repeated shapes and later
 * delegates cost nothing. on / off force one side. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kernel_choice.h"

#define MIN_ROUNDS 3u
#define MAX_ROUNDS 9u
#define BUDGET_NS 20000000ull
#define CACHE_CAPACITY 1024u

typedef struct cache_entry {
  xnnd_xown_key key;
  uint32_t threads;
  uint64_t own_ns, xnn_ns;
} cache_entry;

static pthread_mutex_t g_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static cache_entry g_cache[CACHE_CAPACITY];
static uint32_t g_cache_used;

static bool cache_get(const xnnd_xown_key* key, uint32_t threads, uint64_t* own_ns, uint64_t* xnn_ns) {
  bool hit = false;
  pthread_mutex_lock(&g_cache_lock);
  for (uint32_t i = 0; i < g_cache_used && !hit; i++) {
    if (g_cache[i].threads != threads || memcmp(&g_cache[i].key, key, sizeof(*key)) != 0) continue;
    *own_ns = g_cache[i].own_ns;
    *xnn_ns = g_cache[i].xnn_ns;
    hit = true;
  }
  pthread_mutex_unlock(&g_cache_lock);
  return hit;
}

static void cache_put(const xnnd_xown_key* key, uint32_t threads, uint64_t own_ns, uint64_t xnn_ns) {
  pthread_mutex_lock(&g_cache_lock);
  if (g_cache_used < CACHE_CAPACITY) g_cache[g_cache_used++] = (cache_entry){*key, threads, own_ns, xnn_ns};
  pthread_mutex_unlock(&g_cache_lock);
}

void xnnd_kernel_choice_cache_clear(void) {
  pthread_mutex_lock(&g_cache_lock);
  g_cache_used = 0;
  pthread_mutex_unlock(&g_cache_lock);
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Node i as a one-node XNNPACK runtime reading `in` and writing `out`. */
static xnnd_status one_node_runtime(const xnnd_choice_ctx* ctx, const xnnd_xblob* b, uint32_t i, uint32_t in_id,
                                    uint32_t out_id, xnn_runtime_t* rt, char* err, size_t err_size) {
  fb_table entry = fb_vec_table(b->nodes, i);
  const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
  fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
  xnn_subgraph_t sg = NULL;
  if (xnn_create_subgraph(b->values.len, 0, &sg) != xnn_status_success) {
    snprintf(err, err_size, "nodes[%u]: xnn_create_subgraph failed while timing the convolution", i);
    return XNND_BACKEND_ERROR;
  }
  xnnd_status st = XNND_OK;
  for (uint32_t k = 0; k < XNND_XNODE_MAX_INPUTS && st == XNND_OK; k++) {
    uint32_t f = kind->input_fields[k];
    if (f == XNND_XNODE_NO_FIELD) continue;
    uint32_t id = fb_u32(node, f, f == kind->optional_input ? XNN_INVALID_VALUE_ID : 0);
    if (id == XNN_INVALID_VALUE_ID) continue;
    st = xnnd_xnn_define_value(b, sg, id, id == in_id ? XNN_VALUE_FLAG_EXTERNAL_INPUT : 0, err, err_size);
  }
  if (st == XNND_OK) st = xnnd_xnn_define_value(b, sg, out_id, XNN_VALUE_FLAG_EXTERNAL_OUTPUT, err, err_size);
  if (st == XNND_OK && kind->define(sg, b, node) != xnn_status_success) {
    snprintf(err, err_size, "nodes[%u] (%s): XNNPACK rejected the node while timing it", i, kind->name);
    st = XNND_BACKEND_ERROR;
  }
  if (st == XNND_OK && xnn_create_runtime_v2(sg, ctx->pool, 0, rt) != xnn_status_success) {
    *rt = NULL;
    snprintf(err, err_size, "nodes[%u] (%s): xnn_create_runtime_v2 failed while timing it", i, kind->name);
    st = XNND_BACKEND_ERROR;
  }
  xnn_delete_subgraph(sg);
  return st;
}

/* Best times of `own` and of XNNPACK on node i. */
static xnnd_status calibrate(const xnnd_choice_ctx* ctx, const xnnd_xblob* b, uint32_t i, const xnnd_xown* own,
                             uint64_t* own_ns, uint64_t* xnn_ns, char* err, size_t err_size) {
  xnnd_xvalue in, out;
  xnnd_xvalue_read(b, own->input_id, &in);
  xnnd_xvalue_read(b, own->output_id, &out);
  size_t in_elem = xnnd_xdatatype_size(in.datatype), out_elem = xnnd_xdatatype_size(out.datatype);
  size_t in_bytes = (size_t)xnnd_xvalue_numel(&in) * in_elem + XNN_EXTRA_BYTES;
  size_t out_bytes = (size_t)xnnd_xvalue_numel(&out) * out_elem + XNN_EXTRA_BYTES;
  uint8_t* x = xnnd_xnn_alloc(ctx->allocator, in_bytes, 64);
  uint8_t* y = xnnd_xnn_alloc(ctx->allocator, out_bytes, 64);
  void* scratch = own->scratch_bytes ? xnnd_xnn_alloc(ctx->allocator, own->scratch_bytes, 64) : NULL;
  xnn_runtime_t rt = NULL;
  xnnd_status st = XNND_OK;
  if (x == NULL || y == NULL || (own->scratch_bytes && scratch == NULL)) {
    snprintf(err, err_size, "nodes[%u]: out of memory timing the convolution", i);
    st = XNND_OUT_OF_MEMORY;
    goto done;
  }
  /* Ordinary values (timing does not depend on them, but denormals or NaN would distort it). */
  if (in_elem == 4)
    for (size_t k = 0; k < in_bytes / 4; k++) ((float*)x)[k] = 0.125f * (float)(k % 17) - 1.0f;
  else
    for (size_t k = 0; k < in_bytes; k++) x[k] = (uint8_t)(k * 37u);
  st = one_node_runtime(ctx, b, i, own->input_id, own->output_id, &rt, err, err_size);
  if (st != XNND_OK) goto done;
  const struct xnn_external_value ext[2] = {{own->input_id, x}, {own->output_id, y}};
  if (xnn_setup_runtime(rt, 2, ext) != xnn_status_success) {
    snprintf(err, err_size, "nodes[%u]: xnn_setup_runtime failed while timing the convolution", i);
    st = XNND_BACKEND_ERROR;
    goto done;
  }
  uint64_t best_own = UINT64_MAX, best_xnn = UINT64_MAX, spent = 0;
  for (uint32_t r = 0; r <= MAX_ROUNDS; r++) {
    uint64_t t0 = now_ns();
    if (xnn_invoke_runtime(rt) != xnn_status_success) {
      snprintf(err, err_size, "nodes[%u]: xnn_invoke_runtime failed while timing the convolution", i);
      st = XNND_BACKEND_ERROR;
      goto done;
    }
    uint64_t t1 = now_ns();
    own->run(own->kernel, x, y, scratch, ctx->pool);
    uint64_t t2 = now_ns();
    if (r == 0) continue;  /* warm-up: first touch of weights, caches and threads */
    if (t1 - t0 < best_xnn) best_xnn = t1 - t0;
    if (t2 - t1 < best_own) best_own = t2 - t1;
    spent += t2 - t0;
    if (r >= MIN_ROUNDS && spent >= BUDGET_NS) break;
  }
  *own_ns = best_own;
  *xnn_ns = best_xnn;
done:
  if (rt != NULL) xnn_delete_runtime(rt);
  xnnd_xnn_free(ctx->allocator, scratch);
  xnnd_xnn_free(ctx->allocator, y);
  xnnd_xnn_free(ctx->allocator, x);
  return st;
}

static const char* policy_name(xnnd_own_policy p) {
  return p == XNND_OWN_ON ? "on" : p == XNND_OWN_OFF ? "off" : "auto";
}

xnnd_status xnnd_kernel_choose(const xnnd_choice_ctx* ctx, const xnnd_xblob* b, uint32_t i, xnnd_kernel_choice* c,
                               char* err, size_t err_size) {
  fb_table entry = fb_vec_table(b->nodes, i);
  const xnnd_xown_kind* kind = xnnd_xown_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
  fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
  memset(c, 0, sizeof(*c));
  c->node = i;
  xnnd_xown_key key;
  kind->describe(b, node, ctx->flags, &key, c->text, sizeof(c->text));
  const char* why = NULL;
  if (!kind->supported(b, node, &why)) {
    c->why = why;
    return XNND_OK;
  }
  if (ctx->policy == XNND_OWN_OFF) {
    c->why = "forced: own_kernels=off";
    return XNND_OK;
  }
  xnnd_status st = kind->create(b, node, ctx->flags, ctx->allocator, &c->made);
  if (st != XNND_OK) {
    snprintf(err, err_size, "nodes[%u] (%s): xnnd's own kernel could not be created", i, c->text);
    return st;
  }
  if (ctx->policy == XNND_OWN_ON) {
    c->own = true;
    c->why = "forced: own_kernels=on";
    return XNND_OK;
  }
  if (kind->margin_pct == XNND_XOWN_ALWAYS) {
    c->own = true;
    c->why = kind->wins;
    return XNND_OK;
  }
  c->cached = cache_get(&key, ctx->threads, &c->own_ns, &c->xnn_ns);
  if (!c->cached) {
    st = calibrate(ctx, b, i, &c->made, &c->own_ns, &c->xnn_ns, err, err_size);
    if (st != XNND_OK) return st;
    cache_put(&key, ctx->threads, c->own_ns, c->xnn_ns);
  }
  c->own = (double)c->own_ns * 100.0 <= (double)c->xnn_ns * (100.0 + kind->margin_pct);
  c->why = c->own ? kind->wins : "XNNPACK's kernel measured as fast or faster on this CPU";
  return XNND_OK;
}

void xnnd_kernel_choice_release(const xnnd_allocator* a, xnnd_kernel_choice* c) {
  if (c->made.kernel != NULL) c->made.destroy(c->made.kernel, a);
  c->made.kernel = NULL;
}

size_t xnnd_kernel_choice_format(const xnnd_choice_ctx* ctx, const xnnd_kernel_choice* choices, uint32_t n,
                                 char* buf, size_t size) {
  size_t used = 0;
#define PUT(...)                                                                   \
  do {                                                                             \
    int w = snprintf(buf + (used < size ? used : size), used < size ? size - used : 0, __VA_ARGS__); \
    if (w > 0) used += (size_t)w;                                                  \
  } while (0)
  if (size > 0) buf[0] = '\0';
  PUT("convolution kernels (own_kernels=%s, winograd=%s, %u thread%s):\n", policy_name(ctx->policy),
      (ctx->flags & XNND_XOWN_WINOGRAD) ? "on" : "off", ctx->threads, ctx->threads == 1 ? "" : "s");
  for (uint32_t k = 0; k < n; k++) {
    const xnnd_kernel_choice* c = &choices[k];
    PUT("  node %4u  %-44s", c->node, c->text);
    if (c->own_ns || c->xnn_ns)
      PUT("  xnnd %8.3f ms  XNNPACK %8.3f ms%s", (double)c->own_ns / 1e6, (double)c->xnn_ns / 1e6,
          c->cached ? " (cached)" : "");
    PUT("  -> %s: %s\n", c->own ? "xnnd" : "XNNPACK", c->why);
  }
#undef PUT
  return used;
}
