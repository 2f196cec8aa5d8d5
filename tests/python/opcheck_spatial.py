"""Per-op checks of the spatial family: convolution in 1-D/2-D/3-D (regular and transposed),
3-D, 1-D and adaptive pooling, grid_sampler_2d, col2im (fold), upsample scale factors, and the
refusal of FFTs (complex tensors). Each case batches several ops into one module and runs it
delegated and portable-only against eager.

Tolerances: exact for pooling maxima and indices; 1e-5 for sums and interpolation; 1e-4
(relative) for convolutions, whose accumulation order differs from PyTorch's."""

from __future__ import annotations

import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch
import torch.nn.functional as F

from oprun import Fn, eager, run_xnnd, xnnd_bin
from xnnd.errors import ExportError


def _check(case, module, inputs, atol, rtol=0.0, delegate_modes=(True, False)):
    ref = eager(module, inputs)
    for delegate in delegate_modes:
        outs, report = run_xnnd(module, inputs, delegate=delegate)
        case.assertEqual(len(outs), len(ref))
        for k, (o, r) in enumerate(zip(outs, ref)):
            msg = "output %d (delegate=%s)" % (k, delegate)
            case.assertEqual(o.shape, r.shape, msg)
            if r.dtype.kind in "iub":
                np.testing.assert_array_equal(o, r, msg)
            else:
                np.testing.assert_allclose(o, r, atol=atol, rtol=rtol, err_msg=msg)
    return report


def _w(*shape):
    return torch.nn.Parameter(torch.randn(*shape), requires_grad=False)


class ConvMix(torch.nn.Module):
    """Convolutions the XNNPACK lowering cannot take (1-D, 3-D, transposed 1-D/3-D) next to
    2-D ones it can, each with groups, dilation, stride, padding, output_padding, no bias."""

    def __init__(self):
        super().__init__()
        self.w1, self.b1 = _w(6, 2, 3), _w(6)
        self.w3 = _w(4, 2, 2, 3, 2)
        self.wt1, self.bt1 = _w(4, 3, 3), _w(6)
        self.wt2 = _w(2, 3, 3, 2)
        self.wt2b = _w(2, 2, 3, 3)
        self.wt3, self.bt3 = _w(4, 1, 3, 3, 2), _w(2)
        self.w2 = _w(4, 1, 3, 3)

    def forward(self, x1, x2, x3):
        return (
            F.conv1d(x1, self.w1, self.b1, stride=2, padding=1, dilation=2, groups=2),
            F.conv1d(x1, self.w1[:, :, :1].repeat(1, 2, 1), None),   # 1x1, one group
            F.conv3d(x3, self.w3, None, stride=(1, 2, 2), padding=(1, 0, 1),
                     dilation=(2, 1, 1), groups=2),
            F.conv_transpose1d(x1, self.wt1, self.bt1, stride=3, padding=1, output_padding=2,
                               groups=2, dilation=2),
            F.conv_transpose2d(x2, self.wt2, None, stride=(2, 3), padding=(1, 0),
                               output_padding=(1, 2), dilation=(1, 2)),
            # output_padding >= stride but < dilation: PyTorch accepts it, XNNPACK does not
            F.conv_transpose2d(x2, self.wt2b, None, stride=1, padding=1, output_padding=2,
                               dilation=3),
            F.conv_transpose3d(x3, self.wt3, self.bt3, stride=2, padding=1, output_padding=1,
                               groups=2),
            F.conv2d(x2, self.w2, None, stride=2, padding=1, groups=2),
        )


class ConvBnRelu(torch.nn.Module):
    def __init__(self, dims):
        super().__init__()
        conv = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[dims]
        bn = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d, 3: torch.nn.BatchNorm3d}[dims]
        self.c1, self.n1 = conv(3, 8, 3, padding=1, bias=False), bn(8)
        self.c2, self.n2 = conv(8, 8, 3, stride=2, groups=4), bn(8)
        for n in (self.n1, self.n2):
            n.running_mean.uniform_(-1, 1)
            n.running_var.uniform_(0.5, 2)
            n.weight.data.uniform_(0.5, 1.5)
            n.bias.data.uniform_(-1, 1)
        self.eval()

    def forward(self, x):
        return F.relu6(self.n2(self.c2(torch.relu(self.n1(self.c1(x))))))


