/* FlatBuffers support for xnnd's schemas, runtime half: readers for verified buffers and a
 * descriptor-driven verifier for untrusted bytes (the builder is fb_builder.c, toolchain
 * only). Wire format is little endian; the verifier never dereferences a byte before
 * proving it lies inside the buffer. */
#include "fb.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fb.c copies scalars in host order; FlatBuffers are little endian"
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
FB_SCALAR_READER(fb_i16, int16_t)
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
