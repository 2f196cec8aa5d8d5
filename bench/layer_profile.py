"""Where the time goes: a per-layer profile of xnnd against ONNX Runtime and ExecuTorch (issue 17).

For each model of the benchmark (bench/models.py) and thread count:

- xnnd: the model is exported once (`python -m xnnd export --keep-ir`, as the benchmark does) and
  the kept IR is compiled a second time with `xnnd compile --per-op` (every node its own
  partition). `xnnd run --profile` on that program gives each step's time: a delegate step's
  compute (its NCHW/NHWC boundary is reported apart and left out of the layer), a portable step's
  whole time, as a median over executes (a column `xnnd run --profile` prints for this).
  `--dump-after all` and `--report-json` of the same compile give each node's shapes,
  attributes and partition, so every step is named by the node it runs. The normal program
  (partitions as the toolchain makes them) is timed alongside: its median is the real total
  the sum of layers is compared with.
- Rounds interleave the engines (xnnd's two programs, then each peer in a fresh process), so a
  busy spell on the shared machine hits all alike; a layer's figure is its median over rounds.
- ONNX Runtime: `SessionOptions.enable_profiling` on the benchmark's session options; the JSON
  trace's `Node` events (`*_kernel_time`, `dur` in us) per node, median over the timed runs; the
  unprofiled session is timed for the whole-model figure.
- ExecuTorch: `portable_lib._load_for_executorch(..., enable_etdump=True)` and
  `write_etdump_result_to_file`, read with `executorch.devtools.Inspector`: the PyPI 1.5.1 runtime
  logs one event per XNNPACK operator inside each delegate call (operator type names such as
  "Convolution (NHWC, F32) DWConv", no shapes), one per non-delegated operator, and the
  DELEGATE_CALL / Method::execute totals. ExecuTorch's XNNPACK runs 1x1 convolutions as "Fully
  Connected" operators, so its convolution and fully connected events are matched in order with
  the eager module's Conv2d/Linear calls when the two sequences agree, and named by type only
  when they do not (said in the output).

Each engine's layers fall into categories shared by all (CATEGORIES). Writes layer_profile.md and
layer_profile.json into --out. A program, not a test; figures from a shared machine are indicative.

  .venv/bin/python bench/layer_profile.py --models mobilenet_v2,bert_encoder --out /tmp/lp
  ./scripts/bench --layer-profile --models vit_b_16 --out /tmp/lp
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
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Sequence

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

import bench  # noqa: E402
import models  # noqa: E402

PYTHON = sys.executable
RUN_TIMEOUT_S = 1800

CATEGORIES = [
    "conv 1x1", "conv KxK", "depthwise conv", "fully connected", "batched matmul (attention)",
    "softmax", "layer norm", "gelu", "elementwise add/mul", "activation", "pooling", "layout",
    "quantize/dequantize", "other",
]
PEER_LABELS = {"onnxruntime": "ONNX Runtime", "executorch": "ExecuTorch"}


@dataclass
class Layer:
    """One timed layer of one engine: a step of xnnd's per-op program, an ONNX Runtime node or an
    ExecuTorch event. ms is the median (over runs or rounds) of its time per execute."""

    name: str
    op: str
    category: str
    ms: float
    shape: str = ""


@dataclass
class EngineProfile:
    """One engine on one model at one thread count."""

    engine: str
    layers: list[Layer] = field(default_factory=list)
    whole_ms: float | None = None     # median latency of the real (unprofiled) program
    extra: dict[str, float] = field(default_factory=dict)   # profiled totals, overheads
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def by_category(self) -> dict[str, tuple[float, int]]:
        out: dict[str, tuple[float, int]] = {}
        for layer in self.layers:
            ms, n = out.get(layer.category, (0.0, 0))
            out[layer.category] = (ms + layer.ms, n + 1)
        return out

    def layer_sum(self) -> float:
        return sum(layer.ms for layer in self.layers)


def progress(msg: str) -> None:
    print("[layer-profile %s] %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- xnnd: the IR and its steps

IR_VALUE = re.compile(r"%([\w.]+): ([a-z]\w*)\[([\d,]*)\]")


@dataclass
class IrNode:
    """A node of the lowered graph, as `xnnd compile --dump-after` prints it."""

    index: int
    op: str
    outputs: list[str]
    inputs: list[str]          # value names, "" for an absent optional input
    attrs: str
    clamp: str


@dataclass
class IrGraph:
    nodes: list[IrNode]
    shapes: dict[str, list[int]]   # every value: inputs, constants, node outputs
    dtypes: dict[str, str]
    consts: set[str]


def parse_ir(text: str) -> IrGraph:
    """The last graph in `text` (the output of `--dump-after all` holds one per pass)."""
    start = text.rfind("graph ")
    lines = text[start:].splitlines()
    nodes: list[IrNode] = []
    shapes: dict[str, list[int]] = {}
    dtypes: dict[str, str] = {}
    consts: set[str] = set()
    for raw in lines[1:]:
        line = raw.strip()
        if not line or line == "}" or line.startswith(("output ", "#")):
            continue
        kind = line.split(" ", 1)[0]
        head = line.split(" = ", 1)[0]
        for name, dtype, dims in IR_VALUE.findall(head):
            shapes[name] = [int(d) for d in dims.split(",") if d]
            dtypes[name] = dtype
            if kind == "const":
                consts.add(name)
        if kind in ("input", "const"):
            continue
        rhs = line.split(" = ", 1)[1]
        op = rhs[:rhs.index("(")]
        close = rhs.index(")", len(op))
        args = [a.strip() for a in rhs[len(op) + 1:close].split(",") if a.strip()]
        rest = rhs[close + 1:].strip()
        attrs = ""
        if rest.startswith("{"):
            end = rest.index("}")
            attrs, rest = rest[1:end], rest[end + 1:].strip()
        nodes.append(IrNode(len(nodes), op, [n for n, _, _ in IR_VALUE.findall(head)],
                            [a[1:] if a.startswith("%") else "" for a in args], attrs, rest))
    return IrGraph(nodes, shapes, dtypes, consts)


def _attr_int(attrs: str, key: str, default: int) -> int:
    m = re.search(r"\b%s=(-?\d+)" % key, attrs)
    return int(m.group(1)) if m else default


def _attr_list(attrs: str, key: str) -> list[int]:
    m = re.search(r"\b%s=\[([-\d,]*)\]" % key, attrs)
    return [int(v) for v in m.group(1).split(",") if v] if m else []


def _dims(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape)


def conv_category(kernel: Sequence[int], groups: int, in_channels: int) -> str:
    if groups > 1 and groups == in_channels:
        return "depthwise conv"
    if groups == 1 and all(k == 1 for k in kernel):
        return "conv 1x1"
    return "conv KxK"


ATEN_CATEGORY = {
    "linear": "fully connected", "addmm": "fully connected",
    "bmm": "batched matmul (attention)", "baddbmm": "batched matmul (attention)",
    "softmax": "softmax", "log_softmax": "softmax",
    "native_layer_norm": "layer norm", "gelu": "gelu",
    "add": "elementwise add/mul", "sub": "elementwise add/mul", "mul": "elementwise add/mul",
    "div": "elementwise add/mul",
    "relu": "activation", "hardtanh": "activation", "clamp": "activation", "sigmoid": "activation",
    "tanh": "activation", "hardswish": "activation", "hardsigmoid": "activation",
    "silu": "activation", "elu": "activation", "leaky_relu": "activation",
    "mean": "pooling", "max_pool2d": "pooling", "max_pool2d_with_indices": "pooling",
    "avg_pool2d": "pooling", "adaptive_avg_pool2d": "pooling", "adaptive_max_pool2d": "pooling",
    "permute": "layout", "t": "layout", "view": "layout", "clone": "layout", "expand": "layout",
    "cat": "layout", "slice": "layout", "select": "layout", "_to_copy": "layout",
    "copy": "layout", "constant_pad_nd": "layout", "dropout": "layout",
    "quantize": "quantize/dequantize", "dequantize": "quantize/dequantize",
}


def xnnd_category(node: IrNode, g: IrGraph) -> tuple[str, str]:
    """(category, shape text) of a node of xnnd's lowered graph."""
    base = node.op.split(".", 1)[1] if "." in node.op else node.op
    ins = [g.shapes.get(v, []) for v in node.inputs]
    out = g.shapes.get(node.outputs[0], []) if node.outputs else []
    dtype = g.dtypes.get(node.outputs[0], "") if node.outputs else ""
    if base == "convolution" and len(ins) >= 2 and len(ins[1]) >= 3:
        w, x = ins[1], ins[0]
        groups = _attr_int(node.attrs, "groups", 1)
        stride = _attr_list(node.attrs, "stride")
        cat = conv_category(w[2:], groups, x[1] if len(x) > 1 else 0)
        return cat, "%s conv %s/%s %s -> %s, groups %d" % (
            dtype, _dims(w[2:]), _dims(stride) or "1", _dims(x), _dims(out), groups)
    if base == "mm" and len(node.inputs) >= 2:
        cat = "fully connected" if node.inputs[1] in g.consts else "batched matmul (attention)"
        return cat, "%s mm %s x %s" % (dtype, _dims(ins[0]), _dims(ins[1]))
    cat = ATEN_CATEGORY.get(base, "other")
    if cat in ("fully connected", "batched matmul (attention)") and len(ins) >= 2:
        return cat, "%s %s %s x %s -> %s" % (dtype, base, _dims(ins[0]), _dims(ins[1]), _dims(out))
    return cat, "%s %s %s -> %s" % (dtype, base, " ".join(_dims(s) for s in ins[:1]), _dims(out))


