/* Canonical text printer (docs/ARCHITECTURE.md "Text IR"): inputs, constants, live nodes
 * in array order, one output line. Large constants go to the bundle by key. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

/* ---- half precision ---- */

float ir_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp != 0) {
    bits = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {  /* subnormal: normalize */
    uint32_t e = 113;
    while (!(mant & 0x400)) {
      mant <<= 1;
      e--;
    }
    bits = sign | (e << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t ir_float_to_half(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  uint32_t exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
  if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | (mant >> 13) : 0));
  int32_t e = (int32_t)exp - 127 + 15;
  if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    uint32_t shift = (uint32_t)(14 - e);
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return (uint16_t)(sign | h);
  }
  uint32_t h = ((uint32_t)e << 10) | (mant >> 13), rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;  /* may carry into the exponent: ok */
  return (uint16_t)(sign | h);
}

/* ---- string builder ---- */

typedef struct sbuf {
  char* p;
  size_t len, cap;
  bool oom;
} sbuf;

static void sb_reserve(sbuf* b, size_t extra) {
  if (b->oom) return;
  if (b->len + extra + 1 <= b->cap) return;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap < b->len + extra + 1) {
    if (cap > SIZE_MAX / 2) {
      b->oom = true;
      return;
    }
    cap *= 2;
  }
  char* p = realloc(b->p, cap);
  if (!p) {
    b->oom = true;
    return;
  }
  b->p = p;
  b->cap = cap;
}

static void sb_put(sbuf* b, const char* s) {
  size_t n = strlen(s);
  sb_reserve(b, n);
  if (b->oom) return;
  memcpy(b->p + b->len, s, n + 1);
  b->len += n;
}

static void sb_printf(sbuf* b, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf* b, const char* fmt, ...) {
  char tmp[128];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if ((size_t)n < sizeof tmp) {
    sb_put(b, tmp);
    return;
  }
  sb_reserve(b, (size_t)n);
  if (b->oom) return;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
}

/* ---- numbers ---- */

static void put_nonfinite(sbuf* b, double x) {
  if (isnan(x))
    sb_put(b, signbit(x) ? "-nan" : "nan");
  else
    sb_put(b, x < 0 ? "-inf" : "inf");
}

/* Shortest of %.15g/%.16g/%.17g that reads back to the same double. */
static void put_double(sbuf* b, double x) {
  if (!isfinite(x)) {
    put_nonfinite(b, x);
    return;
  }
  char buf[64];
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (strtod(buf, NULL) == x) break;
  }
  sb_put(b, buf);
}

/* Shortest %.Ng (N <= 9) that reads back to the same float via strtof. */
static void put_float_short(sbuf* b, float x) {
  if (!isfinite(x)) {
    put_nonfinite(b, x);
    return;
  }
  char buf[64];
  for (int prec = 1; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)x);
    if (strtof(buf, NULL) == x) break;
  }
  sb_put(b, buf);
}

/* Inline constant floats: %.9g, which always reads back exactly. */
static void put_float9(sbuf* b, float x) {
  if (!isfinite(x))
    put_nonfinite(b, x);
  else
    sb_printf(b, "%.9g", (double)x);
}

/* ---- pieces ---- */

static void put_form(sbuf* b, const xnnd_graph* g, const xnnd_dimx* x) {
  char buf[256];  /* the longest form: 4 terms of 14 + 31 + 1 bytes and a 14-byte constant */
  xnnd_dimx_print(buf, sizeof buf, x, g->syms, g->num_syms);
  sb_put(b, buf);
}

static void put_type(sbuf* b, const xnnd_graph* g, const xnnd_ir_value* v) {
  sb_put(b, xnnd_dtype_name(v->dtype));
  sb_put(b, "[");
  for (uint32_t i = 0; i < v->rank && i < XNND_MAX_RANK; i++) {
    if (i) sb_put(b, ",");
    if (v->dimx)
      put_form(b, g, &v->dimx[i]);
    else
      sb_printf(b, "%" PRId64, v->dims[i]);
  }
  sb_put(b, "]");
  const xnnd_quant* q = &v->quant;
  if (q->scheme == XNND_QUANT_PER_TENSOR) {
    sb_put(b, " q(");
    put_float_short(b, q->scale);
    sb_printf(b, ", %" PRId32 ")", q->zero_point);
  } else if (q->scheme == XNND_QUANT_PER_CHANNEL) {
    sb_printf(b, " qc(%" PRId32 ", [", q->axis);
    for (uint32_t c = 0; c < q->num_channels && q->scales; c++) {
      if (c) sb_put(b, ",");
      put_float_short(b, q->scales[c]);
    }
    sb_put(b, "], [");
    for (uint32_t c = 0; c < q->num_channels && q->zero_points; c++)
      sb_printf(b, c ? ",%" PRId32 : "%" PRId32, q->zero_points[c]);
    sb_put(b, "])");
  }
  if (v->layout == XNND_LAYOUT_NHWC) sb_put(b, " nhwc");
}

static void put_value_decl(sbuf* b, const xnnd_graph* g, const xnnd_ir_value* v) {
  sb_printf(b, "%%%s: ", v->name ? v->name : "?");
  put_type(b, g, v);
}

