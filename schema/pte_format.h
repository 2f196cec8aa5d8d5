/* Fixed binary headers of the .pte file and of the XNNPACK delegate blob, shared by the
 * serializer (writes) and the runtime (reads and checks). See docs/ARCHITECTURE.md. */
#ifndef XNND_SCHEMA_PTE_FORMAT_H
#define XNND_SCHEMA_PTE_FORMAT_H

#include <stdint.h>
#include <string.h>

#define XNND_PTE_MAGIC "XNNDPTE"          /* 8 bytes with the NUL */
#define XNND_PTE_VERSION 1u
#define XNND_PTE_HEADER_SIZE 64u
#define XNND_SEGMENT_ALIGN 64u

typedef struct xnnd_pte_header {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  uint64_t program_offset, program_size;
  uint64_t constant_offset, constant_size;
  uint64_t delegate_offset, delegate_size;
} xnnd_pte_header;

#define XNND_BLOB_MAGIC "XNDX"            /* 4 bytes, no NUL */
#define XNND_BLOB_VERSION 1u
#define XNND_BLOB_HEADER_SIZE 64u

typedef struct xnnd_blob_header {
  char magic[4];
  uint32_t version;
  uint64_t flatbuffer_offset, flatbuffer_size;
  uint64_t constant_offset, constant_size;
  uint8_t reserved[24];
} xnnd_blob_header;

/* Value flags inside an XNNPACK blob (xnnpack.fbs Value.flags). */
#define XNND_XVALUE_EXTERNAL_INPUT 1u
#define XNND_XVALUE_EXTERNAL_OUTPUT 2u
#define XNND_XVALUE_NCHW_BOUNDARY 4u

/* The backend name the serializer writes and the runtime registers. */
#define XNND_XNNPACK_BACKEND_NAME "XnnpackBackend"

/* Little-endian field access without alignment assumptions. */
static inline uint32_t xnnd_le32(const uint8_t* p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t xnnd_le64(const uint8_t* p) {
  return (uint64_t)xnnd_le32(p) | ((uint64_t)xnnd_le32(p + 4) << 32);
}
static inline void xnnd_put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void xnnd_put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* Header <-> bytes (64 each). Readers check magic/version/bounds themselves. */
static inline void xnnd_pte_header_write(const xnnd_pte_header* h, uint8_t out[64]) {
  memset(out, 0, 64);
  memcpy(out, h->magic, 8);
  xnnd_put_le32(out + 8, h->version);
  xnnd_put_le32(out + 12, h->header_size);
  xnnd_put_le64(out + 16, h->program_offset);
  xnnd_put_le64(out + 24, h->program_size);
  xnnd_put_le64(out + 32, h->constant_offset);
  xnnd_put_le64(out + 40, h->constant_size);
  xnnd_put_le64(out + 48, h->delegate_offset);
  xnnd_put_le64(out + 56, h->delegate_size);
}
static inline void xnnd_pte_header_read(const uint8_t in[64], xnnd_pte_header* h) {
  memcpy(h->magic, in, 8);
  h->version = xnnd_le32(in + 8);
  h->header_size = xnnd_le32(in + 12);
  h->program_offset = xnnd_le64(in + 16);
  h->program_size = xnnd_le64(in + 24);
  h->constant_offset = xnnd_le64(in + 32);
  h->constant_size = xnnd_le64(in + 40);
  h->delegate_offset = xnnd_le64(in + 48);
  h->delegate_size = xnnd_le64(in + 56);
}
static inline void xnnd_blob_header_write(const xnnd_blob_header* h, uint8_t out[64]) {
  memset(out, 0, 64);
  memcpy(out, h->magic, 4);
  xnnd_put_le32(out + 4, h->version);
  xnnd_put_le64(out + 8, h->flatbuffer_offset);
  xnnd_put_le64(out + 16, h->flatbuffer_size);
  xnnd_put_le64(out + 24, h->constant_offset);
  xnnd_put_le64(out + 32, h->constant_size);
}
static inline void xnnd_blob_header_read(const uint8_t in[64], xnnd_blob_header* h) {
  memcpy(h->magic, in, 4);
  h->version = xnnd_le32(in + 4);
  h->flatbuffer_offset = xnnd_le64(in + 8);
  h->flatbuffer_size = xnnd_le64(in + 16);
  h->constant_offset = xnnd_le64(in + 24);
  h->constant_size = xnnd_le64(in + 32);
  memcpy(h->reserved, in + 40, 24);
}

/* A blob's layout: the header, the flatbuffer at XNND_BLOB_HEADER_SIZE, then the constant region
 * at the next XNND_SEGMENT_ALIGN boundary, holding the constants and at least
 * XNND_BLOB_CONST_TAIL zero bytes after them (XNNPACK may read past a tensor), rounded up to the
 * alignment (0 bytes without constants). Returns the blob's total size. Shared by the
 * toolchain's blob builder and the runtime's ExecuTorch translator. */
#define XNND_BLOB_CONST_TAIL 16u
static inline size_t xnnd_blob_layout(size_t fbsize, size_t consts_size, size_t* const_off,
                                      size_t* const_size) {
  const size_t align = XNND_SEGMENT_ALIGN;
  *const_off = (XNND_BLOB_HEADER_SIZE + fbsize + align - 1) & ~(align - 1);
  *const_size = consts_size > 0 ? (consts_size + XNND_BLOB_CONST_TAIL + align - 1) & ~(align - 1) : 0;
  return *const_off + *const_size;
}
/* Writes header, flatbuffer and constants into `blob`: zeroed, of the size xnnd_blob_layout gave. */
static inline void xnnd_blob_assemble(uint8_t* blob, const uint8_t* fb, size_t fbsize,
                                      const void* consts, size_t consts_size, size_t const_off,
                                      size_t const_size) {
  xnnd_blob_header h;
  memset(&h, 0, sizeof(h));
  memcpy(h.magic, XNND_BLOB_MAGIC, 4);
  h.version = XNND_BLOB_VERSION;
  h.flatbuffer_offset = XNND_BLOB_HEADER_SIZE;
  h.flatbuffer_size = fbsize;
  h.constant_offset = const_off;
  h.constant_size = const_size;
  xnnd_blob_header_write(&h, blob);
  memcpy(blob + XNND_BLOB_HEADER_SIZE, fb, fbsize);
  if (consts_size > 0) memcpy(blob + const_off, consts, consts_size);
}

#endif
