"""The core ATen operator set of the installed torch (every overload tagged torch.Tag.core),
classified against what xnnd does with it. The committed data is python/xnnd/core_aten.json;
tests/python/test_core_aten.py fails when it differs from what this module generates, so a
torch upgrade that adds a core op, or a new aten_map rule, needs

    PYTHONPATH=python .venv/bin/python -m xnnd.core_aten --write

(and a reason below for a new op that is not supported). Classes:

  supported      aten_map.RULES or SPLITS maps it, or the exporter always folds it to a
                 constant (aten_map.always_folded: full, arange, empty, scalar_tensor, ...)
  decomposes     our decomposition table (trace.decomposition_table) rewrites it into other ops
  not-inference  cannot appear in an inference program: kind backward, training, random,
                 out-variant or in-place (the last three and backward are read off the schema)
  unsupported    an inference op xnnd refuses at export, with the reason

Only the reasons of the ops that are neither supported nor decomposed are written by hand
(TRAINING, UNSUPPORTED, PENDING below); everything else is derived at generation time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import torch

CLASSES = ("supported", "decomposes", "not-inference", "unsupported")
DATA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "core_aten.json")
WRITE_COMMAND = "PYTHONPATH=python .venv/bin/python -m xnnd.core_aten --write"

# Inference-free by meaning, not by schema: these compute something only training needs.
TRAINING = {
    "aten._native_batch_norm_legit.default":
        "training-mode batch norm: updates the running statistics in place; eval mode exports "
        "_native_batch_norm_legit_no_training",
    "aten.native_dropout.default":
        "training-mode dropout (random mask); eval-mode dropout is the identity and is not "
        "exported",
}

# The sym_* size queries are never IR ops: torch.export folds them away in a static program,
# and in a dynamic one the exporter folds them into the sizes of the ops that read them.
_SIZE_QUERY = ("size query, never an IR op: torch.export folds it away in a static program; in "
               "a dynamic-shape one (--dynamic, dynamic_shapes=) the exporter folds it into the "
               "affine sizes of the ops that read it (aten_map.SymbolTable)")

# Inference ops xnnd refuses on purpose, with the reason.
UNSUPPORTED = {
    "aten._fft_r2c.default": "complex output: the IR has no complex dtypes",
    "aten._fft_c2r.default": "complex input: the IR has no complex dtypes",
    "aten._local_scalar_dense.default":
        "Tensor.item(): produces a Python number, so the rest of the graph depends on data; "
        "torch.export captures it only with data-dependent (unbacked) shapes",
    "aten.nonzero.default":
        "data-dependent output shape: the IR's sizes are static or affine in input sizes "
        "(torch.export needs an unbacked symbolic size)",
    "aten.sym_is_contiguous.default": _SIZE_QUERY,
    "aten.sym_numel.default": _SIZE_QUERY,
    "aten.sym_storage_offset.default": _SIZE_QUERY,
    "aten.sym_size.int": _SIZE_QUERY,
    "aten.sym_stride.int": _SIZE_QUERY,
    "aten.copy.default":
        "no rule yet: the functional form of copy_ (src broadcast into self's shape and dtype), "
        "from in-place slice assignment; no issue-14 family owns it",
}

# Inference ops issue 14 gives to an op family that adds their rules in parallel: until the
# family's rules are merged they are unsupported with this reason; the generated data says
# "supported" as soon as RULES has them.
_FAMILIES = {
    "math": "_to_copy abs acos acosh asin asinh atan atanh bitwise_not ceil cos cosh elu erf "
            "exp expm1 floor isinf isnan leaky_relu log log10 log1p log2 logical_not neg "
            "reciprocal round rsqrt sign sin sinh sqrt tan trunc",
    "binary": "atan2 bitwise_and.Scalar bitwise_and.Tensor bitwise_or.Scalar bitwise_or.Tensor "
              "bitwise_xor.Scalar bitwise_xor.Tensor clamp.Tensor div.Scalar_mode eq.Scalar "
              "eq.Tensor fmod.Scalar fmod.Tensor ge.Scalar ge.Tensor gt.Scalar gt.Tensor "
              "le.Scalar le.Tensor logical_and logical_or logical_xor lt.Scalar lt.Tensor "
              "maximum minimum ne.Scalar ne.Tensor pow.Scalar pow.Tensor_Scalar "
              "pow.Tensor_Tensor remainder.Scalar remainder.Tensor where.self",
    "reduce": "_cdist_forward _native_batch_norm_legit.no_stats _pdist_forward amax amin "
              "any any.dim any.dims argmax argmin cumsum max.dim min.dim native_group_norm "
              "prod prod.dim_int sort sum.dim_IntList topk var.correction",
    "index": "_embedding_bag embedding gather index.Tensor index_put index_select masked_scatter "
             "scatter.src scatter.value scatter_add scatter_reduce.two slice_scatter",
    "shape": "diagonal flip repeat squeeze.dims",
    "spatial": "_adaptive_avg_pool3d avg_pool3d grid_sampler_2d max_pool3d_with_indices",
}


def _overload_name(short: str) -> str:
    return "aten." + (short if "." in short else short + ".default")


PENDING = {_overload_name(op): family for family, ops in _FAMILIES.items() for op in ops.split()}


def core_overloads() -> list[str]:
    """Every overload of the installed torch carrying torch.Tag.core, as 'aten.NAME.OVERLOAD'.
    Read from the dispatcher's list of every registered operator: dir(torch.ops.aten) lists
    only the packets resolved so far, which depends on what was imported (a fresh torch shows
    189 core overloads of 2.13.0, the dispatcher 193)."""
    found = set()
    for qualified in torch._C._dispatch_get_all_op_names():
        namespace, _, name = qualified.partition("::")
        if namespace != "aten":
            continue
        base, _, overload = name.partition(".")
        try:
            op = getattr(getattr(torch.ops.aten, base), overload or "default")
        except (AttributeError, RuntimeError):
            continue
        if torch.Tag.core in op.tags:
            found.add(str(op))
    return sorted(found)


def _op(overload: str) -> Any:
    _, name, ov = overload.split(".")
    return getattr(getattr(torch.ops.aten, name), ov)


def _schema_kind(overload: str) -> str | None:
    """The not-inference kind a schema shows by itself, else None."""
    op = _op(overload)
    schema = op._schema
    if schema.name.endswith("_backward") or "_backward" in overload:
        return "backward"
    if torch.Tag.nondeterministic_seeded in op.tags:
        return "random"
    if overload.endswith(".out") or any(a.is_out for a in schema.arguments):
        return "out-variant"
    if schema.is_mutable:
        return "in-place"
    return None


_KIND_REASONS = {
    "backward": "gradient of another op: exists only in training graphs",
    "random": "samples random numbers (seeded); an inference program is deterministic",
    "out-variant": "writes into a caller-provided out= tensor; torch.export's functional graph "
                   "uses the functional overload",
    "in-place": "mutates an argument; torch.export functionalizes it away",
}


def classify(overload: str, rules: dict[str, Any] | None = None,
             splits: dict[str, Any] | None = None,
             decomposed: set[str] | None = None) -> dict[str, Any]:
    """{"class", "ir_op", "reason"[, "kind"]} of one core overload under the given (default:
    the current) aten_map tables and decomposition table."""
    from . import aten_map, trace

    rules = aten_map.RULES if rules is None else rules
    splits = aten_map.SPLITS if splits is None else splits
    if decomposed is None:
        decomposed = {str(op) for op in trace.decomposition_table()}
    if overload in rules:
        rule = rules[overload]
        return {"class": "supported", "ir_op": rule.op or "(forwarded)",
                "reason": "aten_map.RULES" if rule.op else "aten_map.RULES: forwards its input"}
    if overload in splits:
        return {"class": "supported", "ir_op": "aten.slice/aten.select",
                "reason": "aten_map.SPLITS: one slice or select per output"}
    if aten_map.always_folded(overload):
        return {"class": "supported", "ir_op": "(constant)",
                "reason": "folded to a constant at export (aten_map.always_folded)"}
    kind = "training" if overload in TRAINING else _schema_kind(overload)
    if kind is not None:
        return {"class": "not-inference", "ir_op": None, "kind": kind,
                "reason": TRAINING.get(overload) or _KIND_REASONS[kind]}
    if overload in UNSUPPORTED:
        return {"class": "unsupported", "ir_op": None, "reason": UNSUPPORTED[overload]}
    if overload in decomposed:
        return {"class": "decomposes", "ir_op": None,
                "reason": "decomposed to other core ATen ops (trace.decomposition_table)"}
    if overload in PENDING:
        return {"class": "unsupported", "ir_op": None,
                "reason": "no rule yet (issue 14, %s family)" % PENDING[overload]}
    return {"class": "unclassified", "ir_op": None,
            "reason": "new core op: add a rule to aten_map.RULES or a reason to "
                      "python/xnnd/core_aten.py"}


def generate() -> dict[str, Any]:
    """The classification of every core overload, as committed in core_aten.json."""
    from . import trace

    decomposed = {str(op) for op in trace.decomposition_table()}
    ops = {o: classify(o, decomposed=decomposed) for o in core_overloads()}
    return {"torch": torch.__version__.split("+")[0], "ops": ops}


def counts(data: dict[str, Any]) -> dict[str, int]:
    result = {c: 0 for c in CLASSES}
    for entry in data["ops"].values():
        result[entry["class"]] = result.get(entry["class"], 0) + 1
    return result


def summary(data: dict[str, Any]) -> str:
    """Count per class and the coverage ratios, one line each."""
    c = counts(data)
    inference = c["supported"] + c["decomposes"] + c["unsupported"] + c.get("unclassified", 0)
    lines = ["core ATen overloads (torch %s): %d" % (data["torch"], len(data["ops"]))]
    lines += ["  %-14s %d" % (k, n) for k, n in c.items()]
    if inference:
        lines.append("coverage: supported %d / inference %d = %.1f%%; with decomposed ops "
                     "%.1f%%" % (c["supported"], inference, 100.0 * c["supported"] / inference,
                                 100.0 * (c["supported"] + c["decomposes"]) / inference))
    return "\n".join(lines)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=1, sort_keys=True) + "\n"


def load(path: str = DATA_PATH) -> dict[str, Any]:
    with open(path) as f:
        return json.load(f)


def differences(committed: dict[str, Any], generated: dict[str, Any]) -> list[str]:
    """Human-readable differences, [] when equal."""
    diffs = []
    if committed.get("torch") != generated["torch"]:
        diffs.append("torch %s -> %s" % (committed.get("torch"), generated["torch"]))
    old, new = committed.get("ops", {}), generated["ops"]
    for op in sorted(set(old) | set(new)):
        if op not in new:
            diffs.append("%s: no longer a core op" % op)
        elif op not in old:
            diffs.append("%s: new core op, %s" % (op, new[op]["class"]))
        elif old[op] != new[op]:
            diffs.append("%s: %s -> %s" % (op, old[op]["class"], new[op]["class"])
                         if old[op]["class"] != new[op]["class"] else
                         "%s: %s changed" % (op, new[op]["class"]))
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m xnnd.core_aten", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="regenerate core_aten.json")
    group.add_argument("--check", action="store_true",
                       help="exit 1 when core_aten.json is out of date")
    args = parser.parse_args(argv)
    data = generate()
    unclassified = sorted(o for o, e in data["ops"].items() if e["class"] == "unclassified")
    if args.write:
        with open(DATA_PATH, "w") as f:
            f.write(dumps(data))
        print("wrote %s" % DATA_PATH)
    print(summary(data))
    if unclassified:
        print("unclassified (add a rule or a reason in python/xnnd/core_aten.py): %s"
              % ", ".join(unclassified), file=sys.stderr)
        return 1
    if args.check:
        diffs = differences(load(), data) if os.path.exists(DATA_PATH) else ["no data file"]
        if diffs:
            print("core_aten.json is out of date:\n  %s\nregenerate with: %s"
                  % ("\n  ".join(diffs), WRITE_COMMAND), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
