#!/usr/bin/env python3
"""PyTorch reference cases for the portable kernels (tests/test_kernels.c reads the output).

usage: kernels_ref.py OUT_FILE

Runs each case through torch.ops.aten with a fixed seed and writes op name, attributes (as the
program carries them: kind 0 none, 1 int, 2 float, 3 bool, 4 ints), inputs and outputs.
Little-endian layout:
  "XKRF" u32 version(1) u32 case_count
  case: str op, str label, u32 nattrs {str name, u8 kind, i64 i, f64 f, u32 n, i64[n]},
        u32 nin {tensor}, u32 nout {tensor}
  str: u32 length, bytes;  tensor: u8 present [u8 dtype, u32 rank, i64[rank] dims, raw data]
"""
import struct
import sys

import torch

aten = torch.ops.aten
DTYPES = {torch.float32: 0, torch.int64: 5}
NONE, INT, FLOAT, BOOL, INTS = 0, 1, 2, 3, 4


def attr_of(value):
    if value is None:
        return NONE, 0, 0.0, []
    if isinstance(value, bool):
        return BOOL, int(value), 0.0, []
    if isinstance(value, int):
        return INT, value, 0.0, []
    if isinstance(value, float):
        return FLOAT, 0, value, []
    return INTS, 0, 0.0, [int(v) for v in value]


def put_str(out, s):
    b = s.encode()
    out += struct.pack("<I", len(b)) + b


def put_tensor(out, t):
    if t is None:
        out += struct.pack("<B", 0)
        return
    t = t.contiguous()
    out += struct.pack("<BBI", 1, DTYPES[t.dtype], t.dim())
    out += struct.pack("<%dq" % t.dim(), *t.shape)
    out += t.numpy().tobytes()


CASES = []


def case(op, label, inputs, attrs, fn):
    """fn(*inputs) runs the aten op; attrs is an ordered list of (name, value)."""
    with torch.no_grad():
        outs = fn(*inputs)
    if not isinstance(outs, (tuple, list)):
        outs = [outs]
    CASES.append((op, label, attrs, inputs, list(outs)))


