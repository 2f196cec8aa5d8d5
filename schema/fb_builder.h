/* FlatBuffers builder for xnnd's schemas: used by the toolchain and, in the runtime, by the
 * ExecuTorch XNNPACK translator (runtime/backends/xnnpack/et_xnnpack.c), which writes xnnd
 * blobs at load time. Builds back to front like flatc, with vtable deduplication. */
#ifndef XNND_SCHEMA_FB_BUILDER_H
#define XNND_SCHEMA_FB_BUILDER_H

#include "fb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef uint32_t fb_ref;  /* offset from the end of the buffer; 0 = none */

typedef struct fb_builder fb_builder;

/* allocator may be NULL (libc). */
xnnd_status fb_builder_create(const xnnd_allocator* allocator, fb_builder** builder_out);
void fb_builder_destroy(fb_builder* b);

/* Any allocation failure sticks: later calls return 0 and fb_finish fails. */
fb_ref fb_create_string(fb_builder* b, const char* s, size_t len);
fb_ref fb_create_vector(fb_builder* b, const void* elems, uint32_t count, uint32_t elem_size);
fb_ref fb_create_ref_vector(fb_builder* b, const fb_ref* refs, uint32_t count);

void fb_table_start(fb_builder* b);
/* Scalars equal to their default are omitted, as flatc does. */
void fb_add_u8(fb_builder* b, uint32_t field_id, uint8_t v, uint8_t def);
void fb_add_i8(fb_builder* b, uint32_t field_id, int8_t v, int8_t def);
void fb_add_i16(fb_builder* b, uint32_t field_id, int16_t v, int16_t def);
void fb_add_u32(fb_builder* b, uint32_t field_id, uint32_t v, uint32_t def);
void fb_add_i32(fb_builder* b, uint32_t field_id, int32_t v, int32_t def);
void fb_add_u64(fb_builder* b, uint32_t field_id, uint64_t v, uint64_t def);
void fb_add_i64(fb_builder* b, uint32_t field_id, int64_t v, int64_t def);
void fb_add_f32(fb_builder* b, uint32_t field_id, float v, float def);
void fb_add_f64(fb_builder* b, uint32_t field_id, double v, double def);
void fb_add_ref(fb_builder* b, uint32_t field_id, fb_ref ref);  /* ref 0 = omit */
fb_ref fb_table_end(fb_builder* b);

/* Finish with root and 4-char identifier. On success *data_out points into the builder
 * (valid until destroy), 8-byte aligned. */
xnnd_status fb_finish(fb_builder* b, fb_ref root, const char* identifier,
                      const uint8_t** data_out, size_t* size_out);

#ifdef __cplusplus
}
#endif

#endif /* XNND_SCHEMA_FB_BUILDER_H */
