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
from typing import Literal
from pathlib import Path

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


class TrialResult(BaseModel):
    """What a trial leaves: stored in its marker (trial.json), returned by its Prefect task as JSON, read by the
    study flow and the reports. `curve`: [step, FID, KID x 1e3] per scored checkpoint on images; [step,
    modes_covered, high_quality, reverse_kl] on 2-D points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: TrialSpec
    key: str
    run_id: str | None
    status: Literal["completed", "diverged"]
    error: str | None = None  # why it diverged
    steps: int
    curve: list[list[float]] = []
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


class TrialKind:
    """What a trial does around its training: score each checkpoint (`on_checkpoint`), then measure, store and log
    what it keeps (`finish`). One per kind of data; the training itself is the same for both."""

    def __init__(self, ctx: Context, spec: TrialSpec, key: str, out: Path, classifier: ClassifierReady):
        from components.hardware import pick_device

        self.ctx, self.spec, self.key, self.out, self.classifier = ctx, spec, key, out, classifier
        self.ds = ctx.tensors(spec.dataset)
        self.steps, self.every = budget(ctx.cfg, spec.dataset, len(self.ds.train_x))
        self.device = pick_device(ctx.cfg.train.device)
        self.ckpt_dir = ctx.state_dir("checkpoints", spec.dataset, "study", key[:16])
        self.curve_file = self.ckpt_dir / "curve.json"
        self.curve: list[list] = json.loads(self.curve_file.read_text()) if self.curve_file.exists() else []
        self.space = classifier.feature_space

    def on_checkpoint(self, step: int, model) -> None:
        raise NotImplementedError

    def finish(self, trained) -> TrialResult:
        raise NotImplementedError

    def _close(self, client, trained, **fields) -> TrialResult:
        """The trial's result; its MLflow run ends FINISHED, or FAILED if it diverged."""
        status = "diverged" if trained.diverged else "completed"
        client.set_tag(trained.run_id, "genzoo.trial_status", status)
        client.set_terminated(trained.run_id, "FINISHED" if status == "completed" else "FAILED")
        return TrialResult(spec=self.spec, key=self.key, run_id=trained.run_id, status=status,
                           error=trained.diverged, steps=self.steps, feature_space=self.space,
                           **{"curve": self.curve, **fields})


