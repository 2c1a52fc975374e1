"""The GAN games: each is a discriminator loss and a generator loss on the discriminator's logits.

All families share the networks and the training step (Lucic et al.: only the game changes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

Loss = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class Game:
    d_loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (logits_real, logits_fake) -> scalar
    g_loss: Callable[[torch.Tensor], torch.Tensor]  # logits_fake -> scalar


def _d_loss_cross_entropy(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    # -log D(x) - log(1 - D(G(z))) with D = sigmoid(logit): softplus keeps it stable.
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _g_loss_non_saturating(fake: torch.Tensor) -> torch.Tensor:
    return F.softplus(-fake).mean()  # -log D(G(z))


NS = Game(d_loss=_d_loss_cross_entropy, g_loss=_g_loss_non_saturating)
