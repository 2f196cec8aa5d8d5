#!/usr/bin/env python3
"""Structured corruption of real programs (issue 16), as a test.

Programs made without PyTorch (the golden convnet IR compiled delegated and --no-delegate, and
tests/corruption/qconv.ir, an int8 convolution, delegated) are split into their parts; the
program flatbuffer is decoded with `flatc --json --raw-binary` (schema/program.fbs) and every
XNNPACK delegate blob's flatbuffer with schema/xnnpack.fbs. Every field is then mutated by its
class (counts, indices, offsets, dims, dtypes, enum values, memory-plan slots, qparams,
attributes, names, absent fields), re-encoded with flatc, reassembled into a .pte and run
through corrupt_harness (load, create, bind fixed inputs, execute) in its own process.

Each case must end in one of:
  clean error   a non-OK status with a message (exit 0, nothing on stderr from a sanitizer)
  valid         the documented valid outcomes (docs/ARCHITECTURE.md, "Structured corruption"):
                OK with the unmutated program's outputs bit for bit (the mutation changed
                nothing observable, e.g. a memory plan that is another correct plan), or OK
                with other outputs when the mutation made another self-consistent program:
                - a value field the format lets a program choose (an attribute's number, a
                  quantization scale or zero point, an output clamp, a padding value);
                - a shape field (a dim, a convolution padding) the runtime's shape checks
                  accept: every step's shapes still agree;
                - a constant's bytes moved (an offset inside the constant data): weights are
                  data, the format cannot tell them apart;
                - a reference (a value id, a constant index, an optional bias) moved to another
                  object whose type and shape the op's checks accept (broadcasting included)
  anything else a crash, a sanitizer report, a timeout, a failure without a message, or OK
                with changed outputs otherwise; must be zero

Prints the counts per class and in total; exits 1 when "anything else" is not zero. Needs
python3 (standard library only) and flatc.
"""

import argparse
import copy
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

PTE_HEADER = struct.Struct("<8sIIQQQQQQ")
BLOB_HEADER = struct.Struct("<4sIQQQQ")

# Fields whose value a program may legitimately choose: OK with different outputs is a
# documented valid outcome for them.
VALUE_FIELDS = {
    ("program", "i"), ("program", "f"), ("program", "ints"),            # Attr values
    ("program", "scale"), ("program", "zero_point"),                     # Tensor.quant
    ("xnnpack", "scale"), ("xnnpack", "zero_point"), ("xnnpack", "channel_scales"),
    ("xnnpack", "output_min"), ("xnnpack", "output_max"), ("xnnpack", "padding_value"),
}

# Shape fields the runtime checks for consistency (every step's shapes must agree).
SHAPE_FIELDS = {("program", "dims"), ("xnnpack", "padding_top"), ("xnnpack", "padding_bottom"),
                ("xnnpack", "padding_left"), ("xnnpack", "padding_right")}
# Offsets that select constant bytes (weights): any in-range, aligned choice is data.
DATA_OFFSET_FIELDS = {("program", "offset"), ("xnnpack", "constant_offset")}


# Field name -> class, for the report.
CLASSES = [
    ("memory-plan slots", {"arena_size", "value_offsets", "output_copy_offsets"}),
    ("offsets", {"offset", "size", "constant_offset", "constant_size"}),
    ("dims", {"dims", "new_shape", "pre_paddings", "post_paddings"}),
    ("dtypes", {"dtype", "datatype"}),
    ("enum values", {"kind", "instruction_type", "node_type", "flags", "version"}),
    ("qparams", {"scale", "zero_point", "axis", "channel_scales", "channel_dim"}),
    ("attributes", {"i", "f", "ints", "attrs", "output_min", "output_max", "padding_value"}),
    ("names", {"name", "operators", "backend", "key"}),
    ("indices", {"inputs", "outputs", "op", "delegate", "constant", "input_ids", "output_ids",
                 "external_index"}),
]

