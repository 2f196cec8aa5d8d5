#!/usr/bin/env python3
"""xnnd's own convolution kernels against XNNPACK's on the CPU at hand (issue: own kernels only
where they win). A program, not a test.

For mobilenet_v2, resnet18 and resnet50, fp32 and int8, at 1 and 2 threads:
- per layer: the time of xnnd's kernel and of XNNPACK's for every convolution an own kernel can
  take, as the delegate measures them at init (`xnnd inspect --kernels`), and which one runs;
- whole model: the default (own_kernels=auto) against --xnnpack-kernels-only (own_kernels=off)
  and own_kernels=on, timed by build/xnnd_timer interleaved over rounds (median of the round
  medians), and the ratio default / XNNPACK-only.
Writes conv_kernels.md and conv_kernels.json into --out (default bench-results/).

usage: .venv/bin/python bench/conv_kernels.py [--out DIR] [--models a,b] [--threads 1,2]
                                              [--rounds N] [--runs N] [--reuse-exports]
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


def whole_models(timer: str, ptes: dict[str, str], threads: list[int], rounds: int,
                 runs: int) -> dict[str, dict[str, float]]:
    """{"model/T": {policy: median of round medians (ms)}}, policies interleaved per round."""
    medians: dict[str, dict[str, list[float]]] = {}
    workers = {t: Timer(timer) for t in threads}
    try:
        for t, w in workers.items():
            for name, pte in ptes.items():
                for pol in POLICIES:
                    w.send("option own_kernels=%s" % pol)
                    w.send("load %s/%d/%s %d %s" % (name, t, pol, t, pte))
                    medians.setdefault("%s/%d" % (name, t), {})[pol] = []
            w.send("option -")
        for r in range(rounds):
            for t, w in workers.items():
                for name in ptes:
                    order = POLICIES if r % 2 == 0 else tuple(reversed(POLICIES))
                    for pol in order:
                        times = w.send("measure %s/%d/%s 2 %d" % (name, t, pol, runs))["times_ms"]
                        medians["%s/%d" % (name, t)][pol].append(statistics.median(times))
            print("round %d/%d done" % (r + 1, rounds), file=sys.stderr, flush=True)
    finally:
        for w in workers.values():
            w.close()
    return {k: {p: statistics.median(v) for p, v in d.items()} for k, d in medians.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "bench-results"))
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=6)
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
    whole = whole_models(timer, ptes, threads, args.rounds, args.runs)
    cpu = cpu_header()
    result = {"cpu": cpu, "rounds": args.rounds, "runs": args.runs, "whole": whole,
              "per_layer": per_layer, "seconds": time.time() - t0}
    with open(os.path.join(args.out, "conv_kernels.json"), "w") as f:
        json.dump(result, f, indent=1)
    md = ["# xnnd's convolution kernels against XNNPACK's", "",
          "CPU: %s (family %s, model %s), %s cores; features: %s" % (
              cpu["cpu"], cpu["family"], cpu["model"], cpu["cores"], cpu["features"]), "",
          "## Whole models (median of %d interleaved round medians of %d runs, ms)" % (
              args.rounds, args.runs), "",
          "| model | threads | default (auto) | XNNPACK only (off) | xnnd wherever it can (on) | "
          "default / XNNPACK only |", "| --- | --- | --- | --- | --- | --- |"]
    for key, d in whole.items():
        name, t = key.split("/")
        md.append("| %s | %s | %.3f | %.3f | %.3f | %.3f |" % (name, t, d["auto"], d["off"], d["on"],
                                                              d["auto"] / d["off"]))
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
