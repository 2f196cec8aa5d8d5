/* Accumulates one XNNPACK delegate blob: a value table (blob ids are dense), a constant region
 * with 64-byte-aligned entries, and node tables built straight into the flatbuffer builder.
 * finish() writes the Value/Graph tables, then header | flatbuffer | constants. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pte_format.h"
#include "xnn_lower_internal.h"

typedef struct xnn_bvalue {
  uint8_t datatype;
  uint32_t rank;
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t flags;
  uint32_t external_index;
  uint64_t constant_offset, constant_size;
  float scale;            /* QINT8/QUINT8/QINT32 */
  int32_t zero_point;
  const float* channel_scales;  /* QCINT8/QCINT32: borrowed (graph or builder owned) */
  uint32_t num_channel_scales, channel_dim;
  bool written;           /* some node writes it */
  bool read;              /* some node reads it (or the lowering that made it promises to) */
  xnnd_id ir;             /* IR value it stands for, XNND_NO_ID for lowering temporaries */
  bool dynamic;           /* some dim is symbolic: dimx holds every dim's form (blob order) */
  xnnd_dimx dimx[XNN_BLOB_MAX_DIMS];
} xnn_bvalue;

struct xnnd_xnn_builder {
  const xnnd_graph* g;
  fb_builder* fb;
  uint32_t* map;          /* IR value id -> blob id (XNN_NO_VALUE) */
  xnn_bvalue* values;
  uint32_t num_values, cap_values;
  uint8_t* consts;
  size_t consts_size, consts_cap;
  fb_ref* nodes;          /* NodeEntry tables */
  uint32_t num_nodes, cap_nodes;
  uint32_t* input_ids;
  uint32_t* output_ids;
  uint32_t num_inputs, num_outputs, cap_inputs, cap_outputs;
  float** owned_scales;   /* per-channel scale arrays the lowering computed */
  uint32_t num_owned, cap_owned;
  xnnd_id node;           /* node being lowered, for messages */
  xnnd_status status;
  char* err;
  size_t err_size;
};

static bool grow(void** p, uint32_t* cap, uint32_t need, size_t elem) {
  if (need <= *cap) return true;
  uint32_t n = *cap ? *cap : 16;
  while (n < need) n *= 2;
  void* q = realloc(*p, (size_t)n * elem);
  if (q == NULL) return false;
  *p = q;
  *cap = n;
  return true;
}

xnnd_status xnn_b_fail(xnnd_xnn_builder* b, xnnd_status status, const char* fmt, ...) {
  if (b->status != XNND_OK) return b->status;
  b->status = status;
  if (b->err != NULL && b->err_size > 0) {
    int n = 0;
    if (b->node != XNND_NO_ID) {
      const xnnd_op_info* info = xnnd_op_get(b->g->nodes[b->node].op);
      n = snprintf(b->err, b->err_size, "node %u (%s): ", b->node, info ? info->name : "?");
      if (n < 0 || (size_t)n >= b->err_size) return status;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err + n, b->err_size - (size_t)n, fmt, ap);
    va_end(ap);
  }
  return status;
}

xnnd_status xnn_b_status(const xnnd_xnn_builder* b) { return b->status; }
void xnn_b_set_node(xnnd_xnn_builder* b, xnnd_id node) { b->node = node; }
fb_builder* xnn_b_fb(xnnd_xnn_builder* b) { return b->fb; }

xnnd_status xnn_builder_create(const xnnd_graph* g, char* err, size_t err_size, xnnd_xnn_builder** b_out) {
  *b_out = NULL;
  xnnd_xnn_builder* b = calloc(1, sizeof(*b));
  if (b == NULL) return XNND_OUT_OF_MEMORY;
  b->g = g;
  b->err = err;
  b->err_size = err_size;
  b->node = XNND_NO_ID;
  b->map = malloc(sizeof(uint32_t) * (g->num_values ? g->num_values : 1));
  if (b->map == NULL || fb_builder_create(NULL, &b->fb) != XNND_OK) {
    xnn_builder_destroy(b);
    return XNND_OUT_OF_MEMORY;
  }
  for (uint32_t i = 0; i < g->num_values; i++) b->map[i] = XNN_NO_VALUE;
  *b_out = b;
  return XNND_OK;
}

void xnn_builder_destroy(xnnd_xnn_builder* b) {
  if (b == NULL) return;
  fb_builder_destroy(b->fb);
  free(b->map);
  free(b->values);
  free(b->consts);
  free(b->nodes);
  free(b->input_ids);
  free(b->output_ids);
  for (uint32_t i = 0; i < b->num_owned; i++) free(b->owned_scales[i]);
  free(b->owned_scales);
  free(b);
}

