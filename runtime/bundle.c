/* Bundled programs (include/xnnd/bundle.h): verify the container completely (header, the
 * program range, every case record) before anything is used, load the embedded program in
 * place through the ordinary program loader, and run cases against it. Case tensors are views
 * into the bundle's bytes; execute-time comparison allocates nothing. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "runtime_internal.h"
#include "xnnd/bundle.h"

#define BUNDLE_MAGIC "XNDBNDL"  /* 8 bytes with the NUL */
#define BUNDLE_VERSION 2u
#define BUNDLE_HEADER_SIZE 64u
#define BUNDLE_CHECKSUM_AT 56u  /* version 2: u64 FNV-1a 64 of the whole bundle */

typedef struct bundle_tensor {
  xnnd_tensor t;          /* data points into the bundle bytes */
  double atol, rtol;      /* expected outputs only */
} bundle_tensor;

typedef struct bundle_case {
  uint32_t num_inputs, num_outputs;
  uint32_t first;         /* index into tensors: inputs, then expected outputs */
} bundle_case;

struct xnnd_bundle {
  xnnd_allocator allocator;
  xnnd_data_loader loader;
  xnnd_program* program;
  uint32_t num_cases;
  bundle_case* cases;
  bundle_tensor* tensors;
};

/* ---- parsing: pure offset arithmetic against the end of the cases region ---- */

typedef struct cursor {
  const uint8_t* base;    /* start of the whole bundle */
  uint64_t pos, end;
  char* msg;
  size_t msg_size;
} cursor;

static bool take(cursor* c, uint64_t n, const uint8_t** out) {
  if (n > c->end - c->pos) return false;
  *out = c->base + c->pos;
  c->pos += n;
  return true;
}

#define NEED(c, n, p, what, ...)                                                              \
  do {                                                                                        \
    if (!take((c), (n), &(p)))                                                                \
      return xnnd_errf((c)->msg, (c)->msg_size, XNND_TRUNCATED,                               \
                       "bundle: " what " runs past the end of the cases region", __VA_ARGS__); \
  } while (0)

static double le_f64(const uint8_t* p) {
  uint64_t bits = xnnd_le64(p);
  double d;
  memcpy(&d, &bits, sizeof(d));
  return d;
}

/* One tensor record at c->pos; fills *out when out != NULL. */
static xnnd_status parse_tensor(cursor* c, uint32_t k, bool expected, uint32_t i,
                                bundle_tensor* out) {
  const char* role = expected ? "expected output" : "input";
  const uint8_t* p;
  NEED(c, 8, p, "case %u %s %u header", k, role, i);
  uint32_t dtype = xnnd_le32(p), rank = xnnd_le32(p + 4);
  if (dtype >= XNND_DTYPE_COUNT)
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "bundle: case %u %s %u: dtype %u is not an xnnd_dtype", k, role, i, dtype);
  if (rank > XNND_MAX_RANK)
    return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                     "bundle: case %u %s %u: rank %u exceeds %u", k, role, i, rank, XNND_MAX_RANK);
  NEED(c, 8ull * rank, p, "case %u %s %u dims", k, role, i);
  xnnd_tensor t = {(xnnd_dtype)dtype, rank, {0}, NULL};
  for (uint32_t d = 0; d < rank; d++) {
    int64_t dim = (int64_t)xnnd_le64(p + 8 * d);
    if (dim < 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "bundle: case %u %s %u: dim %u is %lld", k, role, i, d, (long long)dim);
    t.dims[d] = dim;
  }
  uint64_t nbytes;
  if (!xnnd_tensor_bytes(t.dims, rank, xnnd_dtype_size(t.dtype), &nbytes))
    return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                     "bundle: case %u %s %u: byte size overflows", k, role, i);
  double atol = 0, rtol = 0;
  if (expected) {
    NEED(c, 16, p, "case %u %s %u tolerances", k, role, i);
    atol = le_f64(p);
    rtol = le_f64(p + 8);
    if (!(isfinite(atol) && atol >= 0 && isfinite(rtol) && rtol >= 0))
      return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                       "bundle: case %u %s %u: tolerances atol %g rtol %g must be finite and >= 0",
                       k, role, i, atol, rtol);
  }
  NEED(c, 8, p, "case %u %s %u size", k, role, i);
  uint64_t stored = xnnd_le64(p);
  if (stored != nbytes) {
    char type[128];
    xnnd_format_type(type, sizeof(type), &t);
    return xnnd_errf(c->msg, c->msg_size, XNND_INVALID_PROGRAM,
                     "bundle: case %u %s %u: %s needs %llu bytes, the record says %llu", k, role,
                     i, type, (unsigned long long)nbytes, (unsigned long long)stored);
  }
  uint64_t padded = (nbytes + 7) & ~(uint64_t)7;
  NEED(c, padded, p, "case %u %s %u data (%llu bytes)", k, role, i, (unsigned long long)nbytes);
  for (uint64_t b = nbytes; b < padded; b++)
    if (p[b] != 0)
      return xnnd_errf(c->msg, c->msg_size, XNND_MALFORMED,
                       "bundle: case %u %s %u: padding byte is not zero", k, role, i);
  if (out) {
    out->t = t;
    out->t.data = (void*)(uintptr_t)p;  /* read-only: the runtime never writes inputs */
    out->atol = atol;
    out->rtol = rtol;
  }
  return XNND_OK;
}

