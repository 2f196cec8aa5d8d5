/* Matrix products: aten.mm, aten.bmm, aten.addmm (beta*self + alpha*mat1@mat2, self broadcast
 * to [M,N]), aten.baddbmm (the batched form, self broadcast to [B,M,N]) and aten.linear
 * (input[...,K] @ weight[N,K]^T + bias). Row-major everywhere; all run on one blocked GEMM. */
#include <string.h>

#include "kernels/kernel_util.h"

typedef struct gemm_params {
  int64_t batch, m, k, n;
  int64_t bias_sb, bias_sm, bias_sn; /* addmm/baddbmm self strides over [B,M,N]; 0 broadcasts */
  float alpha, beta;
  bool has_bias;
} gemm_params;
KPARAMS_FIT(gemm_params);

/* The GEMM behind every op here: C[M,N] += alpha * A[M,K] @ B, B given as [K,N] or, for
 * linear, as its transpose [N,K]. Cache-blocked and register-tiled: for each panel of GEMM_KC
 * k-terms and GEMM_NR columns, B is packed (zero-padded) on the stack, where it stays in L1, and
 * a microkernel sweeps it against MR rows of A at a time, holding an MR x GEMM_NR tile of sums in
 * registers. Summation: a microkernel call sums at most GEMM_KSUB products from zero in float,
 * k in order; a panel's call sums meet in a zeroed tile, and the panel total is added to C (which
 * holds the init: 0, bias or beta*self). An output's error is thus bounded by about
 * GEMM_KSUB + GEMM_KC/GEMM_KSUB + K/GEMM_KC roundings; the old kernels summed all K products
 * into the init in float (linear: eight partial sums of K/8), so bounds only shrink for K > 64.
 * The AVX2+FMA microkernel (kernel_linear_avx2.c, 6 x 16) is chosen at run time from the CPU;
 * the portable one (4 x 16) is GNU C vector code that maps onto the baseline ISA. */
#define GEMM_NR 16
#define GEMM_KC 256 /* k-terms per packed panel (16 KB) */
#define GEMM_KSUB 64 /* k-terms per microkernel call, summed from zero */
#define GEMM_MR_MAX 6

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GEMM_X86 1
/* Defined in kernel_linear_avx2.c (built with -mavx2 -mfma). */
void xnnd_linear_gemm_6x16_avx2(size_t kc, const float* const* a, float alpha, const float* bp,
                                float* c, size_t ldc);
#else
#define GEMM_X86 0
#endif

#if defined(__GNUC__) || defined(__clang__)
/* A 4-float vector of GNU C's vector extension: the compiler maps it onto whatever SIMD the
 * baseline ISA has (SSE2, NEON) or onto scalars. Plain loops got vectorized across k instead. */
typedef float gemm_v4 __attribute__((vector_size(16)));

static inline gemm_v4 v4_load(const float* p) {
  gemm_v4 v;
  memcpy(&v, p, sizeof(v));
  return v;
}

static inline void v4_add_to(float* p, gemm_v4 v) {
  gemm_v4 c = v4_load(p) + v;
  memcpy(p, &c, sizeof(c));
}

static inline gemm_v4 v4_splat(float x) { return (gemm_v4){x, x, x, x}; }

/* 4 rows x 8 columns of the panel (row stride GEMM_NR): c[r][j] += sum_k (alpha*a[r][k]) *
 * bp[k][j], the tile held in eight vectors; scaled is constant per call (alpha == 1 skips the
 * multiply, the common case). */
