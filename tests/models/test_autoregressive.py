"""Autoregressive families on tiny networks: causality, no blind spot, normalisation, conditioning."""

import itertools
import math

import pytest
import torch

from components.models.base import StepContext
from tests.conftest import model_of

AR = ["pixelcnn", "gatedpixelcnn", "pixelrnn"]
TINY = {"hidden": 8, "layers": 2}


def _build(family, shape=(1, 5, 5), **hp):
    torch.manual_seed(0)
    return model_of(family, shape, 10, {**TINY, **hp})


def _dependence(model, shape, labels=None):
    """dep[i, j] = whether output pixel-channel i's logits depend on input pixel-channel j (raster order)."""
    c, h, w = shape
    x = torch.rand(1, c, h, w, requires_grad=True)
    logits = model.logits(x, labels)  # (1, levels, C, H, W)
    n = c * h * w
    dep = torch.zeros(n, n, dtype=torch.bool)
    for r, col, ch in itertools.product(range(h), range(w), range(c)):
        i = (r * w + col) * c + ch
        (g,) = torch.autograd.grad(logits[0, :, ch, r, col].sum(), x, retain_graph=True)
        dep[i] = (g[0].permute(1, 2, 0).reshape(-1) != 0)  # raster order: row, column, then channel
    return dep


@pytest.mark.parametrize("family", AR)
def test_output_never_depends_on_its_own_or_later_pixels(family):
    model = _build(family, layers=3)
    dep = _dependence(model, (1, 5, 5), torch.tensor([3]) if model.conditional else None)
    assert not torch.triu(dep).any()  # exactly zero gradient at and after i (mask A)
    assert dep[-1, :-1].sum() > 0


def test_colour_pixelcnn_orders_channels_within_a_pixel():
    model = _build("pixelcnn", shape=(3, 4, 4), hidden=48)  # 16 feature maps per colour: no dead paths
    dep = _dependence(model, (3, 4, 4))
    assert not torch.triu(dep).any()
    for p in range(16):  # within each pixel: G sees R, B sees R and G
        r, g, b = 3 * p, 3 * p + 1, 3 * p + 2
        assert dep[g, r] and dep[b, r] and dep[b, g]


def test_gated_pixelcnn_has_no_blind_spot():
    shape = (1, 7, 7)
    gated = _dependence(_build("gatedpixelcnn", shape=shape, layers=4), shape, torch.tensor([0]))
    assert all(gated[i, :i].all() for i in range(gated.shape[0])), "every earlier pixel reaches every later one"
    # stacked masked convolutions never reach up-right of the row above: pixel (4, 0) cannot see (3, 4)
    plain = _dependence(_build("pixelcnn", shape=shape, layers=4), shape)
    i, j = 4 * 7 + 0, 3 * 7 + 4
    assert gated[i, j] and not plain[i, j]


@pytest.mark.parametrize("family", AR)
def test_probabilities_of_every_binary_image_sum_to_one(family):
    model = _build(family, shape=(1, 3, 3))
    images = torch.tensor(list(itertools.product([0, 1], repeat=9))).view(-1, 1, 3, 3)  # all 512
    labels = torch.full((512,), 2) if model.conditional else None
    with torch.no_grad():
        total = torch.logsumexp(model.log_prob(images, labels), 0).item()
    assert total == pytest.approx(0.0, abs=1e-4)  # log of the sum of p(x) = log 1


def test_eight_bit_levels_are_normalised_per_pixel():
    model = _build("pixelcnn", shape=(1, 2, 2), levels=256)
    x = torch.randint(0, 256, (3, 1, 2, 2))
    logits = model.logits(model.as_input(x), None)
    assert logits.shape == (3, 256, 1, 2, 2)
    assert torch.allclose(logits.softmax(1).sum(1), torch.ones(3, 1, 2, 2))


