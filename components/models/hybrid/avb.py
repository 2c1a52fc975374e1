"""Adversarial Variational Bayes (Mescheder et al. 2017): a VAE whose encoder is implicit, z = E(x, eps), so its
density is unknown; an adversary T(x, z) learns log q(z | x) - log p(z) by telling posterior pairs from prior
pairs, and stands in for the KL term of the ELBO. Its test ELBO is therefore an estimate: E_q[log p(x | z) -
T(x, z)], exact only for the optimal T."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import JointDiscriminator
from components.models.ranges import NoneOrMore
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class AvbHp(HybridHp):
    noise_dim: NoneOrMore = 16  # eps ~ N(0, I) fed to the encoder beside x's features


def adversary_loss(posterior_pairs: torch.Tensor, prior_pairs: torch.Tensor) -> torch.Tensor:
    """Mescheder et al. 2017, Eq. 3.3: T maximises E_q log sigmoid(T(x, z)) + E_p log(1 - sigmoid(T(x, z))),
    negated here; its optimum is T* = log q(z | x) - log p(z)."""
    return F.softplus(-posterior_pairs).mean() + F.softplus(prior_pairs).mean()


def negative_elbo(log_px: torch.Tensor, posterior_pairs: torch.Tensor) -> torch.Tensor:
    """Algorithm 1's objective for encoder and decoder, negated: E_q[-log p(x | z) + T(x, z)], averaged."""
    return (-log_px + posterior_pairs).mean()


class AVB(Hybrid):
    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp, encoder_noise=hp.noise_dim)
        self.T = JointDiscriminator(image_shape, hp.z_dim, hp.arch, hp.width, hp.disc_batch_norm)

    def posterior_sample(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        eps = torch.randn(len(x), self.hp.noise_dim, generator=rng, device=rng.device).to(x)
        return self.E(x, eps)

    def configure_optimizers(self, fused: bool = False):
        return {"T": self.adam(self.T), "VAE": self.adam(self.E, self.G)}

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            x = self.observe(images, ctx.rng)
            z_q = self.posterior_sample(images, ctx.rng)
            t_loss = adversary_loss(self.T(x, z_q.detach()), self.T(x, self.prior(len(x), ctx.rng)))
        ctx.update(t_loss, "T")
        with ctx.autocast():
            log_px = self.log_px(x, self.G(z_q))
            loss = negative_elbo(log_px, self.T(x, z_q))
        ctx.update(loss, "VAE")
        return {"loss": loss.detach(), "d_loss": t_loss.detach(), "rec_nats": -log_px.mean().detach()}

    def elbo(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """log p(x|z) - T(x, z) at one z ~ q(z|x): at its optimum T(x, z) = log q(z|x) - log p(z) (Mescheder et al.)."""
        z = self.posterior_sample(x, rng)
        return self.log_px(x, self.G(z)) - self.T(x, z)


# Mescheder et al. 2017 give no MNIST optimiser setting we could check: DCGAN's
register(Family("avb", AVB, AvbHp(), "Adversarial Variational Bayes: an implicit encoder, its KL term learned by "
                                     "an adversary (Mescheder et al. 2017)"))
