#!/usr/bin/env bash
# Bundled programs: `xnnd export --bundle` writes MobileNetV2 (seed 0) with 2 test cases whose
# expected outputs come from PyTorch (atol 1e-4 x max|expected| per output, rtol 1e-3);
# `xnnd run --verify` passes and prints per-output error statistics. A copy with one expected
# logit moved by 1e-2 x max|expected| (100x the tolerance) fails verification (exit 1) and names
# the output with its statistics; a bundle with a corrupted header is rejected (exit 2).
source "$(dirname "$0")/lib/common.bash"
PYTHONPATH=python "$PY" -m xnnd export torchvision:mobilenet_v2 -o "$TMP/mnv2.pte" --xnnd "$XNND" \
  --bundle --bundle-cases 2 2>"$TMP/export.log" || { cat "$TMP/export.log" >&2; exit 1; }
"$XNND" run --verify "$TMP/mnv2.bundle" --threads 2 | tee "$TMP/ok.txt"
grep -q "^PASS" "$TMP/ok.txt" || { echo "FAIL: intact bundle did not verify" >&2; exit 1; }

# Tamper: case 1, output 0, element 7.
PYTHONPATH=python "$PY" - "$TMP/mnv2.bundle" "$TMP/tampered.bundle" <<'PY'
import sys
from xnnd import bundle
pte, cases = bundle.decode(open(sys.argv[1], "rb").read())
out = cases[1][1][0]
out.reshape(-1)[7] += 1e-2 * abs(out).max()
bundle.write(sys.argv[2], pte, cases)
PY
rc=0
"$XNND" run --verify "$TMP/tampered.bundle" >"$TMP/bad.txt" || rc=$?
cat "$TMP/bad.txt"
if [ "$rc" -ne 1 ]; then
  echo "FAIL: tampered bundle: expected exit 1, got $rc" >&2
  exit 1
fi
grep -qE "^ +0 .*1 / 2000  MISMATCH" "$TMP/bad.txt" || { echo "FAIL: statistics do not show 1 of 2000 elements over tolerance for output 0" >&2; exit 1; }
grep -q "^FAIL" "$TMP/bad.txt" || { echo "FAIL: no verdict line" >&2; exit 1; }

# Corrupted container: bad version in the bundle header.
cp "$TMP/mnv2.bundle" "$TMP/corrupt.bundle"
printf '\x07' | dd of="$TMP/corrupt.bundle" bs=1 seek=8 conv=notrunc status=none
rc=0
"$XNND" run --verify "$TMP/corrupt.bundle" 2>"$TMP/corrupt.txt" || rc=$?
cat "$TMP/corrupt.txt"
[ "$rc" -eq 2 ] && grep -q "unsupported format version" "$TMP/corrupt.txt" ||
  { echo "FAIL: corrupted bundle: expected exit 2 naming the version, got $rc" >&2; exit 1; }
echo "PASS bundle"
