"""The benchmark's model set, and extra models as FILE.py:FUNCTION specs for `xnnd export`.

Importable without torch (the registry is plain data); the spec functions import it lazily.
Each entry is measured on xnnd and on its PyTorch peers with the same weights and inputs:
both sides build the module through xnnd's own `load_spec(SPEC, seed)`.
"""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONVNEXT_FILE = "tests/models/convnext_block.py"
POINTWISE_PASS = "pointwise-affine"


def transformer():
    """nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True) on [1, 64, 256]."""
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True).eval()
    return layer, (torch.randn(1, 64, 256),)


class Model:
    """One benchmark row group.

    name       key for --models
    spec       exporter SPEC (torchvision:NAME or FILE.py:FUNCTION, relative to the repo)
    precision  "fp32" or "int8"
    xnnd       xnnd variants: (engine label, how) with how one of
                 "export"           `xnnd export SPEC`
                 "export-int8"      `xnnd export SPEC --quantize int8` (if the exporter has it)
                 "lower"            `xnnd export --no-delegate` then `xnnd lower`
                 "lower-no-pointwise"  the same with `--disable pointwise-affine`
               The first variant is the reference of the row's ratios.
    peers      PyTorch engines (see torch_peers.ENGINES)
    needs      a repo file that must exist, else the model is skipped with a note
    """

    def __init__(self, name, spec, precision, xnnd, peers, needs=None):
        self.name = name
        self.spec = spec
        self.precision = precision
        self.xnnd = xnnd
        self.peers = peers
        self.needs = needs


FP32_PEERS = ["torch-eager", "torch-mobile"]

MODELS = [
    Model("mobilenet_v2", "torchvision:mobilenet_v2", "fp32", [("xnnd", "export")], FP32_PEERS),
    Model("mobilenet_v3_small", "torchvision:mobilenet_v3_small", "fp32", [("xnnd", "export")],
          FP32_PEERS),
    Model("resnet18", "torchvision:resnet18", "fp32", [("xnnd", "export")], FP32_PEERS),
    Model("mobilenet_v2_int8", "torchvision:mobilenet_v2", "int8",
          [("xnnd-int8", "export-int8")], ["torch-int8-qnnpack"]),
    Model("resnet18_int8", "torchvision:resnet18", "int8", [("xnnd-int8", "export-int8")],
          ["torch-int8-qnnpack"]),
    Model("convnext_block", CONVNEXT_FILE + ":block", "fp32",
          [("xnnd", "lower"), ("xnnd-no-pointwise", "lower-no-pointwise")], FP32_PEERS,
          needs=CONVNEXT_FILE),
    Model("transformer", "bench/models.py:transformer", "fp32", [("xnnd", "export")], FP32_PEERS),
]


def by_name(names):
    """The models named in `names` (all when empty), in registry order; KeyError on unknown."""
    known = {m.name: m for m in MODELS}
    for n in names:
        if n not in known:
            raise KeyError(n)
    return [m for m in MODELS if not names or m.name in names]
