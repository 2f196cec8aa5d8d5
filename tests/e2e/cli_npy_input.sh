#!/usr/bin/env bash
# `xnnd run --input` reads only regular .npy files no bigger than the input they feed: a
# device (/dev/zero), a FIFO, an oversized file or one whose data does not match its shape
# ends at once with exit 2 and a message naming the file. No Python: the program is compiled
# from the golden convnet IR.
source "$(dirname "$0")/lib/common.bash"
"$XNND" compile tests/golden/ir/convnet.ir --constants tests/golden/ir/convnet.xcb -o "$TMP/c.pte" >/dev/null

expect_refused() {  # INPUT NEEDLE
  local rc=0
  "$XNND" run "$TMP/c.pte" --input "$1" --iters 1 --warmup 0 >/dev/null 2>"$TMP/err.txt" || rc=$?
  if [ "$rc" -ne 2 ] || ! grep -qF -- "$2" "$TMP/err.txt"; then
    echo "FAIL: --input $1: want exit 2 and \"$2\", got exit $rc:" >&2
    cat "$TMP/err.txt" >&2
    exit 1
  fi
}

expect_refused /dev/zero "/dev/zero is not a regular file"
mkfifo "$TMP/fifo.npy"
expect_refused "$TMP/fifo.npy" "fifo.npy is not a regular file"
# A file far bigger than the input: refused by size before it is read.
truncate -s 100M "$TMP/big.npy"
expect_refused "$TMP/big.npy" "big.npy is 104857600 bytes, more than the"
# A valid .npy of the input's shape runs (the control); the same with one byte more is refused.
python3 - "$TMP" <<'PY'
import struct, sys
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 16, 16), }"
hdr += " " * (-(10 + len(hdr) + 1) % 64) + "\n"
data = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + struct.pack("<768f", *[0.01 * (i % 50) for i in range(768)])
open(sys.argv[1] + "/x.npy", "wb").write(data)
open(sys.argv[1] + "/x_long.npy", "wb").write(data + b"\0")
PY
"$XNND" run "$TMP/c.pte" --input "$TMP/x.npy" --iters 1 --warmup 0 >/dev/null
expect_refused "$TMP/x_long.npy" "x_long.npy: .npy data has 3073 bytes, shape needs 3072"
# A NaN in the input: refused by default, naming input and element; --allow-non-finite runs it.
python3 - "$TMP" <<'PY'
import sys
data = bytearray(open(sys.argv[1] + "/x.npy", "rb").read())
data[-4 * 10:-4 * 9] = bytes([0, 0, 0xc0, 0x7f])  # element 758: a quiet NaN
open(sys.argv[1] + "/x_nan.npy", "wb").write(bytes(data))
PY
rc=0
"$XNND" run "$TMP/c.pte" --input "$TMP/x_nan.npy" --iters 1 --warmup 0 >/dev/null 2>"$TMP/err.txt" || rc=$?
if [ "$rc" -eq 0 ] || ! grep -qF "input 0 element 758 (flat index) is NaN" "$TMP/err.txt"; then
  echo "FAIL: NaN input: want a failure naming input 0 element 758, got exit $rc:" >&2
  cat "$TMP/err.txt" >&2
  exit 1
fi
"$XNND" run "$TMP/c.pte" --input "$TMP/x_nan.npy" --iters 1 --warmup 0 --allow-non-finite >/dev/null
echo "cli_npy_input: /dev/zero, FIFO, oversized, overlong and NaN inputs refused; valid input runs"
