/* Complete verification of an untrusted XNNPACK delegate blob before anything is defined:
 * header and region arithmetic, the flatbuffer against its schema, every value, the
 * external inputs/outputs against the delegate call's program tensors, then each node's
 * kind-specific rule. Every failure is a distinct status + message naming the place. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pte_format.h"
#include "xnnpack_internal.h"

static xnnd_status vfail(char* err, size_t err_size, xnnd_status status, const char* fmt, ...) {
  if (err != NULL && err_size > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return status;
}

size_t xnnd_xdatatype_size(uint8_t datatype) {
  switch (datatype) {
    case XNND_XNNPACK_DataType_FP32: return 4;
    case XNND_XNNPACK_DataType_FP16: return 2;
    case XNND_XNNPACK_DataType_QINT8:
    case XNND_XNNPACK_DataType_QUINT8:
    case XNND_XNNPACK_DataType_QCINT8: return 1;
    case XNND_XNNPACK_DataType_QINT32:
    case XNND_XNNPACK_DataType_QCINT32: return 4;
    default: return 0;
  }
}

const char* xnnd_xdatatype_name(uint8_t datatype) {
  static const char* const names[] = {"INVALID", "FP32", "FP16", "QINT8", "QUINT8", "QINT32", "QCINT8", "QCINT32"};
  return datatype < sizeof(names) / sizeof(names[0]) ? names[datatype] : "?";
}

bool xnnd_xforms_read(const xnnd_xblob* b, fb_vec exprs, uint32_t rank, xnnd_dimx* out) {
  if (b->num_syms == 0 || b->num_syms > XNND_MAX_SYMS || rank > XNND_XNN_MAX_DIMS ||
      exprs.len != rank * (1 + b->num_syms))
    return false;
  /* Element-wise reads: the vector is only as aligned as the flatbuffer guarantees. */
  int64_t wire[XNND_XNN_MAX_DIMS * (1 + XNND_MAX_SYMS)];
  for (uint32_t i = 0; i < exprs.len; i++) wire[i] = fb_vec_i64(exprs, i);
  return xnnd_dimx_decode(wire, rank, b->num_syms, out);
}

