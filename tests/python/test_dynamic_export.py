"""Dynamic-shape export tests (python/xnnd, issue 19): `sym` lines and affine dims in the text IR
of small dynamic models, relations torch.export derives (2*s0, s0+1), the size-1 example,
`--dynamic` spec errors, refusals (non-affine sizes, symbolic INT attributes, unbounded or too
many symbols) and the Affine printer against the C printer's rules (schema/dim_expr.h). No C
build needed: graphs are printed, not compiled. Run with PYTHONPATH=python
(tests/e2e/python_export_unit.sh)."""

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import torch
import torch.nn as nn
from torch.export import Dim

from xnnd import api, aten_map, ir_text, trace
from xnnd.errors import ExportError, UnsupportedOpError

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def ir_of(module, inputs, dynamic_shapes, notes=None, quantize=False):
    """Text IR (consts left out) of module captured with dynamic_shapes."""
    module = module.eval()
    inputs = trace.prepare_dynamic_inputs(inputs, dynamic_shapes, notes, 0, module)
    if quantize:
        from xnnd import quantize as quant
        ref = quant.quantize_module(module, inputs, 1, 0, dynamic_shapes=dynamic_shapes,
                                    capture="non-strict")
        gm = trace.trace(ref, inputs, notes, "non-strict", dynamic_shapes)
        graph = quant.convert(gm, "m")
    else:
        gm = trace.trace(module, inputs, notes, "non-strict", dynamic_shapes)
        graph = aten_map.convert(gm, "m")
    text = ir_text.print_graph(graph)
    return [line for line in text.splitlines() if not line.startswith("  const ")]


class ConvHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x):
        y = self.conv(x).relu().mean((2, 3))
        return self.fc(y.view(y.shape[0], -1))


class Flatten2(nn.Module):
    """[B, 2, 8] -> [2*B, 8] -> linear -> cat one learned row -> [2*B+1, 4]."""
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 4)
        self.row = nn.Parameter(torch.randn(1, 4))

    def forward(self, x):
        y = self.fc(x.reshape(-1, 8))
        return torch.cat([y, self.row], 0)


class TestAffine(unittest.TestCase):
    def test_print_like_c(self):
        s0, s1 = ir_text.Symbol("s0", 1, 8, 0), ir_text.Symbol("h", 5, 8, 1)
        cases = [((0, [(s0, 1)]), "s0"), ((0, [(s0, 2)]), "2*s0"), ((1, [(s1, 32)]), "32*h+1"),
                 ((-1, [(s0, 1)]), "s0-1"), ((0, [(s1, 1), (s0, 1)]), "s0+h"),
                 ((3, [(s0, 0)]), "3")]
        for (c, terms), text in cases:
            self.assertEqual(ir_text.dim_text(ir_text.affine(c, terms)), text)
        form = ir_text.affine(1, [(s1, 32)])
        self.assertEqual((form.lower(), form.upper()), (161, 257))
        self.assertEqual(ir_text.upper_bounds([2, form]), [2, 257])
        self.assertEqual(form, ir_text.affine(1, [(s1, 16), (s1, 16)]))

    def test_concrete_use_raises(self):
        form = ir_text.affine(0, [(ir_text.Symbol("s0", 1, 8, 0), 1)])
        for use in (int, lambda f: f + 1, lambda f: f < 3, lambda f: f * 2, bool):
            with self.assertRaises(ir_text.SymbolicDimError):
                use(form)

    def test_value_type_and_sym_lines(self):
        g = ir_text.Graph("g")
        s0 = ir_text.Symbol("s0", 1, 8, 0)
        g.symbols = [s0]
        x = ir_text.Value("x", "f32", [ir_text.affine(0, [(s0, 1)]), 3], "input")
        g.inputs.append(x)
        y = ir_text.Value("y", "f32", [ir_text.affine(0, [(s0, 3)])], "node")
        g.nodes.append(ir_text.Node("aten.view", [x], [y],
                                    [ir_text.Attr("size", "ints", list(y.shape))]))
        g.outputs.append(y)
        self.assertEqual(ir_text.print_graph(g), textwrap.dedent("""\
            graph g {
              sym s0 = 1..8
              input %x: f32[s0,3]
              %y: f32[3*s0] = aten.view(%x) {size=[3*s0]}
              output %y
            }
            """))


