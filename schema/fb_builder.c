/* FlatBuffers support for xnnd's schemas, toolchain half: the back-to-front builder
 * (declared in fb_builder.h). Only the toolchain links it; the runtime reads and verifies
 * with fb.c. Output is byte-compatible with flatc's (tests/test_flatc_conformance.c). */
#include "fb_builder.h"

#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fb_builder.c copies scalars in host order; FlatBuffers are little endian"
#endif

/* Largest buffer the builder produces (FlatBuffers offsets are signed 32-bit). */
#ifndef FB_MAX_BUFFER_SIZE
#define FB_MAX_BUFFER_SIZE 0x7FFFFFF8u
#endif

static uint16_t rd_u16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }

typedef struct fb_field_loc {
  uint32_t id;
  uint32_t off;  /* builder size right after the field was pushed */
} fb_field_loc;

struct fb_builder {
  xnnd_allocator allocator;  /* alloc == NULL: libc */
  xnnd_status status;        /* sticky */
  uint8_t* buf;              /* data lives in buf[cap - size, cap) */
  size_t cap;                /* multiple of 8; buf is 8-aligned */
  size_t size;
  size_t minalign;
  bool in_table;
  bool finished;
  size_t table_start;
  fb_field_loc* fields;
  uint32_t num_fields, fields_cap;
  uint32_t* vtables;         /* offsets of emitted vtables, for dedup */
  uint32_t num_vtables, vtables_cap;
  uint16_t* scratch;         /* vtable being assembled */
  uint32_t scratch_cap;
};

static void* fb_alloc(const xnnd_allocator* a, size_t size) {
  if (a->alloc) return a->alloc(a->context, size, 8);
  return malloc(size);
}

static void fb_free(const xnnd_allocator* a, void* p) {
  if (!p) return;
  if (a->alloc) {
    if (a->free) a->free(a->context, p);
    return;
  }
  free(p);
}

static void fb_fail(fb_builder* b, xnnd_status status) {
  if (b->status == XNND_OK) b->status = status;
}

/* Grow a side array (field locations, vtable list, scratch) to hold `need` elements. */
static bool fb_grow_array(fb_builder* b, void** arr, uint32_t* cap, uint32_t need, size_t elem) {
  if (need <= *cap) return true;
  uint32_t ncap = *cap ? *cap : 16;
  while (ncap < need) {
    if (ncap > UINT32_MAX / 2) { fb_fail(b, XNND_LIMIT_EXCEEDED); return false; }
    ncap *= 2;
  }
  void* p = fb_alloc(&b->allocator, (size_t)ncap * elem);
  if (!p) { fb_fail(b, XNND_OUT_OF_MEMORY); return false; }
  if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
  fb_free(&b->allocator, *arr);
  *arr = p;
  *cap = ncap;
  return true;
}

/* Make room for `n` more bytes in front of the data. */
static bool fb_reserve(fb_builder* b, size_t n) {
  if (b->status != XNND_OK) return false;
  if (n > FB_MAX_BUFFER_SIZE || b->size > FB_MAX_BUFFER_SIZE - n) {
    fb_fail(b, XNND_LIMIT_EXCEEDED);
    return false;
  }
  if (b->cap - b->size >= n) return true;
  size_t need = b->size + n;
  size_t ncap = b->cap ? b->cap : 256;
  while (ncap < need) ncap *= 2;
  ncap = (ncap + 7) & ~(size_t)7;
  uint8_t* nbuf = fb_alloc(&b->allocator, ncap);
  if (!nbuf) {
    fb_fail(b, XNND_OUT_OF_MEMORY);
    return false;
  }
  if (b->size) memcpy(nbuf + ncap - b->size, b->buf + b->cap - b->size, b->size);
  fb_free(&b->allocator, b->buf);
  b->buf = nbuf;
  b->cap = ncap;
  return true;
}

static uint8_t* fb_at(fb_builder* b, size_t off) { return b->buf + b->cap - off; }

static void fb_push(fb_builder* b, const void* data, size_t n) {
  /* Callers reserved the room with fb_prep. */
  b->size += n;
  if (n) memcpy(fb_at(b, b->size), data, n);
}

/* Pad so that after `additional` more bytes the size is a multiple of `align`, and reserve
 * room for the padding plus those bytes. */
static bool fb_prep(fb_builder* b, size_t align, size_t additional) {
  if (b->status != XNND_OK) return false;
  if (additional > FB_MAX_BUFFER_SIZE) {
    fb_fail(b, XNND_LIMIT_EXCEEDED);
    return false;
  }
  if (align > b->minalign) b->minalign = align;
  size_t pad = (~(b->size + additional) + 1) & (align - 1);
  if (!fb_reserve(b, pad + additional)) return false;
  /* fuzz fix: an empty vector first in a fresh builder reserves nothing, and buf is still NULL */
  if (pad) memset(fb_at(b, b->size + pad), 0, pad);
  b->size += pad;
  return true;
}

