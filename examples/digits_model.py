"""A small CNN trained on scikit-learn's 8x8 handwritten digits.

The data set ships inside scikit-learn (no download). train() is seeded and takes a few seconds
on 2 cores. The network has what the passes work on: convolutions with batch norm (conv+bn
fold), ReLU6 (clamp fusion), and a pointwise block -- nn.Linear over the channel axis of an
NHWC permute (pointwise affine -> 1x1 convolution).

Spec for `xnnd export`: examples/digits_model.py:model (trained module, the held-out test
images as one batch).
"""

from __future__ import annotations

import torch
import torch.nn as nn

SEED = 0
TEST_FRACTION = 0.2


class DigitsNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16),
                                  nn.ReLU6())
        self.down = nn.Sequential(nn.Conv2d(16, 32, 3, stride=2, padding=1, bias=False),
                                  nn.BatchNorm2d(32), nn.ReLU6())
        self.pointwise = nn.Linear(32, 32)     # over channels: a 1x1 convolution in disguise
        self.act = nn.ReLU6()
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.down(self.stem(x))
        y = self.act(self.pointwise(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2))
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))


def load_data(seed: int = SEED) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """(x_train, y_train, x_test, y_test): images N x 1 x 8 x 8 scaled to [0, 1], a seeded
    split with TEST_FRACTION held out."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    n_test = int(len(y) * TEST_FRACTION)
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def train(seed: int = SEED, epochs: int = 30) -> tuple[nn.Module, tuple]:
    """The trained network (eval mode) and (x_test, y_test)."""
    x_train, y_train, x_test, y_test = load_data(seed)
    torch.manual_seed(seed)
    net = DigitsNet()
    opt = torch.optim.Adam(net.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(seed + 1)
    for _ in range(epochs):
        net.train()
        for idx in torch.randperm(len(y_train), generator=gen).split(64):
            opt.zero_grad()
            loss = nn.functional.cross_entropy(net(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
    return net.eval(), (x_test, y_test)


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    return float((logits.argmax(1) == labels).float().mean())


def model() -> tuple[nn.Module, tuple]:
    """`xnnd export` spec: the trained network and the held-out images as its example input."""
    net, (x_test, _) = train()
    return net, (x_test,)
