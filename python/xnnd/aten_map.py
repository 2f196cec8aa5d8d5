"""aten fx graph -> IR graph (ir_text.Graph), driven by one table, RULES.

One RULES entry per aten overload: the IR op (docs/ARCHITECTURE.md "Op table"), which aten
arguments are its inputs, and its attributes in the IR schema order. Arguments are bound by
name through the overload's schema, so defaults and kwargs need no special cases.
Normalization happens here, not in the toolchain: pairs are always two ints (an empty pool
stride means kernel_size), view sizes come from the output metadata, negative dims are made
positive, Python scalars in tensor positions become rank-0 constants of the output dtype.
Nodes nothing reaches from the graph output are dropped before mapping, so a dead unsupported
op (aten.empty from batch norm) is not an error; a live one is.
"""

import operator
import re

import numpy as np
import torch
import torch.utils._pytree as pytree
from torch.fx.passes.shape_prop import TensorMetadata

from .errors import ExportError, UnsupportedOpError
from .ir_text import DTYPES, Attr, Graph, Node, Value


class Rule:
    """How one aten overload maps to IR.

    op      IR op name; None forwards the (first) input unchanged (detach, alias, ...).
    inputs  aten argument names in IR input order. Suffix '?' = optional (absent -> `_`),
            '#' = tensor or Python scalar (scalar -> rank-0 constant), '*' = list of tensors.
    attrs   (ir_name, kind[, getter]) in IR schema order. kind: 'int', 'float', 'bool', 'ints',
            'pair' (printed as ints, always 2), 'dim' (int, made non-negative), 'dims' (ints,
            made non-negative), any kind + '?' may be none. getter(call) defaults to the aten
            argument of the same name.
    check   optional check(call) that raises via call.unsupported(reason)."""

    def __init__(self, op, inputs=("self",), attrs=(), check=None):
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.check = check


class Call:
    """One fx node being mapped: bound arguments plus output metadata."""

    def __init__(self, node, env, target):
        self.node = node
        self.target = target
        self.env = env
        schema = node.target._schema
        self.args = {}
        for i, a in enumerate(schema.arguments):
            if i < len(node.args) and not a.kwarg_only:
                self.args[a.name] = node.args[i]
            elif a.name in node.kwargs:
                self.args[a.name] = node.kwargs[a.name]
            else:
                self.args[a.name] = a.default_value
        metas = node.meta.get("tensor_meta")
        # TensorMetadata is itself a NamedTuple: a tuple of them means several outputs.
        self.out_metas = [metas] if isinstance(metas, TensorMetadata) or metas is None else list(metas)

    def arg(self, name):
        return self.args[name]

    def rank(self, name):
        v = self.args[name]
        if isinstance(v, torch.fx.Node):
            return len(self.env[v].shape)
        return 0

    @property
    def out_shape(self):
        return list(self.out_metas[0].shape)

    @property
    def out_rank(self):
        return len(self.out_metas[0].shape)

    def unsupported(self, reason):
        raise UnsupportedOpError(unsupported_message(self.node, self.target, reason),
                                 self.target, self.node.name)


# ---- argument normalization ----

def _pair(call, name, value):
    if isinstance(value, int):
        return [value, value]
    value = [int(v) for v in value]
    if len(value) == 1:
        return value * 2
    if len(value) != 2:
        call.unsupported("%s=%s is not 2-D" % (name, value))
    return value


def _dim(d, rank):
    d = int(d)
    if rank == 0:
        return 0
    return d + rank if d < 0 else d


def _pool_stride(call):
    stride = call.arg("stride")
    return call.arg("kernel_size") if not stride else stride


def _view_size(call):
    return call.out_shape


def _transpose_dims(call):
    rank = call.rank("self")
    dims = list(range(rank))
    a, b = _dim(call.arg("dim0"), rank), _dim(call.arg("dim1"), rank)
    dims[a], dims[b] = dims[b], dims[a]
    return dims


def _mean_dims(call):
    dim = call.args.get("dim")
    rank = call.rank("self")
    # A mean over a set of dims: sorted is the canonical order.
    return list(range(rank)) if dim is None or dim == [] else sorted(_dim(d, rank) for d in dim)


