/* Fuzz the whole untrusted-program path: xnnd_program_load_buffer (header, segments,
 * flatbuffer verification, semantic checks, memory plan), then for every method (up to 4)
 * xnnd_method_create (kernel prepare, XNNPACK delegate init from the blob) and one execute
 * with zero-filled inputs. Small limits keep each input fast. */
#include <stdio.h>

#include "fuzz_common.h"
#include "xnnd/runtime.h"

#define MAX_IO_BYTES ((size_t)4 << 20)

static void run_method(xnnd_program* p, const char* name) {
  xnnd_method* m = NULL;
  xnnd_error err;
  xnnd_method_options mo = {.num_threads = 1};
  if (xnnd_method_create(p, name, &mo, &m, &err) != XNND_OK) return;
  uint32_t n_in = xnnd_method_num_inputs(m), n_out = xnnd_method_num_outputs(m);
  void* bufs[16] = {0};
  size_t total = 0;
  bool ok = n_in <= 16;
  for (uint32_t i = 0; i < n_out && ok; i++) {
    xnnd_tensor t;
    ok = xnnd_method_output_info(m, i, &t) == XNND_OK;
    size_t bytes = xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype);
    ok = ok && bytes <= MAX_IO_BYTES && (total += bytes) <= MAX_IO_BYTES;
  }
  for (uint32_t i = 0; i < n_in && ok; i++) {
    xnnd_tensor t;
    ok = xnnd_method_input_info(m, i, &t) == XNND_OK;
    size_t bytes = xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype);
    ok = ok && bytes <= MAX_IO_BYTES && (total += bytes) <= MAX_IO_BYTES;
    if (ok && posix_memalign(&bufs[i], 64, bytes ? bytes : 1) != 0) bufs[i] = NULL;
    ok = ok && bufs[i] != NULL;
    if (ok) memset(bufs[i], 0, bytes);
    t.data = bufs[i];
    if (ok) ok = xnnd_method_set_input(m, i, &t) == XNND_OK;
  }
  if (ok && xnnd_method_execute(m) == XNND_OK) {
    for (uint32_t i = 0; i < n_out; i++) {
      xnnd_tensor out;
      if (xnnd_method_get_output(m, i, &out) != XNND_OK) __builtin_trap();
      /* read every output byte so ASan sees an output view that is not backed by memory */
      size_t bytes = xnnd_tensor_numel(&out) * xnnd_dtype_size(out.dtype);
      volatile uint8_t sink = 0;
      for (size_t b = 0; b < bytes; b++) sink ^= ((const uint8_t*)out.data)[b];
      (void)sink;
    }
  }
  (void)xnnd_method_errmsg(m);
  for (uint32_t i = 0; i < 16; i++) free(bufs[i]);
  xnnd_method_destroy(m);
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  /* Odd sizes load from a misaligned view (the loader copies it), even ones in place. */
  uint8_t* copy = NULL;
  if (posix_memalign((void**)&copy, 64, size + 1) != 0) return 0;
  uint8_t* bytes = copy + (size & 1);
  if (size) memcpy(bytes, data, size);
  xnnd_load_options o = {
      .allocator = &fuzz_allocator,
      .limits = {.max_file_size = 1u << 20, .max_values = 512, .max_instructions = 256,
                 .max_rank = 0, .max_depth = 16, .max_method_bytes = 64u << 20},
  };
  xnnd_program* p = NULL;
  xnnd_error err;
  if (xnnd_program_load_buffer(bytes, size, &o, &p, &err) == XNND_OK) {
    uint32_t n = xnnd_program_method_count(p);
    for (uint32_t i = 0; i < n && i < 4; i++) run_method(p, xnnd_program_method_name(p, i));
    xnnd_program_destroy(p);
  } else if (p != NULL || err.message[0] == '\0') {
    __builtin_trap();  /* a failure must leave no program and say why */
  }
  if (fuzz_live_bytes != 0) __builtin_trap();  /* everything given back */
  free(copy);
  return 0;
}