static inline __attribute__((always_inline)) void gemm_4x8_body(size_t kc, const float* const* a,
                                                             float alpha, bool scaled,
                                                             const float* restrict bp,
                                                             float* restrict c, size_t ldc) {
  const float *a0 = a[0], *a1 = a[1], *a2 = a[2], *a3 = a[3];
  gemm_v4 c00 = {0}, c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (size_t k = 0; k < kc; k++, bp += GEMM_NR) {
    const gemm_v4 b0 = v4_load(bp), b1 = v4_load(bp + 4);
    gemm_v4 x = v4_splat(scaled ? alpha * a0[k] : a0[k]);
    c00 += x * b0;
    c01 += x * b1;
    x = v4_splat(scaled ? alpha * a1[k] : a1[k]);
    c10 += x * b0;
    c11 += x * b1;
    x = v4_splat(scaled ? alpha * a2[k] : a2[k]);
    c20 += x * b0;
    c21 += x * b1;
    x = v4_splat(scaled ? alpha * a3[k] : a3[k]);
    c30 += x * b0;
    c31 += x * b1;
  }
  v4_add_to(c, c00);
  v4_add_to(c + 4, c01);
  v4_add_to(c + ldc, c10);
  v4_add_to(c + ldc + 4, c11);
  v4_add_to(c + 2 * ldc, c20);
  v4_add_to(c + 2 * ldc + 4, c21);
  v4_add_to(c + 3 * ldc, c30);
  v4_add_to(c + 3 * ldc + 4, c31);
}
static void gemm_4x8(size_t kc, const float* const* a, float alpha, const float* restrict bp,
                     float* restrict c, size_t ldc) {
  if (alpha == 1.0f)
    gemm_4x8_body(kc, a, alpha, false, bp, c, ldc);
  else
    gemm_4x8_body(kc, a, alpha, true, bp, c, ldc);
}
#else
static void gemm_4x8(size_t kc, const float* const* a, float alpha, const float* restrict bp,
                     float* restrict c, size_t ldc) {
  float acc[4][8] = {{0}};
  for (size_t k = 0; k < kc; k++, bp += GEMM_NR)
    for (int r = 0; r < 4; r++) {
      const float x = alpha * a[r][k];
      for (int j = 0; j < 8; j++) acc[r][j] += x * bp[j];
    }
  for (int r = 0; r < 4; r++)
    for (int j = 0; j < 8; j++) c[(size_t)r * ldc + j] += acc[r][j];
}
#endif

static void gemm_4x16(size_t kc, const float* const* a, float alpha, const float* bp, float* c,
                      size_t ldc) {
  gemm_4x8(kc, a, alpha, bp, c, ldc);
  gemm_4x8(kc, a, alpha, bp + 8, c + 8, ldc);
}

typedef void (*gemm_ukernel)(size_t kc, const float* const* a, float alpha, const float* bp,
                             float* c, size_t ldc);

/* Packs B[k0..k0+kc, j0..j0+nr] (or, transposed, Bt[j0.., k0..]) as kc rows of GEMM_NR. */
static void pack_b(const float* B, int64_t K, int64_t N, bool trans, int64_t k0, int64_t kc,
                   int64_t j0, int64_t nr, float* restrict bp) {
  for (int64_t k = 0; k < kc; k++) {
    float* row = bp + k * GEMM_NR;
    int64_t j = 0;
    if (trans)
      for (; j < nr; j++) row[j] = B[(j0 + j) * K + k0 + k];
    else
      for (; j < nr; j++) row[j] = B[(k0 + k) * N + j0 + j];
    for (; j < GEMM_NR; j++) row[j] = 0.0f;
  }
}

static void gemm_acc(int64_t M, int64_t K, int64_t N, float alpha, const float* A,
                     const float* B, bool trans_b, float* C) {
  gemm_ukernel uk = gemm_4x16;
  int64_t mr = 4;
#if GEMM_X86
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    uk = xnnd_linear_gemm_6x16_avx2;
    mr = 6;
  }
