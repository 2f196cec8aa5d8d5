/* xnnd: compile, lower, run and inspect programs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char* name;
  int (*run)(int argc, char** argv);
  const char* help;
} commands[] = {
    {"compile", xnnd_cmd_compile, "MODEL.ir --constants MODEL.xcb -o OUT.pte [lowering options]"},
    {"lower", xnnd_cmd_lower, "IN.pte -o OUT.pte [lowering options]  (IN has no delegates)"},
    {"run", xnnd_cmd_run, "MODEL.pte [--input X.npy ...] [--output-dir DIR] [--threads N] [--iters N] [--warmup N] [--profile] [--rss] [--allow-non-finite] [--input-shape I=d0,d1,...] [--shapes SETS] | --verify BUNDLE"},
    {"inspect", xnnd_cmd_inspect, "MODEL.pte [--dot FILE.dot] [--kernels [--threads N]]  (methods, steps, delegates, memory plan; --kernels: the kernel each convolution gets on this CPU)"},
    {"verify", xnnd_cmd_verify, "BUNDLE [--threads N]  (same as run --verify: run a bundle's test cases)"},
    {"compare", xnnd_cmd_compare, "A.npy B.npy [--rtol R]  (max |a-b| against max |b|)"},
};

static void usage(FILE* out) {
  fprintf(out, "usage: xnnd COMMAND ...\n\n");
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    fprintf(out, "  xnnd %-8s %s\n", commands[i].name, commands[i].help);
  fprintf(out,
          "\nlowering options: --no-delegate --report --report-json FILE --list-passes --dump-after PASS|all\n"
          "                  --disable PASS (repeatable) --exclude-ops a,b --verify-each\n"
          "                  --per-op (each node its own partition) --min-partition-size N\n");
}

int main(int argc, char** argv) {
  if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? XNND_EXIT_USAGE : 0;
  }
  for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
    if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 2, argv + 2);
  fprintf(stderr, "xnnd: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return XNND_EXIT_USAGE;
}
