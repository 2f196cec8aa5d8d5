/* xnnd.quantize and xnnd.dequantize: f32 <-> i8/u8 affine quantization with PyTorch's
 * arithmetic: q = clamp(nearbyint(x * (1/scale)) + zero_point) (round half to even, the
 * reciprocal in float) and x = (q - zero_point) * scale. Runtime tensors carry no quant
 * params, so they come from the node: attrs scale/zero_point (per tensor), or the scales
 * (f32) and zero_points (i32) inputs, read at run time, with `axis` >= 0 per channel or -1
 * for a dynamic per-tensor scale. */
#include <math.h>
#include <stdio.h>

#include "kernels/kernel_util.h"

typedef struct quant_params {
  bool dynamic;        /* per-tensor parameters come from inputs 1 and 2 at run time */
  bool per_channel;
  bool has_zps;        /* input 2 present */
  xnnd_dtype qtype;    /* I8 or U8 */
  float scale;         /* static per tensor */
  int32_t zero_point;  /* static per tensor, or default of the dynamic form */
  int64_t outer, channels, inner;  /* per channel: [outer, channels, inner] around axis */
  size_t numel;
} quant_params;
KPARAMS_FIT(quant_params);

static xnnd_status quant_prepare(const kcheck* c, quant_params* p, bool quantize) {
  xnnd_status s = kcheck_arity(c, 1, 3, 1);
  if (s != XNND_OK) return s;
  int64_t dtype, zp, axis;
  bool has_scale;
  double scale = 0.0;
  if ((s = kattr_int(c, "dtype", XNND_I8, &dtype)) != XNND_OK ||
      (s = kattr_int(c, "zero_point", 0, &zp)) != XNND_OK ||
      (s = kattr_int(c, "axis", -1, &axis)) != XNND_OK ||
      (s = kattr_float_opt(c, "scale", &has_scale, &scale)) != XNND_OK)
    return s;
  if (dtype != XNND_I8 && dtype != XNND_U8)
    return kfail(c, XNND_UNSUPPORTED, "dtype %lld is not i8 or u8", (long long)dtype);
  p->qtype = (xnnd_dtype)dtype;
  int64_t qmin = dtype == XNND_I8 ? -128 : 0, qmax = dtype == XNND_I8 ? 127 : 255;
  if (zp < qmin || zp > qmax)
    return kfail(c, XNND_INVALID_ARGUMENT, "zero_point %lld is out of range for %s", (long long)zp,
                 xnnd_dtype_name(p->qtype));
  p->zero_point = (int32_t)zp;
  const xnnd_tensor* x = kinput(c, 0);
  if ((s = kcheck_tensor(c, x, "self", quantize ? XNND_F32 : (int)dtype, -1)) != XNND_OK) return s;
  const xnnd_tensor* out = koutput(c, 0);
  if ((s = kcheck_tensor(c, out, "out", quantize ? (int)dtype : XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_shape(c, out, "out", x->rank, x->dims)) != XNND_OK)
    return s;
  p->numel = knumel(x);
  const xnnd_tensor* scales = kinput(c, 1);
  const xnnd_tensor* zps = kinput(c, 2);
  p->has_zps = zps != NULL;
  if (has_scale) {
    if (axis != -1 || scales || zps)
      return kfail(c, XNND_INVALID_ARGUMENT, "a scale attribute means per tensor: axis -1, no scales input");
    if (!(isfinite(scale) && (float)scale > 0.0f))
      return kfail(c, XNND_INVALID_ARGUMENT, "scale %g must be finite and > 0", scale);
    p->scale = (float)scale;
    return XNND_OK;
  }
  if ((s = kcheck_tensor(c, scales, "scales", XNND_F32, -1)) != XNND_OK) return s;
  if (zps && (s = kcheck_tensor(c, zps, "zero_points", XNND_I32, -1)) != XNND_OK) return s;
  if (axis == -1) {
    if (knumel(scales) != 1 || (zps && knumel(zps) != 1))
      return kfail(c, XNND_SHAPE_MISMATCH, "a dynamic per-tensor scale and zero point hold one element each");
    p->dynamic = true;
    return XNND_OK;
  }
  uint32_t ax;
  if ((s = kwrap_dim(c, "axis", axis, x->rank, &ax)) != XNND_OK) return s;
  if (x->rank == 0) return kfail(c, XNND_SHAPE_MISMATCH, "per-channel quantization of a scalar");
  if (!zps) return kfail(c, XNND_INVALID_ARGUMENT, "per-channel quantization needs zero_points");
  p->per_channel = true;
  p->channels = x->dims[ax];
  p->outer = p->inner = 1;
  for (uint32_t d = 0; d < ax; d++) p->outer *= x->dims[d];
  for (uint32_t d = ax + 1; d < x->rank; d++) p->inner *= x->dims[d];
  if (scales->rank != 1 || scales->dims[0] != p->channels || zps->rank != 1 || zps->dims[0] != p->channels)
    return kfail(c, XNND_SHAPE_MISMATCH, "scales and zero_points must be [%lld]", (long long)p->channels);
  return XNND_OK;
}

KPREPARE(quantize) {
  const kcheck c = {"xnnd.quantize", args, err, err_size};
  return quant_prepare(&c, params, true);
}

KPREPARE(dequantize) {
  const kcheck c = {"xnnd.dequantize", args, err, err_size};
  return quant_prepare(&c, params, false);
}

/* PyTorch (fbgemm) rounding: multiply by the float reciprocal, round half to even. */
static inline int32_t quantize_one(float x, float inv_scale, int32_t zp, float qmin, float qmax) {
  float t = nearbyintf(x * inv_scale) + (float)zp;
  if (!(t >= qmin)) t = isnan(t) ? (float)zp : qmin;  /* NaN -> zero point, like a zero input */
  if (t > qmax) t = qmax;
  return (int32_t)t;
}

static void quantize_span(const float* x, void* out, size_t offset, size_t n, xnnd_dtype qt, float scale,
                          int32_t zp) {
  float inv = 1.0f / scale;
  if (qt == XNND_I8) {
    int8_t* o = (int8_t*)out + offset;
    for (size_t i = 0; i < n; i++) o[i] = (int8_t)quantize_one(x[offset + i], inv, zp, -128.0f, 127.0f);
  } else {
    uint8_t* o = (uint8_t*)out + offset;
    for (size_t i = 0; i < n; i++) o[i] = (uint8_t)quantize_one(x[offset + i], inv, zp, 0.0f, 255.0f);
  }
}

static void dequantize_span(const void* q, float* out, size_t offset, size_t n, xnnd_dtype qt, float scale,
                            int32_t zp) {
  if (qt == XNND_I8) {
    const int8_t* s = (const int8_t*)q + offset;
    for (size_t i = 0; i < n; i++) out[offset + i] = (float)((int32_t)s[i] - zp) * scale;
  } else {
    const uint8_t* s = (const uint8_t*)q + offset;
    for (size_t i = 0; i < n; i++) out[offset + i] = (float)((int32_t)s[i] - zp) * scale;
  }
}

/* Validated at run time: the scales/zero points inputs need not be constants. */
static bool param_ok(const quant_params* p, float scale, int32_t zp) {
  int32_t lo = p->qtype == XNND_I8 ? -128 : 0, hi = p->qtype == XNND_I8 ? 127 : 255;
  return isfinite(scale) && scale > 0.0f && zp >= lo && zp <= hi;
}

static xnnd_status quant_run(const xnnd_kernel_args* args, const quant_params* p, bool quantize) {
  const void* in = args->inputs[0]->data;
  void* out = args->outputs[0]->data;
  const float* scales = args->num_inputs > 1 && args->inputs[1] ? args->inputs[1]->data : NULL;
  const int32_t* zps = p->has_zps ? args->inputs[2]->data : NULL;
  if (!p->per_channel) {
    float scale = p->dynamic ? scales[0] : p->scale;
    int32_t zp = p->dynamic && zps ? zps[0] : p->zero_point;
    if (!param_ok(p, scale, zp)) return XNND_INVALID_ARGUMENT;
    if (quantize)
      quantize_span(in, out, 0, p->numel, p->qtype, scale, zp);
    else
      dequantize_span(in, out, 0, p->numel, p->qtype, scale, zp);
    return XNND_OK;
  }
  for (int64_t ch = 0; ch < p->channels; ch++)
    if (!param_ok(p, scales[ch], zps[ch])) return XNND_INVALID_ARGUMENT;
  for (int64_t o = 0; o < p->outer; o++)
    for (int64_t ch = 0; ch < p->channels; ch++) {
      size_t offset = (size_t)((o * p->channels + ch) * p->inner);
      if (quantize)
        quantize_span(in, out, offset, (size_t)p->inner, p->qtype, scales[ch], zps[ch]);
      else
        dequantize_span(in, out, offset, (size_t)p->inner, p->qtype, scales[ch], zps[ch]);
    }
  return XNND_OK;
}

KRUN(quantize) { return quant_run(args, params, true); }
KRUN(dequantize) { return quant_run(args, params, false); }
