#!/usr/bin/env bash
# torchvision mobilenet_v3_large (seed 0, 1x3x224x224): one XNNPACK partition (hardswish,
# hardsigmoid as Add + Divide, squeeze-excite multiplies), >= 99% of multiply-accumulates in
# XNNPACK, matches PyTorch within 1e-4 of max|torch|.
source "$(dirname "$0")/lib/common.bash"
name=mobilenet_v3_large
export_model torchvision:$name $name
assert_all_delegated $name aten.convolution aten.linear aten.add aten.mul aten.hardswish aten.hardsigmoid \
  aten.adaptive_avg_pool2d aten.mean aten.view
grep -q "partitions: 1 " "$TMP/$name.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
awk '/multiply-accumulates in XNNPACK:/ { sub("%", "", $4); ok = ($4 + 0 >= 99.0) } END { exit !ok }' \
  "$TMP/$name.report" || { echo "FAIL: less than 99% of MACs in XNNPACK" >&2; exit 1; }
run_and_compare $name
echo "PASS $name"
