"""CycleGAN (Zhu et al. 2017): least-squares adversarial loss, cycle loss (lambda), identity loss (0.5 lambda),
a pool of 50 past fakes for each discriminator, constant learning rate then linear decay to 0.

The two domains reach the one training loop as one image tensor: domain A's channels first, then domain B's
(stages pair each A image with an independently shuffled B image), so resume, seeding and data-parallel
slicing work unchanged. Pools are buffers, so a resumed run continues with the same pools.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from components.models.base import GenerativeModel, StepContext
from components.models.ranges import AdamBeta, AtLeastOne, Fraction, LearningRate, NonNegative, NoneOrMore
from components.models.registry import Family, hyperparameters, register
from components.models.translation.networks import patch_discriminator, patch_layers, resnet_generator

if TYPE_CHECKING:
    from components.data.tensors import Tensors

DIRECTIONS = ("AtoB", "BtoA")


class ImagePool(nn.Module):
    """Shrivastava et al. 2017's history buffer: once full, each query image is swapped for a stored one with
    probability 1/2 (the stored one is returned, the new one takes its place)."""

    images: torch.Tensor
    count: torch.Tensor

    def __init__(self, size: int, image_shape: tuple[int, int, int]):
        super().__init__()
        self.size = size
        self.register_buffer("images", torch.zeros(size, *image_shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    @torch.no_grad()
    def query(self, batch: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.size == 0:
            return batch
        out = batch.detach().clone()
        for i in range(len(batch)):
            n = int(self.count)
            if n < self.size:  # filling up: keep and return the new image
                self.images[n] = batch[i].detach()
                self.count += 1
            elif torch.rand((), generator=rng, device=rng.device) < 0.5:
                j = int(torch.randint(self.size, (), generator=rng, device=rng.device))
                out[i] = self.images[j]
                self.images[j] = batch[i].detach()
        return out


def cycle_loss(real_a: torch.Tensor, real_b: torch.Tensor, g_ab, g_ba) -> torch.Tensor:
    """L1 of A -> B -> A plus B -> A -> B (each averaged over pixels)."""
    return F.l1_loss(g_ba(g_ab(real_a)), real_a) + F.l1_loss(g_ab(g_ba(real_b)), real_b)


def lsgan_loss(scores: torch.Tensor, target: float) -> torch.Tensor:
    return F.mse_loss(scores, torch.full_like(scores, target))


class CycleGAN(GenerativeModel):
    kind = "translation"

    def __init__(self, image_shape, num_classes: int, hp):
        super().__init__(image_shape, num_classes, hp)
        ca = hp.channels_a
        cb = image_shape[0] - ca
        if ca < 1 or cb < 1:
            raise ValueError(f"channels_a={ca} does not split {image_shape[0]} channels into two domains")
        h, w = image_shape[1:]
        if h % 4 or w % 4:
            raise ValueError(f"CycleGAN's generator needs image sides divisible by 4, got {h}x{w}")
        self.ca, self.cb = ca, cb
        gw, dw, blocks = hp.gen_width, hp.disc_width, hp.blocks
        self.g_ab, self.g_ba = resnet_generator(ca, cb, gw, blocks), resnet_generator(cb, ca, gw, blocks)
        layers = patch_layers(min(h, w))
        self.d_a, self.d_b = patch_discriminator(ca, dw, layers), patch_discriminator(cb, dw, layers)
        self.pool_a = ImagePool(hp.pool_size, (ca, h, w))
        self.pool_b = ImagePool(hp.pool_size, (cb, h, w))

    def nets(self) -> dict[str, nn.Module]:
        return {"g_ab": self.g_ab, "g_ba": self.g_ba, "d_a": self.d_a, "d_b": self.d_b}

    def configure_optimizers(self, fused: bool = False):
        kw = {"lr": self.hp.lr, "betas": (self.hp.beta1, 0.999)}
        if fused:
            kw["fused"] = True
        gens = [*self.g_ab.parameters(), *self.g_ba.parameters()]
        discs = [*self.d_a.parameters(), *self.d_b.parameters()]
        return {"g": torch.optim.Adam(gens, **kw), "d": torch.optim.Adam(discs, **kw)}

    def lr_factor(self, step: int, total: int | None) -> float:
        """1 for the first `decay_start` share of training, then linearly down to 0 at the last step."""
        if not total:
            return 1.0
        start = int(self.hp.decay_start * total)
        return 1.0 if step < start else max(0.0, 1.0 - (step - start) / max(1, total - start))

    def split(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """[0,1] stacked domains -> (A, B) in [-1, 1], the generators' range."""
        return images[:, : self.ca] * 2 - 1, images[:, self.ca:] * 2 - 1

    def train_step(self, images, labels, ctx: StepContext):
        factor = self.lr_factor(ctx.step, ctx.total_steps)
        for opt in ctx.optimizers.values():
            for group in opt.param_groups:
                group["lr"] = self.hp.lr * factor
        real_a, real_b = self.split(images)
        lam = self.hp.cycle_lambda
        with ctx.autocast():
            fake_b, fake_a = self.g_ab(real_a), self.g_ba(real_b)
            d_off = [p.requires_grad_(False) for p in (*self.d_a.parameters(), *self.d_b.parameters())]
            adv = lsgan_loss(self.d_b(fake_b), 1.0) + lsgan_loss(self.d_a(fake_a), 1.0)
            cyc = F.l1_loss(self.g_ba(fake_b), real_a) + F.l1_loss(self.g_ab(fake_a), real_b)
            loss_g = adv + lam * cyc
            idt = torch.zeros((), device=images.device)
            if self.ca == self.cb and self.hp.identity > 0:  # G_AB(b) should leave b alone
                idt = F.l1_loss(self.g_ab(real_b), real_b) + F.l1_loss(self.g_ba(real_a), real_a)
                loss_g = loss_g + self.hp.identity * lam * idt
        ctx.update(loss_g, "g")
        for p in d_off:
            p.requires_grad_(True)
        pooled_b = self.pool_b.query(fake_b.detach().float(), ctx.rng)
        pooled_a = self.pool_a.query(fake_a.detach().float(), ctx.rng)
        with ctx.autocast():
            loss_d_b = 0.5 * (lsgan_loss(self.d_b(real_b), 1.0) + lsgan_loss(self.d_b(pooled_b), 0.0))
            loss_d_a = 0.5 * (lsgan_loss(self.d_a(real_a), 1.0) + lsgan_loss(self.d_a(pooled_a), 0.0))
        ctx.update(loss_d_a + loss_d_b, "d")
        return {"g_loss": loss_g.detach(), "d_loss": (loss_d_a + loss_d_b).detach(), "cycle": cyc.detach(),
                "identity": idt.detach(), "lr_factor": torch.tensor(factor)}

    @classmethod
    def fitted_to(cls, hp, data: Tensors):
        """The pair's data fixes the channel split: the first channels_a channels of a row are domain A's."""
        a, _ = data.domains
        return dataclasses.replace(hp, channels_a=a.image_shape[0])

    def domain_channels(self) -> tuple[int, int]:
        return self.ca, self.cb

    @torch.no_grad()
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """float NCHW in [0, 1] of one domain -> the other domain, float NCHW in [0, 1]."""
        if direction not in DIRECTIONS:
            raise ValueError(f"direction={direction!r}: expected one of {DIRECTIONS}")
        g = self.g_ab if direction == "AtoB" else self.g_ba
        return (g(x * 2 - 1) + 1) / 2


# Zhu et al. 2017's defaults (lambda 10, identity 0.5 lambda, pool 50, Adam 2e-4 / 0.5, linear decay over the second
# half); networks narrower than their 256-px ones (64 wide, 9 blocks) for 28x28 digits
@hyperparameters
class CycleGanHp:
    gen_width: AtLeastOne = 16
    disc_width: AtLeastOne = 32
    blocks: NoneOrMore = 3
    cycle_lambda: NonNegative = 10.0
    identity: NonNegative = 0.5
    pool_size: NoneOrMore = 50
    lr: LearningRate = 2e-4
    beta1: AdamBeta = 0.5
    decay_start: Fraction = 0.5
    channels_a: AtLeastOne = 1  # set from the pair's data: the first channels_a channels of a row are domain A


register(Family("cyclegan", CycleGAN, CycleGanHp(),
                "CycleGAN, unpaired translation with cycle consistency (Zhu et al. 2017)"))
