/* `xnnd compile` (text IR + constant bundle -> .pte) and `xnnd lower` (.pte without
 * delegates -> .pte with delegates): both run passes, partitioner and serializer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "passes/qdq.h"
#include "serializer/program_writer.h"
#include "serializer/xnnpack/xnnpack_lower.h"

typedef struct lower_args {
  const char* input;
  const char* constants;
  const char* output;
  bool no_delegate, report, list_passes, verify_each, per_op;
  uint32_t min_partition_size;
  const char* dump_after;
  const char* report_json;
  const char* disabled[XNND_MAX_PASSES];
  uint32_t num_disabled;
  char exclude_buf[1024];
  const char* exclude[64];
  uint32_t num_exclude;
} lower_args;

static int parse_args(int argc, char** argv, lower_args* a, bool want_constants) {
  memset(a, 0, sizeof(*a));
  for (int i = 0; i < argc; i++) {
    const char* s = argv[i];
    bool has_next = i + 1 < argc;
    if (strcmp(s, "-o") == 0 && has_next) {
      a->output = argv[++i];
    } else if (strcmp(s, "--constants") == 0 && has_next && want_constants) {
      a->constants = argv[++i];
    } else if (strcmp(s, "--no-delegate") == 0) {
      a->no_delegate = true;
    } else if (strcmp(s, "--report") == 0) {
      a->report = true;
    } else if (strcmp(s, "--report-json") == 0 && has_next) {
      a->report_json = argv[++i];
    } else if (strcmp(s, "--list-passes") == 0) {
      a->list_passes = true;
    } else if (strcmp(s, "--per-op") == 0) {
      a->per_op = true;
    } else if (strcmp(s, "--min-partition-size") == 0 && has_next) {
      char* end;
      long v = strtol(argv[++i], &end, 10);
      if (*end || v < 0 || v > 1000000) {
        fprintf(stderr, "xnnd: --min-partition-size needs a count, got '%s'\n", argv[i]);
        return XNND_EXIT_USAGE;
      }
      a->min_partition_size = (uint32_t)v;
    } else if (strcmp(s, "--verify-each") == 0) {
      a->verify_each = true;
    } else if (strcmp(s, "--dump-after") == 0 && has_next) {
      a->dump_after = argv[++i];
    } else if (strcmp(s, "--disable") == 0 && has_next) {
      if (a->num_disabled == XNND_MAX_PASSES) return XNND_EXIT_USAGE;
      a->disabled[a->num_disabled++] = argv[++i];
    } else if (strcmp(s, "--exclude-ops") == 0 && has_next) {
      snprintf(a->exclude_buf, sizeof(a->exclude_buf), "%s", argv[++i]);
      for (char* tok = strtok(a->exclude_buf, ","); tok && a->num_exclude < 64; tok = strtok(NULL, ","))
        a->exclude[a->num_exclude++] = tok;
    } else if (s[0] != '-' && !a->input) {
      a->input = s;
    } else {
      fprintf(stderr, "xnnd: unexpected argument '%s'\n", s);
      return XNND_EXIT_USAGE;
    }
  }
  for (uint32_t i = 0; i < a->num_disabled; i++) {
    if (!xnnd_pass_find(a->disabled[i])) {
      fprintf(stderr, "xnnd: --disable %s: no such pass (see --list-passes)\n", a->disabled[i]);
      return XNND_EXIT_USAGE;
    }
  }
  if (a->dump_after && strcmp(a->dump_after, "all") != 0 && !xnnd_pass_find(a->dump_after)) {
    fprintf(stderr, "xnnd: --dump-after %s: no such pass (see --list-passes)\n", a->dump_after);
    return XNND_EXIT_USAGE;
  }
  if (a->list_passes) return 0;
  if (!a->input || !a->output) {
    fprintf(stderr, "xnnd: need an input file and -o OUT.pte\n");
    return XNND_EXIT_USAGE;
  }
  return 0;
}

static void list_passes(void) {
  int i = 1;
  for (const xnnd_pass* const* p = xnnd_pipeline(); *p; p++) printf("%2d. %-24s %s\n", i++, (*p)->name, (*p)->summary);
}

/* Passes, partitioning and serialization on a graph; prints the report when asked. */
static int lower_graph(xnnd_graph* g, const lower_args* a) {
  xnnd_pipeline_report prep;
  xnnd_pipeline_options po = {a->disabled, a->num_disabled, a->dump_after, stdout, a->verify_each};
  xnnd_status st = a->no_delegate ? XNND_OK : xnnd_pipeline_run(g, &po, &prep);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: %s: %s\n", xnnd_status_str(st), g->errmsg);
    return XNND_EXIT_FAIL;
  }
  if (a->no_delegate) memset(&prep, 0, sizeof(prep));
  xnnd_partition_plan plan;
  /* The one toolchain backend today; the partitioner, writer and report see only the interface. */
  xnnd_partition_options opts = {.backend = &xnnd_xnnpack_toolchain_backend,
                                 .no_delegate = a->no_delegate,
                                 .exclude_ops = a->exclude,
                                 .num_exclude_ops = a->num_exclude,
                                 .per_op = a->per_op,
                                 .min_partition_size = a->min_partition_size};
  st = xnnd_partition_graph(g, &opts, &plan);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: partitioning failed: %s\n", xnnd_status_str(st));
    return XNND_EXIT_FAIL;
  }
  /* Quantized nodes (qdq passes) run only inside XNNPACK: one left outside every partition
   * (--exclude-ops, --min-partition-size, a check that refused it) goes back to
   * dequantize -> f32 op -> quantize for the portable kernels, then partitioning reruns. */
  uint32_t expanded = 0;
  st = xnnd_qdq_expand_undelegated(g, plan.node_part, &expanded);
  if (st == XNND_OK && expanded > 0) {
    xnnd_partition_plan_free(&plan);
    xnnd_remove_unused_nodes(g);
    st = xnnd_graph_compact(g);
    if (st == XNND_OK) st = xnnd_partition_graph(g, &opts, &plan);
    else memset(&plan, 0, sizeof(plan));
  }
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: expanding undelegated quantized nodes failed: %s: %s\n", xnnd_status_str(st), g->errmsg);
    xnnd_partition_plan_free(&plan);
    return XNND_EXIT_FAIL;
  }
  if (a->report) xnnd_print_report(stdout, g, &plan, &prep);
  if (a->report_json) {
    FILE* f = fopen(a->report_json, "w");
    if (!f) {
      fprintf(stderr, "xnnd: cannot write %s\n", a->report_json);
      xnnd_partition_plan_free(&plan);
      return XNND_EXIT_FAIL;
    }
    xnnd_status js = xnnd_write_report_json(f, g, &plan);
    if (fclose(f) != 0 || js != XNND_OK) {
      fprintf(stderr, "xnnd: writing %s failed\n", a->report_json);
      xnnd_partition_plan_free(&plan);
      return XNND_EXIT_FAIL;
    }
  }
  char err[512];
  st = xnnd_program_write_file(g, &plan, a->output, err, sizeof(err));
  xnnd_partition_plan_free(&plan);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: writing %s failed: %s: %s\n", a->output, xnnd_status_str(st), err);
    return XNND_EXIT_FAIL;
  }
  return 0;
}

