"""The mode-collapse study on ring8 (flows/study.py, study.modes): every game plain, the variants on their
families, mode counts at every checkpoint, the report beside the published rows, and a rerun that is all cached."""

import json

import mlflow
import pytest

from components.data import sources, store
from tests.conftest import TINY_PARAMS
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

MODES = {"steps": 40, "batch_size": 64, "seeds": 1, "checkpoints": 2, "variant_families": ["nsgan", "wgan"]}
STUDY = {"name": "modes", "datasets": ["ring8"], "families": ["nsgan", "wgan"], "checkpoint_samples": 200,
         "eval": {"num_samples": 400}, "modes": MODES}


@pytest.fixture(scope="module")
def studied(prefect_api, tmp_path_factory, mnist5k_data):
    from flows.study import run_study

    params = {**{k: v for k, v in TINY_PARAMS.items() if k != "registry"}, "study": STUDY,
              "family": {"nsgan": {"width": 0.25}, "wgan": {"width": 0.25}}}
    root = make_project(tmp_path_factory.mktemp("modes"), mnist5k_data, params)
    store.write(sources.fetch("ring8", {}), "ring8", root / "data")
    with in_project(root):
        first = run_study(root=str(root))
        second = run_study(root=str(root))
    return root, first.modes, second.modes


def test_the_mode_study_runs_each_game_and_each_variant_it_can_take_with_every_seed(studied):
    _, first, _ = studied
    rows = first.rows["ring8"]
    # the default variants (minibatch features, unrolled k = 5 and 10, a slow D plain and unrolled); wgan's clipped
    # critic cannot be unrolled: reported n/a, not run
    assert set(rows) == {"nsgan", "nsgan minibatch", "nsgan unrolled5", "nsgan unrolled10", "nsgan slow_d",
                         "nsgan slow_d_unrolled5", "wgan", "wgan minibatch", "wgan slow_d"}
    assert all(r.n == 1 and r.trials == 1 for r in rows.values())
    for r in rows.values():
        mean, std = r.modes_covered
        assert 0 <= mean <= 8 and std is None  # one seed: no spread is claimed
    for t in first.trials:  # counted at every checkpoint; the final one measured in full
        assert [c.step for c in t.curve] == [20, 40]
        assert t.metrics["num_samples"] == 400 and 0 <= t.metrics["high_quality"] <= 1


def test_the_mode_report_shows_floor_noise_measured_and_published_rows(studied):
    root, _, _ = studied
    md = (root / "reports" / "modes" / "modes.md").read_text()
    assert "| *real points (floor)* | 8.0 |" in md
    assert "| nsgan unrolled10 |" in md and "| wgan |" in md
    assert "VEEGAN Table 1: unrolled GAN (published)" in md
    assert "Modes covered per checkpoint" in md
    snapshots = [line for line in md.splitlines() if line.startswith("![")]
    assert all((root / "reports" / "modes" / line.split("(")[1].rstrip(")")).exists() for line in snapshots)
    assert len(snapshots) == 9
    assert "- wgan unrolled5: unrolled_steps > 0 needs a game without gradient penalty or clipping" in md
    meta = json.loads((root / "reports" / "modes" / "modes.json").read_text())["meta"]
    assert any(s.startswith("wgan unrolled5: unrolled_steps > 0 needs a game without gradient penalty") for s in
               meta["skipped"])


def test_every_trial_logs_mode_counts_per_checkpoint_and_its_snapshots_to_mlflow(studied):
    root, first, _ = studied
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    for t in first.trials:
        history = client.get_metric_history(t.run_id, "checkpoint_modes_covered")
        assert sorted(m.step for m in history) == [20, 40]
        run = client.get_run(t.run_id)
        assert run.data.metrics["high_quality"] == pytest.approx(t.metrics["high_quality"])
        assert "floor_high_quality" in run.data.metrics
        names = {a.path for a in client.list_artifacts(t.run_id, "evaluation")}
        assert any(a.path.startswith("images/") for a in client.list_artifacts(t.run_id, "images"))
        assert "evaluation/snapshots.png" in names
        assert "samples.png" in {a.path for a in client.list_artifacts(t.run_id)}  # where every family's grid is


def test_a_second_mode_study_trains_nothing(studied):
    _, first, second = studied
    assert [t.key for t in second.trials] == [t.key for t in first.trials]
    assert second.rows == first.rows
