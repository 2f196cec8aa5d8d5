"""xnnd benchmark: latency of xnnd against PyTorch on this machine, and toolchain scaling.

Exports each model once, then measures every (model, engine, threads) configuration in
interleaved rounds: each round runs a short batch of every configuration in turn (rotating the
start), so machine noise hits all alike. A configuration's median is the median of its
per-round medians; its min is the min over all iterations. xnnd runs through `xnnd run`, one
process per round; PyTorch runs in one long-lived worker per thread count (torch_peers.py).
Writes results.csv, results.json and chart.png to the output directory; progress to stderr.

Run through scripts/bench (which builds first); see bench/README.md.
"""

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import lowering_scaling  # noqa: E402
import models  # noqa: E402
from torch_peers import ENGINES as TORCH_ENGINES  # noqa: E402

PYTHON = sys.executable  # .venv/bin/python (scripts/bench)
EXPORT_TIMEOUT_S = 900
RUN_TIMEOUT_S = 600
INT8_NA = "n/a (int8 export not available)"

ENGINE_LABELS = dict(TORCH_ENGINES)
ENGINE_LABELS.update({
    "xnnd": "xnnd (XNNPACK delegate)",
    "xnnd-int8": "xnnd int8",
    "xnnd-no-pointwise": "xnnd, pointwise-affine pass off",
})

RUN_RE = re.compile(r"latency over (\d+) runs \((\d+) threads?\): min ([0-9.]+) ms, "
                    r"median ([0-9.]+) ms")
LOAD_RE = re.compile(r"load: ([0-9.]+) ms, init \(delegates\): ([0-9.]+) ms")


