"""Per-op checks of the math family (unary math, predicates, bitwise/logical not, elu,
leaky_relu, _to_copy, copy/fill, creation ops): small modules exported, lowered, run by the C
runtime and compared with eager. Integer and bool outputs compare exactly; float outputs with
the tolerances in FLOAT_TOL (libm vs PyTorch's vectorized math), NaN and inf positions exactly."""

from __future__ import annotations

import unittest

import numpy as np
import torch

from oprun import eager, run_xnnd
from xnnd.errors import ExportError, UnsupportedOpError

NAN, INF = float("nan"), float("inf")

# op -> function; each maps a float tensor to a float tensor (ints promote for the math ones).
FLOAT_OPS = {
    "abs": torch.abs, "neg": torch.neg, "sign": torch.sign, "ceil": torch.ceil,
    "floor": torch.floor, "round": torch.round, "trunc": torch.trunc, "acos": torch.acos,
    "acosh": torch.acosh, "asin": torch.asin, "asinh": torch.asinh, "atan": torch.atan,
    "atanh": torch.atanh, "cos": torch.cos, "cosh": torch.cosh, "erf": torch.erf,
    "exp": torch.exp, "expm1": torch.expm1, "log": torch.log, "log10": torch.log10,
    "log1p": torch.log1p, "log2": torch.log2, "reciprocal": torch.reciprocal,
    "rsqrt": torch.rsqrt, "sin": torch.sin, "sinh": torch.sinh, "sqrt": torch.sqrt,
    "tan": torch.tan,
    "elu": lambda x: torch.nn.functional.elu(x, alpha=0.7),
    "elu_scaled": lambda x: torch.ops.aten.elu(x, 1.3, 1.0507, 0.5),
    "selu": torch.selu,
    "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, 0.2),
}
# Ops that must agree exactly (no rounding in either implementation); the rest use FLOAT_TOL.
EXACT = {"abs", "neg", "sign", "ceil", "floor", "round", "trunc", "leaky_relu"}
FLOAT_TOL = dict(rtol=2e-6, atol=1e-6)
INT_DTYPES = (torch.int64, torch.int32, torch.int8, torch.uint8)


def _to(dtype):
    return lambda v: v.to(dtype)


class Ops(torch.nn.Module):
    def __init__(self, fns):
        super().__init__()
        self.fns = list(fns)

    def forward(self, *xs):
        return tuple(f(*xs) for f in self.fns)


def special_floats():
    """NaN, +-inf, +-0, halves (round half to even), domain edges (log of negatives, sqrt of
    -1, reciprocal of 0, acos/atanh at and beyond +-1) and ordinary values."""
    vals = [NAN, INF, -INF, 0.0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 1.0, -1.0, 1.0000001, -3.7, -0.4,
            0.3, -0.3, 2.0, 10.0, -10.0, 1e-8, -1e-8, 88.0, 100.0, -100.0, 0.999, -0.999, 3.14159]
    rng = np.random.default_rng(0)
    vals += list(rng.uniform(-4, 4, 36).astype(np.float32))
    return torch.tensor(vals, dtype=torch.float32).reshape(4, 16)


