"""The pipeline as a Prefect flow: prepare -> validate -> classifier -> (train -> evaluate -> register) per family.

Every task calls the stage function in components/stages.py that dvc.yaml calls too. Its Prefect cache key
is the stage key (data hash, params, code, upstream keys); a key whose outputs are gone or stale never hits.
With no PREFECT_API_URL, Prefect runs this against a temporary local API.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task

from components import defaults, stages
from components.config import load_config
from components.errors import GenzooError
from components.models.registry import get_family
from components.versioning import record_pipeline


def _stage_cache_key(context, parameters) -> str:
    ctx = stages.Context(parameters["cfg"], Path(parameters["root"]))
    return f"{context.task.name}-{ctx.key(context.task.name, parameters['dataset'], parameters.get('family'))}"


def transient(task, task_run, state) -> bool:
    """Retry only what may pass on a second try: never bad data, failed validation or diverged training."""
    try:
        state.result()
    except GenzooError:
        return False
    except Exception:  # noqa: BLE001 - anything else (I/O, a busy tracking server) is worth one more try
        return True
    return False


def _stage_task(name: str):
    def run(cfg: dict, root: str, dataset: str, family: str | None = None) -> dict:
        return stages.run_stage(stages.Context(cfg, Path(root)), name, dataset, family)

    run.__name__ = name
    return task(name=name, cache_key_fn=_stage_cache_key, persist_result=True, result_serializer="json",
                retries=1, retry_delay_seconds=5, retry_condition_fn=transient)(run)


TASKS = {name: _stage_task(name) for name in stages.STAGES}


def run_stage_task(name: str, cfg: dict, root: Path, dataset: str, states: dict, label: str,
                   family: str | None = None) -> dict:
    """Run a stage task and record its state ("Cached" or "Completed") under `label`; when the stage's
    outputs are missing or stale, refresh the cache entry instead of hitting it."""
    fn = TASKS[name]
    if stages.Context(cfg, root).done(name, dataset, family) is None:
        fn = fn.with_options(refresh_cache=True)
    args = {"cfg": cfg, "root": str(root), "dataset": dataset, "return_state": True}
    state = fn(**args, family=family) if family else fn(**args)
    states[label] = state.name
    return state.result()  # raises the stage's own error when it failed


@flow(name="genzoo-pipeline")
def pipeline(dataset: str | None = None, families: list[str] | None = None, profile: str | None = None,
             overrides: list[str] | None = None, root: str | None = None) -> dict:
    root_path = Path(root) if root else defaults.project_root()
    over = list(overrides or [])
    if dataset:
        over.append(f"dataset={dataset}")
    cfg = load_config(root_path, profile, over)
    if families:
        cfg["families"] = list(families)
    logger = get_run_logger()
    # translation families train on a pair of datasets (cfg["pair"], or --dataset when it names a pair)
    is_pair = stages.Context(cfg, root_path).members(cfg["dataset"]) is not None
    pair = cfg["dataset"] if is_pair else cfg["pair"]
    translation = [f for f in cfg["families"] if get_family(f).kind == "translation"]
    generators = [f for f in cfg["families"] if f not in translation]
    if generators and is_pair:
        raise GenzooError(f"dataset {cfg['dataset']!r} is a domain pair: only translation families train on it, "
                          f"not {generators}")
    ds = cfg["dataset"] if generators else pair
    states: dict[str, str] = {}

    def t(name: str, dataset: str, family: str | None = None, label: str | None = None) -> dict:
        label = label or (f"{name}@{family}" if family else name)
        return run_stage_task(name, cfg, root_path, dataset, states, label, family)

    def data_stages(dataset: str, suffix: str = "") -> dict:
        out = {}
        for name in ("prepare", "validate", "classifier"):  # a failed gate raises here: nothing below runs
            out[name] = t(name, dataset, label=name + suffix)
        return out

    summary = {"dataset": ds, "profile": cfg["profile"], "root": str(root_path), "families": {}, "states": states}
    if generators:
        summary.update(data_stages(ds))
    if translation:
        a, b = stages.Context(cfg, root_path).members(pair)
        summary["pair"] = {"name": pair, "members": {m: data_stages(m, f"[{m}]") for m in (a, b)}}
    failures = {}
    for family in cfg["families"]:
        where = pair if family in translation else ds
        try:
            trained = t("train", where, family)
            evaluated = t("evaluate", where, family)
            registered = t("register", where, family)
            summary["families"][family] = {"train": trained, "evaluate": evaluated, "register": registered}
        except Exception as exc:  # noqa: BLE001 - one family failing must not stop the others
            logger.error("family %s failed: %s", family, exc)
            failures[family] = f"{type(exc).__name__}: {exc}"
    if not failures and not translation and cfg == load_config(root_path):
        # the run used params.yaml as it is: record its outputs in dvc.lock, as `dvc repro` would have
        summary["dvc_lock"] = record_pipeline(root_path, cfg["families"])
    if failures:
        raise GenzooError("; ".join(f"{f}: {msg}" for f, msg in failures.items()) + " (nothing registered for these)")
    return summary
