"""int8 exporter unit tests (python/xnnd/quantize.py): the quint8 -> qint8 map, quantized types
in the text IR, the mapping of a traced reference quantized model, bias snapping, and the
QConfigMapping. Needs no C build."""

import os
import sys
import unittest

import numpy as np
import torch
import torch.nn as nn

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))

from xnnd import ir_text, quantize, trace  # noqa: E402


class Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def reference(weights="per-channel"):
    torch.manual_seed(0)
    module, inputs = Small().eval(), (torch.randn(1, 3, 8, 8),)
    return quantize.quantize_module(module, inputs, 2, 0, weights), inputs


class TestQuantize(unittest.TestCase):
    def test_quint8_maps_to_qint8_exactly(self):
        x = torch.linspace(-3, 5, 97)
        q = torch.quantize_per_tensor(x, 0.05, 77, torch.quint8)
        data, quant = quantize._to_int8(q)
        self.assertEqual(quant[0], "tensor")
        self.assertEqual(quant[2], 77 - 128)
        real = (data.astype(np.float32) - quant[2]) * quant[1]
        np.testing.assert_array_equal(real, q.dequantize().numpy())

    def test_per_channel_weights(self):
        w = torch.randn(4, 3, 2, 2)
        q = torch.quantize_per_channel(w, torch.tensor([0.1, 0.2, 0.05, 0.3], dtype=torch.float64),
                                       torch.zeros(4, dtype=torch.int64), 0, torch.qint8)
        data, quant = quantize._to_int8(q)
        self.assertEqual(quant[0], "channel")
        self.assertEqual(quant[1], 0)
        np.testing.assert_array_equal(data, q.int_repr().numpy())

    def test_type_text(self):
        v = ir_text.Value("w", "i8", (2, 1), "const", np.zeros((2, 1), np.int8))
        v.quant = ("channel", 0, np.array([0.1, 0.025], np.float32), np.array([0, 0], np.int32))
        self.assertEqual(ir_text.type_text(v), "i8[2,1] qc(0, [0.1,0.025], [0,0])")
        v.quant = ("tensor", np.float32(0.0235), -3)
        self.assertEqual(ir_text.type_text(v), "i8[2,1] q(0.0235, -3)")
        self.assertEqual(ir_text.format_f32(np.float32(1) / 3), "0.33333334")

    def test_mapping(self):
        ref, inputs = reference()
        gm = trace.trace(ref, inputs)
        graph = quantize.convert(gm, "small")
        ops = [n.op for n in graph.nodes]
        self.assertIn("xnnd.quantize", ops)
        self.assertIn("xnnd.dequantize", ops)
        self.assertTrue(all(not o.startswith("aten.quantize") for o in ops))
        weights = [v for v in graph.consts if v.dtype == "i8"]
        self.assertEqual(len(weights), 2)
        self.assertTrue(all(v.quant[0] == "channel" for v in weights))
        text = ir_text.print_graph(graph)
        self.assertIn("= xnnd.quantize(%arg0_1) {scale=", text)
        self.assertIn(", axis=-1, dtype=2}", text)
        # every static quantize output carries its parameters, as the C verifier requires
        for n in graph.nodes:
            if n.op == "xnnd.quantize" and n.attr("scale") is not None:
                self.assertEqual(float(np.float32(n.attr("scale"))), float(n.outputs[0].quant[1]))
                self.assertEqual(n.attr("zero_point"), n.outputs[0].quant[2])

    def test_per_tensor_weights(self):
        ref, inputs = reference("per-tensor")
        graph = quantize.convert(trace.trace(ref, inputs), "small")
        weights = [v for v in graph.consts if v.dtype == "i8"]
        self.assertTrue(weights and all(v.quant[0] == "tensor" and v.quant[2] == 0 for v in weights))

    def test_biases_snapped_to_int32_grid(self):
        ref, inputs = reference()
        conv = [m for m in ref.modules() if hasattr(m, "weight_qscheme") and isinstance(m, nn.Conv2d)][0]
        sw = conv.weight_scale.numpy().astype(np.float32)
        sx = None
        for node in ref.graph.nodes:
            if node.op == "call_module" and ref.get_submodule(node.target) is not None:
                sx = quantize._input_scale(ref, node)
                if sx is not None:
                    break
        self.assertIsNotNone(sx)
        s = (np.float32(sx) * sw).astype(np.float64)
        steps = conv.bias.detach().numpy().astype(np.float64) / s
        np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)
        self.assertEqual(quantize.snap_reference_biases(ref), 2)   # idempotent: same grid

    def test_mapping_settings(self):
        per_channel = quantize.qconfig_mapping("per-channel")
        self.assertIs(per_channel.global_qconfig.weight.p.keywords["qscheme"], torch.per_channel_symmetric)
        per_tensor = quantize.qconfig_mapping("per-tensor")
        self.assertIs(per_tensor.global_qconfig.weight.p.keywords["qscheme"], torch.per_tensor_symmetric)
        with self.assertRaises(Exception):
            quantize.qconfig_mapping("per-row")


if __name__ == "__main__":
    unittest.main()
