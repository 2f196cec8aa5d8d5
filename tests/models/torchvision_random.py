"""torchvision classification models with the parameters torchvision initializes to zero (ViT's
class token and zero-initialized head, biases, ...) redrawn at random, as FILE.py:NAME specs
where NAME is any torchvision.models builder. A model whose head starts at zero outputs all
zeros, which any runtime matches; this variant makes the comparison mean something.

Weights: torchvision's init after torch.manual_seed(0), then every all-zero floating-point
parameter or buffer (not running_var) becomes 0.02 * randn. Input: torch.randn of
$TORCHVISION_RANDOM_SHAPE (comma-separated, default 1,3,224,224) after torch.manual_seed(1)."""
import os

import torch


def _build(name):
    from xnnd.tv import import_torchvision
    torchvision = import_torchvision()
    builder = getattr(torchvision.models, name)

    def make():
        torch.manual_seed(0)
        model = builder(weights=None).eval()
        gen = torch.Generator().manual_seed(2)
        with torch.no_grad():
            for pname, t in list(model.named_parameters()) + list(model.named_buffers()):
                if t.is_floating_point() and not pname.endswith("running_var") and t.numel() \
                        and not t.abs().max():
                    t.copy_(0.02 * torch.randn(t.shape, generator=gen))
        shape = [int(d) for d in os.environ.get("TORCHVISION_RANDOM_SHAPE", "1,3,224,224").split(",")]
        torch.manual_seed(1)
        return model, (torch.randn(shape),)
    make.__name__ = name
    return make


def __getattr__(name):   # PEP 562: FILE.py:NAME looks NAME up here
    if name.startswith("_"):
        raise AttributeError(name)
    from xnnd.tv import import_torchvision
    torchvision = import_torchvision()
    if not callable(getattr(torchvision.models, name, None)):
        raise AttributeError(name)
    return _build(name)
