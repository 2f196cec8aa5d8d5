"""Tiny models for partitioning and layout end-to-end tests, as FILE.py:FUNCTION specs.

Each function returns (module, example_inputs) with fixed-seed random weights."""
import torch
import torch.nn as nn


class _ConvTanhConv(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 4, 3, stride=2)

    def forward(self, x):
        return self.conv2(torch.tanh(self.conv1(x)))


def conv_tanh_conv():
    """conv -> tanh -> conv: tanh has no XNNPACK node, so the convolutions land in two
    partitions with a portable tanh between them."""
    torch.manual_seed(0)
    return _ConvTanhConv().eval(), (torch.randn(1, 3, 12, 12),)


class _ConvFlattenLinear(nn.Module):
    def __init__(self, pool):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.pool = pool
        self.fc = nn.Linear(6 * (1 if pool else 5 * 4), 7)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        if self.pool:
            y = nn.functional.adaptive_avg_pool2d(y, 1)
        return self.fc(torch.flatten(y, 1))


def conv_flatten_linear():
    """conv -> relu -> flatten -> linear on a 5x4 map: inside XNNPACK the conv output is NHWC, so
    the flatten (which must keep NCHW element order) cannot be a reshape there."""
    torch.manual_seed(0)
    return _ConvFlattenLinear(False).eval(), (torch.randn(2, 3, 5, 4),)


def conv_pool_flatten_linear():
    """The same with a global pool first: [N, C, 1, 1] has the same bytes in NCHW and NHWC, so
    the flatten is a reshape inside one partition."""
    torch.manual_seed(0)
    return _ConvFlattenLinear(True).eval(), (torch.randn(2, 3, 5, 4),)
