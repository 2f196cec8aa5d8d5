"""Per-op checks of the gathers and scatters (index family): index_select, gather, index.Tensor,
index_put, embedding, _embedding_bag, scatter (src, value), scatter_add, scatter_reduce,
select_scatter, slice_scatter, masked_scatter. Each module is exported, lowered and run by the
C runtime (tests/python/oprun.py) and compared with eager: exact for integer outputs, and for
float outputs that only move elements; a small tolerance where the kernel sums. Also: an index
out of range at run time fails with a message naming the op, the operand and the value, and
nonzero / item() / x[mask] are refused at export: their shapes depend on the data."""

from __future__ import annotations

import subprocess
import unittest

import numpy as np
import torch
import torch.nn as nn

from oprun import Fn, eager, run_xnnd
from xnnd import aten_map
from xnnd.errors import ExportError


def check(test, module, inputs, *, delegate=False, rtol=0.0, atol=0.0):
    got, _ = run_xnnd(module, inputs, delegate=delegate)
    want = eager(module, inputs)
    test.assertEqual(len(got), len(want))
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        test.assertEqual(g.shape, w.shape, "output %d" % k)
        test.assertEqual(g.dtype, w.dtype, "output %d" % k)
        if np.issubdtype(w.dtype, np.floating) and (rtol or atol):
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg="output %d" % k)
        else:
            np.testing.assert_array_equal(g, w, err_msg="output %d" % k)


def long(*values):
    return torch.tensor(values, dtype=torch.int64)


class TestGathers(unittest.TestCase):
    def test_index_select_gather_embedding(self):
        torch.manual_seed(0)
        x = torch.randn(3, 4, 5)
        xi = torch.randint(-50, 50, (3, 4, 5), dtype=torch.int32)
        sel = long(3, 0, 3)
        sel32 = torch.tensor([2, 2, 1], dtype=torch.int32)
        gidx = torch.randint(0, 5, (3, 4, 4))
        gidx0 = torch.randint(0, 3, (2, 4, 5))
        const = long(2, 0)

        def f(x, xi, sel, sel32, gidx, gidx0):
            return (torch.index_select(x, 1, sel),                  # input index, repeats
                    torch.index_select(x, -1, const),               # constant index, dim -1
                    torch.index_select(xi, 0, sel32),               # int data, i32 index
                    torch.index_select(x, 2, sel[1]),               # 0-D index keeps the dim
                    torch.gather(x, 2, gidx[:, :2, :3]),            # index smaller than self
                    torch.gather(xi, 0, gidx0),                     # int data, dim 0
                    torch.gather(x, -1, gidx))
        check(self, Fn(f), (x, xi, sel, sel32, gidx, gidx0), delegate=True)

    def test_embedding(self):
        torch.manual_seed(1)
        emb = nn.Embedding(10, 6, padding_idx=0).eval()
        idx = torch.randint(0, 10, (2, 7))
        check(self, emb, (idx,))
        check(self, emb, (idx[0].to(torch.int32),))   # i32 indices (an input, not a conversion)

    def test_embedding_bag(self):
        torch.manual_seed(2)
        idx = torch.randint(0, 12, (9,))
        offsets = long(0, 3, 3, 7)   # an empty bag
        for mode in ("sum", "mean", "max"):
            bag = nn.EmbeddingBag(12, 5, mode=mode).eval()
            check(self, bag, (idx, offsets), rtol=1e-6, atol=1e-6)
            check(self, bag, (idx.view(3, 3),), rtol=1e-6, atol=1e-6)   # 2-D input: fixed bags
        last = nn.EmbeddingBag(12, 5, mode="mean", include_last_offset=True).eval()
        check(self, last, (idx, long(0, 2, 6, 9)), rtol=1e-6, atol=1e-6)
        pad = nn.EmbeddingBag(12, 5, mode="mean", padding_idx=4).eval()
        check(self, pad, (long(4, 1, 4, 2, 4, 4), long(0, 3, 4)), rtol=1e-6, atol=1e-6)
        weighted = nn.EmbeddingBag(12, 5, mode="sum").eval()
        check(self, Fn(lambda i, o, w: weighted(i, o, per_sample_weights=w)),
              (idx, offsets, torch.rand(9)), rtol=1e-6, atol=1e-6)


