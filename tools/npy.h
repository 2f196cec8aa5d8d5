/* .npy files (NumPy format 1.0/2.0, little-endian, C order) <-> xnnd tensors.
 * The reader treats the file as untrusted: header length, dtype descr, shape and data size
 * are all checked. */
#ifndef XNND_TOOLS_NPY_H
#define XNND_TOOLS_NPY_H

#include "xnnd/xnnd.h"

#include <stdint.h>

/* Default cap on a .npy file's size when the caller knows no better: 4 GiB. */
#define XNND_NPY_DEFAULT_MAX_BYTES ((uint64_t)4 << 30)
/* The largest .npy header this reader accepts (format 2.0/3.0 allow 4 GiB). */
#define XNND_NPY_MAX_HEADER 65536u

/* Read a regular file of at most max_bytes (0: XNND_NPY_DEFAULT_MAX_BYTES); anything else
 * (a device such as /dev/zero, a FIFO, a directory, a bigger file) fails with a message
 * before its bytes are read. On success t->data is malloc'd (caller frees). */
xnnd_status xnnd_npy_read(const char* path, uint64_t max_bytes, xnnd_tensor* t, char* err,
                          size_t err_size);
xnnd_status xnnd_npy_parse(const uint8_t* buf, size_t size, xnnd_tensor* t, char* err, size_t err_size);
xnnd_status xnnd_npy_write(const char* path, const xnnd_tensor* t, char* err, size_t err_size);

#endif
