#!/usr/bin/env bash
# nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True) on [1, 64, 256]
# (tests/models/transformer.py:encoder_layer, seed 0, eval). torch.export captures the decomposed
# attention path (never the fused aten._transformer_encoder_layer_fwd; attention is
# scaled_dot_product_attention's core ATen decomposition): the projections and the feed-forward
# run in XNNPACK as FullyConnected; bmm, layer norm, the qkv select and real transposes stay
# portable on Debian 12's XNNPACK, each with its reason in the report. Matches PyTorch within 1e-4 of
# max|torch|, delegated and portable-only. The pre-norm GELU variant is checked the same way.
source "$(dirname "$0")/lib/common.bash"
name=encoder_layer
export_model tests/models/transformer.py:encoder_layer $name
for op in aten.bmm aten.native_layer_norm aten.select aten.permute; do
  grep -qE "^  $op +[0-9]+ +[1-9][0-9]* +.*has no|^  $op +[0-9]+ +[1-9][0-9]* +a transpose" "$TMP/$name.report" ||
    { echo "FAIL: expected portable $op with a reason" >&2; exit 1; }
done
assert_all_delegated $name aten.linear aten.addmm aten.add aten.mul
if grep -q "_transformer_encoder_layer_fwd\|_native_multi_head_attention" "$TMP/$name.report"; then
  echo "FAIL: fused attention kernel was traced" >&2
  exit 1
fi
awk '/multiply-accumulates in XNNPACK:/ { sub("%", "", $4); ok = ($4 + 0 >= 90.0) } END { exit !ok }' \
  "$TMP/$name.report" || { echo "FAIL: the linears' MACs should be in XNNPACK" >&2; exit 1; }
run_and_compare $name
export_model tests/models/transformer.py:encoder_layer ${name}_portable --no-delegate
run_and_compare ${name}_portable
export_model tests/models/transformer.py:encoder_layer_gelu_norm_first gelu_norm_first
grep -qE "^  aten.gelu +0 +[1-9]" "$TMP/gelu_norm_first.report" || { echo "FAIL: gelu should stay portable" >&2; exit 1; }
run_and_compare gelu_norm_first
echo "PASS transformer encoder layer"
