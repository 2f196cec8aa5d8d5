/* Conformance of schema/fb.c with flatc, both directions, for program.fbs and xnnpack.fbs.
 * (a) Buffers built with our builder are decoded by `flatc --json` and must equal the
 *     hand-written fixtures in tests/golden/flatc/ (compared as parsed JSON trees).
 * (b) flatc's binaries of the fixtures (`flatc -b`) must pass fb_verify against the
 *     generated descriptors and read back, field by field through our readers, to the
 *     fixture's values; fields the fixture leaves out must be absent.
 * Needs XNND_FLATC (else `flatc` on PATH) and XNND_SOURCE_DIR. */
#include "test_support.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fb_builder.h"
#include "program_generated.h"
#include "xnnpack_generated.h"

#define P(id) XNND_PROGRAM_##id
#define X(id) XNND_XNNPACK_##id

/* ================================================================ minimal JSON */

typedef enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ } jtype;

typedef struct jval {
  jtype type;
  char* text;   /* J_NUM: the literal; J_STR: decoded bytes */
  size_t len;   /* J_STR */
  bool b;
  size_t n;     /* J_ARR, J_OBJ */
  char** keys;  /* J_OBJ */
  struct jval** items;
} jval;

typedef struct jparser {
  const char* s;
  const char* end;
} jparser;

static void jfree(jval* v) {
  if (!v) return;
  for (size_t i = 0; i < v->n; i++) {
    jfree(v->items[i]);
    if (v->keys) free(v->keys[i]);
  }
  free(v->items);
  free(v->keys);
  free(v->text);
  free(v);
}

static void jskip(jparser* p) {
  while (p->s < p->end && isspace((unsigned char)*p->s)) p->s++;
}

static jval* jnew(jtype t) {
  jval* v = calloc(1, sizeof *v);
  assert_non_null(v);
  v->type = t;
  return v;
}

static jval* jparse_value(jparser* p);

static char* jparse_string(jparser* p, size_t* len_out) {
  if (p->s >= p->end || *p->s != '"') return NULL;
  p->s++;
  char* out = malloc((size_t)(p->end - p->s) + 1);
  assert_non_null(out);
  size_t n = 0;
  while (p->s < p->end && *p->s != '"') {
    char c = *p->s++;
    if (c == '\\') {
      if (p->s >= p->end) break;
      char e = *p->s++;
      switch (e) {
        case 'n': c = '\n'; break;
        case 't': c = '\t'; break;
        case 'r': c = '\r'; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'u': {
          unsigned cp = 0;
          for (int i = 0; i < 4 && p->s < p->end; i++) {
            char h = *p->s++;
            cp = cp * 16 + (unsigned)(isdigit((unsigned char)h) ? h - '0' : (tolower(h) - 'a' + 10));
          }
          assert_true(cp < 0x80); /* fixtures are ASCII */
          c = (char)cp;
          break;
        }
        default: c = e; break;
      }
    }
    out[n++] = c;
  }
  if (p->s >= p->end) { free(out); return NULL; }
  p->s++;
  out[n] = '\0';
  *len_out = n;
  return out;
}

static jval* jparse_value(jparser* p) {
  jskip(p);
  if (p->s >= p->end) return NULL;
  char c = *p->s;
  if (c == '{' || c == '[') {
    bool obj = c == '{';
    jval* v = jnew(obj ? J_OBJ : J_ARR);
    size_t cap = 0;
    p->s++;
    jskip(p);
    if (p->s < p->end && *p->s == (obj ? '}' : ']')) { p->s++; return v; }
    for (;;) {
      char* key = NULL;
      if (obj) {
        jskip(p);
        size_t klen;
        key = jparse_string(p, &klen);
        jskip(p);
        if (!key || p->s >= p->end || *p->s != ':') { free(key); jfree(v); return NULL; }
        p->s++;
      }
      jval* item = jparse_value(p);
      if (!item) { free(key); jfree(v); return NULL; }
      if (v->n == cap) {
        cap = cap ? cap * 2 : 8;
        v->items = realloc(v->items, cap * sizeof *v->items);
        assert_non_null(v->items);
        if (obj) {
          v->keys = realloc(v->keys, cap * sizeof *v->keys);
          assert_non_null(v->keys);
        }
      }
      if (obj) v->keys[v->n] = key;
      v->items[v->n++] = item;
      jskip(p);
      if (p->s < p->end && *p->s == ',') { p->s++; continue; }
      if (p->s < p->end && *p->s == (obj ? '}' : ']')) { p->s++; return v; }
      jfree(v);
      return NULL;
    }
  }
  if (c == '"') {
    jval* v = jnew(J_STR);
    v->text = jparse_string(p, &v->len);
    if (!v->text) { jfree(v); return NULL; }
    return v;
  }
  /* Numbers, including flatc's inf / -inf / nan, and the literals true / false / null. */
  const char* start = p->s;
  while (p->s < p->end && (isalnum((unsigned char)*p->s) || strchr("+-.", *p->s))) p->s++;
  size_t n = (size_t)(p->s - start);
  if (n == 0) return NULL;
  if (n == 4 && !strncmp(start, "true", 4)) { jval* v = jnew(J_BOOL); v->b = true; return v; }
  if (n == 5 && !strncmp(start, "false", 5)) return jnew(J_BOOL);
  if (n == 4 && !strncmp(start, "null", 4)) return jnew(J_NULL);
  jval* v = jnew(J_NUM);
  v->text = malloc(n + 1);
  assert_non_null(v->text);
  memcpy(v->text, start, n);
  v->text[n] = '\0';
  return v;
}

static jval* jparse_file(const char* path) {
  size_t size;
  char* text = xt_read_file(path, &size);
  if (!text) fail_msg("cannot read %s", path);
  jparser p = {text, text + size};
  jval* v = jparse_value(&p);
  jskip(&p);
  if (!v || p.s != p.end) fail_msg("%s: not valid JSON near offset %ld", path, (long)(p.s - text));
  free(text);
  return v;
}

