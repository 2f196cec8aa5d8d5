/* ExecuTorch programs (ET12, runtime/et_program.c) without Python: the committed fixtures of
 * tests/fixtures/et (written by ExecuTorch's toolchain, outputs from ExecuTorch's runtime) load
 * and run to those outputs, and corrupted copies fail at load with a specific status and a
 * message naming what is wrong. Runtime memory goes through test_malloc/test_free. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#include "et_program_generated.h"
#include "fb.h"
#include "program_info.h"
#include "xnnd/runtime.h"

static void* t_alloc(void* context, size_t size, size_t alignment) {
  return xt_aligned_alloc(context, size, alignment);
}
static const xnnd_allocator test_allocator = {NULL, t_alloc, xt_aligned_free};
static const xnnd_load_options test_options = {.allocator = &test_allocator};

static uint8_t* fixture(const char* name, size_t* size) {
  char rel[256];
  snprintf(rel, sizeof(rel), "tests/fixtures/et/%s", name);
  uint8_t* data = (uint8_t*)xt_read_file(xt_source_path(rel), size);
  assert_non_null(data);
  return data;
}

/* Loads, runs on the fixture inputs, compares with ExecuTorch's output: max|a-b|/max|b|. */
static void run_fixture(const char* pte, const char* expected, uint32_t out_numel,
                        int expect_delegate) {
  size_t size, n0, n1, ne;
  uint8_t* bytes = fixture(pte, &size);
  float* in0 = (float*)fixture("input_0.bin", &n0);
  float* in1 = (float*)fixture("input_1.bin", &n1);
  float* want = (float*)fixture(expected, &ne);
  assert_int_equal(n0, 3 * 8 * 8 * 4);
  assert_int_equal(n1, 4 * 8 * 8 * 4);
  assert_int_equal(ne, out_numel * 4);

  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = xnnd_program_load_buffer(bytes, size, &test_options, &p, &err);
  if (st != XNND_OK) fprintf(stderr, "%s: %s\n", pte, err.message);
  assert_int_equal(st, XNND_OK);
  xnnd_program_info pi;
  assert_int_equal(xnnd_program_get_info(p, &pi), XNND_OK);
  assert_int_equal(pi.executorch, 1);
  assert_int_equal(pi.num_delegates, expect_delegate ? 1 : 0);
  xnnd_method* m = NULL;
  st = xnnd_method_create(p, "forward", NULL, &m, &err);
  if (st != XNND_OK) fprintf(stderr, "%s: %s\n", pte, err.message);
  assert_int_equal(st, XNND_OK);
  assert_int_equal(xnnd_method_num_inputs(m), 2);
  xnnd_tensor x = {.dtype = XNND_F32, .rank = 4, .dims = {1, 3, 8, 8}, .data = in0};
  xnnd_tensor y = {.dtype = XNND_F32, .rank = 4, .dims = {1, 4, 8, 8}, .data = in1};
  assert_int_equal(xnnd_method_set_input(m, 0, &x), XNND_OK);
  assert_int_equal(xnnd_method_set_input(m, 1, &y), XNND_OK);
  assert_int_equal(xnnd_method_execute(m), XNND_OK);
  xnnd_tensor out;
  assert_int_equal(xnnd_method_get_output(m, 0, &out), XNND_OK);
  assert_int_equal(xnnd_tensor_numel(&out), out_numel);
  const float* got = out.data;
  double max_diff = 0, max_ref = 0;
  for (uint32_t i = 0; i < out_numel; i++) {
    max_diff = fmax(max_diff, fabs((double)got[i] - want[i]));
    max_ref = fmax(max_ref, fabs((double)want[i]));
  }
  assert_true(max_ref > 0.1);  /* the fixture output is not trivially zero */
  assert_true(max_diff / max_ref <= 1e-5);
  xnnd_method_destroy(m);
  xnnd_program_destroy(p);
  free(bytes);
  free(in0);
  free(in1);
  free(want);
}

static void test_portable_fixture(void** state) {
  (void)state;
  run_fixture("tiny_portable.pte", "tiny_portable.expected.bin", 256, 0);
}

