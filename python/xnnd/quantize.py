"""int8 export: PyTorch FX graph mode quantization, then the reference model traced like fp32.

quantize_module() runs torch.ao.quantization.quantize_fx.prepare_fx with the QConfigMapping of
qconfig_mapping(), calibrates on N random batches drawn from a fixed seed, and returns
convert_to_reference_fx's model: float ops between quantize/dequantize calls. That model is
PyTorch's reference for the int8 program (`--save-io` writes its outputs).

convert() maps its make_fx trace like aten_map.convert, plus the quantization ops:
  aten.quantize_per_tensor(.tensor_qparams) / aten.quantize_per_channel -> xnnd.quantize
  aten.dequantize.self                                                  -> xnnd.dequantize
A quantize of a constant (a weight) is done here: the IR gets the int8 constant with its
parameters in its type (q(...) / qc(...)) and keeps the dequantize, so passes see dq -> op.
PyTorch's default activation dtype is quint8; XNNPACK wants qint8. The map is exact: a quint8
tensor with zero point z is the qint8 tensor with zero point z - 128 and every element shifted
down by 128 (same real values, same rounding, same clamping).
"""

import copy

import numpy as np
import torch

from . import aten_map
from .errors import ExportError
from .ir_text import Attr, Node, Value, format_f32

QUANTIZE_TARGETS = {
    "aten.quantize_per_tensor.tensor_qparams",
    "aten.quantize_per_tensor.default",
    "aten.quantize_per_channel.default",
    "aten.dequantize.self",
}
WEIGHT_SCHEMES = ("per-channel", "per-tensor")
IR_I8 = 2   # xnnd_dtype wire value (include/xnnd/xnnd.h), the `dtype` attribute of the ops


def qconfig_mapping(weights="per-channel"):
    """PyTorch's qnnpack defaults (per-tensor affine quint8 activations from a histogram
    observer without reduce_range, fixed parameters for sigmoid/tanh/...), with symmetric
    per-channel qint8 weights for convolution and linear unless weights == "per-tensor"."""
    from torch.ao.quantization import QConfig, get_default_qconfig_mapping
    from torch.ao.quantization.observer import PerChannelMinMaxObserver

    mapping = get_default_qconfig_mapping("qnnpack")
    if weights == "per-tensor":
        return mapping
    if weights != "per-channel":
        raise ExportError("weight quantization must be one of %s" % ", ".join(WEIGHT_SCHEMES))
    default = mapping.global_qconfig
    per_channel = QConfig(activation=default.activation,
                          weight=PerChannelMinMaxObserver.with_args(
                              dtype=torch.qint8, qscheme=torch.per_channel_symmetric))
    mapping.set_global(per_channel)
    for key, qconfig in list(mapping.object_type_qconfigs.items()):
        if qconfig is default:
            mapping.set_object_type(key, per_channel)
    return mapping


def calibration_batches(inputs, n, seed):
    """n batches shaped like inputs, torch.randn from generator seed (float inputs only)."""
    gen = torch.Generator().manual_seed(seed)
    return [[torch.randn(t.shape, generator=gen, dtype=t.dtype) if t.is_floating_point() else t
             for t in inputs] for _ in range(n)]


def quantize_module(module, inputs, batches=4, seed=0, weights="per-channel", snap_biases=True):
    """prepare_fx -> calibration on `batches` random batches (seed seed + 2) ->
    convert_to_reference_fx (-> snap_reference_biases). The caller's module is not modified."""
    from torch.ao.quantization.quantize_fx import convert_to_reference_fx, prepare_fx

    if batches < 1:
        raise ExportError("--calibration-batches must be at least 1")
    model = copy.deepcopy(module).eval()
    try:
        prepared = prepare_fx(model, qconfig_mapping(weights), tuple(inputs))
        with torch.no_grad():
            for batch in calibration_batches(inputs, batches, seed + 2):
                prepared(*batch)
        reference = convert_to_reference_fx(prepared)
        if snap_biases:
            snap_reference_biases(reference)
    except ExportError:
        raise
    except Exception as e:   # symbolic tracing or observers failed on this model
        raise ExportError("quantization failed: %s: %s" % (type(e).__name__, e), exit_code=1)
    return reference.eval()


