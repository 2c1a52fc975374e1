"""The networks every GAN game shares; `hp.arch` picks a pair, `width` scales every layer (tests use small
widths). Generators end in [0, 1] (the pipeline's image range). Discriminators return one raw output per image
and expose `features` + `head`, so a stabiliser such as minibatch discrimination slots in before the head.

infogan (default, Lucic et al. 2018 Table 7), for any H, W divisible by 4:
  G: fc1024-BN-ReLU, fc(128*H/4*W/4)-BN-ReLU, deconv64(4x4, /2)-BN-ReLU, deconvC(4x4, /2)-sigmoid.
  D: conv64(4x4, /2)-lReLU, conv128(4x4, /2)-BN-lReLU, fc1024-BN-lReLU, fc1.
dcgan (Radford et al. 2016 guidelines): all-convolutional, strided, BN, ReLU/Tanh G and LeakyReLU D; halves
  the size down to a 4x4..7x7 base, so 28x28 (7 -> 14 -> 28), 32x32 and 64x64 colour all fit.
mlp (Metz et al. 2017, the 2-D mixtures): two fully connected hidden layers of 128 units (x width) in both
  networks, as the authors' 2-D demo (github.com/poolio/unrolled_gan, checked 2026-12-02; it uses tanh, the paper
  itself is unchecked), with ReLU here; G ends linear, unbounded (points are not pixels),
  D's BN after each hidden layer only when disc_batch_norm. For 2-D points (data/mixtures.py); any shape works.
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


class Discriminator(nn.Module):
    """What every architecture's discriminator exposes: its features (the hybrids' encoders reuse them), their
    width and a head on them. Declared so the type checker sees these attributes, which nn.Module hides."""

    features: nn.Module
    feature_dim: int
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)


class InfoGANDiscriminator(Discriminator):
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
        self.feature_dim = fc
        self.head = nn.Linear(fc, 1)


def _dcgan_plan(image_shape, width: float) -> tuple[int, int, list[int]]:
    """(channels, base size, widths from the base up): one stride-2 layer per halving down to a 4..7 base."""
    c, h, w = image_shape
    if h != w:
        raise ValueError(f"DCGAN networks need square images, got {h}x{w}")
    base, ups = h, 0
    while base % 2 == 0 and base // 2 >= 4:
        base, ups = base // 2, ups + 1
    if ups < 1 or base > 7:
        raise ValueError(f"DCGAN networks need H = 4..7 x 2^k (28, 32, 64, ...), got {h}")
    widths = [max(1, round(64 * width * 2 ** i)) for i in reversed(range(ups))]  # e.g. 256, 128, 64
    return c, base, widths


class DCGANGenerator(nn.Module):
    def __init__(self, image_shape, z_dim: int = 64, width: float = 1.0):
        super().__init__()
        c, base, widths = _dcgan_plan(image_shape, width)
        self.z_dim = z_dim
        layers: list[nn.Module] = [nn.ConvTranspose2d(z_dim, widths[0], base, 1, 0, bias=False),
                                   nn.BatchNorm2d(widths[0]), nn.ReLU(True)]
        for a, b in zip(widths, widths[1:]):
            layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.ConvTranspose2d(widths[-1], c, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.net(z[:, :, None, None]) + 1) / 2  # tanh range -> the pipeline's [0, 1]


class DCGANDiscriminator(Discriminator):
    def __init__(self, image_shape, batch_norm: bool = True, width: float = 1.0):
        super().__init__()
        c, base, widths = _dcgan_plan(image_shape, width)
        widths = widths[::-1]  # 64, 128, 256: grows as the image shrinks
        layers: list[nn.Module] = [nn.Conv2d(c, widths[0], 4, 2, 1), nn.LeakyReLU(0.2, True)]  # no BN on input
        for a, b in zip(widths, widths[1:]):
            layers += [nn.Conv2d(a, b, 4, 2, 1, bias=not batch_norm),
                       nn.BatchNorm2d(b) if batch_norm else nn.Identity(), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.feature_dim = widths[-1] * base * base
        self.head = nn.Linear(self.feature_dim, 1)  # = a base x base convolution to one output


class MLPGenerator(nn.Module):
    def __init__(self, image_shape, z_dim: int = 64, width: float = 1.0):
        super().__init__()
        hidden = max(1, round(128 * width))
        self.image_shape, self.z_dim = tuple(image_shape), z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(True), nn.Linear(hidden, hidden), nn.ReLU(True),
                                 nn.Linear(hidden, int(torch.tensor(image_shape).prod())))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, *self.image_shape)


class MLPDiscriminator(Discriminator):
    def __init__(self, image_shape, batch_norm: bool = True, width: float = 1.0):
        super().__init__()
        hidden = max(1, round(128 * width))
        norm = (lambda n: nn.BatchNorm1d(n)) if batch_norm else (lambda n: nn.Identity())
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(int(torch.tensor(image_shape).prod()), hidden),
                                      norm(hidden), nn.ReLU(True), nn.Linear(hidden, hidden), norm(hidden),
                                      nn.ReLU(True))
        self.feature_dim = hidden
        self.head = nn.Linear(hidden, 1)


class MinibatchDiscrimination(nn.Module):
    """Salimans et al. 2016: each sample's closeness to the rest of its batch, appended to its features, so the
    discriminator can see a collapsed batch. L1 distances between B projected kernels of size C."""

    def __init__(self, in_features: int, kernels: int = 50, kernel_dim: int = 5):
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim
        self.T = nn.Parameter(torch.randn(in_features, kernels * kernel_dim) * 0.1)
        self.out_features = in_features + kernels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = (x @ self.T).view(-1, self.kernels, self.kernel_dim).transpose(0, 1)  # (B, N, C)
        # L1 distances per kernel; cdist is 2.3x faster than broadcasting (N, N, B, C) (one core, N=256, B=10)
        dist = torch.cdist(m, m, p=1)  # (B, N, N)
        closeness = torch.exp(-dist).sum(2) - 1  # minus each sample's match with itself
        return torch.cat([x, closeness.transpose(0, 1)], 1)


def add_minibatch_discrimination(disc: Discriminator, kernels: int, kernel_dim: int) -> None:
    mbd = MinibatchDiscrimination(disc.feature_dim, kernels, kernel_dim)
    disc.head = nn.Sequential(mbd, nn.Linear(mbd.out_features, 1))


ARCHITECTURES: dict[str, tuple[type[nn.Module], type[Discriminator]]] = {
    "infogan": (InfoGANGenerator, InfoGANDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "mlp": (MLPGenerator, MLPDiscriminator),
}