static void test_xnnpack_fixture(void** state) {
  (void)state;
  run_fixture("tiny_xnnpack.pte", "tiny_xnnpack.expected.bin", 4 * 8 * 8, 1);
}

/* Loading `bytes` fails with `status` and a message containing `needle`. */
static void expect_load_error(const uint8_t* bytes, size_t size, xnnd_status status,
                              const char* needle) {
  xnnd_program* p = NULL;
  xnnd_error err = {0};
  xnnd_status st = xnnd_program_load_buffer(bytes, size, &test_options, &p, &err);
  if (st != status || !strstr(err.message, needle))
    fprintf(stderr, "got %s: \"%s\"; expected %s with \"%s\"\n", xnnd_status_str(st),
            err.message, xnnd_status_str(status), needle);
  assert_int_equal(st, status);
  assert_non_null(strstr(err.message, needle));
  assert_null(p);
}

static void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void test_truncated(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  /* The extended header survives, the program it announces does not. */
  expect_load_error(bytes, 100, XNND_TRUNCATED, "program size 2400 does not fit the 100-byte file");
  /* Header and program intact, the constant segment cut short. */
  expect_load_error(bytes, size - 16, XNND_OUT_OF_RANGE, "segment data");
  free(bytes);
}

static void test_bad_identifier(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  memcpy(bytes + 4, "ET13", 4);  /* neither ExecuTorch's nor our format */
  expect_load_error(bytes, size, XNND_BAD_MAGIC, "magic");
  free(bytes);
}

static void test_offsets_outside_file(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  put_u64(bytes + 24, (uint64_t)1 << 40);  /* segment base offset */
  expect_load_error(bytes, size, XNND_OUT_OF_RANGE, "segment data [1099511627776, +448)");
  free(bytes);

  /* A constant's offset inside the constant segment pushed past its end. */
  bytes = fixture("tiny_portable.pte", &size);
  fb_table root = fb_root(bytes);
  fb_table cseg = fb_table_field(root, XNND_ET_PROGRAM_EtProgram_constant_segment);
  fb_vec offsets = fb_vector(cseg, XNND_ET_PROGRAM_EtSubsegmentOffsets_offsets);
  assert_true(offsets.len >= 2);
  put_u64((uint8_t*)offsets.data + 8, 4096);
  expect_load_error(bytes, size, XNND_OUT_OF_RANGE,
                    "constant 1 [4096, +432) lies outside the 448-byte constant segment");
  free(bytes);
}

/* Writes `value` over arg `k` of instruction `instr` of the fixture's plan 0. */
static void poke_arg(uint8_t* bytes, uint32_t instr, uint32_t k, int32_t value) {
  fb_table root = fb_root(bytes);
  fb_table plan = fb_vec_table(fb_vector(root, XNND_ET_PROGRAM_EtProgram_execution_plan), 0);
  fb_table chain = fb_vec_table(fb_vector(plan, XNND_ET_PROGRAM_EtExecutionPlan_chains), 0);
  fb_table in = fb_vec_table(fb_vector(chain, XNND_ET_PROGRAM_EtChain_instructions), instr);
  fb_table call = fb_table_field(in, XNND_ET_PROGRAM_EtInstruction_instr);
  fb_vec args = fb_vector(call, XNND_ET_PROGRAM_EtKernelCall_args);
  assert_true(k < args.len);
  uint8_t* p = (uint8_t*)args.data + 4 * k;
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)((uint32_t)value >> (8 * i));
}

