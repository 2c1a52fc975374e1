"""One study trial: a family with one hyperparameter setting and one seed, trained for the study's budget and
scored at every checkpoint in the reference classifier's features; its best checkpoint is kept (Lucic et al.
report each run's best FID) and measured in full.

A trial is keyed like a pipeline stage (data hash, classifier, hp, seed, budget, code, tracking store) and
leaves a marker beside its outputs, so an unchanged trial never trains again, whichever worker asks. It logs
through an explicit MlflowClient as a child of its family run, which is safe from worker threads.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from components import defaults, stages
from components.config import deep_merge
from components.errors import TrainingDiverged

log = logging.getLogger(__name__)
CODE = ("stages.py", "models", "training", "evaluation", "study/trial.py")
MARKER = "trial.json"


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


def trial_config(cfg: dict, spec: TrialSpec) -> dict:
    """The pipeline config a trial runs under: the study's training budget and evaluation, its hp and seed."""
    scfg = cfg["study"]
    tcfg = copy.deepcopy(cfg)
    tcfg["dataset"], tcfg["seed"] = spec.dataset, spec.seed
    tcfg["train"] = deep_merge(cfg["train"], scfg.get("train", {}))
    tcfg["eval"] = deep_merge(cfg["eval"], scfg.get("eval", {}))
    tcfg["family"][spec.family] = deep_merge(cfg["family"].get(spec.family, {}), spec.hp)
    return tcfg


def budget(scfg: dict, dataset: str, n_train: int, batch_size: int) -> tuple[int, int]:
    """(steps, checkpoint_every) from the study's epochs (per dataset if given) and number of checkpoints."""
    epochs = scfg["epochs"]
    epochs = float(epochs.get(dataset, epochs["default"]) if isinstance(epochs, dict) else epochs)
    steps = max(1, round(epochs * n_train / batch_size))
    return steps, max(1, math.ceil(steps / int(scfg["checkpoints"])))


def trial_key(ctx: stages.Context, spec: TrialSpec) -> str:
    from components.tracking.store import tracking_uri

    cfg = ctx.cfg
    parts = {
        "trial": [spec.dataset, spec.family, spec.index, spec.seed],
        "hp": cfg["family"][spec.family],
        "train": {k: v for k, v in cfg["train"].items() if k != "progress"},
        "budget": {k: cfg["study"][k] for k in ("epochs", "checkpoints", "checkpoint_samples")},
        "eval": cfg["eval"],
        "classifier": ctx.key("classifier", spec.dataset),
        "data": ctx.dataset_hash(spec.dataset),
        "code": stages.code_hash(stages.family_code(CODE, spec.family)),
        "store": tracking_uri(ctx.root),
    }
    return stages.digest(parts)


def trial_dir(ctx: stages.Context, spec: TrialSpec, key: str) -> Path:
    return ctx.root / defaults.OUTPUTS_DIR / spec.dataset / "study" / spec.family / f"{spec.name}-{key[:8]}"


def cached(cfg: dict, root: Path, spec: TrialSpec) -> dict | None:
    ctx = stages.Context(trial_config(cfg, spec), root)
    key = trial_key(ctx, spec)
    return stages.read_marker(trial_dir(ctx, spec, key) / MARKER, key, root)


def run_trial(cfg: dict, root: Path, spec: TrialSpec, parent_run_id: str) -> dict:
    """Train, score every checkpoint, keep and measure the best; returns the trial's result (also on disk)."""
    ctx = stages.Context(trial_config(cfg, spec), root)
    key = trial_key(ctx, spec)
    out = trial_dir(ctx, spec, key)
    saved = stages.read_marker(out / MARKER, key, root)
    if saved is not None:
        return saved
    out.mkdir(parents=True, exist_ok=True)
    if torch.get_num_threads() > int(cfg["study"].get("threads_per_trial") or 0) > 0:
        torch.set_num_threads(int(cfg["study"]["threads_per_trial"]))
    started = time.perf_counter()
    result = _train_and_score(ctx, spec, key, out, parent_run_id)
    result["wall_s"] = round(time.perf_counter() - started, 1)
    stages.write_marker(out / MARKER, key, result)
    return result


