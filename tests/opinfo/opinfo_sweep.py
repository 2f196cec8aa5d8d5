"""OpInfo differential sweep: PyTorch's own operator samples (op_db of
torch.testing._internal.common_methods_invocations) run through xnnd and compared with eager.

For every core ATen overload xnnd supports (xnnd.core_aten), the OpInfo entries of OPINFOS
give float32 samples. Each sample becomes a one-op module (tensor arguments -> program inputs,
everything else baked in), is captured with torch.export and decomposed like xnnd.export does;
it counts for an overload only when that overload is in its decomposed graph. The samples of one
OpInfo are lowered as one program with one output group per sample, twice (delegated, and
portable only), run once each with `xnnd run`, and compared with eager under TOLERANCES.

Per sample: pass, fail (max abs error, per mode) or skip (reason: capture failure, export
refused with xnnd's message, dtype, ...). The coverage report is printed and written as
report.json and report.md to --out (default build/opinfo). Exit status 1 when a fail or skip
is not in tests/opinfo/expected.json (overload -> known non-passing samples with their
reason); --update-expected rewrites that file from this run.

Usage (from the repository root):
  PYTHONPATH=python:tests/python .venv/bin/python tests/opinfo/opinfo_sweep.py [--out DIR]
      [--ops REGEX] [--max-samples N] [--jobs N] [--update-expected]
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing
import os
import re
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from typing import Any

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "tests", "python")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.utils._pytree as pytree  # noqa: E402

from xnnd import aten_map, api, core_aten, ir_text, trace  # noqa: E402
from xnnd.errors import ExportError  # noqa: E402

import oprun  # noqa: E402

EXPECTED_PATH = os.path.join(ROOT, "tests", "opinfo", "expected.json")
MAX_SAMPLES = 10     # per OpInfo entry, smallest first
RUN_TIMEOUT = 120    # seconds per `xnnd run`

# Core overload -> OpInfo entries ("name" or "name.variant") whose samples may exercise it.
# Each sample is checked: it counts only if the overload is in its decomposed graph. An
# overload missing here is reported as "(none mapped)". A repeated key continues its line.
_OPINFO_TABLE = """
_adaptive_avg_pool2d.default: nn.functional.adaptive_avg_pool2d
_adaptive_avg_pool3d.default: nn.functional.adaptive_avg_pool3d
_cdist_forward.default: cdist
_embedding_bag.default: nn.functional.embedding_bag
_log_softmax.default: log_softmax
_native_batch_norm_legit.no_stats: nn.functional.instance_norm _native_batch_norm_legit
_native_batch_norm_legit_no_training.default: nn.functional.batch_norm
_pdist_forward.default: nn.functional.pdist
_softmax.default: softmax
_to_copy.default: to float double long int bool byte
abs.default: abs
acos.default: acos
acosh.default: acosh
adaptive_avg_pool1d.default: nn.functional.adaptive_avg_pool1d
add.Scalar: add
add.Tensor: add
addmm.default: addmm nn.functional.linear
alias.default: alias_copy
amax.default: amax
amin.default: amin
any.default: any
any.dim: any
any.dims: any
arange.start_step: arange
argmax.default: argmax
argmin.default: argmin
as_strided.default: as_strided
asin.default: asin
asinh.default: asinh
atan.default: atan
atan2.default: atan2
atanh.default: atanh
avg_pool1d.default: nn.functional.avg_pool1d
avg_pool2d.default: nn.functional.avg_pool2d
avg_pool3d.default: nn.functional.avg_pool3d
bitwise_and.Scalar: bitwise_and
bitwise_and.Tensor: bitwise_and
bitwise_not.default: bitwise_not
bitwise_or.Scalar: bitwise_or
bitwise_or.Tensor: bitwise_or
bitwise_xor.Scalar: bitwise_xor
bitwise_xor.Tensor: bitwise_xor
bmm.default: bmm
cat.default: cat
ceil.default: ceil
clamp.Tensor: clamp clamp_min clamp_max
clamp.default: clamp
clone.default: clone
constant_pad_nd.default: constant_pad_nd nn.functional.pad.constant
convolution.default: nn.functional.conv1d nn.functional.conv2d nn.functional.conv3d
convolution.default: nn.functional.conv_transpose1d nn.functional.conv_transpose2d
convolution.default: nn.functional.conv_transpose3d
copy.default: index_copy
where.self: masked_fill
cos.default: cos
cosh.default: cosh
cumsum.default: cumsum
diagonal.default: diagonal
div.Scalar: div.no_rounding_mode
div.Scalar_mode: div.trunc_rounding div.floor_rounding
div.Tensor: div.no_rounding_mode true_divide
div.Tensor_mode: div.trunc_rounding div.floor_rounding floor_divide
elu.default: nn.functional.elu
embedding.default: nn.functional.embedding
empty.memory_format: new_empty
empty_strided.default: empty_strided
eq.Scalar: eq
eq.Tensor: eq
erf.default: erf
exp.default: exp
expand.default: expand expand_as
expm1.default: expm1
fill.Scalar: fill
flip.default: flip fliplr flipud
floor.default: floor
fmod.Scalar: fmod
fmod.Tensor: fmod
full.default: full
full_like.default: full_like zeros_like ones_like
gather.default: gather
ge.Scalar: ge
ge.Tensor: ge
gelu.default: nn.functional.gelu
grid_sampler_2d.default: nn.functional.grid_sample
gt.Scalar: gt
gt.Tensor: gt
hardtanh.default: nn.functional.hardtanh nn.functional.relu6
index.Tensor: __getitem__ take _unsafe_masked_index
index_put.default: index_put
index_select.default: index_select
isinf.default: isinf
isnan.default: isnan
le.Scalar: le
le.Tensor: le
leaky_relu.default: nn.functional.leaky_relu
log.default: log
log10.default: log10
log1p.default: log1p
log2.default: log2
logical_and.default: logical_and
logical_not.default: logical_not
logical_or.default: logical_or
logical_xor.default: logical_xor
lt.Scalar: lt
lt.Tensor: lt
masked_scatter.default: masked_scatter
max.dim: max.reduction_with_dim
max_pool2d_with_indices.default: nn.functional.max_pool2d
max_pool3d_with_indices.default: nn.functional.max_pool3d
maximum.default: maximum
mean.default: mean
mean.dim: mean
min.dim: min.reduction_with_dim
minimum.default: minimum
mm.default: mm matmul
mul.Scalar: mul
mul.Tensor: mul
native_group_norm.default: nn.functional.group_norm
native_layer_norm.default: nn.functional.layer_norm native_layer_norm
ne.Scalar: ne
ne.Tensor: ne
neg.default: neg
permute.default: permute
pow.Scalar: pow
pow.Tensor_Scalar: pow
pow.Tensor_Tensor: pow
prod.default: prod
prod.dim_int: prod
reciprocal.default: reciprocal
reflection_pad1d.default: nn.functional.pad.reflect
reflection_pad2d.default: nn.functional.pad.reflect
reflection_pad3d.default: nn.functional.pad.reflect
relu.default: nn.functional.relu
remainder.Scalar: remainder
remainder.Tensor: remainder
repeat.default: repeat
replication_pad2d.default: nn.functional.pad.replicate
replication_pad3d.default: nn.functional.pad.replicate
round.default: round
rsqrt.default: rsqrt
scalar_tensor.default: scalar_tensor
scatter.src: scatter
scatter.value: scatter
scatter_add.default: scatter_add
scatter_reduce.two: scatter_reduce.sum scatter_reduce.prod scatter_reduce.amax
scatter_reduce.two: scatter_reduce.amin scatter_reduce.mean
select.int: select
select_scatter.default: select_scatter
sigmoid.default: sigmoid
sign.default: sign
sin.default: sin
sinh.default: sinh
slice.Tensor: narrow
slice_scatter.default: slice_scatter
sort.default: sort
split_with_sizes.default: split_with_sizes split
sqrt.default: sqrt
squeeze.dim: squeeze
squeeze.dims: squeeze.multiple
sub.Scalar: sub
sub.Tensor: sub
sum.dim_IntList: sum
tan.default: tan
tanh.default: tanh
topk.default: topk
trunc.default: trunc
unsqueeze.default: unsqueeze
upsample_bilinear2d.vec: nn.functional.interpolate.bilinear
upsample_nearest2d.vec: nn.functional.interpolate.nearest
var.correction: var
var.dim: var
view.default: view reshape flatten
where.self: where
"""
OPINFOS: dict[str, list[str]] = {}
for _line in _OPINFO_TABLE.strip().splitlines():   # a repeated overload continues its line
    _key, _names = _line.split(":", 1)
    OPINFOS.setdefault("aten." + _key.strip(), []).extend(_names.split())

# (rtol, atol) per overload and mode, for float outputs (integer and bool outputs are exact);
# DEFAULT_TOLERANCE elsewhere. Looser where an op is computed differently: XNNPACK's
# approximations of transcendental functions, sums accumulated in another order.
DEFAULT_TOLERANCE = (1e-5, 1e-5)
_ACCUMULATING = (1e-4, 1e-4)
TOLERANCES = {
    "portable": {
        "aten.convolution.default": _ACCUMULATING, "aten.addmm.default": _ACCUMULATING,
        "aten.mm.default": _ACCUMULATING, "aten.bmm.default": _ACCUMULATING,
        "aten.mean.dim": _ACCUMULATING, "aten.mean.default": _ACCUMULATING,
        "aten.native_layer_norm.default": _ACCUMULATING,
        "aten._softmax.default": _ACCUMULATING, "aten._log_softmax.default": _ACCUMULATING,
        "aten.avg_pool2d.default": _ACCUMULATING,
        "aten._adaptive_avg_pool2d.default": _ACCUMULATING,
        "aten.upsample_bilinear2d.vec": _ACCUMULATING,
    },
    "delegated": {
        "aten.convolution.default": _ACCUMULATING, "aten.addmm.default": _ACCUMULATING,
        "aten.mm.default": _ACCUMULATING, "aten.bmm.default": _ACCUMULATING,
        "aten.mean.dim": _ACCUMULATING, "aten.mean.default": _ACCUMULATING,
        "aten.native_layer_norm.default": _ACCUMULATING,
        "aten._softmax.default": (1e-4, 1e-5), "aten._log_softmax.default": _ACCUMULATING,
        "aten.avg_pool2d.default": _ACCUMULATING,
        "aten._adaptive_avg_pool2d.default": _ACCUMULATING,
        "aten.upsample_bilinear2d.vec": _ACCUMULATING,
        # XNNPACK's rational/polynomial approximations
        "aten.sigmoid.default": (1e-5, 3e-6), "aten.tanh.default": (1e-5, 3e-6),
        "aten.gelu.default": (1e-4, 1e-5), "aten.silu.default": (1e-4, 1e-5),
        "aten.hardswish.default": (1e-5, 1e-5),
    },
}

MODES = ("delegated", "portable")


def tolerance(overloads: list[str], mode: str) -> tuple[float, float]:
    """The loosest tolerance of the overloads in a sample's graph."""
    tols = [TOLERANCES[mode].get(o, DEFAULT_TOLERANCE) for o in overloads] or [DEFAULT_TOLERANCE]
    return max(t[0] for t in tols), max(t[1] for t in tols)


