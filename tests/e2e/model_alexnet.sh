#!/usr/bin/env bash
# torchvision alexnet (seed 0, 1x3x224x224): convolutions, max pools and the 6x6 adaptive pool (an
# identity at 224) in one XNNPACK partition, the classifier's linears in a second; the flatten of
# the [1,256,6,6] NHWC activation stays portable (a view of NHWC data would reorder it), so there
# are exactly 2 partitions. >= 99% of multiply-accumulates in XNNPACK; matches PyTorch within 1e-4.
source "$(dirname "$0")/lib/common.bash"
name=alexnet
export_model torchvision:$name $name
assert_all_delegated $name aten.convolution aten.linear aten.max_pool2d aten.adaptive_avg_pool2d
grep -q "partitions: 2 " "$TMP/$name.report" || { echo "FAIL: expected two partitions" >&2; exit 1; }
grep -qE "^  aten.view +0 +1 +view of 4-D .* would reorder elements under NHWC" "$TMP/$name.report" ||
  { echo "FAIL: the NCHW flatten should stay portable, with its reason" >&2; exit 1; }
awk '/multiply-accumulates in XNNPACK:/ { sub("%", "", $4); ok = ($4 + 0 >= 99.0) } END { exit !ok }' \
  "$TMP/$name.report" || { echo "FAIL: less than 99% of MACs in XNNPACK" >&2; exit 1; }
run_and_compare $name
echo "PASS $name"