def _input_scale(gm, node):
    """Scale of the static quantize whose dequantize feeds `node`, else None."""
    if not node.args or not isinstance(node.args[0], torch.fx.Node):
        return None
    dq = node.args[0]
    if dq.op != "call_method" or dq.target != "dequantize" or not isinstance(dq.args[0], torch.fx.Node):
        return None
    q = dq.args[0]
    if q.op != "call_function" or q.target is not torch.quantize_per_tensor:
        return None
    scale = q.args[1]
    if isinstance(scale, torch.fx.Node) and scale.op == "get_attr":
        scale = aten_map._fetch_attr(gm, scale.target)
    return float(scale) if isinstance(scale, (float, torch.Tensor)) else None


_FUNCTIONAL_WEIGHTED = {torch.conv1d, torch.conv2d, torch.nn.functional.conv1d, torch.nn.functional.conv2d,
                        torch.nn.functional.linear}


def _weight_scale_of(gm, node):
    """Scale(s) of the quantize_per_channel/_per_tensor whose dequantize is node.args[1]."""
    dq = node.args[1] if len(node.args) > 1 else None
    if not isinstance(dq, torch.fx.Node) or dq.op != "call_method" or dq.target != "dequantize":
        return None
    q = dq.args[0]
    if not isinstance(q, torch.fx.Node) or q.op != "call_function":
        return None
    scale = q.args[1]
    if isinstance(scale, torch.fx.Node) and scale.op == "get_attr":
        scale = aten_map._fetch_attr(gm, scale.target)
    return scale if isinstance(scale, torch.Tensor) else None


def snap_reference_biases(gm):
    """Each reference conv/linear bias b becomes round(b / s) * s with s = input_scale *
    weight_scale (float32, per output channel where the weights are): the int32 bias every int8
    backend computes with (PyTorch's fbgemm and qnnpack kernels quantize it so, and so does the
    xnnd export). The reference model then describes int8 inference exactly up to float
    rounding, instead of differing from every int8 backend by up to half a bias step in every
    layer (differences deep networks amplify). Modules and functional conv/linear calls are
    handled; returns the number of biases changed."""
    count = 0
    for node in gm.graph.nodes:
        bias = wscale = None
        if node.op == "call_module":
            mod = gm.get_submodule(node.target)
            inner = mod[0] if isinstance(mod, torch.nn.Sequential) else mod
            if hasattr(inner, "weight_qscheme"):
                bias, wscale = getattr(inner, "bias", None), getattr(inner, "weight_scale", None)
        elif node.op == "call_function" and node.target in _FUNCTIONAL_WEIGHTED and len(node.args) > 2:
            b = node.args[2]
            if isinstance(b, torch.fx.Node) and b.op == "get_attr":
                bias = aten_map._fetch_attr(gm, b.target)
                wscale = _weight_scale_of(gm, node)
        sx = _input_scale(gm, node)
        if not isinstance(bias, torch.Tensor) or wscale is None or sx is None:
            continue
        sw = np.asarray(wscale.detach().cpu().numpy(), dtype=np.float32).reshape(-1)
        b = bias.detach().cpu().numpy().astype(np.float32)
        s = (np.float32(sx) * (sw if sw.size == b.size else np.full(b.shape, sw[0], np.float32))).astype(np.float32)
        q = np.rint(b.astype(np.float64) / s.astype(np.float64))
        bias.data.copy_(torch.from_numpy((q * s.astype(np.float64)).astype(np.float32)))
        count += 1
    return count


# ---- mapping ----

