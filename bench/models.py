"""The benchmark's model set, and its own models as FILE.py:FUNCTION specs for `xnnd export`.

Importable without torch (the registry is plain data); the spec functions and load() import it
lazily. Every engine builds a model from the same spec with the same seed, so weights and
inputs are identical across engines (load() follows the recipe of xnnd export's load_spec).
"""

import importlib.util
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONVNEXT_FILE = "tests/models/convnext_block.py"
# torchvision models with the parameters torchvision initializes to zero redrawn at random:
# with torchvision's own init, vit_b_16's head is zero and mobilenet_v2's outputs are ~1e-9,
# so an output check (and int8 calibration) would mean nothing.
TV = "tests/models/torchvision_random.py:"
POINTWISE_PASS = "pointwise-affine"
TORCHVISION_INPUT = (1, 3, 224, 224)


def transformer():
    """nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True) on [1, 64, 256]."""
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True).eval()
    return layer, (torch.randn(1, 64, 256),)


def bert_encoder(layers=12, hidden=768, heads=12, seq=128, ffn=3072):
    """A BERT-base-like encoder: 12 post-norm layers, hidden 768, 12 heads, FFN 3072 with GELU,
    on hidden states [1, 128, 768] (the embedding lookup and attention mask are left out: they
    are a gather and an add, not where the time goes). Attention is written out with linear,
    matmul and softmax, as BERT implementations do, so every exporter sees plain ops."""
    import torch
    import torch.nn as nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(hidden, hidden)
            self.k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, hidden)
            self.out = nn.Linear(hidden, hidden)
            self.norm1 = nn.LayerNorm(hidden)
            self.up = nn.Linear(hidden, ffn)
            self.act = nn.GELU()
            self.down = nn.Linear(ffn, hidden)
            self.norm2 = nn.LayerNorm(hidden)

        def forward(self, x):
            b, s, _ = x.shape
            d = hidden // heads

            def split(t):
                return t.view(b, s, heads, d).transpose(1, 2)

            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / d ** 0.5)
            ctx = torch.matmul(torch.softmax(scores, dim=-1), v)
            ctx = ctx.transpose(1, 2).reshape(b, s, hidden)
            x = self.norm1(x + self.out(ctx))
            return self.norm2(x + self.down(self.act(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList(Layer() for _ in range(layers))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    torch.manual_seed(0)
    model = Encoder().eval()
    return model, (torch.randn(1, seq, hidden),)


def load(spec, seed=0):
    """(module in eval mode, example inputs) for SPEC, the way `xnnd export --seed SEED` builds
    it: torchvision:NAME is torchvision.models.NAME(weights=None) after torch.manual_seed(seed)
    with a randn 1x3x224x224 input after manual_seed(seed + 1); FILE.py:FUNCTION is FUNCTION()
    after manual_seed(seed)."""
    import torch

    kind, _, rest = spec.partition(":")
    if kind == "torchvision":
        from xnnd.tv import import_torchvision

        builder = getattr(import_torchvision().models, rest)
        torch.manual_seed(seed)
        module = builder(weights=None)
        torch.manual_seed(seed + 1)
        inputs = (torch.randn(TORCHVISION_INPUT),)
    else:
        path, _, func = spec.rpartition(":")
        full = path if os.path.isabs(path) else os.path.join(REPO, path)
        mod_spec = importlib.util.spec_from_file_location("bench_spec_%d" % abs(hash(full)), full)
        mod = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(mod)
        torch.manual_seed(seed)
        module, inputs = getattr(mod, func)()
    return module.eval(), tuple(inputs)


class Model:
    """One benchmark row group.

    name       key for --models
    spec       SPEC for every engine (torchvision:NAME or FILE.py:FUNCTION, relative to the repo)
    precision  "fp32", or "int8" (static, per-channel weights, calibrated on 4 random batches)
    peers      Python peers measured on this model (see bench/peer_*.py)
    xnnd       xnnd variants: (engine label, how) with how one of
                 "export"           `xnnd export SPEC`
                 "export-int8"      `xnnd export SPEC --quantize int8`
                 "lower"            `xnnd export --no-delegate` then `xnnd lower`
                 "lower-no-pointwise"  the same with `--disable pointwise-affine`
               The first variant is xnnd's figure in the ratios.
    default    part of the run when --models is not given
    needs      a repo file that must exist, else the model is skipped
    """

    def __init__(self, name, spec, precision="fp32", peers=None, xnnd=None, default=True,
                 needs=None):
        self.name = name
        self.spec = spec
        self.precision = precision
        self.peers = peers if peers is not None else (
            FP32_PEERS if precision == "fp32" else INT8_PEERS)
        self.xnnd = xnnd or [("xnnd", "export" if precision == "fp32" else "export-int8")]
        self.default = default
        self.needs = needs

    @property
    def base(self):
        """The fp32 row this int8 row is compared with (its name without _int8)."""
        return self.name[:-len("_int8")] if self.name.endswith("_int8") else None


FP32_PEERS = ["executorch", "onnxruntime", "litert", "torch"]
INT8_PEERS = ["executorch", "onnxruntime", "litert"]
TRANSFORMERS = ("vit_b_16", "bert_encoder", "transformer")

MODELS = [
    Model("mobilenet_v2", TV + "mobilenet_v2"),
    Model("mobilenet_v3_small", TV + "mobilenet_v3_small"),
    Model("mobilenet_v3_large", TV + "mobilenet_v3_large"),
    Model("resnet18", TV + "resnet18"),
    Model("resnet50", TV + "resnet50"),
    Model("efficientnet_b0", TV + "efficientnet_b0"),
    Model("vit_b_16", TV + "vit_b_16"),
    Model("bert_encoder", "bench/models.py:bert_encoder"),
    Model("mobilenet_v2_int8", TV + "mobilenet_v2", "int8"),
    Model("resnet18_int8", TV + "resnet18", "int8"),
    # Not in the default run: xnnd's own pass ablation and the small transformer layer.
    Model("convnext_block", CONVNEXT_FILE + ":block", peers=["torch"],
          xnnd=[("xnnd", "lower"), ("xnnd-no-pointwise", "lower-no-pointwise")],
          default=False, needs=CONVNEXT_FILE),
    Model("transformer", "bench/models.py:transformer", default=False),
]

QUICK = ["mobilenet_v2", "resnet18", "mobilenet_v2_int8"]


def by_name(names):
    """The models named in `names` (the default set when empty), in registry order; KeyError
    on an unknown name."""
    known = {m.name: m for m in MODELS}
    for n in names:
        if n not in known:
            raise KeyError(n)
    return [m for m in MODELS if (m.name in names if names else m.default)]
