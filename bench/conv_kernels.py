#!/usr/bin/env python3
"""xnnd's own convolution kernels against XNNPACK's on the CPU at hand (issue: own kernels only
where they win). A program, not a test.

For mobilenet_v2, resnet18 and resnet50, fp32 and int8, at 1 and 2 threads:
- per layer: the time of xnnd's kernel and of XNNPACK's for every convolution an own kernel can
  take, as the delegate measures them at init (`xnnd inspect --kernels`), and which one runs;
- whole model: the default (own_kernels=auto) against --xnnpack-kernels-only (own_kernels=off)
  and own_kernels=on, timed by build/xnnd_timer interleaved over rounds in several fresh
  processes with rotated load orders (memory placement moves a program's time by a few percent
  per process), and the ratio default / XNNPACK-only (median of the processes' ratios).
Writes conv_kernels.md and conv_kernels.json into --out (default bench-results/).

usage: .venv/bin/python bench/conv_kernels.py [--out DIR] [--models a,b] [--threads 1,2]
                                              [--rounds N] [--runs N] [--processes N]
                                              [--reuse-exports]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYTHON = sys.executable
SPEC = "tests/models/torchvision_random.py:"
MODELS = ("mobilenet_v2", "resnet18", "resnet50")
POLICIES = ("auto", "off", "on")
# Loaded as a second copy of "off" in every process: off_b / off is the noise floor (the same
# configuration timed against itself), printed beside the ratio it qualifies.
CONTROL = "off_b"
LINE = re.compile(r"node +(\d+) +(\S+ conv .+?) +(?:xnnd +([\d.]+) ms +XNNPACK +([\d.]+) ms(?: \(cached\))?)?"
                  r" +-> (xnnd|XNNPACK): (.*)$")


def cpu_header() -> dict[str, str]:
    info = {"model name": "?", "cpu family": "?", "model": "?"}
    flags: set[str] = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            key, _, value = line.partition(":")
            key = key.strip()
            if key in info and info[key] == "?":
                info[key] = value.strip()
            if key == "flags" and not flags:
                flags = set(value.split())
    wanted = ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni")
    return {"cpu": info["model name"], "family": info["cpu family"], "model": info["model"],
            "features": " ".join(f for f in wanted if f in flags),
            "cores": str(os.cpu_count())}


def export(model: str, int8: bool, out: str, xnnd: str, reuse: bool) -> str:
    path = os.path.join(out, "%s%s.pte" % (model, "_int8" if int8 else ""))
    if reuse and os.path.exists(path):
        return path
    cmd = [PYTHON, "-m", "xnnd", "export", SPEC + model, "-o", path, "--seed", "0", "--xnnd", xnnd,
           "--capture", "non-strict"] + (["--quantize", "int8"] if int8 else [])
    subprocess.run(cmd, check=True, cwd=REPO, capture_output=True,
                   env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "python")))
    return path


def layers(xnnd: str, pte: str, threads: int) -> list[dict]:
    """The per-convolution table a fresh process measures at delegate init."""
    p = subprocess.run([xnnd, "inspect", pte, "--kernels", "--threads", str(threads)],
                       check=True, capture_output=True, text=True)
    rows = []
    for line in p.stdout.splitlines():
        m = LINE.search(line)
        if m:
            rows.append({"node": int(m.group(1)), "what": m.group(2).strip(),
                         "xnnd_ms": float(m.group(3)) if m.group(3) else None,
                         "xnnpack_ms": float(m.group(4)) if m.group(4) else None,
                         "runs": m.group(5), "why": m.group(6)})
    return rows


class Timer:
    """build/xnnd_timer serve: one process per thread count."""

    def __init__(self, timer: str) -> None:
        self.proc = subprocess.Popen([timer, "serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)

    def send(self, text: str) -> dict:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if not reply.get("ok"):
            raise RuntimeError("%s: %s" % (text, reply))
        return reply

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def whole_models(timer: str, ptes: dict[str, str], threads: list[int], rounds: int, runs: int,
                 processes: int) -> dict[str, dict]:
    """{"model/T": {policy: ms, "ratio": default / XNNPACK-only}}.

    Where a program's weights and buffers land in memory moves its time by a few percent from
    one process to the next (seen on AMD Zen 4: the same two policies loaded in the other order
    swap which is faster by up to 5%). So each model and thread count gets `processes` fresh
    xnnd_timer processes, each loading the three policies in a rotated order and timing them
    interleaved over `rounds` rounds of `runs` runs (median of the round medians); the figure
    is the median over processes, and the ratio the median of the processes' own ratios. A
    second copy of the XNNPACK-only program (CONTROL) is timed alike: its ratio to the first is
    what the same program measures against itself here (the noise floor)."""
    out: dict[str, dict] = {}
    for t in threads:
        for name, pte in ptes.items():
            names = POLICIES + (CONTROL,)
            per: dict[str, list[float]] = {p: [] for p in names}
            ratios: list[float] = []
            controls: list[float] = []
            for k in range(processes):
                order = names[k % len(names):] + names[:k % len(names)]
                w = Timer(timer)
                try:
                    for pol in order:
                        w.send("option own_kernels=%s" % ("off" if pol == CONTROL else pol))
                        w.send("load %s %d %s" % (pol, t, pte))
                    w.send("option -")
                    med: dict[str, list[float]] = {p: [] for p in names}
                    for r in range(rounds):
                        for pol in (order if r % 2 == 0 else tuple(reversed(order))):
                            times = w.send("measure %s 2 %d" % (pol, runs))["times_ms"]
                            med[pol].append(statistics.median(times))
                finally:
                    w.close()
                m = {p: statistics.median(v) for p, v in med.items()}
                for p in names:
                    per[p].append(m[p])
                ratios.append(m["auto"] / m["off"])
                controls.append(m[CONTROL] / m["off"])
            row: dict = {p: statistics.median(v) for p, v in per.items()}
            row.update(ratio=statistics.median(ratios), control=statistics.median(controls),
                       ratios=ratios, controls=controls)
            out["%s/%d" % (name, t)] = row
            print("%s, %d thread(s): default / XNNPACK-only %.3f (control %.3f)"
                  % (name, t, row["ratio"], row["control"]), file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "bench-results"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--processes", type=int, default=6,
                    help="fresh timer processes per model and thread count (rotated load order)")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--xnnd", default=os.path.join(REPO, "build", "xnnd"))
    ap.add_argument("--reuse-exports", action="store_true")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    timer = os.path.join(os.path.dirname(args.xnnd), "xnnd_timer")
    threads = [int(t) for t in args.threads.split(",")]
    ptes = {}
    for m in args.models.split(","):
        for int8 in (False, True):
            name = m + ("_int8" if int8 else "")
            print("export %s" % name, file=sys.stderr, flush=True)
            ptes[name] = export(m, int8, args.out, args.xnnd, args.reuse_exports)
    per_layer = {"%s/%d" % (n, t): layers(args.xnnd, p, t) for n, p in ptes.items() for t in threads}
    t0 = time.time()
    whole = whole_models(timer, ptes, threads, args.rounds, args.runs, args.processes)
    cpu = cpu_header()
    result = {"cpu": cpu, "rounds": args.rounds, "runs": args.runs, "processes": args.processes,
              "whole": whole,
              "per_layer": per_layer, "seconds": time.time() - t0}
    with open(os.path.join(args.out, "conv_kernels.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = ["# xnnd's convolution kernels against XNNPACK's", "",
          "CPU: %s (family %s, model %s), %s cores; features: %s" % (
              cpu["cpu"], cpu["family"], cpu["model"], cpu["cores"], cpu["features"]), "",
          "## Whole models (ms: median over %d fresh processes, each loading the three policies "
          "in a rotated order, of the median of %d interleaved round medians of %d runs; "
          "ratio: median of the processes' own default / XNNPACK-only ratios)" % (
              args.processes, args.rounds, args.runs), "",
          "| model | threads | default (auto) | XNNPACK only (off) | xnnd wherever it can (on) | "
          "default / XNNPACK only | control: XNNPACK only, second copy / first | "
          "per-process default / XNNPACK only |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for key, d in whole.items():
        name, t = key.split("/")
        md.append("| %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | %s |" % (
            name, t, d["auto"], d["off"], d["on"], d["ratio"], d["control"],
            " ".join("%.3f" % r for r in d["ratios"])))
    md += ["", "## Per convolution (as measured at delegate init; best of 3-9 runs each)", ""]
    for key, rows in per_layer.items():
        md += ["### %s thread(s): %s" % (key.split("/")[1], key.split("/")[0]), "",
               "| node | convolution | xnnd ms | XNNPACK ms | runs | why |",
               "| --- | --- | --- | --- | --- | --- |"]
        for r in rows:
            md.append("| %d | %s | %s | %s | %s | %s |" % (
                r["node"], r["what"], "-" if r["xnnd_ms"] is None else "%.3f" % r["xnnd_ms"],
                "-" if r["xnnpack_ms"] is None else "%.3f" % r["xnnpack_ms"], r["runs"], r["why"]))
        md.append("")
    with open(os.path.join(args.out, "conv_kernels.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md[:8 + len(whole)]))
    print("wrote %s" % os.path.join(args.out, "conv_kernels.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
