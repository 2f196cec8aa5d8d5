"""A ConvNeXt-style block for the pointwise-affine end-to-end test, as a FILE.py:FUNCTION spec
for `xnnd export`: depthwise 7x7 conv (NCHW) -> permute to NHWC -> Linear(C, 4C) -> ReLU ->
Linear(4C, C) -> permute back -> residual add. C = 96, input [1, 96, 56, 56], seed 0.

The pointwise-affine pass turns the permute/linear/relu/linear/permute chain into two 1x1
convolutions, so no permute is left and the block runs as one XNNPACK partition."""
import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, dim=96):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.ReLU()
        self.pwconv2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dwconv(x)
        y = y.permute(0, 2, 3, 1)
        y = self.pwconv2(self.act(self.pwconv1(y)))
        y = y.permute(0, 3, 1, 2)
        return x + y


def block():
    torch.manual_seed(0)
    return Block().eval(), (torch.randn(1, 96, 56, 56),)
