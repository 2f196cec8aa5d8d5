/* ExecuTorch XNNPACK delegate data -> xnnd XNNPACK blob (see et_xnnpack.h). In order: the
 * "XH00" header by hand (every range checked), the "XN01" flatbuffer through the table-driven
 * verifier, every value (datatype mapped by table, quantization, external ids), every node's
 * value ids, then the boundary transposes ExecuTorch adds around an NHWC graph are folded into
 * our flag 4 ("NCHW at the boundary"), constants are copied into our 64-aligned region and the
 * nodes are translated by et_xnnpack_nodes.c. The backend verifies the result again at init. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "et_xnnpack_internal.h"
#include "pte_format.h"

#define ET_HEADER_MAGIC "XH00"
#define ET_HEADER_MIN_SIZE 30u   /* zeros[4] magic[4] u16 length, u32 fb offset/size, u32 const offset, u64 const size */
#define ET_NAMED_OFFSET UINT64_MAX
#define ET_MAX_VALUES (1u << 20)
#define ET_MAX_NODES (1u << 20)
/* XNNPACK may read this many bytes past a static value; our region keeps them zero. */

xnnd_status et_fail(et_ctx* c, xnnd_status status, const char* fmt, ...) {
  if (c->err != NULL && c->err_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->err_size, fmt, ap);
    va_end(ap);
  }
  return status;
}

uint32_t et_value_id(const et_ctx* c, uint32_t et_id) {
  const et_xvalue* v = &c->values[et_id];
  /* Folds can chain (a value aliased to one that a later fold dropped); each fold drops one
   * value, so the chain is shorter than the value count. */
  for (uint32_t hops = 0; v->alias != ET_XNN_NO_VALUE && hops < c->num_values; hops++) v = &c->values[v->alias];
  return v->id;
}

uint32_t et_add_value(et_ctx* c, const et_xvalue* like, uint32_t rank, const uint32_t* dims) {
  if (c->num_out_values >= c->cap_out_values) {
    et_fail(c, XNND_INTERNAL, "value table full");
    return ET_XNN_NO_VALUE;
  }
  fb_ref d = fb_create_vector(c->fb, dims, rank, sizeof(uint32_t));
  fb_table_start(c->fb);
  fb_add_u8(c->fb, XNND_XNNPACK_Value_datatype, like->datatype, 0);
  fb_add_ref(c->fb, XNND_XNNPACK_Value_dims, d);
  fb_add_f32(c->fb, XNND_XNNPACK_Value_scale, like->scale, 1.0f);
  fb_add_i32(c->fb, XNND_XNNPACK_Value_zero_point, like->zero_point, 0);
  c->value_refs[c->num_out_values] = fb_table_end(c->fb);
  return c->num_out_values++;
}

bool et_add_node(et_ctx* c, uint8_t type, fb_ref table) {
  if (c->num_out_nodes >= c->cap_out_nodes) {
    et_fail(c, XNND_INTERNAL, "node table full");
    return false;
  }
  fb_table_start(c->fb);
  fb_add_u8(c->fb, XNND_XNNPACK_NodeEntry_node_type, type, 0);
  fb_add_ref(c->fb, XNND_XNNPACK_NodeEntry_node, table);
  c->node_refs[c->num_out_nodes++] = fb_table_end(c->fb);
  return true;
}

/* The 2022 XNNPACK's fully connected takes no per-channel int8 filter (ExecuTorch's int8
 * linear layers have one); a 1x1 convolution over [1, 1, M, K] computes the same with the same
 * requantization. The filter [O, K] becomes [O, 1, 1, K] (same bytes), so it must be a constant
 * no other node reads. */
static xnnd_status plan_fc_as_conv(et_ctx* c) {
  for (uint32_t i = 0; i < c->xnodes.len; i++) {
    fb_table xn = fb_vec_table(c->xnodes, i);
    if (fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0) != XNND_ET_XNNPACK_NodeUnion_FullyConnected) continue;
    fb_table n = fb_table_field(xn, XNND_ET_XNNPACK_XNode_node);
    et_xvalue* f = &c->values[fb_u32(n, XNND_ET_XNNPACK_FullyConnected_filter_id, 0)];
    et_xvalue* x = &c->values[fb_u32(n, XNND_ET_XNNPACK_FullyConnected_input1_id, 0)];
    et_xvalue* y = &c->values[fb_u32(n, XNND_ET_XNNPACK_FullyConnected_output_id, 0)];
    if (f->datatype != XNND_XNNPACK_DataType_QCINT8) continue;
    if (f->rank != 2 || f->constant_idx == 0 || f->readers != 1 || f->channel_dim != 0 || x->rank < 1 ||
        y->rank != x->rank)
      return et_fail(c, XNND_UNSUPPORTED,
                     "xnodes[%u] (FullyConnected): per-channel int8 filter that is not a 2-D constant of this node "
                     "alone: this XNNPACK's fully connected takes no per-channel filter", i);
    f->dims[3] = f->dims[1];
    f->dims[1] = f->dims[2] = 1;
    f->rank = 4;
    c->fc_as_conv[i] = true;
  }
  return XNND_OK;
}

/* ExecuTorch datatype -> ours; 0 where our blob has no counterpart. ExecuTorch numbers its
 * datatypes its own way from 10 up, so never cast one into the other. */
static const struct {
  uint8_t ours;
  const char* name;
} et_datatypes[] = {
    {XNND_XNNPACK_DataType_INVALID, "invalid"}, {XNND_XNNPACK_DataType_FP32, "fp32"},
    {XNND_XNNPACK_DataType_FP16, "fp16"},       {XNND_XNNPACK_DataType_QINT8, "qint8"},
    {XNND_XNNPACK_DataType_QUINT8, "quint8"},   {XNND_XNNPACK_DataType_QINT32, "qint32"},
    {XNND_XNNPACK_DataType_QCINT8, "qcint8"},   {XNND_XNNPACK_DataType_QCINT32, "qcint32"},
    {0, "qcint4"}, {0, "qdint8 (dynamic quantization)"}, {0, "qbint4"}, {0, "qpint8"}, {0, "int32"},
    {0, "pfp32"}, {0, "bf16"},
};
_Static_assert(sizeof(et_datatypes) / sizeof(et_datatypes[0]) == XNND_ET_XNNPACK_Datatype_BF16 + 1,
               "one entry per ExecuTorch datatype");

