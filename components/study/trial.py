"""One study trial: a family with one hyperparameter setting and one seed, trained for the study's budget and
scored at every checkpoint in the reference classifier's features; its best checkpoint is kept (Lucic et al.
report each run's best FID) and measured in full.

A trial trains through the pipeline's one train-and-log path and is cached like a stage (pipeline/cache.py),
keyed by its data, classifier, hyperparameters, seed, budget, code and tracking store, so an unchanged trial
never trains again, whichever worker asks. Its MLflow run is a child of its family's study run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar
from pathlib import Path

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict

from components import defaults
from components.config import Config
from components.files import atomic_write, atomic_write_text, locked, project_lock
from components.metric_specs import spec
from components.pipeline import cache, keys
from components.pipeline.context import Context, feature_space
from components.pipeline.graph import node
from components.pipeline.results import ClassifierReady
from components.pipeline.stage import HP
from components.study.checkpoints import ImageCheckpoint, ImageScorer, PointsCheckpoint, count_points

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from components.models.base import GenerativeModel
    from components.training.tracked import Trained

log = logging.getLogger(__name__)
MARKER = "trial.json"
RANKED_BY = spec("fid_classifier")  # a trial's best checkpoint, the best setting, the winner: by its direction


@dataclass(frozen=True)
class TrialSpec:
    dataset: str
    family: str
    index: int  # which hyperparameter setting of the search (0..B-1)
    seed: int
    overrides: dict  # the setting: what it lays over the family's hyperparameters
    variant: str = ""  # the mode study's named setting (plain, minibatch, unrolled5, ...), else a search index

    @property
    def name(self) -> str:
        return f"{self.family}-{self.variant or f'h{self.index}'}-s{self.seed}"


class TrialResult(BaseModel):
    """What a trial leaves: stored in its marker (trial.json), returned by its Prefect task as JSON, read by the
    study flow and the reports. `curve`: its scored checkpoints (study/checkpoints.py), in step order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: TrialSpec
    key: str
    run_id: str | None
    status: Literal["completed", "diverged"]
    error: str | None = None  # why it diverged
    steps: int
    curve: list[ImageCheckpoint | PointsCheckpoint] = []
    best_step: int | None = None  # the kept checkpoint (images: best by RANKED_BY; points: the last)
    best_fid: float | None = None  # its checkpoint FID in the classifier's features (images only)
    metrics: dict[str, float] = {}  # the kept checkpoint measured in full (eval.num_samples)
    feature_space: str
    files: list[str] = []  # what must still exist for the stored result to count (pipeline/cache.py)
    samples: str | None = None
    snapshots: str | None = None
    model_dir: str | None = None
    wall_s: float = 0.0
    search: bool = False  # the study's search round, not a rerun of the best setting with another seed


def points(cfg: Config, dataset: str) -> bool:
    """Whether `dataset` holds 2-D points: its trials run the mode study (study.modes), not the search."""
    from components.data.mixtures import names_mixture

    return names_mixture(dataset, cfg.data.sources)


def trial_config(cfg: Config, spec: TrialSpec) -> Config:
    """The pipeline config a trial runs under: the study's training and evaluation overrides, its hp and seed."""
    train = {**cfg.study.train, **({"batch_size": cfg.study.modes.batch_size} if points(cfg, spec.dataset) else {})}
    return cfg.merged({"dataset": spec.dataset, "seed": spec.seed, "train": train, "eval": cfg.study.eval,
                       "family": {spec.family: {**cfg.family.get(spec.family, {}), **spec.overrides}}})


def study_eval(cfg: Config) -> Config:
    """The config with the study's evaluation settings (study.eval) laid over eval: what trials and the reference
    rows are scored under."""
    return cfg.merged({"eval": cfg.study.eval})


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


def stored(cfg: Config, root: Path, spec: TrialSpec) -> TrialResult | None:
    """The trial's stored result while its key and outputs stand (None: it must train)."""
    _, key, out = locate(cfg, root, spec)
    return cache.read(out / MARKER, key, root, TrialResult.model_validate)


def run_trial(cfg: Config, root: Path, spec: TrialSpec, parent_run_id: str,
              classifier: ClassifierReady) -> TrialResult:
    """Train, score every checkpoint, keep and measure the best; `classifier` is the dataset's classifier stage
    result. Returns the trial's result (also stored beside its outputs)."""
    return run_population(cfg, root, [spec], [parent_run_id], classifier)[0]


