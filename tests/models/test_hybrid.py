"""The six VAE-GAN hybrids on tiny networks: each loss against a hand-computed value (the equation cited at the
code), a few steps on digits and on 2-D points, samples and codes of the right shape."""

import math

import pytest
import torch

from components.models.base import Encoding, StepContext
from components.models.hybrid import aae, ali, alphagan, avb, introvae, veegan
from components.models.registry import families, get_family
from tests.conftest import model_of

HYBRIDS = ["aae", "ali", "alphagan", "avb", "introvae", "veegan"]
DIGITS = ((1, 28, 28), {"z_dim": 8, "width": 0.125})
POINTS = ((2, 1, 1), {"z_dim": 2, "width": 0.25, "arch": "mlp", "disc_batch_norm": False, "lr": 1e-3})
LOG2 = math.log(2)


def _ctx(model, seed=0):
    return StepContext(torch.device("cpu"), torch.Generator().manual_seed(seed), 0,
                       lambda: torch.autocast("cpu", enabled=False), optimizers=model.configure_optimizers())


def _snapshot(model):
    return {name: [p.detach().clone() for p in net.parameters()] for name, net in model.named_children()}


def test_registry_lists_the_six_hybrids_with_a_summary_citing_their_paper():
    hybrids = {n: f for n, f in families().items() if f.kind == "hybrid"}
    assert sorted(hybrids) == HYBRIDS
    assert all(" et al. 20" in f.summary for f in hybrids.values())


def test_ali_losses_on_known_logits():
    zero, big = torch.zeros(4), torch.full((4,), 20.0)
    # D = 1/2 on both sides: -log(1/2) - log(1 - 1/2) = 2 log 2 for D, and the same for G and E (labels swapped)
    assert ali.discriminator_loss(zero, zero).item() == pytest.approx(2 * LOG2)
    assert ali.generator_encoder_loss(zero, zero).item() == pytest.approx(2 * LOG2)
    # a perfect discriminator pays nothing; G and E then pay 20 per side
    assert ali.discriminator_loss(big, -big).item() == pytest.approx(0, abs=1e-6)
    assert ali.generator_encoder_loss(big, -big).item() == pytest.approx(40, rel=1e-6)


def test_veegan_losses_are_algorithm_1():
    # d(z, x_g) = 1/2 ||z - F(x_g)||^2: (1^2 + 2^2) / 2
    assert veegan.code_distance(torch.tensor([[1.0, 2.0]]), torch.zeros(1, 2)).tolist() == [2.5]
    assert veegan.discriminator_loss(torch.zeros(3), torch.zeros(3)).item() == pytest.approx(2 * LOG2)
    # generator pairs the discriminator calls generated (logit +20), data pairs data (-20): it pays nothing
    assert veegan.discriminator_loss(torch.full((3,), 20.0), torch.full((3,), -20.0)).item() == \
        pytest.approx(0, abs=1e-6)
    # G: mean D(z, x_g) + mean d(z, x_g) = (1 + 3) / 2 + (2.5 + 0.5) / 2
    assert veegan.generator_loss(torch.tensor([1.0, 3.0]), torch.tensor([2.5, 0.5])).item() == pytest.approx(3.5)


def test_aae_losses_on_known_values():
    x, half = torch.tensor([[[[1.0, 0.0]]]]), torch.full((1, 1, 1, 2), 0.5)
    # binary cross-entropy of two pixels at 1/2: 2 log 2; squared error of a point (1, 2) from the origin: 5
    assert aae.reconstruction_loss(x, half, points=False).tolist() == pytest.approx([2 * LOG2])
    assert aae.reconstruction_loss(torch.tensor([[[[1.0]], [[2.0]]]]), torch.zeros(1, 2, 1, 1), points=True) \
        .tolist() == [5.0]
    assert aae.code_discriminator_loss(torch.zeros(2), torch.zeros(2)).item() == pytest.approx(2 * LOG2)
    assert aae.encoder_adversarial_loss(torch.zeros(2)).item() == pytest.approx(LOG2)


