# Shared by tests/e2e/*.sh: paths, a temp dir, and export/run/compare helpers.
set -euo pipefail
XNND_BUILD_DIR=${XNND_BUILD_DIR:-build}
XNND=${XNND_BUILD_DIR}/xnnd
PY=${XNND_PYTHON:-.venv/bin/python}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# export SPEC NAME [export args...]: writes $TMP/NAME.pte, $TMP/NAME/{input,output}_*.npy and
# the report to $TMP/NAME.report (also echoed).
export_model() {
  local spec=$1 name=$2
  shift 2
  mkdir -p "$TMP/$name"
  PYTHONPATH=python "$PY" -m xnnd export "$spec" -o "$TMP/$name.pte" --save-io "$TMP/$name" \
    --report --xnnd "$XNND" "$@" | tee "$TMP/$name.report"
}

# run_and_compare NAME [rtol]: runs $TMP/NAME.pte on the saved input and compares every
# output with PyTorch's.
run_and_compare() {
  local name=$1 rtol=${2:-1e-4}
  mkdir -p "$TMP/$name/xnnd"
  local inputs=()
  for f in "$TMP/$name"/input_*.npy; do inputs+=(--input "$f"); done
  "$XNND" run "$TMP/$name.pte" "${inputs[@]}" --output-dir "$TMP/$name/xnnd" --iters 1 --warmup 0
  for f in "$TMP/$name"/output_*.npy; do
    "$XNND" compare "$TMP/$name/xnnd/$(basename "$f")" "$f" --rtol "$rtol"
  done
}

# assert_all_delegated NAME OP...: the report shows 0 portable nodes for each op present.
assert_all_delegated() {
  local name=$1
  shift
  local op line portable
  for op in "$@"; do
    line=$(grep -E "^  $op +[0-9]+ +[0-9]+" "$TMP/$name.report" || true)
    [ -z "$line" ] && continue
    portable=$(echo "$line" | awk '{print $3}')
    if [ "$portable" != "0" ]; then
      echo "FAIL: $name: $portable $op node(s) not delegated: $line" >&2
      exit 1
    fi
  done
}

# assert_absent NAME OP...: no node of these ops is left after the passes.
assert_absent() {
  local name=$1
  shift
  for op in "$@"; do
    if grep -qE "^  $op " "$TMP/$name.report"; then
      echo "FAIL: $name: $op still present after the passes" >&2
      exit 1
    fi
  done
}
