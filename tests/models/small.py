"""Small models for end-to-end tests, as FILE.py:FUNCTION specs for `xnnd export`.

Each function returns (module, example_inputs) with fixed-seed random weights."""
import torch
import torch.nn as nn


def convnet():
    """conv-bn-relu, depthwise conv-bn-relu6, residual add, pooling, flatten, linear."""
    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
            self.bn = nn.BatchNorm2d(8)
            self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
            self.bn2 = nn.BatchNorm2d(8)
            self.pool = nn.MaxPool2d(3, 2, 1)
            self.fc = nn.Linear(8, 10)

        def forward(self, x):
            y = torch.relu(self.bn(self.conv(x)))
            z = nn.functional.relu6(self.bn2(self.dw(y)))
            y = self.pool(y + z)
            y = nn.functional.adaptive_avg_pool2d(y, 1)
            return self.fc(torch.flatten(y, 1))

    net = Net().eval()
    for bn in (net.bn, net.bn2):  # non-trivial statistics so folding is exercised
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    return net, (torch.randn(1, 3, 16, 16),)
