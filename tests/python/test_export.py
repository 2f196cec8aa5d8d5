"""Exporter tests (python/xnnd): text IR against a hand-written golden, attribute
normalization, constant bundle contents, op table agreement with ir/ops.def and
docs/ARCHITECTURE.md, CLI error handling and the exact `xnnd compile` invocation (through a
stand-in toolchain, so the C CLI need not exist). Run from the repository root with
PYTHONPATH=python (tests/e2e/python_export_unit.sh)."""

import hashlib
import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap
import unittest

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from xnnd import api, aten_map, cli, ir_text, trace

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
GOLDEN = os.path.join(ROOT, "tests", "golden", "export")
PYTHON = sys.executable


def read_bundle(path):
    """Independent reader of the constant bundle format: {key: bytes}."""
    with open(path, "rb") as f:
        blob = f.read()
    assert blob[:4] == b"XNDC", blob[:4]
    version, count = struct.unpack_from("<IQ", blob, 4)
    assert version == 1, version
    pos, records = 16, {}
    for _ in range(count):
        key, size = struct.unpack_from("<QQ", blob, pos)
        pos += 16
        data = blob[pos:pos + size]
        assert len(data) == size
        pad = -size % 8
        assert blob[pos + size:pos + size + pad] == b"\0" * pad
        pos += size + pad
        assert key not in records, "duplicate key %016x" % key
        records[key] = data
    assert pos == len(blob), "trailing bytes"
    return records


def blake_key(data):
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


