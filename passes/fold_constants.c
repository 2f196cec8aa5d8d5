/* aten.t, aten.permute and aten.view of a constant are computed now: the output value
 * becomes a constant holding the moved bytes, so backends see plain weights. Per-channel
 * quantized constants are left alone (moving data would have to move the scale axis). */
#include <stdlib.h>
#include <string.h>

#include "passes/pass.h"

/* dst[out index] = src[in index] for a permutation of a row-major tensor. */
static void permute_bytes(const uint8_t* src, uint8_t* dst, size_t esize, uint32_t rank,
                          const int64_t* in_dims, const int64_t* perm) {
  int64_t in_strides[XNND_MAX_RANK], out_dims[XNND_MAX_RANK];
  size_t numel = 1;
  for (uint32_t i = rank; i-- > 0;) {
    in_strides[i] = (int64_t)numel;
    numel *= (size_t)in_dims[i];
  }
  for (uint32_t i = 0; i < rank; i++) out_dims[i] = in_dims[perm[i]];
  int64_t idx[XNND_MAX_RANK] = {0};
  for (size_t k = 0; k < numel; k++) {
    int64_t off = 0;
    for (uint32_t i = 0; i < rank; i++) off += idx[i] * in_strides[perm[i]];
    memcpy(dst + k * esize, src + (size_t)off * esize, esize);
    for (uint32_t i = rank; i-- > 0;) {  /* next output index, row-major */
      if (++idx[i] < out_dims[i]) break;
      idx[i] = 0;
    }
  }
}

static xnnd_status fold_one(xnnd_graph* g, xnnd_id n, bool* folded) {
  xnnd_ir_node* node = &g->nodes[n];
  *folded = false;
  xnnd_id in = node->inputs[0], out = node->outputs[0];
  const xnnd_ir_value* x = &g->values[in];
  /* a constant is static; a symbolic output (a view to a size with a fixed symbol) stays */
  if (!xnnd_value_is_const(g, in) || !xnnd_value_static(&g->values[out]) ||
      x->quant.scheme == XNND_QUANT_PER_CHANNEL ||
      g->values[out].quant.scheme == XNND_QUANT_PER_CHANNEL || xnnd_node_has_range(node))
    return XNND_OK;
  size_t esize = xnnd_dtype_size(x->dtype), nbytes = xnnd_value_numel(g, in) * esize;
  uint8_t* buf = malloc(nbytes ? nbytes : 1);
  if (!buf) {
    snprintf(g->errmsg, sizeof(g->errmsg), "fold-constants: out of memory");
    return XNND_OUT_OF_MEMORY;
  }
  int64_t perm[XNND_MAX_RANK];
  uint32_t rank = x->rank;
  if (node->op == XNND_OP_VIEW) {
    memcpy(buf, x->data, nbytes);
  } else {
    for (uint32_t i = 0; i < rank; i++)
      perm[i] = node->op == XNND_OP_T ? (int64_t)(rank - 1 - i) : node->attrs[0].ints[i];
    for (uint32_t i = 0; i < rank; i++)
      if (perm[i] < 0) perm[i] += rank;
    permute_bytes(x->data, buf, esize, rank, x->dims, perm);
  }
  node->dead = true;
  xnnd_status st = xnnd_graph_set_constant(g, out, buf, nbytes);
  free(buf);
  if (st != XNND_OK) return st;
  *folded = true;
  return XNND_OK;
}

static xnnd_status fold_constants_run(xnnd_graph* g, uint32_t* changed) {
  /* nodes are in topological order, so a chain t(view(c)) folds in one sweep */
  for (uint32_t n = 0; n < g->num_nodes; n++) {
    xnnd_op op = g->nodes[n].op;
    if (g->nodes[n].dead || (op != XNND_OP_T && op != XNND_OP_PERMUTE && op != XNND_OP_VIEW))
      continue;
    bool folded;
    xnnd_status st = fold_one(g, n, &folded);
    if (st != XNND_OK) return st;
    *changed += folded;
  }
  return XNND_OK;
}

const xnnd_pass xnnd_pass_fold_constants = {
    "fold-constants", "t, permute and view of constants computed at lowering time",
    fold_constants_run};