def step_order(g: IrGraph, node_part: Sequence[int]) -> list[tuple[str, int]]:
    """The steps `xnnd compile` writes, as ("delegate", partition) or ("kernel", node index):
    serializer/program_writer.c order_units, a Kahn order of partitions and lone nodes seeded in
    node order. The caller checks the result against `xnnd inspect`."""
    num_parts = max(node_part, default=-1) + 1
    unit_of = [p if p >= 0 else num_parts + n for n, p in enumerate(node_part)]
    producer = {v: n.index for n in g.nodes for v in n.outputs}
    num_units = num_parts + len(g.nodes)
    edges: list[list[int]] = [[] for _ in range(num_units)]
    indeg = [0] * num_units
    live = [False] * num_units
    for u in unit_of:
        live[u] = True
    for n in g.nodes:
        for v in n.inputs:
            if v and v in producer:
                a, b = unit_of[producer[v]], unit_of[n.index]
                if a != b:
                    edges[a].append(b)
                    indeg[b] += 1
    order: list[int] = []
    for n in g.nodes:
        u = unit_of[n.index]
        if live[u] and indeg[u] == 0:
            order.append(u)
            live[u] = False
    head = 0
    while head < len(order):
        u = order[head]
        head += 1
        for w in edges[u]:
            indeg[w] -= 1
            if indeg[w] == 0 and live[w]:
                order.append(w)
                live[w] = False
    return [("delegate", u) if u < num_parts else ("kernel", u - num_parts) for u in order]


INSPECT_STEP = re.compile(r"^\s*(\d+): (?:delegate (\d+) \(|(\S+) )")


def inspect_steps(xnnd: str, pte: str) -> list[tuple[str, str]]:
    """`xnnd inspect` steps of method 0: ("delegate", index) or ("kernel", op name)."""
    out = subprocess.run([xnnd, "inspect", pte], capture_output=True, text=True, check=True,
                         timeout=RUN_TIMEOUT_S).stdout
    steps: list[tuple[str, str]] = []
    in_method = False
    for line in out.splitlines():
        if line.startswith("method "):
            if in_method:
                break
            in_method = True
            continue
        m = INSPECT_STEP.match(line)
        if in_method and m:
            steps.append(("delegate", m.group(2)) if m.group(2) is not None
                         else ("kernel", m.group(3)))
    return steps