#endif
  _Alignas(32) float bp[GEMM_KC * GEMM_NR];
  for (int64_t k0 = 0; k0 < K; k0 += GEMM_KC) {
    const int64_t kc = K - k0 < GEMM_KC ? K - k0 : GEMM_KC;
    for (int64_t j0 = 0; j0 < N; j0 += GEMM_NR) {
      const int64_t nr = N - j0 < GEMM_NR ? N - j0 : GEMM_NR;
      pack_b(B, K, N, trans_b, k0, kc, j0, nr, bp);
      for (int64_t i0 = 0; i0 < M; i0 += mr) {
        const int64_t m = M - i0 < mr ? M - i0 : mr;
        /* Rows past M repeat the last one; their sums land in the tile's unused rows. */
        const float* rows[GEMM_MR_MAX];
        for (int64_t r = 0; r < mr; r++) rows[r] = A + (i0 + (r < m ? r : m - 1)) * K + k0;
        float* c = C + i0 * N + j0;
        if (kc <= GEMM_KSUB && m == mr && nr == GEMM_NR) {
          uk((size_t)kc, rows, alpha, bp, c, (size_t)N);
          continue;
        }
        /* The panel's sub-block sums meet in a zeroed tile, and only its total is added to C:
         * K/GEMM_KC float adds into the running sum rather than K/GEMM_KSUB. */
        float tile[GEMM_MR_MAX * GEMM_NR] = {0};
        for (int64_t kk = 0; kk < kc; kk += GEMM_KSUB) {
          const float* sub[GEMM_MR_MAX];
          for (int64_t r = 0; r < mr; r++) sub[r] = rows[r] + kk;
          const int64_t ks = kc - kk < GEMM_KSUB ? kc - kk : GEMM_KSUB;
          uk((size_t)ks, sub, alpha, bp + kk * GEMM_NR, tile, GEMM_NR);
        }
        for (int64_t r = 0; r < m; r++)
          for (int64_t j = 0; j < nr; j++) c[r * N + j] += tile[r * GEMM_NR + j];
      }
    }
  }
}

static xnnd_status check_out(const kcheck* c, uint32_t rank, const int64_t* dims) {
  const xnnd_tensor* y = koutput(c, 0);
  xnnd_status s = kcheck_tensor(c, y, "out", XNND_F32, -1);
  if (s != XNND_OK) return s;
  return kcheck_shape(c, y, "out", rank, dims);
}

/* Checks a [.., M, K] @ [.., K, N] pair of the given rank; fills p->m/k/n/batch. */
static xnnd_status check_matmul(const kcheck* c, const xnnd_tensor* a, const char* an,
                                const xnnd_tensor* b, const char* bn, int rank, gemm_params* p) {
  xnnd_status s;
  if ((s = kcheck_tensor(c, a, an, XNND_F32, rank)) != XNND_OK ||
      (s = kcheck_tensor(c, b, bn, XNND_F32, rank)) != XNND_OK)
    return s;
  const uint32_t r = (uint32_t)rank;
  if (b->dims[r - 2] != a->dims[r - 1])
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has %lld rows, %s has %lld columns", bn,
                 (long long)b->dims[r - 2], an, (long long)a->dims[r - 1]);
  if (rank == 3 && a->dims[0] != b->dims[0])
    return kfail(c, XNND_SHAPE_MISMATCH, "%s has batch %lld, %s has batch %lld", bn,
                 (long long)b->dims[0], an, (long long)a->dims[0]);
  p->batch = rank == 3 ? a->dims[0] : 1;
  p->m = a->dims[r - 2];
  p->k = a->dims[r - 1];
  p->n = b->dims[r - 1];
  p->alpha = 1.0f;
  p->beta = 0.0f;
  p->has_bias = false;
  p->bias_sb = p->bias_sm = p->bias_sn = 0;
  return XNND_OK;
}

KPREPARE(mm) {
  const kcheck c = {"aten.mm", args, err, err_size};
  gemm_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 2, 1);
  if (s != XNND_OK) return s;
  if ((s = check_matmul(&c, kinput(&c, 0), "self", kinput(&c, 1), "mat2", 2, p)) != XNND_OK)
    return s;
  const int64_t want[2] = {p->m, p->n};
  return check_out(&c, 2, want);
}

KPREPARE(bmm) {
  const kcheck c = {"aten.bmm", args, err, err_size};
  gemm_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 2, 1);
  if (s != XNND_OK) return s;
  if ((s = check_matmul(&c, kinput(&c, 0), "self", kinput(&c, 1), "mat2", 3, p)) != XNND_OK)
    return s;
  const int64_t want[3] = {p->batch, p->m, p->n};
  return check_out(&c, 3, want);
}

