/* Constant bundle: key -> bytes, with the binary file format of docs/ARCHITECTURE.md
 * ("XNDC", u32 version 1, u64 count, then per record u64 key, u64 size, bytes, zero pad to 8).
 * Loading treats the file as untrusted: every offset is checked against the end first. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

#define BUNDLE_MAGIC "XNDC"
#define BUNDLE_VERSION 1u
#define BUNDLE_HEADER_SIZE 16u
#define RECORD_HEADER_SIZE 16u

typedef struct bundle_entry {
  uint64_t key;
  size_t size;
  const unsigned char* data;
  bool owned;  /* malloc'd by put; else points into file_buf */
} bundle_entry;

struct xnnd_const_bundle {
  bundle_entry* entries;
  uint32_t count, cap;
  uint32_t* slots;  /* open addressing: entry index + 1, 0 = empty */
  uint32_t slot_cap;
  unsigned char* file_buf;
};

uint64_t xnnd_fnv1a64(const void* data, size_t size) {
  const unsigned char* p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < size; i++) {
    h ^= p[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

static void set_err(xnnd_error* err, xnnd_status st, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(xnnd_error* err, xnnd_status st, const char* fmt, ...) {
  if (!err) return;
  err->status = st;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err->message, sizeof(err->message), fmt, ap);
  va_end(ap);
}

xnnd_status xnnd_const_bundle_create(xnnd_const_bundle** out) {
  if (!out) return XNND_INVALID_ARGUMENT;
  *out = calloc(1, sizeof(xnnd_const_bundle));
  return *out ? XNND_OK : XNND_OUT_OF_MEMORY;
}

void xnnd_const_bundle_destroy(xnnd_const_bundle* b) {
  if (!b) return;
  for (uint32_t i = 0; i < b->count; i++)
    if (b->entries[i].owned) free((void*)b->entries[i].data);
  free(b->entries);
  free(b->slots);
  free(b->file_buf);
  free(b);
}

static uint32_t key_slot(uint64_t key, uint32_t mask) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull;
  key ^= key >> 33;
  return (uint32_t)key & mask;
}

static int64_t find(const xnnd_const_bundle* b, uint64_t key) {
  if (!b->slot_cap) return -1;
  uint32_t mask = b->slot_cap - 1;
  for (uint32_t i = key_slot(key, mask); b->slots[i]; i = (i + 1) & mask)
    if (b->entries[b->slots[i] - 1].key == key) return (int64_t)b->slots[i] - 1;
  return -1;
}

/* Room for one more entry (array and index at load <= 1/2). */
static bool reserve_one(xnnd_const_bundle* b) {
  if (b->count == b->cap) {
    if (b->cap >= UINT32_MAX / 4) return false;
    uint32_t cap = b->cap ? b->cap * 2 : 16;
    bundle_entry* e = realloc(b->entries, (size_t)cap * sizeof(*e));
    if (!e) return false;
    b->entries = e;
    b->cap = cap;
  }
  if ((uint64_t)(b->count + 1) * 2 > b->slot_cap) {
    uint32_t cap = b->slot_cap ? b->slot_cap * 2 : 32;
    uint32_t* slots = calloc(cap, sizeof(uint32_t));
    if (!slots) return false;
    for (uint32_t e = 0; e < b->count; e++) {
      uint32_t i = key_slot(b->entries[e].key, cap - 1);
      while (slots[i]) i = (i + 1) & (cap - 1);
      slots[i] = e + 1;
    }
    free(b->slots);
    b->slots = slots;
    b->slot_cap = cap;
  }
  return true;
}

static void append(xnnd_const_bundle* b, uint64_t key, const unsigned char* data, size_t size,
                   bool owned) {
  uint32_t mask = b->slot_cap - 1, i = key_slot(key, mask);
  while (b->slots[i]) i = (i + 1) & mask;
  b->slots[i] = b->count + 1;
  b->entries[b->count++] = (bundle_entry){key, size, data, owned};
}

xnnd_status xnnd_const_bundle_put(xnnd_const_bundle* b, uint64_t key, const void* data,
                                  size_t size) {
  if (!b || (!data && size)) return XNND_INVALID_ARGUMENT;
  int64_t at = find(b, key);
  if (at >= 0) {
    bundle_entry* e = &b->entries[at];
    if (e->size == size && (size == 0 || memcmp(e->data, data, size) == 0)) return XNND_OK;
  }
  unsigned char* copy = malloc(size ? size : 1);
  if (!copy) return XNND_OUT_OF_MEMORY;
  if (size) memcpy(copy, data, size);
  if (at >= 0) {
    bundle_entry* e = &b->entries[at];
    if (e->owned) free((void*)e->data);
    *e = (bundle_entry){key, size, copy, true};
    return XNND_OK;
  }
  if (!reserve_one(b)) {
    free(copy);
    return XNND_OUT_OF_MEMORY;
  }
  append(b, key, copy, size, true);
  return XNND_OK;
}

xnnd_status xnnd_const_bundle_get(const xnnd_const_bundle* b, uint64_t key, const void** data_out,
                                  size_t* size_out) {
  if (!b) return XNND_NOT_FOUND;
  int64_t at = find(b, key);
  if (at < 0) return XNND_NOT_FOUND;
  if (data_out) *data_out = b->entries[at].data;
  if (size_out) *size_out = b->entries[at].size;
  return XNND_OK;
}

uint32_t xnnd_const_bundle_count(const xnnd_const_bundle* b) { return b ? b->count : 0; }

xnnd_status xnnd_const_bundle_entry(const xnnd_const_bundle* b, uint32_t index, uint64_t* key_out,
                                    const void** data_out, size_t* size_out) {
  if (!b || index >= b->count) return XNND_OUT_OF_RANGE;
  if (key_out) *key_out = b->entries[index].key;
  if (data_out) *data_out = b->entries[index].data;
  if (size_out) *size_out = b->entries[index].size;
  return XNND_OK;
}

/* ---- file format ---- */

static uint64_t rd64(const unsigned char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static uint32_t rd32(const unsigned char* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr64(unsigned char* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static unsigned char* read_file(const char* path, size_t* size_out, xnnd_error* err) {
  FILE* f = fopen(path, "rb");
  if (!f) {
    set_err(err, XNND_IO_ERROR, "%s: cannot open: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, len = 0;
  unsigned char* buf = malloc(cap);
  while (buf) {
    if (len == cap) {
      unsigned char* p = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (!p) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = p;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) break;
  }
  if (!buf) {
    fclose(f);
    set_err(err, XNND_OUT_OF_MEMORY, "%s: out of memory reading the file", path);
    return NULL;
  }
  if (ferror(f)) {
    fclose(f);
    free(buf);
    set_err(err, XNND_IO_ERROR, "%s: read error", path);
    return NULL;
  }
  fclose(f);
  *size_out = len;
  return buf;
}

/* Verifies and indexes a whole bundle image; records point into buf (owned by b). */
static xnnd_status parse_image(xnnd_const_bundle* b, const unsigned char* buf, size_t size,
                               const char* path, xnnd_error* err) {
  if (size < BUNDLE_HEADER_SIZE) {
    set_err(err, XNND_TRUNCATED, "%s: header needs %u bytes, file has %zu", path,
            BUNDLE_HEADER_SIZE, size);
    return XNND_TRUNCATED;
  }
  if (memcmp(buf, BUNDLE_MAGIC, 4) != 0) {
    set_err(err, XNND_BAD_MAGIC, "%s: magic is not \"XNDC\"", path);
    return XNND_BAD_MAGIC;
  }
  uint32_t version = rd32(buf + 4);
  if (version != BUNDLE_VERSION) {
    set_err(err, XNND_UNSUPPORTED_VERSION, "%s: version %u, expected %u", path, version,
            BUNDLE_VERSION);
    return XNND_UNSUPPORTED_VERSION;
  }
  uint64_t count = rd64(buf + 8);
  size_t off = BUNDLE_HEADER_SIZE;
  if (count > (size - off) / RECORD_HEADER_SIZE) {
    set_err(err, XNND_TRUNCATED, "%s: record count %" PRIu64 " needs more than the %zu bytes "
            "left", path, count, size - off);
    return XNND_TRUNCATED;
  }
  for (uint64_t r = 0; r < count; r++) {
    if (size - off < RECORD_HEADER_SIZE) {
      set_err(err, XNND_TRUNCATED, "%s: record %" PRIu64 " header at offset %zu is truncated",
              path, r, off);
      return XNND_TRUNCATED;
    }
    uint64_t key = rd64(buf + off), nbytes = rd64(buf + off + 8);
    off += RECORD_HEADER_SIZE;
    size_t left = size - off;
    if (nbytes > left) {
      set_err(err, XNND_TRUNCATED, "%s: record %" PRIu64 " (key #%016" PRIx64 ") has %" PRIu64
              " bytes at offset %zu but only %zu remain", path, r, key, nbytes, off, left);
      return XNND_TRUNCATED;
    }
    size_t pad = (size_t)((8 - (nbytes & 7)) & 7);
    if (left - nbytes < pad) {
      set_err(err, XNND_TRUNCATED, "%s: record %" PRIu64 " (key #%016" PRIx64 ") padding is "
              "truncated", path, r, key);
      return XNND_TRUNCATED;
    }
    for (size_t i = 0; i < pad; i++)
      if (buf[off + nbytes + i] != 0) {
        set_err(err, XNND_MALFORMED, "%s: record %" PRIu64 " (key #%016" PRIx64 ") has nonzero "
                "padding", path, r, key);
        return XNND_MALFORMED;
      }
    if (find(b, key) >= 0) {
      set_err(err, XNND_MALFORMED, "%s: record %" PRIu64 " repeats key #%016" PRIx64, path, r,
              key);
      return XNND_MALFORMED;
    }
    if (!reserve_one(b)) {
      set_err(err, XNND_OUT_OF_MEMORY, "%s: out of memory indexing records", path);
      return XNND_OUT_OF_MEMORY;
    }
    append(b, key, buf + off, (size_t)nbytes, false);
    off += (size_t)nbytes + pad;
  }
  if (off != size) {
    set_err(err, XNND_MALFORMED, "%s: %zu trailing bytes after the last record", path,
            size - off);
    return XNND_MALFORMED;
  }
  return XNND_OK;
}

xnnd_status xnnd_const_bundle_load(const char* path, xnnd_const_bundle** out, xnnd_error* err) {
  if (!path || !out) {
    set_err(err, XNND_INVALID_ARGUMENT, "const_bundle_load: NULL argument");
    return XNND_INVALID_ARGUMENT;
  }
  *out = NULL;
  size_t size = 0;
  unsigned char* buf = read_file(path, &size, err);
  if (!buf) return err ? err->status : XNND_IO_ERROR;
  xnnd_const_bundle* b;
  if (xnnd_const_bundle_create(&b) != XNND_OK) {
    free(buf);
    set_err(err, XNND_OUT_OF_MEMORY, "%s: out of memory", path);
    return XNND_OUT_OF_MEMORY;
  }
  b->file_buf = buf;
  xnnd_status st = parse_image(b, buf, size, path, err);
  if (st != XNND_OK) {
    xnnd_const_bundle_destroy(b);
    return st;
  }
  if (err) {
    err->status = XNND_OK;
    err->message[0] = '\0';
  }
  *out = b;
  return XNND_OK;
}

xnnd_status xnnd_const_bundle_save(const xnnd_const_bundle* b, const char* path, xnnd_error* err) {
  if (!b || !path) {
    set_err(err, XNND_INVALID_ARGUMENT, "const_bundle_save: NULL argument");
    return XNND_INVALID_ARGUMENT;
  }
  FILE* f = fopen(path, "wb");
  if (!f) {
    set_err(err, XNND_IO_ERROR, "%s: cannot create: %s", path, strerror(errno));
    return XNND_IO_ERROR;
  }
  unsigned char hdr[BUNDLE_HEADER_SIZE] = {'X', 'N', 'D', 'C', 1, 0, 0, 0};
  wr64(hdr + 8, b->count);
  bool ok = fwrite(hdr, 1, sizeof hdr, f) == sizeof hdr;
  static const unsigned char zeros[8];
  for (uint32_t i = 0; i < b->count && ok; i++) {
    const bundle_entry* e = &b->entries[i];
    unsigned char rh[RECORD_HEADER_SIZE];
    wr64(rh, e->key);
    wr64(rh + 8, e->size);
    size_t pad = (8 - (e->size & 7)) & 7;
    ok = fwrite(rh, 1, sizeof rh, f) == sizeof rh &&
         (e->size == 0 || fwrite(e->data, 1, e->size, f) == e->size) &&
         (pad == 0 || fwrite(zeros, 1, pad, f) == pad);
  }
  if (fclose(f) != 0) ok = false;
  if (!ok) {
    set_err(err, XNND_IO_ERROR, "%s: write failed", path);
    return XNND_IO_ERROR;
  }
  if (err) {
    err->status = XNND_OK;
    err->message[0] = '\0';
  }
  return XNND_OK;
}
