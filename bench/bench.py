"""xnnd benchmark: xnnd against ExecuTorch, ONNX Runtime, LiteRT and PyTorch on this machine.

1. Export: every engine builds its artifact from the same spec and seed (xnnd: `python -m xnnd
   export`; the peers: bench/worker.py export, one process per artifact, bench/peer_*.py).
   PyTorch eager writes the reference inputs/outputs and counts the model's FLOPs.
2. Cold start: load + first execute and peak RSS of xnnd and ExecuTorch, each in fresh
   processes (bench/xnnd_timer cold, worker.py cold).
3. Latency: one long-lived timing process per (engine, thread count) (xnnd_timer serve,
   worker.py serve) loads every artifact once; then interleaved rounds run a short batch of
   every configuration in turn, rotating the start, so machine noise hits all alike. A
   configuration's median is the median of its per-round medians.
4. Report: results.md (tables), results.json, results.csv and PNG charts in --out.

A step that fails for one engine on one model is recorded with its error; the run goes on.
Run through scripts/bench (which builds and installs the peers first); see bench/README.md.
"""

import argparse
import csv
import datetime
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import models  # noqa: E402
import report  # noqa: E402

PYTHON = sys.executable  # .venv/bin/python (scripts/bench)
EXPORT_TIMEOUT_S = 1800
RUN_TIMEOUT_S = 1200
PEERS = ["executorch", "onnxruntime", "litert", "torch"]
ARTIFACT_EXT = {"executorch": "pte", "onnxruntime": "onnx", "litert": "tflite"}
COLD_ENGINES = ("xnnd", "executorch")
# xnnd's runtime on ExecuTorch's own .pte (issue 20): an xnnd variant, timed by xnnd_timer.
ET_PTE_ENGINE = "xnnd-et-pte"


