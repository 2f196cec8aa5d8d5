"""Dtype plumbing of the exporter and `xnnd run`: program inputs and outputs of every IR dtype
(i64, i32, i8, u8, bool) and rank 0, integer and bool constants inline and in the bundle,
the dtype of rank-0 constants made from Python scalars, and the refusal of float64/complex.
The round trips through the C runtime are skipped when the xnnd binary is not built."""

import os
import sys
import tempfile
import unittest

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import xnnd  # noqa: E402
from xnnd import aten_map, ir_text, trace  # noqa: E402
from xnnd.errors import ExportError  # noqa: E402

import oprun  # noqa: E402


def export(module, inputs, name="m"):
    module.eval()
    return aten_map.convert(trace.trace(module, inputs), name)


class CatView(nn.Module):
    """Ops that exist for every dtype: cat, slice, view; plus a large and a small constant of
    the input's dtype."""

    def __init__(self, dtype):
        super().__init__()
        self.register_buffer("big", (torch.arange(24) % 7).to(dtype).reshape(1, 24))
        self.register_buffer("small", torch.tensor([[1, 0, 1]]).to(dtype))

    def forward(self, x):
        y = torch.cat([x, self.big, self.small], 1)[:, 1:]
        return y.reshape(-1), x


class Rank0(nn.Module):
    def forward(self, s, b):
        return s.reshape(1), torch.cat([b.reshape(1), b.reshape(1)])


DTYPE_CASES = [(torch.int64, "i64"), (torch.int32, "i32"), (torch.int8, "i8"),
               (torch.uint8, "u8"), (torch.bool, "bool")]


def sample(dtype):
    return (torch.arange(20).reshape(1, 20) % 5 - (0 if dtype in (torch.uint8, torch.bool)
                                                   else 2)).to(dtype)


class TestExportDtypes(unittest.TestCase):
    def test_inputs_outputs_constants_of_every_dtype(self):
        for dtype, ir in DTYPE_CASES:
            with self.subTest(dtype=ir):
                graph = export(CatView(dtype), (sample(dtype),))
                self.assertEqual([v.dtype for v in graph.inputs], [ir])
                self.assertEqual([v.dtype for v in graph.outputs], [ir, ir])
                self.assertEqual(sorted(v.dtype for v in graph.consts), [ir, ir])
                text = ir_text.print_graph(graph)
                self.assertIn("input %%x: %s[1,20]" % ir, text)
                small = "[1, 0, 1]"
                self.assertIn(": %s[1,3] = %s" % (ir, small), text)
                self.assertRegex(text, r": %s\[1,24\] = #[0-9a-f]{16}" % ir)
                big = [v for v in graph.consts if v.shape == (1, 24)][0]
                self.assertEqual(ir_text.const_bytes(big),
                                 (torch.arange(24) % 7).to(dtype).numpy().tobytes())

    def test_rank0_inputs(self):
        graph = export(Rank0(), (torch.tensor(3, dtype=torch.int64), torch.tensor(True)))
        self.assertEqual([(v.dtype, v.shape) for v in graph.inputs], [("i64", ()), ("bool", ())])
        self.assertIn("input %s: i64[]", ir_text.print_graph(graph))

    def test_scalar_constant_dtype_follows_the_computation(self):
        class Scalars(nn.Module):
            def forward(self, x, n):
                return x + 2, n * 3, n + 0.5, x + True

        graph = export(Scalars(), (torch.randn(3), torch.arange(3)))
        consts = [n.inputs[1] for n in graph.nodes if n.op in ("aten.add", "aten.mul")]
        self.assertEqual([(c.dtype, c.data.item()) for c in consts],
                         [("f32", 2.0), ("i64", 3), ("f32", 0.5), ("f32", 1.0)])

    def test_scalar_of_a_bool_valued_op_uses_the_promoted_dtype(self):
        class Cmp(nn.Module):
            def forward(self, x, n):
                return torch.gt(x, 1), torch.gt(n, 0.5), torch.eq(n, 2)

        graph = export(Cmp(), (torch.randn(3), torch.arange(3)))
        consts = [n.inputs[1] for n in graph.nodes if n.op in ("aten.gt", "aten.eq")]
        self.assertEqual([c.dtype for c in consts], ["f32", "f32", "i64"])

    def test_float64_is_refused_naming_node_and_module(self):
        class Inner(nn.Module):
            def forward(self, x):
                return (x.double() * 2).float()

        class Outer(nn.Module):
            def __init__(self):
                super().__init__()
                self.inner = Inner()

            def forward(self, x):
                return self.inner(x)

        with self.assertRaises(ExportError) as cm:
            export(Outer(), (torch.randn(3),))
        msg = str(cm.exception)
        self.assertIn("unsupported dtype float64", msg)
        self.assertIn("module inner (Inner)", msg)
        self.assertIn("at node '", msg)
        self.assertIn("xnnd has no float64", msg)

    def test_float64_input_and_complex_are_refused(self):
        class Id(nn.Module):
            def forward(self, x):
                return x.reshape(-1)

        with self.assertRaises(ExportError) as cm:
            export(Id(), (torch.randn(2, 2, dtype=torch.float64),))
        self.assertIn("unsupported dtype float64: tensor at node 'x'", str(cm.exception))
        with self.assertRaises(ExportError) as cm:
            export(Id(), (torch.randn(2, 2, dtype=torch.complex64),))
        self.assertIn("unsupported dtype complex64", str(cm.exception))
        self.assertIn("no complex", str(cm.exception))

    def test_float64_folded_away_is_accepted(self):
        class Folded(nn.Module):
            def __init__(self):
                super().__init__()
                self.register_buffer("w", torch.arange(4, dtype=torch.float64))

            def forward(self, x):
                return x * self.w.float()

        graph = export(Folded(), (torch.randn(4),))
        self.assertEqual({v.dtype for v in graph.consts}, {"f32"})


