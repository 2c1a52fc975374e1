"""Lucic et al. 2018's InfoGAN-style networks (their Table 7), sized for any H, W divisible by 4.

`width` scales every layer (1 = the paper's sizes); tests use small widths to stay fast.

G: fc1024-BN-ReLU, fc(128*H/4*W/4)-BN-ReLU, deconv64(4x4, /2)-BN-ReLU, deconv C(4x4, /2)-sigmoid.
D: conv64(4x4, /2)-lReLU, conv128(4x4, /2)-BN-lReLU, fc1024-BN-lReLU, fc1.
"""

from __future__ import annotations

import torch
from torch import nn


def _check(image_shape):
    c, h, w = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"InfoGAN-style networks need H and W divisible by 4, got {h}x{w}")
    return c, h // 4, w // 4


def _widths(width: float) -> tuple[int, int, int]:
    return max(1, round(1024 * width)), max(1, round(128 * width)), max(1, round(64 * width))


class InfoGANGenerator(nn.Module):
    def __init__(self, image_shape, z_dim: int = 64, width: float = 1.0):
        super().__init__()
        c, h4, w4 = _check(image_shape)
        fc, c128, c64 = _widths(width)
        self.z_dim, self.h4, self.w4, self.c128 = z_dim, h4, w4, c128
        self.fc = nn.Sequential(
            nn.Linear(z_dim, fc), nn.BatchNorm1d(fc), nn.ReLU(True),
            nn.Linear(fc, c128 * h4 * w4), nn.BatchNorm1d(c128 * h4 * w4), nn.ReLU(True),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(c128, c64, 4, 2, 1), nn.BatchNorm2d(c64), nn.ReLU(True),
            nn.ConvTranspose2d(c64, c, 4, 2, 1), nn.Sigmoid(),
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, self.c128, self.h4, self.w4))


class InfoGANDiscriminator(nn.Module):
    """Returns logits (N,); `batch_norm=False` drops its BN layers (a Lucic et al. search dimension)."""

    def __init__(self, image_shape, batch_norm: bool = True, width: float = 1.0):
        super().__init__()
        c, h4, w4 = _check(image_shape)
        fc, c128, c64 = _widths(width)
        norm1d = (lambda n: nn.BatchNorm1d(n)) if batch_norm else (lambda n: nn.Identity())
        norm2d = (lambda n: nn.BatchNorm2d(n)) if batch_norm else (lambda n: nn.Identity())
        self.features = nn.Sequential(
            nn.Conv2d(c, c64, 4, 2, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(c64, c128, 4, 2, 1), norm2d(c128), nn.LeakyReLU(0.2, True),
            nn.Flatten(),
            nn.Linear(c128 * h4 * w4, fc), norm1d(fc), nn.LeakyReLU(0.2, True),
        )
        self.head = nn.Linear(fc, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


ARCHITECTURES = {"infogan": (InfoGANGenerator, InfoGANDiscriminator)}
