#!/usr/bin/env bash
# Every torchvision 0.14 classification model, exported, compiled, run and compared with PyTorch:
# each either matches (max |xnnd - torch| <= 1e-4 * max |torch|) or fails with an error naming
# the unsupported op. A crash (signal), any other failure, or a mismatch fails the sweep.
# Prints one row per model (status, input, max relative error, partitions, MAC share in XNNPACK,
# seconds) and a summary. Small inputs (1x3x64x64) where the model allows; the largest models
# are skipped with the reason. A model whose PyTorch output is all zeros at init (ViT's zero head)
# is compared with its zero-initialized parameters redrawn (tests/models/torchvision_random.py),
# so no comparison is vacuous. Export runs in worker processes that import torch once;
# compile/run/compare are `xnnd` subprocesses, so a crash anywhere is caught and reported.
# Accuracy against float64: each model is also evaluated by PyTorch in float64; xnnd's error
# against it (max |xnnd - f64| / max |f64|) must be at most 2x PyTorch's own float32 error against
# it (floor: 2.4e-7, two float32 epsilons, for models PyTorch gets bit-exact), else INACCURATE;
# both errors are printed ("err64 xnnd", "err64 torch").
# SWEEP_MODELS="a b" limits the run; SWEEP_JOBS=N (default 2) runs N models at a time;
# SWEEP_OUT=FILE also writes the table (tab-separated) there.
source "$(dirname "$0")/lib/common.bash"
export XNND PY TMP
# A file, not stdin: the worker processes (spawn) re-import it.
cat > "$TMP/sweep.py" <<'PYEOF'
import contextlib
import io
import os
import re
import subprocess
import sys
import time

XNND, PY, TMP = os.environ["XNND"], os.environ["PY"], os.environ["TMP"]
S64, S224 = (1, 3, 64, 64), (1, 3, 224, 224)
SKIP_SIZE = "skipped: over 300M parameters, too slow for the sweep's budget on 2 cores"

# The classification builders of torchvision 0.14 (torchvision.models, excluding the
# detection/segmentation/video/optical_flow/quantization namespaces and the registry helpers).
MODELS = {
    "alexnet": S64, "convnext_tiny": S64, "convnext_small": S64, "convnext_base": S64,
    "convnext_large": S64,
    "densenet121": S64, "densenet161": S64, "densenet169": S64, "densenet201": S64,
    "efficientnet_b0": S64, "efficientnet_b1": S64, "efficientnet_b2": S64,
    "efficientnet_b3": S64, "efficientnet_b4": S64, "efficientnet_b5": S64,
    "efficientnet_b6": S64, "efficientnet_b7": S64,
    "efficientnet_v2_s": S64, "efficientnet_v2_m": S64, "efficientnet_v2_l": S64,
    "googlenet": S64,
    "inception_v3": (1, 3, 96, 96),           # needs at least 75x75
    "maxvit_t": S224,                         # window partition needs 224
    "mnasnet0_5": S64, "mnasnet0_75": S64, "mnasnet1_0": S64, "mnasnet1_3": S64,
    "mobilenet_v2": S64, "mobilenet_v3_large": S64, "mobilenet_v3_small": S64,
    "regnet_x_400mf": S64, "regnet_x_800mf": S64, "regnet_x_1_6gf": S64, "regnet_x_3_2gf": S64,
    "regnet_x_8gf": S64, "regnet_x_16gf": S64, "regnet_x_32gf": S64,
    "regnet_y_400mf": S64, "regnet_y_800mf": S64, "regnet_y_1_6gf": S64, "regnet_y_3_2gf": S64,
    "regnet_y_8gf": S64, "regnet_y_16gf": S64, "regnet_y_32gf": S64,
    "regnet_y_128gf": SKIP_SIZE + " (644M)",
    "resnet18": S64, "resnet34": S64, "resnet50": S64, "resnet101": S64, "resnet152": S64,
    "resnext50_32x4d": S64, "resnext101_32x8d": S64, "resnext101_64x4d": S64,
    "shufflenet_v2_x0_5": S64, "shufflenet_v2_x1_0": S64, "shufflenet_v2_x1_5": S64,
    "shufflenet_v2_x2_0": S64,
    "squeezenet1_0": S64, "squeezenet1_1": S64,
    "swin_t": S64, "swin_s": S64, "swin_b": S64,
    "swin_v2_t": S64, "swin_v2_s": S64, "swin_v2_b": S64,
    "vgg11": S64, "vgg11_bn": S64, "vgg13": S64, "vgg13_bn": S64, "vgg16": S64, "vgg16_bn": S64,
    "vgg19": S64, "vgg19_bn": S64,
    "vit_b_16": S224, "vit_b_32": S224,       # the patch grid is fixed to 224
    "vit_l_16": SKIP_SIZE + " (304M)", "vit_l_32": SKIP_SIZE + " (306M)",
    "vit_h_14": SKIP_SIZE + " (632M)",
    "wide_resnet50_2": S64, "wide_resnet101_2": S64,
}