uint32_t xnn_blob_dims(const xnnd_ir_value* v, uint32_t dims[XNN_BLOB_MAX_DIMS]) {
  uint32_t rank = v->rank < XNN_BLOB_MAX_DIMS ? v->rank : XNN_BLOB_MAX_DIMS;
  for (uint32_t d = 0; d < rank; d++) dims[d] = (uint32_t)v->dims[d];
  if (rank == 4) {
    dims[1] = (uint32_t)v->dims[2];
    dims[2] = (uint32_t)v->dims[3];
    dims[3] = (uint32_t)v->dims[1];
  }
  return rank;
}

xnnd_dimx xnn_ir_dimx(const xnnd_ir_value* v, uint32_t d) {
  return v->dimx != NULL ? v->dimx[d] : xnnd_dimx_const(v->dims[d]);
}

bool xnn_value_is_symbolic(const xnnd_ir_value* v) {
  for (uint32_t d = 0; v->dimx != NULL && d < v->rank; d++)
    if (!xnnd_dimx_is_const(&v->dimx[d])) return true;
  return false;
}

/* Blob value `id` takes forms x[0..rank) (blob order); a value whose forms are all constant
 * stays static, so a static graph's blob is byte-identical to one without this feature. */
static void set_forms(xnnd_xnn_builder* b, uint32_t id, const xnnd_dimx* x) {
  xnn_bvalue* v = &b->values[id];
  bool symbolic = false;
  for (uint32_t d = 0; d < v->rank; d++) symbolic = symbolic || !xnnd_dimx_is_const(&x[d]);
  if (!symbolic) return;
  for (uint32_t d = 0; d < v->rank; d++) {
    int64_t upper = xnnd_dimx_upper(&x[d], b->g->syms, b->g->num_syms);
    if (!xnnd_dimx_check(&x[d], b->g->num_syms) || upper != (int64_t)v->dims[d]) {
      xnn_b_fail(b, XNND_INTERNAL, "blob value %u dim %u: symbolic form (upper bound %lld) disagrees with dim %u", id,
                 d, (long long)upper, v->dims[d]);
      return;
    }
  }
  v->dynamic = true;
  memcpy(v->dimx, x, sizeof(xnnd_dimx) * v->rank);
}

void xnn_b_set_dimx(xnnd_xnn_builder* b, uint32_t id, const xnnd_dimx* x) {
  if (b->status != XNND_OK || id >= b->num_values) return;
  set_forms(b, id, x);
}

/* Forms of an IR value in blob order (the permutation xnn_blob_dims applies to dims). */
static void set_forms_of_ir(xnnd_xnn_builder* b, uint32_t id, const xnnd_ir_value* v) {
  if (!xnn_value_is_symbolic(v)) return;
  uint32_t rank = b->values[id].rank;
  xnnd_dimx x[XNN_BLOB_MAX_DIMS];
  for (uint32_t d = 0; d < rank; d++) x[d] = v->dimx[d];
  if (rank == 4) {
    x[1] = v->dimx[2];
    x[2] = v->dimx[3];
    x[3] = v->dimx[1];
  }
  set_forms(b, id, x);
}

static uint32_t new_value(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims) {
  if (b->status != XNND_OK) return XNN_NO_VALUE;
  if (rank > XNN_BLOB_MAX_DIMS) {
    xnn_b_fail(b, XNND_UNSUPPORTED, "rank %u exceeds XNNPACK's %u", rank, XNN_BLOB_MAX_DIMS);
    return XNN_NO_VALUE;
  }
  if (!grow((void**)&b->values, &b->cap_values, b->num_values + 1, sizeof(xnn_bvalue))) {
    xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory growing the value table");
    return XNN_NO_VALUE;
  }
  xnn_bvalue* v = &b->values[b->num_values];
  memset(v, 0, sizeof(*v));
  v->datatype = XNND_XNNPACK_DataType_FP32;
  v->scale = 1.0f;
  v->rank = rank;
  if (rank > 0) memcpy(v->dims, dims, sizeof(uint32_t) * rank);
  v->external_index = UINT32_MAX;
  v->ir = XNND_NO_ID;
  return b->num_values++;
}

uint32_t xnn_b_internal_f32(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims) {
  uint32_t id = new_value(b, rank, dims);
  if (id != XNN_NO_VALUE) b->values[id].read = b->values[id].written = true;
  return id;
}

