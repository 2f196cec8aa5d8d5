#!/usr/bin/env bash
# Exporter unit tests (python/xnnd): text IR, bundle, op mapping, CLI; needs no C build.
set -euo pipefail
cd "${XNND_SOURCE_DIR:-$(dirname "$0")/../..}"
PYTHONPATH=python exec "${XNND_PYTHON:-.venv/bin/python}" -m unittest discover -s tests/python -v