def _gelu_approximate(call):
    approximate = call.arg("approximate")
    if approximate not in ("none", "tanh"):
        call.unsupported("approximate=%r" % approximate)
    return 0 if approximate == "none" else 1


def _no_dtype(call):
    dtype = call.args.get("dtype")
    if dtype is not None and dtype != call.out_metas[0].dtype:
        call.unsupported("dtype=%s" % dtype)


def _rank(n):
    def check(call):
        if call.rank("input" if "input" in call.args else "self") != n:
            call.unsupported("only %d-D input is supported" % n)
    return check


def _no_rounding_mode(call):
    if call.args.get("rounding_mode") is not None:
        call.unsupported("rounding_mode=%r" % call.args["rounding_mode"])


_POOL_ATTRS_MAX = (("kernel_size", "pair"), ("stride", "pair", _pool_stride),
                   ("padding", "pair"), ("dilation", "pair"), ("ceil_mode", "bool"))
_POOL_ATTRS_AVG = (("kernel_size", "pair"), ("stride", "pair", _pool_stride),
                   ("padding", "pair"), ("ceil_mode", "bool"), ("count_include_pad", "bool"),
                   ("divisor_override", "int?"))
_VIEW = Rule("aten.view", attrs=(("size", "ints", _view_size),))
_IDENTITY = Rule(None)
_UNARY = {name: Rule("aten." + name) for name in
          ("relu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu")}
_ADD = (("alpha", "float"),)