def progress(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def last_error_line(text):
    """The most telling line of a failed tool's stderr: its `xnnd ...:` or `...Error:` line,
    else the last."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if ln.startswith("xnnd") or "Error:" in ln:
            return ln[:300]
    return lines[-1][:300] if lines else "(no message)"


def upper_median(values):
    """sorted[n/2], the median `xnnd run` prints; both sides summarize rounds alike."""
    s = sorted(values)
    return s[len(s) // 2]


def env_for(threads=1):
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "python"))
    if threads > 1:
        env["OMP_WAIT_POLICY"] = "passive"
    return env


class Config:
    """One measured (model, engine, threads). status: ok, failed, n/a."""

    def __init__(self, model, engine, threads, artifact):
        self.model = model
        self.engine = engine
        self.threads = threads
        self.artifact = artifact       # path, or an Exception (export failed / unavailable)
        self.status = "ok"
        self.note = ""
        self.round_medians = []
        self.round_mins = []
        self.samples = []
        self.load_ms = None
        self.first_ms = None
        self.check = None
        self.cold = []
        if isinstance(artifact, Exception):
            self.fail("n/a" if isinstance(artifact, NotImplementedError) else "failed",
                      str(artifact))

    @property
    def key(self):
        return "%s/%s/%dT" % (self.model.name, self.engine, self.threads)

    @property
    def peer(self):
        """The peer module name (xnnd variants are all 'xnnd')."""
        return "xnnd" if self.engine.startswith("xnnd") else self.engine

    def fail(self, status, note):
        self.status = status
        self.note = note

    def median(self):
        return statistics.median(self.round_medians) if self.round_medians else None


# ---------------------------------------------------------------- export


def run_logged(cmd, log, timeout, env=None):
    """Runs cmd with stdout+stderr to log; (returncode, stdout text, stderr text)."""
    progress("  $ " + " ".join(cmd if len(" ".join(cmd)) < 300 else cmd[:6] + ["..."]))
    try:
        p = subprocess.run(cmd, cwd=REPO, env=env or env_for(), capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, "", "timed out after %d s" % timeout
    with open(log, "w") as f:
        f.write("$ %s\n--- stdout\n%s\n--- stderr\n%s" % (" ".join(cmd), p.stdout, p.stderr))
    return p.returncode, p.stdout, p.stderr


class Exporter:
    """Builds every artifact once into OUT/models/."""

    def __init__(self, xnnd, out_dir, reuse=False):
        self.xnnd = xnnd
        self.reuse = reuse
        self.dir = os.path.join(out_dir, "models")
        os.makedirs(self.dir, exist_ok=True)
        self.refs = {}      # spec -> (npz path, flops) or Exception
        self.plain = {}

    def reference(self, model):
        """PyTorch's reference inputs/outputs and FLOP count for the model's spec."""
        if model.spec not in self.refs:
            stem = model.spec.replace("/", "_").replace(":", "_").replace(".py", "")
            path = os.path.join(self.dir, stem + ".ref.npz")
            try:
                reply = self.peer_export("torch", model, path)
                self.refs[model.spec] = (path, reply.get("flops"))
            except RuntimeError as e:
                self.refs[model.spec] = e
        ref = self.refs[model.spec]
        if isinstance(ref, Exception):
            raise ref
        return ref

    def peer_export(self, peer, model, path):
        if self.reuse and os.path.exists(path) and os.path.exists(path + ".json"):
            with open(path + ".json") as f:
                return json.load(f)
        desc = json.dumps({"name": model.name, "spec": model.spec, "precision": model.precision})
        cmd = [PYTHON, os.path.join(BENCH, "worker.py"), "export", "--peer", peer, "--model",
               desc, "--out", path]
        rc, out, err = run_logged(cmd, path + ".log", EXPORT_TIMEOUT_S)
        try:
            reply = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            reply = {"ok": False, "error": "exit %d: %s" % (rc, last_error_line(err))}
        if not reply.get("ok"):
            raise RuntimeError("export failed: " + reply.get("error", "?"))
        with open(path + ".json", "w") as f:
            json.dump(reply, f)
        return reply

    def xnnd_export(self, spec, stem, extra=()):
        out = os.path.join(self.dir, stem + ".pte")
        if self.reuse and os.path.exists(out):
            return out
        cmd = [PYTHON, "-m", "xnnd", "export", spec, "-o", out, "--seed", "0", "--report",
               "--xnnd", self.xnnd] + list(extra)
        rc, _, err = run_logged(cmd, os.path.join(self.dir, stem + ".log"), EXPORT_TIMEOUT_S)
        if rc != 0:
            raise RuntimeError("xnnd export failed: exit %d: %s" % (rc, last_error_line(err)))
        return out

    def xnnd_variant(self, model, how):
        if how == "export":
            return self.xnnd_export(model.spec, model.name + ".xnnd")
        if how == "export-int8":
            return self.xnnd_export(model.spec, model.name + ".xnnd", ["--quantize", "int8"])
        if how in ("lower", "lower-no-pointwise"):
            if model.name not in self.plain:
                try:
                    self.plain[model.name] = self.xnnd_export(
                        model.spec, model.name + ".plain", ["--no-delegate"])
                except RuntimeError as e:
                    self.plain[model.name] = e
            plain = self.plain[model.name]
            if isinstance(plain, Exception):
                raise plain
            stem = "%s.%s" % (model.name, how)
            out = os.path.join(self.dir, stem + ".pte")
            if self.reuse and os.path.exists(out):
                return out
            cmd = [self.xnnd, "lower", plain, "-o", out, "--report"]
            if how == "lower-no-pointwise":
                cmd += ["--disable", models.POINTWISE_PASS]
            rc, _, err = run_logged(cmd, os.path.join(self.dir, stem + ".log"), EXPORT_TIMEOUT_S)
            if rc != 0:
                raise RuntimeError("xnnd lower failed: exit %d: %s" % (rc, last_error_line(err)))
            return out
        raise ValueError("unknown xnnd variant %r" % how)


def export_all(model_list, peer_list, exporter):
    """{(model name, engine): artifact path or Exception}, and {model name: (ref, flops)}."""
    artifacts, refs = {}, {}
    for m in model_list:
        progress("export %s (%s)" % (m.name, m.precision))
        try:
            refs[m.name] = exporter.reference(m)
        except RuntimeError as e:
            refs[m.name] = e
            progress("  reference failed: %s" % e)
        for engine, how in m.xnnd:
            try:
                artifacts[(m.name, engine)] = exporter.xnnd_variant(m, how)
            except Exception as e:
                progress("  %s" % e)
                artifacts[(m.name, engine)] = e
        for peer in m.peers:
            if peer not in peer_list:
                continue
            why = importlib.import_module("peer_" + peer).unavailable()
            if why:
                artifacts[(m.name, peer)] = NotImplementedError(why)
                continue
            if isinstance(refs[m.name], Exception):
                artifacts[(m.name, peer)] = RuntimeError("no reference: %s" % refs[m.name])
                continue
            if peer == "torch":
                artifacts[(m.name, peer)] = m.spec
                continue
            path = os.path.join(exporter.dir, "%s.%s.%s" % (m.name, peer, ARTIFACT_EXT[peer]))
            try:
                exporter.peer_export(peer, m, path)
                artifacts[(m.name, peer)] = path
            except RuntimeError as e:
                progress("  %s: %s" % (peer, e))
                artifacts[(m.name, peer)] = e
        if (m.name, "executorch") in artifacts:
            # The very .pte ExecuTorch's runtime times, run by xnnd's runtime (it loads ET12).
            artifacts[(m.name, ET_PTE_ENGINE)] = artifacts[(m.name, "executorch")]
    return artifacts, refs


# ---------------------------------------------------------------- timing processes


class Worker:
    """A long-lived timing process with a fixed thread count: xnnd_timer serve (text commands)
    or worker.py serve (JSON). Both reply one JSON object per line."""

    def __init__(self, engine, threads, cmd, text_protocol):
        self.engine = engine
        self.threads = threads
        self.text = text_protocol
        self.log = None
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env_for(threads), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        self.info = {} if text_protocol else self._reply()

    def _reply(self):
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("%s worker (%d threads) died (exit %s)"
                               % (self.engine, self.threads, self.proc.wait()))
        reply = json.loads(line)
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", "unknown error"))
        return reply

    def _send(self, text):
        if self.proc.poll() is not None:
            raise RuntimeError("%s worker (%d threads) exited with %d"
                               % (self.engine, self.threads, self.proc.returncode))
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        return self._reply()

    def load(self, cfg, ref):
        if self.text:
            return self._send("load %s %d %s" % (cfg.key, cfg.threads, cfg.artifact))
        return self._send(json.dumps({
            "cmd": "load", "id": cfg.key, "artifact": cfg.artifact, "ref": ref,
            "model": {"name": cfg.model.name, "spec": cfg.model.spec,
                      "precision": cfg.model.precision}}))

    def measure(self, cfg, warmup, iters):
        if self.text:
            return self._send("measure %s %d %d" % (cfg.key, warmup, iters))["times_ms"]
        return self._send(json.dumps({"cmd": "measure", "id": cfg.key, "warmup": warmup,
                                      "iters": iters}))["times_ms"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n" if self.text else '{"cmd": "quit"}\n')
                self.proc.stdin.close()
                self.proc.wait(timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def start_worker(engine, threads, timer):
    if engine == "xnnd":
        return Worker(engine, threads, [timer, "serve"], True)
    return Worker(engine, threads, [PYTHON, os.path.join(BENCH, "worker.py"), "serve", "--peer",
                                    engine, "--threads", str(threads)], False)


def cold_start(cfg, ref, timer, repeat):
    """Load + first execute and peak RSS in fresh processes; the medians go to cfg.cold."""
    runs = []
    for _ in range(repeat):
        if cfg.peer == "xnnd":
            cmd = [timer, "cold", cfg.artifact, str(cfg.threads)]
        else:
            cmd = [PYTHON, os.path.join(BENCH, "worker.py"), "cold", "--peer", cfg.peer,
                   "--threads", str(cfg.threads), "--artifact", cfg.artifact, "--ref", ref,
                   "--model", json.dumps({"name": cfg.model.name, "spec": cfg.model.spec,
                                          "precision": cfg.model.precision})]
        p = subprocess.run(cmd, cwd=REPO, env=env_for(cfg.threads), capture_output=True,
                           text=True, timeout=RUN_TIMEOUT_S)
        try:
            reply = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            reply = {"ok": False, "error": "exit %d: %s" % (p.returncode,
                                                            last_error_line(p.stderr))}
        if not reply.get("ok"):
            return {"error": reply.get("error")}
        runs.append(reply)
    med = {k: statistics.median(r[k] for r in runs)
           for k in ("load_ms", "first_ms", "hwm_before_kb", "hwm_kb")}
    med["create_ms"] = statistics.median(r.get("create_ms", 0.0) for r in runs)
    # xnnd's "load" is file mapping + method creation (delegate init); ExecuTorch's
    # load_program + load_method does the same work.
    med["load_total_ms"] = med["load_ms"] + med["create_ms"]
    med["load_first_ms"] = med["load_total_ms"] + med["first_ms"]
    med["repeat"] = repeat
    return med


# ---------------------------------------------------------------- the run


def make_configs(model_list, threads, artifacts, peer_list):
    configs = []
    for m in model_list:
        if m.needs and not os.path.exists(os.path.join(REPO, m.needs)):
            continue
        for t in threads:
            for engine, _ in m.xnnd:
                configs.append(Config(m, engine, t, artifacts[(m.name, engine)]))
            for peer in m.peers:
                if peer in peer_list:
                    configs.append(Config(m, peer, t, artifacts[(m.name, peer)]))
            if (m.name, ET_PTE_ENGINE) in artifacts:
                configs.append(Config(m, ET_PTE_ENGINE, t, artifacts[(m.name, ET_PTE_ENGINE)]))
    return configs


def load_all(configs, workers, refs):
    for c in configs:
        if c.status != "ok":
            continue
        w = workers.get((c.peer, c.threads))
        if isinstance(w, Exception):
            c.fail("failed", "worker: %s" % w)
            continue
        ref = refs.get(c.model.name)
        try:
            reply = w.load(c, ref[0] if isinstance(ref, tuple) else None)
        except RuntimeError as e:
            c.fail("failed", "load/first run: %s" % e)
            progress("  %s: %s" % (c.key, c.note))
            continue
        c.load_ms = reply.get("load_ms", 0.0) + reply.get("create_ms", 0.0)
        c.first_ms = reply.get("first_ms")
        c.check = reply.get("check")


def measure_all(configs, args, workers):
    live = [c for c in configs if c.status == "ok"]
    per_round = max(1, -(-args.runs // args.rounds))
    for r in range(args.rounds):
        warmup = args.warmup if r == 0 else 1
        start = r % len(live) if live else 0
        progress("round %d/%d (%d configurations x %d iterations)"
                 % (r + 1, args.rounds, len(live), per_round))
        for c in live[start:] + live[:start]:
            if c.status != "ok":
                continue
            try:
                times = workers[(c.peer, c.threads)].measure(c, warmup, per_round)
            except (RuntimeError, OSError) as e:
                c.fail("failed", str(e))
                progress("  %s: %s" % (c.key, e))
                continue
            c.samples += times
            c.round_medians.append(upper_median(times))
            c.round_mins.append(min(times))
    return per_round


def machine_info(timer):
    info = {"platform": platform.platform(), "nproc": os.cpu_count(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}
    cpu = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                k, _, v = line.partition(":")
                k = k.strip()
                wanted = ("model name", "vendor_id", "cpu family", "model", "flags")
                if k in wanted and k not in cpu:
                    cpu[k] = v.strip()
                if not line.strip() and cpu:
                    break
    except OSError:
        pass
    info["cpu"] = cpu.get("model name")
    info["cpu_vendor"] = cpu.get("vendor_id")
    info["cpu_family"] = int(cpu["cpu family"]) if "cpu family" in cpu else None
    info["cpu_model"] = int(cpu["model"]) if "model" in cpu else None
    flags = set(cpu.get("flags", "").split())
    info["cpu_flags"] = sorted(f for f in flags if f.startswith(("avx", "fma", "sse4")))
    try:
        info["git_head"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO,
                                          capture_output=True, text=True).stdout.strip()
    except OSError:
        pass
    p = subprocess.run([timer, "peak"], capture_output=True, text=True, timeout=300)
    try:
        measured = json.loads(p.stdout)
    except ValueError:
        measured = {}
    info["peak"] = report.fp32_peak(info, flags, measured)
    return info


# ---------------------------------------------------------------- main


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="scripts/bench", description="xnnd against ExecuTorch, ONNX Runtime, LiteRT and "
        "PyTorch eager on this machine at each thread count. Models: " + ", ".join(
            m.name + ("" if m.default else " (not default)") for m in models.MODELS) + ".")
    p.add_argument("--quick", action="store_true", help="try it out: %s, --runs 6 --rounds 2 "
                   "--warmup 1 --cold-repeat 1 --skip-scaling (explicit options still win)"
                   % ",".join(models.QUICK))
    p.add_argument("--runs", type=int, help="timed iterations per configuration (default 40), "
                   "spread over the rounds")
    p.add_argument("--warmup", type=int, help="untimed iterations before the first round "
                   "(default 5); later rounds warm up with 1")
    p.add_argument("--rounds", type=int, help="interleaved rounds (default 8)")
    p.add_argument("--models", default=None, help="comma-separated subset (default: all "
                   "default models)")
    p.add_argument("--peers", default=",".join(PEERS), help="peers to run "
                   "(default %(default)s)")
    p.add_argument("--threads", default="1,2", help="thread counts (default %(default)s)")
    p.add_argument("--cold-repeat", type=int, help="fresh processes per cold-start figure "
                   "(default 3)")
    p.add_argument("--out", default="bench-results", help="output directory "
                   "(default %(default)s)")
    p.add_argument("--xnnd", default=os.path.join("build", "xnnd"), help="the CLI "
                   "(default %(default)s); build/xnnd_timer is taken from the same folder")
    p.add_argument("--reuse-exports", action="store_true", help="keep the artifacts a "
                   "previous run left in OUT/models instead of exporting again")
    p.add_argument("--skip-scaling", action="store_true", help="skip the toolchain scaling run")
    p.add_argument("--scaling-sizes", default="10000,20000,40000")
    p.add_argument("--scaling-repeat", type=int, default=3, help="best of N compiles per size "
                   "(default %(default)s)")
    args = p.parse_args(argv)
    quick = dict(runs=6, rounds=2, warmup=1, cold_repeat=1)
    full = dict(runs=40, rounds=8, warmup=5, cold_repeat=3)
    for k, v in (quick if args.quick else full).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.quick:
        args.skip_scaling = True
        if args.models is None:
            args.models = ",".join(models.QUICK)
    if args.runs < 1 or args.rounds < 1 or args.warmup < 0 or args.cold_repeat < 0:
        p.error("--runs and --rounds must be >= 1, --warmup and --cold-repeat >= 0")
    try:
        args.model_list = models.by_name([s for s in (args.models or "").split(",") if s])
    except KeyError as e:
        p.error("unknown model %s (known: %s)" % (e, ", ".join(m.name for m in models.MODELS)))
    args.peer_list = [s for s in args.peers.split(",") if s]
    for s in args.peer_list:
        if s not in PEERS:
            p.error("unknown peer %r (known: %s)" % (s, ", ".join(PEERS)))
    args.thread_list = [int(s) for s in args.threads.split(",") if s]
    return args


def main(argv=None):
    args = parse_args(argv)
    os.chdir(REPO)
    timer = os.path.join(os.path.dirname(args.xnnd), "xnnd_timer")
    for tool in (args.xnnd, timer):
        if not os.access(tool, os.X_OK):
            print("bench: %s not found; run ./scripts/build first" % tool, file=sys.stderr)
            return 1
    os.makedirs(args.out, exist_ok=True)
    # Private copies: build/ is shared, and a rebuild in the middle of a run would mix binaries.
    for tool in (args.xnnd, timer):
        shutil.copy2(tool, os.path.join(args.out, os.path.basename(tool)))
    args.xnnd = os.path.join(args.out, "xnnd")
    timer = os.path.join(args.out, "xnnd_timer")
    t_start = time.time()
    info = machine_info(timer)
    info["loadavg_start"] = os.getloadavg()
    if info["loadavg_start"][0] > 0.5:
        progress("warning: load average %.2f: other work on this machine will skew the numbers"
                 % info["loadavg_start"][0])

    progress("exporting %d model(s)" % len(args.model_list))
    artifacts, refs = export_all(args.model_list, args.peer_list,
                                 Exporter(args.xnnd, args.out, args.reuse_exports))
    configs = make_configs(args.model_list, args.thread_list, artifacts, args.peer_list)

    if args.cold_repeat:
        t0 = args.thread_list[0]
        for c in configs:
            if c.peer in COLD_ENGINES and c.threads == t0 and c.status == "ok" \
                    and c.engine in ("xnnd", "xnnd-int8", "executorch"):
                progress("cold start %s" % c.key)
                ref = refs.get(c.model.name)
                c.cold = cold_start(c, ref[0] if isinstance(ref, tuple) else None, timer,
                                    args.cold_repeat)

    workers = {}
    try:
        for peer in ["xnnd"] + args.peer_list:
            for t in args.thread_list:
                if any(c.peer == peer and c.threads == t and c.status == "ok" for c in configs):
                    try:
                        workers[(peer, t)] = start_worker(peer, t, timer)
                        progress("worker %s %dT: %s" % (peer, t, workers[(peer, t)].info))
                    except (RuntimeError, OSError) as e:
                        workers[(peer, t)] = e
                        progress("worker %s %dT failed: %s" % (peer, t, e))
        progress("loading every artifact in its worker")
        load_all(configs, workers, refs)
        per_round = measure_all(configs, args, workers)
        versions = {p: w.info.get("version") for (p, _), w in workers.items()
                    if isinstance(w, Worker) and w.info.get("version")}
    finally:
        for w in workers.values():
            if isinstance(w, Worker):
                w.close()
    info["loadavg_end"] = os.getloadavg()
    info["versions"] = versions

    scaling = None
    if not args.skip_scaling:
        progress("toolchain scaling")
        import lowering_scaling
        sizes = [int(s) for s in args.scaling_sizes.split(",") if s]
        scaling = lowering_scaling.run(args.xnnd, sizes, max(1, args.scaling_repeat))

    rows = report.result_rows(configs, refs)
    settings = {"runs": args.runs, "rounds": args.rounds, "iters_per_round": per_round,
                "warmup": args.warmup, "threads": args.thread_list, "peers": args.peer_list,
                "cold_repeat": args.cold_repeat,
                "median": "median over rounds of each round's sorted[n/2]"}
    unavailable = {p: importlib.import_module("peer_" + p).unavailable() for p in args.peer_list}
    summary = report.summarize(rows, args.thread_list, info["peak"])
    md = report.markdown(rows, summary, info, settings, unavailable, scaling)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    with open(os.path.join(args.out, "results.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=report.CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("%.4f" % v if isinstance(v, float) else v) for k, v in r.items()})
    charts = report.draw_charts(args.out, rows, summary, args.thread_list)
    info["total_s"] = time.time() - t_start
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"machine": info, "settings": settings, "unavailable": unavailable,
                   "summary": summary, "results": rows, "scaling": scaling}, f, indent=2)
    print("wrote %s: results.md, results.json, results.csv%s (%.0f s total)" % (
        args.out, "".join(", " + c for c in charts), info["total_s"]))
    if not charts:
        progress("charts skipped: matplotlib is not installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
