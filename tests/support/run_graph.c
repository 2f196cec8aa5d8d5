/* Runs IR graphs on the runtime for differential tests: IR -> program bytes -> loaded
 * program -> one execute on fixed-seed random inputs. Test code only.
 *
 * tests/CMakeLists.txt compiles this file into every test executable; only those that link
 * the toolchain (and so see its headers) get the body, so narrow tests such as test_ir and
 * test_fb still build and link against their one library. */
#if __has_include("passes/pass.h")
#include "run_graph.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "partitioner/partitioner.h"
#include "serializer/xnnpack/xnnpack_lower.h"
#include "serializer/program_writer.h"
#include "pte_format.h"  /* XNND_XNNPACK_BACKEND_NAME */
#include "xnnd/runtime.h"

static uint64_t next_random(uint64_t* s) {  /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static void fill_random(void* data, xnnd_dtype dtype, size_t numel, uint64_t seed) {
  uint64_t s = seed;
  for (size_t i = 0; i < numel; i++) {
    uint64_t r = next_random(&s);
    switch (dtype) {
      case XNND_F32: ((float*)data)[i] = (float)((double)(r >> 11) / 9007199254740992.0 * 2.0 - 1.0); break;
      case XNND_I8: ((int8_t*)data)[i] = (int8_t)(r % 256); break;
      case XNND_U8: ((uint8_t*)data)[i] = (uint8_t)(r % 256); break;
      case XNND_I32: ((int32_t*)data)[i] = (int32_t)(r % 16); break;
      case XNND_I64: ((int64_t*)data)[i] = (int64_t)(r % 16); break;
      case XNND_BOOL: ((uint8_t*)data)[i] = (uint8_t)(r & 1); break;
      default: memset((char*)data + i * xnnd_dtype_size(dtype), 0, xnnd_dtype_size(dtype)); break;
    }
  }
}

static float to_float(const void* data, xnnd_dtype dtype, size_t i) {
  switch (dtype) {
    case XNND_F32: return ((const float*)data)[i];
    case XNND_I8: return ((const int8_t*)data)[i];
    case XNND_U8: return ((const uint8_t*)data)[i];
    case XNND_I32: return (float)((const int32_t*)data)[i];
    case XNND_I64: return (float)((const int64_t*)data)[i];
    case XNND_BOOL: return ((const uint8_t*)data)[i];
    default: return NAN;
  }
}

static xnnd_status run_program(const uint8_t* bytes, size_t size, const xt_run_options* options, xt_outputs* out,
                               char* err, size_t err_size) {
  uint64_t seed = options->seed;
  xnnd_program* prog = NULL;
  xnnd_method* m = NULL;
  xnnd_error e = {0};
  void** inputs = NULL;
  xnnd_status st = xnnd_program_load_buffer(bytes, size, NULL, &prog, &e);
  static const xnnd_backend_option k_xnnpack_only = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "off"};
  static const xnnd_backend_option k_own = {XNND_XNNPACK_BACKEND_NAME, "own_kernels", "on"};
  xnnd_method_options mo = {.num_threads = 1,
                            .backend_options = options->xnnpack_kernels_only ? &k_xnnpack_only : &k_own,
                            .num_backend_options = 1};
  if (st == XNND_OK) st = xnnd_method_create(prog, "forward", &mo, &m, &e);
  if (st != XNND_OK) {
    snprintf(err, err_size, "load: %s", e.message);
    goto done;
  }
  uint32_t ni = xnnd_method_num_inputs(m), no = xnnd_method_num_outputs(m);
  inputs = calloc(ni + 1, sizeof(void*));
  if (!inputs || no > XT_MAX_OUTPUTS) {
    st = XNND_OUT_OF_MEMORY;
    snprintf(err, err_size, "too many outputs or out of memory");
    goto done;
  }
  for (uint32_t i = 0; i < ni && st == XNND_OK; i++) {
    xnnd_tensor t;
    st = xnnd_method_input_info(m, i, &t);
    if (st != XNND_OK) break;
    size_t numel = xnnd_tensor_numel(&t);
    inputs[i] = malloc(numel * xnnd_dtype_size(t.dtype) + 1);
    if (!inputs[i]) {
      st = XNND_OUT_OF_MEMORY;
      break;
    }
    fill_random(inputs[i], t.dtype, numel, seed * 1000003u + i);
    t.data = inputs[i];
    st = xnnd_method_set_input(m, i, &t);
  }
  if (st == XNND_OK) st = xnnd_method_execute(m);
  if (st != XNND_OK) {
    snprintf(err, err_size, "execute: %s", xnnd_method_errmsg(m));
    goto done;
  }
  out->count = no;
  for (uint32_t i = 0; i < no && st == XNND_OK; i++) {
    xnnd_tensor t;
    st = xnnd_method_get_output(m, i, &t);
    if (st != XNND_OK) break;
    size_t numel = xnnd_tensor_numel(&t);
    out->numel[i] = numel;
    out->rank[i] = t.rank;
    memcpy(out->dims[i], t.dims, sizeof(t.dims));
    out->data[i] = malloc(sizeof(float) * (numel ? numel : 1));
    if (!out->data[i]) {
      st = XNND_OUT_OF_MEMORY;
      break;
    }
    for (size_t k = 0; k < numel; k++) out->data[i][k] = to_float(t.data, t.dtype, k);
  }
  if (st != XNND_OK) snprintf(err, err_size, "outputs: %s", xnnd_status_str(st));
done:
  if (inputs)
    for (uint32_t i = 0; m && i < xnnd_method_num_inputs(m); i++) free(inputs[i]);
  free(inputs);
  xnnd_method_destroy(m);
  xnnd_program_destroy(prog);
  return st;
}

