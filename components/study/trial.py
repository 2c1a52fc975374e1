"""One study trial: a family with one hyperparameter setting and one seed, trained for the study's budget and
scored at every checkpoint in the reference classifier's features; its best checkpoint is kept (Lucic et al.
report each run's best FID) and measured in full.

A trial trains through the pipeline's one train-and-log path and is cached like a stage (pipeline/cache.py),
keyed by its data, classifier, hyperparameters, seed, budget, code and tracking store, so an unchanged trial
never trains again, whichever worker asks. Its MLflow run is a child of its family's study run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from components import defaults
from components.config import Config
from components.files import atomic_write, atomic_write_text
from components.metric_specs import spec
from components.pipeline import cache, keys
from components.pipeline.context import Context, feature_space
from components.pipeline.graph import node
from components.pipeline.results import ClassifierReady
from components.pipeline.stage import HP

log = logging.getLogger(__name__)
MARKER = "trial.json"
RANKED_BY = spec("fid_classifier")  # a trial's best checkpoint, the best setting, the winner: by its direction


@dataclass(frozen=True)
class TrialSpec:
    dataset: str
    family: str
    index: int  # which hyperparameter setting of the search (0..B-1)
    seed: int
    hp: dict  # the setting's overrides of the family's hyperparameters

    @property
    def name(self) -> str:
        return f"{self.family}-h{self.index}-s{self.seed}"


def trial_config(cfg: Config, spec: TrialSpec) -> Config:
    """The pipeline config a trial runs under: the study's training and evaluation overrides, its hp and seed."""
    return cfg.merged({"dataset": spec.dataset, "seed": spec.seed, "train": cfg.study.train, "eval": cfg.study.eval,
                       "family": {spec.family: {**cfg.family.get(spec.family, {}), **spec.hp}}})


def budget(cfg: Config, dataset: str, n_train: int) -> tuple[int, int]:
    """(steps, checkpoint_every) from the study's epochs (per dataset if given) and number of checkpoints."""
    steps = max(1, round(cfg.study.epochs_for(dataset) * n_train / cfg.train.batch_size))
    return steps, max(1, math.ceil(steps / cfg.study.checkpoints))


def trial_key(ctx: Context, spec: TrialSpec) -> str:
    from components.models.registry import get_family
    from components.tracking.store import store_id

    study = ctx.cfg.study
    return keys.digest({
        "trial": [spec.dataset, spec.family, spec.index, spec.seed],
        "hp": ctx.param(HP, spec.family),
        "train": ctx.param("train"),
        "budget": [study.epochs_for(spec.dataset), study.checkpoints, study.checkpoint_samples],
        "eval": ctx.param("eval"),
        "classifier": ctx.key(node("classifier", spec.dataset)),
        "data": ctx.dataset_hash(spec.dataset),
        "code": keys.code_hash(__name__, get_family(spec.family).model.__module__),
        "store": store_id(ctx.root),
    })


def locate(cfg: Config, root: Path, spec: TrialSpec) -> tuple[Context, str, Path]:
    ctx = Context(trial_config(cfg, spec), root)
    key = trial_key(ctx, spec)
    return ctx, key, root / defaults.OUTPUTS_DIR / spec.dataset / "study" / spec.family / f"{spec.name}-{key[:8]}"


def stored(cfg: Config, root: Path, spec: TrialSpec) -> dict | None:
    """The trial's stored result while its key and outputs stand (None: it must train)."""
    _, key, out = locate(cfg, root, spec)
    return cache.read(out / MARKER, key, root)


def run_trial(cfg: Config, root: Path, spec: TrialSpec, parent_run_id: str, classifier: ClassifierReady) -> dict:
    """Train, score every checkpoint, keep and measure the best; `classifier` is the dataset's classifier stage
    result. Returns the trial's result (also stored beside its outputs)."""
    ctx, key, out = locate(cfg, root, spec)

    def compute() -> dict:
        if torch.get_num_threads() > cfg.study.threads_per_trial > 0:
            torch.set_num_threads(cfg.study.threads_per_trial)
        started = time.perf_counter()
        result = _train_and_score(ctx, spec, key, out, parent_run_id, classifier)
        return {**result, "wall_s": round(time.perf_counter() - started, 1)}

    return cache.cached(out / MARKER, key, root, compute)