static const jval* jget(const jval* obj, const char* key) {
  for (size_t i = 0; i < obj->n; i++)
    if (!strcmp(obj->keys[i], key)) return obj->items[i];
  return NULL;
}

static bool jis_int(const char* lit) { return strpbrk(lit, ".eEinIN") == NULL; }

static bool jnum_equal(const char* a, const char* b) {
  if (jis_int(a) && jis_int(b)) {
    if ((a[0] == '-') != (b[0] == '-')) return false;
    if (a[0] == '-') return strtoll(a, NULL, 10) == strtoll(b, NULL, 10);
    return strtoull(a, NULL, 10) == strtoull(b, NULL, 10);
  }
  double x = strtod(a, NULL), y = strtod(b, NULL);
  if (isnan(x) || isnan(y)) return isnan(x) && isnan(y);
  /* flatc prints floats at float precision; a double field prints exactly. */
  return x == y || (float)x == (float)y;
}

/* Structural equality; on mismatch, names the JSON path in `where`. */
static bool jequal(const jval* a, const jval* b, char* where, size_t cap, const char* path) {
  if (a->type != b->type) {
    snprintf(where, cap, "%s: types differ", path);
    return false;
  }
  char sub[512];
  switch (a->type) {
    case J_NULL: return true;
    case J_BOOL:
      if (a->b != b->b) { snprintf(where, cap, "%s: booleans differ", path); return false; }
      return true;
    case J_NUM:
      if (!jnum_equal(a->text, b->text)) {
        snprintf(where, cap, "%s: %s != %s", path, a->text, b->text);
        return false;
      }
      return true;
    case J_STR:
      if (a->len != b->len || memcmp(a->text, b->text, a->len)) {
        snprintf(where, cap, "%s: \"%s\" != \"%s\"", path, a->text, b->text);
        return false;
      }
      return true;
    case J_ARR:
      if (a->n != b->n) {
        snprintf(where, cap, "%s: %zu != %zu elements", path, a->n, b->n);
        return false;
      }
      for (size_t i = 0; i < a->n; i++) {
        snprintf(sub, sizeof sub, "%s[%zu]", path, i);
        if (!jequal(a->items[i], b->items[i], where, cap, sub)) return false;
      }
      return true;
    case J_OBJ:
      for (size_t i = 0; i < a->n; i++) {
        snprintf(sub, sizeof sub, "%s.%s", path, a->keys[i]);
        const jval* other = jget(b, a->keys[i]);
        if (!other) { snprintf(where, cap, "%s: missing on the right", sub); return false; }
        if (!jequal(a->items[i], other, where, cap, sub)) return false;
      }
      for (size_t i = 0; i < b->n; i++) {
        if (!jget(a, b->keys[i])) {
          snprintf(where, cap, "%s.%s: missing on the left", path, b->keys[i]);
          return false;
        }
      }
      return true;
  }
  return false;
}

/* ================================================================ flatc plumbing */

static const char* flatc(void) {
  const char* f = getenv("XNND_FLATC");
  return f && *f ? f : "flatc";
}

static const char* schema_path(const char* schema) {
  static char buf[4096];
  snprintf(buf, sizeof buf, "%s", xt_source_path(schema));
  return buf;
}

static void make_temp_dir(char* out, size_t cap) {
  snprintf(out, cap, "%s", xt_temp_path("flatc", ".d"));
  if (mkdir(out, 0700) != 0) fail_msg("cannot create %s", out);
}

static void remove_dir(const char* dir) { (void)xt_system("rm -rf '%s'", dir); }

/* Copy into 8-byte-aligned memory, as the verifier requires. */
static uint8_t* aligned_copy(const void* data, size_t size) {
  uint8_t* p = aligned_alloc(8, (size + 7) & ~(size_t)7);
  assert_non_null(p);
  memcpy(p, data, size);
  return p;
}

/* (a): our bytes -> flatc --json -> compare with the fixture. */
static void expect_flatc_json(const uint8_t* data, size_t size, const char* schema,
                              const char* fixture) {
  char dir[256], bin[512], json[512];
  make_temp_dir(dir, sizeof dir);
  snprintf(bin, sizeof bin, "%s/built.bin", dir);
  snprintf(json, sizeof json, "%s/built.json", dir);
  assert_int_equal(xt_write_file(bin, data, size), 0);
  /* No --raw-binary: flatc also checks our file identifier. No --defaults-json: the JSON
   * lists exactly the fields present in the buffer, so omitted defaults are checked too. */
  int rc = xt_system("'%s' --json --strict-json -o '%s' '%s' -- '%s'", flatc(), dir,
                     schema_path(schema), bin);
  if (rc != 0) fail_msg("flatc --json failed (%d) on %s", rc, bin);
  jval* got = jparse_file(json);
  jval* want = jparse_file(xt_source_path(fixture));
  char where[1024] = "";
  bool same = jequal(want, got, where, sizeof where, "$");
  jfree(got);
  jfree(want);
  if (!same) fail_msg("%s vs flatc's decoding of our buffer: %s (kept %s)", fixture, where, dir);
  remove_dir(dir);
}

/* (b): fixture -> flatc -b -> aligned bytes. */
static uint8_t* flatc_binary(const char* schema, const char* fixture, size_t* size_out) {
  char dir[256], path[512];
  make_temp_dir(dir, sizeof dir);
  int rc = xt_system("'%s' -b -o '%s' '%s' '%s'", flatc(), dir, schema_path(schema),
                     xt_source_path(fixture));
  if (rc != 0) fail_msg("flatc -b failed (%d) on %s", rc, fixture);
  const char* base = strrchr(fixture, '/') ? strrchr(fixture, '/') + 1 : fixture;
  size_t stem = strcspn(base, ".");
  char* raw = NULL;
  size_t size = 0;
  /* flatc names the output after the schema's file_extension (program.fbs: "pte"). */
  static const char* const exts[] = {"pte", "bin"};
  for (size_t i = 0; i < 2 && !raw; i++) {
    snprintf(path, sizeof path, "%s/%.*s.%s", dir, (int)stem, base, exts[i]);
    raw = xt_read_file(path, &size);
  }
  if (!raw) fail_msg("flatc -b wrote no binary for %s in %s", fixture, dir);
  uint8_t* data = aligned_copy(raw, size);
  free(raw);
  remove_dir(dir);
  *size_out = size;
  return data;
}

