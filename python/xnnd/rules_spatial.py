"""aten_map helpers of the spatial family: convolution in 1-D/2-D/3-D, 3-D and adaptive
pooling, grid_sampler_2d, col2im, and the ops refused because they need complex tensors.

Window attributes are one int per spatial dim (an int or a one-entry list repeats); a 2-D
convolution keeps its pairs, so existing programs print as before."""

from __future__ import annotations

# Ops that cannot be mapped, target -> reason (aten_map's unsupported-op message shows it).
REFUSED = {
    "aten._fft_r2c.default": "FFTs produce complex tensors and the xnnd IR has no complex "
                             "dtype",
    "aten._fft_c2r.default": "FFTs take complex tensors and the xnnd IR has no complex dtype",
    "aten._fft_c2c.default": "FFTs take and produce complex tensors and the xnnd IR has no "
                             "complex dtype",
}


def _input_name(call):
    return "input" if "input" in call.args else "self"


def spatial(name, n=None, default=None):
    """Getter: attribute `name` as one int per spatial dim. n: the number of spatial dims
    (None: the input's rank - 2). An empty list gives `default(call)`."""
    def get(call):
        count = n if n is not None else call.rank(_input_name(call)) - 2
        value = call.arg(name)
        if (value is None or (not isinstance(value, int) and len(value) == 0)) and default:
            value = default(call)
        if isinstance(value, int):
            return [value] * count
        value = [int(v) for v in value]
        if len(value) == 1:
            return value * count
        if len(value) != count:
            call.unsupported("%s=%s does not have %d entries" % (name, value, count))
        return value
    return get


def check_conv(call):
    rank = call.rank("input")
    if rank not in (3, 4, 5):
        call.unsupported("convolution of a rank-%d input: only 1-D, 2-D and 3-D (rank 3 to 5) "
                         "are supported" % rank)


def check_rank(*ranks):
    def check(call):
        rank = call.rank(_input_name(call))
        if rank not in ranks:
            call.unsupported("input of rank %d: expected rank %s" % (
                rank, " or ".join(str(r) for r in ranks)))
    return check


def _kernel(call):
    return call.arg("kernel_size")


CONV_ATTRS = (("stride", "ints", spatial("stride")), ("padding", "ints", spatial("padding")),
              ("dilation", "ints", spatial("dilation")), ("transposed", "bool"),
              ("output_padding", "ints", spatial("output_padding")), ("groups", "int"))
MAX_POOL3D_ATTRS = (("kernel_size", "ints", spatial("kernel_size", 3)),
                    ("stride", "ints", spatial("stride", 3, _kernel)),
                    ("padding", "ints", spatial("padding", 3)),
                    ("dilation", "ints", spatial("dilation", 3)), ("ceil_mode", "bool"))
AVG_POOL3D_ATTRS = (("kernel_size", "ints", spatial("kernel_size", 3)),
                    ("stride", "ints", spatial("stride", 3, _kernel)),
                    ("padding", "ints", spatial("padding", 3)), ("ceil_mode", "bool"),
                    ("count_include_pad", "bool"), ("divisor_override", "int?"))
GRID_SAMPLER_ATTRS = (("interpolation_mode", "int"), ("padding_mode", "int"),
                      ("align_corners", "bool"))
COL2IM_ATTRS = (("output_size", "ints", spatial("output_size", 2)),
                ("kernel_size", "ints", spatial("kernel_size", 2)),
                ("dilation", "ints", spatial("dilation", 2)),
                ("padding", "ints", spatial("padding", 2)),
                ("stride", "ints", spatial("stride", 2)))


def output_size(n):
    """adaptive pooling: the output's last n dims (None entries in output_size keep the
    input's size; the output metadata has them resolved)."""
    return lambda call: call.out_shape[-n:]


_SCALE_ARGS = {1: ("scales",), 2: ("scales_h", "scales_w"), 3: ("scales_d", "scales_h", "scales_w")}


def upsample_scale(slot, nsp):
    """Getter: the scale factor of spatial slot 0 (d), 1 (h) or 2 (w), right-aligned to the
    op's nsp spatial dims; None when the op has no such dim or the model gave no scale (.vec
    takes scale_factors, .default one float per dim)."""
    def get(call):
        k = slot - (3 - nsp)
        if k < 0:
            return None
        if "scale_factors" in call.args:
            factors = call.arg("scale_factors")
            return None if factors is None else float(factors[k])
        value = call.arg(_SCALE_ARGS[nsp][k])
        return None if value is None else float(value)
    return get


def upsample_attrs(nsp):
    return (("output_size", "ints", lambda call: call.out_shape[2:]),
            ("align_corners", "bool",
             lambda call: bool(call.args.get("align_corners") or False)),
            ("scales_d", "float?", upsample_scale(0, nsp)),
            ("scales_h", "float?", upsample_scale(1, nsp)),
            ("scales_w", "float?", upsample_scale(2, nsp)))


# aten packet -> (IR op, spatial dims); each has a .vec and a .default overload.
UPSAMPLE = {
    "upsample_nearest1d": ("aten.upsample_nearest1d", 1),
    "upsample_nearest3d": ("aten.upsample_nearest3d", 3),
    "_upsample_nearest_exact1d": ("aten._upsample_nearest_exact1d", 1),
    "_upsample_nearest_exact2d": ("aten._upsample_nearest_exact2d", 2),
    "_upsample_nearest_exact3d": ("aten._upsample_nearest_exact3d", 3),
    "upsample_linear1d": ("aten.upsample_linear1d", 1),
    "upsample_trilinear3d": ("aten.upsample_trilinear3d", 3),
    "upsample_bicubic2d": ("aten.upsample_bicubic2d", 2),
}
