"""aten_map RULES of the math family: unary math, predicates, elu/leaky_relu and dtype
conversion (docs/ARCHITECTURE.md, "Core ATen coverage", math). Creation ops (full, full_like,
scalar_tensor, arange, empty) have no data inputs and are constant-folded by aten_map."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .aten_map import Call, Rule

# xnnd_dtype codes (include/xnnd/xnnd.h) of the torch dtypes a tensor may have in the IR.
_DTYPE_CODES = {"torch.float32": 0, "torch.float16": 1, "torch.int8": 2, "torch.uint8": 3,
                "torch.int32": 4, "torch.int64": 5, "torch.bool": 6}

# Keep the dtype (ints exact), promote ints to f32, or give bool: ir/op_math.c decides.
UNARY = ("abs", "neg", "sign", "ceil", "floor", "round", "trunc", "acos", "acosh", "asin",
         "asinh", "atan", "atanh", "cos", "cosh", "erf", "exp", "expm1", "log", "log10", "log1p",
         "log2", "reciprocal", "rsqrt", "sin", "sinh", "sqrt", "tan", "isnan", "isinf",
         "logical_not", "bitwise_not")


def _out_dtype(call: Call) -> str:
    return str(call.out_metas[0].dtype)


def _to_copy_check(call: Call) -> None:
    dtype = _out_dtype(call)
    if dtype not in _DTYPE_CODES:
        call.unsupported("conversion to %s: xnnd tensors are f32, f16, i8, u8, i32, i64 or bool"
                         % dtype)
    src = call.arg("self")
    meta = src.meta.get("tensor_meta") if hasattr(src, "meta") else None
    src_dtype = str(meta.dtype) if meta is not None else dtype
    if "torch.float16" in (dtype, src_dtype) and dtype != src_dtype:
        call.unsupported("conversion from %s to %s: the portable kernels do not convert float16"
                         % (src_dtype, dtype))


def _to_copy_is_identity(call: Call) -> bool:
    """Only layout, memory format or device change (or nothing): the value is the input's."""
    src = call.arg("self")
    meta = src.meta.get("tensor_meta") if hasattr(src, "meta") else None
    return meta is not None and str(meta.dtype) == _out_dtype(call)


def rules(rule: type[Rule]) -> dict[str, Rule]:
    """The family's RULES entries, built with aten_map's Rule (passed in: no import cycle)."""
    table = {"aten.%s.default" % name: rule("aten." + name) for name in UNARY}
    table.update({
        "aten.elu.default": rule("aten.elu", attrs=(("alpha", "float"), ("scale", "float"),
                                                    ("input_scale", "float"))),
        "aten.leaky_relu.default": rule("aten.leaky_relu", attrs=(("negative_slope", "float"),)),
        "aten._to_copy.default": rule(
            "aten._to_copy", attrs=(("dtype", "int", lambda c: _DTYPE_CODES[_out_dtype(c)]),),
            check=_to_copy_check, identity=_to_copy_is_identity),
        # copy(self, src): src broadcast to self's shape, in self's dtype
        "aten.copy.default": rule("aten.copy", ("self", "src")),
        # fill(self, value): a copy of the scalar, a rank-0 constant of self's dtype
        "aten.fill.Scalar": rule("aten.copy", ("self", "value#")),
        "aten.fill.Tensor": rule("aten.copy", ("self", "value")),
    })
    return table
