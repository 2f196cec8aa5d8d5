"""The committed ExecuTorch operator table (runtime/et_ops_table.inc) is what
python/xnnd/et_ops.py generates from the installed torch's (and ExecuTorch's) operator schemas:
a schema change, or a new SPEC entry, fails here until the table is regenerated. Also checks
that every IR op the table names has a portable kernel row in ir/ops.def."""

import os
import re
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


if __name__ == "__main__":
    unittest.main()
