/* The benchmark's xnnd side: times programs through the C runtime API the way the Python peers
 * are timed (one clock read before and after each execute), and measures this core's clock
 * and fp32 FMA throughput. A benchmark tool, not library code: it prints and exits freely.
 *
 *   xnnd_timer serve        line commands on stdin, one JSON reply per line on stdout:
 *                             load ID THREADS PATH   load + create + bind inputs + 1st execute
 *                             option KEY=VALUE       XnnpackBackend option for later loads
 *                                                    (e.g. own_kernels=off); `option -` clears
 *                             measure ID WARMUP ITERS
 *                             shape ID INPUT D0,D1,...  (dynamic shapes) input INPUT takes
 *                                                    these dims (its buffer was sized at load
 *                                                    for the method's max), then one execute
 *                                                    timed: the first after a shape change
 *                             quit
 *   xnnd_timer cold PATH THREADS   in this fresh process: load, create, first execute, and the
 *                                  peak resident set (VmHWM) after them; one JSON line
 *   xnnd_timer peak         measured clock and fp32 FMA throughput of one core (thread CPU
 *                           time, best of many short bursts); one JSON line
 *
 * Inputs are filled with a fixed pseudo-random sequence in [-1, 1) (f32) or zeros. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xnnd/runtime.h"

#define MAX_MODELS 64
#define MAX_INPUTS 16

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Prints s as a JSON string (quotes included). */
static void json_str(const char* s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c < 0x20) printf("\\u%04x", c);
    else putchar(c);
  }
  putchar('"');
}

static void reply_error(const char* what, const char* detail) {
  char buf[1024];
  snprintf(buf, sizeof buf, "%s: %s", what, detail);
  printf("{\"ok\": false, \"error\": ");
  json_str(buf);
  printf("}\n");
  fflush(stdout);
}

typedef struct model {
  char id[128];
  xnnd_program* program;
  xnnd_method* method;
  void* inputs[MAX_INPUTS];
  size_t input_capacity[MAX_INPUTS];  /* elements: the method's input size at load (its max) */
  uint32_t num_inputs;
} model;

static void model_free(model* m) {
  xnnd_method_destroy(m->method);
  xnnd_program_destroy(m->program);
  for (uint32_t i = 0; i < m->num_inputs; i++) free(m->inputs[i]);
  memset(m, 0, sizeof *m);
}

/* Loads PATH into m and runs it once; times in ms go to times[0..2] (load, create, first
 * execute). Returns NULL or an error message (static buffer). */
/* The `option` command's XnnpackBackend option (key and value point into g_option_text). */
static char g_option_text[256];
static xnnd_backend_option g_option;
static uint32_t g_num_options;

static const char* model_load(model* m, const char* path, uint32_t threads, double times[3]) {
  static char msg[1024];
  xnnd_error err;
  double t0 = now_ms();
  if (xnnd_program_load_file(path, NULL, &m->program, &err) != XNND_OK) {
    snprintf(msg, sizeof msg, "load %s: %s", path, err.message);
    return msg;
  }
  double t1 = now_ms();
  xnnd_method_options options = {.num_threads = threads, .backend_options = g_num_options ? &g_option : NULL,
                                 .num_backend_options = g_num_options};
  if (xnnd_program_method_count(m->program) == 0) return "program has no method";
  if (xnnd_method_create(m->program, xnnd_program_method_name(m->program, 0), &options,
                         &m->method, &err) != XNND_OK) {
    snprintf(msg, sizeof msg, "method create: %s", err.message);
    return msg;
  }
  uint32_t n = xnnd_method_num_inputs(m->method);
  if (n > MAX_INPUTS) return "too many inputs";
  uint32_t seed = 12345u;
  for (uint32_t i = 0; i < n; i++) {
    xnnd_tensor t;
    xnnd_method_input_info(m->method, i, &t);
    size_t numel = xnnd_tensor_numel(&t);
    m->inputs[i] = calloc(numel ? numel : 1, xnnd_dtype_size(t.dtype));
    if (!m->inputs[i]) return "out of memory for inputs";
    m->num_inputs = i + 1;
    m->input_capacity[i] = numel;
    if (t.dtype == XNND_F32) {
      float* f = m->inputs[i];
      for (size_t k = 0; k < numel; k++) {
        seed = seed * 1664525u + 1013904223u;
        f[k] = (float)(seed >> 8) / (float)(1u << 23) - 1.0f;
      }
    }
    t.data = m->inputs[i];
    if (xnnd_method_set_input(m->method, i, &t) != XNND_OK) {
      snprintf(msg, sizeof msg, "set input %u: %s", i, xnnd_method_errmsg(m->method));
      return msg;
    }
  }
  double t2 = now_ms();
  if (xnnd_method_execute(m->method) != XNND_OK) {
    snprintf(msg, sizeof msg, "execute: %s", xnnd_method_errmsg(m->method));
    return msg;
  }
  double t3 = now_ms();
  times[0] = t1 - t0;
  times[1] = t2 - t1;
  times[2] = t3 - t2;
  return NULL;
}

