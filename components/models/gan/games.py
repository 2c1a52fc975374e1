"""The GAN games of Lucic et al. 2018, Table 1: each is a discriminator loss and a generator loss on the
discriminator's raw outputs (logits), plus, for some, a gradient penalty or weight clipping on the discriminator.
Where Table 1 writes D(x) for MM, NS, ML and LS it is a probability, sigmoid(logit), as in their code.

Everything else (networks, optimiser, training step) is shared, so a comparison isolates the game. Adding a
game is one `Game(...)` here and one `register(...)` line in family.py. BEGAN changes the discriminator itself
(an autoencoder) and lives in began.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Points = Callable[[torch.Tensor, torch.Tensor, torch.Generator], torch.Tensor]


@dataclass(frozen=True)
class Game:
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (D(x), D(G(z))) -> scalar
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # D(G(z)) -> scalar
    penalty_points: Points | None = None  # where a gradient penalty is taken (weight: hp.gp_lambda)
    clip_weights: bool = False  # clamp every critic weight to [-hp.clip, hp.clip] after its step


# --- losses -------------------------------------------------------------------------------------------------

def d_cross_entropy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """-log D(x) - log(1 - D(G(z))) with D = sigmoid(logit); softplus keeps it stable."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def g_minimax(fake: torch.Tensor) -> torch.Tensor:
    return -F.softplus(fake).mean()  # log(1 - D(G(z))), minimised: saturates when D wins


def g_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()  # -log D(G(z))


def g_maximum_likelihood(fake: torch.Tensor) -> torch.Tensor:
    # -1/2 E[exp(sigma^-1(D(G(z))))]: sigma^-1(D) is the logit itself (Goodfellow 2014, "distinguishability")
    return -0.5 * torch.exp(fake.float()).mean()


def d_least_squares(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2] on D = sigmoid(logit), as Lucic et al. trained LSGAN
    (compare_gan's LSGAN.py). On raw logits (Mao et al.'s linear output) these networks sat at noise level for
    ~800 steps at lr 2e-4 where the sigmoid form is at FID 79 (classifier, MNIST) by step 400."""
    return 0.5 * ((torch.sigmoid(real) - 1).pow(2).mean() + torch.sigmoid(fake).pow(2).mean())


def g_least_squares(fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (torch.sigmoid(fake) - 1).pow(2).mean()


def d_wasserstein(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return fake.mean() - real.mean()


def g_wasserstein(fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


# --- gradient penalties -------------------------------------------------------------------------------------

def _uniform(n: int, like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    return torch.rand(n, *([1] * (like.dim() - 1)), generator=rng, device=rng.device).to(like)


def interpolates(real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): points on lines between real and generated images."""
    eps = _uniform(real.shape[0], real, rng)
    return eps * real + (1 - eps) * fake


def perturbed_data(real: torch.Tensor, fake: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """DRAGAN (Kodali et al. 2017): points near the data, x + a * 0.5 * std(x) * u with u, a ~ U(0, 1)."""
    noise = 0.5 * real.std() * torch.rand(real.shape, generator=rng, device=rng.device).to(real)
    return real + _uniform(real.shape[0], real, rng) * noise


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor) -> torch.Tensor:
    """E[(||grad_x critic(x)||_2 - 1)^2] at `points`, differentiable w.r.t. the critic's weights; one per member
    of a population (members are independent, so the gradient of the summed outputs is each member's own)."""
    points = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(points).sum(), points, create_graph=True)
    per_point = grad.flatten(points.dim() - 3).norm(2, dim=-1)  # points are NCHW, a population's (K, N, C, H, W)
    return (per_point - 1).pow(2).mean(-1)


# --- the games ----------------------------------------------------------------------------------------------

MM = Game(d_cross_entropy, g_minimax)
NS = Game(d_cross_entropy, g_non_saturating)
ML = Game(d_cross_entropy, g_maximum_likelihood)
LS = Game(d_least_squares, g_least_squares)
WGAN = Game(d_wasserstein, g_wasserstein, clip_weights=True)
WGAN_GP = Game(d_wasserstein, g_wasserstein, penalty_points=interpolates)
DRAGAN = Game(d_cross_entropy, g_non_saturating, penalty_points=perturbed_data)
