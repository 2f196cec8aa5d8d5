#!/usr/bin/env bash
# OpInfo differential sweep (tests/opinfo/opinfo_sweep.py): PyTorch's float32 operator samples
# of every supported core ATen overload, run delegated and portable and compared with eager.
# Fails on a failed or skipped sample that tests/opinfo/expected.json does not list.
source "$(dirname "$0")/lib/common.bash"
export XNND_BUILD_DIR
PYTHONPATH=python:tests/python "$PY" tests/opinfo/opinfo_sweep.py --out "$XNND_BUILD_DIR/opinfo"