static size_t datatype_size(uint8_t ours) {
  switch (ours) {
    case XNND_XNNPACK_DataType_FP32: case XNND_XNNPACK_DataType_QINT32: case XNND_XNNPACK_DataType_QCINT32: return 4;
    case XNND_XNNPACK_DataType_FP16: return 2;
    default: return 1;
  }
}

static uint32_t rd_u32(const uint8_t* p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd_u64(const uint8_t* p) { uint64_t v; memcpy(&v, p, 8); return v; }

typedef struct value_extra {
  fb_vec scale_src;     /* per-channel scales inside the flatbuffer */
  uint32_t scale_idx;   /* or constant_data index holding them (f32) */
  uint64_t const_off, const_size;
} value_extra;

typedef struct et_regions {
  const uint8_t* fb;
  size_t fb_size;
  const uint8_t* consts;
  uint64_t consts_size;
} et_regions;

static xnnd_status read_header(et_ctx* c, const uint8_t* data, size_t size, et_regions* r) {
  if (size < 8)
    return et_fail(c, XNND_TRUNCATED, "ExecuTorch XNNPACK data is %zu bytes, too short for a header", size);
  if (memcmp(data + 4, XNND_ET_XNNPACK_IDENTIFIER, 4) == 0) {  /* no header: flatbuffer only */
    r->fb = data;
    r->fb_size = size;
    r->consts = NULL;
    r->consts_size = 0;
    return XNND_OK;
  }
  if (memcmp(data + 4, ET_HEADER_MAGIC, 4) != 0)
    return et_fail(c, XNND_BAD_MAGIC, "ExecuTorch XNNPACK data: no \"" ET_HEADER_MAGIC "\" header magic at byte 4");
  if (size < ET_HEADER_MIN_SIZE)
    return et_fail(c, XNND_TRUNCATED, "XH00 header: %zu bytes, the header needs %u", size, ET_HEADER_MIN_SIZE);
  uint16_t header_len = (uint16_t)(data[8] | (data[9] << 8));
  uint64_t fb_off = rd_u32(data + 10), fb_size = rd_u32(data + 14);
  uint64_t c_off = rd_u32(data + 18), c_size = rd_u64(data + 22);
  if (header_len < ET_HEADER_MIN_SIZE || header_len > size)
    return et_fail(c, XNND_MALFORMED, "XH00 header: length %u outside [%u, %zu]", header_len, ET_HEADER_MIN_SIZE, size);
  if (fb_off < header_len)
    return et_fail(c, XNND_OUT_OF_RANGE, "XH00 header: flatbuffer offset %llu lies inside the %u-byte header",
                   (unsigned long long)fb_off, header_len);
  if (fb_size == 0 || fb_off > size || fb_size > size - fb_off)
    return et_fail(c, XNND_OUT_OF_RANGE, "XH00 header: flatbuffer [%llu, +%llu) outside the %zu-byte data",
                   (unsigned long long)fb_off, (unsigned long long)fb_size, size);
  if (c_off > size || c_size > size - c_off)
    return et_fail(c, XNND_OUT_OF_RANGE, "XH00 header: constant data [%llu, +%llu) outside the %zu-byte data",
                   (unsigned long long)c_off, (unsigned long long)c_size, size);
  if (c_size > 0 && c_off < fb_off + fb_size)
    return et_fail(c, XNND_OVERLAP, "XH00 header: constant data at %llu overlaps the flatbuffer [%llu, +%llu)",
                   (unsigned long long)c_off, (unsigned long long)fb_off, (unsigned long long)fb_size);
  r->fb = data + fb_off;
  r->fb_size = (size_t)fb_size;
  r->consts = data + c_off;
  r->consts_size = c_size;
  return XNND_OK;
}

/* Bytes of constant_data[idx]: inside the delegate's constant region or a named_data entry. */
static xnnd_status constant_bytes(et_ctx* c, const et_regions* r, fb_vec table, uint32_t idx, const char* what,
                                  uint32_t value, xnnd_et_named_data_fn named, void* named_ctx, const uint8_t** out,
                                  uint64_t* size_out) {
  if (idx >= table.len)
    return et_fail(c, XNND_OUT_OF_RANGE, "xvalues[%u]: %s %u out of range (%u constant_data entries)", value, what,
                   idx, table.len);
  fb_table e = fb_vec_table(table, idx);
  uint64_t off = fb_u64(e, XNND_ET_XNNPACK_ConstantDataOffset_offset, 0);
  uint64_t size = fb_u64(e, XNND_ET_XNNPACK_ConstantDataOffset_size, 0);
  uint32_t key_len = 0;
  const char* key = fb_string(e, XNND_ET_XNNPACK_ConstantDataOffset_named_key, &key_len);
  if (key_len > 0) {
    if (off != ET_NAMED_OFFSET)
      return et_fail(c, XNND_MALFORMED, "constant_data[%u]: both offset %llu and named_key \"%.64s\"", idx,
                     (unsigned long long)off, key);
    uint64_t have = 0;
    const uint8_t* p = named != NULL ? named(named_ctx, key, key_len, &have) : NULL;
    if (p == NULL)
      return et_fail(c, XNND_NOT_FOUND, "constant_data[%u] (xvalues[%u]): named_data key \"%.64s\" not in the program",
                     idx, value, key);
    if (size > have)
      return et_fail(c, XNND_OUT_OF_RANGE, "constant_data[%u]: size %llu but named_data \"%.64s\" has %llu bytes", idx,
                     (unsigned long long)size, key, (unsigned long long)have);
    *out = p;
    *size_out = size;
    return XNND_OK;
  }
  if (off == ET_NAMED_OFFSET)
    return et_fail(c, XNND_MALFORMED, "constant_data[%u]: offset says named data but named_key is empty", idx);
  if (off > r->consts_size || size > r->consts_size - off)
    return et_fail(c, XNND_OUT_OF_RANGE, "constant_data[%u] (xvalues[%u]): [%llu, +%llu) outside the %llu-byte constant data",
                   idx, value, (unsigned long long)off, (unsigned long long)size, (unsigned long long)r->consts_size);
  *out = r->consts + off;
  *size_out = size;
  return XNND_OK;
}

static xnnd_status read_value(et_ctx* c, uint32_t i, et_xvalue* out_by_id[], value_extra* extra) {
  fb_table xv = fb_vec_table(c->xvalues, i);
  uint8_t type = fb_u8(xv, XNND_ET_XNNPACK_XValue_value_type, 0);
  fb_table u = fb_table_field(xv, XNND_ET_XNNPACK_XValue_value);
  if (u == NULL || (type != XNND_ET_XNNPACK_ValueUnion_TensorValue && type != XNND_ET_XNNPACK_ValueUnion_QuantizedTensorValue))
    return et_fail(c, XNND_MALFORMED, "xvalues[%u]: no tensor value (union type %u)", i, type);
  fb_table t = type == XNND_ET_XNNPACK_ValueUnion_TensorValue
                   ? u : fb_table_field(u, XNND_ET_XNNPACK_QuantizedTensorValue_tensor_value);
  if (t == NULL) return et_fail(c, XNND_MALFORMED, "xvalues[%u]: quantized value without tensor_value", i);
  uint32_t id = fb_u32(t, XNND_ET_XNNPACK_TensorValue_id_out, 0);
  if (id >= c->num_values)
    return et_fail(c, XNND_OUT_OF_RANGE, "xvalues[%u]: id_out %u out of range (%u values)", i, id, c->num_values);
  if (out_by_id[id] != NULL) return et_fail(c, XNND_MALFORMED, "xvalues[%u]: id_out %u given twice", i, id);
  et_xvalue* v = &c->values[id];
  out_by_id[id] = v;
  fb_vec* scale_src = &extra[id].scale_src;
  uint32_t* scale_idx = &extra[id].scale_idx;
  int16_t dt = fb_i16(t, XNND_ET_XNNPACK_TensorValue_datatype, 0);
  if (dt <= 0 || (size_t)dt >= sizeof(et_datatypes) / sizeof(et_datatypes[0]))
    return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): datatype %d is not an ExecuTorch XNNPACK datatype", i, id, dt);
  if (et_datatypes[dt].ours == 0 || fb_i16(t, XNND_ET_XNNPACK_TensorValue_dq_datatype, 0) != 0)
    return et_fail(c, XNND_UNSUPPORTED, "xvalues[%u] (id %u): datatype %d (%s) not translated by xnnd", i, id, dt,
                   et_datatypes[dt].ours == 0 ? et_datatypes[dt].name : "dynamically quantized");
  v->datatype = et_datatypes[dt].ours;
  fb_vec dims = fb_vector(t, XNND_ET_XNNPACK_TensorValue_dims);
  uint32_t num_dims = fb_u32(t, XNND_ET_XNNPACK_TensorValue_num_dims, 0);
  if (num_dims != dims.len)
    return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): num_dims %u but %u dims", i, id, num_dims, dims.len);
  if (dims.len > ET_XNN_MAX_DIMS)
    return et_fail(c, XNND_LIMIT_EXCEEDED, "xvalues[%u] (id %u): rank %u exceeds XNNPACK's %u", i, id, dims.len,
                   ET_XNN_MAX_DIMS);
  v->rank = dims.len;
  for (uint32_t d = 0; d < dims.len; d++) v->dims[d] = fb_vec_u32(dims, d);
  v->et_flags = fb_u32(t, XNND_ET_XNNPACK_TensorValue_flags, 0);
  if ((v->et_flags & ~3u) != 0 || v->et_flags == 3)
    return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): flags 0x%x (1 external input, 2 external output)", i, id,
                   v->et_flags);
  v->external_id = fb_u32(t, XNND_ET_XNNPACK_TensorValue_external_id, 0);
  v->constant_idx = fb_u32(t, XNND_ET_XNNPACK_TensorValue_constant_buffer_idx, 0);
  v->scale = 1.0f;
  if (type == XNND_ET_XNNPACK_ValueUnion_QuantizedTensorValue) {
    uint8_t qt = fb_u8(u, XNND_ET_XNNPACK_QuantizedTensorValue_quant_params_type, 0);
    fb_table q = fb_table_field(u, XNND_ET_XNNPACK_QuantizedTensorValue_quant_params);
    bool per_tensor = v->datatype == XNND_XNNPACK_DataType_QINT8 || v->datatype == XNND_XNNPACK_DataType_QUINT8 ||
                      v->datatype == XNND_XNNPACK_DataType_QINT32;
    bool per_channel = v->datatype == XNND_XNNPACK_DataType_QCINT8 || v->datatype == XNND_XNNPACK_DataType_QCINT32;
    if (q == NULL) return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): quantized value without parameters", i, id);
    if (qt == XNND_ET_XNNPACK_QuantParams_PerTensorQuant && per_tensor) {
      v->scale = fb_f32(q, XNND_ET_XNNPACK_PerTensorQuant_scale, 0.0f);
      v->zero_point = fb_i32(q, XNND_ET_XNNPACK_PerTensorQuant_zero_point, 0);
    } else if (qt == XNND_ET_XNNPACK_QuantParams_PerChannelQuant && per_channel) {
      int32_t axis = fb_i32(q, XNND_ET_XNNPACK_PerChannelQuant_channel_dim, 0);
      if (axis < 0 || (uint32_t)axis >= v->rank)
        return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): channel_dim %d out of range for rank %u", i, id, axis,
                       v->rank);
      v->channel_dim = (uint32_t)axis;
      *scale_idx = fb_u32(q, XNND_ET_XNNPACK_PerChannelQuant_scale_buffer_idx, 0);
      v->num_scales = *scale_idx != 0 ? fb_u32(q, XNND_ET_XNNPACK_PerChannelQuant_num_scales, 0) : 0;
      *scale_src = fb_vector(q, XNND_ET_XNNPACK_PerChannelQuant_scale);
      if (*scale_idx == 0) v->num_scales = scale_src->len;
    } else if (qt == XNND_ET_XNNPACK_QuantParams_PerTokenDynamicQuant) {
      return et_fail(c, XNND_UNSUPPORTED, "xvalues[%u] (id %u): dynamic quantization not translated by xnnd", i, id);
    } else if (qt == XNND_ET_XNNPACK_QuantParams_PerChannelGroupQuant) {
      return et_fail(c, XNND_UNSUPPORTED, "xvalues[%u] (id %u): per-channel group quantization not translated by xnnd",
                     i, id);
    } else {
      return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): quantization parameters (type %u) do not fit datatype %s",
                     i, id, qt, et_datatypes[dt].name);
    }
  } else if (v->datatype != XNND_XNNPACK_DataType_FP32 && v->datatype != XNND_XNNPACK_DataType_FP16) {
    return et_fail(c, XNND_MALFORMED, "xvalues[%u] (id %u): datatype %s without quantization parameters", i, id,
                   et_datatypes[dt].name);
  }
  return XNND_OK;
}

