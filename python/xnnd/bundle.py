"""Bundled programs: a .pte together with test cases (inputs, expected outputs from PyTorch,
per-output tolerances), checked on device with `xnnd run --verify OUT.bundle` or the runtime
API in include/xnnd/bundle.h, which documents the binary format this module writes."""

import struct
from typing import Sequence

import numpy as np

from .errors import ExportError

MAGIC = b"XNDBNDL\0"
VERSION = 2          # with the checksum at CHECKSUM_AT (include/xnnd/bundle.h)
HEADER_SIZE = 64
CHECKSUM_AT = 56
_DTYPE_CODES = {
    np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.int8): 2,
    np.dtype(np.uint8): 3, np.dtype(np.int32): 4, np.dtype(np.int64): 5, np.dtype(np.bool_): 6,
}
_CODE_DTYPES = {v: k for k, v in _DTYPE_CODES.items()}

# One test case: (inputs, expected outputs, one (atol, rtol) per expected output).
Case = tuple[Sequence[np.ndarray], Sequence[np.ndarray], Sequence[tuple[float, float]]]


def _pad8(n):
    return -n % 8


def _tensor_record(arr, tolerances=None):
    a = np.ascontiguousarray(arr)
    if a.dtype not in _DTYPE_CODES:
        raise ExportError("bundle: dtype %s has no program dtype" % a.dtype)
    data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    rec = struct.pack("<II", _DTYPE_CODES[a.dtype], a.ndim)
    rec += struct.pack("<%dq" % a.ndim, *a.shape)
    if tolerances is not None:
        rec += struct.pack("<dd", *tolerances)
    return rec + struct.pack("<Q", len(data)) + data + b"\0" * _pad8(len(data))


def encode(pte: bytes, cases: Sequence[Case]) -> bytes:
    """Bundle bytes. cases: list of (inputs, expected, tolerances) where inputs and expected
    are lists of arrays and tolerances a list of (atol, rtol), one per expected output."""
    body = b""
    for inputs, expected, tolerances in cases:
        if len(tolerances) != len(expected):
            raise ExportError("bundle: one (atol, rtol) per expected output")
        body += struct.pack("<II", len(inputs), len(expected))
        body += b"".join(_tensor_record(a) for a in inputs)
        body += b"".join(_tensor_record(a, t) for a, t in zip(expected, tolerances, strict=True))
    cases_offset = HEADER_SIZE + len(pte) + _pad8(HEADER_SIZE + len(pte))
    header = MAGIC + struct.pack("<IIQQQQI", VERSION, HEADER_SIZE, HEADER_SIZE, len(pte),
                                 cases_offset, len(body), len(cases))
    header += b"\0" * (HEADER_SIZE - len(header))
    blob = bytearray(header + pte + b"\0" * (cases_offset - HEADER_SIZE - len(pte)) + body)
    struct.pack_into("<Q", blob, CHECKSUM_AT, checksum(bytes(blob)))
    return bytes(blob)


def checksum(data: bytes) -> int:
    """FNV-1a 64 over every byte, the 8 at CHECKSUM_AT read as zero (xnnd_bundle_checksum)."""
    h, prime, mask = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1
    zeroed = data[:CHECKSUM_AT] + b"\0" * 8 + data[CHECKSUM_AT + 8:]
    for b in zeroed:
        h = ((h ^ b) * prime) & mask
    return h


def write(path: str, pte: bytes, cases: Sequence[Case]) -> None:
    with open(path, "wb") as f:
        f.write(encode(pte, cases))


def decode(data: bytes) -> tuple[bytes, list[Case]]:
    """(pte bytes, cases) from bundle bytes, cases as for encode(). For tests and tools;
    the runtime does its own complete verification."""
    if data[:8] != MAGIC:
        raise ValueError("not a bundle")
    _, _, prog_off, prog_size, cases_off, cases_size, n = struct.unpack_from("<IIQQQQI", data, 8)
    pos = cases_off
    cases: list[Case] = []

    def tensor(with_tol):
        nonlocal pos
        code, rank = struct.unpack_from("<II", data, pos)
        shape = struct.unpack_from("<%dq" % rank, data, pos + 8)
        pos += 8 + 8 * rank
        tol = None
        if with_tol:
            tol = struct.unpack_from("<dd", data, pos)
            pos += 16
        (nbytes,) = struct.unpack_from("<Q", data, pos)
        pos += 8
        arr = np.frombuffer(data, dtype=_CODE_DTYPES[code].newbyteorder("<"),
                            count=int(np.prod(shape)), offset=pos).reshape(shape).copy()
        pos += nbytes + _pad8(nbytes)
        return arr, tol

    for _ in range(n):
        ni, no = struct.unpack_from("<II", data, pos)
        pos += 8
        inputs = [tensor(False)[0] for _ in range(ni)]
        outs = [tensor(True) for _ in range(no)]
        cases.append((inputs, [a for a, _ in outs], [t for _, t in outs]))
    assert pos == cases_off + cases_size
    return data[prog_off:prog_off + prog_size], cases
