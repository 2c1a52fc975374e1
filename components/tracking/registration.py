"""Register a trained model: log it as an MLflow pyfunc into its run, register it as <target>-<family> and apply
the champion rule. Shared by the pipeline's register stage and the study's winners."""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from components import defaults
from components.errors import DataError
from components.files import locked, project_lock

if TYPE_CHECKING:
    import torch
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion

    from components.config.schema import Registry
    from components.evaluation.protocol import Noise
    from components.evaluation.scoring import Reference
    from components.models.base import GenerativeModel

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parents[1]  # components/: shipped with the model as its code


@dataclass(frozen=True)
class Registration:
    """A registered version and the champion rule's decision on it."""

    name: str
    version: str
    alias: str  # champion | challenger
    reason: str  # which numbers were compared
    protocol: str | None  # the evaluation protocol's digest its metric was measured under
    run_id: str
    model_uri: str
    metric: str = ""  # registry.metric, the number the decision compared
    noise: float | None = None  # an untrained model's value of it under the same protocol (registry.beat_noise)


def register_model(root: Path, target: str, family: str, model_dir: Path, metrics: dict, protocol_tags: dict,
                   run_id: str, registry: Registry, tags: dict[str, str],
                   rescore: Callable[[ModelVersion], float] | None = None,
                   noise: Callable[[], Noise] | None = None) -> Registration:
    """`registry`: the run's registry settings (its metric's direction is the metric's spec's); `protocol_tags`: how
    `metrics` were measured (Protocol.tags()); `tags` go onto the new version; `rescore(champion_version) -> value`
    measures the champion under this protocol when its own differs (promotion.promote); `noise() -> Noise`: the
    untrained level under this protocol (scoring.noise_level), asked only when registry.check_noise is on and a
    decision is due.

    A small transaction, safe to rerun after a crash: one version per training run. A run whose version already
    carries a decision gets that version back; a version created but never decided (killed in between) is
    finished, not registered again. The decision tag is written last."""
    import mlflow

    from components.evaluation.protocol import TAG as TAG_PROTOCOL
    from components.tracking import promotion
    from components.tracking import store as tstore

    _check_pinned(tags.get(defaults.TAG_DATA_VERSION, ""), registry.allow_unpinned)
    tstore.setup(root, target)
    metric = registry.metric
    if metric is None:
        raise ValueError("register_model needs the run's champion rule, with its metric resolved for the dataset "
                         "(Config.champion_rule()), not the registry settings as written")
    if metric not in metrics:
        raise DataError(f"registry.metric={metric!r} was not measured; have {sorted(metrics)}")
    name = f"{target}-{family}"
    # one decision at a time per model name: two runs never both read the same champion and both replace it
    with locked(project_lock(root, f"registry-{name}")), \
            mlflow.start_run(run_id=run_id) as run:
        client = mlflow.MlflowClient()
        mlflow.set_tag(tstore.TAG_WORKER, tstore.worker_id())  # RUNNING again, owned by this process
        existing = version_of_run(client, name, run_id)
        if existing is not None and defaults.TAG_DECISION in existing.tags:
            log.info("%s v%s: run %s is registered already (%s)", name, existing.version, run_id,
                     existing.tags[defaults.TAG_DECISION])
            noted = existing.tags.get(defaults.TAG_NOISE)
            return _result(name, str(existing.version), existing.tags[defaults.TAG_DECISION],
                           existing.tags.get(defaults.TAG_REASON, ""), existing.tags.get(TAG_PROTOCOL), run_id,
                           metric, float(noted.rsplit(": ", 1)[1]) if noted else None)
        if existing is None:
            _drop_unregistered(client, run_id)
        version = str(existing.version) if existing is not None else _log_model(name, model_dir)
        for k, v in {**tags, **protocol_tags}.items():
            client.set_model_version_tag(name, version, k, v)
        margin = registry.beat_noise if noise is not None and registry.check_noise else None
        level = noise() if noise is not None and margin is not None else None
        decision = promotion.promote(client, name, version, metric, float(metrics[metric]),
                                     protocol_tags[TAG_PROTOCOL], rescore, level, margin, tstore.dvc_experiment())
        mlflow.set_tags({defaults.TAG_DECISION: decision.alias, defaults.TAG_REASON: decision.reason,
                         "genzoo.registered_version": version})
        log.info("%s v%s -> %s: %s", name, version, decision.alias, decision.reason)
    return _result(name, version, decision.alias, decision.reason, protocol_tags[TAG_PROTOCOL], run.info.run_id,
                   metric, level.value if level is not None else None)


