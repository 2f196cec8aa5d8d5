/* FlatBuffers support for xnnd's schemas: back-to-front builder, readers for verified
 * buffers, and a descriptor-driven verifier for untrusted bytes. Wire format is little
 * endian; the verifier never dereferences a byte before proving it lies inside the buffer. */
#include "fb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fb.c copies scalars in host order; FlatBuffers are little endian"
#endif

/* Largest buffer the builder produces (FlatBuffers offsets are signed 32-bit). */
#ifndef FB_MAX_BUFFER_SIZE
#define FB_MAX_BUFFER_SIZE 0x7FFFFFF8u
#endif
/* Hard cap on fb_verify_limits.max_depth: the verifier recurses once per nesting level. */
#ifndef FB_VERIFY_DEPTH_CAP
#define FB_VERIFY_DEPTH_CAP 256u
#endif
#ifndef FB_VERIFY_DEFAULT_DEPTH
#define FB_VERIFY_DEFAULT_DEPTH 32u
#endif
#ifndef FB_VERIFY_DEFAULT_VECTOR_LEN
#define FB_VERIFY_DEFAULT_VECTOR_LEN (1u << 24)
#endif
#ifndef FB_VERIFY_DEFAULT_TABLES
#define FB_VERIFY_DEFAULT_TABLES (1ull << 22)
#endif

/* vtable entries are uint16 byte offsets: slot 4 + 2 * id must fit. */
#define FB_MAX_FIELD_ID 32763u