class TestConvolution(unittest.TestCase):
    def test_conv_1d_2d_3d_regular_and_transposed(self):
        torch.manual_seed(0)
        inputs = [torch.randn(2, 4, 11), torch.randn(1, 2, 6, 5), torch.randn(1, 4, 5, 6, 7)]
        report = _check(self, ConvMix().eval(), inputs, atol=1e-4, rtol=1e-4)
        by_op = report.by_op()["aten.convolution"]
        # portable-only run last: every convolution portable; the delegated run is checked
        # below for the split between XNNPACK (2-D) and portable (1-D/3-D).
        self.assertEqual(by_op["delegated"], 0)
        _, report = run_xnnd(ConvMix().eval(), inputs, delegate=True)
        row = report.by_op()["aten.convolution"]
        self.assertEqual(row["delegated"], 2, row)      # conv2d and conv_transpose2d
        self.assertEqual(row["portable"], 6, row)
        self.assertTrue(any("2-D" in r for r in row["reasons"]), row)

    def test_conv_batch_norm_1d_3d_end_to_end(self):
        torch.manual_seed(1)
        for dims, shape in ((1, (2, 3, 17)), (3, (1, 3, 6, 7, 5)), (2, (1, 3, 9, 10))):
            with self.subTest(dims=dims):
                model = ConvBnRelu(dims)
                _check(self, model, [torch.randn(*shape)], atol=1e-4, rtol=1e-4)
                # conv_bn_fold folds the batch norms and clamp_fusion the relu/relu6 into the
                # convolutions at every rank; only 2-D ones go to XNNPACK
                _, report = run_xnnd(model, [torch.randn(*shape)], delegate=True)
                row = report.by_op()
                self.assertEqual(list(row), ["aten.convolution"], row)
                self.assertEqual(row["aten.convolution"]["delegated"], 2 if dims == 2 else 0)


