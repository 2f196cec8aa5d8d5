"""Model loading and capture: SPEC -> (module, example inputs) -> ExportedProgram -> core ATen
GraphModule.

Capture is torch.export.export (strict, then non-strict when strict fails, with the reason
kept), then run_decompositions to core ATen with xnnd's own choices (decomposition_table), then
unlifting: parameters, buffers and lifted constants from the graph signature become get_attr
nodes of ep.module(). Every node carries tensor_meta (from torch.export's fake values) and
torch.export's nn_module_stack and stack_trace, which error messages use.

Dynamic shapes: capture() passes `dynamic_shapes` (torch.export.Dim objects, or DynamicDim specs
from `xnnd export --dynamic I:D=MIN..MAX[:STEP]` turned into Dims by dynamic_shapes_of) to
torch.export; prepare_dynamic_inputs() first replaces an example whose size in a dynamic dim is 0
or 1 (torch.export would specialize the dim to that size) by a seeded one of a size in range;
to_graph_module() keeps the ExportedProgram's range_constraints in gm.meta for aten_map, which
turns every symbolic size into an affine form over the symbols.

Attention: torch.export traces with grad mode on and parameters requiring grad, so
nn.MultiheadAttention and nn.TransformerEncoderLayer take their decomposed paths (linear, bmm,
softmax, layer norm), not PyTorch's fused inference fast paths, which no IR op covers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import re
import os
import sys
import warnings
from typing import Any, Callable, Sequence

import torch
import torch.utils._pytree as pytree

from .errors import ExportError

DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


def load_spec(spec: str, seed: int = 0, input_shape: Sequence[int] | None = None
              ) -> tuple[str, torch.nn.Module, tuple[torch.Tensor, ...]]:
    """Returns (name, module, example_inputs).

    torchvision:NAME  torchvision.models.NAME(weights=None) built after torch.manual_seed(seed),
                      inputs torch.randn(input_shape) after torch.manual_seed(seed + 1).
    FILE.py:FUNCTION  FUNCTION() called after torch.manual_seed(seed); returns
                      (module, example_inputs_tuple).
    The module is put in eval mode either way."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ExportError("bad SPEC %r: expected torchvision:NAME or FILE.py:FUNCTION" % spec)
    if kind == "torchvision":
        from .tv import import_torchvision
        torchvision = import_torchvision()
        builder = getattr(torchvision.models, rest, None)
        if builder is None or not callable(builder) or rest.startswith("_"):
            raise ExportError("unknown torchvision model %r" % rest)
        torch.manual_seed(seed)
        module = builder(weights=None)
        shape = tuple(input_shape) if input_shape else DEFAULT_INPUT_SHAPE
        torch.manual_seed(seed + 1)
        inputs: tuple[torch.Tensor, ...] = (torch.randn(shape),)
        name = rest
    else:
        path, _, func_name = spec.rpartition(":")
        if not path.endswith(".py"):
            raise ExportError("bad SPEC %r: expected torchvision:NAME or FILE.py:FUNCTION" % spec)
        if input_shape:
            raise ExportError("--input-shape applies to torchvision models only; "
                              "%s returns its own example inputs" % spec)
        if not os.path.isfile(path):
            raise ExportError("no such file: %s" % path)
        mod_name = "_xnnd_spec_" + os.path.splitext(os.path.basename(path))[0]
        file_spec = importlib.util.spec_from_file_location(mod_name, path)
        assert file_spec is not None and file_spec.loader is not None   # path ends in .py
        py_module = importlib.util.module_from_spec(file_spec)
        sys.modules[mod_name] = py_module
        file_spec.loader.exec_module(py_module)
        func = getattr(py_module, func_name, None)
        if func is None or not callable(func):
            raise ExportError("%s has no function %r" % (path, func_name))
        torch.manual_seed(seed)
        result = func()
        if not (isinstance(result, tuple) and len(result) == 2):
            raise ExportError("%s must return (module, example_inputs_tuple)" % spec)
        module, inputs = result
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs,)
        inputs = tuple(inputs)
        name = func_name
    if not isinstance(module, torch.nn.Module):
        raise ExportError("%s did not give a torch.nn.Module" % spec)
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise ExportError("example input %d is a %s; only tensors are supported"
                              % (i, type(x).__name__))
    module.eval()
    return name, module, inputs


