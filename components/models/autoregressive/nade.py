"""NADE (Larochelle & Murray 2011): the neural autoregressive distribution estimator over binary pixels in raster
order. Every conditional p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d), with h_d = sigmoid(c + W_<d x_<d): the
hidden layers share W, so all D of them cost O(DH) together (a running sum adds one column of W per pixel)
instead of O(D^2 H). The likelihood is exact; sampling draws pixel by pixel but each pixel costs one O(H) update,
not a network pass, so NADE is sampled like any other family.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from components.errors import ConfigError
from components.models.autoregressive.family import Autoregressive
from components.models.ranges import AtLeastOne, LearningRate, Positive
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class NadeHp:
    lr: LearningRate = 1e-3  # Adam here; the paper trains by SGD (learning rate and decay searched, unchecked)
    hidden: AtLeastOne = 500  # H, the paper's binarised-MNIST model (unchecked)
    width: Positive = 1.0
    levels: Literal[2] = 2  # binary pixels: NADE's conditionals are Bernoulli


class NADE(Autoregressive):
    pixel_by_pixel = False  # one O(H) update a pixel: as fast to sample as a decoder

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.dims = math.prod(image_shape)
        if self.dims > 65_536:
            raise ConfigError(f"nade models up to 65,536 binary pixels, not {self.dims} (image {image_shape})")
        self.W = nn.Parameter(torch.randn(self.hidden, self.dims) * 0.01)  # x_<d -> h_d, shared by every d
        self.c = nn.Parameter(torch.zeros(self.hidden))
        self.V = nn.Parameter(torch.randn(self.dims, self.hidden) * 0.01)  # h_d -> the logit of x_d
        self.b = nn.Parameter(torch.zeros(self.dims))

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D) logits of p(x_d = 1 | x_<d) for binary x (N, D): every h_d's input at once, as the exclusive
        running sum over d of x_d W[:, d]."""
        terms = x.unsqueeze(2) * self.W.t().unsqueeze(0)  # (N, D, H): pixel d's contribution to the later h
        pre = terms.cumsum(1) - terms + self.c  # h_d sees x_<d only
        return (torch.sigmoid(pre) * self.V).sum(2) + self.b

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """As every autoregressive family: (N, 2, C, H, W), the Bernoulli's logit as a two-level categorical."""
        logit = self.conditional_logits(x.flatten(1))
        return torch.stack([torch.zeros_like(logit), logit], 1).view(len(x), 2, *self.image_shape)

    @torch.no_grad()
    def sample(self, n, rng, labels=None, progress: bool = False):
        """Ancestral sampling in raster order, carrying h's input from pixel to pixel."""
        was = self.training
        self.eval()
        try:
            pre = self.c.expand(n, -1).clone()
            x = torch.zeros(n, self.dims, device=pre.device)
            for d in range(self.dims):
                p = torch.sigmoid(torch.sigmoid(pre) @ self.V[d] + self.b[d])
                x[:, d] = torch.bernoulli(p, generator=rng)
                pre += x[:, d:d + 1] * self.W[:, d]
        finally:
            self.train(was)
        return x.view(n, *self.image_shape)


register(Family("nade", NADE, NadeHp(), "NADE: exact likelihood from shared-weight autoregressive hidden layers "
                                        "(Larochelle & Murray 2011)"))
