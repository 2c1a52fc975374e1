"""A GAN as a GenerativeModel: one D step per loop step, one G step every `disc_iters` steps (as Mimicry).

The game (games.py) is the only thing that differs between families; the architecture (`arch`), minibatch
discrimination (`minibatch_kernels` > 0) and unrolling (`unrolled_steps` > 0) are options of any game. Adding a
game is one `Game(...)` in games.py and one `register(...)` line at the bottom of this file.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch.func import functional_call

from components.data.mixtures import is_points
from components.errors import ConfigError
from components.models.base import GenerativeModel, StepContext
from components.models.gan import games
from components.models.gan.networks import ARCHITECTURES, add_minibatch_discrimination
from components.models.ranges import AdamBeta, AtLeastOne, LearningRate, NonNegative, NoneOrMore, Positive
from components.models.registry import Family, hyperparameters, register


@hyperparameters
class GanHp:
    """What every game shares: Lucic et al. 2018's setup (z ~ U(-1,1) of 64 dims, Adam). The optimiser defaults
    are DCGAN's (Radford et al. 2016, Adam lr 2e-4, beta1 0.5), the setting MM/NS/ML/LS GAN are run with in
    practice; a game whose paper recommends others says so at its `register` line. They are the study's setting
    0; the study searches lr, beta1, disc_iters and disc_batch_norm around them."""

    arch: Literal["infogan", "dcgan", "mlp"] = "infogan"  # components/models/gan/networks.py
    z_dim: AtLeastOne = 64
    lr: LearningRate = 2e-4
    d_lr_scale: Positive = 1.0  # D's learning rate is lr x this (Metz et al.'s 2-D demo: D 1e-4 against G 1e-3)
    beta1: AdamBeta = 0.5
    beta2: AdamBeta = 0.999
    disc_iters: AtLeastOne = 1  # discriminator steps per generator step
    disc_batch_norm: bool = True
    minibatch_kernels: NoneOrMore = 0  # > 0: minibatch discrimination (Salimans et al. 2016) with this many kernels
    minibatch_kernel_dim: AtLeastOne = 5
    unrolled_steps: NoneOrMore = 0  # > 0: unrolled GAN (Metz et al. 2017), the generator looks k of D's Adam steps ahead
    unroll_backprop: bool = True
    width: Positive = 1.0  # channel multiplier of both networks (tests use tiny ones)


@hyperparameters
class ClippedHp(GanHp):
    clip: Positive = 0.01  # critic weights are clamped to [-clip, clip] after each step


@hyperparameters
class PenaltyHp(GanHp):
    gp_lambda: NonNegative = 10.0  # weight of the gradient penalty


ADAM_EPS = 1e-8  # torch.optim.Adam's default, which every GAN optimiser here uses


def per_weight(value, weight: torch.Tensor):
    """`value` (a float, or a population's (K,) tensor) shaped to scale `weight` (K, ...) member by member."""
    if isinstance(value, torch.Tensor) and value.dim() == 1:
        return value.view(-1, *[1] * (weight.dim() - 1))
    return value


class GAN(GenerativeModel):
    kind = "gan"

    def __init__(self, image_shape, num_classes, hp, game: games.Game):
        super().__init__(image_shape, num_classes, hp)
        gen_cls, disc_cls = ARCHITECTURES[hp.arch]
        self.z_dim = hp.z_dim
        width = hp.width
        self.G = gen_cls(image_shape, self.z_dim, width=width)
        self.D = self.build_discriminator(disc_cls, image_shape, width)
        self.game = game
        self.unrolled_steps = hp.unrolled_steps
        if self.unrolled_steps and (game.penalty_points or game.clip_weights):
            raise ConfigError("unrolled_steps > 0 needs a game without gradient penalty or clipping "
                              "(the unrolled critic would need third-order gradients / non-smooth steps)")

    def build_discriminator(self, disc_cls, image_shape, width):
        disc = disc_cls(image_shape, batch_norm=self.hp.disc_batch_norm, width=width)
        if self.hp.minibatch_kernels > 0:
            add_minibatch_discrimination(disc, self.hp.minibatch_kernels, self.hp.minibatch_kernel_dim)
        return disc

    def noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """z ~ U(-1, 1), as in Lucic et al."""
        return torch.rand(n, self.z_dim, generator=rng, device=rng.device) * 2 - 1

    def configure_optimizers(self, fused: bool = False):
        betas = (self.hp.beta1, self.hp.beta2)
        lr = self.hp.lr
        kw = {"fused": True} if fused else {}
        return {
            "D": torch.optim.Adam(self.D.parameters(), lr=lr * self.hp.d_lr_scale, betas=betas, **kw),
            "G": torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas, **kw),
        }

    # --- the step, written against hooks that a population (population.py) replaces with batched ones, so each
    # game's step exists once: a member dimension in front of every tensor, (K,) losses, per-member hyperparameters

    def train_step(self, images, labels, ctx: StepContext):
        n = images.shape[-4]  # images are NCHW, with a population's member dimension in front
        with ctx.autocast():
            fake = self.G(self.noise(n, ctx.rng))
            d_loss = self.d_loss(self.D(images), self.D(fake.detach()))
            out = {}
            if self.game.penalty_points is not None:
                gp = self.gradient_penalty(self.penalty_points(images, fake.detach(), ctx.rng))
                d_loss = d_loss + self.member_hp("gp_lambda") * gp
                out["gradient_penalty"] = gp.detach()
        ctx.update(d_loss, "D")
        if self.game.clip_weights:
            with torch.no_grad():
                for p in self.D.parameters():
                    c = per_weight(self.member_hp("clip"), p)
                    p.clamp_(-c, c)
        out["d_loss"] = d_loss.detach()
        if ctx.step % self.hp.disc_iters == 0:
            with ctx.autocast():
                logits = (self.unrolled_logits(images, fake, d_optimizer=ctx.optimizers.get("D"))
                          if self.unrolled_steps else self.D(fake))
                g_loss = self.g_loss(logits)
            ctx.update(g_loss, "G")
            out["g_loss"] = g_loss.detach()
        return out

    def member_hp(self, name: str):
        """A hyperparameter members of a population may differ in: a float here, a (K,) tensor there."""
        return getattr(self.hp, name)

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        return self.game.d_loss(real, fake)

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        return self.game.g_loss(fake)

    def penalty_points(self, real: torch.Tensor, fake: torch.Tensor, rng) -> torch.Tensor:
        if self.game.penalty_points is None:  # train_step asks only a penalised game
            raise TypeError("this game takes no gradient penalty")
        return self.game.penalty_points(real, fake, rng)

    def gradient_penalty(self, points: torch.Tensor) -> torch.Tensor:
        return games.gradient_penalty(self.D, points)

    def unrolled_logits(self, images, fake, backprop: bool | None = None, d_optimizer=None):
        """D(G(z)) under the discriminator after k more of its own Adam steps on this batch (Metz et al. 2017).

        The steps continue D's optimiser from its moments (`d_optimizer`'s state; zero without one), as the
        authors' 2-D demo unrolls Keras' Adam update (github.com/poolio/unrolled_gan, checked 2026-12-02). Plain
        SGD steps at D's learning rate move its logits about 4x less than k Adam steps do (ring8, k = 5), a
        weaker look ahead. With `backprop` (hp.unroll_backprop, default on) the generator's gradient flows
        through the k steps, i.e. it anticipates how D will react; the real D and its moments are left untouched.
        """
        backprop = self.hp.unroll_backprop if backprop is None else backprop
        lr, b1, b2 = self.member_hp("lr") * self.hp.d_lr_scale, self.member_hp("beta1"), self.member_hp("beta2")
        named = dict(self.D.named_parameters())
        params = {k: w.detach().requires_grad_(True) for k, w in named.items()}
        # D's Adam state per weight (none before its first step); updated out of place below, so never written
        state = {k: (d_optimizer.state.get(w) if d_optimizer is not None else None) or {} for k, w in named.items()}
        m = {k: state[k]["exp_avg"].detach() if state[k] else torch.zeros_like(w) for k, w in params.items()}
        v = {k: state[k]["exp_avg_sq"].detach() if state[k] else torch.zeros_like(w) for k, w in params.items()}
        t0 = {k: float(state[k]["step"]) if state[k] else 0.0 for k in params}
        buffers = {k: v.clone() for k, v in self.D.named_buffers()}  # BN statistics: the copy's own

        def d(p, x):
            return functional_call(self.D, (p, buffers), (x,))

        for i in range(self.unrolled_steps):
            loss = self.d_loss(d(params, images), d(params, fake if backprop else fake.detach()))
            grads = torch.autograd.grad(loss.sum(), list(params.values()), create_graph=backprop)
            for (k, p), g in zip(list(params.items()), grads):
                t, beta1, beta2 = t0[k] + i + 1, per_weight(b1, p), per_weight(b2, p)
                m[k] = beta1 * m[k] + (1 - beta1) * g
                v[k] = beta2 * v[k] + (1 - beta2) * g * g
                # torch.optim.Adam's rule; sqrt at a tiny floor: its derivative at 0 would turn 0 x inf into NaN
                step = (m[k] / (1 - beta1 ** t)) / ((v[k] / (1 - beta2 ** t)).clamp_min(1e-30).sqrt() + ADAM_EPS)
                params[k] = p - per_weight(lr, p) * step
                if not backprop:
                    params[k], m[k], v[k] = (x.detach() for x in (params[k], m[k], v[k]))
                    params[k].requires_grad_(True)
        return d(params, fake)

    @torch.no_grad()
    def sample(self, n, rng, labels=None):
        was_training = self.G.training
        self.G.eval()
        try:
            x = self.G(self.noise(n, rng)).float()
            return x if is_points(self.image_shape) else x.clamp(0, 1)  # points are not pixels: no range
        finally:
            self.G.train(was_training)