xnnd_status xt_run_graph(const xnnd_graph* g, const xt_run_options* options, xt_outputs* out,
                         char* err, size_t err_size) {
  memset(out, 0, sizeof(*out));
  xt_run_options o = options ? *options : (xt_run_options){0};
  xnnd_partition_plan plan;
  xnnd_partition_options popts = {.backend = &xnnd_xnnpack_toolchain_backend, .no_delegate = !o.delegate};
  xnnd_status st = xnnd_partition_graph(g, &popts, &plan);
  if (st != XNND_OK) {
    snprintf(err, err_size, "partition: %s", xnnd_status_str(st));
    return st;
  }
  uint8_t* bytes = NULL;
  size_t size = 0;
  st = xnnd_program_write(g, &plan, &bytes, &size, err, err_size);
  xnnd_partition_plan_free(&plan);
  if (st == XNND_OK) st = run_program(bytes, size, &o, out, err, err_size);
  free(bytes);
  if (st != XNND_OK) xt_outputs_free(out);
  return st;
}

void xt_outputs_free(xt_outputs* out) {
  for (uint32_t i = 0; i < XT_MAX_OUTPUTS; i++) free(out->data[i]);
  memset(out, 0, sizeof(*out));
}

double xt_outputs_rel_diff(const xt_outputs* a, const xt_outputs* b) {
  if (a->count != b->count) return -1.0;
  double worst = 0.0;
  for (uint32_t i = 0; i < a->count; i++) {
    if (a->numel[i] != b->numel[i] || a->rank[i] != b->rank[i] ||
        memcmp(a->dims[i], b->dims[i], sizeof(int64_t) * a->rank[i]) != 0)
      return -1.0;
    double amax = 1e-30, diff = 0.0;
    for (size_t k = 0; k < a->numel[i]; k++) {
      double x = a->data[i][k], y = b->data[i][k];
      if (isnan(x) != isnan(y)) return INFINITY;
      if (isnan(x)) continue;
      if (fabs(x) > amax) amax = fabs(x);
      if (fabs(x - y) > diff) diff = fabs(x - y);
    }
    if (diff / amax > worst) worst = diff / amax;
  }
  return worst;
}

#endif /* __has_include("passes/pass.h") */