static long vm_hwm_kb(void) {
  FILE* f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof line, f))
    if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
  fclose(f);
  return kb;
}

static int cmd_cold(const char* path, uint32_t threads) {
  model m;
  memset(&m, 0, sizeof m);
  double times[3];
  long before = vm_hwm_kb();
  const char* e = model_load(&m, path, threads, times);
  if (e) {
    reply_error("xnnd", e);
    model_free(&m);
    return 1;
  }
  printf("{\"ok\": true, \"load_ms\": %.4f, \"create_ms\": %.4f, \"first_ms\": %.4f, "
         "\"hwm_before_kb\": %ld, \"hwm_kb\": %ld}\n",
         times[0], times[1], times[2], before, vm_hwm_kb());
  model_free(&m);
  return 0;
}

static int cmd_serve(void) {
  static model models[MAX_MODELS];
  uint32_t count = 0;
  char line[4096];
  static double times[100000];
  while (fgets(line, sizeof line, stdin)) {
    char id[128], path[3072];
    unsigned threads, warmup, iters;
    if (strncmp(line, "quit", 4) == 0) break;
    if (sscanf(line, "option %255s", g_option_text) == 1) {
      char* eq = strchr(g_option_text, '=');
      g_num_options = 0;
      if (eq != NULL) {
        *eq = '\0';
        g_option = (xnnd_backend_option){"XnnpackBackend", g_option_text, eq + 1};
        g_num_options = 1;
      } else if (strcmp(g_option_text, "-") != 0) {
        reply_error("option", "expected KEY=VALUE or -");
        continue;
      }
      printf("{\"ok\": true}\n");
      fflush(stdout);
      continue;
    }
    if (sscanf(line, "load %127s %u %3071[^\n]", id, &threads, path) == 3) {
      if (count == MAX_MODELS) {
        reply_error(id, "too many models");
        continue;
      }
      model* m = &models[count];
      memset(m, 0, sizeof *m);
      snprintf(m->id, sizeof m->id, "%s", id);
      double t[3];
      const char* e = model_load(m, path, threads, t);
      if (e) {
        reply_error(id, e);
        model_free(m);
        continue;
      }
      count++;
      printf("{\"ok\": true, \"load_ms\": %.4f, \"create_ms\": %.4f, \"first_ms\": %.4f}\n",
             t[0], t[1], t[2]);
      fflush(stdout);
    } else if (strncmp(line, "shape ", 6) == 0) {
      char dims_text[1024];
      unsigned input;
      if (sscanf(line, "shape %127s %u %1023s", id, &input, dims_text) != 3) {
        reply_error("shape", "expected: shape ID INPUT D0,D1,...");
        continue;
      }
      model* m = NULL;
      for (uint32_t i = 0; i < count; i++)
        if (strcmp(models[i].id, id) == 0) m = &models[i];
      if (!m || input >= m->num_inputs) {
        reply_error(id, m ? "no such input" : "not loaded");
        continue;
      }
      xnnd_tensor t;
      xnnd_method_input_info(m->method, input, &t);
      uint32_t rank = 0;
      for (char* tok = strtok(dims_text, ","); tok && rank < XNND_MAX_RANK; tok = strtok(NULL, ","))
        t.dims[rank++] = strtoll(tok, NULL, 10);
      t.rank = rank;
      t.data = m->inputs[input];
      if (xnnd_tensor_numel(&t) > m->input_capacity[input]) {
        reply_error(id, "shape larger than the input buffer (the method's max)");
        continue;
      }
      if (xnnd_method_set_input(m->method, input, &t) != XNND_OK) {
        reply_error(id, xnnd_method_errmsg(m->method));
        continue;
      }
      double t0 = now_ms();
      if (xnnd_method_execute(m->method) != XNND_OK) {
        reply_error(id, xnnd_method_errmsg(m->method));
        continue;
      }
      printf("{\"ok\": true, \"first_ms\": %.5f}\n", now_ms() - t0);
      fflush(stdout);
    } else if (sscanf(line, "measure %127s %u %u", id, &warmup, &iters) == 3) {
      model* m = NULL;
      for (uint32_t i = 0; i < count; i++)
        if (strcmp(models[i].id, id) == 0) m = &models[i];
      if (!m) {
        reply_error(id, "not loaded");
        continue;
      }
      if (iters > sizeof times / sizeof times[0]) iters = sizeof times / sizeof times[0];
      const char* e = NULL;
      for (unsigned i = 0; i < warmup && !e; i++)
        if (xnnd_method_execute(m->method) != XNND_OK) e = xnnd_method_errmsg(m->method);
      for (unsigned i = 0; i < iters && !e; i++) {
        double t0 = now_ms();
        if (xnnd_method_execute(m->method) != XNND_OK) e = xnnd_method_errmsg(m->method);
        times[i] = now_ms() - t0;
      }
      if (e) {
        reply_error(id, e);
        continue;
      }
      printf("{\"ok\": true, \"times_ms\": [");
      for (unsigned i = 0; i < iters; i++) printf("%s%.5f", i ? ", " : "", times[i]);
      printf("]}\n");
      fflush(stdout);
    } else {
      reply_error("xnnd_timer", "unknown command");
    }
  }
  for (uint32_t i = 0; i < count; i++) model_free(&models[i]);
  return 0;
}

