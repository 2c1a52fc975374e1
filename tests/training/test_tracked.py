"""The one train-and-log path: a run that is resumed ends as what it now is, without the tags of its last stop."""

import mlflow
import torch

from components.data import store
from components.data.tensors import Tensors
from components.models.registry import get_family
from components.tracking import store as tstore
from components.training.loop import LoopConfig
from components.training.tracked import FAILURE_TAGS, train_and_log


def test_a_resumed_run_drops_the_tags_that_said_why_it_stopped(mnist5k_data, tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    ds = store.read("mnist5k", mnist5k_data)
    data = Tensors(train_x=torch.from_numpy(ds.arrays["train_images"][:256]),
                   train_y=torch.from_numpy(ds.arrays["train_labels"][:256]), classes=ds.classes)
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
