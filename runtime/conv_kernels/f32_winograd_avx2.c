/* Winograd F(4x4, 3x3) tile transforms for f32_conv.c (Lavin & Gray's points 0, +-1, +-2,
 * +-1/2 folded into integer B and A). Eight channels at a time in AVX2 registers (GCC vector
 * extensions, so the arithmetic reads like the matrices), the channel tail in scalars with
 * the same macros. Compiled with -mavx2 -mfma; called only after the CPU check. */
#include "f32_conv.h"

#if XNND_F32_CONV_X86

#include <immintrin.h>
#include <string.h>

typedef float v8 __attribute__((vector_size(32)));

/* B^T applied to a column of six: rows of B^T are
 *  [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0] [0 2 -1 -2 1 0] [0 4 0 -5 0 1] */
#define BT6(T, r, d)                                      \
  do {                                                    \
    T t1_ = d[4] - 4 * d[2], t2_ = d[3] - 4 * d[1];       \
    T t3_ = d[4] - d[2], t4_ = 2 * (d[3] - d[1]);         \
    r[0] = 4 * d[0] - 5 * d[2] + d[4];                    \
    r[1] = t1_ + t2_;                                     \
    r[2] = t1_ - t2_;                                     \
    r[3] = t3_ + t4_;                                     \
    r[4] = t3_ - t4_;                                     \
    r[5] = 4 * d[1] - 5 * d[3] + d[5];                    \
  } while (0)

/* A^T applied to a column of six: rows [1 1 1 1 1 0] [0 1 -1 2 -2 0] [0 1 1 4 4 0]
 * [0 1 -1 8 -8 1]. */
#define AT6(T, o, m)                                      \
  do {                                                    \
    T s1_ = m[1] + m[2], d1_ = m[1] - m[2];               \
    T s2_ = m[3] + m[4], d2_ = m[3] - m[4];               \
    o[0] = m[0] + s1_ + s2_;                              \
    o[1] = d1_ + 2 * d2_;                                 \
    o[2] = s1_ + 4 * s2_;                                 \
    o[3] = d1_ + 8 * d2_ + m[5];                          \
  } while (0)

/* V = B^T d B for the 6x6 tile whose input rows start at `rows[0..5]` (NULL: padding row),
 * columns x0 .. x0+5 (columns outside [0, in_w) read as zero); writes v[k * v_stride + c]. */
#define INPUT_TILE(T, LOAD, STORE, c)                                                  \
  do {                                                                             \
    T d[6][6], tmp[6][6];                                                          \
    for (int y = 0; y < 6; y++)                                                    \
      for (int x = 0; x < 6; x++) {                                                \
        size_t ix = x0 + (size_t)x;                                                \
        d[y][x] = rows[y] != NULL && ix < in_w ? LOAD(rows[y] + ix * cin + (c)) : (T){0}; \
      }                                                                            \
    for (int x = 0; x < 6; x++) {                                                  \
      T col[6], r[6];                                                              \
      for (int y = 0; y < 6; y++) col[y] = d[y][x];                                \
      BT6(T, r, col);                                                              \
      for (int y = 0; y < 6; y++) tmp[y][x] = r[y];                                \
    }                                                                              \
    for (int y = 0; y < 6; y++) {                                                  \
      T r[6];                                                                      \
      BT6(T, r, tmp[y]);                                                           \
      for (int x = 0; x < 6; x++) STORE(v + (size_t)(y * 6 + x) * v_stride + (c), r[x]); \
    }                                                                              \
  } while (0)

static inline v8 load8(const float* p) {
  v8 r;
  memcpy(&r, p, sizeof(r));
  return r;
}
static inline void store8(float* p, v8 x) { memcpy(p, &x, sizeof(x)); }
#define LOAD1(p) (*(p))
#define STORE1(p, x) (*(p) = (x))

void xnnd_f32_wino_input_avx2(const float* const rows[6], size_t in_w, size_t cin, size_t x0, float* v,
                              size_t v_stride) {
  size_t c = 0;
  for (; c + 8 <= cin; c += 8) INPUT_TILE(v8, load8, store8, c);
  for (; c < cin; c++) INPUT_TILE(float, LOAD1, STORE1, c);
}

/* Y = A^T m A for one tile: m[k * m_stride + c], k = 6*y + x; adds bias, clamps and writes
 * the rows*cols valid outputs of the 4x4 block at out_rows[r] + (x * cout). */
#define OUTPUT_TILE(T, LOAD, STORE, c, BIAS, CLAMP)                                   \
  do {                                                                            \
    T mm[6][6], tmp[4][6];                                                        \
    for (int k = 0; k < 36; k++) mm[k / 6][k % 6] = LOAD(m + (size_t)k * m_stride + (c)); \
    for (int x = 0; x < 6; x++) {                                                 \
      T col[6], o[4];                                                             \
      for (int y = 0; y < 6; y++) col[y] = mm[y][x];                              \
      AT6(T, o, col);                                                             \
      for (int y = 0; y < 4; y++) tmp[y][x] = o[y];                               \
    }                                                                             \
    T b_ = BIAS;                                                                  \
    for (size_t y = 0; y < out_rows_n; y++) {                                     \
      T o[4];                                                                     \
      AT6(T, o, tmp[y]);                                                          \
      for (size_t x = 0; x < out_cols_n; x++) STORE(out_rows[y] + x * cout + (c), CLAMP(o[x] + b_)); \
    }                                                                             \
  } while (0)

/* Operands in this order keep NaN (maxps/minps return their second operand for it). */
static inline v8 clamp8(v8 x, v8 lo, v8 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, x)); }
static inline float clamp1(float x, float lo, float hi) {
  x = x < lo ? lo : x;
  return x > hi ? hi : x;
}

void xnnd_f32_wino_output_avx2(const float* m, size_t m_stride, size_t cout, const float* bias, float min, float max,
                               float* const out_rows[4], size_t out_rows_n, size_t out_cols_n) {
  const v8 lo = {min, min, min, min, min, min, min, min}, hi = {max, max, max, max, max, max, max, max};
  size_t c = 0;
#define CLAMP8(x) clamp8(x, lo, hi)
#define CLAMP1(x) clamp1(x, min, max)
  for (; c + 8 <= cout; c += 8) OUTPUT_TILE(v8, load8, store8, c, load8(bias + c), CLAMP8);
  for (; c < cout; c++) OUTPUT_TILE(float, LOAD1, STORE1, c, bias[c], CLAMP1);
#undef CLAMP8
#undef CLAMP1
}

#endif
