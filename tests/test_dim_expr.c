/* Symbolic dims (schema/dim_expr.c): canonical print and parse round trips, parse errors and
 * where parsing stops, the wire encode/decode, the invariants check, symbol checks, and the
 * upper/lower bounds and evaluation. */
#include <stdio.h>
#include <string.h>

#include "dim_expr.h"
#include "test_support.h"

#define assert_contains(hay, needle)                                              \
  do {                                                                            \
    const char* hay_ = (hay);                                                     \
    if (!strstr(hay_, (needle))) fail_msg("\"%s\"\n  does not contain \"%s\"", hay_, (needle)); \
  } while (0)

static xnnd_symbol sym(const char* name, int64_t min, int64_t max) {
  xnnd_symbol s;
  memset(&s, 0, sizeof s);
  snprintf(s.name, sizeof s.name, "%s", name);
  s.min = min;
  s.max = max;
  return s;
}

/* Three symbols: s0 in 1..8, s1 in 2..16, h in 5..8. */
static const xnnd_symbol* syms3(void) {
  static xnnd_symbol s[3];
  s[0] = sym("s0", 1, 8);
  s[1] = sym("s1", 2, 16);
  s[2] = sym("h", 5, 8);
  return s;
}

static xnnd_dimx form(int64_t c, int64_t k0, int64_t k1, int64_t k2) {
  xnnd_dimx x = xnnd_dimx_const(c);
  x.k[0] = k0;
  x.k[1] = k1;
  x.k[2] = k2;
  return x;
}

static void expect_print(xnnd_dimx x, const char* want) {
  char buf[128];
  size_t n = xnnd_dimx_print(buf, sizeof buf, &x, syms3(), 3);
  assert_string_equal(buf, want);
  assert_int_equal(n, strlen(want));
}

/* Parses all of text; checks the form and that printing gives `canon` back. */
static void expect_parse(const char* text, xnnd_dimx want, const char* canon) {
  xnnd_dimx got;
  char err[128] = "";
  size_t n = xnnd_dimx_parse(text, strlen(text), syms3(), 3, &got, err, sizeof err);
  if (n != strlen(text)) fail_msg("parse of '%s' consumed %zu: %s", text, n, err);
  if (!xnnd_dimx_equal(&got, &want)) fail_msg("parse of '%s' gave another form", text);
  expect_print(got, canon);
}

static void expect_parse_error(const char* text, const char* what) {
  xnnd_dimx got = xnnd_dimx_const(12345);
  char err[128] = "";
  size_t n = xnnd_dimx_parse(text, strlen(text), syms3(), 3, &got, err, sizeof err);
  if (n != 0) fail_msg("parse of '%s' should fail, consumed %zu", text, n);
  assert_contains(err, what);
  assert_int_equal(got.c, 12345);  /* out untouched on error */
}

static void test_print(void** state) {
  (void)state;
  expect_print(xnnd_dimx_const(7), "7");
  expect_print(xnnd_dimx_const(0), "0");
  expect_print(xnnd_dimx_sym(0, 1), "s0");
  expect_print(xnnd_dimx_sym(0, 2), "2*s0");
  expect_print(form(1, 0, 0, 32), "32*h+1");
  expect_print(form(-1, 1, 0, 0), "s0-1");
  expect_print(form(0, 1, 1, 0), "s0+s1");
  expect_print(form(3, 2, 1, 0), "2*s0+s1+3");
  expect_print(form(-5, 0, 3, 1), "3*s1+h-5");
  /* truncation: snprintf-like length, always NUL-terminated */
  char small[5];
  xnnd_dimx x = form(3, 2, 1, 0);
  assert_int_equal(xnnd_dimx_print(small, sizeof small, &x, syms3(), 3), strlen("2*s0+s1+3"));
  assert_string_equal(small, "2*s0");
  assert_int_equal(xnnd_dimx_print(NULL, 0, &x, syms3(), 3), strlen("2*s0+s1+3"));
  char one[1] = {'x'};
  xnnd_dimx_print(one, 1, &x, syms3(), 3);
  assert_int_equal(one[0], '\0');
}

