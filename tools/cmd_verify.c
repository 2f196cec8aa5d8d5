/* `xnnd run --verify BUNDLE` (also `xnnd verify BUNDLE`): load a bundled program, run every
 * test case and print per-output error statistics. Exit 0 when every output of every case is
 * within its tolerances, 1 on a mismatch, 2 when the bundle cannot be loaded or run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xnnd/bundle.h"

int xnnd_cmd_verify(int argc, char** argv) {
  const char* path = NULL;
  unsigned threads = 1;
  for (int i = 0; i < argc; i++) {
    bool next = i + 1 < argc;
    if (strcmp(argv[i], "--verify") == 0 && next && !path) path = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0 && next) threads = (unsigned)atoi(argv[++i]);
    else if (argv[i][0] != '-' && !path) path = argv[i];
    else {
      fprintf(stderr, "xnnd run --verify: unexpected argument '%s'\n", argv[i]);
      return XNND_EXIT_USAGE;
    }
  }
  if (!path) {
    fprintf(stderr, "usage: xnnd run --verify BUNDLE [--threads N]\n");
    return XNND_EXIT_USAGE;
  }
  xnnd_error err = {0};
  xnnd_bundle* b = NULL;
  xnnd_status st = xnnd_bundle_load_file(path, NULL, &b, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd run --verify: %s: %s: %s\n", path, xnnd_status_str(st), err.message);
    return XNND_EXIT_USAGE;
  }
  xnnd_bundle_output_stats stats[XNND_BUNDLE_MAX_TENSORS];
  uint32_t n = 0;
  bool passed = false;
  xnnd_method_options mo = {.num_threads = threads};
  st = xnnd_bundle_verify(b, NULL, &mo, stats, XNND_BUNDLE_MAX_TENSORS, &n, &passed, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd run --verify: %s: %s: %s\n", path, xnnd_status_str(st), err.message);
    xnnd_bundle_destroy(b);
    return XNND_EXIT_USAGE;
  }
  uint32_t cases = xnnd_bundle_num_cases(b);
  printf("%s: %u case%s, %u output%s\n", path, cases, cases == 1 ? "" : "s", n, n == 1 ? "" : "s");
  printf("  %6s %12s %12s %10s %10s %14s\n", "output", "max abs err", "max rel err", "atol", "rtol",
         "over tolerance");
  for (uint32_t o = 0; o < n; o++)
    printf("  %6u %12.3e %12.3e %10.1e %10.1e %6llu / %llu%s\n", o, stats[o].max_abs_error,
           stats[o].max_rel_error, stats[o].atol, stats[o].rtol,
           (unsigned long long)stats[o].num_over_tolerance, (unsigned long long)stats[o].numel,
           stats[o].num_over_tolerance ? "  MISMATCH" : "");
  printf("%s\n", passed ? "PASS: every output within tolerance" : "FAIL: outputs differ beyond tolerance");
  xnnd_bundle_destroy(b);
  return passed ? 0 : XNND_EXIT_FAIL;
}
