"""Transformer models for end-to-end tests, as FILE.py:FUNCTION specs for `xnnd export`.

Each function returns (module, example_inputs) with fixed-seed random weights, in eval mode.

In eval mode with grad disabled, nn.TransformerEncoderLayer takes PyTorch's fused fast path
(aten._transformer_encoder_layer_fwd), which has no IR op. The exporter traces the decomposed
path instead: python/xnnd/trace.py disables the fast path for the duration of the trace
(see trace.decomposed_transformer)."""
import torch
import torch.nn as nn


def encoder_layer():
    """nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True) on [1, 64, 256]."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=256, nhead=4, batch_first=True).eval()
    return layer, (torch.randn(1, 64, 256),)


def encoder_layer_gelu_norm_first():
    """Pre-norm variant with GELU on a smaller input: [2, 16, 64], d_model 64, 2 heads."""
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(d_model=64, nhead=2, dim_feedforward=128,
                                       activation="gelu", batch_first=True,
                                       norm_first=True).eval()
    return layer, (torch.randn(2, 16, 64),)
