#!/usr/bin/env bash
# scripts/install-deps is idempotent: on a machine it has set up, it installs nothing, prints
# nothing and exits 0; .venv/ holds the pinned CPU torch and this package, importable without
# PYTHONPATH.
set -euo pipefail
cd "${XNND_SOURCE_DIR:-$(dirname "$0")/../..}"
out=$(./scripts/install-deps 2>&1)
[ -z "$out" ] || { echo "FAIL: a second install-deps run printed: $out" >&2; exit 1; }
version=$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("torch"))')
[ "$version" = "2.13.0+cpu" ] || { echo "FAIL: .venv has torch $version" >&2; exit 1; }

root=$PWD; (cd / && "$root/.venv/bin/python" -c "import xnnd, xnnd.api") ||
  { echo "FAIL: xnnd is not installed in .venv" >&2; exit 1; }
echo "PASS install_deps (torch $version)"