static uint16_t rd_u16(const uint8_t* p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd_u32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static int32_t rd_i32(const uint8_t* p) { int32_t v; memcpy(&v, p, 4); return v; }

/* ======================================================================== readers */

/* Byte offset of a field inside its table, 0 when absent. */
static uint16_t field_offset(fb_table t, uint32_t field_id) {
  if (!t || field_id > FB_MAX_FIELD_ID) return 0;
  const uint8_t* vt = t - rd_i32(t);
  uint32_t slot = 4 + 2 * field_id;
  if (slot + 2 > rd_u16(vt)) return 0;
  return rd_u16(vt + slot);
}

static const uint8_t* follow(const uint8_t* p) { return p + rd_u32(p); }

fb_table fb_root(const void* buf) {
  return buf ? follow((const uint8_t*)buf) : NULL;
}

bool fb_has_field(fb_table t, uint32_t field_id) { return field_offset(t, field_id) != 0; }

#define FB_SCALAR_READER(name, type)                                  \
  type name(fb_table t, uint32_t field_id, type def) {                \
    uint16_t off = field_offset(t, field_id);                         \
    if (!off) return def;                                             \
    type v;                                                           \
    memcpy(&v, t + off, sizeof v);                                    \
    return v;                                                         \
  }
FB_SCALAR_READER(fb_u8, uint8_t)
FB_SCALAR_READER(fb_i8, int8_t)
FB_SCALAR_READER(fb_u32, uint32_t)
FB_SCALAR_READER(fb_i32, int32_t)
FB_SCALAR_READER(fb_u64, uint64_t)
FB_SCALAR_READER(fb_i64, int64_t)
FB_SCALAR_READER(fb_f32, float)
FB_SCALAR_READER(fb_f64, double)
#undef FB_SCALAR_READER

static const char* string_at(const uint8_t* s, uint32_t* len_out) {
  if (len_out) *len_out = rd_u32(s);
  return (const char*)(s + 4);
}

const char* fb_string(fb_table t, uint32_t field_id, uint32_t* len_out) {
  uint16_t off = field_offset(t, field_id);
  if (!off) {
    if (len_out) *len_out = 0;
    return "";
  }
  return string_at(follow(t + off), len_out);
}

fb_table fb_table_field(fb_table t, uint32_t field_id) {
  uint16_t off = field_offset(t, field_id);
  return off ? follow(t + off) : NULL;
}

fb_vec fb_vector(fb_table t, uint32_t field_id) {
  fb_vec v = {NULL, 0};
  uint16_t off = field_offset(t, field_id);
  if (off) {
    const uint8_t* p = follow(t + off);
    v.len = rd_u32(p);
    v.data = p + 4;
  }
  return v;
}

fb_table fb_vec_table(fb_vec v, uint32_t i) {
  return i < v.len ? follow(v.data + 4 * (size_t)i) : NULL;
}

const char* fb_vec_string(fb_vec v, uint32_t i, uint32_t* len_out) {
  if (i >= v.len) {
    if (len_out) *len_out = 0;
    return "";
  }
  return string_at(follow(v.data + 4 * (size_t)i), len_out);
}

#define FB_VEC_READER(name, type)                                     \
  type name(fb_vec v, uint32_t i) {                                   \
    type x = 0;                                                       \
    if (i < v.len) memcpy(&x, v.data + sizeof(type) * (size_t)i, sizeof x); \
    return x;                                                         \
  }
FB_VEC_READER(fb_vec_u8, uint8_t)
FB_VEC_READER(fb_vec_u32, uint32_t)
FB_VEC_READER(fb_vec_i32, int32_t)
FB_VEC_READER(fb_vec_i64, int64_t)
FB_VEC_READER(fb_vec_f32, float)
#undef FB_VEC_READER

/* ======================================================================== builder */

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
  memset(fb_at(b, b->size + pad), 0, pad);
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

/* ======================================================================== verifier */

typedef struct fb_frame {
  const char* name;
  uint32_t index;
  bool indexed;
} fb_frame;

#define FB_VERIFY_FRAMES (FB_VERIFY_DEPTH_CAP + 2)

typedef struct fb_verifier {
  const uint8_t* buf;
  uint64_t size;
  uint32_t max_depth;
  uint32_t max_vector_len;
  uint64_t max_tables;
  uint64_t tables;
  const char* root_name;
  fb_frame frames[FB_VERIFY_FRAMES];
  uint32_t num_frames;
  char* msg;
  size_t msg_size;
} fb_verifier;

static void vpush(fb_verifier* v, const char* name) {
  if (v->num_frames < FB_VERIFY_FRAMES) {
    v->frames[v->num_frames].name = name;
    v->frames[v->num_frames].indexed = false;
  }
  v->num_frames++;
}

static void vindex(fb_verifier* v, uint32_t i) {
  if (v->num_frames && v->num_frames <= FB_VERIFY_FRAMES) {
    v->frames[v->num_frames - 1].index = i;
    v->frames[v->num_frames - 1].indexed = true;
  }
}

static void vpop(fb_verifier* v) { v->num_frames--; }

static size_t append(char* dst, size_t cap, size_t pos, const char* fmt, ...) {
  if (pos >= cap) return pos;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(dst + pos, cap - pos, fmt, ap);
  va_end(ap);
  if (n < 0) return pos;
  pos += (size_t)n;
  return pos < cap ? pos : cap;
}

/* Record "<path>: <what> (offset O, size S)" and return `status`. */
static xnnd_status vfail(fb_verifier* v, xnnd_status status, uint64_t offset, const char* fmt, ...) {
  if (!v->msg || v->msg_size == 0) return status;
  char* m = v->msg;
  size_t cap = v->msg_size, pos = 0;
  pos = append(m, cap, pos, "%s", v->root_name);
  uint32_t shown = v->num_frames < FB_VERIFY_FRAMES ? v->num_frames : FB_VERIFY_FRAMES;
  for (uint32_t i = 0; i < shown; i++) {
    pos = append(m, cap, pos, ".%s", v->frames[i].name);
    if (v->frames[i].indexed) pos = append(m, cap, pos, "[%u]", (unsigned)v->frames[i].index);
  }
  if (v->num_frames > shown) pos = append(m, cap, pos, "...");
  pos = append(m, cap, pos, ": ");
  if (pos < cap) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n > 0) pos = pos + (size_t)n < cap ? pos + (size_t)n : cap;
  }
  append(m, cap, pos, " (offset %llu, size %llu)", (unsigned long long)offset,
         (unsigned long long)v->size);
  return status;
}

