"""VAE families on tiny networks: the KL term, the bounds, conditioning, one step of each."""

import math

import pytest
import torch

from components.models import likelihoods as lik
from components.models.base import StepContext
from components.models.vae.family import gaussian_log_prob, kl_standard_normal
from tests.conftest import model_of

TINY = {"z_dim": 4, "width": 0.25}
VAES = ["vae", "cvae", "betavae", "hvae"]


def _ctx(model, seed=0):
    return StepContext(torch.device("cpu"), torch.Generator().manual_seed(seed), 0,
                       lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())


def _digits(n=16):
    from components.data import sources

    s = sources.fetch("mnist5k", {})
    x = torch.from_numpy(s.test_images[:n]).permute(0, 3, 1, 2).float() / 255
    return x, torch.from_numpy(s.test_labels[:n]).long()


def test_kl_equals_its_closed_form_and_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mean, logvar = torch.randn(3, 5, generator=g), torch.randn(3, 5, generator=g)
    q = torch.distributions.Normal(mean, (0.5 * logvar).exp())
    p = torch.distributions.Normal(torch.zeros(5), torch.ones(5))
    expected = torch.distributions.kl_divergence(q, p).sum(-1)
    assert torch.allclose(kl_standard_normal(mean, logvar), expected, atol=1e-5)
    z = q.sample((200_000,))  # E_q[log q - log p]
    mc = (gaussian_log_prob(z, mean, logvar) - gaussian_log_prob(z)).mean(0)
    assert torch.allclose(mc, expected, rtol=0.05, atol=0.02)


def test_discretized_logistic_is_a_distribution_over_the_levels():
    values = torch.arange(256).float().view(256, 1, 1, 1) / 255
    for mean, log_scale in [(0.3, -3.0), (0.0, -1.0), (0.97, -5.0)]:
        logp = lik.discretized_logistic_log_prob(torch.full_like(values, mean), torch.full_like(values, log_scale),
                                                 values)
        assert logp.exp().sum().item() == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("family", VAES)
def test_one_step_moves_the_model_and_samples_are_images(family):
    torch.manual_seed(0)
    model = model_of(family, (1, 28, 28), 10, TINY)
    x, y = _digits(8)
    before = [p.detach().clone() for p in model.parameters()]
    out = model.train_step(x, y, _ctx(model))
    assert {"loss", "rec_nats", "kl_nats"} <= set(out) and all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    s = model.sample(5, torch.Generator().manual_seed(1))
    assert s.shape == (5, 1, 28, 28) and 0 <= s.min() and s.max() <= 1
    assert torch.equal(s, model.sample(5, torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("family", ["vae", "hvae"])
def test_iwae_bound_is_at_least_the_elbo_and_grows_with_k(family):
    torch.manual_seed(0)
    model = model_of(family, (1, 28, 28), 10, TINY)
    x, y = _digits(32)
    xb = lik.fixed_binarization(x)
    with torch.no_grad():
        lw = model.log_weights(xb, y, 64, torch.Generator().manual_seed(0))  # (k, N)
    iwae = torch.logsumexp(lw, 0) - math.log(64)
    assert (iwae >= lw.mean(0) - 1e-4).all()  # Jensen, per image, on the same samples
    bounds = []
    for k in (1, 4, 32):  # on average over images and repeats
        with torch.no_grad():
            reps = [torch.logsumexp(model.log_weights(xb, y, k, torch.Generator().manual_seed(r)), 0) - math.log(k)
                    for r in range(4)]
        bounds.append(torch.stack(reps).mean().item())
    assert bounds[0] < bounds[1] < bounds[2]
    m = model.likelihood_metrics(x, y, k=8, batch_size=16)
    assert m["test_nll_iwae_nats"] <= -m["test_elbo_nats"] + 1e-3
    assert m["test_nll_iwae_bits_per_dim"] == pytest.approx(m["test_nll_iwae_nats"] / (784 * math.log(2)))


def test_conditional_vae_responds_to_the_label():
    torch.manual_seed(0)
    model = model_of("cvae", (1, 28, 28), 10, TINY)
    x, _ = _digits(4)
    xb = lik.fixed_binarization(x)
    lw = [model.log_weights(xb, torch.full((4,), c), 1, torch.Generator().manual_seed(0)) for c in (1, 7)]
    assert not torch.allclose(lw[0], lw[1])
    rng = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert not torch.equal(model.sample(4, rng(), torch.full((4,), 1)), model.sample(4, rng(), torch.full((4,), 7)))


def test_beta_weights_the_kl_in_the_objective():
    x, y = _digits(8)
    losses = {}
    for beta in (1.0, 4.0):
        torch.manual_seed(0)
        model = model_of("betavae", (1, 28, 28), 10, {**TINY, "beta": beta})
        out = model.train_step(x, y, _ctx(model))
        losses[beta] = out
    assert losses[4.0]["loss"].item() == pytest.approx(
        losses[4.0]["rec_nats"].item() + 4 * losses[4.0]["kl_nats"].item(), rel=1e-5)
    assert losses[1.0]["loss"].item() == pytest.approx(
        losses[1.0]["rec_nats"].item() + losses[1.0]["kl_nats"].item(), rel=1e-5)


def test_artifacts_include_manifold_for_a_2d_latent_and_per_class_samples(tmp_path):
    x, y = _digits(8)
    files = model_of("vae", (1, 28, 28), 10, {**TINY, "z_dim": 2}).artifacts(x, y, tmp_path / "a")
    assert {f.name for f in files} == {"reconstructions.png", "traversals.png", "manifold.png"}
    files = model_of("cvae", (1, 28, 28), 10, TINY).artifacts(x, y, tmp_path / "b")
    assert "samples_per_class.png" in {f.name for f in files}
