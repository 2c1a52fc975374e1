"""VEEGAN (Srivastava et al. 2017): a reconstructor network F maps data back to noise, and G is trained to make
F(G(z)) return z, an autoencoder loss over the noise, beside a discriminator on (z, x) pairs that tells
(z, G(z)) from (F(x), x). A generator that drops a mode cannot be inverted there, and that is what resists mode
collapse ("variational inference with synthetic likelihoods").

The losses are Algorithm 1 of the paper, checked against the authors' repository (akashgit/VEEGAN, algo.png):
the discriminator's cross-entropy, G's D(z, x_g) + d(z, x_g), F's d(z, x_g). The reconstructor is a
distribution, p(z | x) = N(F(x), I) as in their 2-D notebook: D's data pairs are (z ~ p(z | x), x), a sample,
and d is its negative log-density, 1/2 ||z - F(x_g)||^2 up to a constant. With the mean F(x) in D's pairs
instead (genzoo before issue 38), a 64-d code of 2-D data lies on a 2-D sheet that D tells from N(0, I) by z
alone, and G, which cannot move that sheet, learned nothing: 0 ring modes at every checkpoint to 40,000 steps.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import JointDiscriminator
from components.models.registry import Family, register


def code_distance(z: torch.Tensor, z_reconstructed: torch.Tensor) -> torch.Tensor:
    """d(z, x_g) = 1/2 ||z - F(x_g)||^2 per example."""
    return 0.5 * (z - z_reconstructed).pow(2).sum(1)


def discriminator_loss(generator_pairs: torch.Tensor, data_pairs: torch.Tensor) -> torch.Tensor:
    """Algorithm 1, line 7: -[log sigmoid(D(z, x_g)) + log(1 - sigmoid(D(F(x), x)))], averaged."""
    return F.softplus(-generator_pairs).mean() + F.softplus(data_pairs).mean()


def generator_loss(generator_pairs: torch.Tensor, distance: torch.Tensor) -> torch.Tensor:
    """Algorithm 1, lines 9 and 11: mean D(z, x_g) + mean d(z, x_g). Its gradient for F is d's alone (D(z, x_g)
    does not depend on F), so one optimiser over G and F takes both lines' steps."""
    return generator_pairs.mean() + distance.mean()


class VEEGAN(Hybrid):
    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.D = JointDiscriminator(image_shape, hp.z_dim, hp.arch, hp.width, hp.disc_batch_norm)

    def configure_optimizers(self, fused: bool = False):
        return {"D": self.adam(self.D), "GF": self.adam(self.G, self.E)}

    def reconstruct_sample(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """z ~ p(z | x) = N(F(x), I): Algorithm 1's z_g, what D's data pairs hold."""
        mean = self.E(x)
        return mean + torch.randn(mean.shape, generator=rng, device=mean.device, dtype=mean.dtype)

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            z = self.prior(len(images), ctx.rng)
            fake = self.G(z)
            d_loss = discriminator_loss(self.D(fake.detach(), z),
                                        self.D(images, self.reconstruct_sample(images, ctx.rng).detach()))
        ctx.update(d_loss, "D")
        with ctx.autocast():
            distance = code_distance(z, self.E(fake))
            g_loss = generator_loss(self.D(fake, z), distance)
        ctx.update(g_loss, "GF")
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach(), "code_distance": distance.mean().detach()}


# The authors' 2-D notebook: Adam lr 1e-3, beta1 0.5 (checked); the image runs' settings were not checked: DCGAN's
register(Family("veegan", VEEGAN, HybridHp(), "VEEGAN: a reconstructor maps samples back to their noise, which "
                                              "resists mode collapse (Srivastava et al. 2017)"))
