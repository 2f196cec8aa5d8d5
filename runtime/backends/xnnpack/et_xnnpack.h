/* ExecuTorch's XNNPACK delegate data (header "XH00", FlatBuffer "XN01": XNNGraph) translated
 * into xnnd's own XNNPACK delegate blob (schema/xnnpack.fbs, "XNDX"), which the built-in
 * XNNPACK backend then verifies and runs like any blob of ours. Called by the ExecuTorch
 * program loader (runtime/et_program.c) at load time, once per "XnnpackBackend" delegate, so
 * that a node this build cannot run is named when the program loads, not when it executes.
 *
 * The input is untrusted: every offset, index and size is checked before use. */
#ifndef XNND_RUNTIME_ET_XNNPACK_H
#define XNND_RUNTIME_ET_XNNPACK_H

#include <stddef.h>
#include <stdint.h>

#include "xnnd/xnnd.h"

/* Looks up a key of the program's named_data (ExecuTorch 0.6+ keeps XNNPACK constants there).
 * Returns the bytes, or NULL when the key is absent; *size receives their length. */
typedef const uint8_t* (*xnnd_et_named_data_fn)(void* ctx, const char* key, size_t key_len,
                                                 uint64_t* size);

typedef struct xnnd_et_xnnpack_result {
  uint8_t* blob;          /* the XNDX blob, 64-aligned, from the allocator given (xnnd_free) */
  size_t blob_size;
  uint32_t num_inputs;    /* the graph's external inputs, in the order the DelegateCall's
                             arguments give them; its outputs follow them in the arguments */
  uint32_t num_outputs;
} xnnd_et_xnnpack_result;

/* Translates `size` bytes of ExecuTorch XNNPACK delegate data. On failure returns the status and
 * writes a message naming what is wrong and where (node index and ExecuTorch node type, value
 * id, offset); nothing is allocated then. */
xnnd_status xnnd_et_xnnpack_translate(const uint8_t* data, size_t size,
                                      xnnd_et_named_data_fn named_data, void* named_data_ctx,
                                      const xnnd_allocator* allocator,
                                      xnnd_et_xnnpack_result* result, char* err, size_t err_size);

#endif
