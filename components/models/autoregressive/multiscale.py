"""The multi-scale model (van den Oord et al. 2016a, Sec. 3.5): an unconditional network draws a small image
subsampled from the full one, then a conditional network draws the full image's other pixels given it.

The small image s(x) keeps every `factor`-th pixel of every `factor`-th row, so it is part of x and

    log p(x) = log p_small(s(x)) + sum over the pixels not in s(x) of log p_full(x_i | x_<i, s(x))

is exact. The paper builds both networks from PixelRNN layers; here both are PixelCNNs (cheaper to train on two
cores). The small image, upsampled by repetition, enters the full network through three unmasked 3x3 layers: each
pixel reads the 7x7 of it around itself, rows below included, which is what a pixel-by-pixel model lacks.
"""

from __future__ import annotations

import torch

from components.errors import ConfigError
from components.models.autoregressive import sampling
from components.models.autoregressive.family import Autoregressive, PixelCNN, PixelCnnHp
from components.models.ranges import AtLeastOne
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class MultiScaleHp(PixelCnnHp):
    factor: AtLeastOne = 2  # the small image is (H / factor) x (W / factor)


class MultiScale(Autoregressive):
    grid: torch.Tensor

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        c, h, w = image_shape
        self.factor = f = hp.factor
        if f < 2 or h % f or w % f:
            raise ConfigError(f"multiscale: factor={f} must be 2 or more and divide the image's {h}x{w}")
        self.small = PixelCNN((c, h // f, w // f), num_classes, hp)
        self.full = PixelCNN(image_shape, num_classes, hp, context_channels=c)
        self.output = self.full.output
        grid = torch.zeros(h, w, dtype=torch.bool)
        grid[::f, ::f] = True
        self.register_buffer("grid", grid, persistent=False)  # the full image's pixels the small image holds

    def repeated(self, small_q: torch.Tensor) -> torch.Tensor:
        """The small image's levels at the full size, each repeated over its factor x factor block."""
        return small_q.repeat_interleave(self.factor, 2).repeat_interleave(self.factor, 3)

    def upsampled(self, small_q: torch.Tensor) -> torch.Tensor:
        """The small image, upsampled by repetition to the full size, as the full network reads it."""
        return self.as_input(self.repeated(small_q))

    def log_prob(self, q: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        small = q[:, :, ::self.factor, ::self.factor]
        full = self.full.output.log_prob(self.full.params(self.as_input(q), None, self.upsampled(small)), q)
        return self.small.log_prob(small, None) + full.masked_fill(self.grid, 0).flatten(1).sum(1)

    def draw_levels(self, n, rng, labels, like, cache, bar=None):
        """The small image, then the full image's other pixels given it (each from its network's cache, or from
        `cache` for both)."""
        small = self.small.draw_levels(n, rng, None, like, cache, bar)
        given = self.repeated(small)
        full_cache = (cache or self.full.sampling_cache)(self.full, n, None, like, context=self.as_input(given))
        return sampling.draw(self.full, full_cache, n, rng, bar, given=(self.grid, given))


register(Family("multiscale", MultiScale, MultiScaleHp(),
                "Multi-scale PixelCNN: a subsampled image, then the rest given it (van den Oord et al. 2016a)"))
