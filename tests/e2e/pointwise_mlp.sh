#!/usr/bin/env bash
# The pass pipeline end to end, through `xnnd lower` on programs exported with --no-delegate:
#  1. tests/models/small.py:convnet lowered by the pipeline matches PyTorch.
#  2. The ConvNeXt-style block (tests/models/convnext_block.py:block): exported delegated, the
#     pointwise-affine pass leaves no permute and one XNNPACK partition, matching PyTorch; the
#     same block lowered with --disable pointwise-affine also matches. Both latencies
#     (`xnnd run --iters 20`) are printed; nothing asserts on timing.
source "$(dirname "$0")/lib/common.bash"

# lower NAME SRC [lower args...]: $TMP/SRC.pte -> $TMP/NAME.pte, report in $TMP/NAME.report,
# reusing SRC's saved inputs and PyTorch outputs.
lower() {
  local name=$1 src=$2
  shift 2
  "$XNND" lower "$TMP/$src.pte" -o "$TMP/$name.pte" --report "$@" | tee "$TMP/$name.report"
  mkdir -p "$TMP/$name"
  cp "$TMP/$src"/input_*.npy "$TMP/$src"/output_*.npy "$TMP/$name/"
}

median_ms() {  # median latency of `xnnd run --iters 20` on $TMP/NAME.pte
  local name=$1 inputs=()
  for f in "$TMP/$name"/input_*.npy; do inputs+=(--input "$f"); done
  "$XNND" run "$TMP/$name.pte" "${inputs[@]}" --iters 20 --warmup 2 | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'
}

# 1. small convnet: export without delegation, then lower with the pipeline
export_model tests/models/small.py:convnet convnet_nd --no-delegate
lower convnet convnet_nd
assert_absent convnet aten.native_batch_norm aten.relu aten.hardtanh aten.addmm aten.max_pool2d_with_indices
grep -q "partitions: 1 " "$TMP/convnet.report" || { echo "FAIL: convnet: expected one partition" >&2; exit 1; }
run_and_compare convnet

# 2. ConvNeXt block, delegated at export: no permute, one partition, matches PyTorch
export_model tests/models/convnext_block.py:block block
assert_absent block aten.permute aten.linear aten.mm aten.relu
grep -q "partitions: 1 " "$TMP/block.report" || { echo "FAIL: block: expected one partition" >&2; exit 1; }
run_and_compare block

# ... and through `xnnd lower`, with and without pointwise-affine
export_model tests/models/convnext_block.py:block block_nd --no-delegate
lower block_lowered block_nd
assert_absent block_lowered aten.permute
run_and_compare block_lowered
lower block_no_pw block_nd --disable pointwise-affine
grep -qE "^  aten.permute " "$TMP/block_no_pw.report" || { echo "FAIL: --disable pointwise-affine still removed the permutes" >&2; exit 1; }
run_and_compare block_no_pw

with=$(median_ms block_lowered)
without=$(median_ms block_no_pw)
echo "convnext block latency (median of 20, 1 thread): pointwise-affine ${with} ms, --disable pointwise-affine ${without} ms"
echo "PASS pointwise_mlp"