def register_scored(root: Path, target: str, family: str, model_dir: Path, metrics: dict, protocol_tags: dict,
                    run_id: str, registry: Registry, tags: dict[str, str], reference: Reference,
                    device: torch.device) -> Registration:
    """register_model with the champion rule's two measurements taken under `reference`'s protocol (an
    evaluation.scoring.Reference): the champion re-scored when it was measured otherwise, and an untrained model of
    this family and hyperparameters. What the register stage and the study's winners both do."""
    from components.evaluation import scoring
    from components.models import stored

    def rescore(version: ModelVersion) -> float:
        with registered_model(version, device) as model:
            return scoring.rescore(model, reference, device)

    def noise() -> scoring.Noise:
        return scoring.noise_level(family, stored.load(model_dir, str(device)).hp, reference, device)

    return register_model(root, target, family, model_dir, metrics, protocol_tags, run_id, registry, tags,
                          rescore=rescore, noise=noise)


def _check_pinned(data_version: str, allowed: bool) -> None:
    """A registered version names the data it was trained on; data that contradicts data.dvc's pin is refused
    unless the user says so (the version then carries `modified:<md5>`, never the pin)."""
    if data_version.startswith("modified:") and not allowed:
        raise DataError(f"the training data ({data_version}) is not the version data.dvc pins: nothing is "
                        "registered. `dvc checkout data.dvc` restores the pinned data, `dvc add data` pins this one, "
                        "or --allow-unpinned registers it anyway (tagged genzoo.data_version=modified:<md5>)")
    if data_version.startswith("unpinned:"):
        log.warning("registering a model trained on data data.dvc does not pin (%s); `dvc add data` pins it",
                    data_version)


def version_of_run(client: MlflowClient, name: str, run_id: str) -> ModelVersion | None:
    """The (first) version of `name` registered from `run_id`, or None."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    except MlflowException:  # no such registered model yet
        return None
    return min(found, key=lambda v: int(v.version)) if found else None


def _drop_unregistered(client: MlflowClient, run_id: str) -> None:
    """Models this run logged that no version uses: what a kill inside log_model leaves. Registration logs the
    model afresh, so they would only sit in the UI as a second, versionless copy."""
    exp = client.get_run(run_id).info.experiment_id
    for model in client.search_logged_models([exp], filter_string=f"source_run_id = '{run_id}'"):
        log.info("removing logged model %s of run %s: an interrupted registration left it without a version",
                 model.model_id, run_id)
        client.delete_logged_model(model.model_id)


def _log_model(name: str, model_dir: Path) -> str:
    """Log the pyfunc (code + weights, never a pickle) into the active run and register it; the new version."""
    import mlflow

    from components.models import stored
    from components.tracking import pyfunc

    sig, example = pyfunc.signature_and_example(stored.card(model_dir))
    info = mlflow.pyfunc.log_model(
        name="generator",
        python_model=str(PACKAGE / "tracking" / "pyfunc_model.py"),
        artifacts={"weights": str(model_dir / "model.pt"), "spec": str(model_dir / "model.json")},
        code_paths=[str(PACKAGE)],
        signature=sig,
        input_example=example,
        pip_requirements=pyfunc.pip_requirements(),
        registered_model_name=name,
    )
    return str(info.registered_model_version)


def _result(name: str, version: str, alias: str, reason: str, protocol: str | None, run_id: str, metric: str,
            noise: float | None) -> Registration:
    return Registration(name, version, alias, reason, protocol, run_id, f"models:/{name}/{version}", metric, noise)


@contextlib.contextmanager
def registered_model(version: ModelVersion, device: torch.device | str) -> Iterator[GenerativeModel]:
    """A registered version's model, rebuilt from its logged weights and spec (never unpickled), on `device`."""
    import mlflow

    from components.models import stored

    with tempfile.TemporaryDirectory() as tmp:
        where = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{version.name}/{version.version}",
                                                    dst_path=tmp)
        (spec_file,) = Path(where).rglob("model.json")
        yield stored.card(spec_file).build(spec_file.with_name("model.pt"), str(device))