/* Walk every case. Counting pass (cases == NULL): verifies and adds up tensors. Filling
 * pass: the same walk, storing views. */
static xnnd_status parse_cases(cursor* c, uint32_t num_cases, bundle_case* cases,
                               bundle_tensor* tensors, uint64_t* num_tensors_out) {
  uint64_t n = 0;
  for (uint32_t k = 0; k < num_cases; k++) {
    const uint8_t* p;
    NEED(c, 8, p, "case %u header", k);
    uint32_t ni = xnnd_le32(p), no = xnnd_le32(p + 4);
    if (ni > XNND_BUNDLE_MAX_TENSORS || no > XNND_BUNDLE_MAX_TENSORS)
      return xnnd_errf(c->msg, c->msg_size, XNND_LIMIT_EXCEEDED,
                       "bundle: case %u has %u inputs and %u outputs (limit %u each)", k, ni, no,
                       XNND_BUNDLE_MAX_TENSORS);
    if (cases) cases[k] = (bundle_case){ni, no, (uint32_t)n};
    for (uint32_t i = 0; i < ni + no; i++) {
      bool expected = i >= ni;
      xnnd_status st = parse_tensor(c, k, expected, expected ? i - ni : i,
                                    tensors ? &tensors[n] : NULL);
      if (st != XNND_OK) return st;
      n++;
    }
  }
  if (c->pos != c->end)
    return xnnd_errf(c->msg, c->msg_size, XNND_MALFORMED,
                     "bundle: %llu bytes after the last case in the cases region",
                     (unsigned long long)(c->end - c->pos));
  *num_tensors_out = n;
  return XNND_OK;
}

uint64_t xnnd_bundle_checksum(const void* data, size_t size) {
  const uint8_t* p = data;
  uint64_t h = 0xcbf29ce484222325ull;
  /* Each step is a bijection of h for a given byte, so any single changed byte changes the
   * result; the checksum field itself reads as zero. */
  for (size_t i = 0; i < size; i++) {
    uint8_t b = (i >= BUNDLE_CHECKSUM_AT && i < BUNDLE_CHECKSUM_AT + 8) ? 0 : p[i];
    h = (h ^ b) * 0x100000001b3ull;
  }
  return h;
}