def progress(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def last_error_line(text):
    """The most telling line of a failed tool's stderr: its `xnnd ...:` line, else the last."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("xnnd"):
            return ln
    return lines[-1] if lines else "(no message)"


def upper_median(values):
    """The median `xnnd run` prints (sorted[n/2]), so both sides summarize rounds alike."""
    s = sorted(values)
    return s[len(s) // 2]


class Config:
    """One measured (model, engine, threads). status: ok, failed, n/a, skipped."""

    def __init__(self, model, engine, threads):
        self.model = model
        self.engine = engine
        self.threads = threads
        self.status = "ok"
        self.note = ""
        self.pte = None              # xnnd engines
        self.round_medians = []
        self.round_mins = []
        self.samples = []            # PyTorch only: every timed iteration
        self.load_ms = []            # xnnd only, per round
        self.init_ms = []

    @property
    def key(self):
        return "%s/%s/%dT" % (self.model.name, self.engine, self.threads)

    @property
    def is_xnnd(self):
        return self.engine.startswith("xnnd")

    def fail(self, status, note):
        self.status = status
        self.note = note

    def median(self):
        return statistics.median(self.round_medians) if self.round_medians else None

    def minimum(self):
        return min(self.round_mins) if self.round_mins else None


# ---------------------------------------------------------------- export


class Exporter:
    """Runs `python3 -m xnnd export` / `xnnd lower` once per artifact into OUT/models/."""

    def __init__(self, xnnd, out_dir):
        self.xnnd = xnnd
        self.dir = os.path.join(out_dir, "models")
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
        self._help = None

    def supports_int8(self):
        if self._help is None:
            p = subprocess.run([PYTHON, "-m", "xnnd", "export", "--help"], cwd=REPO,
                               env=self.env, capture_output=True, text=True)
            self._help = p.stdout + p.stderr
        return "--quantize" in self._help

    def _run(self, cmd, stem):
        """Runs cmd, saving stdout (the report) and stderr; returns an error string or None."""
        progress("  $ " + " ".join(cmd))
        try:
            p = subprocess.run(cmd, cwd=REPO, env=self.env, capture_output=True, text=True,
                               timeout=EXPORT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return "timed out after %d s" % EXPORT_TIMEOUT_S
        with open(os.path.join(self.dir, stem + ".report"), "w") as f:
            f.write(p.stdout)
        with open(os.path.join(self.dir, stem + ".log"), "w") as f:
            f.write(p.stderr)
        if p.returncode != 0:
            return "exit %d: %s" % (p.returncode, last_error_line(p.stderr))
        return None

    def export(self, spec, stem, extra=()):
        """Path of STEM.pte, or raises RuntimeError with the exporter's message."""
        out = os.path.join(self.dir, stem + ".pte")
        cmd = [PYTHON, "-m", "xnnd", "export", spec, "-o", out, "--seed", "0", "--report",
               "--xnnd", self.xnnd] + list(extra)
        err = self._run(cmd, stem)
        if err:
            raise RuntimeError("export failed: " + err)
        return out

    def lower(self, plain, stem, disable=()):
        out = os.path.join(self.dir, stem + ".pte")
        cmd = [self.xnnd, "lower", plain, "-o", out, "--report"]
        for p in disable:
            cmd += ["--disable", p]
        err = self._run(cmd, stem)
        if err:
            raise RuntimeError("lower failed: " + err)
        return out


def export_models(model_list, exporter):
    """{(model name, engine): .pte path or exception}; each artifact is built once."""
    artifacts = {}
    int8 = None
    for m in model_list:
        if m.needs and not os.path.exists(os.path.join(REPO, m.needs)):
            continue
        plain = None
        for engine, how in m.xnnd:
            progress("export %s (%s)" % (m.name, engine))
            try:
                if how == "export":
                    artifacts[(m.name, engine)] = exporter.export(m.spec, m.name)
                elif how == "export-int8":
                    if int8 is None:
                        int8 = exporter.supports_int8()
                    if not int8:
                        artifacts[(m.name, engine)] = NotImplementedError(INT8_NA)
                        continue
                    artifacts[(m.name, engine)] = exporter.export(
                        m.spec, m.name, ["--quantize", "int8"])
                elif how in ("lower", "lower-no-pointwise"):
                    if plain is None:
                        try:
                            plain = exporter.export(m.spec, m.name + ".plain", ["--no-delegate"])
                        except RuntimeError as e:
                            plain = e
                    if isinstance(plain, Exception):
                        raise plain
                    disable = [models.POINTWISE_PASS] if how == "lower-no-pointwise" else []
                    artifacts[(m.name, engine)] = exporter.lower(plain, m.name + "." + engine,
                                                                 disable)
                else:
                    raise ValueError("unknown xnnd variant %r" % how)
            except Exception as e:
                progress("  %s" % e)
                artifacts[(m.name, engine)] = e
    return artifacts


# ---------------------------------------------------------------- engines


class TorchWorker:
    """A torch_peers.py process with a fixed thread count."""

    def __init__(self, threads):
        env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
        if threads > 1:
            env["OMP_WAIT_POLICY"] = "passive"
        self.threads = threads
        self.proc = subprocess.Popen(
            [PYTHON, os.path.join(BENCH, "torch_peers.py"), "--threads", str(threads)],
            cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = self.request({"cmd": "info"})

    def request(self, req):
        if self.proc.poll() is not None:
            raise RuntimeError("PyTorch worker (%d threads) exited with %d"
                               % (self.threads, self.proc.returncode))
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("PyTorch worker (%d threads) died (exit %s)"
                               % (self.threads, self.proc.wait()))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "unknown error"))
        return reply

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def xnnd_round(xnnd, cfg, warmup, iters):
    cmd = [xnnd, "run", cfg.pte, "--iters", str(iters), "--warmup", str(warmup),
           "--threads", str(cfg.threads)]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    if p.returncode != 0:
        raise RuntimeError("xnnd run exit %d: %s" % (p.returncode, last_error_line(p.stderr)))
    m = RUN_RE.search(p.stdout)
    if not m:
        raise RuntimeError("could not parse `xnnd run` output: %s" % p.stdout.strip()[-200:])
    cfg.round_mins.append(float(m.group(3)))
    cfg.round_medians.append(float(m.group(4)))
    lm = LOAD_RE.search(p.stdout)
    if lm:
        cfg.load_ms.append(float(lm.group(1)))
        cfg.init_ms.append(float(lm.group(2)))


def torch_round(worker, cfg, warmup, iters):
    times = worker.request({"cmd": "measure", "id": cfg.key, "warmup": warmup,
                            "iters": iters})["times_ms"]
    cfg.samples += times
    cfg.round_medians.append(upper_median(times))
    cfg.round_mins.append(min(times))


# ---------------------------------------------------------------- the run


