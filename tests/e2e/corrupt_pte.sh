#!/usr/bin/env bash
# A truncated or bit-flipped .pte makes `xnnd run` exit non-zero with a message (truncation)
# or run (a flip inside weights), but never crash: no signal, no exit code >= 128.
source "$(dirname "$0")/lib/common.bash"
export_model tests/models/small.py:convnet small >/dev/null
run_and_compare small
pte=$TMP/small.pte
size=$(stat -c %s "$pte")

check_no_crash() {  # FILE WHAT MUST_FAIL
  local rc=0
  "$XNND" run "$1" --iters 1 --warmup 0 >"$TMP/out.txt" 2>"$TMP/err.txt" || rc=$?
  if [ "$rc" -ge 128 ]; then
    echo "FAIL: $2: xnnd run crashed (exit $rc)" >&2
    cat "$TMP/err.txt" >&2
    exit 1
  fi
  if [ "$3" = 1 ]; then
    if [ "$rc" -eq 0 ] || [ ! -s "$TMP/err.txt" ]; then
      echo "FAIL: $2: expected a non-zero exit with a message, got exit $rc" >&2
      exit 1
    fi
  fi
}

for len in 0 1 8 63 64 65 100 $((size / 2)) $((size - 64)) $((size - 1)); do
  head -c "$len" "$pte" >"$TMP/trunc.pte"
  check_no_crash "$TMP/trunc.pte" "truncated to $len bytes" 1
done
echo "truncation: 10 lengths rejected with a message"

# Bit flips at fixed-seed positions across the whole file, including header, flatbuffer,
# constants and the delegate blob.
"$PY" - "$pte" "$TMP" <<'PY'
import random, sys
data = open(sys.argv[1], "rb").read()
rng = random.Random(0)
positions = list(range(0, 64)) + [rng.randrange(len(data)) for _ in range(300)]
for i, pos in enumerate(positions):
    b = bytearray(data)
    b[pos] ^= 1 << rng.randrange(8)
    open("%s/flip_%03d.pte" % (sys.argv[2], i), "wb").write(b)
PY
n=0
for f in "$TMP"/flip_*.pte; do
  check_no_crash "$f" "bit flip $(basename "$f")" 0
  n=$((n + 1))
done
echo "bit flips: $n corrupted files, no crash"
# Header fields the loader must reject: magic and version.
printf 'XNNDPTF\0' | dd of="$pte" bs=1 seek=0 conv=notrunc status=none
check_no_crash "$pte" "bad magic" 1
grep -qi "magic" "$TMP/err.txt" || { echo "FAIL: bad magic not named" >&2; exit 1; }
echo "PASS corrupt_pte"
