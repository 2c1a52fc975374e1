"""A study spread over a Dask cluster (Prefect's DaskTaskRunner on a LocalCluster of 2 worker processes):
both trials run on the workers and land in the one MLflow store."""

import mlflow
import pytest
import yaml

from tests.conftest import TINY_PARAMS
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

pytest.importorskip("prefect_dask")


@pytest.fixture
def environ_restored():
    """Dask's nannies set OMP_NUM_THREADS=1 (and more) in this process's environment before they spawn workers;
    later tests' subprocesses must not inherit that."""
    import os

    import torch

    saved, threads = dict(os.environ), torch.get_num_threads()
    yield
    os.environ.clear()
    os.environ.update(saved)
    torch.set_num_threads(threads)


def test_two_trials_on_a_dask_local_cluster_land_in_one_store(prefect_api, tmp_path, mnist5k_data, environ_restored):
    from flows.study import run_study

    root = make_project(tmp_path, mnist5k_data)
    study = {"name": "dask", "datasets": ["mnist5k"], "families": ["nsgan"], "budget": 2, "seeds": 1,
             "epochs": 0.016, "checkpoints": 1, "checkpoint_samples": 100, "eval": {"num_samples": 200},
             "space": {"lr": [1e-4, 1e-3]}, "task_runner": "dask", "workers": 2, "threads_per_trial": 1}
    (root / "params.yaml").write_text(yaml.safe_dump({**TINY_PARAMS, "study": study}, sort_keys=False))
    with in_project(root):
        summary = run_study(root=str(root))
    trials = {k: v for k, v in summary.states.items() if k.startswith("trial")}
    assert len(trials) == 2 and set(trials.values()) == {"Completed"}, summary.states
    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exp = client.get_experiment_by_name("mnist5k")
    runs = client.search_runs([exp.experiment_id], "tags.`genzoo.stage` = 'study-trial'")
    assert sorted(r.info.run_name for r in runs) == ["nsgan-h0-s0", "nsgan-h1-s0"]
    assert all(r.info.status == "FINISHED" and "fid_classifier" in r.data.metrics for r in runs)
    # they ran in the cluster's worker processes, not in this one
    import os

    pids = {r.data.tags["genzoo.trained_by"].split(":")[1] for r in runs}
    assert str(os.getpid()) not in pids
