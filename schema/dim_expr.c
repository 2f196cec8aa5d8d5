/* Affine symbolic dims: see dim_expr.h. */
#include "dim_expr.h"

#include <stdio.h>
#include <string.h>

xnnd_dimx xnnd_dimx_const(int64_t d) {
  xnnd_dimx x;
  memset(&x, 0, sizeof x);
  x.c = d;
  return x;
}

xnnd_dimx xnnd_dimx_sym(uint32_t s, int64_t k) {
  xnnd_dimx x;
  memset(&x, 0, sizeof x);
  if (s < XNND_MAX_SYMS) x.k[s] = k;
  return x;
}

bool xnnd_dimx_is_const(const xnnd_dimx* x) {
  for (uint32_t i = 0; i < XNND_MAX_SYMS; i++)
    if (x->k[i] != 0) return false;
  return true;
}

bool xnnd_dimx_equal(const xnnd_dimx* a, const xnnd_dimx* b) {
  if (a->c != b->c) return false;
  for (uint32_t i = 0; i < XNND_MAX_SYMS; i++)
    if (a->k[i] != b->k[i]) return false;
  return true;
}

int xnnd_dimx_single_symbol(const xnnd_dimx* x) {
  int found = -1;
  for (uint32_t i = 0; i < XNND_MAX_SYMS; i++) {
    if (x->k[i] == 0) continue;
    if (found >= 0) return -1;
    found = (int)i;
  }
  return found;
}

int64_t xnnd_dimx_eval(const xnnd_dimx* x, const int64_t* syms, uint32_t n) {
  int64_t v = x->c;
  for (uint32_t i = 0; i < n && i < XNND_MAX_SYMS; i++) v += x->k[i] * syms[i];
  return v;
}

int64_t xnnd_dimx_upper(const xnnd_dimx* x, const xnnd_symbol* syms, uint32_t n) {
  int64_t v = x->c;
  for (uint32_t i = 0; i < n && i < XNND_MAX_SYMS; i++) v += x->k[i] * syms[i].max;
  return v;
}

int64_t xnnd_dimx_lower(const xnnd_dimx* x, const xnnd_symbol* syms, uint32_t n) {
  int64_t v = x->c;
  for (uint32_t i = 0; i < n && i < XNND_MAX_SYMS; i++) v += x->k[i] * syms[i].min;
  return v;
}

bool xnnd_dimx_check(const xnnd_dimx* x, uint32_t n) {
  if (x->c < -XNND_DIMX_LIMIT || x->c > XNND_DIMX_LIMIT) return false;
  for (uint32_t i = 0; i < XNND_MAX_SYMS; i++) {
    if (x->k[i] < 0 || x->k[i] > XNND_DIMX_LIMIT) return false;
    if (i >= n && x->k[i] != 0) return false;
  }
  return true;
}

static bool name_char(char ch, bool first) {
  if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_') return true;
  return !first && ch >= '0' && ch <= '9';
}

bool xnnd_symbol_check(const xnnd_symbol* s) {
  size_t len = strnlen(s->name, XNND_SYM_NAME_SIZE);
  if (len == 0 || len == XNND_SYM_NAME_SIZE) return false;
  for (size_t i = 0; i < len; i++)
    if (!name_char(s->name[i], i == 0)) return false;
  return s->min >= 0 && s->min <= s->max && s->max <= XNND_DIMX_LIMIT;
}

/* Appends to buf like snprintf, tracking the total length. */
static void put(char* buf, size_t size, size_t* len, const char* fmt, long long a, const char* s) {
  char tmp[96];
  int w = s ? snprintf(tmp, sizeof tmp, fmt, a, s) : snprintf(tmp, sizeof tmp, fmt, a);
  if (w < 0) return;
  if (*len < size) {
    size_t room = size - *len;
    memcpy(buf + *len, tmp, (size_t)w < room ? (size_t)w : room - 1);
    buf[(size_t)w < room ? *len + (size_t)w : size - 1] = '\0';
  }
  *len += (size_t)w;
}

size_t xnnd_dimx_print(char* buf, size_t size, const xnnd_dimx* x, const xnnd_symbol* syms,
                       uint32_t n) {
  size_t len = 0;
  if (size > 0) buf[0] = '\0';
  bool any = false;
  for (uint32_t i = 0; i < n && i < XNND_MAX_SYMS; i++) {
    if (x->k[i] == 0) continue;
    const char* name = syms[i].name;
    if (x->k[i] == 1)
      put(buf, size, &len, any ? "+%.0lld%s" : "%.0lld%s", 0, name);
    else
      put(buf, size, &len, any ? "+%lld*%s" : "%lld*%s", (long long)x->k[i], name);
    any = true;
  }
  if (!any)
    put(buf, size, &len, "%lld", (long long)x->c, NULL);
  else if (x->c > 0)
    put(buf, size, &len, "+%lld", (long long)x->c, NULL);
  else if (x->c < 0)
    put(buf, size, &len, "%lld", (long long)x->c, NULL);
  return len;
}

/* Error messages quote at most this much of the dim text. */
#define QUOTE_MAX 48

static size_t parse_fail(char* err, size_t err_size, const char* what, const char* name,
                         size_t name_len, const char* s, size_t len) {
  if (!err || !err_size) return 0;
  int q = (int)(len < QUOTE_MAX ? len : QUOTE_MAX);
  if (name)
    snprintf(err, err_size, "%s '%.*s' in dim '%.*s%s'", what, (int)name_len, name, q, s,
             len > QUOTE_MAX ? "..." : "");
  else
    snprintf(err, err_size, "%s in dim '%.*s%s'", what, q, s, len > QUOTE_MAX ? "..." : "");
  return 0;
}