@pytest.mark.parametrize("family", AR)
def test_one_step_learns_and_sampling_is_seeded(family):
    model = _build(family, shape=(1, 8, 8))
    ctx = StepContext(torch.device("cpu"), torch.Generator().manual_seed(0), 0,
                      lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())
    before = [p.detach().clone() for p in model.parameters()]
    out = model.train_step(torch.rand(4, 1, 8, 8), torch.arange(4), ctx)
    assert out["nll_bits_per_dim"].item() == pytest.approx(out["loss"].item() / math.log(2))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    s = model.sample(3, torch.Generator().manual_seed(1))
    assert s.shape == (3, 1, 8, 8) and set(s.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(s, model.sample(3, torch.Generator().manual_seed(1)))
    m = model.likelihood_metrics(torch.rand(6, 1, 8, 8), torch.arange(6), k=1, batch_size=4)
    assert m["test_nll_bits_per_dim"] == pytest.approx(m["test_nll_nats"] / (64 * math.log(2)))


def test_gated_pixelcnn_responds_to_the_class():
    model = _build("gatedpixelcnn", shape=(1, 5, 5))
    x = torch.randint(0, 2, (2, 1, 5, 5))
    assert not torch.allclose(model.log_prob(x, torch.tensor([1, 1])), model.log_prob(x, torch.tensor([7, 7])))
    rng = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    assert not torch.equal(model.sample(4, rng(), torch.full((4,), 1)), model.sample(4, rng(), torch.full((4,), 7)))


@pytest.mark.parametrize("family", AR)
def test_sampling_on_cropped_rows_matches_the_full_image(family):
    # sample() computes row r's logits from rows 0..r only; causality makes that exact
    model = _build(family, shape=(1, 6, 6))
    x = torch.rand(2, 1, 6, 6)
    labels = torch.tensor([1, 2]) if model.conditional else None
    full = model.logits(x, labels)
    for r in range(6):
        assert torch.allclose(model.logits(x[:, :, :r + 1], labels)[:, :, :, r], full[:, :, :, r], atol=1e-5)


MIXTURE = {"likelihood": "logistic_mixture", "mixtures": 3}


@pytest.mark.parametrize("family, shape, hp", [
    ("pixelcnn", (1, 7, 6), {}), ("pixelcnn", (1, 6, 5), {"levels": 256}), ("pixelcnn", (3, 5, 6), {}),
    ("pixelcnn", (3, 4, 5), {"levels": 256}), ("pixelcnn", (1, 6, 5), {"levels": 256, **MIXTURE}),
    ("pixelcnn", (3, 4, 5), {"levels": 256, **MIXTURE}),
    ("gatedpixelcnn", (1, 7, 6), {}), ("gatedpixelcnn", (1, 6, 5), {"levels": 256}),
    ("pixelrnn", (1, 7, 6), {}), ("pixelrnn", (1, 6, 5), {"levels": 256}),
    ("multiscale", (1, 6, 6), {}), ("multiscale", (3, 4, 6), {"levels": 256, **MIXTURE}),
    ("nade", (1, 7, 6), None), ("nade", (3, 4, 5), None),
])
def test_the_cached_sampler_draws_what_a_full_pass_a_pixel_draws(family, shape, hp):
    # float64 and weights far from their initialisation: the logits are sharp and a cache that reads a wrong
    # position or a stale row moves enough of them to change a draw; the full pass is the reference
    from components.models.autoregressive.sampling import FullPass

    torch.manual_seed(0)
    hp = {"hidden": 6} if hp is None else {"hidden": 6, "layers": 3, **hp}
    model = model_of(family, shape, 10, hp).double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.5)
    labels = torch.tensor([0, 3, 7, 9]) if model.conditional else None
    cached = model.sample(4, torch.Generator().manual_seed(1), labels)
    reference = model.sample(4, torch.Generator().manual_seed(1), labels, cache=FullPass)
    assert len(reference.unique()) > 1  # not a degenerate model whose every draw is the same level
    assert torch.equal(cached, reference)


def test_gated_pixelcnn_log_p_of_x_sums_its_labels_and_is_normalised():
    model = _build("gatedpixelcnn", shape=(1, 3, 3))
    images = torch.tensor(list(itertools.product([0, 1], repeat=9))).view(-1, 1, 3, 3)  # all 512
    with torch.no_grad():
        marginal = model.marginal_log_prob(images)
        per_label = torch.stack([model.log_prob(images, torch.full((512,), y)) for y in range(10)])
    assert torch.logsumexp(marginal, 0).item() == pytest.approx(0.0, abs=1e-4)  # sum over x of p(x) = 1
    assert torch.allclose(marginal.exp(), per_label.exp().mean(0), rtol=1e-4)  # p(x) = sum_y p(x | y) / 10


def test_gated_pixelcnn_reports_log_p_of_x_beside_log_p_given_its_label():
    from components.config.schema import Eval

    model = _build("gatedpixelcnn", shape=(1, 5, 5))
    m = model.extra_metrics(torch.rand(6, 1, 5, 5), torch.arange(6), Eval(batch_size=10), seed=0)
    assert {"test_nll_nats", "test_nll_nats_given_label", "test_nll_bits_per_dim"} <= set(m)
    # log sum_y p(x | y) / 10 >= log p(x | y*) - log 10, image by image and so on average
    assert m["test_nll_nats"] <= m["test_nll_nats_given_label"] + math.log(10) + 1e-6


def test_a_logistic_mixture_on_binary_pixels_is_refused_in_one_line():
    from components.errors import ConfigError

    with pytest.raises(ConfigError, match=r"^family.pixelcnn.likelihood=logistic_mixture spreads a pixel over "
                                          r"ordered levels; levels=2 is a Bernoulli"):
        _build("pixelcnn", likelihood="logistic_mixture")


def test_a_logistic_mixture_pixelcnn_is_normalised_over_its_256_levels_and_learns():
    model = _build("pixelcnn", shape=(1, 4, 4), levels=256, likelihood="logistic_mixture", mixtures=3, lr=0.01)
    x = torch.randint(0, 256, (3, 1, 4, 4))
    assert torch.allclose(model.logits(model.as_input(x)).exp().sum(1), torch.ones(3, 1, 4, 4), atol=1e-3)
    ctx = StepContext(torch.device("cpu"), torch.Generator().manual_seed(0), 0,
                      lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())
    images = torch.full((8, 1, 4, 4), 0.5)  # one grey level: a model that learns piles its mass there
    first = model.train_step(images, torch.arange(8), ctx)["loss"].item()
    for _ in range(30):
        last = model.train_step(images, torch.arange(8), ctx)["loss"].item()
    assert last < first - 1.0