static uint32_t eval_clamped(const xnnd_dimx* x, const xnnd_xblob* b) {
  int64_t d = xnnd_dimx_eval(x, b->syms, b->num_syms);
  return d < 0 ? 0 : d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

uint32_t xnnd_xreshape_shape(const xnnd_xblob* b, fb_table node, uint64_t dims[XNND_XNN_MAX_DIMS]) {
  fb_vec shape = fb_vector(node, XNND_XNNPACK_StaticReshape_new_shape);
  for (uint32_t d = 0; d < shape.len && d < XNND_XNN_MAX_DIMS; d++) dims[d] = fb_vec_u32(shape, d);
  xnnd_dimx x[XNND_XNN_MAX_DIMS];
  fb_vec exprs = fb_vector(node, XNND_XNNPACK_StaticReshape_new_shape_exprs);
  if (exprs.len > 0 && xnnd_xforms_read(b, exprs, shape.len, x))
    for (uint32_t d = 0; d < shape.len; d++) dims[d] = eval_clamped(&x[d], b);
  return shape.len;
}

void xnnd_xvalue_read(const xnnd_xblob* b, uint32_t id, xnnd_xvalue* v) {
  fb_table t = fb_vec_table(b->values, id);
  memset(v, 0, sizeof(*v));
  v->datatype = fb_u8(t, XNND_XNNPACK_Value_datatype, 0);
  fb_vec dims = fb_vector(t, XNND_XNNPACK_Value_dims);
  v->rank = dims.len;
  for (uint32_t i = 0; i < dims.len && i < XNND_XNN_MAX_DIMS; i++) v->dims[i] = fb_vec_u32(dims, i);
  fb_vec exprs = fb_vector(t, XNND_XNNPACK_Value_dim_exprs);
  xnnd_dimx x[XNND_XNN_MAX_DIMS];
  if (exprs.len > 0 && xnnd_xforms_read(b, exprs, dims.len, x)) {
    v->symbolic = true;
    for (uint32_t i = 0; i < dims.len; i++) v->dims[i] = eval_clamped(&x[i], b);
  }
  v->scale = fb_f32(t, XNND_XNNPACK_Value_scale, 1.0f);
  v->zero_point = fb_i32(t, XNND_XNNPACK_Value_zero_point, 0);
  v->channel_scales = fb_vector(t, XNND_XNNPACK_Value_channel_scales);
  v->channel_dim = fb_u32(t, XNND_XNNPACK_Value_channel_dim, 0);
  v->flags = fb_u32(t, XNND_XNNPACK_Value_flags, 0);
  v->external_index = fb_u32(t, XNND_XNNPACK_Value_external_index, UINT32_MAX);
  v->constant_offset = fb_u64(t, XNND_XNNPACK_Value_constant_offset, 0);
  v->constant_size = fb_u64(t, XNND_XNNPACK_Value_constant_size, 0);
}

uint64_t xnnd_xvalue_numel(const xnnd_xvalue* v) {
  uint64_t n = 1;
  for (uint32_t i = 0; i < v->rank && i < XNND_XNN_MAX_DIMS; i++) n *= v->dims[i];
  return n;
}

/* Program dtype a blob datatype stands for at the boundary. */
static bool dtype_matches(xnnd_dtype program, uint8_t blob) {
  switch (blob) {
    case XNND_XNNPACK_DataType_FP32: return program == XNND_F32;
    case XNND_XNNPACK_DataType_QINT8: return program == XNND_I8;
    case XNND_XNNPACK_DataType_QUINT8: return program == XNND_U8;
    case XNND_XNNPACK_DataType_QINT32: return program == XNND_I32;
    default: return false;
  }
}

static void format_dims_u32(char* buf, size_t size, const uint32_t* dims, uint32_t rank) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "[");
  for (uint32_t i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%u" : "%u", dims[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

static void format_dims_i64(char* buf, size_t size, const int64_t* dims, uint32_t rank) {
  size_t used = 0;
  used += (size_t)snprintf(buf, size, "[");
  for (uint32_t i = 0; i < rank && used < size; i++)
    used += (size_t)snprintf(buf + used, size - used, i ? ",%lld" : "%lld", (long long)dims[i]);
  if (used < size) snprintf(buf + used, size - used, "]");
}

/* "symbols (s0=3, s1=8)" for messages about a shape. */
static void format_syms(char* buf, size_t size, const xnnd_xblob* b) {
  size_t used = (size_t)snprintf(buf, size, "symbols (");
  for (uint32_t s = 0; s < b->num_syms && used < size; s++)
    used += (size_t)snprintf(buf + used, size - used, s ? ", s%u=%lld" : "s%u=%lld", s, (long long)b->syms[s]);
  if (used < size) snprintf(buf + used, size - used, ")");
}

static xnnd_status verify_header(const uint8_t* blob, size_t size, xnnd_xblob* view, char* err,
                                 size_t err_size) {
  if (size < XNND_BLOB_HEADER_SIZE)
    return vfail(err, err_size, XNND_TRUNCATED, "blob is %zu bytes, shorter than its %u-byte header",
                 size, XNND_BLOB_HEADER_SIZE);
  xnnd_blob_header h;
  xnnd_blob_header_read(blob, &h);
  if (memcmp(h.magic, XNND_BLOB_MAGIC, 4) != 0)
    return vfail(err, err_size, XNND_BAD_MAGIC, "blob magic is not \"" XNND_BLOB_MAGIC "\"");
  if (h.version != XNND_BLOB_VERSION)
    return vfail(err, err_size, XNND_UNSUPPORTED_VERSION, "blob version %u, this backend reads %u",
                 h.version, XNND_BLOB_VERSION);
  for (size_t i = 0; i < sizeof(h.reserved); i++)
    if (h.reserved[i] != 0)
      return vfail(err, err_size, XNND_MALFORMED, "blob header reserved byte %zu is not zero", 40 + i);
  if (h.flatbuffer_offset < XNND_BLOB_HEADER_SIZE)
    return vfail(err, err_size, XNND_OUT_OF_RANGE, "flatbuffer offset %llu lies inside the header",
                 (unsigned long long)h.flatbuffer_offset);
  if (h.flatbuffer_offset % 8 != 0)
    return vfail(err, err_size, XNND_MISALIGNED, "flatbuffer offset %llu is not 8-byte aligned",
                 (unsigned long long)h.flatbuffer_offset);
  if (h.flatbuffer_offset > size || h.flatbuffer_size > size - h.flatbuffer_offset)
    return vfail(err, err_size, XNND_TRUNCATED,
                 "flatbuffer [%llu, +%llu) runs past the end of the blob (%zu bytes)",
                 (unsigned long long)h.flatbuffer_offset, (unsigned long long)h.flatbuffer_size, size);
  if (h.constant_offset % XNND_SEGMENT_ALIGN != 0)
    return vfail(err, err_size, XNND_MISALIGNED, "constant region offset %llu is not %u-byte aligned",
                 (unsigned long long)h.constant_offset, XNND_SEGMENT_ALIGN);
  if (h.constant_offset > size || h.constant_size > size - h.constant_offset)
    return vfail(err, err_size, XNND_TRUNCATED,
                 "constant region [%llu, +%llu) runs past the end of the blob (%zu bytes)",
                 (unsigned long long)h.constant_offset, (unsigned long long)h.constant_size, size);
  if (h.constant_size > 0 && h.constant_offset < h.flatbuffer_offset + h.flatbuffer_size)
    return vfail(err, err_size, XNND_OVERLAP, "constant region at %llu overlaps the flatbuffer [%llu, +%llu)",
                 (unsigned long long)h.constant_offset, (unsigned long long)h.flatbuffer_offset,
                 (unsigned long long)h.flatbuffer_size);
  view->fb = blob + h.flatbuffer_offset;
  view->fb_size = (size_t)h.flatbuffer_size;
  view->constants = blob + h.constant_offset;
  view->constants_size = h.constant_size;
  if (((uintptr_t)view->fb & 3u) != 0)
    return vfail(err, err_size, XNND_MISALIGNED, "flatbuffer is not 4-byte aligned in memory");
  return XNND_OK;
}

static xnnd_status verify_value(const xnnd_xblob* b, uint32_t id, char* err, size_t err_size) {
  xnnd_xvalue v;
  xnnd_xvalue_read(b, id, &v);
  if (v.rank > XNND_XNN_MAX_DIMS)
    return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "values[%u]: rank %u exceeds XNNPACK's %u", id, v.rank,
                 XNND_XNN_MAX_DIMS);
  size_t elem = xnnd_xdatatype_size(v.datatype);
  if (elem == 0 || v.datatype == XNND_XNNPACK_DataType_FP16)
    return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: datatype %u (%s) is not supported", id,
                 v.datatype, xnnd_xdatatype_name(v.datatype));
  uint64_t bytes = elem;
  for (uint32_t d = 0; d < v.rank; d++) {
    if (v.dims[d] == 0 && v.symbolic) {
      char at[96];
      format_syms(at, sizeof(at), b);
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: dims[%u] is below 1 at %s", id, d, at);
    }
    if (v.dims[d] == 0)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: dims[%u] is zero", id, d);
    if (bytes > XNND_XNN_MAX_VALUE_BYTES / v.dims[d])
      return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "values[%u]: size exceeds %llu bytes", id,
                   (unsigned long long)XNND_XNN_MAX_VALUE_BYTES);
    bytes *= v.dims[d];
  }
  switch (v.datatype) {
    case XNND_XNNPACK_DataType_QINT8:
    case XNND_XNNPACK_DataType_QUINT8:
    case XNND_XNNPACK_DataType_QINT32: {
      if (!(isfinite(v.scale) && v.scale > 0.0f))
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: scale %g is not finite and positive", id,
                     (double)v.scale);
      int32_t lo = v.datatype == XNND_XNNPACK_DataType_QINT8 ? -128 : 0;
      int32_t hi = v.datatype == XNND_XNNPACK_DataType_QINT8 ? 127 : v.datatype == XNND_XNNPACK_DataType_QUINT8 ? 255 : 0;
      if (v.zero_point < lo || v.zero_point > hi)
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: zero_point %d outside [%d, %d] for %s", id,
                     v.zero_point, lo, hi, xnnd_xdatatype_name(v.datatype));
      break;
    }
    case XNND_XNNPACK_DataType_QCINT8:
    case XNND_XNNPACK_DataType_QCINT32:
      if (v.channel_dim >= v.rank)
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: channel_dim %u out of range for rank %u",
                     id, v.channel_dim, v.rank);
      if (v.channel_scales.len != v.dims[v.channel_dim])
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: %u channel_scales for %u channels", id,
                     v.channel_scales.len, v.dims[v.channel_dim]);
      if (((uintptr_t)v.channel_scales.data & 3u) != 0)
        return vfail(err, err_size, XNND_MISALIGNED, "values[%u]: channel_scales not 4-byte aligned", id);
      for (uint32_t c = 0; c < v.channel_scales.len; c++) {
        float s = fb_vec_f32(v.channel_scales, c);
        if (!(isfinite(s) && s > 0.0f))
          return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: channel_scales[%u] %g is not finite and positive",
                       id, c, (double)s);
      }
      break;
    default:
      break;
  }
  const uint32_t known = XNND_XVALUE_EXTERNAL_INPUT | XNND_XVALUE_EXTERNAL_OUTPUT | XNND_XVALUE_NCHW_BOUNDARY;
  if ((v.flags & ~known) != 0)
    return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: unknown flags 0x%x", id, v.flags & ~known);
  bool ext_in = (v.flags & XNND_XVALUE_EXTERNAL_INPUT) != 0;
  bool ext_out = (v.flags & XNND_XVALUE_EXTERNAL_OUTPUT) != 0;
  if (ext_in && ext_out)
    return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: both external input and external output", id);
  if ((v.flags & XNND_XVALUE_NCHW_BOUNDARY) != 0 && (!(ext_in || ext_out) || v.rank != 4))
    return vfail(err, err_size, XNND_INVALID_PROGRAM,
                 "values[%u]: NCHW boundary flag needs an external value of rank 4 (rank %u)", id, v.rank);
  if (v.constant_size > 0) {
    if (ext_in || ext_out)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: a constant cannot be external", id);
    if (v.constant_offset > b->constants_size || v.constant_size > b->constants_size - v.constant_offset)
      return vfail(err, err_size, XNND_OUT_OF_RANGE,
                   "values[%u]: constant [%llu, +%llu) outside the constant region (%llu bytes)", id,
                   (unsigned long long)v.constant_offset, (unsigned long long)v.constant_size,
                   (unsigned long long)b->constants_size);
    /* XNNPACK may read XNN_EXTRA_BYTES past a static input; keep that inside the region. */
    if (b->constants_size - v.constant_offset - v.constant_size < XNN_EXTRA_BYTES)
      return vfail(err, err_size, XNND_OUT_OF_RANGE,
                   "values[%u]: constant [%llu, +%llu) leaves fewer than %d bytes before the end of the constant region",
                   id, (unsigned long long)v.constant_offset, (unsigned long long)v.constant_size, XNN_EXTRA_BYTES);
    if (v.constant_size != bytes)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: constant_size %llu != numel * %zu = %llu",
                   id, (unsigned long long)v.constant_size, elem, (unsigned long long)bytes);
    if (v.constant_offset % elem != 0 || ((uintptr_t)(b->constants + v.constant_offset) % elem) != 0)
      return vfail(err, err_size, XNND_MISALIGNED, "values[%u]: constant at offset %llu not %zu-byte aligned", id,
                   (unsigned long long)v.constant_offset, elem);
  }
  return XNND_OK;
}

