/* `xnnd run`: load a program, feed inputs (.npy or fixed-seed random), execute with timing,
 * print output shapes and latency, write outputs as .npy. Uses only the runtime API. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "npy.h"
#include "pte_format.h"  /* XNND_XNNPACK_BACKEND_NAME */
#include "xnnd/runtime.h"

#define MAX_IO 64

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* Deterministic inputs: xorshift64*, floats uniform in [-1, 1), integers in [0, 10). */
static void fill_random(xnnd_tensor* t, uint64_t seed) {
  uint64_t s = seed * 2654435761u + 88172645463325252ull;
  size_t n = xnnd_tensor_numel(t);
  for (size_t i = 0; i < n; i++) {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    uint64_t r = s * 2685821657736338717ull;
    double u = (double)(r >> 11) / 9007199254740992.0;
    switch (t->dtype) {
      case XNND_F32: ((float*)t->data)[i] = (float)(2.0 * u - 1.0); break;
      case XNND_I64: ((int64_t*)t->data)[i] = (int64_t)(u * 10); break;
      case XNND_I32: ((int32_t*)t->data)[i] = (int32_t)(u * 10); break;
      default: ((uint8_t*)t->data)[i] = (uint8_t)(u * 10); break;
    }
  }
}

static void print_shape(const xnnd_tensor* t) {
  printf("%s[", xnnd_dtype_name(t->dtype));
  for (uint32_t i = 0; i < t->rank; i++) printf("%s%lld", i ? "," : "", (long long)t->dims[i]);
  printf("]");
}

/* Dims "d0,d1,..." at s into t (rank and dims); stops at the end, '/' or ';'. Returns the
 * character after the dims, or NULL when they do not parse. */
static const char* parse_dims(const char* s, xnnd_tensor* t) {
  uint32_t rank = 0;
  for (;;) {
    char* end;
    long long d = strtoll(s, &end, 10);
    if (end == s || d < 0 || rank >= XNND_MAX_RANK) return NULL;
    t->dims[rank++] = d;
    s = end;
    if (*s != ',') break;
    s++;
  }
  if (*s != '\0' && *s != '/' && *s != ';') return NULL;
  t->rank = rank;
  return s;
}

/* "I=dims": the input index and its dims into t. */
static const char* parse_input_shape(const char* s, uint32_t* index, xnnd_tensor* t) {
  char* end;
  unsigned long i = strtoul(s, &end, 10);
  if (end == s || *end != '=' || i >= MAX_IO) return NULL;
  *index = (uint32_t)i;
  return parse_dims(end + 1, t);
}

/* Dynamic shapes: "--shapes" runs each shape set in turn on random inputs, timing the first
 * execute after the change and the steady state. A set is "I=dims/I=dims..." or, for input 0,
 * just "dims"; sets are separated by ';'. */
static int run_shape_sets(xnnd_method* m, const char* list, xnnd_tensor* in, int iters, int warmup, double* times) {
  const char* s = list;
  for (uint32_t set = 0; *s; set++) {
    const char* start = s;
    while (*s && *s != ';') {
      uint32_t index = 0;
      xnnd_tensor t = {0};
      size_t entry = strcspn(s, "/;");
      const char* next = memchr(s, '=', entry) ? parse_input_shape(s, &index, &t) : parse_dims(s, &t);
      if (!next || index >= xnnd_method_num_inputs(m)) {
        fprintf(stderr, "xnnd run: --shapes: cannot read '%s' (sets of I=d0,d1,... joined by '/', separated by ';')\n", s);
        return XNND_EXIT_USAGE;
      }
      in[index].rank = t.rank;
      memcpy(in[index].dims, t.dims, sizeof(t.dims));
      xnnd_tensor upper;
      xnnd_method_input_info(m, index, &upper);
      if (xnnd_tensor_numel(&in[index]) > xnnd_tensor_numel(&upper) || t.rank != upper.rank) {
        fprintf(stderr, "xnnd run: --shapes: input %u: shape outside the program's bounds\n", index);
        return XNND_EXIT_USAGE;
      }
      fill_random(&in[index], index);
      xnnd_status st = xnnd_method_set_input(m, index, &in[index]);
      if (st != XNND_OK) {
        fprintf(stderr, "xnnd run: --shapes set %u: %s: %s\n", set, xnnd_status_str(st), xnnd_method_errmsg(m));
        return XNND_EXIT_USAGE;
      }
      s = next;
      if (*s == '/') s++;
    }
    int len = (int)(s - start);
    if (*s == ';') s++;
    double first = now_ms();
    xnnd_status st = xnnd_method_execute(m);
    first = now_ms() - first;
    for (int i = 0; i < warmup + iters && st == XNND_OK; i++) {
      double t0 = now_ms();
      st = xnnd_method_execute(m);
      if (i >= warmup) times[i - warmup] = now_ms() - t0;
    }
    if (st != XNND_OK) {
      fprintf(stderr, "xnnd run: execute: %s: %s\n", xnnd_status_str(st), xnnd_method_errmsg(m));
      return XNND_EXIT_FAIL;
    }
    qsort(times, (size_t)iters, sizeof(double), cmp_double);
    xnnd_tensor out;
    xnnd_method_get_output(m, 0, &out);
    printf("shapes %.*s: output 0 ", len, start);
    print_shape(&out);
    printf(", first execute %.3f ms, then min %.3f ms, median %.3f ms over %d runs\n", first, times[0],
           times[iters / 2], iters);
  }
  return 0;
}

