"""Capture with torch.export (python/xnnd/trace.py) and the exporter's guards: strict capture
falls back to non-strict with torch's reason kept; a model neither can capture is a clean
ExportError carrying both reasons; the decomposition table keeps xnnd's native ops whole; a
wrong torch is named. Needs no C build."""

import importlib.metadata
import os
import sys
import unittest
from unittest import mock

import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

from xnnd import aten_map, cli, trace  # noqa: E402
from xnnd.errors import ExportError  # noqa: E402


class DynamoSkips(nn.Module):
    """inspect.currentframe is a function TorchDynamo refuses to trace; Python runs it fine."""

    def forward(self, x):
        import inspect
        inspect.currentframe()
        return torch.relu(x) * 2


class DataDependent(nn.Module):
    def forward(self, x):
        if x.sum() > 0:
            return x + 1
        return x - 1


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)

    def forward(self, x):
        return self.layer(x)


class TestCapture(unittest.TestCase):
    def test_strict_failure_falls_back_with_reason(self):
        notes = []
        ep = trace.capture(DynamoSkips().eval(), (torch.randn(2, 3),), notes)
        self.assertIsInstance(ep, torch.export.ExportedProgram)
        self.assertEqual(len(notes), 1)
        self.assertIn("strict capture failed: Unsupported", notes[0])
        self.assertIn("used non-strict capture instead", notes[0])
        x = torch.randn(2, 3)
        torch.testing.assert_close(ep.module()(x), DynamoSkips()(x))

    def test_uncapturable_model_names_both_reasons(self):
        with self.assertRaises(ExportError) as cm:
            trace.capture(DataDependent(), (torch.randn(3),))
        text = str(cm.exception)
        self.assertEqual(cm.exception.exit_code, 1)
        self.assertIn("torch.export could not capture the model", text)
        self.assertIn("strict capture failed: Unsupported: Data-dependent branching", text)
        self.assertIn("non-strict capture failed: GuardOnDataDependentSymNode", text)

    def test_clean_capture_has_no_notes_and_keeps_native_ops(self):
        notes = []
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Hardswish(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(4 * 3 * 3, 5)).eval()
        gm = trace.trace(model, (torch.randn(1, 3, 8, 8),), notes)
        self.assertEqual(notes, [])
        targets = {str(n.target) for n in gm.graph.nodes if n.op == "call_function"}
        # kept whole by decomposition_table (core ATen would decompose each)
        for op in ("aten.hardswish.default", "aten.max_pool2d.default", "aten.linear.default"):
            self.assertIn(op, targets)
        self.assertEqual(aten_map.unsupported_ops(gm), [])
        self.assertTrue(all("tensor_meta" in n.meta for n in gm.graph.nodes
                            if n.op == "call_function" and n.users))

    def test_parameters_come_from_the_graph_signature(self):
        model = nn.Sequential(nn.Linear(3, 2), nn.LayerNorm(2)).eval()
        graph = aten_map.convert(trace.trace(model, (torch.randn(4, 3),)), "m")
        names = sorted(v.name for v in graph.consts)
        for expected in ("_0_weight", "_0_bias", "_1_weight", "_1_bias"):
            self.assertIn(expected, names)

    def test_attention_takes_the_decomposed_path(self):
        model = Attention().eval()
        gm = trace.trace(model, (torch.randn(1, 5, 16),))
        self.assertEqual(aten_map.unsupported_ops(gm), [])
        targets = {str(n.target) for n in gm.graph.nodes if n.op == "call_function"}
        self.assertFalse(any("_transformer_encoder_layer_fwd" in t or "_native_multi_head" in t
                             for t in targets), targets)

    def test_wrong_torch_is_named(self):
        with mock.patch.object(importlib.metadata, "version", return_value="1.13.1"):
            with self.assertRaises(ExportError) as cm:
                cli.check_torch()
        self.assertEqual(cm.exception.exit_code, 1)
        self.assertIn("has torch 1.13.1", str(cm.exception))
        self.assertIn("scripts/install-deps", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
