"""Toolchain scaling: time `xnnd compile G.ir --constants G.xcb -o G.pte` on synthetic graphs.

The graphs are chains of residual blocks (3x3 convolution with its own random weights, relu,
add of the block input) on a small [1,4,8,8] activation, printed with the exporter's own text IR
printer and constant bundle writer. Time per node should stay flat as the graph grows: the
40k/10k time ratio is about 4 when the whole toolchain (parse, verify, passes, partitioner,
serializer) is linear.

usage: PYTHONPATH=python python3 bench/lowering_scaling.py [--sizes 10000,20000,40000]
       [--xnnd build/xnnd] [--repeat N] [--workdir DIR] [--disable PASS] [--json OUT.json]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "python"))

import numpy as np  # noqa: E402

from xnnd import ir_text  # noqa: E402
from xnnd.ir_text import Attr, Graph, Node, Value  # noqa: E402

DEFAULT_SIZES = (10000, 20000, 40000)
CHANNELS = 4
SPATIAL = 8


def _conv_attrs():
    return [Attr("stride", "ints", [1, 1]), Attr("padding", "ints", [1, 1]),
            Attr("dilation", "ints", [1, 1]), Attr("transposed", "bool", False),
            Attr("output_padding", "ints", [0, 0]), Attr("groups", "int", 1)]


def make_graph(num_nodes, seed=0):
    """A graph with exactly num_nodes nodes: num_nodes // 3 blocks
    `a = add(relu(conv(x, w, b)), x)`, then num_nodes % 3 relus. Weights (144 floats) go into
    the bundle, biases (4 floats) are inline."""
    rng = np.random.default_rng(seed)
    shape = (1, CHANNELS, SPATIAL, SPATIAL)
    g = Graph("scaling_%d" % num_nodes)
    x = Value("x", "f32", shape, "input")
    g.inputs.append(x)
    cur = x
    for i in range(num_nodes // 3):
        w = Value("w%d" % i, "f32", (CHANNELS, CHANNELS, 3, 3), "const",
                  (rng.standard_normal((CHANNELS, CHANNELS, 3, 3)) * 0.1).astype(np.float32))
        b = Value("b%d" % i, "f32", (CHANNELS,), "const",
                  (rng.standard_normal(CHANNELS) * 0.1).astype(np.float32))
        g.consts += [w, b]
        c = Value("c%d" % i, "f32", shape, "node")
        r = Value("r%d" % i, "f32", shape, "node")
        a = Value("a%d" % i, "f32", shape, "node")
        g.nodes.append(Node("aten.convolution", [cur, w, b], [c], _conv_attrs()))
        g.nodes.append(Node("aten.relu", [c], [r], []))
        g.nodes.append(Node("aten.add", [r, cur], [a], [Attr("alpha", "float", 1.0)]))
        cur = a
    for i in range(num_nodes % 3):
        r = Value("t%d" % i, "f32", shape, "node")
        g.nodes.append(Node("aten.relu", [cur], [r], []))
        cur = r
    g.outputs.append(cur)
    assert len(g.nodes) == num_nodes
    return g


def write_graph(graph, directory):
    """Writes NAME.ir and NAME.xcb; returns their paths."""
    ir_path = os.path.join(directory, graph.name + ".ir")
    xcb_path = os.path.join(directory, graph.name + ".xcb")
    with open(ir_path, "w", newline="\n") as f:
        f.write(ir_text.print_graph(graph))
    ir_text.write_bundle(xcb_path, ir_text.bundle_records(graph))
    return ir_path, xcb_path


def time_compile(xnnd, ir_path, xcb_path, pte_path, extra=()):
    """(seconds, peak RSS in MB, exit code, last stderr line) of one `xnnd compile`."""
    cmd = [xnnd, "compile", ir_path, "--constants", xcb_path, "-o", pte_path] + list(extra)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    lines = stderr.decode(errors="replace").strip().splitlines()
    return seconds, usage.ru_maxrss / 1024.0, proc.returncode, lines[-1] if lines else ""


def progress(msg):
    print("[scaling %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def run(xnnd, sizes=DEFAULT_SIZES, repeat=1, workdir=None, extra=()):
    """Generates, compiles and times each size; returns a dict with one row per size (best of
    `repeat` compiles) and the ratio of the largest to the smallest time. `extra` is appended
    to each `xnnd compile` (e.g. --disable PASS, to find a pass that does not scale)."""
    tmp = workdir or tempfile.mkdtemp(prefix="xnnd-scaling-")
    os.makedirs(tmp, exist_ok=True)
    rows = []
    try:
        for n in sizes:
            progress("generating %d nodes" % n)
            ir_path, xcb_path = write_graph(make_graph(n), tmp)
            pte_path = os.path.join(tmp, "scaling_%d.pte" % n)
            row = {"nodes": n, "ir_bytes": os.path.getsize(ir_path),
                   "xcb_bytes": os.path.getsize(xcb_path)}
            best = None
            for k in range(repeat):
                progress("xnnd compile %d nodes (%d/%d)" % (n, k + 1, repeat))
                seconds, rss_mb, rc, last = time_compile(xnnd, ir_path, xcb_path, pte_path,
                                                        extra)
                if rc != 0:
                    row["error"] = "xnnd compile exit %d: %s" % (rc, last)
                    break
                if best is None or seconds < best[0]:
                    best = (seconds, rss_mb)
            if best and "error" not in row:
                row["seconds"] = best[0]
                row["us_per_node"] = best[0] / n * 1e6
                row["peak_rss_mb"] = best[1]
                row["pte_bytes"] = os.path.getsize(pte_path)
                progress("%d nodes: %.2f s (%.1f us/node)"
                         % (n, best[0], row["us_per_node"]))
            else:
                progress("%d nodes: %s" % (n, row["error"]))
            rows.append(row)
            for p in (ir_path, xcb_path, pte_path):
                if os.path.exists(p) and not workdir:
                    os.remove(p)
    finally:
        if not workdir:
            shutil.rmtree(tmp, ignore_errors=True)
    timed = [r for r in rows if "seconds" in r]
    result = {"rows": rows, "repeat": repeat, "compile_args": list(extra)}
    if len(timed) >= 2 and timed[0]["nodes"] != timed[-1]["nodes"]:
        result["ratio"] = timed[-1]["seconds"] / timed[0]["seconds"]
        result["ratio_label"] = "%dk/%dk" % (timed[-1]["nodes"] // 1000, timed[0]["nodes"] // 1000)
        result["linear_ratio"] = timed[-1]["nodes"] / timed[0]["nodes"]
    return result


def format_table(result):
    lines = ["%8s  %10s  %10s  %9s  %9s  %s" % ("nodes", "compile s", "us/node", "peak MB",
                                                 "pte MB", "")]
    for r in result["rows"]:
        if "seconds" in r:
            lines.append("%8d  %10.3f  %10.1f  %9.1f  %9.2f" % (
                r["nodes"], r["seconds"], r["us_per_node"], r["peak_rss_mb"],
                r["pte_bytes"] / 1e6))
        else:
            lines.append("%8d  %s" % (r["nodes"], r.get("error", "not run")))
    if "ratio" in result:
        lines.append("time ratio %s: %.2f (%.0f = linear)" % (
            result["ratio_label"], result["ratio"], result["linear_ratio"]))
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="node counts, comma separated (default %(default)s)")
    parser.add_argument("--xnnd", default=os.path.join("build", "xnnd"))
    parser.add_argument("--repeat", type=int, default=1, help="best of N compiles per size")
    parser.add_argument("--workdir", help="keep the generated .ir/.xcb/.pte here")
    parser.add_argument("--disable", action="append", default=[], metavar="PASS",
                        help="passed to xnnd compile (repeatable)")
    parser.add_argument("--json", metavar="OUT.json")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    extra = [a for p in args.disable for a in ("--disable", p)]
    result = run(args.xnnd, sizes, max(1, args.repeat), args.workdir, extra)
    print(format_table(result))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0 if all("seconds" in r for r in result["rows"]) else 1


if __name__ == "__main__":
    sys.exit(main())