class TestPooling(unittest.TestCase):
    def test_pool3d(self):
        torch.manual_seed(2)
        x = torch.randn(2, 3, 5, 6, 7)

        def fn(x):
            mp, idx = F.max_pool3d(x, 3, 2, 1, dilation=(1, 2, 1), ceil_mode=True,
                                   return_indices=True)
            return (F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                    F.avg_pool3d(x, (2, 3, 2), (1, 2, 3), (1, 1, 0), ceil_mode=True),
                    F.avg_pool3d(x[0], 2, divisor_override=3),
                    mp, idx, F.max_pool3d(x[1], 2),
                    F.adaptive_avg_pool3d(x, (3, 4, 5)), F.adaptive_avg_pool3d(x[0], 1),
                    *F.adaptive_max_pool3d(x, (3, 4, 5), return_indices=True))
        _check(self, Fn(fn), [x], atol=1e-5)

    def test_pool1d_and_adaptive_2d(self):
        torch.manual_seed(3)
        x1, x2 = torch.randn(2, 3, 10), torch.randn(2, 3, 7, 9)
        x2[0, 0, 1, 1] = float("nan")

        def fn(x1, x2):
            return (F.avg_pool1d(x1, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                    *F.max_pool1d(x1, 3, 2, 1, return_indices=True),
                    F.max_pool1d(x1[0], 3, 2, 1),
                    F.adaptive_avg_pool1d(x1, 4),
                    *F.adaptive_max_pool1d(x1, 4, return_indices=True),
                    F.adaptive_avg_pool2d(x2, (5, 4)),        # windows overlap: 7 -> 5, 9 -> 4
                    F.adaptive_avg_pool2d(x2, (3, 2)),
                    *F.adaptive_max_pool2d(x2, (5, 4), return_indices=True))
        _check(self, Fn(fn), [x1, x2], atol=1e-5)


class TestSampling(unittest.TestCase):
    def test_grid_sample_every_mode(self):
        torch.manual_seed(4)
        combos = [(m, p, a) for m in ("bilinear", "nearest", "bicubic")
                  for p in ("zeros", "border", "reflection") for a in (False, True)]
        # coordinates beyond [-1, 1] exercise the padding modes
        inputs = [torch.randn(2, 3, 5, 6), torch.rand(2, 4, 7, 2) * 3 - 1.5]

        def fn(x, g):
            return tuple(F.grid_sample(x, g, mode=m, padding_mode=p, align_corners=a)
                         for m, p, a in combos)
        _check(self, Fn(fn), inputs, atol=1e-5)

    def test_grid_sample_3d(self):
        torch.manual_seed(8)
        combos = [(m, p, a) for m in ("bilinear", "nearest")
                  for p in ("zeros", "border", "reflection") for a in (False, True)]
        inputs = [torch.randn(2, 3, 4, 5, 6), torch.rand(2, 3, 4, 5, 3) * 3 - 1.5]

        def fn(x, g):
            return tuple(F.grid_sample(x, g, mode=m, padding_mode=p, align_corners=a)
                         for m, p, a in combos)
        report = _check(self, Fn(fn), inputs, atol=1e-5, delegate_modes=(False,))
        self.assertEqual(list(report.by_op()), ["aten.grid_sampler_3d"])

    def test_col2im_is_fold(self):
        torch.manual_seed(5)

        def fn(a, b):
            return (F.fold(a, (5, 6), (2, 3), dilation=(1, 2), padding=(1, 1), stride=(2, 1)),
                    F.fold(b, (4, 5), 2))
        a, b = torch.randn(2, 12, 12), torch.randn(8, 12)
        self.assertEqual(F.unfold(torch.randn(2, 2, 5, 6), (2, 3), dilation=(1, 2),
                                  padding=(1, 1), stride=(2, 1)).shape, a.shape)
        _check(self, Fn(fn), [a, b], atol=1e-5)

    def test_upsample_scale_factors(self):
        torch.manual_seed(6)

        def fn(x):
            return (F.interpolate(x, scale_factor=1.5, mode="nearest"),
                    F.interpolate(x, scale_factor=(0.6, 2.5), mode="bilinear"),
                    F.interpolate(x, scale_factor=1.7, mode="bilinear", align_corners=True),
                    F.interpolate(x, scale_factor=1.5, mode="nearest",
                                  recompute_scale_factor=True),
                    F.interpolate(x, size=(4, 11), mode="bilinear"))
        _check(self, Fn(fn), [torch.randn(1, 2, 5, 7)], atol=1e-5)

    def test_upsample_1d_3d_bicubic_nearest_exact(self):
        torch.manual_seed(7)
        x1, x2, x3 = torch.randn(2, 3, 7), torch.randn(1, 2, 5, 6), torch.randn(1, 2, 3, 4, 5)
        sizes = {3: dict(size=(9,)), 4: dict(size=(4, 7)), 5: dict(size=(5, 4, 7))}
        cases = []
        for mode, x in (("nearest", 0), ("linear", 0), ("nearest", 2), ("trilinear", 2),
                        ("bicubic", 1), ("nearest-exact", 0), ("nearest-exact", 1),
                        ("nearest-exact", 2)):
            for kw in (dict(scale_factor=1.5), dict(scale_factor=0.7), dict(scale_factor=2),
                       sizes[(x1, x2, x3)[x].dim()],
                       dict(scale_factor=1.5, recompute_scale_factor=True)):
                for ac in ((False, True) if mode in ("linear", "trilinear", "bicubic")
                           else (None,)):
                    cases.append((mode, x, kw, ac))

        def fn(*xs):
            return tuple(F.interpolate(xs[x], mode=mode, align_corners=ac, **kw)
                         for mode, x, kw, ac in cases)
        report = _check(self, Fn(fn), [x1, x2, x3], atol=1e-5)
        # mapped whole, not decomposed into index.Tensor
        self.assertTrue(all(op.startswith(("aten.upsample", "aten._upsample"))
                            for op in report.by_op()), report.by_op())


class TestRefusals(unittest.TestCase):
    def test_fft_is_refused_as_complex(self):
        module = Fn(lambda x: torch.fft.irfft(torch.fft.rfft(x), n=8))
        with self.assertRaises(ExportError) as cm:
            run_xnnd(module, [torch.randn(2, 8)])
        self.assertIn("_fft_r2c", str(cm.exception))
        self.assertIn("complex", str(cm.exception))

    def test_bad_grid_sampler_attribute_is_named(self):
        text = """graph bad {
  input %x: f32[1,2,4,4]
  input %g: f32[1,3,3,2]
  %y: f32[1,2,3,3] = aten.grid_sampler_2d(%x, %g) {interpolation_mode=3, padding_mode=0, align_corners=false}
  output %y
}
"""
        with tempfile.TemporaryDirectory(prefix="xnnd_spatial_") as d:
            ir = os.path.join(d, "bad.ir")
            with open(ir, "w") as f:
                f.write(text)
            proc = subprocess.run([xnnd_bin(), "compile", ir, "-o", os.path.join(d, "bad.pte")],
                                  capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("interpolation_mode", proc.stderr)
        self.assertIn("bicubic", proc.stderr)

    def test_bad_col2im_shape_is_named(self):
        text = """graph bad {
  input %x: f32[1,12,10]
  %y: f32[1,2,4,5] = aten.col2im(%x) {output_size=[4,5], kernel_size=[2,3], dilation=[1,1], padding=[0,0], stride=[1,1]}
  output %y
}
"""
        with tempfile.TemporaryDirectory(prefix="xnnd_spatial_") as d:
            ir = os.path.join(d, "bad.ir")
            with open(ir, "w") as f:
                f.write(text)
            proc = subprocess.run([xnnd_bin(), "compile", ir, "-o", os.path.join(d, "bad.pte")],
                                  capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("aten.col2im", proc.stderr)
        self.assertIn("sliding blocks", proc.stderr)


if __name__ == "__main__":
    unittest.main()