class TestIndex(unittest.TestCase):
    def test_index_tensor(self):
        torch.manual_seed(3)
        x = torch.randn(3, 4, 5, 6)
        xb = torch.rand(4, 5) > 0.5
        xl = torch.randint(-99, 99, (3, 4, 5), dtype=torch.int64)
        i = long(0, -1, 2)                 # negative wraps
        j = long(1, 3)
        j32 = torch.tensor([-2], dtype=torch.int32)
        col = long(0, 2).view(2, 1)        # broadcasts with j to [2, 2]

        def f(x, xb, xl, i, j, j32, col):
            return (x[i],                          # one index
                    x[col, j],                     # broadcasting, adjacent at dim 0
                    x[:, col, j],                  # None first: B stays in place
                    x[:, i, :, j32],               # non-adjacent: B leads; i32 index
                    x[col, :, :, j],               # non-adjacent with broadcasting
                    x[..., i],                     # trailing dim
                    x[1:, j][:, :, -1],            # after a slice
                    xb[i, :][:, j],                # bool data
                    xl[i[1:], :, j])               # int data, non-adjacent
        check(self, Fn(f), (x, xb, xl, i, j, j32, col), delegate=True)

    def test_index_put(self):
        torch.manual_seed(4)
        x = torch.randn(4, 5, 3)
        rows = long(0, 2, 2, -1)           # duplicate 2 and a negative
        cols = long(1, 3, 3, 4)
        v = torch.randn(4, 3)
        xi = torch.randint(-9, 9, (4, 5, 3), dtype=torch.int32)
        put = torch.ops.aten.index_put.default   # takes None entries

        def f(x, xi, rows, cols, v):
            uniq = rows[:2]
            return (put(x, [rows, cols], v, True),                  # duplicates add
                    put(x, [uniq, cols[:2]], v[:2]),                # overwrite
                    put(x, [uniq], torch.tensor(7.0)),              # 0-D values
                    put(x, [None, cols[1:2], long(0, 2)], v[0, :2], True),   # None first
                    put(x, [rows.view(2, 2), None, long(1)], v[0, :1]),      # non-adjacent
                    put(xi, [rows], torch.ones(3, dtype=torch.int32), True))  # int data
        check(self, Fn(f), (x, xi, rows, cols, v), rtol=1e-6, atol=1e-6)


    def test_index_put_bool_mask(self):
        # x[mask] = v keeps x's shape: supported when v does not depend on the mask's count
        torch.manual_seed(8)
        x = torch.randn(3, 4, 5)
        m1 = torch.tensor([True, False, True])
        m2 = torch.rand(4, 5) > 0.5
        m3 = torch.rand(3, 4, 5) > 0.5
        xi = torch.randint(-9, 9, (3, 4, 5))
        put = torch.ops.aten.index_put.default

        def f(x, xi, m1, m2, m3):
            y = x.clone()
            y[m3] = 0.0                                                  # the usual spelling
            return (y,
                    put(x, [None, m2], torch.tensor(2.0)),               # mask after a None
                    put(x, [m1], x[0, 0], True),                         # values over the rest
                    put(x, [None, m2], x[:, :1, 0], True),               # [3, 1] values
                    put(x, [m1, None], x[1:2] * 2),                      # leading size-1 values
                    put(xi, [m3], xi[0, 0, :1], True))                   # int data
        check(self, Fn(f), (x, xi, m1, m2, m3), rtol=1e-6, atol=1e-6)


class TestScatter(unittest.TestCase):
    def test_scatter_and_add(self):
        torch.manual_seed(5)
        x = torch.randn(3, 5)
        xl = torch.randint(-9, 9, (3, 5))
        idx = long(0, 4, 4, 1, 2, 2).view(2, 3)
        src = torch.randn(2, 4)
        srcl = torch.randint(-9, 9, (2, 4))
        uniq = long(0, 4, 1, 3, 2, 0).view(2, 3)
        rows = long(0, 2, 1, 1, 0, 2).view(2, 3)

        def f(x, xl, idx, src, srcl, uniq, rows):
            return (torch.scatter(x, 1, uniq, src),           # src larger than index
                    torch.scatter(x, 0, rows, 2.5),           # scatter.value
                    torch.scatter_add(x, 1, idx, src),        # duplicates add
                    torch.scatter_add(xl, 1, idx, srcl))      # int data
        check(self, Fn(f), (x, xl, idx, src, srcl, uniq, rows), rtol=1e-6, atol=1e-6)

    def test_scatter_reduce(self):
        torch.manual_seed(6)
        x = torch.randn(3, 4)
        xi = torch.randint(-9, 9, (3, 4))
        idx = long(0, 0, 2, 3, 3, 3, 1, 0).view(2, 4)
        src = torch.randn(2, 4)
        srci = torch.randint(-9, 9, (2, 4))

        def f(x, xi, idx, src, srci):
            outs = []
            for reduce in ("sum", "prod", "mean", "amax", "amin"):
                for include_self in (True, False):
                    outs.append(x.scatter_reduce(1, idx, src, reduce, include_self=include_self))
                    outs.append(xi.scatter_reduce(1, idx, srci, reduce, include_self=include_self))
            return tuple(outs)
        check(self, Fn(f), (x, xi, idx, src, srci), rtol=1e-6, atol=1e-6)

    def test_select_slice_masked_scatter(self):
        torch.manual_seed(7)
        x = torch.randn(3, 4, 5)
        xi = torch.randint(-9, 9, (3, 4, 5), dtype=torch.int32)
        mask = torch.rand(4, 5) > 0.4
        source = torch.randn(70)
        sourcei = torch.randint(-9, 9, (8, 9), dtype=torch.int32)

        def f(x, xi, mask, source, sourcei):
            return (torch.select_scatter(x, torch.ones(3, 5), 1, -1),
                    torch.slice_scatter(x, torch.zeros(3, 2, 5), 1, 1, 4, 2),
                    torch.slice_scatter(x, torch.zeros(1, 4, 5), 0, -1),
                    torch.select_scatter(xi, xi[0], 0, 2),           # int data
                    x.masked_scatter(mask, source),                  # mask broadcasts
                    x[0].masked_scatter(mask, source),
                    xi.masked_scatter(mask[0], sourcei))             # int data, 2-D source
        check(self, Fn(f), (x, xi, mask, source, sourcei))

    @unittest.skipUnless("aten.copy.default" in aten_map.RULES, "aten.copy is the math family's")
    def test_slice_assignment(self):
        # in-place assignment: select/slice + copy + select_scatter/slice_scatter
        x = torch.randn(3, 4, 5)
        t = torch.randn(4, 5)

        def f(x, t):
            y = x.clone()
            y[1] = t
            y[:, 1:3] = 0.5
            y[..., ::2] = t[0, :3]
            return y
        check(self, Fn(f), (x, t))


