#!/usr/bin/env bash
# int8 export (--quantize int8), one quantized pattern per tiny model (tests/models/quant_ops.py):
# the report shows the op running as int8 inside XNNPACK, and xnnd's output equals PyTorch's
# PT2E reference model (convert_pt2e, run eagerly) within one output
# quantization step for every element. Per-channel and per-tensor weights for convolution and
# linear; the avg_pool model's pool stays f32 (compared as floats); the deconv_relu model is a
# quantized pattern with no int8 lowering: refused by name, and run in float on request; the
# conv_block model also runs --no-delegate (quantize/dequantize portable kernels) and with its
# convolutions excluded from XNNPACK (quantized nodes expanded back to f32 for the portable
# kernels).
source "$(dirname "$0")/lib/common.bash"
M=tests/models/quant_ops.py

# run_quant NAME MAX_STEPS: run on the saved inputs, compare in output steps.
run_quant() {
  local name=$1 steps=$2 inputs=()
  mkdir -p "$TMP/$name/xnnd"
  for f in "$TMP/$name"/input_*.npy; do inputs+=(--input "$f"); done
  "$XNND" run "$TMP/$name.pte" "${inputs[@]}" --output-dir "$TMP/$name/xnnd" --iters 1 --warmup 0 >/dev/null
  "$PY" tests/quant_compare.py "$TMP/$name" "$TMP/$name/xnnd" --name "$name" --max-steps "$steps"
}

# quant_case FUNCTION TAG OP [export args...]: OP ("-": none) is delegated, all int8.
quant_case() {
  local fn=$1 tag=$2 op=$3
  shift 3
  export_model "$M:$fn" "$tag" --quantize int8 "$@" >/dev/null
  if [ "$op" != "-" ] && ! grep -qE "^  $op +int8 [1-9][0-9]*, f32 0$" "$TMP/$tag.report"; then
    echo "FAIL: $tag: $op does not run as int8 in XNNPACK" >&2
    cat "$TMP/$tag.report" >&2
    exit 1
  fi
  run_quant "$tag" 1
}

quant_case conv conv_per_channel aten.convolution
quant_case conv conv_per_tensor aten.convolution --weight-quant per-tensor
quant_case conv_relu conv_relu aten.convolution
quant_case conv_hardtanh conv_hardtanh aten.convolution
quant_case dwconv dwconv aten.convolution
quant_case linear linear_per_channel aten.convolution      # 1x1 convolution
quant_case linear linear_per_tensor aten.linear --weight-quant per-tensor
quant_case linear_relu linear_relu aten.convolution
quant_case add add aten.add
quant_case mul mul aten.mul
quant_case max_pool max_pool aten.max_pool2d
quant_case mean mean aten.adaptive_avg_pool2d
quant_case reshape reshape aten.view
quant_case conv_block conv_block aten.convolution
for op in aten.add aten.max_pool2d aten.adaptive_avg_pool2d aten.view; do
  grep -qE "^  $op +int8 [1-9][0-9]*, f32 0$" "$TMP/conv_block.report" || { echo "FAIL: conv_block: $op not int8" >&2; exit 1; }
done
# the relu/hardtanh went into the convolution's output range
assert_absent conv_relu aten.relu
assert_absent conv_hardtanh aten.hardtanh
# the quantizer leaves an average pool (and its output) in float: f32 after the dequantize,
# compared as floats with the reference
export_model "$M:avg_pool" avg_pool --quantize int8 >/dev/null
grep -qE "^  aten.avg_pool2d +int8 0, f32 1$" "$TMP/avg_pool.report" || { echo "FAIL: avg_pool" >&2; exit 1; }
run_and_compare avg_pool 1e-5
# a quantized pattern xnnd does not lower to int8 (a transposed convolution): the export names
# it and fails, and writes no program; with --allow-float-fallback it runs in float
out=$(PYTHONPATH=python "$PY" -m xnnd export "$M:deconv_relu" -o "$TMP/deconv.pte" --quantize int8 \
  --xnnd "$XNND" 2>&1) && { echo "FAIL: deconv_relu exported without --allow-float-fallback" >&2; exit 1; }
echo "$out" | grep -q "quantized pattern(s) not lowered to int8" || { echo "FAIL: $out" >&2; exit 1; }
echo "$out" | grep -q "aten.convolution -> %convolution in module 0 (ConvTranspose2d)" ||
  { echo "FAIL: the message does not name the node and module: $out" >&2; exit 1; }
[ ! -e "$TMP/deconv.pte" ] || { echo "FAIL: a program was written" >&2; exit 1; }
echo "$out" | grep "^  aten.convolution"
quant_case deconv_relu deconv_relu - --allow-float-fallback
# portable kernels only: quantize/dequantize kernels around f32 ops
quant_case conv_block conv_block_portable - --no-delegate
grep -q "partitions: 0" "$TMP/conv_block_portable.report" || { echo "FAIL: --no-delegate made partitions" >&2; exit 1; }
# convolutions kept out of XNNPACK: expanded back to dequantize -> f32 -> quantize
export_model "$M:conv_block" conv_block_excluded --quantize int8 --keep-ir "$TMP/cbx" >/dev/null
"$XNND" compile "$TMP/cbx/conv_block_excluded.ir" --constants "$TMP/cbx/conv_block_excluded.xcb" \
  -o "$TMP/conv_block_excluded.pte" --exclude-ops aten.convolution --report >"$TMP/conv_block_excluded.report"
grep -qE "^  aten.convolution +0 +3 " "$TMP/conv_block_excluded.report" ||
  { echo "FAIL: excluded convolutions were delegated" >&2; cat "$TMP/conv_block_excluded.report" >&2; exit 1; }
grep -qE "^  aten.add +int8 1, f32 0$" "$TMP/conv_block_excluded.report" ||
  { echo "FAIL: the add no longer runs as int8" >&2; exit 1; }
run_quant conv_block_excluded 1
# one partition per node: int8 values cross delegate boundaries (NCHW <-> NHWC on i8)
"$XNND" compile "$TMP/cbx/conv_block_excluded.ir" --constants "$TMP/cbx/conv_block_excluded.xcb" \
  -o "$TMP/conv_block_excluded.pte" --per-op >/dev/null
run_quant conv_block_excluded 1
# `xnnd lower` of the --no-delegate program: the passes run on the imported graph
"$XNND" lower "$TMP/conv_block_portable.pte" -o "$TMP/conv_block_portable.pte" --report >"$TMP/lowered.report"
grep -qE "^  aten.convolution +int8 3, f32 0$" "$TMP/lowered.report" || { echo "FAIL: xnnd lower" >&2; exit 1; }
run_quant conv_block_portable 1
echo "PASS quant_ops"
