#!/usr/bin/env bash
# Backend options from the CLI (`xnnd run --backend-option BACKEND:KEY=VALUE`, the generic
# key/value path of xnnd_method_options): XnnpackBackend:own_kernels=off and the older
# --xnnpack-kernels-only both keep every convolution in XNNPACK and give the default run's
# outputs; an unknown key or value, or a malformed option, is a usage error naming it.
source "$(dirname "$0")/lib/common.bash"
"$XNND" compile tests/golden/ir/convnet.ir --constants tests/golden/ir/convnet.xcb -o "$TMP/c.pte"
mkdir -p "$TMP/on" "$TMP/off" "$TMP/flag"
"$XNND" run "$TMP/c.pte" --output-dir "$TMP/on" --iters 1 --warmup 0 >/dev/null
"$XNND" run "$TMP/c.pte" --output-dir "$TMP/off" --iters 1 --warmup 0 --backend-option XnnpackBackend:own_kernels=off >/dev/null
"$XNND" run "$TMP/c.pte" --output-dir "$TMP/flag" --iters 1 --warmup 0 --xnnpack-kernels-only >/dev/null
cmp "$TMP/off/output_0.npy" "$TMP/flag/output_0.npy" || { echo "FAIL: own_kernels=off and --xnnpack-kernels-only differ" >&2; exit 1; }
"$XNND" compare "$TMP/off/output_0.npy" "$TMP/on/output_0.npy" --rtol 1e-5
off=$("$XNND" run "$TMP/c.pte" --profile --iters 2 --backend-option XnnpackBackend:own_kernels=off | grep '^execute:')
echo "own_kernels=off: $off"
echo "$off" | grep -q 'xnnd convolutions 0.000' || { echo "FAIL: own_kernels=off still ran xnnd's convolutions" >&2; exit 1; }

expect_usage_error() {  # MESSAGE ARGS...: exit code 2 and MESSAGE on stderr
  local want=$1 rc=0
  shift
  "$XNND" run "$TMP/c.pte" --iters 1 "$@" >/dev/null 2>"$TMP/err.txt" || rc=$?
  if [ "$rc" != 2 ] || ! grep -qF "$want" "$TMP/err.txt"; then
    echo "FAIL: xnnd run $*: exit $rc, expected 2 and '$want'" >&2
    cat "$TMP/err.txt" >&2
    exit 1
  fi
}
expect_usage_error 'unknown option "colour"' --backend-option XnnpackBackend:colour=red
expect_usage_error 'own_kernels="maybe": expected on or off' --backend-option XnnpackBackend:own_kernels=maybe
expect_usage_error 'expected BACKEND:KEY=VALUE' --backend-option own_kernels=off
# an option for a backend the program does not use is ignored
"$XNND" run "$TMP/c.pte" --iters 1 --backend-option SomeOtherBackend:a=b >/dev/null
echo "backend options: on/off agree, errors name the option"
