/* Fuzz the XNNPACK delegate from arbitrary blob bytes: init (complete blob verification,
 * subgraph definition, runtime creation) with plausible program tensors for the call, then
 * one execute on zero inputs. Input: one flags byte, then the blob. The call's tensors are
 * read from the blob's own external values when its flatbuffer verifies (so fuzzing gets
 * past the boundary checks); flag bits then perturb them to exercise the mismatch paths.
 * Otherwise a fixed signature is used: f32[1,3,16,16] -> f32[1,8,8,8].
 * A dynamic blob (Graph.num_symbols > 0) is initialised at the symbol values its external
 * dims solve to (each symbol from a dim that is k*s + c), then reshaped to smaller values
 * (flag bit 8: each symbol one less, else halved), executed there, reshaped back (a cache
 * hit) and executed again. */
#include <stdio.h>

#include "backends/xnnpack/xnnpack_backend.h"
#include "dim_expr.h"
#include "fb.h"
#include "fuzz_blob.h"
#include "fuzz_common.h"
#include "pte_format.h"
#include "xnnpack_generated.h"

#define MAX_EXT 8

/* Program tensors matching the blob's externals; false when the blob is not readable. */
static bool tensors_from_blob(const uint8_t* blob, size_t size, xnnd_tensor* in, uint32_t* n_in,
                              xnnd_tensor* out, uint32_t* n_out) {
  if (size < XNND_BLOB_HEADER_SIZE) return false;
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  if (h.flatbuffer_offset % 8 || h.flatbuffer_offset > size || h.flatbuffer_size > size - h.flatbuffer_offset)
    return false;
  const uint8_t* fbp = blob + h.flatbuffer_offset;
  char msg[128];
  if (fb_verify(fbp, (size_t)h.flatbuffer_size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, NULL, msg,
                sizeof(msg)) != XNND_OK)
    return false;
  fb_table g = fb_root(fbp);
  fb_vec values = fb_vector(g, XNND_XNNPACK_Graph_values);
  for (int side = 0; side < 2; side++) {
    fb_vec ids = fb_vector(g, side == 0 ? XNND_XNNPACK_Graph_input_ids : XNND_XNNPACK_Graph_output_ids);
    xnnd_tensor* ts = side == 0 ? in : out;
    if (ids.len > MAX_EXT) return false;
    for (uint32_t i = 0; i < ids.len; i++) {
      if (!fuzz_blob_value_tensor(values, fb_vec_u32(ids, i), &ts[i])) return false;
    }
    if (side == 0) *n_in = ids.len;
    else *n_out = ids.len;
  }
  return true;
}

/* The root table of a blob whose flatbuffer verifies, else NULL. */
static fb_table blob_graph(const uint8_t* blob, size_t size) {
  if (size < XNND_BLOB_HEADER_SIZE) return NULL;
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  if (h.flatbuffer_offset % 8 || h.flatbuffer_offset > size || h.flatbuffer_size > size - h.flatbuffer_offset)
    return NULL;
  char msg[128];
  if (fb_verify(blob + h.flatbuffer_offset, (size_t)h.flatbuffer_size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT,
                NULL, msg, sizeof(msg)) != XNND_OK)
    return NULL;
  return fb_root(blob + h.flatbuffer_offset);
}

/* Forms of a value's dims when it has valid ones. */
static bool value_forms(fb_table v, uint32_t num_syms, xnnd_dimx* x, uint32_t* rank) {
  fb_vec dims = fb_vector(v, XNND_XNNPACK_Value_dims);
  fb_vec e = fb_vector(v, XNND_XNNPACK_Value_dim_exprs);
  if (e.data == NULL || dims.len > XNND_MAX_RANK || e.len != dims.len * (1 + num_syms)) return false;
  int64_t wire[XNND_MAX_RANK * (1 + XNND_MAX_SYMS)];
  for (uint32_t i = 0; i < e.len; i++) wire[i] = fb_vec_i64(e, i);
  *rank = dims.len;
  return xnnd_dimx_decode(wire, dims.len, num_syms, x);
}

