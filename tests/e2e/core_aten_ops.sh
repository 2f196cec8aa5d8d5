#!/usr/bin/env bash
# Per-op checks of the core ATen coverage (tests/python/opcheck_*.py): small modules exported,
# lowered (delegated and portable only), run by the C runtime and compared with eager.
source "$(dirname "$0")/lib/common.bash"
export XNND_BUILD_DIR
PYTHONPATH=python:tests/python "$PY" -m unittest discover -s tests/python -p 'opcheck_*.py' -v