/* A new constant holding a copy of numel(dims) elements of elem_size bytes (datatype FP32
 * until the caller says otherwise). */
static uint32_t constant_bytes(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims, const void* data,
                               size_t elem_size) {
  uint32_t id = new_value(b, rank, dims);
  if (id == XNN_NO_VALUE) return id;
  uint64_t numel = 1;
  for (uint32_t d = 0; d < rank; d++) numel *= dims[d];
  size_t bytes = (size_t)numel * elem_size;
  size_t offset = (b->consts_size + (XNND_SEGMENT_ALIGN - 1)) & ~(size_t)(XNND_SEGMENT_ALIGN - 1);
  size_t need = offset + bytes;
  if (need > b->consts_cap) {
    size_t cap = b->consts_cap ? b->consts_cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t* p = realloc(b->consts, cap);
    if (p == NULL) {
      xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory growing the constant region (%zu bytes)", need);
      return XNN_NO_VALUE;
    }
    b->consts = p;
    b->consts_cap = cap;
  }
  memset(b->consts + b->consts_size, 0, offset - b->consts_size);
  memcpy(b->consts + offset, data, bytes);
  b->consts_size = need;
  b->values[id].constant_offset = offset;
  b->values[id].constant_size = bytes;
  return id;
}

uint32_t xnn_b_constant_f32(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims, const float* data) {
  return constant_bytes(b, rank, dims, data, sizeof(float));
}

/* Blob datatype and parameters of an IR value; false (after recording a failure) for what the
 * blob cannot express. channel_dim_nhwc: the per-channel axis in blob dims. */
static bool set_value_type(xnnd_xnn_builder* b, uint32_t id, const xnnd_ir_value* v) {
  xnn_bvalue* bv = &b->values[id];
  const xnnd_quant* q = &v->quant;
  if (v->dtype == XNND_F32 && q->scheme == XNND_QUANT_NONE) {
    bv->datatype = XNND_XNNPACK_DataType_FP32;
    return true;
  }
  if (q->scheme == XNND_QUANT_PER_TENSOR && (v->dtype == XNND_I8 || v->dtype == XNND_U8 || v->dtype == XNND_I32)) {
    bv->datatype = v->dtype == XNND_I8 ? XNND_XNNPACK_DataType_QINT8
                   : v->dtype == XNND_U8 ? XNND_XNNPACK_DataType_QUINT8 : XNND_XNNPACK_DataType_QINT32;
    bv->scale = q->scale;
    bv->zero_point = q->zero_point;
    return true;
  }
  if (q->scheme == XNND_QUANT_PER_CHANNEL && (v->dtype == XNND_I8 || v->dtype == XNND_I32)) {
    for (uint32_t c = 0; c < q->num_channels; c++)
      if (q->zero_points != NULL && q->zero_points[c] != 0) {
        xnn_b_fail(b, XNND_UNSUPPORTED, "%%%s: XNNPACK per-channel quantization is symmetric (zero point %d)", v->name,
                   q->zero_points[c]);
        return false;
      }
    bv->datatype = v->dtype == XNND_I8 ? XNND_XNNPACK_DataType_QCINT8 : XNND_XNNPACK_DataType_QCINT32;
    bv->channel_scales = q->scales;
    bv->num_channel_scales = q->num_channels;
    uint32_t axis = (uint32_t)q->axis;
    if (v->rank == 4) axis = axis == 0 ? 0 : axis == 1 ? 3 : axis - 1;  /* NCHW -> NHWC */
    bv->channel_dim = axis;
    return true;
  }
  xnn_b_fail(b, XNND_UNSUPPORTED, "%%%s is %s%s; the blob holds f32 and 8/32-bit quantized values", v->name,
             xnnd_dtype_name(v->dtype), q->scheme == XNND_QUANT_NONE ? " without quantization" : "");
  return false;
}

uint32_t xnn_b_internal_like(xnnd_xnn_builder* b, uint32_t rank, const uint32_t* dims, const xnnd_ir_value* like) {
  uint32_t id = new_value(b, rank, dims);
  if (id == XNN_NO_VALUE || !set_value_type(b, id, like)) return XNN_NO_VALUE;
  b->values[id].read = b->values[id].written = true;
  return id;
}

