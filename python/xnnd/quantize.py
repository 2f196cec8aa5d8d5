"""int8 export with PT2E: quantize a captured model, then map its quantize/dequantize ops.

quantize_module() captures the float model with torch.export, runs torchao's prepare_pt2e with
the XNNPACK quantizer (xnnpack_quantizer(): symmetric int8 weights per output channel, int8
per-tensor affine activations from a histogram observer -- ExecuTorch's XNNPACK symmetric
configuration, which torchao ships), calibrates on N random batches drawn from a fixed seed and
returns convert_pt2e's model: float ops between quantized_decomposed quantize/dequantize calls,
weights stored as int8 constants. That model is PyTorch's reference for the int8 program
(`--save-io` writes its outputs). A program the user quantized with the same flow themselves
takes the same mapping (api.lower).

convert() maps the reference's core ATen graph like aten_map.convert, plus:
  quantized_decomposed.quantize_per_tensor / quantize_per_channel       -> xnnd.quantize
  quantized_decomposed.dequantize_per_tensor / dequantize_per_channel   -> xnnd.dequantize
An int8 constant read by a dequantize (a weight) becomes an int8 IR constant with its
parameters in its type (q(...) / qc(...)); the dequantize stays, so passes see dq -> op.
uint8 tensors map exactly to int8 with the zero point and every element shifted down by 128.
An activation quantize whose [quant_min, quant_max] is narrower than its dtype's range has no
XNNPACK equivalent and is refused with the node and module named.
"""

from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import torch

from . import aten_map, trace
from .errors import ExportError
from .ir_text import Attr, Graph, Node, Value, format_f32

if TYPE_CHECKING:   # torchao is imported on first use
    from torchao.testing.pt2e._xnnpack_quantizer import XNNPACKQuantizer

_QD = "quantized_decomposed."
QUANTIZE_TARGETS = {_QD + t for t in (
    "quantize_per_tensor.default", "quantize_per_tensor.tensor", "quantize_per_tensor.tensor2",
    "quantize_per_channel.default",
    "dequantize_per_tensor.default", "dequantize_per_tensor.tensor",
    "dequantize_per_tensor.tensor2", "dequantize_per_channel.default")}
WEIGHT_SCHEMES = ("per-channel", "per-tensor")
IR_I8 = 2   # xnnd_dtype wire value (include/xnnd/xnnd.h), the `dtype` attribute of the ops
_RANGES = {torch.int8: (-128, 127), torch.uint8: (0, 255)}


def _import_pt2e():
    """torchao's PT2E entry points and XNNPACK quantizer; quiet about its optional GPU kernels."""
    logging.getLogger("torchao").setLevel(logging.ERROR)
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)
    try:
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
        from torchao.testing.pt2e._xnnpack_quantizer import (
            XNNPACKQuantizer,
            get_symmetric_quantization_config,
        )
    except ImportError as e:
        raise ExportError("PT2E quantization needs torchao (requirements.txt pins it; run "
                          "scripts/install-deps): %s" % e, exit_code=1) from e
    return prepare_pt2e, convert_pt2e, XNNPACKQuantizer, get_symmetric_quantization_config


def xnnpack_quantizer(weights: str = "per-channel") -> XNNPACKQuantizer:
    """The XNNPACK quantizer with the symmetric configuration: int8 weights symmetric per output
    channel (per tensor with weights="per-tensor"), int8 activations per tensor."""
    if weights not in WEIGHT_SCHEMES:
        raise ExportError("weight quantization must be one of %s" % ", ".join(WEIGHT_SCHEMES))
    _, _, quantizer_cls, config = _import_pt2e()
    import warnings
    with warnings.catch_warnings():   # "deprecated": in favour of ExecuTorch's copy of it
        warnings.simplefilter("ignore", UserWarning)
        return quantizer_cls().set_global(config(is_per_channel=weights == "per-channel"))


def calibration_batches(inputs: Sequence[torch.Tensor], n: int,
                        seed: int) -> list[list[torch.Tensor]]:
    """n batches shaped like inputs, torch.randn from generator seed (float inputs only)."""
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(t.shape, generator=gen, dtype=t.dtype) if t.is_floating_point() else t
             for t in inputs] for _ in range(n)]


