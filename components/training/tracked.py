"""The one train-and-log path: build the family's model -> a resumable MLflow run -> `fit` -> save.

Used by the pipeline's train stage, every study trial and the torchrun entry (through the train stage). It logs
through an explicit MlflowClient, which is safe from the study's worker threads. A killed run resumes into the
same MLflow run (its id sits beside the checkpoints); under torchrun only rank 0 logs and saves.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from components.data.tensors import Tensors
from components.models.base import GenerativeModel
from components.files import atomic_write_text
from components.training import distributed
from components.training.loop import LoopConfig, LoopResult, fit

log = logging.getLogger(__name__)

FAILURE_TAGS = ("genzoo.failed_stage", "genzoo.failed_reason")  # why a run stopped; cleared when it resumes


@dataclass
class Trained:
    model: GenerativeModel
    loop: LoopResult | None  # None when training diverged
    run_id: str | None  # None on ranks other than 0
    digests: list[str]  # one parameter digest per rank: equal when the ranks stayed in step
    diverged: str | None = None  # the TrainingDiverged message, when `allow_divergence` kept it from raising

    @property
    def tracked_run(self) -> str:
        """Its MLflow run (rank 0 has one)."""
        if self.run_id is None:
            raise TypeError("this rank trained its share and tracked nothing")
        return self.run_id

    @property
    def completed(self) -> LoopResult:
        """The loop's result of a run that did not diverge."""
        if self.loop is None:
            raise TypeError(f"training diverged: {self.diverged}")
        return self.loop


def train_and_log(root: Path, family: str, dataset: str, data: Tensors, hp, loop: LoopConfig, ckpt_dir: Path,
                  tags: dict, params: dict | None = None, run_name: str | None = None, save_to: Path | None = None,
                  on_checkpoint: Callable | None = None, allow_divergence: bool = False) -> Trained:
    """`hp`: the family's typed hyperparameters; `allow_divergence`: a NaN/inf loss marks the run FAILED and is
    returned, not raised (a search's outcome)."""
    from components.errors import TrainingDiverged, first_line
    from components.models import stored
    from components.tracking import store as tstore

    world = distributed.current()
    model = build_model(family, data, hp, loop.seed)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if not world.main:  # another rank of a torchrun job: train its share, log nothing, write nothing
        res = fit(model, data.train_x, data.train_y, loop, ckpt_dir, rank=world.rank, world=world.size)
        return Trained(model, res, None, distributed.gather_digests(model))

    client = tstore.client(root)
    run_id = resume_or_start(client, root, ckpt_dir / "run.json", dataset, tags, run_name or family,
                             run_params(family, dataset, model, loop, world.size, params))
    try:
        res = fit(model, data.train_x, data.train_y, loop, ckpt_dir, on_log=metric_logger(client, run_id),
                  world=world.size, on_checkpoint=on_checkpoint)
        digests = distributed.gather_digests(model)
    except BaseException as exc:
        try:
            mark_failed(client, run_id, tags)
        except Exception as failed:  # noqa: BLE001 - e.g. SQLite still locked by the write the stop cut short: the
            # original error is what the caller must see; the run stays RUNNING until an orphan sweep marks it
            log.warning("MLflow run %s left RUNNING: %s: %s", run_id, type(failed).__name__, first_line(failed))
        if allow_divergence and isinstance(exc, TrainingDiverged):
            return Trained(model, None, run_id, [], diverged=str(exc))
        raise
    if save_to is not None:
        stored.save(model, family, dataset, data, save_to)
        (save_to / "history.json").write_text(json.dumps(res.history) + "\n")
    client.log_metric(run_id, "train/steps", res.steps)
    client.set_terminated(run_id, "FINISHED")
    return Trained(model, res, run_id, digests)


def build_model(family: str, data: Tensors, hp, seed: int):
    """The family's model as every trial builds it: the weights drawn from `seed`."""
    from components.models.registry import get_family

    fam = get_family(family)
    torch.manual_seed(seed)
    return fam.build(data.image_shape, len(data.classes), fam.model.fitted_to(hp, data))


def run_params(family: str, dataset: str, model, loop: LoopConfig, world_size: int, params: dict | None) -> dict:
    from components.models.registry import get_family

    return {"family": family, "dataset": dataset, "seed": loop.seed, "kind": get_family(family).kind,
            **{f"hp.{k}": v for k, v in dataclasses.asdict(model.hp).items()},
            **{f"train.{k}": v for k, v in loop.model_dump().items() if k != "seed"},
            "train.world_size": world_size, "train.effective_batch_size": loop.batch_size * world_size,
            **(params or {})}


def metric_logger(client, run_id: str) -> Callable[[int, dict], None]:
    from mlflow.entities import Metric

    def on_log(step: int, means: dict) -> None:
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(f"train/{k}", v, now, step) for k, v in means.items()])

    return on_log


def mark_failed(client, run_id: str, tags: dict) -> None:
    client.set_tag(run_id, FAILURE_TAGS[0], tags.get("genzoo.stage", "train"))
    client.set_terminated(run_id, "FAILED")


def resume_or_start(client, root: Path, run_file: Path, experiment: str, tags: dict, name: str,
                     params: dict) -> str:
    """The MLflow run recorded beside the checkpoints (a resumed training keeps logging into it), else a new one."""
    from mlflow.entities import Param

    from components.tracking import store as tstore

    run_id = json.loads(run_file.read_text())["run_id"] if run_file.exists() else None
    if run_id and tstore.run_exists(root, run_id):
        client.update_run(run_id, status="RUNNING")
        client.set_tag(run_id, tstore.TAG_WORKER, tstore.worker_id())  # this process owns it now
        stale = set(client.get_run(run_id).data.tags) & set(FAILURE_TAGS)
        for tag in stale:  # it is running again: what said why it stopped no longer holds
            client.delete_tag(run_id, tag)
        return run_id
    run_id = client.create_run(tstore.experiment_id(client, root, experiment), tags=tags, run_name=name).info.run_id
    client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
    atomic_write_text(run_file, json.dumps({"run_id": run_id}))  # read back on resume: never half-written
    return run_id
