#!/usr/bin/env bash
# int8 mobilenet_v2 and resnet18 (torchvision, random weights, batch norm statistics
# re-estimated: tests/models/quant_ops.py): every convolution and linear runs as int8 inside
# XNNPACK in one partition; prints, against PyTorch's reference quantized model, the share of
# output elements within 1 and 2 output quantization steps, each side's signal-to-noise
# ratio against the float model, and the reference's agreement with itself when PyTorch runs on
# 2 threads instead of 1 (the comparison's noise floor). resnet18: xnnd's SNR against the float
# model within 1 dB of the reference's and no element more than 4 steps from it. In
# mobilenet_v2 (52 convolutions deep, and with random weights noise-amplifying) one-step
# disagreements that come from float rounding in the reference's own f32 convolutions grow
# through the network, so there the check is quality parity: xnnd's SNR against the float model
# within 1 dB of the reference's. The int8/fp32 latency ratio is printed, not asserted (no
# timing in tests: ./scripts/bench measures it).
source "$(dirname "$0")/lib/common.bash"
M=tests/models/quant_ops.py

run_quant() {  # NAME [quant_compare args...]
  local name=$1 inputs=()
  shift
  mkdir -p "$TMP/$name/xnnd"
  for f in "$TMP/$name"/input_*.npy; do inputs+=(--input "$f"); done
  "$XNND" run "$TMP/$name.pte" "${inputs[@]}" --output-dir "$TMP/$name/xnnd" --iters 1 --warmup 0 >/dev/null
  "$PY" tests/quant_compare.py "$TMP/$name" "$TMP/$name/xnnd" --name "$name" "$@"
}

assert_int8() {  # NAME: every delegated conv/linear is int8, none portable, one partition
  local name=$1
  assert_all_delegated "$name" aten.convolution aten.linear aten.addmm aten.add aten.mean aten.max_pool2d \
    aten.adaptive_avg_pool2d aten.view aten.hardtanh aten.relu xnnd.quantize xnnd.dequantize
  grep -qE "^  aten.convolution +int8 [1-9][0-9]*, f32 0$" "$TMP/$name.report" ||
    { echo "FAIL: $name: convolutions are not all int8" >&2; exit 1; }
  if grep -qE "^  aten.(linear|addmm|mm) +int8 [0-9]+, f32 [1-9]" "$TMP/$name.report"; then
    echo "FAIL: $name: an f32 linear" >&2; exit 1
  fi
  grep -q "partitions: 1 " "$TMP/$name.report" || { echo "FAIL: $name: expected one partition" >&2; exit 1; }
  sed -n '/^delegated dtype/,$p' "$TMP/$name.report"
}

export_model "$M:resnet18" resnet18_int8 --quantize int8 >/dev/null
assert_int8 resnet18_int8
run_quant resnet18_int8 --max-steps 2 --min-fraction 0 --max-abs-steps 4 --snr-parity 1.0

export_model "$M:mobilenet_v2" mobilenet_v2_int8 --quantize int8 >/dev/null
assert_int8 mobilenet_v2_int8
run_quant mobilenet_v2_int8 --max-steps 2 --min-fraction 0 --snr-parity 1.0

# speed: int8 against fp32 mobilenet_v2, same model
export_model "$M:mobilenet_v2" mobilenet_v2_fp32 >/dev/null
median() { "$XNND" run "$1" --iters 20 | sed -n 's/.*median \([0-9.]*\) ms.*/\1/p'; }
fp32=$(median "$TMP/mobilenet_v2_fp32.pte")
int8=$(median "$TMP/mobilenet_v2_int8.pte")
echo "mobilenet_v2 median latency (1 thread, 20 runs): fp32 $fp32 ms, int8 $int8 ms"
"$PY" -c "import sys; f, i = float(sys.argv[1]), float(sys.argv[2]); print('int8 / fp32 latency: %.2f' % (i / f))" \
  "$fp32" "$int8"
echo "PASS quant_models"
