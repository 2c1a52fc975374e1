"""DVC on a real repository in a temp dir: the data pin, the default remote, and `dvc repro` over the stages."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.data import sources, store
from tests.conftest import TINY_PARAMS, registered_versions
from tests.flows.test_cyclegan import TINY_CYCLEGAN

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def sh(cwd, *cmd, check=True, env=None):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}, **(env or {})}  # its own store
    env.update(PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", GENZOO_ROOT=str(cwd))
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert not check or proc.returncode == 0, f"{cmd} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


def new_repo(path: Path, *files: str) -> Path:
    path.mkdir()
    sh(path, "git", "init", "-q")
    shutil.copytree(REPO / ".dvc", path / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache", "config.local"))
    for f in (".gitignore", ".dvcignore", *files):
        shutil.copy(REPO / f, path / f)
    return path


def test_prepared_data_matches_the_pin_and_pushes_to_the_default_remote(tmp_path):
    """On this machine, `genzoo prepare` reproduces exactly the data/ that data.dvc pins."""
    repo = new_repo(tmp_path / "clone", "data.dvc", "params.yaml")
    pinned = (repo / "data.dvc").read_text()
    assert "data.dvc: pinned" in sh(repo, "genzoo", "prepare").stdout
    status = sh(repo, "dvc", "status", "data.dvc")
    assert "up to date" in status.stdout, status.stdout
    sh(repo, "dvc", "add", "data")  # caches the files; the pin does not move
    assert (repo / "data.dvc").read_text() == pinned
    sh(repo, "dvc", "push")
    assert sum(1 for p in (repo / ".dvc-remote").rglob("*") if p.is_file()) >= 10


def test_dvc_repro_runs_the_stages_then_is_up_to_date(tmp_path, mnist5k_data):
    """dvc.yaml walks the same graph as the flow: a GAN on mnist5k and CycleGAN on the digits2mnist pair, whose
    data stages are its two member datasets' (mnist5k's once)."""
    repo = new_repo(tmp_path / "pipe", "dvc.yaml")
    params = {**TINY_PARAMS, "families": ["nsgan", "cyclegan"],
              "family": {**TINY_PARAMS["family"], "cyclegan": TINY_CYCLEGAN}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(REPO / "components", repo / "components", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(mnist5k_data / "mnist5k", repo / "data" / "mnist5k")
    store.write(sources.fetch("uci-digits", {}), "uci-digits", repo / "data")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")

    first = sh(repo, "dvc", "repro")
    for stage in ("validate", "classifier", "train@nsgan", "evaluate@nsgan", "register@nsgan", "train@cyclegan",
                  "evaluate@cyclegan", "register@cyclegan"):
        assert f"Running stage '{stage}'" in first.stdout
    for dataset in ("mnist5k", "uci-digits"):  # the pair's data stages are its members'
        assert (repo / "outputs" / dataset / "classifier" / "latest" / "stage.json").exists()
    metrics = json.loads(sh(repo, "dvc", "metrics", "show", "--json").stdout)
    shown = json.dumps(metrics)
    assert "fid_classifier" in shown and "fid_classifier_ab" in shown and "label_preservation" in shown
    assert len(registered_versions(repo, "mnist5k-nsgan")) == 1
    assert len(registered_versions(repo, "digits2mnist-cyclegan")) == 1

    second = sh(repo, "dvc", "repro")
    assert "Data and pipelines are up to date" in second.stdout
    assert "Running stage" not in second.stdout
    assert len(registered_versions(repo, "mnist5k-nsgan")) == 1


def _experiments(shown) -> dict[str, dict]:
    """{experiment name: its data (params, metrics)} from `dvc exp show --json`, wherever DVC nests them."""
    found = {}
    if isinstance(shown, dict):
        if shown.get("name") and isinstance(shown.get("data"), dict):
            found[shown["name"]] = shown["data"]
        for value in shown.values():
            found.update(_experiments(value))
    elif isinstance(shown, list):
        for value in shown:
            found.update(_experiments(value))
    return found


def _experiments_touch_no_alias(repo: Path, champion: str) -> None:
    """Under `dvc exp run` a version is a candidate tagged with the experiment, @champion stays where it was, and
    each experiment's MLflow runs share one parent run named after it."""
    import mlflow

    from components import defaults

    uri = f"sqlite:///{repo / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)  # not the registry an earlier in-process test set globally
    assert client.get_model_version_by_alias("mnist5k-nsgan", defaults.CHAMPION).version == champion
    versions = [v for v in registered_versions(repo, "mnist5k-nsgan") if v.version != champion]
    assert sorted(v.tags["genzoo.dvc_experiment"] for v in versions) == ["steps4", "steps6"]
    assert all(v.tags[defaults.TAG_DECISION] == defaults.CANDIDATE and not v.aliases for v in versions)
    exp = client.get_experiment_by_name("mnist5k").experiment_id
    for name in ("steps4", "steps6"):
        runs = client.search_runs([exp], f"tags.`genzoo.dvc_experiment` = '{name}'")
        (parent,) = [r for r in runs if r.info.run_name == f"dvc-exp:{name}"]
        children = [r for r in runs if r is not parent]
        assert children and all(r.data.tags.get("mlflow.parentRunId") == parent.info.run_id for r in children)
        assert all(r.data.tags[defaults.TAG_GIT_COMMIT].endswith(f"+exp:{name}") for r in runs)