class TestDynamicText(unittest.TestCase):
    def test_batch_and_image_step(self):
        torch.manual_seed(0)
        h = Dim("h", min=5, max=8)
        lines = ir_of(ConvHead(), (torch.randn(2, 3, 192, 192),),
                      ({0: Dim("b", min=1, max=8), 2: 32 * h, 3: 32 * h},))
        self.assertEqual(lines[:4], ["graph m {", "  sym s0 = 1..8", "  sym s1 = 5..8",
                                     "  input %x: f32[s0,3,32*s1,32*s1]"])
        self.assertIn("  %convolution: f32[s0,8,16*s1,16*s1] = aten.convolution(%x, %conv_weight, "
                      "%conv_bias) {stride=[2,2], padding=[1,1], dilation=[1,1], "
                      "transposed=false, output_padding=[0,0], groups=1}", lines)
        self.assertIn("  %mean: f32[s0,8] = aten.mean(%relu) {dim=[2,3], keepdim=false}", lines)
        self.assertIn("  %view: f32[s0,8] = aten.view(%mean) {size=[s0,8]}", lines)
        self.assertEqual(lines[-2:], ["  output %linear", "}"])
        self.assertFalse(any("sym_size" in line for line in lines))

    def test_relations(self):
        torch.manual_seed(0)
        lines = ir_of(Flatten2(), (torch.randn(3, 2, 8),), ({0: Dim("b", min=1, max=16)},))
        self.assertEqual(lines[1:3], ["  sym s0 = 1..16", "  input %x: f32[s0,2,8]"])
        self.assertIn("  %view: f32[2*s0,8] = aten.view(%x) {size=[2*s0,8]}", lines)
        self.assertIn("  %cat: f32[2*s0+1,4] = aten.cat(%linear, %row) {dim=0}", lines)

    def test_transformer_sequence(self):
        torch.manual_seed(0)
        layer = nn.TransformerEncoderLayer(d_model=16, nhead=2, dim_feedforward=32,
                                           batch_first=True)
        lines = ir_of(layer, (torch.randn(2, 5, 16),), ({1: Dim("seq", min=1, max=128)},))
        self.assertEqual(lines[1:3], ["  sym s0 = 1..128", "  input %src: f32[2,s0,16]"])
        self.assertTrue(any(line.startswith("  %bmm: f32[4,s0,s0] = aten.bmm(") for line in lines),
                        lines)
        self.assertTrue(any("{size=[2*s0,16]}" in line for line in lines), lines)
        self.assertTrue(lines[-3].startswith("  %getitem_3: f32[2,s0,16], "), lines[-3])

    def test_static_program_has_no_sym_lines(self):
        torch.manual_seed(0)
        lines = ir_of(ConvHead(), (torch.randn(2, 3, 32, 32),), None)
        self.assertEqual(lines[1], "  input %x: f32[2,3,32,32]")
        self.assertFalse(any("sym" in line for line in lines))

    def test_lower_of_a_dynamic_exported_program(self):
        torch.manual_seed(0)
        ep = torch.export.export(ConvHead().eval(), (torch.randn(4, 3, 32, 32),),
                                 dynamic_shapes=({0: Dim("batch", min=2, max=6)},), strict=False)
        graph, _ = api.graph_of(ep, "m")
        self.assertEqual([(s.name, s.min, s.max) for s in graph.symbols], [("s0", 2, 6)])
        self.assertEqual(ir_text.type_text(graph.inputs[0]), "f32[s0,3,32,32]")

    def test_int8_dynamic_batch(self):
        torch.manual_seed(0)
        lines = ir_of(ConvHead(), (torch.randn(2, 3, 16, 16),), ({0: Dim("b", min=1, max=4)},),
                      quantize=True)
        self.assertEqual(lines[1:3], ["  sym s0 = 1..4", "  input %x: f32[s0,3,16,16]"])
        q = [line for line in lines if "= xnnd.quantize(%x" in line]
        self.assertEqual(len(q), 1, lines)
        self.assertRegex(q[0], r"^  %\w+: i8\[s0,3,16,16\] q\(")


