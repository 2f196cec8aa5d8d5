"""PyTorch peers of the benchmark, served by a worker process with a fixed thread count.

Engines: eager; TorchScript + optimize_for_mobile (XNNPACK op by op); int8 through FX graph
mode quantization with the qnnpack default qconfig, calibrated on fixed-seed random batches.
Modules and inputs come from xnnd's own load_spec, so they match what xnnd exported.

bench.py starts one worker per thread count (the 2-thread one with OMP_WAIT_POLICY=passive, so
an idle OpenMP pool does not spin against xnnd's threads) and talks to it one JSON object per
line: requests on stdin, replies on the original stdout. Library prints go to stderr.
"""

import argparse
import copy
import json
import os
import re
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CALIBRATION_BATCHES = 4
CALIBRATION_SEED = 1234

ENGINES = {
    "torch-eager": "PyTorch eager",
    "torch-mobile": "TorchScript optimize_for_mobile (XNNPACK op by op)",
    "torch-int8-qnnpack": "PyTorch int8, FX quantization, qnnpack",
}


def _first_line(e):
    text = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, text[0] if text else "")


def build(spec, engine, seed=0):
    """(callable, inputs) for SPEC on ENGINE. Raises on any failure."""
    import torch

    sys.path.insert(0, os.path.join(REPO, "python"))
    from xnnd.trace import load_spec

    _, module, inputs = load_spec(spec, seed=seed)
    if engine == "torch-eager":
        return module, inputs
    if engine == "torch-mobile":
        from torch.utils.mobile_optimizer import optimize_for_mobile

        try:
            scripted = torch.jit.script(module)
        except Exception:  # some modules do not script; tracing is what users do then
            scripted = torch.jit.trace(module, inputs)
        return optimize_for_mobile(scripted.eval()), inputs
    if engine == "torch-int8-qnnpack":
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

        torch.backends.quantized.engine = "qnnpack"
        prepared = prepare_fx(copy.deepcopy(module), get_default_qconfig_mapping("qnnpack"),
                              inputs)
        gen = torch.Generator().manual_seed(CALIBRATION_SEED)
        with torch.no_grad():
            for _ in range(CALIBRATION_BATCHES):
                prepared(*[torch.randn(x.shape, generator=gen) for x in inputs])
        return convert_fx(prepared), inputs
    raise ValueError("unknown engine %r" % engine)


def blas_info(torch):
    """What PyTorch's fp32 matmul/linear runs on: its BLAS_INFO and, for a `generic` build,
    the libblas.so.3 the Debian alternatives point at (netlib reference BLAS is slow)."""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    info = m.group(1) if m else "unknown"
    lib = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
    if info == "generic" and os.path.exists(lib):
        info += " (%s)" % os.path.realpath(lib)
    return info


def measure(fn, inputs, warmup, iters):
    """Per-iteration wall times in ms after `warmup` untimed calls."""
    import torch

    times = []
    with torch.inference_mode():
        for _ in range(warmup):
            fn(*inputs)
        for _ in range(iters):
            t0 = time.perf_counter()
            fn(*inputs)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def serve(threads):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    import torch

    torch.set_num_threads(threads)
    built = {}
    for line in sys.stdin:
        req = json.loads(line)
        cmd = req.get("cmd")
        try:
            if cmd == "quit":
                break
            if cmd == "info":
                reply = {"ok": True, "torch": torch.__version__,
                         "threads": torch.get_num_threads(),
                         "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
                         "blas": blas_info(torch)}
            elif cmd == "prepare":
                t0 = time.perf_counter()
                fn, inputs = build(req["spec"], req["engine"], req.get("seed", 0))
                measure(fn, inputs, 1, 0)  # fail here, not in the middle of a round
                built[req["id"]] = (fn, inputs)
                reply = {"ok": True, "setup_s": time.perf_counter() - t0}
            elif cmd == "measure":
                fn, inputs = built[req["id"]]
                reply = {"ok": True, "times_ms": measure(fn, inputs, req["warmup"], req["iters"])}
            else:
                reply = {"ok": False, "error": "unknown command %r" % cmd}
        except Exception as e:
            reply = {"ok": False, "error": _first_line(e)}
        proto.write(json.dumps(reply) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
