"""IntroVAE (Huang et al. 2018): a VAE whose encoder is also its discriminator. E keeps the KL to the prior small
for real images and pushes it above a margin m for G's reconstructions and samples; G tries to make E see them
as real (small KL). The reconstruction term keeps the pair a VAE, so the test ELBO is the VAE's, exact.

Losses: the paper's Eq. 11 (Algorithm 1), with L_REG = KL(q(z | x) || N(0, I)) in closed form and L_AE the
negative Bernoulli log-likelihood of binarised pixels (the paper's images are continuous: ||x - x_r||^2).
"""

from __future__ import annotations

import torch

from components.models.base import StepContext
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.ranges import AtLeastOne, NonNegative
from components.models.registry import Family, hyperparameters, register
from components.models.vae.family import kl_standard_normal, reparameterize


@hyperparameters
class IntroVaeHp(HybridHp):
    z_dim: AtLeastOne = 32
    alpha: NonNegative = 0.25  # weight of the adversarial KL terms (the paper's alpha)
    beta: NonNegative = 1.0  # weight of the reconstruction term (the paper's beta)
    margin: NonNegative = 10.0  # m, in nats: the KL E pushes fakes above. Not the paper's (it gives none for MNIST that
    # we could check); about a trained 32-d VAE's KL on MNIST, where the margin should sit


kl_to_prior = kl_standard_normal  # L_REG: KL(N(mean, exp(logvar)) || N(0, I)) per example, as the VAEs'


def encoder_loss(kl_real, kl_reconstructed, kl_sampled, reconstruction, alpha: float, beta: float,
                 margin: float) -> torch.Tensor:
    """Eq. 11, L_E = L_REG(z) + alpha ([m - L_REG(z_r)]^+ + [m - L_REG(z_p)]^+) + beta L_AE, averaged."""
    hinge = (margin - kl_reconstructed).clamp(min=0) + (margin - kl_sampled).clamp(min=0)
    return (kl_real + alpha * hinge + beta * reconstruction).mean()


def generator_loss(kl_reconstructed, kl_sampled, reconstruction, alpha: float, beta: float) -> torch.Tensor:
    """Eq. 11, L_G = alpha (L_REG(z_r) + L_REG(z_p)) + beta L_AE, averaged."""
    return (alpha * (kl_reconstructed + kl_sampled) + beta * reconstruction).mean()


class IntroVAE(Hybrid):
    stochastic_encoder = True

    def configure_optimizers(self, fused: bool = False):
        return {"E": self.adam(self.E), "G": self.adam(self.G)}

    def train_step(self, images, labels, ctx: StepContext):
        hp = self.hp
        with ctx.autocast():
            x = self.observe(images, ctx.rng)
            mean, logvar = self.posterior(x)
            z = mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=ctx.rng, device=ctx.rng.device)
            x_r, x_p = self.G(z), self.G(self.prior(len(x), ctx.rng))
            reconstruction = -self.log_px(x, x_r)
            kl_r, kl_p = (kl_to_prior(*self.posterior(f.detach())) for f in (x_r, x_p))
            e_loss = encoder_loss(kl_to_prior(mean, logvar), kl_r, kl_p, reconstruction, hp.alpha, hp.beta,
                                  hp.margin)
        ctx.update(e_loss, "E")
        with ctx.autocast():  # E as it now is judges G's images; only G steps on this loss
            x_r = self.G(z.detach())
            kl_r, kl_p = (kl_to_prior(*self.posterior(f)) for f in (x_r, x_p))
            reconstruction = -self.log_px(x, x_r)
            g_loss = generator_loss(kl_r, kl_p, reconstruction, hp.alpha, hp.beta)
        ctx.update(g_loss, "G")
        return {"d_loss": e_loss.detach(), "g_loss": g_loss.detach(), "rec_nats": reconstruction.mean().detach()}

    def elbo(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """The VAE's ELBO at one z ~ q(z|x), the KL in closed form."""
        mean, logvar = self.posterior(x)
        return self.log_px(x, self.G(reparameterize(mean, logvar, rng))) - kl_to_prior(mean, logvar)


# Huang et al. 2018 train with Adam, lr 2e-4, beta1 0.9 (their Sec. 4; from memory, unchecked)
register(Family("introvae", IntroVAE, IntroVaeHp(beta1=0.9), "IntroVAE: the encoder is the discriminator, "
                                                             "judging images by their KL (Huang et al. 2018)"))