xnnd_status fb_builder_create(const xnnd_allocator* allocator, fb_builder** builder_out) {
  if (!builder_out) return XNND_INVALID_ARGUMENT;
  *builder_out = NULL;
  xnnd_allocator a = {0};
  if (allocator) {
    if (!allocator->alloc || !allocator->free) return XNND_INVALID_ARGUMENT;
    a = *allocator;
  }
  fb_builder* b = fb_alloc(&a, sizeof *b);
  if (!b) return XNND_OUT_OF_MEMORY;
  memset(b, 0, sizeof *b);
  b->allocator = a;
  b->minalign = 1;
  *builder_out = b;
  return XNND_OK;
}

void fb_builder_destroy(fb_builder* b) {
  if (!b) return;
  xnnd_allocator a = b->allocator;
  fb_free(&a, b->buf);
  fb_free(&a, b->fields);
  fb_free(&a, b->vtables);
  fb_free(&a, b->scratch);
  fb_free(&a, b);
}

/* Strings, vectors and tables are built one at a time, outside any open table. */
static bool fb_can_create(fb_builder* b) {
  if (b->in_table || b->finished) fb_fail(b, XNND_INVALID_STATE);
  return b->status == XNND_OK;
}

fb_ref fb_create_string(fb_builder* b, const char* s, size_t len) {
  if (!fb_can_create(b)) return 0;
  if (len > FB_MAX_BUFFER_SIZE || (len && !s)) {
    fb_fail(b, len && !s ? XNND_INVALID_ARGUMENT : XNND_LIMIT_EXCEEDED);
    return 0;
  }
  if (!fb_prep(b, 4, len + 1)) return 0;
  uint8_t nul = 0;
  fb_push(b, &nul, 1);
  fb_push(b, s, len);
  if (!fb_reserve(b, 4)) return 0;
  uint32_t n = (uint32_t)len;
  fb_push(b, &n, 4);
  return (fb_ref)b->size;
}

fb_ref fb_create_vector(fb_builder* b, const void* elems, uint32_t count, uint32_t elem_size) {
  if (!fb_can_create(b)) return 0;
  if (elem_size == 0 || (count && !elems)) {
    fb_fail(b, XNND_INVALID_ARGUMENT);
    return 0;
  }
  uint64_t bytes = (uint64_t)count * elem_size;
  if (bytes > FB_MAX_BUFFER_SIZE) {
    fb_fail(b, XNND_LIMIT_EXCEEDED);
    return 0;
  }
  /* Element alignment: the largest power of two dividing elem_size, at most 8. */
  size_t align = 1;
  while (align < 8 && elem_size % (align * 2) == 0) align *= 2;
  if (!fb_prep(b, 4, (size_t)bytes) || !fb_prep(b, align, (size_t)bytes)) return 0;
  fb_push(b, elems, (size_t)bytes);
  if (!fb_reserve(b, 4)) return 0;
  fb_push(b, &count, 4);
  return (fb_ref)b->size;
}

fb_ref fb_create_ref_vector(fb_builder* b, const fb_ref* refs, uint32_t count) {
  if (!fb_can_create(b)) return 0;
  if (count && !refs) {
    fb_fail(b, XNND_INVALID_ARGUMENT);
    return 0;
  }
  for (uint32_t i = 0; i < count; i++) {
    if (refs[i] == 0 || refs[i] > b->size) {
      fb_fail(b, XNND_INVALID_ARGUMENT);
      return 0;
    }
  }
  if ((uint64_t)count * 4 > FB_MAX_BUFFER_SIZE) {
    fb_fail(b, XNND_LIMIT_EXCEEDED);
    return 0;
  }
  if (!fb_prep(b, 4, (size_t)count * 4 + 4)) return 0;
  for (uint32_t i = count; i-- > 0;) {
    uint32_t rel = (uint32_t)(b->size + 4 - refs[i]);
    fb_push(b, &rel, 4);
  }
  fb_push(b, &count, 4);
  return (fb_ref)b->size;
}

void fb_table_start(fb_builder* b) {
  if (!fb_can_create(b)) return;
  b->in_table = true;
  b->num_fields = 0;
  b->table_start = b->size;
}

static void fb_add_scalar(fb_builder* b, uint32_t field_id, const void* v, size_t size) {
  if (b->status != XNND_OK) return;
  if (!b->in_table) { fb_fail(b, XNND_INVALID_STATE); return; }
  if (field_id > FB_MAX_FIELD_ID) { fb_fail(b, XNND_INVALID_ARGUMENT); return; }
  if (!fb_grow_array(b, (void**)&b->fields, &b->fields_cap, b->num_fields + 1, sizeof *b->fields))
    return;
  if (!fb_prep(b, size, size)) return;
  fb_push(b, v, size);
  b->fields[b->num_fields].id = field_id;
  b->fields[b->num_fields].off = (uint32_t)b->size;
  b->num_fields++;
}

#define FB_SCALAR_ADDER(name, type)                                              \
  void name(fb_builder* b, uint32_t field_id, type v, type def) {                \
    if (v == def) return;                                                        \
    fb_add_scalar(b, field_id, &v, sizeof v);                                    \
  }
