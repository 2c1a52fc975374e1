"""α-GAN (Rosca et al. 2017): an autoencoder made adversarial on both sides. An image discriminator D judges
reconstructions and samples against data, a code discriminator C judges codes against the prior, and an L1
reconstruction term keeps E and G consistent. The adversarial terms for E and G are the paper's likelihood-ratio
form, -log(D / (1 - D)) = -logit."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.gan.networks import ARCHITECTURES
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import CodeDiscriminator
from components.models.ranges import NonNegative
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class AlphaGanHp(HybridHp):
    reconstruction_weight: NonNegative = 1.0  # lambda on ||x - G(E(x))||_1 (per example, summed over pixels)


def l1_reconstruction(x: torch.Tensor, x_reconstructed: torch.Tensor) -> torch.Tensor:
    return (x - x_reconstructed).abs().flatten(1).sum(1)


def image_discriminator_loss(real, reconstructed, sampled) -> torch.Tensor:
    """Rosca et al. 2017, Algorithm 1, D: -log D(x) - log(1 - D(x_rec)) - log(1 - D(x_gen))."""
    return F.softplus(-real).mean() + F.softplus(reconstructed).mean() + F.softplus(sampled).mean()


def code_discriminator_loss(prior_codes, encoded_codes) -> torch.Tensor:
    """Algorithm 1, C: -log C(z) - log(1 - C(E(x)))."""
    return F.softplus(-prior_codes).mean() + F.softplus(encoded_codes).mean()


def encoder_loss(reconstruction, encoded_codes, weight: float) -> torch.Tensor:
    """Algorithm 1, E: lambda ||x - x_rec||_1 - log(C(E(x)) / (1 - C(E(x))))."""
    return (weight * reconstruction).mean() - encoded_codes.mean()


def generator_loss(reconstruction, reconstructed, sampled, weight: float) -> torch.Tensor:
    """Algorithm 1, G: lambda ||x - x_rec||_1 - log(D(x_rec) / (1 - D(x_rec))) - log(D(x_gen) / (1 - D(x_gen)))."""
    return (weight * reconstruction).mean() - reconstructed.mean() - sampled.mean()


class AlphaGAN(Hybrid):
    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.D = ARCHITECTURES[hp.arch][1](image_shape, batch_norm=hp.disc_batch_norm, width=hp.width)
        self.C = CodeDiscriminator(hp.z_dim, hp.arch, hp.width)

    def configure_optimizers(self, fused: bool = False):
        return {"D": self.adam(self.D), "C": self.adam(self.C), "E": self.adam(self.E), "G": self.adam(self.G)}

    def train_step(self, images, labels, ctx: StepContext):
        lam = self.hp.reconstruction_weight
        with ctx.autocast():
            z_hat, z = self.E(images), self.prior(len(images), ctx.rng)
            x_rec, x_gen = self.G(z_hat), self.G(z)
            d_loss = image_discriminator_loss(self.D(images), self.D(x_rec.detach()), self.D(x_gen.detach()))
            c_loss = code_discriminator_loss(self.C(z), self.C(z_hat.detach()))
        ctx.update(d_loss, "D")
        ctx.update(c_loss, "C")
        with ctx.autocast():
            e_loss = encoder_loss(l1_reconstruction(images, self.G(z_hat)), self.C(z_hat), lam)
        ctx.update(e_loss, "E")
        with ctx.autocast():
            x_rec = self.G(z_hat.detach())
            g_loss = generator_loss(l1_reconstruction(images, x_rec), self.D(x_rec), self.D(self.G(z)), lam)
        ctx.update(g_loss, "G")
        return {"d_loss": d_loss.detach(), "code_d_loss": c_loss.detach(), "e_loss": e_loss.detach(),
                "g_loss": g_loss.detach()}


# Rosca et al. 2017 give no MNIST optimiser setting we could check: DCGAN's
register(Family("alphagan", AlphaGAN, AlphaGanHp(), "α-GAN: autoencoder + image and code discriminators "
                                                    "(Rosca et al. 2017)"))