# aten overload (str(node.target)) -> Rule. docs/ARCHITECTURE.md "Op table" is the IR side.
RULES = {
    "aten.convolution.default": Rule(
        "aten.convolution", ("input", "weight", "bias?"),
        (("stride", "pair"), ("padding", "pair"), ("dilation", "pair"), ("transposed", "bool"),
         ("output_padding", "pair"), ("groups", "int")), check=_rank(4)),
    "aten.native_batch_norm.default": Rule(
        "aten.native_batch_norm", ("input", "weight?", "bias?", "running_mean", "running_var"),
        (("training", "bool"), ("momentum", "float"), ("eps", "float"))),
    "aten.addmm.default": Rule("aten.addmm", ("self", "mat1", "mat2"),
                               (("beta", "float"), ("alpha", "float"))),
    "aten.mm.default": Rule("aten.mm", ("self", "mat2")),
    "aten.bmm.default": Rule("aten.bmm", ("self", "mat2")),
    "aten.linear.default": Rule("aten.linear", ("input", "weight", "bias?")),
    "aten.t.default": Rule("aten.t"),
    "aten.t_copy.default": Rule("aten.t"),
    "aten.permute.default": Rule("aten.permute", attrs=(("dims", "dims"),)),
    "aten.permute_copy.default": Rule("aten.permute", attrs=(("dims", "dims"),)),
    "aten.transpose.int": Rule("aten.permute", attrs=(("dims", "ints", _transpose_dims),)),
    "aten.transpose_copy.int": Rule("aten.permute", attrs=(("dims", "ints", _transpose_dims),)),
    "aten.view.default": _VIEW,
    "aten.view_copy.default": _VIEW,
    "aten._reshape_alias.default": _VIEW,
    "aten._reshape_alias_copy.default": _VIEW,
    "aten._unsafe_view.default": _VIEW,
    "aten.reshape.default": _VIEW,
    "aten.flatten.using_ints": _VIEW,
    "aten.squeeze.default": _VIEW,
    "aten.squeeze.dim": _VIEW,
    "aten.squeeze_copy.default": _VIEW,
    "aten.squeeze_copy.dim": _VIEW,
    "aten.unsqueeze.default": _VIEW,
    "aten.unsqueeze_copy.default": _VIEW,
    "aten.relu.default": _UNARY["relu"],
    "aten.sigmoid.default": _UNARY["sigmoid"],
    "aten.tanh.default": _UNARY["tanh"],
    "aten.hardswish.default": _UNARY["hardswish"],
    "aten.hardsigmoid.default": _UNARY["hardsigmoid"],
    "aten.silu.default": _UNARY["silu"],
    "aten.clone.default": Rule("aten.clone"),
    "aten.detach.default": _IDENTITY,
    "aten.detach_copy.default": _IDENTITY,
    "aten.alias.default": _IDENTITY,
    "aten.alias_copy.default": _IDENTITY,
    "aten.lift_fresh.default": _IDENTITY,
    "aten.lift_fresh_copy.default": _IDENTITY,
    "aten.hardtanh.default": Rule("aten.hardtanh",
                                  attrs=(("min_val", "float"), ("max_val", "float"))),
    "aten.clamp.default": Rule("aten.clamp", attrs=(("min", "float?"), ("max", "float?"))),
    "aten.clamp_min.default": Rule("aten.clamp", attrs=(("min", "float?"),
                                                        ("max", "float?", lambda c: None))),
    "aten.clamp_max.default": Rule("aten.clamp", attrs=(("min", "float?", lambda c: None),
                                                        ("max", "float?"))),
    "aten.gelu.default": Rule("aten.gelu", attrs=(("approximate", "int", _gelu_approximate),)),
    "aten.dropout.default": Rule("aten.dropout", ("input",), (("p", "float"), ("train", "bool"))),
    "aten.add.Tensor": Rule("aten.add", ("self#", "other#"), _ADD),
    "aten.add.Scalar": Rule("aten.add", ("self#", "other#"), _ADD),
    "aten.sub.Tensor": Rule("aten.sub", ("self#", "other#"), _ADD),
    "aten.sub.Scalar": Rule("aten.sub", ("self#", "other#"), _ADD),
    # rsub(self, other, alpha) = other - alpha * self = sub(other, self, alpha)
    "aten.rsub.Tensor": Rule("aten.sub", ("other#", "self#"), _ADD),
    "aten.rsub.Scalar": Rule("aten.sub", ("other#", "self#"), _ADD),
    "aten.mul.Tensor": Rule("aten.mul", ("self#", "other#")),
    "aten.mul.Scalar": Rule("aten.mul", ("self#", "other#")),
    "aten.div.Tensor": Rule("aten.div", ("self#", "other#")),
    "aten.div.Scalar": Rule("aten.div", ("self#", "other#")),
    "aten.div.Tensor_mode": Rule("aten.div", ("self#", "other#"), check=_no_rounding_mode),
    "aten.mean.dim": Rule("aten.mean", attrs=(("dim", "dims", _mean_dims), ("keepdim", "bool")),
                          check=_no_dtype),
    "aten.mean.default": Rule("aten.mean", attrs=(("dim", "dims", _mean_dims),
                                                  ("keepdim", "bool", lambda c: False)),
                              check=_no_dtype),
    "aten.max_pool2d_with_indices.default": Rule("aten.max_pool2d_with_indices",
                                                 attrs=_POOL_ATTRS_MAX, check=_rank(4)),
    "aten.max_pool2d.default": Rule("aten.max_pool2d", attrs=_POOL_ATTRS_MAX, check=_rank(4)),
    "aten.avg_pool2d.default": Rule("aten.avg_pool2d", attrs=_POOL_ATTRS_AVG, check=_rank(4)),
    "aten.adaptive_avg_pool2d.default": Rule("aten.adaptive_avg_pool2d",
                                             attrs=(("output_size", "pair"),), check=_rank(4)),
    "aten._adaptive_avg_pool2d.default": Rule("aten.adaptive_avg_pool2d",
                                              attrs=(("output_size", "pair"),), check=_rank(4)),
    "aten._softmax.default": Rule("aten.softmax", attrs=(("dim", "dim"),
                                                         ("half_to_float", "bool"))),
    "aten.softmax.int": Rule("aten.softmax", attrs=(("dim", "dim"),
                                                    ("half_to_float", "bool", lambda c: False)),
                             check=_no_dtype),
    "aten.cat.default": Rule("aten.cat", ("tensors*",), (("dim", "dim"),)),
}


# ---- diagnostics ----

_TORCH_FRAME = re.compile(r"[/\\](torch|functorch)[/\\]")


def _user_frame(stack_trace):
    """'file:line in func: code' of the innermost frame outside torch, or None."""
    if not stack_trace:
        return None
    lines = stack_trace.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r'\s*File "([^"]+)", line (\d+), in (\S+)', line)
        if m and not _TORCH_FRAME.search(m.group(1)):
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            where = "%s:%s in %s" % (m.group(1), m.group(2), m.group(3))
            return "%s: %s" % (where, code) if code else where
    return None


