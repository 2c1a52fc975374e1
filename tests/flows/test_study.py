"""The study flow on a 2 x 2 budget (2 settings, 2 seeds) of two games on real digits: table, report, MLflow
nesting, promotion, and a second run that is all cached."""

import json
from pathlib import Path

import mlflow
import pytest
import yaml

from components import defaults
from tests.conftest import TINY_PARAMS, registered_versions, use_store
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

FAMILIES = ["nsgan", "wgangp", "vae", "nade"]  # a VAE and NADE join the table as rows, as the VAE in Lucic et al.
STUDY = {
    "name": "tiny", "datasets": ["mnist5k"], "families": FAMILIES, "budget": 2, "seeds": 2,
    "epochs": 0.032, "checkpoints": 2, "checkpoint_samples": 100,  # 4 steps of 32 on 4,000 digits
    "eval": {"num_samples": 200}, "space": {"lr": [1e-4, 1e-3], "disc_iters": [1, 2]},
    "population": 2,  # settings of one game that share a computation train as one (models/gan/population.py)
}


@pytest.fixture(scope="module")
def studied(prefect_api, tmp_path_factory, mnist5k_data):
    from flows.study import run_study

    root = make_project(tmp_path_factory.mktemp("study"), mnist5k_data)
    params = {**TINY_PARAMS, "study": STUDY,
              "family": {**TINY_PARAMS["family"], "wgangp": {"z_dim": 16, "width": 0.125},
                         "vae": {"z_dim": 4, "width": 0.25}, "nade": {"hidden": 16}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    with in_project(root):
        first = run_study(root=str(root))
        second = run_study(root=str(root))
    return root, first, second


def test_study_yields_the_table_and_report(studied):
    root, first, _ = studied
    found = first.search
    rows = found.rows["mnist5k"]
    assert set(rows) == set(FAMILIES)
    for fam, r in rows.items():
        assert r.trials == 3  # 2 settings searched + 1 more seed of the best
        assert r.n_seeds == 2 and r.mean > 0 and r.std >= 0 and r.best <= r.mean + r.std
        assert len(r.budget_curve) == 2 and r.budget_curve[1] <= r.budget_curve[0]
    table = found.table_markdown
    assert table.startswith("| family | mnist5k |") and all(f"| {f} |" in table for f in FAMILIES)
    # the reference rows, measured as the trials are: real digits far below an untrained generator
    refs = found.references["mnist5k"]
    assert refs.num_samples == STUDY["checkpoint_samples"] and 0 < refs.floor < refs.untrained / 10
    spread = f" ± {refs.floor_seed_std:.2f} (subset draws)"  # the floor over eval.floor_seeds draws
    assert f"| *real training images (floor)* | {refs.floor:.2f}{spread} |" in table
    assert f"| *untrained generator (noise)* | {refs.untrained:.2f} |" in table
    html = (root / "reports" / "tiny" / "report.html").read_text()
    assert "data:image/png;base64," in html and "src='fid_bars.png'" not in html  # self-contained
    winner = found.winners["mnist5k"]
    assert rows[winner].mean == min(r.mean for r in rows.values())
    out = root / "reports" / "tiny"
    for name in ("report.md", "report.html", "fid_bars.png", "fid_vs_budget.png", "precision_recall.png",
                 "samples_mnist5k.png", "study.json"):
        assert (out / name).stat().st_size > 0, name
    assert table in (out / "report.md").read_text()
    # setting 0 is each family's defaults; the VAE's other settings draw only what it has (the learning rate)
    assert all(t.spec.overrides == {} for t in found.trials if t.spec.index == 0)
    for family in ("vae", "nade"):
        searched = [t for t in found.trials if t.spec.family == family and t.spec.index > 0]
        assert searched and all(set(t.spec.overrides) == {"lr"} and t.best_fid > 0 for t in searched)
    # every trial carries the best of its checkpoints
    for t in found.trials:
        assert [c.step for c in t.curve] == [2, 4]
        assert t.best_fid == min(c.fid_classifier for c in t.curve)


def test_study_nests_runs_in_mlflow_and_promotes_the_winner(studied):
    root, first, _ = studied
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mnist5k")
    runs = client.search_runs([exp.experiment_id], "tags.`genzoo.stage` LIKE 'study%'", max_results=100)
    parent = {r.info.run_id: r.data.tags.get("mlflow.parentRunId") for r in runs}
    (study,) = [r for r in runs if r.info.run_name == "study-tiny"]
    fam_runs = [r for r in runs if parent[r.info.run_id] == study.info.run_id]
    assert sorted(r.info.run_name for r in fam_runs) == sorted(f"tiny-{f}" for f in FAMILIES)
    trials = [r for r in runs if parent[r.info.run_id] in {f.info.run_id for f in fam_runs}]
    assert len(trials) == 3 * len(FAMILIES) and all(r.info.status == "FINISHED" for r in trials)
    assert all("checkpoint_fid_classifier" in r.data.metrics for r in trials)
    # one sample grid per scored checkpoint, as an image at that step (the run view's image slider)
    scored = client.get_metric_history(trials[0].info.run_id, "checkpoint_fid_classifier")
    grids = [a.path for a in client.list_artifacts(trials[0].info.run_id, "images") if a.path.endswith(".png")]
    assert len(scored) >= 1 and len(grids) == len(scored), (grids, scored)
    assert study.data.tags["genzoo.winner"] == first.search.winners["mnist5k"]
    assert any(a.path == "report" for a in client.list_artifacts(study.info.run_id))

    name = f"mnist5k-{first.search.winners['mnist5k']}"
    (version,) = registered_versions(root, name)
    assert client.get_model_version_by_alias(name, defaults.CHAMPION).version == version.version
    use_store(root)
    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    images = model.predict({"n": 3, "seed": 0})
    assert len(images) == 3


def test_second_study_is_all_cached_and_registers_nothing_new(studied):
    root, first, second = studied
    trials = {k: v for k, v in second.states.items() if k.startswith("trial")}
    assert len(trials) == 3 * len(FAMILIES) and set(trials.values()) == {"Cached"}
    assert {v for k, v in first.states.items() if k.startswith("trial")} == {"Completed"}
    assert second.search.table_markdown == first.search.table_markdown
    assert len(registered_versions(root, f"mnist5k-{first.search.winners['mnist5k']}")) == 1
    assert json.loads((root / "reports/tiny/study.json").read_text())["winners"] == first.search.winners


def test_the_study_flow_runs_are_named_and_tagged_for_the_runs_list(studied):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="genzoo-study-tiny-")))
    assert len(runs) >= 2  # both invocations, not a random name each
    assert all({"study", "dataset:mnist5k", *(f"family:{f}" for f in FAMILIES)} <= set(r.tags) for r in runs)