KRUN(mm) {
  const gemm_params* p = params;
  const float* a = args->inputs[0]->data;
  const float* b = args->inputs[1]->data;
  float* y = args->outputs[0]->data;
  for (int64_t i = 0; i < p->batch * p->m * p->n; i++) y[i] = 0.0f;
  for (int64_t t = 0; t < p->batch; t++)
    gemm_acc(p->m, p->k, p->n, 1.0f, a + t * p->m * p->k, b + t * p->k * p->n, false,
             y + t * p->m * p->n);
  return XNND_OK;
}

KPREPARE(addmm) {
  const kcheck c = {"aten.addmm", args, err, err_size};
  gemm_params* p = params;
  xnnd_status s = kcheck_arity(&c, 3, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* self = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, self, "self", XNND_F32, -1)) != XNND_OK) return s;
  if ((s = check_matmul(&c, kinput(&c, 1), "mat1", kinput(&c, 2), "mat2", 2, p)) != XNND_OK)
    return s;
  double alpha, beta;
  if ((s = kattr_float(&c, "beta", 1.0, &beta)) != XNND_OK ||
      (s = kattr_float(&c, "alpha", 1.0, &alpha)) != XNND_OK)
    return s;
  /* self broadcasts to [M,N] by trailing alignment. */
  if (self->rank > 2) return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, at most 2", self->rank);
  const int64_t sn = self->rank >= 1 ? self->dims[self->rank - 1] : 1;
  const int64_t sm = self->rank == 2 ? self->dims[0] : 1;
  if ((sn != 1 && sn != p->n) || (sm != 1 && sm != p->m)) {
    char got[160];
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has shape %s, not broadcastable to [%lld,%lld]",
                 kshape_str(got, sizeof(got), self->rank, self->dims), (long long)p->m,
                 (long long)p->n);
  }
  p->bias_sn = sn == 1 ? 0 : 1;
  p->bias_sm = sm == 1 ? 0 : sn;
  p->alpha = (float)alpha;
  p->beta = (float)beta;
  p->has_bias = true;
  const int64_t want[2] = {p->m, p->n};
  return check_out(&c, 2, want);
}

KRUN(addmm) {
  const gemm_params* p = params;
  const float* self = args->inputs[0]->data;
  const float* a = args->inputs[1]->data;
  const float* b = args->inputs[2]->data;
  float* y = args->outputs[0]->data;
  for (int64_t i = 0; i < p->m; i++)
    for (int64_t j = 0; j < p->n; j++)
      /* beta == 0 ignores self entirely, NaN and inf included (PyTorch semantics). */
      y[i * p->n + j] = p->beta == 0.0f ? 0.0f : p->beta * self[i * p->bias_sm + j * p->bias_sn];
  gemm_acc(p->m, p->k, p->n, p->alpha, a, b, false, y);
  return XNND_OK;
}

