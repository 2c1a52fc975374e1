"""Every GAN game on tiny networks: the losses on known inputs, one step of each, and each stabiliser."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from components.errors import ConfigError
from components.models.base import StepContext
from components.models.gan import games
from components.models.gan.networks import DCGANDiscriminator, DCGANGenerator, MinibatchDiscrimination
from components.models.registry import families, get_family
from tests.conftest import model_of

GAMES = ["mmgan", "nsgan", "mlgan", "lsgan", "wgan", "wgangp", "dragan", "began"]
TINY = {"z_dim": 8, "width": 0.125}


def _ctx(model, step=0, seed=0):
    return StepContext(torch.device("cpu"), torch.Generator().manual_seed(seed), step,
                       lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _moved(before, net):
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_registry_lists_all_eight_games():
    assert [f for f in families() if families()[f].kind == "gan"] == GAMES
    with pytest.raises(ConfigError, match="unknown model family 'nope'"):
        get_family("nope")


def test_ns_and_mm_losses_on_known_logits():
    zero = torch.zeros(4)
    # D(x) = 1/2 everywhere: -log(1/2) - log(1 - 1/2) = 2 log 2, and the generator pays log 2
    assert games.NS.d_loss(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert games.NS.g_loss(zero).item() == pytest.approx(math.log(2))
    big = torch.full((4,), 20.0)
    assert games.NS.d_loss(big, -big).item() == pytest.approx(0, abs=1e-6)  # a perfect discriminator
    assert games.NS.g_loss(-big).item() == pytest.approx(20, rel=1e-4)  # non-saturating: large signal
    # minimax saturates exactly there: log(1 - D(G(z))) is flat when D(G(z)) -> 0
    fake = (-big).requires_grad_(True)
    games.MM.g_loss(fake).backward()
    assert fake.grad.abs().max().item() < 1e-8
    assert games.MM.g_loss(zero).item() == pytest.approx(-math.log(2))


def test_ml_ls_and_wasserstein_losses_on_known_outputs():
    x = torch.tensor([0.0, math.log(3.0)])
    assert games.ML.g_loss(x).item() == pytest.approx(-0.5 * (1 + 3) / 2)  # -1/2 E[exp(logit)]
    # least squares on D = sigmoid(logit) (Lucic et al.): a perfect D pays 0, D = 1/2 pays 1/8 per term
    assert games.LS.d_loss(torch.full((3,), 30.0), torch.full((3,), -30.0)).item() == pytest.approx(0, abs=1e-12)
    assert games.LS.d_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(0.25)
    assert games.LS.g_loss(torch.zeros(3)).item() == pytest.approx(0.125)
    assert games.LS.g_loss(torch.full((3,), -30.0)).item() == pytest.approx(0.5)
    assert games.WGAN.d_loss(torch.full((2,), 3.0), torch.full((2,), 1.0)).item() == -2
    assert games.WGAN.g_loss(torch.full((2,), 1.0)).item() == -1


@pytest.mark.parametrize("family", GAMES)
def test_one_discriminator_and_one_generator_step_change_the_parameters(family):
    torch.manual_seed(0)
    model = model_of(family, (1, 28, 28), 10, {**TINY, "disc_iters": 1})
    g0, d0 = _params(model.G), _params(model.D)
    losses = model.train_step(torch.rand(8, 1, 28, 28), torch.zeros(8, dtype=torch.long), _ctx(model))
    assert {"d_loss", "g_loss"} <= set(losses) and all(torch.isfinite(v) for v in losses.values())
    assert _moved(g0, model.G) and _moved(d0, model.D)
    x = model.sample(5, torch.Generator().manual_seed(1))
    assert x.shape == (5, 1, 28, 28) and 0 <= x.min() and x.max() <= 1
    assert torch.equal(x, model.sample(5, torch.Generator().manual_seed(1)))


def test_disc_iters_skips_generator_steps():
    model = model_of("nsgan", (3, 32, 32), 10, {**TINY, "disc_iters": 2})
    g0 = _params(model.G)
    losses = model.train_step(torch.rand(4, 3, 32, 32), None, _ctx(model, step=1))
    assert set(losses) == {"d_loss"} and not _moved(g0, model.G)


class Linear(nn.Module):
    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w)

    def forward(self, x):
        return x.flatten(1) @ self.w.flatten()


@pytest.mark.parametrize("points", [games.interpolates, games.perturbed_data])
def test_gradient_penalty_equals_closed_form_on_a_linear_critic(points):
    # grad_x (w . x) = w at every point, so the penalty is (||w|| - 1)^2 wherever it is taken
    w = torch.randn(1, 4, 4, generator=torch.Generator().manual_seed(3))
    critic = Linear(w.clone())
    real, fake = torch.rand(6, 1, 4, 4), torch.rand(6, 1, 4, 4)
    gp = games.gradient_penalty(critic, points(real, fake, torch.Generator().manual_seed(0)))
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    gp.backward()  # differentiable w.r.t. the critic: d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||
    assert torch.allclose(critic.w.grad, 2 * (w.norm() - 1) * w / w.norm(), rtol=1e-4)


def test_dragan_points_stay_near_the_data_and_wgangp_points_between():
    g = torch.Generator().manual_seed(0)
    real, fake = torch.zeros(16, 1, 4, 4), torch.ones(16, 1, 4, 4)
    between = games.interpolates(real, fake, g)
    assert between.min() >= 0 and between.max() <= 1 and between.std() > 0
    real = torch.rand(16, 1, 4, 4, generator=g)
    near = games.perturbed_data(real, fake, g)
    assert ((near - real) >= 0).all() and (near - real).max() <= 0.5 * real.std() + 1e-6


def test_wgan_clipping_keeps_every_critic_weight_within_c():
    model = model_of("wgan", (1, 28, 28), 10, {**TINY, "clip": 0.01, "lr": 0.5})  # a huge step
    for step in range(3):
        model.train_step(torch.rand(8, 1, 28, 28), None, _ctx(model, step=step))
    assert all(p.abs().max().item() <= 0.01 for p in model.D.parameters())
    assert any(p.abs().max().item() == pytest.approx(0.01) for p in model.D.parameters())  # it did clip


def test_began_k_stays_in_unit_interval_and_follows_its_update_rule():
    torch.manual_seed(0)
    model = model_of("began", (1, 28, 28), 10, {**TINY, "lambda_k": 0.001, "gamma": 0.75})
    images = torch.rand(8, 1, 28, 28)
    ctx = _ctx(model)
    # recompute the step's L(x) and L(G(z)) with the same noise before D moves
    rng_state = ctx.rng.get_state()
    with torch.no_grad():
        fake = model.G(model.noise(8, ctx.rng))
        expected = (0 + 0.001 * (0.75 * model.energy(images) - model.energy(fake))).clamp(0, 1)
    ctx.rng.set_state(rng_state)
    losses = model.train_step(images, None, ctx)
    assert model.k.item() == pytest.approx(expected.item(), abs=1e-7)
    assert {"k", "convergence"} <= set(losses) and losses["convergence"].item() > 0
    model.hp = dataclasses.replace(model.hp, lambda_k=1e3)  # a huge gain: k must saturate at a bound, in [0, 1]
    for step in range(4):
        model.train_step(images, None, _ctx(model, step=step))
        assert 0 <= model.k.item() <= 1
    assert model.k.item() in (0.0, 1.0)


def test_unrolled_generator_gradient_differs_and_flows_through_the_unrolled_steps():
    def g_grad(k, backprop=True):
        torch.manual_seed(0)
        model = model_of("nsgan", (1, 28, 28), 10, {**TINY, "unrolled_steps": k, "lr": 0.05,
                                                    "disc_batch_norm": False})
        images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        fake = model.G(model.noise(8, torch.Generator().manual_seed(2)))
        logits = model.unrolled_logits(images, fake, backprop) if k else model.D(fake)
        d_before = _params(model.D)
        grads = torch.autograd.grad(model.game.g_loss(logits), list(model.G.parameters()))
        assert not _moved(d_before, model.D)  # the real discriminator is not stepped by the lookahead
        return torch.cat([g.flatten() for g in grads])

    plain, unrolled, no_backprop = g_grad(0), g_grad(3), g_grad(3, backprop=False)
    assert not torch.allclose(plain, unrolled, rtol=1e-4, atol=1e-7)
    # the difference between full unrolling and a detached lookahead is the gradient through the D steps
    assert not torch.allclose(unrolled, no_backprop, rtol=1e-4, atol=1e-7)


def test_the_unrolled_discriminator_is_k_of_its_own_adam_steps_from_its_current_moments():
    """Metz et al.'s demo (poolio/unrolled_gan) unrolls D's optimiser update; the look ahead must be exactly
    the steps D's Adam then takes, at D's learning rate (lr x d_lr_scale), and leave D and its moments alone."""
    torch.manual_seed(0)
    model = model_of("nsgan", (1, 28, 28), 10, {**TINY, "unrolled_steps": 2, "lr": 0.01, "d_lr_scale": 0.5,
                                                "disc_batch_norm": False})
    opt = model.configure_optimizers()["D"]
    assert opt.param_groups[0]["lr"] == pytest.approx(0.005)
    images = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    fake = model.G(model.noise(8, torch.Generator().manual_seed(2))).detach()

    def d_step():
        opt.zero_grad()
        model.d_loss(model.D(images), model.D(fake)).backward()
        opt.step()

    for _ in range(3):  # moments that are not zero
        d_step()
    moments = [opt.state[p]["exp_avg"].clone() for p in model.D.parameters()]
    d_before = _params(model.D)
    looked_ahead = model.unrolled_logits(images, fake, backprop=False, d_optimizer=opt)
    assert not _moved(d_before, model.D)
    assert all(torch.equal(m, opt.state[p]["exp_avg"]) for m, p in zip(moments, model.D.parameters()))
    for _ in range(2):  # what D's optimiser really does next on this batch
        d_step()
    torch.testing.assert_close(looked_ahead, model.D(fake), rtol=1e-4, atol=1e-5)


def test_unrolled_step_trains_and_rejects_penalty_games():
    model = model_of("nsgan", (1, 28, 28), 10, {**TINY, "unrolled_steps": 2})
    g0 = _params(model.G)
    model.train_step(torch.rand(8, 1, 28, 28), None, _ctx(model))
    assert _moved(g0, model.G)
    with pytest.raises(ConfigError, match="unrolled_steps"):
        model_of("wgangp", (1, 28, 28), 10, {**TINY, "unrolled_steps": 2})


def test_minibatch_discrimination_sees_a_collapsed_batch():
    mbd = MinibatchDiscrimination(6, kernels=4, kernel_dim=3)
    same = torch.ones(5, 6)
    varied = torch.randn(5, 6, generator=torch.Generator().manual_seed(0)) * 10
    # identical samples are at distance 0 from the other 4: closeness = 4 per kernel; spread samples: ~0
    assert torch.allclose(mbd(same)[:, 6:], torch.full((5, 4), 4.0))
    assert mbd(varied)[:, 6:].max() < 1
    model = model_of("lsgan", (1, 28, 28), 10, {**TINY, "minibatch_kernels": 4})
    assert isinstance(model.D.head[0], MinibatchDiscrimination)
    d0 = _params(model.D)
    model.train_step(torch.rand(8, 1, 28, 28), None, _ctx(model))
    assert _moved(d0, model.D)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (3, 64, 64)])
def test_dcgan_networks_fit_mnist_and_colour_sizes(shape):
    g, d = DCGANGenerator(shape, 8, width=0.125), DCGANDiscriminator(shape, width=0.125)
    x = g(torch.rand(3, 8) * 2 - 1)
    assert x.shape == (3, *shape) and 0 <= x.min() and x.max() <= 1
    assert d(x).shape == (3,)
    model = model_of("wgangp", shape, 10, {**TINY, "arch": "dcgan"})
    model.train_step(torch.rand(4, *shape), None, _ctx(model))
    with pytest.raises(ValueError, match="DCGAN networks need"):
        DCGANGenerator((1, 36, 36), 8)
