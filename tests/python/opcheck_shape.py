"""Per-op checks of the shape and layout ops (core ATen coverage, family `shape`): flip, repeat,
reflection/replication pads, diagonal, as_strided, squeeze/unsqueeze, and view, permute,
expand, cat, slice, select, constant_pad_nd, split_with_sizes, clone, roll over every dtype;
plus non-core ops torch decomposes into them (stack, pixel_shuffle, narrow, tile, movedim,
chunk, unflatten, repeat_interleave). Each module runs portable and delegated; every output
is exact (these ops only move elements)."""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from oprun import Fn, eager, run_xnnd, xnnd_bin
from xnnd.errors import ExportError

DTYPES = (torch.float32, torch.int64, torch.int32, torch.int8, torch.uint8, torch.bool)


def sample(shape, dtype, seed=0):
    g = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=g).bool()
    if dtype.is_floating_point:
        return torch.randn(shape, generator=g, dtype=dtype)
    lo, hi = (0, 250) if dtype == torch.uint8 else (-100, 100)
    return torch.randint(lo, hi, shape, generator=g, dtype=dtype)


class ShapeOps(unittest.TestCase):
    def check(self, fn, inputs, delegates=(False, True)):
        """Runs fn portable and/or delegated, compares exactly; returns the last report."""
        want = eager(Fn(fn), inputs)
        report = None
        for delegate in delegates:
            got, report = run_xnnd(Fn(fn), inputs, delegate=delegate)
            self.assertEqual(len(got), len(want))
            for i, (g, w) in enumerate(zip(got, want, strict=True)):
                msg = "output %d, delegate=%s" % (i, delegate)
                self.assertEqual(g.shape, w.shape, msg)
                self.assertEqual(g.dtype, w.dtype, msg)
                np.testing.assert_array_equal(g, w, err_msg=msg)
        return report

    def test_flip_repeat_diagonal_rank1_to_5(self):
        def fn(a, b, c, d, e):
            return (a.flip(0), b.flip(-1), c.flip(0, 2), d.flip(-1, 1, 0), e.flip(4, 1),
                    a.repeat(3), b.repeat(2, 1, 3), c.repeat(1, 2, 1), d.repeat(1, 1, 2, 1),
                    e.repeat(1, 2, 1, 1, 1),
                    torch.diagonal(b), torch.diagonal(c, 1, 0, 2), torch.diagonal(c, -1, -1, 0),
                    torch.diagonal(d, 0, 3, 1), torch.diagonal(e, 2, -2, -1),
                    torch.diagonal(b, 7))
        shapes = [(5,), (3, 4), (2, 3, 4), (2, 3, 2, 3), (1, 2, 3, 2, 4)]
        for dtype in (torch.float32, torch.int64, torch.bool):
            with self.subTest(dtype=dtype):
                self.check(fn, [sample(s, dtype, i) for i, s in enumerate(shapes)],
                           delegates=(False,) if dtype != torch.float32 else (False, True))

    def test_repeat_adds_leading_dims_and_zero(self):
        self.check(lambda x: (x.repeat(2, 1, 3), x.repeat(0, 2)), [sample((2, 3), torch.int32)],
                   delegates=(False,))

    def test_scalar_and_empty(self):
        def fn(x, m):
            return (x[0, 0].repeat(3), x[0, 0].repeat(2, 2), x[0, 0].unsqueeze(0).flip(0),
                    x[:, :0].flip(1), x[:, :0].repeat(2, 3), F.pad(x[:0], (1, 1)),
                    torch.diagonal(x[:0], 0), x.flip(()),
                    F.pad(m, (1, 2), value=1), F.pad(m, (1, 0, 0, 1)), m.flip(-1))
        self.check(fn, [torch.randn(2, 3), sample((2, 3), torch.bool)], delegates=(False,))

    def test_reflection_replication_pads(self):
        def fn(x1, x2, x3, i2):
            return (F.pad(x1, (2, 1), mode="reflect"), F.pad(x1, (3, 0), mode="replicate"),
                    F.pad(x1, (-1, 2), mode="reflect"), F.pad(x1, (2, -1), mode="replicate"),
                    F.pad(x2, (-1, -1, 1, 1), mode="reflect"),
                    F.pad(x2, (1, 2, 2, 1), mode="reflect"),
                    F.pad(x2, (0, 3, 1, 4), mode="replicate"),
                    F.pad(x3, (1, 1, 2, 0, 1, 2), mode="reflect"),
                    F.pad(x3, (2, 1, 0, 2, 3, 1), mode="replicate"),
                    F.pad(i2, (1, 1, 1, 1), mode="reflect"),
                    F.pad(i2, (2, 0, 0, 2), mode="replicate"))
        inputs = [sample((2, 3, 5), torch.float32, 1), sample((1, 2, 4, 5), torch.float32, 2),
                  sample((1, 2, 3, 4, 5), torch.float32, 3), sample((2, 3, 4), torch.int64, 4)]
        self.check(fn, inputs)
        # the same ops unbatched: reflection_pad2d of a 3-D tensor, replication_pad1d of 2-D
        self.check(lambda x, y: (F.pad(x, (1, 2, 2, 1), mode="reflect"),
                                 F.pad(y, (2, 3), mode="replicate")),
                   [sample((2, 3, 4), torch.uint8, 5), sample((2, 3), torch.int8, 6)],
                   delegates=(False,))

    def test_reflection_pad_too_large_is_refused(self):
        # PyTorch itself refuses it while exporting ...
        with self.assertRaisesRegex(RuntimeError, "Padding size should be less than"):
            run_xnnd(Fn(lambda x: torch.ops.aten.reflection_pad1d(x, [3, 1])),
                     [torch.randn(1, 2, 3)], delegate=False)
        # ... and xnnd's shape inference refuses the same IR
        ir = ("graph g {\n  input %x: f32[1,2,3]\n"
              "  %y: f32[1,2,7] = aten.reflection_pad1d(%x) {padding=[3,1]}\n  output %y\n}\n")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "g.ir")
            with open(path, "w") as f:
                f.write(ir)
            proc = subprocess.run([xnnd_bin(), "compile", path, "-o", os.path.join(d, "g.pte")],
                                  capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("reflection padding (3, 1) must be less than the size 3 of dim 2",
                      proc.stderr)

    def test_as_strided(self):
        def fn(x):
            y = x * 2   # a fresh contiguous tensor
            return (y.as_strided((3, 3), (1, 3), 2), y.as_strided((2, 2, 2), (8, 0, 5)),
                    y.as_strided((4,), (6,), 1), y.as_strided((2, 3, 5), (15, 5, 1)))
        self.check(fn, [torch.randn(2, 3, 5)])
        # a contiguous, in-order as_strided stays a view (XNNPACK takes it)
        _, report = run_xnnd(Fn(lambda x: (x + 1).as_strided((6, 5), (5, 1))),
                             [torch.randn(2, 3, 5)], delegate=True)
        self.assertEqual([n.op for n in report.nodes], ["aten.add", "aten.view"])
        self.assertEqual({n.partition for n in report.nodes}, {0})

    def test_as_strided_beyond_input_is_refused(self):
        with self.assertRaisesRegex(ExportError, "beyond the 6 elements"):
            run_xnnd(Fn(lambda x: (x + 1).as_strided((3, 3), (2, 1))), [torch.randn(2, 3)],
                     delegate=False)

    def test_as_strided_of_a_view_is_refused(self):
        with self.assertRaisesRegex(ExportError, "storage offset 3\\) whose storage holds more"):
            run_xnnd(Fn(lambda x: x[1:].as_strided((2,), (1,), 0)), [torch.randn(3, 3)],
                     delegate=False)

    def test_squeeze_unsqueeze(self):
        def fn(x):
            return (x.squeeze((1, 3)), x.squeeze(-2), x.squeeze(), x.unsqueeze(0),
                    x.unsqueeze(-1), torch.ops.aten.squeeze.dims(x, [1]))
        for dtype in (torch.float32, torch.int32):
            self.check(fn, [sample((2, 1, 3, 1), dtype)])

    def test_int_bool_layout_ops(self):
        """view, permute, expand, cat, slice, select, constant_pad_nd, clone, roll and
        split_with_sizes over each dtype, with negative dims; delegated too: XNNPACK must leave
        the int ones portable."""
        def fn(a, b, c):
            s1, s2, s3 = torch.split(a, [1, 2, 1], dim=-1)
            return (a.view(2, 12), a.reshape(-1), a.permute(2, 0, 1), a.transpose(-1, -3),
                    c.expand(2, 3, 4), c.expand(3, -1, 4),
                    torch.cat([a, b], -2), torch.cat([a, a, b], 1),
                    a[:, 1:, ::2], a[..., -3:-1], a.narrow(-1, 1, 2),
                    a.select(-1, 2), a[1], a[:, -1],
                    F.pad(a, (1, 2)), F.pad(a, (1, -1, 0, 1), value=3.7),
                    F.pad(a, (0, 0, -1, 0, 2, 1), value=neg), F.pad(a, (2, 2), value=1),
                    a.clone(), torch.roll(a, 1, -1), torch.roll(a, (2, -1), (0, 1)),
                    s1, s3, s2)
        for dtype in DTYPES:
            # the pad value is cast to the dtype: toward zero for ints; uint8 refuses negatives
            neg = 2.9 if dtype == torch.uint8 else -2.2
            with self.subTest(dtype=dtype):
                delegated = dtype in (torch.float32, torch.int64, torch.int8, torch.bool)
                report = self.check(fn, [sample((2, 3, 4), dtype, 1),
                                         sample((2, 1, 4), dtype, 2), sample((3, 1), dtype, 3)],
                                    delegates=(False, True) if delegated else (False,))
                if not delegated:
                    continue
                if dtype != torch.float32:   # XNNPACK's view/permute/pad/clone take f32 only
                    self.assertEqual([n.op for n in report.nodes if n.partition >= 0], [])
                else:
                    self.assertTrue(any(n.partition >= 0 for n in report.nodes))

    def test_rank5_and_rank1(self):
        def fn(x, v):
            return (x.permute(4, 0, 3, 1, 2), x.view(6, 20), x[:, :, 1:], x.select(-2, 1),
                    F.pad(x, (1, 1, 0, 0, 1, 0, 1, 0, 0, 0)), torch.cat([x, x], -5),
                    v.flip(0), F.pad(v, (2, 1)), v[::3], v.expand(2, 7), torch.cat([v, v]))
        for dtype in (torch.float32, torch.int64, torch.uint8):
            with self.subTest(dtype=dtype):
                self.check(fn, [sample((1, 2, 3, 4, 5), dtype), sample((7,), dtype, 2)],
                           delegates=(False,) if dtype != torch.float32 else (False, True))

    def test_pad_of_all_5_dims_refused(self):
        # the IR lists at most 8 pads (4 dims); trailing (0, 0) pairs are dropped first
        with self.assertRaisesRegex(ExportError, "pad over 5 dims; at most 4"):
            run_xnnd(Fn(lambda x: F.pad(x, (1, 1, 0, 0, 1, 0, 0, 0, 1, 1))),
                     [torch.randn(1, 2, 3, 4, 5)], delegate=False)

    def test_cat_mixed_dtypes_promote(self):
        def fn(f, i64, i32, i8, u8, b):
            return (torch.cat([f, i64, b], 1), torch.cat([i32, b], 0), torch.cat([i8, i64], -1),
                    torch.cat([u8, i32, b]), torch.cat([b, u8]), torch.cat([i8, b, i8], 1))
        self.check(fn, [sample((2, 3), dt, k) for k, dt in enumerate(DTYPES)])

    def test_cat_u8_i8_refused(self):
        # PyTorch promotes u8 with i8 to int16, which xnnd has not
        with self.assertRaisesRegex(ExportError, "unsupported dtype int16: tensor at node 'cat'"):
            run_xnnd(Fn(lambda a, b: torch.cat([a, b])),
                     [sample((2, 3), torch.uint8), sample((2, 3), torch.int8)], delegate=False)

    def test_creation_folds(self):
        """arange, full, full_like, zeros_like, scalar_tensor fold to constants at export;
        empty (+ fill_ / copy_) folds or becomes a copy of the source."""
        def fn(x, i):
            return (x + torch.arange(1, 2 * x.shape[-1] + 1, 2).float(),
                    x + torch.full((x.shape[-1],), 2.5), x + torch.full_like(x, 3.0),
                    x + torch.zeros_like(x), x + torch.scalar_tensor(1.5),
                    x + torch.empty(x.shape).fill_(1.0), torch.empty_like(x).copy_(x),
                    torch.empty(2, 3, 4, dtype=torch.int64).copy_(i[0]),
                    torch.empty_like(i).fill_(7))
        self.check(fn, [torch.randn(2, 4), sample((1, 3, 4), torch.int64)])

    def test_copy_between_dtypes(self):
        # aten.copy casts to the destination's dtype (float -> int truncates toward zero)
        m = Fn(lambda x: torch.empty(2, 4, dtype=torch.int64).copy_(x * 2))
        x = torch.randn(2, 4) * 3
        got, _ = run_xnnd(m, [x], delegate=False)
        np.testing.assert_array_equal(got[0], eager(m, [x])[0])

    def test_non_core_decompositions(self):
        def fn(x, y, s):
            return (torch.stack([x, y], 1), torch.stack([x, y], -1),
                    F.pixel_shuffle(s, 2), F.pixel_unshuffle(s, 2),
                    x.narrow(2, 1, 3), x.tile((2, 1, 1)), x.tile((2,)),
                    x.movedim(0, -1), torch.movedim(x, (0, 1), (2, 0)),
                    *x.chunk(2, 2), x.unflatten(2, (5, 1)),
                    x.repeat_interleave(2, dim=1), x.repeat_interleave(3))
        for dtype in (torch.float32, torch.int32, torch.bool):
            with self.subTest(dtype=dtype):
                self.check(fn, [sample((2, 3, 5), dtype, 1), sample((2, 3, 5), dtype, 2),
                                sample((1, 8, 4, 6), dtype, 3)],
                           delegates=(False,) if dtype != torch.float32 else (False, True))


if __name__ == "__main__":
    unittest.main()