def make_configs(model_list, threads, artifacts):
    configs = []
    for m in model_list:
        missing = m.needs and not os.path.exists(os.path.join(REPO, m.needs))
        for t in threads:
            for engine, _ in m.xnnd:
                c = Config(m, engine, t)
                art = artifacts.get((m.name, engine))
                if missing:
                    c.fail("skipped", "skipped: %s not present" % m.needs)
                elif isinstance(art, NotImplementedError):
                    c.fail("n/a", str(art))
                elif isinstance(art, Exception):
                    c.fail("failed", str(art))
                else:
                    c.pte = art
                configs.append(c)
            for engine in m.peers:
                c = Config(m, engine, t)
                if missing:
                    c.fail("skipped", "skipped: %s not present" % m.needs)
                configs.append(c)
    return configs


def measure_all(configs, args, workers):
    for c in configs:
        if c.is_xnnd or c.status != "ok":
            continue
        progress("prepare %s" % c.key)
        try:
            r = workers[c.threads].request({"cmd": "prepare", "id": c.key, "spec": c.model.spec,
                                            "engine": c.engine, "seed": 0})
            progress("  ready in %.1f s" % r["setup_s"])
        except Exception as e:
            c.fail("failed", str(e))
            progress("  failed: %s" % e)
    active = [c for c in configs if c.status == "ok"]
    per_round = max(1, math.ceil(args.runs / args.rounds))
    started = time.time()
    for r in range(args.rounds):
        warmup = args.warmup if r == 0 else min(args.warmup, 1)
        live = [c for c in active if c.status == "ok"]
        if not live:
            break
        shift = r % len(live)
        for c in live[shift:] + live[:shift]:
            try:
                if c.is_xnnd:
                    xnnd_round(args.xnnd, c, warmup, per_round)
                else:
                    torch_round(workers[c.threads], c, warmup, per_round)
                progress("round %d/%d  %-40s median %8.3f ms" % (
                    r + 1, args.rounds, c.key, c.round_medians[-1]))
            except Exception as e:
                c.fail("failed", str(e))
                progress("round %d/%d  %-40s failed: %s" % (r + 1, args.rounds, c.key, e))
        elapsed = time.time() - started
        progress("round %d/%d done, %.0f s so far, about %.0f s to go" % (
            r + 1, args.rounds, elapsed, elapsed / (r + 1) * (args.rounds - r - 1)))
    return per_round


# ---------------------------------------------------------------- results


def result_rows(configs):
    """One dict per config with ratios against its row's reference (first xnnd variant)."""
    ref = {}
    for c in configs:
        k = (c.model.name, c.threads)
        if k not in ref and c.is_xnnd:
            ref[k] = c
    rows = []
    for c in configs:
        base = ref.get((c.model.name, c.threads))
        med = c.median() if c.status == "ok" else None
        bmed = base.median() if base is not None and base.status == "ok" else None
        ratio = med / bmed if med and bmed and c is not base else None
        rows.append({
            "model": c.model.name, "precision": c.model.precision, "threads": c.threads,
            "engine": c.engine, "engine_label": ENGINE_LABELS.get(c.engine, c.engine),
            "status": c.status,
            "median_ms": med, "min_ms": c.minimum() if c.status == "ok" else None,
            "rounds": len(c.round_medians),
            "round_medians_ms": c.round_medians,
            "pooled_median_ms": statistics.median(c.samples) if c.samples else None,
            "load_ms": statistics.median(c.load_ms) if c.load_ms else None,
            "init_ms": statistics.median(c.init_ms) if c.init_ms else None,
            "reference": base.engine if base is not None else None,
            "peer_over_xnnd": ratio, "xnnd_over_peer": 1.0 / ratio if ratio else None,
            "note": c.note,
        })
    return rows


def _fmt(v, spec="%.3f"):
    return "-" if v is None else spec % v


def format_table(rows):
    head = "%-19s %-4s %3s  %-18s %10s %10s %9s %9s" % (
        "model", "prec", "thr", "engine", "median ms", "min ms", "peer/xnnd", "xnnd/peer")
    lines = [head, "-" * len(head)]
    prev = None
    for r in rows:
        group = (r["model"], r["threads"])
        if prev is not None and group[0] != prev[0]:
            lines.append("")
        first = group != prev
        prev = group
        left = "%-19s %-4s %3d" % (r["model"], r["precision"], r["threads"]) if first \
            else "%-19s %-4s %3s" % ("", "", "")
        if r["status"] != "ok":
            note = r["note"] if len(r["note"]) <= 90 else r["note"][:87] + "..."
            lines.append("%s  %-18s %s" % (left, r["engine"], note))
            continue
        lines.append("%s  %-18s %10s %10s %9s %9s" % (
            left, r["engine"], _fmt(r["median_ms"]), _fmt(r["min_ms"]),
            _fmt(r["peer_over_xnnd"], "%.2fx"), _fmt(r["xnnd_over_peer"], "%.2f")))
    return "\n".join(lines)