/* Profile figures are cumulative; the CLI snapshots them after warm-up and reports the
 * difference, so the table covers exactly the timed runs. */
typedef struct profile_snapshot {
  uint64_t runs, exec_ns;
  xnnd_step_profile* steps;
} profile_snapshot;

static bool snapshot(const xnnd_method* m, profile_snapshot* s) {
  uint32_t n = xnnd_method_num_steps(m);
  s->steps = calloc(n ? n : 1, sizeof(xnnd_step_profile));
  if (!s->steps) return false;
  xnnd_method_get_execute_profile(m, &s->runs, &s->exec_ns);
  for (uint32_t i = 0; i < n; i++) xnnd_method_get_step_profile(m, i, &s->steps[i]);
  return true;
}

/* Per-execute times of each step, for medians: a shared machine's outliers move the cumulative
 * means. Row r of `ms` (num_steps wide) is timed execute r: a delegate step's compute, a kernel
 * step's whole time. Allocated before the timed loop, filled between executes. */
typedef struct step_samples {
  double* ms;
  xnnd_step_profile* prev;
  uint32_t num_steps;
  int rows;
} step_samples;

/* Beyond this many samples (8 bytes each) the medians are left out rather than allocated. */
#define MAX_STEP_SAMPLES (1u << 24)

static void record_samples(const xnnd_method* m, step_samples* ss, bool first) {
  for (uint32_t s = 0; s < ss->num_steps; s++) {
    xnnd_step_profile p;
    xnnd_method_get_step_profile(m, s, &p);
    if (!first) {
      const xnnd_step_profile* b = &ss->prev[s];
      uint64_t ns = p.is_delegate ? p.compute_ns - b->compute_ns : p.total_ns - b->total_ns;
      ss->ms[(size_t)ss->rows * ss->num_steps + s] = (double)ns / 1e6;
    }
    ss->prev[s] = p;
  }
  if (!first) ss->rows++;
}

static double step_median(const step_samples* ss, uint32_t s, double* scratch) {
  for (int r = 0; r < ss->rows; r++) scratch[r] = ss->ms[(size_t)r * ss->num_steps + s];
  qsort(scratch, (size_t)ss->rows, sizeof(double), cmp_double);
  return scratch[ss->rows / 2];
}

/* Per step: mean time; per delegate: time in its compute (XNNPACK's kernels plus xnnd's own
 * convolutions) and at its boundary; and the median over executes of the step's layer time
 * (a delegate's compute, a kernel's whole time). "Outside" is every nanosecond of execute not
 * spent in a delegate's compute: layout conversion, portable kernels, dispatch. */