class MathOps(unittest.TestCase):
    def check(self, names, got, ref):
        self.assertEqual(len(got), len(ref))
        for name, g, r in zip(names, got, ref, strict=True):
            with self.subTest(op=name):
                self.assertEqual(g.dtype, r.dtype, name)
                self.assertEqual(g.shape, r.shape, name)
                if r.dtype.kind in "biu" or name in EXACT:
                    np.testing.assert_array_equal(g, r, err_msg=name)
                    if r.dtype.kind == "f":   # signed zeros too (neg(0) = -0, round(-0.4) = -0)
                        real = ~np.isnan(r)
                        np.testing.assert_array_equal(np.signbit(g[real]), np.signbit(r[real]),
                                                      err_msg=name + " sign of zero")
                else:
                    np.testing.assert_allclose(g, r, err_msg=name, equal_nan=True, **FLOAT_TOL)

    def run_both(self, module, inputs, names, delegate=False):
        got, report = run_xnnd(module, inputs, delegate=delegate)
        self.check(names, got, eager(module, inputs))
        return report

    def test_float_ops_with_nan_inf(self):
        x = special_floats()
        self.run_both(Ops(FLOAT_OPS.values()), [x], list(FLOAT_OPS))

    def test_float_ops_3d_delegated(self):
        # delegate=True: ops without an XNNPACK node stay portable and still agree
        x = torch.randn(2, 3, 5) * 3
        report = self.run_both(Ops(FLOAT_OPS.values()), [x], list(FLOAT_OPS), delegate=True)
        portable = {n.op for n in report.nodes if not n.delegated}
        self.assertIn("aten.exp", portable)

    def test_xnnpack_delegated(self):
        """abs, ceil, floor, neg, sqrt, round (bankers), elu (scale 1), leaky_relu run in
        XNNPACK and agree with eager."""
        x = torch.randn(2, 3, 4, 5) * 3
        x[0, 0, 0, :4] = torch.tensor([0.5, 1.5, 2.5, -2.5])
        fns = {"abs": torch.abs, "ceil": torch.ceil, "floor": torch.floor, "neg": torch.neg,
               "sqrt": lambda v: torch.sqrt(torch.abs(v)), "round": torch.round,
               "elu": lambda v: torch.nn.functional.elu(v, alpha=0.7),
               "leaky_relu": lambda v: torch.nn.functional.leaky_relu(v, 0.2)}
        names = list(fns)
        report = self.run_both(Ops(fns.values()), [x], names, delegate=True)
        ops = report.by_op()
        for name in names:
            row = ops["aten." + name]
            self.assertGreater(row["delegated"], 0, (name, row))
            self.assertEqual(row["portable"], 0, (name, row))

    def test_predicates(self):
        x = special_floats()
        fns = {"isnan": torch.isnan, "isinf": torch.isinf, "logical_not": torch.logical_not,
               "isnan_sqrt": lambda v: torch.isnan(torch.sqrt(v))}
        self.run_both(Ops(fns.values()), [x], list(fns))

    def test_int_dtypes(self):
        fns = {"abs": torch.abs, "neg": torch.neg, "sign": torch.sign, "ceil": torch.ceil,
               "floor": torch.floor, "round": torch.round, "trunc": torch.trunc,
               "bitwise_not": torch.bitwise_not, "logical_not": torch.logical_not,
               "isnan": torch.isnan, "isinf": torch.isinf, "sqrt": torch.sqrt, "exp": torch.exp,
               "cos": torch.cos, "reciprocal": torch.reciprocal}
        for dtype in INT_DTYPES:
            info = torch.iinfo(dtype)
            vals = [0, 1, 2, 7, 100, info.max, info.min, info.max - 1]
            if info.min < 0:
                vals += [-1, -2, -7, -100, info.min + 1]
            x = torch.tensor(vals, dtype=dtype)
            with self.subTest(dtype=str(dtype)):
                self.run_both(Ops(fns.values()), [x], list(fns))

    def test_bool(self):
        fns = {"bitwise_not": torch.bitwise_not, "logical_not": torch.logical_not,
               "sign": torch.sign, "isnan": torch.isnan, "sqrt": torch.sqrt}
        x = torch.tensor([[True, False, True], [False, False, True]])
        self.run_both(Ops(fns.values()), [x], list(fns))

    def convert(self, x, dtypes):
        fns = [_to(dt) for dt in dtypes]
        self.run_both(Ops(fns), [x], [str(dt) for dt in dtypes])

    def test_to_copy(self):
        # float -> int truncates toward zero; NaN and +-0 -> bool: nonzero is true
        x = torch.tensor([[0.0, -0.0, 1.0, -1.0, 2.7, -2.7], [126.9, -127.9, 0.5, -0.5, 3e5, 1e9]])
        self.convert(x, (torch.int64, torch.int32, torch.bool))
        self.convert(torch.tensor([NAN, INF, -INF, 0.0, -0.0]), (torch.bool,))
        small = torch.tensor([[0.0, 1.0, -1.0, 2.7, -2.7, 126.9], [-127.9, 0.5, -0.5, 100.0, 5.0,
                                                                    -3.0]])
        self.convert(small, (torch.int8,))
        self.convert(small.abs(), (torch.uint8,))
        # int and bool sources, including wrap-around narrowing
        i = torch.tensor([0, 1, -1, 255, 256, -129, 1 << 40, 7], dtype=torch.int64)
        self.convert(i, (torch.float32, torch.int32, torch.int8, torch.uint8, torch.bool))
        self.convert(torch.tensor([True, False, True]), (torch.float32, torch.int64, torch.uint8))
        self.convert(torch.tensor([0, 200, 255], dtype=torch.uint8),
                     (torch.float32, torch.int8, torch.int64))
        self.convert(torch.tensor([-128, 5, 127], dtype=torch.int8),
                     (torch.float32, torch.int32, torch.uint8))

    def test_to_copy_layout_only_is_identity(self):
        x = torch.randn(1, 3, 4, 4)
        m = Ops([lambda v: v.to(memory_format=torch.channels_last) + 1,
                 lambda v: v.to(torch.float32) * 2])
        report = self.run_both(m, [x], ["channels_last", "same_dtype"])
        self.assertNotIn("aten._to_copy", report.by_op())

    def test_to_copy_float64_refused(self):
        # refused by the exporter's dtype check, which names the node and the op
        m = Ops([lambda v: v.to(torch.float64).sum().float()])
        with self.assertRaises(ExportError) as cm:
            run_xnnd(m, [torch.randn(3)], delegate=False)
        self.assertIn("aten._to_copy", str(cm.exception))
        self.assertIn("float64", str(cm.exception))

    def test_to_copy_float16_refused(self):
        m = Ops([lambda v: v.to(torch.float16).to(torch.float32) + 1])
        with self.assertRaises(UnsupportedOpError) as cm:
            run_xnnd(m, [torch.randn(3)], delegate=False)
        self.assertIn("float16", str(cm.exception))

    def test_copy_and_fill(self):
        class CopyFill(torch.nn.Module):
            def forward(self, x, z):
                a = x.clone()
                a.copy_(z)                      # z [3] i64 broadcast into x [2,3] f32
                b = torch.ops.aten.fill.Scalar(x, 2.5)
                c = torch.ops.aten.copy.default(z.to(torch.int32).unsqueeze(0).expand(2, 3),
                                                x)   # f32 -> i32
                d = (x * 2).fill_(-1.0) + x
                e = torch.ops.aten.fill.Tensor(x, z[1].to(torch.float32))   # a 0-d tensor value
                return a, b, c, d, e
        x = torch.tensor([[0.5, -1.5, 3.7], [2.0, -9.9, 0.0]])
        z = torch.tensor([1, -2, 3])
        self.run_both(CopyFill(), [x, z], ["copy", "fill", "copy_to_int", "fill_", "fill_tensor"])

    def test_clone_int_dtypes(self):
        for dtype in (torch.int64, torch.int32, torch.uint8, torch.bool):
            x = torch.tensor([[1, 0, 1]], dtype=dtype)
            self.run_both(Ops([lambda v: v.clone()]), [x], ["clone"])

    def test_creation_ops_feed_real_inputs(self):
        class Create(torch.nn.Module):
            def forward(self, x):
                e = torch.empty(2, 3)
                e.fill_(4.0)
                s = torch.empty_strided((2, 3), (3, 1))
                s.copy_(x)
                return (x + torch.full((2, 3), 1.5), torch.full_like(x, 2.0) * x,
                        x * torch.scalar_tensor(3.0),
                        x + torch.arange(1, 7, 2, dtype=torch.float32),
                        x + e, s * 2, torch.zeros_like(x) + x,
                        torch.arange(0, 6, 1).reshape(2, 3)
                        + torch.full((2, 3), 2, dtype=torch.int64))
        x = torch.randn(2, 3)
        self.run_both(Create(), [x], ["full", "full_like", "scalar_tensor", "arange", "empty",
                                      "empty_strided", "zeros_like", "arange_int"])


if __name__ == "__main__":
    unittest.main()
