"""Helpers of the gather/scatter rules in aten_map.RULES (the `index` family), and the ops the
exporter refuses because their output shape or value depends on the data.

The IR's sizes are static or affine in the input sizes (dynamic shapes): nonzero (and a
boolean-mask index, which torch.export turns into nonzero-shaped aten.index) and
_local_scalar_dense (Tensor.item()) have results whose shape or value is known only from the
data at run time, so they cannot be expressed.
"""

from __future__ import annotations

import torch

# target -> why the exporter refuses it (aten_map._Converter.map_call raises with this reason).
DYNAMIC_SHAPE_OPS = {
    "aten.nonzero.default":
        "its output shape depends on the data; xnnd's sizes are static or follow the input "
        "sizes, so nonzero needs data-dependent shapes, which are not supported",
    "aten._local_scalar_dense.default":
        "Tensor.item() reads a tensor's value into a Python scalar that later shapes or ops "
        "depend on; xnnd's sizes are static or follow the input sizes, so this needs "
        "data-dependent shapes, which are not supported",
}

# scatter_reduce's reduce names -> the IR attribute (docs/ARCHITECTURE.md, index family).
SCATTER_REDUCE = {"sum": 0, "prod": 1, "mean": 2, "amax": 3, "amin": 4}


def _dtype_of(arg):
    if not isinstance(arg, torch.fx.Node):
        return None
    meta = arg.meta.get("tensor_meta")
    if meta is not None:
        return meta.dtype
    val = arg.meta.get("val")
    return getattr(val, "dtype", None)


def check_index_put(call):
    """index_put: integer indexes as index.Tensor, or one boolean mask and nothing else
    (x[mask] = v keeps x's shape: the kernel walks the mask) whose values do not depend on the
    number of true elements."""
    indices = call.arg("indices")
    masks = [k for k, idx in enumerate(indices) if idx is not None
             and _dtype_of(idx) in (torch.bool, torch.uint8)]
    if not masks:
        return check_index_list(call)
    k = masks[0]
    if _dtype_of(indices[k]) != torch.bool:
        call.unsupported("indices[%d] is a uint8 mask; use a bool mask" % k)
    if any(idx is not None for i, idx in enumerate(indices) if i != k):
        call.unsupported("a boolean mask index together with other index tensors")
    values = call.arg("values")
    meta = values.meta.get("tensor_meta") if isinstance(values, torch.fx.Node) else None
    if meta is None or not all(isinstance(d, int) for d in meta.shape):
        call.unsupported("values of x[mask] = values have a data-dependent shape (one per true "
                         "mask element); xnnd's sizes are static or follow the input sizes, so "
                         "this needs data-dependent shapes, which are not supported")


def _shape_of(arg):
    meta = arg.meta.get("tensor_meta") if isinstance(arg, torch.fx.Node) else None
    return None if meta is None else [int(d) for d in meta.shape]


def index_result_shape(self_shape, index_shapes):
    """PyTorch's (eager) shape of self[indices]: the index shapes broadcast to B, which
    replaces the indexed dims when they are adjacent and leads otherwise."""
    present = [k for k, shape in enumerate(index_shapes) if shape is not None]
    b = list(torch.broadcast_shapes(*[torch.Size(index_shapes[k]) for k in present]))
    kept = [d for d in range(len(self_shape))
            if d >= len(index_shapes) or index_shapes[d] is None]
    if present[-1] - present[0] + 1 == len(present):
        return ([self_shape[d] for d in kept if d < present[0]] + b
                + [self_shape[d] for d in kept if d > present[-1]])
    return b + [self_shape[d] for d in kept]


def check_index_list(call):
    """index.Tensor / index_put: every index is an integer tensor (or None). A boolean mask
    selects a data-dependent number of elements: refused with the dynamic-shape reason.
    index.Tensor's recorded shape must be PyTorch's eager one: torch.export's meta function
    gets some mixes of 0-D and higher-rank indexes wrong (x[a, b, c] with c 0-D)."""
    _check_index_dtypes(call)
    if "values" in call.args:       # index_put keeps self's shape
        return
    shapes = [None if idx is None else _shape_of(idx) for idx in call.arg("indices")]
    self_shape = _shape_of(call.arg("self"))
    if self_shape is None or any(s is None for s, i in zip(shapes, call.arg("indices"),
                                                           strict=True) if i is not None):
        return
    want = index_result_shape(self_shape, shapes)
    if want != call.out_shape:
        call.unsupported("torch.export recorded shape %s for this index, but PyTorch computes "
                         "%s (a meta-function bug with 0-D index tensors mixed with others); "
                         "index with 1-element tensors instead" % (call.out_shape, want))


def _check_index_dtypes(call):
    for k, idx in enumerate(call.arg("indices")):
        if idx is None:
            continue
        dtype = _dtype_of(idx)
        if dtype in (torch.bool, torch.uint8):
            call.unsupported(
                "indices[%d] is a boolean mask: x[mask] has a data-dependent shape (torch.export "
                "makes it nonzero-shaped); xnnd's sizes are static or follow the input sizes, so "
                "this needs data-dependent shapes, which are not supported (x.masked_fill / "
                "torch.where keep the shape)"
                % k)
        if dtype not in (torch.int64, torch.int32):
            call.unsupported("indices[%d] has dtype %s, expected int64 or int32" % (k, dtype))


def check_index(call):
    """gather / index_select / scatter: the index operand is an int64 or int32 tensor."""
    dtype = _dtype_of(call.arg("index"))
    if dtype not in (torch.int64, torch.int32):
        call.unsupported("index has dtype %s, expected int64 or int32" % dtype)


def check_embedding(call):
    dtype = _dtype_of(call.arg("indices"))
    if dtype not in (torch.int64, torch.int32):
        call.unsupported("indices have dtype %s, expected int64 or int32" % dtype)
    if call.rank("indices") == 0:
        call.unsupported("0-D indices (aten.index_select, which embedding maps to, keeps a "
                         "size-1 dim for them)")


def scatter_reduce_mode(call):
    reduce = call.arg("reduce")
    if reduce not in SCATTER_REDUCE:
        call.unsupported("reduce=%r" % reduce)
    return SCATTER_REDUCE[reduce]


def reduce_count_output(call):
    """scatter_reduce's second IR output: the count of values reduced into each element
    (i64, self's shape). The aten op has one output; this one is xnnd's scratch-free mean."""
    return "i64", list(call.out_shape)


def embedding_bag_padding_idx(call):
    padding_idx = call.arg("padding_idx")
    if padding_idx is None or int(padding_idx) < 0:
        return -1
    return int(padding_idx)