ENUMS = {
    "dtype": ["F32", "F16", "I8", "U8", "I32", "I64", "BOOL", 7, 100, -1],
    "datatype": ["INVALID", "FP32", "FP16", "QINT8", "QUINT8", "QINT32", "QCINT8", "QCINT32", 8, 200],
    "kind": ["NONE", "INT", "FLOAT", "BOOL", "INTS", 5, 255],
    "instruction_type": ["NONE", "KernelCall", "DelegateCall", 3],
}


def field_class(key):
    if key.endswith("_id") or key.endswith("_ids"):
        return "indices"
    for name, keys in CLASSES:
        if key in keys:
            return name
    if key == "values" or key == "nodes" or key == "steps" or key == "methods" or key == "delegates" \
            or key == "constants" or key == "compile_specs" or key == "value":
        return "counts"
    return "attributes"  # node parameters: padding_*, kernel_*, stride_*, groups, ...


def pad64(n):
    return (n + 63) & ~63


# ---- flatc ----

class Flatc:
    def __init__(self, flatc, source, work):
        self.flatc = flatc
        self.schemas = {"program": os.path.join(source, "schema/program.fbs"),
                        "xnnpack": os.path.join(source, "schema/xnnpack.fbs")}
        self.work = work

    def decode(self, schema, data, tag):
        d = os.path.join(self.work, "dec_" + tag)
        os.makedirs(d, exist_ok=True)
        src = os.path.join(d, "in.bin")
        with open(src, "wb") as f:
            f.write(data)
        subprocess.run([self.flatc, "--json", "--raw-binary", "--strict-json", "--defaults-json",
                        "-o", d, self.schemas[schema], "--", src], check=True, capture_output=True)
        with open(os.path.join(d, "in.json")) as f:
            text = f.read()
        # flatc writes non-finite floats as bare inf / -inf / nan.
        text = re.sub(r'(?<=[:\[,\s])(-?)inf\b', r'\1Infinity', text)
        text = re.sub(r'(?<=[:\[,\s])-?nan\b', 'NaN', text)
        return json.loads(text)

    def encode(self, schema, obj, tag):
        """Bytes, or None when flatc refuses the JSON (a value the schema cannot hold)."""
        d = os.path.join(self.work, "enc_" + tag)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        src = os.path.join(d, "in.json")
        with open(src, "w") as f:
            f.write(to_json(obj))
        r = subprocess.run([self.flatc, "--binary", "-o", d, self.schemas[schema], src],
                           capture_output=True)
        outs = [x for x in os.listdir(d) if x != "in.json"]
        if r.returncode != 0 or len(outs) != 1:
            return None
        with open(os.path.join(d, outs[0]), "rb") as f:
            return f.read()


class Special:
    """A float literal JSON cannot spell (flatc reads nan, inf, -inf)."""

    def __init__(self, text):
        self.text = text


def to_json(obj):
    specials = []

    def enc(o):
        if isinstance(o, float) and not math.isfinite(o):
            o = Special("nan" if math.isnan(o) else ("inf" if o > 0 else "-inf"))
        if isinstance(o, Special):
            specials.append(o.text)
            return "__SPECIAL_%d__" % (len(specials) - 1)
        if isinstance(o, dict):
            return {k: enc(v) for k, v in o.items()}
        if isinstance(o, list):
            return [enc(v) for v in o]
        return o

    text = json.dumps(enc(obj))
    return re.sub(r'"__SPECIAL_(\d+)__"', lambda m: specials[int(m.group(1))], text)


# ---- a program in parts ----

