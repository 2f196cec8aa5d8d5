#!/usr/bin/env bash
# torchvision mobilenet_v2 (seed 0, 1x3x224x224): delegated, every conv/linear/add/pool/activation runs
# in XNNPACK as one partition and matches PyTorch within 1e-4 of max|torch|; exported with
# --no-delegate it runs on the portable kernels and matches the same way.
source "$(dirname "$0")/lib/common.bash"
export_model torchvision:mobilenet_v2 mobilenet_v2
assert_all_delegated mobilenet_v2 aten.convolution aten.linear aten.addmm aten.add aten.mean aten.max_pool2d \
  aten.max_pool2d_with_indices aten.hardtanh aten.relu aten.view
assert_absent mobilenet_v2 aten.native_batch_norm aten.relu aten.hardtanh
grep -q "partitions: 1 " "$TMP/mobilenet_v2.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
run_and_compare mobilenet_v2
export_model torchvision:mobilenet_v2 mobilenet_v2_portable --no-delegate
grep -q "partitions: 0" "$TMP/mobilenet_v2_portable.report" || { echo "FAIL: --no-delegate made partitions" >&2; exit 1; }
run_and_compare mobilenet_v2_portable
echo "PASS mobilenet_v2"
