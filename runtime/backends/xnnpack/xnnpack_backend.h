/* The built-in XNNPACK backend (name XNND_XNNPACK_BACKEND_NAME). Verifies a blob
 * (schema/xnnpack.fbs) completely, builds the XNNPACK subgraph and runtime once at init on
 * its own pthreadpool, and per execute converts NCHW<->NHWC at the boundary, sets up only
 * when bound pointers changed, and invokes. */
#ifndef XNND_RUNTIME_XNNPACK_BACKEND_H
#define XNND_RUNTIME_XNNPACK_BACKEND_H

#include "xnnd/backend.h"

const xnnd_backend* xnnd_xnnpack_backend_get(void);

#endif
