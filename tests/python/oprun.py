"""Run a small torch module through xnnd and compare with eager: the shared helper of the
per-op tests (tests/python/opcheck_*.py, run by tests/e2e/core_aten_ops.sh) and of the OpInfo
harness.

run_xnnd(module, inputs, delegate=...) exports with torch.export (non-strict), lowers with
xnnd.lower, runs the program with the C runtime (`xnnd run`) and returns its outputs as numpy
arrays, in the module's output order."""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Sequence

import numpy as np
import torch

import xnnd
from xnnd import api

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def xnnd_bin() -> str:
    """XNND_BIN, else $XNND_BUILD_DIR/xnnd (ctest sets it), else build/xnnd."""
    build = os.environ.get("XNND_BUILD_DIR") or os.path.join(ROOT, "build")
    return os.environ.get("XNND_BIN") or os.path.join(build, "xnnd")


def run_pte(program: bytes, inputs: Sequence[torch.Tensor], workdir: str,
            timeout: float | None = None) -> list[np.ndarray]:
    """Runs a program file's bytes once on inputs; raises CalledProcessError with xnnd's
    stderr on failure (subprocess.TimeoutExpired after timeout seconds)."""
    pte = os.path.join(workdir, "m.pte")
    with open(pte, "wb") as f:
        f.write(program)
    out_dir = os.path.join(workdir, "out")
    os.makedirs(out_dir, exist_ok=True)
    args = [xnnd_bin(), "run", pte, "--output-dir", out_dir, "--iters", "1", "--warmup", "0",
            "--allow-non-finite"]
    for i, x in enumerate(inputs):
        path = os.path.join(workdir, "in_%d.npy" % i)
        np.save(path, x.detach().contiguous().numpy())
        args += ["--input", path]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, args, proc.stdout, proc.stderr)
    names = sorted((f for f in os.listdir(out_dir) if f.startswith("output_")),
                   key=lambda f: int(f.split("_")[1].split(".")[0]))
    return [np.load(os.path.join(out_dir, f)) for f in names]


def run_xnnd(module: torch.nn.Module, inputs: Sequence[torch.Tensor], *, delegate: bool = True,
             ) -> tuple[list[np.ndarray], api.DelegationReport]:
    """Exports module (non-strict), lowers (delegated or portable only) and runs it."""
    ep = torch.export.export(module, tuple(inputs), strict=False)
    result = xnnd.lower(ep, name="op", delegate=delegate, allow_float=True, xnnd_bin=xnnd_bin())
    with tempfile.TemporaryDirectory(prefix="xnnd_op_") as d:
        return run_pte(result.program, inputs, d), result.report


class Fn(torch.nn.Module):
    """A function of tensors as a module, so that torch.export can take a lambda."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


def eager(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.detach().numpy() for o in outs]
