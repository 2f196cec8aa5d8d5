"""The committed ExecuTorch operator table (runtime/et_ops_table.inc) is what
python/xnnd/et_ops.py generates from the installed torch's (and ExecuTorch's) operator schemas:
a schema change, or a new SPEC entry, fails here until the table is regenerated. Also checks
that every IR op the table names has a portable kernel row in ir/ops.def, and that our schema
of ExecuTorch's program (schema/et_program.fbs) reads the committed ExecuTorch files exactly as
ExecuTorch's own schema does (both decoded by flatc)."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from xnnd import et_ops

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TABLE = os.path.join(ROOT, "runtime", "et_ops_table.inc")


class TestExecuTorchOps(unittest.TestCase):
    def test_committed_table_is_current(self):
        with open(TABLE) as f:
            committed = f.read()
        self.assertEqual(committed, et_ops.render(),
                         "runtime/et_ops_table.inc is out of date; regenerate with:\n  "
                         "PYTHONPATH=python .venv/bin/python -m xnnd.et_ops "
                         "runtime/et_ops_table.inc")

    def test_ir_ops_exist(self):
        with open(os.path.join(ROOT, "ir", "ops.def")) as f:
            ir_ops = set(re.findall(r'^XNND_OP\(\w+, "([\w.]+)"', f.read(), re.M))
        for name, (ir_op, _, special) in et_ops.SPEC.items():
            if special != "full_like":
                self.assertIn(ir_op, ir_ops, name)

    def test_args_follow_the_out_schema(self):
        # convolution.out: 9 arguments, the out tensor, the result
        rows = {name: args for name, _, _, args in et_ops.rows()}
        conv = rows["aten::convolution.out"]
        self.assertEqual(len(conv), 11)
        self.assertEqual([a[0] for a in conv[:3]],
                         ["ET_ARG_INPUT", "ET_ARG_INPUT", "ET_ARG_INPUT_OPT"])
        self.assertEqual(conv[3], ("ET_ARG_ATTR", "ET_ATTR_INTS", "ET_NORM_NONE", "stride"))
        self.assertEqual([a[0] for a in conv[-2:]], ["ET_ARG_OUTPUT", "ET_ARG_RESULT"])
        # three outputs, then the TensorList result
        bn = rows["aten::_native_batch_norm_legit_no_training.out"]
        self.assertEqual([a[0] for a in bn[-4:]], ["ET_ARG_OUTPUT"] * 3 + ["ET_ARG_RESULT"])


def _normalize(ours, theirs, path="$"):
    """Compare flatc's JSON of one file under our schema and under ExecuTorch's. Field names
    may differ (ours are our own) but not slots: flatc writes a table's fields in slot order,
    so our fields must be the leading fields of theirs, value for value; the fields after them
    are ones our schema leaves out. Union type names are ours with an "Et" prefix."""
    if isinstance(ours, dict):
        assert isinstance(theirs, dict), path
        o, t = list(ours.items()), list(theirs.items())
        assert len(o) <= len(t), "%s: we read %s, ExecuTorch has %s" % (
            path, [k for k, _ in o], [k for k, _ in t])
        for (ko, vo), (kt, vt) in zip(o, t, strict=False):   # ours: a prefix
            if ko.endswith("_type") and isinstance(vo, str) and vo.startswith("Et"):
                assert vo == "Et" + vt, "%s.%s: %s vs %s" % (path, ko, vo, vt)   # union type
            else:
                _normalize(vo, vt, "%s.%s" % (path, kt))
    elif isinstance(ours, list):
        assert isinstance(theirs, list) and len(ours) == len(theirs), path
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            _normalize(a, b, "%s[%d]" % (path, i))
    else:
        assert ours == theirs, "%s: %r vs %r" % (path, ours, theirs)


class TestSchemaConformance(unittest.TestCase):
    def test_fixtures_read_alike(self):
        flatc = os.environ.get("XNND_FLATC") or shutil.which("flatc")
        if not flatc:
            self.skipTest("flatc not installed (Debian package flatbuffers-compiler)")
        import executorch.exir._serialize as ser
        et_dir = os.path.dirname(ser.__file__)
        fixtures = os.path.join(ROOT, "tests", "fixtures", "et")
        for name in ("tiny_portable.pte", "tiny_xnnpack.pte"):
            with tempfile.TemporaryDirectory() as d:
                trees = []
                for tag, args in (("ours", [os.path.join(ROOT, "schema", "et_program.fbs")]),
                                  ("theirs", ["-I", et_dir, os.path.join(et_dir, "program.fbs")])):
                    out = os.path.join(d, tag)
                    subprocess.run([flatc, "--json", "--strict-json", "-o", out] + args +
                                   ["--", os.path.join(fixtures, name)], check=True)
                    with open(os.path.join(out, name[:-4] + ".json")) as f:
                        trees.append(json.load(f))
                _normalize(trees[0], trees[1])
                self.assertTrue(trees[0]["execution_plan"][0]["values"], name)


if __name__ == "__main__":
    unittest.main()