def quantize_module(module: torch.nn.Module, inputs: Sequence[torch.Tensor], batches: int = 4,
                    seed: int = 0, weights: str = "per-channel", snap_biases: bool = True,
                    notes: list[str] | None = None,
                    calibration_data: Sequence[Sequence[torch.Tensor]] | None = None,
                    capture: str = "auto", dynamic_shapes: Any = None) -> torch.fx.GraphModule:
    """torch.export capture -> prepare_pt2e -> calibration -> convert_pt2e (->
    snap_reference_biases). Calibration runs on calibration_data (input tuples shaped like
    `inputs`: real samples, what a trained model wants) or else on `batches` random batches
    drawn from seed seed + 2. dynamic_shapes (torch.export's, positional): captured dynamic, so
    the reference model runs at every size in the ranges. The caller's module is not
    modified."""
    if calibration_data is None and batches < 1:
        raise ExportError("--calibration-batches must be at least 1")
    prepare_pt2e, convert_pt2e, _, _ = _import_pt2e()
    model = copy.deepcopy(module).eval()
    captured = trace.capture(model, tuple(inputs), notes, capture, dynamic_shapes).module()
    try:
        prepared = prepare_pt2e(captured, xnnpack_quantizer(weights))
        with torch.no_grad():
            data = (calibration_data if calibration_data is not None
                    else calibration_batches(inputs, batches, seed + 2))
            for batch in data:
                prepared(*batch)
        reference = convert_pt2e(prepared)
    except ExportError:
        raise
    except Exception as e:   # the quantizer or an observer failed on this model
        raise ExportError("PT2E quantization failed: %s: %s" % (type(e).__name__, e),
                          exit_code=1) from e
    if snap_biases:
        snap_reference_biases(reference)
    return reference


# ---- the reference's biases on the int32 grid ----

_WEIGHTED = {"aten.conv1d.default", "aten.conv2d.default", "aten.linear.default",
             "aten.convolution.default"}


def _get_attr_tensor(gm: torch.fx.GraphModule, arg) -> torch.Tensor | None:
    if isinstance(arg, torch.fx.Node) and arg.op == "get_attr":
        t = aten_map._fetch_attr(gm, arg.target)
        return t if isinstance(t, torch.Tensor) else None
    return None


def _dq_scale(gm: torch.fx.GraphModule, arg) -> np.ndarray | None:
    """Scale(s) of the dequantize that produces `arg` (float32, flattened), else None."""
    if not isinstance(arg, torch.fx.Node) or arg.op != "call_function":
        return None
    target = str(arg.target)
    if not target.startswith(_QD + "dequantize_per_"):
        return None
    scale = arg.args[1]
    t = _get_attr_tensor(gm, scale)
    if t is not None:
        return t.detach().float().numpy().reshape(-1)
    if isinstance(scale, float):
        return np.array([scale], dtype=np.float32)
    return None


def snap_reference_biases(gm: torch.fx.GraphModule) -> int:
    """Each conv/linear bias b of the reference becomes round(b / s) * s with s = input scale *
    weight scale (float32, per output channel where the weights are): the int32 bias every int8
    backend computes with (XNNPACK's, and the xnnd export's). The reference then describes int8
    inference exactly up to float rounding, instead of differing from every int8 backend by up
    to half a bias step in every layer (differences deep networks amplify). Returns the number
    of biases changed."""
    count = 0
    for node in gm.graph.nodes:
        if node.op != "call_function" or str(node.target) not in _WEIGHTED or len(node.args) < 3:
            continue
        bias = _get_attr_tensor(gm, node.args[2])
        sx, sw = _dq_scale(gm, node.args[0]), _dq_scale(gm, node.args[1])
        if bias is None or sx is None or sw is None or sx.size != 1:
            continue
        b = bias.detach().cpu().numpy().astype(np.float32)
        s = (np.float32(sx[0]) * (sw if sw.size == b.size else np.full(b.shape, sw[0], np.float32)))
        s = s.astype(np.float32)
        q = np.rint(b.astype(np.float64) / s.astype(np.float64))
        bias.data.copy_(torch.from_numpy((q * s.astype(np.float64)).astype(np.float32)))
        count += 1
    return count


# ---- mapping ----

def is_quantized(gm: torch.fx.GraphModule) -> bool:
    """True when the graph has quantized_decomposed quantize/dequantize ops."""
    return any(n.op == "call_function" and str(n.target) in QUANTIZE_TARGETS
               for n in gm.graph.nodes)


