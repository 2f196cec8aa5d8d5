"""PyTorch eager peer, and the reference every other engine is checked against.

export() writes the model's inputs and eager output (ARTIFACT.npz) and counts its FLOPs
(torch.utils.flop_counter: 2 per multiply-accumulate of convolutions and matrix products);
load() rebuilds the module from its spec. Workers with more than one thread run with
OMP_WAIT_POLICY=passive (bench.py sets it), so an idle OpenMP pool does not spin against the
other engines' threads."""

import re

NAME = "torch"
LABEL = "PyTorch eager"


def unavailable():
    return None


def version():
    import torch

    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    return "torch %s (BLAS %s)" % (torch.__version__, m.group(1) if m else "?")


def setup(threads):
    import torch

    torch.set_num_threads(threads)


def calibration_batches(inputs, n=4, seed=2):
    """n batches shaped like inputs: torch.randn from a generator seeded `seed` (xnnd export
    --quantize int8 --seed 0 draws its calibration the same way)."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    return [tuple(torch.randn(x.shape, generator=gen) for x in inputs) for _ in range(n)]


def export(model, module, inputs, path):
    """Reference inputs/outputs and the FLOP count; path is ARTIFACT.npz."""
    import numpy as np
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    with torch.inference_mode():
        counter = FlopCounterMode(display=False)
        with counter:
            out = module(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    arrays = {"in%d" % i: x.numpy() for i, x in enumerate(inputs)}
    arrays.update({"out%d" % i: o.numpy() for i, o in enumerate(outs)})
    np.savez(path, **arrays)
    return {"flops": int(counter.get_total_flops())}


def load(model, artifact, inputs, threads):
    import torch

    import models

    module, _ = models.load(model["spec"])

    def run():
        with torch.inference_mode():
            return module(*inputs)
    return run
