/* Matrix products: aten.mm, aten.bmm, aten.addmm (beta*self + alpha*mat1@mat2, self broadcast
 * to [M,N]), aten.baddbmm (the batched form, self broadcast to [B,M,N]) and aten.linear
 * (input[...,K] @ weight[N,K]^T + bias). Row-major everywhere; the [K,N] right-hand side is
 * consumed row by row so the inner loop is a contiguous axpy. */
#include "kernels/kernel_util.h"

typedef struct gemm_params {
  int64_t batch, m, k, n;
  int64_t bias_sb, bias_sm, bias_sn; /* addmm/baddbmm self strides over [B,M,N]; 0 broadcasts */
  float alpha, beta;
  bool has_bias;
} gemm_params;
KPARAMS_FIT(gemm_params);

/* C[M,N] += alpha * A[M,K] @ B[K,N]. */
static void gemm_acc(int64_t M, int64_t K, int64_t N, float alpha, const float* restrict A,
                     const float* restrict B, float* restrict C) {
  for (int64_t i = 0; i < M; i++) {
    float* c = C + i * N;
    for (int64_t k = 0; k < K; k++) {
      const float a = alpha * A[i * K + k];
      const float* b = B + k * N;
      for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
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
    gemm_acc(p->m, p->k, p->n, 1.0f, a + t * p->m * p->k, b + t * p->k * p->n,
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
  gemm_acc(p->m, p->k, p->n, p->alpha, a, b, y);
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
  const int64_t K = p->k;
  for (int64_t i = 0; i < p->m; i++) {
    const float* xi = x + i * K;
    for (int64_t j = 0; j < p->n; j++) {
      const float* wj = w + j * K;
      /* Independent partial sums break the add dependency chain. */
      float acc[8] = {0};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int u = 0; u < 8; u++) acc[u] += xi[k + u] * wj[k + u];
      float sum = 0.0f;
      for (; k < K; k++) sum += xi[k] * wj[k];
      sum += ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
      y[i * p->n + j] = b ? sum + b[j] : sum;
    }
  }
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
    gemm_acc(p->m, p->k, p->n, p->alpha, a + t * p->m * p->k, b + t * p->k * p->n, yt);
  }
  return XNND_OK;
}