def _as_float(value) -> float:
    return float(np.asarray(value.detach().cpu() if isinstance(value, torch.Tensor) else value,
                            dtype=np.float64).reshape(-1)[0])


class _QuantConverter(aten_map._Converter):
    def __init__(self, gm: torch.fx.GraphModule, name: str):
        super().__init__(gm, name)
        self.qconsts: dict = {}

    def keep_as_ir(self, node):
        if str(node.target) in QUANTIZE_TARGETS:
            return True
        return super().keep_as_ir(node)

    def map_call(self, node):
        target = str(node.target)
        if target not in QUANTIZE_TARGETS:
            if target.startswith(_QD):
                raise aten_map.UnsupportedOpError(
                    aten_map.unsupported_message(node, target, "a quantized pattern xnnd does "
                                                 "not lower (dynamic quantization?)"),
                    target, node.name)
            return super().map_call(node)
        call = aten_map.Call(node, self.env, target)
        if target.startswith(_QD + "dequantize"):
            return self.map_dequantize(node, call, target)
        return self.map_quantize(node, call, target)

    # -- helpers --

    def qconst(self, name, data, quant):
        key = (data.shape, data.tobytes(), repr(quant[:2]),
               tuple(np.asarray(quant[2]).reshape(-1).tolist()) if quant[0] == "channel"
               else quant[2],
               tuple(np.asarray(quant[3]).reshape(-1).tolist()) if quant[0] == "channel" else 0)
        value = self.qconsts.get(key)
        if value is None:
            value = Value(self.names.take(name), "i8", data.shape, "const", data)
            value.quant = quant
            self.qconsts[key] = value
            self.graph.consts.append(value)
        return value

    def folded_tensor(self, arg):
        """The concrete tensor of an fx argument computable at export time, else None."""
        if not isinstance(arg, torch.fx.Node):
            return None
        if isinstance(self.folded.get(arg), torch.Tensor):
            return self.folded[arg]
        if arg.op == "get_attr":
            t = aten_map._fetch_attr(self.gm, arg.target)
            return t.detach() if isinstance(t, torch.Tensor) else None
        return None

    def params(self, call, target):
        """(per_channel, axis, scales float32[], zero points int64[], shift) of a q/dq call;
        shift is 128 for uint8. Raises via call.unsupported for what XNNPACK cannot take."""
        dtype = call.arg("dtype")
        if dtype not in _RANGES:
            call.unsupported("dtype=%s (only int8/uint8)" % dtype)
        per_channel = "per_channel" in target
        values = []
        for name in (("scales", "zero_points") if per_channel else ("scale", "zero_point")):
            arg = call.arg(name)
            if arg is None:
                values.append(None)
            elif isinstance(arg, torch.fx.Node):
                t = self.folded_tensor(arg)
                if t is None:
                    call.unsupported("%s is computed at run time (dynamic quantization)" % name)
                values.append(t.detach().cpu().numpy())
            else:
                values.append(np.asarray(arg))
        scales = np.asarray(values[0], dtype=np.float32).reshape(-1)
        zps = (np.zeros(scales.shape, np.int64) if values[1] is None
               else np.asarray(values[1], dtype=np.int64).reshape(-1))
        axis = int(call.arg("axis")) if per_channel else -1
        return per_channel, axis, scales, zps, 128 if dtype == torch.uint8 else 0

    def check_full_range(self, call):
        qmin, qmax = int(call.arg("quant_min")), int(call.arg("quant_max"))
        if (qmin, qmax) != _RANGES[call.arg("dtype")]:
            call.unsupported("activation range [%d, %d] is narrower than %s's; XNNPACK clamps "
                             "int8 activations to the full range" % (qmin, qmax, call.arg("dtype")))

    def quant_attrs(self, quant):
        if quant[0] == "tensor":
            return [Attr("scale", "float", float(format_f32(quant[1]))),
                    Attr("zero_point", "int", int(quant[2])),
                    Attr("axis", "int", -1), Attr("dtype", "int", IR_I8)]
        return [Attr("scale", "float", None), Attr("zero_point", "int", 0),
                Attr("axis", "int", quant[1]), Attr("dtype", "int", IR_I8)]

    def quant_inputs(self, x, quant, node):
        if quant[0] == "tensor":
            return [x]
        return [x, self.const(node.name + "_scales", np.asarray(quant[2], dtype=np.float32), node),
                self.const(node.name + "_zero_points", np.asarray(quant[3], dtype=np.int32), node)]

    @staticmethod
    def quant_of(per_channel, axis, scales, zps, shift, rank):
        if per_channel:
            return ("channel", aten_map._dim(axis, rank), scales,
                    (zps - shift).astype(np.int32))
        return ("tensor", np.float32(scales[0]), int(zps[0]) - shift)

    def map_quantize(self, node, call, target):
        per_channel, axis, scales, zps, shift = self.params(call, target)
        x_t = self.folded_tensor(call.arg("input"))
        if x_t is not None:   # a constant: quantized now, exactly as PyTorch does
            with torch.no_grad():
                q = node.target(*[self.folded_tensor(a) if isinstance(a, torch.fx.Node) else a
                                  for a in node.args])
            data = (q.numpy().astype(np.int16) - shift).astype(np.int8)
            self.env[node] = self.qconst(node.name, data, self.quant_of(
                per_channel, axis, scales, zps, shift, data.ndim))
            return
        self.check_full_range(call)
        x = self.env[call.arg("input")]
        out = Value(self.names.take(node.name, reserved=True), "i8", x.shape, "node")
        out.quant = self.quant_of(per_channel, axis, scales, zps, shift, len(x.shape))
        self.env[node] = out
        self.graph.nodes.append(Node("xnnd.quantize", self.quant_inputs(x, out.quant, node), [out],
                                     self.quant_attrs(out.quant), node.name))

    def map_dequantize(self, node, call, target):
        arg = call.arg("input")
        data_t = self.folded_tensor(arg)
        if data_t is not None and data_t.dtype in _RANGES:   # an int8 weight and its parameters
            per_channel, axis, scales, zps, shift = self.params(call, target)
            data = (data_t.numpy().astype(np.int16) - shift).astype(np.int8)
            x = self.qconst(arg.name, data, self.quant_of(per_channel, axis, scales, zps, shift,
                                                          data.ndim))
        else:
            x = self.env[arg]
        quant = getattr(x, "quant", None)
        if quant is None:
            call.unsupported("dequantize of a value without quantization parameters")
        if call.args.get("out_dtype") not in (None, torch.float32):
            call.unsupported("out_dtype=%s" % call.args["out_dtype"])
        meta = call.out_metas[0]
        out = Value(self.names.take(node.name, reserved=True), "f32", meta.shape, "node")
        self.env[node] = out
        self.graph.nodes.append(Node("xnnd.dequantize", self.quant_inputs(x, quant, node), [out],
                                     self.quant_attrs(quant), node.name))


