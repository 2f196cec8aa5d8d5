/* Backend interface: a delegate is is_available/init/execute/destroy, registered by name.
 * The program's DelegateCall hands a backend program tensors (NCHW, contiguous); what
 * a backend does inside (layouts, threads) is its own business. */
#ifndef XNND_BACKEND_H
#define XNND_BACKEND_H

#include <stdbool.h>
#include "xnnd/xnnd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xnnd_compile_spec {
  const char* key;      /* NUL-terminated, borrowed */
  const uint8_t* value; /* borrowed */
  size_t size;
} xnnd_compile_spec;

typedef struct xnnd_backend_init_args {
  const void* blob;     /* processed blob, borrowed; outlives the delegate */
  size_t blob_size;
  const xnnd_compile_spec* specs;
  uint32_t num_specs;
  const xnnd_allocator* allocator; /* never NULL */
  uint32_t num_threads;
  /* Shapes and dtypes of the call's program tensors (data NULL), in call order. */
  const xnnd_tensor* inputs;
  uint32_t num_inputs;
  const xnnd_tensor* outputs;
  uint32_t num_outputs;
  bool profile;         /* collect the figures get_profile reports */
  /* The method's backend options naming this backend (xnnd_method_options), borrowed for
   * the call. A key or value the backend does not know: return XNND_INVALID_ARGUMENT with a
   * message naming it. */
  const xnnd_backend_option* options;
  uint32_t num_options;
  /* Dynamic shapes (docs/ARCHITECTURE.md "Dynamic shapes"): the method's symbol values the
   * tensors above were evaluated at (each symbol at its max), num_syms == 0 for a static
   * method. A blob's dim_exprs refer to these symbols by index. */
  const int64_t* syms;
  uint32_t num_syms;
} xnnd_backend_init_args;

/* Cumulative figures since init, for `xnnd run --profile`. */
typedef struct xnnd_backend_profile {
  uint64_t executes;
  uint64_t compute_ns;   /* inside the backend's own compute (XNNPACK: xnn_invoke_runtime) */
  uint64_t boundary_ns;  /* layout conversion and setup at the boundary */
  uint64_t own_kernel_ns; /* part of compute_ns in the backend's own kernels (XNNPACK: xnnd's
                            convolutions), the rest in the library's */
} xnnd_backend_profile;

typedef struct xnnd_backend {
  const char* name;
  bool (*is_available)(void);
  /* Build a delegate instance from an untrusted blob: verify it fully first. On failure
   * write a message naming the place into err (err_size bytes). */
  xnnd_status (*init)(const xnnd_backend_init_args* args, void** handle_out, char* err, size_t err_size);
  /* Run with program tensors. Must not allocate. */
  xnnd_status (*execute)(void* handle, const xnnd_tensor* inputs, uint32_t num_inputs,
                         const xnnd_tensor* outputs, uint32_t num_outputs, char* err, size_t err_size);
  void (*destroy)(void* handle);
  /* Optional (NULL: no figures). Valid when init had args->profile set. */
  xnnd_status (*get_profile)(void* handle, xnnd_backend_profile* profile_out);
  /* Optional (NULL: nothing to say). Writes what the instance decided at init (XNNPACK: which
   * kernel each convolution got and why) as text lines into buf (size bytes, NUL-terminated,
   * truncated); returns the length the whole text needs, like snprintf. */
  size_t (*describe)(void* handle, char* buf, size_t size);
  /* Optional (NULL: the backend takes only static delegates; a delegate with symbolic dims
   * fails at method creation). Dynamic shapes: the method's symbol values changed; inputs and
   * outputs carry the new dims (data NULL). Called by xnnd_method_execute before `execute`.
   * It may allocate the first time it sees a set of symbol values (the XNNPACK backend builds
   * and caches a runtime per shape); with that shape cached it must not. On failure write a
   * message; the delegate stays usable at its previous shape. */
  xnnd_status (*reshape)(void* handle, const int64_t* syms, uint32_t num_syms,
                         const xnnd_tensor* inputs, uint32_t num_inputs,
                         const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                         size_t err_size);
} xnnd_backend;

/* Register a backend (borrowed; must outlive the process's use of it). Built-in backends
 * are registered on first use. Not thread-safe: register before loading programs. */
xnnd_status xnnd_backend_register(const xnnd_backend* backend);
/* NULL when no backend of that name is registered. */
const xnnd_backend* xnnd_backend_find(const char* name);

#ifdef __cplusplus
}
#endif

#endif /* XNND_BACKEND_H */
