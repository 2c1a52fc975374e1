"""What the six VAE-GAN hybrids share: the GAN's generator G (z -> x, gan/networks.py), an encoder E (x -> z), a
standard normal prior, Adam, and what an encoder makes possible: codes for serving (`encode`), reconstructions
as a grid, and the reconstruction error of test images as a metric. Each method is its own module beside this
one (ali.py, veegan.py, aae.py, avb.py, introvae.py, alphagan.py): its networks, its losses, cited at the code.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from components import progress
from components.data.mixtures import is_points
from components.models import likelihoods as lik
from components.models.base import GenerativeModel
from components.models.gan.networks import ARCHITECTURES
from components.models.hybrid.networks import Encoder
from components.models.ranges import AdamBeta, AtLeastOne, LearningRate, Positive
from components.models.registry import hyperparameters
from components.models.vae.family import gaussian_log_prob, reparameterize


@hyperparameters
class HybridHp:
    """Lucic et al.'s generator and the DCGAN optimiser (Adam lr 2e-4, beta1 0.5) unless a method's paper says
    otherwise at its `register` line; on 2-D points the MLP networks (defaults.POINTS_HP sets arch, lr, BN)."""

    arch: Literal["infogan", "mlp"] = "infogan"
    z_dim: AtLeastOne = 64
    lr: LearningRate = 2e-4
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999
    disc_batch_norm: bool = True  # batch norm in the encoder's and discriminators' x features
    width: Positive = 1.0
    points_sigma: Positive = 1.0  # sigma of the Gaussian p(x | z) on 2-D points, where a method has one (AVB, IntroVAE)


class Hybrid(GenerativeModel):
    kind = "hybrid"
    stochastic_encoder = False  # E(x) gives a Gaussian's (mean, log-variance) instead of a code

    def __init__(self, image_shape, num_classes, hp, encoder_noise: int = 0):
        super().__init__(image_shape, num_classes, hp)
        self.z_dim, self.points = hp.z_dim, is_points(image_shape)
        self.G = ARCHITECTURES[hp.arch][0](image_shape, hp.z_dim, width=hp.width)
        out = 2 * hp.z_dim if self.stochastic_encoder else hp.z_dim
        self.E = Encoder(image_shape, out, hp.arch, hp.width, hp.disc_batch_norm, noise_dim=encoder_noise)

    # --- pieces every method uses ---------------------------------------------------------------------------
    def prior(self, n: int, rng: torch.Generator) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=rng, device=rng.device)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, log-variance) of a stochastic encoder's q(z | x)."""
        mean, logvar = self.E(x).chunk(2, dim=1)
        return mean, logvar.clamp(-12, 8)

    def encode_sample(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """z ~ q(z | x) while training (a deterministic encoder's code)."""
        if not self.stochastic_encoder:
            return self.E(x)
        return reparameterize(*self.posterior(x), rng)

    def adam(self, *modules) -> torch.optim.Adam:
        params = [p for m in modules for p in m.parameters()]
        return torch.optim.Adam(params, lr=self.hp.lr, betas=(self.hp.beta1, self.hp.beta2))

    def logits(self, x_mean: torch.Tensor) -> torch.Tensor:
        """G's Bernoulli means back to logits (exact unless |logit| > 13.8, where the gradient stops)."""
        return torch.logit(x_mean.float(), eps=1e-6)

    def log_px(self, x: torch.Tensor, x_mean: torch.Tensor) -> torch.Tensor:
        """log p(x | z) per example: Bernoulli on binarised pixels (as the VAEs), N(G(z), points_sigma^2 I) on
        points."""
        if self.points:
            sigma = self.hp.points_sigma
            residual = ((x - x_mean) / sigma).flatten(1)
            return gaussian_log_prob(residual) - residual.shape[1] * math.log(sigma)
        return lik.bernoulli_log_prob(self.logits(x_mean), x)

    def observe(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """What a likelihood scores: dynamically binarised pixels; points as they are."""
        return images if self.points else lik.binarize(images, rng)

    # --- what an encoder gives ------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes (N, z_dim) of images (float NCHW in [0, 1]): the mean of a stochastic encoder, AVB's code at
        noise 0. Served as `{"images": ...}` (tracking/pyfunc.py)."""
        was = self.training
        self.eval()
        try:
            if self.stochastic_encoder:
                return self.posterior(x)[0]
            noise = torch.zeros(len(x), self.E.noise_dim, device=x.device) if self.E.noise_dim else None
            return self.E(x, noise)
        finally:
            self.train(was)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        was = self.training
        self.eval()
        try:
            return self.G(self.encode(x)).float()
        finally:
            self.train(was)

    @torch.no_grad()
    def sample(self, n, rng, labels=None):
        was = self.G.training
        self.G.eval()
        try:
            x = self.G(self.prior(n, rng)).float()
            return x if self.points else x.clamp(0, 1)
        finally:
            self.G.train(was)

    def extra_metrics(self, images, labels, settings, seed: int) -> dict[str, float]:
        """Mean squared error per pixel of G(E(x)) on test images (pixels in [0, 1]); the test ELBO too where
        the method defines one (`elbo`)."""
        errors = [F.mse_loss(self.reconstruct(x), x.float(), reduction="none").flatten(1).mean(1)
                  for x in images.split(settings.batch_size)]
        out = {"test_reconstruction_mse": torch.cat(errors).mean().item()}
        return {**out, **self.test_elbo(images, settings, seed)} if self.has_elbo() else out

    def elbo(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """The method's ELBO estimate per example, one posterior sample each: AVB and IntroVAE define one."""
        raise NotImplementedError(f"{type(self).__name__} has no ELBO")

    def has_elbo(self) -> bool:
        return type(self).elbo is not Hybrid.elbo

    @torch.no_grad()
    def test_elbo(self, images, settings, seed: int) -> dict[str, float]:
        """The mean test ELBO in nats per image (and as bits/dim) on what the likelihood scores: the test set's
        fixed binarisation of the pixels, points as they are."""
        self.eval()
        rng = torch.Generator(device=images.device).manual_seed(seed)
        x_all = images if self.points else lik.fixed_binarization(images, seed)
        try:
            e = torch.cat([self.elbo(x, rng) for x in progress.bar(x_all.split(settings.batch_size), "likelihood")])
        finally:
            self.train()
        mean = e.mean().item()
        return {"test_elbo_nats": mean,
                "test_elbo_bits_per_dim": lik.bits_per_dim(-mean, math.prod(self.image_shape))}

    def artifacts(self, images, labels, out: Path) -> list[Path]:
        """Eight test images over their reconstructions."""
        from components.evaluation.plots import save_grid

        x = images[:8]
        return [save_grid(torch.cat([x.float(), self.reconstruct(x).clamp(0, 1)]), out / "reconstructions.png",
                          nrow=8)]
