import math

import pytest
import torch

from components.models.base import StepContext
from components.models.gan import games
from components.models.registry import FAMILIES, get_family
from components.errors import ConfigError


def test_ns_losses_on_known_logits():
    zero = torch.zeros(4)
    # D(x) = 1/2 everywhere: -log(1/2) - log(1 - 1/2) = 2 log 2, and the generator pays log 2
    assert games.NS.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert games.NS.g_loss(zero).item() == pytest.approx(math.log(2))
    big = torch.full((4,), 20.0)
    assert games.NS.d_loss(big, -big).item() == pytest.approx(0, abs=1e-6)  # a perfect discriminator
    assert games.NS.g_loss(-big).item() == pytest.approx(20, rel=1e-4)  # non-saturating: large gradient signal


def _ctx(model, step=0):
    return StepContext(torch.device("cpu"), torch.Generator().manual_seed(0), step,
                       lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())


def test_one_step_moves_both_networks_and_sample_shapes():
    torch.manual_seed(0)
    model = get_family("nsgan").build((1, 28, 28), 10, {"z_dim": 8, "width": 0.125})
    g0 = [p.clone() for p in model.G.parameters()]
    d0 = [p.clone() for p in model.D.parameters()]
    losses = model.train_step(torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long), _ctx(model))
    assert set(losses) == {"d_loss", "g_loss"}
    assert any(not torch.equal(a, b) for a, b in zip(g0, model.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(d0, model.D.parameters()))
    x = model.sample(5, torch.Generator().manual_seed(1))
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, model.sample(5, torch.Generator().manual_seed(1)))


def test_disc_iters_skips_generator_steps():
    model = get_family("nsgan").build((3, 32, 32), 10, {"z_dim": 8, "width": 0.125, "disc_iters": 2})
    g0 = [p.clone() for p in model.G.parameters()]
    losses = model.train_step(torch.rand(4, 3, 32, 32), None, _ctx(model, step=1))
    assert set(losses) == {"d_loss"}
    assert all(torch.equal(a, b) for a, b in zip(g0, model.G.parameters()))


def test_registry_lists_and_rejects():
    assert FAMILIES["nsgan"].kind == "gan"
    with pytest.raises(ConfigError, match="unknown model family 'nope'"):
        get_family("nope")
