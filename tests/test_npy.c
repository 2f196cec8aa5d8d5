/* The CLI's .npy reader (tools/npy.c, compiled in): round trip of every dtype, and the caps
 * on what it reads from untrusted paths: only regular files (a device such as /dev/zero or a
 * FIFO fails at once instead of being read forever), a file bigger than the caller's cap fails
 * before it is read, and the header and data sizes must match the shape exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_support.h"

#include "npy.h"

static void expect_read_error(const char* path, uint64_t cap, xnnd_status want, const char* needle) {
  xnnd_tensor t;
  char err[512] = "";
  xnnd_status st = xnnd_npy_read(path, cap, &t, err, sizeof(err));
  if (st != want || !strstr(err, needle))
    fail_msg("%s: got %s \"%s\", want %s with \"%s\"", path, xnnd_status_str(st), err,
             xnnd_status_str(want), needle);
  assert_null(t.data);
}

static void test_round_trip(void** state) {
  (void)state;
  const char* path = xt_temp_path("npy", ".npy");
  float v[6] = {1, -2, 3.5f, 0, 1e30f, -7};
  xnnd_tensor t = {XNND_F32, 2, {2, 3}, v};
  char err[512] = "";
  assert_int_equal(xnnd_npy_write(path, &t, err, sizeof(err)), XNND_OK);
  xnnd_tensor r;
  assert_int_equal(xnnd_npy_read(path, 0, &r, err, sizeof(err)), XNND_OK);
  assert_int_equal(r.dtype, XNND_F32);
  assert_int_equal(r.rank, 2);
  assert_int_equal(r.dims[0], 2);
  assert_int_equal(r.dims[1], 3);
  assert_memory_equal(r.data, v, sizeof(v));
  free(r.data);
  /* The exact size is within a cap of exactly that size, one byte less is not. */
  struct stat sb;
  assert_int_equal(stat(path, &sb), 0);
  assert_int_equal(xnnd_npy_read(path, (uint64_t)sb.st_size, &r, err, sizeof(err)), XNND_OK);
  free(r.data);
  char want[64];
  snprintf(want, sizeof(want), "is %lld bytes, more than the %lld", (long long)sb.st_size,
           (long long)sb.st_size - 1);
  expect_read_error(path, (uint64_t)sb.st_size - 1, XNND_LIMIT_EXCEEDED, want);
  /* Data beyond what the shape needs. */
  FILE* f = fopen(path, "ab");
  assert_non_null(f);
  fputc(0, f);
  fclose(f);
  expect_read_error(path, 0, XNND_TRUNCATED, "data has 25 bytes, shape needs 24");
  remove(path);
}

static void test_not_regular_files(void** state) {
  (void)state;
  expect_read_error("/dev/zero", 0, XNND_IO_ERROR, "/dev/zero is not a regular file");
  expect_read_error(".", 0, XNND_IO_ERROR, "is not a regular file");
  expect_read_error("/nonexistent/x.npy", 0, XNND_IO_ERROR, "cannot open /nonexistent/x.npy");
  /* A FIFO with no writer: opening must not block, and it is refused. */
  const char* fifo = xt_temp_path("npy_fifo", "");
  assert_int_equal(mkfifo(fifo, 0600), 0);
  expect_read_error(fifo, 0, XNND_IO_ERROR, "is not a regular file");
  remove(fifo);
}

static void test_header_caps(void** state) {
  (void)state;
  /* Format 2.0 with a 70,000-byte header: over the 65,536-byte limit. */
  size_t hlen = 70000;
  uint8_t* buf = calloc(1, 12 + hlen);
  assert_non_null(buf);
  memcpy(buf, "\x93NUMPY\x02\x00", 8);
  buf[8] = (uint8_t)(hlen & 0xff), buf[9] = (uint8_t)(hlen >> 8), buf[10] = (uint8_t)(hlen >> 16);
  memset(buf + 12, ' ', hlen);
  xnnd_tensor t;
  char err[512] = "";
  assert_int_equal(xnnd_npy_parse(buf, 12 + hlen, &t, err, sizeof(err)), XNND_LIMIT_EXCEEDED);
  assert_non_null(strstr(err, "header length 70000 exceeds the limit of 65536"));
  /* A header length past the end of the file. */
  buf[10] = 0x10;
  assert_int_equal(xnnd_npy_parse(buf, 12 + 100, &t, err, sizeof(err)), XNND_LIMIT_EXCEEDED);
  buf[8] = 200, buf[9] = 0, buf[10] = 0;
  assert_int_equal(xnnd_npy_parse(buf, 12 + 100, &t, err, sizeof(err)), XNND_TRUNCATED);
  assert_non_null(strstr(err, "header length 200 exceeds file"));
  free(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_not_regular_files),
      cmocka_unit_test(test_header_caps),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
