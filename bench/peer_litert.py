"""LiteRT peer: the module converted to .tflite by litert-torch, run by ai-edge-litert's
Interpreter (XNNPACK delegate, applied by default to fp32 graphs, with num_threads threads).

litert-torch has no release that installs beside torch 2.13.0 (0.9.3, the newest, requires
torch<2.13.0), so bench/requirements-peers.txt leaves LiteRT out and unavailable() gives that
reason, which the results carry in the LiteRT column. The export/load code below follows
litert-torch's documented API (litert_torch.convert(module, inputs).export(path)) and has not
run on this machine for that reason."""

import importlib.metadata

NAME = "litert"
LABEL = "LiteRT (XNNPACK delegate)"
NOT_INSTALLABLE = ("litert-torch cannot install beside torch 2.13.0+cpu: its newest release "
                   "(0.9.3) requires torch<2.13.0")


def unavailable():
    for pkg in ("litert-torch", "ai-edge-litert"):
        try:
            importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            return NOT_INSTALLABLE
    return None


def version():
    return "ai-edge-litert %s, litert-torch %s" % (
        importlib.metadata.version("ai-edge-litert"), importlib.metadata.version("litert-torch"))


def setup(threads):
    import torch

    torch.set_num_threads(1)


def export(model, module, inputs, path):
    if model["precision"] != "fp32":
        raise NotImplementedError("int8 LiteRT conversion is not set up in this benchmark")
    import litert_torch

    litert_torch.convert(module, inputs).export(path)
    return {}


def load(model, artifact, inputs, threads):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=artifact, num_threads=threads)
    interp.allocate_tensors()
    details = interp.get_input_details()
    for d, x in zip(details, inputs):
        interp.set_tensor(d["index"], x.numpy())
    outs = interp.get_output_details()

    def run():
        interp.invoke()
        return [interp.get_tensor(o["index"]) for o in outs]
    return run