# ---- samples -> one-op modules ----

class OneOp(torch.nn.Module):
    """fn(input, *args, **kwargs) of one sample, with its tensors as the module's inputs."""

    def __init__(self, fn, leaves, spec, tensor_slots):
        super().__init__()
        self.fn = fn
        self.leaves = leaves
        self.spec = spec
        self.tensor_slots = tensor_slots

    def forward(self, *tensors):
        leaves = list(self.leaves)
        for slot, t in zip(self.tensor_slots, tensors, strict=True):
            leaves[slot] = t
        inp, args, kwargs = pytree.tree_unflatten(leaves, self.spec)
        return self.fn(inp, *args, **kwargs)


def module_of(opinfo, sample):
    leaves, spec = pytree.tree_flatten((sample.input, tuple(sample.args), dict(sample.kwargs)))
    slots = [i for i, x in enumerate(leaves) if isinstance(x, torch.Tensor)]
    tensors = tuple(leaves[i].detach().clone().contiguous() for i in slots)
    baked = [None if isinstance(x, torch.Tensor) else x for x in leaves]
    return OneOp(opinfo.op, baked, spec, slots), tensors


def sample_size(sample) -> int:
    leaves, _ = pytree.tree_flatten((sample.input, tuple(sample.args), dict(sample.kwargs)))
    return sum(x.numel() for x in leaves if isinstance(x, torch.Tensor))