@dataclass
class XnndRun:
    """One `xnnd run --profile`: the median latency and, per step, (mean ms, mean compute ms or
    None for a portable step, mean boundary ms, median layer ms: a delegate's compute or a
    kernel's whole time per execute)."""

    median_ms: float
    steps: list[tuple[float, float | None, float, float]]
    execute_mean_ms: float
    compute_ms: float


RUN_LATENCY = re.compile(r"latency over \d+ runs .*median ([\d.]+) ms")
RUN_EXECUTE = re.compile(r"execute: mean ([\d.]+) ms, inside delegate compute ([\d.]+) ms")
RUN_STEP = re.compile(r"^\s+(\d+)\s+(\S+)\s+([\d.]+)\s+([\d.]+|-)\s+([\d.]+|-)\s+([\d.]+|-)"
                      r"\s+([\d.]+)\s*$")


def xnnd_run(xnnd: str, pte: str, threads: int, iters: int, warmup: int, log: str) -> XnndRun:
    cmd = [xnnd, "run", pte, "--profile", "--iters", str(iters), "--warmup", str(warmup),
           "--threads", str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    with open(log, "a") as f:
        f.write("$ %s\n%s%s\n" % (" ".join(cmd), p.stdout, p.stderr))
    if p.returncode != 0:
        raise RuntimeError("xnnd run failed: exit %d: %s" % (p.returncode,
                                                             bench.last_error_line(p.stderr)))
    lat = RUN_LATENCY.search(p.stdout)
    exe = RUN_EXECUTE.search(p.stdout)
    if not lat or not exe:
        raise RuntimeError("xnnd run --profile printed no latency/execute line (see %s)" % log)
    steps: list[tuple[float, float | None, float, float]] = []
    in_table = False
    for line in p.stdout.splitlines():
        if line.startswith("profile over"):
            in_table = True
            continue
        if in_table:
            m = RUN_STEP.match(line)
            if not m:
                if line.startswith("execute:"):
                    break
                continue
            if int(m.group(1)) != len(steps):
                raise RuntimeError("xnnd run --profile: step %s out of order" % m.group(1))
            total, med = float(m.group(3)), float(m.group(7))
            if m.group(4) == "-":
                steps.append((total, None, 0.0, med))
            else:
                steps.append((total, float(m.group(4)), float(m.group(6)), med))
    if len(steps) == 0:
        raise RuntimeError("xnnd run --profile printed no step medians (an older build/xnnd?)")
    return XnndRun(float(lat.group(1)), steps, float(exe.group(1)), float(exe.group(2)))


class XnndProfiler:
    """xnnd on one model: the per-op program compiled from the kept IR, its steps named by node
    (checked against `xnnd inspect`); each round() runs the per-op and then the real program;
    result() gives per step the median over rounds of its per-execute median."""

    def __init__(self, normal: str, ir: str, xcb: str, xnnd: str, threads: int, args: Any,
                 work: str) -> None:
        self.normal, self.xnnd, self.threads, self.args = normal, xnnd, threads, args
        stem = os.path.join(work, os.path.basename(normal)[:-len(".pte")])
        self.perop = stem + ".perop.pte"
        report = stem + ".perop.report.json"
        cmd = [xnnd, "compile", ir, "--constants", xcb, "-o", self.perop, "--per-op",
               "--dump-after", "all", "--report-json", report]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
        if p.returncode != 0:
            raise RuntimeError("xnnd compile --per-op failed: exit %d: %s"
                               % (p.returncode, bench.last_error_line(p.stderr)))
        with open(stem + ".perop.ir.txt", "w") as f:
            f.write(p.stdout)
        self.g = parse_ir(p.stdout)
        with open(report) as f:
            rep = json.load(f)
        if [n["output"] for n in rep["nodes"]] != [n.outputs[0] for n in self.g.nodes]:
            raise RuntimeError("the --report-json nodes are not the dumped graph's nodes")
        self.node_part = [int(n["partition"]) for n in rep["nodes"]]
        self.order = step_order(self.g, self.node_part)
        seen = inspect_steps(xnnd, self.perop)
        expect = [("delegate", str(i)) if k == "delegate" else ("kernel", self.g.nodes[i].op)
                  for k, i in self.order]
        if seen != expect:
            raise RuntimeError("the per-op program's steps (xnnd inspect) are not in the order "
                               "layer_profile.py derives from the graph; cannot name them")
        self.log = "%s.%dT.runs.log" % (stem, threads)
        if os.path.exists(self.log):
            os.remove(self.log)
        self.perop_runs: list[XnndRun] = []
        self.normal_runs: list[XnndRun] = []

    def round(self) -> None:
        a = self.args
        self.perop_runs.append(xnnd_run(self.xnnd, self.perop, self.threads, a.iters, a.warmup,
                                        self.log))
        self.normal_runs.append(xnnd_run(self.xnnd, self.normal, self.threads, a.iters,
                                         a.warmup, self.log))

    def result(self) -> EngineProfile:
        prof = EngineProfile("xnnd")
        g, perop_runs, normal_runs = self.g, self.perop_runs, self.normal_runs
        part_nodes: dict[int, list[int]] = {}
        for n, part in enumerate(self.node_part):
            part_nodes.setdefault(part, []).append(n)
        boundary = 0.0
        dispatch = 0.0
        for s, (kind, idx) in enumerate(self.order):
            total = median([run.steps[s][0] for run in perop_runs])
            ms = median([run.steps[s][3] for run in perop_runs])
            nodes = part_nodes[idx] if kind == "delegate" else [idx]
            if kind == "delegate":
                compute = median([run.steps[s][1] or 0.0 for run in perop_runs])
                bnd = median([run.steps[s][2] for run in perop_runs])
                boundary += bnd
                dispatch += max(0.0, total - compute - bnd)
            node = g.nodes[nodes[0]]
            cat, shape = xnnd_category(node, g)
            where = "XNNPACK delegate" if kind == "delegate" else "portable kernel"
            if node.clamp:
                shape += " " + node.clamp
            prof.layers.append(Layer(node.outputs[0], "%s (%s)" % (node.op, where), cat, ms,
                                     shape))
        prof.whole_ms = median([run.median_ms for run in normal_runs])
        prof.extra = {
            "perop_execute_mean_ms": median([run.execute_mean_ms for run in perop_runs]),
            "perop_median_ms": median([run.median_ms for run in perop_runs]),
            "perop_boundary_ms": boundary,
            "perop_dispatch_ms": dispatch,
            "normal_execute_mean_ms": median([run.execute_mean_ms for run in normal_runs]),
            "normal_delegate_compute_ms": median([run.compute_ms for run in normal_runs]),
            "normal_steps": float(len(normal_runs[0].steps)),
            "perop_steps": float(len(self.order)),
            "portable_steps_perop": float(sum(1 for k, _ in self.order if k == "kernel")),
        }
        return prof


# ---------------------------------------------------------------- peers (in their own process)


ORT_CONVS = ("Conv", "FusedConv", "QLinearConv", "ConvInteger", "NhwcFusedConv", "NhwcConv")


def ort_conv_weight(op: str, ins: list[list[int]]) -> list[int]:
    """The weight's shape [O, I/groups, kh, kw] as the trace lists it; [] when ONNX Runtime
    pre-packed the weight and left it out (its NHWC QLinearConv does)."""
    w = ins[3] if op == "QLinearConv" and len(ins) > 3 else ins[1] if len(ins) > 1 else []
    return w if len(w) >= 3 else []


def ort_category(op: str, ins: list[list[int]],
                 conv: tuple[list[int], int] | None = None) -> str:
    """Category of an ONNX Runtime node from its op type and input shapes; `conv` is a
    convolution's (weight shape, group) from the optimized model when the trace lacks the
    weight."""
    if op in ORT_CONVS:
        if conv is not None:
            w, groups = conv
        else:
            w = ort_conv_weight(op, ins)
            if not w:
                return "other"
            x = ins[0] if ins else []
            c = x[1] * (x[4] if len(x) == 5 else 1) if len(x) > 1 else 0   # NCHW or NCHWc
            groups = c if w[1] == 1 and c > 1 else 1
        return conv_category(w[2:], groups, w[1] * groups)
    if op in ("MatMul", "FusedMatMul", "QLinearMatMul", "MatMulInteger", "MatMulIntegerToFloat",
              "DynamicQuantizeMatMul"):
        b = ins[3] if op == "QLinearMatMul" and len(ins) > 3 else ins[1] if len(ins) > 1 else []
        return "fully connected" if len(b) <= 2 else "batched matmul (attention)"
    table = {
        "Gemm": "fully connected", "QGemm": "fully connected",
        "Attention": "batched matmul (attention)",
        "MultiHeadAttention": "batched matmul (attention)",
        "Softmax": "softmax", "LogSoftmax": "softmax",
        "LayerNormalization": "layer norm", "SkipLayerNormalization": "layer norm",
        "SimplifiedLayerNormalization": "layer norm",
        "Gelu": "gelu", "FastGelu": "gelu", "BiasGelu": "gelu", "Erf": "gelu",
        "Add": "elementwise add/mul", "Sub": "elementwise add/mul", "Mul": "elementwise add/mul",
        "Div": "elementwise add/mul", "Sum": "elementwise add/mul",
        "QLinearAdd": "elementwise add/mul", "QLinearMul": "elementwise add/mul",
        "Relu": "activation", "Clip": "activation", "Sigmoid": "activation",
        "HardSigmoid": "activation", "HardSwish": "activation", "Tanh": "activation",
        "LeakyRelu": "activation", "QLinearSigmoid": "activation",
        "QuickGelu": "activation",   # x * sigmoid(alpha x): SiLU (alpha 1) in efficientnet
        "NhwcMaxPool": "pooling", "QLinearLeakyRelu": "activation",
        "GlobalAveragePool": "pooling", "AveragePool": "pooling", "MaxPool": "pooling",
        "GlobalMaxPool": "pooling", "ReduceMean": "pooling",
        "QLinearGlobalAveragePool": "pooling", "QLinearAveragePool": "pooling",
        "Transpose": "layout", "Reshape": "layout", "ReorderInput": "layout",
        "ReorderOutput": "layout", "Flatten": "layout", "Squeeze": "layout",
        "Unsqueeze": "layout", "Concat": "layout", "Slice": "layout", "Gather": "layout",
        "Identity": "layout", "Expand": "layout", "Split": "layout", "Cast": "layout",
        "QLinearConcat": "layout",
        "QuantizeLinear": "quantize/dequantize", "DequantizeLinear": "quantize/dequantize",
        "DynamicQuantizeLinear": "quantize/dequantize",
    }
    return table.get(op, "other")


def _shapes(entries: list[dict[str, list[int]]]) -> list[list[int]]:
    return [list(next(iter(e.values()))) if e else [] for e in entries]


def ort_worker(a: argparse.Namespace) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort

    import peer_onnxruntime

    peer_onnxruntime.setup(a.threads)
    plain = peer_onnxruntime.session(a.artifact, a.threads)
    rng = np.random.default_rng(0)
    feed = {i.name: rng.standard_normal([d if isinstance(d, int) else 1 for d in i.shape])
            .astype(np.float32) for i in plain.get_inputs()}
    so = plain.get_session_options()
    so.enable_profiling = True
    so.profile_file_prefix = os.path.join(a.work, "ort_profile")
    sess = ort.InferenceSession(a.artifact, so, providers=["CPUExecutionProvider"])
    runs = a.warmup + a.iters * a.rounds
    whole = []
    # Rounds alternate the unprofiled and the profiled session, so both see the same machine.
    for r in range(a.rounds):
        times = bench_measure(lambda: plain.run(None, feed), a.warmup if r == 0 else 1, a.iters)
        whole.append(bench.upper_median(times))
        for _ in range(a.iters + (a.warmup if r == 0 else 0)):
            sess.run(None, feed)
    trace = sess.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)
    per_node: dict[str, list[float]] = {}
    info: dict[str, tuple[str, list[list[int]], list[list[int]]]] = {}
    totals = []
    for e in events:
        if e.get("cat") == "Session" and e.get("name") == "model_run":
            totals.append(e["dur"] / 1e3)
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        name = e["name"][:-len("_kernel_time")]
        per_node.setdefault(name, []).append(e["dur"] / 1e3)
        if name not in info:
            ar = e.get("args", {})
            info[name] = (ar.get("op_name", "?"), _shapes(ar.get("input_type_shape", [])),
                          _shapes(ar.get("output_type_shape", [])))
    convs = {}
    if any(op in ORT_CONVS and not ort_conv_weight(op, ins) for op, ins, _ in info.values()):
        convs = ort_optimized_convs(a)
    layers = []
    for name, durs in per_node.items():
        op, ins, outs = info[name]
        timed = durs[-(a.iters * a.rounds):] if len(durs) >= runs else durs
        layers.append({"name": name, "op": op, "category": ort_category(op, ins, convs.get(name)),
                       "ms": median(timed), "calls": len(durs),
                       "shape": "%s -> %s" % (" ".join(_dims(s) for s in ins[:2]),
                                              " ".join(_dims(s) for s in outs[:1]))})
    notes = []
    if any(layer["calls"] != runs for layer in layers):
        notes.append("some nodes ran a number of times other than once per run")
    return {"ok": True, "layers": layers, "whole_ms": median(whole),
            "extra": {"profiled_run_median_ms": median(totals[-(a.iters * a.rounds):])
                      if totals else 0.0},
            "notes": notes, "version": ort.__version__}


