/* The data loader (a file read into memory, a read-only mmap of a file on request, or a
 * borrowed buffer) and the checks of the
 * fixed .pte header: magic, version, header size, and the three segments inside the file,
 * 64-aligned and disjoint. Pure offset arithmetic, overflow-safe, before any dereference. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime_internal.h"

static void loader_reset(xnnd_data_loader* loader, const xnnd_allocator* allocator) {
  memset(loader, 0, sizeof(*loader));
  loader->allocator = allocator;
}

/* Read exactly `size` bytes of fd into a 64-aligned copy. A file that shrinks while being read
 * is TRUNCATED; one that grows is refused too (its size no longer matches what was checked). */
static xnnd_status read_whole(xnnd_data_loader* loader, int fd, const char* path, size_t size,
                              char* msg, size_t msg_size) {
  uint8_t* copy = xnnd_alloc(loader->allocator, size, XNND_SEGMENT_ALIGN);
  if (!copy)
    return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY, "cannot allocate %zu bytes to read \"%s\"",
                     size, path);
  size_t done = 0;
  while (done < size) {
    ssize_t r = pread(fd, copy + done, size - done, (off_t)done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      int e = errno;
      xnnd_free(loader->allocator, copy);
      if (r < 0)
        return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "cannot read \"%s\": %s", path, strerror(e));
      return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                       "\"%s\" shrank to %zu bytes while being read (was %zu)", path, done, size);
    }
    done += (size_t)r;
  }
  uint8_t extra;
  ssize_t more = pread(fd, &extra, 1, (off_t)size);
  if (more != 0) {
    xnnd_free(loader->allocator, copy);
    return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "\"%s\" grew while being read (was %zu bytes)",
                     path, size);
  }
  loader->owned_copy = copy;
  loader->data = copy;
  loader->size = size;
  return XNND_OK;
}

xnnd_status xnnd_loader_open_file(xnnd_data_loader* loader, const char* path, uint64_t max_size,
                                  bool map, const xnnd_allocator* allocator, char* msg,
                                  size_t msg_size) {
  loader_reset(loader, allocator);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "cannot open \"%s\": %s", path, strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int e = errno;
    close(fd);
    return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "cannot stat \"%s\": %s", path, strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "\"%s\" is not a regular file", path);
  }
  uint64_t size = (uint64_t)st.st_size;
  if (size > max_size || size > SIZE_MAX) {
    close(fd);
    return xnnd_errf(msg, msg_size, XNND_LIMIT_EXCEEDED,
                     "\"%s\" is %llu bytes, more than the limit of %llu", path,
                     (unsigned long long)size, (unsigned long long)max_size);
  }
  if (size < XNND_PTE_HEADER_SIZE) {
    close(fd);
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                     "\"%s\" is %llu bytes, shorter than the %u-byte header", path,
                     (unsigned long long)size, XNND_PTE_HEADER_SIZE);
  }
  if (!map) {
    /* The default: a copy the file can no longer change (a mapped file truncated on disk
     * raises SIGBUS at the next access to a lost page). */
    xnnd_status status = read_whole(loader, fd, path, (size_t)size, msg, msg_size);
    close(fd);
    return status;
  }
  void* mapping = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
  int e = errno;
  close(fd);  /* the mapping keeps the file alive */
  if (mapping == MAP_FAILED)
    return xnnd_errf(msg, msg_size, XNND_IO_ERROR, "cannot map \"%s\": %s", path, strerror(e));
  loader->mapping = mapping;
  loader->mapping_size = (size_t)size;
  loader->data = mapping;  /* page-aligned */
  loader->size = (size_t)size;
  return XNND_OK;
}

xnnd_status xnnd_loader_open_buffer(xnnd_data_loader* loader, const void* data, size_t size,
                                    uint64_t max_size, const xnnd_allocator* allocator,
                                    char* msg, size_t msg_size) {
  loader_reset(loader, allocator);
  if (!data && size > 0)
    return xnnd_errf(msg, msg_size, XNND_INVALID_ARGUMENT, "buffer is NULL but size is %zu", size);
  if ((uint64_t)size > max_size)
    return xnnd_errf(msg, msg_size, XNND_LIMIT_EXCEEDED,
                     "buffer is %zu bytes, more than the limit of %llu", size,
                     (unsigned long long)max_size);
  if (size < XNND_PTE_HEADER_SIZE)
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                     "buffer is %zu bytes, shorter than the %u-byte header", size,
                     XNND_PTE_HEADER_SIZE);
  if (((uintptr_t)data & (XNND_SEGMENT_ALIGN - 1)) != 0) {
    /* Segments are 64-aligned relative to the file start; a misaligned buffer would leave
     * constants and flatbuffers misaligned in memory, so work on an aligned copy. */
    void* copy = xnnd_alloc(allocator, size, XNND_SEGMENT_ALIGN);
    if (!copy)
      return xnnd_errf(msg, msg_size, XNND_OUT_OF_MEMORY,
                       "cannot copy misaligned %zu-byte buffer", size);
    memcpy(copy, data, size);
    loader->owned_copy = copy;
    data = copy;
  }
  loader->data = data;
  loader->size = size;
  return XNND_OK;
}

