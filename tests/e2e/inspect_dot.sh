#!/usr/bin/env bash
# `xnnd inspect` prints steps and the memory plan; `--dot` writes a Graphviz graph with each
# partition as a cluster, which Debian's graphviz renders.
source "$(dirname "$0")/lib/common.bash"
PYTHONPATH=python "$PY" -m xnnd export tests/models/small.py:convnet -o "$TMP/plain.pte" --no-delegate \
  --xnnd "$XNND" 2>/dev/null
# The excluded add sits between two groups of delegated nodes: two partitions.
"$XNND" lower "$TMP/plain.pte" -o "$TMP/split.pte" --exclude-ops aten.add >/dev/null
"$XNND" inspect "$TMP/split.pte" --dot "$TMP/g.dot" | tee "$TMP/inspect.txt"
grep -q "planned memory: arena" "$TMP/inspect.txt"
n=$(grep -c "subgraph cluster_d" "$TMP/g.dot")
[ "$n" -eq 2 ] || { echo "FAIL: expected 2 partition clusters, found $n" >&2; exit 1; }
grep -q "aten.add" "$TMP/g.dot"
if command -v dot >/dev/null; then
  dot -Tsvg "$TMP/g.dot" -o "$TMP/g.svg"
  grep -q "<svg" "$TMP/g.svg"
fi
echo "PASS inspect_dot"
