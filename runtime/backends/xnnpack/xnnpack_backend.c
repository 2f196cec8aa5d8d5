/* XNNPACK delegate backend: placeholder, grown below. */
#include "backends/xnnpack/xnnpack_backend.h"

#include "pte_format.h"

static bool xnnpack_is_available(void) { return false; }

static xnnd_status xnnpack_init(const xnnd_backend_init_args* args, void** handle_out, char* err,
                                size_t err_size) {
  (void)args; (void)err; (void)err_size;
  *handle_out = NULL;
  return XNND_UNSUPPORTED;
}

static xnnd_status xnnpack_execute(void* handle, const xnnd_tensor* inputs, uint32_t num_inputs,
                                   const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                                   size_t err_size) {
  (void)handle; (void)inputs; (void)num_inputs; (void)outputs; (void)num_outputs; (void)err; (void)err_size;
  return XNND_UNSUPPORTED;
}

static void xnnpack_destroy(void* handle) { (void)handle; }

static const xnnd_backend k_xnnpack_backend = {
  .name = XNND_XNNPACK_BACKEND_NAME,
  .is_available = xnnpack_is_available,
  .init = xnnpack_init,
  .execute = xnnpack_execute,
  .destroy = xnnpack_destroy,
};

const xnnd_backend* xnnd_xnnpack_backend_get(void) { return &k_xnnpack_backend; }
