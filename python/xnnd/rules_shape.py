"""aten_map helpers for the shape and layout ops (flip, repeat, reflection/replication pads,
diagonal, as_strided, cat's dtype check): argument normalization and the checks that refuse
at export, with PyTorch's own reason, what the C toolchain would otherwise refuse later."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

if TYPE_CHECKING:
    from .aten_map import Call


def _self(call: Call) -> Any:
    return call.arg("input" if "input" in call.args else "self")


def _shape(call: Call) -> list[int]:
    return [int(n) for n in call.env[_self(call)].shape]


def edge_pad_check(reflect: bool) -> Callable[[Call], None]:
    """reflection_pad*/replication_pad*: padding is (before, after) pairs from the last dim.
    Reflection mirrors about the edge element, so each pad must be less than the dim's size
    (PyTorch raises the same); both need a non-empty padded dim."""
    def check(call: Call) -> None:
        pad = [int(p) for p in call.arg("padding")]
        shape = _shape(call)
        for i in range(len(pad) // 2):
            d = len(shape) - 1 - i
            if d < 0:
                call.unsupported("padding %s for a %d-D input" % (pad, len(shape)))
            size, lo, hi = shape[d], pad[2 * i], pad[2 * i + 1]
            if size == 0:
                call.unsupported("input has size 0 in padded dim %d" % d)
            if reflect and (lo >= size or hi >= size):
                call.unsupported("reflection padding (%d, %d) must be less than the size %d of "
                                 "dim %d" % (lo, hi, size, d))
            if size + lo + hi < 1:
                call.unsupported("padding (%d, %d) leaves dim %d empty" % (lo, hi, d))
    return check


def diagonal_dim(name: str) -> Callable[[Call], int]:
    def get(call: Call) -> int:
        rank = len(_shape(call))
        d = int(call.arg(name))
        return d + rank if d < 0 else d
    return get


def _contiguous_strides(shape) -> list[int]:
    strides, k = [], 1
    for n in reversed(list(shape)):
        strides.append(k)
        k *= int(n)
    return list(reversed(strides))


def as_strided_is_view(call: Call) -> bool:
    """as_strided that reads a contiguous input's elements in row-major order: a view."""
    size, stride = [int(n) for n in call.arg("size")], [int(n) for n in call.arg("stride")]
    offset = int(call.arg("storage_offset") or 0)
    val = _self(call).meta.get("val") if isinstance(_self(call), torch.fx.Node) else None

    def row_major(shape, strides):
        want = _contiguous_strides(shape)
        return all(n == 1 or s == w for n, s, w in zip(shape, strides, want, strict=True))
    return (offset == 0 and val is not None and val.storage_offset() == 0
            and int(np.prod(size)) == val.numel() and row_major(size, stride)
            and row_major(list(val.shape), list(val.stride())))


def as_strided_check(call: Call) -> None:
    """The general as_strided reads the input's storage. The IR keeps every value contiguous
    and unshared, so that storage is the input's own elements only when the input is
    contiguous, starts its storage, and the strided reads stay within its elements."""
    src = _self(call)
    val = src.meta.get("val") if isinstance(src, torch.fx.Node) else None
    size, stride = [int(n) for n in call.arg("size")], [int(n) for n in call.arg("stride")]
    offset = int(call.arg("storage_offset") or 0)
    what = "as_strided(size=%s, stride=%s, storage_offset=%s)" % (size, stride, offset)
    if val is None:
        call.unsupported("%s: no metadata for the input" % what)
    shape = [int(n) for n in val.shape]
    if val.storage_offset() != 0 or (val.numel() > 1 and not val.is_contiguous()):
        call.unsupported("%s of a view (stride %s, storage offset %d) whose storage holds "
                         "more than its elements; xnnd values do not share storage"
                         % (what, list(val.stride()), val.storage_offset()))
    if any(s < 0 for s in stride) or offset < 0:
        call.unsupported("%s: negative stride or offset" % what)
    if 0 not in size:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride, strict=True))
        if last >= int(np.prod(shape)):
            call.unsupported("%s reads element %d, beyond the %d elements of the input %s "
                             "(xnnd reads only the input's own elements)"
                             % (what, last, int(np.prod(shape)), shape))


def cat_check(call: Call) -> None:
    """PyTorch's cat promotes mixed input dtypes; the cat kernel converts to the promoted dtype
    (the output's), except from or to f16 (the runtime has no half conversion)."""
    out = call.out_metas[0].dtype
    for i, t in enumerate(call.arg("tensors")):
        meta = t.meta.get("val") if isinstance(t, torch.fx.Node) else None
        if meta is not None and meta.dtype != out and torch.float16 in (meta.dtype, out):
            call.unsupported("cat of mixed dtypes: input %d is %s, the result %s; mixes with "
                             "float16 are not converted" % (i, meta.dtype, out))
