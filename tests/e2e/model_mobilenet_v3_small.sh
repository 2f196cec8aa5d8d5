#!/usr/bin/env bash
# torchvision mobilenet_v3_small (seed 0, 1x3x224x224): hardswish, hardsigmoid (Add + Divide) and
# the squeeze-excite multiply [1,C,H,W] * [1,C,1,1] run in XNNPACK, so the whole network is one
# partition holding every multiply-accumulate; matches PyTorch within 1e-4 of max|torch|, and so
# does the portable (--no-delegate) program.
source "$(dirname "$0")/lib/common.bash"
name=mobilenet_v3_small
export_model torchvision:$name $name
assert_all_delegated $name aten.convolution aten.linear aten.add aten.mul aten.hardswish aten.hardsigmoid \
  aten.adaptive_avg_pool2d aten.mean aten.view
grep -q "partitions: 1 " "$TMP/$name.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
awk '/multiply-accumulates in XNNPACK:/ { sub("%", "", $4); ok = ($4 + 0 >= 99.0) } END { exit !ok }' \
  "$TMP/$name.report" || { echo "FAIL: less than 99% of MACs in XNNPACK" >&2; exit 1; }
run_and_compare $name
export_model torchvision:$name ${name}_portable --no-delegate
run_and_compare ${name}_portable
echo "PASS $name"