/* Symbol values the blob's dims were written at: each symbol from some dim k*s + c. */
static uint32_t syms_from_blob(fb_table g, int64_t* syms) {
  uint32_t n = fb_u32(g, XNND_XNNPACK_Graph_num_symbols, 0);
  if (n == 0 || n > XNND_MAX_SYMS) return n > XNND_MAX_SYMS ? n : 0;
  fb_vec values = fb_vector(g, XNND_XNNPACK_Graph_values);
  for (uint32_t s = 0; s < n; s++) syms[s] = 1;
  for (uint32_t i = 0; i < values.len && i < 4096; i++) {
    fb_table v = fb_vec_table(values, i);
    xnnd_dimx x[XNND_MAX_RANK];
    uint32_t rank = 0;
    if (!value_forms(v, n, x, &rank)) continue;
    fb_vec dims = fb_vector(v, XNND_XNNPACK_Value_dims);
    for (uint32_t d = 0; d < rank; d++) {
      int s = xnnd_dimx_single_symbol(&x[d]);
      int64_t rest = (int64_t)fb_vec_u32(dims, d) - x[d].c;
      if (s >= 0 && rest >= 0 && rest % x[d].k[s] == 0) syms[s] = rest / x[d].k[s];
    }
  }
  return n;
}

/* The program tensor of external value id at symbol values syms (static dims as stored). */
static bool tensor_at(fb_table g, uint32_t id, const int64_t* syms, uint32_t n, xnnd_tensor* t) {
  fb_vec values = fb_vector(g, XNND_XNNPACK_Graph_values);
  if (!fuzz_blob_value_tensor(values, id, t)) return false;
  fb_table v = fb_vec_table(values, id);
  xnnd_dimx x[XNND_MAX_RANK];
  uint32_t rank = 0;
  if (!value_forms(v, n, x, &rank)) return true;
  bool nchw = (fb_u32(v, XNND_XNNPACK_Value_flags, 0) & XNND_XVALUE_NCHW_BOUNDARY) && rank == 4;
  for (uint32_t d = 0; d < rank; d++) {
    int64_t e = xnnd_dimx_eval(&x[d], syms, n);
    uint32_t pd = nchw ? (d == 0 ? 0 : d == 3 ? 1 : d + 1) : d;  /* blob NHWC dim d -> program dim */
    t->dims[pd] = e < 0 ? 0 : e;
  }
  return true;
}

