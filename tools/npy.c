/* Minimal, strict .npy reader and writer for the CLI. The reader opens only regular files,
 * checks their size against a cap before reading anything, and reads exactly that size. */
#include "npy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
  const char* descr;
  xnnd_dtype dtype;
} npy_dtypes[] = {
    {"<f4", XNND_F32}, {"<f2", XNND_F16}, {"|i1", XNND_I8}, {"|u1", XNND_U8},
    {"<i4", XNND_I32}, {"<i8", XNND_I64}, {"|b1", XNND_BOOL},
};

#define FAIL(st, ...) (snprintf(err, err_size, __VA_ARGS__), (st))

/* Find `'key':` in the header dict and return a pointer just past the colon. */
static const char* dict_value(const char* hdr, const char* key) {
  char pat[32];
  snprintf(pat, sizeof(pat), "'%s':", key);
  const char* p = strstr(hdr, pat);
  if (!p) return NULL;
  p += strlen(pat);
  while (*p == ' ') p++;
  return p;
}

xnnd_status xnnd_npy_parse(const uint8_t* buf, size_t size, xnnd_tensor* t, char* err, size_t err_size) {
  memset(t, 0, sizeof(*t));
  if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return FAIL(XNND_BAD_MAGIC, "not a .npy file");
  size_t hlen, hstart;
  if (buf[6] == 1) {
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8);
    hstart = 10;
  } else if (buf[6] == 2 || buf[6] == 3) {
    if (size < 12) return FAIL(XNND_TRUNCATED, ".npy header truncated");
    hlen = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
    hstart = 12;
  } else {
    return FAIL(XNND_UNSUPPORTED_VERSION, ".npy version %u not supported", buf[6]);
  }
  if (hlen > XNND_NPY_MAX_HEADER)
    return FAIL(XNND_LIMIT_EXCEEDED, ".npy header length %zu exceeds the limit of %u", hlen,
                XNND_NPY_MAX_HEADER);
  if (hlen > size - hstart) return FAIL(XNND_TRUNCATED, ".npy header length %zu exceeds file", hlen);
  char hdr[XNND_NPY_MAX_HEADER + 1];
  memcpy(hdr, buf + hstart, hlen);
  hdr[hlen] = '\0';
  const char* d = dict_value(hdr, "descr");
  const char* fo = dict_value(hdr, "fortran_order");
  const char* sh = dict_value(hdr, "shape");
  if (!d || !fo || !sh) return FAIL(XNND_MALFORMED, ".npy header lacks descr, fortran_order or shape");
  if (strncmp(fo, "False", 5) != 0) return FAIL(XNND_UNSUPPORTED, ".npy in Fortran order is not supported");
  bool found = false;
  for (size_t i = 0; i < sizeof(npy_dtypes) / sizeof(npy_dtypes[0]); i++) {
    size_t n = strlen(npy_dtypes[i].descr);
    if (d[0] == '\'' && strncmp(d + 1, npy_dtypes[i].descr, n) == 0 && d[1 + n] == '\'') {
      t->dtype = npy_dtypes[i].dtype;
      found = true;
    }
  }
  if (!found) {
    int n = 0;  /* the quoted descr, at most 16 characters */
    while (n < 16 && d[n] && (n == 0 || d[n] != '\'')) n++;
    return FAIL(XNND_UNSUPPORTED, ".npy dtype %.*s' not supported", n, d);
  }
  if (*sh != '(') return FAIL(XNND_MALFORMED, ".npy shape is not a tuple");
  const char* p = sh + 1;
  size_t numel = 1;
  while (*p && *p != ')') {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char* end;
    long long v = strtoll(p, &end, 10);
    if (end == p || v < 0 || v > (1LL << 40)) return FAIL(XNND_MALFORMED, ".npy shape entry invalid");
    if (t->rank == XNND_MAX_RANK) return FAIL(XNND_LIMIT_EXCEEDED, ".npy rank exceeds %d", XNND_MAX_RANK);
    t->dims[t->rank++] = v;
    if (v && numel > SIZE_MAX / (size_t)v) return FAIL(XNND_LIMIT_EXCEEDED, ".npy size overflows");
    numel *= (size_t)v;
    p = end;
  }
  if (*p != ')') return FAIL(XNND_MALFORMED, ".npy shape tuple not closed");
  size_t esize = xnnd_dtype_size(t->dtype);
  if (numel > SIZE_MAX / esize) return FAIL(XNND_LIMIT_EXCEEDED, ".npy size overflows");
  size_t nbytes = numel * esize;
  size_t data_off = hstart + hlen;
  if (size - data_off != nbytes)
    return FAIL(XNND_TRUNCATED, ".npy data has %zu bytes, shape needs %zu", size - data_off, nbytes);
  t->data = malloc(nbytes ? nbytes : 1);
  if (!t->data) return FAIL(XNND_OUT_OF_MEMORY, "out of memory");
  memcpy(t->data, buf + data_off, nbytes);
  return XNND_OK;
}

