#!/usr/bin/env bash
# torchvision resnet50 (seed 0, 1x3x224x224): one XNNPACK partition with every convolution,
# >= 99% of multiply-accumulates in XNNPACK, matches PyTorch within 1e-4 of max|torch|.
source "$(dirname "$0")/lib/common.bash"
name=resnet50
export_model torchvision:$name $name
assert_all_delegated $name aten.convolution aten.linear aten.addmm aten.add aten.mean aten.max_pool2d \
  aten.adaptive_avg_pool2d aten.view
assert_absent $name aten.native_batch_norm
grep -q "partitions: 1 " "$TMP/$name.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
awk '/multiply-accumulates in XNNPACK:/ { sub("%", "", $4); ok = ($4 + 0 >= 99.0) } END { exit !ok }' \
  "$TMP/$name.report" || { echo "FAIL: less than 99% of MACs in XNNPACK" >&2; exit 1; }
run_and_compare $name
echo "PASS $name"
