/* Minimal FlatBuffers support in C for xnnd's own schemas, runtime half: bounds-checked
 * readers and a table-driven verifier for untrusted bytes (the toolchain's builder is
 * fb_builder.h, not linked into the runtime).
 *
 * Readers assume a buffer that passed fb_verify against the matching descriptor; they
 * never read past what the verifier checked. Field ids and descriptors for each schema
 * come from tools/fbs_gen.py (build/gen/<schema>_generated.{h,c}). */
#ifndef XNND_SCHEMA_FB_H
#define XNND_SCHEMA_FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnnd/xnnd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest field id: vtable entries are uint16 byte offsets, so slot 4 + 2 * id must fit. */
#define FB_MAX_FIELD_ID 32763u

/* ---- verifier descriptors (emitted by tools/fbs_gen.py) ---- */
typedef enum fb_field_kind {
  FB_FIELD_SCALAR,       /* size: 1, 2, 4 or 8 */
  FB_FIELD_STRING,
  FB_FIELD_TABLE,        /* table: descriptor of the child */
  FB_FIELD_VEC_SCALAR,   /* size: element size */
  FB_FIELD_VEC_STRING,
  FB_FIELD_VEC_TABLE,    /* table: descriptor of the elements */
  FB_FIELD_UNION_TYPE,   /* ubyte; the next field id is the union value */
  FB_FIELD_UNION,        /* union_tables[type - 1]; type 0 means absent */
} fb_field_kind;

typedef struct fb_table_desc fb_table_desc;

typedef struct fb_field_desc {
  const char* name;
  fb_field_kind kind;
  uint8_t size;
  const fb_table_desc* table;
  const fb_table_desc* const* union_tables;
  uint8_t union_count;
} fb_field_desc;

struct fb_table_desc {
  const char* name;
  uint32_t num_fields;
  const fb_field_desc* fields;
};

typedef struct fb_verify_limits {
  uint32_t max_depth;        /* table nesting; 0 = 32 */
  uint32_t max_vector_len;   /* elements per vector; 0 = 1 << 24 */
  uint64_t max_tables;       /* tables visited in total; 0 = 1 << 22 */
} fb_verify_limits;

/* Verify `size` bytes at `buf` (must be 4-byte aligned) as a finished buffer whose root is
 * `root` and whose file identifier is `identifier` (4 chars, or NULL to skip). Returns
 * XNND_OK, XNND_TRUNCATED, XNND_BAD_MAGIC, XNND_OUT_OF_RANGE, XNND_MISALIGNED,
 * XNND_MALFORMED or XNND_LIMIT_EXCEEDED, with a message naming the table path, field and
 * index in msg (e.g. "Program.methods[0].values[12].dims: vector runs past end of buffer").
 * Pure offset arithmetic; overflow-safe. Thread-safe. */
xnnd_status fb_verify(const void* buf, size_t size, const char* identifier,
                      const fb_table_desc* root, const fb_verify_limits* limits,
                      char* msg, size_t msg_size);

/* ---- readers (verified buffers only) ---- */
typedef const uint8_t* fb_table;   /* NULL = absent */
typedef struct fb_vec { const uint8_t* data; uint32_t len; } fb_vec; /* data at element 0 */

fb_table fb_root(const void* buf);
bool fb_has_field(fb_table t, uint32_t field_id);
uint8_t fb_u8(fb_table t, uint32_t field_id, uint8_t def);
int8_t fb_i8(fb_table t, uint32_t field_id, int8_t def);
int16_t fb_i16(fb_table t, uint32_t field_id, int16_t def);
uint32_t fb_u32(fb_table t, uint32_t field_id, uint32_t def);
int32_t fb_i32(fb_table t, uint32_t field_id, int32_t def);
uint64_t fb_u64(fb_table t, uint32_t field_id, uint64_t def);
int64_t fb_i64(fb_table t, uint32_t field_id, int64_t def);
float fb_f32(fb_table t, uint32_t field_id, float def);
double fb_f64(fb_table t, uint32_t field_id, double def);
/* NUL-terminated (FlatBuffers guarantees it); "" when absent. len_out optional. */
const char* fb_string(fb_table t, uint32_t field_id, uint32_t* len_out);
fb_table fb_table_field(fb_table t, uint32_t field_id);
fb_vec fb_vector(fb_table t, uint32_t field_id);   /* {NULL, 0} when absent */
fb_table fb_vec_table(fb_vec v, uint32_t i);
const char* fb_vec_string(fb_vec v, uint32_t i, uint32_t* len_out);
uint8_t fb_vec_u8(fb_vec v, uint32_t i);
uint32_t fb_vec_u32(fb_vec v, uint32_t i);
int32_t fb_vec_i32(fb_vec v, uint32_t i);
int64_t fb_vec_i64(fb_vec v, uint32_t i);
float fb_vec_f32(fb_vec v, uint32_t i);

#ifdef __cplusplus
}
#endif

#endif /* XNND_SCHEMA_FB_H */