static xnnd_status check_header(const xnnd_data_loader* l, uint64_t* prog_off, uint64_t* prog_size,
                                uint64_t* cases_off, uint64_t* cases_size, uint32_t* num_cases,
                                char* msg, size_t msg_size) {
  const uint8_t* h = xnnd_loader_load(l, 0, BUNDLE_HEADER_SIZE);
  if (!h)
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED, "bundle: %zu bytes, the header needs %u",
                     l->size, BUNDLE_HEADER_SIZE);
  if (memcmp(h, BUNDLE_MAGIC, 8) != 0)
    return xnnd_errf(msg, msg_size, XNND_BAD_MAGIC, "bundle: magic is not \"XNDBNDL\\x00\"");
  uint32_t version = xnnd_le32(h + 8);
  if (version == 0 || version > BUNDLE_VERSION)
    return xnnd_errf(msg, msg_size, XNND_UNSUPPORTED_VERSION,
                     "bundle: format version %u, this runtime reads version %u", version,
                     BUNDLE_VERSION);
  if (xnnd_le32(h + 12) != BUNDLE_HEADER_SIZE)
    return xnnd_errf(msg, msg_size, XNND_MALFORMED, "bundle: header size %u, expected %u",
                     xnnd_le32(h + 12), BUNDLE_HEADER_SIZE);
  const uint32_t reserved_end = version >= 2 ? BUNDLE_CHECKSUM_AT : BUNDLE_HEADER_SIZE;
  for (uint32_t i = 52; i < reserved_end; i++)
    if (h[i] != 0)
      return xnnd_errf(msg, msg_size, XNND_MALFORMED, "bundle: reserved header byte %u is not zero", i);
  if (version >= 2) {
    /* Before anything else is read: a changed byte anywhere (program, inputs, expected
     * outputs, tolerances, padding) fails here rather than verifying against wrong data. */
    uint64_t stored = xnnd_le64(h + BUNDLE_CHECKSUM_AT);
    uint64_t actual = xnnd_bundle_checksum(l->data, l->size);
    if (stored != actual)
      return xnnd_errf(msg, msg_size, XNND_MALFORMED,
                       "bundle: checksum %016llx does not match the %zu bytes (%016llx): the "
                       "bundle was changed or cut", (unsigned long long)stored, l->size,
                       (unsigned long long)actual);
  }
  *prog_off = xnnd_le64(h + 16);
  *prog_size = xnnd_le64(h + 24);
  *cases_off = xnnd_le64(h + 32);
  *cases_size = xnnd_le64(h + 40);
  *num_cases = xnnd_le32(h + 48);
  const uint64_t size = l->size;
  if (*prog_off < BUNDLE_HEADER_SIZE)
    return xnnd_errf(msg, msg_size, XNND_OVERLAP, "bundle: program at %llu overlaps the header",
                     (unsigned long long)*prog_off);
  if (*prog_off % XNND_SEGMENT_ALIGN != 0)
    return xnnd_errf(msg, msg_size, XNND_MISALIGNED, "bundle: program offset %llu is not a multiple of %u",
                     (unsigned long long)*prog_off, XNND_SEGMENT_ALIGN);
  if (*prog_off > size || *prog_size > size - *prog_off)
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                     "bundle: program [%llu, +%llu) runs past the end of the %llu-byte bundle",
                     (unsigned long long)*prog_off, (unsigned long long)*prog_size,
                     (unsigned long long)size);
  if (*cases_off % 8 != 0)
    return xnnd_errf(msg, msg_size, XNND_MISALIGNED, "bundle: cases offset %llu is not a multiple of 8",
                     (unsigned long long)*cases_off);
  if (*cases_off < *prog_off + *prog_size)
    return xnnd_errf(msg, msg_size, XNND_OVERLAP, "bundle: cases at %llu overlap the program [%llu, %llu)",
                     (unsigned long long)*cases_off, (unsigned long long)*prog_off,
                     (unsigned long long)(*prog_off + *prog_size));
  if (*cases_off > size || *cases_size > size - *cases_off)
    return xnnd_errf(msg, msg_size, XNND_TRUNCATED,
                     "bundle: cases [%llu, +%llu) run past the end of the %llu-byte bundle",
                     (unsigned long long)*cases_off, (unsigned long long)*cases_size,
                     (unsigned long long)size);
  if (*num_cases > XNND_BUNDLE_MAX_CASES)
    return xnnd_errf(msg, msg_size, XNND_LIMIT_EXCEEDED, "bundle: %u cases exceed the limit of %u",
                     *num_cases, XNND_BUNDLE_MAX_CASES);
  return XNND_OK;
}