uint32_t xnn_b_constant_quant(xnnd_xnn_builder* b, uint8_t datatype, uint32_t rank, const uint32_t* dims,
                              const void* data, float scale, int32_t zero_point, const float* channel_scales,
                              uint32_t channel_dim) {
  if (b->status != XNND_OK) return XNN_NO_VALUE;
  size_t elem = datatype == XNND_XNNPACK_DataType_QINT32 || datatype == XNND_XNNPACK_DataType_QCINT32 ? 4 : 1;
  uint32_t id = constant_bytes(b, rank, dims, data, elem);
  if (id == XNN_NO_VALUE) return id;
  xnn_bvalue* v = &b->values[id];
  v->datatype = datatype;
  v->scale = scale;
  v->zero_point = zero_point;
  if (channel_scales != NULL) {
    uint32_t n = channel_dim < rank ? dims[channel_dim] : 0;
    float* copy = malloc(sizeof(float) * (n ? n : 1));
    if (copy == NULL || !grow((void**)&b->owned_scales, &b->cap_owned, b->num_owned + 1, sizeof(float*))) {
      free(copy);
      xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory copying channel scales");
      return XNN_NO_VALUE;
    }
    memcpy(copy, channel_scales, sizeof(float) * n);
    b->owned_scales[b->num_owned++] = copy;
    v = &b->values[id];
    v->channel_scales = copy;
    v->num_channel_scales = n;
    v->channel_dim = channel_dim;
  }
  return id;
}

xnnd_status xnn_builder_add_external(xnnd_xnn_builder* b, xnnd_id value, bool is_input, uint32_t index) {
  const char* what = is_input ? "input" : "output";
  if (value >= b->g->num_values) return xnn_b_fail(b, XNND_INVALID_ARGUMENT, "partition %s %u: value id %u out of range", what, index, value);
  const xnnd_ir_value* v = &b->g->values[value];
  if (v->data != NULL)
    return xnn_b_fail(b, XNND_INVALID_ARGUMENT, "partition %s %u (%%%s) is a constant; the blob carries its own copy",
                      what, index, v->name);
  if (b->map[value] != XNN_NO_VALUE)
    return xnn_b_fail(b, XNND_INVALID_ARGUMENT, "partition %s %u (%%%s) is listed twice or as both input and output",
                      what, index, v->name);
  bool quantized_8bit = (v->dtype == XNND_I8 || v->dtype == XNND_U8) && v->quant.scheme == XNND_QUANT_PER_TENSOR;
  if (!quantized_8bit && (v->dtype != XNND_F32 || v->quant.scheme != XNND_QUANT_NONE))
    return xnn_b_fail(b, XNND_UNSUPPORTED,
                      "partition %s %u (%%%s) is %s; only f32 and per-tensor quantized i8/u8 cross the boundary",
                      what, index, v->name, xnnd_dtype_name(v->dtype));
  if (v->rank == 4 && v->layout != XNND_LAYOUT_CONTIGUOUS)
    return xnn_b_fail(b, XNND_UNSUPPORTED, "partition %s %u (%%%s) has NHWC layout; the delegate boundary is NCHW",
                      what, index, v->name);
  for (uint32_t d = 0; d < v->rank; d++)
    if (v->dims[d] < 1 || v->dims[d] > UINT32_MAX)
      return xnn_b_fail(b, XNND_UNSUPPORTED, "partition %s %u (%%%s): dim %u out of range", what, index, v->name, d);
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  if (v->rank > XNN_BLOB_MAX_DIMS)
    return xnn_b_fail(b, XNND_UNSUPPORTED, "partition %s %u (%%%s): rank %u exceeds XNNPACK's %u", what, index,
                      v->name, v->rank, XNN_BLOB_MAX_DIMS);
  uint32_t rank = xnn_blob_dims(v, dims);
  uint32_t id = new_value(b, rank, dims);
  if (id == XNN_NO_VALUE || !set_value_type(b, id, v)) return b->status;
  b->values[id].flags = (is_input ? XNND_XVALUE_EXTERNAL_INPUT : XNND_XVALUE_EXTERNAL_OUTPUT) |
                        (rank == 4 ? XNND_XVALUE_NCHW_BOUNDARY : 0);
  b->values[id].external_index = index;
  b->values[id].ir = value;
  b->map[value] = id;
  set_forms_of_ir(b, id, v);
  if (b->status != XNND_OK) return b->status;
  bool ok = is_input ? grow((void**)&b->input_ids, &b->cap_inputs, b->num_inputs + 1, sizeof(uint32_t))
                     : grow((void**)&b->output_ids, &b->cap_outputs, b->num_outputs + 1, sizeof(uint32_t));
  if (!ok) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory");
  if (is_input) {
    if (index != b->num_inputs) return xnn_b_fail(b, XNND_INTERNAL, "inputs declared out of order");
    b->input_ids[b->num_inputs++] = id;
  } else {
    if (index != b->num_outputs) return xnn_b_fail(b, XNND_INTERNAL, "outputs declared out of order");
    b->output_ids[b->num_outputs++] = id;
  }
  return XNND_OK;
}

