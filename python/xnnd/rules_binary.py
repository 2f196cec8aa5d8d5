"""Helpers of the binary family's RULES entries (aten_map.py): PyTorch's type promotion for the
rank-0 constants that Python scalars become, and the rounding mode of div."""

from __future__ import annotations

from typing import Any, Callable

import torch
from torch._prims_common import ELEMENTWISE_TYPE_PROMOTION_KIND, elementwise_dtypes


def _stand_in(call: Any, value: Any) -> Any:
    """A tensor of the argument's dtype and rank (dimensioned vs 0-d matters to promotion), or
    the Python scalar itself (a wrapped number)."""
    if isinstance(value, torch.fx.Node):
        meta = value.meta.get("tensor_meta")
        if meta is None:
            return call.unsupported("no tensor metadata for argument %s" % value.name)
        return torch.empty((1,) * len(meta.shape), dtype=meta.dtype)
    return value


def promoted(*names: str) -> Callable[[Any], torch.dtype]:
    """scalar_dtype getter: the dtype the op computes in, torch.result_type of the arguments
    `names` (None ones skipped). A comparison's scalar operand must have this dtype, not the
    output's (bool)."""
    def get(call: Any) -> torch.dtype:
        args = [_stand_in(call, call.arg(n)) for n in names if call.arg(n) is not None]
        return elementwise_dtypes(
            *args, type_promotion_kind=ELEMENTWISE_TYPE_PROMOTION_KIND.DEFAULT)[1]
    return get


def div_rounding_mode(call: Any) -> int | None:
    """aten.div_mode's rounding_mode attribute: none (true division), 0 trunc, 1 floor."""
    mode = call.args.get("rounding_mode")
    if mode is None:
        return None
    if mode not in ("trunc", "floor"):
        call.unsupported("rounding_mode=%r" % mode)
    return 0 if mode == "trunc" else 1


def binary(op: str, a: str = "self", b: str = "other") -> Any:
    """Rule for a two-input op whose Python scalar operand becomes a rank-0 constant of the
    promoted dtype."""
    from .aten_map import Rule
    return Rule(op, (a + "#", b + "#"), scalar_dtype=promoted(a, b))