def population_id(keys_: list[str]) -> str:
    return keys.digest(sorted(keys_))[:16]


def run_population(cfg: Config, root: Path, specs: list[TrialSpec], parent_run_ids: list[str],
                   classifier: ClassifierReady) -> list[TrialResult]:
    """Trials of one dataset, family and population_key (components/study/populations.py) trained together when
    more than one must train; each keeps its own cache entry, MLflow run and result, as if trained alone."""
    located = [locate(cfg, root, s) for s in specs]
    results = [cache.read(out / MARKER, key, root, TrialResult.model_validate) for _, key, out in located]
    if all(r is not None for r in results):
        return results
    with contextlib.ExitStack() as held:
        for key in sorted({key for _, key, _ in located}):  # each trial's own lock: a single run of it waits too
            held.enter_context(locked(project_lock(root, key)))
        results = [cache.read(out / MARKER, key, root, TrialResult.model_validate)  # done while we waited
                   for _, key, out in located]
        pending = [i for i, r in enumerate(results) if r is None]
        for i in pending:
            (located[i][2] / MARKER).unlink(missing_ok=True)  # no marker vouches for outputs being rewritten
        for i, result in zip(pending, _train_trials(cfg, [located[i] for i in pending], [specs[i] for i in pending],
                                                     [parent_run_ids[i] for i in pending], classifier)):
            _, key, out = located[i]
            cache.write(out / MARKER, key, result.model_dump(mode="json"), root)
            results[i] = result
    return results