const uint8_t* xnnd_loader_load(const xnnd_data_loader* loader, uint64_t offset, uint64_t size) {
  if (offset > loader->size || size > loader->size - offset) return NULL;
  return loader->data + offset;
}

void xnnd_loader_close(xnnd_data_loader* loader) {
  if (loader->mapping) munmap(loader->mapping, loader->mapping_size);
  if (loader->owned_copy) xnnd_free(loader->allocator, loader->owned_copy);
  loader_reset(loader, loader->allocator);
}

/* ---- header ---- */

typedef struct segment {
  const char* name;
  uint64_t offset, size;
} segment;

static void format_magic(char* out, size_t out_size, const char magic[8]) {
  size_t n = 0;
  out[0] = '\0';
  for (int i = 0; i < 8 && n + 5 < out_size; i++) {
    unsigned char c = (unsigned char)magic[i];
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
      n += (size_t)snprintf(out + n, out_size - n, "%c", c);
    else
      n += (size_t)snprintf(out + n, out_size - n, "\\x%02x", c);
  }
}

xnnd_status xnnd_pte_check_header(const xnnd_data_loader* loader, xnnd_pte_header* header_out,
                                  char* msg, size_t msg_size) {
  const uint8_t* bytes = xnnd_loader_load(loader, 0, XNND_PTE_HEADER_SIZE);
  if (!bytes)
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED, "header: file is %zu bytes, header needs %u",
                     loader->size, XNND_PTE_HEADER_SIZE);
  xnnd_pte_header h;
  xnnd_pte_header_read(bytes, &h);
  if (memcmp(h.magic, XNND_PTE_MAGIC, 8) != 0) {
    char shown[40];
    format_magic(shown, sizeof(shown), h.magic);
    return xnnd_errf(msg, msg_size, XNND_BAD_MAGIC,
                     "header: magic is \"%s\", expected \"XNNDPTE\\x00\"", shown);
  }
  if (h.version == 0 || h.version > XNND_PTE_VERSION)
    return xnnd_errf(msg, msg_size, XNND_UNSUPPORTED_VERSION,
                     "header: format version %u, this runtime reads version %u", h.version,
                     XNND_PTE_VERSION);
  if (h.header_size != XNND_PTE_HEADER_SIZE)
    return xnnd_errf(msg, msg_size, XNND_MALFORMED,
                     "header: header_size is %u, version %u requires %u", h.header_size,
                     h.version, XNND_PTE_HEADER_SIZE);

  const segment segs[3] = {
      {"program", h.program_offset, h.program_size},
      {"constant", h.constant_offset, h.constant_size},
      {"delegate", h.delegate_offset, h.delegate_size},
  };
  if (h.program_size == 0)
    return xnnd_errf(msg, msg_size, XNND_MALFORMED, "header: program segment is empty");
  const uint64_t file_size = loader->size;
  for (int i = 0; i < 3; i++) {
    const segment* s = &segs[i];
    if (s->size == 0) continue;  /* an absent segment occupies nothing */
    /* Starting past the end (or wrapping) is a bad offset; starting inside and running past
     * the end is what a cut-off file looks like. */
    if (s->offset >= file_size || s->size > UINT64_MAX - s->offset)
      return xnnd_errf(msg, msg_size, XNND_OUT_OF_RANGE,
                       "header: %s segment [%llu, +%llu) starts outside the %llu-byte file",
                       s->name, (unsigned long long)s->offset, (unsigned long long)s->size,
                       (unsigned long long)file_size);
    if (s->offset % XNND_SEGMENT_ALIGN != 0)
      return xnnd_errf(msg, msg_size, XNND_MISALIGNED,
                       "header: %s segment offset %llu is not a multiple of %u", s->name,
                       (unsigned long long)s->offset, XNND_SEGMENT_ALIGN);
    if (s->offset + s->size > file_size)
      return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                       "header: %s segment [%llu, %llu) runs past the end of the %llu-byte file",
                       s->name, (unsigned long long)s->offset,
                       (unsigned long long)(s->offset + s->size), (unsigned long long)file_size);
    if (s->offset < h.header_size)
      return xnnd_errf(msg, msg_size, XNND_OVERLAP,
                       "header: %s segment at %llu overlaps the %u-byte header", s->name,
                       (unsigned long long)s->offset, h.header_size);
  }
  for (int i = 0; i < 3; i++) {
    for (int j = i + 1; j < 3; j++) {
      const segment* a = &segs[i];
      const segment* b = &segs[j];
      if (a->size == 0 || b->size == 0) continue;
      if (a->offset < b->offset + b->size && b->offset < a->offset + a->size)
        return xnnd_errf(msg, msg_size, XNND_OVERLAP,
                         "header: %s segment [%llu, %llu) overlaps %s segment [%llu, %llu)",
                         a->name, (unsigned long long)a->offset,
                         (unsigned long long)(a->offset + a->size), b->name,
                         (unsigned long long)b->offset, (unsigned long long)(b->offset + b->size));
    }
  }
  *header_out = h;
  return XNND_OK;
}
