"""The committed core ATen classification (python/xnnd/core_aten.json) is what
python/xnnd/core_aten.py generates from the installed torch and the current aten_map tables:
a torch upgrade that adds a core op, or a new rule, fails here until the data is regenerated
(and a new op that is not supported gets its reason)."""

import unittest

from xnnd import aten_map, core_aten


class TestCoreAten(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.generated = core_aten.generate()
        cls.committed = core_aten.load()
        print("\n" + core_aten.summary(cls.committed))

    def test_committed_data_is_current(self):
        diffs = core_aten.differences(self.committed, self.generated)
        self.assertEqual(diffs, [], "python/xnnd/core_aten.json is out of date; regenerate "
                         "with:\n  %s" % core_aten.WRITE_COMMAND)

    def test_every_op_is_classified(self):
        unclassified = [o for o, e in self.generated["ops"].items()
                        if e["class"] not in core_aten.CLASSES]
        self.assertEqual(unclassified, [], "add a rule to aten_map.RULES or a reason to "
                         "python/xnnd/core_aten.py, then run: %s" % core_aten.WRITE_COMMAND)
        for op, entry in self.generated["ops"].items():
            if entry["class"] != "supported":
                self.assertTrue(entry["reason"], op)

    def test_supported_means_mapped_or_folded(self):
        for op, entry in self.generated["ops"].items():
            mapped = op in aten_map.RULES or op in aten_map.SPLITS or aten_map.always_folded(op)
            self.assertEqual(entry["class"] == "supported", mapped, op)

    def test_hand_written_reasons_name_core_ops(self):
        ops = set(self.generated["ops"])
        for table in (core_aten.TRAINING, core_aten.UNSUPPORTED, core_aten.PENDING):
            self.assertEqual(sorted(set(table) - ops), [])

    def test_known_classes(self):
        ops = self.generated["ops"]
        self.assertEqual(ops["aten.convolution_backward.default"]["kind"], "backward")
        self.assertEqual(ops["aten.rand.default"]["kind"], "random")
        self.assertEqual(ops["aten.atan2.out"]["kind"], "out-variant")
        self.assertEqual(ops["aten.resize_.default"]["kind"], "in-place")
        self.assertEqual(ops["aten.nonzero.default"]["class"], "unsupported")
        self.assertEqual(ops["aten.full.default"]["class"], "supported")
        self.assertEqual(ops["aten.add.Tensor"]["ir_op"], "aten.add")


if __name__ == "__main__":
    unittest.main()
