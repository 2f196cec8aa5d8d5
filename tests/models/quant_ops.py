"""Tiny models for int8 export tests (tests/e2e/quant_ops.sh, quant_models.sh): one quantized
pattern each, as `xnnd export tests/models/quant_ops.py:NAME --quantize int8` SPECs. Each
function is called after torch.manual_seed(seed) and returns (module, example_inputs).

mobilenet_v2 and resnet18 are torchvision's with random weights whose batch norm statistics
are re-estimated on random batches: with torchvision's initialisation alone, mobilenet_v2's
activations shrink layer by layer (its float output is ~1e-9, which quantizes to all zeros),
so there would be nothing to compare. Re-estimated statistics keep every layer's output
near unit variance, as trained statistics would.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F


class _Binary(nn.Module):
    def __init__(self, op):
        super().__init__()
        self.op = op

    def forward(self, x, y):
        return self.op(x, y)


class _Mean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


class _Reshape(nn.Module):
    def forward(self, x):
        return x.reshape(6, 4)


def _image(c=3, hw=16):
    return torch.randn(1, c, hw, hw)


def conv():
    return nn.Conv2d(3, 8, 3, padding=1), (_image(),)


def conv_relu():
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU()), (_image(),)


def conv_hardtanh():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.Hardtanh(-1.0, 1.0)), (_image(),)


def dwconv():
    return nn.Sequential(nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.ReLU6()), (_image(8),)


def linear():
    return nn.Linear(16, 8), (torch.randn(2, 16),)


def linear_relu():
    return nn.Sequential(nn.Linear(16, 8), nn.ReLU()), (torch.randn(3, 16),)


def add():
    return _Binary(torch.add), (_image(4, 8), _image(4, 8))


def mul():
    return _Binary(torch.mul), (_image(4, 8), _image(4, 8))


def max_pool():
    """PT2E's XNNPACK quantizer quantizes a max pool only when its input is quantized (the pool
    shares its input's parameters): after a convolution."""
    return nn.Sequential(nn.Conv2d(4, 4, 1), nn.MaxPool2d(2)), (_image(4, 8),)


def mean():
    return nn.Sequential(nn.Conv2d(4, 4, 1), _Mean()), (_image(4, 8),)


def reshape():
    """A reshape alone is not quantized (it shares its input's parameters), nor is one whose
    result leaves the model: between two linears (1x1 convolutions over 6 rows), it is."""
    return nn.Sequential(nn.Linear(4, 4), _Reshape(), nn.Linear(4, 4)), (torch.randn(2, 3, 4),)


def avg_pool():
    """The quantizer quantizes an average pool after a convolution; this XNNPACK has no int8
    average pooling, so the export refuses it unless float fallback is allowed."""
    return nn.Sequential(nn.Conv2d(4, 4, 1), nn.AvgPool2d(2)), (_image(4, 8),)


def conv_block():
    """conv -> relu -> max pool -> conv -> add (residual) -> global mean -> flatten -> linear."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = nn.Conv2d(3, 8, 3, padding=1)
            self.c2 = nn.Conv2d(8, 8, 3, padding=1)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = F.max_pool2d(F.relu(self.c1(x)), 2)
            y = F.relu(self.c2(y) + y)
            return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))

    return Block(), (_image(),)


def _recalibrate_bn(model, shape, batches=8, seed=123):
    """Batch norm running statistics re-estimated (cumulative average) on random batches."""
    gen = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(shape, generator=gen))
    return model.eval()


def _torchvision(name):
    from xnnd.tv import import_torchvision
    torchvision = import_torchvision()

    shape = (1, 3, 224, 224)
    model = getattr(torchvision.models, name)(weights=None)
    model = _recalibrate_bn(model, (4,) + shape[1:])
    return model, (torch.randn(shape),)


def mobilenet_v2():
    return _torchvision("mobilenet_v2")


def resnet18():
    return _torchvision("resnet18")



def deconv_relu():
    """The quantizer quantizes a transposed convolution + relu; xnnd has no int8 lowering of a
    transposed convolution, so the export names it and fails unless float fallback is allowed."""
    return nn.Sequential(nn.ConvTranspose2d(4, 4, 2, stride=2), nn.ReLU()), (_image(4, 8),)