CSV_FIELDS = ["model", "precision", "threads", "engine", "status", "median_ms", "min_ms",
              "rounds", "peer_over_xnnd", "xnnd_over_peer", "pooled_median_ms", "load_ms",
              "init_ms", "reference", "note"]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("%.4f" % v if isinstance(v, float) else v)
                        for k, v in r.items()})


CHART_COLORS = {"xnnd": "#1f77b4", "xnnd-no-pointwise": "#9ecae1", "xnnd-int8": "#08306b",
                "torch-eager": "#d62728", "torch-mobile": "#ff7f0e",
                "torch-int8-qnnpack": "#2ca02c"}


def _bar_label(ms):
    return "%.0f" % ms if ms >= 100 else "%.3g" % ms


def draw_chart(path, rows, threads):
    """Grouped bars of medians (log scale), one panel per thread count, one group per model
    with a slot per engine the model has; gaps are labelled with their status. Returns False
    when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        return False
    model_names, engines_of, all_engines = [], {}, []
    for r in rows:
        if r["model"] not in engines_of:
            model_names.append(r["model"])
            engines_of[r["model"]] = []
        if r["engine"] not in engines_of[r["model"]]:
            engines_of[r["model"]].append(r["engine"])
        if r["engine"] not in all_engines:
            all_engines.append(r["engine"])
    by_key = {(r["model"], r["engine"], r["threads"]): r for r in rows}
    timed = [r["median_ms"] for r in rows if r["median_ms"]]
    fig, axes = plt.subplots(len(threads), 1, figsize=(12, 3.8 * len(threads) + 0.8),
                             squeeze=False)
    for ax, t in zip(axes[:, 0], threads):
        for i, mname in enumerate(model_names):
            engines = engines_of[mname]
            width = 0.8 / len(engines)
            for j, e in enumerate(engines):
                x = i - 0.4 + width * (j + 0.5)
                r = by_key.get((mname, e, t))
                if r is None:
                    continue
                if r["median_ms"]:
                    ax.bar(x, r["median_ms"], width * 0.95, color=CHART_COLORS.get(e, "gray"))
                    ax.annotate(_bar_label(r["median_ms"]), (x, r["median_ms"]), ha="center",
                                va="bottom", fontsize=7, xytext=(0, 2),
                                textcoords="offset points")
                else:
                    ax.text(x, 0.03, r["status"], rotation=90, ha="center", va="bottom",
                            fontsize=7, color="gray", transform=ax.get_xaxis_transform())
        ax.set_yscale("log")
        if timed:
            ax.set_ylim(min(timed) / 2, max(timed) * 2.5)
        ax.set_xlim(-0.5, len(model_names) - 0.5)
        ax.set_xticks(range(len(model_names)))
        ax.set_xticklabels(model_names, fontsize=9)
        ax.set_ylabel("median latency, ms (log)")
        ax.set_title("%d thread%s" % (t, "s" if t > 1 else ""), fontsize=10)
        ax.grid(axis="y", which="both", alpha=0.3)
    handles = [Patch(color=CHART_COLORS.get(e, "gray"), label=ENGINE_LABELS.get(e, e))
               for e in all_engines]
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("xnnd vs PyTorch, batch 1, on this machine (lower is better)", fontsize=11)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def machine_info():
    info = {"platform": platform.platform(), "nproc": os.cpu_count(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        info["git_head"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                          capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    return info


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/bench", description="xnnd against PyTorch on this machine "
        "(eager, optimize_for_mobile, qnnpack int8) at each thread count, plus toolchain "
        "scaling. Model names: " + ", ".join(m.name for m in models.MODELS) + ".")
    p.add_argument("--runs", type=int, default=40, help="timed iterations per configuration "
                   "(default %(default)s), spread over the rounds")
    p.add_argument("--warmup", type=int, default=5, help="untimed iterations before the first "
                   "round (default %(default)s); later rounds warm up with 1")
    p.add_argument("--rounds", type=int, default=8, help="interleaved rounds "
                   "(default %(default)s)")
    p.add_argument("--models", default="", help="comma-separated subset (default: all)")
    p.add_argument("--threads", default="1,2", help="thread counts (default %(default)s)")
    p.add_argument("--out", default="bench-results", help="output directory "
                   "(default %(default)s)")
    p.add_argument("--xnnd", default=os.path.join("build", "xnnd"), help="the CLI "
                   "(default %(default)s)")
    p.add_argument("--skip-scaling", action="store_true", help="skip the toolchain scaling run")
    p.add_argument("--scaling-sizes", default="10000,20000,40000")
    p.add_argument("--scaling-repeat", type=int, default=3, help="best of N compiles per size "
                   "(default %(default)s)")
    args = p.parse_args(argv)
    if args.runs < 1 or args.rounds < 1 or args.warmup < 0:
        p.error("--runs and --rounds must be >= 1, --warmup >= 0")
    try:
        args.model_list = models.by_name([s for s in args.models.split(",") if s])
    except KeyError as e:
        p.error("unknown model %s (known: %s)" % (e, ", ".join(m.name for m in models.MODELS)))
    args.thread_list = [int(s) for s in args.threads.split(",") if s]
    return args


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    if not os.access(args.xnnd, os.X_OK):
        print("bench: %s not found; run ./scripts/build first" % args.xnnd, file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    # A private copy: build/ is shared, and a rebuild in the middle of a run would mix binaries.
    snapshot = os.path.join(args.out, "xnnd")
    shutil.copy2(args.xnnd, snapshot)
    args.xnnd = snapshot
    t_start = time.time()
    info = machine_info()
    info["loadavg_start"] = os.getloadavg()
    if info["loadavg_start"][0] > 0.5:
        progress("warning: load average %.2f: other work on this machine will skew the numbers"
                 % info["loadavg_start"][0])

    progress("exporting %d model(s)" % len(args.model_list))
    artifacts = export_models(args.model_list, Exporter(args.xnnd, args.out))
    configs = make_configs(args.model_list, args.thread_list, artifacts)

    workers = {}
    try:
        for t in args.thread_list:
            workers[t] = TorchWorker(t)
            progress("PyTorch worker: %s" % workers[t].info)
        per_round = measure_all(configs, args, workers)
    finally:
        for w in workers.values():
            w.close()
    info["loadavg_end"] = os.getloadavg()
    if workers:
        winfo = next(iter(workers.values())).info
        info["torch"] = winfo.get("torch")
        info["torch_blas"] = winfo.get("blas")

    rows = result_rows(configs)
    table = format_table(rows)
    print("\nlatency, batch 1, medians of %d rounds x %d iterations (after %d warm-up), "
          "peer/xnnd > 1 means xnnd is faster:\n" % (args.rounds, per_round, args.warmup))
    print(table)
    if info.get("torch"):
        print("\nPyTorch %s, BLAS %s; load average %.2f at start, %.2f at end"
              % (info["torch"], info.get("torch_blas"), info["loadavg_start"][0],
                 info["loadavg_end"][0]))

    scaling = None
    if not args.skip_scaling:
        progress("toolchain scaling")
        sizes = [int(s) for s in args.scaling_sizes.split(",") if s]
        scaling = lowering_scaling.run(args.xnnd, sizes, max(1, args.scaling_repeat))
        print("\ntoolchain scaling: xnnd compile of synthetic conv/relu/add chains "
              "(best of %d):\n" % scaling["repeat"])
        print(lowering_scaling.format_table(scaling))

    write_csv(os.path.join(args.out, "results.csv"), rows)
    chart = os.path.join(args.out, "chart.png")
    drew = draw_chart(chart, rows, args.thread_list)
    info["total_s"] = time.time() - t_start
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": info, "settings": {
            "runs": args.runs, "rounds": args.rounds, "iters_per_round": per_round,
            "warmup": args.warmup, "threads": args.thread_list,
            "median": "median over rounds of each round's sorted[n/2]"},
            "results": rows, "scaling": scaling}, f, indent=2)
    print("\nwrote %s/results.csv, results.json%s (%.0f s total)" % (
        args.out, ", chart.png" if drew else "", info["total_s"]))
    if not drew:
        progress("chart skipped: matplotlib is not installed (python3-matplotlib)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
