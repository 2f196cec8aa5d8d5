/* xnnd.quantize (f32 -> i8/u8) and xnnd.dequantize (i8/u8 -> f32): affine quantization
 * q = clamp(round_half_even(x / scale) + zero_point), x = (q - zero_point) * scale.
 *
 * Three forms, told apart by attrs and inputs (self, scales?, zero_points?):
 *   per tensor, static:  scale attr set, axis = -1, no scales/zero_points inputs
 *   per channel:         scale none, axis >= 0, scales f32 [C] and zero_points i32 [C] inputs
 *   per tensor, dynamic: scale none, axis = -1, scales input of one f32 element (zero_points
 *                        optional, one i32 element; absent = the zero_point attr)
 * The quantized side (output of quantize, input of dequantize) carries the parameters in its
 * type, q(...) or qc(...), when they are static; inference checks that they agree. Passes read
 * the value's type; portable kernels read attrs and inputs (runtime tensors carry no quant). */
#include <math.h>

#include "ir_internal.h"

#define QUANT_SCHEMA                                            \
  {"scale", XNND_ATTR_FLOAT, true, IR_DEF_NONE},                \
      {"zero_point", XNND_ATTR_INT, false, IR_DEF_INT(0)},      \
      {"axis", XNND_ATTR_INT, false, IR_DEF_INT(-1)},           \
      {"dtype", XNND_ATTR_INT, false, IR_DEF_INT(XNND_I8)}, IR_SCHEMA_END

const xnnd_attr_spec xnnd_attrs_quantize[] = {QUANT_SCHEMA};
const xnnd_attr_spec xnnd_attrs_dequantize[] = {QUANT_SCHEMA};

static bool zp_in_range(xnnd_dtype dt, int64_t zp) {
  return dt == XNND_I8 ? zp >= -128 && zp <= 127 : zp >= 0 && zp <= 255;
}

static uint64_t numel_of(const xnnd_ir_value* v) {
  uint64_t n = 1;
  for (uint32_t d = 0; d < v->rank; d++) n *= (uint64_t)v->dims[d];
  return n;
}

