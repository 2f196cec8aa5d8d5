#!/usr/bin/env bash
# The Python API (python/xnnd/api.py) as an export toolchain would use it: a user-made
# ExportedProgram of a custom nn.Module (conv + batch norm + residual + attention-style matmul
# + a pointwise linear over channels), lowered with xnnd.lower, run by the C runtime and
# compared with eager; the report is data (per node delegated or not and why, partitions, MAC
# share) and agrees with the program; xnnd.export does capture + PT2E int8 + lowering in one
# call; bad input raises ExportError with a clear message.
source "$(dirname "$0")/lib/common.bash"
export XNND_BIN=$XNND TMP
cat > "$TMP/api_check.py" <<'PYEOF'
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn as nn

import xnnd
from xnnd.errors import ExportError

TMP, XNND = os.environ["TMP"], os.environ["XNND_BIN"]


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.proj = nn.Linear(8, 8)           # over channels: pointwise affine
        self.head = nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.bn(self.conv(x)))
        y = y + self.proj(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        t = y.flatten(2)                      # [N, C, HW]
        attn = torch.softmax(t.transpose(1, 2) @ t / 8.0, dim=-1)
        return self.head((t @ attn).mean(-1)), y.sigmoid()


def run(pte, inputs, name):
    d = os.path.join(TMP, name)
    os.makedirs(d, exist_ok=True)
    args = [XNND, "run", pte, "--output-dir", d, "--iters", "1", "--warmup", "0"]
    for i, x in enumerate(inputs):
        np.save(os.path.join(d, "in_%d.npy" % i), x.numpy())
        args += ["--input", os.path.join(d, "in_%d.npy" % i)]
    subprocess.run(args, check=True, capture_output=True)
    return [np.load(os.path.join(d, f)) for f in sorted(os.listdir(d)) if f.startswith("output_")]


torch.manual_seed(0)
model = Block().eval()
with torch.no_grad():
    model.bn.running_mean.uniform_(-0.5, 0.5)
    model.bn.running_var.uniform_(0.5, 2.0)
x = torch.randn(2, 3, 8, 8)
ep = torch.export.export(model, (x,))
result = xnnd.lower(ep, name="block")
assert isinstance(result.program, bytes) and len(result.program) > 0
pte = os.path.join(TMP, "block.pte")
result.save(pte)
report = result.report
print(report.summary())
# the report is data, consistent with itself
assert report.nodes and report.partitions, report
assert report.nodes_delegated == sum(n.partition >= 0 for n in report.nodes)
assert sum(p["nodes"] for p in report.partitions) == report.nodes_delegated
assert 0.0 < report.mac_share <= 1.0
by_op = report.by_op()
assert by_op["aten.convolution"]["portable"] == 0, by_op   # conv (bn folded, proj as 1x1)
for n in report.nodes:
    assert (n.reason == "") == n.delegated, n
portable = [n for n in report.nodes if not n.delegated]
assert all(n.reason for n in portable)
assert any(n.module for n in report.nodes), "no node traced back to a module"
assert report.graph == "block"
# the program matches eager
with torch.no_grad():
    expected = [t.numpy() for t in model(x)]
got = run(pte, [x], "block_out")
assert len(got) == len(expected)
for g, e in zip(got, expected):
    err = np.abs(g - e).max() / np.abs(e).max()
    print("output %s: max |xnnd - eager| / max |eager| = %.2e" % (e.shape, err))
    assert err <= 1e-4, err
# the ExportedProgram is not modified by lowering
torch.testing.assert_close(ep.module()(x), model(x))

# xnnd.export: capture + PT2E int8 + lowering in one call (a model it can take whole)
small = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                      nn.Linear(8, 4)).eval()
q = xnnd.export(small, (torch.randn(1, 3, 16, 16),), quantize="int8")
print(q.report.summary())
assert any(n.int8 for n in q.report.nodes) and q.report.mac_share == 1.0
assert all(n.int8 for n in q.report.nodes if n.op == "aten.convolution")

# the pointwise linear inside a quantized model is a pattern xnnd does not lower to int8 yet:
# named, with its module, unless allow_float
try:
    xnnd.export(model, (x,), quantize="int8")
    raise SystemExit("FAIL: a quantized pattern was silently left in float")
except ExportError as e:
    print("refused as expected: %s" % str(e).splitlines()[1].strip())
    assert "not lowered to int8" in str(e) and "module" in str(e), e
fallback = xnnd.export(model, (x,), quantize="int8", allow_float=True)
assert any("runs in float (allow_float)" in note for note in fallback.report.notes)

# bad input: clear errors
for bad, expect in ((model, "expected a torch.export.ExportedProgram"),):
    try:
        xnnd.lower(bad)
        raise SystemExit("FAIL: lower() took a %s" % type(bad).__name__)
    except ExportError as e:
        assert expect in str(e), e
try:
    xnnd.lower(ep, xnnd_bin=os.path.join(TMP, "missing"))
    raise SystemExit("FAIL: missing toolchain accepted")
except ExportError as e:
    assert "toolchain not found" in str(e) and e.exit_code == 1, e


class Histc(nn.Module):
    def forward(self, x):
        return torch.histc(x, bins=4)


try:
    xnnd.lower(torch.export.export(Histc(), (torch.randn(3, 4),)))
    raise SystemExit("FAIL: unsupported op accepted")
except ExportError as e:
    assert "unsupported op aten.histc.default" in str(e), e
print("PASS python_api")
PYEOF
PYTHONPATH=python "$PY" "$TMP/api_check.py"