class TestCreationFolding(unittest.TestCase):
    def test_creation_ops_fold_and_empty_needs_no_rule(self):
        class Create(nn.Module):
            def forward(self, x):
                y = torch.empty(3)
                y.fill_(2)   # empty + full_like: the empty is not kept alive
                return x + y + torch.arange(3) + torch.full((3,), 0.5) + torch.scalar_tensor(1)

        graph = export(Create(), (torch.randn(3),))
        self.assertEqual([n.op for n in graph.nodes], ["aten.add"] * 4)
        for target in ("aten.full.default", "aten.arange.start_step", "aten.empty.memory_format",
                       "aten.scalar_tensor.default", "aten.full_like.default"):
            self.assertTrue(aten_map.always_folded(target), target)
        for target in ("aten.rand.default", "aten.add.Tensor", "aten.atan2.out"):
            self.assertFalse(aten_map.always_folded(target), target)


@unittest.skipUnless(os.access(oprun.xnnd_bin(), os.X_OK), "xnnd binary not built")
class TestRunDtypes(unittest.TestCase):
    """`xnnd run --input X.npy --output-dir`: .npy of every IR dtype in and out."""

    def check(self, module, inputs):
        want = oprun.eager(module, inputs)
        for delegate in (True, False):
            got, _ = oprun.run_xnnd(module, inputs, delegate=delegate)
            self.assertEqual(len(got), len(want))
            for g, w in zip(got, want, strict=True):
                self.assertEqual(g.dtype, w.dtype)
                self.assertEqual(g.shape, w.shape)
                np.testing.assert_array_equal(g, w)

    def test_every_dtype_round_trips(self):
        for dtype, ir in DTYPE_CASES:
            with self.subTest(dtype=ir):
                self.check(CatView(dtype), (sample(dtype),))

    def test_rank0_round_trips(self):
        self.check(Rank0(), (torch.tensor(-7, dtype=torch.int64), torch.tensor(True)))

    def test_rank0_float_output(self):
        class Scalar(nn.Module):
            def forward(self, x):
                return x + 1.5

        out, _ = oprun.run_xnnd(Scalar(), (torch.tensor(2.0),), delegate=False)
        self.assertEqual((out[0].shape, out[0].dtype, float(out[0])), ((), np.float32, 3.5))

    def test_npy_dtype_mismatch_is_refused(self):
        ep = torch.export.export(CatView(torch.int64), (sample(torch.int64),), strict=False)
        result = xnnd.lower(ep, name="op", delegate=False, xnnd_bin=oprun.xnnd_bin())
        with tempfile.TemporaryDirectory() as d:
            with self.assertRaises(Exception) as cm:
                oprun.run_pte(result.program, [sample(torch.int32)], d)
            self.assertIn("dtype", getattr(cm.exception, "stderr", "") or str(cm.exception))


if __name__ == "__main__":
    unittest.main()
