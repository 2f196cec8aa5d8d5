"""ExecuTorch portable operators -> xnnd IR ops: the table runtime/et_ops_table.inc is generated
from, so an ExecuTorch program's KernelCalls run on xnnd's portable kernels.

An ExecuTorch KernelCall's args are EValue indices in the order of the operator's .out schema
(every argument, keyword-only ones and the out tensors included), then one more for the result
(the out tensor again, or a TensorList of the outputs). The positions come from torch's own
schemas (torch.ops.<ns>.<name>.<overload>._schema); SPEC below only says what each argument
becomes, by name. Roles (docs/ARCHITECTURE.md "ExecuTorch programs (ET12)"):

  in      a tensor input               in?   a tensor input or None (absent)
  in#     a tensor, or a Scalar that becomes a rank-0 constant of the output's dtype
  int, float, bool, ints   an attribute of that kind under the argument's name, or under the
          name after ':' ("float:min_val"); a '?' suffix lets None omit the attribute
  dim, dims   int / ints made non-negative against the rank of the first tensor input
  stride  a pool stride: an empty list means kernel_size
  none    must be None (a dtype override we do not implement)
  order   a dim_order: None or the contiguous order 0..rank-1
  skip    ignored (non_blocking, memory_format)
Out tensors (the schema's written arguments) become the step's outputs, in order.

Specials (C: ET_SPECIAL_*): view (attribute "size" = the output's sizes), to_copy (attribute
"dtype" = the output's xnnd dtype), full_like (no step: the output becomes a constant filled at
load), training_false (attribute training = false), quantize / dequantize (attribute "dtype" =
the quantized tensor's dtype, the output's / the input's; int64 zero points of a constant
become an int32 constant, which our kernel reads).

usage: python -m xnnd.et_ops [OUT.inc]   (default: print)"""
from __future__ import annotations

import sys

# ExecuTorch name.overload -> (IR op, {argument: role}, special). Covers every operator that
# ExecuTorch 1.5's exports of the test models emit outside a delegate (tests/python/
# test_executorch.py), plus near relatives whose mapping is the same.
_CONV = {"input": "in", "weight": "in", "bias": "in?", "stride": "ints", "padding": "ints",
         "dilation": "ints", "transposed": "bool", "output_padding": "ints", "groups": "int"}
_POOL_MAX = {"self": "in", "kernel_size": "ints", "stride": "stride", "padding": "ints",
             "dilation": "ints", "ceil_mode": "bool"}
_UNARY = {"self": "in"}
_DIM_ORDER = {"self": "in", "non_blocking": "skip", "dim_order": "order"}