bool xnn_b_is_external_output(const xnnd_xnn_builder* b, xnnd_id value) {
  uint32_t id = value < b->g->num_values ? b->map[value] : XNN_NO_VALUE;
  return id != XNN_NO_VALUE && (b->values[id].flags & XNND_XVALUE_EXTERNAL_OUTPUT) != 0;
}

/* A copy of a constant in blob layout: rank 4 goes NCHW -> NHWC; any element size. */
static uint32_t materialize_constant(xnnd_xnn_builder* b, const xnnd_ir_value* v, bool transpose_2d) {
  if (xnn_value_is_symbolic(v)) {
    xnn_b_fail(b, XNND_UNSUPPORTED, "symbolic dim: constant %%%s has a symbolic shape; constants are static", v->name);
    return XNN_NO_VALUE;
  }
  bool plain_f32 = v->dtype == XNND_F32 && v->quant.scheme == XNND_QUANT_NONE;
  if (!plain_f32 && v->quant.scheme == XNND_QUANT_NONE) {
    xnn_b_fail(b, XNND_UNSUPPORTED, "constant %%%s is %s; only f32 and quantized constants are lowered", v->name,
               xnnd_dtype_name(v->dtype));
    return XNN_NO_VALUE;
  }
  if (transpose_2d && !plain_f32) {
    xnn_b_fail(b, XNND_UNSUPPORTED, "constant %%%s: transposing a quantized constant is not lowered", v->name);
    return XNN_NO_VALUE;
  }
  size_t es = xnnd_dtype_size(v->dtype);
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank;
  const uint8_t* src = v->data;
  uint8_t* tmp = NULL;
  if (transpose_2d) {
    rank = 2;
    dims[0] = (uint32_t)v->dims[1];
    dims[1] = (uint32_t)v->dims[0];
    tmp = malloc(es * dims[0] * dims[1] + 1);
    if (tmp != NULL)
      for (uint32_t i = 0; i < dims[0]; i++)
        for (uint32_t j = 0; j < dims[1]; j++)
          memcpy(tmp + ((size_t)i * dims[1] + j) * es, src + ((size_t)j * dims[0] + i) * es, es);
  } else {
    if (v->rank > XNN_BLOB_MAX_DIMS) {
      xnn_b_fail(b, XNND_UNSUPPORTED, "constant %%%s: rank %u exceeds XNNPACK's %u", v->name, v->rank, XNN_BLOB_MAX_DIMS);
      return XNN_NO_VALUE;
    }
    rank = xnn_blob_dims(v, dims);
    if (rank != 4) {
      uint32_t id = constant_bytes(b, rank, dims, src, es);
      if (id != XNN_NO_VALUE && !set_value_type(b, id, v)) return XNN_NO_VALUE;
      return id;
    }
    size_t n = (size_t)v->dims[0], c = (size_t)v->dims[1], hw = (size_t)(v->dims[2] * v->dims[3]);
    tmp = malloc(es * n * c * hw + 1);
    if (tmp != NULL)
      for (size_t i = 0; i < n; i++)
        for (size_t ch = 0; ch < c; ch++)
          for (size_t p = 0; p < hw; p++) memcpy(tmp + ((i * hw + p) * c + ch) * es, src + ((i * c + ch) * hw + p) * es, es);
  }
  if (tmp == NULL) {
    xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory transforming constant %%%s", v->name);
    return XNN_NO_VALUE;
  }
  uint32_t id = constant_bytes(b, rank, dims, tmp, es);
  free(tmp);
  if (id != XNN_NO_VALUE && !set_value_type(b, id, v)) return XNN_NO_VALUE;
  return id;
}

uint32_t xnn_b_constant_transposed(xnnd_xnn_builder* b, xnnd_id value) {
  if (b->status != XNND_OK) return XNN_NO_VALUE;
  const xnnd_ir_value* v = &b->g->values[value];
  if (v->data == NULL || v->rank != 2) {
    xnn_b_fail(b, XNND_INTERNAL, "%%%s is not a 2-D constant", v->name);
    return XNN_NO_VALUE;
  }
  return materialize_constant(b, v, true);
}

