"""Issue 14 point 4: an op XNNPACK cannot run (no lowering in the table, a dtype or an
attribute its check refuses) never makes a delegated export fail: it runs on the portable
kernels, the program still matches eager, and the delegation report says why, per node.
Skipped when the xnnd binary is not built."""

import os
import sys
import unittest

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import oprun  # noqa: E402


class Mixed(nn.Module):
    """Delegable convolutions around ops with no XNNPACK lowering (tanh, cat, layer norm) and
    an i64 op XNNPACK's f32-only lowering refuses."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv1 = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 4, 1)
        self.norm = nn.LayerNorm(6)

    def forward(self, x, idx):
        y = self.conv1(x)
        z = torch.cat([torch.tanh(y), y], 1)
        return self.norm(self.conv2(z)), torch.cat([idx, idx]).reshape(2, -1)


@unittest.skipUnless(os.access(oprun.xnnd_bin(), os.X_OK), "xnnd binary not built")
class TestPortableFallback(unittest.TestCase):
    def test_ops_without_lowering_run_portable_with_reason(self):
        inputs = (torch.randn(1, 3, 6, 6), torch.arange(6))
        got, report = oprun.run_xnnd(Mixed(), inputs, delegate=True)
        want = oprun.eager(Mixed(), inputs)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-4, atol=1e-5)
        np.testing.assert_array_equal(got[1], want[1])
        by_op = {}
        for n in report.nodes:
            by_op.setdefault(n.op, []).append(n)
        self.assertTrue(all(n.delegated for n in by_op["aten.convolution"]))
        for op in ("aten.tanh", "aten.cat", "aten.native_layer_norm"):
            for n in by_op[op]:
                self.assertFalse(n.delegated, op)
                self.assertIn("has no XNNPACK lowering", n.reason, op)
        self.assertTrue(report.partitions)
        summary = report.summary()
        self.assertIn("this XNNPACK has no tanh node", summary)

    def test_dtype_xnnpack_refuses_runs_portable(self):
        class IntView(nn.Module):
            def forward(self, x, idx):
                return torch.relu(x), idx.reshape(-1)

        inputs = (torch.randn(4), torch.arange(6).reshape(2, 3))
        got, report = oprun.run_xnnd(IntView(), inputs, delegate=True)
        np.testing.assert_array_equal(got[1], np.arange(6))
        view = [n for n in report.nodes if n.op == "aten.view"][0]
        self.assertFalse(view.delegated)
        self.assertTrue(view.reason)


if __name__ == "__main__":
    unittest.main()
