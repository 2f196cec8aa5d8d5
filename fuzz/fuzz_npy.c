/* Fuzz the .npy reader (tools/npy.c, compiled in): xnnd_npy_parse on arbitrary bytes. On
 * success the tensor's data must hold numel * element size readable bytes, and the tensor must
 * survive the writer and the file reader (regular file, size cap) unchanged: dtype, shape and
 * every data byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "npy.h"

static char tmp_path[64];

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xnnd_tensor t;
  char err[256];
  err[0] = '\0';
  if (xnnd_npy_parse(data, size, &t, err, sizeof(err)) != XNND_OK) {
    if (err[0] == '\0') __builtin_trap();  /* every failure says why */
    return 0;
  }
  if (t.rank > XNND_MAX_RANK || xnnd_dtype_size(t.dtype) == 0) __builtin_trap();
  size_t bytes = xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype);
  volatile uint8_t sink = 0;
  for (size_t i = 0; i < bytes; i++) sink ^= ((const uint8_t*)t.data)[i];
  (void)sink;
  /* Round trip through a file: write, then read back under a cap of exactly the file size. */
  if (!tmp_path[0]) {
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/fuzz_npy_XXXXXX");
    int fd = mkstemp(tmp_path);
    if (fd < 0) __builtin_trap();
    close(fd);
  }
  if (xnnd_npy_write(tmp_path, &t, err, sizeof(err)) != XNND_OK) __builtin_trap();
  FILE* f = fopen(tmp_path, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0) __builtin_trap();
  long fsize = ftell(f);
  fclose(f);
  xnnd_tensor r;
  if (xnnd_npy_read(tmp_path, (uint64_t)fsize, &r, err, sizeof(err)) != XNND_OK) __builtin_trap();
  if (r.dtype != t.dtype || r.rank != t.rank || memcmp(r.dims, t.dims, sizeof(t.dims[0]) * t.rank) != 0 ||
      memcmp(r.data, t.data, bytes) != 0)
    __builtin_trap();
  free(r.data);
  if (fsize > 0 && xnnd_npy_read(tmp_path, (uint64_t)fsize - 1, &r, err, sizeof(err)) != XNND_LIMIT_EXCEEDED)
    __builtin_trap();
  free(t.data);
  return 0;
}
