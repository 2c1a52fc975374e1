"""The adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose codes are pushed towards the prior by a
discriminator on codes instead of a KL term, so any prior one can sample works and G(z ~ prior) generates.
Each step has the paper's two phases (Sec. 2): reconstruction, then regularisation (the code discriminator, then
the encoder as its generator). `prior_modes` > 0 imposes a mixture prior, as the paper does on 2-D codes of
MNIST (its Fig. 2, from memory, unchecked): on 2-D points its decoded samples land on the modes where N(0, I)'s
spread between them (docs/results.md, issue 38)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.gan.games import d_cross_entropy, g_non_saturating
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import CodeDiscriminator
from components.models.ranges import NoneOrMore
from components.models.registry import Family, hyperparameters, register

MIXTURE_RADIUS, MIXTURE_SIGMA = 4.0, 0.5  # 8 components on it lie 6 sigma apart


@hyperparameters
class AAEHp(HybridHp):
    prior_modes: NoneOrMore = 0  # 0: N(0, I); k: k Gaussians on a circle in the code's first two dimensions


def mixture_prior(n: int, z_dim: int, modes: int, rng: torch.Generator) -> torch.Tensor:
    """n codes: the first two dimensions from `modes` Gaussians (sigma MIXTURE_SIGMA) evenly on a circle of
    radius MIXTURE_RADIUS, the rest N(0, 1)."""
    z = torch.randn(n, z_dim, generator=rng, device=rng.device)
    k = torch.randint(modes, (n,), generator=rng, device=rng.device)
    angle = 2 * math.pi * k / modes
    centre = MIXTURE_RADIUS * torch.stack([angle.cos(), angle.sin()], 1)
    z[:, :2] = centre[:, :z_dim] + MIXTURE_SIGMA * z[:, :2]
    return z


def reconstruction_loss(x: torch.Tensor, x_reconstructed: torch.Tensor, points: bool) -> torch.Tensor:
    """Per example: binary cross-entropy of the pixels in [0, 1] (squared error on 2-D points), summed."""
    if points:
        return (x - x_reconstructed).pow(2).flatten(1).sum(1)
    return F.binary_cross_entropy(x_reconstructed.float().clamp(1e-6, 1 - 1e-6), x.float(),
                                  reduction="none").flatten(1).sum(1)


def code_discriminator_loss(prior_codes: torch.Tensor, encoded_codes: torch.Tensor) -> torch.Tensor:
    """Regularisation phase, the discriminator: -log C(z ~ p(z)) - log(1 - C(E(x)))."""
    return d_cross_entropy(prior_codes, encoded_codes)


def encoder_adversarial_loss(encoded_codes: torch.Tensor) -> torch.Tensor:
    """Regularisation phase, the encoder as C's generator (non-saturating): -log C(E(x))."""
    return g_non_saturating(encoded_codes)


class AAE(Hybrid):
    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.C = CodeDiscriminator(hp.z_dim, hp.arch, hp.width)

    def configure_optimizers(self, fused: bool = False):
        return {"AE": self.adam(self.E, self.G), "C": self.adam(self.C), "E": self.adam(self.E)}

    def prior(self, n: int, rng: torch.Generator) -> torch.Tensor:
        if not self.hp.prior_modes:
            return super().prior(n, rng)
        return mixture_prior(n, self.z_dim, self.hp.prior_modes, rng)

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            rec = reconstruction_loss(images, self.G(self.E(images)), self.points).mean()
        ctx.update(rec, "AE")
        with ctx.autocast():
            z_hat = self.E(images)
            c_loss = code_discriminator_loss(self.C(self.prior(len(images), ctx.rng)), self.C(z_hat.detach()))
        ctx.update(c_loss, "C")
        with ctx.autocast():
            e_loss = encoder_adversarial_loss(self.C(z_hat))
        ctx.update(e_loss, "E")
        return {"reconstruction": rec.detach(), "d_loss": c_loss.detach(), "g_loss": e_loss.detach()}


# Makhzani et al. 2016 train with SGD momentum 0.9 and a learning-rate schedule (from memory, unchecked);
# here Adam at DCGAN's setting, like every family without a checked setting
register(Family("aae", AAE, AAEHp(), "adversarial autoencoder: a discriminator on codes replaces the VAE's KL "
                                        "term (Makhzani et al. 2016)"))
