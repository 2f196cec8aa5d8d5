#!/usr/bin/env python3
"""Regenerates the constant bundles (*.xcb) next to the golden IR texts and prints each
constant's key (FNV-1a 64 of its bytes) for the .ir text. Deterministic; no dependencies."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def floats(n, seed):
    # exact binary fractions so every tool prints them the same way
    return struct.pack("<%df" % n, *[((i * 37 + seed) % 17 - 8) / 16.0 for i in range(n)])


def write_bundle(path, records):
    out = bytearray(b"XNDC" + struct.pack("<IQ", 1, len(records)))
    for key, data in records:
        out += struct.pack("<QQ", key, len(data)) + data + b"\0" * ((8 - len(data) % 8) % 8)
    with open(path, "wb") as f:
        f.write(out)


def main():
    consts = [("conv1_w", floats(8 * 3 * 3 * 3, 1)), ("conv2_w", floats(8 * 8, 2)),
              ("fc_w", floats(10 * 8, 3))]
    records = []
    for name, data in consts:
        key = fnv1a64(data)
        records.append((key, data))
        print("%s #%016x" % (name, key))
    write_bundle(os.path.join(HERE, "convnet.xcb"), records)


if __name__ == "__main__":
    main()