class Tiny(nn.Module):
    """conv + bn + relu + linear with weights the golden file spells out."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.bn = nn.BatchNorm2d(4, eps=1e-3)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(64, 2)
        with torch.no_grad():
            self.conv.weight.copy_((torch.arange(108, dtype=torch.float32) / 100 - 0.5).reshape(4, 3, 3, 3))
            self.conv.bias.copy_(torch.tensor([0.5, -1, 2, 3]))
            self.bn.weight.copy_(torch.tensor([1, 0.5, 2, 0.25]))
            self.bn.bias.copy_(torch.tensor([0, 0.1, -0.2, 0.3]))
            self.bn.running_mean.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
            self.bn.running_var.copy_(torch.tensor([1, 0.5, 2, 0.25]))  # == bn.weight: dedup
            self.fc.weight.copy_((torch.arange(128, dtype=torch.float32) / 64 - 1).reshape(2, 64))
            self.fc.bias.copy_(torch.tensor([0.1, -0.1]))

    def forward(self, x):
        return self.fc(torch.flatten(self.relu(self.bn(self.conv(x))), 1))


def export(module, inputs, name="m"):
    module.eval()
    gm = trace.trace(module, inputs)
    return aten_map.convert(gm, name)


def only_node(graph, op):
    nodes = [n for n in graph.nodes if n.op == op]
    assert len(nodes) == 1, [n.op for n in graph.nodes]
    return nodes[0]


def attrs(node):
    return [(a.name, a.value) for a in node.attrs]


class TestGoldenText(unittest.TestCase):
    def test_tiny_matches_golden(self):
        graph = export(Tiny(), (torch.randn(1, 3, 8, 8),), "tiny")
        with open(os.path.join(GOLDEN, "tiny_conv_bn_relu_linear.ir")) as f:
            golden = f.read()
        self.maxDiff = None
        self.assertEqual(ir_text.print_graph(graph), golden)

    def test_float_format(self):
        cases = {0.1: "0.1", 1e-05: "1e-05", 1.0: "1", 6.0: "6", 0.001: "0.001", -1.0: "-1",
                 float("inf"): "inf", float("-inf"): "-inf", 1e20: "1e+20", 0.3: "0.3"}
        for x, text in cases.items():
            self.assertEqual(ir_text.format_float(x), text)
            self.assertEqual(float(text), x)


class TestBundle(unittest.TestCase):
    def test_bundle_parses_back(self):
        model = Tiny()
        graph = export(model, (torch.randn(1, 3, 8, 8),), "tiny")
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        ir_path, xcb_path = os.path.join(tmp, "tiny.ir"), os.path.join(tmp, "tiny.xcb")
        api.write_ir(graph, ir_path, xcb_path)
        records = read_bundle(xcb_path)
        conv_w = model.conv.weight.detach().numpy().tobytes()
        fc_w = model.fc.weight.detach().numpy().tobytes()
        self.assertEqual(set(records), {blake_key(conv_w), blake_key(fc_w)})
        self.assertEqual(records[blake_key(conv_w)], conv_w)
        self.assertEqual(len(records[blake_key(fc_w)]), 2 * 64 * 4)
        for key, data in records.items():
            self.assertEqual(key, blake_key(data))
        with open(ir_path) as f:
            text_keys = {int(k, 16) for k in re.findall(r"= #([0-9a-f]{16})$", f.read(), re.M)}
        self.assertEqual(text_keys, set(records))

    def test_large_constants_dedup_and_padding(self):
        class Twice(nn.Module):
            def __init__(self):
                super().__init__()
                self.a = nn.Parameter(torch.ones(3, 7))    # 21 elements, 84 bytes: padded
                self.b = nn.Parameter(torch.ones(3, 7))    # same bytes: one const, one record

            def forward(self, x):
                return x * self.a + self.b
        graph = export(Twice(), (torch.randn(3, 7),))
        large = [v for v in graph.consts if ir_text.is_large(v)]
        self.assertEqual(len(large), 1)
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        api.write_ir(graph, os.path.join(tmp, "m.ir"), os.path.join(tmp, "m.xcb"))
        records = read_bundle(os.path.join(tmp, "m.xcb"))
        self.assertEqual([len(d) for d in records.values()], [84])


class Norm(nn.Module):
    def forward(self, x):
        a = F.max_pool2d(x, 3, padding=1)                   # stride [] -> kernel_size
        b = F.avg_pool2d(a, 2)
        c = F.hardtanh(b, 0, 6)                             # int bounds -> floats
        d = c.transpose(-1, -2).permute(0, 1, -1, -2)       # negative dims
        e = d.mean([-1, -2], keepdim=True)                  # sorted non-negative dims
        f = torch.cat([e, e], -1).reshape(1, -1)            # view size concrete
        g = torch.softmax(f + 1, dim=-1)                    # scalar -> rank-0 constant
        return torch.clamp(g, max=0.5)


class TestNormalization(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.graph = export(Norm(), (torch.randn(1, 2, 12, 12),))

    def test_pool_pairs(self):
        # max_pool2d stays whole (trace.decomposition_table): no indices output to drop
        mp = only_node(self.graph, "aten.max_pool2d")
        self.assertEqual(attrs(mp), [("kernel_size", [3, 3]), ("stride", [3, 3]),
                                     ("padding", [1, 1]), ("dilation", [1, 1]),
                                     ("ceil_mode", False)])
        self.assertEqual([v.dtype for v in mp.outputs], ["f32"])
        ap = only_node(self.graph, "aten.avg_pool2d")
        self.assertEqual(attrs(ap), [("kernel_size", [2, 2]), ("stride", [2, 2]),
                                     ("padding", [0, 0]), ("ceil_mode", False),
                                     ("count_include_pad", True), ("divisor_override", None)])

    def test_scalars_and_dims(self):
        ht = only_node(self.graph, "aten.hardtanh")
        self.assertEqual([(a.name, a.kind, a.value) for a in ht.attrs],
                         [("min_val", "float", 0.0), ("max_val", "float", 6.0)])
        perms = [attrs(n) for n in self.graph.nodes if n.op == "aten.permute"]
        self.assertEqual(perms, [[("dims", [0, 1, 3, 2])], [("dims", [0, 1, 3, 2])]])
        self.assertEqual(attrs(only_node(self.graph, "aten.mean")),
                         [("dim", [2, 3]), ("keepdim", True)])
        self.assertEqual(attrs(only_node(self.graph, "aten.cat")), [("dim", 3)])
        view = only_node(self.graph, "aten.view")
        self.assertEqual(attrs(view), [("size", [1, 4])])
        self.assertEqual(attrs(only_node(self.graph, "aten.softmax")),
                         [("dim", 1), ("half_to_float", False)])
        self.assertEqual(attrs(only_node(self.graph, "aten.clamp")), [("min", None), ("max", 0.5)])
        add = only_node(self.graph, "aten.add")
        scalar = add.inputs[1]
        self.assertEqual((scalar.kind, scalar.dtype, scalar.shape), ("const", "f32", ()))
        self.assertEqual(float(scalar.data), 1.0)
        text = ir_text.print_graph(self.graph)
        self.assertIn("const %%%s: f32[] = [1]\n" % scalar.name, text)
        self.assertIn("{min_val=0, max_val=6}", text)
        self.assertIn("{min=none, max=0.5}", text)
        self.assertIn("divisor_override=none}", text)

    def test_input_returned_as_output_is_copied(self):
        class Passthrough(nn.Module):
            def forward(self, x):
                return torch.relu(x), x
        graph = export(Passthrough(), (torch.randn(2, 3),))
        self.assertEqual([n.op for n in graph.nodes], ["aten.relu", "aten.clone"])
        self.assertTrue(all(v.kind == "node" for v in graph.outputs))


def _doc_attr_schema():
    """IR op name -> attribute names in order, from docs/ARCHITECTURE.md "Op table"."""
    with open(os.path.join(ROOT, "docs", "ARCHITECTURE.md")) as f:
        doc = f.read()
    table = doc.split("## Op table", 1)[1]
    schema, previous = {}, []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("aten."):
            continue
        names = re.findall(r"\b([a-z_][a-z0-9_]*) (?:ints|int|float|bool)\b", cells[3])
        if cells[3] == "as above":
            names = previous
        previous = names
        for op in cells[0].split(","):
            op = op.strip()
            schema[op if op.startswith("aten.") else "aten." + op] = names
    return schema


class TestOpTable(unittest.TestCase):
    def test_rules_name_ops_in_ops_def(self):
        with open(os.path.join(ROOT, "ir", "ops.def")) as f:
            ops = set(re.findall(r'^XNND_OP\(\w+, "([\w.]+)"', f.read(), re.M))
        for target, rule in aten_map.RULES.items():
            if rule.op is not None:
                self.assertIn(rule.op, ops, target)

    def test_attribute_order_matches_architecture_doc(self):
        schema = _doc_attr_schema()
        for target, rule in aten_map.RULES.items():
            if rule.op is None:
                continue
            self.assertIn(rule.op, schema, target)
            self.assertEqual([a[0] for a in rule.attrs], schema[rule.op], target)

    def test_torchvision_models_map(self):
        for name in ("mobilenet_v2", "resnet18"):
            _, module, inputs = trace.load_spec("torchvision:" + name)
            gm = trace.trace(module, inputs)
            self.assertEqual(aten_map.unsupported_ops(gm), [], name)
            graph = aten_map.convert(gm, name)
            self.assertEqual([v.shape for v in graph.outputs], [(1, 1000)], name)
            text = ir_text.print_graph(graph)
            self.assertNotIn("aten.empty", text)
            self.assertTrue(text.startswith("graph %s {\n" % name))


FIXTURE = textwrap.dedent('''
    import torch

    class Histc(torch.nn.Module):
        def forward(self, x):
            return torch.histc(x, bins=4) + 1

    class Small(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(5, 3)

        def forward(self, x, y):
            return torch.relu(self.fc(x)) + y, torch.sigmoid(y)

    def histc():
        return Histc(), (torch.randn(2, 5),)

    class FFT(torch.nn.Module):
        def forward(self, x):
            return torch.fft.rfft(x).abs()

    def fft():
        return FFT(), (torch.randn(8),)

    def small():
        return Small(), (torch.randn(2, 5), torch.randn(2, 3))
''')

FAKE_XNND = textwrap.dedent('''\
    #!/usr/bin/python3
    # Stand-in toolchain: records its argv and what the IR/bundle paths held, writes -o.
    import json, os, sys
    args = sys.argv[1:]
    out = args[args.index("-o") + 1]
    ir, xcb = args[1], args[args.index("--constants") + 1]
    with open(os.environ["FAKE_XNND_LOG"], "w") as f:
        json.dump({"argv": args, "ir": open(ir).read(), "xcb_size": os.path.getsize(xcb)}, f)
    open(out, "wb").write(b"stand-in")
    sys.exit(int(os.environ.get("FAKE_XNND_RC", "0")))
''')


class TestCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)
        self.fixture = os.path.join(self.tmp, "fixture.py")
        with open(self.fixture, "w") as f:
            f.write(FIXTURE)

    def run_cli(self, *args, env=None):
        full_env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        full_env.update(env or {})
        return subprocess.run([PYTHON, "-m", "xnnd", "export"] + list(args), cwd=ROOT,
                              env=full_env, capture_output=True, text=True, timeout=120)

    def test_unsupported_op_is_a_clean_user_error(self):
        for func, target, node in (("histc", "aten.histc.default", "histc"),
                                   ("fft", "aten._fft_r2c.default", "_fft_r2c")):
            r = self.run_cli("%s:%s" % (self.fixture, func), "-o", os.path.join(self.tmp, "x.pte"))
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("xnnd export: unsupported op %s at node '%s'" % (target, node), r.stderr)
            self.assertIn("fixture.py:", r.stderr)            # user's source line
            self.assertNotIn("Traceback", r.stderr)

    def test_bad_spec_exits_2(self):
        r = self.run_cli("torchvision:no_such_model", "-o", os.path.join(self.tmp, "x.pte"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("xnnd export: unknown torchvision model", r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def test_compile_invocation_and_save_io(self):
        fake = os.path.join(self.tmp, "fake_xnnd")
        with open(fake, "w") as f:
            f.write(FAKE_XNND)
        os.chmod(fake, os.stat(fake).st_mode | stat.S_IEXEC)
        log = os.path.join(self.tmp, "log.json")
        out = os.path.join(self.tmp, "out", "small.pte")
        io_dir = os.path.join(self.tmp, "io")
        r = self.run_cli("%s:small" % self.fixture, "-o", out, "--no-delegate", "--report",
                         "--save-io", io_dir, "--seed", "3",
                         env={"XNND_BIN": fake, "FAKE_XNND_LOG": log})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("capturing with torch.export...", r.stderr)
        self.assertIn("compiling...", r.stderr)
        self.assertRegex(r.stderr, r"\d+ nodes, \d+ constants \([\d.]+ MB\)")
        with open(log) as f:
            rec = json.load(f)
        argv = rec["argv"]
        self.assertEqual(argv[0], "compile")
        self.assertTrue(argv[1].endswith("small.ir"))
        self.assertEqual(argv[2], "--constants")
        self.assertTrue(argv[3].endswith("small.xcb"))
        self.assertEqual(argv[4:8], ["-o", out, "--no-delegate", "--report"])
        self.assertEqual(argv[8], "--report-json")
        self.assertEqual(len(argv), 10)
        self.assertTrue(rec["ir"].startswith("graph small {\n"))
        self.assertFalse(os.path.exists(argv[1]), "temporary IR left behind")
        self.assertTrue(os.path.exists(out))
        # --save-io: PyTorch eager outputs for the example inputs built after manual_seed(3).
        names = sorted(os.listdir(io_dir))
        self.assertEqual(names, ["input_0.npy", "input_1.npy", "output_0.npy", "output_1.npy"])
        torch.manual_seed(3)
        sys.path.insert(0, self.tmp)
        try:
            import fixture
            module, inputs = fixture.small()
        finally:
            sys.path.remove(self.tmp)
            sys.modules.pop("fixture", None)
        with torch.no_grad():
            expected = module.eval()(*inputs)
        np.testing.assert_array_equal(np.load(os.path.join(io_dir, "input_0.npy")), inputs[0].numpy())
        np.testing.assert_array_equal(np.load(os.path.join(io_dir, "output_0.npy")), expected[0].numpy())
        np.testing.assert_array_equal(np.load(os.path.join(io_dir, "output_1.npy")), expected[1].numpy())

    def test_keep_ir_and_toolchain_failures(self):
        keep = os.path.join(self.tmp, "keep")
        r = self.run_cli("%s:small" % self.fixture, "-o", os.path.join(self.tmp, "s.pte"),
                         "--keep-ir", keep, "--xnnd", os.path.join(self.tmp, "missing"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("xnnd export: toolchain not found", r.stderr)
        self.assertEqual(sorted(os.listdir(keep)), ["s.ir", "s.xcb"])
        read_bundle(os.path.join(keep, "s.xcb"))

        fake = os.path.join(self.tmp, "fake_xnnd")
        with open(fake, "w") as f:
            f.write(FAKE_XNND)
        os.chmod(fake, 0o755)
        r = self.run_cli("%s:small" % self.fixture, "-o", os.path.join(self.tmp, "s.pte"),
                         "--xnnd", fake,
                         env={"FAKE_XNND_LOG": os.path.join(self.tmp, "l"), "FAKE_XNND_RC": "3"})
        self.assertEqual(r.returncode, 3)
        self.assertIn("failed (exit 3)", r.stderr)

    def test_torchvision_spec_seeds(self):
        name, module, inputs = trace.load_spec("torchvision:resnet18", seed=5, input_shape=(1, 3, 32, 32))
        self.assertEqual(name, "resnet18")
        torch.manual_seed(6)
        np.testing.assert_array_equal(inputs[0].numpy(), torch.randn(1, 3, 32, 32).numpy())
        self.assertFalse(module.training)


if __name__ == "__main__":
    unittest.main()
