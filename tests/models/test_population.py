"""A population (components/models/gan/population.py) trains each member as its single trial would.

In float64: in float32 the weights of a member and of its single trial part by up to 1e-2 relative after 6 steps,
and so do two single trials that differ only in torch's thread count (docs/results.md, "Population training"):
a bias before batch norm has no gradient in exact arithmetic, so Adam scales rounding noise into lr-sized steps.
Float64 leaves the logic (draws, order, hyperparameters, each game's step) as the only thing compared.
"""

import pytest
import torch

from components.models.gan.population import population
from components.training.loop import LoopConfig, fit
from tests.conftest import model_of

SEEDS, LRS, BETA1 = [3, 4, 5], [1e-4, 2e-4, 5e-4], [0.5, 0.0, 0.3]
SHAPE = (1, 8, 8)


@pytest.fixture(autouse=True)
def float64():
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.fixture(scope="module")
def data():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (64, 8, 8, 1), dtype=torch.uint8, generator=g), torch.zeros(64, dtype=torch.long)


def _loop(seed: int, steps: int) -> LoopConfig:
    return LoopConfig(steps=steps, batch_size=16, log_every=1, checkpoint_every=3, progress=False, precision="fp32",
                      device="cpu", seed=seed)


def _member(family: str, k: int, **hp):
    torch.manual_seed(SEEDS[k])  # as train_and_log builds a trial's model
    return model_of(family, SHAPE, 1, {"width": 0.125, "lr": LRS[k], "beta1": BETA1[k], **hp})


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm().clamp_min(1e-12)).item()


# the unrolled case continues each member's own Adam moments, at D's own learning rate (lr x d_lr_scale)
@pytest.mark.parametrize("family,hp", [("nsgan", {}), ("wgan", {}), ("wgangp", {}), ("began", {}),
                                       ("nsgan", {"unrolled_steps": 2, "d_lr_scale": 0.5})],
                         ids=["nsgan", "wgan", "wgangp", "began", "nsgan-unrolled"])
def test_each_member_trains_as_its_single_trial(family, hp, data, tmp_path):
    images, labels = data
    steps = 6
    singles = []
    for k in range(3):
        model = _member(family, k, **hp)
        singles.append((model, fit(model, images, labels, _loop(SEEDS[k], steps), tmp_path / f"single{k}")))
    pop = population([_member(family, k, **hp) for k in range(3)], SEEDS)
    res = fit(pop, images, labels, _loop(0, steps), tmp_path / "population")
    for k, (single, single_res) in enumerate(singles):
        member, expected = pop.member(k).state_dict(), single.state_dict()
        assert member.keys() == expected.keys()
        worst = max(_rel(member[n].double(), expected[n].double()) for n in expected)
        assert worst < 1e-5, f"member {k} of {family}: weights {worst:.1e} from its single trial"
        got, want = res.member_histories[k], single_res.history
        assert [h["step"] for h in got] == [h["step"] for h in want] == list(range(1, steps + 1))
        for g, w in zip(got, want):
            assert g.keys() == w.keys()
            assert all(abs(g[key] - w[key]) <= 1e-5 * max(abs(w[key]), 1e-8) for key in w), (k, g, w)
    # the members really differ: a population of copies would pass the comparison above trivially only if the
    # singles were alike too
    assert _rel(pop.member(0).G.fc[0].weight, pop.member(1).G.fc[0].weight) > 0.1


def test_a_killed_population_resumes_to_the_same_weights(data, tmp_path):
    images, labels = data
    whole = population([_member("wgangp", k) for k in range(3)], SEEDS)
    fit(whole, images, labels, _loop(0, 6), tmp_path / "whole")
    parts = population([_member("wgangp", k) for k in range(3)], SEEDS)
    fit(parts, images, labels, _loop(0, 3), tmp_path / "parts")  # stops after its checkpoint at step 3
    again = population([_member("wgangp", k) for k in range(3)], SEEDS)
    res = fit(again, images, labels, _loop(0, 6), tmp_path / "parts")
    assert res.resumed_from == 3
    for a, b in zip(again.state_dict().values(), whole.state_dict().values()):
        assert torch.equal(a, b)


def test_members_that_cannot_share_a_computation_are_refused():
    with pytest.raises(ValueError, match="share the game"):
        population([_member("nsgan", 0), _member("nsgan", 1, disc_iters=2)], SEEDS[:2])
    with pytest.raises(ValueError, match="share the game"):
        population([_member("nsgan", 0), _member("mmgan", 1)], SEEDS[:2])