def r(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def conv(label, x_shape, w_shape, bias, stride, padding, dilation, transposed, opad, groups):
    x, w = r(*x_shape), r(*w_shape)
    b = r(w_shape[1] * groups if transposed else w_shape[0]) if bias else None
    attrs = [("stride", stride), ("padding", padding), ("dilation", dilation),
             ("transposed", transposed), ("output_padding", opad), ("groups", groups)]
    case("aten.convolution", label, [x, w, b], attrs,
         lambda x, w, b: aten.convolution(x, w, b, stride, padding, dilation, transposed, opad,
                                          groups))


def build():
    torch.manual_seed(1234)
    conv("conv 3x3 pad1", (1, 3, 8, 8), (4, 3, 3, 3), True, [1, 1], [1, 1], [1, 1], False, [0, 0], 1)
    conv("conv stride2 no bias", (2, 4, 9, 7), (6, 4, 3, 2), False, [2, 2], [1, 0], [1, 1], False,
         [0, 0], 1)
    conv("conv dilated groups", (1, 6, 10, 9), (4, 3, 3, 3), True, [1, 2], [2, 1], [2, 2], False,
         [0, 0], 2)
    conv("conv depthwise s2", (1, 8, 11, 11), (8, 1, 3, 3), True, [2, 2], [1, 1], [1, 1], False,
         [0, 0], 8)
    conv("conv depthwise x2", (1, 4, 6, 6), (8, 1, 5, 5), True, [1, 1], [2, 2], [1, 1], False,
         [0, 0], 4)
    conv("conv 1x1", (2, 16, 5, 5), (8, 16, 1, 1), True, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)
    conv("conv 7x7 s2 p3", (1, 3, 20, 20), (5, 3, 7, 7), False, [2, 2], [3, 3], [1, 1], False,
         [0, 0], 1)
    conv("conv1d", (2, 3, 12), (4, 3, 3), True, [2], [1], [1], False, [0], 1)
    conv("convT s2 opad1", (1, 4, 5, 5), (4, 3, 3, 3), True, [2, 2], [1, 1], [1, 1], True,
         [1, 1], 1)
    conv("convT groups dil", (2, 6, 4, 5), (6, 2, 3, 2), False, [1, 2], [0, 1], [2, 1], True,
         [0, 1], 3)
    conv("convT s3", (1, 2, 3, 3), (2, 2, 4, 4), True, [3, 3], [2, 0], [1, 1], True, [2, 1], 1)

    x = r(2, 5, 4, 3)
    w, b, rm, rv = r(5), r(5), r(5), torch.rand(5) + 0.5
    case("aten.native_batch_norm", "bn eval", [x, w, b, rm, rv],
         [("training", False), ("momentum", 0.1), ("eps", 1e-5)],
         lambda *a: aten.native_batch_norm(*a, False, 0.1, 1e-5))
    x = r(3, 4)
    case("aten.native_batch_norm", "bn 2d no affine", [x, None, None, r(4), torch.rand(4) + 0.1],
         [("training", False), ("momentum", 0.1), ("eps", 1e-3)],
         lambda *a: aten.native_batch_norm(*a, False, 0.1, 1e-3))

    case("aten.addmm", "addmm bias row", [r(7), r(3, 5), r(5, 7)],
         [("beta", 0.5), ("alpha", 2.0)], lambda s, a, b: aten.addmm(s, a, b, beta=0.5, alpha=2.0))
    case("aten.addmm", "addmm full", [r(3, 7), r(3, 5), r(5, 7)], [("beta", 1.0), ("alpha", 1.0)],
         lambda s, a, b: aten.addmm(s, a, b))
    case("aten.mm", "mm", [r(4, 9), r(9, 3)], [], aten.mm)
    case("aten.bmm", "bmm", [r(3, 4, 5), r(3, 5, 2)], [], aten.bmm)
    case("aten.linear", "linear 3d", [r(2, 3, 20), r(6, 20), r(6)], [], aten.linear)
    case("aten.linear", "linear no bias", [r(17), r(5, 17), None], [],
         lambda x, w, b: aten.linear(x, w))
    case("aten.t", "t", [r(3, 5)], [], aten.t)

    x = r(2, 3, 4, 5) * 4
    for name in ["relu", "sigmoid", "tanh", "hardswish", "hardsigmoid", "silu", "clone"]:
        case("aten." + name, name, [x], [], getattr(aten, name))
    case("aten.hardtanh", "hardtanh", [x], [("min_val", -2.0), ("max_val", 1.5)],
         lambda x: aten.hardtanh(x, -2.0, 1.5))
    case("aten.clamp", "clamp both", [x], [("min", -0.5), ("max", 6.0)],
         lambda x: aten.clamp(x, -0.5, 6.0))
    case("aten.clamp", "clamp min only", [x], [("min", 0.25), ("max", None)],
         lambda x: aten.clamp(x, 0.25, None))
    case("aten.gelu", "gelu none", [x], [("approximate", 0)], lambda x: aten.gelu(x))
    case("aten.gelu", "gelu tanh", [x], [("approximate", 1)],
         lambda x: aten.gelu(x, approximate="tanh"))
    case("aten.dropout", "dropout eval", [x], [("p", 0.5), ("train", False)],
         lambda x: aten.dropout(x, 0.5, False))

    case("aten.add", "add broadcast alpha", [r(2, 3, 1, 5), r(4, 1)], [("alpha", 2.5)],
         lambda a, b: aten.add(a, b, alpha=2.5))
    case("aten.add", "add rank0", [r(3, 4), torch.tensor(0.75)], [("alpha", 1.0)],
         lambda a, b: aten.add(a, b))
    case("aten.sub", "sub broadcast", [r(5, 1, 3), r(1, 4, 3)], [("alpha", 0.5)],
         lambda a, b: aten.sub(a, b, alpha=0.5))
    case("aten.mul", "mul channel", [r(2, 8, 3, 3), r(1, 8, 1, 1)], [], aten.mul)
    case("aten.mul", "mul rank0 self", [torch.tensor(-1.5), r(6)], [], aten.mul)
    d = r(3, 1, 5)
    case("aten.div", "div", [r(2, 3, 4, 5), d.sign() * (d.abs() + 0.5)], [], aten.div)

    x = r(2, 3, 5, 6)
    case("aten.mean", "mean hw keepdim", [x], [("dim", [-1, -2]), ("keepdim", True)],
         lambda x: aten.mean(x, [-1, -2], True))
    case("aten.mean", "mean 0,2", [x], [("dim", [0, 2]), ("keepdim", False)],
         lambda x: aten.mean(x, [0, 2], False))
    case("aten.mean", "mean 1", [x], [("dim", [1]), ("keepdim", False)],
         lambda x: aten.mean(x, [1], False))

    x = r(2, 3, 9, 8)
    for label, k, s, p, d, cm in [("maxpool 3x3 s2 p1", [3, 3], [2, 2], [1, 1], [1, 1], False),
                                  ("maxpool ceil", [2, 3], [2, 2], [1, 0], [1, 1], True),
                                  ("maxpool dilated", [3, 2], [1, 2], [1, 1], [2, 2], False),
                                  ("maxpool ceil dil", [3, 3], [3, 2], [1, 1], [2, 1], True)]:
        attrs = [("kernel_size", k), ("stride", s), ("padding", p), ("dilation", d),
                 ("ceil_mode", cm)]
        case("aten.max_pool2d_with_indices", label, [x], attrs,
             lambda x: aten.max_pool2d_with_indices(x, k, s, p, d, cm))
        case("aten.max_pool2d", label, [x], attrs, lambda x: aten.max_pool2d(x, k, s, p, d, cm))
    for label, k, s, p, cm, cip, div in [
            ("avgpool 3x3 s2 p1", [3, 3], [2, 2], [1, 1], False, True, None),
            ("avgpool exclude pad", [3, 3], [2, 2], [1, 1], False, False, None),
            ("avgpool ceil", [3, 2], [2, 2], [1, 1], True, True, None),
            ("avgpool ceil exclude", [3, 3], [2, 3], [1, 0], True, False, None),
            ("avgpool divisor", [2, 2], [2, 2], [0, 0], False, True, 3),
            ("avgpool ceil divisor", [3, 3], [2, 2], [1, 1], True, False, 5)]:
        attrs = [("kernel_size", k), ("stride", s), ("padding", p), ("ceil_mode", cm),
                 ("count_include_pad", cip), ("divisor_override", div)]
        case("aten.avg_pool2d", label, [x], attrs,
             lambda x: aten.avg_pool2d(x, k, s, p, cm, cip, div))
    for label, shape, out in [("adaptive 7->3", (1, 2, 7, 7), [3, 3]),
                              ("adaptive 5x9->2x4", (2, 3, 5, 9), [2, 4]),
                              ("adaptive ->1", (1, 4, 6, 5), [1, 1]),
                              ("adaptive up 3->5", (1, 1, 3, 3), [5, 5])]:
        case("aten.adaptive_avg_pool2d", label, [r(*shape)], [("output_size", out)],
             lambda x: aten.adaptive_avg_pool2d(x, out))

    x = r(3, 4, 5) * 5
    for dim in [0, 1, -1]:
        case("aten.softmax", "softmax %d" % dim, [x], [("dim", dim), ("half_to_float", False)],
             lambda x: aten._softmax(x, dim, False))

    case("aten.view", "view", [r(2, 3, 4)], [("size", [6, 2, 2])], lambda x: aten.view(x, [6, 2, 2]))
    case("aten.permute", "permute", [r(2, 3, 4, 5)], [("dims", [0, 2, 3, 1])],
         lambda x: aten.permute(x, [0, 2, 3, 1]))
    case("aten.permute", "permute i64", [torch.arange(24).view(2, 3, 4)], [("dims", [2, 0, 1])],
         lambda x: aten.permute(x, [2, 0, 1]))
    case("aten.cat", "cat dim1", [r(2, 3, 4), r(2, 1, 4), r(2, 5, 4)], [("dim", 1)],
         lambda *t: aten.cat(list(t), 1))
    case("aten.cat", "cat i64 last", [torch.arange(6).view(2, 3), torch.arange(4).view(2, 2)],
         [("dim", -1)], lambda *t: aten.cat(list(t), -1))

    build_coverage_ops()
    build_shape_ops()


def build_coverage_ops():
    """Ops added for torchvision/transformer coverage, over random shapes and attributes."""
    g = torch.Generator().manual_seed(99)

    def ri(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    for i in range(6):
        shape = [ri(1, 5) for _ in range(ri(1, 4))]
        x = r(*shape)
        d = ri(0, len(shape) - 1)
        size = shape[d]
        start, end, step = ri(0, size), ri(0, size), ri(1, 3)
        end = max(start, end)
        case("aten.slice", "slice %d" % i, [x],
             [("dim", d), ("start", start), ("end", end), ("step", step)],
             lambda x, d=d, s=start, e=end, st=step: aten.slice(x, d, s, e, st))
        index = ri(0, size - 1)
        case("aten.select", "select %d" % i, [x], [("dim", d), ("index", index)],
             lambda x, d=d, k=index: aten.select(x, d, k))
        case("aten.select", "select i64 %d" % i, [torch.arange(x.numel()).view(*shape)],
             [("dim", d), ("index", index)], lambda x, d=d, k=index: aten.select(x, d, k))
        # expand: some size-1 dims grow, plus up to two new leading dims
        src = [1 if ri(0, 1) else n for n in shape]
        want = [ri(1, 3) for _ in range(ri(0, 2))] + [ri(2, 4) if n == 1 else n for n in src]
        case("aten.expand", "expand %d" % i, [r(*src)], [("size", want)],
             lambda x, w=want: aten.expand(x, w).contiguous())
        pad = []
        for _ in range(ri(1, min(3, len(shape)))):
            pad += [ri(-1, 2), ri(-1, 2)]
        x = r(*[n + 2 for n in shape])
        case("aten.constant_pad_nd", "pad %d" % i, [x], [("pad", pad), ("value", -0.75)],
             lambda x, p=pad: aten.constant_pad_nd(x, p, -0.75))
    for i in range(4):
        shape = [ri(1, 5) for _ in range(ri(1, 4))]
        dims = sorted(set(ri(0, len(shape) - 1) for _ in range(ri(1, len(shape)))))
        shifts = [ri(-7, 7) for _ in dims]
        case("aten.roll", "roll %d" % i, [r(*shape)], [("shifts", shifts), ("dims", dims)],
             lambda x, s=shifts, d=dims: aten.roll(x, s, d))
    case("aten.roll", "roll flat", [torch.arange(12).view(3, 4)], [("shifts", [5]), ("dims", [])],
         lambda x: aten.roll(x, [5]))
    for p, dim, keep in [(2.0, [-1], True), (1.0, [0, 2], False), (float("inf"), [1], False),
                         (3.0, [], False), (2.0, [1, 2], True)]:
        case("aten.norm", "norm p=%g dim=%s" % (p, dim), [r(3, 4, 5)],
             [("p", p), ("dim", dim), ("keepdim", keep)],
             lambda x, p=p, d=dim, k=keep: aten.norm(x, p, d if d else [0, 1, 2], k))
    x = r(3, 4, 5) * 5
    for dim in [0, 1, -1]:
        case("aten.log_softmax", "log_softmax %d" % dim, [x],
             [("dim", dim), ("half_to_float", False)], lambda x, d=dim: aten._log_softmax(x, d, False))
    for label, shape, norm, affine in [("ln last", (2, 7, 16), [16], True),
                                       ("ln last2 no affine", (3, 4, 5), [4, 5], False),
                                       ("ln 1d", (9,), [9], True)]:
        w, b = (r(*norm), r(*norm)) if affine else (None, None)
        case("aten.native_layer_norm", label, [r(*shape) * 3 + 1, w, b],
             [("normalized_shape", norm), ("eps", 1e-5)],
             lambda x, w, b, n=norm: aten.native_layer_norm(x, n, w, b, 1e-5))
    case("aten.baddbmm", "baddbmm", [r(3, 4, 2), r(3, 4, 5), r(3, 5, 2)],
         [("beta", 0.5), ("alpha", 2.0)], lambda s, a, b: aten.baddbmm(s, a, b, beta=0.5, alpha=2.0))
    case("aten.baddbmm", "baddbmm bcast", [r(1, 2), r(2, 3, 4), r(2, 4, 2)],
         [("beta", 1.0), ("alpha", 1.0)], lambda s, a, b: aten.baddbmm(s, a, b))
    for label, shape, size, scales in [("nearest x2", (1, 2, 3, 4), [6, 8], None),
                                       ("nearest 5x7", (2, 1, 3, 4), [5, 7], None),
                                       ("nearest down", (1, 2, 7, 9), [3, 4], None),
                                       ("nearest scale 1.5", (1, 1, 4, 6), [6, 9], [1.5, 1.5])]:
        sh, sw = (scales or [None, None])
        case("aten.upsample_nearest2d", label, [r(*shape)],
             [("output_size", size), ("scales_h", sh), ("scales_w", sw)],
             lambda x, s=size, h=sh, w=sw: aten.upsample_nearest2d(x, s, h, w))
    for label, shape, size, align, scales in [("bilinear x2", (1, 2, 3, 4), [6, 8], False, None),
                                              ("bilinear align", (1, 3, 4, 5), [7, 3], True, None),
                                              ("bilinear down", (2, 1, 9, 7), [4, 3], False, None),
                                              ("bilinear scale", (1, 1, 4, 6), [6, 9], False,
                                               [1.5, 1.5])]:
        sh, sw = (scales or [None, None])
        case("aten.upsample_bilinear2d", label, [r(*shape)],
             [("output_size", size), ("align_corners", align), ("scales_h", sh), ("scales_w", sw)],
             lambda x, s=size, a=align, h=sh, w=sw: aten.upsample_bilinear2d(x, s, a, h, w))


def build_shape_ops():
    """Core ATen coverage, shape family: flip, repeat, reflection/replication pads, diagonal,
    as_strided over random shapes (f32 and i64)."""
    g = torch.Generator().manual_seed(14)

    def ri(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=g))

    for i in range(6):
        shape = [ri(1, 4) for _ in range(ri(1, 5))]
        x = r(*shape) if i % 2 == 0 else torch.arange(int(torch.tensor(shape).prod())).view(*shape)
        dims = sorted(set(ri(0, len(shape) - 1) for _ in range(ri(1, len(shape)))))
        case("aten.flip", "flip %d" % i, [x], [("dims", dims)],
             lambda x, d=dims: aten.flip(x, d))
        reps = [ri(0, 3) if k else ri(1, 2) for k in range(ri(0, 2))] + \
            [ri(1, 3) for _ in shape]
        case("aten.repeat", "repeat %d" % i, [x], [("repeats", reps)],
             lambda x, p=reps: aten.repeat(x, p))
        if len(shape) >= 2:
            d1, d2 = ri(0, len(shape) - 1), ri(0, len(shape) - 1)
            if d1 != d2:
                off = ri(-3, 3)
                case("aten.diagonal", "diagonal %d" % i, [x],
                     [("offset", off), ("dim1", d1), ("dim2", d2)],
                     lambda x, o=off, a=d1, b=d2: aten.diagonal(x, o, a, b).contiguous())
    for k in (1, 2, 3):
        for i in range(3):
            shape = [ri(1, 2)] * ri(0, 2) + [ri(2, 5) for _ in range(k)]
            x = r(*shape) if i != 1 else torch.arange(int(torch.tensor(shape).prod())).view(*shape)
            pad = []
            for d in range(k):
                n = shape[len(shape) - 1 - d]
                pad += [ri(-1, n - 1), ri(-1, n - 1)]
            for kind in ("reflection", "replication"):
                name = "%s_pad%dd" % (kind, k)
                ok = all(shape[len(shape) - 1 - d] + pad[2 * d] + pad[2 * d + 1] >= 1
                         for d in range(k))
                if ok and len(shape) in (k + 1, k + 2):
                    case("aten." + name, "%s %d" % (name, i), [x], [("padding", pad)],
                         lambda x, f=getattr(aten, name), p=pad: f(x, p))
    x = r(3, 4, 5)
    for size, stride, off in [([3, 3], [1, 3], 2), ([2, 2, 2], [20, 0, 5], 1), ([4], [13], 7),
                              ([5, 4], [1, 5], 0), ([0, 3], [1, 1], 59)]:
        case("aten.as_strided", "as_strided %s %s %d" % (size, stride, off), [x],
             [("size", size), ("stride", stride), ("storage_offset", off)],
             lambda x, a=size, b=stride, o=off: aten.as_strided(x, a, b, o).contiguous())


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    build()
    out = bytearray(b"XKRF")
    out += struct.pack("<II", 1, len(CASES))
    for op, label, attrs, inputs, outputs in CASES:
        put_str(out, op)
        put_str(out, label)
        out += struct.pack("<I", len(attrs))
        for name, value in attrs:
            kind, i, f, ints = attr_of(value)
            put_str(out, name)
            out += struct.pack("<BqdI", kind, i, f, len(ints))
            out += struct.pack("<%dq" % len(ints), *ints)
        out += struct.pack("<I", len(inputs))
        for t in inputs:
            put_tensor(out, t)
        out += struct.pack("<I", len(outputs))
        for t in outputs:
            put_tensor(out, t)
    with open(sys.argv[1], "wb") as f:
        f.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