def _to_int8(q):
    """A quantized tensor as (int8 numpy data, ("tensor", scale, zp) | ("channel", axis,
    scales, zps)), quint8 shifted to qint8."""
    data = q.int_repr().numpy().astype(np.int16)
    shift = 128 if q.dtype == torch.quint8 else 0
    if q.dtype not in (torch.quint8, torch.qint8):
        raise ExportError("quantized dtype %s is not supported (qint8/quint8)" % q.dtype)
    data = (data - shift).astype(np.int8)
    if q.qscheme() in (torch.per_tensor_affine, torch.per_tensor_symmetric):
        return data, ("tensor", np.float32(q.q_scale()), int(q.q_zero_point()) - shift)
    scales = q.q_per_channel_scales().numpy().astype(np.float32)
    zps = q.q_per_channel_zero_points().numpy().astype(np.int64) - shift
    return data, ("channel", int(q.q_per_channel_axis()), scales, zps.astype(np.int32))


def _scalar(value):
    return np.asarray(value.data).reshape(-1)[0]


class _QuantConverter(aten_map._Converter):
    def __init__(self, gm, name):
        super().__init__(gm, name)
        self.qconsts = {}

    def keep_as_ir(self, node):
        if str(node.target) in QUANTIZE_TARGETS:
            return True
        return super().keep_as_ir(node)

    def map_call(self, node):
        target = str(node.target)
        if target not in QUANTIZE_TARGETS:
            return super().map_call(node)
        call = aten_map.Call(node, self.env, target)
        if target == "aten.dequantize.self":
            return self.map_dequantize(node, call)
        return self.map_quantize(node, call, target)

    # -- helpers --

    def qconst(self, name, data, quant):
        key = (data.shape, data.tobytes(), repr(quant[:2]),
               tuple(np.asarray(quant[2]).reshape(-1).tolist()) if quant[0] == "channel" else quant[2],
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
        folded = getattr(self, "folded", None) or {}
        if isinstance(folded.get(arg), torch.Tensor):
            return folded[arg]
        if arg.op == "get_attr":
            t = aten_map._fetch_attr(self.gm, arg.target)
            return t.detach() if isinstance(t, torch.Tensor) else None
        return None

    def map_quantize(self, node, call, target):
        dtype = call.arg("dtype")
        if dtype not in (torch.quint8, torch.qint8):
            call.unsupported("dtype=%s (only qint8/quint8)" % dtype)
        shift = 128 if dtype == torch.quint8 else 0
        per_channel = target == "aten.quantize_per_channel.default"
        names = ("scales", "zero_points") if per_channel else ("scale", "zero_point")
        params = []
        for name in names:
            arg = call.arg(name)
            params.append(self.folded_tensor(arg) if isinstance(arg, torch.fx.Node) else torch.tensor(arg))
        static = all(p is not None for p in params)
        x_t = self.folded_tensor(call.arg("self"))

        if x_t is not None and static:   # a weight: quantized now, exactly as PyTorch does
            args = [x_t] + params + ([int(call.arg("axis"))] if per_channel else []) + [dtype]
            if target == "aten.quantize_per_tensor.default":
                args = [x_t, float(params[0]), int(params[1]), dtype]
            with torch.no_grad():
                q = node.target(*args)
            data, quant = _to_int8(q)
            self.env[node] = self.qconst(node.name, data, quant)
            return

        x = self.env[call.arg("self")]
        out = Value(self.names.take(node.name, reserved=True), "i8", x.shape, "node")
        if static and not per_channel:
            scale = np.float32(float(params[0].reshape(-1)[0]))
            zp = int(params[1].reshape(-1)[0]) - shift
            out.quant = ("tensor", scale, zp)
            inputs = [x]
            attrs = [Attr("scale", "float", float(format_f32(scale))), Attr("zero_point", "int", zp),
                     Attr("axis", "int", -1), Attr("dtype", "int", IR_I8)]
        elif static:
            axis = aten_map._dim(call.arg("axis"), len(x.shape))
            scales = params[0].numpy().astype(np.float32).reshape(-1)
            zps = (params[1].numpy().astype(np.int64).reshape(-1) - shift).astype(np.int32)
            out.quant = ("channel", axis, scales, zps)
            inputs = [x, self.const(node.name + "_scales", scales, node),
                      self.const(node.name + "_zero_points", zps, node)]
            attrs = [Attr("scale", "float", None), Attr("zero_point", "int", 0),
                     Attr("axis", "int", axis), Attr("dtype", "int", IR_I8)]
        else:
            # parameters computed in the graph: a dynamic quantize the passes leave alone
            scale_arg, zp_arg = call.arg(names[0]), call.arg(names[1])
            if per_channel or not isinstance(scale_arg, torch.fx.Node):
                call.unsupported("non-constant per-channel parameters")
            if shift or params[1] is None or int(params[1].reshape(-1)[0]) != 0:
                call.unsupported("a dynamic scale needs a constant zero point 0 with qint8")
            scale_v = self.env[scale_arg]
            if scale_v.dtype != "f32":
                call.unsupported("scale of dtype %s" % scale_v.dtype)
            inputs = [x, scale_v]
            attrs = [Attr("scale", "float", None), Attr("zero_point", "int", 0),
                     Attr("axis", "int", -1), Attr("dtype", "int", IR_I8)]
            out.quant = None
        self.env[node] = out
        self.graph.nodes.append(Node("xnnd.quantize", inputs, [out], attrs, node.name))

    def map_dequantize(self, node, call):
        x = self.env[call.arg("self")]
        quant = getattr(x, "quant", None)
        meta = call.out_metas[0]
        out = Value(self.names.take(node.name, reserved=True), "f32", meta.shape, "node")
        if quant is None:
            # the input of a dynamic quantize: same parameters as its producer
            producer = next((n for n in self.graph.nodes if x in n.outputs), None)
            if producer is None or producer.op != "xnnd.quantize":
                call.unsupported("dequantize of a value without quantization parameters")
            inputs = [x] + producer.inputs[1:]
            attrs = producer.attrs
        elif quant[0] == "tensor":
            inputs = [x]
            attrs = [Attr("scale", "float", float(format_f32(quant[1]))), Attr("zero_point", "int", quant[2]),
                     Attr("axis", "int", -1), Attr("dtype", "int", IR_I8)]
        else:
            _, axis, scales, zps = quant
            inputs = [x, self.const(node.name + "_scales", np.asarray(scales, dtype=np.float32), node),
                      self.const(node.name + "_zero_points", np.asarray(zps, dtype=np.int32), node)]
            attrs = [Attr("scale", "float", None), Attr("zero_point", "int", 0),
                     Attr("axis", "int", axis), Attr("dtype", "int", IR_I8)]
        self.env[node] = out
        self.graph.nodes.append(Node("xnnd.dequantize", inputs, [out], attrs, node.name))


def convert(gm, name):
    """IR graph of a traced reference quantized model."""
    return _QuantConverter(gm, name).run()


def save_io_extras(directory, float_module, reference_module, inputs, graph):
    """Next to --save-io's files: float_output_<i>.npy (the float model, for signal-to-noise
    figures), reference_2threads_output_<i>.npy (the reference quantized model again, with
    PyTorch on 2 threads: its float kernels then sum in another order, which shows how far the
    reference itself moves under last-bit differences) and output_<i>.qparams.json (the scale
    and zero point of the dequantize that produces output i, the output's quantization step),
    for tests/quant_compare.py."""
    import json
    import os

    import torch

    from . import trace

    for i, t in enumerate(trace.eager_outputs(float_module, inputs)):
        np.save(os.path.join(directory, "float_output_%d.npy" % i), t.detach().cpu().numpy())
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for i, t in enumerate(trace.eager_outputs(reference_module, inputs)):
            np.save(os.path.join(directory, "reference_2threads_output_%d.npy" % i), t.detach().cpu().numpy())
    finally:
        torch.set_num_threads(threads)
    for i, v in enumerate(graph.outputs):
        producer = next((n for n in graph.nodes if v in n.outputs), None)
        if producer is None or producer.op != "xnnd.dequantize" or producer.attr("scale") is None:
            continue
        with open(os.path.join(directory, "output_%d.qparams.json" % i), "w") as f:
            json.dump({"scale": producer.attr("scale"), "zero_point": producer.attr("zero_point")}, f)
