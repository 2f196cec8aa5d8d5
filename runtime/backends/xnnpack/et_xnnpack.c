/* Placeholder until the translator lands (see et_xnnpack.h): every ExecuTorch XNNPACK delegate
 * is refused with a message. */
#include "et_xnnpack.h"

#include <stdio.h>
#include <string.h>

xnnd_status xnnd_et_xnnpack_translate(const uint8_t* data, size_t size,
                                      xnnd_et_named_data_fn named_data, void* named_data_ctx,
                                      const xnnd_allocator* allocator,
                                      xnnd_et_xnnpack_result* result, char* err, size_t err_size) {
  (void)data;
  (void)size;
  (void)named_data;
  (void)named_data_ctx;
  (void)allocator;
  memset(result, 0, sizeof(*result));
  if (err && err_size) snprintf(err, err_size, "ExecuTorch XNNPACK delegates are not supported yet");
  return XNND_UNSUPPORTED;
}