def _train_trials(cfg: Config, located: list, specs: list[TrialSpec], parent_run_ids: list[str],
                  classifier: ClassifierReady) -> list[TrialResult]:
    """Train the trials (one alone, more as a population), each scored at every checkpoint by its own kind."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    from components.tracking import store as tstore
    from components.training.loop import LoopConfig
    from components.training.population import Member, train_population_and_log
    from components.training.tracked import train_and_log

    if torch.get_num_threads() > cfg.study.threads_per_trial > 0:
        torch.set_num_threads(cfg.study.threads_per_trial)
    started = time.perf_counter()
    kinds, members = [], []
    for (ctx, key, out), trial, parent in zip(located, specs, parent_run_ids):
        kind_cls = PointsTrial if ctx.tensors(trial.dataset).mixture is not None else ImagesTrial
        kind = kind_cls(ctx, trial, key, out, classifier)
        kinds.append(kind)
        tags = {**ctx.runs.tags(trial.dataset, trial.family, "study-trial"), MLFLOW_PARENT_RUN_ID: parent,
                "genzoo.trial_key": key, defaults.TAG_FEATURE_SPACE: kind.space,
                "genzoo.trained_by": tstore.worker_id()}  # which machine/process of a cluster ran it
        loop = LoopConfig.from_cfg(ctx.cfg.train, trial.seed, steps=kind.steps, checkpoint_every=kind.every)
        members.append(Member(ctx.cfg.hp(trial.family), loop, kind.ckpt_dir, tags, {"trial.index": trial.index},
                              trial.name, kind.on_checkpoint))
    ctx, spec = located[0][0], specs[0]
    if len(members) == 1:
        m = members[0]
        trained = [train_and_log(ctx.root, spec.family, spec.dataset, ctx.tensors(spec.dataset), m.hp, m.loop,
                                 m.ckpt_dir, tags=m.tags, params=m.params, run_name=m.run_name,
                                 on_checkpoint=m.on_checkpoint, allow_divergence=True)]
    else:
        pid = population_id([key for _, key, _ in located])
        pop_dir = ctx.state_dir("checkpoints", spec.dataset, "study", f"population-{pid}")
        trained = train_population_and_log(ctx.root, spec.family, spec.dataset, ctx.tensors(spec.dataset), members,
                                           pop_dir, pid)
    out = []
    for kind, t in zip(kinds, trained):
        if t.diverged:  # a real outcome of a search, not a crash: kept, counted, never the best
            log.warning("trial %s diverged: %s", kind.spec.name, t.diverged)
        out.append(kind.finish(t).model_copy(update={"wall_s": round(time.perf_counter() - started, 1)}))
    return out


C = TypeVar("C", ImageCheckpoint, PointsCheckpoint)


class TrialKind(Generic[C]):
    """What a trial does around its training: score each checkpoint (`on_checkpoint`, study/checkpoints.py), then
    measure the kept one in full as the evaluate stage does (evaluation/scoring.py), store and log it (`finish`).
    One per kind of data; the training itself is the same for both."""

    def __init__(self, ctx: Context, spec: TrialSpec, key: str, out: Path, classifier: ClassifierReady):
        from components.hardware import pick_device

        self.ctx, self.spec, self.key, self.out, self.classifier = ctx, spec, key, out, classifier
        self.ds = ctx.tensors(spec.dataset)
        self.steps, self.every = budget(ctx.cfg, spec.dataset, len(self.ds.train_x))
        self.device = pick_device(ctx.cfg.train.device)
        self.ckpt_dir = ctx.state_dir("checkpoints", spec.dataset, "study", key[:16])
        self.curve_file = self.ckpt_dir / "curve.json"  # what a resumed trial reads back
        self.curve: list[C] = self.read_curve()
        self.space = classifier.feature_space
        self.seed = spec.seed + 1  # samples are drawn as the evaluation draws them

    row: type[C]  # what a checkpoint of this kind scores (study/checkpoints.py)

    def read_curve(self) -> list[C]:
        rows = json.loads(self.curve_file.read_text()) if self.curve_file.exists() else []
        return [self.row.model_validate(r) for r in rows]

    def scored(self, row: C) -> None:
        """Keep `row` (a resumed trial's later rows are dropped: it scores them again) and store the curve."""
        self.curve = [c for c in self.curve if c.step < row.step] + [row]
        atomic_write_text(self.curve_file, json.dumps([c.model_dump() for c in self.curve]))

    def on_checkpoint(self, step: int, model: GenerativeModel) -> None:
        raise NotImplementedError

    def finish(self, trained: Trained) -> TrialResult:
        raise NotImplementedError

    def measure(self, model: GenerativeModel) -> tuple[dict[str, float], Path]:
        """The kept checkpoint measured in full under the trial's evaluation protocol (scoring.score, as the
        evaluate stage measures) and saved beside its metrics: (metrics, the samples picture)."""
        from components.evaluation import scoring
        from components.models import stored as stored_model

        reference = self.ctx.reference(self.spec.dataset, [self.classifier], self.device)
        scored = scoring.score(model, reference, self.device, self.out)
        stored_model.save(model, self.spec.family, self.spec.dataset, self.ds, self.out)
        (self.out / "metrics.json").write_text(json.dumps(scored.metrics, indent=2, sort_keys=True) + "\n")
        return scored.metrics, scored.pictures[0]

    def _close(self, client: MlflowClient, trained: Trained, **fields: Any) -> TrialResult:
        """The trial's result; its checkpoint curve logged into its run, which ends FINISHED, or FAILED if it
        diverged."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        rows = [(c.step, field, value) for c in self.curve for field, value in c.model_dump().items()
                if field != "step" and value is not None]  # None: a row stored before its metric was counted
        client.log_batch(trained.tracked_run, metrics=[Metric(spec(field).named(prefix="checkpoint"), float(value),
                                                              now, step) for step, field, value in rows])
        status = "diverged" if trained.diverged else "completed"
        client.set_tag(trained.tracked_run, "genzoo.trial_status", status)
        client.set_terminated(trained.tracked_run, "FINISHED" if status == "completed" else "FAILED")
        return TrialResult(spec=self.spec, key=self.key, run_id=trained.tracked_run, status=status,
                           error=trained.diverged, steps=self.steps, feature_space=self.space, curve=self.curve,
                           **fields)


class ImagesTrial(TrialKind[ImageCheckpoint]):
    """FID (and KID) in the reference classifier's features at every checkpoint; the best checkpoint is measured."""

    row = ImageCheckpoint

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        cfg = self.ctx.cfg
        self.scorer = ImageScorer(feature_space(self.classifier), cfg.eval, cfg.study.checkpoint_samples, self.seed,
                                  self.device)
        self.best_file = self.ckpt_dir / "best.pt"
        self.grids: dict[int, object] = {}  # step -> sample grid, logged as an image of that step at the end

    def on_checkpoint(self, step: int, model: GenerativeModel) -> None:
        """Score this checkpoint; the best weights by FID so far go to best.pt."""
        from components.evaluation import plots
        from components.images import to_float_images

        row, fake = self.scorer(model, step)
        self.grids[step] = plots.grid_image(to_float_images(fake[:self.ctx.cfg.eval.grid_size]))
        if row.fid_classifier == RANKED_BY.best([c.fid_classifier for c in self.curve if c.step < step]
                                                + [row.fid_classifier]):  # by the metric's direction
            atomic_write(self.best_file, lambda tmp: torch.save(model.state_dict(), tmp))
        self.scored(row)

    def finish(self, trained: Trained) -> TrialResult:
        from components.tracking import store as tstore

        client, run_id = tstore.client(self.ctx.root), trained.tracked_run
        for step, grid_image in self.grids.items():  # one grid per scored checkpoint: the run view's image slider
            client.log_image(run_id, grid_image, key="samples", step=int(step))
        kept: dict = {}
        if self.curve:
            best = min(self.curve, key=lambda c: RANKED_BY.rank(c.fid_classifier))
            model = trained.model
            model.load_state_dict(torch.load(self.best_file, map_location=self.device, weights_only=True))
            m, grid = self.measure(model)
            out = self.out
            kept = {"best_step": best.step, "best_fid": best.fid_classifier, "metrics": m, "samples": str(grid),
                    "model_dir": str(out), "files": [str(out / "model.pt"), str(out / "model.json"), str(grid)]}
            tstore.log_metrics(client, run_id, m)
            client.log_metric(run_id, "best_checkpoint_fid_classifier", best.fid_classifier, step=best.step)
            tstore.log_samples(client, run_id, grid, None)  # where every family's grid is (images: above)
            client.log_artifact(run_id, str(out / "metrics.json"), "evaluation")
        return self._close(client, trained, **kept)


class PointsTrial(TrialKind[PointsCheckpoint]):
    """A trial on 2-D points: mode counts at every checkpoint (coverage comes and goes as modes are dropped and
    found again), Metz et al.'s snapshot figure, and the final checkpoint measured in full. The final one, not
    the best: picking the best checkpoint by a mode count would flatter every game."""

    row = PointsCheckpoint

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.shown_file = self.ckpt_dir / "snapshots.json"  # {step: the snapshot panel's points}
        self.shown: dict[int, list] = ({int(k): v for k, v in json.loads(self.shown_file.read_text()).items()}
                                       if self.shown_file.exists() else {})

    def on_checkpoint(self, step: int, model: GenerativeModel) -> None:
        from components.evaluation import modes

        cfg = self.ctx.cfg
        row, pts = count_points(model, self.ds.points_mixture, cfg.eval, cfg.study.checkpoint_samples, self.seed,
                                self.device, step)
        self.shown = {s: p for s, p in self.shown.items() if s < step}
        self.shown[step] = modes.as_points(pts[:500]).round(4).tolist()
        atomic_write_text(self.shown_file, json.dumps(self.shown))
        self.scored(row)

    def finish(self, trained: Trained) -> TrialResult:
        from PIL import Image

        from components.evaluation import modes
        from components.tracking import store as tstore

        spec, out = self.spec, self.out
        client, run_id = tstore.client(self.ctx.root), trained.tracked_run
        kept: dict = {}
        if self.curve:
            figure = modes.save_snapshots([(c.step, np.asarray(self.shown[c.step])) for c in self.curve],
                                          self.ds.points_mixture, out / "snapshots.png",
                                          f"{spec.name} on {spec.dataset}")
            m, scatter = self.measure(trained.model)
            kept = {"best_step": self.steps, "metrics": m, "samples": str(scatter), "snapshots": str(figure),
                    "model_dir": str(out), "files": [str(out / "model.pt"), str(out / "model.json"), str(scatter),
                                                     str(figure)]}
            tstore.log_metrics(client, run_id, m)
            for f in (figure, out / "metrics.json"):
                client.log_artifact(run_id, str(f), "evaluation")
            tstore.log_samples(client, run_id, scatter, self.steps)  # where every family's grid is
            with Image.open(figure) as picture:  # the run view's Images tab shows it beside the samples
                client.log_image(run_id, picture.convert("RGB"), key="snapshots", step=self.steps)
        return self._close(client, trained, **kept)