static void print_profile(const xnnd_method* m, const profile_snapshot* base, const step_samples* ss) {
  profile_snapshot now;
  if (!snapshot(m, &now)) return;
  uint64_t runs = now.runs - base->runs, exec_ns = now.exec_ns - base->exec_ns, compute_ns = 0, own_ns = 0;
  if (runs == 0) {
    free(now.steps);
    return;
  }
  double* scratch = ss->rows > 0 ? malloc(sizeof(double) * (size_t)ss->rows) : NULL;
  printf("profile over %llu executes (median ms: per execute, a delegate's compute or a kernel's whole time):\n"
         "  %4s  %-28s %10s %12s %12s %12s %10s\n",
         (unsigned long long)runs, "step", "op / backend", "mean ms", "compute ms", "xnnd-kern ms", "boundary ms",
         "median ms");
  for (uint32_t s = 0; s < xnnd_method_num_steps(m); s++) {
    const xnnd_step_profile* p = &now.steps[s];
    const xnnd_step_profile* b = &base->steps[s];
    double total = (double)(p->total_ns - b->total_ns) / (double)runs / 1e6;
    compute_ns += p->compute_ns - b->compute_ns;
    own_ns += p->own_kernel_ns - b->own_kernel_ns;
    if (p->is_delegate)
      printf("  %4u  %-28s %10.3f %12.3f %12.3f %12.3f", s, p->name, total,
             (double)(p->compute_ns - b->compute_ns) / (double)runs / 1e6,
             (double)(p->own_kernel_ns - b->own_kernel_ns) / (double)runs / 1e6,
             (double)(p->boundary_ns - b->boundary_ns) / (double)runs / 1e6);
    else
      printf("  %4u  %-28s %10.3f %12s %12s %12s", s, p->name, total, "-", "-", "-");
    if (scratch)
      printf(" %10.3f\n", step_median(ss, s, scratch));
    else
      printf(" %10s\n", "-");
  }
  free(scratch);
  printf("execute: mean %.3f ms, inside delegate compute %.3f ms (XNNPACK kernels %.3f, xnnd convolutions %.3f), "
         "outside %.3f ms (%.2f%% of execute)\n",
         (double)exec_ns / (double)runs / 1e6, (double)compute_ns / (double)runs / 1e6,
         (double)(compute_ns - own_ns) / (double)runs / 1e6, (double)own_ns / (double)runs / 1e6,
         (double)(exec_ns - compute_ns) / (double)runs / 1e6, 100.0 * (double)(exec_ns - compute_ns) / (double)exec_ns);
  free(now.steps);
}

