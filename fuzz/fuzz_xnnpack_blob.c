/* Fuzz the XNNPACK delegate from arbitrary blob bytes: init (complete blob verification,
 * subgraph definition, runtime creation) with plausible program tensors for the call, then
 * one execute on zero inputs. Input: one flags byte, then the blob. The call's tensors are
 * read from the blob's own external values when its flatbuffer verifies (so fuzzing gets
 * past the boundary checks); flag bits then perturb them to exercise the mismatch paths.
 * Otherwise a fixed signature is used: f32[1,3,16,16] -> f32[1,8,8,8]. */
#include <stdio.h>

#include "backends/xnnpack/xnnpack_backend.h"
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

  const xnnd_backend* be = xnnd_xnnpack_backend_get();
  xnnd_backend_init_args args = {
      .blob = blob, .blob_size = blob_size, .specs = NULL, .num_specs = 0,
      .allocator = &fuzz_allocator, .num_threads = 1,
      .inputs = in, .num_inputs = n_in, .outputs = out, .num_outputs = n_out,
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