/* ================================================================ reading vs fixture */

/* Schema defaults that are not zero: what a reader passes when a field is absent. */
typedef struct known_default {
  const char* table; /* "*" for any */
  const char* field;
  int64_t i;
  double f;
} known_default;

static const known_default k_defaults[] = {
    {"Tensor", "constant", -1, 0},
    {"QuantParams", "axis", -1, 0},
    {"Value", "scale", 0, 1.0},
    {"Value", "external_index", 4294967295, 0},
    {"*", "bias_id", 4294967295, 0},
    {"*", "output_min", 0, -INFINITY},
    {"*", "output_max", 0, INFINITY},
};

static known_default default_of(const char* table, const char* field) {
  for (size_t i = 0; i < sizeof k_defaults / sizeof k_defaults[0]; i++) {
    if ((!strcmp(k_defaults[i].table, "*") || !strcmp(k_defaults[i].table, table)) &&
        !strcmp(k_defaults[i].field, field))
      return k_defaults[i];
  }
  known_default zero = {table, field, 0, 0.0};
  return zero;
}

/* Enum names by wire value, tied to the generated constants. */
static const char* const k_scalar_type[] = {
    [P(ScalarType_F32)] = "F32", [P(ScalarType_F16)] = "F16", [P(ScalarType_I8)] = "I8",
    [P(ScalarType_U8)] = "U8",   [P(ScalarType_I32)] = "I32", [P(ScalarType_I64)] = "I64",
    [P(ScalarType_BOOL)] = "BOOL"};
static const char* const k_attr_kind[] = {
    [P(AttrKind_NONE)] = "NONE", [P(AttrKind_INT)] = "INT", [P(AttrKind_FLOAT)] = "FLOAT",
    [P(AttrKind_BOOL)] = "BOOL", [P(AttrKind_INTS)] = "INTS"};
static const char* const k_datatype[] = {
    [X(DataType_INVALID)] = "INVALID", [X(DataType_FP32)] = "FP32",
    [X(DataType_FP16)] = "FP16",       [X(DataType_QINT8)] = "QINT8",
    [X(DataType_QUINT8)] = "QUINT8",   [X(DataType_QINT32)] = "QINT32",
    [X(DataType_QCINT8)] = "QCINT8",   [X(DataType_QCINT32)] = "QCINT32"};

static const struct {
  const char* table;
  const char* field;
  const char* const* names;
  size_t count;
} k_enums[] = {
    {"Tensor", "dtype", k_scalar_type, sizeof k_scalar_type / sizeof k_scalar_type[0]},
    {"Attr", "kind", k_attr_kind, sizeof k_attr_kind / sizeof k_attr_kind[0]},
    {"Value", "datatype", k_datatype, sizeof k_datatype / sizeof k_datatype[0]},
};

/* The integer a JSON scalar stands for: enum / union member names resolved. */
static char* enum_literal(const fb_table_desc* d, uint32_t id, const jval* j, const char* path) {
  const fb_field_desc* f = &d->fields[id];
  long value = -1;
  if (f->kind == FB_FIELD_UNION_TYPE) {
    const fb_field_desc* u = &d->fields[id + 1];
    for (uint32_t k = 0; k < u->union_count; k++)
      if (!strcmp(u->union_tables[k]->name, j->text)) value = (long)k + 1;
    if (!strcmp(j->text, "NONE")) value = 0;
  } else {
    for (size_t e = 0; e < sizeof k_enums / sizeof k_enums[0]; e++) {
      if (strcmp(k_enums[e].table, d->name) || strcmp(k_enums[e].field, f->name)) continue;
      for (size_t k = 0; k < k_enums[e].count; k++)
        if (!strcmp(k_enums[e].names[k], j->text)) value = (long)k;
    }
  }
  if (value < 0) fail_msg("%s: unknown enum name \"%s\"", path, j->text);
  char* lit = malloc(24);
  assert_non_null(lit);
  snprintf(lit, 24, "%ld", value);
  return lit;
}

static void check_scalar(fb_table t, const fb_table_desc* d, uint32_t id, const jval* j,
                         const char* path) {
  const fb_field_desc* f = &d->fields[id];
  known_default def = default_of(d->name, f->name);
  char* owned = NULL;
  const char* lit = "";
  if (j->type == J_STR) lit = owned = enum_literal(d, id, j, path);
  else if (j->type == J_BOOL) lit = j->b ? "1" : "0";
  else if (j->type == J_NUM) lit = j->text;
  else fail_msg("%s: expected a scalar", path);

  if (!jis_int(lit)) {
    double want = strtod(lit, NULL);
    bool ok;
    if (f->size == 4) {
      float got = fb_f32(t, id, (float)def.f);
      ok = isnan(want) ? isnan(got) : got == (float)want;
    } else {
      assert_int_equal(f->size, 8);
      double got = fb_f64(t, id, def.f);
      ok = isnan(want) ? isnan(got) : got == want;
    }
    if (!ok) fail_msg("%s: float field differs from %s", path, lit);
  } else if (lit[0] == '-') {
    long long want = strtoll(lit, NULL, 10), got;
    switch (f->size) {
      case 1: got = fb_i8(t, id, (int8_t)def.i); break;
      case 4: got = fb_i32(t, id, (int32_t)def.i); break;
      case 8: got = fb_i64(t, id, def.i); break;
      default: fail_msg("%s: unexpected size %u", path, f->size); return;
    }
    if (got != want) fail_msg("%s: read %lld, fixture has %s", path, got, lit);
  } else {
    unsigned long long want = strtoull(lit, NULL, 10), got;
    switch (f->size) {
      case 1: got = fb_u8(t, id, (uint8_t)def.i); break;
      case 4: got = fb_u32(t, id, (uint32_t)def.i); break;
      case 8: got = fb_u64(t, id, (uint64_t)def.i); break;
      default: fail_msg("%s: unexpected size %u", path, f->size); return;
    }
    if (got != want) fail_msg("%s: read %llu, fixture has %s", path, got, lit);
  }
  free(owned);
}