static xnnd_status verify_externals(const xnnd_xblob* b, bool is_input, const xnnd_tensor* tensors,
                                    uint32_t count, char* err, size_t err_size) {
  const char* what = is_input ? "input" : "output";
  fb_vec ids = is_input ? b->input_ids : b->output_ids;
  uint32_t flag = is_input ? XNND_XVALUE_EXTERNAL_INPUT : XNND_XVALUE_EXTERNAL_OUTPUT;
  if (ids.len != count)
    return vfail(err, err_size, XNND_WRONG_INPUT_COUNT, "blob has %u external %ss, the delegate call has %u",
                 ids.len, what, count);
  if (count > 0 && tensors == NULL)
    return vfail(err, err_size, XNND_INVALID_ARGUMENT, "no program %s tensors given", what);
  for (uint32_t i = 0; i < count; i++) {
    uint32_t id = fb_vec_u32(ids, i);
    if (id >= b->values.len)
      return vfail(err, err_size, XNND_OUT_OF_RANGE, "%s_ids[%u] = %u out of range (%u values)", what, i, id,
                   b->values.len);
    xnnd_xvalue v;
    xnnd_xvalue_read(b, id, &v);
    if ((v.flags & flag) == 0 || v.external_index != i)
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "%s_ids[%u] = value %u is not flagged external %s with external_index %u", what, i, id, what, i);
    const xnnd_tensor* t = &tensors[i];
    if (!dtype_matches(t->dtype, v.datatype))
      return vfail(err, err_size, XNND_DTYPE_MISMATCH, "%s %u: program dtype %s vs blob value %u datatype %s", what,
                   i, xnnd_dtype_name(t->dtype), id, xnnd_xdatatype_name(v.datatype));
    bool nchw = (v.flags & XNND_XVALUE_NCHW_BOUNDARY) != 0;
    bool same = t->rank == v.rank && t->rank <= XNND_MAX_RANK;
    for (uint32_t d = 0; same && d < v.rank; d++) {
      /* Boundary values: program [N,C,H,W] is blob [N,H,W,C]. */
      uint32_t bd = nchw ? (d == 0 ? 0 : d == 1 ? 3 : d - 1) : d;
      same = t->dims[d] == (int64_t)v.dims[bd];
    }
    if (!same) {
      char pd[96], bd[96];
      format_dims_i64(pd, sizeof(pd), t->dims, t->rank <= XNND_MAX_RANK ? t->rank : XNND_MAX_RANK);
      format_dims_u32(bd, sizeof(bd), v.dims, v.rank);
      return vfail(err, err_size, XNND_SHAPE_MISMATCH, "%s %u: program shape %s vs blob value %u %s %s", what, i,
                   pd, id, nchw ? "NHWC" : "dims", bd);
    }
  }
  return XNND_OK;
}

