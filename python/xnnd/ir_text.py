"""Exporter-side graph model, text IR printer and constant bundle writer.

Emits exactly the format of docs/ARCHITECTURE.md "Text IR" and "Constant bundle": `sym`
lines (dynamic shapes), inputs, then constants, then nodes in topological order, then one output
line. Every attribute of an op's schema is printed in schema order; the mapping (aten_map.py)
guarantees the order.

A dim is an int or an Affine form `c + k0*s0 + ... ` over the graph's Symbols (at most 4,
coefficients >= 0), printed exactly like the C printer (schema/dim_expr.h xnnd_dimx_print):
symbols in index order as `K*NAME` (`NAME` when K is 1) joined by `+`, then `+C` / `-C`.
Arithmetic or comparisons that need a concrete size raise SymbolicDimError, so a mapping rule
that reads a symbolic size as a number fails loudly instead of baking in the example's size.
"""

import hashlib
import re
import struct
from typing import Any, Literal, Sequence

import numpy as np

MAX_SYMBOLS = 4   # XNND_MAX_SYMS (schema/dim_expr.h)
SYMBOL_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,30}$")   # XNND_SYM_NAME_SIZE 32


class SymbolicDimError(TypeError):
    """A symbolic dim was used where a concrete size is needed."""


class Symbol:
    """One symbol of a dynamic graph: an integer in [min, max]; index is its place in the
    graph's `sym` lines (and in the program's Method.symbols)."""

    def __init__(self, name: str, lo: int, hi: int, index: int) -> None:
        if not SYMBOL_NAME_RE.match(name):
            raise ValueError("bad symbol name %r" % name)
        self.name = name
        self.min = int(lo)
        self.max = int(hi)
        self.index = index

    def __repr__(self) -> str:
        return "sym %s = %d..%d" % (self.name, self.min, self.max)


class Affine:
    """c + sum(k * symbol) with at least one k > 0 (a form without symbols is a plain int: use
    affine() to build one). Immutable and hashable; equal forms compare equal."""

    __slots__ = ("c", "terms")

    def __init__(self, c: int, terms: Sequence[tuple[Symbol, int]]) -> None:
        merged: dict[int, list] = {}
        for sym, k in terms:
            entry = merged.setdefault(sym.index, [sym, 0])
            entry[1] += int(k)
        self.c = int(c)
        self.terms = tuple((sym, k) for _, (sym, k) in sorted(merged.items()) if k != 0)
        if not self.terms:
            raise ValueError("an Affine form needs a symbol; use affine()")

    def upper(self) -> int:
        """The value with every symbol at its max (the dim's bound: every k is >= 0)."""
        return self.c + sum(k * sym.max for sym, k in self.terms)

    def lower(self) -> int:
        return self.c + sum(k * sym.min for sym, k in self.terms)

    def at(self, values: dict[str, int]) -> int:
        """The value at symbol name -> value."""
        return self.c + sum(k * int(values[sym.name]) for sym, k in self.terms)

    def __str__(self) -> str:
        parts = []
        for i, (sym, k) in enumerate(self.terms):
            parts.append(("+" if i else "") + (sym.name if k == 1 else "%d*%s" % (k, sym.name)))
        if self.c > 0:
            parts.append("+%d" % self.c)
        elif self.c < 0:
            parts.append("-%d" % -self.c)
        return "".join(parts)

    __repr__ = __str__

    def _key(self):
        return (self.c, tuple((sym.index, sym.name, k) for sym, k in self.terms))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Affine) and self._key() == other._key()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._key())

    def _refuse(self, *_args: Any) -> Any:
        raise SymbolicDimError("symbolic size %s used where a concrete size is needed" % self)

    __int__ = __index__ = __float__ = __bool__ = _refuse
    __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __mul__ = __rmul__ = __add__ = __radd__ = __sub__ = __rsub__ = _refuse
    __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = __neg__ = _refuse


Dim = int | Affine


def affine(c: int, terms: Sequence[tuple[Symbol, int]] = ()) -> Dim:
    """The dim c + sum(k * symbol): an int when no k is nonzero."""
    if any(int(k) for _, k in terms):
        form = Affine(c, terms)
        if form.terms:
            return form
    return int(c)