def convert(gm: torch.fx.GraphModule, name: str) -> Graph:
    """IR graph of a PT2E-quantized model's core ATen GraphModule (trace.to_graph_module)."""
    return _QuantConverter(gm, name).run()


def save_io_extras(directory: str, float_module: torch.nn.Module,
                   reference_module: torch.nn.Module, inputs: Sequence[torch.Tensor],
                   graph: Graph) -> None:
    """Next to --save-io's files: float_output_<i>.npy (the float model, for signal-to-noise
    figures), reference_2threads_output_<i>.npy (the reference quantized model again, with
    PyTorch on 2 threads: its float kernels then sum in another order, which shows how far the
    reference itself moves under last-bit differences) and output_<i>.qparams.json (the scale
    and zero point of the dequantize that produces output i, the output's quantization step),
    for tests/quant_compare.py."""
    import json
    import os

    for i, t in enumerate(trace.eager_outputs(float_module, inputs)):
        np.save(os.path.join(directory, "float_output_%d.npy" % i), t.detach().cpu().numpy())
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for i, t in enumerate(trace.eager_outputs(reference_module, inputs)):
            np.save(os.path.join(directory, "reference_2threads_output_%d.npy" % i),
                    t.detach().cpu().numpy())
    finally:
        torch.set_num_threads(threads)
    for i, v in enumerate(graph.outputs):
        producer = next((n for n in graph.nodes if v in n.outputs), None)
        if producer is None or producer.op != "xnnd.dequantize" or producer.attr("scale") is None:
            continue
        with open(os.path.join(directory, "output_%d.qparams.json" % i), "w") as f:
            json.dump({"scale": producer.attr("scale"),
                       "zero_point": producer.attr("zero_point")}, f)