/* Dynamic shapes: Graph.num_symbols against the method's, then every dim_exprs and
 * new_shape_exprs (length, invariants, and the stored dims/new_shape equal to the forms at the
 * method's symbol values, which are what the call's tensors were evaluated at). Constants are
 * static. Leaves view->syms = syms. */
static xnnd_status verify_forms(xnnd_xblob* view, const int64_t* syms, uint32_t num_syms, char* err, size_t err_size) {
  if (num_syms > XNND_MAX_SYMS)
    return vfail(err, err_size, XNND_INVALID_ARGUMENT, "%u symbol values; at most %u", num_syms, XNND_MAX_SYMS);
  if (num_syms > 0 && syms == NULL) return vfail(err, err_size, XNND_INVALID_ARGUMENT, "num_syms is set but syms is NULL");
  for (uint32_t s = 0; s < num_syms; s++) {
    if (syms[s] < 0 || syms[s] > XNND_DIMX_LIMIT)
      return vfail(err, err_size, XNND_INVALID_ARGUMENT, "symbol %u = %lld out of range", s, (long long)syms[s]);
    view->syms[s] = syms[s];
  }
  uint32_t ns = fb_u32(view->graph, XNND_XNNPACK_Graph_num_symbols, 0);
  if (ns != 0 && ns != num_syms)
    return vfail(err, err_size, XNND_INVALID_PROGRAM, "Graph.num_symbols is %u, the method has %u symbols", ns,
                 num_syms);
  view->num_syms = ns;
  char at[96];
  format_syms(at, sizeof(at), view);
  for (uint32_t i = 0; i < view->values.len; i++) {
    fb_table t = fb_vec_table(view->values, i);
    fb_vec exprs = fb_vector(t, XNND_XNNPACK_Value_dim_exprs);
    if (exprs.data == NULL) continue;
    fb_vec dims = fb_vector(t, XNND_XNNPACK_Value_dims);
    if (ns == 0)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: dim_exprs in a blob with Graph.num_symbols 0", i);
    if (dims.len > XNND_XNN_MAX_DIMS)
      return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "values[%u]: rank %u exceeds XNNPACK's %u", i, dims.len,
                   XNND_XNN_MAX_DIMS);
    if (exprs.len != dims.len * (1 + ns))
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "values[%u]: dim_exprs has %u entries, rank %u x (1 + %u symbols) needs %u", i, exprs.len,
                   dims.len, ns, dims.len * (1 + ns));
    if (fb_u64(t, XNND_XNNPACK_Value_constant_size, 0) > 0)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: a constant cannot have symbolic dims", i);
    xnnd_dimx x[XNND_XNN_MAX_DIMS];
    if (!xnnd_xforms_read(view, exprs, dims.len, x))
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "values[%u]: dim_exprs breaks the form invariants (coefficients in [0, 2^40], constant in "
                   "[-2^40, 2^40])", i);
    for (uint32_t d = 0; d < dims.len; d++) {
      int64_t at_syms = xnnd_dimx_eval(&x[d], view->syms, ns);
      if (at_syms != (int64_t)fb_vec_u32(dims, d))
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: dims[%u] = %u but its form gives %lld at %s",
                     i, d, fb_vec_u32(dims, d), (long long)at_syms, at);
    }
    view->dynamic = true;
  }
  for (uint32_t i = 0; i < view->nodes.len; i++) {
    fb_table entry = fb_vec_table(view->nodes, i);
    fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
    if (fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0) != XNND_XNNPACK_Node_StaticReshape || node == NULL) continue;
    fb_vec exprs = fb_vector(node, XNND_XNNPACK_StaticReshape_new_shape_exprs);
    if (exprs.data == NULL) continue;
    fb_vec shape = fb_vector(node, XNND_XNNPACK_StaticReshape_new_shape);
    if (ns == 0)
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "nodes[%u] (StaticReshape): new_shape_exprs in a blob with Graph.num_symbols 0", i);
    if (shape.len > XNND_XNN_MAX_DIMS)
      return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "nodes[%u] (StaticReshape): new_shape has %u dims, XNNPACK allows %u",
                   i, shape.len, XNND_XNN_MAX_DIMS);
    if (exprs.len != shape.len * (1 + ns))
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "nodes[%u] (StaticReshape): new_shape_exprs has %u entries, %u dims x (1 + %u symbols) needs %u",
                   i, exprs.len, shape.len, ns, shape.len * (1 + ns));
    xnnd_dimx x[XNND_XNN_MAX_DIMS];
    if (!xnnd_xforms_read(view, exprs, shape.len, x))
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "nodes[%u] (StaticReshape): new_shape_exprs breaks the form invariants", i);
    for (uint32_t d = 0; d < shape.len; d++) {
      int64_t at_syms = xnnd_dimx_eval(&x[d], view->syms, ns);
      if (at_syms != (int64_t)fb_vec_u32(shape, d))
        return vfail(err, err_size, XNND_INVALID_PROGRAM,
                     "nodes[%u] (StaticReshape): new_shape[%u] = %u but its form gives %lld at %s", i, d,
                     fb_vec_u32(shape, d), (long long)at_syms, at);
    }
    view->dynamic = true;
  }
  return XNND_OK;
}

