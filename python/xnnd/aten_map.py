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
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable, NoReturn, Sequence, TypeAlias

import numpy as np
import torch
import torch.utils._pytree as pytree
from torch.fx.passes.shape_prop import TensorMetadata

from . import rules_spatial as _spatial
from .errors import ExportError, UnsupportedOpError
from .ir_text import DTYPES, Attr, Graph, Node, Value


# (ir_name, kind) or (ir_name, kind, getter(call)): see Rule.
AttrSpec: TypeAlias = "tuple[str, str] | tuple[str, str, Callable[[Call], Any]]"


class Rule:
    """How one aten overload maps to IR.

    op      IR op name; None forwards the (first) input unchanged (detach, alias, ...).
    inputs  aten argument names in IR input order. Suffix '?' = optional (absent -> `_`),
            '#' = tensor or Python scalar (scalar -> rank-0 constant), '*' = list of tensors.
    attrs   (ir_name, kind[, getter]) in IR schema order. kind: 'int', 'float', 'bool', 'ints',
            'pair' (printed as ints, always 2), 'dim' (int, made non-negative), 'dims' (ints,
            made non-negative), any kind + '?' may be none. getter(call) defaults to the aten
            argument of the same name.
    check   optional check(call) that raises via call.unsupported(reason).
    identity  optional identity(call): True when this call is a no-op (a slice over the whole
            dim); the input is forwarded and no node is emitted."""

    def __init__(self, op: str | None, inputs: Sequence[str] = ("self",),
                 attrs: Sequence[AttrSpec] = (), check: Callable[[Call], None] | None = None,
                 identity: Callable[[Call], bool] | None = None) -> None:
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.check = check
        self.identity = identity


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


def _no_rounding_mode(call):
    if call.args.get("rounding_mode") is not None:
        call.unsupported("rounding_mode=%r" % call.args["rounding_mode"])


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
    start = 0 if start is None else int(start)
    end = size if end is None else int(end)
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = min(max(start, 0), size)
    end = min(max(end, start), size)
    return start, end


def _slice_check(call):
    if int(call.arg("step")) < 1:
        call.unsupported("step=%s" % call.arg("step"))


def _slice_is_identity(call):
    start, end = _slice_bounds(call)
    return (start, end) == (0, _self_dims(call)[_slice_dim(call)]) and int(call.arg("step")) == 1


def _select_index(call):
    index = int(call.arg("index"))
    return index + _self_dims(call)[_slice_dim(call)] if index < 0 else index


def _contiguous_strides(shape):
    strides, k = [], 1
    for n in reversed(list(shape)):
        strides.append(k)
        k *= int(n)
    return list(reversed(strides))


def _as_strided_is_view(call):
    """as_strided that reads the input's elements in row-major order, i.e. a view. PyTorch
    emits one for adaptive_avg_pool2d to 1x1 of a channels-last-looking tensor; any other
    stride pattern reorders elements and is refused."""
    size, stride = [int(n) for n in call.arg("size")], [int(n) for n in call.arg("stride")]
    offset = call.arg("storage_offset") or 0
    src = call.arg("self")
    meta = src.meta.get("tensor_meta") if isinstance(src, torch.fx.Node) else None

    def row_major(shape, strides):
        want = _contiguous_strides(shape)
        # want has len(shape) entries; torch refuses as_strided sizes and strides of unequal
        # lengths, and a tensor's shape and stride have the same length
        return all(n == 1 or s == w for n, s, w in zip(shape, strides, want, strict=True))
    if offset != 0 or meta is None or int(np.prod(size)) != int(np.prod(meta.shape)) \
            or not row_major(size, stride) or not row_major(meta.shape, meta.stride):
        call.unsupported("as_strided(size=%s, stride=%s, storage_offset=%s) is not a view of a "
                         "contiguous tensor" % (size, stride, offset))


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


def _pad_check(call):
    if len(call.arg("pad")) > 8:
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
_NEAREST_ATTRS = (("output_size", "ints", _resize_size), ("scales_h", "float?", _resize_scale(0)),
                  ("scales_w", "float?", _resize_scale(1)))