/* ---- peak: clock and FMA throughput ---- */

/* CPU time of this thread in ms: unlike wall time, it stops while the thread is descheduled,
 * so the peak measurements below hold on a machine shared with other work. */
static double thread_cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#define PEAK_BURSTS 100

/* A chain of dependent integer adds retires one add per cycle on every x86-64 core of the
 * last fifteen years (latency 1), so adds per second of CPU time is the clock the core runs
 * at under load (turbo included). Best of many short bursts. The asm keeps the compiler from
 * folding the chain. */
static double measure_clock_ghz(void) {
  const uint64_t n = 8000000;
  double best = 0;
  for (int rep = 0; rep < PEAK_BURSTS; rep++) {
    uint64_t x = 0;
    double t0 = thread_cpu_ms();
    for (uint64_t i = 0; i < n; i += 8) {
#if defined(__x86_64__)
      __asm__ volatile(
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
          "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
          : "+r"(x));
#else
      __asm__ volatile("" : "+r"(x));
      x += 8;
#endif
    }
    double ms = thread_cpu_ms() - t0;
    /* the loop's own increment and branch run in parallel with the chain */
    double ghz = ms > 0 ? (double)n / (ms * 1e6) : 0;
    if (ghz > best) best = ghz;
  }
  return best;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* 12 independent accumulators cover FMA latency (4) x 2 pipes with room to spare. */
__attribute__((target("avx2,fma"))) static double fma_gflops_avx2(void) {
  __m256 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm256_set1_ps((float)i);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  const long iters = 1200000;
  double t0 = thread_cpu_ms();
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 12; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
  double ms = thread_cpu_ms() - t0;
  float sink = 0;
  for (int i = 0; i < 12; i++) sink += _mm256_cvtss_f32(acc[i]);
  __asm__ volatile("" : : "x"(sink));
  return ms > 0 ? (double)iters * 12 * 8 * 2 / (ms * 1e6) : 0;
}

__attribute__((target("avx512f"))) static double fma_gflops_avx512(void) {
  __m512 acc[12];
  for (int i = 0; i < 12; i++) acc[i] = _mm512_set1_ps((float)i);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  const long iters = 600000;
  double t0 = thread_cpu_ms();
  for (long k = 0; k < iters; k++)
    for (int i = 0; i < 12; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
  double ms = thread_cpu_ms() - t0;
  float sink = 0;
  for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_ps(acc[i]);
  __asm__ volatile("" : : "x"(sink));
  return ms > 0 ? (double)iters * 12 * 16 * 2 / (ms * 1e6) : 0;
}
#endif

static int cmd_peak(void) {
  double ghz = measure_clock_ghz();
  double avx2 = 0, avx512 = 0;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    for (int r = 0; r < PEAK_BURSTS; r++) {
      double g = fma_gflops_avx2();
      if (g > avx2) avx2 = g;
    }
  if (__builtin_cpu_supports("avx512f"))
    for (int r = 0; r < PEAK_BURSTS; r++) {
      double g = fma_gflops_avx512();
      if (g > avx512) avx512 = g;
    }
#endif
  printf("{\"ok\": true, \"clock_ghz\": %.4f, \"fma_gflops_avx2\": %.3f, "
         "\"fma_gflops_avx512\": %.3f}\n", ghz, avx2, avx512);
  return 0;
}

int main(int argc, char** argv) {
  if (argc == 2 && strcmp(argv[1], "serve") == 0) return cmd_serve();
  if (argc == 2 && strcmp(argv[1], "peak") == 0) return cmd_peak();
  if (argc == 4 && strcmp(argv[1], "cold") == 0) return cmd_cold(argv[2], (uint32_t)atoi(argv[3]));
  fprintf(stderr, "usage: xnnd_timer serve | cold PATH THREADS | peak\n");
  return 2;
}