xnnd_status xnnd_xblob_verify(const uint8_t* blob, size_t size, const xnnd_tensor* inputs, uint32_t num_inputs,
                              const xnnd_tensor* outputs, uint32_t num_outputs, const int64_t* syms,
                              uint32_t num_syms, xnnd_xblob* view, char* err, size_t err_size) {
  if (blob == NULL || view == NULL) return vfail(err, err_size, XNND_INVALID_ARGUMENT, "no blob");
  memset(view, 0, sizeof(*view));
  xnnd_status st = verify_header(blob, size, view, err, err_size);
  if (st != XNND_OK) return st;

  char msg[384];
  msg[0] = '\0';
  fb_verify_limits limits = {.max_depth = 8, .max_vector_len = XNND_XNN_MAX_VALUES, .max_tables = 1u << 22};
  st = fb_verify(view->fb, view->fb_size, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT, &limits, msg, sizeof(msg));
  if (st != XNND_OK) return vfail(err, err_size, st, "blob flatbuffer: %s", msg);

  view->graph = fb_root(view->fb);
  if (view->graph == NULL) return vfail(err, err_size, XNND_MALFORMED, "blob flatbuffer has no Graph");
  uint32_t version = fb_u32(view->graph, XNND_XNNPACK_Graph_version, 0);
  if (version != XNND_BLOB_VERSION)
    return vfail(err, err_size, XNND_UNSUPPORTED_VERSION, "Graph.version %u, this backend reads %u", version,
                 XNND_BLOB_VERSION);
  view->values = fb_vector(view->graph, XNND_XNNPACK_Graph_values);
  view->nodes = fb_vector(view->graph, XNND_XNNPACK_Graph_nodes);
  view->input_ids = fb_vector(view->graph, XNND_XNNPACK_Graph_input_ids);
  view->output_ids = fb_vector(view->graph, XNND_XNNPACK_Graph_output_ids);
  if (view->values.len > XNND_XNN_MAX_VALUES)
    return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "%u values exceed the limit %u", view->values.len,
                 XNND_XNN_MAX_VALUES);
  if (view->nodes.len > XNND_XNN_MAX_NODES)
    return vfail(err, err_size, XNND_LIMIT_EXCEEDED, "%u nodes exceed the limit %u", view->nodes.len,
                 XNND_XNN_MAX_NODES);

  st = verify_forms(view, syms, num_syms, err, err_size);
  if (st != XNND_OK) return st;
  return xnnd_xblob_verify_shapes(view, inputs, num_inputs, outputs, num_outputs, err, err_size);
}