class TestSizeOneExample(unittest.TestCase):
    def test_example_of_size_one_is_replaced(self):
        torch.manual_seed(0)
        notes = []
        lines = ir_of(ConvHead(), (torch.randn(1, 3, 32, 32),), ({0: Dim("b", min=1, max=8)},),
                      notes)
        self.assertEqual(lines[1:3], ["  sym s0 = 1..8", "  input %x: f32[s0,3,32,32]"])
        self.assertEqual(len(notes), 1, notes)
        self.assertIn("example input 0 [1, 3, 32, 32] has size 1 in dynamic dim 0", notes[0])
        self.assertIn("new example of shape [2, 3, 32, 32] (random normal)", notes[0])

    def test_replacement_respects_min_and_step(self):
        x = torch.zeros(1, 3, 1, 1, dtype=torch.int64)
        h = Dim("h", min=5, max=8)
        (y,) = trace.prepare_dynamic_inputs((x,), ({0: Dim("b", min=3, max=8), 2: 32 * h,
                                                    3: 32 * h},))
        self.assertEqual(list(y.shape), [3, 3, 160, 160])
        self.assertEqual(y.dtype, torch.int64)
        self.assertEqual(int(y.abs().sum()), 0)
        (z,) = trace.prepare_dynamic_inputs((x,), ({1: Dim("c", min=1, max=8)},))
        self.assertIs(z, x)   # size 3 in the dynamic dim: kept
        # 32 = 32*h at h = 1: torch.export would specialize h, so h = 2
        notes = []
        (w,) = trace.prepare_dynamic_inputs((torch.randn(1, 3, 32, 32),),
                                            ({2: 32 * Dim("h", max=8)},), notes)
        self.assertEqual(list(w.shape), [1, 3, 64, 32])
        self.assertIn("has size 32 in dynamic dim 2 (a size symbol at 0 or 1)", notes[0])

    def test_no_size_two_in_range(self):
        with self.assertRaisesRegex(ExportError, "allows no size of at least 2"):
            trace.prepare_dynamic_inputs((torch.randn(1, 4),), ({0: Dim("b", min=0, max=1)},))

    def test_example_outside_range(self):
        with self.assertRaisesRegex(ExportError, "size 32 in dim 2, outside its dynamic range "
                                                 "160..256"):
            h = Dim("h", min=5, max=8)
            trace.prepare_dynamic_inputs((torch.randn(2, 3, 32, 32),), ({2: 32 * h},))
        with self.assertRaisesRegex(ExportError, "size 200 in dim 2, which is not one of the "
                                                 "sizes 32\\*h takes"):
            trace.prepare_dynamic_inputs((torch.randn(2, 3, 200, 32),), ({2: 32 * h},))