static xnnd_status verify_table(fb_verifier* v, uint64_t pos, const fb_table_desc* desc,
                                uint32_t depth);

/* Follow the uoffset at `pos` (already proven in bounds and 4-aligned). */
static xnnd_status verify_uoffset(fb_verifier* v, uint64_t pos, uint64_t* target) {
  uint64_t t = pos + rd_u32(v->buf + pos);
  if (t >= v->size) return vfail(v, XNND_OUT_OF_RANGE, t, "offset points past end of buffer");
  *target = t;
  return XNND_OK;
}

static xnnd_status verify_string(fb_verifier* v, uint64_t pos) {
  if (pos & 3) return vfail(v, XNND_MISALIGNED, pos, "string not 4-byte aligned");
  if (pos + 4 > v->size) return vfail(v, XNND_OUT_OF_RANGE, pos, "string runs past end of buffer");
  uint64_t len = rd_u32(v->buf + pos);
  if (pos + 4 + len + 1 > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, pos, "string of length %llu runs past end of buffer",
                 (unsigned long long)len);
  if (v->buf[pos + 4 + len] != 0)
    return vfail(v, XNND_MALFORMED, pos, "string not NUL-terminated");
  return XNND_OK;
}

/* Check a vector header at `pos` holding elements of `elem_size` bytes; *len_out on success. */
static xnnd_status verify_vector(fb_verifier* v, uint64_t pos, uint32_t elem_size,
                                 uint32_t* len_out) {
  if (pos & 3) return vfail(v, XNND_MISALIGNED, pos, "vector not 4-byte aligned");
  if (pos + 4 > v->size) return vfail(v, XNND_OUT_OF_RANGE, pos, "vector runs past end of buffer");
  uint32_t len = rd_u32(v->buf + pos);
  /* An empty vector has no elements to align: flatc writes empty [ulong] vectors with their
   * (absent) data at 4 mod 8. */
  if (elem_size == 8 && len > 0 && ((pos + 4) & 7))
    return vfail(v, XNND_MISALIGNED, pos, "vector of 8-byte elements not 8-byte aligned");
  if (len > v->max_vector_len)
    return vfail(v, XNND_LIMIT_EXCEEDED, pos, "vector length %u exceeds limit %u", (unsigned)len,
                 (unsigned)v->max_vector_len);
  /* len < 2^32 and elem_size <= 8: the product cannot overflow 64 bits. */
  uint64_t bytes = (uint64_t)len * elem_size;
  if (bytes > v->size || pos + 4 + bytes > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, pos, "vector runs past end of buffer");
  *len_out = len;
  return XNND_OK;
}

static uint32_t inline_size(const fb_field_desc* f) {
  switch (f->kind) {
    case FB_FIELD_SCALAR: return f->size;
    case FB_FIELD_UNION_TYPE: return 1;
    default: return 4;
  }
}