static void test_parse_round_trip(void** state) {
  (void)state;
  expect_parse("7", xnnd_dimx_const(7), "7");
  expect_parse("-1", xnnd_dimx_const(-1), "-1");
  expect_parse("s0", xnnd_dimx_sym(0, 1), "s0");
  expect_parse("2*s0", xnnd_dimx_sym(0, 2), "2*s0");
  expect_parse("s0*2", xnnd_dimx_sym(0, 2), "2*s0");
  expect_parse("s0-1", form(-1, 1, 0, 0), "s0-1");
  expect_parse("2*s0+s1+3", form(3, 2, 1, 0), "2*s0+s1+3");
  expect_parse("3+s1+2*s0", form(3, 2, 1, 0), "2*s0+s1+3");
  expect_parse("32*h+1", form(1, 0, 0, 32), "32*h+1");
  expect_parse("s0+s0", xnnd_dimx_sym(0, 2), "2*s0");
  expect_parse("s0+1-1", xnnd_dimx_sym(0, 1), "s0");
  expect_parse("0*s0+4", xnnd_dimx_const(4), "4");
  expect_parse("-3+h", form(-3, 0, 0, 1), "h-3");
  /* every printed form parses back to itself */
  for (int64_t c = -3; c <= 3; c++)
    for (int64_t k0 = 0; k0 <= 2; k0++)
      for (int64_t k2 = 0; k2 <= 33; k2 += 11) {
        xnnd_dimx x = form(c, k0, 1, k2), y;
        char buf[128], err[128];
        size_t n = xnnd_dimx_print(buf, sizeof buf, &x, syms3(), 3);
        assert_int_equal(xnnd_dimx_parse(buf, n, syms3(), 3, &y, err, sizeof err), n);
        assert_true(xnnd_dimx_equal(&x, &y));
      }
}

static void test_parse_stops(void** state) {
  (void)state;
  xnnd_dimx x;
  char err[128];
  /* stops at the first character that cannot continue the form: callers check the rest */
  const char* s = "s0-1,3]";
  assert_int_equal(xnnd_dimx_parse(s, strlen(s), syms3(), 3, &x, err, sizeof err), 4);
  assert_true(xnnd_dimx_equal(&x, &(xnnd_dimx){.c = -1, .k = {1}}));
  s = "2*s0]";
  assert_int_equal(xnnd_dimx_parse(s, strlen(s), syms3(), 3, &x, err, sizeof err), 4);
  s = "3s0";  /* a number then garbage: consumed 1, the caller reports 's' */
  assert_int_equal(xnnd_dimx_parse(s, strlen(s), syms3(), 3, &x, err, sizeof err), 1);
  assert_int_equal(x.c, 3);
  s = "s0 + 1";
  assert_int_equal(xnnd_dimx_parse(s, strlen(s), syms3(), 3, &x, err, sizeof err), 2);
  s = "s0*2*3";
  assert_int_equal(xnnd_dimx_parse(s, strlen(s), syms3(), 3, &x, err, sizeof err), 4);
  /* len bounds the read: "s0" of "s01" */
  s = "s01";
  assert_int_equal(xnnd_dimx_parse(s, 2, syms3(), 3, &x, err, sizeof err), 2);
  assert_true(xnnd_dimx_equal(&x, &(xnnd_dimx){.k = {1}}));
}