FB_SCALAR_ADDER(fb_add_u8, uint8_t)
FB_SCALAR_ADDER(fb_add_i8, int8_t)
FB_SCALAR_ADDER(fb_add_i16, int16_t)
FB_SCALAR_ADDER(fb_add_u32, uint32_t)
FB_SCALAR_ADDER(fb_add_i32, int32_t)
FB_SCALAR_ADDER(fb_add_u64, uint64_t)
FB_SCALAR_ADDER(fb_add_i64, int64_t)
FB_SCALAR_ADDER(fb_add_f32, float)
FB_SCALAR_ADDER(fb_add_f64, double)
#undef FB_SCALAR_ADDER

void fb_add_ref(fb_builder* b, uint32_t field_id, fb_ref ref) {
  if (ref == 0 || b->status != XNND_OK) return;
  if (!b->in_table) { fb_fail(b, XNND_INVALID_STATE); return; }
  /* A ref must name something already built, i.e. behind the open table. */
  if (ref > b->table_start) { fb_fail(b, XNND_INVALID_ARGUMENT); return; }
  if (!fb_prep(b, 4, 0)) return;
  uint32_t rel = (uint32_t)(b->size + 4 - ref);
  fb_add_scalar(b, field_id, &rel, 4);
}

fb_ref fb_table_end(fb_builder* b) {
  if (b->status != XNND_OK) return 0;
  if (!b->in_table) { fb_fail(b, XNND_INVALID_STATE); return 0; }
  b->in_table = false;
  uint32_t max_id = 0;
  for (uint32_t i = 0; i < b->num_fields; i++)
    if (b->fields[i].id + 1 > max_id) max_id = b->fields[i].id + 1;
  uint32_t entries = 2 + max_id; /* vtable size, table size, one slot per field */
  if (!fb_grow_array(b, (void**)&b->scratch, &b->scratch_cap, entries, sizeof *b->scratch))
    return 0;
  /* soffset placeholder: the table starts here. */
  int32_t zero = 0;
  if (!fb_prep(b, 4, 4)) return 0;
  fb_push(b, &zero, 4);
  size_t table_off = b->size;
  size_t obj_size = table_off - b->table_start;
  if (obj_size > 0xFFFF) { fb_fail(b, XNND_LIMIT_EXCEEDED); return 0; }
  uint16_t* vt = b->scratch;
  memset(vt, 0, entries * sizeof *vt);
  vt[0] = (uint16_t)(entries * 2);
  vt[1] = (uint16_t)obj_size;
  for (uint32_t i = 0; i < b->num_fields; i++) {
    uint16_t* slot = &vt[2 + b->fields[i].id];
    if (*slot) { fb_fail(b, XNND_INVALID_ARGUMENT); return 0; } /* field added twice */
    *slot = (uint16_t)(table_off - b->fields[i].off);
  }
  b->num_fields = 0;
  size_t vt_bytes = entries * 2;
  uint32_t vt_off = 0;
  for (uint32_t i = 0; i < b->num_vtables; i++) {
    const uint8_t* old = fb_at(b, b->vtables[i]);
    if (rd_u16(old) == vt_bytes && memcmp(old, vt, vt_bytes) == 0) {
      vt_off = b->vtables[i];
      break;
    }
  }
  if (!vt_off) {
    if (!fb_grow_array(b, (void**)&b->vtables, &b->vtables_cap, b->num_vtables + 1,
                       sizeof *b->vtables))
      return 0;
    /* The size is 4-aligned after the soffset, so the vtable lands 2-aligned. */
    if (!fb_reserve(b, vt_bytes)) return 0;
    fb_push(b, vt, vt_bytes);
    vt_off = (uint32_t)b->size;
    b->vtables[b->num_vtables++] = vt_off;
  }
  /* vtable = table - soffset. */
  int32_t soff = (int32_t)((int64_t)vt_off - (int64_t)table_off);
  memcpy(fb_at(b, table_off), &soff, 4);
  return (fb_ref)table_off;
}

xnnd_status fb_finish(fb_builder* b, fb_ref root, const char* identifier,
                      const uint8_t** data_out, size_t* size_out) {
  if (!b) return XNND_INVALID_ARGUMENT;
  if (b->in_table || b->finished) fb_fail(b, XNND_INVALID_STATE);
  if (b->status != XNND_OK) return b->status;
  if (root == 0 || root > b->size || !data_out || !size_out) return XNND_INVALID_ARGUMENT;
  size_t ident_len = 0;
  if (identifier) {
    while (ident_len < 5 && identifier[ident_len]) ident_len++;
    if (ident_len != 4) return XNND_INVALID_ARGUMENT;
  }
  /* 8-byte alignment of the whole buffer keeps every 8-byte vector aligned in memory. */
  size_t align = b->minalign > 8 ? b->minalign : 8;
  if (!fb_prep(b, align, 4 + ident_len)) return b->status;
  if (identifier) fb_push(b, identifier, 4);
  uint32_t rel = (uint32_t)(b->size + 4 - root);
  fb_push(b, &rel, 4);
  b->finished = true;
  *data_out = fb_at(b, b->size);
  *size_out = b->size;
  return XNND_OK;
}
