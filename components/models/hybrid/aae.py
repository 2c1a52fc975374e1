"""The adversarial autoencoder (Makhzani et al. 2016): an autoencoder whose codes are pushed towards the prior by a
discriminator on codes instead of a KL term, so any prior one can sample works and G(z ~ prior) generates.
Each step has the paper's two phases (Sec. 2): reconstruction, then regularisation (the code discriminator, then
the encoder as its generator)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.gan.games import d_cross_entropy, g_non_saturating
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import CodeDiscriminator
from components.models.registry import Family, register


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
register(Family("aae", AAE, HybridHp(), "adversarial autoencoder: a discriminator on codes replaces the VAE's KL "
                                        "term (Makhzani et al. 2016)"))
