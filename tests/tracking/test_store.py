"""A run left RUNNING by a process that is gone (kill -9, crash) is marked FAILED by the next run; a run whose
process still lives, or that another host owns, is left alone. Experiments carry the kind the UI opens on."""

import socket
import subprocess
import sys

from components.tracking import store


def test_runs_of_dead_processes_are_marked_failed_and_live_ones_are_not(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = store.client(tmp_path)
    exp = store.experiment_id(client, tmp_path, "toy")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    owners = {"dead": f"{socket.gethostname()}:{int(gone.stdout)}:1",
              "alive": store.worker_id(),
              "elsewhere": "another-host:1:1"}
    runs = {k: client.create_run(exp, tags={store.TAG_WORKER: w}).info.run_id for k, w in owners.items()}
    finished = client.create_run(exp, tags={store.TAG_WORKER: owners["dead"]}).info.run_id
    client.set_terminated(finished, "FINISHED")

    assert store.fail_orphans(tmp_path) == [runs["dead"]]
    status = {k: client.get_run(r).info.status for k, r in runs.items()}
    assert status == {"dead": "FAILED", "alive": "RUNNING", "elsewhere": "RUNNING"}
    assert "killed or crashed" in client.get_run(runs["dead"]).data.tags["genzoo.failed_reason"]
    assert client.get_run(finished).info.status == "FINISHED"
    assert store.fail_orphans(tmp_path) == []  # nothing left to mark


def test_experiments_open_on_their_runs_in_the_ui(tmp_path, monkeypatch):
    """MLflow 3's UI picks an experiment's landing page by its kind tag: genzoo's are model development, so it
    opens on the runs, not on a GenAI traces dashboard; an experiment made before genzoo set it gets it too."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    client = store.client(tmp_path)
    made = client.get_experiment(store.experiment_id(client, tmp_path, "mnist5k"))
    assert made.tags["mlflow.experimentKind"] == "custom_model_development"
    old = client.create_experiment("older")
    store.experiment_id(client, tmp_path, "older")
    assert client.get_experiment(old).tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_process_that_opened_one_project_tracks_the_next_into_its_own_store(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir(), second.mkdir()
    store.setup(first, "toy")
    with mlflow.start_run():
        pass
    assert store.tracking_uri(second) == f"sqlite:///{(second / 'mlflow.db').as_posix()}"
    assert store.setup(second, "toy") == store.tracking_uri(second)
    with mlflow.start_run() as run:
        pass
    assert store.client(second).get_run(run.info.run_id).info.experiment_id
    assert mlflow.get_registry_uri() == store.tracking_uri(second)
    assert [r.info.run_id for r in store.client(second).search_runs(
        [store.experiment_id(store.client(second), second, "toy")])] == [run.info.run_id]