uint32_t xnn_b_operand(xnnd_xnn_builder* b, xnnd_id value) {
  if (b->status != XNND_OK) return XNN_NO_VALUE;
  if (value >= b->g->num_values) {
    xnn_b_fail(b, XNND_INVALID_ARGUMENT, "operand id %u out of range", value);
    return XNN_NO_VALUE;
  }
  if (b->map[value] != XNN_NO_VALUE) {
    b->values[b->map[value]].read = true;
    return b->map[value];
  }
  const xnnd_ir_value* v = &b->g->values[value];
  uint32_t id = XNN_NO_VALUE;
  xnnd_id t_src = xnn_t_source(b->g, value);
  if (v->data != NULL)
    id = materialize_constant(b, v, false);
  else if (t_src != XNND_NO_ID)
    id = materialize_constant(b, &b->g->values[t_src], true);
  else
    xnn_b_fail(b, XNND_INVALID_ARGUMENT,
               "operand %%%s is neither a partition input, a constant, nor produced earlier in the partition", v->name);
  if (id != XNN_NO_VALUE) b->map[value] = id;
  return id;
}

uint32_t xnn_b_output(xnnd_xnn_builder* b, xnnd_id value) {
  if (b->status != XNND_OK) return XNN_NO_VALUE;
  if (value >= b->g->num_values) {
    xnn_b_fail(b, XNND_INVALID_ARGUMENT, "output id %u out of range", value);
    return XNN_NO_VALUE;
  }
  const xnnd_ir_value* v = &b->g->values[value];
  uint32_t id = b->map[value];
  if (id != XNN_NO_VALUE) {
    if ((b->values[id].flags & XNND_XVALUE_EXTERNAL_OUTPUT) == 0) {
      xnn_b_fail(b, XNND_INVALID_ARGUMENT, "value %%%s is a partition input and cannot be written", v->name);
      return XNN_NO_VALUE;
    }
    if (b->values[id].written) {
      xnn_b_fail(b, XNND_INVALID_ARGUMENT, "value %%%s is written twice", v->name);
      return XNN_NO_VALUE;
    }
    b->values[id].written = true;
    return id;
  }
  if (v->rank > XNN_BLOB_MAX_DIMS) {
    xnn_b_fail(b, XNND_UNSUPPORTED, "value %%%s: rank %u exceeds XNNPACK's %u", v->name, v->rank, XNN_BLOB_MAX_DIMS);
    return XNN_NO_VALUE;
  }
  uint32_t dims[XNN_BLOB_MAX_DIMS];
  uint32_t rank = xnn_blob_dims(v, dims);
  id = new_value(b, rank, dims);
  if (id != XNN_NO_VALUE && !set_value_type(b, id, v)) return XNN_NO_VALUE;
  if (id != XNN_NO_VALUE) {
    b->map[value] = id;
    b->values[id].written = true;
    b->values[id].ir = value;
    set_forms_of_ir(b, id, v);
    if (b->status != XNND_OK) return XNN_NO_VALUE;
  }
  return id;
}

xnnd_status xnn_b_node(xnnd_xnn_builder* b, uint8_t type, fb_ref table) {
  if (b->status != XNND_OK) return b->status;
  if (table == 0) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory building a node table");
  if (!grow((void**)&b->nodes, &b->cap_nodes, b->num_nodes + 1, sizeof(fb_ref)))
    return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory growing the node list");
  fb_table_start(b->fb);
  fb_add_u8(b->fb, XNND_XNNPACK_NodeEntry_node_type, type, 0);
  fb_add_ref(b->fb, XNND_XNNPACK_NodeEntry_node, table);
  fb_ref entry = fb_table_end(b->fb);
  if (entry == 0) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory building a node entry");
  b->nodes[b->num_nodes++] = entry;
  return XNND_OK;
}