def test_avb_losses_on_known_values():
    assert avb.adversary_loss(torch.zeros(2), torch.zeros(2)).item() == pytest.approx(2 * LOG2)
    # -ELBO estimate: mean(-log p(x|z) + T) = ((3 + 1) + (5 + 2)) / 2
    assert avb.negative_elbo(torch.tensor([-3.0, -5.0]), torch.tensor([1.0, 2.0])).item() == pytest.approx(5.5)


def test_introvae_losses_are_eq_11():
    # KL(N(1, 1) || N(0, 1)) = 1/2 in one dimension
    assert introvae.kl_to_prior(torch.ones(1, 1), torch.zeros(1, 1)).tolist() == [0.5]
    real, rec, sampled, ae = torch.tensor([1.0]), torch.tensor([4.0]), torch.tensor([12.0]), torch.tensor([2.0])
    # L_E = 1 + 0.25 ([10 - 4]^+ + [10 - 12]^+) + 1 * 2; L_G = 0.25 (4 + 12) + 2
    assert introvae.encoder_loss(real, rec, sampled, ae, 0.25, 1.0, 10.0).item() == pytest.approx(4.5)
    assert introvae.generator_loss(rec, sampled, ae, 0.25, 1.0).item() == pytest.approx(6.0)


def test_alpha_gan_losses_are_algorithm_1():
    zero = torch.zeros(2)
    assert alphagan.image_discriminator_loss(zero, zero, zero).item() == pytest.approx(3 * LOG2)
    assert alphagan.code_discriminator_loss(zero, zero).item() == pytest.approx(2 * LOG2)
    assert alphagan.l1_reconstruction(torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)).tolist() == [4.0]
    # E: lambda * L1 - logit C(E(x)) = 2 - 1; G: lambda * L1 - logit D(x_rec) - logit D(x_gen) = 2 - 1 - 3
    assert alphagan.encoder_loss(torch.tensor([2.0]), torch.tensor([1.0]), 1.0).item() == pytest.approx(1.0)
    assert alphagan.generator_loss(torch.tensor([2.0]), torch.tensor([1.0]), torch.tensor([3.0]), 1.0).item() == \
        pytest.approx(-2.0)


@pytest.mark.parametrize("family", HYBRIDS)
@pytest.mark.parametrize("data", [DIGITS, POINTS], ids=["digits", "points"])
def test_a_few_steps_move_every_network_and_give_samples_and_codes_of_the_right_shape(family, data):
    shape, hp = data
    torch.manual_seed(0)
    model = model_of(family, shape, 10, hp)
    before, ctx = _snapshot(model), _ctx(model)
    x = torch.rand(16, *shape) if shape[0] == 1 else torch.randn(16, *shape)
    for step in range(2):
        ctx.step = step
        losses = model.train_step(x, torch.zeros(16, dtype=torch.long), ctx)
        assert losses and all(torch.isfinite(v) for v in losses.values()), losses
    after = dict(model.named_children())
    for name, params in before.items():
        assert any(not torch.equal(a, b) for a, b in zip(params, after[name].parameters())), f"{name} never moved"
    rng = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    samples = model.sample(5, rng())
    assert samples.shape == (5, *shape) and torch.equal(samples, model.sample(5, rng()))
    assert isinstance(model, Encoding) and model.encode(x[:3]).shape == (3, hp["z_dim"])
    if shape[0] == 1:
        assert 0 <= samples.min() and samples.max() <= 1
        assert model.reconstruct(x[:3]).shape == (3, *shape)


