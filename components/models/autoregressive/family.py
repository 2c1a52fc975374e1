"""Autoregressive families with exact likelihoods: `pixelcnn` (masked convolutions, van den Oord et al. 2016a),
`gatedpixelcnn` (vertical + horizontal stacks, class-conditional, 2016b) and `pixelrnn` (Row LSTM, 2016a).

Each pixel channel is a categorical over `levels` values (or, at 8 bits, PixelCNN++'s mixture of discretised
logistics: `likelihood=logistic_mixture`): 2 is binarised MNIST (the papers' NLL benchmark,
in nats per image), 256 the 8-bit images (bits/dim, as for CIFAR-10). Sampling draws pixel by pixel, each
layer computing one new position a pixel from its cache (sampling.py).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from components import progress
from components.errors import ConfigError
from components.models import likelihoods as lik
from components.models.autoregressive import sampling
from components.models.autoregressive.layers import GatedLayer, MaskedConv2d, RowLSTM
from components.models.base import GenerativeModel, StepContext
from components.models.ranges import AtLeastOne, LearningRate, Levels, OddKernel, Positive
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class PixelCnnHp:
    levels: Levels = 2  # 2 = binarised pixels, 256 = 8-bit
    # each pixel channel's distribution over its levels: a softmax, or PixelCNN++'s mixture of discretised logistics
    likelihood: Literal["categorical", "logistic_mixture"] = "categorical"
    mixtures: AtLeastOne = 5  # logistic_mixture's components (PixelCNN++: 10 on CIFAR-10)
    lr: LearningRate = 1e-3
    hidden: AtLeastOne = 32
    layers: AtLeastOne = 5
    width: Positive = 1.0


@hyperparameters
class GatedPixelCnnHp(PixelCnnHp):
    kernel: OddKernel = 3
    conditional: bool = True


@hyperparameters
class PixelRnnHp(PixelCnnHp):
    layers: AtLeastOne = 2


class Autoregressive(lik.LikelihoodScored, GenerativeModel):
    kind = "autoregressive"
    pixel_by_pixel = True
    conditional = False  # only the gated variant takes labels (its hp.conditional)

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.levels = hp.levels  # 2..256, checked where the configuration is loaded (models/ranges.py)
        self.hidden = max(1, round(hp.hidden * hp.width))
        self.output = self.output_for(hp)

    @classmethod
    def output_for(cls, hp) -> lik.Categorical | lik.LogisticMixture:
        if hp.likelihood == "categorical":
            return lik.Categorical(hp.levels)
        if hp.levels < 3:
            raise ConfigError(f"family.{cls.__name__.lower()}.likelihood=logistic_mixture spreads a pixel over "
                              f"ordered levels; levels={hp.levels} is a Bernoulli: use categorical, or levels=256")
        return lik.LogisticMixture(hp.levels, hp.mixtures)

    # subclasses: the output distribution's numbers for every pixel channel given the (causally masked) image,
    # (N, output.params, C, H, W)
    def params(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None, *context: torch.Tensor) -> torch.Tensor:
        """(N, levels, C, H, W): every pixel channel's unnormalised log-probabilities of every level."""
        return self.output.log_probs(self.params(x, labels, *context))

    def quantize(self, images: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
        """Targets as integer levels: a Bernoulli draw per pixel for 2 levels, rounding otherwise."""
        if self.levels == 2:
            return (lik.binarize(images, rng) if rng is not None else lik.fixed_binarization(images)).long()
        return (images.clamp(0, 1) * (self.levels - 1)).round().long()

    def as_input(self, q: torch.Tensor) -> torch.Tensor:
        """Integer levels as the network reads them, [0, 1] in the parameters' dtype."""
        return q.to(next(self.parameters()).dtype) / (self.levels - 1)

    def log_prob(self, q: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Exact log p(x) per image in nats: the sum of every pixel channel's conditional."""
        return self.output.log_prob(self.params(self.as_input(q), labels), q).flatten(1).sum(1)

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            q = self.quantize(images, ctx.rng)
            nll = -self.log_prob(q, labels if self.conditional else None)
            loss = nll.mean() / math.prod(self.image_shape)  # nats per dim: the same lr fits any image size
        ctx.update(loss, "model")
        return {"loss": loss.detach(), "nll_bits_per_dim": loss.detach() / lik.LN2}

    def configure_optimizers(self, fused: bool = False):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.hp.lr, fused=fused or None)}

    @torch.no_grad()
    def likelihood_metrics(self, images, labels, k: int, batch_size: int, seed: int = 0) -> dict[str, float]:
        """Exact test NLL (k is unused: there is nothing to bound); a class-conditional model's given its label."""
        return self._nll(images, batch_size, seed, lambda q, y: self.log_prob(q, y if self.conditional else None),
                         labels)

    def extra_metrics(self, images, labels, settings, seed: int) -> dict[str, float]:
        """A class-conditional model adds log p(x) = log sum_y p(y) p(x | y), exact over its labels with p(y)
        uniform, so that it stands in the same column as the unconditional models' (its log p(x | y) is named
        `..._given_label`)."""
        m = super().extra_metrics(images, labels, settings, seed)
        if self.conditional:
            m.update(self._nll(images, max(1, settings.batch_size // 5), seed, self.marginal_log_prob, labels))
        return m

    def marginal_log_prob(self, q: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x) per image, summing p(x | y) over every label y at p(y) = 1 / num_classes."""
        per_label = torch.stack([self.log_prob(q, torch.full((len(q),), y, device=q.device))
                                 for y in range(self.num_classes)])
        return torch.logsumexp(per_label, 0) - math.log(self.num_classes)

    @torch.no_grad()
    def _nll(self, images, batch_size: int, seed: int, log_prob, labels) -> dict[str, float]:
        """The mean of -log_prob(q, labels) over `images` as the likelihoods score them, in nats and bits/dim."""
        self.eval()
        q = (lik.fixed_binarization(images, seed).long() if self.levels == 2 else self.quantize(images, None))
        try:
            nll = torch.cat([-log_prob(q[i:i + batch_size], labels[i:i + batch_size])
                             for i in progress.bar(range(0, len(q), batch_size), "likelihood")]).mean().item()
        finally:
            self.train()
        return {"test_nll_nats": nll, "test_nll_bits_per_dim": lik.bits_per_dim(nll, math.prod(self.image_shape))}

    sampling_cache: type = sampling.FullPass  # each family's: one forward pass an image (sampling.py)

    @torch.no_grad()
    def sample(self, n, rng, labels=None, progress: bool = False, cache: type | None = None):
        """Pixel by pixel from the family's sampling cache, or from `cache` (sampling.FullPass: the reference)."""
        was = self.training
        self.eval()
        c, h, w = self.image_shape
        if self.conditional and labels is None:
            labels = torch.randint(self.num_classes, (n,), generator=rng, device=rng.device)
        like = next(self.parameters()).new_zeros(n)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=h * w * c, desc=f"sample {type(self).__name__}", unit="px", mininterval=1.0)
        try:
            q = self.draw_levels(n, rng, labels, like, cache, bar)
        finally:
            if bar is not None:
                bar.close()
            self.train(was)
        return self.as_input(q).float()

    def draw_levels(self, n: int, rng: torch.Generator, labels: torch.Tensor | None, like: torch.Tensor,
                    cache: type | None, bar=None) -> torch.Tensor:
        """(n, C, H, W) integer levels drawn from the family's sampling cache, or from `cache`."""
        return sampling.draw(self, (cache or self.sampling_cache)(self, n, labels, like), n, rng, bar)

    def grouped(self, out: torch.Tensor) -> torch.Tensor:
        """(N, C * output.params, H, W), grouped by image channel -> (N, output.params, C, H, W)."""
        n, _, h, w = out.shape
        return out.view(n, self.image_shape[0], self.output.params, h, w).transpose(1, 2)


class PixelCNN(Autoregressive):
    """7x7 mask-A convolution, residual 3x3 mask-B layers, two 1x1 mask-B layers to per-channel logits."""

    sampling_cache = sampling.PixelCnnCache

    def __init__(self, image_shape, num_classes, hp, context_channels: int = 0):
        super().__init__(image_shape, num_classes, hp)
        c = image_shape[0]
        hid = math.ceil(self.hidden / c) * c  # feature maps split into one group per image channel
        self.inp = MaskedConv2d(c, hid, 7, "A", c)
        # an image each pixel reads around itself, unmasked (the multi-scale model's upsampled small image): three 3x3
        # layers, so a pixel sees the 7x7 around it, rows below included, added to the first layer's features
        self.context = nn.Sequential(nn.Conv2d(context_channels, hid, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(hid, hid, 3, padding=1), nn.ReLU(),
                                     nn.Conv2d(hid, hid, 3, padding=1)) if context_channels else None
        self.layers = nn.ModuleList(MaskedConv2d(hid, hid, 3, "B", c) for _ in range(hp.layers))
        self.out = nn.Sequential(nn.ReLU(), MaskedConv2d(hid, hid, 1, "B", c), nn.ReLU(),
                                 MaskedConv2d(hid, c * self.output.params, 1, "B", c))

    def params(self, x, labels=None, context=None):
        h = self.inp(x)
        if self.context is not None:
            h = h + self.context(context)[:, :, :x.shape[2]]  # x may be the first rows only
        for layer in self.layers:
            h = h + layer(F.relu(h))
        return self.grouped(self.out(h))


def _grayscale_only(name: str, image_shape) -> None:
    if image_shape[0] != 1:
        raise ConfigError(f"{name} models one channel (MNIST, Fashion-MNIST); use pixelcnn for colour images")


class GatedPixelCNN(Autoregressive):
    sampling_cache = sampling.GatedCache

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        _grayscale_only("gatedpixelcnn", image_shape)
        self.conditional = hp.conditional
        ncls = num_classes if self.conditional else 0
        self.inp = nn.Conv2d(1, self.hidden, 1)  # per-pixel embedding; the first layer's shifts hide the pixel
        k = hp.kernel  # the first layer is 7x7, as in the paper
        self.layers = nn.ModuleList(GatedLayer(self.hidden, 7 if i == 0 else k, i == 0, ncls)
                                    for i in range(hp.layers))
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(self.hidden, self.hidden, 1), nn.ReLU(),
                                 nn.Conv2d(self.hidden, self.output.params, 1))

    def params(self, x, labels=None):
        v = h = self.inp(x)
        for layer in self.layers:
            v, h = layer(v, h, labels if self.conditional else None)
        return self.grouped(self.out(h))


class PixelRNN(Autoregressive):
    """Mask-A 7x7 input convolution, Row LSTM layers with residual connections, 1x1 output layers."""

    sampling_cache = sampling.RowLstmCache

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        _grayscale_only("pixelrnn", image_shape)
        self.inp = MaskedConv2d(1, self.hidden, 7, "A")
        self.layers = nn.ModuleList(RowLSTM(self.hidden, self.hidden) for _ in range(hp.layers))
        self.proj = nn.ModuleList(nn.Conv2d(self.hidden, self.hidden, 1) for _ in self.layers)
        self.out = nn.Sequential(nn.ReLU(), nn.Conv2d(self.hidden, self.hidden, 1), nn.ReLU(),
                                 nn.Conv2d(self.hidden, self.output.params, 1))

    def params(self, x, labels=None):
        h = self.inp(x)
        for lstm, proj in zip(self.layers, self.proj):
            h = h + proj(lstm(h))
        return self.grouped(self.out(h))


register(Family("pixelcnn", PixelCNN, PixelCnnHp(), "PixelCNN, masked convolutions (van den Oord et al. 2016)"))
register(Family("gatedpixelcnn", GatedPixelCNN, GatedPixelCnnHp(),
                "Gated PixelCNN, two stacks, class-conditional (van den Oord et al. 2016)"))
register(Family("pixelrnn", PixelRNN, PixelRnnHp(), "PixelRNN, Row LSTM (van den Oord et al. 2016)"))
