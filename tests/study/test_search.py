"""The search through Optuna (components/study/search.py): the draws, setting 0, rounds, and a killed study's
storage read back."""

import math

import optuna
import pytest

from components.errors import ConfigError
from components.models.registry import get_family
from components.study import search

SPACE = {"lr": [1e-5, 1e-2], "beta1": [0.0, 1.0], "disc_iters": [1, 5], "disc_batch_norm": [True, False]}


def _search(tmp_path, family="nsgan", seed=0, space=SPACE, sampler="random", file="optuna.db"):
    """A search stored in `file` under tmp_path; file=None: in memory (the many-draw tests: SQLite commits each)."""
    storage = f"sqlite:///{tmp_path / file}" if file else None
    return search.Search(storage, "s", "mnist", family, seed, sampler, space, get_family(family).hp, "minimize")


def _draws(tmp_path, n=201, **kw):
    return [hp for _, hp in _search(tmp_path, **kw).next(n, n)][1:]


def test_random_draws_cover_lucic_ranges_reproducibly(tmp_path):
    draws = _draws(tmp_path, file=None)
    assert draws == _draws(tmp_path, file=None)  # same seed, same settings, in another storage
    assert draws[:4] != _draws(tmp_path, n=5, file=None, seed=1)
    assert draws[:4] != _draws(tmp_path, n=5, file=None, family="lsgan")
    lrs = [d["lr"] for d in draws]
    assert 1e-5 <= min(lrs) and max(lrs) <= 1e-2
    # log-uniform: about half the draws below the geometric midpoint 3.2e-4
    assert 0.35 < sum(lr < math.sqrt(1e-5 * 1e-2) for lr in lrs) / len(lrs) < 0.65
    assert {d["disc_iters"] for d in draws} == {1, 2, 3, 4, 5}
    assert {d["disc_batch_norm"] for d in draws} == {True, False}
    assert all(0 <= d["beta1"] < 1 for d in draws)  # beta1 = 1 is no Adam: the range is clipped below it


def test_unknown_dimension_is_rejected_by_name():
    with pytest.raises(ConfigError, match="study.space.momentum"):
        search.distributions({"momentum": [0, 1]})


def test_setting_zero_is_the_family_defaults_whatever_the_space(tmp_path):
    for i, space in enumerate((SPACE, {"lr": {"around": 3}})):
        s = _search(tmp_path, family="wgan", space=space, file=f"{i}.db")
        assert s.next(3, 3)[0] == (0, {})
        hp = get_family("wgan").hp
        assert s.study.trials[0].params == {k: getattr(hp, k) for k in search.distributions(space, hp)}


def test_around_draws_stay_near_each_family_default(tmp_path):
    space = {"lr": {"around": 3}, "beta1": {"around": 0.2}, "disc_iters": {"around": 1}}
    for fam in ("nsgan", "wgan", "wgangp"):
        hp = get_family(fam).hp
        draws = _draws(tmp_path, n=101, family=fam, space=space, file=None)
        lrs = [d["lr"] for d in draws]
        assert hp.lr / 3 * 0.999 <= min(lrs) and max(lrs) <= hp.lr * 3 * 1.001
        assert min(lrs) < hp.lr < max(lrs)
        assert all(max(0.0, hp.beta1 - 0.2) <= d["beta1"] <= hp.beta1 + 0.2 for d in draws)
        assert {d["disc_iters"] for d in draws} == set(range(max(1, hp.disc_iters - 1), hp.disc_iters + 2))


def test_around_a_choice_or_a_factor_below_one_is_refused():
    hp = get_family("nsgan").hp
    with pytest.raises(ConfigError, match="study.space.disc_batch_norm"):
        search.distributions({"disc_batch_norm": {"around": 1}}, hp)
    with pytest.raises(ConfigError, match="study.space.lr.around"):
        search.distributions({"lr": {"around": 0.5}}, hp)


def test_dimensions_a_family_lacks_are_skipped():
    assert set(search.distributions(SPACE, get_family("vae").hp)) == {"lr"}
    assert set(search.distributions(SPACE, get_family("wgan").hp)) == set(SPACE)


def test_a_killed_search_asks_nothing_twice_and_a_larger_budget_draws_new_settings(tmp_path):
    first = _search(tmp_path)
    asked = first.next(4, 4)
    first.tell(0, 12.5)
    first.tell(1, None)  # diverged
    # killed here: trials 2 and 3 were asked, never told
    again = _search(tmp_path)
    assert again.next(4, 4) == asked  # the same four settings, nothing new asked
    again.tell(2, 9.0)
    assert again.next(4, 4) == []
    states = [t.state for t in again.study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL,
                      optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.RUNNING]
    more = _search(tmp_path).next(6, 6)
    assert more[:4] == asked and len(more) == 6
    assert all(hp not in [h for _, h in asked] for _, hp in more[4:])  # a fresh sampler, not the first draws again


def test_tpe_asks_in_rounds_and_learns_from_what_it_is_told(tmp_path):
    s = _search(tmp_path, sampler="tpe", space={"lr": [1e-5, 1e-2]})
    rounds = []
    while batch := s.next(14, s.batch_size(14, population=4, workers=1)):
        rounds.append(len(batch))
        for index, hp in batch:
            s.tell(index, abs(math.log10(hp.get("lr", get_family("nsgan").hp.lr)) + 3.0))  # best near lr = 1e-3
    assert rounds == [4, 4, 4, 2]
    assert s.study.best_value < 0.3