static void check_vec_scalar(fb_vec v, const fb_field_desc* f, const jval* arr, const char* path) {
  if (arr->type != J_ARR) fail_msg("%s: expected an array", path);
  if (v.len != arr->n) fail_msg("%s: %u elements, fixture has %zu", path, v.len, arr->n);
  for (uint32_t i = 0; i < v.len; i++) {
    const char* lit = arr->items[i]->text;
    assert_int_equal(arr->items[i]->type, J_NUM);
    bool ok;
    if (!jis_int(lit)) {
      assert_int_equal(f->size, 4);
      ok = fb_vec_f32(v, i) == (float)strtod(lit, NULL);
    } else if (f->size == 1) {
      ok = fb_vec_u8(v, i) == strtoull(lit, NULL, 10);
    } else if (f->size == 4) {
      ok = lit[0] == '-' ? fb_vec_i32(v, i) == strtoll(lit, NULL, 10)
                         : fb_vec_u32(v, i) == strtoull(lit, NULL, 10);
    } else {
      assert_int_equal(f->size, 8);
      ok = lit[0] == '-' ? fb_vec_i64(v, i) == strtoll(lit, NULL, 10)
                         : (uint64_t)fb_vec_i64(v, i) == strtoull(lit, NULL, 10);
    }
    if (!ok) fail_msg("%s[%u]: differs from %s", path, i, lit);
  }
}

static void check_string_value(const char* got, uint32_t len, const jval* j, const char* path) {
  if (j->type != J_STR) fail_msg("%s: expected a string", path);
  if (len != j->len || memcmp(got, j->text, len) || got[len] != '\0')
    fail_msg("%s: read \"%s\", fixture has \"%s\"", path, got, j->text);
}

/* Compare table `t` with JSON object `obj` field by field, per descriptor `d`. */
static void check_table(fb_table t, const fb_table_desc* d, const jval* obj, const char* path) {
  char sub[512];
  if (obj->type != J_OBJ) fail_msg("%s: expected an object", path);
  if (!t) fail_msg("%s: table absent", path);
  for (size_t k = 0; k < obj->n; k++) {
    bool known = false;
    for (uint32_t i = 0; i < d->num_fields; i++) known |= !strcmp(d->fields[i].name, obj->keys[k]);
    if (!known) fail_msg("%s: fixture field %s not in %s", path, obj->keys[k], d->name);
  }
  for (uint32_t i = 0; i < d->num_fields; i++) {
    const fb_field_desc* f = &d->fields[i];
    const jval* j = jget(obj, f->name);
    snprintf(sub, sizeof sub, "%s.%s", path, f->name);
    if (!j) {
      /* Left out of the fixture: flatc wrote nothing, the reader sees nothing. */
      if (fb_has_field(t, i)) fail_msg("%s: present, fixture omits it", sub);
      continue;
    }
    uint32_t len;
    switch (f->kind) {
      case FB_FIELD_SCALAR:
      case FB_FIELD_UNION_TYPE:
        check_scalar(t, d, i, j, sub);
        break;
      case FB_FIELD_STRING: {
        const char* s = fb_string(t, i, &len);
        check_string_value(s, len, j, sub);
        break;
      }
      case FB_FIELD_TABLE:
        check_table(fb_table_field(t, i), f->table, j, sub);
        break;
      case FB_FIELD_VEC_SCALAR:
        if (!fb_has_field(t, i)) fail_msg("%s: absent", sub);
        check_vec_scalar(fb_vector(t, i), f, j, sub);
        break;
      case FB_FIELD_VEC_STRING:
      case FB_FIELD_VEC_TABLE: {
        fb_vec v = fb_vector(t, i);
        if (!fb_has_field(t, i) || j->type != J_ARR || v.len != j->n)
          fail_msg("%s: vector absent or of the wrong length", sub);
        for (uint32_t e = 0; e < v.len; e++) {
          char el[560];
          snprintf(el, sizeof el, "%s[%u]", sub, e);
          if (f->kind == FB_FIELD_VEC_TABLE) {
            check_table(fb_vec_table(v, e), f->table, j->items[e], el);
          } else {
            const char* s = fb_vec_string(v, e, &len);
            check_string_value(s, len, j->items[e], el);
          }
        }
        break;
      }
      case FB_FIELD_UNION: {
        uint8_t type = fb_u8(t, i - 1, 0);
        if (type == 0 || type > f->union_count) fail_msg("%s: bad union type %u", sub, type);
        check_table(fb_table_field(t, i), f->union_tables[type - 1], j, sub);
        break;
      }
    }
  }
}

/* (b) for one fixture; returns the aligned buffer for extra checks (caller frees). */
static uint8_t* check_fixture(const char* schema, const char* fixture, const char* identifier,
                              const fb_table_desc* root) {
  size_t size;
  uint8_t* data = flatc_binary(schema, fixture, &size);
  char msg[512];
  xnnd_status st = fb_verify(data, size, identifier, root, NULL, msg, sizeof msg);
  if (st != XNND_OK) fail_msg("%s: fb_verify: %s: %s", fixture, xnnd_status_str(st), msg);
  jval* want = jparse_file(xt_source_path(fixture));
  check_table(fb_root(data), root, want, root->name);
  jfree(want);
  return data;
}

/* ================================================================ our builds (a) */

static fb_ref str(fb_builder* b, const char* s) { return fb_create_string(b, s, strlen(s)); }