def ort_optimized_convs(a: argparse.Namespace) -> dict[str, tuple[list[int], int]]:
    """{node name: (weight shape, group)} of every convolution in the graph ONNX Runtime runs
    (written by a throwaway session with the same optimizations), for the convolutions whose
    weight the profiling trace leaves out because it was pre-packed."""
    import onnx
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = a.threads
    path = os.path.join(a.work, "ort_optimized.onnx")
    so.optimized_model_filepath = path
    ort.InferenceSession(a.artifact, so, providers=["CPUExecutionProvider"])
    g = onnx.load(path).graph
    os.remove(path)
    dims = {t.name: list(t.dims) for t in g.initializer}
    out: dict[str, tuple[list[int], int]] = {}
    for n in g.node:
        if n.op_type not in ORT_CONVS:
            continue
        group = next((int(at.i) for at in n.attribute if at.name == "group"), 1)
        w = dims.get(n.input[3] if n.op_type == "QLinearConv" else n.input[1], [])
        if len(w) >= 3:
            out[n.name] = (w, group)
    return out


def bench_measure(fn: Callable[[], object], warmup: int, iters: int) -> list[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return times


ET_CONTAINERS = ("DELEGATE_CALL", "Method::execute", "OPERATOR_CALL", "Method::init",
                 "Program::load_method")


def et_category(name: str) -> str:
    """Category of an ExecuTorch event: an XNNPACK operator type ("Convolution (NHWC, F32)
    DWConv #3") or a non-delegated operator's name."""
    n = name.lower()
    if n.startswith("convolution") or n.startswith("deconvolution"):
        if "dwconv" in n:
            return "depthwise conv"
        if re.search(r"\) gemm\b", n):
            return "conv 1x1"
        return "conv KxK"
    rules = [
        ("fully connected", "fully connected"),
        ("batch matrix multiply", "batched matmul (attention)"),
        ("bmm", "batched matmul (attention)"), ("softmax", "softmax"),
        ("layer_norm", "layer norm"), ("layer norm", "layer norm"), ("gelu", "gelu"),
        ("convert", "quantize/dequantize"), ("quantize", "quantize/dequantize"),
        ("add", "elementwise add/mul"), ("multiply", "elementwise add/mul"),
        ("subtract", "elementwise add/mul"), ("divide", "elementwise add/mul"),
        ("mul", "elementwise add/mul"), ("div", "elementwise add/mul"),
        ("hardswish", "activation"), ("sigmoid", "activation"), ("clamp", "activation"),
        ("relu", "activation"), ("tanh", "activation"), ("elu", "activation"),
        ("pool", "pooling"), ("mean", "pooling"), ("reduce", "pooling"),
        ("transpose", "layout"), ("reshape", "layout"), ("copy", "layout"),
        ("concatenate", "layout"), ("slice", "layout"), ("pad", "layout"), ("split", "layout"),
        ("permute", "layout"), ("view", "layout"), ("expand", "layout"), ("clone", "layout"),
        ("cat", "layout"),
    ]
    for key, cat in rules:
        if key in n:
            return cat
    return "other"


def module_layers(module: Any, inputs: Sequence[Any]) -> list[tuple[str, str]]:
    """(category, shape) of every nn.Conv2d / nn.Linear call of the eager module, in call
    order (functional calls, such as nn.MultiheadAttention's projections, are not seen)."""
    import torch

    seq: list[tuple[str, str]] = []

    def hook(mod: Any, hook_args: tuple[Any, ...]) -> None:
        x = list(hook_args[0].shape)
        if isinstance(mod, torch.nn.Conv2d):
            cat = conv_category(mod.kernel_size, mod.groups, mod.in_channels)
            seq.append((cat, "conv %s/%s %s -> %d ch, groups %d" % (
                _dims(mod.kernel_size), _dims(mod.stride), _dims(x), mod.out_channels,
                mod.groups)))
        else:
            seq.append(("fully connected", "linear %s -> %d" % (_dims(x), mod.out_features)))

    handles = [m.register_forward_pre_hook(hook) for m in module.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        module(*inputs)
    for h in handles:
        h.remove()
    return seq


def et_consistent(event_cat: str, module_cat: str) -> bool:
    if event_cat == "depthwise conv":
        return module_cat == "depthwise conv"
    if event_cat == "fully connected":
        return module_cat in ("fully connected", "conv 1x1")
    if event_cat == "conv 1x1":
        return module_cat == "conv 1x1"
    return module_cat in ("conv KxK", "conv 1x1")


def et_worker(a: argparse.Namespace) -> dict[str, Any]:
    import importlib.metadata

    from executorch.devtools import Inspector
    from executorch.extension.pybindings import portable_lib

    import peer_executorch

    peer_executorch.setup(a.threads)
    module, inputs = models.load(a.spec)
    seq = module_layers(module, inputs)
    del module
    fn = peer_executorch.load({}, a.artifact, inputs, a.threads)
    prog = portable_lib._load_for_executorch(a.artifact, enable_etdump=True)
    if not prog.has_etdump():
        return {"ok": False, "error": "this ExecuTorch runtime has no ETDump (event tracer)"}
    runs = a.warmup + a.iters * a.rounds
    whole = []
    # Rounds alternate the unprofiled and the profiled program, so both see the same machine.
    for r in range(a.rounds):
        whole.append(bench.upper_median(bench_measure(fn, a.warmup if r == 0 else 1, a.iters)))
        for _ in range(a.iters + (a.warmup if r == 0 else 0)):
            prog.forward(list(inputs))
    path = os.path.join(a.work, "executorch.etdp")
    prog.write_etdump_result_to_file(path)
    insp = Inspector(etdump_path=path)
    timed = a.iters * a.rounds
    events: list[tuple[str, float]] = []
    totals: dict[str, float] = {}
    for block in insp.event_blocks:
        if block.name == "Default":
            continue
        for e in block.events:
            raw = list(e.perf_data.raw) if e.perf_data is not None else []
            if not raw or len(raw) % runs:
                continue
            per = len(raw) // runs   # an event name logged by several delegates: sum per run
            per_run = [sum(raw[i * per:(i + 1) * per]) for i in range(runs)][-timed:]
            base = re.sub(r" #\d+$", "", e.name)
            if base in ET_CONTAINERS:
                totals[base] = totals.get(base, 0.0) + median(per_run)
            else:
                events.append((e.name, median(per_run)))
    layers: list[dict[str, Any]] = [
        {"name": n, "op": re.sub(r" #\d+$", "", n), "category": et_category(n), "ms": ms,
         "shape": ""} for n, ms in events]
    notes = []
    gemm = [layer for layer in layers if layer["op"].lower().startswith(
        ("convolution", "fully connected"))]
    if len(gemm) == len(seq) and all(et_consistent(layer["category"], cat)
                                     for layer, (cat, _) in zip(gemm, seq, strict=True)):
        for layer, (cat, shape) in zip(gemm, seq, strict=True):
            layer["category"], layer["shape"] = cat, shape
        notes.append("ExecuTorch convolution / fully connected events matched in order with the "
                     "module's %d Conv2d/Linear calls (ExecuTorch runs 1x1 convolutions as "
                     "fully connected operators)" % len(seq))
    else:
        notes.append("ExecuTorch convolution / fully connected events (%d) could not be matched "
                     "with the module's Conv2d/Linear calls (%d): named by XNNPACK operator type "
                     "only, so a 1x1 convolution ExecuTorch runs as \"Fully Connected\" counts as "
                     "fully connected" % (len(gemm), len(seq)))
    return {"ok": True, "layers": layers, "whole_ms": median(whole),
            "extra": {"profiled_" + k.replace("::", "_").lower() + "_ms": v
                      for k, v in totals.items()},
            "notes": notes, "version": "executorch %s" % importlib.metadata.version("executorch")}


def peer_main(argv: Sequence[str]) -> int:
    p = argparse.ArgumentParser(prog="layer_profile.py _peer")
    p.add_argument("peer", choices=("onnxruntime", "executorch"))
    p.add_argument("--artifact", required=True)
    p.add_argument("--spec", default="")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", required=True)
    a = p.parse_args(argv)
    real_stdout = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, os.path.join(REPO, "python"))
    try:
        reply = ort_worker(a) if a.peer == "onnxruntime" else et_worker(a)
    except Exception as e:  # a peer failing is a result, not a crash
        reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, str(e).strip()[:500])}
    real_stdout.write(json.dumps(reply) + "\n")
    real_stdout.flush()
    return 0 if reply.get("ok") else 1


