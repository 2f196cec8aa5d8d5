/* Harness of the structured-corruption test (tests/corruption/generate.py): load one .pte
 * with the runtime alone, create its first method, bind fixed inputs, execute, and print one
 * line: "OK <hash>" (FNV-1a 64 over every output's dtype, shape and bytes) or
 * "ERR <status> <message>". Exit 0 for both; 3 when a failure comes without a message.
 * A crash or a sanitizer report is the generator's "anything else". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xnnd/runtime.h"

static uint64_t fnv(uint64_t h, const void* data, size_t n) {
  const uint8_t* p = data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static int fail(xnnd_status st, const char* msg) {
  printf("ERR %s %s\n", xnnd_status_str(st), msg && msg[0] ? msg : "(no message)");
  return msg && msg[0] ? 0 : 3;
}

/* Fixed inputs: f32 in [-1, 1), integers small, from an LCG. */
static void fill(const xnnd_tensor* t, size_t n) {
  uint32_t s = 12345u;
  for (size_t i = 0; i < n; i++) {
    s = s * 1664525u + 1013904223u;
    int small = (int)(s >> 28) - 8;
    switch (t->dtype) {
      case XNND_F32: ((float*)t->data)[i] = (float)(s >> 8) / 8388608.0f - 1.0f; break;
      case XNND_F16: ((uint16_t*)t->data)[i] = 0x3c00; break; /* 1.0 */
      case XNND_I8: ((int8_t*)t->data)[i] = (int8_t)small; break;
      case XNND_U8: ((uint8_t*)t->data)[i] = (uint8_t)(small + 8); break;
      case XNND_I32: ((int32_t*)t->data)[i] = small; break;
      case XNND_I64: ((int64_t*)t->data)[i] = small; break;
      case XNND_BOOL: ((uint8_t*)t->data)[i] = (uint8_t)(small & 1); break;
      default: break;
    }
  }
}

#define MAX_INPUTS 16

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: corrupt_harness FILE.pte\n");
    return 2;
  }
  /* Small limits: a mutated dim must fail the load, not exhaust the machine. */
  xnnd_load_options lo = {.limits = {.max_method_bytes = 256u << 20}};
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = xnnd_program_load_file(argv[1], &lo, &p, &err);
  if (st != XNND_OK) return fail(st, err.message);
  xnnd_method* m = NULL;
  const xnnd_method_options mo = {.num_threads = 1};
  st = xnnd_method_create(p, xnnd_program_method_name(p, 0), &mo, &m, &err);
  if (st != XNND_OK) {
    xnnd_program_destroy(p);
    return fail(st, err.message);
  }
  int rc = 0;
  uint32_t n_in = xnnd_method_num_inputs(m);
  void* bufs[MAX_INPUTS] = {0};
  if (n_in > MAX_INPUTS) {
    rc = fail(XNND_LIMIT_EXCEEDED, "harness: more than 16 inputs");
    goto done;
  }
  for (uint32_t i = 0; i < n_in; i++) {
    xnnd_tensor t;
    xnnd_method_input_info(m, i, &t);
    size_t n = xnnd_tensor_numel(&t), bytes = n * xnnd_dtype_size(t.dtype);
    bufs[i] = aligned_alloc(64, (bytes + 64) & ~(size_t)63);
    if (!bufs[i]) {
      rc = fail(XNND_OUT_OF_MEMORY, "harness: cannot allocate an input");
      goto done;
    }
    t.data = bufs[i];
    fill(&t, n);
    if ((st = xnnd_method_set_input(m, i, &t)) != XNND_OK) {
      rc = fail(st, xnnd_method_errmsg(m));
      goto done;
    }
  }
  if ((st = xnnd_method_execute(m)) != XNND_OK) {
    rc = fail(st, xnnd_method_errmsg(m));
    goto done;
  }
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint32_t o = 0; o < xnnd_method_num_outputs(m); o++) {
    xnnd_tensor t;
    if ((st = xnnd_method_get_output(m, o, &t)) != XNND_OK) {
      rc = fail(st, "get_output failed after a successful execute");
      rc = 3;
      goto done;
    }
    h = fnv(h, &t.dtype, sizeof(t.dtype));
    h = fnv(h, &t.rank, sizeof(t.rank));
    h = fnv(h, t.dims, sizeof(t.dims[0]) * t.rank);
    h = fnv(h, t.data, xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype));
  }
  printf("OK %016llx\n", (unsigned long long)h);
done:
  for (uint32_t i = 0; i < n_in && i < MAX_INPUTS; i++) free(bufs[i]);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  return rc;
}
