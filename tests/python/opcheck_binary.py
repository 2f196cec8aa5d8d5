"""Per-op checks of the binary family (core ATen coverage): add/sub/mul/div over every dtype,
div rounding modes, atan2, fmod, remainder, pow, maximum/minimum, bitwise, logical,
comparisons, where, clamp.Tensor and masked_fill (decomposed into where). Each module batches
several ops; each runs portable only and delegated, and is compared with eager: exactly for
integer/bool outputs, with FLOAT_TOL for floats (NaN positions must agree)."""

from __future__ import annotations

import subprocess
import tempfile
import unittest

import numpy as np
import torch

import xnnd
from oprun import eager, run_pte, run_xnnd, xnnd_bin

# float tolerance (rtol, atol) per output kind: plain arithmetic is exact up to float rounding;
# pow and atan2 use powf/atan2f, PyTorch its vectorized versions (a few ulp).
FLOAT_TOL = (1e-6, 1e-6)
TRANSCENDENTAL_TOL = (1e-5, 1e-6)


def _compare(test, got, want, tol=FLOAT_TOL, what=""):
    test.assertEqual(len(got), len(want))
    for k, (g, w) in enumerate(zip(got, want)):
        label = "%s output %d" % (what, k)
        test.assertEqual(g.dtype, w.dtype, label)
        test.assertEqual(g.shape, w.shape, label)
        if w.dtype.kind == "f":
            np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=label)
            np.testing.assert_allclose(g, w, rtol=tol[0], atol=tol[1], equal_nan=True,
                                       err_msg=label)
        else:
            np.testing.assert_array_equal(g, w, err_msg=label)


class Base(unittest.TestCase):
    def check(self, module, inputs, tol=FLOAT_TOL, delegate_modes=(False, True),
              delegate_inputs=None):
        """delegate_inputs: other inputs for the delegated run (XNNPACK's min/max and output
        clamping turn NaN into -inf or the other operand, so NaN cases run portable only)."""
        report = None
        for delegate in delegate_modes:
            xs = delegate_inputs if delegate and delegate_inputs is not None else inputs
            got, report = run_xnnd(module, xs, delegate=delegate)
            _compare(self, got, eager(module, xs), tol,
                     "%s delegate=%s" % (type(module).__name__, delegate))
        return report


def _with_nan(x):
    x = x.clone()
    x.view(-1)[::7] = float("nan")
    return x


class FloatArith(torch.nn.Module):
    """f32 arithmetic, every overload, broadcasting from rank 0 to rank 4."""

    def forward(self, x4, x0, x1, x3):
        return (torch.add(x4, x3, alpha=2.5), x4 - x1, x0 * x4, x4 / x3,   # .Tensor
                x4 + 2, x4 - 0.5, x4 * 3, x4 / 4, 1.5 - x4,               # .Scalar, rsub
                torch.div(x4, x3, rounding_mode="floor"),
                torch.div(x4, x1, rounding_mode="trunc"),
                torch.div(x4, -1.5, rounding_mode="floor"),                 # Scalar_mode
                torch.div(x4, x3, rounding_mode=None),
                torch.fmod(x4, x3), torch.fmod(x4, -1.5),
                torch.remainder(x4, x3), torch.remainder(x4, -1.5),
                torch.maximum(x4, x0), torch.minimum(x1, x4))


class FloatMath(torch.nn.Module):
    def forward(self, x, y, pos):
        return (torch.pow(pos, y), torch.pow(x, 2), torch.pow(x, 3.0), torch.pow(pos, -0.5),
                torch.pow(2.0, y), torch.atan2(x, y))


