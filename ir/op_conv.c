/* aten.convolution: 1-D, 2-D or 3-D, regular or transposed, grouped and dilated; PyTorch's
 * shape rules. Regular weight [Cout, Cin/groups, k...]; transposed weight [Cin, Cout/groups,
 * k...]. stride/padding/dilation/output_padding list one entry per spatial dim (or one entry
 * for all); their defaults are 2-D pairs, so 1-D and 3-D programs list them explicitly. */
#include "ir_internal.h"

enum {
  CONV_STRIDE,
  CONV_PADDING,
  CONV_DILATION,
  CONV_TRANSPOSED,
  CONV_OUTPUT_PADDING,
  CONV_GROUPS
};

const xnnd_attr_spec xnnd_attrs_convolution[] = {
    {"stride", XNND_ATTR_INTS, false, IR_DEF_INTS2(1, 1)},
    {"padding", XNND_ATTR_INTS, false, IR_DEF_INTS2(0, 0)},
    {"dilation", XNND_ATTR_INTS, false, IR_DEF_INTS2(1, 1)},
    {"transposed", XNND_ATTR_BOOL, false, IR_DEF_BOOL(0)},
    {"output_padding", XNND_ATTR_INTS, false, IR_DEF_INTS2(0, 0)},
    {"groups", XNND_ATTR_INT, false, IR_DEF_INT(1)},
    IR_SCHEMA_END,
};

static bool is_float(xnnd_dtype d) { return d == XNND_F32 || d == XNND_F16; }

/* One entry per spatial dim: a list of nsp ints, or of one int meaning all. */
static xnnd_status conv_attr(xnnd_graph* g, xnnd_id node, uint32_t attr, uint32_t nsp, int64_t lo,
                             int64_t* out) {
  const xnnd_attr* a = &g->nodes[node].attrs[attr];
  if (a->kind == XNND_ATTR_INTS && a->n == 1 && nsp > 1) {
    IR_TRY(ir_attr_ints(g, node, attr, 1, lo, out));
    for (uint32_t i = 1; i < nsp; i++) out[i] = out[0];
    return XNND_OK;
  }
  return ir_attr_ints(g, node, attr, nsp, lo, out);
}

xnnd_status xnnd_infer_convolution(xnnd_graph* g, xnnd_id node) {
  const xnnd_ir_node* n = &g->nodes[node];
  const xnnd_ir_value *x, *w;
  IR_TRY(ir_input_rank_range(g, node, 0, 3, 5, &x));
  IR_TRY(ir_input_rank(g, node, 1, x->rank, &w));
  const uint32_t nsp = x->rank - 2;
  int64_t stride[3], pad[3], dil[3], opad[3];
  IR_TRY(conv_attr(g, node, CONV_STRIDE, nsp, 1, stride));
  IR_TRY(conv_attr(g, node, CONV_PADDING, nsp, 0, pad));
  IR_TRY(conv_attr(g, node, CONV_DILATION, nsp, 1, dil));
  IR_TRY(conv_attr(g, node, CONV_OUTPUT_PADDING, nsp, 0, opad));
  bool transposed = n->attrs[CONV_TRANSPOSED].i != 0;
  int64_t groups = n->attrs[CONV_GROUPS].i;
  if (groups < 1 || groups > IR_MAX_ATTR_VALUE)
    return ir_attr_error(g, node, "attribute groups = %lld must be >= 1", (long long)groups);
  if (is_float(x->dtype)) {
    IR_TRY(ir_input_dtype(g, node, 1, x->dtype));
    IR_TRY(ir_input_dtype(g, node, 2, x->dtype));
  }
  int64_t cin = x->dims[1], cout, w_cin;
  if (__builtin_mul_overflow(w->dims[1], groups, &w_cin) || w_cin > IR_MAX_DIM)
    return ir_node_error(g, node, "input 1 %%%s: %lld x %lld groups channels is too large",
                         w->name, (long long)w->dims[1], (long long)groups);
  if (cin % groups != 0)
    return ir_node_error(g, node, "groups = %lld does not divide the %lld channels of input 0 %%%s",
                         (long long)groups, (long long)cin, x->name);
  if (!transposed) {
    cout = w->dims[0];
    if (w_cin != cin)
      return ir_node_error(g, node, "input 1 %%%s has %lld input channels per group, expected "
                           "%lld (%lld channels / %lld groups)", w->name, (long long)w->dims[1],
                           (long long)(cin / groups), (long long)cin, (long long)groups);
    if (cout % groups != 0)
      return ir_node_error(g, node, "groups = %lld does not divide the %lld output channels of "
                           "input 1 %%%s", (long long)groups, (long long)cout, w->name);
  } else {
    if (w->dims[0] != cin)
      return ir_node_error(g, node, "input 1 %%%s has %lld input channels, expected %lld",
                           w->name, (long long)w->dims[0], (long long)cin);
    cout = w_cin;
  }
  IR_TRY(ir_input_vector(g, node, 2, cout));
  int64_t out[5] = {x->dims[0], cout, 0, 0, 0};
  for (uint32_t i = 0; i < nsp; i++) {
    int64_t in = x->dims[2 + i], k = w->dims[2 + i];
    if (k < 1)
      return ir_node_error(g, node, "input 1 %%%s has an empty kernel", w->name);
    int64_t eff = dil[i] * (k - 1) + 1;  /* <= 2^31 * 2^40: fits */
    if (!transposed) {
      int64_t padded = in + 2 * pad[i];
      if (padded < eff)
        return ir_node_error(g, node, "input 0 %%%s: padded size %lld is smaller than the "
                             "dilated kernel %lld", x->name, (long long)padded, (long long)eff);
      out[2 + i] = (padded - eff) / stride[i] + 1;
    } else {
      if (opad[i] >= stride[i] && opad[i] >= dil[i])
        return ir_attr_error(g, node, "attribute output_padding[%d] = %lld must be smaller than "
                             "stride or dilation", (int)i, (long long)opad[i]);
      if (in < 1) return ir_node_error(g, node, "input 0 %%%s has an empty spatial dim", x->name);
      int64_t o = (in - 1) * stride[i];  /* < 2^40 * 2^31 */
      o = o - 2 * pad[i] + eff - 1 + opad[i] + 1;
      if (o < 1)
        return ir_node_error(g, node, "output size %lld is not positive", (long long)o);
      out[2 + i] = o;
    }
  }
  return ir_set_output(g, node, 0, x->dtype, x->rank, out);
}
