"""int8 exporter unit tests (python/xnnd/quantize.py): the uint8 -> int8 map, quantized types in
the text IR, the mapping of a PT2E-quantized model, bias snapping, and the XNNPACK quantizer's
settings. Needs no C build."""

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


def _qd(name):
    op, overload = name.split(".")
    return getattr(getattr(torch.ops.quantized_decomposed, op), overload)


class TestQuantize(unittest.TestCase):
    def test_uint8_maps_to_int8_exactly(self):
        """A uint8 activation quantize maps to int8 with zero point and data shifted by 128:
        the same real values."""
        class U8(nn.Module):
            def forward(self, x):
                q = _qd("quantize_per_tensor.default")(x, 0.05, 77, 0, 255, torch.uint8)
                return _qd("dequantize_per_tensor.default")(q, 0.05, 77, 0, 255, torch.uint8)
        x = torch.linspace(-3, 5, 97)
        graph = quantize.convert(trace.trace(U8(), (x,)), "u8")
        q = [n for n in graph.nodes if n.op == "xnnd.quantize"][0]
        self.assertEqual(q.outputs[0].quant[2], 77 - 128)
        self.assertEqual(q.attr("zero_point"), 77 - 128)
        with torch.no_grad():
            expected = U8()(x).numpy()
        ref = _qd("quantize_per_tensor.default")(x, 0.05, 77, 0, 255, torch.uint8).numpy()
        shifted = ref.astype(np.int16) - 128
        np.testing.assert_array_equal((shifted - (77 - 128)).astype(np.float32) * np.float32(0.05),
                                      expected)

    def test_narrow_activation_range_is_refused(self):
        class Narrow(nn.Module):
            def forward(self, x):
                q = _qd("quantize_per_tensor.default")(x, 0.05, 0, -127, 127, torch.int8)
                return _qd("dequantize_per_tensor.default")(q, 0.05, 0, -127, 127, torch.int8)
        with self.assertRaises(quantize.ExportError) as cm:
            quantize.convert(trace.trace(Narrow(), (torch.randn(4),)), "n")
        self.assertIn("activation range [-127, 127]", str(cm.exception))
        self.assertIn("quantize_per_tensor", str(cm.exception))

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
        self.assertTrue(quantize.is_quantized(gm))
        graph = quantize.convert(gm, "small")
        ops = [n.op for n in graph.nodes]
        self.assertIn("xnnd.quantize", ops)
        self.assertIn("xnnd.dequantize", ops)
        self.assertTrue(all(not o.startswith("quantized_decomposed") for o in ops))
        weights = [v for v in graph.consts if v.dtype == "i8"]
        self.assertEqual(len(weights), 2)
        self.assertTrue(all(v.quant[0] == "channel" and v.quant[1] == 0 for v in weights))
        # the int8 weights are PT2E's own, bit for bit
        frozen = sorted((t for _, t in ref.named_buffers() if t.dtype == torch.int8),
                        key=lambda t: t.numel())
        self.assertEqual(sorted(v.data.size for v in weights), [t.numel() for t in frozen])
        for v, t in zip(sorted(weights, key=lambda v: v.data.size), frozen):
            np.testing.assert_array_equal(v.data, t.numpy())
        text = ir_text.print_graph(graph)
        self.assertIn("= xnnd.quantize(%x) {scale=", text)
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
        convs = [n for n in ref.graph.nodes if n.op == "call_function"
                 and str(n.target) in ("aten.conv2d.default", "aten.linear.default")]
        self.assertEqual(len(convs), 2)
        for node in convs:
            sx = quantize._dq_scale(ref, node.args[0])
            sw = quantize._dq_scale(ref, node.args[1])
            bias = quantize._get_attr_tensor(ref, node.args[2])
            s = (np.float32(sx[0]) * sw).astype(np.float64)
            steps = bias.detach().numpy().astype(np.float64) / s
            np.testing.assert_allclose(steps, np.rint(steps), atol=1e-3)
        self.assertEqual(quantize.snap_reference_biases(ref), 2)   # idempotent: same grid

    def test_quantizer_settings(self):
        per_channel = quantize.xnnpack_quantizer("per-channel").global_config
        self.assertIs(per_channel.weight.qscheme, torch.per_channel_symmetric)
        self.assertEqual((per_channel.weight.quant_min, per_channel.weight.quant_max), (-127, 127))
        self.assertIs(per_channel.input_activation.qscheme, torch.per_tensor_affine)
        self.assertEqual(per_channel.input_activation.dtype, torch.int8)
        per_tensor = quantize.xnnpack_quantizer("per-tensor").global_config
        self.assertIs(per_tensor.weight.qscheme, torch.per_tensor_symmetric)
        with self.assertRaises(quantize.ExportError):
            quantize.xnnpack_quantizer("per-row")


if __name__ == "__main__":
    unittest.main()
