#!/usr/bin/env bash
# `xnnd run` on the small convnet, delegated and not, is clean under valgrind memcheck: no
# invalid access, no use of uninitialised values, nothing definitely or possibly lost.
source "$(dirname "$0")/lib/common.bash"
if ! command -v valgrind >/dev/null; then
  echo "SKIP valgrind_run: valgrind not installed"
  exit 0
fi
export_model tests/models/small.py:convnet small >/dev/null
export_model tests/models/small.py:convnet plain --no-delegate >/dev/null
for name in small plain; do
  inputs=()
  for f in "$TMP/$name"/input_*.npy; do inputs+=(--input "$f"); done
  mkdir -p "$TMP/$name/out"
  if ! valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,possible \
      --log-file="$TMP/$name.vg" "$XNND" run "$TMP/$name.pte" "${inputs[@]}" \
      --output-dir "$TMP/$name/out" --iters 3 --warmup 1 >"$TMP/$name.out"; then
    echo "FAIL: valgrind reports errors for $name:" >&2
    cat "$TMP/$name.vg" >&2
    exit 1
  fi
  if [ -s "$TMP/$name.vg" ]; then
    echo "FAIL: valgrind output for $name is not empty:" >&2
    cat "$TMP/$name.vg" >&2
    exit 1
  fi
  "$XNND" compare "$TMP/$name/out/output_0.npy" "$TMP/$name/output_0.npy" --rtol 1e-4
  echo "valgrind: $name clean"
done
echo "PASS valgrind_run"