# The games of Lucic et al. 2018 on the same networks, each with its own paper's recommended hyperparameters.
# Goodfellow et al. 2014 (MM, NS) and 2014b (ML) give none for these networks: DCGAN's (GanHp).
register(Family("mmgan", GAN, GanHp(), "minimax GAN (Goodfellow et al. 2014)", {"game": games.MM}))
register(Family("nsgan", GAN, GanHp(), "non-saturating GAN (Goodfellow et al. 2014)", {"game": games.NS}))
register(Family("mlgan", GAN, GanHp(), "maximum-likelihood game (Goodfellow 2014, distinguishability criteria)",
                {"game": games.ML}))
# Mao et al. 2017, Sec. 4: Adam, lr 2e-4, beta1 0.5; the loss on sigmoid outputs, as Lucic et al. ran it (games.py)
register(Family("lsgan", GAN, GanHp(), "least-squares GAN (Mao et al. 2017)", {"game": games.LS}))
# Arjovsky et al. 2017, Algorithm 1: lr 5e-5, c 0.01, n_critic 5, RMSProp (no momentum: Adam with beta1 0)
register(Family("wgan", GAN, ClippedHp(disc_iters=5, lr=5e-5, beta1=0.0),
                "Wasserstein GAN, weight clipping (Arjovsky et al. 2017)", {"game": games.WGAN}))
