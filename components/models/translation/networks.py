"""Zhu et al. 2017's networks, sized for the image: a ResNet generator (two stride-2 downsamplings, residual
blocks, two upsamplings; instance norm) and a PatchGAN discriminator whose depth follows the image size."""

from __future__ import annotations

import math

from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch), nn.ReLU(True),
            nn.ReflectionPad2d(1), nn.Conv2d(ch, ch, 3), nn.InstanceNorm2d(ch),
        )

    def forward(self, x):
        return x + self.body(x)


def resnet_generator(in_ch: int, out_ch: int, width: int, blocks: int) -> nn.Sequential:
    """c7s1-w, d2w, d4w, blocks x R4w, u2w, uw, c7s1-out (Tanh). Image sides must be divisible by 4."""
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(in_ch, width, 7), nn.InstanceNorm2d(width), nn.ReLU(True)]
    ch = width
    for _ in range(2):
        layers += [nn.Conv2d(ch, ch * 2, 3, 2, 1), nn.InstanceNorm2d(ch * 2), nn.ReLU(True)]
        ch *= 2
    layers += [ResidualBlock(ch) for _ in range(blocks)]
    for _ in range(2):
        layers += [nn.ConvTranspose2d(ch, ch // 2, 3, 2, 1, output_padding=1), nn.InstanceNorm2d(ch // 2),
                   nn.ReLU(True)]
        ch //= 2
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(ch, out_ch, 7), nn.Tanh()]
    return nn.Sequential(*layers)


def patch_layers(image_size: int) -> int:
    """Stride-2 layers of the PatchGAN: 3 (the 70x70 PatchGAN) from 64 px up, fewer for small images so the
    patch grid stays at least ~3x3."""
    return max(1, min(3, int(math.log2(max(image_size, 2) / 8))))


def patch_discriminator(in_ch: int, width: int, n_layers: int) -> nn.Sequential:
    """C(w)-C(2w)-...: n_layers stride-2 convs, one stride-1 conv, then a 1-channel map of per-patch scores."""
    layers = [nn.Conv2d(in_ch, width, 4, 2, 1), nn.LeakyReLU(0.2, True)]
    ch = width
    for i in range(1, n_layers + 1):
        nxt = width * min(2 ** i, 8)
        stride = 2 if i < n_layers else 1
        layers += [nn.Conv2d(ch, nxt, 4, stride, 1), nn.InstanceNorm2d(nxt), nn.LeakyReLU(0.2, True)]
        ch = nxt
    layers += [nn.Conv2d(ch, 1, 4, 1, 1)]
    return nn.Sequential(*layers)