def node_origin(node):
    parts = []
    if node.meta.get("xnnd_module"):
        parts.append("module " + node.meta["xnnd_module"])
    frame = _user_frame(node.stack_trace or node.meta.get("stack_trace"))
    if frame:
        parts.append(frame)
    return "; ".join(parts)


def unsupported_message(node, target, reason=None):
    msg = "unsupported op %s at node '%s'" % (target, node.name)
    if reason:
        msg += " (%s)" % reason
    origin = node_origin(node)
    if origin:
        msg += " (from %s)" % origin
    return msg


# ---- conversion ----

_NAME_RE = re.compile(r"[^A-Za-z0-9_]")


class _Names:
    """Unique sanitized value names; fx names are reserved first so generated ones yield."""

    def __init__(self, reserved):
        self.used = set()
        self.reserved = set(reserved)

    def take(self, name, reserved=False):
        base = _NAME_RE.sub("_", name) or "v"
        candidate, i = base, 1
        while candidate in self.used or (not reserved and candidate in self.reserved):
            candidate = "%s_%d" % (base, i)
            i += 1
        self.used.add(candidate)
        return candidate


def _ir_dtype(torch_dtype, node):
    entry = DTYPES.get(str(torch_dtype))
    if entry is None:
        raise ExportError("unsupported dtype %s at node '%s'%s" % (
            torch_dtype, node.name, (" (from %s)" % node_origin(node)) if node_origin(node) else ""))
    return entry


def _fetch_attr(gm, target):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _live_nodes(graph):
    live = set()
    stack = [n for n in graph.nodes if n.op == "output"]
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        stack.extend(n.all_input_nodes)
    return live


