"""Model loading and capture: SPEC -> (module, example inputs) -> ExportedProgram -> core ATen
GraphModule.

Capture is torch.export.export (strict, then non-strict when strict fails, with the reason
kept), then run_decompositions to core ATen with xnnd's own choices (decomposition_table), then
unlifting: parameters, buffers and lifted constants from the graph signature become get_attr
nodes of ep.module(). Every node carries tensor_meta (from torch.export's fake values) and
torch.export's nn_module_stack and stack_trace, which error messages use.

Attention: torch.export traces with grad mode on and parameters requiring grad, so
nn.MultiheadAttention and nn.TransformerEncoderLayer take their decomposed paths (linear, bmm,
softmax, layer norm), not PyTorch's fused inference fast paths, which no IR op covers.
"""

from __future__ import annotations

import contextlib
import importlib.util
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
    text = str(e).strip().splitlines()
    first = next((line for line in text if line.strip()), "")
    return "%s: %s" % (type(e).__name__, first[:400])


CAPTURE_MODES = ("auto", "strict", "non-strict")


def capture(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
            notes: list[str] | None = None, mode: str = "auto") -> torch.export.ExportedProgram:
    """torch.export.export(module, inputs). mode "auto": strict (TorchDynamo) capture first; when
    that fails, non-strict capture (Python runs the module, tracing at the ATen level), with the
    strict failure's reason appended to `notes` (shown to the user). "strict" / "non-strict":
    that one only (non-strict is several times faster on large models). ExportError (exit code
    1) when every mode tried fails, with each reason."""
    if mode not in CAPTURE_MODES:
        raise ExportError("capture mode must be one of %s" % ", ".join(CAPTURE_MODES))
    notes = notes if notes is not None else []
    errors = []
    tries = {"auto": (True, False), "strict": (True,), "non-strict": (False,)}[mode]
    for strict in tries:
        try:
            with _quiet():
                ep = torch.export.export(module, tuple(inputs), strict=strict)
        except Exception as e:  # torch's reason is what the user needs to see
            errors.append("%s capture failed: %s"
                          % ("strict" if strict else "non-strict", _reason(e)))
            continue
        if errors:
            notes.append(errors[0] + "; used non-strict capture instead")
        return ep
    raise ExportError("torch.export could not capture the model:\n  " + "\n  ".join(errors),
                      exit_code=1)


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
    return gm


def trace(module: torch.nn.Module, inputs: tuple[torch.Tensor, ...],
          notes: list[str] | None = None, mode: str = "auto") -> torch.fx.GraphModule:
    """capture() then to_graph_module()."""
    return to_graph_module(capture(module, inputs, notes, mode))


def eager_outputs(module: Callable[..., Any],
                  inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """PyTorch's own outputs for the example inputs, flattened in output order."""
    with torch.no_grad():
        out = module(*inputs)
    flat, _ = pytree.tree_flatten(out)
    return [t for t in flat if isinstance(t, torch.Tensor)]
