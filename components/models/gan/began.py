"""BEGAN (Berthelot et al. 2017): the discriminator is an autoencoder and the game balances its
reconstruction losses. It still uses the shared networks: the encoder is the chosen architecture's
discriminator trunk, the decoder its generator.

L(v) = mean |v - D(v)|;  D minimises L(x) - k L(G(z));  G minimises L(G(z));
k <- clip(k + lambda_k (gamma L(x) - L(G(z))), 0, 1);  convergence M = L(x) + |gamma L(x) - L(G(z))|.
"""

from __future__ import annotations

import torch
from torch import nn

from components.errors import ConfigError
from components.models.base import StepContext
from components.models.gan.family import GAN, GanHp
from components.models.gan.games import NS
from components.models.gan.networks import Discriminator
from components.models.ranges import AtLeastOne, Fraction, LearningRate, NonNegative
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class BeganHp(GanHp):
    """Berthelot et al. 2017, Sec. 4: Adam lr 1e-4, lambda_k 0.001, gamma in 0.3..0.7 (0.5: the middle);
    beta1 is not stated there: DCGAN's 0.5, as GanHp. Their autoencoder has no batch normalization (Sec. 3.5):
    neither has the encoder here (the decoder is the shared generator network, with its own). On MNIST (classifier
    FID, 1,000 samples) at steps 400 / 800: 646 / 767 without, 1,763 / 671 with: out of the noise sooner, no
    better after."""

    gamma: Fraction = 0.5  # diversity ratio: the equilibrium E[L(G(z))] = gamma E[L(x)]
    lambda_k: NonNegative = 0.001  # learning rate of k
    code_dim: AtLeastOne = 64  # the autoencoder's bottleneck
    lr: LearningRate = 1e-4
    disc_batch_norm: bool = False


class AutoencoderDiscriminator(nn.Module):
    def __init__(self, encoder: Discriminator, decoder: nn.Module, code_dim: int):
        super().__init__()
        self.encoder = encoder
        self.to_code = nn.Linear(encoder.feature_dim, code_dim)
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.to_code(self.encoder.features(x)))



class BEGAN(GAN):
    k: torch.Tensor  # the balance term: a buffer

    def __init__(self, image_shape, num_classes, hp):
        if hp.minibatch_kernels or hp.unrolled_steps:
            raise ConfigError("began: minibatch discrimination and unrolling apply to games with a scalar "
                              "discriminator; set minibatch_kernels=0 and unrolled_steps=0")
        super().__init__(image_shape, num_classes, hp, NS)  # NS is unused: train_step below is the game
        self.register_buffer("k", torch.zeros(()))  # in the state dict, so a resumed run continues with it

    def build_discriminator(self, disc_cls, image_shape, width):
        from components.models.gan.networks import ARCHITECTURES

        gen_cls, _ = ARCHITECTURES[self.hp.arch]
        code = self.hp.code_dim
        encoder = disc_cls(image_shape, batch_norm=self.hp.disc_batch_norm, width=width)
        return AutoencoderDiscriminator(encoder, gen_cls(image_shape, code, width=width), code)

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """Mean L1 reconstruction error of each member's batch: the 'energy' BEGAN's game is played on."""
        return (x - self.D(x)).abs().flatten(-4).mean(-1)

    def train_step(self, images, labels, ctx: StepContext):
        gamma, lambda_k = self.member_hp("gamma"), self.member_hp("lambda_k")
        with ctx.autocast():
            fake = self.G(self.noise(images.shape[-4], ctx.rng))
            l_real, l_fake = self.energy(images), self.energy(fake.detach())
            d_loss = l_real - self.k * l_fake
        ctx.update(d_loss, "D")
        balance = (gamma * l_real - l_fake).detach().float()
        out = {"d_loss": d_loss.detach(), "k": self.k.clone(),
               "convergence": l_real.detach().float() + balance.abs()}
        with torch.no_grad():
            self.k.copy_((self.k + lambda_k * balance).clamp(0, 1))
        if ctx.step % self.hp.disc_iters == 0:
            with ctx.autocast():
                g_loss = self.energy(fake)
            ctx.update(g_loss, "G")
            out["g_loss"] = g_loss.detach()
        return out


register(Family("began", BEGAN, BeganHp(),
                "boundary-equilibrium GAN, autoencoder discriminator (Berthelot et al. 2017)"))