class _Converter:
    def __init__(self, gm, name):
        self.gm = gm
        self.graph = Graph(_NAME_RE.sub("_", name) or "model")
        self.names = _Names(_NAME_RE.sub("_", n.name) for n in gm.graph.nodes)
        self.env = {}          # fx node -> Value, or list of Values for multi-output nodes
        self.consts = {}       # (dtype, shape, bytes) -> Value

    def const(self, name, array, node):
        array = np.array(array, order="C", copy=False)  # ascontiguousarray would make 0-d 1-d
        ir_dtype = None
        for ir, np_dtype in DTYPES.values():
            if array.dtype == np_dtype:
                ir_dtype = ir
        if ir_dtype is None:
            raise ExportError("unsupported constant dtype %s at node '%s'" % (array.dtype, node.name))
        key = (ir_dtype, array.shape, array.tobytes())
        value = self.consts.get(key)
        if value is None:
            value = Value(self.names.take(name, reserved=(name == node.name)), ir_dtype,
                          array.shape, "const", array)
            self.consts[key] = value
            self.graph.consts.append(value)
        return value

    def tensor_value(self, node, meta, name, reserved):
        ir_dtype, _ = _ir_dtype(meta.dtype, node)
        return Value(self.names.take(name, reserved=reserved), ir_dtype, meta.shape, "node")

    def run(self):
        live = _live_nodes(self.gm.graph)
        for node in self.gm.graph.nodes:
            if node.op == "placeholder":
                meta = node.meta["tensor_meta"]
                v = self.tensor_value(node, meta, node.name, True)
                v.kind = "input"
                self.env[node] = v
                self.graph.inputs.append(v)
            elif node not in live:
                continue
            elif node.op == "get_attr":
                t = _fetch_attr(self.gm, node.target)
                if not isinstance(t, torch.Tensor):
                    raise ExportError("get_attr %s at node '%s' is not a tensor" % (node.target, node.name))
                self.env[node] = self.const(node.name, t.detach().cpu().numpy(), node)
            elif node.op == "call_function" and node.target is operator.getitem:
                parent, index = node.args
                self.env[node] = self.env[parent][index]
            elif node.op == "call_function":
                self.map_call(node)
            elif node.op == "output":
                self.map_output(node)
            else:
                raise UnsupportedOpError(unsupported_message(node, "%s %s" % (node.op, node.target)),
                                         str(node.target), node.name)
        return self.graph

    def input_value(self, call, spec, out_dtype):
        name = spec.rstrip("?#*")
        arg = call.arg(name)
        if spec.endswith("*"):
            return [self.env[a] for a in arg]
        if arg is None:
            if spec.endswith("?"):
                return None
            call.unsupported("argument %s is None" % name)
        if isinstance(arg, torch.fx.Node):
            return self.env[arg]
        if spec.endswith("#") and isinstance(arg, (int, float, bool)):
            np_dtype = dict(DTYPES.values())[out_dtype]
            return self.const("%s_%s" % (call.node.name, name), np.array(arg, dtype=np_dtype),
                              call.node)
        call.unsupported("argument %s=%r is not a tensor" % (name, arg))

    def attr(self, call, spec):
        name, kind = spec[0], spec[1]
        value = spec[2](call) if len(spec) > 2 else call.arg(name)
        optional = kind.endswith("?")
        kind = kind.rstrip("?")
        if value is None:
            if not optional:
                call.unsupported("attribute %s is None" % name)
            return Attr(name, {"pair": "ints", "dims": "ints", "dim": "int"}.get(kind, kind), None)
        if kind == "pair":
            return Attr(name, "ints", _pair(call, name, value))
        if kind == "dims":
            rank = call.rank("self")
            return Attr(name, "ints", [_dim(d, rank) for d in value])
        if kind == "dim":
            return Attr(name, "int", _dim(value, call.out_rank))
        if kind == "int":
            return Attr(name, "int", int(value))
        if kind == "float":
            return Attr(name, "float", float(value))
        if kind == "bool":
            return Attr(name, "bool", bool(value))
        if kind == "ints":
            return Attr(name, "ints", [int(v) for v in value])
        raise AssertionError("bad attribute kind %r" % kind)

    def map_call(self, node):
        target = str(node.target)
        rule = RULES.get(target)
        if rule is None or not hasattr(node.target, "_schema"):
            raise UnsupportedOpError(unsupported_message(node, target), target, node.name)
        call = Call(node, self.env, target)
        if rule.check:
            rule.check(call)
        if rule.op is None:
            self.env[node] = self.input_value(call, rule.inputs[0], None)
            return
        metas = call.out_metas
        if any(m is None for m in metas):
            raise ExportError("no shape metadata for node '%s'" % node.name)
        out_dtype, _ = _ir_dtype(metas[0].dtype, node)
        inputs = []
        for spec in rule.inputs:
            v = self.input_value(call, spec, out_dtype)
            inputs.extend(v if isinstance(v, list) else [v])
        attrs = [self.attr(call, spec) for spec in rule.attrs]
        if len(metas) == 1:
            outputs = [self.tensor_value(node, metas[0], node.name, True)]
            self.env[node] = outputs[0]
        else:
            getitems = {u.args[1]: u for u in node.users if u.target is operator.getitem}
            outputs = []
            for k, meta in enumerate(metas):
                if k in getitems:
                    outputs.append(self.tensor_value(node, meta, getitems[k].name, True))
                else:
                    outputs.append(self.tensor_value(node, meta, "%s_out%d" % (node.name, k), False))
            self.env[node] = outputs
        self.graph.nodes.append(Node(rule.op, inputs, outputs, attrs, node.name))

    def map_output(self, node):
        flat, _ = pytree.tree_flatten(node.args[0])
        for i, item in enumerate(flat):
            if not isinstance(item, torch.fx.Node):
                raise ExportError("model output %d is a %s, not a tensor" % (i, type(item).__name__))
            v = self.env[item]
            if v.kind != "node":
                # A program output must be produced by a node: copy inputs and constants.
                out = Value(self.names.take("output_%d" % i), v.dtype, v.shape, "node")
                self.graph.nodes.append(Node("aten.clone", [v], [out], [], node.name))
                v = out
            self.graph.outputs.append(v)


def convert(gm, name):
    """IR Graph of a traced GraphModule (trace.trace). Raises UnsupportedOpError (exit code 2)
    for a live aten op with no RULES entry."""
    return _Converter(gm, name).run()


def unsupported_ops(gm):
    """Sorted aten targets of live nodes with no mapping: [] means convert() will not refuse
    any op for lack of a table entry."""
    missing = set()
    live = _live_nodes(gm.graph)
    for node in gm.graph.nodes:
        if node in live and node.op == "call_function" and node.target is not operator.getitem:
            if str(node.target) not in RULES:
                missing.add(str(node.target))
    return sorted(missing)