def test_a_trial_the_evaluate_stage_and_the_reference_row_score_the_same_way(studied, tmp_path):
    """One scoring path (torch-fidelity's style: the same model scored by each route agrees exactly): a trial's kept
    model measured by the evaluate stage's scoring under the trial's protocol gives the trial's own metrics, and the
    trial's checkpoint scorer on the untrained generator gives the table's noise row."""
    import torch

    from components.config import load_config
    from components.evaluation import scoring
    from components.models import stored
    from components.pipeline import runner
    from components.pipeline.context import Context
    from components.pipeline.graph import node
    from components.pipeline.results import ClassifierReady, expect
    from components.study.trial import ImagesTrial, trial_config

    root, first, _ = studied
    cfg = load_config(root)
    trial = next(t for t in first.search.trials if t.spec.family == "nsgan" and t.spec.index == 0
                 and t.spec.seed == cfg.seed)
    ctx = Context(trial_config(cfg, trial.spec), root)
    classifier = expect(ClassifierReady, runner.stored(ctx, node("classifier", "mnist5k")))
    device = torch.device("cpu")

    by_stage = scoring.score(stored.load(Path(trial.model_dir), "cpu"), ctx.reference("mnist5k", [classifier], device),
                             device, tmp_path)
    timing = {"sample_seconds_per_image"}  # wall clock: the one number two runs cannot share
    assert {k: v for k, v in by_stage.metrics.items() if k not in timing} == \
        {k: v for k, v in trial.metrics.items() if k not in timing}

    as_trial = ImagesTrial(ctx, trial.spec, trial.key, tmp_path, classifier)
    untrained = scoring.untrained_model("nsgan", ctx.cfg.hp("nsgan"), ctx.tensors("mnist5k"), ctx.cfg.seed)
    row, _ = as_trial.scorer(untrained.to(device), 0)
    assert row.fid_classifier == first.search.references["mnist5k"].untrained
