"""Pixel likelihoods shared by the likelihood-based families, and the units papers report them in.

Images arrive as float [0, 1] (the pipeline's 8-bit pixels / 255). Binarised MNIST, the benchmark of the
PixelCNN/PixelRNN/IWAE papers, draws each pixel from Bernoulli(intensity): dynamically while training, with a
fixed seed for the test set so every model is scored on the same bits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from components.metric_specs import spec

LN2 = math.log(2.0)


def binarize(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    return torch.bernoulli(x.float().clamp(0, 1), generator=rng).to(x.dtype)


def fixed_binarization(x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The test set's one binarisation (same bits for every model and run)."""
    g = torch.Generator(device=x.device).manual_seed(seed)
    return binarize(x, g)


def bernoulli_log_prob(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log p(x) per image (sum over pixels), x in {0, 1}."""
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


TINY_BIN = 1e-5  # below this bin probability, the density at the bin's centre times its width stands in for it


def logistic_bin_log_prob(mean: torch.Tensor, log_scale: torch.Tensor, x: torch.Tensor,
                          levels: int = 256) -> torch.Tensor:
    """log P(x's bin), elementwise, for x in [0, 1] under a logistic discretised into `levels` bins (Salimans et al.
    2017): the edge bins take the tails, so the bins sum to 1. A bin whose probability is below TINY_BIN (the
    difference of two CDFs loses its digits there, and a clamp would zero the gradient) takes the density at its
    centre times its width, as in PixelCNN++'s code; so the bins then sum to 1 within TINY_BIN each."""
    dtype = torch.promote_types(mean.dtype, torch.float32)  # a difference of CDFs has no digits left in bf16
    mean, log_scale, x = mean.to(dtype), log_scale.to(dtype).clamp(min=-7.0), x.to(dtype)
    half = 0.5 / (levels - 1)
    inv = torch.exp(-log_scale)
    centred = x - mean
    upper, lower = inv * (centred + half), inv * (centred - half)
    log_cdf_up = upper - F.softplus(upper)  # log sigmoid(upper): the lowest bin
    log_one_minus_cdf_lo = -F.softplus(lower)  # log (1 - sigmoid(lower)): the highest bin
    delta = torch.sigmoid(upper) - torch.sigmoid(lower)
    mid = inv * centred
    log_density_times_width = mid - log_scale - 2 * F.softplus(mid) + math.log(2 * half)
    inner = torch.where(delta > TINY_BIN, torch.log(delta.clamp(min=1e-12)), log_density_times_width)
    return torch.where(x < half, log_cdf_up, torch.where(x > 1 - half, log_one_minus_cdf_lo, inner))


def discretized_logistic_log_prob(mean: torch.Tensor, log_scale: torch.Tensor, x: torch.Tensor,
                                  levels: int = 256) -> torch.Tensor:
    """log p(x) per image for 8-bit pixels under one discretised logistic a pixel channel."""
    return logistic_bin_log_prob(mean, log_scale, x, levels).flatten(1).sum(1)


class Categorical:
    """An autoregressive model's output per pixel channel: a categorical over `levels` values, its logits."""

    def __init__(self, levels: int):
        self.levels = self.params = levels

    def log_probs(self, out: torch.Tensor) -> torch.Tensor:
        """(N, levels, ...) unnormalised log-probabilities of every level (softmax normalises them)."""
        return out

    def log_prob(self, out: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        """log P(q) elementwise, q the integer levels (N, ...)."""
        return -F.cross_entropy(out, q, reduction="none")


class LogisticMixture:
    """PixelCNN++'s output (Salimans et al. 2017): per pixel channel, a mixture of `k` logistics discretised into
    `levels` bins, 3k numbers (mixture logits, means through a sigmoid into [0, 1], log scales). Neighbouring
    levels share probability, which a 256-way softmax must learn level by level. Channels of a colour pixel are
    conditioned by the masked network (each channel's group sees the earlier ones), not by the paper's linear
    coefficients."""

    def __init__(self, levels: int, k: int):
        self.levels, self.k, self.params = levels, k, 3 * k

    def _mixture(self, out: torch.Tensor, x: torch.Tensor, dim: int) -> torch.Tensor:
        """log P(x's bin) under the mixture whose 3k numbers lie on `dim` of out (x broadcast against it)."""
        logit, mean, log_scale = out.to(torch.promote_types(out.dtype, torch.float32)).chunk(3, dim=dim)
        per_component = logistic_bin_log_prob(torch.sigmoid(mean), log_scale, x, self.levels)
        return torch.logsumexp(per_component + F.log_softmax(logit, dim=dim), dim=dim)

    def log_probs(self, out: torch.Tensor) -> torch.Tensor:
        """(N, levels, ...) log-probabilities of every level, from out (N, 3k, ...)."""
        bins = torch.arange(self.levels, device=out.device, dtype=out.dtype) / (self.levels - 1)
        return self._mixture(out.unsqueeze(1), bins.view(1, -1, *[1] * (out.dim() - 1)), dim=2)

    def log_prob(self, out: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
        return self._mixture(out, (q.to(out.dtype) / (self.levels - 1)).unsqueeze(1), dim=1)


def bits_per_dim(nats_per_image: torch.Tensor | float, dims: int) -> float:
    return float(nats_per_image) / (dims * LN2)


class LikelihoodScored:
    """Mixin for families with a likelihood: their test bound or exact NLL joins the evaluation's metrics."""

    conditional: bool  # GenerativeModel's: whether the likelihoods are given the label

    def likelihood_metrics(self, images: torch.Tensor, labels: torch.Tensor, k: int, batch_size: int,
                           seed: int = 0) -> dict[str, float]:
        raise NotImplementedError

    def extra_metrics(self, images: torch.Tensor, labels: torch.Tensor, settings, seed: int) -> dict[str, float]:
        """The likelihoods on `images` (their count logged beside them); a class-conditional model's are
        log p(x | y), named `..._given_label` so they never sit in a column of unconditional ones."""
        m = self.likelihood_metrics(images, labels, settings.iwae_k, max(1, settings.batch_size // 5), seed=seed)
        if self.conditional:
            m = {(k if k == "iwae_k" else spec(k).named(given_label=True)): v for k, v in m.items()}
        return {**m, "likelihood_images": float(len(images))}
