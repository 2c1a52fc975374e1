"""Trials of one game trained as one population (models/gan/population.py), each logged exactly as the single
trial it stands for: the same run name, params and metrics through tracked.py's helpers, its own MLflow run (resumed
after a kill), plus two tags. Only the study imports it, so no pipeline stage's code key carries the GAN package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from components.data.tensors import Tensors
from components.training import distributed
from components.training.loop import LoopConfig, LoopResult, fit
from components.training.tracked import Trained, build_model, mark_failed, metric_logger, resume_or_start, run_params


@dataclass
class Member:
    """One trial of a population: what train_and_log takes for a single trial."""

    hp: Any
    loop: LoopConfig
    ckpt_dir: Path  # its own: its MLflow run id (run.json) and its scoring files; the weights train in pop_dir
    tags: dict
    params: dict
    run_name: str
    on_checkpoint: Callable | None = None


def train_population_and_log(root: Path, family: str, dataset: str, data: Tensors, members: list[Member],
                             pop_dir: Path, population_id: str) -> list[Trained]:
    """Members of one game trained as one population (models/gan/population.py), each logged exactly as its
    single trial would be (same run name, params, metrics, its own run resumed after a kill) plus two tags. A
    member that diverges is returned as a single trial's divergence is under `allow_divergence`."""
    from components import defaults
    from components.errors import TrainingDiverged
    from components.models.gan.population import population
    from components.tracking import store as tstore

    loop = members[0].loop
    if any(m.loop.model_copy(update={"seed": loop.seed}) != loop for m in members):
        raise ValueError("a population's members train under one loop configuration (all but the seed)")
    client = tstore.client(root)
    models, run_ids = [], []
    for k, m in enumerate(members):
        models.append(build_model(family, data, m.hp, m.loop.seed))
        m.ckpt_dir.mkdir(parents=True, exist_ok=True)
        tags = {**m.tags, defaults.TAG_POPULATION: population_id, defaults.TAG_POPULATION_MEMBER: f"{k}/{len(members)}"}
        run_ids.append(resume_or_start(client, root, m.ckpt_dir / "run.json", dataset, tags, m.run_name,
                                       run_params(family, dataset, models[-1], m.loop, 1, m.params)))
    pop = population(models, [m.loop.seed for m in members])
    try:
        res = fit(pop, data.train_x, data.train_y, loop, pop_dir,
                  on_log=[metric_logger(client, run_id) for run_id in run_ids],
                  on_checkpoint=[m.on_checkpoint for m in members])
    except TrainingDiverged as exc:  # every member diverged
        res, diverged = None, {k: str(exc) for k in range(len(members))}
    except BaseException:
        for m, run_id in zip(members, run_ids):
            mark_failed(client, run_id, m.tags)
        raise
    if res is not None:
        diverged = res.diverged
    out = []
    for k, (m, run_id) in enumerate(zip(members, run_ids)):
        model = pop.member(k)
        if k in diverged or res is None:
            mark_failed(client, run_id, m.tags)
            out.append(Trained(model, None, run_id, [], diverged=diverged.get(k, "")))
            continue
        client.log_metric(run_id, "train/steps", res.steps)
        client.set_terminated(run_id, "FINISHED")
        out.append(Trained(model, LoopResult(res.steps, res.resumed_from, res.member_histories[k]), run_id,
                           distributed.gather_digests(model)))
    return out
