"""ExecuTorch peer: torch.export -> to_edge_transform_and_lower(XnnpackPartitioner) ->
to_executorch() -> .pte, run by ExecuTorch's Python runtime (executorch.runtime, the C++
runtime behind pybindings, with the XNNPACK backend linked in).

int8: PT2E with ExecuTorch's XNNPACKQuantizer (symmetric, per-channel weights, static
activations): torch.export(...).module() -> prepare_pt2e -> 4 calibration batches (the ones
xnnd uses) -> convert_pt2e -> torch.export -> the same lowering.

Threads: ExecuTorch's XNNPACK delegate runs on the process-wide pthreadpool of
executorch.extension.threadpool (get_threadpool()), which is created at first use with a size
cpuinfo gives (the default count is recorded in version(): 2 on this machine). The pybindings
expose _unsafe_reset_threadpool(n) to recreate it with n threads; setup() calls it before
anything is loaded and checks the count with _threadpool_get_thread_count()."""

import importlib.metadata

NAME = "executorch"
LABEL = "ExecuTorch (XNNPACK delegate)"


def unavailable():
    try:
        importlib.metadata.version("executorch")
    except importlib.metadata.PackageNotFoundError:
        return "executorch is not installed (bench/requirements-peers.txt)"
    return None


_POOL = {}


def version():
    return "executorch %s (threadpool: %s by default, pinned to %s)" % (
        importlib.metadata.version("executorch"), _POOL.get("default"), _POOL.get("pinned"))


def setup(threads):
    import torch
    from executorch.extension.pybindings import portable_lib

    torch.set_num_threads(1)  # the runtime does not use torch's pool; keep it from spinning
    _POOL["default"] = portable_lib._threadpool_get_thread_count()
    portable_lib._unsafe_reset_threadpool(threads)
    have = portable_lib._threadpool_get_thread_count()
    if have != threads:
        raise RuntimeError("ExecuTorch threadpool has %d threads, wanted %d" % (have, threads))
    _POOL["pinned"] = have


def export(model, module, inputs, path):
    import torch
    from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
    from executorch.exir import to_edge_transform_and_lower

    import peer_torch

    if model["precision"] == "int8":
        from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
            XNNPACKQuantizer, get_symmetric_quantization_config)
        from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

        captured = torch.export.export(module, inputs).module()
        quantizer = XNNPACKQuantizer().set_global(
            get_symmetric_quantization_config(is_per_channel=True))
        prepared = prepare_pt2e(captured, quantizer)
        with torch.no_grad():
            for batch in peer_torch.calibration_batches(inputs):
                prepared(*batch)
        module = convert_pt2e(prepared)
    with torch.no_grad():
        ep = torch.export.export(module, inputs)
    program = to_edge_transform_and_lower(ep, partitioner=[XnnpackPartitioner()]).to_executorch()
    with open(path, "wb") as f:
        f.write(program.buffer)
    return {}


def load(model, artifact, inputs, threads):
    from executorch.runtime import Runtime

    method = Runtime.get().load_program(artifact).load_method("forward")
    args = list(inputs)

    def run():
        return method.execute(args)
    return run