SPEC: dict[str, tuple[str, dict[str, str], str]] = {
    "aten::convolution.out": ("aten.convolution", _CONV, ""),
    "aten::_native_batch_norm_legit_no_training.out": (
        "aten.native_batch_norm",
        {"input": "in", "weight": "in?", "bias": "in?", "running_mean": "in", "running_var": "in",
         "momentum": "float", "eps": "float"}, "training_false"),
    "aten::native_layer_norm.out": (
        "aten.native_layer_norm",
        {"input": "in", "normalized_shape": "ints", "weight": "in?", "bias": "in?",
         "eps": "float"}, ""),
    "aten::addmm.out": ("aten.addmm", {"self": "in", "mat1": "in", "mat2": "in",
                                       "beta": "float", "alpha": "float"}, ""),
    "aten::mm.out": ("aten.mm", {"self": "in", "mat2": "in"}, ""),
    "aten::bmm.out": ("aten.bmm", {"self": "in", "mat2": "in"}, ""),
    "aten::permute_copy.out": ("aten.permute", {"self": "in", "dims": "dims"}, ""),
    "aten::view_copy.out": ("aten.view", {"self": "in", "size": "skip"}, "view"),
    "aten::squeeze_copy.dims_out": ("aten.view", {"self": "in", "dim": "skip"}, "view"),
    "aten::squeeze_copy.dim_out": ("aten.view", {"self": "in", "dim": "skip"}, "view"),
    "aten::unsqueeze_copy.out": ("aten.view", {"self": "in", "dim": "skip"}, "view"),
    "aten::select_copy.int_out": ("aten.select", {"self": "in", "dim": "dim", "index": "int"}, ""),
    "aten::expand_copy.out": ("aten.expand", {"self": "in", "size": "skip", "implicit": "skip"},
                              "view"),
    "aten::relu.out": ("aten.relu", _UNARY, ""),
    "aten::sigmoid.out": ("aten.sigmoid", _UNARY, ""),
    "aten::tanh.out": ("aten.tanh", _UNARY, ""),
    "aten::hardswish.out": ("aten.hardswish", _UNARY, ""),
    "aten::hardsigmoid.out": ("aten.hardsigmoid", _UNARY, ""),
    "aten::logical_not.out": ("aten.logical_not", _UNARY, ""),
    "aten::hardtanh.out": ("aten.hardtanh", {"self": "in", "min_val": "float",
                                             "max_val": "float"}, ""),
    "aten::clamp.out": ("aten.clamp", {"self": "in", "min": "float?", "max": "float?"}, ""),
    "aten::add.out": ("aten.add", {"self": "in#", "other": "in#", "alpha": "float"}, ""),
    "aten::sub.out": ("aten.sub", {"self": "in#", "other": "in#", "alpha": "float"}, ""),
    "aten::mul.out": ("aten.mul", {"self": "in#", "other": "in#"}, ""),
    "aten::mul.Scalar_out": ("aten.mul", {"self": "in#", "other": "in#"}, ""),
    "aten::div.out": ("aten.div", {"self": "in#", "other": "in#"}, ""),
    "aten::eq.Scalar_out": ("aten.eq", {"self": "in#", "other": "in#"}, ""),
    "aten::eq.Tensor_out": ("aten.eq", {"self": "in#", "other": "in#"}, ""),
    "aten::where.self_out": ("aten.where", {"condition": "in", "self": "in#", "other": "in#"}, ""),
    "aten::mean.out": ("aten.mean", {"self": "in", "dim": "dims", "keepdim": "bool",
                                     "dtype": "none"}, ""),
    "aten::any.out": ("aten.any", {"self": "in", "dim": "dims", "keepdim": "bool"}, ""),
    "aten::max_pool2d_with_indices.out": ("aten.max_pool2d_with_indices", _POOL_MAX, ""),
    "aten::_softmax.out": ("aten.softmax", {"self": "in", "dim": "dim", "half_to_float": "bool"},
                           ""),
    "aten::cat.out": ("aten.cat", {"tensors": "in*", "dim": "dim"}, ""),
    "aten::full_like.out": ("", {"self": "in", "fill_value": "float:value",
                                 "memory_format": "skip"}, "full_like"),
    "dim_order_ops::_to_dim_order_copy.out": ("aten._to_copy", _DIM_ORDER, "to_copy"),
    # PT2E int8 outside a delegate (executorch.kernels.quantized registers the .out variants).
    # quant_min/max are the dtype's range in these exports; the dtype comes from the tensors.
    "quantized_decomposed::quantize_per_tensor.out": (
        "xnnd.quantize", {"input": "in", "scale": "float", "zero_point": "int",
                          "quant_min": "skip", "quant_max": "skip", "dtype": "skip"},
        "quantize"),
    "quantized_decomposed::dequantize_per_tensor.out": (
        "xnnd.dequantize", {"input": "in", "scale": "float", "zero_point": "int",
                            "quant_min": "skip", "quant_max": "skip", "dtype": "skip",
                            "out_dtype": "none"}, "dequantize"),
    "quantized_decomposed::dequantize_per_channel.out": (
        "xnnd.dequantize", {"input": "in", "scales": "in", "zero_points": "in?", "axis": "dim",
                            "quant_min": "skip", "quant_max": "skip", "dtype": "skip",
                            "out_dtype": "none"}, "dequantize"),
    "dim_order_ops::_clone_dim_order.out": ("aten.clone", _DIM_ORDER, ""),
}