static fb_ref tensor(fb_builder* b, int8_t dtype, const int32_t* dims, uint32_t rank,
                     fb_ref quant, int32_t constant) {
  fb_ref d = fb_create_vector(b, dims, rank, 4);
  fb_table_start(b);
  fb_add_i8(b, P(Tensor_dtype), dtype, P(ScalarType_F32));
  fb_add_ref(b, P(Tensor_dims), d);
  fb_add_ref(b, P(Tensor_quant), quant);
  fb_add_i32(b, P(Tensor_constant), constant, -1);
  return fb_table_end(b);
}

static fb_ref quant(fb_builder* b, const float* scale, const int32_t* zp, uint32_t n,
                    int32_t axis) {
  fb_ref s = fb_create_vector(b, scale, n, 4);
  fb_ref z = fb_create_vector(b, zp, n, 4);
  fb_table_start(b);
  fb_add_ref(b, P(QuantParams_scale), s);
  fb_add_ref(b, P(QuantParams_zero_point), z);
  fb_add_i32(b, P(QuantParams_axis), axis, -1);
  return fb_table_end(b);
}

static fb_ref attr(fb_builder* b, const char* name, uint8_t kind, int64_t i, double f,
                   const int64_t* ints, uint32_t n) {
  fb_ref nm = str(b, name);
  fb_ref v = ints ? fb_create_vector(b, ints, n, 8) : 0;
  fb_table_start(b);
  fb_add_ref(b, P(Attr_name), nm);
  fb_add_u8(b, P(Attr_kind), kind, P(AttrKind_NONE));
  fb_add_i64(b, P(Attr_i), i, 0);
  fb_add_f64(b, P(Attr_f), f, 0.0);
  fb_add_ref(b, P(Attr_ints), v);
  return fb_table_end(b);
}

static fb_ref step(fb_builder* b, uint8_t type, fb_ref ins) {
  fb_table_start(b);
  fb_add_u8(b, P(Step_instruction_type), type, P(Instruction_NONE));
  fb_add_ref(b, P(Step_instruction), ins);
  return fb_table_end(b);
}