def profile_peer(peer: str, model: models.Model, artifact: str, threads: int, args: Any,
                 work: str, rnd: int) -> EngineProfile:
    """One round of a peer in a fresh process (warm-up, then --iters unprofiled and --iters
    profiled runs)."""
    cmd = [PYTHON, os.path.abspath(__file__), "_peer", peer, "--artifact", artifact, "--spec",
           model.spec, "--threads", str(threads), "--iters", str(args.iters), "--warmup",
           str(args.warmup), "--rounds", "1", "--work", work]
    log = os.path.join(work, "%s.%s.%dT.round%d.log" % (model.name, peer, threads, rnd))
    rc, out, err = bench.run_logged(cmd, log, RUN_TIMEOUT_S, env=bench.env_for(threads))
    prof = EngineProfile(peer)
    try:
        reply = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        reply = {"ok": False, "error": "exit %d: %s" % (rc, bench.last_error_line(err))}
    if not reply.get("ok"):
        prof.error = reply.get("error", "?")
        return prof
    prof.layers = [Layer(d["name"], d["op"], d["category"], d["ms"], d.get("shape", ""))
                   for d in reply["layers"]]
    prof.whole_ms = reply["whole_ms"]
    prof.extra = reply["extra"]
    prof.notes = reply["notes"]
    return prof


