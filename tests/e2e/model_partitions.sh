#!/usr/bin/env bash
# Partitioning and layout on tiny models (tests/models/partitions.py):
# - conv -> tanh -> conv: tanh has no XNNPACK node, so the report shows 2 partitions and the
#   portable tanh with its reason; the output matches PyTorch within 1e-4 of max|torch|.
# - conv -> relu -> flatten -> linear on a 5x4 map: the flatten of NHWC data stays portable
#   (2 partitions) and the result is PyTorch's; with a global pool before the flatten,
#   [N,C,1,1] is the same bytes in NCHW and NHWC and everything is one partition.
source "$(dirname "$0")/lib/common.bash"
models=tests/models/partitions.py
export_model $models:conv_tanh_conv conv_tanh_conv
grep -q "partitions: 2 " "$TMP/conv_tanh_conv.report" || { echo "FAIL: expected two partitions" >&2; exit 1; }
grep -qE "^  aten.tanh +0 +1 +aten.tanh has no XNNPACK lowering" "$TMP/conv_tanh_conv.report" ||
  { echo "FAIL: tanh should be portable with its reason" >&2; exit 1; }
assert_all_delegated conv_tanh_conv aten.convolution
run_and_compare conv_tanh_conv

export_model $models:conv_flatten_linear conv_flatten_linear
grep -q "partitions: 2 " "$TMP/conv_flatten_linear.report" || { echo "FAIL: expected two partitions" >&2; exit 1; }
grep -qE "^  aten.view +0 +1 +view of 4-D .* would reorder elements under NHWC" "$TMP/conv_flatten_linear.report" ||
  { echo "FAIL: the NCHW flatten of NHWC data must stay portable" >&2; exit 1; }
run_and_compare conv_flatten_linear

export_model $models:conv_pool_flatten_linear conv_pool_flatten_linear
grep -q "partitions: 1 " "$TMP/conv_pool_flatten_linear.report" || { echo "FAIL: expected one partition" >&2; exit 1; }
assert_all_delegated conv_pool_flatten_linear aten.view aten.linear aten.convolution
run_and_compare conv_pool_flatten_linear
echo "PASS partitions and layout"
