"""aten fx graph -> IR graph (ir_text.Graph), driven by one table, RULES.

One RULES entry per aten overload: the IR op (docs/ARCHITECTURE.md "Op table"), which aten
arguments are its inputs, and its attributes in the IR schema order. Arguments are bound by
name through the overload's schema, so defaults and kwargs need no special cases.
Normalization happens here, not in the toolchain: pairs are always two ints (an empty pool
stride means kernel_size), view sizes come from the output metadata, negative dims are made
positive, Python scalars in tensor positions become rank-0 constants of the output dtype.
Nodes nothing reaches from the graph output are dropped before mapping, so a dead unsupported
op (aten.empty from batch norm) is not an error; a live one is.

Constant folding: a node computed only from parameters and buffers (or only from input shapes,
like new_zeros) is evaluated here with PyTorch, in graph order, and becomes a constant. This
covers what functionalize leaves unfunctionalized on module buffers (in-place adds) and index
tables (relative position biases, attention masks) that have no IR op. aten.t of a parameter
stays an IR node so the toolchain still sees the linear weight pattern.

Dynamic shapes: SymbolTable names the ExportedProgram's symbols s0, s1, ... (in order of first
appearance in the inputs' dims, with their range_constraints) and turns every symbolic size
(FakeTensor shapes in node meta, SymInt arguments such as view sizes or slice bounds) into an
affine form ir_text.Affine, refusing a size that is not affine with the node and expression
named. Nodes that only compute sizes (sym_size, operator.mul, ...) emit nothing: their values
reach the ops that use them as forms. An INTS attribute may hold forms; an INT attribute never
does (the node is refused), and rules that compute with a size raise SymbolicDimError on a
symbolic one, which becomes a refusal of the node.
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable, NoReturn, Sequence, TypeAlias

import numpy as np
import torch
import torch.utils._pytree as pytree
from torch.fx.passes.shape_prop import TensorMetadata

from . import rules_binary, rules_index, rules_math, rules_shape
from . import rules_reduce as _rr
from . import rules_spatial as _spatial
from .errors import ExportError, UnsupportedOpError
from .ir_text import (DTYPES, MAX_SYMBOLS, Affine, Attr, Graph, Node, Symbol, SymbolicDimError,
                      Value, affine)


# (ir_name, kind) or (ir_name, kind, getter(call)): see Rule.
AttrSpec: TypeAlias = "tuple[str, str] | tuple[str, str, Callable[[Call], Any]]"


class Rule:
    """How one aten overload maps to IR.

    op      IR op name; None forwards the (first) input unchanged (detach, alias, ...).
    inputs  aten argument names in IR input order. Suffix '?' = optional (absent -> `_`),
            '#' = tensor or Python scalar (scalar -> rank-0 constant), '*' = list of tensors,
            '*?' = list of optional tensors (None entries -> `_`).
    attrs   (ir_name, kind[, getter]) in IR schema order. kind: 'int', 'float', 'bool', 'ints',
            'pair' (printed as ints, always 2), 'dim' (int, made non-negative), 'dims' (ints,
            made non-negative), any kind + '?' may be none. getter(call) defaults to the aten
            argument of the same name.
    check   optional check(call) that raises via call.unsupported(reason).
    identity  optional identity(call): True when this call is a no-op (a slice over the whole
            dim); the input is forwarded and no node is emitted.
    scalar_dtype  optional scalar_dtype(call) -> torch dtype of the rank-0 constants that
            Python scalars in '#' inputs become (default: the output dtype; a comparison
            needs the dtype it computes in).
    num_outputs  IR outputs taken from the aten op's outputs (None: all); reading a later one
            is refused (e.g. _embedding_bag's training-only outputs).
    extra_outputs  (name suffix, getter(call) -> (ir dtype, shape)) per IR output the aten op
            does not have, appended after its outputs (scatter_reduce's count).
    dispatch  optional dispatch(call) -> Rule: the rule that maps this call instead (as_strided
            that is a plain view becomes aten.view)."""

    def __init__(self, op: str | None, inputs: Sequence[str] = ("self",),
                 attrs: Sequence[AttrSpec] = (), check: Callable[[Call], None] | None = None,
                 identity: Callable[[Call], bool] | None = None,
                 scalar_dtype: Callable[[Call], Any] | None = None, num_outputs: int | None = None,
                 extra_outputs: Sequence[tuple[str, Callable[[Call], Any]]] = (),
                 dispatch: Callable[[Call], Rule] | None = None) -> None:
        self.op = op
        self.dispatch = dispatch
        self.inputs = inputs
        self.attrs = attrs
        self.check = check
        self.identity = identity
        self.scalar_dtype = scalar_dtype
        self.num_outputs = num_outputs
        self.extra_outputs = extra_outputs


class Call:
    """One fx node being mapped: bound arguments plus output metadata."""

    def __init__(self, node: torch.fx.Node, env: dict[torch.fx.Node, Any], target: str) -> None:
        self.node = node
        self.target = target
        self.env = env
        op: Any = node.target   # an OpOverload
        schema = op._schema
        self.args = {}
        for i, a in enumerate(schema.arguments):
            if i < len(node.args) and not a.kwarg_only:
                self.args[a.name] = node.args[i]
            elif a.name in node.kwargs:
                self.args[a.name] = node.kwargs[a.name]
            else:
                self.args[a.name] = a.default_value
        symbols = getattr(env, "symbols", None)
        if symbols is not None:   # sizes computed from symbols (view sizes, slice ends): forms
            self.args = {k: symbols.resolve(v, node) for k, v in self.args.items()}
        metas = node.meta.get("tensor_meta")
        # TensorMetadata is itself a NamedTuple: a tuple of them means several outputs.
        # out_metas: a TensorMetadata per output, None where torch.export recorded none.
        self.out_metas: list[Any] = (
            [metas] if isinstance(metas, TensorMetadata) or metas is None else list(metas))

    def arg(self, name: str) -> Any:
        return self.args[name]

    def rank(self, name: str) -> int:
        v = self.args[name]
        if isinstance(v, torch.fx.Node):
            return len(self.env[v].shape)
        return 0

    @property
    def out_shape(self) -> list[int]:
        return list(self.out_metas[0].shape)

    @property
    def out_rank(self) -> int:
        return len(self.out_metas[0].shape)

    def unsupported(self, reason: str) -> NoReturn:
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


def _self_dims(call):
    name = "input" if "input" in call.args else "self"
    return list(call.env[call.arg(name)].shape)


def _slice_dim(call):
    return _dim(call.arg("dim"), call.rank("self"))


def _slice_bounds(call):
    """PyTorch's clamping: None -> the whole dim, negatives count from the end, then
    0 <= start <= end <= size."""
    size = _self_dims(call)[_slice_dim(call)]
    start, end = call.arg("start"), call.arg("end")
    if isinstance(size, Affine) or isinstance(start, Affine) or isinstance(end, Affine):
        return _symbolic_slice_bounds(call, size, start, end)
    start = 0 if start is None else int(start)
    end = size if end is None else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


def _symbolic_slice_bounds(call, size, start, end):
    """_slice_bounds where the dim's size or a bound is symbolic: bounds that need no clamping
    for any value of the symbols (a bound past the dim's largest size is the size itself)."""
    lower = size.lower() if isinstance(size, Affine) else size
    upper = size.upper() if isinstance(size, Affine) else size
    start = 0 if start is None else start
    if end is None or (isinstance(end, int) and end >= upper):
        end = size
    if isinstance(start, int) and 0 <= start <= (end if isinstance(end, int) else
                                                  end.lower() if isinstance(end, Affine) else 0):
        if end == size or (isinstance(end, int) and end <= lower):
            return start, end
        if isinstance(end, Affine) and isinstance(size, Affine) and end.upper() <= lower:
            return start, end
    call.unsupported("slice [%s:%s] of a dim of symbolic size %s: the bounds would need "
                     "clamping or a negative index, which depend on the size"
                     % (call.arg("start"), call.arg("end"), size))


def _slice_check(call):
    if int(call.arg("step")) < 1:
        call.unsupported("step=%s" % call.arg("step"))


def _slice_is_identity(call):
    start, end = _slice_bounds(call)
    return (start, end) == (0, _self_dims(call)[_slice_dim(call)]) and int(call.arg("step")) == 1


def _select_index(call):
    index = call.arg("index")
    if isinstance(index, Affine):
        call.unsupported("select at the symbolic index %s: aten.select's index is a static int"
                         % index)
    index = int(index)
    size = _self_dims(call)[_slice_dim(call)]
    if index < 0 and isinstance(size, Affine):
        call.unsupported("select at index %d from the end of a dim of symbolic size %s"
                         % (index, size))
    return index + size if index < 0 else index


def _roll_dims(call):
    rank = call.rank("self")
    return [_dim(d, rank) for d in call.arg("dims")]


def _norm_p(name):
    def get(call):
        p = call.arg(name)
        if p is None:
            return 2.0
        if isinstance(p, str):   # linalg_vector_norm accepts only numbers; norm also 'fro'
            if p != "fro":
                call.unsupported("p=%r" % p)
            return 2.0
        return float(p)
    return get


def _norm_dims(call):
    dim = call.arg("dim")
    rank = call.rank("self")
    return list(range(rank)) if dim is None or dim == [] else sorted(_dim(d, rank) for d in dim)


def _pad_list(call):
    """pad without its trailing (0, 0) pairs (the outermost dims): the IR lists at most 8."""
    pad = [int(p) for p in call.arg("pad")]
    while len(pad) >= 2 and pad[-2:] == [0, 0]:
        del pad[-2:]
    return pad


def _pad_check(call):
    if len(_pad_list(call)) > 8:
        call.unsupported("pad over %d dims; at most 4 are supported" % (len(call.arg("pad")) // 2))


def _pad_value(call):
    value = call.arg("value")
    return 0.0 if value is None else float(value)


def _resize_size(call):
    return call.out_shape[2:]


def _resize_scale(axis):
    def get(call):
        if "scale_factors" in call.args:      # .vec overload
            factors = call.arg("scale_factors")
            return None if factors is None else float(factors[axis])
        return call.arg("scales_h" if axis == 0 else "scales_w")
    return get


_POOL_ATTRS_MAX = (("kernel_size", "pair"), ("stride", "pair", _pool_stride),
                   ("padding", "pair"), ("dilation", "pair"), ("ceil_mode", "bool"))
_POOL_ATTRS_AVG = (("kernel_size", "pair"), ("stride", "pair", _pool_stride),
                   ("padding", "pair"), ("ceil_mode", "bool"), ("count_include_pad", "bool"),
                   ("divisor_override", "int?"))
_POOL_RANK = _spatial.check_rank(3, 4)
_VIEW = Rule("aten.view", attrs=(("size", "ints", _view_size),))
_IDENTITY = Rule(None)
_UNARY = {name: Rule("aten." + name) for name in
          ("relu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu")}
_ADD = (("alpha", "float"),)
_SLICE = Rule("aten.slice", attrs=(("dim", "int", _slice_dim),
                                   ("start", "int", lambda c: _slice_bounds(c)[0]),
                                   ("end", "int", lambda c: _slice_bounds(c)[1]), ("step", "int")),
              check=_slice_check, identity=_slice_is_identity)
_SELECT = Rule("aten.select", attrs=(("dim", "int", _slice_dim), ("index", "int", _select_index)))
_EXPAND = Rule("aten.expand", attrs=(("size", "ints", _view_size),))
_EDGE_PAD = {"%s_pad%dd" % (kind, k): Rule(
    "aten.%s_pad%dd" % (kind, k), attrs=(("padding", "ints"),),
    check=rules_shape.edge_pad_check(kind == "reflection"))
    for kind in ("reflection", "replication") for k in (1, 2, 3)}
_DIAGONAL = Rule("aten.diagonal", attrs=(("offset", "int"),
                                         ("dim1", "int", rules_shape.diagonal_dim("dim1")),
                                         ("dim2", "int", rules_shape.diagonal_dim("dim2"))))
_AS_STRIDED: Rule = Rule(
    "aten.as_strided", attrs=(("size", "ints"), ("stride", "ints"),
                              ("storage_offset", "int", lambda c: c.arg("storage_offset") or 0)),
    check=rules_shape.as_strided_check,
    dispatch=lambda c: _VIEW if rules_shape.as_strided_is_view(c) else _AS_STRIDED)
_NEAREST_ATTRS = (("output_size", "ints", _resize_size), ("scales_h", "float?", _resize_scale(0)),
                  ("scales_w", "float?", _resize_scale(1)))
_BILINEAR_ATTRS = (("output_size", "ints", _resize_size), ("align_corners", "bool"),
                   ("scales_h", "float?", _resize_scale(0)),
                   ("scales_w", "float?", _resize_scale(1)))

_DIV_MODE = Rule("aten.div_mode", ("self#", "other#"),
                 (("rounding_mode", "int?", rules_binary.div_rounding_mode),),
                 scalar_dtype=rules_binary.promoted("self", "other"))

_FLOOR_DIVIDE = Rule("aten.div_mode", ("self#", "other#"),
                     (("rounding_mode", "int?", lambda c: 1),),
                     scalar_dtype=rules_binary.promoted("self", "other"))

# aten overload (str(node.target)) -> Rule. docs/ARCHITECTURE.md "Op table" is the IR side.
RULES = {
    # 1-D, 2-D and 3-D: one attribute entry per spatial dim (rules_spatial.py).
    "aten.convolution.default": Rule("aten.convolution", ("input", "weight", "bias?"),
                                     _spatial.CONV_ATTRS, check=_spatial.check_conv),
    "aten.native_batch_norm.default": Rule(
        "aten.native_batch_norm", ("input", "weight?", "bias?", "running_mean", "running_var"),
        (("training", "bool"), ("momentum", "float"), ("eps", "float"))),
    # torch.export's eval-mode batch norm: (input, weight, bias, running_mean, running_var,
    # momentum, eps), three outputs like native_batch_norm.
    "aten._native_batch_norm_legit_no_training.default": Rule(
        "aten.native_batch_norm", ("input", "weight?", "bias?", "running_mean", "running_var"),
        (("training", "bool", lambda c: False), ("momentum", "float"), ("eps", "float"))),
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
    "aten.as_strided.default": _AS_STRIDED,
    "aten.as_strided_copy.default": _AS_STRIDED,
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
    "aten.mean.dim": Rule("aten.mean", attrs=(("dim", "dims", _mean_dims), ("keepdim", "bool")),
                          check=_no_dtype),
    "aten.mean.default": Rule("aten.mean", attrs=(("dim", "dims", _mean_dims),
                                                  ("keepdim", "bool", lambda c: False)),
                              check=_no_dtype),
    # 2-D pools take (C,H,W) too: the 1-D pools decompose into them through unsqueeze.
    "aten.max_pool2d_with_indices.default": Rule("aten.max_pool2d_with_indices",
                                                 attrs=_POOL_ATTRS_MAX, check=_POOL_RANK),
    "aten.max_pool2d.default": Rule("aten.max_pool2d", attrs=_POOL_ATTRS_MAX, check=_POOL_RANK),
    "aten.avg_pool2d.default": Rule("aten.avg_pool2d", attrs=_POOL_ATTRS_AVG, check=_POOL_RANK),
    "aten.adaptive_avg_pool2d.default": Rule("aten.adaptive_avg_pool2d",
                                             attrs=(("output_size", "pair"),), check=_POOL_RANK),
    "aten._adaptive_avg_pool2d.default": Rule("aten.adaptive_avg_pool2d",
                                              attrs=(("output_size", "pair"),), check=_POOL_RANK),
    "aten._softmax.default": Rule("aten.softmax", attrs=(("dim", "dim"),
                                                         ("half_to_float", "bool"))),
    "aten.softmax.int": Rule("aten.softmax", attrs=(("dim", "dim"),
                                                    ("half_to_float", "bool", lambda c: False)),
                             check=_no_dtype),
    # scaled_dot_product_attention's softmax: softmax, except that a row that is -inf
    # everywhere (fully masked) gives 0 instead of NaN. Mapped to softmax, so such a row gives
    # NaN in xnnd (docs/ARCHITECTURE.md, "Capture").
    "aten._safe_softmax.default": Rule("aten.softmax",
                                       attrs=(("dim", "dim"),
                                              ("half_to_float", "bool", lambda c: False)),
                                       check=_no_dtype),
    "aten.cat.default": Rule("aten.cat", ("tensors*",), (("dim", "dim"),),
                             check=rules_shape.cat_check),
    "aten.slice.Tensor": _SLICE,
    "aten.slice_copy.Tensor": _SLICE,
    "aten.select.int": _SELECT,
    "aten.select_copy.int": _SELECT,
    "aten.expand.default": _EXPAND,
    "aten.expand_copy.default": _EXPAND,
    "aten.constant_pad_nd.default": Rule("aten.constant_pad_nd",
                                         attrs=(("pad", "ints", _pad_list),
                                                ("value", "float", _pad_value)),
                                         check=_pad_check),
    "aten._log_softmax.default": Rule("aten.log_softmax", attrs=(("dim", "dim"),
                                                                 ("half_to_float", "bool"))),
    "aten.log_softmax.int": Rule("aten.log_softmax",
                                 attrs=(("dim", "dim"), ("half_to_float", "bool", lambda c: False)),
                                 check=_no_dtype),
    "aten.native_layer_norm.default": Rule(
        "aten.native_layer_norm", ("input", "weight?", "bias?"),
        (("normalized_shape", "ints"), ("eps", "float"))),
    "aten.baddbmm.default": Rule("aten.baddbmm", ("self", "batch1", "batch2"),
                                 (("beta", "float"), ("alpha", "float"))),
    "aten.roll.default": Rule("aten.roll", attrs=(("shifts", "ints"),
                                                  ("dims", "ints", _roll_dims))),
    "aten.norm.ScalarOpt_dim": Rule("aten.norm", attrs=(("p", "float", _norm_p("p")),
                                                        ("dim", "dims", _norm_dims),
                                                        ("keepdim", "bool"))),
    "aten.norm.Scalar": Rule("aten.norm", attrs=(("p", "float", _norm_p("p")),
                                                 ("dim", "dims", _norm_dims),
                                                 ("keepdim", "bool", lambda c: False))),
    "aten.linalg_vector_norm.default": Rule("aten.norm", attrs=(("p", "float", _norm_p("ord")),
                                                                ("dim", "dims", _norm_dims),
                                                                ("keepdim", "bool")),
                                            check=_no_dtype),
    # .vec takes `input` and scale_factors, .default `self` and scales_h/scales_w.
    "aten.upsample_nearest2d.vec": Rule("aten.upsample_nearest2d", ("input",), _NEAREST_ATTRS,
                                        check=_rank(4)),
    "aten.upsample_nearest2d.default": Rule("aten.upsample_nearest2d", ("self",),
                                            _NEAREST_ATTRS, check=_rank(4)),
    "aten.upsample_bilinear2d.vec": Rule("aten.upsample_bilinear2d", ("input",),
                                         _BILINEAR_ATTRS, check=_rank(4)),
    "aten.upsample_bilinear2d.default": Rule("aten.upsample_bilinear2d", ("self",),
                                             _BILINEAR_ATTRS, check=_rank(4)),
    # >>> math: unary math, isnan/isinf, logical/bitwise not, elu/leaky_relu, _to_copy, creation
    **rules_math.rules(Rule),
    # <<< math
    # >>> binary: binary arithmetic, comparisons, logical/bitwise binary, where, clamp.Tensor
    "aten.div.Tensor_mode": _DIV_MODE,
    "aten.div.Scalar_mode": _DIV_MODE,
    "aten.atan2.default": rules_binary.binary("aten.atan2"),
    "aten.fmod.Tensor": rules_binary.binary("aten.fmod"),
    "aten.fmod.Scalar": rules_binary.binary("aten.fmod"),
    "aten.remainder.Tensor": rules_binary.binary("aten.remainder"),
    "aten.remainder.Scalar": rules_binary.binary("aten.remainder"),
    "aten.pow.Tensor_Tensor": rules_binary.binary("aten.pow", "self", "exponent"),
    "aten.pow.Tensor_Scalar": rules_binary.binary("aten.pow", "self", "exponent"),
    "aten.pow.Scalar": rules_binary.binary("aten.pow", "self", "exponent"),
    "aten.maximum.default": rules_binary.binary("aten.maximum"),
    "aten.minimum.default": rules_binary.binary("aten.minimum"),
    "aten.where.self": Rule("aten.where", ("condition", "self#", "other#"),
                            scalar_dtype=rules_binary.promoted("self", "other")),
    "aten.clamp.Tensor": Rule("aten.clamp_tensor", ("self", "min?", "max?")),
    "aten.bitwise_and.Tensor": rules_binary.binary("aten.bitwise_and"),
    "aten.bitwise_and.Scalar": rules_binary.binary("aten.bitwise_and"),
    "aten.bitwise_or.Tensor": rules_binary.binary("aten.bitwise_or"),
    "aten.bitwise_or.Scalar": rules_binary.binary("aten.bitwise_or"),
    "aten.bitwise_xor.Tensor": rules_binary.binary("aten.bitwise_xor"),
    "aten.bitwise_xor.Scalar": rules_binary.binary("aten.bitwise_xor"),
    "aten.logical_and.default": rules_binary.binary("aten.logical_and"),
    "aten.logical_or.default": rules_binary.binary("aten.logical_or"),
    "aten.logical_xor.default": rules_binary.binary("aten.logical_xor"),
    "aten.eq.Tensor": rules_binary.binary("aten.eq"),
    "aten.eq.Scalar": rules_binary.binary("aten.eq"),
    "aten.ne.Tensor": rules_binary.binary("aten.ne"),
    "aten.ne.Scalar": rules_binary.binary("aten.ne"),
    "aten.lt.Tensor": rules_binary.binary("aten.lt"),
    "aten.lt.Scalar": rules_binary.binary("aten.lt"),
    "aten.le.Tensor": rules_binary.binary("aten.le"),
    "aten.le.Scalar": rules_binary.binary("aten.le"),
    "aten.gt.Tensor": rules_binary.binary("aten.gt"),
    "aten.gt.Scalar": rules_binary.binary("aten.gt"),
    "aten.ge.Tensor": rules_binary.binary("aten.ge"),
    "aten.ge.Scalar": rules_binary.binary("aten.ge"),
    # non-core overloads torch.export keeps (no decomposition): scalar first, floor_divide
    "aten.remainder.Scalar_Tensor": rules_binary.binary("aten.remainder"),
    "aten.bitwise_and.Scalar_Tensor": rules_binary.binary("aten.bitwise_and"),
    "aten.bitwise_or.Scalar_Tensor": rules_binary.binary("aten.bitwise_or"),
    "aten.bitwise_xor.Scalar_Tensor": rules_binary.binary("aten.bitwise_xor"),
    "aten.floor_divide.default": _FLOOR_DIVIDE,
    "aten.floor_divide.Scalar": _FLOOR_DIVIDE,
    # <<< binary
    # >>> reduce: reductions, scans, sort/topk, group norm, distances
    "aten.sum.dim_IntList": Rule("aten.sum", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool"),
                                                    ("dtype", "int", _rr.out_dtype))),
    "aten.sum.default": Rule("aten.sum", attrs=(("dim", "ints", _rr.all_dims),
                                                ("keepdim", "bool", _rr.no_keepdim),
                                                ("dtype", "int", _rr.out_dtype))),
    "aten.prod.default": Rule("aten.prod", attrs=(("dim", "ints", _rr.all_dims),
                                                  ("keepdim", "bool", _rr.no_keepdim),
                                                  ("dtype", "int", _rr.out_dtype))),
    "aten.prod.dim_int": Rule("aten.prod", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool"),
                                                  ("dtype", "int", _rr.out_dtype))),
    "aten.amax.default": Rule("aten.amax", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool"))),
    "aten.amin.default": Rule("aten.amin", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool"))),
    "aten.any.default": Rule("aten.any", attrs=(("dim", "ints", _rr.all_dims),
                                                ("keepdim", "bool", _rr.no_keepdim))),
    "aten.any.dim": Rule("aten.any", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool"))),
    "aten.any.dims": Rule("aten.any", attrs=(("dim", "ints", _rr.dims), ("keepdim", "bool")),
                          check=_rr.any_dims_check),
    "aten.var.correction": Rule("aten.var", attrs=(("dim", "ints", _rr.dims),
                                                   ("correction", "float", _rr.var_correction),
                                                   ("keepdim", "bool"))),
    "aten.var.dim": Rule("aten.var", attrs=(("dim", "ints", _rr.dims),
                                            ("correction", "float", _rr.var_correction),
                                            ("keepdim", "bool"))),
    # not core, exported undecomposed by torch.var_mean / std_mean
    "aten.var_mean.correction": Rule("aten.var_mean", attrs=(("dim", "ints", _rr.dims),
                                                             ("correction", "float",
                                                              _rr.var_correction),
                                                             ("keepdim", "bool"))),
    "aten.argmax.default": Rule("aten.argmax", attrs=(("dim", "int?", _rr.opt_dim),
                                                      ("keepdim", "bool"))),
    "aten.argmin.default": Rule("aten.argmin", attrs=(("dim", "int?", _rr.opt_dim),
                                                      ("keepdim", "bool"))),
    "aten.max.dim": Rule("aten.max", attrs=(("dim", "int", _rr.one_dim), ("keepdim", "bool"))),
    "aten.min.dim": Rule("aten.min", attrs=(("dim", "int", _rr.one_dim), ("keepdim", "bool"))),
    "aten.cumsum.default": Rule("aten.cumsum", attrs=(("dim", "int", _rr.one_dim),
                                                      ("dtype", "int", _rr.out_dtype))),
    "aten.sort.default": Rule("aten.sort", attrs=(("dim", "int", _rr.one_dim),
                                                  ("descending", "bool"))),
    # not core, but what torch.sort(stable=True) exports as: aten.sort is always stable
    "aten.sort.stable": Rule("aten.sort", attrs=(("dim", "int", _rr.one_dim),
                                                 ("descending", "bool"))),
    # not core, but what x.max() / x.min() export as (no decomposition): amax/amin over all
    "aten.max.default": Rule("aten.amax", attrs=(("dim", "ints", _rr.all_dims),
                                                 ("keepdim", "bool", _rr.no_keepdim))),
    "aten.min.default": Rule("aten.amin", attrs=(("dim", "ints", _rr.all_dims),
                                                 ("keepdim", "bool", _rr.no_keepdim))),
    "aten.cumprod.default": Rule("aten.cumprod", attrs=(("dim", "int", _rr.one_dim),
                                                        ("dtype", "int", _rr.out_dtype))),
    "aten.topk.default": Rule("aten.topk", attrs=(("k", "int", _rr.topk_k),
                                                  ("dim", "int", _rr.one_dim),
                                                  ("largest", "bool"), ("sorted", "bool"))),
    "aten.native_group_norm.default": Rule(
        "aten.native_group_norm", ("input", "weight?", "bias?"),
        (("n", "int", _rr.group_norm_int("N")), ("c", "int", _rr.group_norm_int("C")),
         ("hw", "int", _rr.group_norm_int("HxW")), ("group", "int"), ("eps", "float"))),
    # Instance norm and train-mode batch norm: statistics of the batch itself.
    "aten._native_batch_norm_legit.no_stats": Rule(
        "aten._native_batch_norm_legit", ("input", "weight?", "bias?"), (("eps", "float"),),
        check=_rr.batch_norm_training),
    # With running statistics and training=True: normalizes with the batch statistics; the
    # update of running_mean/running_var (an in-place side effect) is not part of an inference
    # program and is dropped. torch.export never leaves this overload in a program (it
    # functionalizes it into _native_batch_norm_legit_functional, five outputs, unsupported).
    "aten._native_batch_norm_legit.default": Rule(
        "aten._native_batch_norm_legit", ("input", "weight?", "bias?"), (("eps", "float"),),
        check=_rr.batch_norm_training),
    "aten._cdist_forward.default": Rule("aten._cdist_forward", ("x1", "x2"),
                                        (("p", "float"), ("compute_mode", "int?"))),
    "aten._pdist_forward.default": Rule("aten._pdist_forward", attrs=(("p", "float"),)),
    # <<< reduce
    # >>> index: gathers and scatters (index_select, gather, index, embedding, scatter, ...)
    "aten.index_select.default": Rule("aten.index_select", ("self", "index"), (("dim", "dim"),),
                                      check=rules_index.check_index),
    "aten.gather.default": Rule("aten.gather", ("self", "index"), (("dim", "dim"),),
                                check=rules_index.check_index),
    "aten.index.Tensor": Rule("aten.index", ("self", "indices*?"),
                              check=rules_index.check_index_list),
    "aten._unsafe_index.Tensor": Rule("aten.index", ("self", "indices*?"),
                                      check=rules_index.check_index_list),
    "aten.index_put.default": Rule("aten.index_put", ("self", "values", "indices*?"),
                                   (("accumulate", "bool"),), check=rules_index.check_index_put),
    "aten._unsafe_index_put.default": Rule("aten.index_put", ("self", "values", "indices*?"),
                                           (("accumulate", "bool"),),
                                           check=rules_index.check_index_put),
    # embedding(weight, indices) is index_select along dim 0 with indices of any rank;
    # padding_idx only matters for gradients
    "aten.embedding.default": Rule("aten.index_select", ("weight", "indices"),
                                   (("dim", "int", lambda c: 0),),
                                   check=rules_index.check_embedding),
    # outputs 1-3 (offset2bag, bag_size, max_indices) serve the backward pass only
    "aten._embedding_bag.default": Rule(
        "aten._embedding_bag", ("weight", "indices", "offsets", "per_sample_weights?"),
        (("mode", "int"), ("include_last_offset", "bool"),
         ("padding_idx", "int", rules_index.embedding_bag_padding_idx)), num_outputs=1),
    "aten._embedding_bag_forward_only.default": Rule(
        "aten._embedding_bag", ("weight", "indices", "offsets", "per_sample_weights?"),
        (("mode", "int"), ("include_last_offset", "bool"),
         ("padding_idx", "int", rules_index.embedding_bag_padding_idx)), num_outputs=1),
    "aten.scatter.src": Rule("aten.scatter", ("self", "index", "src"), (("dim", "dim"),),
                             check=rules_index.check_index),
    "aten.scatter.value": Rule("aten.scatter", ("self", "index", "value#"), (("dim", "dim"),),
                               check=rules_index.check_index),
    "aten.scatter_add.default": Rule(
        "aten.scatter_reduce", ("self", "index", "src"),
        (("dim", "dim"), ("reduce", "int", lambda c: 0), ("include_self", "bool", lambda c: True)),
        check=rules_index.check_index,
        extra_outputs=(("count", rules_index.reduce_count_output),)),
    "aten.scatter_reduce.two": Rule(
        "aten.scatter_reduce", ("self", "index", "src"),
        (("dim", "dim"), ("reduce", "int", rules_index.scatter_reduce_mode),
         ("include_self", "bool")), check=rules_index.check_index,
        extra_outputs=(("count", rules_index.reduce_count_output),)),
    "aten.select_scatter.default": Rule("aten.select_scatter", ("self", "src"),
                                        (("dim", "int", _slice_dim),
                                         ("index", "int", _select_index))),
    "aten.slice_scatter.default": Rule("aten.slice_scatter", ("self", "src"),
                                       (("dim", "int", _slice_dim),
                                        ("start", "int", lambda c: _slice_bounds(c)[0]),
                                        ("end", "int", lambda c: _slice_bounds(c)[1]),
                                        ("step", "int")), check=_slice_check),
    "aten.masked_scatter.default": Rule("aten.masked_scatter", ("self", "mask", "source")),
    # <<< index
    # >>> shape: shape and layout ops (flip, repeat, pads, squeeze, diagonal, as_strided)
    "aten.flip.default": Rule("aten.flip", attrs=(("dims", "dims"),)),
    "aten.repeat.default": Rule("aten.repeat", attrs=(("repeats", "ints"),)),
    "aten.reflection_pad1d.default": _EDGE_PAD["reflection_pad1d"],
    "aten.reflection_pad2d.default": _EDGE_PAD["reflection_pad2d"],
    "aten.reflection_pad3d.default": _EDGE_PAD["reflection_pad3d"],
    # not core (torch decomposes it into arange/clamp/index), kept whole: one cheap kernel
    "aten.replication_pad1d.default": _EDGE_PAD["replication_pad1d"],
    "aten.replication_pad2d.default": _EDGE_PAD["replication_pad2d"],
    "aten.replication_pad3d.default": _EDGE_PAD["replication_pad3d"],
    "aten.diagonal.default": _DIAGONAL,
    "aten.diagonal_copy.default": _DIAGONAL,
    "aten.squeeze.dims": _VIEW,
    "aten.squeeze_copy.dims": _VIEW,
    # <<< shape
    # >>> spatial: conv 1d/3d and transposed, pooling 1d/3d, grid_sample, col2im
    "aten.avg_pool3d.default": Rule("aten.avg_pool3d", attrs=_spatial.AVG_POOL3D_ATTRS,
                                    check=_spatial.check_rank(4, 5)),
    "aten.max_pool3d_with_indices.default": Rule(
        "aten.max_pool3d_with_indices", attrs=_spatial.MAX_POOL3D_ATTRS,
        check=_spatial.check_rank(4, 5)),
    "aten._adaptive_avg_pool3d.default": Rule(
        "aten.adaptive_avg_pool3d", attrs=(("output_size", "ints", _spatial.output_size(3)),),
        check=_spatial.check_rank(4, 5)),
    "aten.adaptive_avg_pool3d.default": Rule(
        "aten.adaptive_avg_pool3d", attrs=(("output_size", "ints", _spatial.output_size(3)),),
        check=_spatial.check_rank(4, 5)),
    "aten.adaptive_max_pool2d.default": Rule(
        "aten.adaptive_max_pool2d", attrs=(("output_size", "ints", _spatial.output_size(2)),),
        check=_spatial.check_rank(3, 4)),
    "aten.adaptive_max_pool3d.default": Rule(
        "aten.adaptive_max_pool3d", attrs=(("output_size", "ints", _spatial.output_size(3)),),
        check=_spatial.check_rank(4, 5)),
    "aten.grid_sampler_2d.default": Rule("aten.grid_sampler_2d", ("input", "grid"),
                                         _spatial.GRID_SAMPLER_ATTRS),
    "aten.grid_sampler_3d.default": Rule("aten.grid_sampler_3d", ("input", "grid"),
                                         _spatial.GRID_SAMPLER_ATTRS),
    "aten.col2im.default": Rule("aten.col2im", attrs=_spatial.COL2IM_ATTRS,
                                check=_spatial.check_rank(2, 3)),
    **{"aten.%s.%s" % (packet, overload): Rule(
        op, ("input" if overload == "vec" else "self",), _spatial.upsample_attrs(nsp),
        check=_spatial.check_rank(nsp + 2))
       for packet, (op, nsp) in _spatial.UPSAMPLE.items() for overload in ("vec", "default")},
    # <<< spatial
}

# Multi-output splits become one aten.slice (aten.select for unbind) per live output; see
# _Converter.map_split. target -> function(call) giving (dim, [(start, end), ...]).
SPLITS = {
    "aten.split.Tensor": lambda c: _split_ranges(c, "split_size"),
    "aten.split_copy.Tensor": lambda c: _split_ranges(c, "split_size"),
    "aten.split_with_sizes.default": lambda c: _split_ranges(c, "split_sizes"),
    "aten.split_with_sizes_copy.default": lambda c: _split_ranges(c, "split_sizes"),
    "aten.unbind.int": lambda c: _split_ranges(c, None),
    "aten.unbind_copy.int": lambda c: _split_ranges(c, None),
}


def _split_ranges(call, size_arg):
    dim = _dim(call.arg("dim"), call.rank("self"))
    size = _self_dims(call)[dim]
    if isinstance(size, Affine):
        call.unsupported("split of dim %d, whose size %s is symbolic" % (dim, size))
    if size_arg is None:                      # unbind: one select per index
        return dim, [(i, None) for i in range(size)]
    sizes = call.arg(size_arg)
    if isinstance(sizes, int):
        if sizes <= 0:
            call.unsupported("split_size=%d" % sizes)
        sizes = [min(sizes, size - s) for s in range(0, size, sizes)] or [0]
    ranges, start = [], 0
    for n in sizes:
        ranges.append((start, start + int(n)))
        start += int(n)
    if start != size:
        call.unsupported("split sizes %s do not add up to %d" % (list(sizes), size))
    return dim, ranges


# ---- diagnostics ----

_TORCH_FRAME = re.compile(r"[/\\](torch|functorch|torchao)[/\\]")


def _user_frame(stack_trace):
    """'file:line in func: code' of the innermost frame outside torch, or None."""
    if not stack_trace:
        return None
    lines = stack_trace.splitlines()
    for i in reversed(range(len(lines))):   # the trace lists the outermost call first
        m = re.match(r'\s*File "([^"]+)", line (\d+), in (\S+)', lines[i])
        if m and not _TORCH_FRAME.search(m.group(1)):
            code = lines[i + 1].strip() if i + 1 < len(lines) else ""
            where = "%s:%s in %s" % (m.group(1), m.group(2), m.group(3))
            return "%s: %s" % (where, code) if code else where
    return None


def _module_path(node):
    """'path (Type)' of the innermost module torch.export recorded for the node, else None."""
    stack = node.meta.get("nn_module_stack")
    if not stack:
        return None
    path, type_ = list(stack.values())[-1]
    type_name = type_.__name__ if isinstance(type_, type) else str(type_).rsplit(".", 1)[-1]
    path = re.sub(r"^L\['self'\]\.?|^L__self___?", "", str(path)) or "<root>"
    return "%s (%s)" % (path, type_name.strip("'>"))


def node_origin(node: torch.fx.Node) -> str:
    parts = []
    module = node.meta.get("xnnd_module") or _module_path(node)
    if module:
        parts.append("module " + module)
    frame = _user_frame(node.stack_trace or node.meta.get("stack_trace"))
    if frame:
        parts.append(frame)
    return "; ".join(parts)


def unsupported_message(node: torch.fx.Node, target: str, reason: str | None = None) -> str:
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


def _dtype_message(dtype, node, what="tensor"):
    """The refusal of a dtype the IR lacks (float64, complex, bfloat16, ...), naming the node
    and where it comes from."""
    origin = node_origin(node)
    target = (" (%s)" % node.target) if node.op == "call_function" else ""
    hint = ""
    if dtype in (torch.float64, np.float64):
        hint = "; xnnd has no float64: compute in float32 (e.g. model.float(), no .double())"
    elif (dtype.is_complex if isinstance(dtype, torch.dtype) else np.dtype(dtype).kind == "c"):
        hint = "; xnnd has no complex dtypes"
    return "unsupported dtype %s: %s at node '%s'%s%s%s; the IR has %s" % (
        str(dtype).replace("torch.", ""), what, node.name, target,
        (" (from %s)" % origin) if origin else "", hint,
        ", ".join(ir for ir, _ in DTYPES.values()))


def _ir_dtype(torch_dtype, node):
    entry = DTYPES.get(str(torch_dtype))
    if entry is None:
        raise ExportError(_dtype_message(torch_dtype, node))
    return entry


def _meta_dtypes(node):
    """torch dtypes of the tensors an fx node produces (from tensor_meta / val)."""
    metas = node.meta.get("tensor_meta")
    if metas is None:
        val = node.meta.get("val")
        vals = val if isinstance(val, (tuple, list)) else [val]
        return [v.dtype for v in vals if isinstance(v, torch.Tensor)]
    metas = [metas] if isinstance(metas, TensorMetadata) else list(metas)
    return [m.dtype for m in metas if m is not None]


def _fetch_attr(gm, target):
    obj = gm
    for part in target.split("."):
        obj = getattr(obj, part)
    return obj


def _live_nodes(graph, constant=lambda n: False):
    """Nodes the graph output reaches. A node for which constant(n) holds (folded to a
    constant) is live but needs none of its inputs: torch.empty under a folded full_like."""
    live = set()
    stack = [n for n in graph.nodes if n.op == "output"]
    while stack:
        n = stack.pop()
        if n in live:
            continue
        live.add(n)
        if not constant(n):
            stack.extend(n.all_input_nodes)
    return live


# ---- export-time constant folding ----

# Ops never folded: their values are random or uninitialized.
_NONDETERMINISTIC = re.compile(r"rand|bernoulli|normal|uniform|empty|dropout|multinomial|poisson")
# Ops whose result depends only on a tensor argument's shape and dtype.
_SHAPE_ONLY = {"aten.new_zeros.default", "aten.new_ones.default", "aten.new_full.default",
               "aten.zeros_like.default", "aten.ones_like.default", "aten.full_like.default",
               "aten.fill.Scalar"}
# Ops whose values are unspecified (torch.empty): folded to zeros, a valid choice, so that
# empty + fill_/copy_ (what functionalization leaves of `torch.empty(...).fill_(v)`) folds or
# maps to a plain copy instead of failing on empty.
_UNINITIALIZED = {"aten.empty.memory_format", "aten.empty.default", "aten.empty_strided.default",
                  "aten.empty_permuted.default", "aten.empty_like.default",
                  "aten.new_empty.default", "aten.new_empty_strided.default"}
# Folded nodes still emitted as IR ops (on constant inputs): passes look for these patterns.
_KEEP_AS_IR = {"aten.t.default", "aten.t_copy.default"}


def _fold_constants(gm):
    """fx node -> torch value for every node computable at export time."""
    folded = {}
    param_storage = set()   # parameters and buffers are never mutated here
    for node in gm.graph.nodes:
        if node.op == "get_attr":
            t = _fetch_attr(gm, node.target)
            if isinstance(t, torch.Tensor):
                folded[node] = t.detach()
                param_storage.add(t.untyped_storage().data_ptr())
            continue
        if node.op != "call_function":
            continue
        if node.target is operator.getitem:
            parent, index = node.args
            if parent in folded and isinstance(folded[parent], (tuple, list)):
                folded[node] = folded[parent][index]
            continue
        target = str(node.target)
        schema = getattr(node.target, "_schema", None)
        meta = node.meta.get("tensor_meta")
        if isinstance(meta, TensorMetadata) and not all(type(d) is int for d in meta.shape):
            continue   # symbolic shape: not a constant
        if target in _UNINITIALIZED and isinstance(meta, TensorMetadata):
            folded[node] = torch.zeros(meta.shape, dtype=meta.dtype)
            continue
        if schema is None or _NONDETERMINISTIC.search(target):
            continue
        shape_only = target in _SHAPE_ONLY
        inputs = node.all_input_nodes
        if not shape_only and any(n not in folded for n in inputs):
            continue

        def arg_value(n):
            if n in folded:
                return folded[n]
            meta = n.meta.get("tensor_meta")   # shape-only ops: a stand-in of the right shape
            if meta is None:
                raise KeyError(n)
            return torch.zeros(meta.shape, dtype=meta.dtype)

        if schema.is_mutable:   # an in-place op on (a view of) a parameter works on a copy
            for n in inputs:
                v = folded.get(n)
                if isinstance(v, torch.Tensor) and v.untyped_storage().data_ptr() in param_storage:
                    folded[n] = v.clone()
        try:
            args = pytree.tree_map(lambda a: arg_value(a) if isinstance(a, torch.fx.Node) else a,
                                   node.args)
            kwargs = pytree.tree_map(lambda a: arg_value(a) if isinstance(a, torch.fx.Node) else a,
                                     node.kwargs)
            with torch.no_grad():
                value = node.target(*args, **kwargs)
        except Exception:   # left to the mapping, which names the op if it is unsupported
            continue
        folded[node] = value
    return folded


class _Env(dict):
    """fx node -> Value (or list of Values); folded nodes become constants on first use."""

    def __init__(self, converter):
        super().__init__()
        self.converter = converter

    def __missing__(self, node):
        value = self.converter.folded.get(node)
        if not isinstance(value, torch.Tensor):
            raise KeyError(node)
        v = self.converter.const(node.name, value.detach().cpu().contiguous().numpy(), node)
        self[node] = v
        return v


class _Converter:
    def __init__(self, gm, name):
        self.gm = gm
        self.graph = Graph(_NAME_RE.sub("_", name) or "model")
        self.names = _Names(_NAME_RE.sub("_", n.name) for n in gm.graph.nodes)
        self.env = _Env(self)  # fx node -> Value, or list of Values for multi-output nodes
        self.consts = {}       # (dtype, shape, bytes) -> Value
        self.folded = _fold_constants(gm)
        self.symbols = SymbolTable(gm)
        self.env.symbols = self.symbols
        self.graph.symbols = self.symbols.symbols

    def const(self, name, array, node):
        array = np.array(array, order="C", copy=False)  # ascontiguousarray would make 0-d 1-d
        ir_dtype = None
        for ir, np_dtype in DTYPES.values():
            if array.dtype == np_dtype:
                ir_dtype = ir
        if ir_dtype is None:
            raise ExportError(_dtype_message(array.dtype, node, "constant"))
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

    def check_dtypes(self):
        """Refuses a float64/complex/... tensor that would reach the IR (an input or a live,
        not folded node of a mapped op) before any op is mapped, so the user hears about the
        dtype, naming the node, not about a later op the value reaches. An op with no rule is
        left to map_call's "unsupported op" (fft: complex by nature)."""
        for node in self.gm.graph.nodes:
            if node.op == "placeholder" or (
                    node.op == "call_function" and node in self.live
                    and (str(node.target) in RULES or str(node.target) in SPLITS)
                    and (node not in self.folded or self.keep_as_ir(node))):
                for dtype in _meta_dtypes(node):
                    if str(dtype) not in DTYPES:
                        raise ExportError(_dtype_message(dtype, node))

    def run(self):
        live = self.live = _live_nodes(
            self.gm.graph, lambda n: n in self.folded and not self.keep_as_ir(n))
        self.check_dtypes()
        if self.symbols.symbols:
            for node in self.gm.graph.nodes:
                if node in live or node.op == "placeholder":
                    self.symbols.convert_meta(node)
        for node in self.gm.graph.nodes:
            if self.symbols.symbols and node.op == "call_function" and _is_size_node(node):
                continue    # size arithmetic: users read it as a form (SymbolTable.resolve)
            if node.op == "placeholder":
                meta = node.meta["tensor_meta"]
                v = self.tensor_value(node, meta, node.name, True)
                v.kind = "input"
                self.env[node] = v
                self.graph.inputs.append(v)
            elif node not in live:
                continue
            elif node.op == "get_attr":
                if not isinstance(_fetch_attr(self.gm, node.target), torch.Tensor):
                    raise ExportError("get_attr %s at node '%s' is not a tensor"
                                      % (node.target, node.name))
                # a constant on first use (self.env), so one only folded away is never stored
            elif node in self.folded and not self.keep_as_ir(node):
                pass    # a constant on first use
            elif node.op == "call_function" and node.target is operator.getitem:
                parent, index = node.args
                self.env[node] = self.env[parent][index]
            elif node.op == "call_function":
                try:
                    self.map_call(node)
                except SymbolicDimError as e:   # a rule computed with a symbolic size
                    raise UnsupportedOpError(unsupported_message(
                        node, str(node.target), "%s; xnnd supports this op only with static "
                        "sizes there" % e), str(node.target), node.name) from e
            elif node.op == "output":
                self.map_output(node)
            else:
                raise UnsupportedOpError(
                    unsupported_message(node, "%s %s" % (node.op, node.target)),
                    str(node.target), node.name)
        return self.graph

    def keep_as_ir(self, node):
        target = str(node.target)
        if target in _KEEP_AS_IR:
            return True
        rule = RULES.get(target)
        return rule is not None and rule.op is None   # detach/alias of a parameter: forwarded

    def input_value(self, call, spec, out_dtype):
        name = spec.rstrip("?#*")
        arg = call.arg(name)
        if spec.endswith("*?"):
            return [None if a is None else self.env[a] for a in arg]
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
            try:   # astype wraps integers (u8 + 300 adds 44) and truncates floats as torch does
                value = np.asarray(arg).astype(np_dtype)
            except OverflowError:
                call.unsupported("scalar %s=%r does not fit %s" % (name, arg, out_dtype))
            return self.const("%s_%s" % (call.node.name, name), value, call.node)
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
        if isinstance(value, Affine) and kind in ("dim", "int", "float", "bool"):
            call.unsupported("attribute %s would be the symbolic size %s, but %s's %s is a "
                             "static int" % (name, value, self.rule_op, name))
        if kind == "dim":
            return Attr(name, "int", _dim(value, call.out_rank))
        if kind == "int":
            return Attr(name, "int", int(value))
        if kind == "float":
            return Attr(name, "float", float(value))
        if kind == "bool":
            return Attr(name, "bool", bool(value))
        if kind == "ints":
            return Attr(name, "ints", [v if isinstance(v, Affine) else int(v) for v in value])
        raise AssertionError("bad attribute kind %r" % kind)

    def map_call(self, node):
        target = str(node.target)
        if target in SPLITS and hasattr(node.target, "_schema"):
            return self.map_split(node, target)
        if target in rules_index.DYNAMIC_SHAPE_OPS:
            raise UnsupportedOpError(unsupported_message(
                node, target, rules_index.DYNAMIC_SHAPE_OPS[target]), target, node.name)
        rule = RULES.get(target)
        if rule is None or not hasattr(node.target, "_schema"):
            reason = _spatial.REFUSED.get(target)
            meta = node.meta.get("tensor_meta")
            if reason is None and always_folded(target) and isinstance(meta, TensorMetadata) \
                    and any(isinstance(d, Affine) for d in meta.shape):
                reason = ("it creates a tensor of symbolic shape %s; xnnd folds creation ops "
                          "to constants, which needs a static shape"
                          % ("[%s]" % ",".join(str(d) for d in meta.shape)))
            raise UnsupportedOpError(unsupported_message(node, target, reason), target, node.name)
        call = Call(node, self.env, target)
        if rule.dispatch:
            rule = rule.dispatch(call)
        self.rule_op = rule.op
        if rule.check:
            rule.check(call)
        if rule.op is None or (rule.identity and rule.identity(call)):
            self.env[node] = self.input_value(call, rule.inputs[0], None)
            return
        metas = call.out_metas
        multi = len(metas) > 1
        if rule.num_outputs is not None:
            for u in node.users:
                if u.target is operator.getitem and u.args[1] >= rule.num_outputs \
                        and u in self.live:
                    call.unsupported("output %d is read; xnnd computes only the first %d"
                                     % (u.args[1], rule.num_outputs))
            metas = metas[:rule.num_outputs]
        if any(m is None for m in metas):
            raise ExportError("no shape metadata for node '%s'" % node.name)
        out_dtype, _ = _ir_dtype(metas[0].dtype, node)
        scalar_dtype = (_ir_dtype(rule.scalar_dtype(call), node)[0] if rule.scalar_dtype
                        else out_dtype)
        inputs = []
        for spec in rule.inputs:
            v = self.input_value(call, spec, scalar_dtype)
            inputs.extend(v if isinstance(v, list) else [v])
        attrs = [self.attr(call, spec) for spec in rule.attrs]
        if not multi:
            outputs = [self.tensor_value(node, metas[0], node.name, True)]
            self.env[node] = outputs[0]
        else:
            getitems = {u.args[1]: u for u in node.users if u.target is operator.getitem}
            outputs = []
            for k, meta in enumerate(metas):
                if k in getitems:
                    outputs.append(self.tensor_value(node, meta, getitems[k].name, True))
                else:
                    outputs.append(self.tensor_value(node, meta, "%s_out%d" % (node.name, k),
                                                     False))
            self.env[node] = outputs
        outputs = list(outputs)
        for suffix, get in rule.extra_outputs:
            dtype, shape = get(call)
            outputs.append(Value(self.names.take("%s_%s" % (node.name, suffix)), dtype, shape,
                                 "node"))
        self.graph.nodes.append(Node(rule.op, inputs, outputs, attrs, node.name))

    def map_split(self, node, target):
        """split / split_with_sizes / unbind: one aten.slice (unbind: aten.select) per output
        that something reads, so the IR needs no variadic-output op."""
        call = Call(node, self.env, target)
        dim, ranges = SPLITS[target](call)
        src = self.env[call.arg("self")]
        getitems = {u.args[1]: u for u in node.users if u.target is operator.getitem}
        outputs = [None] * len(ranges)
        for k, (start, end) in enumerate(ranges):
            user = getitems.get(k)
            if user is None or user not in self.live:
                continue
            meta = call.out_metas[k]
            if end is not None and (start, end) == (0, src.shape[dim]):
                outputs[k] = src
                continue
            out = self.tensor_value(node, meta, user.name, True)
            if end is None:
                attrs = [Attr("dim", "int", dim), Attr("index", "int", start)]
                op = "aten.select"
            else:
                attrs = [Attr("dim", "int", dim), Attr("start", "int", start),
                         Attr("end", "int", end), Attr("step", "int", 1)]
                op = "aten.slice"
            self.graph.nodes.append(Node(op, [src], [out], attrs, node.name))
            outputs[k] = out
        self.env[node] = outputs

    def map_output(self, node):
        flat, _ = pytree.tree_flatten(node.args[0])
        for i, item in enumerate(flat):
            if not isinstance(item, torch.fx.Node):
                raise ExportError("model output %d is a %s, not a tensor"
                                  % (i, type(item).__name__))
            if _is_size_node(item) or item.op == "placeholder" and item not in self.env:
                raise ExportError("model output %d is a size, not a tensor" % i)
            v = self.env[item]
            if v.kind != "node":
                # A program output must be produced by a node: copy inputs and constants.
                out = Value(self.names.take("output_%d" % i), v.dtype, v.shape, "node")
                self.graph.nodes.append(Node("aten.clone", [v], [out], [], node.name))
                v = out
            self.graph.outputs.append(v)


# Size arithmetic torch.export leaves in a dynamic graph; their values are symbolic ints.
_SIZE_TARGETS = {"aten.sym_size.int", "aten.sym_numel.default", "aten.sym_stride.int",
                 "aten.sym_storage_offset.default"}
_ASSERT_TARGETS = {"aten._assert_scalar.default", "aten.sym_constrain_range.default",
                   "aten.sym_constrain_range_for_size.default", "aten._assert_async.msg",
                   "aten._assert_async.default"}


def _is_size_node(node: torch.fx.Node) -> bool:
    """A node that computes a size or asserts on sizes, not a tensor: sym_size, operator.mul /
    add / floordiv on SymInts, _assert_scalar, sym_constrain_range*."""
    target = str(node.target)
    if target in _SIZE_TARGETS or target in _ASSERT_TARGETS:
        return True
    if hasattr(node.target, "_schema") or node.target is operator.getitem:
        return False   # an aten op (item() gives a SymFloat too: refused by map_call)
    val = node.meta.get("val")
    return isinstance(val, (torch.SymInt, torch.SymFloat, torch.SymBool, int, float, bool))


class SymbolTable:
    """The symbols of a dynamic GraphModule (trace.to_graph_module) and the translation of its
    symbolic sizes into affine forms. Static graph: no symbols, every size an int.

    Symbols are named s0, s1, ... in order of first appearance in the inputs' dims (dims in
    order, several symbols of one dim by torch's name), each with its range from the
    ExportedProgram's range_constraints. ExportError when a symbol's range has no upper bound,
    there are more than MAX_SYMBOLS, a symbol appears in no input dim by itself (the runtime
    solves each symbol from an input dim `k*s+c`), or a size is not affine."""

    def __init__(self, gm: torch.fx.GraphModule) -> None:
        import sympy

        self.symbols: list[Symbol] = []
        self.by_sympy: dict[Any, Symbol] = {}
        self.shape_env = None
        ranges = getattr(gm, "meta", {}).get("xnnd_range_constraints") or {}
        solvable: set[Any] = set()
        for node in gm.graph.nodes:
            if node.op != "placeholder":
                continue
            val = node.meta.get("val")
            if not isinstance(val, torch.Tensor):
                continue
            for d in val.shape:
                if not isinstance(d, torch.SymInt):
                    continue
                expr = self._expr(d)
                free = sorted(expr.free_symbols, key=str)
                for sym in free:
                    if sym not in self.by_sympy:
                        self._add(sym, ranges, node)
                if len(free) == 1:
                    solvable.add(free[0])
        for sym, symbol in self.by_sympy.items():
            if sym not in solvable:
                raise ExportError("dynamic size %s appears in no input dim by itself; xnnd solves "
                                  "each size from an input dim of the form k*%s+c"
                                  % (symbol.name, symbol.name))
        self._sympy = sympy

    def _expr(self, d: Any) -> Any:
        node = d.node
        self.shape_env = self.shape_env or node.shape_env
        expr = node.expr
        if self.shape_env is not None:
            expr = self.shape_env.replace(expr)
        return expr

    def _add(self, sym: Any, ranges: dict, node: torch.fx.Node) -> None:
        vr = ranges.get(sym)
        if vr is None and self.shape_env is not None:
            vr = self.shape_env.var_to_range.get(sym)
        lo, hi = (vr.lower, vr.upper) if vr is not None else (0, None)
        # A derived dim's root (32*h) is reported from 2 up (torch.export assumes a symbol is
        # not 0 or 1 while tracing) while the derived dim's own range, which the program is
        # valid for, starts at its MIN (32*h: 32..256 means h from 1).
        for expr, dvr in ranges.items():
            if getattr(expr, "free_symbols", None) != {sym} or expr == sym:
                continue
            coeff, const = expr.as_independent(sym, as_Add=True)[1].as_coeff_Mul()[0], \
                expr.as_independent(sym, as_Add=True)[0]
            if expr != coeff * sym + const or not coeff.is_Integer or int(coeff) <= 0 \
                    or not const.is_Integer or not getattr(dvr.lower, "is_Integer", False):
                continue
            k, c = int(coeff), int(const)
            lo = min(int(lo), max(0, -(-(int(dvr.lower) - c) // k)))
        if hi is None or not getattr(hi, "is_finite", True) or str(hi) in ("int_oo", "oo"):
            raise ExportError("input '%s' has a dynamic dim (%s) without an upper bound; give "
                              "each dynamic dim a max (--dynamic I:D=MIN..MAX or "
                              "Dim(name, min=..., max=...))" % (node.name, sym))
        if len(self.symbols) == MAX_SYMBOLS:
            raise ExportError("the model has more than %d dynamic sizes (%s and more); xnnd "
                              "supports at most %d symbols per program"
                              % (MAX_SYMBOLS, ", ".join(str(s) for s in self.by_sympy),
                                 MAX_SYMBOLS))
        symbol = Symbol("s%d" % len(self.symbols), max(int(lo), 0), int(hi), len(self.symbols))
        self.symbols.append(symbol)
        self.by_sympy[sym] = symbol

    def _readable(self, expr: Any) -> str:
        """expr with xnnd's symbol names (s0, ...) instead of torch's."""
        try:
            return str(expr.subs({k: self._sympy.Symbol(v.name) for k, v in
                                  self.by_sympy.items()}))
        except Exception:   # a sympy function that cannot substitute: torch's names
            return str(expr)

    def dim(self, d: Any, node: torch.fx.Node, what: str) -> Any:
        """int or Affine of a size: int, SymInt or sympy expression. ExportError naming node
        and `what` when it is not affine with coefficients >= 0 in the symbols."""
        if isinstance(d, (int, Affine)) and not isinstance(d, bool):
            return d
        if isinstance(d, torch.SymInt):
            expr = self._expr(d)
        else:
            expr = d
        import sympy
        expr = sympy.expand(expr)
        if expr.is_number:
            return int(expr)
        c, terms, ok = 0, [], True
        for term in sympy.Add.make_args(expr):
            coeff, rest = term.as_coeff_Mul()
            if rest == 1 and coeff.is_Integer:
                c += int(coeff)
            elif coeff.is_Integer and rest in self.by_sympy and int(coeff) > 0:
                terms.append((self.by_sympy[rest], int(coeff)))
            else:
                ok = False
        if not ok:
            origin = node_origin(node)
            unknown = [str(x) for x in expr.free_symbols if x not in self.by_sympy]
            if unknown:
                why = ("which depends on %s, a size no input determines (data-dependent)"
                       % ", ".join(sorted(unknown)))
            else:
                why = ("which is not affine in the dynamic sizes (c + k*s with k >= 0), so xnnd "
                       "cannot represent it; make a dynamic image size a multiple of the network's "
                       "total stride so the sizes stay whole, e.g. --dynamic 0:2=160..256:32 "
                       "(dynamic_shapes: 32*Dim('h', min=5, max=8))")
            raise ExportError("node '%s' (%s)%s: %s has size %s, %s"
                              % (node.name, node.target, " (from %s)" % origin if origin else "",
                                 what, self._readable(expr), why))
        return affine(c, terms)

    def shape(self, shape: Any, node: torch.fx.Node) -> Any:
        # a tuple of ints and forms where torch had a Size: every reader only iterates it
        return tuple(self.dim(d, node, "output dim %d" % k) for k, d in enumerate(shape))

    def convert_meta(self, node: torch.fx.Node) -> None:
        """node.meta['tensor_meta'] with every dim an int or Affine (in place; idempotent)."""
        metas = node.meta.get("tensor_meta")
        if isinstance(metas, TensorMetadata):
            node.meta["tensor_meta"] = metas._replace(shape=self.shape(metas.shape, node))
        elif isinstance(metas, tuple):
            node.meta["tensor_meta"] = tuple(
                m._replace(shape=self.shape(m.shape, node)) if isinstance(m, TensorMetadata)
                else m for m in metas)

    def resolve(self, arg: Any, node: torch.fx.Node) -> Any:
        """An argument of `node` with size nodes and SymInts replaced by ints / forms (through
        lists and tuples)."""
        if not self.symbols:
            return arg
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.resolve(a, node) for a in arg) if not hasattr(arg, "_fields") \
                else arg
        if isinstance(arg, torch.fx.Node) and _is_size_node(arg):
            val = arg.meta.get("val")
            if isinstance(val, (torch.SymInt, int)) and not isinstance(val, bool):
                return self.dim(val, node, "size argument %s" % arg.name)
            return arg
        if isinstance(arg, torch.SymInt):
            return self.dim(arg, node, "a size argument")
        return arg


def always_folded(target: str) -> bool:
    """True when the exporter folds every call of this aten overload to a constant (so it needs
    no rule): creation ops whose schema takes no tensor (full, arange, scalar_tensor), the
    uninitialized ones (empty*, folded to zeros) and those that read only a tensor's shape and
    dtype (zeros_like, full_like). Non-deterministic ones (rand*) never are."""
    if target in _UNINITIALIZED or target in _SHAPE_ONLY:
        return True
    packet, _, overload = target.rpartition(".")
    if not packet.startswith("aten.") or _NONDETERMINISTIC.search(target):
        return False
    op = getattr(getattr(torch.ops.aten, packet[5:], None), overload, None)
    if op is None or op._schema.is_mutable:
        return False
    schema = op._schema
    tensor_like = ("Tensor", "Tensor?", "Tensor[]", "Tensor?[]")
    return not any(str(a.type) in tensor_like for a in schema.arguments) \
        and all(str(r.type) == "Tensor" for r in schema.returns) and bool(schema.returns)


def convert(gm: torch.fx.GraphModule, name: str) -> Graph:
    """IR Graph of a traced GraphModule (trace.trace). Raises UnsupportedOpError (exit code 2)
    for a live aten op with no RULES entry."""
    return _Converter(gm, name).run()


def unsupported_ops(gm: torch.fx.GraphModule) -> list[str]:
    """Sorted aten targets of live nodes with no mapping (and not folded to constants): []
    means convert() will not refuse any op for lack of a table entry."""
    missing = set()
    folded = _fold_constants(gm)
    live = _live_nodes(gm.graph, lambda n: n in folded)
    for node in gm.graph.nodes:
        if node in folded:
            continue
        if node in live and node.op == "call_function" and node.target is not operator.getitem:
            if str(node.target) not in RULES and str(node.target) not in SPLITS:
                missing.add(str(node.target))
    return sorted(missing)
