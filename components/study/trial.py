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
    variant: str = ""  # the mode study's named setting (plain, minibatch, unrolled5, ...), else a search index

    @property
    def name(self) -> str:
        return f"{self.family}-{self.variant or f'h{self.index}'}-s{self.seed}"


def points(cfg: Config, dataset: str) -> bool:
    """Whether `dataset` holds 2-D points: its trials run the mode study (study.modes), not the search."""
    from components.data.mixtures import names_mixture

    return names_mixture(dataset, cfg.data.sources)


def trial_config(cfg: Config, spec: TrialSpec) -> Config:
    """The pipeline config a trial runs under: the study's training and evaluation overrides, its hp and seed."""
    train = {**cfg.study.train, **({"batch_size": cfg.study.modes.batch_size} if points(cfg, spec.dataset) else {})}
    return cfg.merged({"dataset": spec.dataset, "seed": spec.seed, "train": train, "eval": cfg.study.eval,
                       "family": {spec.family: {**cfg.family.get(spec.family, {}), **spec.hp}}})


def budget(cfg: Config, dataset: str, n_train: int) -> tuple[int, int]:
    """(steps, checkpoint_every) from the study's epochs (per dataset if given) and number of checkpoints; on 2-D
    points from study.modes."""
    if points(cfg, dataset):
        steps, checkpoints = cfg.study.modes.steps, cfg.study.modes.checkpoints
    else:
        steps = max(1, round(cfg.study.epochs_for(dataset) * n_train / cfg.train.batch_size))
        checkpoints = cfg.study.checkpoints
    return steps, max(1, math.ceil(steps / checkpoints))


