#!/usr/bin/env bash
# Soak: 10,000 executes of the small convnet (delegated, then portable only) in one process;
# resident memory may not grow by 1 MB or more between the end of warmup and the end.
source "$(dirname "$0")/lib/common.bash"
ITERS=${XNND_SOAK_ITERS:-10000}
export_model tests/models/small.py:convnet small >/dev/null
export_model tests/models/small.py:convnet plain --no-delegate >/dev/null
for name in small plain; do
  "$XNND" run "$TMP/$name.pte" --iters "$ITERS" --warmup 50 --rss | tee "$TMP/$name.out"
  warm=$(awk '/^rss after warmup:/ {print $4}' "$TMP/$name.out")
  end=$(awk '/^rss at end:/ {print $4}' "$TMP/$name.out")
  if [ -z "$warm" ] || [ -z "$end" ] || [ "$warm" -lt 0 ]; then
    echo "FAIL: $name: no VmRSS figures from xnnd run --rss" >&2
    exit 1
  fi
  growth=$((end - warm))
  echo "soak $name: $ITERS executes, VmRSS $warm kB -> $end kB (growth $growth kB)"
  if [ "$growth" -ge 1024 ]; then
    echo "FAIL: $name: resident memory grew by $growth kB (limit < 1024 kB)" >&2
    exit 1
  fi
done
echo "PASS soak"