try:  # if this torchvision has a registry, the list above must not have gone stale
    from xnnd.tv import import_torchvision
    tvm = import_torchvision().models
    listed = set(tvm.list_models(module=tvm)) if hasattr(tvm, "list_models") else set()
except Exception:
    listed = set()
missing = sorted(listed - set(MODELS))
if missing:
    print("FAIL: classification models missing from the sweep list: %s" % ", ".join(missing))
    sys.exit(1)

only = os.environ.get("SWEEP_MODELS", "").split()
RANDOM_SPEC = "tests/models/torchvision_random.py:"


def run(cmd, timeout, env=None):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, PYTHONPATH="python", **(env or {})))
        return p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %ds" % timeout


def last_line(text):
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def export(name, shape, d):
    """Load torchvision:NAME, run PyTorch, trace and write IR in this (worker) process, as
    `xnnd export` does. When PyTorch's output is all zeros (a zero-initialized head, as in ViT)
    any runtime would match, so the model is loaded again with those parameters redrawn
    (RANDOM_SPEC). Returns (failure or None, note)."""
    sys.path.insert(0, "python")
    import numpy as np
    import torch
    from xnnd import api, aten_map, trace
    from xnnd.errors import ExportError, UnsupportedOpError
    note = ""
    try:
        with contextlib.redirect_stderr(io.StringIO()):   # warnings
            spec = "torchvision:" + name
            _, module, inputs = trace.load_spec(spec, seed=0, input_shape=shape)
            outputs = trace.eager_outputs(module, inputs)
            if all(not torch.count_nonzero(t) for t in outputs):
                os.environ["TORCHVISION_RANDOM_SHAPE"] = ",".join(str(n) for n in shape)
                spec = RANDOM_SPEC + name
                _, module, inputs = trace.load_spec(spec, seed=0)
                outputs = trace.eager_outputs(module, inputs)
                note = "PyTorch output all zeros at init; compared with zero-initialized " \
                       "parameters redrawn (%s)" % spec
            for i, t in enumerate(inputs):
                np.save(os.path.join(d, "input_%d.npy" % i), t.numpy())
            for i, t in enumerate(outputs):
                np.save(os.path.join(d, "output_%d.npy" % i), t.numpy())
            # the same model and inputs in float64: the reference both errors are measured against
            import copy
            module64 = copy.deepcopy(module).double()
            outputs64 = trace.eager_outputs(module64, [t.double() for t in inputs])
            for i, t in enumerate(outputs64):
                np.save(os.path.join(d, "ref64_%d.npy" % i), t.numpy())
            del module64
            # non-strict capture: several times faster than TorchDynamo on these models, and the
            # sweep is about lowering (tests/python/test_capture.py covers the strict path)
            graph = aten_map.convert(trace.trace(module, inputs, mode="non-strict"), name)
        api.write_ir(graph, os.path.join(d, "model.ir"), os.path.join(d, "model.xcb"))
    except UnsupportedOpError as e:
        return ("unsupported", str(e)), note
    except ExportError as e:
        return ("FAIL", "export: %s" % e), note
    except Exception as e:   # the exporter itself broke: a failure, not a clean refusal
        return ("FAIL", "export raised %s: %s" % (type(e).__name__, e)), note
    return None, note