def is_static(shape: Sequence[Dim]) -> bool:
    return not any(isinstance(d, Affine) for d in shape)


def upper_bounds(shape: Sequence[Dim]) -> list[int]:
    """Every dim at its upper bound."""
    return [d.upper() if isinstance(d, Affine) else int(d) for d in shape]


def dim_text(d: Dim) -> str:
    return str(d) if isinstance(d, Affine) else str(int(d))


def _dim(d: Any) -> Dim:
    return d if isinstance(d, Affine) else int(d)


# Constants with more elements than this go into the bundle (XNND_INLINE_CONST_MAX in ir/ir.h).
INLINE_CONST_MAX = 16

BUNDLE_MAGIC = b"XNDC"
BUNDLE_VERSION = 1

# torch dtype name -> (IR dtype, numpy dtype). The IR has no other dtypes.
DTYPES = {
    "torch.float32": ("f32", np.float32),
    "torch.float16": ("f16", np.float16),
    "torch.int8": ("i8", np.int8),
    "torch.uint8": ("u8", np.uint8),
    "torch.int32": ("i32", np.int32),
    "torch.int64": ("i64", np.int64),
    "torch.bool": ("bool", np.bool_),
}

# Value.quant: ("tensor", scale, zero point) or ("channel", axis, scales[], zero points[]).
Quant = (tuple[Literal["tensor"], float | np.floating, int]
         | tuple[Literal["channel"], int, np.ndarray, np.ndarray])


class Value:
    """One IR value. kind is 'input', 'const' or 'node'; data is a numpy array for consts."""

    def __init__(self, name: str, dtype: str, shape: Sequence[int], kind: str,
                 data: np.ndarray | None = None) -> None:
        self.name = name
        self.dtype = dtype          # IR dtype string, e.g. "f32"
        self.shape: tuple[Dim, ...] = tuple(_dim(d) for d in shape)
        self.kind = kind
        self.data = data

    def __repr__(self) -> str:
        return "%%%s: %s" % (self.name, type_text(self))


class Attr:
    """kind: 'int', 'float', 'bool' or 'ints'; value None prints as `none` (absent optional)."""

    def __init__(self, name: str, kind: str, value: Any) -> None:
        self.name = name
        self.kind = kind
        self.value = value

    def __repr__(self) -> str:
        return "%s=%s" % (self.name, attr_text(self))


class Node:
    def __init__(self, op: str, inputs: list[Value | None], outputs: list[Value],
                 attrs: list[Attr], source: str | None = None) -> None:
        self.op = op                # IR op name, e.g. "aten.convolution"
        self.inputs = inputs        # list of Value or None (absent optional input)
        self.outputs = outputs      # list of Value
        self.attrs = attrs          # list of Attr in schema order
        self.source = source        # fx node name it came from (diagnostics only)

    def attr(self, name: str) -> Any:
        for a in self.attrs:
            if a.name == name:
                return a.value
        raise KeyError(name)


class Graph:
    def __init__(self, name: str) -> None:
        self.name = name
        self.symbols: list[Symbol] = []   # in index order; empty for a static graph
        self.inputs: list[Value] = []
        self.consts: list[Value] = []
        self.nodes: list[Node] = []
        self.outputs: list[Value] = []


def const_key(data_bytes: bytes) -> int:
    """Bundle key of a large constant: blake2b-64 of its bytes, read as a little-endian u64."""
    return int.from_bytes(hashlib.blake2b(data_bytes, digest_size=8).digest(), "little")


def const_bytes(value: Value) -> bytes:
    assert value.data is not None   # a constant's data
    return np.ascontiguousarray(value.data).astype(value.data.dtype.newbyteorder("<"),
                                                   copy=False).tobytes()


def is_large(value: Value) -> bool:
    """Of a constant (always static)."""
    return int(np.prod(upper_bounds(value.shape), dtype=np.int64)) > INLINE_CONST_MAX


def format_float(x: float) -> str:
    """Shortest %g form that reads back to the same double: 0.1, 1e-05, 6, inf, -inf."""
    x = float(x)
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    for precision in range(1, 18):
        text = "%.*g" % (precision, x)
        if float(text) == x:
            return text
    return "%.17g" % x