static xnnd_status set_err(xnnd_error* err, xnnd_status status, const char* msg) {
  if (err) {
    err->status = status;
    snprintf(err->message, sizeof(err->message), "%s", status == XNND_OK ? "" : msg);
  }
  return status;
}

static xnnd_status bundle_open(const char* path, const void* data, size_t size,
                               const xnnd_load_options* options, xnnd_bundle** bundle_out,
                               xnnd_error* err) {
  char msg[XNND_ERRMSG_SIZE];
  msg[0] = '\0';
  if (!bundle_out) return set_err(err, XNND_INVALID_ARGUMENT, "bundle_out is NULL");
  *bundle_out = NULL;
  const xnnd_allocator* a = options && options->allocator ? options->allocator
                                                          : xnnd_default_allocator();
  if (!a->alloc || !a->free)
    return set_err(err, XNND_INVALID_ARGUMENT, "allocator has a NULL alloc or free entry");
  xnnd_bundle* b = xnnd_alloc_zeroed(a, sizeof(*b), 64);
  if (!b) return set_err(err, XNND_OUT_OF_MEMORY, "out of memory allocating the bundle");
  b->allocator = *a;
  uint64_t max_size = options && options->limits.max_file_size ? options->limits.max_file_size
                                                                : (uint64_t)4 << 30;
  xnnd_status st = path ? xnnd_loader_open_file(&b->loader, path, max_size, options && options->map_file,
                                                &b->allocator, msg, sizeof(msg))
                        : xnnd_loader_open_buffer(&b->loader, data, size, max_size, &b->allocator,
                                                  msg, sizeof(msg));
  uint64_t prog_off = 0, prog_size = 0, cases_off = 0, cases_size = 0, num_tensors = 0;
  uint32_t num_cases = 0;
  if (st == XNND_OK)
    st = check_header(&b->loader, &prog_off, &prog_size, &cases_off, &cases_size, &num_cases, msg,
                      sizeof(msg));
  cursor c = {b->loader.data, cases_off, cases_off + cases_size, msg, sizeof(msg)};
  if (st == XNND_OK) st = parse_cases(&c, num_cases, NULL, NULL, &num_tensors);
  if (st == XNND_OK) {
    b->num_cases = num_cases;
    b->cases = xnnd_alloc_zeroed(a, xnnd_mul_size(num_cases ? num_cases : 1, sizeof(bundle_case)), 8);
    b->tensors = xnnd_alloc_zeroed(a, xnnd_mul_size(num_tensors ? (size_t)num_tensors : 1,
                                                    sizeof(bundle_tensor)), 8);
    if (!b->cases || !b->tensors)
      st = xnnd_errf(msg, sizeof(msg), XNND_OUT_OF_MEMORY, "out of memory decoding %u cases", num_cases);
  }
  if (st == XNND_OK) {
    c.pos = cases_off;
    st = parse_cases(&c, num_cases, b->cases, b->tensors, &num_tensors);
  }
  if (st == XNND_OK) {
    /* The program is 64-aligned in a 64-aligned buffer: used in place, verified as usual. */
    xnnd_load_options po = {.allocator = &b->allocator};
    if (options) po.limits = options->limits;
    xnnd_error perr = {0};
    st = xnnd_program_load_buffer(b->loader.data + prog_off, (size_t)prog_size, &po, &b->program,
                                  &perr);
    if (st != XNND_OK) snprintf(msg, sizeof(msg), "bundle: embedded program: %.400s", perr.message);
  }
  if (st != XNND_OK) {
    xnnd_bundle_destroy(b);
    return set_err(err, st, msg);
  }
  *bundle_out = b;
  return set_err(err, XNND_OK, "");
}