class IntArith(torch.nn.Module):
    """integer arithmetic: wrapping add/sub/mul, true division to float, floor/trunc division,
    fmod/remainder with negative operands, integer pow, maximum/minimum."""

    def forward(self, a, b, nz, c8, u8):
        return (a + b, a - b, a * b, torch.add(a, b, alpha=3), a + 7, a * -2, 5 - a,
                a / nz, a / 2,
                torch.div(a, nz, rounding_mode="floor"), torch.div(a, nz, rounding_mode="trunc"),
                torch.div(a, -3, rounding_mode="floor"), torch.div(a, 3, rounding_mode="trunc"),
                torch.fmod(a, nz), torch.fmod(a, -3), torch.remainder(a, nz),
                torch.remainder(a, -3), torch.remainder(a, 4),
                torch.remainder(5, nz), a // nz,           # remainder.Scalar_Tensor, floor_divide
                torch.pow(b, 3), torch.pow(a, torch.tensor([0, 1, 2, 3], dtype=torch.int32)),
                torch.pow(nz, torch.tensor(-1, dtype=torch.int32)),
                torch.maximum(a, b), torch.minimum(a, b),
                c8 * 3 + 100, c8 - 120,                    # i8 wraps like PyTorch
                u8 + 200, u8 - 10, u8 * u8,                # u8 wraps
                u8 + 300, u8 < 300)                        # the scalar wraps to u8 first


class Bitwise(torch.nn.Module):
    def forward(self, a, b, p, q, u8):
        return (torch.bitwise_and(a, b), torch.bitwise_or(a, b), torch.bitwise_xor(a, b),
                torch.bitwise_and(a, 6), torch.bitwise_or(a, -8), torch.bitwise_xor(a, 5),
                torch.bitwise_and(p, q), torch.bitwise_or(p, q), torch.bitwise_xor(p, True),
                torch.bitwise_xor(u8, 255), a & 3, torch.bitwise_or(6, a))   # .Scalar_Tensor


class Mixed(torch.nn.Module):
    """type promotion: int tensor with float scalar, bool with int, i64 with i32, a rank-0
    tensor of a wider int, bool with bool."""

    def forward(self, i32, i64, p, q, x, i64_0):
        return (i32 + 1.5, i32 * 0.5, i32 - 2.25, i32 / 2.5, p + 3, p * i32, p + q, p * q,
                i64 + i32, i64 > i32, i32 == i64, i32 + i64_0, i32 < 2.5, x + i32, x * p,
                torch.maximum(i32, x), torch.remainder(i32, 2.5), torch.fmod(i32, 1.5),
                torch.div(i32, 2.0, rounding_mode="floor"), torch.pow(i32, 0.5))


class Compare(torch.nn.Module):
    def forward(self, x, y, a, b, p):
        out = []
        for l, r in ((x, y), (x, 0.25), (a, b), (a, 1), (p, True), (a, 1.5)):
            out += [torch.eq(l, r), torch.ne(l, r), torch.lt(l, r), torch.le(l, r),
                    torch.gt(l, r), torch.ge(l, r)]
        return tuple(out)


class Logical(torch.nn.Module):
    def forward(self, x, a, p, q, empty):
        out = [empty > 0, empty + a[:1], torch.logical_and(empty, a[:1])]   # zero-size
        for l, r in ((p, q), (x, a), (a, p), (x, x)):
            out += [torch.logical_and(l, r), torch.logical_or(l, r), torch.logical_xor(l, r)]
        return tuple(out)


class Where(torch.nn.Module):
    def forward(self, c, x, y0, a, b):
        return (torch.where(c, x, y0),               # [2,1,4] [3,4] [] -> [2,3,4]
                torch.where(c, a, b),                # ints
                torch.where(c, x, 0.5),              # scalar other (lifted by torch)
                torch.where(c, a, x),                # int with float promotes
                torch.where(x > 0, x, torch.zeros(1)),
                x.masked_fill(x < 0, -7.0),          # decomposes into where
                a.masked_fill(c, 9))