/* Value-id fields of node i: reads counted, each id in range. */
static xnnd_status read_node_ids(et_ctx* c, uint32_t i, const et_xnode_kind** kind_out, fb_table* node_out) {
  fb_table xn = fb_vec_table(c->xnodes, i);
  uint8_t type = fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0);
  const et_xnode_kind* kind = et_xnode_kind_get(type);
  if (kind == NULL) return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u]: unknown ExecuTorch node type %u", i, type);
  fb_table n = fb_table_field(xn, XNND_ET_XNNPACK_XNode_node);
  if (n == NULL) return et_fail(c, XNND_MALFORMED, "xnodes[%u] (%s): node table missing", i, kind->name);
  for (uint32_t k = 0; k < ET_XNODE_MAX_INPUTS; k++) {
    uint32_t f = kind->input_fields[k];
    if (f == UINT32_MAX) continue;
    uint32_t id = fb_u32(n, f, 0);
    bool last = k + 1 == ET_XNODE_MAX_INPUTS || kind->input_fields[k + 1] == UINT32_MAX;
    if (last && kind->optional_last_input && id == ET_XNN_NO_VALUE) continue;
    if (id >= c->num_values)
      return et_fail(c, XNND_OUT_OF_RANGE, "xnodes[%u] (%s): input value %u out of range (%u values)", i, kind->name,
                     id, c->num_values);
    c->values[id].readers++;
    c->values[id].reader_node = i;
  }
  uint32_t out = fb_u32(n, kind->output_field, 0);
  if (out >= c->num_values)
    return et_fail(c, XNND_OUT_OF_RANGE, "xnodes[%u] (%s): output value %u out of range (%u values)", i, kind->name,
                   out, c->num_values);
  c->values[out].writers++;
  c->values[out].writer_node = i;
  *kind_out = kind;
  *node_out = n;
  return XNND_OK;
}