static void test_parse_errors(void** state) {
  (void)state;
  expect_parse_error("", "expected a dim");
  expect_parse_error("]", "expected a dim");
  expect_parse_error("t", "unknown symbol 't'");
  expect_parse_error("s01", "unknown symbol 's01'");
  expect_parse_error("2*t+1", "unknown symbol 't'");
  expect_parse_error("2*", "expected a symbol after '*'");
  expect_parse_error("2*]", "expected a symbol after '*'");
  expect_parse_error("s0*", "expected a coefficient after '*'");
  expect_parse_error("s0*x", "expected a coefficient after '*'");
  expect_parse_error("-s0", "negative coefficient");
  expect_parse_error("4-s1", "negative coefficient");
  expect_parse_error("s0+", "expected a dim");
  expect_parse_error("s0--1", "expected a dim");
  expect_parse_error("+3", "expected a dim");
  expect_parse_error("99999999999999999999", "out of range");
  expect_parse_error("1099511627777", "out of range");        /* 2^40 + 1 */
  expect_parse_error("1099511627777*s0", "out of range");
  expect_parse_error("s0*1099511627777", "out of range");
  expect_parse_error("1099511627776*s0+1099511627776*s0", "out of range");
  /* a long sum must not overflow before the range check */
  static char big[18 * 20000 + 1];
  size_t len = 0;
  for (int i = 0; i < 20000; i++) len += (size_t)sprintf(big + len, "%s1000000000000", i ? "+" : "");
  expect_parse_error(big, "out of range");
  len = 0;
  for (int i = 0; i < 20000; i++)
    len += (size_t)sprintf(big + len, "%s1000000000000*s0", i ? "+" : "");
  expect_parse_error(big, "out of range");
  /* no symbols declared */
  xnnd_dimx x;
  char err[128] = "";
  assert_int_equal(xnnd_dimx_parse("s0", 2, NULL, 0, &x, err, sizeof err), 0);
  assert_contains(err, "unknown symbol 's0'");
  assert_int_equal(xnnd_dimx_parse("12", 2, NULL, 0, &x, NULL, 0), 2);
  assert_int_equal(x.c, 12);
  /* the limits themselves are fine */
  expect_parse("1099511627776", xnnd_dimx_const(XNND_DIMX_LIMIT), "1099511627776");
  expect_parse("-1099511627776", xnnd_dimx_const(-XNND_DIMX_LIMIT), "-1099511627776");
  expect_parse("1099511627776*s0", xnnd_dimx_sym(0, XNND_DIMX_LIMIT), "1099511627776*s0");
}

static void test_encode_decode(void** state) {
  (void)state;
  xnnd_dimx in[3] = {form(-1, 1, 0, 0), xnnd_dimx_const(3), form(1, 0, 2, 32)}, out[3];
  int64_t wire[3 * 4];
  xnnd_dimx_encode(in, 3, 3, wire);
  const int64_t want[12] = {-1, 1, 0, 0, 3, 0, 0, 0, 1, 0, 2, 32};
  assert_memory_equal(wire, want, sizeof want);
  memset(out, 0x55, sizeof out);
  assert_true(xnnd_dimx_decode(wire, 3, 3, out));
  for (int i = 0; i < 3; i++) assert_true(xnnd_dimx_equal(&in[i], &out[i]));
  /* one symbol: 2 longs per dim */
  xnnd_dimx one[2] = {xnnd_dimx_sym(0, 4), xnnd_dimx_const(9)}, back[2];
  int64_t w1[4];
  xnnd_dimx_encode(one, 2, 1, w1);
  assert_int_equal(w1[0], 0);
  assert_int_equal(w1[1], 4);
  assert_int_equal(w1[2], 9);
  assert_int_equal(w1[3], 0);
  assert_true(xnnd_dimx_decode(w1, 2, 1, back));
  assert_true(xnnd_dimx_equal(&back[0], &one[0]));
  assert_true(xnnd_dimx_equal(&back[1], &one[1]));
  /* zero symbols: just constants */
  int64_t w0[2] = {5, 6};
  assert_true(xnnd_dimx_decode(w0, 2, 0, back));
  assert_int_equal(back[0].c, 5);
  assert_true(xnnd_dimx_is_const(&back[1]));
  /* violations */
  int64_t neg[4] = {0, -1, 0, 0};
  assert_false(xnnd_dimx_decode(neg, 1, 3, out));
  int64_t bigk[2] = {0, XNND_DIMX_LIMIT + 1};
  assert_false(xnnd_dimx_decode(bigk, 1, 1, out));
  int64_t bigc[2] = {-XNND_DIMX_LIMIT - 1, 0};
  assert_false(xnnd_dimx_decode(bigc, 1, 1, out));
  int64_t ok_then_bad[4] = {1, 1, 0, -2};
  assert_false(xnnd_dimx_decode(ok_then_bad, 2, 1, out));
  assert_false(xnnd_dimx_decode(w0, 1, XNND_MAX_SYMS + 1, out));
  int64_t four[5] = {1, 1, 2, 3, 4};
  assert_true(xnnd_dimx_decode(four, 1, 4, out));
  assert_int_equal(out[0].k[3], 4);
}