@pytest.mark.parametrize("family", ["avb", "introvae", "aae"])
def test_test_metrics_have_a_reconstruction_error_and_an_elbo_where_the_method_defines_one(family):
    from components.config.schema import Eval

    torch.manual_seed(0)
    fam = get_family(family)
    model = fam.build(DIGITS[0], 10, fam.hyperparameters(DIGITS[1]))
    x = torch.rand(10, 1, 28, 28)
    m = model.extra_metrics(x, torch.zeros(10, dtype=torch.long), Eval(batch_size=4), seed=0)
    assert 0 < m["test_reconstruction_mse"] < 1  # pixels in [0, 1]
    if family == "aae":
        assert "test_elbo_nats" not in m  # no likelihood: no bound
    else:
        # a bound on log p(x) of 784 binarised pixels, in nats; bits/dim is the same number per dimension
        assert m["test_elbo_nats"] < 0
        assert m["test_elbo_bits_per_dim"] == pytest.approx(-m["test_elbo_nats"] / (784 * math.log(2)))


def test_veegan_pairs_data_with_a_sample_of_its_reconstructor_not_its_mean():
    """Algorithm 1's z_g ~ p(z | x) = N(F(x), I): a code on a 2-D sheet would let D tell the pairs apart by z."""
    torch.manual_seed(0)
    model = model_of("veegan", POINTS[0], 8, POINTS[1])
    x = torch.randn(1, 2, 1, 1).repeat(20_000, 1, 1, 1)
    z = model.reconstruct_sample(x, torch.Generator().manual_seed(1))
    residual = z - model.E(x)
    assert residual.mean().abs().item() < 0.02
    assert residual.std().item() == pytest.approx(1.0, abs=0.02)


def test_weights_saved_by_a_network_this_version_no_longer_builds_are_one_line(tmp_path):
    from components.data.tensors import Tensors
    from components.errors import GenzooError
    from components.models import stored

    model = model_of("ali", POINTS[0], 1, POINTS[1])
    data = Tensors(train_x=torch.zeros(1, 1, 1, 2), train_y=torch.zeros(1, dtype=torch.long), classes=["0"])
    out = stored.save(model, "ali", "ring8", data, tmp_path / "model")
    state = model.state_dict()
    state["D.old_layer.weight"] = torch.zeros(1)  # as weights of an older discriminator would hold
    torch.save(state, out / "model.pt")
    with pytest.raises(GenzooError, match=r"model\.pt: saved by a ali network this version no longer builds.*"
                                          r"D\.old_layer\.weight.*retrain") as err:
        stored.load(out)
    assert "\n" not in str(err.value)


def test_an_aae_given_prior_modes_draws_its_codes_from_that_many_gaussians_on_a_circle():
    model = model_of("aae", POINTS[0], 8, {**POINTS[1], "prior_modes": 8})
    z = model.prior(8_000, torch.Generator().manual_seed(0))
    angle = torch.arange(8) * 2 * math.pi / 8
    centres = aae.MIXTURE_RADIUS * torch.stack([angle.cos(), angle.sin()], 1)
    distance, nearest = torch.cdist(z, centres).min(1)
    assert (distance < 4 * aae.MIXTURE_SIGMA).float().mean() > 0.99  # every code near one component
    assert torch.bincount(nearest, minlength=8).min() > 900  # and the components drawn evenly
    plain = model_of("aae", *POINTS[:1], 8, POINTS[1]).prior(8_000, torch.Generator().manual_seed(0))
    assert plain.norm(dim=1).mean() < 1.5  # prior_modes 0: N(0, I)


def test_on_points_log_px_is_a_gaussian_of_the_configured_sigma():
    model = model_of("avb", POINTS[0], 8, {**POINTS[1], "points_sigma": 0.02})
    x, mean = torch.randn(5, 2, 1, 1), torch.randn(5, 2, 1, 1)
    expected = torch.distributions.Normal(mean.flatten(1), 0.02).log_prob(x.flatten(1)).sum(1)
    assert torch.allclose(model.log_px(x, mean), expected, atol=1e-3)
