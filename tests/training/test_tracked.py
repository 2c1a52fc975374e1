"""The one train-and-log path: a run that is resumed ends as what it now is, without the tags of its last stop."""

import mlflow
import pytest
import torch

from components.data import store
from components.data.tensors import Tensors
from components.models.registry import get_family
from components.tracking import store as tstore
from components.training.loop import LoopConfig
from components.training.tracked import FAILURE_TAGS, train_and_log


@pytest.fixture
def data(mnist5k_data, tmp_path, monkeypatch) -> Tensors:
    """256 real digits, with tmp_path as the project and its own MLflow store."""
    monkeypatch.setenv("GENZOO_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ds = store.read("mnist5k", mnist5k_data)
    return Tensors(train_x=torch.from_numpy(ds.arrays["train_images"][:256]),
                   train_y=torch.from_numpy(ds.arrays["train_labels"][:256]), classes=ds.classes)


def test_a_resumed_run_drops_the_tags_that_said_why_it_stopped(data, tmp_path):
    hp = get_family("nsgan").hyperparameters({"z_dim": 4, "width": 0.125})
    loop = LoopConfig(steps=2, batch_size=32, checkpoint_every=1, log_every=1, progress=False)
    first = train_and_log(tmp_path, "nsgan", "mnist5k", data, hp, loop, tmp_path / "ckpt", tags={})
    client = tstore.client(tmp_path)
    for tag in FAILURE_TAGS:  # what a crash (or the orphan sweep after a kill -9) leaves on the run
        client.set_tag(first.run_id, tag, "killed")
    client.set_terminated(first.run_id, "FAILED")
    again = train_and_log(tmp_path, "nsgan", "mnist5k", data, hp, loop, tmp_path / "ckpt", tags={})
    run = mlflow.MlflowClient(tstore.tracking_uri(tmp_path)).get_run(again.run_id)
    assert again.run_id == first.run_id and run.info.status == "FINISHED"
    assert not set(FAILURE_TAGS) & set(run.data.tags)


def test_a_diverged_member_stops_alone(data, tmp_path):
    """A population member whose loss turns non-finite ends FAILED as its single trial would; the others finish."""
    from components import defaults
    from components.training.population import Member, train_population_and_log

    fam = get_family("mlgan")  # exp(logit) overflows once the critic's weights blow up
    members = [Member(fam.hyperparameters({"z_dim": 4, "width": 0.125, "lr": lr}),
                      LoopConfig(steps=6, batch_size=32, checkpoint_every=3, log_every=1, progress=False, seed=seed),
                      tmp_path / f"m{seed}", {"genzoo.stage": "study-trial"}, {"trial.index": seed}, f"m{seed}")
               for seed, lr in enumerate([2e-4, 1e4, 2e-4])]
    trained = train_population_and_log(tmp_path, "mlgan", "mnist5k", data, members, tmp_path / "pop", "p1")
    client = mlflow.MlflowClient(tstore.tracking_uri(tmp_path))
    runs = [client.get_run(t.run_id) for t in trained]
    assert [r.info.run_name for r in runs] == ["m0", "m1", "m2"]
    assert [r.info.status for r in runs] == ["FINISHED", "FAILED", "FINISHED"]
    assert trained[1].diverged and "non-finite" in trained[1].diverged and trained[1].loop is None
    assert runs[1].data.tags[FAILURE_TAGS[0]] == "study-trial"
    assert [len(t.loop.history) for t in (trained[0], trained[2])] == [6, 6]
    assert all(r.data.tags[defaults.TAG_POPULATION] == "p1" for r in runs)
    assert [r.data.params["trial.index"] for r in runs] == ["0", "1", "2"]