xnnd_status xnnd_xblob_verify_shapes(const xnnd_xblob* view, const xnnd_tensor* inputs, uint32_t num_inputs,
                                     const xnnd_tensor* outputs, uint32_t num_outputs, char* err,
                                     size_t err_size) {
  xnnd_status st;
  for (uint32_t i = 0; i < view->values.len; i++) {
    st = verify_value(view, i, err, err_size);
    if (st != XNND_OK) return st;
  }
  st = verify_externals(view, true, inputs, num_inputs, err, err_size);
  if (st != XNND_OK) return st;
  st = verify_externals(view, false, outputs, num_outputs, err, err_size);
  if (st != XNND_OK) return st;
  /* Every flagged value is listed, so no external is left without a binding at setup. */
  for (uint32_t i = 0; i < view->values.len; i++) {
    xnnd_xvalue v;
    xnnd_xvalue_read(view, i, &v);
    bool in = (v.flags & XNND_XVALUE_EXTERNAL_INPUT) != 0;
    if (!in && (v.flags & XNND_XVALUE_EXTERNAL_OUTPUT) == 0) continue;
    fb_vec ids = in ? view->input_ids : view->output_ids;
    if (v.external_index >= ids.len || fb_vec_u32(ids, v.external_index) != i)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "values[%u]: flagged external %s #%u but not listed there",
                   i, in ? "input" : "output", v.external_index);
  }

  for (uint32_t i = 0; i < view->nodes.len; i++) {
    fb_table entry = fb_vec_table(view->nodes, i);
    uint8_t type = fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(type);
    if (kind == NULL)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "nodes[%u]: unknown node type %u", i, type);
    fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
    if (node == NULL) return vfail(err, err_size, XNND_MALFORMED, "nodes[%u] (%s): node table missing", i, kind->name);
    xnnd_xnode_ctx ctx = {view, i, kind->name, err, err_size};
    st = kind->check(&ctx, node);
    if (st != XNND_OK) return st;
  }
  return XNND_OK;
}