# Gulrajani et al. 2017, Algorithm 1: lambda 10, n_critic 5, Adam lr 1e-4, beta1 0, beta2 0.9; a per-sample
# gradient penalty is ill-defined across a batch-normalised critic (their Sec. 4), so no critic BN
# On 2-D points, their toy code's (igul222/improved_wgan_training, gan_toy.py, checked 2026-12-02): lambda 0.1
# ("smaller lambda makes things faster for toy tasks"), Adam beta1 0.5, beta2 0.9. At lambda 10 and beta1 0 it had
# 0 modes and 0.0-6.8% high quality on ring8 at 6,000 steps; at these, 8 modes and 66% by 15,000 (docs/results.md)
register(Family("wgangp", GAN, PenaltyHp(disc_iters=5, disc_batch_norm=False, lr=1e-4, beta1=0.0, beta2=0.9),
                "Wasserstein GAN, gradient penalty (Gulrajani et al. 2017)", {"game": games.WGAN_GP},
                points={"gp_lambda": 0.1, "beta1": 0.5, "beta2": 0.9}))
# Kodali et al. 2017: lambda 10, Adam lr 1e-4, beta1 0.5, beta2 0.9 (their reference code), no critic BN
register(Family("dragan", GAN, PenaltyHp(disc_batch_norm=False, lr=1e-4, beta2=0.9),
                "DRAGAN, gradient penalty around the data (Kodali et al. 2017)", {"game": games.DRAGAN}))
