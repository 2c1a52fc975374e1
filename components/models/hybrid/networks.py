"""What the hybrids add to a GAN's generator (gan/networks.py, picked by `hp.arch`): an encoder x -> code, a joint
discriminator D(x, z) and a code discriminator D(z). The image side of the encoder and of the joint discriminator
is the GAN discriminator's feature stack of the same arch: Lucic et al.'s InfoGAN layers for digits, the
two-layer MLP for 2-D points. So the hybrids and the GAN games share their generator and their view of x, and a
comparison isolates the method.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from components.models.gan.networks import ARCHITECTURES


def _hidden(arch: str, width: float) -> int:
    """Width of the layers on codes: 128 as the MLP networks (and VEEGAN's 2-D code), 512 beside conv features."""
    return max(1, round((128 if arch == "mlp" else 512) * width))


class Encoder(nn.Module):
    """x -> `out_dim` numbers (a code, or a Gaussian's mean and log-variance), on the GAN discriminator's features;
    `noise_dim` > 0 adds noise inputs after the features (AVB's implicit posterior q(z | x, eps))."""

    def __init__(self, image_shape, out_dim: int, arch: str, width: float, batch_norm: bool, noise_dim: int = 0):
        super().__init__()
        disc = ARCHITECTURES[arch][1](image_shape, batch_norm=batch_norm, width=width)
        self.features, self.noise_dim = disc.features, noise_dim
        hidden = _hidden(arch, width)
        self.head = nn.Linear(disc.feature_dim, out_dim) if not noise_dim else nn.Sequential(
            nn.Linear(disc.feature_dim + noise_dim, hidden), nn.LeakyReLU(0.2, True), nn.Linear(hidden, out_dim))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        f = self.features(x)
        return self.head(f if noise is None else torch.cat([f, noise], 1))


class JointDiscriminator(nn.Module):
    """D(x, z) -> one logit per pair (ALI/BiGAN's D, VEEGAN's D, AVB's adversary T). Images: x's conv features and
    z's joined by one hidden layer. 2-D points (arch mlp): x and z side by side into two hidden ReLU layers of
    128, as the `data_network` of VEEGAN's 2-D notebook (akashgit/VEEGAN, VEEGAN_2D_RING.ipynb: the join at the
    input is what a TF2 port of it shows; the widths and ReLU are from memory of the original, unchecked). With
    x's own two layers ahead of the join, as on images, VEEGAN on ring8 held 2 modes where this covers all 8
    (docs/results.md, issue 38)."""

    def __init__(self, image_shape, z_dim: int, arch: str, width: float, batch_norm: bool):
        super().__init__()
        hidden = _hidden(arch, width)
        self.pairs: nn.Module | None = None
        if arch == "mlp":
            self.pairs = nn.Sequential(nn.Linear(math.prod(image_shape) + z_dim, hidden), nn.ReLU(True),
                                       nn.Linear(hidden, hidden), nn.ReLU(True), nn.Linear(hidden, 1))
            return
        disc = ARCHITECTURES[arch][1](image_shape, batch_norm=batch_norm, width=width)
        self.x_features = disc.features
        self.z_features = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2, True))
        self.joint = nn.Sequential(nn.Linear(disc.feature_dim + hidden, hidden), nn.LeakyReLU(0.2, True),
                                   nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if self.pairs is not None:
            return self.pairs(torch.cat([x.flatten(1), z], 1)).squeeze(1)
        return self.joint(torch.cat([self.x_features(x), self.z_features(z)], 1)).squeeze(1)


class CodeDiscriminator(nn.Module):
    """D(z) -> one logit per code: two hidden LeakyReLU layers (the adversarial autoencoder's and α-GAN's)."""

    def __init__(self, z_dim: int, arch: str, width: float):
        super().__init__()
        hidden = _hidden(arch, width)
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.LeakyReLU(0.2, True), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(0.2, True), nn.Linear(hidden, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)
