/* Fuzz the .npy reader (tools/npy.c, compiled in): xnnd_npy_parse on arbitrary bytes. On
 * success the tensor's data must hold numel * element size readable bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  xnnd_tensor t;
  char err[256];
  err[0] = '\0';
  if (xnnd_npy_parse(data, size, &t, err, sizeof(err)) == XNND_OK) {
    if (t.rank > XNND_MAX_RANK || xnnd_dtype_size(t.dtype) == 0) __builtin_trap();
    size_t bytes = xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype);
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < bytes; i++) sink ^= ((const uint8_t*)t.data)[i];
    (void)sink;
    free(t.data);
  } else if (err[0] == '\0') {
    __builtin_trap();  /* every failure says why */
  }
  return 0;
}