static xnnd_status verify_field(fb_verifier* v, const fb_field_desc* f, uint64_t tpos,
                                uint32_t obj_size, uint16_t off, uint8_t union_type,
                                uint32_t depth) {
  xnnd_status st;
  if (f->kind == FB_FIELD_UNION) {
    if (union_type > f->union_count)
      return vfail(v, XNND_MALFORMED, tpos, "union type %u out of range (max %u)",
                   (unsigned)union_type, (unsigned)f->union_count);
    if (off && union_type == 0)
      return vfail(v, XNND_MALFORMED, tpos, "union value present with type NONE");
  }
  if (!off) return XNND_OK;
  uint32_t size = inline_size(f);
  if (size != 1 && size != 2 && size != 4 && size != 8)
    return vfail(v, XNND_INVALID_ARGUMENT, tpos, "descriptor has bad scalar size %u",
                 (unsigned)size);
  if (off < 4 || (uint32_t)off + size > obj_size)
    return vfail(v, XNND_MALFORMED, tpos + off,
                 "field at table offset %u (%u bytes) outside table of %u bytes", (unsigned)off,
                 (unsigned)size, (unsigned)obj_size);
  uint64_t fpos = tpos + off;
  if (fpos & (size - 1)) return vfail(v, XNND_MISALIGNED, fpos, "field not %u-byte aligned",
                                      (unsigned)size);
  if (f->kind == FB_FIELD_SCALAR || f->kind == FB_FIELD_UNION_TYPE) return XNND_OK;

  uint64_t target = 0;
  if ((st = verify_uoffset(v, fpos, &target)) != XNND_OK) return st;
  uint32_t len;
  switch (f->kind) {
    case FB_FIELD_STRING:
      return verify_string(v, target);
    case FB_FIELD_TABLE:
      if (!f->table) return vfail(v, XNND_INVALID_ARGUMENT, fpos, "descriptor lacks table");
      return verify_table(v, target, f->table, depth + 1);
    case FB_FIELD_UNION:
      if (!f->union_tables || !f->union_tables[union_type - 1])
        return vfail(v, XNND_INVALID_ARGUMENT, fpos, "descriptor lacks union member");
      return verify_table(v, target, f->union_tables[union_type - 1], depth + 1);
    case FB_FIELD_VEC_SCALAR:
      if (f->size != 1 && f->size != 2 && f->size != 4 && f->size != 8)
        return vfail(v, XNND_INVALID_ARGUMENT, fpos, "descriptor has bad element size %u",
                     (unsigned)f->size);
      return verify_vector(v, target, f->size, &len);
    case FB_FIELD_VEC_STRING:
    case FB_FIELD_VEC_TABLE:
      if ((st = verify_vector(v, target, 4, &len)) != XNND_OK) return st;
      if (f->kind == FB_FIELD_VEC_TABLE && !f->table)
        return vfail(v, XNND_INVALID_ARGUMENT, fpos, "descriptor lacks table");
      for (uint32_t i = 0; i < len; i++) {
        vindex(v, i);
        uint64_t elem = target + 4 + 4 * (uint64_t)i, child = 0;
        if ((st = verify_uoffset(v, elem, &child)) != XNND_OK) return st;
        st = f->kind == FB_FIELD_VEC_STRING ? verify_string(v, child)
                                            : verify_table(v, child, f->table, depth + 1);
        if (st != XNND_OK) return st;
      }
      return XNND_OK;
    default:
      return vfail(v, XNND_INVALID_ARGUMENT, fpos, "descriptor has unknown field kind %d",
                   (int)f->kind);
  }
}

static xnnd_status verify_table(fb_verifier* v, uint64_t pos, const fb_table_desc* desc,
                                uint32_t depth) {
  if (depth > v->max_depth)
    return vfail(v, XNND_LIMIT_EXCEEDED, pos, "%s nested deeper than %u tables", desc->name,
                 (unsigned)v->max_depth);
  if (++v->tables > v->max_tables)
    return vfail(v, XNND_LIMIT_EXCEEDED, pos, "more than %llu tables",
                 (unsigned long long)v->max_tables);
  if (pos & 3) return vfail(v, XNND_MISALIGNED, pos, "%s table not 4-byte aligned", desc->name);
  if (pos + 4 > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, pos, "%s table runs past end of buffer", desc->name);
  int64_t vt = (int64_t)pos - rd_i32(v->buf + pos);
  if (vt < 0 || (uint64_t)vt + 4 > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, pos, "%s vtable at %lld outside buffer", desc->name,
                 (long long)vt);
  if (vt & 1) return vfail(v, XNND_MISALIGNED, pos, "%s vtable not 2-byte aligned", desc->name);
  const uint8_t* vtp = v->buf + vt;
  uint32_t vt_size = rd_u16(vtp), obj_size = rd_u16(vtp + 2);
  if (vt_size < 4 || (vt_size & 1))
    return vfail(v, XNND_MALFORMED, (uint64_t)vt, "%s vtable has bad size %u", desc->name,
                 (unsigned)vt_size);
  if ((uint64_t)vt + vt_size > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, (uint64_t)vt, "%s vtable runs past end of buffer",
                 desc->name);
  if (obj_size < 4)
    return vfail(v, XNND_MALFORMED, pos, "%s table has bad size %u", desc->name,
                 (unsigned)obj_size);
  if (pos + obj_size > v->size)
    return vfail(v, XNND_OUT_OF_RANGE, pos, "%s table runs past end of buffer", desc->name);

  uint32_t slots = (vt_size - 4) / 2;
  uint32_t n = slots > desc->num_fields ? slots : desc->num_fields;
  uint8_t union_type = 0; /* value of the most recent UNION_TYPE field */
  for (uint32_t i = 0; i < n; i++) {
    uint16_t off = i < slots ? rd_u16(vtp + 4 + 2 * i) : 0;
    if (i >= desc->num_fields) {
      /* A field from a newer writer: only its position can be checked. */
      if (off && (off < 4 || off >= obj_size))
        return vfail(v, XNND_MALFORMED, pos, "%s unknown field %u outside table", desc->name,
                     (unsigned)i);
      continue;
    }
    const fb_field_desc* f = &desc->fields[i];
    vpush(v, f->name);
    xnnd_status st = verify_field(v, f, pos, obj_size, off, union_type, depth);
    vpop(v);
    if (st != XNND_OK) return st;
    if (f->kind == FB_FIELD_UNION_TYPE) union_type = off ? v->buf[pos + off] : 0;
    else union_type = 0;
  }
  return XNND_OK;
}

