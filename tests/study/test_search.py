import math

import pytest

from components.errors import ConfigError
from components.study import search

SPACE = {"lr": [1e-5, 1e-2], "beta1": [0.0, 1.0], "disc_iters": [1, 5], "disc_batch_norm": [True, False]}


def test_samples_cover_lucic_ranges_reproducibly():
    draws = [search.sample("nsgan", i, 0, SPACE) for i in range(200)]
    assert draws == [search.sample("nsgan", i, 0, SPACE) for i in range(200)]  # same seed, same settings
    assert draws != [search.sample("nsgan", i, 1, SPACE) for i in range(200)]
    assert draws != [search.sample("lsgan", i, 0, SPACE) for i in range(200)]
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


def test_dimensions_a_family_lacks_are_skipped():
    from components.defaults import family_defaults

    vae = search.sample("vae", 0, 0, SPACE, set(family_defaults()["vae"]))
    assert set(vae) == {"lr"}
    assert set(search.sample("wgan", 0, 0, SPACE, set(family_defaults()["wgan"]))) == set(SPACE)
