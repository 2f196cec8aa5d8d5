#!/usr/bin/env bash
# torchvision resnet18 (seed 0, 1x3x224x224): delegated, every conv/linear/add/pool/activation runs
# in XNNPACK as one partition and matches PyTorch within 1e-4 of max|torch|; exported with
# --no-delegate it runs on the portable kernels and matches the same way.
source "$(dirname "$0")/lib/common.bash"
export_model torchvision:resnet18 resnet18
assert_all_delegated resnet18 aten.convolution aten.linear aten.addmm aten.add aten.mean aten.max_pool2d \
  aten.max_pool2d_with_indices aten.hardtanh aten.relu aten.view
assert_absent resnet18 aten.native_batch_norm aten.relu aten.hardtanh
grep -q "partitions: 1 " "$TMP/resnet18.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
run_and_compare resnet18
export_model torchvision:resnet18 resnet18_portable --no-delegate
grep -q "partitions: 0" "$TMP/resnet18_portable.report" || { echo "FAIL: --no-delegate made partitions" >&2; exit 1; }
run_and_compare resnet18_portable
echo "PASS resnet18"