/* Reshape to syms and execute there on fresh zero buffers. */
static void reshape_and_run(const xnnd_backend* be, void* handle, fb_table g, const int64_t* syms, uint32_t n,
                            uint32_t n_in, uint32_t n_out) {
  xnnd_tensor in[MAX_EXT], out[MAX_EXT];
  memset(in, 0, sizeof(in));
  memset(out, 0, sizeof(out));
  fb_vec in_ids = fb_vector(g, XNND_XNNPACK_Graph_input_ids), out_ids = fb_vector(g, XNND_XNNPACK_Graph_output_ids);
  for (uint32_t i = 0; i < n_in; i++)
    if (i >= in_ids.len || !tensor_at(g, fb_vec_u32(in_ids, i), syms, n, &in[i])) return;
  for (uint32_t i = 0; i < n_out; i++)
    if (i >= out_ids.len || !tensor_at(g, fb_vec_u32(out_ids, i), syms, n, &out[i])) return;
  char err[256];
  err[0] = '\0';
  xnnd_status st = be->reshape(handle, syms, n, in, n_in, out, n_out, err, sizeof(err));
  if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "reshape: %s: %s\n", xnnd_status_str(st), err);
  if (st != XNND_OK) return;
  size_t total = 0;
  bool ok = true;
  for (uint32_t i = 0; i < n_in && ok; i++) ok = (in[i].data = fuzz_zero_buffer(&in[i], &total)) != NULL;
  for (uint32_t i = 0; i < n_out && ok; i++) ok = (out[i].data = fuzz_zero_buffer(&out[i], &total)) != NULL;
  if (ok) {
    st = be->execute(handle, in, n_in, out, n_out, err, sizeof(err));
    if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "execute after reshape: %s: %s\n", xnnd_status_str(st), err);
  }
  for (uint32_t i = 0; i < MAX_EXT; i++) {
    free(in[i].data);
    free(out[i].data);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  uint8_t flags = data[0];
  uint8_t* blob = fuzz_aligned_copy(data + 1, size - 1);
  if (!blob) return 0;
  size_t blob_size = size - 1;

  xnnd_tensor in[MAX_EXT], out[MAX_EXT];
  uint32_t n_in = 1, n_out = 1;
  memset(in, 0, sizeof(in));
  memset(out, 0, sizeof(out));
  if (!tensors_from_blob(blob, blob_size, in, &n_in, out, &n_out)) {
    n_in = n_out = 1;
    in[0] = (xnnd_tensor){XNND_F32, 4, {1, 3, 16, 16}, NULL};
    out[0] = (xnnd_tensor){XNND_F32, 4, {1, 8, 8, 8}, NULL};
  }
  if ((flags & 1) && n_in > 0 && in[0].rank > 0) in[0].dims[in[0].rank - 1] += 1;
  if ((flags & 2) && n_out > 0) out[0].dtype = XNND_I64;
  if ((flags & 4) && n_in > 0) n_in--;

  fb_table graph = blob_graph(blob, blob_size);
  int64_t syms[XNND_MAX_SYMS] = {0};
  uint32_t num_syms = graph != NULL ? syms_from_blob(graph, syms) : 0;
  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  xnnd_backend_init_args args = {
      .blob = blob, .blob_size = blob_size, .specs = NULL, .num_specs = 0,
      .allocator = &fuzz_allocator, .num_threads = 1,
      .inputs = in, .num_inputs = n_in, .outputs = out, .num_outputs = n_out,
      .syms = syms, .num_syms = num_syms,
  };
  void* handle = NULL;
  char err[256];
  err[0] = '\0';
  xnnd_status st = be->init(&args, &handle, err, sizeof(err));
  if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "init: %s: %s\n", xnnd_status_str(st), err);
  if (st == XNND_OK) {
    size_t total = 0;
    bool ok = true;
    for (uint32_t i = 0; i < n_in && ok; i++)
      ok = (in[i].data = fuzz_zero_buffer(&in[i], &total)) != NULL;
    for (uint32_t i = 0; i < n_out && ok; i++)
      ok = (out[i].data = fuzz_zero_buffer(&out[i], &total)) != NULL;
    if (ok) {
      be->execute(handle, in, n_in, out, n_out, err, sizeof(err));
      xnnd_status ex = be->execute(handle, in, n_in, out, n_out, err, sizeof(err));  /* set up already */
      if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "execute: %s: %s\n", xnnd_status_str(ex), err);
    }
    if (graph != NULL && num_syms > 0 && num_syms <= XNND_MAX_SYMS && n_in <= MAX_EXT && n_out <= MAX_EXT) {
      int64_t smaller[XNND_MAX_SYMS];
      for (uint32_t s = 0; s < num_syms; s++) smaller[s] = (flags & 8) ? (syms[s] > 0 ? syms[s] - 1 : 0) : syms[s] / 2;
      reshape_and_run(be, handle, graph, smaller, num_syms, n_in, n_out);
      reshape_and_run(be, handle, graph, syms, num_syms, n_in, n_out);  /* back: a cache hit */
    }
    be->destroy(handle);
    for (uint32_t i = 0; i < MAX_EXT; i++) {
      free(in[i].data);
      free(out[i].data);
    }
  } else if (handle != NULL || err[0] == '\0') {
    __builtin_trap();  /* a failed init leaves no handle and says why */
  }
  if (fuzz_live_bytes != 0) __builtin_trap();
  free(blob);
  return 0;
}
