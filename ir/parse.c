/* Text IR parser (docs/ARCHITECTURE.md "Text IR"). The text is untrusted: every read is
 * bounded by the current line, numbers are range checked, lists are capped, and every error
 * names line:column and what was expected. Only structural checks run here (names, arity,
 * optional inputs, attribute kinds); xnnd_graph_verify does the rest. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir_internal.h"

#define MAX_TOKEN 64
#define MAX_QUANT_CHANNELS (1u << 24)

typedef struct parser {
  const char* s;
  size_t len;
  size_t pos;         /* cursor, within [line_start, line_end] */
  size_t line_start;
  size_t line_end;    /* index of '\n' or len */
  size_t next;        /* start of the next line */
  uint32_t line;      /* 1-based */
  bool at_eof;
  xnnd_graph* g;
  const xnnd_const_bundle* bundle;
  xnnd_error* err;
  bool failed;
  char got[48];
  /* temporaries freed by parse_free */
  xnnd_id* inputs;
  uint32_t num_inputs, cap_inputs;
  xnnd_id* outputs;
  uint32_t num_outputs, cap_outputs;
  unsigned char* cbuf;
  uint32_t cap_cbuf;  /* bytes */
} parser;

/* ---- errors ---- */

static bool fail_at(parser* p, size_t pos, const char* fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail_at(parser* p, size_t pos, const char* fmt, ...) {
  if (p->failed) return false;
  p->failed = true;
  if (!p->err) return false;
  p->err->status = XNND_PARSE_ERROR;
  size_t col = (pos >= p->line_start ? pos - p->line_start : 0) + 1;
  int n = snprintf(p->err->message, sizeof(p->err->message), "%u:%zu: ", p->line, col);
  if (n < 0 || (size_t)n >= sizeof(p->err->message)) return false;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(p->err->message + n, sizeof(p->err->message) - (size_t)n, fmt, ap);
  va_end(ap);
  return false;
}

/* What is at the cursor, for "expected X, got Y". */
static const char* got(parser* p) {
  if (p->pos >= p->line_end) return p->at_eof ? "end of input" : "end of line";
  unsigned char c = (unsigned char)p->s[p->pos];
  if (c >= 0x21 && c < 0x7f)
    snprintf(p->got, sizeof p->got, "'%c'", c);
  else
    snprintf(p->got, sizeof p->got, "byte 0x%02x", c);
  return p->got;
}

/* ---- lines and characters ---- */

static void skip_ws(parser* p) {
  while (p->pos < p->line_end &&
         (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\r'))
    p->pos++;
}

/* Moves to the next line that is neither blank nor a comment. */
static bool next_line(parser* p) {
  while (!p->at_eof) {
    if (p->next >= p->len) {
      /* the end of input sits after a final newline, or at the end of the last line */
      if (p->len == 0 || p->s[p->len - 1] == '\n') {
        p->line++;
        p->line_start = p->len;
      }
      p->pos = p->line_end = p->len;
      p->at_eof = true;
      return false;
    }
    p->line++;
    p->line_start = p->next;
    const char* nl = memchr(p->s + p->next, '\n', p->len - p->next);
    p->line_end = nl ? (size_t)(nl - p->s) : p->len;
    p->next = nl ? p->line_end + 1 : p->len;
    p->pos = p->line_start;
    skip_ws(p);
    if (p->pos < p->line_end && p->s[p->pos] != '#') return true;
  }
  return false;
}

static bool peek(parser* p, char c) {
  skip_ws(p);
  return p->pos < p->line_end && p->s[p->pos] == c;
}

static bool accept(parser* p, char c) {
  if (!peek(p, c)) return false;
  p->pos++;
  return true;
}

static bool expect(parser* p, char c, const char* what) {
  if (accept(p, c)) return true;
  return fail_at(p, p->pos, "expected '%c'%s%s, got %s", c, what ? " " : "", what ? what : "",
                 got(p));
}

static bool expect_eol(parser* p) {
  skip_ws(p);
  if (p->pos == p->line_end) return true;
  return fail_at(p, p->pos, "expected end of line, got %s", got(p));
}

static bool word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Length of the run of chars at the cursor accepted by pred. */
static size_t run(const parser* p, bool (*pred)(char)) {
  size_t n = 0;
  while (p->pos + n < p->line_end && pred(p->s[p->pos + n])) n++;
  return n;
}

/* Consumes `w` when it is the next whole word. */
static bool accept_word(parser* p, const char* w) {
  skip_ws(p);
  size_t n = run(p, word_char), wl = strlen(w);
  if (n != wl || memcmp(p->s + p->pos, w, wl) != 0) return false;
  p->pos += n;
  return true;
}

/* ---- numbers ---- */

static bool number_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' ||
         c == '-' || c == '.';
}

static bool number_digit(char c) { return c >= '0' && c <= '9'; }

/* Copies the number token at the cursor into buf; returns its start position. */
static bool number_token(parser* p, char* buf, size_t* start, const char* what) {
  skip_ws(p);
  *start = p->pos;
  size_t n = run(p, number_char);
  if (n == 0) return fail_at(p, p->pos, "expected %s, got %s", what, got(p));
  if (n >= MAX_TOKEN) return fail_at(p, p->pos, "%s is too long", what);
  memcpy(buf, p->s + p->pos, n);
  buf[n] = '\0';
  p->pos += n;
  return true;
}

static bool parse_i64(parser* p, int64_t* out, const char* what) {
  char buf[MAX_TOKEN];
  size_t start;
  if (!number_token(p, buf, &start, what)) return false;
  char* end;
  errno = 0;
  long long v = strtoll(buf, &end, 10);
  if (*end != '\0' || end == buf) return fail_at(p, start, "expected %s, got '%s'", what, buf);
  if (errno == ERANGE) return fail_at(p, start, "%s '%s' is out of range", what, buf);
  *out = (int64_t)v;
  return true;
}

static bool parse_ranged(parser* p, int64_t lo, int64_t hi, int64_t* out, const char* what) {
  size_t start = (skip_ws(p), p->pos);
  if (!parse_i64(p, out, what)) return false;
  if (*out < lo || *out > hi)
    return fail_at(p, start, "%s %" PRId64 " is out of range [%" PRId64 ", %" PRId64 "]", what,
                   *out, lo, hi);
  return true;
}

static bool nonfinite_token(const char* s, double* out) {
  const char* t = s;
  double sign = 1;
  if (*t == '-' || *t == '+') sign = *t++ == '-' ? -1 : 1;
  if (strcmp(t, "inf") == 0) {
    *out = sign * INFINITY;
    return true;
  }
  if (strcmp(t, "nan") == 0) {
    *out = sign < 0 ? -NAN : NAN;
    return true;
  }
  return false;
}

static bool parse_f64(parser* p, double* out, const char* what) {
  char buf[MAX_TOKEN];
  size_t start;
  if (!number_token(p, buf, &start, what)) return false;
  if (nonfinite_token(buf, out)) return true;
  char* end;
  errno = 0;
  double v = strtod(buf, &end);
  if (*end != '\0' || end == buf || isnan(v))
    return fail_at(p, start, "expected %s, got '%s'", what, buf);
  if (isinf(v)) return fail_at(p, start, "%s '%s' is out of range", what, buf);
  *out = v;
  return true;
}

static bool parse_f32(parser* p, float* out, const char* what) {
  char buf[MAX_TOKEN];
  size_t start;
  if (!number_token(p, buf, &start, what)) return false;
  double nf;
  if (nonfinite_token(buf, &nf)) {
    *out = (float)nf;
    return true;
  }
  char* end;
  errno = 0;
  float v = strtof(buf, &end);
  if (*end != '\0' || end == buf || isnan(v))
    return fail_at(p, start, "expected %s, got '%s'", what, buf);
  if (isinf(v)) return fail_at(p, start, "%s '%s' is out of range for f32", what, buf);
  *out = v;
  return true;
}

/* ---- names ---- */

static bool graph_name_char(char c) { return ir_name_char(c) || c == '-'; }

/* '%' NAME; the name is copied into buf (IR_MAX_NAME + 1 bytes). */
static bool parse_value_name(parser* p, char* buf, size_t* start) {
  skip_ws(p);
  *start = p->pos;
  if (!accept(p, '%')) return fail_at(p, p->pos, "expected '%%value', got %s", got(p));
  size_t n = run(p, ir_name_char);
  if (n == 0) return fail_at(p, p->pos, "expected a value name after '%%', got %s", got(p));
  if (n > IR_MAX_NAME)
    return fail_at(p, p->pos, "value name longer than %d bytes", IR_MAX_NAME);
  memcpy(buf, p->s + p->pos, n);
  buf[n] = '\0';
  p->pos += n;
  return true;
}

/* A use of an existing value. */
static bool parse_value_ref(parser* p, xnnd_id* out) {
  char name[IR_MAX_NAME + 1];
  size_t start;
  if (!parse_value_name(p, name, &start)) return false;
  *out = xnnd_graph_find_value(p->g, name);
  if (*out == XNND_NO_ID) return fail_at(p, start, "unknown value %%%s", name);
  return true;
}

/* ---- types ---- */

typedef struct ptype {
  xnnd_dtype dtype;
  uint32_t rank;
  int64_t dims[XNND_MAX_RANK];
  xnnd_layout layout;
  xnnd_quant_scheme scheme;
  float scale;
  int32_t zp;
  int32_t axis;
  uint32_t nq;  /* per-channel entries */
  float* scales;     /* malloc'd, freed by ptype_free */
  int32_t* zps;
  bool symbolic;     /* some dim has a symbol: dimx holds every dim's form */
  xnnd_dimx dimx[XNND_MAX_RANK];
} ptype;

static void ptype_free(ptype* t) {
  free(t->scales);
  free(t->zps);
  t->scales = NULL;
  t->zps = NULL;
}

static bool parse_dtype(parser* p, xnnd_dtype* out) {
  skip_ws(p);
  size_t start = p->pos, n = run(p, word_char);
  for (int d = 0; d < XNND_DTYPE_COUNT; d++) {
    const char* name = xnnd_dtype_name((xnnd_dtype)d);
    if (n == strlen(name) && memcmp(p->s + start, name, n) == 0) {
      p->pos += n;
      *out = (xnnd_dtype)d;
      return true;
    }
  }
  if (n == 0) return fail_at(p, start, "expected a dtype (f32 f16 i8 u8 i32 i64 bool), got %s",
                             got(p));
  return fail_at(p, start, "unknown dtype '%.*s' (expected f32 f16 i8 u8 i32 i64 bool)", (int)n,
                 p->s + start);
}

static bool grow_array(void** arr, uint32_t* cap, uint32_t need, size_t elem) {
  if (need <= *cap) return true;
  uint64_t c = *cap ? *cap : 16;
  while (c < need) c *= 2;
  if (c > UINT32_MAX || c > SIZE_MAX / elem) return false;
  void* q = realloc(*arr, (size_t)c * elem);
  if (!q) return false;
  *arr = q;
  *cap = (uint32_t)c;
  return true;
}

/* qc(AXIS, [S0,...], [Z0,...]) after "qc" */
static bool parse_per_channel(parser* p, ptype* t) {
  int64_t axis;
  uint32_t cap_s = 0, cap_z = 0, ns = 0, nz = 0;
  if (!expect(p, '(', "after qc") ||
      !parse_ranged(p, INT32_MIN, INT32_MAX, &axis, "quantization axis") ||
      !expect(p, ',', "after the axis") || !expect(p, '[', "to open the scale list"))
    return false;
  t->axis = (int32_t)axis;
  if (!accept(p, ']')) {
    do {
      if (ns >= MAX_QUANT_CHANNELS)
        return fail_at(p, p->pos, "more than %u per-channel scales", MAX_QUANT_CHANNELS);
      if (!grow_array((void**)&t->scales, &cap_s, ns + 1, sizeof(float)))
        return fail_at(p, p->pos, "out of memory");
      if (!parse_f32(p, &t->scales[ns++], "a scale")) return false;
    } while (accept(p, ','));
    if (!expect(p, ']', "to close the scale list")) return false;
  }
  if (!expect(p, ',', "after the scale list") || !expect(p, '[', "to open the zero point list"))
    return false;
  size_t zstart = p->pos - 1;
  if (!accept(p, ']')) {
    do {
      int64_t z;
      if (nz >= MAX_QUANT_CHANNELS)
        return fail_at(p, p->pos, "more than %u per-channel zero points", MAX_QUANT_CHANNELS);
      if (!grow_array((void**)&t->zps, &cap_z, nz + 1, sizeof(int32_t)))
        return fail_at(p, p->pos, "out of memory");
      if (!parse_ranged(p, INT32_MIN, INT32_MAX, &z, "a zero point")) return false;
      t->zps[nz++] = (int32_t)z;
    } while (accept(p, ','));
    if (!expect(p, ']', "to close the zero point list")) return false;
  }
  if (ns == 0) return fail_at(p, zstart, "per-channel quantization needs at least one scale");
  if (nz != ns) return fail_at(p, zstart, "expected %u zero points, got %u", ns, nz);
  t->nq = ns;
  t->scheme = XNND_QUANT_PER_CHANNEL;
  return expect(p, ')', "to close qc(...)");
}

/* ---- symbolic dims ---- */

static bool dimx_char(char c) { return word_char(c) || c == '*' || c == '+' || c == '-'; }

/* The token at the cursor is an affine form rather than a plain integer: it has a symbol
 * name or a '*'. Plain integers keep their own parsing and messages. */
static bool symbolic_token(const parser* p) {
  size_t n = run(p, dimx_char);
  for (size_t i = 0; i < n; i++) {
    char c = p->s[p->pos + i];
    if (c == '*' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  }
  return false;
}

/* One affine form over the declared symbols (the cursor is at a symbolic_token). */
static bool parse_form(parser* p, xnnd_dimx* out, const char* what) {
  size_t start = p->pos, n = run(p, dimx_char);
  char msg[160];
  size_t used = xnnd_dimx_parse(p->s + start, n, p->g->syms, p->g->num_syms, out, msg, sizeof msg);
  if (used == 0) return fail_at(p, start, "%s: %s", what, msg);
  p->pos += used;
  if (used < n) return fail_at(p, p->pos, "unexpected '%c' in %s", p->s[p->pos], what);
  if (xnnd_dimx_is_const(out)) return true;
  int64_t lo = xnnd_dimx_lower(out, p->g->syms, p->g->num_syms);
  int64_t hi = xnnd_dimx_upper(out, p->g->syms, p->g->num_syms);
  if (lo < 0)
    return fail_at(p, start, "%s '%.*s' is %" PRId64 " at the symbols' minima (must be >= 0)",
                   what, (int)used, p->s + start, lo);
  if (hi > IR_MAX_DIM)
    return fail_at(p, start, "%s '%.*s' is %" PRId64 " at the symbols' maxima (at most 2^40)",
                   what, (int)used, p->s + start, hi);
  return true;
}

/* sym NAME = MIN..MAX (after "sym") */
static bool stmt_sym(parser* p, size_t kw) {
  if (p->g->num_syms >= XNND_MAX_SYMS)
    return fail_at(p, kw, "more than %d symbols", XNND_MAX_SYMS);
  skip_ws(p);
  size_t start = p->pos, n = run(p, word_char);
  if (n == 0) return fail_at(p, start, "expected a symbol name, got %s", got(p));
  if (n >= XNND_SYM_NAME_SIZE)
    return fail_at(p, start, "symbol name longer than %d bytes", XNND_SYM_NAME_SIZE - 1);
  char name[XNND_SYM_NAME_SIZE];
  memcpy(name, p->s + start, n);
  name[n] = '\0';
  p->pos += n;
  if (name[0] >= '0' && name[0] <= '9')
    return fail_at(p, start, "symbol name '%s' must start with a letter or '_'", name);
  for (uint32_t i = 0; i < p->g->num_syms; i++)
    if (strcmp(p->g->syms[i].name, name) == 0)
      return fail_at(p, start, "duplicate symbol name %s", name);
  if (!expect(p, '=', "after the symbol name")) return false;
  int64_t bound[2];
  for (int b = 0; b < 2; b++) {
    skip_ws(p);
    size_t at = p->pos, digits = run(p, number_digit);
    if (digits == 0)
      return fail_at(p, at, "expected the %s of symbol %s (an integer >= 0), got %s",
                     b ? "maximum" : "minimum", name, got(p));
    int64_t v = 0;
    for (size_t i = 0; i < digits; i++) {
      v = v * 10 + (p->s[at + i] - '0');
      if (v > XNND_DIMX_LIMIT)
        return fail_at(p, at, "%s of symbol %s is out of range [0, 2^40]",
                       b ? "maximum" : "minimum", name);
    }
    p->pos += digits;
    bound[b] = v;
    if (b == 0) {
      if (p->pos + 1 >= p->line_end || p->s[p->pos] != '.' || p->s[p->pos + 1] != '.')
        return fail_at(p, p->pos, "expected '..' between the minimum and maximum of symbol %s, "
                       "got %s", name, got(p));
      p->pos += 2;
    }
  }
  if (bound[0] > bound[1])
    return fail_at(p, start, "symbol %s: range %" PRId64 "..%" PRId64 " is empty", name,
                   bound[0], bound[1]);
  if (!expect_eol(p)) return false;
  if (xnnd_graph_add_symbol(p->g, name, bound[0], bound[1], NULL) != XNND_OK)
    return fail_at(p, start, "%s", p->g->errmsg);
  return true;
}

/* One dim of a type into t->dims[t->rank] (upper bound) and t->dimx[t->rank]. */
static bool parse_dim(parser* p, ptype* t) {
  skip_ws(p);
  xnnd_dimx* x = &t->dimx[t->rank];
  if (symbolic_token(p)) {
    if (!parse_form(p, x, "dimension")) return false;
    if (xnnd_dimx_is_const(x) && (x->c < 0 || x->c > IR_MAX_DIM))
      return fail_at(p, p->pos, "a dimension %" PRId64 " is out of range", x->c);
    t->symbolic |= !xnnd_dimx_is_const(x);
    t->dims[t->rank] = xnnd_dimx_upper(x, p->g->syms, p->g->num_syms);
    return true;
  }
  if (!parse_ranged(p, 0, IR_MAX_DIM, &t->dims[t->rank], "a dimension")) return false;
  *x = xnnd_dimx_const(t->dims[t->rank]);
  return true;
}

/* t must start zeroed (or ptype_free'd); it may own arrays even on failure. */
static bool parse_type(parser* p, ptype* t) {
  if (!parse_dtype(p, &t->dtype) || !expect(p, '[', "to open the dims")) return false;
  size_t start = p->pos;
  if (!accept(p, ']')) {
    do {
      skip_ws(p);
      if (t->rank == XNND_MAX_RANK)
        return fail_at(p, p->pos, "rank exceeds %d", XNND_MAX_RANK);
      if (!parse_dim(p, t)) return false;
      t->rank++;
    } while (accept(p, ','));
    if (!expect(p, ']', "to close the dims")) return false;
  }
  if (!ir_numel(t->dtype, t->rank, t->dims, NULL))
    return fail_at(p, start, "tensor is larger than %" PRIu64 " bytes", (uint64_t)IR_MAX_BYTES);
  if (accept_word(p, "q")) {
    int64_t zp;
    if (!expect(p, '(', "after q") || !parse_f32(p, &t->scale, "a scale") ||
        !expect(p, ',', "after the scale") ||
        !parse_ranged(p, INT32_MIN, INT32_MAX, &zp, "a zero point") ||
        !expect(p, ')', "to close q(...)"))
      return false;
    t->zp = (int32_t)zp;
    t->scheme = XNND_QUANT_PER_TENSOR;
  } else if (accept_word(p, "qc")) {
    if (!parse_per_channel(p, t)) return false;
  }
  if (accept_word(p, "nhwc")) t->layout = XNND_LAYOUT_NHWC;
  return true;
}

/* Creates the value for a declaration; start is the position of its '%'. */
static bool declare(parser* p, const char* name, size_t start, const ptype* t, xnnd_id* out) {
  if (xnnd_graph_find_value(p->g, name) != XNND_NO_ID)
    return fail_at(p, start, "duplicate value name %%%s", name);
  xnnd_id v = xnnd_graph_add_value(p->g, name, t->dtype, t->rank, t->dims);
  if (v == XNND_NO_ID) return fail_at(p, start, "%s", p->g->errmsg);
  p->g->values[v].layout = t->layout;
  if (t->symbolic && xnnd_graph_set_value_dimx(p->g, v, t->dimx) != XNND_OK)
    return fail_at(p, start, "%s", p->g->errmsg);
  xnnd_status st = XNND_OK;
  if (t->scheme == XNND_QUANT_PER_TENSOR)
    st = xnnd_graph_set_quant_per_tensor(p->g, v, t->scale, t->zp);
  else if (t->scheme == XNND_QUANT_PER_CHANNEL)
    st = xnnd_graph_set_quant_per_channel(p->g, v, t->axis, t->scales, t->zps, t->nq);
  if (st != XNND_OK) return fail_at(p, start, "%s", p->g->errmsg);
  *out = v;
  return true;
}

/* ---- statements ---- */

static bool stmt_input(parser* p) {
  char name[IR_MAX_NAME + 1];
  size_t start;
  ptype t = {0};
  xnnd_id v;
  bool ok = parse_value_name(p, name, &start) && expect(p, ':', "after the value name") &&
            parse_type(p, &t) && expect_eol(p) && declare(p, name, start, &t, &v);
  ptype_free(&t);
  if (!ok) return false;
  if (!grow_array((void**)&p->inputs, &p->cap_inputs, p->num_inputs + 1, sizeof(xnnd_id)))
    return fail_at(p, start, "out of memory");
  p->inputs[p->num_inputs++] = v;
  return true;
}

static bool parse_element(parser* p, xnnd_dtype dt, unsigned char* dst) {
  int64_t i;
  float f;
  switch (dt) {
    case XNND_F32:
      if (!parse_f32(p, &f, "a float")) return false;
      memcpy(dst, &f, 4);
      return true;
    case XNND_F16: {
      if (!parse_f32(p, &f, "a float")) return false;
      uint16_t h = ir_float_to_half(f);
      memcpy(dst, &h, 2);
      return true;
    }
    case XNND_I8:
      if (!parse_ranged(p, INT8_MIN, INT8_MAX, &i, "an i8")) return false;
      *dst = (unsigned char)(int8_t)i;
      return true;
    case XNND_U8:
      if (!parse_ranged(p, 0, UINT8_MAX, &i, "a u8")) return false;
      *dst = (unsigned char)i;
      return true;
    case XNND_I32: {
      if (!parse_ranged(p, INT32_MIN, INT32_MAX, &i, "an i32")) return false;
      int32_t x = (int32_t)i;
      memcpy(dst, &x, 4);
      return true;
    }
    case XNND_I64:
      if (!parse_i64(p, &i, "an i64")) return false;
      memcpy(dst, &i, 8);
      return true;
    case XNND_BOOL:
      if (!parse_ranged(p, 0, 1, &i, "a bool (0 or 1)")) return false;
      *dst = (unsigned char)i;
      return true;
    default: return fail_at(p, p->pos, "invalid dtype");
  }
}

static bool hex_char(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool const_from_bundle(parser* p, xnnd_id v, size_t start) {
  size_t n = run(p, hex_char);
  if (n != 16 || (p->pos + n < p->line_end && word_char(p->s[p->pos + n])))
    return fail_at(p, p->pos, "expected 16 hex digits after '#'");
  uint64_t key = 0;
  for (size_t i = 0; i < 16; i++) {
    char c = p->s[p->pos + i];
    key = key << 4 | (uint64_t)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
  }
  p->pos += 16;
  if (!expect_eol(p)) return false;
  const xnnd_ir_value* val = &p->g->values[v];
  if (!p->bundle)
    return fail_at(p, start, "constant #%016" PRIx64 " of %%%s needs a constant bundle", key,
                   val->name);
  const void* data;
  size_t size;
  if (xnnd_const_bundle_get(p->bundle, key, &data, &size) != XNND_OK)
    return fail_at(p, start, "constant #%016" PRIx64 " of %%%s is not in the bundle", key,
                   val->name);
  uint64_t numel;
  ir_numel(val->dtype, val->rank, val->dims, &numel);
  uint64_t want = numel * xnnd_dtype_size(val->dtype);
  if ((uint64_t)size != want)
    return fail_at(p, start, "constant #%016" PRIx64 " has %zu bytes in the bundle, %%%s needs %"
                   PRIu64, key, size, val->name, want);
  if (xnnd_graph_set_constant(p->g, v, data, size) != XNND_OK)
    return fail_at(p, start, "%s", p->g->errmsg);
  p->g->values[v].const_key = key;
  return true;
}

static bool const_inline(parser* p, xnnd_id v) {
  const xnnd_ir_value* val = &p->g->values[v];
  xnnd_dtype dt = val->dtype;
  size_t esize = xnnd_dtype_size(dt);
  uint64_t numel;
  ir_numel(dt, val->rank, val->dims, &numel);
  uint64_t count = 0;
  if (!expect(p, '[', "or '#' to start the constant")) return false;
  if (!accept(p, ']')) {
    do {
      skip_ws(p);
      if (count == numel)
        return fail_at(p, p->pos, "too many elements: %%%s has %" PRIu64, val->name, numel);
      if (count >= (1u << 28))
        return fail_at(p, p->pos, "inline constant longer than 2^28 elements; use the bundle");
      if (!grow_array((void**)&p->cbuf, &p->cap_cbuf, (uint32_t)((count + 1) * esize), 1))
        return fail_at(p, p->pos, "out of memory");
      if (!parse_element(p, dt, p->cbuf + count * esize)) return false;
      count++;
    } while (accept(p, ','));
    if (!expect(p, ']', "to close the constant")) return false;
  }
  if (count != numel)
    return fail_at(p, p->pos - 1, "expected %" PRIu64 " elements for %%%s, got %" PRIu64, numel,
                   val->name, count);
  if (!expect_eol(p)) return false;
  if (xnnd_graph_set_constant(p->g, v, p->cbuf, (size_t)(count * esize)) != XNND_OK)
    return fail_at(p, p->pos, "%s", p->g->errmsg);
  return true;
}

static bool stmt_const(parser* p) {
  char name[IR_MAX_NAME + 1];
  size_t start;
  ptype t = {0};
  xnnd_id v;
  size_t type_at = 0;
  bool ok = parse_value_name(p, name, &start) && expect(p, ':', "after the value name") &&
            (skip_ws(p), type_at = p->pos, parse_type(p, &t));
  if (ok && t.symbolic) ok = fail_at(p, type_at, "constant %%%s must have static dims", name);
  ok = ok && expect(p, '=', "before the constant") && declare(p, name, start, &t, &v);
  ptype_free(&t);
  if (!ok) return false;
  if (accept(p, '#')) return const_from_bundle(p, v, start);
  return const_inline(p, v);
}

/* forms gets every entry of an INTS attribute as a form; *symbolic when one has a symbol. */
static bool parse_attr_value(parser* p, const xnnd_attr_spec* spec, xnnd_attr* a,
                             xnnd_dimx* forms, bool* symbolic) {
  skip_ws(p);
  size_t start = p->pos;
  memset(a, 0, sizeof(*a));
  if (accept_word(p, "none")) {
    if (!spec->optional)
      return fail_at(p, start, "attribute %s is not optional: expected %s, got none", spec->name,
                     spec->kind == XNND_ATTR_INTS ? "an int list" :
                     spec->kind == XNND_ATTR_FLOAT ? "a float" :
                     spec->kind == XNND_ATTR_BOOL ? "true or false" : "an int");
    a->kind = XNND_ATTR_NONE;
    return true;
  }
  a->kind = spec->kind;
  switch (spec->kind) {
    case XNND_ATTR_INT: return parse_i64(p, &a->i, "an int");
    case XNND_ATTR_FLOAT: return parse_f64(p, &a->f, "a float");
    case XNND_ATTR_BOOL:
      if (accept_word(p, "true"))
        a->i = 1;
      else if (!accept_word(p, "false"))
        return fail_at(p, start, "expected true or false for attribute %s, got %s", spec->name,
                       got(p));
      return true;
    case XNND_ATTR_INTS:
      if (!accept(p, '['))
        return fail_at(p, start, "expected an int list '[...]' for attribute %s, got %s",
                       spec->name, got(p));
      if (accept(p, ']')) return true;
      do {
        skip_ws(p);
        if (a->n == XNND_MAX_ATTR_INTS)
          return fail_at(p, p->pos, "attribute %s: list longer than %d", spec->name,
                         XNND_MAX_ATTR_INTS);
        xnnd_dimx* x = &forms[a->n];
        if (symbolic_token(p)) {
          if (!parse_form(p, x, "int list entry")) return false;
          *symbolic |= !xnnd_dimx_is_const(x);
          a->ints[a->n] = xnnd_dimx_upper(x, p->g->syms, p->g->num_syms);
        } else {
          if (!parse_i64(p, &a->ints[a->n], "an int")) return false;
          *x = xnnd_dimx_const(a->ints[a->n]);
        }
        a->n++;
      } while (accept(p, ','));
      return expect(p, ']', "to close the list");
    default: return fail_at(p, start, "attribute %s has an invalid schema kind", spec->name);
  }
}

static bool parse_attrs(parser* p, xnnd_op op, const xnnd_op_info* info, xnnd_attr* attrs,
                        xnnd_dimx forms[XNND_MAX_ATTRS][XNND_MAX_ATTR_INTS], bool* symbolic) {
  bool given[XNND_MAX_ATTRS] = {false};
  for (uint32_t a = 0; a < info->num_attrs; a++) attrs[a] = info->attrs[a].def;
  if (accept(p, '{') && !accept(p, '}')) {
    do {
      skip_ws(p);
      size_t start = p->pos, n = run(p, word_char);
      if (n == 0) return fail_at(p, start, "expected an attribute name, got %s", got(p));
      char name[MAX_TOKEN];
      if (n >= sizeof name) return fail_at(p, start, "attribute name too long");
      memcpy(name, p->s + start, n);
      name[n] = '\0';
      p->pos += n;
      int idx = xnnd_op_attr_index(op, name);
      if (idx < 0) return fail_at(p, start, "%s has no attribute '%s'", info->name, name);
      if (given[idx]) return fail_at(p, start, "attribute %s given twice", name);
      given[idx] = true;
      if (!expect(p, '=', "after the attribute name") ||
          !parse_attr_value(p, &info->attrs[idx], &attrs[idx], forms[idx], &symbolic[idx]))
        return false;
    } while (accept(p, ','));
    if (!expect(p, '}', "to close the attributes")) return false;
  }
  for (uint32_t a = 0; a < info->num_attrs; a++) {
    const xnnd_attr_spec* spec = &info->attrs[a];
    if (!given[a] && !spec->optional && spec->def.kind == XNND_ATTR_NONE)
      return fail_at(p, p->pos, "missing attribute %s of %s", spec->name, info->name);
  }
  return true;
}

static bool op_name_char(char c) { return ir_name_char(c); }

static bool stmt_node(parser* p) {
  char names[3][IR_MAX_NAME + 1];
  size_t name_pos[3];
  ptype types[3] = {{0}};
  uint32_t n_out = 0;
  bool ok = false;
  do {
    if (n_out == 3) {
      skip_ws(p);
      fail_at(p, p->pos, "a node has at most 3 outputs");
      goto out;
    }
    ptype* t = &types[n_out++];
    if (!parse_value_name(p, names[n_out - 1], &name_pos[n_out - 1]) ||
        !expect(p, ':', "after the value name") || !parse_type(p, t))
      goto out;
  } while (accept(p, ','));
  if (!expect(p, '=', "after the outputs")) goto out;
  skip_ws(p);
  size_t op_pos = p->pos, n = run(p, op_name_char);
  if (n == 0) {
    fail_at(p, op_pos, "expected an op name, got %s", got(p));
    goto out;
  }
  char opname[MAX_TOKEN];
  if (n >= sizeof opname) {
    fail_at(p, op_pos, "op name too long");
    goto out;
  }
  memcpy(opname, p->s + op_pos, n);
  opname[n] = '\0';
  p->pos += n;
  xnnd_op op = xnnd_op_lookup(opname);
  if (op == XNND_OP_COUNT) {
    fail_at(p, op_pos, "unknown op '%s'", opname);
    goto out;
  }
  const xnnd_op_info* info = xnnd_op_get(op);
  if (n_out != info->num_outputs) {
    fail_at(p, op_pos, "%s has %u output%s, got %u", opname, info->num_outputs,
            info->num_outputs == 1 ? "" : "s", n_out);
    goto out;
  }
  xnnd_id args[256];
  size_t arg_pos[256];
  uint32_t n_in = 0;
  if (!expect(p, '(', "after the op name")) goto out;
  size_t paren = p->pos - 1;
  if (!accept(p, ')')) {
    do {
      skip_ws(p);
      if (n_in == 255) {
        fail_at(p, p->pos, "more than 255 inputs");
        goto out;
      }
      arg_pos[n_in] = p->pos;
      if (accept(p, '_')) {
        args[n_in++] = XNND_NO_ID;
        continue;
      }
      if (!peek(p, '%')) {
        fail_at(p, p->pos, "expected '%%value' or '_', got %s", got(p));
        goto out;
      }
      if (!parse_value_ref(p, &args[n_in])) goto out;
      n_in++;
    } while (accept(p, ','));
    if (!expect(p, ')', "to close the inputs")) goto out;
  }
  if (n_in < info->min_inputs || n_in > info->max_inputs) {
    if (info->min_inputs == info->max_inputs)
      fail_at(p, paren, "%s takes %u inputs, got %u", opname, info->min_inputs, n_in);
    else
      fail_at(p, paren, "%s takes %u to %u inputs, got %u", opname, info->min_inputs,
              info->max_inputs, n_in);
    goto out;
  }
  for (uint32_t i = 0; i < n_in; i++)
    if (args[i] == XNND_NO_ID && !(i < 32 && (info->optional_inputs >> i & 1u))) {
      fail_at(p, arg_pos[i], "input %u of %s is not optional", i, opname);
      goto out;
    }
  xnnd_attr attrs[XNND_MAX_ATTRS];
  xnnd_dimx forms[XNND_MAX_ATTRS][XNND_MAX_ATTR_INTS];
  bool sym_attr[XNND_MAX_ATTRS] = {false};
  size_t attrs_at = (skip_ws(p), p->pos);
  if (!parse_attrs(p, op, info, attrs, forms, sym_attr)) goto out;
  float out_min = -INFINITY, out_max = INFINITY;
  if (accept_word(p, "clamp") &&
      !(expect(p, '(', "after clamp") && parse_f32(p, &out_min, "an output minimum") &&
        expect(p, ',', "after the output minimum") &&
        parse_f32(p, &out_max, "an output maximum") && expect(p, ')', "to close clamp(...)")))
    goto out;
  if (!expect_eol(p)) goto out;
  xnnd_id outs[3];
  for (uint32_t k = 0; k < n_out; k++)
    if (!declare(p, names[k], name_pos[k], &types[k], &outs[k])) goto out;
  xnnd_id id = xnnd_graph_add_node(p->g, op, args, n_in, outs, n_out);
  if (id == XNND_NO_ID) {
    fail_at(p, op_pos, "%s", p->g->errmsg);
    goto out;
  }
  for (uint32_t a = 0; a < info->num_attrs; a++) {
    p->g->nodes[id].attrs[a] = attrs[a];
    if (sym_attr[a] && xnnd_graph_set_attr_dimx(p->g, id, a, forms[a]) != XNND_OK) {
      fail_at(p, attrs_at, "%s", p->g->errmsg);
      goto out;
    }
  }
  p->g->nodes[id].output_min = out_min;
  p->g->nodes[id].output_max = out_max;
  ok = true;
out:
  for (uint32_t k = 0; k < 3; k++) ptype_free(&types[k]);
  return ok;
}

static bool stmt_output(parser* p) {
  skip_ws(p);
  if (p->pos == p->line_end) return true;  /* no outputs */
  do {
    xnnd_id v;
    if (!parse_value_ref(p, &v)) return false;
    if (!grow_array((void**)&p->outputs, &p->cap_outputs, p->num_outputs + 1, sizeof(xnnd_id)))
      return fail_at(p, p->pos, "out of memory");
    p->outputs[p->num_outputs++] = v;
  } while (accept(p, ','));
  return expect_eol(p);
}

static bool parse_graph(parser* p) {
  if (!next_line(p)) return fail_at(p, p->pos, "expected 'graph', got end of input");
  if (!accept_word(p, "graph")) return fail_at(p, p->pos, "expected 'graph', got %s", got(p));
  skip_ws(p);
  size_t start = p->pos, n = run(p, graph_name_char);
  if (n == 0) return fail_at(p, start, "expected a graph name, got %s", got(p));
  char name[sizeof(((xnnd_graph*)0)->name)];
  if (n >= sizeof name)
    return fail_at(p, start, "graph name longer than %zu bytes", sizeof name - 1);
  memcpy(name, p->s + start, n);
  name[n] = '\0';
  p->pos += n;
  if (!expect(p, '{', "after the graph name") || !expect_eol(p)) return false;
  if (xnnd_graph_create(name, &p->g) != XNND_OK) return fail_at(p, start, "out of memory");
  bool have_output = false, have_stmt = false;
  for (;;) {
    if (!next_line(p))
      return fail_at(p, p->pos, "expected '}' to close graph %s, got end of input", name);
    if (peek(p, '}')) {
      if (!have_output) return fail_at(p, p->pos, "missing output line before '}'");
      p->pos++;
      if (!expect_eol(p)) return false;
      break;
    }
    if (have_output) return fail_at(p, p->pos, "expected '}' after the output line, got %s",
                                    got(p));
    size_t kw = (skip_ws(p), p->pos);
    if (accept_word(p, "sym")) {
      if (have_stmt)
        return fail_at(p, kw, "'sym' lines must come before inputs, constants and nodes");
      if (!stmt_sym(p, kw)) return false;
      continue;
    }
    have_stmt = true;
    if (accept_word(p, "input")) {
      if (!stmt_input(p)) return false;
    } else if (accept_word(p, "const")) {
      if (!stmt_const(p)) return false;
    } else if (accept_word(p, "output")) {
      if (!stmt_output(p)) return false;
      have_output = true;
    } else if (peek(p, '%')) {
      if (!stmt_node(p)) return false;
    } else {
      return fail_at(p, p->pos, "expected 'sym', 'input', 'const', '%%value', 'output' or '}', "
                     "got %s", got(p));
    }
  }
  if (next_line(p)) return fail_at(p, p->pos, "unexpected text after the closing '}'");
  if (xnnd_graph_set_inputs(p->g, p->inputs, p->num_inputs) != XNND_OK ||
      xnnd_graph_set_outputs(p->g, p->outputs, p->num_outputs) != XNND_OK)
    return fail_at(p, p->pos, "%s", p->g->errmsg);
  return true;
}

xnnd_status xnnd_graph_parse(const char* text, size_t len, const xnnd_const_bundle* bundle,
                             xnnd_graph** graph_out, xnnd_error* err) {
  if (err) {
    err->status = XNND_OK;
    err->message[0] = '\0';
  }
  if (!graph_out || (!text && len)) {
    if (err) {
      err->status = XNND_INVALID_ARGUMENT;
      snprintf(err->message, sizeof err->message, "graph_parse: NULL argument");
    }
    return XNND_INVALID_ARGUMENT;
  }
  *graph_out = NULL;
  parser p = {.s = text ? text : "", .len = len, .bundle = bundle, .err = err};
  bool ok = parse_graph(&p);
  free(p.inputs);
  free(p.outputs);
  free(p.cbuf);
  if (!ok) {
    xnnd_graph_destroy(p.g);
    return XNND_PARSE_ERROR;
  }
  *graph_out = p.g;
  return XNND_OK;
}