class TestSpecs(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(trace.parse_dynamic("0:0=1..8"), trace.DynamicDim(0, 0, 1, 8, 1))
        self.assertEqual(trace.parse_dynamic("1:2=160..256:32"),
                         trace.DynamicDim(1, 2, 160, 256, 32))
        for text, msg in (("0:0=8..1", "min 8 > max 1"),
                          ("0:2=100..256:32", "step 32 must divide min 100 and max 256 "
                                              "\\(e.g. 128..256:32\\)"),
                          ("0:2=160..250:32", "step 32 must divide"),
                          ("0:0=1..8:0", "step must be at least 1"),
                          ("0=1..8", "expected INPUT:DIM=MIN..MAX"),
                          ("0:0=1-8", "expected INPUT:DIM=MIN..MAX")):
            with self.assertRaisesRegex(ExportError, msg):
                trace.parse_dynamic(text)

    def test_against_inputs(self):
        x = (torch.randn(2, 3),)
        ds = trace.dynamic_shapes_of([trace.parse_dynamic("0:-1=1..8")], x)
        self.assertEqual(list(ds[0]), [1])
        self.assertIsNone(trace.dynamic_shapes_of([], x))
        for texts, msg in ((["1:0=1..8"], "input 1 out of range \\(the model has 1 input\\)"),
                           (["0:2=1..8"], "dim 2 out of range \\(input 0 has rank 2\\)"),
                           (["0:0=1..8", "0:0=2..4"], "input 0 dim 0 is given twice")):
            with self.assertRaisesRegex(ExportError, msg):
                trace.dynamic_shapes_of([trace.parse_dynamic(t) for t in texts], x)

    def test_cli_bad_spec_is_a_clean_error(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        for spec, msg in (("0:0=9..1", "min 9 > max 1"), ("3:0=1..8", "input 3 out of range")):
            r = subprocess.run([sys.executable, "-m", "xnnd", "export", "torchvision:resnet18",
                                "-o", os.path.join(tmp, "x.pte"), "--dynamic", spec],
                               cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("xnnd export: ", r.stderr)
            self.assertIn(msg, r.stderr)
            self.assertNotIn("Traceback", r.stderr)

    def test_cli_writes_dynamic_ir(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python"))
        r = subprocess.run([sys.executable, "-m", "xnnd", "export",
                            "tests/models/small.py:convnet", "-o", os.path.join(tmp, "c.pte"),
                            "--keep-ir", tmp, "--ir-only", "--capture", "non-strict",
                            "--dynamic", "0:0=1..4", "--dynamic", "0:2=16..64:16"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("dynamic size s0 = 1..4", r.stderr)
        self.assertIn("dynamic size s1 = 1..4", r.stderr)
        with open(os.path.join(tmp, "c.ir")) as f:
            lines = f.read().splitlines()
        self.assertEqual(lines[1:3], ["  sym s0 = 1..4", "  sym s1 = 1..4"])
        self.assertRegex(lines[3], r"^  input %\w+: f32\[s0,3,16\*s1,\d+\]$")


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, a, b):
        return self.fc(a) + b


class TestRelatedSpecs(unittest.TestCase):
    def test_equal_dims_given_separately_share_one_symbol(self):
        torch.manual_seed(0)
        xs = (torch.randn(3, 4), torch.randn(3, 4))
        ds = trace.dynamic_shapes_of([trace.parse_dynamic("0:0=1..8"),
                                      trace.parse_dynamic("1:0=1..8")], xs)
        notes = []
        lines = ir_of(TwoInputs(), xs, ds, notes)
        self.assertEqual(lines[1:4], ["  sym s0 = 1..8", "  input %a: f32[s0,4]",
                                      "  input %b: f32[s0,4]"])
        self.assertIn("must be related (d1_0 = d0_0)", " ".join(notes))

    def test_equal_dims_with_other_ranges_are_refused(self):
        xs = (torch.randn(3, 4), torch.randn(3, 4))
        ds = trace.dynamic_shapes_of([trace.parse_dynamic("0:0=1..8"),
                                      trace.parse_dynamic("1:0=2..4")], xs)
        with self.assertRaisesRegex(ExportError, "must always be equal"):
            ir_of(TwoInputs(), xs, ds)


class TestRefusals(unittest.TestCase):
    def test_non_affine_size_names_node_and_suggests_a_step(self):
        with self.assertRaises(ExportError) as cm:
            ir_of(ConvHead(), (torch.randn(2, 3, 33, 32),), ({2: Dim("h", min=16, max=64)},))
        msg = str(cm.exception)
        self.assertIn("node 'convolution' (aten.convolution.default)", msg)
        self.assertIn("output dim 2 has size", msg)
        self.assertIn("//2", msg)
        self.assertIn("not affine", msg)
        self.assertIn("--dynamic 0:2=160..256:32", msg)

    def test_symbolic_int_attribute_is_refused(self):
        class DropFirst(nn.Module):
            def forward(self, x):
                return x[:, 1:] * 2

        with self.assertRaisesRegex(UnsupportedOpError, "aten.slice.Tensor at node 'slice.*"
                                                        "symbolic size s0"):
            ir_of(DropFirst(), (torch.randn(2, 6),), ({1: Dim("n", min=3, max=8)},))

    def test_unbounded_symbol(self):
        with self.assertRaisesRegex(ExportError, "without an upper bound"):
            ir_of(ConvHead(), (torch.randn(2, 3, 32, 32),), ({0: Dim("b", min=1)},))

    def test_more_than_four_symbols(self):
        class Sum5(nn.Module):
            def forward(self, a, b, c, d, e):
                return a.sum(0) + b.sum(0) + c.sum(0) + d.sum(0) + e.sum(0)

        xs = tuple(torch.randn(2 + i, 3) for i in range(5))
        ds = tuple({0: Dim("n%d" % i, min=1, max=9)} for i in range(5))
        with self.assertRaisesRegex(ExportError, "more than 4 dynamic sizes"):
            ir_of(Sum5(), xs, ds)


if __name__ == "__main__":
    unittest.main()