ERR64_FLOOR = 2.4e-7


def err64(d, out_dir):
    """(xnnd's, PyTorch float32's) worst error against the float64 evaluation, over outputs."""
    import numpy as np
    ours = theirs = 0.0
    for f in sorted(os.listdir(d)):
        if not f.startswith("ref64_"):
            continue
        i = f[len("ref64_"):]
        ref = np.load(os.path.join(d, f))
        scale = float(np.max(np.abs(ref))) or 1.0
        mine = np.load(os.path.join(out_dir, "output_" + i)).astype(np.float64)
        torch32 = np.load(os.path.join(d, "output_" + i)).astype(np.float64)
        ours = max(ours, float(np.max(np.abs(mine - ref))) / scale)
        theirs = max(theirs, float(np.max(np.abs(torch32 - ref))) / scale)
    return ours, theirs


def compile_run_compare(d):
    """(status, max relative error, partitions, MAC share, message, (err64 xnnd, err64 torch))
    for the IR in d."""
    pte = os.path.join(d, "model.pte")
    rc, out, err = run([XNND, "compile", os.path.join(d, "model.ir"), "--constants",
                        os.path.join(d, "model.xcb"), "-o", pte, "--report"], 900)
    if rc is None or rc < 0:
        return "CRASH", None, "-", "-", "compile: %s" % (err.strip() or "signal %d" % -rc), None
    if rc != 0:
        return "FAIL", None, "-", "-", "compile exit %d: %s" % (rc, last_line(err)), None
    m = re.search(r"partitions: (\d+)", out)
    parts = m.group(1) if m else "?"
    m = re.search(r"multiply-accumulates in XNNPACK: ([\d.]+)%", out)
    macs = m.group(1) + "%" if m else "-"
    cmd = [XNND, "run", pte, "--output-dir", os.path.join(d, "out"), "--iters", "1", "--warmup", "0"]
    for f in sorted(os.listdir(d)):
        if f.startswith("input_"):
            cmd += ["--input", os.path.join(d, f)]
    rc, out, err = run(cmd, 900)
    if rc is None or rc < 0:
        return "CRASH", None, parts, macs, "run: %s" % (err.strip() or "signal %d" % -rc), None
    if rc != 0:
        return "FAIL", None, parts, macs, "run exit %d: %s" % (rc, last_line(err)), None
    worst, trivial = 0.0, True
    for f in sorted(os.listdir(d)):
        if not f.startswith("output_"):
            continue
        rc, out, err = run([XNND, "compare", os.path.join(d, "out", f), os.path.join(d, f),
                            "--rtol", "1e-4"], 120)
        m = re.search(r"max \|b\| = ([0-9.e+-]+|nan|inf), ratio = ([0-9.e+-]+|nan|inf)", out)
        ratio = float(m.group(2)) if m else float("nan")
        trivial = trivial and m is not None and float(m.group(1)) == 0.0
        worst = max(worst, ratio) if ratio == ratio else float("nan")
        if rc != 0:
            return "MISMATCH", worst, parts, macs, last_line(out + err), None
    e64 = err64(d, os.path.join(d, "out"))
    if e64[0] > max(2.0 * e64[1], ERR64_FLOOR):
        return ("INACCURATE", worst, parts, macs,
                "against float64: xnnd %.2e, more than 2x PyTorch float32's %.2e" % e64, e64)
    return ("trivial" if trivial else "ok"), worst, parts, macs, "", e64