xnnd_status xnn_builder_finish(xnnd_xnn_builder* b, uint8_t** blob_out, size_t* size_out) {
  *blob_out = NULL;
  *size_out = 0;
  if (b->status != XNND_OK) return b->status;
  b->node = XNND_NO_ID;
  for (uint32_t o = 0; o < b->num_outputs; o++)
    if (!b->values[b->output_ids[o]].written)
      return xnn_b_fail(b, XNND_INVALID_ARGUMENT, "partition output %u is produced by no node of the partition", o);
  /* XNNPACK gives a written-but-unread internal value no memory and then asserts. */
  for (uint32_t i = 0; i < b->num_values; i++) {
    const xnn_bvalue* v = &b->values[i];
    if (v->written && !v->read && !(v->flags & XNND_XVALUE_EXTERNAL_OUTPUT))
      return xnn_b_fail(b, XNND_INVALID_ARGUMENT,
                        "value %%%s is written inside the partition but neither read there nor a partition output",
                        v->ir < b->g->num_values ? b->g->values[v->ir].name : "?");
  }
  fb_builder* fb = b->fb;
  fb_ref* refs = malloc(sizeof(fb_ref) * (b->num_values ? b->num_values : 1));
  if (refs == NULL) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory");
  for (uint32_t i = 0; i < b->num_values; i++) {
    const xnn_bvalue* v = &b->values[i];
    fb_ref dims = fb_create_vector(fb, v->dims, v->rank, sizeof(uint32_t));
    fb_ref channel_scales = v->channel_scales != NULL
                                ? fb_create_vector(fb, v->channel_scales, v->num_channel_scales, sizeof(float))
                                : 0;
    fb_ref dim_exprs = 0;
    if (v->dynamic) {
      int64_t wire[XNN_BLOB_MAX_DIMS * (1 + XNND_MAX_SYMS)];
      xnnd_dimx_encode(v->dimx, v->rank, b->g->num_syms, wire);
      dim_exprs = fb_create_vector(fb, wire, v->rank * (1 + b->g->num_syms), sizeof(int64_t));
    }
    fb_table_start(fb);
    fb_add_u8(fb, XNND_XNNPACK_Value_datatype, v->datatype, 0);
    fb_add_ref(fb, XNND_XNNPACK_Value_dims, dims);
    fb_add_f32(fb, XNND_XNNPACK_Value_scale, v->scale, 1.0f);
    fb_add_i32(fb, XNND_XNNPACK_Value_zero_point, v->zero_point, 0);
    if (channel_scales != 0) {
      fb_add_ref(fb, XNND_XNNPACK_Value_channel_scales, channel_scales);
      fb_add_u32(fb, XNND_XNNPACK_Value_channel_dim, v->channel_dim, 0);
    }
    fb_add_u32(fb, XNND_XNNPACK_Value_flags, v->flags, 0);
    fb_add_u32(fb, XNND_XNNPACK_Value_external_index, v->external_index, UINT32_MAX);
    fb_add_u64(fb, XNND_XNNPACK_Value_constant_offset, v->constant_offset, 0);
    fb_add_u64(fb, XNND_XNNPACK_Value_constant_size, v->constant_size, 0);
    fb_add_ref(fb, XNND_XNNPACK_Value_dim_exprs, dim_exprs);
    refs[i] = fb_table_end(fb);
  }
  fb_ref values = fb_create_ref_vector(fb, refs, b->num_values);
  free(refs);
  fb_ref nodes = fb_create_ref_vector(fb, b->nodes, b->num_nodes);
  fb_ref inputs = fb_create_vector(fb, b->input_ids, b->num_inputs, sizeof(uint32_t));
  fb_ref outputs = fb_create_vector(fb, b->output_ids, b->num_outputs, sizeof(uint32_t));
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_Graph_version, XNND_BLOB_VERSION, 0);
  fb_add_ref(fb, XNND_XNNPACK_Graph_values, values);
  fb_add_ref(fb, XNND_XNNPACK_Graph_nodes, nodes);
  fb_add_ref(fb, XNND_XNNPACK_Graph_input_ids, inputs);
  fb_add_ref(fb, XNND_XNNPACK_Graph_output_ids, outputs);
  fb_add_u32(fb, XNND_XNNPACK_Graph_num_symbols, b->g->num_syms, 0);
  fb_ref root = fb_table_end(fb);
  const uint8_t* fbdata = NULL;
  size_t fbsize = 0;
  xnnd_status st = fb_finish(fb, root, XNND_XNNPACK_IDENTIFIER, &fbdata, &fbsize);
  if (st != XNND_OK) return xnn_b_fail(b, st, "finishing the blob flatbuffer failed (%s)", xnnd_status_str(st));

  size_t const_off, const_size;
  size_t total = xnnd_blob_layout(fbsize, b->consts_size, &const_off, &const_size);
  const size_t align = XNND_SEGMENT_ALIGN;
  uint8_t* blob = aligned_alloc(align, (total + align - 1) & ~(align - 1));
  if (blob == NULL) return xnn_b_fail(b, XNND_OUT_OF_MEMORY, "out of memory allocating a %zu-byte blob", total);
  memset(blob, 0, total);
  xnnd_blob_assemble(blob, fbdata, fbsize, b->consts, b->consts_size, const_off, const_size);
  *blob_out = blob;
  *size_out = total;
  return XNND_OK;
}

