/* The xnnd CLI: one file per subcommand, dispatched from the table in xnnd.c. */
#ifndef XNND_TOOLS_CLI_H
#define XNND_TOOLS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "ir.h"
#include "partitioner/partitioner.h"
#include "passes/pass.h"
#include "xnnd/runtime.h"

int xnnd_cmd_compile(int argc, char** argv);
int xnnd_cmd_lower(int argc, char** argv);
int xnnd_cmd_run(int argc, char** argv);
int xnnd_cmd_inspect(int argc, char** argv);
int xnnd_cmd_compare(int argc, char** argv);
/* `xnnd run --verify BUNDLE` / `xnnd verify BUNDLE` (cmd_verify.c). */
int xnnd_cmd_verify(int argc, char** argv);

/* Print the delegation report (per-op table, partitions, MAC share) for a planned graph. */
void xnnd_print_report(FILE* out, const xnnd_graph* g, const xnnd_partition_plan* plan,
                       const xnnd_pipeline_report* passes);

/* The same report as JSON for the Python API (report_json.c). */
xnnd_status xnnd_write_report_json(FILE* out, const xnnd_graph* g, const xnnd_partition_plan* plan);

/* --backend-option BACKEND:KEY=VALUE, split in place into out; false (message printed) when
 * malformed (delegate_choices.c). */
bool xnnd_cli_backend_option(const char* cmd, char* spec, xnnd_backend_option* out);
/* Each delegate step's init decisions (XNNPACK: the kernel of every convolution and why). */
void xnnd_cli_print_delegate_choices(FILE* out, const xnnd_method* method);

/* Exit codes: 0 ok, 1 runtime/toolchain failure, 2 usage or bad input. */
#define XNND_EXIT_FAIL 1
#define XNND_EXIT_USAGE 2

#endif
