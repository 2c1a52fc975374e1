"""A GAN as a GenerativeModel: one D step per loop step, one G step every `disc_iters` steps (as Mimicry)."""

from __future__ import annotations

import torch

from components.models.base import GenerativeModel, StepContext
from components.models.gan import games
from components.models.gan.networks import ARCHITECTURES


class GAN(GenerativeModel):
    kind = "gan"

    def __init__(self, image_shape, num_classes, hp, game: games.Game):
        super().__init__(image_shape, num_classes, hp)
        gen_cls, disc_cls = ARCHITECTURES[hp.get("arch", "infogan")]
        self.z_dim = int(hp.get("z_dim", 64))
        width = float(hp.get("width", 1.0))
        self.G = gen_cls(image_shape, self.z_dim, width=width)
        self.D = disc_cls(image_shape, batch_norm=bool(hp.get("disc_batch_norm", True)), width=width)
        self.game = game

    def noise(self, n: int, rng: torch.Generator) -> torch.Tensor:
        """z ~ U(-1, 1), as in Lucic et al."""
        return torch.rand(n, self.z_dim, generator=rng, device=rng.device) * 2 - 1

    def configure_optimizers(self, fused: bool = False):
        betas = (float(self.hp.get("beta1", 0.5)), float(self.hp.get("beta2", 0.999)))
        lr = float(self.hp.get("lr", 2e-4))
        kw = {"fused": True} if fused else {}
        return {
            "D": torch.optim.Adam(self.D.parameters(), lr=lr, betas=betas, **kw),
            "G": torch.optim.Adam(self.G.parameters(), lr=lr, betas=betas, **kw),
        }

    def train_step(self, images, labels, ctx: StepContext):
        n = images.shape[0]
        with ctx.autocast():
            fake = self.G(self.noise(n, ctx.rng))
            d_loss = self.game.d_loss(self.D(images), self.D(fake.detach()))
        ctx.update(d_loss, "D")
        out = {"d_loss": d_loss.detach()}
        if ctx.step % int(self.hp.get("disc_iters", 1)) == 0:
            with ctx.autocast():
                g_loss = self.game.g_loss(self.D(fake))
            ctx.update(g_loss, "G")
            out["g_loss"] = g_loss.detach()
        return out

    @torch.no_grad()
    def sample(self, n, rng, labels=None):
        was_training = self.G.training
        self.G.eval()
        try:
            return self.G(self.noise(n, rng)).float().clamp(0, 1)
        finally:
            self.G.train(was_training)


def nsgan(image_shape, num_classes, hp):
    return GAN(image_shape, num_classes, hp, games.NS)