KPREPARE(linear) {
  const kcheck c = {"aten.linear", args, err, err_size};
  gemm_params* p = params;
  xnnd_status s = kcheck_arity(&c, 2, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* x = kinput(&c, 0);
  const xnnd_tensor* w = kinput(&c, 1);
  const xnnd_tensor* b = kinput(&c, 2);
  if ((s = kcheck_tensor(&c, x, "input", XNND_F32, -1)) != XNND_OK ||
      (s = kcheck_tensor(&c, w, "weight", XNND_F32, 2)) != XNND_OK)
    return s;
  if (b && (s = kcheck_tensor(&c, b, "bias", XNND_F32, 1)) != XNND_OK) return s;
  if (x->rank < 1) return kfail(&c, XNND_SHAPE_MISMATCH, "input has rank 0, expected at least 1");
  const int64_t K = x->dims[x->rank - 1], N = w->dims[0];
  if (w->dims[1] != K)
    return kfail(&c, XNND_SHAPE_MISMATCH, "weight has %lld input features, input has %lld",
                 (long long)w->dims[1], (long long)K);
  if (b && b->dims[0] != N)
    return kfail(&c, XNND_SHAPE_MISMATCH, "bias has %lld entries, weight has %lld outputs",
                 (long long)b->dims[0], (long long)N);
  int64_t want[XNND_MAX_RANK];
  int64_t M = 1;
  for (uint32_t i = 0; i + 1 < x->rank; i++) {
    want[i] = x->dims[i];
    M *= x->dims[i];
  }
  want[x->rank - 1] = N;
  p->batch = 1;
  p->m = M;
  p->k = K;
  p->n = N;
  p->has_bias = b != NULL;
  return check_out(&c, x->rank, want);
}

KRUN(linear) {
  const gemm_params* p = params;
  const float* x = args->inputs[0]->data;
  const float* w = args->inputs[1]->data;
  const float* b = p->has_bias ? args->inputs[2]->data : NULL;
  float* y = args->outputs[0]->data;
  for (int64_t i = 0; i < p->m; i++)
    for (int64_t j = 0; j < p->n; j++) y[i * p->n + j] = b ? b[j] : 0.0f;
  gemm_acc(p->m, p->k, p->n, 1.0f, x, w, true, y);
  return XNND_OK;
}

KPREPARE(baddbmm) {
  const kcheck c = {"aten.baddbmm", args, err, err_size};
  gemm_params* p = params;
  xnnd_status s = kcheck_arity(&c, 3, 3, 1);
  if (s != XNND_OK) return s;
  const xnnd_tensor* self = kinput(&c, 0);
  if ((s = kcheck_tensor(&c, self, "self", XNND_F32, -1)) != XNND_OK) return s;
  if ((s = check_matmul(&c, kinput(&c, 1), "batch1", kinput(&c, 2), "batch2", 3, p)) != XNND_OK)
    return s;
  double alpha, beta;
  if ((s = kattr_float(&c, "beta", 1.0, &beta)) != XNND_OK ||
      (s = kattr_float(&c, "alpha", 1.0, &alpha)) != XNND_OK)
    return s;
  if (self->rank > 3)
    return kfail(&c, XNND_SHAPE_MISMATCH, "self has rank %u, at most 3", self->rank);
  /* self broadcasts to [B,M,N] by trailing alignment; strides 0 broadcast. */
  const int64_t want[3] = {p->batch, p->m, p->n};
  int64_t st[3] = {0, 0, 0}, k = 1;
  for (uint32_t i = 0; i < self->rank; i++) {
    const uint32_t d = 3 - self->rank + (self->rank - 1 - i);
    const int64_t have = self->dims[self->rank - 1 - i];
    if (have != 1 && have != want[d]) {
      char got[160];
      return kfail(&c, XNND_SHAPE_MISMATCH,
                   "self has shape %s, not broadcastable to [%lld,%lld,%lld]",
                   kshape_str(got, sizeof(got), self->rank, self->dims), (long long)p->batch,
                   (long long)p->m, (long long)p->n);
    }
    st[d] = have == 1 ? 0 : k;
    k *= have;
  }
  p->bias_sb = st[0];
  p->bias_sm = st[1];
  p->bias_sn = st[2];
  p->alpha = (float)alpha;
  p->beta = (float)beta;
  p->has_bias = true;
  return check_out(&c, 3, want);
}

KRUN(baddbmm) {
  const gemm_params* p = params;
  const float* self = args->inputs[0]->data;
  const float* a = args->inputs[1]->data;
  const float* b = args->inputs[2]->data;
  float* y = args->outputs[0]->data;
  for (int64_t t = 0; t < p->batch; t++) {
    float* yt = y + t * p->m * p->n;
    for (int64_t i = 0; i < p->m; i++)
      for (int64_t j = 0; j < p->n; j++)
        yt[i * p->n + j] = p->beta == 0.0f
                               ? 0.0f
                               : p->beta * self[t * p->bias_sb + i * p->bias_sm + j * p->bias_sn];
    gemm_acc(p->m, p->k, p->n, p->alpha, a + t * p->m * p->k, b + t * p->k * p->n, false,
             yt);
  }
  return XNND_OK;
}