_ROLE = {"in": "ET_ARG_INPUT", "in?": "ET_ARG_INPUT_OPT", "in#": "ET_ARG_INPUT_SCALAR",
         "in*": "ET_ARG_INPUT_LIST", "none": "ET_ARG_NONE", "order": "ET_ARG_DIM_ORDER",
         "skip": "ET_ARG_SKIP", "stride": "ET_ARG_ATTR", "dim": "ET_ARG_ATTR",
         "dims": "ET_ARG_ATTR", "int": "ET_ARG_ATTR", "float": "ET_ARG_ATTR",
         "bool": "ET_ARG_ATTR", "ints": "ET_ARG_ATTR"}
_KIND = {"int": "ET_ATTR_INT", "dim": "ET_ATTR_INT", "float": "ET_ATTR_FLOAT",
         "bool": "ET_ATTR_BOOL", "ints": "ET_ATTR_INTS", "dims": "ET_ATTR_INTS",
         "stride": "ET_ATTR_INTS"}
_NORM = {"dim": "ET_NORM_DIM", "dims": "ET_NORM_DIMS", "stride": "ET_NORM_POOL_STRIDE"}


def _schema(name: str):
    import torch
    if name.startswith("dim_order_ops::"):
        from executorch.exir.passes import dim_order_ops_registry  # noqa: F401  registers them
    if name.startswith("quantized_decomposed::"):
        import executorch.kernels.quantized  # noqa: F401  registers the .out variants
    ns, rest = name.split("::")
    op, overload = rest.split(".")
    return getattr(getattr(getattr(torch.ops, ns), op), overload)._schema


def rows() -> list[tuple[str, str, str, list[tuple[str, str, str, str]]]]:
    """(et name, ir op, special, [(role, kind, norm, attr name)]) with one entry per KernelCall
    arg, the result included."""
    out = []
    for name in sorted(SPEC):
        ir_op, roles, special = SPEC[name]
        schema = _schema(name)
        args = []
        for a in schema.arguments:
            if a.alias_info is not None and a.alias_info.is_write:
                args.append(("ET_ARG_OUTPUT", "0", "ET_NORM_NONE", ""))
                continue
            if a.name not in roles:
                raise SystemExit("et_ops: %s argument %s has no role" % (name, a.name))
            role = roles[a.name]
            base, _, rename = role.partition(":")
            optional = base.endswith("?") and base not in ("in?",)
            base = base.rstrip("?") if optional else base
            args.append((_ROLE[base], _KIND.get(base, "0"),
                         _NORM.get(base, "ET_NORM_OPTIONAL" if optional else "ET_NORM_NONE"),
                         rename or (a.name if base in _KIND else "")))
        unknown = set(roles) - {a.name for a in schema.arguments}
        if unknown:
            raise SystemExit("et_ops: %s has no argument(s) %s" % (name, sorted(unknown)))
        args.append(("ET_ARG_RESULT", "0", "ET_NORM_NONE", ""))
        out.append((name, ir_op, "ET_SPECIAL_" + (special.upper() or "NONE"), args))
    return out


def render() -> str:
    lines = ["/* Generated by python/xnnd/et_ops.py from torch's operator schemas; do not edit.",
             " * Regenerate: PYTHONPATH=python .venv/bin/python -m xnnd.et_ops "
             "runtime/et_ops_table.inc",
             " * (tests/python/test_executorch_ops.py checks that it is current). */"]
    table = []
    for i, (name, ir_op, special, args) in enumerate(rows()):
        lines.append("static const et_arg et_args_%d[] = {" % i)
        for role, kind, norm, attr in args:
            lines.append("    {%s, %s, %s, %s}," % (role, kind, norm,
                                                     '"%s"' % attr if attr else "NULL"))
        lines.append("};")
        table.append('    {"%s", %s, %s, et_args_%d, %d},' % (
            name, '"%s"' % ir_op if ir_op else "NULL", special, i, len(args)))
    lines.append("static const et_op_desc et_op_table[] = {")
    lines += table
    lines.append("};")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    text = render()
    if len(argv) > 1:
        with open(argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