def samples_of(opinfo, max_samples: int) -> list:
    """The float32 samples of an OpInfo, smallest first, at most max_samples; deterministic
    (seeded, stable order)."""
    torch.manual_seed(0)
    samples = list(opinfo.sample_inputs("cpu", torch.float32, requires_grad=False))
    order = sorted(range(len(samples)), key=lambda i: (sample_size(samples[i]), i))
    return [samples[i] for i in order[:max_samples]]


_NODE_RE = re.compile(r" at node '[^']*'| \(from [^()]*(\([^()]*\)[^()]*)*\)")


def short_reason(e: BaseException) -> str:
    """A reason without node names and source locations, so equal causes group together."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    text = _NODE_RE.sub("", text)
    text = re.sub(r"/tmp/\S+", "<tmp>", text)
    text = re.sub(r"%[A-Za-z0-9_]+", "%v", text)   # value names depend on the batch
    return text[:300]


def classify_skip(e: BaseException, stage: str) -> str:
    if stage == "capture":
        return "capture: %s: %s" % (type(e).__name__, short_reason(e))
    if isinstance(e, ExportError) and "unsupported dtype" in str(e):
        return "dtype: " + short_reason(e)
    return "export refused: " + short_reason(e)


def flat_outputs(value):
    flat, _ = pytree.tree_flatten(value)
    return flat


def new_record(opinfo, sample) -> dict[str, Any]:
    """The sample's module, inputs and eager outputs; result "skip" when eager cannot run it."""
    rec: dict[str, Any] = {"overloads": [], "result": None, "reason": None}
    module, tensors = module_of(opinfo, sample)
    rec["module"], rec["inputs"] = module, tensors
    try:
        with torch.no_grad():
            eager = flat_outputs(module(*[t.clone() for t in tensors]))
    except Exception as e:
        rec.update(result="skip", reason="eager: " + short_reason(e))
        return rec
    if not eager or not all(isinstance(t, torch.Tensor) for t in eager):
        rec.update(result="skip", reason="output is not a tensor (or a tuple of tensors)")
        return rec
    rec["eager"] = [t.detach().contiguous().numpy() for t in eager]
    return rec