static bool perm_is(fb_vec perm, const uint32_t* want) {
  if (perm.len != 4) return false;
  for (uint32_t k = 0; k < 4; k++)
    if (fb_vec_u32(perm, k) != want[k]) return false;
  return true;
}

/* Node `node` when it is a Convert, else NULL. */
static fb_table convert_node(const et_ctx* c, uint32_t node) {
  if (node >= c->xnodes.len) return NULL;
  fb_table xn = fb_vec_table(c->xnodes, node);
  if (fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0) != XNND_ET_XNNPACK_NodeUnion_Convert) return NULL;
  return fb_table_field(xn, XNND_ET_XNNPACK_XNode_node);
}

static void set_nhwc_external(et_xvalue* ext, const uint32_t* nhwc_dims) {
  memcpy(ext->dims, nhwc_dims, sizeof(uint32_t) * 4);
  ext->flags |= XNND_XVALUE_NCHW_BOUNDARY;
}

/* ExecuTorch keeps program tensors NCHW and puts a [0,2,3,1] transpose after each 4-D input
 * (and a [0,3,1,2] one before each 4-D output) of an NHWC graph, with a Convert between the
 * two when the boundary is f32 and the graph int8. This XNNPACK has no transpose; our backend
 * converts at the boundary instead (flag 4), so such a transpose becomes an alias. */
