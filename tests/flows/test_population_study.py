"""A study with study.population > 1 (flows/study.py, study/populations.py) is K single trials to everyone outside
the step: the same MLflow runs (names, params, metrics, tags but two), the same cache entries, the same table."""

import mlflow
import pytest

from components import defaults
from components.data import sources, store
from tests.conftest import TINY_PARAMS
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

MODES = {"steps": 40, "batch_size": 64, "seeds": 3, "checkpoints": 2, "variant_families": []}
STUDY = {"name": "modes", "datasets": ["ring8"], "families": ["nsgan", "wgangp"], "checkpoint_samples": 200,
         "eval": {"num_samples": 400}, "modes": MODES}
POPULATION_TAGS = {defaults.TAG_POPULATION, defaults.TAG_POPULATION_MEMBER}


def _study(parent, data, population: int):
    from flows.study import run_study

    params = {**{k: v for k, v in TINY_PARAMS.items() if k != "registry"},
              "study": {**STUDY, "population": population},
              "family": {"nsgan": {"width": 0.25}, "wgangp": {"width": 0.25}}}
    root = make_project(parent, data, params)
    store.write(sources.fetch("ring8", {}), "ring8", root / "data")
    with in_project(root):
        return root, run_study(root=str(root))


@pytest.fixture(scope="module")
def both(prefect_api, tmp_path_factory, mnist5k_data):
    alone = _study(tmp_path_factory.mktemp("alone"), mnist5k_data, 1)
    together = _study(tmp_path_factory.mktemp("together"), mnist5k_data, 3)
    return alone, together


def _runs(root):
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()],
                              "tags.`genzoo.stage` = 'study-trial'")
    return client, {r.info.run_name: r for r in runs}


def test_a_population_logs_each_member_as_its_single_trial(both):
    (root_a, _), (root_b, _) = both
    client_a, alone = _runs(root_a)
    client_b, together = _runs(root_b)
    assert sorted(alone) == sorted(together) and len(alone) == 6  # 2 games x 3 seeds, one run each
    members = set()
    for name, a in alone.items():
        b = together[name]
        assert a.data.params == b.data.params
        assert a.data.metrics.keys() == b.data.metrics.keys()
        assert b.info.status == a.info.status == "FINISHED"
        assert set(b.data.tags) - set(a.data.tags) == POPULATION_TAGS
        assert not POPULATION_TAGS & set(a.data.tags)
        members.add((b.data.tags[defaults.TAG_POPULATION], b.data.tags[defaults.TAG_POPULATION_MEMBER]))
        for key in ("checkpoint_modes_covered", "train/d_loss"):
            assert [m.step for m in client_a.get_metric_history(a.info.run_id, key)] == \
                   [m.step for m in client_b.get_metric_history(b.info.run_id, key)]
    assert len({pid for pid, _ in members}) == 2  # one population per game
    assert {m for _, m in members} == {"0/3", "1/3", "2/3"}


def test_a_population_reports_the_table_of_its_single_trials(both):
    (_, alone), (_, together) = both
    rows_a, rows_b = alone.modes.rows["ring8"], together.modes.rows["ring8"]
    assert rows_a.keys() == rows_b.keys() == {"nsgan", "wgangp"}
    for game in rows_a:
        assert rows_a[game].n == rows_b[game].n == 3
        # float32 on different kernels: the same numbers up to rounding, which a mode count rarely crosses
        assert rows_b[game].modes_covered[0] == pytest.approx(rows_a[game].modes_covered[0], abs=0.5)
        assert rows_b[game].high_quality[0] == pytest.approx(rows_a[game].high_quality[0], abs=0.02)


def test_a_population_leaves_each_trial_its_own_cache_entry(both, mnist5k_data):
    from flows.study import run_study

    (_, _), (root, together) = both
    with in_project(root):  # the same study, each trial alone: every one is found, none trains
        again = run_study(root=str(root), overrides=["study.population=1"])
    assert [t.key for t in again.modes.trials] == [t.key for t in together.modes.trials]
    assert [t.run_id for t in again.modes.trials] == [t.run_id for t in together.modes.trials]
    assert again.modes.rows == together.modes.rows
