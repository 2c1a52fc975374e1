"""ALI / BiGAN (Dumoulin et al. 2017; Donahue et al. 2017): an encoder E learns x -> z while G learns z -> x,
and one discriminator sees joint pairs, (x, E(x)) from the data side and (G(z), z) from the prior side. At the
optimum both joints match, so E inverts G. ALI's encoder is Gaussian (reparameterised), BiGAN's deterministic
(`stochastic_encoder`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from components.models.base import StepContext
from components.models.gan.games import d_cross_entropy
from components.models.hybrid.base import Hybrid, HybridHp
from components.models.hybrid.networks import JointDiscriminator
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class AliHp(HybridHp):
    stochastic_encoder: bool = True  # ALI's q(z | x) = N(mu(x), sigma(x)^2); False: BiGAN's z = E(x)


def discriminator_loss(data_pairs: torch.Tensor, prior_pairs: torch.Tensor) -> torch.Tensor:
    """Dumoulin et al. 2017, Eq. 2 (Algorithm 1), the value D maximises, negated: -log D(x, E(x)) -
    log(1 - D(G(z), z)), with D = sigmoid of the logits."""
    return d_cross_entropy(data_pairs, prior_pairs)


def generator_encoder_loss(data_pairs: torch.Tensor, prior_pairs: torch.Tensor) -> torch.Tensor:
    """The non-saturating form G and E minimise (Dumoulin et al. 2017, Algorithm 1; Donahue et al. 2017, Sec. 3.4
    "inverting the labels"): -log(1 - D(x, E(x))) - log D(G(z), z)."""
    return F.softplus(data_pairs).mean() + F.softplus(-prior_pairs).mean()


class ALI(Hybrid):
    def __init__(self, image_shape, num_classes, hp):
        self.stochastic_encoder = hp.stochastic_encoder
        super().__init__(image_shape, num_classes, hp)
        self.D = JointDiscriminator(image_shape, hp.z_dim, hp.arch, hp.width, hp.disc_batch_norm)

    def configure_optimizers(self, fused: bool = False):
        return {"D": self.adam(self.D), "GE": self.adam(self.G, self.E)}

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            z = self.prior(len(images), ctx.rng)
            fake, z_hat = self.G(z), self.encode_sample(images, ctx.rng)
            d_loss = discriminator_loss(self.D(images, z_hat.detach()), self.D(fake.detach(), z))
        ctx.update(d_loss, "D")
        with ctx.autocast():
            ge_loss = generator_encoder_loss(self.D(images, z_hat), self.D(fake, z))
        ctx.update(ge_loss, "GE")
        return {"d_loss": d_loss.detach(), "g_loss": ge_loss.detach()}


# Dumoulin et al. 2017 train with Adam, lr 1e-4, beta1 0.5 (their appendix; from memory, unchecked)
register(Family("ali", ALI, AliHp(lr=1e-4), "ALI / BiGAN: a discriminator on (x, z) pairs learns G and its "
                                             "inverse E together (Dumoulin et al. 2017; Donahue et al. 2017)"))