static void test_check_and_bounds(void** state) {
  (void)state;
  xnnd_dimx x = form(-1, 1, 0, 0);
  assert_true(xnnd_dimx_check(&x, 1));
  assert_true(xnnd_dimx_check(&x, 3));
  assert_false(xnnd_dimx_check(&x, 0));  /* coefficient of a symbol beyond n */
  x = form(0, 0, -1, 0);
  assert_false(xnnd_dimx_check(&x, 3));
  x = xnnd_dimx_const(XNND_DIMX_LIMIT + 1);
  assert_false(xnnd_dimx_check(&x, 0));
  x = xnnd_dimx_const(-XNND_DIMX_LIMIT);
  assert_true(xnnd_dimx_check(&x, 0));
  x = xnnd_dimx_sym(3, 1);
  assert_false(xnnd_dimx_check(&x, 3));
  assert_true(xnnd_dimx_check(&x, 4));

  const xnnd_symbol* s = syms3();
  x = form(3, 2, 1, 0);  /* 2*s0+s1+3 */
  assert_int_equal(xnnd_dimx_upper(&x, s, 3), 2 * 8 + 16 + 3);
  assert_int_equal(xnnd_dimx_lower(&x, s, 3), 2 * 1 + 2 + 3);
  x = form(-1, 1, 0, 0);
  assert_int_equal(xnnd_dimx_lower(&x, s, 3), 0);
  x = form(-2, 1, 0, 0);
  assert_int_equal(xnnd_dimx_lower(&x, s, 3), -1);  /* the caller rejects it */
  x = form(1, 0, 0, 32);
  int64_t at[3] = {4, 10, 6};
  assert_int_equal(xnnd_dimx_eval(&x, at, 3), 193);
  assert_int_equal(xnnd_dimx_eval(&x, at, 2), 1);  /* symbols past n count as 0 */
  x = xnnd_dimx_const(5);
  assert_int_equal(xnnd_dimx_upper(&x, s, 3), 5);
  assert_int_equal(xnnd_dimx_lower(&x, NULL, 0), 5);

  assert_true(xnnd_dimx_is_const(&x));
  x = xnnd_dimx_sym(1, 3);
  assert_false(xnnd_dimx_is_const(&x));
  assert_int_equal(xnnd_dimx_single_symbol(&x), 1);
  x = form(1, 1, 1, 0);
  assert_int_equal(xnnd_dimx_single_symbol(&x), -1);
  x = xnnd_dimx_const(1);
  assert_int_equal(xnnd_dimx_single_symbol(&x), -1);
  assert_int_equal(xnnd_dimx_sym(XNND_MAX_SYMS, 1).k[0], 0);  /* out of range symbol: ignored */
}

static void test_symbol_check(void** state) {
  (void)state;
  xnnd_symbol s = sym("s0", 1, 8);
  assert_true(xnnd_symbol_check(&s));
  s = sym("_batch_2", 0, 0);
  assert_true(xnnd_symbol_check(&s));
  s = sym("h", 5, 4);
  assert_false(xnnd_symbol_check(&s));
  s = sym("h", -1, 4);
  assert_false(xnnd_symbol_check(&s));
  s = sym("h", 0, XNND_DIMX_LIMIT);
  assert_true(xnnd_symbol_check(&s));
  s = sym("h", 0, XNND_DIMX_LIMIT + 1);
  assert_false(xnnd_symbol_check(&s));
  s = sym("", 1, 2);
  assert_false(xnnd_symbol_check(&s));
  s = sym("0s", 1, 2);
  assert_false(xnnd_symbol_check(&s));
  s = sym("a-b", 1, 2);
  assert_false(xnnd_symbol_check(&s));
  s = sym("a.b", 1, 2);
  assert_false(xnnd_symbol_check(&s));
  memset(s.name, 'a', sizeof s.name);  /* not NUL-terminated */
  assert_false(xnnd_symbol_check(&s));
  s.name[sizeof s.name - 1] = '\0';   /* 31 chars: the longest */
  assert_true(xnnd_symbol_check(&s));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_print),
      cmocka_unit_test(test_parse_round_trip),
      cmocka_unit_test(test_parse_stops),
      cmocka_unit_test(test_parse_errors),
      cmocka_unit_test(test_encode_decode),
      cmocka_unit_test(test_check_and_bounds),
      cmocka_unit_test(test_symbol_check),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