static xnnd_status fold_boundary_transpose(et_ctx* c, uint32_t i, fb_table n, bool* folded) {
  static const uint32_t to_nhwc[4] = {0, 2, 3, 1}, to_nchw[4] = {0, 3, 1, 2};
  fb_vec perm = fb_vector(n, XNND_ET_XNNPACK_StaticTranspose_perm);
  uint32_t in = fb_u32(n, XNND_ET_XNNPACK_StaticTranspose_input_id, 0);
  uint32_t out = fb_u32(n, XNND_ET_XNNPACK_StaticTranspose_output_id, 0);
  et_xvalue* x = &c->values[in];
  et_xvalue* y = &c->values[out];
  *folded = false;
  if (x->rank != 4 || y->rank != 4 || x->datatype != y->datatype) return XNND_OK;
  bool nhwc = perm_is(perm, to_nhwc), nchw = perm_is(perm, to_nchw);
  if (!nhwc && !nchw) return XNND_OK;
  const uint32_t* p = nhwc ? to_nhwc : to_nchw;
  for (uint32_t d = 0; d < 4; d++)
    if (y->dims[d] != x->dims[p[d]])
      return et_fail(c, XNND_MALFORMED, "xnodes[%u] (StaticTranspose): output dims do not match the permuted input", i);
  if (nhwc) {
    /* external input E (NCHW) [-> Convert -> X] -> transpose -> Y (NHWC) */
    if (y->et_flags != 0 || x->readers != 1 || y->alias != ET_XNN_NO_VALUE) return XNND_OK;
    if (x->et_flags == 1 && x->alias == ET_XNN_NO_VALUE && !(x->flags & XNND_XVALUE_NCHW_BOUNDARY)) {
      set_nhwc_external(x, y->dims);  /* E takes Y's place */
      y->alias = in;
      y->dropped = true;
      *folded = true;
      return XNND_OK;
    }
    fb_table cn = x->writers == 1 ? convert_node(c, x->writer_node) : NULL;
    if (cn == NULL || x->et_flags != 0) return XNND_OK;
    uint32_t e_id = fb_u32(cn, XNND_ET_XNNPACK_Node1x1_input_id, 0);
    et_xvalue* e = &c->values[e_id];
    if (e->et_flags != 1 || e->rank != 4 || e->readers != 1 || (e->flags & XNND_XVALUE_NCHW_BOUNDARY)) return XNND_OK;
    if (memcmp(e->dims, x->dims, sizeof(uint32_t) * 4) != 0)
      return et_fail(c, XNND_MALFORMED, "xnodes[%u] (Convert): input and output dims differ", x->writer_node);
    set_nhwc_external(e, y->dims);  /* E (NHWC now) -> Convert -> Y */
    x->alias = out;
    x->dropped = true;
    *folded = true;
    return XNND_OK;
  }
  /* X (NHWC) -> transpose -> Y [-> Convert -> O] where Y or O is an external output (NCHW) */
  if (x->et_flags != 0 || x->alias != ET_XNN_NO_VALUE || x->constant_idx != 0) return XNND_OK;
  if (y->et_flags == 2 && !(y->flags & XNND_XVALUE_NCHW_BOUNDARY)) {
    set_nhwc_external(y, x->dims);  /* X's writer writes O directly */
    x->alias = out;
    x->dropped = true;
    *folded = true;
    return XNND_OK;
  }
  if (y->et_flags != 0 || y->readers != 1) return XNND_OK;
  {
    fb_table cn = convert_node(c, y->reader_node);  /* Y's only reader */
    if (cn == NULL) return XNND_OK;
    uint32_t o_id = fb_u32(cn, XNND_ET_XNNPACK_Node1x1_output_id, 0);
    et_xvalue* o = &c->values[o_id];
    if (o->et_flags != 2 || o->rank != 4 || (o->flags & XNND_XVALUE_NCHW_BOUNDARY)) return XNND_OK;
    if (memcmp(o->dims, y->dims, sizeof(uint32_t) * 4) != 0)
      return et_fail(c, XNND_MALFORMED, "xnodes[%u] (Convert): input and output dims differ", y->reader_node);
    set_nhwc_external(o, x->dims);  /* X -> Convert -> O (NHWC now) */
    y->alias = in;
    y->dropped = true;
    *folded = true;
    return XNND_OK;
  }
  return XNND_OK;
}

/* External inputs take positions 0..ni-1 of the delegate call's arguments by external_id,
 * outputs ni..ni+no-1 (ExecuTorch's executor binds argument external_id to the value). */
static xnnd_status read_externals(et_ctx* c, uint32_t* ni_out, uint32_t* no_out) {
  fb_vec lists[2] = {fb_vector(c->graph, XNND_ET_XNNPACK_XNNGraph_input_ids),
                     fb_vector(c->graph, XNND_ET_XNNPACK_XNNGraph_output_ids)};
  uint32_t flagged[2] = {0, 0};
  for (uint32_t id = 0; id < c->num_values; id++)
    if (c->values[id].et_flags) flagged[c->values[id].et_flags - 1]++;
  uint32_t ni = lists[0].len, no = lists[1].len;
  uint32_t num_externs = fb_u32(c->graph, XNND_ET_XNNPACK_XNNGraph_num_externs, 0);
  if (num_externs != ni + no || flagged[0] != ni || flagged[1] != no)
    return et_fail(c, XNND_MALFORMED, "XNNGraph: num_externs %u, %u input_ids, %u output_ids, %u/%u values flagged",
                   num_externs, ni, no, flagged[0], flagged[1]);
  for (uint32_t side = 0; side < 2; side++) {
    const char* what = side == 0 ? "input" : "output";
    for (uint32_t k = 0; k < lists[side].len; k++) {
      uint32_t id = fb_vec_u32(lists[side], k);
      if (id >= c->num_values)
        return et_fail(c, XNND_OUT_OF_RANGE, "XNNGraph.%s_ids[%u] = %u out of range (%u values)", what, k, id,
                       c->num_values);
      et_xvalue* v = &c->values[id];
      if (v->et_flags != side + 1)
        return et_fail(c, XNND_MALFORMED, "XNNGraph.%s_ids[%u] = value %u is not flagged external %s", what, k, id,
                       what);
      uint32_t lo = side == 0 ? 0 : ni, count = side == 0 ? ni : no;
      if (v->external_id < lo || v->external_id - lo >= count)
        return et_fail(c, XNND_MALFORMED, "value %u: external_id %u outside the %ss' range [%u, %u)", id,
                       v->external_id, what, lo, lo + count);
      if (v->constant_idx != 0) return et_fail(c, XNND_MALFORMED, "value %u: external %s is also a constant", id, what);
      v->external_index = v->external_id - lo;
      v->flags = side == 0 ? XNND_XVALUE_EXTERNAL_INPUT : XNND_XVALUE_EXTERNAL_OUTPUT;
    }
    for (uint32_t k = 0; k < lists[side].len; k++)
      for (uint32_t m = k + 1; m < lists[side].len; m++)
        if (c->values[fb_vec_u32(lists[side], k)].external_index == c->values[fb_vec_u32(lists[side], m)].external_index)
          return et_fail(c, XNND_MALFORMED, "XNNGraph.%s_ids[%u] and [%u] share external_id", what, k, m);
  }
  *ni_out = ni;
  *no_out = no;
  return XNND_OK;
}

