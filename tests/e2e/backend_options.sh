#!/usr/bin/env bash
# Backend options from the CLI (`xnnd run --backend-option BACKEND:KEY=VALUE`, the generic
# key/value path of xnnd_method_options): XnnpackBackend:own_kernels=off and the older
# --xnnpack-kernels-only both keep every convolution in XNNPACK and give the default run's
# outputs; own_kernels=on (with or without winograd=on) forces xnnd's; `run --profile` and
# `inspect --kernels` say which kernel each convolution got and why; an unknown key or value,
# or a malformed option, is a usage error naming it.
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
mkdir -p "$TMP/forced" "$TMP/wino"
"$XNND" run "$TMP/c.pte" --output-dir "$TMP/forced" --iters 1 --warmup 0 --backend-option XnnpackBackend:own_kernels=on >/dev/null
"$XNND" compare "$TMP/forced/output_0.npy" "$TMP/off/output_0.npy" --rtol 1e-5
"$XNND" run "$TMP/c.pte" --output-dir "$TMP/wino" --iters 1 --warmup 0 --backend-option XnnpackBackend:own_kernels=on \
  --backend-option XnnpackBackend:winograd=on >/dev/null
"$XNND" compare "$TMP/wino/output_0.npy" "$TMP/off/output_0.npy" --rtol 1e-4
# which kernel each convolution got, and why
"$XNND" run "$TMP/c.pte" --profile --iters 1 --backend-option XnnpackBackend:own_kernels=on > "$TMP/prof.txt"
grep -q 'convolution kernels (own_kernels=on, winograd=off, 1 thread)' "$TMP/prof.txt" || { echo "FAIL: no kernel table in --profile" >&2; cat "$TMP/prof.txt" >&2; exit 1; }
grep -qE 'node +[0-9]+ +f32 conv .*-> xnnd: forced: own_kernels=on' "$TMP/prof.txt" || { echo "FAIL: --profile does not name the kernel" >&2; exit 1; }
"$XNND" inspect "$TMP/c.pte" --kernels --threads 2 > "$TMP/inspect.txt"
grep -q 'own_kernels=auto, winograd=off, 2 threads' "$TMP/inspect.txt" || { echo "FAIL: inspect --kernels" >&2; cat "$TMP/inspect.txt" >&2; exit 1; }
grep -qE 'xnnd +[0-9.]+ ms +XNNPACK +[0-9.]+ ms.*-> (xnnd|XNNPACK): ' "$TMP/inspect.txt" || { echo "FAIL: inspect --kernels gives no measured choice" >&2; exit 1; }
cat "$TMP/inspect.txt"

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
expect_usage_error 'own_kernels="maybe": expected auto, on or off' --backend-option XnnpackBackend:own_kernels=maybe
expect_usage_error 'winograd="yes": expected on or off' --backend-option XnnpackBackend:winograd=yes
expect_usage_error 'expected BACKEND:KEY=VALUE' --backend-option own_kernels=off
# an option for a backend the program does not use is ignored
"$XNND" run "$TMP/c.pte" --iters 1 --backend-option SomeOtherBackend:a=b >/dev/null
echo "backend options: on/off agree, errors name the option"