def sweep_one(name):
    """One model, in a worker process: (name, status, shape, error, partitions, MACs, s, msg,
    (err64 xnnd, err64 torch) or None)."""
    import shutil
    import torch
    torch.set_num_threads(1)
    spec = MODELS[name]
    if isinstance(spec, str):
        return name, "skip", "-", None, "-", "-", 0.0, spec, None
    t0 = time.time()
    shape_text = ",".join(str(n) for n in spec)
    d = os.path.join(TMP, name)
    try:
        os.makedirs(os.path.join(d, "out"), exist_ok=True)
        failed, note = export(name, spec, d)
        if failed:
            return (name, failed[0], shape_text, None, "-", "-", time.time() - t0, failed[1], None)
        status, err, parts, macs, msg, e64 = compile_run_compare(d)
        if status == "trivial":
            status, msg = "MISMATCH", "PyTorch output is all zeros even with zero parameters redrawn"
        msg = "; ".join(m for m in (note, msg) if m)
        return name, status, shape_text, err, parts, macs, time.time() - t0, msg, e64
    finally:
        shutil.rmtree(d, ignore_errors=True)


def fmt(row):
    name, status, shape, err, parts, macs, secs, msg, e64 = row
    ours, theirs = ("-", "-") if e64 is None else ("%.1e" % e64[0], "%.1e" % e64[1])
    return "%-20s %-11s %-13s %-9s %-10s %-11s %-5s %-8s %6.1fs %s" % (
        name, status, shape, "-" if err is None else "%.1e" % err, ours, theirs, parts, macs, secs,
        msg)


if __name__ == "__main__":
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    names = [n for n in MODELS if not only or n in only]
    jobs = int(os.environ.get("SWEEP_JOBS", "2"))
    results = {}

    def run_pool(models, workers):
        """Workers import torch once and export many models. Returns the models whose worker
        died (a crash breaks the whole pool, so innocent models may be among them).
        No max_tasks_per_child: Python 3.11's executor hangs once every worker reaches it."""
        broken = []
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(sweep_one, n): n for n in models}
            for fut in as_completed(futures):
                n = futures[fut]
                try:
                    results[n] = fut.result()
                    print(fmt(results[n]), file=sys.stderr, flush=True)
                except BrokenProcessPool:
                    broken.append(n)
        return broken

    for n in run_pool(names, jobs):   # retry alone to tell the crashing model from the rest
        if run_pool([n], 1):
            results[n] = (n, "CRASH", "-", None, "-", "-", 0.0, "the exporting process died", None)

    rows = [results[n] for n in names]
    print("%-20s %-11s %-13s %-9s %-10s %-11s %-5s %-8s %7s %s" % (
        "model", "status", "input", "max err", "err64 xnnd", "err64 torch", "parts", "MACs", "time",
        "note"))
    for r in rows:
        print(fmt(r))
    counts = {}
    for r in rows:
        counts[r[1]] = counts.get(r[1], 0) + 1
    print("summary: " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))
    ratios = [r[8][0] / max(r[8][1], ERR64_FLOOR) for r in rows if r[8] is not None]
    if ratios:
        print("against float64: xnnd / PyTorch float32 error, worst %.2f, median %.2f (limit 2)" % (
            max(ratios), sorted(ratios)[len(ratios) // 2]))
    if os.environ.get("SWEEP_OUT"):
        with open(os.environ["SWEEP_OUT"], "w") as f:
            for r in rows:
                f.write("\t".join("-" if v is None else str(v) for v in r[:8]) + "\t" +
                        ("-\t-" if r[8] is None else "%g\t%g" % r[8]) + "\n")
    bad = [r for r in rows if r[1] not in ("ok", "unsupported", "skip")]
    if bad:
        print("FAIL: %s" % ", ".join("%s (%s)" % (r[0], r[1]) for r in bad))
        sys.exit(1)
    print("PASS torchvision sweep")
PYEOF
"$PY" "$TMP/sweep.py"