/* Our constant region: 64-aligned entries, XNND_BLOB_CONST_TAIL zero bytes after the last. */
typedef struct const_region {
  uint8_t* data;
  size_t size, cap;
} const_region;

static xnnd_status region_add(et_ctx* c, const_region* r, const uint8_t* src, size_t bytes, uint64_t* off_out) {
  size_t off = (r->size + XNND_SEGMENT_ALIGN - 1) & ~(size_t)(XNND_SEGMENT_ALIGN - 1);
  if (bytes > SIZE_MAX / 2 || off > SIZE_MAX / 2 - bytes)
    return et_fail(c, XNND_LIMIT_EXCEEDED, "constant region too large");
  size_t need = off + bytes;
  if (need > r->cap) {
    size_t cap = r->cap ? r->cap : 4096;
    while (cap < need) cap *= 2;
    uint8_t* p = xnnd_alloc(c->allocator, cap, XNND_SEGMENT_ALIGN);
    if (p == NULL) return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory growing the constant region to %zu bytes", cap);
    if (r->size) memcpy(p, r->data, r->size);
    xnnd_free(c->allocator, r->data);
    r->data = p;
    r->cap = cap;
  }
  memset(r->data + r->size, 0, off - r->size);
  memcpy(r->data + off, src, bytes);
  r->size = need;
  *off_out = off;
  return XNND_OK;
}

static xnnd_status emit_values(et_ctx* c, const et_regions* r, value_extra* extra, xnnd_et_named_data_fn named,
                               void* named_ctx, const_region* region) {
  fb_vec table = fb_vector(c->graph, XNND_ET_XNNPACK_XNNGraph_constant_data);
  uint32_t next = 0;
  for (uint32_t id = 0; id < c->num_values; id++) {
    et_xvalue* v = &c->values[id];
    if (v->dropped || (v->flags == 0 && v->readers == 0 && v->writers == 0)) continue;
    v->id = next++;
  }
  float scales_buf[256];
  for (uint32_t id = 0; id < c->num_values; id++) {
    et_xvalue* v = &c->values[id];
    value_extra* x = &extra[id];
    if (v->id == ET_XNN_NO_VALUE) continue;
    size_t elem = datatype_size(v->datatype);
    uint64_t bytes = elem;
    for (uint32_t d = 0; d < v->rank; d++) {
      if (v->dims[d] == 0) return et_fail(c, XNND_MALFORMED, "value %u: dims[%u] is zero", id, d);
      if (bytes > ((uint64_t)1 << 40) / v->dims[d])
        return et_fail(c, XNND_LIMIT_EXCEEDED, "value %u: size exceeds 2^40 bytes", id);
      bytes *= v->dims[d];
    }
    if (v->constant_idx != 0) {
      if (v->writers != 0) return et_fail(c, XNND_MALFORMED, "value %u: a constant written by a node", id);
      const uint8_t* p = NULL;
      uint64_t have = 0;
      xnnd_status st = constant_bytes(c, r, table, v->constant_idx, "constant_buffer_idx", id, named, named_ctx, &p, &have);
      if (st != XNND_OK) return st;
      if (have < bytes)
        return et_fail(c, XNND_OUT_OF_RANGE, "value %u: constant_data[%u] holds %llu bytes, the value needs %llu", id,
                       v->constant_idx, (unsigned long long)have, (unsigned long long)bytes);
      st = region_add(c, region, p, (size_t)bytes, &x->const_off);
      if (st != XNND_OK) return st;
      x->const_size = bytes;
    }
    fb_ref scales = 0;
    if (v->datatype == XNND_XNNPACK_DataType_QCINT8 || v->datatype == XNND_XNNPACK_DataType_QCINT32) {
      if (v->num_scales != v->dims[v->channel_dim])
        return et_fail(c, XNND_MALFORMED, "value %u: %u scales for %u channels", id, v->num_scales,
                       v->dims[v->channel_dim]);
      const uint8_t* src = x->scale_src.data;
      if (x->scale_idx != 0) {
        uint64_t have = 0;
        xnnd_status st = constant_bytes(c, r, table, x->scale_idx, "scale_buffer_idx", id, named, named_ctx, &src, &have);
        if (st != XNND_OK) return st;
        if (have / 4 < v->num_scales)
          return et_fail(c, XNND_OUT_OF_RANGE, "value %u: scale buffer constant_data[%u] holds %llu bytes for %u f32 scales",
                         id, x->scale_idx, (unsigned long long)have, v->num_scales);
      }
      /* Through a float buffer: named data need not be 4-byte aligned. */
      float* buf = scales_buf;
      if (v->num_scales > sizeof(scales_buf) / sizeof(scales_buf[0])) {
        buf = xnnd_alloc(c->allocator, sizeof(float) * v->num_scales, 16);
        if (buf == NULL) return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory copying channel scales");
      }
      memcpy(buf, src, sizeof(float) * v->num_scales);
      scales = fb_create_vector(c->fb, buf, v->num_scales, sizeof(float));
      if (buf != scales_buf) xnnd_free(c->allocator, buf);
    }
    fb_ref dims = fb_create_vector(c->fb, v->dims, v->rank, sizeof(uint32_t));
    fb_builder* fb = c->fb;
    fb_table_start(fb);
    fb_add_u8(fb, XNND_XNNPACK_Value_datatype, v->datatype, 0);
    fb_add_ref(fb, XNND_XNNPACK_Value_dims, dims);
    fb_add_f32(fb, XNND_XNNPACK_Value_scale, v->scale, 1.0f);
    fb_add_i32(fb, XNND_XNNPACK_Value_zero_point, v->zero_point, 0);
    if (scales != 0) {
      fb_add_ref(fb, XNND_XNNPACK_Value_channel_scales, scales);
      fb_add_u32(fb, XNND_XNNPACK_Value_channel_dim, v->channel_dim, 0);
    }
    fb_add_u32(fb, XNND_XNNPACK_Value_flags, v->flags, 0);
    fb_add_u32(fb, XNND_XNNPACK_Value_external_index, v->flags ? v->external_index : UINT32_MAX, UINT32_MAX);
    fb_add_u64(fb, XNND_XNNPACK_Value_constant_offset, x->const_off, 0);
    fb_add_u64(fb, XNND_XNNPACK_Value_constant_size, x->const_size, 0);
    c->value_refs[v->id] = fb_table_end(fb);
  }
  c->num_out_values = next;
  return XNND_OK;
}

