/* .npy files (NumPy format 1.0/2.0, little-endian, C order) <-> xnnd tensors.
 * The reader treats the file as untrusted: header length, dtype descr, shape and data size
 * are all checked. */
#ifndef XNND_TOOLS_NPY_H
#define XNND_TOOLS_NPY_H

#include "xnnd/xnnd.h"

/* On success t->data is malloc'd (caller frees). */
xnnd_status xnnd_npy_read(const char* path, xnnd_tensor* t, char* err, size_t err_size);
xnnd_status xnnd_npy_parse(const uint8_t* buf, size_t size, xnnd_tensor* t, char* err, size_t err_size);
xnnd_status xnnd_npy_write(const char* path, const xnnd_tensor* t, char* err, size_t err_size);

#endif