def format_f32(x: float | np.floating) -> str:
    """Shortest decimal form that reads back (as float32) to the same float32 value."""
    x = np.float32(x)
    if not np.isfinite(x):
        return format_float(float(x))
    for precision in range(1, 10):
        text = "%.*g" % (precision, float(x))
        if np.float32(float(text)) == x:
            return text
    return "%.9g" % float(x)


def quant_text(quant: Quant | None) -> str:
    """` q(SCALE, ZP)` or ` qc(AXIS, [S...], [Z...])` for Value.quant, '' for None."""
    if quant is None:
        return ""
    if quant[0] == "tensor":
        return " q(%s, %d)" % (format_f32(quant[1]), int(quant[2]))
    _, axis, scales, zps = quant
    return " qc(%d, [%s], [%s])" % (int(axis),
                                    ",".join(format_f32(s) for s in np.asarray(scales).reshape(-1)),
                                    ",".join(str(int(z)) for z in np.asarray(zps).reshape(-1)))


def type_text(value: Value) -> str:
    return "%s[%s]%s" % (value.dtype, ",".join(dim_text(d) for d in value.shape),
                         quant_text(getattr(value, "quant", None)))


def attr_text(attr: Attr) -> str:
    v = attr.value
    if v is None:
        return "none"
    if attr.kind == "int":
        return str(int(v))
    if attr.kind == "float":
        return format_float(v)
    if attr.kind == "bool":
        return "true" if v else "false"
    if attr.kind == "ints":
        return "[%s]" % ",".join(dim_text(i) for i in v)
    raise ValueError("unknown attribute kind %r" % attr.kind)


def inline_text(value: Value) -> str:
    flat = np.asarray(value.data).reshape(-1)
    if value.dtype in ("f32", "f16"):
        items = ["%.9g" % float(x) for x in flat]
    elif value.dtype == "bool":
        items = ["1" if x else "0" for x in flat]
    else:
        items = [str(int(x)) for x in flat]
    return "[%s]" % ", ".join(items)


def print_graph(graph: Graph) -> str:
    """The text IR of `graph` as one string ending in a newline."""
    lines = ["graph %s {" % graph.name]
    for sym in graph.symbols:
        lines.append("  sym %s = %d..%d" % (sym.name, sym.min, sym.max))
    for v in graph.inputs:
        lines.append("  input %%%s: %s" % (v.name, type_text(v)))
    for v in graph.consts:
        if is_large(v):
            body = "#%016x" % const_key(const_bytes(v))
        else:
            body = inline_text(v)
        lines.append("  const %%%s: %s = %s" % (v.name, type_text(v), body))
    for n in graph.nodes:
        outs = ", ".join("%%%s: %s" % (v.name, type_text(v)) for v in n.outputs)
        ins = ", ".join("_" if v is None else "%" + v.name for v in n.inputs)
        line = "  %s = %s(%s)" % (outs, n.op, ins)
        if n.attrs:
            line += " {%s}" % ", ".join("%s=%s" % (a.name, attr_text(a)) for a in n.attrs)
        lines.append(line)
    lines.append("  output %s" % ", ".join("%" + v.name for v in graph.outputs))
    lines.append("}")
    return "\n".join(lines) + "\n"


def bundle_records(graph: Graph) -> list[tuple[int, bytes]]:
    """(key, bytes) of every large constant, first occurrence order, unique keys."""
    records = []
    seen: dict[int, bytes] = {}
    for v in graph.consts:
        if not is_large(v):
            continue
        data = const_bytes(v)
        key = const_key(data)
        if key in seen:
            if seen[key] != data:
                raise ValueError("constant bundle key collision on %016x" % key)
            continue
        seen[key] = data
        records.append((key, data))
    return records


def write_bundle(path: str, records: Sequence[tuple[int, bytes]]) -> None:
    """Constant bundle: "XNDC", u32 version, u64 count; per record u64 key, u64 size, bytes,
    zero padding to a multiple of 8."""
    with open(path, "wb") as f:
        f.write(BUNDLE_MAGIC + struct.pack("<IQ", BUNDLE_VERSION, len(records)))
        for key, data in records:
            f.write(struct.pack("<QQ", key, len(data)))
            f.write(data)
            f.write(b"\0" * (-len(data) % 8))