class ClampTensor(torch.nn.Module):
    def forward(self, x, lo, hi, a, alo):
        return (torch.clamp(x, min=lo, max=hi), torch.clamp(x, min=lo), torch.clamp(x, max=hi),
                torch.clamp(x, min=hi, max=lo),    # min > max gives max
                torch.clamp(a, min=alo), torch.clamp(a, min=alo, max=torch.tensor(3)))


class MinMax(torch.nn.Module):
    def forward(self, x, y, c):
        return torch.maximum(x, y), torch.minimum(x, c)


class TestBinary(Base):
    def setUp(self):
        torch.manual_seed(0)

    def test_float_arith(self):
        x4 = _with_nan(torch.randn(2, 3, 4, 5) * 4)
        x3 = torch.randn(3, 1, 5) * 2
        x3[0, 0, 0] = 0.0   # x / 0 -> inf, fmod -> nan
        inputs = [x4, torch.tensor(-0.75), torch.randn(5) + 3.0, x3]
        finite = [torch.nan_to_num(x4, nan=1.0)] + inputs[1:3] + [x3 + (x3 == 0).float()]
        self.check(FloatArith(), inputs, delegate_inputs=finite)

    def test_float_math(self):
        x = torch.randn(3, 4)
        self.check(FloatMath(), [x, torch.randn(4), x.abs() + 0.1], TRANSCENDENTAL_TOL)

    def test_int_arith(self):
        a = torch.tensor([[-7, -6, -1, 0], [1, 5, 7, 100], [-100, 2147483647, -2147483648, 3]],
                         dtype=torch.int32)
        b = torch.tensor([3, -3, 2, -5], dtype=torch.int32)
        nz = torch.tensor([[-3], [4], [7]], dtype=torch.int32)
        c8 = torch.tensor([-128, -1, 0, 100, 127], dtype=torch.int8)
        u8 = torch.tensor([0, 1, 100, 250], dtype=torch.uint8)
        self.check(IntArith(), [a, b, nz, c8, u8])

    def test_int64(self):
        a = torch.tensor([[-9, -1, 0, 2 ** 40], [7, 8, -2 ** 62, 5]], dtype=torch.int64)
        b = torch.tensor([2, -3, 5, -1], dtype=torch.int64)
        nz = torch.tensor([[3], [-4]], dtype=torch.int64)
        c8 = torch.tensor([1, 2], dtype=torch.int8)
        u8 = torch.tensor([3, 4], dtype=torch.uint8)
        self.check(IntArith(), [a, b, nz, c8, u8], delegate_modes=(False,))

    def test_bitwise(self):
        a = torch.tensor([[-8, -1, 0, 5], [12, 7, 3, 1000]], dtype=torch.int64)
        b = torch.tensor([3, -2, 9, 6], dtype=torch.int64)
        p = torch.tensor([True, False, True, False])
        q = torch.tensor([[True], [False]])
        self.check(Bitwise(), [a, b, p, q, torch.tensor([0, 7, 255], dtype=torch.uint8)],
                   delegate_modes=(False,))

    def test_mixed_dtypes(self):
        i32 = torch.tensor([[-5, -2, 0, 3], [7, 9, -11, 2]], dtype=torch.int32)
        i64 = torch.tensor([4, -2, 0, 3], dtype=torch.int64)
        p = torch.tensor([True, False, True, True])
        q = torch.tensor([[False], [True]])
        x = torch.randn(2, 4)
        self.check(Mixed(), [i32, i64, p, q, x, torch.tensor(3, dtype=torch.int64)],
                   delegate_modes=(False,))

    def test_comparisons(self):
        x = _with_nan(torch.randn(3, 4))
        y = torch.tensor([0.25, float("nan"), -1.0, 0.0])
        y[0] = x[0, 0].item()
        a = torch.randint(-3, 3, (3, 4), dtype=torch.int32)
        b = torch.randint(-3, 3, (4,), dtype=torch.int64)
        p = torch.tensor([[True, False, True, False]])
        self.check(Compare(), [x, y, a, b, p], delegate_modes=(False,))

    def test_logical(self):
        x = torch.tensor([[0.0, float("nan"), -2.0, 0.5]])
        a = torch.tensor([[0], [3], [-1]], dtype=torch.int32)
        p = torch.tensor([True, False, True, False])
        q = torch.tensor([[True], [False], [True]])
        self.check(Logical(), [x, a, p, q, torch.zeros(0, 1)], delegate_modes=(False,))

    def test_where_masked_fill(self):
        c = torch.rand(2, 1, 4) > 0.5
        x = _with_nan(torch.randn(3, 4))
        a = torch.randint(-9, 9, (3, 4), dtype=torch.int64)
        b = torch.randint(-9, 9, (4,), dtype=torch.int64)
        inputs = [c, x, torch.tensor(2.0), a, b]
        self.check(Where(), inputs, delegate_inputs=[c, torch.nan_to_num(x)] + inputs[2:])

    def test_clamp_tensor(self):
        x = _with_nan(torch.randn(2, 3, 4))
        lo = torch.full((3, 1), -0.5)
        lo[1, 0] = float("nan")
        hi = torch.rand(4) + 0.2
        a = torch.randint(-9, 9, (2, 3), dtype=torch.int32)
        alo = torch.tensor([-2, 0, 4], dtype=torch.int32)
        self.check(ClampTensor(), [x, lo, hi, a, alo], delegate_modes=(False,))

    def test_maximum_minimum_delegated(self):
        x = _with_nan(torch.randn(1, 3, 4, 5))
        y = torch.randn(1, 3, 4, 5)
        report = self.check(MinMax(), [x, y, torch.tensor(0.1)],
                            delegate_inputs=[torch.nan_to_num(x), y, torch.tensor(0.1)])
        by_op = report.by_op()
        for op in ("aten.maximum", "aten.minimum"):
            self.assertEqual(by_op[op]["delegated"], 1, by_op[op])

    def test_portable_reasons(self):
        """int ops stay portable with a reason; a comparison names the missing node."""
        a = torch.randint(-3, 3, (2, 4), dtype=torch.int32)
        b = torch.randint(-3, 3, (2, 4), dtype=torch.int32)

        class M(torch.nn.Module):
            def forward(self, a, b):
                return a + b, a < b

        _, report = run_xnnd(M(), [a, b], delegate=True)
        by_op = report.by_op()
        self.assertEqual(by_op["aten.add"]["delegated"], 0)
        self.assertIn("f32 only", " ".join(by_op["aten.add"]["reasons"]))
        self.assertIn("this XNNPACK has no comparison node", " ".join(by_op["aten.lt"]["reasons"]))

    def test_integer_division_by_zero_fails(self):
        class M(torch.nn.Module):
            def forward(self, a, b):
                return torch.div(a, b, rounding_mode="floor")

        a = torch.tensor([1, 2, 3], dtype=torch.int32)
        b = torch.tensor([1, 0, 1], dtype=torch.int32)
        ep = torch.export.export(M(), (a, torch.ones(3, dtype=torch.int32)), strict=False)
        result = xnnd.lower(ep, name="op", delegate=False, allow_float=True, xnnd_bin=xnnd_bin())
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(subprocess.CalledProcessError) as ctx:
                run_pte(result.program, [a, b], d)
        self.assertIn("aten.div_mode", ctx.exception.stderr)
        self.assertIn("kernel failed", ctx.exception.stderr)

    def test_bad_input_int16_promotion(self):
        """u8 with i8 promotes to int16, which the IR lacks: a clear export error."""
        class M(torch.nn.Module):
            def forward(self, a, b):
                return a + b

        with self.assertRaisesRegex(Exception, "int16"):
            run_xnnd(M(), [torch.ones(3, dtype=torch.uint8), torch.ones(3, dtype=torch.int8)],
                     delegate=False)


if __name__ == "__main__":
    unittest.main()