/* The content of tests/golden/flatc/program_full.json. */
static fb_ref build_program_full(fb_builder* b) {
  static const int32_t d0[] = {1, 3, 4, 4}, d1[] = {2, 3, 1, 1}, d2[] = {2}, d3[] = {1, 2, 4, 4},
                       d6[] = {3}, d7[] = {1}, d8[] = {2, 2};
  static const float s1[] = {0.5f, 0.25f}, s4[] = {0.125f};
  static const int32_t z1[] = {0, -4}, z4[] = {128};
  fb_ref values[9];
  values[0] = tensor(b, P(ScalarType_F32), d0, 4, 0, -1);
  fb_ref q1 = quant(b, s1, z1, 2, 0);
  values[1] = tensor(b, P(ScalarType_I8), d1, 4, q1, 0);
  values[2] = tensor(b, P(ScalarType_F32), d2, 1, 0, 1);
  values[3] = tensor(b, P(ScalarType_F32), d3, 4, 0, -1);
  fb_ref q4 = quant(b, s4, z4, 1, -1);
  values[4] = tensor(b, P(ScalarType_U8), d3, 4, q4, -1);
  values[5] = tensor(b, P(ScalarType_I64), NULL, 0, 0, -1);
  values[6] = tensor(b, P(ScalarType_BOOL), d6, 1, 0, -1);
  values[7] = tensor(b, P(ScalarType_F16), d7, 1, 0, -1);
  values[8] = tensor(b, P(ScalarType_I32), d8, 2, 0, -1);
  fb_ref valv = fb_create_ref_vector(b, values, 9);

  static const int64_t ints[] = {1, -2, INT64_MAX};
  fb_ref attrs[5] = {
      attr(b, "stride", P(AttrKind_INTS), 0, 0.0, ints, 3),
      attr(b, "alpha", P(AttrKind_FLOAT), 0, 0.5, NULL, 0),
      attr(b, "transposed", P(AttrKind_BOOL), 1, 0.0, NULL, 0),
      attr(b, "groups", P(AttrKind_INT), -9007199254740993LL, 0.0, NULL, 0),
      attr(b, "unset", P(AttrKind_NONE), 0, 0.0, NULL, 0),
  };
  fb_ref attrv = fb_create_ref_vector(b, attrs, 5);
  static const int32_t k0_in[] = {0, 1, 2}, k2_in[] = {-1, 3};
  static const uint32_t k0_out[] = {3}, dc_in[] = {3, 2}, dc_out[] = {4}, k2_out[] = {5};
  fb_ref steps[3];
  fb_ref in = fb_create_vector(b, k0_in, 3, 4), out = fb_create_vector(b, k0_out, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, P(KernelCall_op), 0, 0);
  fb_add_ref(b, P(KernelCall_inputs), in);
  fb_add_ref(b, P(KernelCall_outputs), out);
  fb_add_ref(b, P(KernelCall_attrs), attrv);
  steps[0] = step(b, P(Instruction_KernelCall), fb_table_end(b));
  in = fb_create_vector(b, dc_in, 2, 4);
  out = fb_create_vector(b, dc_out, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, P(DelegateCall_delegate), 1, 0);
  fb_add_ref(b, P(DelegateCall_inputs), in);
  fb_add_ref(b, P(DelegateCall_outputs), out);
  steps[1] = step(b, P(Instruction_DelegateCall), fb_table_end(b));
  in = fb_create_vector(b, k2_in, 2, 4);
  out = fb_create_vector(b, k2_out, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, P(KernelCall_op), 1, 0);
  fb_add_ref(b, P(KernelCall_inputs), in);
  fb_add_ref(b, P(KernelCall_outputs), out);
  steps[2] = step(b, P(Instruction_KernelCall), fb_table_end(b));
  fb_ref stepv = fb_create_ref_vector(b, steps, 3);

  fb_ref ops[2] = {str(b, "aten::convolution"), str(b, "aten::add")};
  fb_ref opv = fb_create_ref_vector(b, ops, 2);
  static const uint32_t m_in[] = {0}, m_out[] = {4, 5};
  /* The memory plan: no slot (UINT64_MAX) for the input, the constants and the values no step
   * writes; value 4 above 4 GiB so the high word is exercised. */
  static const uint64_t offsets[] = {UINT64_MAX, UINT64_MAX, UINT64_MAX, 0, 4294967296u, 128,
                                     UINT64_MAX, UINT64_MAX, UINT64_MAX};
  static const uint64_t copies[] = {UINT64_MAX, UINT64_MAX};
  fb_ref name = str(b, "forward");
  fb_ref offv = fb_create_vector(b, offsets, 9, 8), copyv = fb_create_vector(b, copies, 2, 8);
  in = fb_create_vector(b, m_in, 1, 4);
  out = fb_create_vector(b, m_out, 2, 4);
  fb_ref methods[2];
  fb_table_start(b);
  fb_add_ref(b, P(Method_name), name);
  fb_add_ref(b, P(Method_values), valv);
  fb_add_ref(b, P(Method_inputs), in);
  fb_add_ref(b, P(Method_outputs), out);
  fb_add_ref(b, P(Method_operators), opv);
  fb_add_ref(b, P(Method_steps), stepv);
  fb_add_u64(b, P(Method_arena_size), 4294967360u, 0);
  fb_add_ref(b, P(Method_value_offsets), offv);
  fb_add_ref(b, P(Method_output_copy_offsets), copyv);
  methods[0] = fb_table_end(b);
  name = str(b, "empty");
  fb_table_start(b);
  fb_add_ref(b, P(Method_name), name);
  methods[1] = fb_table_end(b);
  fb_ref methodv = fb_create_ref_vector(b, methods, 2);

  static const uint8_t threads[] = {4, 0, 0, 255};
  fb_ref specs[2];
  fb_ref key = str(b, "threads"), val = fb_create_vector(b, threads, 4, 1);
  fb_table_start(b);
  fb_add_ref(b, P(CompileSpec_key), key);
  fb_add_ref(b, P(CompileSpec_value), val);
  specs[0] = fb_table_end(b);
  key = str(b, "none");
  val = fb_create_vector(b, NULL, 0, 1);
  fb_table_start(b);
  fb_add_ref(b, P(CompileSpec_key), key);
  fb_add_ref(b, P(CompileSpec_value), val);
  specs[1] = fb_table_end(b);
  fb_ref specv = fb_create_ref_vector(b, specs, 2);
  fb_ref dels[2];
  fb_ref backend = str(b, "XnnpackBackend");
  fb_table_start(b);
  fb_add_ref(b, P(BackendDelegate_backend), backend);
  fb_add_ref(b, P(BackendDelegate_compile_specs), specv);
  fb_add_u64(b, P(BackendDelegate_offset), 0, 0);
  fb_add_u64(b, P(BackendDelegate_size), 1344, 0);
  dels[0] = fb_table_end(b);
  backend = str(b, "XnnpackBackend");
  fb_table_start(b);
  fb_add_ref(b, P(BackendDelegate_backend), backend);
  fb_add_u64(b, P(BackendDelegate_offset), 1344, 0);
  fb_add_u64(b, P(BackendDelegate_size), 4294967360u, 0);
  dels[1] = fb_table_end(b);
  fb_ref delv = fb_create_ref_vector(b, dels, 2);

  fb_ref consts[2];
  fb_table_start(b);
  fb_add_u64(b, P(ConstantBuffer_size), 24, 0);
  consts[0] = fb_table_end(b);
  fb_table_start(b);
  fb_add_u64(b, P(ConstantBuffer_offset), 64, 0);
  fb_add_u64(b, P(ConstantBuffer_size), 8, 0);
  consts[1] = fb_table_end(b);
  fb_ref constv = fb_create_ref_vector(b, consts, 2);

  fb_table_start(b);
  fb_add_u32(b, P(Program_version), 2, 0);
  fb_add_ref(b, P(Program_methods), methodv);
  fb_add_ref(b, P(Program_delegates), delv);
  fb_add_ref(b, P(Program_constants), constv);
  return fb_table_end(b);
}

typedef struct value_spec {
  uint8_t datatype;
  const uint32_t* dims;
  uint32_t rank;
  float scale;
  int32_t zero_point;
  const float* channel_scales;
  uint32_t num_channel_scales;
  uint32_t channel_dim, flags, external_index;
  uint64_t constant_offset, constant_size;
} value_spec;

static fb_ref value(fb_builder* b, const value_spec* v) {
  fb_ref d = fb_create_vector(b, v->dims, v->rank, 4);
  fb_ref cs = v->channel_scales ? fb_create_vector(b, v->channel_scales, v->num_channel_scales, 4) : 0;
  fb_table_start(b);
  fb_add_u8(b, X(Value_datatype), v->datatype, X(DataType_INVALID));
  fb_add_ref(b, X(Value_dims), d);
  fb_add_f32(b, X(Value_scale), v->scale, 1.0f);
  fb_add_i32(b, X(Value_zero_point), v->zero_point, 0);
  fb_add_ref(b, X(Value_channel_scales), cs);
  fb_add_u32(b, X(Value_channel_dim), v->channel_dim, 0);
  fb_add_u32(b, X(Value_flags), v->flags, 0);
  fb_add_u32(b, X(Value_external_index), v->external_index, UINT32_MAX);
  fb_add_u64(b, X(Value_constant_offset), v->constant_offset, 0);
  fb_add_u64(b, X(Value_constant_size), v->constant_size, 0);
  return fb_table_end(b);
}

static fb_ref entry(fb_builder* b, uint8_t type, fb_ref node) {
  fb_table_start(b);
  fb_add_u8(b, X(NodeEntry_node_type), type, X(Node_NONE));
  fb_add_ref(b, X(NodeEntry_node), node);
  return fb_table_end(b);
}