class Parts:
    def __init__(self, data, flatc, tag):
        h = PTE_HEADER.unpack_from(data, 0)
        self.prog = flatc.decode("program", data[h[3]:h[3] + h[4]], tag + "_p")
        self.constants = data[h[5]:h[5] + h[6]]
        seg = data[h[7]:h[7] + h[8]]
        self.blobs = []
        for i, d in enumerate(self.prog.get("delegates", [])):
            blob = seg[d["offset"]:d["offset"] + d["size"]]
            bh = BLOB_HEADER.unpack_from(blob, 0)
            fb = flatc.decode("xnnpack", blob[bh[2]:bh[2] + bh[3]], "%s_b%d" % (tag, i))
            self.blobs.append((bh, fb, blob[bh[4]:bh[4] + bh[5]]))

    def assemble(self, flatc, tag, prog=None, blob_index=-1, blob_fb=None):
        """The .pte bytes with `prog` and/or blob `blob_index` replaced; None if flatc refuses."""
        prog = copy.deepcopy(prog if prog is not None else self.prog)
        seg = b""
        for i, (bh, fb, consts) in enumerate(self.blobs):
            raw = flatc.encode("xnnpack", blob_fb if i == blob_index else fb, tag + "_b")
            if raw is None:
                return None
            const_off = pad64(64 + len(raw))
            blob = BLOB_HEADER.pack(bh[0], bh[1], 64, len(raw), const_off, len(consts))
            blob += b"\0" * (64 - len(blob)) + raw
            blob += b"\0" * (const_off - len(blob)) + consts
            seg += b"\0" * (pad64(len(seg)) - len(seg))
            if i < len(prog.get("delegates", [])) and isinstance(prog["delegates"][i], dict):
                d = prog["delegates"][i]
                # Keep a mutated offset or size; rewrite the ones that only moved.
                orig = self.prog["delegates"][i]
                if d.get("offset") == orig.get("offset"):
                    d["offset"] = len(seg)
                if d.get("size") == orig.get("size"):
                    d["size"] = len(blob)
            seg += blob
        fbp = flatc.encode("program", prog, tag + "_p")
        if fbp is None:
            return None
        const_off = pad64(64 + len(fbp))
        deleg_off = pad64(const_off + len(self.constants))
        out = PTE_HEADER.pack(b"XNNDPTE\0", 1, 64, 64, len(fbp), const_off, len(self.constants),
                              deleg_off, len(seg))
        out += b"\0" * (64 - len(out)) + fbp
        out += b"\0" * (const_off - len(out)) + self.constants
        out += b"\0" * (deleg_off - len(out)) + seg
        return out


# ---- mutations ----

