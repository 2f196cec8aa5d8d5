"""Per-op checks of the reduce family (sum, prod, amax, amin, any, var, argmax, argmin,
max/min.dim, cumsum, sort, topk, native_group_norm, _native_batch_norm_legit): small modules
exported, run by the C runtime (portable kernels; XNNPACK has none of these nodes, so the
delegated run must match too) and compared with eager. Integer/bool outputs and indices
exactly; floats with the tolerances below.

Tolerances: reductions accumulate in double, so f32 results are within 1 ulp-ish of the exact
value: rtol 1e-5 (var, norms: 1e-4). On long rows the xnnd error is checked against a float64
reference and must not exceed PyTorch's own float32 error (plus a float32 rounding)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from oprun import eager, run_xnnd, xnnd_bin
from xnnd.errors import UnsupportedOpError

RTOL = 1e-5
ATOL = 1e-6


def check(test, module, inputs, *, delegate=False, rtol=RTOL, atol=ATOL, skip=()):
    got, _ = run_xnnd(module, inputs, delegate=delegate)
    want = eager(module, inputs)
    test.assertEqual(len(got), len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        if k in skip:
            continue
        with test.subTest(output=k):
            test.assertEqual(g.shape, w.shape)
            test.assertEqual(g.dtype, w.dtype)
            if np.issubdtype(w.dtype, np.floating):
                np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, equal_nan=True)
            else:
                np.testing.assert_array_equal(g, w)
    return got, want


class FloatReductions(nn.Module):
    def forward(self, x):
        return (x.sum(dim=(0, -1), keepdim=True), x.sum(dim=[1]), torch.sum(x),
                x.sum(dim=[]), x.amax(dim=-1), x.amin(dim=(0, 2), keepdim=True), x.amax(dim=()),
                x.var(dim=(1, 2)), x.var(dim=0, unbiased=False, keepdim=True),
                torch.var(x, dim=-1, correction=2), x.var(),
                x.prod(dim=1), x.prod(), x.prod(dim=-1, keepdim=True),
                x.argmax(dim=1), x.argmin(dim=-1, keepdim=True), x.argmax(), x.argmin(keepdim=True),
                torch.max(x, 1)[0], torch.max(x, 1)[1], torch.min(x, -1, keepdim=True)[0],
                torch.min(x, -1, keepdim=True)[1], x.cumsum(1), x.cumsum(-1),
                torch.sort(x, dim=1)[0], torch.sort(x, dim=1)[1],
                torch.sort(x, dim=-1, descending=True)[0],
                torch.sort(x, dim=-1, descending=True)[1],
                torch.topk(x, 2, dim=1)[0], torch.topk(x, 2, dim=1)[1],
                torch.topk(x, 3, dim=-1, largest=False)[0],
                torch.topk(x, 3, dim=-1, largest=False)[1])


class BoolReductions(nn.Module):
    def forward(self, b):
        return (b.any(), b.any(dim=1), b.any(dim=(0, 2), keepdim=True), torch.any(b, -1),
                b.sum(dim=1), b.sum(), b.cumsum(0), b.amax(dim=1), b.amin(dim=2))


class IntReductions(nn.Module):
    def forward(self, i):
        return (i.sum(dim=1), i.sum(), i.sum(dim=0, dtype=torch.int32),
                i.sum(dim=1, dtype=torch.float32), i.prod(dim=0), i.prod(),
                i.amax(dim=0), i.amin(dim=(0, 1), keepdim=True), i.argmax(dim=1), i.argmin(),
                torch.max(i, 0)[0], torch.max(i, 0)[1], torch.min(i, 1)[0], torch.min(i, 1)[1],
                i.cumsum(1), i.cumsum(0, dtype=torch.float32),
                torch.sort(i, dim=1)[0], torch.sort(i, dim=1)[1],
                torch.topk(i, 2, dim=1)[0], torch.topk(i, 2, dim=1)[1], i.any(dim=1))


class NanReductions(nn.Module):
    def forward(self, x):
        return (x.amax(dim=1), x.amin(dim=1), x.argmax(dim=1), x.argmin(dim=1),
                torch.max(x, 1)[0], torch.max(x, 1)[1], torch.min(x, 1)[0], torch.min(x, 1)[1],
                torch.sort(x, dim=1)[0], torch.sort(x, dim=1)[1],
                torch.sort(x, dim=1, descending=True)[0], torch.sort(x, dim=1, descending=True)[1],
                torch.topk(x, 2, dim=1)[0], torch.topk(x, 2, dim=1, largest=False)[0],
                x.sum(dim=1), x.any(dim=1))


class Ties(nn.Module):
    def forward(self, x):
        return (torch.sort(x, dim=-1)[0], torch.sort(x, dim=-1)[1],
                torch.sort(x, dim=-1, descending=True)[0],
                torch.sort(x, dim=-1, descending=True)[1],
                torch.sort(x, dim=0)[1], x.argmax(dim=-1), x.argmin(dim=-1),
                torch.max(x, -1)[1], torch.min(x, 0)[1],
                torch.topk(x, 3, dim=-1)[0], torch.topk(x, 3, dim=-1)[1],
                torch.topk(x, 3, dim=-1, largest=False)[0],
                torch.topk(x, 3, dim=-1, largest=False)[1])


class LongRows(nn.Module):
    def forward(self, x):
        return x.sum(dim=-1), x.var(dim=-1), x.cumsum(-1)[..., -1]


class Scalars(nn.Module):
    def forward(self, s):
        return (s.sum(), s.sum(dim=0), s.amax(), s.argmax(), s.argmax(dim=0, keepdim=True),
                s.var(correction=0), s.cumsum(0), torch.max(s, 0)[0], torch.sort(s)[0],
                torch.topk(s, 1)[1])


class Wrapped(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


class ReduceOps(unittest.TestCase):
    def setUp(self):
        torch.manual_seed(0)

    def test_float(self):
        x = torch.randn(3, 4, 5)
        check(self, FloatReductions(), [x], rtol=1e-4)
        check(self, FloatReductions(), [x], delegate=True, rtol=1e-4)

    def test_bool(self):
        b = torch.rand(3, 4, 5) > 0.7
        check(self, BoolReductions(), [b])

    def test_int_dtypes(self):
        for dtype in (torch.int32, torch.int64, torch.int8, torch.uint8):
            with self.subTest(dtype=dtype):
                lo = 0 if dtype == torch.uint8 else -4
                i = torch.randint(lo, 5, (3, 6), dtype=dtype)
                got, _ = check(self, IntReductions(), [i], skip=(19,))
                # topk among equal values: see test_ties
                np.testing.assert_array_equal(np.take_along_axis(i.numpy(), got[19], 1), got[18])

    def test_int64_large_and_wrap(self):
        # int64 sums stay exact beyond 2^53; products wrap like PyTorch's.
        i = torch.tensor([[2 ** 62, 2 ** 53 + 1, 3], [-(2 ** 62), 7, 2 ** 40]], dtype=torch.int64)
        check(self, Wrapped(lambda i: (i.sum(dim=1), i.prod(dim=1), i.cumsum(1), i.amax(1))),
              [i])

    def test_nan(self):
        nan = float("nan")
        x = torch.tensor([[1.0, nan, 3.0, nan], [2.0, -1.0, 0.5, 4.0],
                          [nan, nan, nan, nan], [-float("inf"), 5.0, nan, float("inf")]])
        check(self, NanReductions(), [x])

    def test_ties(self):
        # sort is stable (equal values keep their order, ascending and descending), argmax/
        # argmin/max/min return the first occurrence, like PyTorch's CPU kernels. topk keeps
        # the lowest indices among equal values; PyTorch's choice among ties is unspecified,
        # so topk indices are checked to point at the returned values.
        x = torch.tensor([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
                          [5.0, -1.0, 5.0, -1.0, 2.0, 2.0]])
        got, want = check(self, Ties(), [x], skip=(10, 12))
        for k in (10, 12):
            np.testing.assert_array_equal(np.take_along_axis(x.numpy(), got[k], -1), got[k - 1])
        np.testing.assert_array_equal(got[10][0], [0, 2, 5])   # the first of the ties

    def test_topk_unsorted_and_k0(self):
        x = torch.randn(4, 7)
        m = Wrapped(lambda x: (torch.topk(x, 3, dim=1, sorted=False)[0],
                               torch.topk(x, 0, dim=1)[0], torch.topk(x, 7, dim=0 - 1)[1]))
        got, want = check(self, m, [x], skip=(0,))
        # sorted=False leaves the order to the implementation: compare as sets
        np.testing.assert_allclose(np.sort(got[0], 1), np.sort(want[0], 1))

    def test_long_rows(self):
        # 2^20 values with a large mean: float32 sequential sums would drift by ~1e-3
        # relative; double accumulation stays at float32 rounding.
        x = torch.randn(2, 1 << 20) + 1000.0
        got, _ = run_xnnd(LongRows(), [x], delegate=False)
        ref = x.double()
        want = [ref.sum(-1), ref.var(-1), ref.sum(-1)]
        torch_f32 = LongRows()(x)
        for g, w, t in zip(got, want, torch_f32):
            w = w.numpy()
            err = np.abs(g.astype(np.float64) - w) / np.abs(w)
            torch_err = np.abs(t.double().numpy() - w) / np.abs(w)
            self.assertTrue(np.all(err <= torch_err + 2 ** -23), (err, torch_err))

    def test_mean_of_ints(self):
        # aten.mean takes integer input with dtype=torch.float32 (PyTorch refuses it without)
        i = torch.randint(-50, 50, (3, 4, 5), dtype=torch.int32)
        check(self, Wrapped(lambda i, u: (i.mean(dim=1, dtype=torch.float32),
                                          torch.mean(i, dtype=torch.float32),
                                          u.mean(dim=(0, 2), keepdim=True, dtype=torch.float32))),
              [i, torch.randint(0, 255, (2, 3, 4), dtype=torch.uint8)])

    def test_rank0(self):
        check(self, Scalars(), [torch.tensor(2.5)])

    def test_scans_and_noncore(self):
        # cumsum/cumprod with dtype; x.max()/x.min(), sort(stable=True), cumprod are not core
        # but export undecomposed
        x = torch.randn(4, 3)
        x[1, 2] = float("nan")
        check(self, Wrapped(lambda x, i: (x.cumsum(0), x.cumsum(1, dtype=torch.float32),
                                          i.cumsum(0), i.cumsum(1, dtype=torch.int32),
                                          x.cumprod(1), i.cumprod(0),
                                          i.cumprod(1, dtype=torch.float32),
                                          x.max(), x[0].min(), i.max(), i.min(),
                                          torch.sort(i, stable=True, dim=0)[1],
                                          *torch.var_mean(x, dim=1, keepdim=True),
                                          *torch.var_mean(x, correction=0))),
              [x, torch.randint(-9, 9, (4, 3), dtype=torch.int32)])

    def test_norm_modules(self):
        cases = [(nn.InstanceNorm2d(3), (2, 3, 5, 5)),
                 (nn.InstanceNorm2d(3, affine=True), (2, 3, 5, 5)),
                 (nn.InstanceNorm1d(4, affine=True, eps=1e-3), (3, 4, 6)),
                 (nn.GroupNorm(2, 4), (2, 4, 3, 3)),
                 (nn.GroupNorm(1, 6, affine=False), (2, 6, 7)),
                 (nn.GroupNorm(3, 3), (1, 3, 2, 2, 2)),
                 # eval-mode instance norm with running stats: the existing native_batch_norm
                 (nn.InstanceNorm2d(3, track_running_stats=True), (2, 3, 4, 4))]
        for module, shape in cases:
            module.eval()
            for p in module.parameters():
                with torch.no_grad():
                    p.uniform_(0.5, 1.5)
            x = torch.randn(*shape) * 3 + 1
            for delegate in (False, True):
                with self.subTest(module=str(module), delegate=delegate):
                    check(self, module, [x], delegate=delegate, rtol=1e-4, atol=1e-5)

    def test_norm_stats_outputs(self):
        x = torch.randn(2, 6, 4, 3)
        w, b = torch.rand(6) + 0.5, torch.randn(6)
        m = Wrapped(lambda x: (torch.ops.aten.native_group_norm(x, w, b, 2, 6, 12, 3, 1e-5)
                               + torch.ops.aten._native_batch_norm_legit.no_stats(
                                   x, None, b, True, 0.1, 1e-3)))
        check(self, m, [x], rtol=1e-4, atol=1e-5)

    def test_distances(self):
        a, b = torch.randn(2, 4, 3), torch.randn(2, 5, 3)
        c, x = torch.randn(1, 4, 3), torch.randn(6, 3)
        m = Wrapped(lambda a, b, c, x: (
            torch.cdist(a, b), torch.cdist(a, b, p=1), torch.cdist(a, b, p=float("inf")),
            torch.cdist(a, b, p=0), torch.cdist(c, b, p=3),
            torch.cdist(a[0], b[0], compute_mode="donot_use_mm_for_euclid_dist"),
            F.pdist(x), F.pdist(x, p=1), F.pdist(x, p=0.5), F.pdist(x, p=float("inf"))))
        check(self, m, [a, b, c, x], rtol=1e-4, atol=1e-5)

    def test_bad_inputs(self):
        # k larger than the dim, as a program would state it (PyTorch refuses it before export)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.ir")
            with open(path, "w") as f:
                f.write("graph bad {\n  input %x: f32[2,3]\n"
                        "  %v: f32[2,9], %i: i64[2,9] = aten.topk(%x) "
                        "{k=9, dim=1, largest=true, sorted=true}\n  output %v, %i\n}\n")
            proc = subprocess.run([xnnd_bin(), "compile", path, "-o", os.path.join(d, "b.pte")],
                                  capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("aten.topk", proc.stderr)
        self.assertIn("k=9 is outside [0, 3]", proc.stderr)
        # any over an explicit empty dim list is elementwise in PyTorch: refused by name
        with self.assertRaisesRegex(UnsupportedOpError, r"any\.dims.*dim=\[\]"):
            run_xnnd(Wrapped(lambda b: torch.any(b, dim=())), [torch.ones(2, 2, dtype=torch.bool)])
        # var of an integer tensor: PyTorch refuses it itself, so does xnnd's IR
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.ir")
            with open(path, "w") as f:
                f.write("graph bad {\n  input %x: i32[2,3]\n"
                        "  %v: f32[2] = aten.var(%x) {dim=[1], correction=1, keepdim=false}\n"
                        "  output %v\n}\n")
            proc = subprocess.run([xnnd_bin(), "compile", path, "-o", os.path.join(d, "b.pte")],
                                  capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("var needs a floating-point input", proc.stderr)


if __name__ == "__main__":
    unittest.main()