class TestErrors(unittest.TestCase):
    def run_error(self, module, inputs):
        with self.assertRaises(subprocess.CalledProcessError) as cm:
            run_xnnd(module, inputs, delegate=False)
        return cm.exception.stderr

    def test_out_of_range_at_run_time(self):
        x = torch.randn(3, 4)
        sel = Fn(lambda x, i: torch.index_select(x, 1, i))
        err = self.run_error(sel, (x, long(0, 7)))
        self.assertIn("aten.index_select: index[1] = 7 is out of range for dim 1 of size 4", err)
        self.assertIn("out of range", err)
        err = self.run_error(sel, (x, long(-1)))   # index_select takes no negative index
        self.assertIn("aten.index_select: index[0] = -1 is out of range", err)
        adv = Fn(lambda x, i, j: x[i, j])
        err = self.run_error(adv, (x, long(0, -4), long(1, 2)))
        self.assertIn("aten.index: indices[0][1] = -4 is out of range for dim 0 of size 3 "
                      "(valid: [-3, 3))", err)
        gat = Fn(lambda x, i: torch.gather(x, 0, i))
        err = self.run_error(gat, (x, long(1, 3, 0, 2).view(1, 4)))
        self.assertIn("aten.gather: index[1] = 3 is out of range for dim 0 of size 3", err)
        sca = Fn(lambda x, i: torch.scatter_add(x, 1, i, torch.ones(3, 1)))
        err = self.run_error(sca, (x, long(0, 2, 9).view(3, 1)))
        self.assertIn("aten.scatter_reduce: index[2] = 9 is out of range", err)
        emb = nn.Embedding(5, 2).eval()
        err = self.run_error(emb, (long(1, 5),))
        self.assertIn("aten.index_select: index[1] = 5 is out of range for dim 0 of size 5", err)
        bag = nn.EmbeddingBag(5, 2).eval()
        err = self.run_error(bag, (long(1, 2), long(0, 3)))
        self.assertIn("aten._embedding_bag: offsets[1] = 3", err)

    def test_data_dependent_shapes_refused(self):
        cases = {
            "nonzero": Fn(lambda x: torch.nonzero(x)),
            "item": Fn(lambda x: x * x[0, 0].item()),
            "mask index": Fn(lambda x, m: x[m]),
        }
        for name, module in cases.items():
            inputs = (torch.randn(3, 4),)
            if name == "mask index":
                inputs += (torch.rand(3, 4) > 0.5,)
            with self.assertRaises(ExportError, msg=name) as cm:
                run_xnnd(module, inputs, delegate=False)
            self.assertIn("data-dependent shapes", str(cm.exception), name)

    def test_wrong_export_shape_refused(self):
        # torch.export's meta function gives x[a, b, c] (c 0-D) the shape [5]; eager: [1, 2, 5]
        x = torch.randn(3, 4, 2, 5)
        a, b, c = long(0, 1).view(1, 2), long(2).view(1, 1), torch.tensor(1)
        with self.assertRaises(ExportError) as cm:
            run_xnnd(Fn(lambda x, a, b, c: torch.ops.aten.index.Tensor(x, [a, b, c])),
                     (x, a, b, c), delegate=False)
        self.assertIn("meta-function bug", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
