"""NADE on a 10-pixel toy, where every binary image can be enumerated: its probabilities sum to 1, each is the
product of conditionals computed the slow way, and its sampler draws images at those probabilities."""

import itertools
import math

import pytest
import torch

from tests.conftest import model_of

TOY = (1, 2, 5)  # D = 10 pixels: 1,024 binary images


def _toy(seed=0):
    torch.manual_seed(seed)
    model = model_of("nade", TOY, 1, {"hidden": 7}).double()
    with torch.no_grad():  # away from the near-uniform initialisation, so a wrong conditional shows
        for p in model.parameters():
            p.copy_(torch.randn_like(p))
    return model


def _all_images():
    return torch.tensor(list(itertools.product([0, 1], repeat=10)), dtype=torch.long).view(-1, *TOY)


def test_the_probabilities_of_all_1024_binary_images_sum_to_one():
    model = _toy()
    total = model.log_prob(_all_images(), None).exp().sum().item()
    assert total == pytest.approx(1.0, abs=1e-9)


def test_log_p_is_the_sum_of_the_conditionals_computed_one_by_one():
    model = _toy(1)
    images = _all_images()[torch.randperm(1024)[:50]]
    flat = images.flatten(1).double()
    for x, got in zip(flat, model.log_prob(images, None)):
        expected = 0.0
        for d in range(10):  # the definition: h_d = sigmoid(c + W[:, :d] x[:d]), p_d = sigmoid(b_d + V_d h_d)
            h = torch.sigmoid(model.c + model.W[:, :d] @ x[:d])
            p = torch.sigmoid(model.b[d] + model.V[d] @ h).item()
            expected += math.log(p if x[d] == 1 else 1 - p)
        assert got.item() == pytest.approx(expected, abs=1e-9)


def test_the_sampler_draws_images_at_their_probabilities():
    """Each pixel's marginal and the mean log p of the draws (minus the entropy) within 4 standard errors."""
    model = _toy(2)
    images = _all_images()
    log_p = model.log_prob(images, None)
    p = log_p.exp()
    n = 40_000
    drawn = model.sample(n, torch.Generator().manual_seed(0)).long()
    marginal = (p[:, None] * images.flatten(1).double()).sum(0)
    seen = drawn.flatten(1).double().mean(0)
    assert ((seen - marginal).abs() <= 4 * (marginal * (1 - marginal) / n).sqrt()).all()
    entropy = -(p * log_p).sum()
    spread = ((p * (log_p + entropy) ** 2).sum() / n).sqrt()
    assert (model.log_prob(drawn, None).mean() + entropy).abs() <= 4 * spread


def test_each_conditional_sees_every_earlier_pixel_and_nothing_after_it():
    from tests.models.test_autoregressive import _dependence

    model = _toy(3).float()
    dep = _dependence(model, TOY)
    assert not torch.triu(dep).any()
    assert torch.tril(dep, -1).sum() == 10 * 9 // 2  # no blind spot: h_d reads all of x_<d


def test_a_step_learns_and_the_test_likelihood_is_exact_in_nats_and_bits():
    from components.models.base import StepContext

    torch.manual_seed(0)
    model = model_of("nade", (1, 8, 8), 10, {"hidden": 16})
    ctx = StepContext(torch.device("cpu"), torch.Generator().manual_seed(0), 0,
                      lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())
    images = torch.rand(16, 1, 8, 8)
    before = model.likelihood_metrics(images, torch.arange(16), k=1, batch_size=8)
    for _ in range(20):
        model.train_step(images, torch.arange(16), ctx)
    after = model.likelihood_metrics(images, torch.arange(16), k=1, batch_size=8)
    assert after["test_nll_nats"] < before["test_nll_nats"]
    assert after["test_nll_bits_per_dim"] == pytest.approx(after["test_nll_nats"] / (64 * math.log(2)))
    s = model.sample(3, torch.Generator().manual_seed(1))
    assert s.shape == (3, 1, 8, 8) and set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(s, model.sample(3, torch.Generator().manual_seed(1)))