xnnd_status xnnd_bundle_load_file(const char* path, const xnnd_load_options* options,
                                  xnnd_bundle** bundle_out, xnnd_error* err) {
  if (!path) {
    if (bundle_out) *bundle_out = NULL;
    return set_err(err, XNND_INVALID_ARGUMENT, "path is NULL");
  }
  return bundle_open(path, NULL, 0, options, bundle_out, err);
}

xnnd_status xnnd_bundle_load_buffer(const void* data, size_t size, const xnnd_load_options* options,
                                    xnnd_bundle** bundle_out, xnnd_error* err) {
  return bundle_open(NULL, data, size, options, bundle_out, err);
}

void xnnd_bundle_destroy(xnnd_bundle* bundle) {
  if (!bundle) return;
  xnnd_allocator a = bundle->allocator;
  xnnd_program_destroy(bundle->program);
  xnnd_free(&a, bundle->cases);
  xnnd_free(&a, bundle->tensors);
  xnnd_loader_close(&bundle->loader);
  xnnd_free(&a, bundle);
}

xnnd_program* xnnd_bundle_program(const xnnd_bundle* bundle) {
  return bundle ? bundle->program : NULL;
}

uint32_t xnnd_bundle_num_cases(const xnnd_bundle* bundle) { return bundle ? bundle->num_cases : 0; }

uint32_t xnnd_bundle_case_num_inputs(const xnnd_bundle* bundle, uint32_t case_index) {
  return bundle && case_index < bundle->num_cases ? bundle->cases[case_index].num_inputs : 0;
}

uint32_t xnnd_bundle_case_num_outputs(const xnnd_bundle* bundle, uint32_t case_index) {
  return bundle && case_index < bundle->num_cases ? bundle->cases[case_index].num_outputs : 0;
}

xnnd_status xnnd_bundle_case_input(const xnnd_bundle* bundle, uint32_t case_index, uint32_t index,
                                   xnnd_tensor* input_out) {
  if (!bundle || !input_out || case_index >= bundle->num_cases ||
      index >= bundle->cases[case_index].num_inputs)
    return XNND_INVALID_ARGUMENT;
  *input_out = bundle->tensors[bundle->cases[case_index].first + index].t;
  return XNND_OK;
}

xnnd_status xnnd_bundle_case_expected(const xnnd_bundle* bundle, uint32_t case_index,
                                      uint32_t index, xnnd_tensor* expected_out,
                                      double* atol_out, double* rtol_out) {
  if (!bundle || !expected_out || case_index >= bundle->num_cases ||
      index >= bundle->cases[case_index].num_outputs)
    return XNND_INVALID_ARGUMENT;
  const bundle_case* k = &bundle->cases[case_index];
  const bundle_tensor* t = &bundle->tensors[k->first + k->num_inputs + index];
  *expected_out = t->t;
  if (atol_out) *atol_out = t->atol;
  if (rtol_out) *rtol_out = t->rtol;
  return XNND_OK;
}

/* ---- comparison ---- */

static double half_to_double(uint16_t h) {
  int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  double v = exp == 0 ? ldexp(mant, -24) : exp == 31 ? (mant ? NAN : INFINITY)
                                                      : ldexp(mant | 0x400, exp - 25);
  return (h & 0x8000) ? -v : v;
}

