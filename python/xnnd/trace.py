"""Model loading and tracing: SPEC -> (module, example inputs) -> functional aten fx graph.

The traced graph is make_fx over functionalize(remove="mutations_and_views"), so it holds
only out-of-place aten ops (views become *_copy ops). Every node gets tensor metadata from a
ShapeProp run over the example inputs (tuples of metadata for multi-output ops), and, where
the tracer could see it, 'xnnd_module' (module path) and a stack trace for diagnostics.

Attention: in eval mode with grad disabled, nn.MultiheadAttention and nn.TransformerEncoderLayer
take PyTorch's fused fast paths (aten._native_multi_head_attention,
aten._transformer_encoder_layer_fwd), which no IR op covers. When the module contains one of
those, trace() runs with grad enabled and every parameter requiring grad, the documented
condition under which PyTorch takes the decomposed path (linear/addmm, bmm, softmax,
layer norm, ...). The values are the same; only the traced ops differ.
"""

import contextlib
import importlib.util
import os
import sys

import torch
import torch.utils._pytree as pytree
from torch.fx.experimental.proxy_tensor import PythonKeyTracer, make_fx
from torch.fx.passes.shape_prop import ShapeProp

from .errors import ExportError

DEFAULT_INPUT_SHAPE = (1, 3, 224, 224)


def load_spec(spec, seed=0, input_shape=None):
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
        inputs = (torch.randn(shape),)
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


@contextlib.contextmanager
def _annotate_nodes(module):
    """Record, on each traced node, the module path being run and a stack trace.

    make_fx builds its tracer internally, so this patches the PythonKeyTracer class for the
    duration of the trace only."""
    path_stack = []
    handles = []

    def enter(label):
        def hook(mod, args):
            path_stack.append(label)  # a pre-hook returning non-None would replace the args
        return hook

    def leave(mod, args, out):
        if path_stack:
            path_stack.pop()  # returning non-None would replace the output

    for path, sub in module.named_modules():
        label = "%s (%s)" % (path or "<root>", type(sub).__name__)
        handles.append(sub.register_forward_pre_hook(enter(label)))
        handles.append(sub.register_forward_hook(leave))
    orig_create_node = PythonKeyTracer.create_node
    orig_record = PythonKeyTracer.record_stack_traces

    def create_node(self, *args, **kwargs):
        node = orig_create_node(self, *args, **kwargs)
        if path_stack:
            node.meta["xnnd_module"] = path_stack[-1]
        return node

    PythonKeyTracer.create_node = create_node
    PythonKeyTracer.record_stack_traces = True
    try:
        yield
    finally:
        PythonKeyTracer.create_node = orig_create_node
        PythonKeyTracer.record_stack_traces = orig_record
        for h in handles:
            h.remove()


# Modules whose eval-mode forward has a fused fast path that grad-enabled tracing avoids.
_FAST_PATH_MODULES = (torch.nn.MultiheadAttention, torch.nn.TransformerEncoderLayer,
                      torch.nn.TransformerDecoderLayer)


def has_fused_attention(module):
    return any(isinstance(m, _FAST_PATH_MODULES) for m in module.modules())


@contextlib.contextmanager
def decomposed_attention(module):
    """Grad enabled and every parameter requiring grad for the duration: PyTorch's attention
    fast paths are then not taken. requires_grad flags are restored afterwards."""
    params = list(module.parameters())
    saved = [p.requires_grad for p in params]
    try:
        for p in params:
            p.requires_grad_(True)
        with torch.enable_grad():
            yield
    finally:
        for p, flag in zip(params, saved):
            p.requires_grad_(flag)


def trace(module, inputs):
    """Functional aten fx GraphModule of module(*inputs), with shapes in node.meta."""
    from functorch import functionalize
    grad_mode = decomposed_attention(module) if has_fused_attention(module) else torch.no_grad()
    with grad_mode:
        with _annotate_nodes(module):
            gm = make_fx(functionalize(module, remove="mutations_and_views"))(*inputs)
    with torch.no_grad():
        ShapeProp(gm).propagate(*inputs)
    return gm


def eager_outputs(module, inputs):
    """PyTorch's own outputs for the example inputs, flattened in output order."""
    with torch.no_grad():
        out = module(*inputs)
    flat, _ = pytree.tree_flatten(out)
    return [t for t in flat if isinstance(t, torch.Tensor)]
