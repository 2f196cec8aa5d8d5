#!/usr/bin/env python3
"""The cost of dynamic shapes (issue 19, point 6). A program, not a test.

For each model, one program exported with a dynamic dim and, for every size measured, the same
model exported static at that size:
  resnet18      batch 1..8 (sizes 1, 2, 4, 8), 3x224x224
  mobilenet_v2  square image 160..256 in steps of 32 (one symbol: 160, 192, 224, 256), batch 1
  encoder       nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                batch_first=True), batch 1, sequence length 1..128 (sizes 1, 16, 64, 128)
All are timed by build/xnnd_timer serve (one process per thread count, inputs filled the same
way): the dynamic program takes each size with the `shape` command, whose execute is the first
after a shape change, then `measure` times its steady state and that of the static program of
that size, alternating in 4 chunks (so load on the machine hits both alike). Rounds repeat the
cycle over the sizes: in round 1 each size is new to the dynamic program (the XNNPACK delegate
builds a runtime for it; the largest size's was built at load), in later rounds it is in the
delegate's shape cache (backend option shape_cache, default 4). Reported per size: steady
median of the dynamic and the static program (median of the round medians) and their ratio,
and the first execute after a shape change, new (round 1) and cached (median of later rounds).
Writes dynamic.md and dynamic.json into --out (default bench-results/).

usage: ./scripts/bench --dynamic [--out DIR] [--models a,b] [--threads 1,2] [--rounds N]
                                 [--runs N] [--warmup N] [--reuse-exports]
   or: PYTHONPATH=python .venv/bin/python bench/dynamic.py [same options]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHUNKS = 4   # dynamic and static runs of a size alternate in this many chunks per round
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, os.path.join(REPO, "tests", "models"))


def _torchvision(name):
    import torchvision_random
    module, _ = getattr(torchvision_random, name)()
    return module


def _encoder():
    import torch
    torch.manual_seed(0)
    return torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128,
                                            batch_first=True).eval()


def models():
    """name -> (builder, what varies, shape of a size, dynamic_shapes, sizes)."""
    from torch.export import Dim
    h = Dim("h", min=5, max=8)
    return {
        "resnet18": (lambda: _torchvision("resnet18"), "batch", lambda b: (b, 3, 224, 224),
                     ({0: Dim("batch", min=1, max=8)},), (1, 2, 4, 8)),
        "mobilenet_v2": (lambda: _torchvision("mobilenet_v2"), "image size",
                         lambda s: (1, 3, s, s), ({2: 32 * h, 3: 32 * h},), (160, 192, 224, 256)),
        "encoder": (_encoder, "sequence length", lambda n: (1, n, 64),
                    ({1: Dim("seq", min=1, max=128)},), (1, 16, 64, 128)),
    }


def export_all(names, out, reuse, xnnd_bin):
    """{model: {"dynamic": path, size: path}} (exports with the Python API, non-strict)."""
    import torch

    import xnnd
    table = models()
    paths = {}
    for name in names:
        build, _, shape_of, ds, sizes = table[name]
        entry = paths[name] = {"dynamic": os.path.join(out, "%s_dynamic.pte" % name)}
        for size in sizes:
            entry[size] = os.path.join(out, "%s_static_%d.pte" % (name, size))
        if reuse and all(os.path.exists(p) for p in entry.values()):
            continue
        module = build()
        torch.manual_seed(1)
        example = (torch.randn(shape_of(sizes[-1])),)
        t0 = time.time()
        result = xnnd.export(module, example, dynamic_shapes=ds, capture="non-strict",
                             xnnd_bin=xnnd_bin)
        result.save(entry["dynamic"])
        print("exported %s dynamic (%.0f s)" % (name, time.time() - t0), file=sys.stderr,
              flush=True)
        for size in sizes:
            xnnd.export(module, (torch.randn(shape_of(size)),), capture="non-strict",
                        xnnd_bin=xnnd_bin).save(entry[size])
        print("exported %s static at %s" % (name, ", ".join(str(s) for s in sizes)),
              file=sys.stderr, flush=True)
    return paths


class Timer:
    """build/xnnd_timer serve with a fixed thread count (text commands, JSON replies)."""

    def __init__(self, timer, threads):
        self.threads = threads
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        self.proc = subprocess.Popen([timer, "serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def send(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline() or '{"ok": false, "error": "died"}')
        if not reply.get("ok"):
            raise RuntimeError("xnnd_timer: %s: %s" % (line, reply.get("error")))
        return reply

    def close(self):
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def measure_model(name, paths, timer_bin, threads, rounds, warmup, runs):
    _, _, shape_of, _, sizes = models()[name]
    t = Timer(timer_bin, threads)
    try:
        t.send("load dyn %d %s" % (threads, paths["dynamic"]))
        for size in sizes:
            t.send("load s%d %d %s" % (size, threads, paths[size]))
        rows = {size: {"first_new": None, "first_cached": [], "dyn": [], "static": []}
                for size in sizes}
        for r in range(rounds):
            for size in sizes:
                dims = ",".join(str(d) for d in shape_of(size))
                first = t.send("shape dyn 0 %s" % dims)["first_ms"]
                row = rows[size]
                if r == 0:
                    row["first_new"] = first
                else:
                    row["first_cached"].append(first)
                # interleaved in chunks, so a load change on the machine hits both alike
                dyn, static = [], []
                chunk = max(1, runs // CHUNKS)
                for _ in range(CHUNKS):
                    dyn += t.send("measure dyn %d %d" % (warmup, chunk))["times_ms"]
                    static += t.send("measure s%d %d %d" % (size, warmup, chunk))["times_ms"]
                row["dyn"].append(statistics.median(dyn))
                row["static"].append(statistics.median(static))
    finally:
        t.close()
    out = []
    for size in sizes:
        row = rows[size]
        dyn, static = statistics.median(row["dyn"]), statistics.median(row["static"])
        out.append({"model": name, "threads": threads, "size": size,
                    "shape": list(shape_of(size)), "static_ms": static, "dynamic_ms": dyn,
                    "ratio": dyn / static if static else None,
                    "first_after_change_new_ms": row["first_new"],
                    "first_after_change_cached_ms": (statistics.median(row["first_cached"])
                                                     if row["first_cached"] else None),
                    "round_medians_dynamic_ms": row["dyn"],
                    "round_medians_static_ms": row["static"]})
    return out


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def markdown(results, args):
    table = models()
    lines = ["# Dynamic shapes: cost against static programs", "",
             "%s; %s; %d rounds x %d runs (warmup %d) per size, dynamic and static "
             "alternating in %d chunks; build/xnnd_timer. "
             "Steady: median of the round medians. First after change: the execute right "
             "after the input takes the size (new: first time, the delegate builds a runtime, "
             "except at the largest size, built when the program was loaded; cached: later "
             "rounds, from the delegate's shape cache)."
             % (cpu_name(), time.strftime("%Y-%m-%d"),
                args.rounds, args.runs, args.warmup, CHUNKS), ""]
    for name in dict.fromkeys(r["model"] for r in results):
        what = table[name][1]
        lines += ["## %s (%s)" % (name, what), "",
                  "| threads | %s | static ms | dynamic ms | dynamic / static | first after "
                  "change, new (ms) | first after change, cached (ms) |" % what,
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for r in results:
            if r["model"] != name:
                continue
            cached = r["first_after_change_cached_ms"]
            lines.append("| %d | %d | %.3f | %.3f | %.3f | %.2f | %s |" % (
                r["threads"], r["size"], r["static_ms"], r["dynamic_ms"], r["ratio"],
                r["first_after_change_new_ms"], "%.3f" % cached if cached is not None else "-"))
        lines.append("")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "bench-results"))
    ap.add_argument("--models", default="resnet18,mobilenet_v2,encoder")
    ap.add_argument("--threads", default="1")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reuse-exports", action="store_true")
    ap.add_argument("--xnnd", default=os.path.join(REPO, "build", "xnnd"),
                    help="toolchain CLI; xnnd_timer is taken from the same folder")
    args = ap.parse_args(argv)
    names = [n for n in args.models.split(",") if n]
    unknown = set(names) - set(models())
    if unknown:
        ap.error("unknown model(s) %s; choose from %s" % (", ".join(sorted(unknown)),
                                                        ", ".join(models())))
    if args.rounds < 2:
        ap.error("--rounds must be at least 2 (round 1 has no cached shape)")
    os.makedirs(args.out, exist_ok=True)
    timer = os.path.join(os.path.dirname(os.path.abspath(args.xnnd)), "xnnd_timer")
    paths = export_all(names, args.out, args.reuse_exports, args.xnnd)
    results = []
    for threads in (int(t) for t in args.threads.split(",")):
        for name in names:
            results += measure_model(name, paths[name], timer, threads, args.rounds,
                                     args.warmup, args.runs)
            print("measured %s at %d thread(s)" % (name, threads), file=sys.stderr, flush=True)
    text = markdown(results, args)
    with open(os.path.join(args.out, "dynamic.md"), "w") as f:
        f.write(text + "\n")
    with open(os.path.join(args.out, "dynamic.json"), "w") as f:
        json.dump({"rounds": args.rounds, "runs": args.runs, "warmup": args.warmup,
                   "results": results}, f, indent=1)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