static double element(const xnnd_tensor* t, size_t i) {
  switch (t->dtype) {
    case XNND_F32: return ((const float*)t->data)[i];
    case XNND_F16: return half_to_double(((const uint16_t*)t->data)[i]);
    case XNND_I8: return ((const int8_t*)t->data)[i];
    case XNND_U8: return ((const uint8_t*)t->data)[i];
    case XNND_I32: return ((const int32_t*)t->data)[i];
    case XNND_I64: return (double)((const int64_t*)t->data)[i];
    case XNND_BOOL: return ((const uint8_t*)t->data)[i] != 0;
    default: return NAN;
  }
}

xnnd_status xnnd_bundle_compare(const xnnd_tensor* actual, const xnnd_tensor* expected,
                                double atol, double rtol, xnnd_bundle_output_stats* stats) {
  if (!actual || !expected || !stats) return XNND_INVALID_ARGUMENT;
  memset(stats, 0, sizeof(*stats));
  stats->atol = atol;
  stats->rtol = rtol;
  if (actual->dtype != expected->dtype) return XNND_DTYPE_MISMATCH;
  if (actual->rank != expected->rank || actual->rank > XNND_MAX_RANK) return XNND_SHAPE_MISMATCH;
  for (uint32_t d = 0; d < actual->rank; d++)
    if (actual->dims[d] != expected->dims[d]) return XNND_SHAPE_MISMATCH;
  size_t n = xnnd_tensor_numel(actual);
  if (n > 0 && (!actual->data || !expected->data)) return XNND_INVALID_ARGUMENT;
  stats->numel = n;
  for (size_t i = 0; i < n; i++) {
    double a = element(actual, i), e = element(expected, i);
    double abs_err;
    if (isnan(a) || isnan(e)) abs_err = (isnan(a) && isnan(e)) ? 0.0 : INFINITY;
    else if (a == e) abs_err = 0.0;  /* also equal infinities */
    else abs_err = fabs(a - e);
    if (abs_err > stats->max_abs_error) stats->max_abs_error = abs_err;
    if (e != 0 && !isnan(e) && abs_err > 0) {
      double rel = abs_err / fabs(e);
      if (rel > stats->max_rel_error) stats->max_rel_error = rel;
    }
    if (!(abs_err <= atol + rtol * fabs(e))) stats->num_over_tolerance++;
  }
  return XNND_OK;
}

/* ---- running cases ---- */

xnnd_status xnnd_bundle_run_case(const xnnd_bundle* bundle, xnnd_method* method,
                                 uint32_t case_index, xnnd_bundle_output_stats* stats,
                                 uint32_t capacity, bool* passed_out, xnnd_error* err) {
  char msg[XNND_ERRMSG_SIZE];
  if (passed_out) *passed_out = false;
  if (!bundle || !method || !passed_out || case_index >= bundle->num_cases)
    return set_err(err, XNND_INVALID_ARGUMENT, "bundle, method or passed_out is NULL, or no such case");
  const bundle_case* k = &bundle->cases[case_index];
  if (k->num_outputs > capacity || (k->num_outputs > 0 && !stats))
    return set_err(err, XNND_INVALID_ARGUMENT, "stats capacity is smaller than the case's outputs");
  if (k->num_inputs != xnnd_method_num_inputs(method)) {
    snprintf(msg, sizeof(msg), "case %u has %u inputs, the method takes %u", case_index,
             k->num_inputs, xnnd_method_num_inputs(method));
    return set_err(err, XNND_WRONG_INPUT_COUNT, msg);
  }
  if (k->num_outputs != xnnd_method_num_outputs(method)) {
    snprintf(msg, sizeof(msg), "case %u has %u expected outputs, the method has %u", case_index,
             k->num_outputs, xnnd_method_num_outputs(method));
    return set_err(err, XNND_INVALID_PROGRAM, msg);
  }
  for (uint32_t i = 0; i < k->num_inputs; i++) {
    xnnd_status st = xnnd_method_set_input(method, i, &bundle->tensors[k->first + i].t);
    if (st != XNND_OK) {
      snprintf(msg, sizeof(msg), "case %u: %s", case_index, xnnd_method_errmsg(method));
      return set_err(err, st, msg);
    }
  }
  xnnd_status st = xnnd_method_execute(method);
  if (st != XNND_OK) {
    snprintf(msg, sizeof(msg), "case %u: execute: %s", case_index, xnnd_method_errmsg(method));
    return set_err(err, st, msg);
  }
  bool passed = true;
  for (uint32_t o = 0; o < k->num_outputs; o++) {
    const bundle_tensor* e = &bundle->tensors[k->first + k->num_inputs + o];
    xnnd_tensor actual;
    xnnd_method_get_output(method, o, &actual);
    st = xnnd_bundle_compare(&actual, &e->t, e->atol, e->rtol, &stats[o]);
    if (st != XNND_OK) {
      char got[128], want[128];
      xnnd_format_type(got, sizeof(got), &actual);
      xnnd_format_type(want, sizeof(want), &e->t);
      snprintf(msg, sizeof(msg), "case %u output %u: the method gives %s, the bundle expects %s",
               case_index, o, got, want);
      return set_err(err, st, msg);
    }
    if (stats[o].num_over_tolerance > 0) passed = false;
  }
  *passed_out = passed;
  return set_err(err, XNND_OK, "");
}