static xnnd_status translate(et_ctx* c, const uint8_t* data, size_t size, xnnd_et_named_data_fn named,
                             void* named_ctx, uint8_t** fb_copy, value_extra** extra_out, const_region* region,
                             fb_ref** refs_out, fb_ref** nodes_out, xnnd_et_xnnpack_result* result) {
  et_regions r = {NULL, 0, NULL, 0};
  xnnd_status st = read_header(c, data, size, &r);
  if (st != XNND_OK) return st;
  if (((uintptr_t)r.fb & 7u) != 0) {  /* the verifier and readers want an aligned flatbuffer */
    *fb_copy = xnnd_alloc(c->allocator, r.fb_size, 16);
    if (*fb_copy == NULL) return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory copying the flatbuffer");
    memcpy(*fb_copy, r.fb, r.fb_size);
    r.fb = *fb_copy;
  }
  char msg[256];
  msg[0] = '\0';
  fb_verify_limits limits = {.max_depth = 8, .max_vector_len = ET_MAX_VALUES, .max_tables = 1u << 22};
  st = fb_verify(r.fb, r.fb_size, XNND_ET_XNNPACK_IDENTIFIER, XNND_ET_XNNPACK_ROOT, &limits, msg, sizeof(msg));
  if (st != XNND_OK) return et_fail(c, st, "ExecuTorch XNNPACK flatbuffer: %s", msg);
  c->graph = fb_root(r.fb);
  c->xnodes = fb_vector(c->graph, XNND_ET_XNNPACK_XNNGraph_xnodes);
  c->xvalues = fb_vector(c->graph, XNND_ET_XNNPACK_XNNGraph_xvalues);
  c->num_values = c->xvalues.len;
  if (c->num_values > ET_MAX_VALUES || c->xnodes.len > ET_MAX_NODES)
    return et_fail(c, XNND_LIMIT_EXCEEDED, "%u values, %u nodes exceed the limits %u, %u", c->num_values,
                   c->xnodes.len, ET_MAX_VALUES, ET_MAX_NODES);
  size_t nv = c->num_values ? c->num_values : 1, nn = c->xnodes.len ? c->xnodes.len : 1;
  c->values = xnnd_alloc_zeroed(c->allocator, sizeof(et_xvalue) * nv, 16);
  value_extra* extra = *extra_out = xnnd_alloc_zeroed(c->allocator, sizeof(value_extra) * nv, 16);
  et_xvalue** by_id = xnnd_alloc_zeroed(c->allocator, sizeof(et_xvalue*) * nv, 16);
  c->node_folded = xnnd_alloc_zeroed(c->allocator, sizeof(bool) * nn, 16);
  c->fc_as_conv = xnnd_alloc_zeroed(c->allocator, sizeof(bool) * nn, 16);
  /* room for the fully connected layers' extra values (2 each) and nodes (3 each) */
  c->cap_out_values = (uint32_t)nv + 2 * (uint32_t)nn;
  c->cap_out_nodes = 3 * (uint32_t)nn;
  *refs_out = c->value_refs = xnnd_alloc_zeroed(c->allocator, sizeof(fb_ref) * c->cap_out_values, 16);
  *nodes_out = c->node_refs = xnnd_alloc_zeroed(c->allocator, sizeof(fb_ref) * c->cap_out_nodes, 16);
  if (c->values == NULL || extra == NULL || by_id == NULL || c->node_folded == NULL || c->fc_as_conv == NULL ||
      *refs_out == NULL || *nodes_out == NULL) {
    xnnd_free(c->allocator, by_id);
    return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory for %u values", c->num_values);
  }
  for (uint32_t id = 0; id < c->num_values; id++) {
    c->values[id].alias = ET_XNN_NO_VALUE;
    c->values[id].id = ET_XNN_NO_VALUE;
    c->values[id].reader_node = c->values[id].writer_node = UINT32_MAX;
  }
  for (uint32_t i = 0; i < c->num_values && st == XNND_OK; i++) st = read_value(c, i, by_id, extra);
  xnnd_free(c->allocator, by_id);
  if (st != XNND_OK) return st;
  uint32_t ni = 0, no = 0;
  st = read_externals(c, &ni, &no);
  if (st != XNND_OK) return st;

  for (uint32_t i = 0; i < c->xnodes.len; i++) {
    const et_xnode_kind* kind;
    fb_table n;
    st = read_node_ids(c, i, &kind, &n);
    if (st != XNND_OK) return st;
  }
  for (uint32_t i = 0; i < c->xnodes.len; i++) {
    fb_table xn = fb_vec_table(c->xnodes, i);
    if (fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0) != XNND_ET_XNNPACK_NodeUnion_StaticTranspose) continue;
    st = fold_boundary_transpose(c, i, fb_table_field(xn, XNND_ET_XNNPACK_XNode_node), &c->node_folded[i]);
    if (st != XNND_OK) return st;
  }
  /* Refusals before any work on constants: the first node this build cannot run is named. */
  for (uint32_t i = 0; i < c->xnodes.len; i++) {
    if (c->node_folded[i]) continue;
    fb_table xn = fb_vec_table(c->xnodes, i);
    const et_xnode_kind* kind = et_xnode_kind_get(fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0));
    if (kind->translate == NULL)
      return et_fail(c, XNND_UNSUPPORTED, "xnodes[%u] (%s): %s", i, kind->name, kind->refusal);
  }

  st = plan_fc_as_conv(c);
  if (st != XNND_OK) return st;
  st = emit_values(c, &r, extra, named, named_ctx, region);
  if (st != XNND_OK) return st;
  for (uint32_t i = 0; i < c->xnodes.len; i++) {
    if (c->node_folded[i]) continue;
    fb_table xn = fb_vec_table(c->xnodes, i);
    const et_xnode_kind* kind = et_xnode_kind_get(fb_u8(xn, XNND_ET_XNNPACK_XNode_node_type, 0));
    fb_table range = fb_table_field(xn, XNND_ET_XNNPACK_XNode_output_min_max);
    /* The schema's defaults are 0 (a writer omits a 0 bound); no table means unbounded. */
    float lo = range != NULL ? fb_f32(range, XNND_ET_XNNPACK_OutputMinMax_output_min, 0.0f) : -INFINITY;
    float hi = range != NULL ? fb_f32(range, XNND_ET_XNNPACK_OutputMinMax_output_max, 0.0f) : INFINITY;
    uint8_t type = 0;
    fb_ref table = 0;
    st = kind->translate(c, i, fb_table_field(xn, XNND_ET_XNNPACK_XNode_node), lo, hi, range != NULL, &type, &table);
    if (st != XNND_OK) return st;
    if (!et_add_node(c, type, table)) return XNND_INTERNAL;
  }
  /* Our input_ids/output_ids in argument order. */
  uint32_t* io = xnnd_alloc_zeroed(c->allocator, sizeof(uint32_t) * (ni + no + 1), 16);
  if (io == NULL) return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory");
  for (uint32_t id = 0; id < c->num_values; id++) {
    const et_xvalue* v = &c->values[id];
    if (v->flags & XNND_XVALUE_EXTERNAL_INPUT) io[v->external_index] = v->id;
    if (v->flags & XNND_XVALUE_EXTERNAL_OUTPUT) io[ni + v->external_index] = v->id;
  }
  fb_ref values = fb_create_ref_vector(c->fb, c->value_refs, c->num_out_values);
  fb_ref nodes = fb_create_ref_vector(c->fb, c->node_refs, c->num_out_nodes);
  fb_ref inputs = fb_create_vector(c->fb, io, ni, sizeof(uint32_t));
  fb_ref outputs = fb_create_vector(c->fb, io + ni, no, sizeof(uint32_t));
  xnnd_free(c->allocator, io);
  fb_table_start(c->fb);
  fb_add_u32(c->fb, XNND_XNNPACK_Graph_version, XNND_BLOB_VERSION, 0);
  fb_add_ref(c->fb, XNND_XNNPACK_Graph_values, values);
  fb_add_ref(c->fb, XNND_XNNPACK_Graph_nodes, nodes);
  fb_add_ref(c->fb, XNND_XNNPACK_Graph_input_ids, inputs);
  fb_add_ref(c->fb, XNND_XNNPACK_Graph_output_ids, outputs);
  fb_ref root = fb_table_end(c->fb);
  const uint8_t* fbdata = NULL;
  size_t fbsize = 0;
  st = fb_finish(c->fb, root, XNND_XNNPACK_IDENTIFIER, &fbdata, &fbsize);
  if (st != XNND_OK) return et_fail(c, st, "building the xnnd blob flatbuffer failed (%s)", xnnd_status_str(st));

  size_t const_off, const_size;
  size_t total = xnnd_blob_layout(fbsize, region->size, &const_off, &const_size);
  uint8_t* blob = xnnd_alloc_zeroed(c->allocator, total, XNND_SEGMENT_ALIGN);
  if (blob == NULL) return et_fail(c, XNND_OUT_OF_MEMORY, "out of memory for a %zu-byte blob", total);
  xnnd_blob_assemble(blob, fbdata, fbsize, region->data, region->size, const_off, const_size);
  result->blob = blob;
  result->blob_size = total;
  result->num_inputs = ni;
  result->num_outputs = no;
  return XNND_OK;
}