xnnd_status fb_verify(const void* buf, size_t size, const char* identifier,
                      const fb_table_desc* root, const fb_verify_limits* limits,
                      char* msg, size_t msg_size) {
  if (msg && msg_size) msg[0] = '\0';
  fb_verifier v;
  v.buf = buf;
  v.size = size;
  v.max_depth = limits && limits->max_depth ? limits->max_depth : FB_VERIFY_DEFAULT_DEPTH;
  if (v.max_depth > FB_VERIFY_DEPTH_CAP) v.max_depth = FB_VERIFY_DEPTH_CAP;
  v.max_vector_len =
      limits && limits->max_vector_len ? limits->max_vector_len : FB_VERIFY_DEFAULT_VECTOR_LEN;
  v.max_tables = limits && limits->max_tables ? limits->max_tables : FB_VERIFY_DEFAULT_TABLES;
  v.tables = 0;
  v.root_name = root && root->name ? root->name : "root";
  v.num_frames = 0;
  v.msg = msg;
  v.msg_size = msg_size;
  if (!buf || !root) return vfail(&v, XNND_INVALID_ARGUMENT, 0, "no buffer or descriptor");
  if ((uintptr_t)buf & 3) return vfail(&v, XNND_MISALIGNED, 0, "buffer not 4-byte aligned");
  uint64_t header = identifier ? 8 : 4;
  if (v.size < header)
    return vfail(&v, XNND_TRUNCATED, 0, "buffer smaller than the %llu-byte header",
                 (unsigned long long)header);
  if (identifier && memcmp(v.buf + 4, identifier, 4) != 0) {
    char got[5];
    for (int i = 0; i < 4; i++) {
      uint8_t c = v.buf[4 + i];
      got[i] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
    }
    got[4] = '\0';
    return vfail(&v, XNND_BAD_MAGIC, 4, "file identifier \"%s\", expected \"%.4s\"", got,
                 identifier);
  }
  uint64_t root_pos = rd_u32(v.buf);
  if (root_pos < header)
    return vfail(&v, XNND_MALFORMED, 0, "root table offset %llu overlaps the header",
                 (unsigned long long)root_pos);
  if (root_pos >= v.size)
    return vfail(&v, XNND_OUT_OF_RANGE, 0, "root table offset %llu past end of buffer",
                 (unsigned long long)root_pos);
  xnnd_status st = verify_table(&v, root_pos, root, 1);
  if (st == XNND_OK && msg && msg_size) msg[0] = '\0';
  return st;
}
