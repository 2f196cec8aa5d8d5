#!/usr/bin/env bash
# ExecuTorch's own .pte files run by xnnd (runtime/et_program.c): each model exported with
# ExecuTorch 1.5.1 (torch.export -> to_edge_transform_and_lower [-> XnnpackPartitioner] ->
# to_executorch), portable-only and XNNPACK-delegated, run by ExecuTorch's runtime
# (executorch.runtime) and by `xnnd run` on the very same file, and compared: fp32 within 1e-5
# relative (max|a-b| / max|b|), int8 within one step of the output quantization.
# Where this XNNPACK (Debian 12's 2022 build) lacks a node ExecuTorch's delegate uses, the load
# must fail naming that node; with the capability present (a newer XNNPACK) the same case must
# run and match. Likewise an operator xnnd has no portable kernel mapping for must be named at
# load. Prints one line per case and the largest error seen.
source "$(dirname "$0")/lib/common.bash"
export XNND_BIN=$XNND TMP XNND_BUILD_DIR
PYTHONPATH=python:tests/python:tests/models "$PY" - <<'PYEOF'
import os
import re
import subprocess
import sys
import time

import numpy as np
import torch

import torchvision_random
from xnnd import et_export

TMP, XNND = os.environ["TMP"], os.environ["XNND_BIN"]


def capability(sym):
    """XNND_HAVE_<sym> from the build's CMake cache (third-party/xnnpack_capabilities.cmake)."""
    cache = os.path.join(os.environ.get("XNND_BUILD_DIR", "build"), "CMakeCache.txt")
    m = re.search(r"^XNND_HAVE_%s:INTERNAL=(\S*)$" % sym.upper(), open(cache).read(), re.M)
    return bool(m and m.group(1) == "1")


HAVE_TRANSPOSE = capability("xnn_define_static_transpose")
TRANSPOSE_ERROR = ("xnodes[%d] (StaticTranspose): no static transpose in this XNNPACK (an "
                   "interior transpose; only boundary ones fold into the NCHW flag)")