xnnd_status xnnd_bundle_verify(const xnnd_bundle* bundle, const char* method_name,
                               const xnnd_method_options* options,
                               xnnd_bundle_output_stats* stats, uint32_t capacity,
                               uint32_t* num_outputs_out, bool* passed_out, xnnd_error* err) {
  if (passed_out) *passed_out = false;
  if (num_outputs_out) *num_outputs_out = 0;
  if (!bundle || !passed_out || !num_outputs_out)
    return set_err(err, XNND_INVALID_ARGUMENT, "bundle, num_outputs_out and passed_out must be non-NULL");
  if (!method_name) method_name = xnnd_program_method_name(bundle->program, 0);
  if (!method_name) return set_err(err, XNND_NOT_FOUND, "the bundled program has no method");
  xnnd_method* m = NULL;
  xnnd_status st = xnnd_method_create(bundle->program, method_name, options, &m, err);
  if (st != XNND_OK) return st;
  uint32_t n = xnnd_method_num_outputs(m);
  if (n > capacity || (n > 0 && !stats)) {
    xnnd_method_destroy(m);
    return set_err(err, XNND_INVALID_ARGUMENT, "stats capacity is smaller than the method's outputs");
  }
  xnnd_bundle_output_stats one[XNND_BUNDLE_MAX_TENSORS];
  if (n > 0) memset(stats, 0, sizeof(*stats) * n);
  bool all = true;
  for (uint32_t k = 0; k < bundle->num_cases && st == XNND_OK; k++) {
    bool passed;
    st = xnnd_bundle_run_case(bundle, m, k, one, XNND_BUNDLE_MAX_TENSORS, &passed, err);
    if (st != XNND_OK) break;
    all = all && passed;
    for (uint32_t o = 0; o < n; o++) {
      xnnd_bundle_output_stats* s = &stats[o];
      if (one[o].max_abs_error > s->max_abs_error) s->max_abs_error = one[o].max_abs_error;
      if (one[o].max_rel_error > s->max_rel_error) s->max_rel_error = one[o].max_rel_error;
      s->num_over_tolerance += one[o].num_over_tolerance;
      s->numel += one[o].numel;
      if (one[o].atol > s->atol) s->atol = one[o].atol;
      if (one[o].rtol > s->rtol) s->rtol = one[o].rtol;
    }
  }
  xnnd_method_destroy(m);
  if (st != XNND_OK) return st;
  *num_outputs_out = n;
  *passed_out = all;
  return set_err(err, XNND_OK, "");
}
