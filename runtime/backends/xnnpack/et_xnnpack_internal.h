/* Internal to the ExecuTorch XNNPACK translator (et_xnnpack.c: header, values, boundary
 * transposes, constants, blob; et_xnnpack_nodes.c: the table of node translators). Values are
 * addressed by ExecuTorch's id_out, which the translator has checked to be dense (< count). */
#ifndef XNND_RUNTIME_ET_XNNPACK_INTERNAL_H
#define XNND_RUNTIME_ET_XNNPACK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "et_xnnpack.h"
#include "et_xnnpack_generated.h"
#include "fb.h"
#include "fb_builder.h"
#include "xnnpack_generated.h"

#define ET_XNN_MAX_DIMS 6
#define ET_XNN_NO_VALUE UINT32_MAX

typedef struct et_xvalue {
  uint8_t datatype;              /* ours (XNND_XNNPACK_DataType_*), mapped */
  uint32_t rank;
  uint32_t dims[ET_XNN_MAX_DIMS];
  uint32_t et_flags;             /* 1 external input, 2 external output */
  uint32_t external_id;
  uint32_t constant_idx;
  float scale;
  int32_t zero_point;
  uint32_t num_scales;           /* per channel (QCINT8/QCINT32) */
  uint32_t channel_dim;
  /* translation */
  uint32_t readers;              /* node inputs naming it */
  uint32_t writers;
  uint32_t reader_node, writer_node;  /* the last node reading / writing it (UINT32_MAX: none) */
  bool dropped;                  /* the NCHW side of a folded boundary transpose */
  uint32_t alias;                /* dropped: the value standing in for it, else ET_XNN_NO_VALUE */
  uint32_t flags;                /* ours: XNND_XVALUE_* */
  uint32_t external_index;       /* position in the delegate call's inputs or outputs */
  uint32_t id;                   /* ours, ET_XNN_NO_VALUE when not emitted */
} et_xvalue;

typedef struct et_ctx {
  fb_table graph;
  fb_vec xnodes, xvalues;
  uint32_t num_values;
  et_xvalue* values;
  bool* node_folded;             /* boundary transposes turned into flag 4 */
  bool* fc_as_conv;              /* per-channel int8 fully connected run as a 1x1 convolution */
  fb_ref* value_refs;            /* our Value tables by our id */
  uint32_t num_out_values, cap_out_values;
  fb_ref* node_refs;             /* our NodeEntry tables */
  uint32_t num_out_nodes, cap_out_nodes;
  fb_builder* fb;
  const xnnd_allocator* allocator;
  char* err;
  size_t err_size;
} et_ctx;

/* One ExecuTorch node kind: which value-id fields it reads/writes (for the reader counts and
 * the boundary folding) and how it becomes one of our nodes. translate == NULL: refused with
 * `refusal` ("no ... in this XNNPACK" or "not translated by xnnd"). */
#define ET_XNODE_MAX_INPUTS 3
typedef struct et_xnode_kind {
  const char* name;
  uint32_t input_fields[ET_XNODE_MAX_INPUTS];  /* UINT32_MAX: unused */
  uint32_t output_field;
  bool optional_last_input;                    /* the last input (bias) may be absent */
  /* Builds our node table from the ET node; out_type receives our union type. */
  xnnd_status (*translate)(et_ctx* c, uint32_t index, fb_table node, float out_min, float out_max,
                           bool has_range, uint8_t* out_type, fb_ref* out_table);
  const char* refusal;
} et_xnode_kind;

/* NULL when `type` is 0 or beyond the union. */
const et_xnode_kind* et_xnode_kind_get(uint8_t type);

xnnd_status et_fail(et_ctx* c, xnnd_status status, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A new internal value of ours with like's datatype and quantization; ET_XNN_NO_VALUE (after
 * recording a failure) when out of room. */
uint32_t et_add_value(et_ctx* c, const et_xvalue* like, uint32_t rank, const uint32_t* dims);
/* Appends one of our nodes; false (after recording a failure) when out of room. */
bool et_add_node(et_ctx* c, uint8_t type, fb_ref table);
/* Our id of ExecuTorch value `et_id` (checked in range and emitted). */
uint32_t et_value_id(const et_ctx* c, uint32_t et_id);

#endif