/* ---- shared emitters ---- */
xnnd_status xnn_emit_fully_connected(xnnd_xnn_builder* b, uint32_t input, uint32_t filter, uint32_t bias,
                                     uint32_t output, float output_min, float output_max) {
  if (b->status != XNND_OK) return b->status;
  fb_builder* fb = b->fb;
  fb_table_start(fb);
  fb_add_u32(fb, XNND_XNNPACK_FullyConnected_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_FullyConnected_filter_id, filter, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_FullyConnected_bias_id, bias, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_FullyConnected_output_id, output, UINT32_MAX);
  fb_add_f32(fb, XNND_XNNPACK_FullyConnected_output_min, output_min, -INFINITY);
  fb_add_f32(fb, XNND_XNNPACK_FullyConnected_output_max, output_max, INFINITY);
  return xnn_b_node(b, XNND_XNNPACK_Node_FullyConnected, fb_table_end(fb));
}

xnnd_status xnn_emit_reshape(xnnd_xnn_builder* b, uint32_t input, uint32_t output, uint32_t rank, const uint32_t* dims) {
  if (b->status != XNND_OK) return b->status;
  fb_builder* fb = b->fb;
  fb_ref shape = fb_create_vector(fb, dims, rank, sizeof(uint32_t));
  /* A symbolic new shape is the output's: every caller reshapes to the output value's dims. */
  fb_ref exprs = 0;
  const xnn_bvalue* out = output < b->num_values ? &b->values[output] : NULL;
  if (out != NULL && out->dynamic) {
    bool same = out->rank == rank;
    for (uint32_t d = 0; same && d < rank; d++) same = out->dims[d] == dims[d];
    if (!same) return xnn_b_fail(b, XNND_INTERNAL, "reshape to dims other than its symbolic output's");
    int64_t wire[XNN_BLOB_MAX_DIMS * (1 + XNND_MAX_SYMS)];
    xnnd_dimx_encode(out->dimx, rank, b->g->num_syms, wire);
    exprs = fb_create_vector(fb, wire, rank * (1 + b->g->num_syms), sizeof(int64_t));
  }
  fb_table_start(fb);
  fb_add_ref(fb, XNND_XNNPACK_StaticReshape_new_shape, shape);
  fb_add_ref(fb, XNND_XNNPACK_StaticReshape_new_shape_exprs, exprs);
  fb_add_u32(fb, XNND_XNNPACK_StaticReshape_input_id, input, UINT32_MAX);
  fb_add_u32(fb, XNND_XNNPACK_StaticReshape_output_id, output, UINT32_MAX);
  return xnn_b_node(b, XNND_XNNPACK_Node_StaticReshape, fb_table_end(fb));
}

void xnn_conv_filter_layout(const void* src, void* dst, size_t elem, bool depthwise, size_t cout, size_t cpg,
                            size_t kh, size_t kw, uint32_t fdims[4]) {
  const uint8_t* s = src;
  uint8_t* d = dst;
  if (depthwise) { /* [Cout,1,kh,kw] -> [1,kh,kw,Cout] */
    for (size_t o = 0; o < cout; o++)
      for (size_t y = 0; y < kh; y++)
        for (size_t x = 0; x < kw; x++) memcpy(d + ((y * kw + x) * cout + o) * elem, s + ((o * kh + y) * kw + x) * elem, elem);
    fdims[0] = 1, fdims[1] = (uint32_t)kh, fdims[2] = (uint32_t)kw, fdims[3] = (uint32_t)cout;
    return;
  }
  for (size_t o = 0; o < cout; o++) /* OIHW -> OHWI */
    for (size_t i = 0; i < cpg; i++)
      for (size_t y = 0; y < kh; y++)
        for (size_t x = 0; x < kw; x++)
          memcpy(d + (((o * kh + y) * kw + x) * cpg + i) * elem, s + (((o * cpg + i) * kh + y) * kw + x) * elem, elem);
  fdims[0] = (uint32_t)cout, fdims[1] = (uint32_t)kh, fdims[2] = (uint32_t)kw, fdims[3] = (uint32_t)cpg;
}