xnnd_status xnnd_npy_read(const char* path, uint64_t max_bytes, xnnd_tensor* t, char* err,
                          size_t err_size) {
  memset(t, 0, sizeof(*t));
  if (max_bytes == 0) max_bytes = XNND_NPY_DEFAULT_MAX_BYTES;
  /* O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused just below. */
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return FAIL(XNND_IO_ERROR, "cannot open %s: %s", path, strerror(errno));
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return FAIL(XNND_IO_ERROR, "cannot stat %s: %s", path, strerror(e));
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return FAIL(XNND_IO_ERROR, "%s is not a regular file (devices, pipes and directories are not read)",
                path);
  }
  uint64_t fsize = (uint64_t)sb.st_size;
  if (fsize > max_bytes || fsize > SIZE_MAX - 1) {
    close(fd);
    return FAIL(XNND_LIMIT_EXCEEDED, "%s is %llu bytes, more than the %llu this .npy may have", path,
                (unsigned long long)fsize, (unsigned long long)max_bytes);
  }
  size_t size = (size_t)fsize;
  uint8_t* buf = malloc(size ? size : 1);
  if (!buf) {
    close(fd);
    return FAIL(XNND_OUT_OF_MEMORY, "out of memory reading %s (%zu bytes)", path, size);
  }
  size_t done = 0;
  while (done < size) {
    ssize_t r = read(fd, buf + done, size - done);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    done += (size_t)r;
  }
  uint8_t extra;
  ssize_t more = done == size ? read(fd, &extra, 1) : 0;
  close(fd);
  if (done != size || more != 0) {
    free(buf);
    return FAIL(XNND_IO_ERROR, "%s changed size while being read (%zu bytes expected)", path, size);
  }
  xnnd_status st = xnnd_npy_parse(buf, size, t, err, err_size);
  free(buf);
  if (st != XNND_OK) {
    char inner[256];
    snprintf(inner, sizeof(inner), "%s", err);
    snprintf(err, err_size, "%s: %s", path, inner);
  }
  return st;
}

xnnd_status xnnd_npy_write(const char* path, const xnnd_tensor* t, char* err, size_t err_size) {
  const char* descr = NULL;
  for (size_t i = 0; i < sizeof(npy_dtypes) / sizeof(npy_dtypes[0]); i++)
    if (npy_dtypes[i].dtype == t->dtype) descr = npy_dtypes[i].descr;
  if (!descr) return FAIL(XNND_UNSUPPORTED, "dtype not writable as .npy");
  char shape[256] = "";
  size_t len = 0;
  for (uint32_t i = 0; i < t->rank; i++)
    len += (size_t)snprintf(shape + len, sizeof(shape) - len, "%lld,%s", (long long)t->dims[i],
                            (t->rank > 1 && i + 1 < t->rank) ? " " : "");
  if (t->rank > 1) shape[len - 1] = '\0'; /* drop trailing comma for rank > 1 */
  char hdr[512];
  int n = snprintf(hdr, sizeof(hdr), "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, shape);
  size_t total = 10 + (size_t)n + 1;
  size_t pad = (64 - total % 64) % 64;
  memset(hdr + n, ' ', pad);
  hdr[n + pad] = '\n';
  size_t hlen = (size_t)n + pad + 1;
  uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff), (uint8_t)(hlen >> 8)};
  FILE* f = fopen(path, "wb");
  if (!f) return FAIL(XNND_IO_ERROR, "cannot open %s for writing", path);
  size_t nbytes = xnnd_tensor_numel(t) * xnnd_dtype_size(t->dtype);
  bool ok = fwrite(pre, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == hlen && fwrite(t->data, 1, nbytes, f) == nbytes;
  if (fclose(f) != 0 || !ok) return FAIL(XNND_IO_ERROR, "cannot write %s", path);
  return XNND_OK;
}