/* The content of tests/golden/flatc/graph_nodes.json. */
static fb_ref build_graph_nodes(fb_builder* b) {
  static const uint32_t d0[] = {1, 4, 4, 3}, d1[] = {2, 3, 3, 3}, d2[] = {2}, d3[] = {1, 2, 2, 2},
                        d4[] = {1, 8};
  static const float cs1[] = {0.5f, 0.25f}, cs2[] = {0.25f, 0.125f};
  const value_spec specs[6] = {
      {X(DataType_FP32), d0, 4, 1.0f, 0, NULL, 0, 0, 1, 0, 0, 0},
      {X(DataType_QCINT8), d1, 4, 1.0f, 0, cs1, 2, 0, 0, UINT32_MAX, 0, 54},
      {X(DataType_QCINT32), d2, 1, 1.0f, 0, cs2, 2, 0, 0, UINT32_MAX, 64, 8},
      {X(DataType_FP32), d3, 4, 1.0f, 0, NULL, 0, 0, 0, UINT32_MAX, 0, 0},
      {X(DataType_QINT8), d4, 2, 0.0625f, -128, NULL, 0, 1, 0, UINT32_MAX, 0, 0},
      {X(DataType_FP32), d4, 2, 1.0f, 0, NULL, 0, 0, 6, 1, 0, 0},
  };
  fb_ref values[6];
  for (int i = 0; i < 6; i++) values[i] = value(b, &specs[i]);
  fb_ref valv = fb_create_ref_vector(b, values, 6);

  fb_ref nodes[6];
  static const uint32_t conv_u32[] = {1, 2, 3, 4, 3, 3, 2, 2, 1, 1, 1, 3, 2}; /* top..group_output */
  fb_table_start(b);
  for (uint32_t i = 0; i < 13; i++) fb_add_u32(b, X(Conv2d_padding_top) + i, conv_u32[i], 0);
  fb_add_u32(b, X(Conv2d_input_id), 0, 0);
  fb_add_u32(b, X(Conv2d_filter_id), 1, 0);
  fb_add_u32(b, X(Conv2d_bias_id), 2, UINT32_MAX);
  fb_add_u32(b, X(Conv2d_output_id), 3, 0);
  fb_add_f32(b, X(Conv2d_output_min), 0.0f, -INFINITY);
  fb_add_f32(b, X(Conv2d_output_max), 6.0f, INFINITY);
  fb_add_u32(b, X(Conv2d_flags), 0, 0);
  nodes[0] = entry(b, X(Node_Conv2d), fb_table_end(b));

  static const uint32_t shape[] = {1, 8};
  fb_ref sv = fb_create_vector(b, shape, 2, 4);
  fb_table_start(b);
  fb_add_ref(b, X(StaticReshape_new_shape), sv);
  fb_add_u32(b, X(StaticReshape_input_id), 3, 0);
  fb_add_u32(b, X(StaticReshape_output_id), 4, 0);
  nodes[1] = entry(b, X(Node_StaticReshape), fb_table_end(b));

  fb_table_start(b);
  fb_add_u32(b, X(FullyConnected_input_id), 4, 0);
  fb_add_u32(b, X(FullyConnected_filter_id), 1, 0);
  fb_add_u32(b, X(FullyConnected_bias_id), UINT32_MAX, UINT32_MAX);
  fb_add_u32(b, X(FullyConnected_output_id), 5, 0);
  fb_add_f32(b, X(FullyConnected_output_min), -INFINITY, -INFINITY);
  fb_add_f32(b, X(FullyConnected_output_max), INFINITY, INFINITY);
  fb_add_u32(b, X(FullyConnected_flags), 1, 0);
  nodes[2] = entry(b, X(Node_FullyConnected), fb_table_end(b));

  fb_table_start(b);
  fb_add_u32(b, X(Clamp_input_id), 5, 0);
  fb_add_u32(b, X(Clamp_output_id), 5, 0);
  fb_add_f32(b, X(Clamp_output_min), -1.5f, -INFINITY);
  fb_add_f32(b, X(Clamp_output_max), INFINITY, INFINITY);
  nodes[3] = entry(b, X(Node_Clamp), fb_table_end(b));

  fb_table_start(b);
  fb_add_u32(b, X(Softmax_input_id), 5, 0);
  fb_add_u32(b, X(Softmax_output_id), 5, 0);
  nodes[4] = entry(b, X(Node_Softmax), fb_table_end(b));

  nodes[5] = entry(b, X(Node_NONE), 0);
  fb_ref nodev = fb_create_ref_vector(b, nodes, 6);

  static const uint32_t in_ids[] = {0}, out_ids[] = {5};
  fb_ref in = fb_create_vector(b, in_ids, 1, 4), out = fb_create_vector(b, out_ids, 1, 4);
  fb_table_start(b);
  fb_add_u32(b, X(Graph_version), 1, 0);
  fb_add_ref(b, X(Graph_values), valv);
  fb_add_ref(b, X(Graph_nodes), nodev);
  fb_add_ref(b, X(Graph_input_ids), in);
  fb_add_ref(b, X(Graph_output_ids), out);
  return fb_table_end(b);
}

static void build_and_compare(fb_ref (*fn)(fb_builder*), const char* identifier,
                              const fb_table_desc* root, const char* schema, const char* fixture) {
  fb_builder* b;
  assert_int_equal(fb_builder_create(NULL, &b), XNND_OK);
  fb_ref r = fn(b);
  const uint8_t* data;
  size_t size;
  assert_int_equal(fb_finish(b, r, identifier, &data, &size), XNND_OK);
  char msg[512];
  xnnd_status st = fb_verify(data, size, identifier, root, NULL, msg, sizeof msg);
  if (st != XNND_OK) fail_msg("our own buffer fails fb_verify: %s", msg);
  expect_flatc_json(data, size, schema, fixture);
  fb_builder_destroy(b);
}

/* ================================================================ tests */