def merge_rounds(peer: str, rounds: list[EngineProfile]) -> EngineProfile:
    """Per layer the median over rounds. Layers are matched by name (and, for a name several
    layers share, by occurrence): every round must have the same ones, though not in the same
    order (ONNX Runtime orders independent nodes, such as its NCHWc reorders, differently from
    one session to the next)."""
    first = rounds[0]
    prof = EngineProfile(peer, notes=first.notes)

    def keyed(layers: list[Layer]) -> dict[tuple[str, int], Layer]:
        # ExecuTorch names a non-delegated operator's every call alike: the k-th of a name
        seen: dict[str, int] = {}
        out = {}
        for x in layers:
            seen[x.name] = seen.get(x.name, -1) + 1
            out[(x.name, seen[x.name])] = x
        return out

    by_key = [keyed(r.layers) for r in rounds]
    if any(d.keys() != by_key[0].keys() for d in by_key):
        prof.error = "the layers differ between rounds"
        return prof
    for key, layer in by_key[0].items():
        prof.layers.append(Layer(layer.name, layer.op, layer.category,
                                 median([d[key].ms for d in by_key]), layer.shape))
    whole = [r.whole_ms for r in rounds if r.whole_ms is not None]
    prof.whole_ms = median(whole) if whole else None
    prof.extra = {k: median([r.extra[k] for r in rounds if k in r.extra]) for k in first.extra}
    return prof


