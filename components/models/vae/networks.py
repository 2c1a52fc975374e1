"""Convolutional encoder/decoder for the VAE families, sized for any H, W divisible by 4 (28x28 MNIST, 32x32
colour); `width` scales the channels (tests use small widths). A condition (one-hot label) joins the flat
features of the encoder and the latent code of the decoder."""

from __future__ import annotations

import torch
from torch import nn


def _check(image_shape):
    c, h, w = image_shape
    if h % 4 or w % 4:
        raise ValueError(f"VAE networks need H and W divisible by 4, got {h}x{w}")
    return c, h // 4, w // 4


class Encoder(nn.Module):
    def __init__(self, image_shape, out_dim: int, cond_dim: int = 0, width: float = 1.0, hidden: int = 256):
        super().__init__()
        c, h4, w4 = _check(image_shape)
        c1, c2, hid = max(1, round(32 * width)), max(1, round(64 * width)), max(2, round(hidden * width))
        self.conv = nn.Sequential(nn.Conv2d(c, c1, 4, 2, 1), nn.ReLU(True), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(True),
                                  nn.Flatten())
        self.fc = nn.Sequential(nn.Linear(c2 * h4 * w4 + cond_dim, hid), nn.ReLU(True), nn.Linear(hid, out_dim))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        f = self.conv(x)
        return self.fc(f if cond is None else torch.cat([f, cond], 1))


class Decoder(nn.Module):
    def __init__(self, image_shape, in_dim: int, out_channels: int, width: float = 1.0, hidden: int = 256):
        super().__init__()
        c, h4, w4 = _check(image_shape)
        c1, c2, hid = max(1, round(32 * width)), max(1, round(64 * width)), max(2, round(hidden * width))
        self.c2, self.h4, self.w4 = c2, h4, w4
        self.fc = nn.Sequential(nn.Linear(in_dim, hid), nn.ReLU(True), nn.Linear(hid, c2 * h4 * w4), nn.ReLU(True))
        self.deconv = nn.Sequential(nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(True),
                                    nn.ConvTranspose2d(c1, out_channels, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.deconv(self.fc(z).view(-1, self.c2, self.h4, self.w4))


class GaussianMLP(nn.Module):
    """z -> (mean, log-variance) of a diagonal Gaussian: the hierarchical VAE's inner layers."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU(True), nn.Linear(hidden, 2 * out_dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.net(x).chunk(2, dim=1)
        return mean, logvar.clamp(-12, 8)