/* Resident set size of this process in kB from /proc/self/status, -1 when unavailable. */
static long vm_rss_kb(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

int xnnd_cmd_run(int argc, char** argv) {
  /* `xnnd run --verify BUNDLE` runs a bundled program's test cases (cmd_verify.c). */
  for (int i = 0; i < argc; i++)
    if (strcmp(argv[i], "--verify") == 0) return xnnd_cmd_verify(argc, argv);
  const char* model = NULL;
  const char* inputs[MAX_IO];
  int num_inputs = 0, iters = 5, warmup = 1;
  unsigned threads = 1;
  const char* outdir = NULL;
  bool profile = false, rss = false, allow_non_finite = false;
  long rss_warm = -1, rss_end = -1;
  /* --backend-option BACKEND:KEY=VALUE, split in place; --xnnpack-kernels-only is
   * XnnpackBackend:own_kernels=off. */
  xnnd_backend_option opts[MAX_IO];
  uint32_t num_opts = 0;
  /* dynamic shapes: --input-shape I=dims for random inputs, --shapes SETS */
  xnnd_tensor shape_of[MAX_IO];
  bool has_shape[MAX_IO] = {false};
  const char* shapes_list = NULL;
  for (int i = 0; i < argc; i++) {
    bool next = i + 1 < argc;
    if (strcmp(argv[i], "--input") == 0 && next && num_inputs < MAX_IO) inputs[num_inputs++] = argv[++i];
    else if (strcmp(argv[i], "--output-dir") == 0 && next) outdir = argv[++i];
    else if (strcmp(argv[i], "--threads") == 0 && next) threads = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--iters") == 0 && next) iters = atoi(argv[++i]);
    else if (strcmp(argv[i], "--warmup") == 0 && next) warmup = atoi(argv[++i]);
    else if (strcmp(argv[i], "--profile") == 0) profile = true;
    else if (strcmp(argv[i], "--rss") == 0) rss = true;
    else if (strcmp(argv[i], "--xnnpack-kernels-only") == 0 && num_opts < MAX_IO)
      opts[num_opts++] = (xnnd_backend_option){XNND_XNNPACK_BACKEND_NAME, "own_kernels", "off"};
    else if (strcmp(argv[i], "--backend-option") == 0 && next && num_opts < MAX_IO) {
      if (!xnnd_cli_backend_option("run", argv[++i], &opts[num_opts++])) return XNND_EXIT_USAGE;
    }
    else if (strcmp(argv[i], "--allow-non-finite") == 0) allow_non_finite = true;
    else if (strcmp(argv[i], "--input-shape") == 0 && next) {
      uint32_t index;
      xnnd_tensor t;
      const char* end = parse_input_shape(argv[++i], &index, &t);
      if (!end || *end) {
        fprintf(stderr, "xnnd run: --input-shape takes I=d0,d1,... (got '%s')\n", argv[i]);
        return XNND_EXIT_USAGE;
      }
      shape_of[index] = t;
      has_shape[index] = true;
    }
    else if (strcmp(argv[i], "--shapes") == 0 && next) shapes_list = argv[++i];
    else if (argv[i][0] != '-' && !model) model = argv[i];
    else {
      fprintf(stderr, "xnnd run: unexpected argument '%s'\n", argv[i]);
      return XNND_EXIT_USAGE;
    }
  }
  if (!model || iters < 1 || warmup < 0 || iters > 100000) {
    fprintf(stderr, "usage: xnnd run MODEL.pte [--input X.npy ...] [--output-dir DIR] [--threads N] [--iters N>=1] [--warmup N] [--profile] [--rss]\n"
                    "                [--xnnpack-kernels-only] [--backend-option BACKEND:KEY=VALUE ...]\n"
                    "                [--allow-non-finite]\n"
                    "                [--input-shape I=d0,d1,... ...] [--shapes 'I=dims/I=dims;...']  (dynamic shapes, random inputs)\n"
                    "       xnnd run --verify BUNDLE [--threads N]\n");
    return XNND_EXIT_USAGE;
  }
  int rc = XNND_EXIT_FAIL;
  xnnd_error err = {0};
  xnnd_program* prog = NULL;
  xnnd_method* m = NULL;
  xnnd_tensor in[MAX_IO];
  double* times = NULL;
  profile_snapshot base = {0, 0, NULL};
  step_samples samples = {NULL, NULL, 0, 0};
  memset(in, 0, sizeof(in));
  double t0 = now_ms();
  xnnd_status st = xnnd_program_load_file(model, NULL, &prog, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd run: %s: %s: %s\n", model, xnnd_status_str(st), err.message);
    return XNND_EXIT_USAGE;
  }
  double t1 = now_ms();
  xnnd_method_options mo = {.num_threads = threads,
                            .profile = profile,
                            .backend_options = num_opts ? opts : NULL,
                            .num_backend_options = num_opts,
                            .allow_non_finite_inputs = allow_non_finite};
  st = xnnd_method_create(prog, xnnd_program_method_name(prog, 0), &mo, &m, &err);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd run: %s: %s: %s\n", model, xnnd_status_str(st), err.message);
    rc = XNND_EXIT_USAGE;
    goto done;
  }
  double t2 = now_ms();
  uint32_t n_in = xnnd_method_num_inputs(m);
  if (num_inputs && (uint32_t)num_inputs != n_in) {
    fprintf(stderr, "xnnd run: model takes %u inputs, %d given\n", n_in, num_inputs);
    rc = XNND_EXIT_USAGE;
    goto done;
  }
  if (n_in > MAX_IO) goto done;
  bool any_shape = false;
  for (uint32_t i = 0; i < MAX_IO; i++) any_shape |= has_shape[i];
  if (num_inputs && (shapes_list || any_shape)) {
    fprintf(stderr, "xnnd run: --shapes and --input-shape take random inputs, not --input\n");
    rc = XNND_EXIT_USAGE;
    goto done;
  }
  char msg[512];
  for (uint32_t i = 0; i < n_in; i++) {
    if (num_inputs) {
      /* The file can be no bigger than the input it feeds plus the largest header. */
      xnnd_tensor want;
      xnnd_method_input_info(m, i, &want);
      uint64_t cap = (uint64_t)xnnd_tensor_numel(&want) * xnnd_dtype_size(want.dtype) + 12 +
                     XNND_NPY_MAX_HEADER;
      if ((st = xnnd_npy_read(inputs[i], cap, &in[i], msg, sizeof(msg))) != XNND_OK) {
        fprintf(stderr, "xnnd run: %s\n", msg);
        rc = XNND_EXIT_USAGE;
        goto done;
      }
    } else {
      /* Allocated for the upper bounds (a dynamic input may be given any shape within them), or
       * for a larger --input-shape of the same rank (up to 2^28 elements), so that the runtime's
       * check names the dim and bound it breaks. */
      xnnd_method_input_info(m, i, &in[i]);
      size_t numel = xnnd_tensor_numel(&in[i]);
      if (has_shape[i]) {
        size_t asked = xnnd_tensor_numel(&shape_of[i]);
        if (shape_of[i].rank != in[i].rank || asked > ((size_t)1 << 28)) {
          char range[256];
          xnnd_method_input_type_str(m, i, range, sizeof(range));
          fprintf(stderr, "xnnd run: --input-shape %u: not a shape of the program's input %s\n",
                  i, range);
          rc = XNND_EXIT_USAGE;
          goto done;
        }
        if (asked > numel) numel = asked;
      }
      in[i].data = malloc(numel * xnnd_dtype_size(in[i].dtype) + 1);
      if (!in[i].data) goto done;
      if (has_shape[i]) memcpy(in[i].dims, shape_of[i].dims, sizeof(in[i].dims));
      fill_random(&in[i], i);
    }
    if ((st = xnnd_method_set_input(m, i, &in[i])) != XNND_OK) {
      fprintf(stderr, "xnnd run: input %u: %s: %s\n", i, xnnd_status_str(st), xnnd_method_errmsg(m));
      rc = XNND_EXIT_USAGE;
      goto done;
    }
  }
  times = calloc((size_t)iters, sizeof(double));
  if (!times) goto done;
  if (xnnd_method_num_symbols(m) > 0) {  /* dynamic shapes: what the inputs may be */
    printf("symbols:");
    for (uint32_t k = 0; k < xnnd_method_num_symbols(m); k++) {
      xnnd_symbol_info si;
      xnnd_method_get_symbol(m, k, &si);
      printf("%s %s in %lld..%lld", k ? "," : "", si.name, (long long)si.min, (long long)si.max);
    }
    printf("; inputs:");
    for (uint32_t i = 0; i < n_in; i++) {
      char type[256];
      xnnd_method_input_type_str(m, i, type, sizeof(type));
      printf(" %s", type);
    }
    printf("\n");
  }
  if (shapes_list) {
    rc = run_shape_sets(m, shapes_list, in, iters, warmup, times);
    goto done;
  }
  if (profile) {
    samples.num_steps = xnnd_method_num_steps(m);
    if ((uint64_t)samples.num_steps * (uint64_t)iters <= MAX_STEP_SAMPLES) {
      samples.ms = malloc(sizeof(double) * ((size_t)samples.num_steps * (size_t)iters + 1));
      samples.prev = malloc(sizeof(xnnd_step_profile) * ((size_t)samples.num_steps + 1));
      if (!samples.ms || !samples.prev) goto done;
    }
  }
  if (rss) memset(times, 0, sizeof(double) * (size_t)iters);  /* touch its pages before measuring */
  for (int i = 0; i < warmup + iters; i++) {
    if (profile && i == warmup && !snapshot(m, &base)) goto done;
    if (samples.ms && i == warmup) record_samples(m, &samples, true);
    if (rss && i == warmup) rss_warm = vm_rss_kb();
    double s = now_ms();
    if ((st = xnnd_method_execute(m)) != XNND_OK) {
      fprintf(stderr, "xnnd run: execute: %s: %s\n", xnnd_status_str(st), xnnd_method_errmsg(m));
      goto done;
    }
    if (i >= warmup) times[i - warmup] = now_ms() - s;
    if (samples.ms && i >= warmup) record_samples(m, &samples, false);
  }
  if (rss) rss_end = vm_rss_kb();  /* before qsort and printf allocate */
  for (uint32_t i = 0; i < xnnd_method_num_outputs(m); i++) {
    xnnd_tensor out;
    xnnd_method_get_output(m, i, &out);
    printf("output %u: ", i);
    print_shape(&out);
    printf("\n");
    if (outdir) {
      char path[4096];
      snprintf(path, sizeof(path), "%s/output_%u.npy", outdir, i);
      if (xnnd_npy_write(path, &out, msg, sizeof(msg)) != XNND_OK) {
        fprintf(stderr, "xnnd run: %s\n", msg);
        goto done;
      }
    }
  }
  qsort(times, (size_t)iters, sizeof(double), cmp_double);
  printf("load: %.2f ms, init (delegates): %.2f ms\n", t1 - t0, t2 - t1);
  printf("latency over %d runs (%u thread%s): min %.3f ms, median %.3f ms\n", iters, threads ? threads : 1,
         threads > 1 ? "s" : "", times[0], times[iters / 2]);
  if (profile) {
    print_profile(m, &base, &samples);
    xnnd_cli_print_delegate_choices(stdout, m);
  }
  if (rss) {
    printf("rss after warmup: %ld kB\nrss at end: %ld kB\nrss growth: %ld kB over %d executes\n",
           rss_warm, rss_end, rss_end - rss_warm, iters);
  }
  rc = 0;
done:
  for (uint32_t i = 0; i < MAX_IO; i++) free(in[i].data);
  free(times);
  free(base.steps);
  free(samples.ms);
  free(samples.prev);
  xnnd_method_destroy(m);
  xnnd_program_destroy(prog);
  return rc;
}