# ---------------------------------------------------------------- report


def _fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else "%.*f" % (digits, v)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b <= 0 or a <= 0 else "%.2f" % (a / b)


def model_markdown(model: models.Model, threads: int, profs: dict[str, EngineProfile]) -> str:
    engines = [e for e in ("xnnd", "onnxruntime", "executorch") if e in profs]
    peers = [e for e in engines if e != "xnnd" and profs[e].error is None]
    label = {"xnnd": "xnnd", **PEER_LABELS}
    cats = {e: profs[e].by_category() for e in engines}
    out = ["## %s, %d thread%s" % (model.name, threads, "s" if threads > 1 else ""), ""]
    head = ["category"] + ["%s ms (n)" % label[e] for e in engines] + \
        ["xnnd / %s" % label[e] for e in peers]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + " --- |" * len(head))
    for cat in CATEGORIES:
        if not any(cat in cats[e] for e in engines):
            continue
        row = [cat]
        for e in engines:
            ms, n = cats[e].get(cat, (None, 0))
            row.append("%s (%d)" % (_fmt(ms), n) if ms is not None else "-")
        mine = cats["xnnd"].get(cat, (None, 0))[0] if "xnnd" in cats else None
        row += [_ratio(mine, cats[e].get(cat, (None, 0))[0]) for e in peers]
        out.append("| " + " | ".join(row) + " |")
    sums = {e: profs[e].layer_sum() if profs[e].layers else None for e in engines}
    row = ["**sum of layers**"] + ["**%s** (%d)" % (_fmt(sums[e]), len(profs[e].layers))
                                   if sums[e] is not None else "-" for e in engines]
    row += [_ratio(sums.get("xnnd"), sums[e]) for e in peers]
    out.append("| " + " | ".join(row) + " |")
    row = ["whole model, real program (median)"] + [_fmt(profs[e].whole_ms) for e in engines]
    row += [_ratio(profs["xnnd"].whole_ms if "xnnd" in profs else None, profs[e].whole_ms)
            for e in peers]
    out.append("| " + " | ".join(row) + " |")
    out.append("")
    for e in engines:
        p = profs[e]
        if p.error:
            out.append("- %s: **failed**: %s" % (label[e], p.error))
            continue
        x = p.extra
        if e == "xnnd" and x:
            out.append(
                "- xnnd: layers = steps of the per-op program (%d, %d of them portable kernels, "
                "which count whole; delegates count their compute), median per execute. That "
                "program's execute: %.2f ms mean, "
                "of which %.2f ms NCHW/NHWC boundary and %.2f ms dispatch outside the layers "
                "(per-op artifacts); sum of layers / real median = %.2f. Real program: "
                "%d step(s), %.2f ms mean execute, %.2f ms in delegate compute."
                % (x["perop_steps"], x["portable_steps_perop"], x["perop_execute_mean_ms"],
                   x["perop_boundary_ms"], x["perop_dispatch_ms"],
                   p.layer_sum() / p.whole_ms if p.whole_ms else 0.0, x["normal_steps"],
                   x["normal_execute_mean_ms"], x["normal_delegate_compute_ms"]))
        elif e == "onnxruntime":
            out.append("- ONNX Runtime: layers = `Node` kernel times of the profiled session; "
                       "profiled run %.2f ms median; sum of layers / real median = %s."
                       % (x.get("profiled_run_median_ms", 0.0),
                          _ratio(p.layer_sum(), p.whole_ms)))
        elif e == "executorch":
            out.append("- ExecuTorch: layers = ETDump operator events; profiled "
                       "Method::execute %.2f ms, DELEGATE_CALL %.2f ms (median); sum of layers "
                       "/ real median = %s."
                       % (x.get("profiled_method_execute_ms", 0.0),
                          x.get("profiled_delegate_call_ms", 0.0),
                          _ratio(p.layer_sum(), p.whole_ms)))
        for note in p.notes:
            out.append("  %s" % note)
    if "xnnd" in profs and profs["xnnd"].layers:
        out += ["", "Top 10 xnnd layers:", "",
                "| # | node | op | category | shape | ms | share |", "| --- |" + " --- |" * 6]
        total = profs["xnnd"].layer_sum()
        top = sorted(profs["xnnd"].layers, key=lambda layer: -layer.ms)[:10]
        for i, layer in enumerate(top):
            out.append("| %d | %s | %s | %s | %s | %.3f | %.1f%% |" % (
                i + 1, layer.name, layer.op, layer.category, layer.shape, layer.ms,
                100.0 * layer.ms / total if total else 0.0))
    out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- main