# ---- capture: torch.export -> core ATen -> GraphModule with shapes ----

def decomposition_table() -> dict[torch._ops.OperatorBase, Callable[..., Any]]:
    """torch.export's core ATen decompositions, minus every op xnnd maps natively (aten_map.RULES
    and SPLITS): those stay whole so the passes and XNNPACK see linear, hardswish, max_pool2d,
    transpose, ... rather than their decompositions. Everything else decomposes to core ATen."""
    from . import aten_map

    table = torch.export.default_decompositions()
    native = set(aten_map.RULES) | set(aten_map.SPLITS)
    for op in list(table.keys()):
        if str(op) in native:
            table.pop(op)
    return table


@contextlib.contextmanager
def _quiet():
    """torch's own deprecation warnings during capture are not the user's to act on."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


def _reason(e: BaseException) -> str:
    """The exception's first line, plus the constraint violations and suggested fixes
    torch.export lists for dynamic shapes (the part a user can act on)."""
    text = [line.strip() for line in str(e).strip().splitlines()]
    first = next((line for line in text if line), "")
    fixes = text.index("Suggested fixes:") if "Suggested fixes:" in text else len(text)
    extra = [line.strip() for line in text[1:] if line.strip().startswith("- ")][:4]
    extra += [line.strip() for line in text[fixes:fixes + 5] if line.strip()]
    return "%s: %s" % (type(e).__name__, " ".join([first[:400]] + [x[:300] for x in extra]))


CAPTURE_MODES = ("auto", "strict", "non-strict")


def capture(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
            notes: list[str] | None = None, mode: str = "auto",
            dynamic_shapes: Any = None) -> torch.export.ExportedProgram:
    """torch.export.export(module, inputs, dynamic_shapes=dynamic_shapes) (dynamic_shapes as
    torch.export takes it; None: static). mode "auto": strict (TorchDynamo) capture first; when
    that fails, non-strict capture (Python runs the module, tracing at the ATen level), with the
    strict failure's reason appended to `notes` (shown to the user). "strict" / "non-strict":
    that one only (non-strict is several times faster on large models). ExportError (exit code
    1) when every mode tried fails, with each reason."""
    if mode not in CAPTURE_MODES:
        raise ExportError("capture mode must be one of %s" % ", ".join(CAPTURE_MODES))
    notes = notes if notes is not None else []
    errors: list[str] = []
    tries = {"auto": (True, False), "strict": (True,), "non-strict": (False,)}[mode]
    for strict in tries:
        ep = _export_refining(module, inputs, strict, dynamic_shapes, notes, errors)
        if ep is None:
            continue
        if errors:
            notes.append(errors[0] + "; used non-strict capture instead")
        return ep
    raise ExportError("torch.export could not capture the model:\n  " + "\n  ".join(errors),
                      exit_code=1)


def _export_refining(module: torch.nn.Module, inputs: Sequence[torch.Tensor], strict: bool,
                     dynamic_shapes: Any, notes: list[str],
                     errors: list[str]) -> torch.export.ExportedProgram | None:
    """torch.export.export once; when it fails only because dynamic dims given as independent
    are related (torch.export's suggested fix `d1_0 = d0_0`), again with the relation (a note
    says so). A fix that would narrow a range or fix a dim to a constant is not taken: the
    user's spec is wrong and hears torch's reason. None (reason appended to errors) on
    failure."""
    shapes = dynamic_shapes
    for _ in range(4):
        try:
            with _quiet():
                return torch.export.export(module, tuple(inputs), strict=strict,
                                           dynamic_shapes=shapes)
        except Exception as e:  # torch's reason is what the user needs to see
            refined = _related_dims(e, shapes, notes) if shapes is not None else None
            if refined is None:
                errors.append("%s capture failed: %s"
                              % ("strict" if strict else "non-strict", _reason(e)))
                return None
            shapes = refined
    errors.append("%s capture failed: dynamic dims still related after 4 refinements"
                  % ("strict" if strict else "non-strict"))
    return None


_FIX_RE = re.compile(r"^([A-Za-z_]\w*) = (?:(\d+)\*)?([A-Za-z_]\w*)(?: ([+-]) (\d+))?$")


def _map_dims(shapes: Any, fn: Callable[[Any], Any]) -> Any:
    """shapes (tuple/list/dict per input of dict/tuple/list per dim) with fn applied to every
    dim entry."""
    def per_input(entry: Any) -> Any:
        if isinstance(entry, dict):
            return {k: fn(v) for k, v in entry.items()}
        if isinstance(entry, (tuple, list)):
            return type(entry)(fn(v) for v in entry)
        return entry
    if isinstance(shapes, dict):
        return {k: per_input(v) for k, v in shapes.items()}
    return type(shapes)(per_input(v) for v in shapes)


def _related_dims(e: BaseException, shapes: Any, notes: list[str]) -> Any:
    """dynamic_shapes with torch.export's suggested fixes applied when every fix relates a
    plain Dim to another one (`d1_0 = d0_0` with the same range, `d1_0 = 2*d0_0 + 1`);
    else None (a range change, a constant, anything else: the user hears torch's reason)."""
    text = [line.strip() for line in str(e).splitlines()]
    if "Suggested fixes:" not in text:
        return None
    dims: dict[str, Any] = {}
    _map_dims(shapes, lambda d: dims.setdefault(getattr(d, "__name__", ""), d))
    relations: dict[str, Any] = {}
    for line in text[text.index("Suggested fixes:") + 1:]:
        if not line:
            break
        m = _FIX_RE.match(line)
        if not m:
            return None
        name, k, other, sign, c = m.groups()
        a, b = dims.get(name), dims.get(other)
        if a is None or b is None or hasattr(a, "root") or hasattr(b, "root"):
            return None
        if k is None and c is None:
            if (a.min, a.max) != (b.min, b.max):
                return None
            relations[name] = b
        else:
            relations[name] = int(k or 1) * b + (int(c) if sign == "+" else -int(c or 0))
    if not relations:
        return None
    note = ("torch.export found dynamic dims that must be related (%s): captured with the "
            "relation" % ", ".join("%s = %s" % (n, getattr(r, "__name__", r))
                                  for n, r in relations.items()))
    if note not in notes:
        notes.append(note)
    return _map_dims(shapes, lambda d: relations.get(getattr(d, "__name__", ""), d))


def _attach_tensor_meta(gm: torch.fx.GraphModule) -> None:
    """node.meta['tensor_meta'] from torch.export's fake values (a tuple for several outputs),
    the form aten_map reads."""
    from torch.fx.passes.shape_prop import _extract_tensor_metadata

    def meta_of(val):
        if isinstance(val, torch.Tensor):
            return _extract_tensor_metadata(val)
        if isinstance(val, (tuple, list)) and val and all(
                isinstance(v, torch.Tensor) or v is None for v in val):
            return tuple(_extract_tensor_metadata(v) if v is not None else None for v in val)
        return None

    for node in gm.graph.nodes:
        if "tensor_meta" not in node.meta and "val" in node.meta:
            meta = meta_of(node.meta["val"])
            if meta is not None:
                node.meta["tensor_meta"] = meta


def to_graph_module(ep: torch.export.ExportedProgram) -> torch.fx.GraphModule:
    """The ExportedProgram decomposed to core ATen (decomposition_table()) and unlifted: a
    GraphModule whose parameters, buffers and lifted constants are get_attr nodes, with
    tensor_meta on every node."""
    try:
        with _quiet():
            ep = ep.run_decompositions(decomposition_table())
            gm = ep.module()
    except Exception as e:
        raise ExportError("decomposing to core ATen failed: %s" % _reason(e), exit_code=1) from e
    _attach_tensor_meta(gm)
    # symbol -> ValueRanges of a dynamic program (aten_map.SymbolTable reads it)
    gm.meta["xnnd_range_constraints"] = dict(ep.range_constraints)
    return gm


def trace(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
          notes: list[str] | None = None, mode: str = "auto",
          dynamic_shapes: Any = None) -> torch.fx.GraphModule:
    """capture() then to_graph_module()."""
    return to_graph_module(capture(module, inputs, notes, mode, dynamic_shapes))


# ---- dynamic shapes: --dynamic specs, Dims, example inputs ----

@dataclasses.dataclass(frozen=True)
class DynamicDim:
    """`--dynamic I:D=MIN..MAX[:STEP]`: dim D of input I takes any size in MIN..MAX that is a
    multiple of STEP (captured as the derived dim STEP*Dim(name, MIN/STEP, MAX/STEP))."""
    input: int
    dim: int
    min: int
    max: int
    step: int = 1

    def __str__(self) -> str:
        return "%d:%d=%d..%d%s" % (self.input, self.dim, self.min, self.max,
                                   ":%d" % self.step if self.step != 1 else "")


_DYNAMIC_RE = re.compile(r"^\s*(\d+):(-?\d+)=(\d+)\.\.(\d+)(?::(\d+))?\s*$")


def parse_dynamic(text: str) -> DynamicDim:
    """DynamicDim of `I:D=MIN..MAX[:STEP]`; ExportError naming what is wrong. The input index
    and rank are checked against the example inputs by dynamic_shapes_of."""
    m = _DYNAMIC_RE.match(text)
    if not m:
        raise ExportError("bad --dynamic %r: expected INPUT:DIM=MIN..MAX or "
                          "INPUT:DIM=MIN..MAX:STEP, e.g. 0:0=1..8 or 0:2=160..256:32" % text)
    i, d, lo, hi = (int(g) for g in m.groups()[:4])
    step = int(m.group(5)) if m.group(5) else 1
    if lo > hi:
        raise ExportError("bad --dynamic %s: min %d > max %d" % (text, lo, hi))
    if step < 1:
        raise ExportError("bad --dynamic %s: step must be at least 1" % text)
    if lo % step or hi % step:
        raise ExportError("bad --dynamic %s: step %d must divide min %d and max %d (e.g. %d..%d:%d)"
                          % (text, step, lo, hi, -(-lo // step) * step, hi // step * step, step))
    if step > 1 and lo == 0:
        raise ExportError("bad --dynamic %s: with a step, min must be at least the step" % text)
    return DynamicDim(i, d, lo, hi, step)


def dynamic_shapes_of(specs: Sequence[DynamicDim],
                      inputs: Sequence[torch.Tensor]) -> tuple[dict[int, Any] | None, ...] | None:
    """torch.export's dynamic_shapes for the specs: per input None (static) or {dim: Dim}.
    Each spec is its own independent symbol (named d<I>_<D>). ExportError for an input index or
    dim out of range or a dim given twice. None when there are no specs."""
    from torch.export import Dim

    if not specs:
        return None
    shapes: list[dict[int, Any] | None] = [None] * len(inputs)
    for spec in specs:
        if not 0 <= spec.input < len(inputs):
            raise ExportError("--dynamic %s: input %d out of range (the model has %d input%s)"
                              % (spec, spec.input, len(inputs), "" if len(inputs) == 1 else "s"))
        rank = inputs[spec.input].dim()
        dim = spec.dim + rank if spec.dim < 0 else spec.dim
        if not 0 <= dim < rank:
            raise ExportError("--dynamic %s: dim %d out of range (input %d has rank %d)"
                              % (spec, spec.dim, spec.input, rank))
        entry = shapes[spec.input] = shapes[spec.input] or {}
        if dim in entry:
            raise ExportError("--dynamic %s: input %d dim %d is given twice"
                              % (spec, spec.input, dim))
        name = "d%d_%d" % (spec.input, dim)
        if spec.step == 1:
            entry[dim] = Dim(name, min=spec.min, max=spec.max)
        else:
            entry[dim] = spec.step * Dim(name, min=spec.min // spec.step,
                                         max=spec.max // spec.step)
    return tuple(shapes)


def _dims_by_input(dynamic_shapes: Any, n: int, module: Any = None) -> list[dict[int, Any]] | None:
    """Per positional input {dim: Dim or hint} of a dynamic_shapes value (a tuple/list with one
    entry per input, or a dict keyed by forward's parameter names); None when its form is not
    one of these (then no example is replaced)."""
    import inspect

    if isinstance(dynamic_shapes, dict):
        try:
            params = list(inspect.signature(module.forward).parameters) if module else []
        except (TypeError, ValueError):
            return None
        if not set(dynamic_shapes) <= set(params[:n]):
            return None
        entries = [dynamic_shapes.get(p) for p in params[:n]]
    elif isinstance(dynamic_shapes, (tuple, list)) and len(dynamic_shapes) == n:
        entries = list(dynamic_shapes)
    else:
        return None
    out: list[dict[int, Any]] = []
    for e in entries:
        if e is None:
            out.append({})
        elif isinstance(e, dict):
            out.append({int(k): v for k, v in e.items() if v is not None})
        elif isinstance(e, (tuple, list)):
            out.append({k: v for k, v in enumerate(e) if v is not None})
        else:
            return None
    return out


def positional_dynamic_shapes(dynamic_shapes: Any, n: int, module: Any = None) -> Any:
    """dynamic_shapes with one entry per positional input when it is a dict keyed by forward's
    parameter names (a PT2E reference model's forward names its inputs otherwise); else as
    given."""
    import inspect

    if isinstance(dynamic_shapes, dict) and module is not None:
        try:
            params = list(inspect.signature(module.forward).parameters)[:n]
        except (TypeError, ValueError):
            return dynamic_shapes
        if set(dynamic_shapes) <= set(params):
            return tuple(dynamic_shapes.get(p) for p in params)
    return dynamic_shapes


def _root_and_fn(dim: Any) -> tuple[str, int, float, Callable[[int], int]]:
    """(root name, root min, root max, size of a root value) of a Dim, derived Dim or hint
    (a hint: its own root over 0..inf)."""
    root = getattr(dim, "root", None)
    if root is not None and hasattr(dim, "fn"):
        return root.__name__, int(root.min), float(root.max), dim.fn
    name = getattr(dim, "__name__", None) or "hint%d" % id(dim)
    lo = int(getattr(dim, "min", 0) or 0)
    hi = getattr(dim, "max", None)
    return name, lo, float("inf") if hi is None else float(hi), lambda r: r


def prepare_dynamic_inputs(inputs: Sequence[torch.Tensor], dynamic_shapes: Any,
                           notes: list[str] | None = None, seed: int = 0,
                           module: Any = None) -> tuple[torch.Tensor, ...]:
    """The example inputs to capture with: torch.export specializes a dim whose example size is
    0 or 1, so each such dynamic dim's root symbol gets the smallest value in its range that
    makes all of its dims >= 2, and every input with a dim over that root is replaced by a new
    example of the same dtype (floats torch.randn from `seed`, ints zeros, bools ones) with
    those sizes; `notes` says so. ExportError when a range allows no size >= 2, or an example
    size lies outside its dim's range."""
    inputs = tuple(inputs)
    per_input = _dims_by_input(dynamic_shapes, len(inputs), module)
    if per_input is None:
        return inputs
    roots: dict[str, tuple[int, float]] = {}
    uses: list[tuple[int, int, str, Callable[[int], int], Any]] = []
    for i, dims in enumerate(per_input):
        for d, dim in dims.items():
            if not isinstance(inputs[i], torch.Tensor) or not 0 <= d < inputs[i].dim():
                continue   # torch.export reports it
            if type(dim).__name__ == "_DimHint" and "STATIC" in str(dim):
                continue
            name, lo, hi, fn = _root_and_fn(dim)
            roots[name] = (lo, hi)
            uses.append((i, d, name, fn, dim))
    replace: dict[str, int] = {}
    for i, d, name, fn, dim in uses:
        size = inputs[i].shape[d]
        lo, hi = roots[name]
        derived = getattr(dim, "root", None) is not None
        root_value = size
        if size > 1:
            lo_size, hi_size = getattr(dim, "min", None), getattr(dim, "max", None)
            if isinstance(lo_size, int) and isinstance(hi_size, int) \
                    and not lo_size <= size <= hi_size:
                raise ExportError("example input %d has size %d in dim %d, outside its dynamic "
                                  "range %d..%d: give an example inside the range"
                                  % (i, size, d, lo_size, hi_size))
            if derived and hi - lo < 1 << 20:
                found = [r for r in range(lo, int(hi) + 1) if fn(r) == size]
                if not found:
                    raise ExportError("example input %d has size %d in dim %d, which is not one "
                                      "of the sizes %s takes: give an example of such a size"
                                      % (i, size, d, getattr(dim, "__name__", dim)))
                root_value = found[0]
        # torch.export specializes a symbol whose example value is 0 or 1: the size itself,
        # or the root of a derived dim (16 = 16*h at h = 1)
        if size <= 1 or root_value <= 1:
            r = max(lo, 2)
            while r <= hi and any(f(r) < 2 for _, _, n, f, _ in uses if n == name):
                r += 1
            if r > hi:
                raise ExportError("input %d dim %d is dynamic over %s but its range allows no "
                                  "size of at least 2, which torch.export needs to capture a "
                                  "dynamic dim" % (i, d, getattr(dim, "__name__", dim)))
            replace[name] = r
    if not replace:
        return inputs
    new_shapes = [list(t.shape) for t in inputs]
    for i, d, name, fn, _ in uses:
        if name in replace:
            new_shapes[i][d] = int(fn(replace[name]))
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i, t in enumerate(inputs):
        if list(t.shape) == new_shapes[i]:
            out.append(t)
            continue
        if t.is_floating_point():
            new = torch.randn(new_shapes[i], generator=gen, dtype=t.dtype)
        elif t.dtype == torch.bool:
            new = torch.ones(new_shapes[i], dtype=t.dtype)
        else:
            new = torch.zeros(new_shapes[i], dtype=t.dtype)
        if notes is not None:
            small = sorted({d for j, d, n, _, _ in uses if j == i and n in replace})
            fill = ("random normal" if t.is_floating_point() else
                    "ones" if t.dtype == torch.bool else "zeros")
            notes.append("example input %d %s has size %s in dynamic dim %s (a size symbol "
                         "at 0 or 1), which torch.export would specialize: captured with a new "
                         "example of shape %s (%s)"
                         % (i, list(t.shape), "/".join(str(t.shape[d]) for d in small),
                            ", ".join(str(d) for d in small), new_shapes[i], fill))
        out.append(new)
    return tuple(out)


def eager_outputs(module: Callable[..., Any],
                  inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """PyTorch's own outputs for the example inputs, flattened in output order."""
    with torch.no_grad():
        out = module(*inputs)
    flat, _ = pytree.tree_flatten(out)
    return [t for t in flat if isinstance(t, torch.Tensor)]
