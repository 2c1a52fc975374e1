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


def discretized_logistic_log_prob(mean: torch.Tensor, log_scale: torch.Tensor, x: torch.Tensor,
                                  levels: int = 256) -> torch.Tensor:
    """log p(x) per image for 8-bit pixels under a logistic discretised into `levels` bins on [0, 1]
    (Salimans et al. 2017, one component); the edge bins take the tails, so the bins sum to 1."""
    half = 0.5 / (levels - 1)
    inv = torch.exp(-log_scale.clamp(min=-7.0))
    upper, lower = inv * (x - mean + half), inv * (x - mean - half)
    cdf_up, cdf_lo = torch.sigmoid(upper), torch.sigmoid(lower)
    log_cdf_up = upper - F.softplus(upper)  # log sigmoid(upper): the lowest bin
    log_one_minus_cdf_lo = -F.softplus(lower)  # log (1 - sigmoid(lower)): the highest bin
    mid = torch.log((cdf_up - cdf_lo).clamp(min=1e-12))
    logp = torch.where(x < half, log_cdf_up, torch.where(x > 1 - half, log_one_minus_cdf_lo, mid))
    return logp.flatten(1).sum(1)


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