class ImagesTrial(TrialKind):
    """FID (and KID) in the reference classifier's features at every checkpoint; the best checkpoint is measured."""

    def __init__(self, *args):
        from components.evaluation import metrics

        super().__init__(*args)
        self.space_ = feature_space(self.classifier)
        self.space = self.space_.name
        self.clf, self.real = self.space_.load(self.device)
        self.real_stats = metrics.fid_statistics(self.real["features"])
        self.best_file = self.ckpt_dir / "best.pt"
        self.grids: dict[int, object] = {}  # step -> sample grid, logged as an image of that step at the end

    def on_checkpoint(self, step: int, model) -> None:
        """FID (and KID, unbiased at this small N) of this checkpoint on `checkpoint_samples` samples; the best
        weights by FID so far go to best.pt."""
        from components.evaluation import metrics, plots, samples
        from components.images import to_float_images

        cfg = self.ctx.cfg
        n = samples.sample_cap(cfg.eval, model, cfg.study.checkpoint_samples)
        fake = samples.generate(model, n, cfg.eval.batch_size, self.spec.seed + 1, self.device)
        (fake_f,) = metrics.extract(self.clf.features, fake, cfg.eval.batch_size, self.device)
        value = metrics.fid(self.real_stats, metrics.fid_statistics(fake_f))
        kid = metrics.kid(fake_f, self.real["features"], cfg.eval.kid_subset_size, cfg.eval.kid_subsets)["kid"] \
            * metrics.KID_SCALE
        self.curve = [c for c in self.curve if c[0] < step] + [[step, value, kid]]
        self.grids[step] = plots.grid_image(to_float_images(fake[:cfg.eval.grid_size]))
        if value == RANKED_BY.best(c[1] for c in self.curve):  # by the metric's direction
            atomic_write(self.best_file, lambda tmp: torch.save(model.state_dict(), tmp))
        atomic_write_text(self.curve_file, json.dumps(self.curve))  # what a resumed trial reads back

    def finish(self, trained) -> TrialResult:
        from mlflow.entities import Metric

        from components.evaluation import samples, scoring
        from components.models import stored as stored_model
        from components.tracking import store as tstore

        ctx, spec, cfg, out = self.ctx, self.spec, self.ctx.cfg, self.out
        client, run_id = tstore.client(ctx.root), trained.run_id
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(f"checkpoint_{name}_classifier", c[i], now, int(c[0]))
                                          for c in self.curve for i, name in ((1, "fid"), (2, "kid_x1e3"))
                                          if len(c) > i])
        for step, grid_image in self.grids.items():  # one grid per scored checkpoint: the run view's image slider
            client.log_image(run_id, grid_image, key="samples", step=int(step))
        kept = {}
        if self.curve:
            best_step, best_fid = min(self.curve, key=lambda c: RANKED_BY.rank(c[1]))[:2]
            model = trained.model
            model.load_state_dict(torch.load(self.best_file, map_location=self.device, weights_only=True))
            inception = scoring.inception(ctx.reference(spec.dataset, [self.classifier], self.device), self.device)
            m, fake = samples.sample_metrics(model, cfg.eval.num_samples, self.space_, cfg.eval, spec.seed + 1,
                                             self.device, self.ds.train_x, ctx.state_dir("floors"),
                                             ctx.data_id(spec.dataset), inception=inception)
            stored_model.save(model, spec.family, spec.dataset, self.ds, out)
            (out / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
            grid = samples.save_samples(fake, cfg.eval, out)
            kept = {"best_step": best_step, "best_fid": best_fid, "metrics": m, "samples": str(grid),
                    "model_dir": str(out), "files": [str(out / "model.pt"), str(out / "model.json"), str(grid)]}
            tstore.log_metrics(client, run_id, m)
            client.log_metric(run_id, "best_checkpoint_fid_classifier", best_fid, step=int(best_step))
            tstore.log_samples(client, run_id, grid, None)  # where every family's grid is (images: above)
            client.log_artifact(run_id, str(out / "metrics.json"), "evaluation")
        return self._close(client, trained, **kept)


class PointsTrial(TrialKind):
    """A trial on 2-D points: mode counts at every checkpoint (coverage comes and goes as modes are dropped and
    found again), Metz et al.'s snapshot figure, and the final checkpoint measured in full. The final one, not
    the best: picking the best checkpoint by a mode count would flatter every game."""

    def on_checkpoint(self, step: int, model) -> None:
        from components.evaluation import modes, samples

        cfg = self.ctx.cfg
        pts = samples.generate(model, cfg.study.checkpoint_samples, cfg.eval.batch_size, self.spec.seed + 1,
                               self.device)
        c = modes.count(pts, self.ds.mixture, cfg.eval.mode_min_share)
        shown = modes.as_points(pts[:500]).round(4).tolist()  # the snapshot panel's points
        # [step, modes_covered, high_quality, reverse_kl, points]: what a resumed trial reads back
        self.curve = [row for row in self.curve if row[0] < step] + [[step, c.modes_covered, c.high_quality,
                                                                      c.reverse_kl, shown]]
        atomic_write_text(self.curve_file, json.dumps(self.curve))

    def finish(self, trained) -> TrialResult:
        from mlflow.entities import Metric
        from PIL import Image

        from components.evaluation import modes
        from components.models import stored as stored_model
        from components.tracking import store as tstore

        ctx, spec, cfg, out, mixture = self.ctx, self.spec, self.ctx.cfg, self.out, self.ds.mixture
        client, run_id = tstore.client(ctx.root), trained.run_id
        now = int(time.time() * 1000)
        client.log_batch(run_id, metrics=[Metric(f"checkpoint_{name}", float(row[i]), now, int(row[0]))
                                          for row in self.curve
                                          for i, name in ((1, "modes_covered"), (2, "high_quality"),
                                                          (3, "reverse_kl"))])
        kept = {"curve": [row[:4] for row in self.curve]}  # the snapshot points stay in curve.json
        if self.curve:
            title = f"{spec.name} on {spec.dataset}"
            figure = modes.save_snapshots([(int(row[0]), row[4]) for row in self.curve], mixture,
                                          out / "snapshots.png", title)
            m, fake = modes.sample_metrics(trained.model, cfg.eval.num_samples, mixture, cfg.eval, spec.seed + 1,
                                           self.device, self.ds.train_x, ctx.state_dir("floors"),
                                           ctx.data_id(spec.dataset))
            scatter = modes.save_scatter(fake, mixture, out / "samples.png", f"{title}: step {self.steps}")
            stored_model.save(trained.model, spec.family, spec.dataset, self.ds, out)
            (out / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
            kept.update(best_step=self.steps, metrics=m, samples=str(scatter), snapshots=str(figure),
                        model_dir=str(out), files=[str(out / "model.pt"), str(out / "model.json"), str(scatter),
                                                   str(figure)])
            tstore.log_metrics(client, run_id, m)
            for f in (figure, out / "metrics.json"):
                client.log_artifact(run_id, str(f), "evaluation")
            tstore.log_samples(client, run_id, scatter, self.steps)  # where every family's grid is
            with Image.open(figure) as picture:  # the run view's Images tab shows it beside the samples
                client.log_image(run_id, picture.convert("RGB"), key="snapshots", step=self.steps)
        return self._close(client, trained, **kept)