def walk(obj, path=()):
    """(path, key, value) for every field and vector element, depth first."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + (k,), k, v
            yield from walk(v, path + (k,))
    elif isinstance(obj, list):
        key = path[-1] if path else ""
        for i, v in enumerate(obj):
            if not isinstance(v, (dict, list)):
                yield path + (i,), key, v
            yield from walk(v, path + (i,))


def get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def mutations(key, value, siblings):
    """(description, new value or DELETE) for one field."""
    out = []
    if isinstance(value, bool):
        out.append(("flip", not value))
    elif isinstance(value, int):
        for v in sorted({value + 1, value - 1, 0, -1, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 40,
                         2 ** 63 - 1, value * 2 + 64}):
            if v != value:
                out.append(("= %d" % v, v))
    elif isinstance(value, float):
        for text, v in (("nan", Special("nan")), ("inf", Special("inf")),
                        ("-inf", Special("-inf")), ("0", 0.0), ("negated", -value),
                        ("x1e30", value * 1e30 if value else 1e30), ("x2", value * 2 if value else 1.0)):
            out.append(("= " + text, v))
    elif isinstance(value, str):
        if key in ENUMS:
            for v in ENUMS[key]:
                if v != value:
                    out.append(("= %s" % v, v))
        else:
            out.append(("empty", ""))
            out.append(("last char changed", value[:-1] + ("Q" if not value.endswith("Q") else "R")))
            for s in siblings:
                if s != value:
                    out.append(("= sibling \"%s\"" % s, s))
                    break
    elif isinstance(value, list):
        if value:
            out.append(("drop last", value[:-1]))
            out.append(("drop first", value[1:]))
            out.append(("repeat last", value + [copy.deepcopy(value[-1])]))
            out.append(("empty", []))
            if len(value) > 1:
                out.append(("swap first two", [value[1], value[0]] + value[2:]))
        else:
            out.append(("one zero element", [0]))
    elif isinstance(value, dict):
        pass
    return out


DELETE = object()


def cases_for(parts, name, per_kind_cap):
    """(case id, schema, blob index, mutated object, class, field key)."""
    targets = [("program", -1, parts.prog)] + [("xnnpack", i, b[1]) for i, b in enumerate(parts.blobs)]
    for schema, bi, root in targets:
        seen = {}
        for path, key, value in list(walk(root)):
            if isinstance(key, int):
                continue
            parent = get(root, path[:-1])
            siblings = []
            if key == "name" and len(path) >= 3 and isinstance(get(root, path[:-2]), list):
                siblings = [x.get("name", "") for x in get(root, path[:-2]) if isinstance(x, dict)]
            muts = mutations(key, value, siblings)
            if isinstance(parent, dict) and not isinstance(value, (dict,)):
                muts.append(("absent", DELETE))
            elif isinstance(parent, dict) and isinstance(value, dict):
                muts.append(("absent", DELETE))
            for desc, new in muts:
                # Spread the cases: at most per_kind_cap per (field, mutation, element-or-not).
                k = (key, desc, isinstance(path[-1], int))
                seen[k] = seen.get(k, 0) + 1
                if seen[k] > per_kind_cap:
                    continue
                obj = copy.deepcopy(root)
                p = get(obj, path[:-1])
                if new is DELETE:
                    if isinstance(p, dict):
                        del p[path[-1]]
                    else:
                        continue
                else:
                    p[path[-1]] = copy.deepcopy(new)
                where = "/".join(str(x) for x in path)
                cid = "%s %s%s %s %s" % (name, schema, "" if bi < 0 else "[%d]" % bi, where, desc)
                yield cid, schema, bi, obj, field_class(key), key, path, (DELETE if new is DELETE else new), root


# ---- running ----

def run_harness(harness, path, env):
    try:
        r = subprocess.run([harness, path], capture_output=True, timeout=120, env=env)
    except subprocess.TimeoutExpired:
        return "timeout", ""
    out = r.stdout.decode(errors="replace").strip()
    err = r.stderr.decode(errors="replace")
    if r.returncode != 0 or "Sanitizer" in err or "runtime error:" in err:
        return "crash", "exit %d: %s %s" % (r.returncode, out, err[-1500:])
    return "ok" if out.startswith("OK ") else "err", out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--harness", required=True)
    ap.add_argument("--xnnd", required=True)
    ap.add_argument("--flatc", default="flatc")
    ap.add_argument("--source", default=os.path.join(os.path.dirname(__file__), "..", ".."))
    ap.add_argument("--work", required=True)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--cap", type=int, default=2,
                    help="cases per (field, mutation kind) and program part")
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    flatc = Flatc(a.flatc, a.source, a.work)
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    src = a.source
    bases = [
        ("convnet", ["compile", src + "/tests/golden/ir/convnet.ir", "--constants",
                     src + "/tests/golden/ir/convnet.xcb"]),
        ("convnet-portable", ["compile", src + "/tests/golden/ir/convnet.ir", "--constants",
                              src + "/tests/golden/ir/convnet.xcb", "--no-delegate"]),
        ("qconv", ["compile", src + "/tests/corruption/qconv.ir"]),
    ]
    jobs = []
    baselines = {}
    for name, args in bases:
        pte = os.path.join(a.work, name + ".pte")
        subprocess.run([a.xnnd] + args + ["-o", pte], check=True, capture_output=True)
        with open(pte, "rb") as f:
            data = f.read()
        parts = Parts(data, flatc, name)
        orig = run_harness(a.harness, pte, env)
        ident_bytes = parts.assemble(flatc, name + "_ident")
        ident_path = os.path.join(a.work, name + "_identity.pte")
        with open(ident_path, "wb") as f:
            f.write(ident_bytes)
        ident = run_harness(a.harness, ident_path, env)
        if orig[0] != "ok" or ident != orig:
            print("FAIL: %s: the unmutated program gives %s, re-encoded %s" % (name, orig, ident))
            return 1
        baselines[name] = orig[1]
        for n, case in enumerate(cases_for(parts, name, a.cap)):
            jobs.append((name, parts, n, case))

    def one(job):
        name, parts, n, (cid, schema, bi, obj, cls, key, fpath, new, root) = job
        tag = "%s_%d" % (name, n)
        if schema == "program":
            data = parts.assemble(flatc, tag, prog=obj)
        else:
            data = parts.assemble(flatc, tag, blob_index=bi, blob_fb=obj)
        if data is None:
            return cid, cls, key, name, "unencodable", "", False
        path = os.path.join(a.work, tag + ".pte")
        with open(path, "wb") as f:
            f.write(data)
        kind, detail = run_harness(a.harness, path, env)
        os.remove(path)
        shutil.rmtree(os.path.join(a.work, "enc_" + tag + "_p"), ignore_errors=True)
        shutil.rmtree(os.path.join(a.work, "enc_" + tag + "_b"), ignore_errors=True)
        compatible = (schema, key) in SHAPE_FIELDS or (schema, key) in DATA_OFFSET_FIELDS or \
            cls == "indices"
        return cid, cls, key, name, kind, detail, compatible

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        results = list(ex.map(one, jobs))

    counts = {}
    totals = {"cases": 0, "clean error": 0, "valid: unchanged": 0, "valid: value field": 0,
              "valid: consistent": 0, "anything else": 0}
    unencodable = 0
    others = []
    for cid, cls, key, name, kind, detail, compatible in results:
        if kind == "unencodable":
            unencodable += 1
            continue
        c = counts.setdefault(cls, {"cases": 0, "clean error": 0, "valid": 0, "anything else": 0})
        c["cases"] += 1
        totals["cases"] += 1
        schema = cid.split(" ")[1].split("[")[0]
        if kind == "err":
            outcome = "clean error"
        elif kind == "ok" and detail == baselines[name]:
            outcome = "valid: unchanged"
        elif kind == "ok" and (schema, key) in VALUE_FIELDS:
            outcome = "valid: value field"
        elif kind == "ok" and compatible:
            outcome = "valid: consistent"
        else:
            outcome = "anything else"
            others.append((cid, kind, detail))
        totals[outcome] += 1
        c["valid" if outcome.startswith("valid") else outcome] += 1
        if a.verbose:
            print("%-14s %s: %s" % (outcome, cid, detail[:200]))

    print("structured corruption: %d programs, %d cases (%d more not encodable by flatc)"
          % (len(bases), totals["cases"], unencodable))
    print("  %-18s %6s %12s %6s %14s" % ("class", "cases", "clean error", "valid", "anything else"))
    for cls in sorted(counts):
        c = counts[cls]
        print("  %-18s %6d %12d %6d %14d" % (cls, c["cases"], c["clean error"], c["valid"],
                                              c["anything else"]))
    print("cases %d, clean errors %d, documented valid outcomes %d (unchanged outputs %d, value "
          "fields %d, other self-consistent programs %d), anything else %d" % (
              totals["cases"], totals["clean error"],
              totals["valid: unchanged"] + totals["valid: value field"] + totals["valid: consistent"],
              totals["valid: unchanged"], totals["valid: value field"], totals["valid: consistent"],
              totals["anything else"]))
    for cid, kind, detail in others[:40]:
        print("ANYTHING ELSE: %s: %s %s" % (cid, kind, detail[:600]))
    return 1 if others else 0


if __name__ == "__main__":
    sys.exit(main())
