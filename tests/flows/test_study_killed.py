"""A study killed with `kill -9` mid-search and started again resumes from its Optuna storage: it asks for no
setting twice, trains no finished trial again, and finishes the ones that were running (flows/study.py,
components/study/search.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import optuna
import pytest

from tests.conftest import TINY_PARAMS
from tests.flows.conftest import command_env, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

STUDY = {"name": "killed", "datasets": ["mnist5k"], "families": ["nsgan"], "budget": 3, "seeds": 1,
         "epochs": 2.5, "checkpoints": 2, "checkpoint_samples": 100, "eval": {"num_samples": 100},
         "task_runner": "threads", "workers": 1}


def _trial_runs(root: Path) -> dict:
    try:
        client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
        exps = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(exps, "tags.`genzoo.stage` = 'study-trial'")
        return {r.info.run_name: (r, client.get_metric_history(r.info.run_id, "train/d_loss")) for r in runs}
    except Exception:  # noqa: BLE001 - the store is created by the run under test; not there yet
        return {}


def _markers(root: Path) -> dict[str, Path]:
    return {p.parent.name.rsplit("-", 1)[0]: p for p in (root / "outputs").glob("mnist5k/study/nsgan/*/trial.json")}


def _search_trials(root: Path) -> list:
    storage = f"sqlite:///{root / '.genzoo' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage).trials


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups")
def test_a_study_killed_mid_search_resumes_from_its_storage(tmp_path, mnist5k_data):
    root = make_project(tmp_path, mnist5k_data, {**TINY_PARAMS, "study": STUDY})
    env = command_env(root)
    command = [sys.executable, "-m", "flows.cli", "study"]
    log = tmp_path / "first.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:  # kill once the first setting is finished and the second is training
        deadline = time.monotonic() + 300
        while not ("nsgan-h0-s0" in _markers(root) and _trial_runs(root).get("nsgan-h1-s0", (None, []))[1]):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    states = [t.state for t in _search_trials(root)]
    assert states[0] == optuna.trial.TrialState.COMPLETE and optuna.trial.TrialState.RUNNING in states[1:]
    asked = [t.params for t in _search_trials(root)]
    finished = _markers(root)["nsgan-h0-s0"]
    finished_at, finished_run = finished.stat().st_mtime_ns, json.loads(finished.read_text())["result"]["run_id"]

    again = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    trials = _search_trials(root)
    assert [t.params for t in trials] == asked  # nothing asked twice, nothing new: the budget was all asked
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert finished.stat().st_mtime_ns == finished_at  # the finished trial was found, not trained again
    runs = _trial_runs(root)
    assert sorted(runs) == ["nsgan-h0-s0", "nsgan-h1-s0", "nsgan-h2-s0"]  # one MLflow run each: resumed, not new
    assert runs["nsgan-h0-s0"][0].info.run_id == finished_run
    assert all(r.info.status == "FINISHED" for r, _ in runs.values())
    assert [t.value for t in trials] == [json.loads(_markers(root)[f"nsgan-h{i}-s0"].read_text())["result"]
                                         ["best_fid"] for i in range(3)]