def trial_key(ctx: Context, spec: TrialSpec) -> str:
    from components.models.registry import get_family
    from components.tracking.store import store_id

    study = ctx.cfg.study
    return keys.digest({
        "trial": [spec.dataset, spec.family, spec.index, spec.seed],
        "hp": ctx.param(HP, spec.family),
        "train": ctx.param("train"),
        "budget": ([study.modes.steps, study.modes.checkpoints, study.checkpoint_samples]
                   if points(ctx.cfg, spec.dataset) else
                   [study.epochs_for(spec.dataset), study.checkpoints, study.checkpoint_samples]),
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
        train_and_score = _train_and_count if ctx.tensors(spec.dataset).mixture is not None else _train_and_score
        result = train_and_score(ctx, spec, key, out, parent_run_id, classifier)
        return {**result, "wall_s": round(time.perf_counter() - started, 1)}

    return cache.cached(out / MARKER, key, root, compute)


def _train(ctx: Context, spec: TrialSpec, key: str, parent_run_id: str, space: str, steps: int, every: int,
           ckpt_dir: Path, on_checkpoint) -> tuple:
    """(the trained result, "completed" | "diverged"): the trial trained through the pipeline's one train-and-log
    path, its MLflow run a child of its family's study run, `on_checkpoint(step, model)` scoring each checkpoint."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    from components.tracking import store as tstore
    from components.training.loop import LoopConfig
    from components.training.tracked import train_and_log

    cfg = ctx.cfg
    tags = {**ctx.runs.tags(spec.dataset, spec.family, "study-trial"), MLFLOW_PARENT_RUN_ID: parent_run_id,
            "genzoo.trial_key": key, defaults.TAG_FEATURE_SPACE: space,
            "genzoo.trained_by": tstore.worker_id()}  # which machine/process of a cluster ran it
    trained = train_and_log(ctx.root, spec.family, spec.dataset, ctx.tensors(spec.dataset), cfg.hp(spec.family),
                            LoopConfig.from_cfg(cfg.train, spec.seed, steps=steps, checkpoint_every=every), ckpt_dir,
                            tags=tags, params={"trial.index": spec.index}, run_name=spec.name,
                            on_checkpoint=on_checkpoint, allow_divergence=True)
    if trained.diverged:  # a real outcome of a search, not a crash: kept, counted, never the best
        log.warning("trial %s diverged: %s", spec.name, trained.diverged)
    return trained, "diverged" if trained.diverged else "completed"


def _train_and_score(ctx: Context, spec: TrialSpec, key: str, out: Path, parent_run_id: str,
                     classifier: ClassifierReady) -> dict:
    from mlflow.entities import Metric

    from components.evaluation import metrics, plots, samples, scoring
    from components.models import stored as stored_model
    from components.tracking import store as tstore
    from components.training.loop import pick_device, to_float_images

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

    trained, status = _train(ctx, spec, key, parent_run_id, space.name, steps, every, ckpt_dir, score)
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


def _train_and_count(ctx: Context, spec: TrialSpec, key: str, out: Path, parent_run_id: str,
                     classifier: ClassifierReady) -> dict:
    """A trial on 2-D points: mode counts at every checkpoint (coverage comes and goes as modes are dropped and
    found again), Metz et al.'s snapshot figure, and the final checkpoint measured in full. The final one, not
    the best: picking the best checkpoint by a mode count would flatter every game."""
    from mlflow.entities import Metric
    from PIL import Image

    from components.evaluation import modes, samples
    from components.models import stored as stored_model
    from components.tracking import store as tstore
    from components.training.loop import pick_device

    cfg = ctx.cfg
    ds = ctx.tensors(spec.dataset)
    mixture = ds.mixture
    steps, every = budget(cfg, spec.dataset, len(ds.train_x))
    device = pick_device(cfg.train.device)
    ckpt_dir = ctx.state_dir("checkpoints", spec.dataset, "study", key[:16])
    curve_file = ckpt_dir / "curve.json"
    # [step, modes_covered, high_quality, reverse_kl, points]: what a resumed trial reads back
    curve: list[list] = json.loads(curve_file.read_text()) if curve_file.exists() else []

    def count(step: int, model) -> None:
        nonlocal curve
        pts = samples.generate(model, cfg.study.checkpoint_samples, cfg.eval.batch_size, spec.seed + 1, device)
        c = modes.count(pts, mixture, cfg.eval.mode_min_share)
        shown = modes.as_points(pts[:500]).round(4).tolist()  # the snapshot panel's points
        curve = [row for row in curve if row[0] < step] + [[step, c.modes_covered, c.high_quality, c.reverse_kl,
                                                            shown]]
        atomic_write_text(curve_file, json.dumps(curve))

    trained, status = _train(ctx, spec, key, parent_run_id, classifier.feature_space, steps, every, ckpt_dir,
                             count)
    client, run_id = tstore.client(ctx.root), trained.run_id
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(f"checkpoint_{name}", float(row[i]), now, int(row[0]))
                                      for row in curve
                                      for i, name in ((1, "modes_covered"), (2, "high_quality"), (3, "reverse_kl"))])
    result = {"spec": asdict(spec), "key": key, "run_id": run_id, "status": status, "error": trained.diverged,
              "steps": steps, "curve": [row[:4] for row in curve], "best_step": None, "best_fid": None,
              "metrics": {}, "feature_space": classifier.feature_space, "files": []}
    if curve:
        title = f"{spec.name} on {spec.dataset}"
        figure = modes.save_snapshots([(int(row[0]), row[4]) for row in curve], mixture, out / "snapshots.png", title)
        m, fake = modes.sample_metrics(trained.model, cfg.eval.num_samples, mixture, cfg.eval, spec.seed + 1, device,
                                       ds.train_x, ctx.state_dir("floors"), ctx.data_id(spec.dataset))
        scatter = modes.save_scatter(fake, mixture, out / "samples.png", f"{title}: step {steps}")
        stored_model.save(trained.model, spec.family, spec.dataset, ds, out)
        (out / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
        result.update(best_step=steps, metrics=m, samples=str(scatter), snapshots=str(figure), model_dir=str(out),
                      files=[str(out / "model.pt"), str(out / "model.json"), str(scatter), str(figure)])
        tstore.log_metrics(client, run_id, m)
        for f in (scatter, figure, out / "metrics.json"):
            client.log_artifact(run_id, str(f), "evaluation")
        for key, f in (("samples", scatter), ("snapshots", figure)):  # the run view's Images tab shows them
            with Image.open(f) as picture:
                client.log_image(run_id, picture.convert("RGB"), key=key, step=steps)
    client.set_tag(run_id, "genzoo.trial_status", status)
    client.set_terminated(run_id, "FINISHED" if status == "completed" else "FAILED")
    return result
