"""The VAE families: `vae` (Kingma & Welling 2014), `cvae` (label-conditional, Sohn et al. 2015), `betavae`
(Higgins et al. 2017) and `hvae` (two stochastic layers, as in the IWAE paper's 2-layer model).

Every variant defines log_weights(x): log p(x, z) - log q(z | x) for k posterior samples, from which the test
ELBO (mean) and the importance-weighted bound (log-mean-exp, Burda et al. 2016) both follow; the one-layer
models train on the closed-form KL, which has less variance than its Monte Carlo estimate.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F

from components import progress
from components.errors import ConfigError
from components.models import likelihoods as lik
from components.models.base import GenerativeModel, StepContext
from components.models.ranges import AtLeastOne, LearningRate, NonNegative, Positive
from components.models.registry import Family, hyperparameters, register
from components.models.vae.networks import Decoder, Encoder, GaussianMLP

LOG_2PI = math.log(2 * math.pi)


def gaussian_log_prob(z: torch.Tensor, mean: torch.Tensor | None = None, logvar: torch.Tensor | None = None):
    """log N(z; mean, exp(logvar)) summed over the last dim; standard normal when mean/logvar are None."""
    if mean is None or logvar is None:
        return -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    return -0.5 * ((z - mean).pow(2) / logvar.exp() + logvar + LOG_2PI).sum(-1)


def reparameterize(mean: torch.Tensor, logvar: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """z ~ N(mean, exp(logvar)), differentiable in mean and logvar (Kingma & Welling 2014)."""
    return mean + (0.5 * logvar).exp() * torch.randn(mean.shape, generator=rng, device=rng.device).to(mean)


def kl_standard_normal(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per row, in closed form."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(-1)


@hyperparameters
class VaeHp:
    z_dim: AtLeastOne = 32
    beta: NonNegative = 1.0  # weight of the KL term while training; the reported ELBO always uses 1
    conditional: bool = False
    likelihood: Literal["bernoulli", "logistic"] = "bernoulli"  # binarised pixels, or 8-bit (discretised logistic)
    lr: LearningRate = 1e-3
    width: Positive = 1.0


@hyperparameters
class HvaeHp(VaeHp):
    z2_dim: AtLeastOne = 16
    hidden: AtLeastOne = 256


class VAE(lik.LikelihoodScored, GenerativeModel):
    kind = "vae"

    def __init__(self, image_shape, num_classes, hp):
        super().__init__(image_shape, num_classes, hp)
        self.z_dim, self.beta = hp.z_dim, hp.beta
        self.conditional, self.bernoulli = hp.conditional, hp.likelihood == "bernoulli"
        width, c = hp.width, image_shape[0]
        cond = num_classes if self.conditional else 0
        self.encoder = Encoder(image_shape, 2 * self.z_dim, cond, width)
        self.decoder = Decoder(image_shape, self.latent_for_decoder() + cond, c if self.bernoulli else 2 * c, width)

    def latent_for_decoder(self) -> int:
        return self.z_dim

    # --- pieces ---------------------------------------------------------------------------------------------
    def one_hot(self, labels: torch.Tensor | None, n: int, rng: torch.Generator | None = None):
        if not self.conditional:
            return None
        if labels is None:  # unconditional request of a conditional model: classes drawn uniformly
            labels = torch.randint(self.num_classes, (n,), generator=rng, device=None if rng is None else rng.device)
        return F.one_hot(labels.long(), self.num_classes).float()

    def observe(self, images: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        """What the likelihood scores: dynamically binarised pixels (Bernoulli) or the 8-bit values."""
        return lik.binarize(images, rng) if self.bernoulli else images

    def posterior(self, x, cond):
        mean, logvar = self.encoder(x, cond).chunk(2, dim=1)
        return mean, logvar.clamp(-12, 8)

    def decode(self, z, cond):
        return self.decoder(z if cond is None else torch.cat([z, cond], 1))

    def log_px(self, params: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.bernoulli:
            return lik.bernoulli_log_prob(params, x)
        mean, log_scale = params.chunk(2, dim=1)
        return lik.discretized_logistic_log_prob(torch.sigmoid(mean), log_scale, x)

    def mean_image(self, params: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(params if self.bernoulli else params.chunk(2, dim=1)[0])

    reparameterize = staticmethod(reparameterize)

    # --- objectives -----------------------------------------------------------------------------------------
    def elbo_terms(self, x, labels, rng) -> tuple[torch.Tensor, torch.Tensor]:
        """(E_q log p(x|z) with one sample, KL(q(z|x) || p(z))) per image."""
        cond = self.one_hot(labels, len(x))
        mean, logvar = self.posterior(x, cond)
        rec = self.log_px(self.decode(self.reparameterize(mean, logvar, rng), cond), x)
        return rec, kl_standard_normal(mean, logvar)

    def log_weights(self, x, labels, k: int, rng) -> torch.Tensor:
        """(k, N): log p(x, z_i) - log q(z_i | x) for k samples z_i ~ q(z | x)."""
        n = len(x)
        cond = self.one_hot(labels, n)
        mean, logvar = self.posterior(x, cond)
        mean_k, logvar_k = mean.repeat(k, 1), logvar.repeat(k, 1)
        z = self.reparameterize(mean_k, logvar_k, rng)
        cond_k = None if cond is None else cond.repeat(k, 1)
        log_px = self.log_px(self.decode(z, cond_k), x.repeat(k, 1, 1, 1))
        lw = log_px + gaussian_log_prob(z) - gaussian_log_prob(z, mean_k, logvar_k)
        return lw.view(k, n)

    def train_step(self, images, labels, ctx: StepContext):
        with ctx.autocast():
            x = self.observe(images, ctx.rng)
            rec, kl = self.elbo_terms(x, labels, ctx.rng)
            loss = (-rec + self.beta * kl).mean()
        ctx.update(loss, "model")
        return {"loss": loss.detach(), "rec_nats": -rec.mean().detach(), "kl_nats": kl.mean().detach()}

    def configure_optimizers(self, fused: bool = False):
        return {"model": torch.optim.Adam(self.parameters(), lr=self.hp.lr, fused=fused or None)}

    @torch.no_grad()
    def likelihood_metrics(self, images: torch.Tensor, labels: torch.Tensor, k: int, batch_size: int,
                           seed: int = 0) -> dict[str, float]:
        """Test ELBO (beta = 1, the true bound) and IWAE-k bound, in nats per image and bits/dim."""
        self.eval()
        rng = torch.Generator(device=images.device).manual_seed(seed)
        x_all = lik.fixed_binarization(images, seed) if self.bernoulli else images
        elbo, iwae = [], []
        for i in progress.bar(range(0, len(x_all), batch_size), "likelihood"):
            x, y = x_all[i:i + batch_size], labels[i:i + batch_size]
            lw = self.log_weights(x, y, k, rng)
            elbo.append(lw.mean(0))
            iwae.append(torch.logsumexp(lw, 0) - math.log(k))
        self.train()
        dims = math.prod(self.image_shape)
        e, w = torch.cat(elbo).mean().item(), torch.cat(iwae).mean().item()
        return {"test_elbo_nats": e, "test_nll_iwae_nats": -w, "test_elbo_bits_per_dim": lik.bits_per_dim(-e, dims),
                "test_nll_iwae_bits_per_dim": lik.bits_per_dim(-w, dims), "iwae_k": float(k)}

    @torch.no_grad()
    def sample(self, n, rng, labels=None):
        was = self.training
        self.eval()
        try:
            z = torch.randn(n, self.latent_for_decoder_prior(), generator=rng, device=rng.device)
            return self.mean_image(self.decode_prior(z, self.one_hot(labels, n, rng))).float().clamp(0, 1)
        finally:
            self.train(was)

    def latent_for_decoder_prior(self) -> int:
        return self.z_dim

    def decode_prior(self, z, cond):
        return self.decode(z, cond)

    # --- pictures -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def artifacts(self, images: torch.Tensor, labels: torch.Tensor, out: Path) -> list[Path]:
        """Reconstructions; latent traversals; the learned manifold for a 2-d latent; samples per class."""
        from components.evaluation.plots import save_grid

        self.eval()
        files = []
        x, y = images[:8], labels[:8]
        cond = self.one_hot(y, len(x))
        mean, _ = self.posterior(self.observe(x, torch.Generator(device=x.device).manual_seed(0)), cond)
        recon = self.mean_image(self.decode_prior_from_posterior(mean, cond))
        files.append(save_grid(torch.cat([x, recon]), out / "reconstructions.png", nrow=8))
        if self.latent_for_decoder_prior() == self.z_dim:
            steps = torch.linspace(-3, 3, 9, device=x.device)
            dims = min(self.z_dim, 10)
            z = mean[:1].repeat(dims * 9, 1)
            for d in range(dims):
                z[d * 9:(d + 1) * 9, d] = steps
            c = None if cond is None else cond[:1].repeat(dims * 9, 1)
            files.append(save_grid(self.mean_image(self.decode(z, c)), out / "traversals.png", nrow=9))
            if self.z_dim == 2 and not self.conditional:  # the seed's learned-manifold figure
                q = torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(0.05, 0.95, 15, device=x.device))
                grid = torch.stack(torch.meshgrid(q, q, indexing="ij"), -1).view(-1, 2)
                files.append(save_grid(self.mean_image(self.decode(grid, None)), out / "manifold.png", nrow=15))
        if self.conditional:
            rng = torch.Generator(device=x.device).manual_seed(0)
            labels_grid = torch.arange(self.num_classes, device=x.device).repeat_interleave(10)
            files.append(save_grid(self.sample(len(labels_grid), rng, labels_grid), out / "samples_per_class.png",
                                   nrow=10))
        self.train()
        return files

    def decode_prior_from_posterior(self, mean, cond):
        return self.decode(mean, cond)


class HierarchicalVAE(VAE):
    """x -> z1 -> z2 with q(z1|x) q(z2|z1) and p(z2) p(z1|z2) p(x|z1); its KL has no closed form, so it trains
    on the one-sample Monte Carlo ELBO."""

    def __init__(self, image_shape, num_classes, hp):
        if hp.conditional:
            raise ConfigError("hvae is unconditional; use cvae for labels")
        super().__init__(image_shape, num_classes, hp)
        self.z2_dim = hp.z2_dim
        hidden = max(2, round(hp.hidden * hp.width))
        self.q_z2 = GaussianMLP(self.z_dim, self.z2_dim, hidden)
        self.p_z1 = GaussianMLP(self.z2_dim, self.z_dim, hidden)

    def log_weights(self, x, labels, k: int, rng) -> torch.Tensor:
        n = len(x)
        mean1, logvar1 = self.posterior(x, None)
        mean1, logvar1 = mean1.repeat(k, 1), logvar1.repeat(k, 1)
        z1 = self.reparameterize(mean1, logvar1, rng)
        mean2, logvar2 = self.q_z2(z1)
        z2 = self.reparameterize(mean2, logvar2, rng)
        prior_mean1, prior_logvar1 = self.p_z1(z2)
        log_p = (self.log_px(self.decode(z1, None), x.repeat(k, 1, 1, 1))
                 + gaussian_log_prob(z1, prior_mean1, prior_logvar1) + gaussian_log_prob(z2))
        log_q = gaussian_log_prob(z1, mean1, logvar1) + gaussian_log_prob(z2, mean2, logvar2)
        return (log_p - log_q).view(k, n)

    def elbo_terms(self, x, labels, rng):
        lw = self.log_weights(x, labels, 1, rng)[0]
        mean1, logvar1 = self.posterior(x, None)  # for logging only: rec under the posterior mean
        rec = self.log_px(self.decode(mean1, None), x)
        return rec, rec - lw  # kl := rec - elbo, so loss = -rec + kl = -elbo

    def latent_for_decoder_prior(self) -> int:
        return self.z2_dim

    def decode_prior(self, z2, cond):
        mean1, logvar1 = self.p_z1(z2)
        return self.decode(mean1, None)


register(Family("vae", VAE, VaeHp(), "convolutional VAE (Kingma & Welling 2014)"))
register(Family("cvae", VAE, VaeHp(conditional=True), "conditional VAE, label-conditioned (Sohn et al. 2015)"))
register(Family("betavae", VAE, VaeHp(beta=4.0, z_dim=10), "beta-VAE, beta x KL (Higgins et al. 2017)"))
register(Family("hvae", HierarchicalVAE, HvaeHp(), "hierarchical VAE, two stochastic layers"))
