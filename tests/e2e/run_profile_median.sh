#!/usr/bin/env bash
# `xnnd run --profile` ends every step row with the median over executes of the step's layer
# time (a delegate's compute, a portable kernel's whole time), taken from per-execute samples
# (bench/layer_profile.py reads it). With one timed execute the median is that execute, so it
# must equal the delegate's compute column and the kernel's mean column exactly.
source "$(dirname "$0")/lib/common.bash"
"$XNND" compile tests/golden/ir/convnet.ir --constants tests/golden/ir/convnet.xcb -o "$TMP/p.pte" \
  --per-op --exclude-ops aten.add,aten.adaptive_avg_pool2d
"$XNND" run "$TMP/p.pte" --profile --iters 1 --warmup 1 > "$TMP/one.txt"
"$XNND" run "$TMP/p.pte" --profile --iters 7 --warmup 1 > "$TMP/seven.txt"
cat "$TMP/seven.txt"
grep -q 'median ms$' "$TMP/one.txt" || { echo "FAIL: no median column" >&2; cat "$TMP/one.txt" >&2; exit 1; }
awk '
  /^profile over/ { table = 1; next }
  /^execute:/ { table = 0 }
  table && $1 ~ /^[0-9]+$/ {
    if (NF != 7) { print "FAIL: step row with " NF " fields: " $0; bad = 1; next }
    if ($2 == "XnnpackBackend") { d++; if ($7 != $4) { print "FAIL: delegate median " $7 " != compute " $4; bad = 1 } }
    else { k++; if ($4 != "-" || $7 != $3) { print "FAIL: kernel row " $0; bad = 1 } }
  }
  END { if (d < 3 || k < 2) { print "FAIL: " d " delegate and " k " kernel rows"; bad = 1 } exit bad }
' "$TMP/one.txt"
awk '/^profile over/ { table = 1; next } /^execute:/ { table = 0 }
  table && $1 ~ /^[0-9]+$/ { n++; if (NF != 7 || $7 !~ /^[0-9]+\.[0-9]+$/) { print "FAIL: " $0; bad = 1 } }
  END { if (n != 6) { print "FAIL: " n " step rows, expected 6"; bad = 1 } exit bad }' "$TMP/seven.txt"
echo "ok: --profile medians"
