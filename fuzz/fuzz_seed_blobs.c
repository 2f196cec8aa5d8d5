/* Seed helper for fuzz_xnnpack_blob (not a fuzzer): loads a .pte with the runtime, so only a
 * verified program is read, and writes each delegate blob as OUTDIR/blob_<i> with the
 * fuzzer's flags byte (0) in front. usage: fuzz_seed_blobs IN.pte OUTDIR */
#include <stdio.h>

#include "runtime_internal.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fuzz_seed_blobs IN.pte OUTDIR\n");
    return 2;
  }
  xnnd_program* p = NULL;
  xnnd_error err;
  if (xnnd_program_load_file(argv[1], NULL, &p, &err) != XNND_OK) {
    fprintf(stderr, "fuzz_seed_blobs: %s: %s\n", argv[1], err.message);
    return 1;
  }
  int rc = 0;
  for (uint32_t i = 0; i < p->num_delegates && rc == 0; i++) {
    char path[4096];
    snprintf(path, sizeof(path), "%s/blob_%u", argv[2], i);
    FILE* f = fopen(path, "wb");
    const uint8_t flags = 0;
    if (!f || fwrite(&flags, 1, 1, f) != 1 ||
        fwrite(p->delegates[i].blob, 1, (size_t)p->delegates[i].size, f) != p->delegates[i].size)
      rc = 1;
    if (f && fclose(f) != 0) rc = 1;
  }
  printf("%u blobs from %s\n", p->num_delegates, argv[1]);
  xnnd_program_destroy(p);
  return rc;
}