_BILINEAR_ATTRS = (("output_size", "ints", _resize_size), ("align_corners", "bool"),
                   ("scales_h", "float?", _resize_scale(0)),
                   ("scales_w", "float?", _resize_scale(1)))

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
    "aten.as_strided.default": Rule("aten.view", attrs=(("size", "ints", _view_size),),
                                    check=_as_strided_is_view),
    "aten.as_strided_copy.default": Rule("aten.view", attrs=(("size", "ints", _view_size),),
                                         check=_as_strided_is_view),
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
    "aten.cat.default": Rule("aten.cat", ("tensors*",), (("dim", "dim"),)),
    "aten.slice.Tensor": _SLICE,
    "aten.slice_copy.Tensor": _SLICE,
    "aten.select.int": _SELECT,
    "aten.select_copy.int": _SELECT,
    "aten.expand.default": _EXPAND,
    "aten.expand_copy.default": _EXPAND,
    "aten.constant_pad_nd.default": Rule("aten.constant_pad_nd",
                                         attrs=(("pad", "ints"), ("value", "float", _pad_value)),
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
    # <<< math
    # >>> binary: binary arithmetic, comparisons, logical/bitwise binary, where, clamp.Tensor
    # <<< binary
    # >>> reduce: reductions, scans, sort/topk, group norm, distances
    # <<< reduce
    # >>> index: gathers and scatters: index_select, gather, index, embedding, scatter, index_put, *_scatter
    # <<< index
    # >>> shape: shape and layout ops: flip, repeat, pads, squeeze/unsqueeze, arange, empty, diagonal, as_strided
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


def _ir_dtype(torch_dtype, node):
    entry = DTYPES.get(str(torch_dtype))
    if entry is None:
        raise ExportError("unsupported dtype %s at node '%s'%s" % (
            torch_dtype, node.name,
            (" (from %s)" % node_origin(node)) if node_origin(node) else ""))
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


# ---- export-time constant folding ----

# Ops never folded: their values are random or uninitialized.
_NONDETERMINISTIC = re.compile(r"rand|bernoulli|normal|uniform|empty|dropout|multinomial|poisson")
# Ops whose result depends only on a tensor argument's shape and dtype.
_SHAPE_ONLY = {"aten.new_zeros.default", "aten.new_ones.default", "aten.new_full.default",
               "aten.zeros_like.default", "aten.ones_like.default", "aten.full_like.default"}
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

    def const(self, name, array, node):
        array = np.array(array, order="C", copy=False)  # ascontiguousarray would make 0-d 1-d
        ir_dtype = None
        for ir, np_dtype in DTYPES.values():
            if array.dtype == np_dtype:
                ir_dtype = ir
        if ir_dtype is None:
            raise ExportError("unsupported constant dtype %s at node '%s'"
                              % (array.dtype, node.name))
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
        live = self.live = _live_nodes(self.gm.graph)
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
                self.map_call(node)
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
        if target in SPLITS and hasattr(node.target, "_schema"):
            return self.map_split(node, target)
        rule = RULES.get(target)
        if rule is None or not hasattr(node.target, "_schema"):
            raise UnsupportedOpError(unsupported_message(node, target,
                                                         _spatial.REFUSED.get(target)),
                                     target, node.name)
        call = Call(node, self.env, target)
        if rule.check:
            rule.check(call)
        if rule.op is None or (rule.identity and rule.identity(call)):
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
                    outputs.append(self.tensor_value(node, meta, "%s_out%d" % (node.name, k),
                                                     False))
            self.env[node] = outputs
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
            v = self.env[item]
            if v.kind != "node":
                # A program output must be produced by a node: copy inputs and constants.
                out = Value(self.names.take("output_%d" % i), v.dtype, v.shape, "node")
                self.graph.nodes.append(Node("aten.clone", [v], [out], [], node.name))
                v = out
            self.graph.outputs.append(v)


def convert(gm: torch.fx.GraphModule, name: str) -> Graph:
    """IR Graph of a traced GraphModule (trace.trace). Raises UnsupportedOpError (exit code 2)
    for a live aten op with no RULES entry."""
    return _Converter(gm, name).run()


def unsupported_ops(gm: torch.fx.GraphModule) -> list[str]:
    """Sorted aten targets of live nodes with no mapping (and not folded to constants): []
    means convert() will not refuse any op for lack of a table entry."""
    missing = set()
    live = _live_nodes(gm.graph)
    folded = _fold_constants(gm)
    for node in gm.graph.nodes:
        if node in folded:
            continue
        if node in live and node.op == "call_function" and node.target is not operator.getitem:
            if str(node.target) not in RULES and str(node.target) not in SPLITS:
                missing.add(str(node.target))
    return sorted(missing)
