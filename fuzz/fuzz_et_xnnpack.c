/* Fuzz the ExecuTorch XNNPACK translator (runtime/backends/xnnpack/et_xnnpack.c) from arbitrary
 * bytes: translate; when it succeeds, the blob must pass the XNNPACK backend's own verification
 * against the call's tensors read from that blob (init) or fail with a message, and a delegate
 * that initializes executes twice on zero inputs. Input: u32 n, then n bytes of named data (the
 * fixtures' .named format: u32 count, per entry u32 key_len, key, u64 size, bytes; parsed with
 * every length checked, parse errors leave the rest unnamed), then the delegate bytes. Seeds:
 * tests/fixtures/et_xnnpack/ (scripts/fuzz joins each .named and .xnn). */
#include <stdio.h>

#include "backends/xnnpack/et_xnnpack.h"
#include "backends/xnnpack/xnnpack_backend.h"
#include "fb.h"
#include "fuzz_blob.h"
#include "fuzz_common.h"
#include "pte_format.h"
#include "xnnpack_generated.h"

#define MAX_NAMED 16
#define MAX_EXT 8

typedef struct named_set {
  const uint8_t* key[MAX_NAMED];
  uint32_t key_len[MAX_NAMED];
  const uint8_t* data[MAX_NAMED];
  uint64_t size[MAX_NAMED];
  uint32_t count;
} named_set;

static const uint8_t* lookup(void* ctx, const char* key, size_t key_len, uint64_t* size) {
  const named_set* s = ctx;
  for (uint32_t i = 0; i < s->count; i++)
    if (s->key_len[i] == key_len && memcmp(s->key[i], key, key_len) == 0) {
      *size = s->size[i];
      return s->data[i];
    }
  return NULL;
}

static uint32_t rd32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void parse_named(const uint8_t* p, size_t size, named_set* s) {
  s->count = 0;
  if (size < 4) return;
  uint32_t n = rd32(p);
  size_t pos = 4;
  for (uint32_t i = 0; i < n && s->count < MAX_NAMED; i++) {
    if (size - pos < 4) return;
    uint32_t kl = rd32(p + pos);
    pos += 4;
    if (kl > size - pos || size - pos - kl < 8) return;
    const uint8_t* key = p + pos;
    pos += kl;
    uint64_t ds = rd64(p + pos);
    pos += 8;
    if (ds > size - pos) return;
    s->key[s->count] = key;
    s->key_len[s->count] = kl;
    s->data[s->count] = p + pos;
    s->size[s->count] = ds;
    s->count++;
    pos += (size_t)ds;
  }
}

/* The translated blob's externals as program tensors (NCHW where flag 4 says so). */
static bool tensors_from_blob(const uint8_t* blob, size_t size, xnnd_tensor* in, uint32_t n_in, xnnd_tensor* out,
                              uint32_t n_out) {
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  if (h.flatbuffer_offset > size || h.flatbuffer_size > size - h.flatbuffer_offset) return false;
  const uint8_t* fbp = blob + h.flatbuffer_offset;
  char msg[128];
  if (fb_verify(fbp, (size_t)h.flatbuffer_size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, NULL, msg,
                sizeof(msg)) != XNND_OK)
    __builtin_trap();  /* the translator wrote a flatbuffer our own verifier refuses */
  fb_table g = fb_root(fbp);
  fb_vec values = fb_vector(g, XNND_XNNPACK_Graph_values);
  for (int side = 0; side < 2; side++) {
    fb_vec ids = fb_vector(g, side == 0 ? XNND_XNNPACK_Graph_input_ids : XNND_XNNPACK_Graph_output_ids);
    if (ids.len != (side == 0 ? n_in : n_out)) __builtin_trap();  /* result counts disagree with the blob */
    xnnd_tensor* ts = side == 0 ? in : out;
    for (uint32_t i = 0; i < ids.len; i++) {
      if (!fuzz_blob_value_tensor(values, fb_vec_u32(ids, i), &ts[i])) return false;
    }
  }
  return true;
}

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t named_len = rd32(data);
  if (named_len > size - 4) named_len = (uint32_t)(size - 4);
  named_set named;
  parse_named(data + 4, named_len, &named);
  /* the delegate bytes at an odd address when named_len is odd: the translator must copy its
   * flatbuffer to read it, never assume alignment */
  size_t off = 4 + (size_t)named_len;
  uint8_t* buf = malloc(size - off + 1);
  if (buf == NULL) return 0;
  uint8_t* et = buf + (named_len & 1u);
  if (size > off) memcpy(et, data + off, size - off);

  xnnd_et_xnnpack_result r;
  char err[512];
  err[0] = '\0';
  xnnd_status st = xnnd_et_xnnpack_translate(et, size - off, lookup, &named, &fuzz_allocator, &r, err, sizeof(err));
  if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "translate: %s: %s\n", xnnd_status_str(st), err);
  if (st != XNND_OK) {
    if (err[0] == '\0' || r.blob != NULL) __builtin_trap();  /* a failure says why and hands out nothing */
  } else {
    if (r.num_inputs > MAX_EXT || r.num_outputs > MAX_EXT || ((uintptr_t)r.blob & 63u) != 0) {
      fuzz_allocator.free(NULL, r.blob);
      free(buf);
      return 0;
    }
    xnnd_tensor in[MAX_EXT], out[MAX_EXT];
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    if (tensors_from_blob(r.blob, r.blob_size, in, r.num_inputs, out, r.num_outputs)) {
      const xnnd_backend* be = xnnd_xnnpack_backend_get();
      xnnd_backend_init_args args = {
          .blob = r.blob, .blob_size = r.blob_size, .allocator = &fuzz_allocator, .num_threads = 1,
          .inputs = in, .num_inputs = r.num_inputs, .outputs = out, .num_outputs = r.num_outputs,
      };
      void* handle = NULL;
      err[0] = '\0';
      st = be->init(&args, &handle, err, sizeof(err));
      if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "init: %s: %s\n", xnnd_status_str(st), err);
      if (st == XNND_OK) {
        size_t total = 0;
        bool ok = true;
        for (uint32_t i = 0; i < r.num_inputs && ok; i++)
          ok = (in[i].data = fuzz_zero_buffer(&in[i], &total)) != NULL;
        for (uint32_t i = 0; i < r.num_outputs && ok; i++)
          ok = (out[i].data = fuzz_zero_buffer(&out[i], &total)) != NULL;
        if (ok) {
          be->execute(handle, in, r.num_inputs, out, r.num_outputs, err, sizeof(err));
          xnnd_status ex = be->execute(handle, in, r.num_inputs, out, r.num_outputs, err, sizeof(err));
          if (getenv("XNND_FUZZ_VERBOSE")) fprintf(stderr, "execute: %s: %s\n", xnnd_status_str(ex), err);
        }
        be->destroy(handle);
        for (uint32_t i = 0; i < MAX_EXT; i++) {
          free(in[i].data);
          free(out[i].data);
        }
      } else if (handle != NULL || err[0] == '\0') {
        __builtin_trap();
      }
    }
    fuzz_allocator.free(NULL, r.blob);
  }
  if (fuzz_live_bytes != 0) __builtin_trap();
  free(buf);
  return 0;
}
