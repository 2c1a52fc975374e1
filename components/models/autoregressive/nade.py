"""NADE (Larochelle & Murray 2011): the neural autoregressive distribution estimator over binary pixels in raster
order. Every conditional p(x_d = 1 | x_<d) = sigmoid(b_d + V_d . h_d), with h_d = sigmoid(c + W_<d x_<d): the
hidden layers share W, so all D of them cost O(DH) together (a running sum adds one column of W per pixel)
instead of O(D^2 H). The likelihood is exact; sampling draws pixel by pixel, each pixel one O(H) update.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import nn

from components.errors import ConfigError
from components.models import likelihoods as lik
from components.models.autoregressive.family import Autoregressive
from components.models.ranges import AtLeastOne, LearningRate, Positive
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class NadeHp:
    lr: LearningRate = 1e-3  # Adam here; the paper trains by SGD (learning rate and decay searched, unchecked)
    hidden: AtLeastOne = 500  # H, the paper's binarised-MNIST model (unchecked)
    width: Positive = 1.0
    levels: Literal[2] = 2  # binary pixels: NADE's conditionals are Bernoulli


BLOCK = 28  # pixels whose hidden inputs are formed together: 5x faster to train than one (N, D, H) running sum
# (benchmarks/likelihood_table.py's NADE: 0.22 against 1.08 s a step at batch 100, the tensors staying in cache)


class NadeCache:
    """Ancestral sampling carrying h's input from pixel to pixel: one O(H) update a pixel (sampling.PixelCache)."""

    def __init__(self, model: NADE, n: int, labels: torch.Tensor | None, like: torch.Tensor):
        self.m = model
        self.channels, _, self.width = model.image_shape
        self.pre = model.c.expand(n, -1).clone()  # h's input before the current pixel
        self.d = -1

    def row(self, r: int) -> None:
        self.r = r

    def _start(self, col: int) -> slice:
        d = (self.r * self.width + col) * self.channels
        if d != self.d:  # a new pixel: every d before it is drawn
            self.d, self.before = d, self.pre
        return slice(d, d + self.channels)

    def logits(self, col: int) -> torch.Tensor:
        ds = self._start(col)
        logit = torch.sigmoid(self.pre) @ self.m.V[ds].t() + self.m.b[ds]  # (N, C)
        return torch.stack([torch.zeros_like(logit), logit], 1)

    def put(self, col: int, pixel: torch.Tensor) -> None:
        self.pre = self.before + pixel @ self.m.W[:, self._start(col)].t()


class NADE(Autoregressive):
    sampling_cache = NadeCache

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.dims = math.prod(image_shape)
        if self.dims > 65_536:  # W and V hold 2DH weights: 65M at H = 500, and training holds an (N, D, H) tensor
            raise ConfigError(f"nade models up to 65,536 binary pixels, not {self.dims} (image {image_shape})")
        self.W = nn.Parameter(torch.randn(self.hidden, self.dims) * 0.01)  # x_<d -> h_d, shared by every d
        self.c = nn.Parameter(torch.zeros(self.hidden))
        self.V = nn.Parameter(torch.randn(self.dims, self.hidden) * 0.01)  # h_d -> the logit of x_d
        self.b = nn.Parameter(torch.zeros(self.dims))

    def conditional_logits(self, x: torch.Tensor) -> torch.Tensor:
        """(N, D') logits of p(x_d = 1 | x_<d) for binary x (N, D'), the first D' <= D pixels: h_d's input is the
        sum over d' < d of x_d' W[:, d'], formed a block of pixels at a time (a masked product within the block
        plus a running sum over the blocks before it): O(DH) a pixel, never an (N, D, H) tensor at once."""
        before = self.c.expand(len(x), -1)  # h's input from the pixels before the block
        out = []
        for s in range(0, x.shape[1], BLOCK):
            block = slice(s, min(s + BLOCK, x.shape[1]))
            xs, ws = x[:, block], self.W[:, block]
            within = torch.tril(xs.unsqueeze(1).expand(-1, xs.shape[1], -1), -1)  # row d: the block's x_<d
            pre = before.unsqueeze(1) + within @ ws.t()  # (N, block, H): h_d's input, x_<d only
            out.append(torch.einsum("nbh,bh->nb", torch.sigmoid(pre), self.V[block]) + self.b[block])
            before = before + xs @ ws.t()
        return torch.cat(out, 1)

    @classmethod
    def output_for(cls, hp) -> lik.Categorical:
        return lik.Categorical(2)

    def params(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """As every autoregressive family: (N, 2, C, H, W), the Bernoulli's logit as a two-level categorical,
        d running in the pipeline's raster order (row, column, then channel); x may be the image's first rows."""
        logit = self.conditional_logits(x.permute(0, 2, 3, 1).flatten(1))
        logit = logit.view(len(x), *x.shape[2:], x.shape[1]).permute(0, 3, 1, 2)
        return torch.stack([torch.zeros_like(logit), logit], 1)


register(Family("nade", NADE, NadeHp(), "NADE: exact likelihood from shared-weight autoregressive hidden layers "
                                        "(Larochelle & Murray 2011)"))