def _train_and_score(ctx: stages.Context, spec: TrialSpec, key: str, out: Path, parent_run_id: str) -> dict:
    from mlflow.entities import Metric, Param
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME

    from components.evaluation import metrics
    from components.models.registry import get_family
    from components.tracking import store as tstore
    from components.training.loop import LoopConfig, fit, pick_device

    cfg = ctx.cfg
    fam = get_family(spec.family)
    ds = stages._tensors(ctx, spec.dataset)
    hp = cfg["family"][spec.family]
    steps, every = budget(cfg["study"], spec.dataset, len(ds["train_x"]), int(cfg["train"]["batch_size"]))
    loop_cfg = LoopConfig.from_cfg({**cfg["train"], "steps": steps, "checkpoint_every": every}, spec.seed)
    device = pick_device(cfg["train"]["device"])
    clf, real, clf_result = stages.classifier_space(ctx, spec.dataset, device)
    real_stats = metrics.fid_statistics(real["features"])
    bs = int(cfg["eval"]["batch_size"])

    client = tstore.client(ctx.root)
    tags = {**stages._tags(ctx, spec.dataset, spec.family, "study-trial"), MLFLOW_PARENT_RUN_ID: parent_run_id,
            MLFLOW_RUN_NAME: spec.name, "genzoo.trial_key": key,
            defaults.TAG_FEATURE_SPACE: clf_result["feature_space"],
            "genzoo.worker": f"{socket.gethostname()}:{os.getpid()}"}  # which machine/process of a cluster ran it
    ckpt_dir = ctx.root / defaults.STATE_DIR / "checkpoints" / spec.dataset / "study" / key[:16]
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    run_file = ckpt_dir / "run.json"  # a resumed trial keeps its MLflow run
    run_id = json.loads(run_file.read_text())["run_id"] if run_file.exists() else None
    if run_id is None or not stages._run_exists(ctx.root, run_id):
        exp = tstore.experiment_id(client, ctx.root, spec.dataset)
        run_id = client.create_run(exp, tags=tags, run_name=spec.name).info.run_id
        run_file.write_text(json.dumps({"run_id": run_id}))
        params = {"family": spec.family, "dataset": spec.dataset, "seed": spec.seed, "trial.index": spec.index,
                  "train.steps": steps, "train.checkpoint_every": every,
                  **{f"hp.{k}": v for k, v in hp.items()}}
        client.log_batch(run_id, params=[Param(k, str(v)) for k, v in params.items()])
    else:
        client.update_run(run_id, status="RUNNING")

    curve_file, best_file = ckpt_dir / "curve.json", ckpt_dir / "best.pt"
    curve: list[list[float]] = json.loads(curve_file.read_text()) if curve_file.exists() else []

    def score(step: int, model) -> None:
        """FID of this checkpoint on `checkpoint_samples` samples; the best weights so far go to best.pt."""
        nonlocal curve
        n = int(cfg["study"]["checkpoint_samples"])
        n = stages.sample_cap(cfg["eval"], fam.kind, n)
        fake = stages.generate(model, n, bs, spec.seed + 1, device)
        (fake_f,) = metrics.extract(clf.features, fake, bs, device)
        value = metrics.fid(real_stats, metrics.fid_statistics(fake_f))
        curve = [c for c in curve if c[0] < step] + [[step, value]]
        if value == min(c[1] for c in curve):
            torch.save(model.state_dict(), best_file.with_suffix(".tmp"))
            best_file.with_suffix(".tmp").replace(best_file)
        curve_file.write_text(json.dumps(curve))
        client.log_metric(run_id, "checkpoint_fid_classifier", value, step=step)

    def on_log(step, means):
        client.log_batch(run_id, metrics=[Metric(f"train/{k}", v, int(time.time() * 1000), step)
                                          for k, v in means.items()])

    torch.manual_seed(spec.seed)
    image_shape = (ds["train_x"].shape[-1], *ds["train_x"].shape[1:3])
    model = fam.build(image_shape, len(ds["classes"]), hp)
    status, error = "completed", None
    try:
        fit(model, ds["train_x"], ds["train_y"], loop_cfg, ckpt_dir, on_log=on_log, on_checkpoint=score)
    except TrainingDiverged as exc:  # a real outcome of a search, not a crash: kept, counted, never the best
        status, error = "diverged", str(exc)
        log.warning("trial %s diverged: %s", spec.name, exc)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    result = {"spec": asdict(spec), "key": key, "run_id": run_id, "status": status, "error": error,
              "steps": steps, "curve": curve, "best_step": None, "best_fid": None, "metrics": {},
              "feature_space": clf_result["feature_space"], "files": []}
    if curve:
        best_step, best_fid = min(curve, key=lambda c: c[1])
        model.load_state_dict(torch.load(best_file, map_location=device, weights_only=True))
        m, fake, _ = stages.sample_metrics(ctx, spec.dataset, model, int(cfg["eval"]["num_samples"]), device)
        stages.save_model(model, spec.family, spec.dataset, ds, out)
        (out / "metrics.json").write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
        grid = stages.save_samples(fake, cfg["eval"], out)
        result.update(best_step=best_step, best_fid=best_fid, metrics=m, samples=str(grid),
                      model_dir=str(out), files=[str(out / "model.pt"), str(out / "model.json"), str(grid)])
        client.log_batch(run_id, metrics=[Metric(k, float(v), int(time.time() * 1000), 0) for k, v in m.items()]
                         + [Metric("best_checkpoint_fid_classifier", best_fid, int(time.time() * 1000), best_step)])
        client.log_artifact(run_id, str(grid), "evaluation")
        client.log_artifact(run_id, str(out / "metrics.json"), "evaluation")
    client.set_tag(run_id, "genzoo.trial_status", status)
    client.set_terminated(run_id, "FINISHED" if status == "completed" else "FAILED")
    return result