int xnnd_cmd_compile(int argc, char** argv) {
  lower_args a;
  int rc = parse_args(argc, argv, &a, true);
  if (rc || a.list_passes) {
    if (a.list_passes) list_passes();
    return rc;
  }
  size_t len;
  FILE* f = fopen(a.input, "rb");
  if (!f) {
    fprintf(stderr, "xnnd: cannot open %s\n", a.input);
    return XNND_EXIT_USAGE;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  char* text = malloc(n > 0 ? (size_t)n + 1 : 1);
  len = text ? fread(text, 1, (size_t)(n > 0 ? n : 0), f) : 0;
  fclose(f);
  if (!text) return XNND_EXIT_FAIL;
  text[len] = '\0';
  xnnd_error err = {0};
  xnnd_const_bundle* bundle = NULL;
  if (a.constants && xnnd_const_bundle_load(a.constants, &bundle, &err) != XNND_OK) {
    fprintf(stderr, "xnnd: %s: %s\n", a.constants, err.message);
    free(text);
    return XNND_EXIT_USAGE;
  }
  xnnd_graph* g = NULL;
  xnnd_status st = xnnd_graph_parse(text, len, bundle, &g, &err);
  free(text);
  xnnd_const_bundle_destroy(bundle);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: %s: %s\n", a.input, err.message);
    return XNND_EXIT_USAGE;
  }
  if ((st = xnnd_graph_verify(g)) != XNND_OK) {
    fprintf(stderr, "xnnd: %s: %s\n", a.input, g->errmsg);
    xnnd_graph_destroy(g);
    return XNND_EXIT_USAGE;
  }
  rc = lower_graph(g, &a);
  xnnd_graph_destroy(g);
  return rc;
}

int xnnd_cmd_lower(int argc, char** argv) {
  lower_args a;
  int rc = parse_args(argc, argv, &a, false);
  if (rc || a.list_passes) {
    if (a.list_passes) list_passes();
    return rc;
  }
  FILE* f = fopen(a.input, "rb");
  if (!f) {
    fprintf(stderr, "xnnd: cannot open %s\n", a.input);
    return XNND_EXIT_USAGE;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  rewind(f);
  uint8_t* data = aligned_alloc(64, n > 0 ? (((size_t)n + 63) & ~(size_t)63) : 64);
  size_t len = data ? fread(data, 1, (size_t)(n > 0 ? n : 0), f) : 0;
  fclose(f);
  if (!data) return XNND_EXIT_FAIL;
  xnnd_graph* g = NULL;
  char err[512];
  xnnd_status st = xnnd_program_import(data, len, &g, err, sizeof(err));
  free(data);
  if (st != XNND_OK) {
    fprintf(stderr, "xnnd: %s: %s: %s\n", a.input, xnnd_status_str(st), err);
    return XNND_EXIT_USAGE;
  }
  rc = lower_graph(g, &a);
  xnnd_graph_destroy(g);
  return rc;
}
