/* Shared helpers for cmocka tests. Test code only: may print and allocate freely. */
#include "test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

char* xt_read_file(const char* path, size_t* size_out) {
  FILE* f = fopen(path, "rb");
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
  long n = ftell(f);
  if (n < 0) { fclose(f); return NULL; }
  rewind(f);
  char* buf = malloc((size_t)n + 1);
  if (!buf) { fclose(f); return NULL; }
  if (fread(buf, 1, (size_t)n, f) != (size_t)n) { free(buf); fclose(f); return NULL; }
  fclose(f);
  buf[n] = '\0';
  if (size_out) *size_out = (size_t)n;
  return buf;
}

int xt_write_file(const char* path, const void* data, size_t size) {
  FILE* f = fopen(path, "wb");
  if (!f) return -1;
  size_t w = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && w == size) ? 0 : -1;
}

static const char* rotate(const char* dir, const char* rel) {
  static char slots[4][4096];
  static int next;
  char* s = slots[next++ & 3];
  snprintf(s, sizeof(slots[0]), "%s/%s", dir ? dir : ".", rel);
  return s;
}

const char* xt_source_path(const char* rel) { return rotate(getenv("XNND_SOURCE_DIR"), rel); }
const char* xt_build_path(const char* rel) { return rotate(getenv("XNND_BUILD_DIR"), rel); }

const char* xt_temp_path(const char* tag, const char* suffix) {
  static char slots[4][256];
  static int next, counter;
  char* s = slots[next++ & 3];
  snprintf(s, sizeof(slots[0]), "%s-%d-%d%s", tag, (int)getpid(), counter++, suffix ? suffix : "");
  return s;
}

int xt_system(const char* fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof(cmd), fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  if (rc == -1) return -1;
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

void* xt_aligned_alloc(void* context, size_t size, size_t alignment) {
  (void)context;
  if (alignment < sizeof(void*)) alignment = sizeof(void*);
  uint8_t* raw = test_malloc(size + alignment + sizeof(void*));
  if (!raw) return NULL;
  uintptr_t p = ((uintptr_t)raw + sizeof(void*) + alignment - 1) & ~(uintptr_t)(alignment - 1);
  ((void**)p)[-1] = raw;
  return (void*)p;
}

void xt_aligned_free(void* context, void* ptr) {
  (void)context;
  if (ptr) test_free(((void**)ptr)[-1]);
}