class Partial(torch.nn.Module):
    """conv + relu, then ops ExecuTorch's XnnpackPartitioner leaves to portable kernels
    (eq.Scalar, where, full_like, logical_not, any), then a delegated linear."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        dead = y.eq(0.0)
        y = torch.where(dead, torch.full_like(y, 0.5), y)
        keep = torch.logical_not(dead).any(dim=1, keepdim=True)
        y = y * keep.to(y.dtype)
        return self.fc(y.mean(dim=(2, 3)))


def transformer():
    torch.manual_seed(0)
    layer = torch.nn.TransformerEncoderLayer(32, 4, 64, batch_first=True, dropout=0.0).eval()
    torch.manual_seed(1)
    return layer, (torch.randn(1, 10, 32),)


def partial():
    torch.manual_seed(0)
    model = Partial().eval()
    torch.manual_seed(1)
    return model, (torch.randn(1, 3, 16, 16),)


def calibration(inputs, n=4, seed=2):
    gen = torch.Generator().manual_seed(seed)
    return [tuple(torch.randn(x.shape, generator=gen) for x in inputs) for _ in range(n)]


def output_scale(module):
    """Scale of the dequantize that produces the (first) output, None when there is none."""
    out = [n for n in module.graph.nodes if n.op == "output"][0].args[0]
    node = out[0] if isinstance(out, (list, tuple)) else out
    while node.op == "call_function" and "dequantize" not in str(node.target):
        node = node.args[0]
    return float(node.args[1]) if "dequantize_per_tensor" in str(node.target) else None


# (name, builder, int8, {variant: expected load error or None})
CASES = [
    ("mobilenet_v2", torchvision_random.mobilenet_v2, False, {}),
    ("resnet18", torchvision_random.resnet18, False, {}),
    ("mobilenet_v3_small", torchvision_random.mobilenet_v3_small, False, {}),
    ("transformer_encoder", transformer, False,
     {"xnnpack": None if HAVE_TRANSPOSE else
      'plan "forward" delegate 1 (XnnpackBackend): ' + TRANSPOSE_ERROR % 0}),
    ("partial", partial, False, {}),
    ("mobilenet_v2_int8", torchvision_random.mobilenet_v2, True, {}),
]
only = os.environ.get("ET_MODELS")
worst = {"fp32": 0.0, "int8": 0.0}
failures = 0
for name, build, int8, expected in CASES:
    if only and name not in only.split(","):
        continue
    model, inputs = build()
    scale = None
    if int8:
        model = et_export.quantize_int8(model, inputs, calibration(inputs))
        scale = output_scale(model)
    for variant in ("portable", "xnnpack"):
        t0 = time.time()
        pte = et_export.to_pte(model, inputs, delegate=variant == "xnnpack")
        t_export = time.time() - t0
        path = os.path.join(TMP, "%s_%s.pte" % (name, variant))
        with open(path, "wb") as f:
            f.write(pte)
        ref = et_export.run_executorch(pte, inputs)
        args = [XNND, "run", path, "--iters", "1", "--warmup", "0",
                "--output-dir", os.path.join(TMP, name + variant)]
        for i, x in enumerate(inputs):
            np.save(os.path.join(TMP, "%s_in%d.npy" % (name, i)), x.numpy())
            args += ["--input", os.path.join(TMP, "%s_in%d.npy" % (name, i))]
        os.makedirs(os.path.join(TMP, name + variant), exist_ok=True)
        proc = subprocess.run(args, capture_output=True, text=True)
        want_error = expected.get(variant)
        label = "%-20s %-8s %8d bytes, export %5.1f s:" % (name, variant, len(pte), t_export)
        if want_error is not None:
            if proc.returncode != 0 and want_error in proc.stderr:
                print(label, "refused as expected:", proc.stderr.strip().split(": ", 2)[-1])
            else:
                failures += 1
                print(label, "FAIL: expected the load error %r, got rc %d: %s"
                      % (want_error, proc.returncode, proc.stderr.strip()))
            continue
        if proc.returncode != 0:
            failures += 1
            print(label, "FAIL:", proc.stderr.strip())
            continue
        if name == "partial":   # inspect names the format and the portable steps
            info = subprocess.run([XNND, "inspect", path], capture_output=True, text=True).stdout
            for needle in ("format ExecuTorch ET12", "planned at load", "aten.where"):
                if needle not in info:
                    failures += 1
                    print(label, "FAIL: xnnd inspect does not say %r:\n%s" % (needle, info))
        out_dir = os.path.join(TMP, name + variant)
        got = [np.load(os.path.join(out_dir, "output_%d.npy" % i)) for i in range(len(ref))]
        for i, (a, b) in enumerate(zip(got, ref)):
            if a.shape != b.shape:
                failures += 1
                print(label, "FAIL: output %d shape %s, ExecuTorch %s" % (i, a.shape, b.shape))
                continue
            diff = float(np.abs(a.astype(np.float64) - b).max())
            if int8:
                steps = diff / scale
                worst["int8"] = max(worst["int8"], steps)
                ok = steps <= 1.0 + 1e-3   # one step, plus float32 rounding of the step
                print(label, "output %d max|diff| %.3g = %.3f output steps (scale %.4g)%s"
                      % (i, diff, steps, scale, "" if ok else "  FAIL (more than 1 step)"))
            else:
                rel = diff / max(float(np.abs(b).max()), 1e-30)
                worst["fp32"] = max(worst["fp32"], rel)
                ok = rel <= 1e-5
                print(label, "output %d max rel err %.3g%s" % (i, rel, "" if ok else "  FAIL (> 1e-5)"))
            failures += not ok
print("largest fp32 relative error %.3g, largest int8 error %.3f steps; %d failure(s)"
      % (worst["fp32"], worst["int8"], failures))
sys.exit(1 if failures else 0)
PYEOF