xnnd_status xnnd_et_xnnpack_translate(const uint8_t* data, size_t size, xnnd_et_named_data_fn named_data,
                                      void* named_data_ctx, const xnnd_allocator* allocator,
                                      xnnd_et_xnnpack_result* result, char* err, size_t err_size) {
  if (err != NULL && err_size > 0) err[0] = '\0';
  if (result == NULL) return XNND_INVALID_ARGUMENT;
  memset(result, 0, sizeof(*result));
  et_ctx c;
  memset(&c, 0, sizeof(c));
  c.err = err;
  c.err_size = err_size;
  c.allocator = allocator != NULL ? allocator : xnnd_default_allocator();
  if (data == NULL) return et_fail(&c, XNND_INVALID_ARGUMENT, "no ExecuTorch XNNPACK data");
  if (fb_builder_create(c.allocator, &c.fb) != XNND_OK)
    return et_fail(&c, XNND_OUT_OF_MEMORY, "out of memory creating a flatbuffer builder");
  uint8_t* fb_copy = NULL;
  value_extra* extra = NULL;
  const_region region = {NULL, 0, 0};
  fb_ref* refs = NULL;
  fb_ref* nodes = NULL;
  xnnd_status st = translate(&c, data, size, named_data, named_data_ctx, &fb_copy, &extra, &region, &refs, &nodes,
                             result);
  fb_builder_destroy(c.fb);
  xnnd_free(c.allocator, fb_copy);
  xnnd_free(c.allocator, extra);
  xnnd_free(c.allocator, region.data);
  xnnd_free(c.allocator, refs);
  xnnd_free(c.allocator, nodes);
  xnnd_free(c.allocator, c.values);
  xnnd_free(c.allocator, c.node_folded);
  xnnd_free(c.allocator, c.fc_as_conv);
  if (st != XNND_OK) memset(result, 0, sizeof(*result));
  return st;
}