static void test_bad_evalue_index(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  poke_arg(bytes, 0, 1, 100000);  /* the convolution's weight */
  expect_load_error(bytes, size, XNND_OUT_OF_RANGE,
                    "plan \"forward\" instruction 0 (aten::convolution.out): arg 1 = EValue "
                    "100000 out of range");
  free(bytes);

  /* In range but of the wrong kind: the relu's input pointed at the convolution's stride. */
  bytes = fixture("tiny_portable.pte", &size);
  fb_table root = fb_root(bytes);
  fb_table plan = fb_vec_table(fb_vector(root, XNND_ET_PROGRAM_EtProgram_execution_plan), 0);
  fb_table chain = fb_vec_table(fb_vector(plan, XNND_ET_PROGRAM_EtExecutionPlan_chains), 0);
  fb_table conv = fb_table_field(
      fb_vec_table(fb_vector(chain, XNND_ET_PROGRAM_EtChain_instructions), 0),
      XNND_ET_PROGRAM_EtInstruction_instr);
  int32_t stride = fb_vec_i32(fb_vector(conv, XNND_ET_PROGRAM_EtKernelCall_args), 3);
  poke_arg(bytes, 1, 0, stride);
  char needle[128];
  snprintf(needle, sizeof(needle), "arg 0 = EValue %d is a IntList, expected a Tensor", stride);
  expect_load_error(bytes, size, XNND_INVALID_PROGRAM, needle);
  free(bytes);
}

static void test_unknown_operator(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  uint8_t* at = NULL;
  for (size_t i = 0; i + 10 <= size && !at; i++)
    if (memcmp(bytes + i, "aten::relu", 10) == 0) at = bytes + i;
  assert_non_null(at);
  memcpy(at, "aten::relx", 10);
  expect_load_error(bytes, size, XNND_UNKNOWN_OP, "aten::relx.out has no xnnd portable kernel");
  free(bytes);
}

static void test_every_truncation_fails_cleanly(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_xnnpack.pte", &size);
  for (size_t n = 0; n < size; n += 7) {
    xnnd_program* p = NULL;
    xnnd_error err = {0};
    xnnd_status st = xnnd_program_load_buffer(bytes, n, &test_options, &p, &err);
    assert_int_not_equal(st, XNND_OK);
    assert_null(p);
    assert_true(err.message[0] != '\0');
  }
  free(bytes);
}

/* Every single-byte change of the portable fixture (each byte xor 0x5a) either
 * fails to load with a message or loads, creates and executes: no crash, no leak. */
static void test_every_byte_flip(void** state) {
  (void)state;
  size_t size;
  uint8_t* bytes = fixture("tiny_portable.pte", &size);
  static float zeros[4 * 8 * 8];
  uint32_t loaded = 0;
  {
    const uint8_t mask = 0x5a;
    for (size_t i = 0; i < size; i++) {
      bytes[i] ^= mask;
      xnnd_program* p = NULL;
      xnnd_error err = {0};
      xnnd_status st = xnnd_program_load_buffer(bytes, size, &test_options, &p, &err);
      if (st != XNND_OK) {
        assert_null(p);
        assert_true(err.message[0] != '\0');
      } else {
        loaded++;
        xnnd_method* m = NULL;
        xnnd_method_options mo = {.allow_non_finite_inputs = true};
        if (xnnd_method_create(p, "forward", &mo, &m, &err) == XNND_OK) {
          for (uint32_t k = 0; k < xnnd_method_num_inputs(m); k++) {
            xnnd_tensor t;
            if (xnnd_method_input_info(m, k, &t) == XNND_OK &&
                xnnd_tensor_numel(&t) * xnnd_dtype_size(t.dtype) <= sizeof(zeros)) {
              t.data = zeros;
              (void)xnnd_method_set_input(m, k, &t);
            }
          }
          (void)xnnd_method_execute(m);
          xnnd_method_destroy(m);
        }
        xnnd_program_destroy(p);
      }
      bytes[i] ^= mask;
    }
  }
  assert_true(loaded > 0);  /* some flips hit bytes that do not matter (padding, weights) */
  free(bytes);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_portable_fixture),
      cmocka_unit_test(test_xnnpack_fixture),
      cmocka_unit_test(test_truncated),
      cmocka_unit_test(test_bad_identifier),
      cmocka_unit_test(test_offsets_outside_file),
      cmocka_unit_test(test_bad_evalue_index),
      cmocka_unit_test(test_unknown_operator),
      cmocka_unit_test(test_every_truncation_fails_cleanly),
      cmocka_unit_test(test_every_byte_flip),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