/* Checks attrs and inputs 1, 2 and, when `qv` carries quantization, that it agrees. */
static xnnd_status check_params(xnnd_graph* g, xnnd_id node, const xnnd_ir_value* data,
                                const xnnd_ir_value* qv) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_attr* a = n->attrs;
  int64_t zp = a[1].i, axis = a[2].i, dt = a[3].i;
  if (dt != XNND_I8 && dt != XNND_U8)
    return ir_attr_error(g, node, "attribute dtype = %lld must be %d (i8) or %d (u8)", (long long)dt,
                         XNND_I8, XNND_U8);
  if (!zp_in_range((xnnd_dtype)dt, zp))
    return ir_attr_error(g, node, "attribute zero_point = %lld is out of range for %s", (long long)zp,
                         xnnd_dtype_name((xnnd_dtype)dt));
  const xnnd_ir_value* scales = ir_input(g, node, 1);
  const xnnd_ir_value* zps = ir_input(g, node, 2);
  const xnnd_quant* q = &qv->quant;
  if (axis == -1 && a[0].kind == XNND_ATTR_FLOAT) { /* static per tensor */
    if (!(isfinite(a[0].f) && (float)a[0].f > 0.0f))
      return ir_attr_error(g, node, "attribute scale = %g must be finite and > 0", a[0].f);
    if (scales || zps)
      return ir_node_error(g, node, "a per-tensor scale attribute excludes scales/zero_points inputs");
    if (q->scheme == XNND_QUANT_PER_CHANNEL ||
        (q->scheme == XNND_QUANT_PER_TENSOR && (q->scale != (float)a[0].f || q->zero_point != zp)))
      return ir_node_error(g, node, "%%%s is quantized differently from scale = %g, zero_point = %lld",
                           qv->name, a[0].f, (long long)zp);
    return XNND_OK;
  }
  if (a[0].kind == XNND_ATTR_FLOAT)
    return ir_attr_error(g, node, "attribute scale must be none with axis = %lld", (long long)axis);
  if (!scales) return ir_node_error(g, node, "input 1 (scales) is required without a scale attribute");
  if (scales->dtype != XNND_F32)
    return ir_node_error(g, node, "input 1 %%%s (scales) must be f32", scales->name);
  if (zps && zps->dtype != XNND_I32)
    return ir_node_error(g, node, "input 2 %%%s (zero_points) must be i32", zps->name);
  if (axis == -1) { /* dynamic per tensor */
    if (numel_of(scales) != 1 || scales->rank > 1 || (zps && (numel_of(zps) != 1 || zps->rank > 1)))
      return ir_node_error(g, node, "a dynamic per-tensor scale and zero point hold one element each");
    if (q->scheme != XNND_QUANT_NONE)
      return ir_node_error(g, node, "%%%s carries static quantization but the scale is an input", qv->name);
    return XNND_OK;
  }
  if (axis < 0 || axis >= (int64_t)data->rank)
    return ir_attr_error(g, node, "attribute axis = %lld is out of range for rank %u", (long long)axis,
                         data->rank);
  int64_t c = data->dims[axis];
  if (!zps) return ir_node_error(g, node, "per-channel quantization needs input 2 (zero_points)");
  if (scales->rank != 1 || scales->dims[0] != c || zps->rank != 1 || zps->dims[0] != c)
    return ir_node_error(g, node, "scales %%%s and zero_points %%%s must be [%lld] (dim %lld of %%%s)",
                         scales->name, zps->name, (long long)c, (long long)axis, data->name);
  const float* s = scales->data;
  const int32_t* z = zps->data;
  for (int64_t i = 0; s && i < c; i++)
    if (!(isfinite(s[i]) && s[i] > 0.0f))
      return ir_node_error(g, node, "scale %lld = %g of %%%s must be finite and > 0", (long long)i,
                           (double)s[i], scales->name);
  for (int64_t i = 0; z && i < c; i++)
    if (!zp_in_range((xnnd_dtype)dt, z[i]))
      return ir_node_error(g, node, "zero point %lld = %d of %%%s is out of range for %s", (long long)i,
                           z[i], zps->name, xnnd_dtype_name((xnnd_dtype)dt));
  if (q->scheme == XNND_QUANT_PER_TENSOR)
    return ir_node_error(g, node, "%%%s is quantized per tensor, the node per channel", qv->name);
  if (q->scheme == XNND_QUANT_PER_CHANNEL) {
    bool same = q->axis == axis && q->num_channels == (uint32_t)c;
    for (int64_t i = 0; same && s && i < c; i++) same = q->scales[i] == s[i];
    for (int64_t i = 0; same && z && i < c; i++) same = q->zero_points[i] == z[i];
    if (!same) return ir_node_error(g, node, "%%%s is quantized differently from the node's inputs", qv->name);
  }
  return XNND_OK;
}

xnnd_status xnnd_infer_quantize(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(ir_input_dtype(g, node, 0, XNND_F32));
  xnnd_dtype dt = (xnnd_dtype)g->nodes[node].attrs[3].i;
  const xnnd_ir_node* n = &g->nodes[node];
  if (n->num_outputs < 1 || n->outputs[0] >= g->num_values) return ir_node_error(g, node, "output 0 is missing");
  IR_TRY(check_params(g, node, x, &g->values[n->outputs[0]]));
  return ir_set_output(g, node, 0, dt, x->rank, x->dims);
}

xnnd_status xnnd_infer_dequantize(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_value* x;
  IR_TRY(ir_require_input(g, node, 0, &x));
  IR_TRY(check_params(g, node, x, x));
  IR_TRY(ir_input_dtype(g, node, 0, (xnnd_dtype)g->nodes[node].attrs[3].i));
  return ir_set_output(g, node, 0, XNND_F32, x->rank, x->dims);
}
