import math

import pytest

from components.errors import ConfigError
from components.models.registry import get_family
from components.study import search

SPACE = {"lr": [1e-5, 1e-2], "beta1": [0.0, 1.0], "disc_iters": [1, 5], "disc_batch_norm": [True, False]}


def test_samples_cover_lucic_ranges_reproducibly():
    draws = [search.sample("nsgan", i, 0, SPACE) for i in range(1, 201)]
    assert draws == [search.sample("nsgan", i, 0, SPACE) for i in range(1, 201)]  # same seed, same settings
    assert draws != [search.sample("nsgan", i, 1, SPACE) for i in range(1, 201)]
    assert draws != [search.sample("lsgan", i, 0, SPACE) for i in range(1, 201)]
    lrs = [d["lr"] for d in draws]
    assert 1e-5 <= min(lrs) and max(lrs) <= 1e-2
    # log-uniform: about half the draws below the geometric midpoint 3.2e-4
    assert 0.35 < sum(lr < math.sqrt(1e-5 * 1e-2) for lr in lrs) / len(lrs) < 0.65
    assert {d["disc_iters"] for d in draws} == {1, 2, 3, 4, 5}
    assert {d["disc_batch_norm"] for d in draws} == {True, False}
    assert all(0 <= d["beta1"] <= 1 for d in draws)


def test_unknown_dimension_is_rejected_by_name():
    with pytest.raises(ConfigError, match="study.space.momentum"):
        search.sample("nsgan", 0, 0, {"momentum": [0, 1]})


def test_setting_zero_is_the_family_defaults_whatever_the_space():
    assert search.sample("wgan", 0, 0, SPACE, get_family("wgan").hp) == {}
    assert search.sample("wgan", 0, 7, {"lr": {"around": 3}}, get_family("wgan").hp) == {}


def test_around_draws_stay_near_each_family_default():
    space = {"lr": {"around": 3}, "beta1": {"around": 0.2}, "disc_iters": {"around": 1}}
    for fam in ("nsgan", "wgan", "wgangp"):
        hp = get_family(fam).hp
        draws = [search.sample(fam, i, 0, space, hp) for i in range(1, 101)]
        lrs = [d["lr"] for d in draws]
        assert hp.lr / 3 * 0.999 <= min(lrs) and max(lrs) <= hp.lr * 3 * 1.001
        assert min(lrs) < hp.lr < max(lrs)
        assert all(max(0.0, hp.beta1 - 0.2) <= d["beta1"] <= hp.beta1 + 0.2 for d in draws)
        assert {d["disc_iters"] for d in draws} == set(range(max(1, hp.disc_iters - 1), hp.disc_iters + 2))


def test_around_a_choice_or_a_factor_below_one_is_refused():
    hp = get_family("nsgan").hp
    with pytest.raises(ConfigError, match="study.space.disc_batch_norm"):
        search.sample("nsgan", 1, 0, {"disc_batch_norm": {"around": 1}}, hp)
    with pytest.raises(ConfigError, match="study.space.lr.around"):
        search.sample("nsgan", 1, 0, {"lr": {"around": 0.5}}, hp)


def test_dimensions_a_family_lacks_are_skipped():
    vae = search.sample("vae", 1, 0, SPACE, get_family("vae").hp)
    assert set(vae) == {"lr"}
    assert set(search.sample("wgan", 1, 0, SPACE, get_family("wgan").hp)) == set(SPACE)