def test_dvc_experiments_set_params_and_each_shows_its_own_metrics_and_loss_curve(tmp_path, mnist5k_data):
    """`dvc exp run -S` as DVC users tune: params.yaml's own keys beat the profile, and `dvc exp show` reads each
    experiment's params and metrics (evaluation/ is tracked by git, so every experiment commit holds them)."""
    repo = new_repo(tmp_path / "exp", "dvc.yaml")
    knobs = {"train": {"steps": None}}  # as the project's params.yaml lists them: null = the profile's value
    (repo / "params.yaml").write_text(yaml.safe_dump({**TINY_PARAMS, **knobs}, sort_keys=False))
    shutil.copytree(REPO / "components", repo / "components", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(mnist5k_data / "mnist5k", repo / "data" / "mnist5k")
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    sh(repo, "dvc", "repro")  # the baseline, committed with its lock and metrics as the README says
    sh(repo, "git", "add", "dvc.lock", "evaluation")
    sh(repo, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "baseline")
    (champion,) = registered_versions(repo, "mnist5k-nsgan")
    for steps in (4, 6):
        sh(repo, "dvc", "exp", "run", "-n", f"steps{steps}", "-S", f"train.steps={steps}", "-S", "dataset=mnist5k")
    _experiments_touch_no_alias(repo, champion.version)
    shown = sh(repo, "dvc", "exp", "show", "--only-changed").stdout
    # with the lock committed, params and headline metrics only: no code or stage-output hashes, 160 columns
    assert "components/" not in shown and "outputs/" not in shown and "train.steps" in shown, shown
    assert "fid_classifier" in shown and max(map(len, shown.splitlines())) <= 160, shown
    runs = _experiments(json.loads(sh(repo, "dvc", "exp", "show", "--json").stdout))
    assert {"steps4", "steps6"} <= set(runs), sorted(runs)
    fids = {}
    for steps in (4, 6):
        data = runs[f"steps{steps}"]
        assert data["params"]["params.yaml"]["data"]["train"]["steps"] == steps
        metrics = data["metrics"]["evaluation/nsgan/metrics.json"]["data"]
        assert metrics["num_samples"] == 200
        fids[steps] = metrics["fid_classifier"]
    assert fids[4] != fids[6]  # each experiment's own evaluation, not one file shown twice
    losses = repo / "evaluation" / "nsgan" / "losses"  # one file per loss: one plot each, every revision in it
    assert {"d_loss.json", "g_loss.json"} <= {p.name for p in losses.iterdir()}
    assert [row["step"] for row in json.loads((losses / "d_loss.json").read_text())] == [2, 4, 6]
    assert set(json.loads((losses / "g_loss.json").read_text())[0]) == {"step", "value"}
    assert "d_loss" in sh(repo, "dvc", "plots", "show", "--json").stdout
    # the HTML page renders offline: Vega's three libraries inlined from .dvc/offline_plots.html, no CDN tags
    sh(repo, "dvc", "plots", "diff", "steps4", "steps6")
    page = (repo / "dvc_plots" / "index.html").read_text()
    assert "<script src=" not in page and "cdn.jsdelivr" not in page and "vegaEmbed(" in page
    assert "/* vega-embed 6." in page and "losses/d_loss.json" in page
    assert "dvc_plots" not in sh(repo, "git", "status", "--porcelain").stdout  # ignored