static void put_inline_const(sbuf* b, const xnnd_ir_value* v, uint64_t numel) {
  const unsigned char* d = v->data;
  sb_put(b, "[");
  for (uint64_t i = 0; i < numel; i++) {
    if (i) sb_put(b, ", ");
    switch (v->dtype) {
      case XNND_F32: {
        float x;
        memcpy(&x, d + i * 4, 4);
        put_float9(b, x);
        break;
      }
      case XNND_F16: {
        uint16_t h;
        memcpy(&h, d + i * 2, 2);
        put_float9(b, ir_half_to_float(h));
        break;
      }
      case XNND_I8: sb_printf(b, "%d", (int)(int8_t)d[i]); break;
      case XNND_U8: sb_printf(b, "%u", (unsigned)d[i]); break;
      case XNND_I32: {
        int32_t x;
        memcpy(&x, d + i * 4, 4);
        sb_printf(b, "%" PRId32, x);
        break;
      }
      case XNND_I64: {
        int64_t x;
        memcpy(&x, d + i * 8, 8);
        sb_printf(b, "%" PRId64, x);
        break;
      }
      case XNND_BOOL: sb_put(b, d[i] ? "1" : "0"); break;
      default: sb_put(b, "?"); break;
    }
  }
  sb_put(b, "]");
}

static void put_attr(sbuf* b, const xnnd_graph* g, const xnnd_attr* a, const xnnd_dimx* forms) {
  switch (a->kind) {
    case XNND_ATTR_NONE: sb_put(b, "none"); break;
    case XNND_ATTR_INT: sb_printf(b, "%" PRId64, a->i); break;
    case XNND_ATTR_FLOAT: put_double(b, a->f); break;
    case XNND_ATTR_BOOL: sb_put(b, a->i ? "true" : "false"); break;
    case XNND_ATTR_INTS:
      sb_put(b, "[");
      for (uint32_t i = 0; i < a->n && i < XNND_MAX_ATTR_INTS; i++) {
        if (i) sb_put(b, ",");
        if (forms)
          put_form(b, g, &forms[i]);
        else
          sb_printf(b, "%" PRId64, a->ints[i]);
      }
      sb_put(b, "]");
      break;
    default: sb_put(b, "?"); break;
  }
}

static void put_node(sbuf* b, const xnnd_graph* g, const xnnd_ir_node* n) {
  const xnnd_op_info* info = xnnd_op_get(n->op);
  sb_put(b, "  ");
  for (uint32_t k = 0; k < n->num_outputs && k < 3; k++) {
    if (k) sb_put(b, ", ");
    if (n->outputs[k] < g->num_values)
      put_value_decl(b, g, &g->values[n->outputs[k]]);
    else
      sb_put(b, "%?: ?");
  }
  sb_printf(b, " = %s(", info ? info->name : "?");
  for (uint32_t i = 0; i < n->num_inputs; i++) {
    if (i) sb_put(b, ", ");
    xnnd_id v = n->inputs[i];
    if (v == XNND_NO_ID)
      sb_put(b, "_");
    else
      sb_printf(b, "%%%s", ir_value_name(g, v));
  }
  sb_put(b, ")");
  if (info && info->num_attrs) {
    sb_put(b, " {");
    for (uint32_t a = 0; a < info->num_attrs; a++) {
      sb_printf(b, a ? ", %s=" : "%s=", info->attrs[a].name);
      put_attr(b, g, &n->attrs[a], n->attrs[a].kind == XNND_ATTR_INTS ? n->attr_dimx[a] : NULL);
    }
    sb_put(b, "}");
  }
  if (isfinite(n->output_min) || isfinite(n->output_max)) {
    sb_put(b, " clamp(");
    put_float_short(b, n->output_min);
    sb_put(b, ", ");
    put_float_short(b, n->output_max);
    sb_put(b, ")");
  }
  sb_put(b, "\n");
}

char* xnnd_graph_print(const xnnd_graph* g, xnnd_const_bundle* bundle) {
  if (!g) return NULL;
  sbuf b = {0};
  sb_printf(&b, "graph %s {\n", g->name);
  for (uint32_t s = 0; s < g->num_syms && s < XNND_MAX_SYMS; s++)
    sb_printf(&b, "  sym %s = %" PRId64 "..%" PRId64 "\n", g->syms[s].name, g->syms[s].min,
              g->syms[s].max);
  for (uint32_t i = 0; i < g->num_inputs; i++) {
    if (g->inputs[i] >= g->num_values) continue;
    sb_put(&b, "  input ");
    put_value_decl(&b, g, &g->values[g->inputs[i]]);
    sb_put(&b, "\n");
  }
  for (xnnd_id id = 0; id < g->num_values; id++) {
    const xnnd_ir_value* v = &g->values[id];
    if (!v->data || v->is_input) continue;
    sb_put(&b, "  const ");
    put_value_decl(&b, g, v);
    sb_put(&b, " = ");
    uint64_t numel = 0;
    if (!ir_numel(v->dtype, v->rank, v->dims, &numel)) {
      sb_put(&b, "?\n");
      continue;
    }
    if (numel <= XNND_INLINE_CONST_MAX) {
      put_inline_const(&b, v, numel);
    } else {
      size_t nbytes = (size_t)(numel * xnnd_dtype_size(v->dtype));
      uint64_t key = v->const_key ? v->const_key : xnnd_fnv1a64(v->data, nbytes);
      sb_printf(&b, "#%016" PRIx64, key);
      if (bundle && xnnd_const_bundle_put(bundle, key, v->data, nbytes) != XNND_OK) b.oom = true;
    }
    sb_put(&b, "\n");
  }
  for (xnnd_id n = 0; n < g->num_nodes; n++)
    if (!g->nodes[n].dead) put_node(&b, g, &g->nodes[n]);
  sb_put(&b, "  output");
  for (uint32_t i = 0; i < g->num_outputs; i++)
    sb_printf(&b, i ? ", %%%s" : " %%%s", ir_value_name(g, g->outputs[i]));
  sb_put(&b, "\n}\n");
  if (b.oom) {
    free(b.p);
    return NULL;
  }
  return b.p;
}