def _train_and_score(ctx: Context, spec: TrialSpec, key: str, out: Path, parent_run_id: str,
                     classifier: ClassifierReady) -> dict:
    from mlflow.entities import Metric
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    from components.evaluation import metrics, plots, samples, scoring
    from components.models import stored as stored_model
    from components.tracking import store as tstore
    from components.training.loop import LoopConfig, pick_device, to_float_images
    from components.training.tracked import train_and_log

    cfg = ctx.cfg
    ds = ctx.tensors(spec.dataset)
    steps, every = budget(cfg, spec.dataset, len(ds.train_x))
    device = pick_device(cfg.train.device)
    space = feature_space(classifier)
    clf, real = space.load(device)
    real_stats = metrics.fid_statistics(real["features"])
    ckpt_dir = ctx.state_dir("checkpoints", spec.dataset, "study", key[:16])
    curve_file, best_file = ckpt_dir / "curve.json", ckpt_dir / "best.pt"
    curve: list[list[float]] = json.loads(curve_file.read_text()) if curve_file.exists() else []
    grids: dict[int, object] = {}  # step -> sample grid, logged as an image of that step once the run is known

    def score(step: int, model) -> None:
        """FID (and KID, unbiased at this small N) of this checkpoint on `checkpoint_samples` samples; the best
        weights by FID so far go to best.pt."""
        nonlocal curve
        n = samples.sample_cap(cfg.eval, model, cfg.study.checkpoint_samples)
        fake = samples.generate(model, n, cfg.eval.batch_size, spec.seed + 1, device)
        (fake_f,) = metrics.extract(clf.features, fake, cfg.eval.batch_size, device)
        value = metrics.fid(real_stats, metrics.fid_statistics(fake_f))
        kid = metrics.kid(fake_f, real["features"], cfg.eval.kid_subset_size, cfg.eval.kid_subsets)["kid"] \
            * metrics.KID_SCALE
        curve = [c for c in curve if c[0] < step] + [[step, value, kid]]
        grids[step] = plots.grid_image(to_float_images(fake[:cfg.eval.grid_size]))
        if value == RANKED_BY.best(c[1] for c in curve):  # by the metric's direction
            atomic_write(best_file, lambda tmp: torch.save(model.state_dict(), tmp))
        atomic_write_text(curve_file, json.dumps(curve))  # what a resumed trial reads back

    tags = {**ctx.runs.tags(spec.dataset, spec.family, "study-trial"), MLFLOW_PARENT_RUN_ID: parent_run_id,
            "genzoo.trial_key": key, defaults.TAG_FEATURE_SPACE: space.name,
            "genzoo.trained_by": tstore.worker_id()}  # which machine/process of a cluster ran it
    trained = train_and_log(ctx.root, spec.family, spec.dataset, ds, cfg.hp(spec.family),
                            LoopConfig.from_cfg(cfg.train, spec.seed, steps=steps, checkpoint_every=every), ckpt_dir,
                            tags=tags, params={"trial.index": spec.index}, run_name=spec.name,
                            on_checkpoint=score, allow_divergence=True)
    if trained.diverged:  # a real outcome of a search, not a crash: kept, counted, never the best
        log.warning("trial %s diverged: %s", spec.name, trained.diverged)
    status = "diverged" if trained.diverged else "completed"
    client, run_id = tstore.client(ctx.root), trained.run_id
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(f"checkpoint_{name}_classifier", c[i], now, int(c[0]))
                                      for c in curve for i, name in ((1, "fid"), (2, "kid_x1e3")) if len(c) > i])
    for step, grid_image in grids.items():  # one grid per scored checkpoint: the run view's image slider
        client.log_image(run_id, grid_image, key="samples", step=int(step))
    result = {"spec": asdict(spec), "key": key, "run_id": run_id, "status": status, "error": trained.diverged,
              "steps": steps, "curve": curve, "best_step": None, "best_fid": None, "metrics": {},
              "feature_space": space.name, "files": []}
    if curve:
        best_step, best_fid = min(curve, key=lambda c: RANKED_BY.rank(c[1]))[:2]
        model = trained.model
        model.load_state_dict(torch.load(best_file, map_location=device, weights_only=True))
        m, fake = samples.sample_metrics(model, cfg.eval.num_samples, space, cfg.eval, spec.seed + 1, device,
                                         ds.train_x, ctx.state_dir("floors"),
                                         ctx.data_id(spec.dataset),
                                         inception=scoring.inception(ctx.reference(spec.dataset, [classifier],
                                                                                   device), device))
        stored_model.save(model, spec.family, spec.dataset, ds, out)
        (out / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
        grid = samples.save_samples(fake, cfg.eval, out)
        result.update(best_step=best_step, best_fid=best_fid, metrics=m, samples=str(grid),
                      model_dir=str(out), files=[str(out / "model.pt"), str(out / "model.json"), str(grid)])
        tstore.log_metrics(client, run_id, m)
        client.log_metric(run_id, "best_checkpoint_fid_classifier", best_fid, step=int(best_step))
        client.log_artifact(run_id, str(grid), "evaluation")
        client.log_artifact(run_id, str(out / "metrics.json"), "evaluation")
    client.set_tag(run_id, "genzoo.trial_status", status)
    client.set_terminated(run_id, "FINISHED" if status == "completed" else "FAILED")
    return result
