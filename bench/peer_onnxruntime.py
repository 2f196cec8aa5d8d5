"""ONNX Runtime peer: torch.onnx.export(dynamo=True) of the same module -> .onnx, run by an
InferenceSession on the CPU execution provider with intra_op_num_threads = the thread count,
inter_op_num_threads 1, sequential execution and all graph optimizations.

int8: onnxruntime.quantization.quantize_static on the fp32 file after quant_pre_process
(shape inference and ORT's own graph optimization): QDQ format, uint8 activations and int8
per-channel weights (the combination ORT's x86 kernels are built for), MinMax calibration on
the 4 batches xnnd calibrates on."""

import importlib.metadata
import os

NAME = "onnxruntime"
LABEL = "ONNX Runtime (CPU EP)"


def unavailable():
    for pkg in ("onnxruntime", "onnx", "onnxscript"):
        try:
            importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return "%s is not installed (bench/requirements-peers.txt)" % pkg
    return None


def version():
    return "onnxruntime %s, onnx %s" % (importlib.metadata.version("onnxruntime"),
                                        importlib.metadata.version("onnx"))


def setup(threads):
    import torch

    torch.set_num_threads(1)


def export(model, module, inputs, path):
    import torch

    import peer_torch

    fp32 = path if model["precision"] == "fp32" else path + ".fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(module, inputs, fp32, dynamo=True, external_data=False)
    if model["precision"] == "fp32":
        return {}
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = path + ".pre.onnx"
    quant_pre_process(fp32, pre)
    import onnxruntime as ort
    names = [i.name for i in ort.InferenceSession(
        pre, providers=["CPUExecutionProvider"]).get_inputs()]
    batches = [{n: x.numpy() for n, x in zip(names, b)}
               for b in peer_torch.calibration_batches(inputs)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(batches)

        def get_next(self):
            return next(self.it, None)

    quantize_static(pre, path, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    for f in (fp32, pre):
        os.remove(f)
    return {}


def session(artifact, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(artifact, so, providers=["CPUExecutionProvider"])


def load(model, artifact, inputs, threads):
    sess = session(artifact, threads)
    feed = {i.name: x.numpy() for i, x in zip(sess.get_inputs(), inputs)}

    def run():
        return sess.run(None, feed)
    return run
