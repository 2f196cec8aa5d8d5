/* IR graph + partition plan -> program file bytes (docs/ARCHITECTURE.md "Program file").
 * Partitions become DelegateCalls whose blobs come from the plan's backend (plan->backend->lower,
 * named plan->backend->name in the program); every other
 * node becomes a KernelCall. Steps are ordered so every value is produced before use. */
#ifndef XNND_SERIALIZER_PROGRAM_WRITER_H
#define XNND_SERIALIZER_PROGRAM_WRITER_H

#include "ir.h"
#include "partitioner/partitioner.h"

#ifdef __cplusplus
extern "C" {
#endif

/* *out is malloc'd (64-byte aligned); the caller frees it. */
xnnd_status xnnd_program_write(const xnnd_graph* g, const xnnd_partition_plan* plan,
                               uint8_t** out, size_t* size_out, char* err, size_t err_size);
xnnd_status xnnd_program_write_file(const xnnd_graph* g, const xnnd_partition_plan* plan,
                                    const char* path, char* err, size_t err_size);

/* Read a program without delegates back into IR (for `xnnd lower`). The bytes are
 * untrusted: verified first. */
xnnd_status xnnd_program_import(const uint8_t* data, size_t size, xnnd_graph** graph_out,
                                char* err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