static void test_ours_to_flatc_program(void** state) {
  (void)state;
  build_and_compare(build_program_full, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT,
                    "schema/program.fbs", "tests/golden/flatc/program_full.json");
}

static void test_ours_to_flatc_graph(void** state) {
  (void)state;
  build_and_compare(build_graph_nodes, XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT,
                    "schema/xnnpack.fbs", "tests/golden/flatc/graph_nodes.json");
}

static void test_flatc_to_ours_program(void** state) {
  (void)state;
  uint8_t* d = check_fixture("schema/program.fbs", "tests/golden/flatc/program_defaults.json",
                             XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT);
  /* Explicit defaults in the fixture: flatc leaves them out, readers supply them. */
  fb_table m = fb_vec_table(fb_vector(fb_root(d), P(Program_methods)), 0);
  fb_table t0 = fb_vec_table(fb_vector(m, P(Method_values)), 0);
  assert_false(fb_has_field(t0, P(Tensor_dtype)));
  assert_false(fb_has_field(t0, P(Tensor_constant)));
  assert_int_equal(fb_i32(t0, P(Tensor_constant), -1), -1);
  fb_table q0 = fb_table_field(t0, P(Tensor_quant));
  assert_false(fb_has_field(q0, P(QuantParams_axis)));
  assert_int_equal(fb_vector(q0, P(QuantParams_scale)).len, 0);
  assert_true(fb_has_field(q0, P(QuantParams_scale)));
  fb_table s2 = fb_vec_table(fb_vector(m, P(Method_steps)), 2);
  assert_int_equal(fb_u8(s2, P(Step_instruction_type), 0), P(Instruction_NONE));
  assert_null(fb_table_field(s2, P(Step_instruction)));
  /* A memory plan is there when value_offsets is; an arena_size of 0 is left out. */
  assert_false(fb_has_field(m, P(Method_arena_size)));
  assert_int_equal(fb_u64(m, P(Method_arena_size), 0), 0);
  assert_true(fb_has_field(m, P(Method_value_offsets)));
  assert_int_equal(fb_vector(m, P(Method_value_offsets)).len, 1);
  /* flatc writes an empty [ulong] vector with its length at 0 mod 8 (data "at" 4 mod 8): an
   * empty vector has nothing to align, so the verifier accepts it. */
  assert_true(fb_has_field(m, P(Method_output_copy_offsets)));
  assert_int_equal(fb_vector(m, P(Method_output_copy_offsets)).len, 0);
  free(d);
  /* The stored offsets read back bit-exact through the signed vector reader. */
  d = check_fixture("schema/program.fbs", "tests/golden/flatc/program_full.json",
                    XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT);
  m = fb_vec_table(fb_vector(fb_root(d), P(Program_methods)), 0);
  fb_vec offs = fb_vector(m, P(Method_value_offsets));
  assert_int_equal(offs.len, 9);
  assert_true((uint64_t)fb_vec_i64(offs, 0) == UINT64_MAX);
  assert_true((uint64_t)fb_vec_i64(offs, 4) == 4294967296u);
  assert_int_equal(fb_u64(m, P(Method_arena_size), 0), 4294967360u);
  free(d);
}

static void test_flatc_to_ours_graph(void** state) {
  (void)state;
  free(check_fixture("schema/xnnpack.fbs", "tests/golden/flatc/graph_nodes.json",
                     XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT));
  uint8_t* d = check_fixture("schema/xnnpack.fbs", "tests/golden/flatc/graph_all_nodes.json",
                             XNND_XNNPACK_IDENTIFIER, XNND_XNNPACK_ROOT);
  fb_table g = fb_root(d);
  fb_vec nodes = fb_vector(g, X(Graph_nodes));
  /* Every union member appears, in declaration order. */
  for (uint32_t k = 1; k < X(Node_COUNT); k++)
    assert_int_equal(fb_u8(fb_vec_table(nodes, k - 1), X(NodeEntry_node_type), 0), k);
  fb_table fc = fb_table_field(fb_vec_table(nodes, 2), X(NodeEntry_node));
  assert_false(fb_has_field(fc, X(FullyConnected_bias_id)));
  assert_int_equal(fb_u32(fc, X(FullyConnected_bias_id), UINT32_MAX), 4294967295u);
  assert_false(fb_has_field(fc, X(FullyConnected_output_min)));
  float mn = fb_f32(fc, X(FullyConnected_output_min), -INFINITY);
  float mx = fb_f32(fc, X(FullyConnected_output_max), INFINITY);
  assert_true(isinf(mn) && mn < 0 && isinf(mx) && mx > 0);
  fb_table dw = fb_table_field(fb_vec_table(nodes, 1), X(NodeEntry_node));
  assert_true(fb_f32(dw, X(DepthwiseConv2d_output_min), -INFINITY) == 0.0f);
  fb_table v0 = fb_vec_table(fb_vector(g, X(Graph_values)), 0);
  assert_false(fb_has_field(v0, X(Value_scale)));
  assert_false(fb_has_field(v0, X(Value_external_index)));
  assert_int_equal(fb_vector(g, X(Graph_output_ids)).len, 0);
  free(d);
}

/* Our verifier and flatc agree on the identifier: each schema refuses the other's buffer. */
static void test_identifiers_cross(void** state) {
  (void)state;
  size_t size;
  uint8_t* d = flatc_binary("schema/xnnpack.fbs", "tests/golden/flatc/graph_nodes.json", &size);
  assert_memory_equal(d + 4, XNND_XNNPACK_IDENTIFIER, 4);
  assert_int_equal(fb_verify(d, size, XNND_PROGRAM_IDENTIFIER, XNND_PROGRAM_ROOT, NULL, NULL, 0),
                   XNND_BAD_MAGIC);
  free(d);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ours_to_flatc_program),
      cmocka_unit_test(test_ours_to_flatc_graph),
      cmocka_unit_test(test_flatc_to_ours_program),
      cmocka_unit_test(test_flatc_to_ours_graph),
      cmocka_unit_test(test_identifiers_cross),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
