"""ExecuTorch's own toolchain and runtime, for the tests that run the same ExecuTorch .pte with
ExecuTorch's runtime and with xnnd (tests/python/test_executorch.py, tests/fixtures/et/make.py).

to_pte(): torch.export.export -> to_edge_transform_and_lower (XnnpackPartitioner when
delegated, none for portable-only) -> to_executorch() -> the file's bytes.
quantize_int8(): PT2E with ExecuTorch's XNNPACKQuantizer (symmetric, per-channel weights,
static activations), calibrated on the batches given -- the recipe of bench/peer_executorch.py.
run_executorch(): ExecuTorch's runtime (executorch.runtime, the C++ runtime behind pybindings)
on a .pte file's bytes."""
from __future__ import annotations

import os
import tempfile
from typing import Sequence

import numpy as np
import torch


def to_pte(module: torch.nn.Module, inputs: Sequence[torch.Tensor], delegate: bool) -> bytes:
    from executorch.exir import to_edge_transform_and_lower

    import executorch.kernels.quantized  # noqa: F401  the .out variants of q/dq ops (portable)

    partitioner = None
    if delegate:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        partitioner = [XnnpackPartitioner()]
    with torch.no_grad():
        ep = torch.export.export(module, tuple(inputs))
    program = to_edge_transform_and_lower(ep, partitioner=partitioner).to_executorch()
    return bytes(program.buffer)


def quantize_int8(module: torch.nn.Module, inputs: Sequence[torch.Tensor],
                  batches: Sequence[Sequence[torch.Tensor]]) -> torch.nn.Module:
    from executorch.backends.xnnpack.quantizer.xnnpack_quantizer import (
        XNNPACKQuantizer, get_symmetric_quantization_config)
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    captured = torch.export.export(module, tuple(inputs)).module()
    quantizer = XNNPACKQuantizer().set_global(
        get_symmetric_quantization_config(is_per_channel=True))
    prepared = prepare_pt2e(captured, quantizer)
    with torch.no_grad():
        for batch in batches:
            prepared(*batch)
    return convert_pt2e(prepared)


def run_executorch(pte: bytes, inputs: Sequence[torch.Tensor]) -> list[np.ndarray]:
    from executorch.runtime import Runtime

    with tempfile.TemporaryDirectory(prefix="xnnd_et_") as d:
        path = os.path.join(d, "m.pte")
        with open(path, "wb") as f:
            f.write(pte)
        method = Runtime.get().load_program(path).load_method("forward")
        outs = method.execute([x.contiguous() for x in inputs])
    return [o.detach().numpy().copy() for o in outs]