def capture(module, inputs) -> torch.fx.GraphModule:
    """torch.export (non-strict) and xnnd's decomposition, as xnnd.lower does them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ep = torch.export.export(module, tuple(inputs), strict=False)
    return trace.to_graph_module(ep)


class Batch(torch.nn.Module):
    """Every sample of an OpInfo in one module: one export and one decomposition for all (each
    costs about a second, whatever the graph's size)."""

    def __init__(self, recs):
        super().__init__()
        self.recs = recs

    def forward(self, *tensors):
        outs, pos = [], 0
        for r in self.recs:
            n = len(r["inputs"])
            outs += flat_outputs(r["module"](*tensors[pos:pos + n]))
            pos += n
        return tuple(outs)


def sample_graph_module(gm: torch.fx.GraphModule, keep_inputs: list[int],
                        keep_outputs: list[int]) -> torch.fx.GraphModule:
    """The part of a batched GraphModule one sample needs: its placeholders and what its
    outputs reach."""
    graph = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    out = graph.graph_copy(gm.graph, env)
    flat, _ = pytree.tree_flatten(out)
    output = graph.output(tuple(flat[i] for i in keep_outputs))
    live, stack = set(), [output]
    while stack:
        n = stack.pop()
        if n not in live:
            live.add(n)
            stack.extend(n.all_input_nodes)
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    keep = {placeholders[i] for i in keep_inputs}
    for n in reversed(list(graph.nodes)):
        if n not in live and n not in keep:
            if n.op == "placeholder" and n in live:
                raise RuntimeError("sample reads another sample's input")
            graph.erase_node(n)
    return torch.fx.GraphModule(gm, graph)


def attach(rec: dict[str, Any], gm: torch.fx.GraphModule, overloads: list[str],
           via: dict[str, set[str]]) -> None:
    """Which of `overloads` the sample's decomposed graph holds (directly or through a
    non-core overload xnnd keeps whole, `via`), and its IR."""
    targets = {str(n.target) for n in gm.graph.nodes if n.op == "call_function"}
    rec["overloads"] = [o for o in overloads if o in targets or via.get(o, set()) & targets]
    rec["graph_ops"] = sorted(t for t in targets if t.startswith("aten."))
    if not rec["overloads"]:
        return
    try:
        rec["graph"] = aten_map.convert(gm, "s")
    except Exception as e:
        rec.update(result="skip", reason=classify_skip(e, "export"))


def prepare_all(recs: list[dict[str, Any]], overloads: list[str],
                via: dict[str, set[str]]) -> None:
    """Captures the samples (batched; one by one when the batch cannot be captured, so a
    capture failure lands on its sample) and attaches their graphs."""
    todo = [r for r in recs if r["result"] is None]
    if not todo:
        return
    try:
        gm = capture(Batch(todo), [t for r in todo for t in r["inputs"]])
    except Exception:
        gm = None
    if gm is not None:
        n_in = n_out = 0
        for r in todo:
            ins = list(range(n_in, n_in + len(r["inputs"])))
            outs = list(range(n_out, n_out + len(r["eager"])))
            n_in, n_out = n_in + len(ins), n_out + len(outs)
            try:
                attach(r, sample_graph_module(gm, ins, outs), overloads, via)
            except Exception as e:
                r.update(result="skip", reason="harness: " + short_reason(e),
                         overloads=list(overloads))
        return
    for r in todo:
        try:
            gm = capture(r["module"], r["inputs"])
        except Exception as e:
            r.update(result="skip", reason=classify_skip(e, "capture"))
            continue
        attach(r, gm, overloads, via)


# ---- lowering and running ----

def prefix_names(graph: ir_text.Graph, prefix: str) -> None:
    """Makes a sample's value names unique among the samples merged into one program."""
    seen = set()
    for v in graph.inputs + graph.consts + [o for n in graph.nodes for o in n.outputs]:
        if id(v) not in seen:
            seen.add(id(v))
            v.name = prefix + v.name


def merge_graphs(graphs: list[ir_text.Graph], name: str) -> tuple[ir_text.Graph, list[int]]:
    """One IR graph holding every (prefix_names'd) graph side by side; also the number of
    outputs of each."""
    merged = ir_text.Graph(name)
    counts = []
    for g in graphs:
        merged.inputs += g.inputs
        merged.consts += g.consts
        merged.nodes += g.nodes
        merged.outputs += g.outputs
        counts.append(len(g.outputs))
    return merged, counts


def lower_and_run(graph: ir_text.Graph, inputs: list[torch.Tensor], delegate: bool,
                  workdir: str) -> tuple[list[np.ndarray], api.DelegationReport]:
    result = api.compile_graph(graph, delegate=delegate, xnnd_bin=oprun.xnnd_bin())
    return oprun.run_pte(result.program, inputs, workdir, timeout=RUN_TIMEOUT), result.report


def compare(got: list[np.ndarray], want: list[np.ndarray], tol: tuple[float, float]
            ) -> tuple[bool, float, str]:
    """(ok, max abs error, what differs)."""
    if len(got) != len(want):
        return False, float("inf"), "%d outputs, eager has %d" % (len(got), len(want))
    worst = 0.0
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g.shape != w.shape:
            return False, float("inf"), "output %d shape %s, eager %s" % (i, g.shape, w.shape)
        if g.dtype != w.dtype:
            return False, float("inf"), "output %d dtype %s, eager %s" % (i, g.dtype, w.dtype)
        if g.size == 0:
            continue
        if w.dtype.kind in "biu":
            bad = int(np.count_nonzero(g != w))
            if bad:
                return False, float(np.max(np.abs(g.astype(np.float64) - w))), \
                    "output %d: %d elements differ" % (i, bad)
            continue
        g64, w64 = g.astype(np.float64), w.astype(np.float64)
        nan_ok = np.isnan(g64) == np.isnan(w64)
        if not nan_ok.all():
            return False, float("nan"), "output %d: NaN where eager has none or vice versa" % i
        finite = np.isfinite(w64) & np.isfinite(g64)
        if not (g64[~finite & ~np.isnan(w64)] == w64[~finite & ~np.isnan(w64)]).all():
            return False, float("inf"), "output %d: infinities differ" % i
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.abs(g64 - w64)[finite]
        if err.size:
            worst = max(worst, float(err.max()))
            if not np.all(err <= tol[1] + tol[0] * np.abs(w64[finite])):
                # the error itself is in max_error: a reason must not vary between machines
                return False, worst, "output %d: beyond rtol %g, atol %g" % (i, tol[0], tol[1])
    return True, worst, ""


def run_group(recs: list[dict[str, Any]], name: str) -> None:
    """Lowers and runs the runnable samples of one OpInfo, merged into one program per mode;
    when that fails, one program per sample, so the failure lands on its sample."""
    todo = [r for r in recs if r["result"] is None and "graph" in r]
    if not todo:
        return
    for r in todo:
        r["errors"] = {}
    with tempfile.TemporaryDirectory(prefix="xnnd_opinfo_") as d:
        for mode in MODES:
            delegate = mode == "delegated"
            merged, counts = merge_graphs([r["graph"] for r in todo], re.sub(r"\W", "_", name))
            inputs = [t for r in todo for t in r["inputs"]]
            try:
                outs, report = lower_and_run(merged, inputs, delegate, d)
                pos = 0
                for r, n in zip(todo, counts, strict=True):
                    r.setdefault("outputs", {})[mode] = outs[pos:pos + n]
                    pos += n
                if delegate:
                    note_delegation(todo, report)
                continue
            except Exception:
                pass
            for r in todo:   # attribute the failure
                try:
                    outs, report = lower_and_run(r["graph"], list(r["inputs"]), delegate, d)
                    r.setdefault("outputs", {})[mode] = outs
                    if delegate:
                        note_delegation([r], report)
                except ExportError as e:
                    r["errors"][mode] = "compile: " + short_reason(e).split(": ", 1)[-1]
                except subprocess.TimeoutExpired:
                    r["errors"][mode] = "run: no result after %d s" % RUN_TIMEOUT
                except subprocess.CalledProcessError as e:
                    r["errors"][mode] = "run: " + (e.stderr or "").strip().splitlines()[-1][:300] \
                        if (e.stderr or "").strip() else "run: exit %d" % e.returncode
                    r["errors"][mode] = re.sub(r"%[A-Za-z0-9_]+", "%v", re.sub(
                        r"/tmp/\S+", "<tmp>", r["errors"][mode]))
    for r in todo:
        judge(r)


def note_delegation(recs, report) -> None:
    """Per sample: the IR ops of its graph that ran inside XNNPACK."""
    delegated = {n.output for n in report.nodes if n.delegated}
    for r in recs:
        r["delegated_ops"] = sorted({n.op for n in r["graph"].nodes
                                     if n.outputs and n.outputs[0].name in delegated})


# OpInfo entries whose outputs are uninitialized memory: only shapes and dtypes compare.
UNINITIALIZED = {"empty", "new_empty", "empty_strided", "empty_like", "new_empty_strided"}


def judge(r: dict[str, Any]) -> None:
    errors, worst = [], {}
    for mode in MODES:
        if mode in r["errors"]:
            errors.append("%s %s" % (mode, r["errors"][mode]))
            continue
        want = r["eager"]
        if r["opinfo"] in UNINITIALIZED:
            want = [np.zeros(w.shape, w.dtype) for w in want]
        ok, err, what = compare(r["outputs"][mode], want, tolerance(r["overloads"], mode))
        worst[mode] = err
        if not ok:
            errors.append("%s: %s" % (mode, what))
    r["max_error"] = worst
    if errors:
        r.update(result="fail", reason="; ".join(errors))
    else:
        r.update(result="pass", reason=None)


# ---- one OpInfo entry: the unit of work of a worker ----

_OP_DB: dict[str, Any] = {}


def load_op_db() -> dict[str, Any]:
    if not _OP_DB:
        from torch.testing._internal.common_methods_invocations import op_db
        for o in op_db:
            key = o.name + ("." + o.variant_test_name if o.variant_test_name else "")
            _OP_DB.setdefault(key, o)
    return _OP_DB


def sweep_opinfo(job: tuple[str, list[str], dict[str, set[str]], int]) -> list[dict[str, Any]]:
    """The sample records of one OpInfo entry for the given overloads (JSON-able)."""
    name, overloads, via, max_samples = job
    t0 = time.time()
    opinfo = load_op_db().get(name)
    if opinfo is None:
        return [{"opinfo": name, "sample": name, "overloads": overloads, "result": "skip",
                 "reason": "no OpInfo entry %r in this torch" % name}]
    if torch.float32 not in opinfo.supported_dtypes("cpu"):
        return [{"opinfo": name, "sample": name, "overloads": overloads, "result": "skip",
                 "reason": "dtype: the OpInfo has no float32 samples"}]
    try:
        samples = samples_of(opinfo, max_samples)
    except Exception as e:
        return [{"opinfo": name, "sample": name, "overloads": overloads, "result": "skip",
                 "reason": "sample generation: " + short_reason(e)}]
    recs = []
    for k, sample in enumerate(samples):
        try:
            rec = new_record(opinfo, sample)
        except Exception as e:  # a harness bug must not hide the other samples
            rec = {"overloads": list(overloads), "result": "skip",
                   "reason": "harness: %s" % short_reason(e),
                   "trace": traceback.format_exc(limit=3)}
        rec["opinfo"] = name
        rec["sample"] = "%s#%d" % (name, k)
        recs.append(rec)
    try:
        prepare_all(recs, overloads, via)
        for k, rec in enumerate(recs):
            if "graph" in rec:
                prefix_names(rec["graph"], "s%d_" % k)
        run_group(recs, name)
    except Exception as e:
        for r in recs:
            if r["result"] is None and r["overloads"]:
                r.update(result="skip", reason="harness: " + short_reason(e))
    out = []
    for r in recs:
        if not r["overloads"]:
            # the sample's graph does not hold any of the overloads: it does not count
            out.append({"opinfo": name, "sample": r["sample"], "overloads": [],
                        "result": "unrelated", "reason": None,
                        "graph_ops": r.get("graph_ops", [])})
            continue
        out.append({"opinfo": name, "sample": r["sample"], "overloads": r["overloads"],
                    "result": r["result"], "reason": r["reason"],
                    "max_error": r.get("max_error"), "delegated_ops": r.get("delegated_ops"),
                    "seconds": None})
    if out:
        out[0]["seconds"] = round(time.time() - t0, 2)
    return out


# ---- report ----

def build_report(supported: list[str], records: list[dict[str, Any]],
                 expected: dict[str, list[dict[str, str]]]) -> dict[str, Any]:
    per_op: dict[str, Any] = {}
    for o in supported:
        per_op[o] = {"opinfos": OPINFOS.get(o, []), "pass": 0, "fail": 0, "skip": 0,
                     "max_error": {m: 0.0 for m in MODES}, "delegated": False, "problems": []}
    for r in records:
        for o in r["overloads"]:
            if o not in per_op or r["result"] not in ("pass", "fail", "skip"):
                continue
            entry = per_op[o]
            entry[r["result"]] += 1
            for m, e in (r.get("max_error") or {}).items():
                if e == e:   # not NaN
                    entry["max_error"][m] = max(entry["max_error"][m], e)
            if r.get("delegated_ops"):
                entry["delegated"] = True
            if r["result"] != "pass":
                known = any(x["sample"] == r["sample"] and x["result"] == r["result"]
                            and x["reason"] == r["reason"] for x in expected.get(o, []))
                entry["problems"].append({"sample": r["sample"], "result": r["result"],
                                          "reason": r["reason"], "known": known,
                                          "max_error": r.get("max_error")})
    unexpected = [(o, p) for o, e in per_op.items() for p in e["problems"] if not p["known"]]
    fixed = []
    for o, items in expected.items():
        if o not in per_op:   # not swept in this run (--ops)
            continue
        seen = {(p["sample"], p["result"], p["reason"]) for p in per_op.get(o, {}).get(
            "problems", [])}
        fixed += [(o, x) for x in items if (x["sample"], x["result"], x["reason"]) not in seen]
    totals = {k: sum(e[k] for e in per_op.values()) for k in ("pass", "fail", "skip")}
    return {"torch": torch.__version__, "ops": per_op, "totals": totals,
            "unexpected": [{"overload": o, **p} for o, p in unexpected],
            "no_longer_failing": [{"overload": o, **x} for o, x in fixed],
            "no_samples": sorted(o for o, e in per_op.items()
                                 if not e["pass"] + e["fail"] + e["skip"])}


def markdown(report: dict[str, Any], seconds: float) -> str:
    t = report["totals"]
    lines = ["# OpInfo sweep", "",
             "torch %s; %d supported core overloads; samples: %d pass, %d fail, %d skip; "
             "%.0f s." % (report["torch"], len(report["ops"]), t["pass"], t["fail"], t["skip"],
                          seconds), "",
             "| overload | pass | fail | skip | delegated | max err (deleg / portable) | "
             "OpInfo |", "|---|---|---|---|---|---|---|"]
    for o, e in sorted(report["ops"].items()):
        lines.append("| %s | %d | %d | %d | %s | %.2g / %.2g | %s |" % (
            o, e["pass"], e["fail"], e["skip"], "yes" if e["delegated"] else "no",
            e["max_error"]["delegated"], e["max_error"]["portable"],
            " ".join(e["opinfos"]) or "(none mapped)"))
    lines += ["", "## Failed and skipped samples, by reason", ""]
    for o, e in sorted(report["ops"].items()):
        groups = collections.defaultdict(list)
        for p in e["problems"]:
            errs = p.get("max_error") or {}
            label = p["sample"] + ("" if p["result"] != "fail" or not errs else " (max err %s)" % (
                ", ".join("%s %.3g" % (m, v) for m, v in sorted(errs.items()))))
            groups[(p["result"], p["reason"], p["known"])].append(label)
        for (result, reason, known), samples in sorted(groups.items()):
            lines.append("- %s: %s%s: %s (%s)" % (o, result, "" if known else " (UNEXPECTED)",
                                                  reason, ", ".join(samples)))
    if report["no_samples"]:
        lines += ["", "## Supported overloads no OpInfo sample exercises", "",
                  ", ".join(report["no_samples"])]
    if report["no_longer_failing"]:
        lines += ["", "## Expected failures that did not happen (update expected.json)", ""]
        lines += ["- %s %s: %s" % (x["overload"], x["sample"], x["reason"])
                  for x in report["no_longer_failing"]]
    return "\n".join(lines) + "\n"


def print_summary(report: dict[str, Any], seconds: float) -> None:
    print("%-46s %5s %5s %5s  %s" % ("overload", "pass", "fail", "skip", "delegated"))
    for o, e in sorted(report["ops"].items()):
        print("%-46s %5d %5d %5d  %s" % (o, e["pass"], e["fail"], e["skip"],
                                         "yes" if e["delegated"] else "no"))
        groups = collections.Counter((p["result"], p["reason"], p["known"])
                                     for p in e["problems"])
        for (result, reason, known), n in sorted(groups.items()):
            print("    %d %s%s: %s" % (n, result, "" if known else " UNEXPECTED", reason))
    t = report["totals"]
    print("total: %d pass, %d fail, %d skip over %d overloads (%d without samples) in %.0f s"
          % (t["pass"], t["fail"], t["skip"], len(report["ops"]), len(report["no_samples"]),
             seconds))
    if report["no_longer_failing"]:
        print("%d expected failures did not happen: update tests/opinfo/expected.json "
              "(--update-expected)" % len(report["no_longer_failing"]))
    if report["unexpected"]:
        print("%d UNEXPECTED failures or skips (not in tests/opinfo/expected.json)"
              % len(report["unexpected"]))


def expected_from(report: dict[str, Any]) -> dict[str, list[dict[str, str]]]:
    return {o: [{"sample": p["sample"], "result": p["result"], "reason": p["reason"]}
                for p in e["problems"]]
            for o, e in sorted(report["ops"].items()) if e["problems"]}


def aliases(core: list[str]) -> dict[str, set[str]]:
    """Core overload -> the non-core overloads xnnd keeps whole (they have rules, so the
    decomposition leaves them) that map to the same IR op and name the same operation:
    softmax.int for _softmax.default, max_pool2d for max_pool2d_with_indices. A sample holding
    one of them exercises the core overload's IR op and kernel."""
    def stem(target):
        return target.split(".")[1].strip("_").replace("_with_indices", "")
    result: dict[str, set[str]] = {}
    core_set = set(core)
    for o in core:
        rule = aten_map.RULES.get(o)
        if rule is None or rule.op is None:
            continue
        result[o] = {t for t, r in aten_map.RULES.items()
                     if t not in core_set and r.op == rule.op and stem(t) == stem(o)}
    return result


def dumps_expected(data: dict[str, list[dict[str, str]]]) -> str:
    """expected.json with one line per known failure, so its diffs read well."""
    parts = []
    for o in sorted(data):
        items = ",\n".join("  " + json.dumps(x, sort_keys=True) for x in data[o])
        parts.append("%s: [\n%s\n ]" % (json.dumps(o), items))
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def _init_worker():
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(ROOT, "build", "opinfo"))
    parser.add_argument("--ops", help="only overloads matching this regular expression")
    parser.add_argument("--max-samples", type=int, default=MAX_SAMPLES)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--expected", default=EXPECTED_PATH)
    parser.add_argument("--update-expected", action="store_true",
                        help="write this run's failures and skips to the expectations file")
    parser.add_argument("--all-mapped", action="store_true",
                        help="every overload OPINFOS maps, supported or not (a preview of the "
                        "run time and of the gaps; not for the expectations file)")
    args = parser.parse_args(argv)
    t0 = time.time()
    classes = core_aten.generate()["ops"]
    supported = sorted(o for o, e in classes.items() if e["class"] == "supported"
                       or (args.all_mapped and o in OPINFOS))
    if args.ops:
        supported = [o for o in supported if re.search(args.ops, o)]
    by_opinfo: dict[str, list[str]] = collections.defaultdict(list)
    for o in supported:
        for name in OPINFOS.get(o, []):
            by_opinfo[name].append(o)
    db = load_op_db()   # once, before the workers fork
    for name in sorted(by_opinfo):
        if name not in db:
            print("warning: no OpInfo entry %r in this torch (tests/opinfo/opinfo_sweep.py "
                  "OPINFOS)" % name)
            del by_opinfo[name]
    via = aliases(supported)
    jobs = [(name, ops, via, args.max_samples) for name, ops in sorted(by_opinfo.items())]
    records: list[dict[str, Any]] = []
    if args.jobs > 1:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.jobs, initializer=_init_worker) as pool:
            for recs in pool.imap_unordered(sweep_opinfo, jobs):
                records += recs
    else:
        _init_worker()
        for job in jobs:
            records += sweep_opinfo(job)
    expected = {}
    if os.path.exists(args.expected):
        with open(args.expected) as f:
            expected = json.load(f)
    report = build_report(supported, records, expected)
    seconds = time.time() - t0
    report["seconds"] = round(seconds, 1)
    report["samples"] = sorted(records, key=lambda r: r["sample"])
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "report.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(markdown(report, seconds))
    print_summary(report, seconds)
    print("report: %s/report.{json,md}" % args.out)
    if args.update_expected:
        data = expected_from(report)
        if args.ops and os.path.exists(args.expected):   # keep the other overloads' entries
            with open(args.expected) as f:
                old = json.load(f)
            data = {**{o: v for o, v in old.items() if o not in report["ops"]}, **data}
        with open(args.expected, "w") as f:
            f.write(dumps_expected(data))
        print("wrote %s" % args.expected)
        return 0
    return 1 if report["unexpected"] else 0


if __name__ == "__main__":
    sys.exit(main())
