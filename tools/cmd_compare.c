/* `xnnd compare A.npy B.npy`: max |a - b| against max |b| (B is the reference). Exit 1 when
 * the ratio exceeds --rtol (default 1e-4). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "npy.h"

static double element(const xnnd_tensor* t, size_t i) {
  switch (t->dtype) {
    case XNND_F32: return ((const float*)t->data)[i];
    case XNND_I64: return (double)((const int64_t*)t->data)[i];
    case XNND_I32: return ((const int32_t*)t->data)[i];
    case XNND_I8: return ((const int8_t*)t->data)[i];
    default: return ((const uint8_t*)t->data)[i];
  }
}

int xnnd_cmd_compare(int argc, char** argv) {
  double rtol = 1e-4;
  const char* files[2];
  int nf = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--rtol") == 0 && i + 1 < argc) rtol = atof(argv[++i]);
    else if (nf < 2) files[nf++] = argv[i];
    else nf = 3;
  }
  if (nf != 2) {
    fprintf(stderr, "usage: xnnd compare A.npy B.npy [--rtol R]\n");
    return XNND_EXIT_USAGE;
  }
  xnnd_tensor a, b;
  char err[512];
  if (xnnd_npy_read(files[0], 0, &a, err, sizeof(err)) != XNND_OK) {
    fprintf(stderr, "xnnd compare: %s\n", err);
    return XNND_EXIT_USAGE;
  }
  if (xnnd_npy_read(files[1], 0, &b, err, sizeof(err)) != XNND_OK) {
    free(a.data);
    fprintf(stderr, "xnnd compare: %s\n", err);
    return XNND_EXIT_USAGE;
  }
  int rc = 0;
  size_t n = xnnd_tensor_numel(&a);
  if (a.rank != b.rank || n != xnnd_tensor_numel(&b) || memcmp(a.dims, b.dims, sizeof(int64_t) * a.rank) != 0) {
    fprintf(stderr, "xnnd compare: shapes differ\n");
    rc = XNND_EXIT_FAIL;
  } else {
    double max_err = 0, max_ref = 0;
    for (size_t i = 0; i < n; i++) {
      double x = element(&a, i), y = element(&b, i);
      double e = fabs(x - y);
      if (!(e <= max_err)) max_err = e;  /* NaN propagates */
      if (fabs(y) > max_ref) max_ref = fabs(y);
    }
    double ratio = max_ref > 0 ? max_err / max_ref : max_err;
    printf("max |a-b| = %.3g, max |b| = %.3g, ratio = %.3g (tolerance %.3g): %s\n", max_err, max_ref, ratio, rtol,
           ratio <= rtol ? "ok" : "MISMATCH");
    rc = ratio <= rtol ? 0 : XNND_EXIT_FAIL;
  }
  free(a.data);
  free(b.data);
  return rc;
}