/* One unsigned integer at s; 0 characters (and *out untouched) when none. *big when it exceeds the limit (the
 * digits are still consumed). */
static size_t parse_int(const char* s, size_t len, int64_t* out, bool* big) {
  size_t i = 0;
  int64_t v = 0;
  while (i < len && s[i] >= '0' && s[i] <= '9') {
    if (v <= XNND_DIMX_LIMIT) v = v * 10 + (s[i] - '0');
    i++;
  }
  if (i == 0) return 0;  /* *out keeps its default (a bare symbol's coefficient 1) */
  if (v > XNND_DIMX_LIMIT) *big = true;
  *out = v;
  return i;
}

/* One symbol name at s: its index, -1 when there is no name, -2 when it is not declared;
 * *used = characters of the name. */
static int parse_name(const char* s, size_t len, const xnnd_symbol* syms, uint32_t n,
                      size_t* used) {
  size_t i = 0;
  while (i < len && name_char(s[i], i == 0)) i++;
  *used = i;
  if (i == 0) return -1;
  for (uint32_t k = 0; k < n && k < XNND_MAX_SYMS; k++)
    if (strnlen(syms[k].name, XNND_SYM_NAME_SIZE) == i && memcmp(syms[k].name, s, i) == 0)
      return (int)k;
  return -2;
}

size_t xnnd_dimx_parse(const char* s, size_t len, const xnnd_symbol* syms, uint32_t n,
                       xnnd_dimx* out, char* err, size_t err_size) {
  xnnd_dimx x = xnnd_dimx_const(0);
  size_t i = 0;
  bool first = true, big = false;
  if (n > XNND_MAX_SYMS) n = XNND_MAX_SYMS;
  for (;;) {
    int sign = 1;
    if (!first) {
      if (i >= len || (s[i] != '+' && s[i] != '-')) break;
      sign = s[i] == '-' ? -1 : 1;
      i++;
    } else if (i < len && s[i] == '-') {
      sign = -1;
      i++;
    }
    first = false;
    int64_t k = 1;
    size_t used = parse_int(s + i, len - i, &k, &big);
    bool have_int = used > 0;
    if (!have_int) k = 1;  /* parse_int wrote 0: a bare NAME has coefficient 1 */
    i += used;
    int sym = -1;
    size_t name_at = i;
    if (have_int && i < len && s[i] == '*') {
      i++;
      name_at = i;
      sym = parse_name(s + i, len - i, syms, n, &used);
      if (sym == -1)
        return parse_fail(err, err_size, "expected a symbol after '*'", NULL, 0, s, len);
      if (sym < 0)
        return parse_fail(err, err_size, "unknown symbol", s + name_at, used, s, len);
      i += used;
    } else if (!have_int) {
      sym = parse_name(s + i, len - i, syms, n, &used);
      if (sym == -1) return parse_fail(err, err_size, "expected a dim", NULL, 0, s, len);
      if (sym < 0)
        return parse_fail(err, err_size, "unknown symbol", s + name_at, used, s, len);
      i += used;
      if (i < len && s[i] == '*') {
        i++;
        used = parse_int(s + i, len - i, &k, &big);
        if (used == 0)
          return parse_fail(err, err_size, "expected a coefficient after '*'", NULL, 0, s, len);
        i += used;
      }
    }
    if (big) return parse_fail(err, err_size, "number out of range", NULL, 0, s, len);
    if (sym < 0) {
      x.c += sign * k;
    } else {
      if (sign < 0)
        return parse_fail(err, err_size, "negative coefficient of", syms[sym].name,
                          strnlen(syms[sym].name, XNND_SYM_NAME_SIZE), s, len);
      x.k[sym] += k;
      if (x.k[sym] > XNND_DIMX_LIMIT)
        return parse_fail(err, err_size, "coefficient out of range", NULL, 0, s, len);
    }
    if (x.c < -XNND_DIMX_LIMIT || x.c > XNND_DIMX_LIMIT)
      return parse_fail(err, err_size, "constant out of range", NULL, 0, s, len);
  }
  if (!xnnd_dimx_check(&x, n))
    return parse_fail(err, err_size, "dim out of range", NULL, 0, s, len);
  *out = x;
  return i;
}

void xnnd_dimx_encode(const xnnd_dimx* x, uint32_t n_dims, uint32_t n_syms, int64_t* out) {
  for (uint32_t d = 0; d < n_dims; d++) {
    int64_t* o = out + (size_t)d * (1 + n_syms);
    o[0] = x[d].c;
    for (uint32_t s = 0; s < n_syms; s++) o[1 + s] = x[d].k[s];
  }
}

bool xnnd_dimx_decode(const int64_t* in, uint32_t n_dims, uint32_t n_syms, xnnd_dimx* out) {
  if (n_syms > XNND_MAX_SYMS) return false;
  for (uint32_t d = 0; d < n_dims; d++) {
    const int64_t* p = in + (size_t)d * (1 + n_syms);
    xnnd_dimx x = xnnd_dimx_const(p[0]);
    for (uint32_t s = 0; s < n_syms; s++) x.k[s] = p[1 + s];
    if (!xnnd_dimx_check(&x, n_syms)) return false;
    out[d] = x;
  }
  return true;
}
