"""One Python peer of the benchmark in its own process (bench/peer_NAME.py).

  worker.py export --peer P --model JSON --out PATH [--ref NPZ]
      build the model from its spec and write the peer's artifact; one JSON line on stdout
  worker.py serve --peer P --threads T
      a long-lived timing worker: one JSON request per line on stdin
        {"cmd": "load", "id", "model", "artifact", "ref"}   load, run once, check the output
        {"cmd": "measure", "id", "warmup", "iters"}          per-iteration wall times, ms
        {"cmd": "quit"}
      and one JSON reply per line on the original stdout (library prints go to stderr)
  worker.py cold --peer P --model JSON --artifact A --ref NPZ --threads T
      in this fresh process (imports done first, not timed): load + first run, and the peak
      resident set (VmHWM) before loading and after the first run
"""

import argparse
import importlib
import json
import os
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH)
sys.path.insert(0, os.path.join(os.path.dirname(BENCH), "python"))


def first_line(e):
    text = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, text[0][:300] if text else "")


def vm_hwm_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def ref_inputs(ref):
    """Inputs (torch tensors) and reference outputs (numpy) from a peer_torch npz."""
    import numpy as np
    import torch

    with np.load(ref) as z:
        ins = [torch.from_numpy(z["in%d" % i]) for i in range(sum(k.startswith("in") for k in z))]
        outs = [z["out%d" % i] for i in range(sum(k.startswith("out") for k in z))]
    return tuple(ins), outs


def check(result, ref_outs):
    """max |out - ref| / max |ref| of output 0 against PyTorch eager fp32."""
    import numpy as np

    out = result[0] if isinstance(result, (list, tuple)) else result
    out = np.asarray(out.detach() if hasattr(out, "detach") else out, dtype=np.float64)
    ref = np.asarray(ref_outs[0], dtype=np.float64)
    if out.shape != ref.shape:
        return "shape %s, expected %s" % (list(out.shape), list(ref.shape))
    return float(np.abs(out - ref).max() / max(np.abs(ref).max(), 1e-30))


def measure(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def cmd_export(peer, model, out, ref):
    import models

    t0 = time.perf_counter()
    module, inputs = models.load(model["spec"])
    extra = peer.export(model, module, inputs, out) or {}
    extra.update({"ok": True, "export_s": time.perf_counter() - t0})
    return extra


def cmd_serve(peer, threads):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        peer.setup(threads)
        proto.write(json.dumps({"ok": True, "version": peer.version()}) + "\n")
    except Exception as e:
        proto.write(json.dumps({"ok": False, "error": first_line(e)}) + "\n")
        return 1
    loaded = {}
    for line in sys.stdin:
        req = json.loads(line)
        try:
            if req["cmd"] == "quit":
                break
            if req["cmd"] == "load":
                inputs, ref_outs = ref_inputs(req["ref"])
                t0 = time.perf_counter()
                fn = peer.load(req["model"], req["artifact"], inputs, threads)
                t1 = time.perf_counter()
                result = fn()
                t2 = time.perf_counter()
                loaded[req["id"]] = fn
                reply = {"ok": True, "load_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3,
                         "check": check(result, ref_outs)}
            elif req["cmd"] == "measure":
                reply = {"ok": True, "times_ms": measure(loaded[req["id"]], req["warmup"],
                                                         req["iters"])}
            else:
                reply = {"ok": False, "error": "unknown command %r" % req["cmd"]}
        except Exception as e:
            reply = {"ok": False, "error": first_line(e)}
        proto.write(json.dumps(reply) + "\n")
    return 0


def cmd_cold(peer, model, artifact, ref, threads):
    inputs, _ = ref_inputs(ref)
    peer.setup(threads)
    before = vm_hwm_kb()
    t0 = time.perf_counter()
    fn = peer.load(model, artifact, inputs, threads)
    t1 = time.perf_counter()
    fn()
    t2 = time.perf_counter()
    return {"ok": True, "load_ms": (t1 - t0) * 1e3, "first_ms": (t2 - t1) * 1e3,
            "hwm_before_kb": before, "hwm_kb": vm_hwm_kb()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("cmd", choices=("export", "serve", "cold"))
    p.add_argument("--peer", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--model", help="JSON: name, spec, precision")
    p.add_argument("--out")
    p.add_argument("--artifact")
    p.add_argument("--ref")
    args = p.parse_args(argv)
    peer = importlib.import_module("peer_" + args.peer)
    if args.cmd == "serve":
        return cmd_serve(peer, args.threads)
    model = json.loads(args.model)
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        if args.cmd == "export":
            reply = cmd_export(peer, model, args.out, args.ref)
        else:
            reply = cmd_cold(peer, model, args.artifact, args.ref, args.threads)
    except Exception as e:
        reply = {"ok": False, "error": first_line(e)}
    real_stdout.write(json.dumps(reply) + "\n")
    real_stdout.flush()
    return 0 if reply["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