def export_model(ex: bench.Exporter, model: models.Model, peers: Sequence[str]
                 ) -> dict[str, str | Exception]:
    """{engine: artifact}: xnnd's program (with its IR kept beside it) and each peer's file."""
    arts: dict[str, str | Exception] = {}
    extra = ["--keep-ir", ex.dir] + (["--quantize", "int8"] if model.precision == "int8" else [])
    stem = model.name + ".xnnd"
    try:
        pte = ex.xnnd_export(model.spec, stem, extra)
        if not os.path.exists(os.path.join(ex.dir, stem + ".ir")):
            # a program reused from a benchmark run, exported without --keep-ir
            os.remove(pte)
            pte = ex.xnnd_export(model.spec, stem, extra)
        arts["xnnd"] = pte
    except (RuntimeError, OSError) as e:
        arts["xnnd"] = e
    for peer in peers:
        path = os.path.join(ex.dir, "%s.%s.%s" % (model.name, peer, bench.ARTIFACT_EXT[peer]))
        try:
            ex.peer_export(peer, model, path)
            arts[peer] = path
        except RuntimeError as e:
            arts[peer] = e
    return arts


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/layer_profile.py", description="Per-layer profile of xnnd against ONNX "
        "Runtime and ExecuTorch (see bench/README.md). Models: " +
        ", ".join(m.name for m in models.MODELS) + ".")
    p.add_argument("--models", default="mobilenet_v2", help="comma-separated (default "
                   "%(default)s)")
    p.add_argument("--threads", default="1", help="thread counts (default %(default)s)")
    p.add_argument("--peers", default="onnxruntime,executorch", help="default %(default)s")
    p.add_argument("--iters", type=int, default=20, help="timed runs per round (default "
                   "%(default)s)")
    p.add_argument("--rounds", type=int, default=3, help="rounds; each runs xnnd's per-op and "
                   "real programs, then every peer in a fresh process (default %(default)s)")
    p.add_argument("--warmup", type=int, default=3, help="untimed runs first (default "
                   "%(default)s)")
    p.add_argument("--out", default="layer-profile", help="output directory (default "
                   "%(default)s)")
    p.add_argument("--xnnd", default=os.path.join("build", "xnnd"), help="the CLI (default "
                   "%(default)s)")
    p.add_argument("--reuse-exports", action="store_true", help="keep the artifacts a previous "
                   "run (of this or of scripts/bench with the same --out) left in OUT/models")
    args = p.parse_args(argv)
    try:
        args.model_list = models.by_name([s for s in args.models.split(",") if s])
    except KeyError as e:
        p.error("unknown model %s" % e)
    args.peer_list = [s for s in args.peers.split(",") if s]
    for s in args.peer_list:
        if s not in PEER_LABELS:
            p.error("unknown peer %r (known: %s)" % (s, ", ".join(PEER_LABELS)))
    args.thread_list = [int(s) for s in args.threads.split(",") if s]
    if args.iters < 1 or args.rounds < 1 or args.warmup < 0 or not args.thread_list:
        p.error("--iters and --rounds must be >= 1, --warmup >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_peer"]:
        return peer_main(argv[1:])
    args = parse_args(argv)
    os.chdir(REPO)
    if not os.access(args.xnnd, os.X_OK):
        print("layer_profile: %s not found; run ./scripts/build first" % args.xnnd,
              file=sys.stderr)
        return 1
    os.makedirs(args.out, exist_ok=True)
    work = os.path.join(args.out, "work")
    os.makedirs(work, exist_ok=True)
    xnnd = os.path.abspath(os.path.join(args.out, "xnnd"))
    import shutil
    shutil.copy2(args.xnnd, xnnd)   # build/ is shared: keep one binary for the whole run
    ex = bench.Exporter(xnnd, args.out, args.reuse_exports)
    load_start = os.getloadavg()
    results: list[dict[str, Any]] = []
    md = ["# Per-layer profile: xnnd against ONNX Runtime and ExecuTorch", "",
          "Generated by `bench/layer_profile.py` (bench/README.md, \"Per-layer profile\") on %s; "
          "%d timed runs x %d rounds after %d warm-up runs per engine. Load average at start "
          "%.2f: this machine is shared, so the figures are indicative." % (
              time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), args.iters, args.rounds,
              args.warmup, load_start[0]), ""]
    for model in args.model_list:
        progress("export %s" % model.name)
        arts = export_model(ex, model, args.peer_list)
        for t in args.thread_list:
            profs: dict[str, EngineProfile] = {}
            art = arts["xnnd"]
            xp: XnndProfiler | None = None
            if isinstance(art, Exception):
                profs["xnnd"] = EngineProfile("xnnd", error=str(art))
            else:
                stem = art[:-len(".pte")]
                try:
                    xp = XnndProfiler(art, stem + ".ir", stem + ".xcb", xnnd, t, args, work)
                except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                    profs["xnnd"] = EngineProfile("xnnd", error=str(e))
            peer_rounds: dict[str, list[EngineProfile]] = {p: [] for p in args.peer_list}
            for peer in args.peer_list:
                if isinstance(arts[peer], Exception):
                    profs[peer] = EngineProfile(peer, error=str(arts[peer]))
            # Rounds interleave the engines, so a busy spell on the machine hits all alike.
            for r in range(args.rounds):
                progress("%s %dT round %d/%d" % (model.name, t, r + 1, args.rounds))
                if xp is not None and "xnnd" not in profs:
                    try:
                        xp.round()
                    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                        profs["xnnd"] = EngineProfile("xnnd", error=str(e))
                for peer in args.peer_list:
                    if peer in profs:
                        continue
                    one = profile_peer(peer, model, str(arts[peer]), t, args, work, r)
                    if one.error:
                        profs[peer] = one
                    else:
                        peer_rounds[peer].append(one)
            if xp is not None and "xnnd" not in profs:
                profs["xnnd"] = xp.result()
            for peer in args.peer_list:
                if peer not in profs:
                    profs[peer] = merge_rounds(peer, peer_rounds[peer])
            profs = {e: profs[e] for e in ["xnnd"] + args.peer_list}
            for engine, prof in profs.items():
                if prof.error:
                    progress("  %s failed: %s" % (engine, prof.error))
            text = model_markdown(model, t, profs)
            print(text, flush=True)
            md.append(text)
            results.append({"model": model.name, "precision": model.precision, "threads": t,
                            "engines": {k: asdict(v) for k, v in profs.items()}})
    load_end = os.getloadavg()
    md.append("Load average at end %.2f." % load_end[0])
    with open(os.path.join(args.out, "layer_profile.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(args.out, "layer_profile.json"), "w") as f:
        json.dump({"settings": {"iters": args.iters, "rounds": args.rounds,
                                "warmup": args.warmup, "threads": args.thread_list,
                                "peers": args.peer_list},
                   "loadavg_start": load_start, "loadavg_end": load_end,
                   "categories": CATEGORIES, "results": results}, f, indent=1)
    print("wrote %s" % ", ".join(os.path.join(args.out, n) for n in
                                 ("layer_profile.md", "layer_profile.json")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