enum { VALUE_AVAILABLE = 1, VALUE_READ = 2, VALUE_WRITTEN = 4 };

xnnd_status xnnd_xblob_verify_dataflow(const xnnd_xblob* b, uint8_t* state, char* err, size_t err_size) {
  for (uint32_t i = 0; i < b->values.len; i++) {
    xnnd_xvalue v;
    xnnd_xvalue_read(b, i, &v);
    state[i] = (v.constant_size > 0 || (v.flags & XNND_XVALUE_EXTERNAL_INPUT)) ? VALUE_AVAILABLE : 0;
  }
  for (uint32_t n = 0; n < b->nodes.len; n++) {
    fb_table entry = fb_vec_table(b->nodes, n);
    const xnnd_xnode_kind* kind = xnnd_xnode_kind_get(fb_u8(entry, XNND_XNNPACK_NodeEntry_node_type, 0));
    fb_table node = fb_table_field(entry, XNND_XNNPACK_NodeEntry_node);
    for (uint32_t k = 0; k < XNND_XNODE_MAX_INPUTS; k++) {
      uint32_t field = kind->input_fields[k];
      if (field == XNND_XNODE_NO_FIELD) continue;
      bool optional = field == kind->optional_input;
      uint32_t id = fb_u32(node, field, optional ? UINT32_MAX : 0);
      if (optional && id == UINT32_MAX) continue;
      if (!(state[id] & VALUE_AVAILABLE))
        return vfail(err, err_size, XNND_INVALID_PROGRAM, "nodes[%u] (%s): reads value %u before any node writes it",
                     n, kind->name, id);
      state[id] |= VALUE_READ;
    }
    uint32_t out = fb_u32(node, kind->output_field, 0);
    if (state[out] & VALUE_AVAILABLE)
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "nodes[%u] (%s): output_id %u is already written", n,
                   kind->name, out);
    state[out] |= VALUE_AVAILABLE | VALUE_WRITTEN;
  }
  for (uint32_t o = 0; o < b->output_ids.len; o++) {
    uint32_t id = fb_vec_u32(b->output_ids, o);
    if (!(state[id] & VALUE_WRITTEN))
      return vfail(err, err_size, XNND_INVALID_PROGRAM, "output_ids[%u] = value %u is written by no node", o, id);
    state[id] |= VALUE_READ;
  }
  for (uint32_t i = 0; i < b->values.len; i++)
    if ((state[i] & VALUE_WRITTEN) && !(state[i] & VALUE_READ))
      return vfail(err, err_size, XNND_INVALID_PROGRAM,
                   "values[%u]: written by a node but never read and not an external output", i);
  return XNND_OK;
}
