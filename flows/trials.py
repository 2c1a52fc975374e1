"""A study's trials as Prefect tasks on the configured task runner (`study.task_runner`: threads | processes | dask
| ray), alone or trained together as a population, cached by the trial key so a rerun trains only what changed.
Both studies (flows/search_study.py, flows/mode_study.py) submit theirs through `run_trials`."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from prefect import task
from prefect.futures import PrefectFuture

from components import stop
from components.config import Config
from components.errors import GenzooError
from components.pipeline import cache
from components.pipeline.results import ClassifierReady
from components.study.populations import group
from components.study.runs import StudyRuns
from components.study.trial import TrialResult, TrialSpec, locate, population_id, run_population, run_trial, stored
from flows.pipeline import transient
from flows.task_runners import interruptible


@dataclass
class StudyData:
    """What every trial of a study needs beside its spec: per dataset, its classifier stage's result and its
    study runs; and the states of every task run so far (the command's summary)."""

    cfg: Config
    root: Path
    classifiers: dict[str, ClassifierReady]
    runs: dict[str, StudyRuns]
    states: dict[str, str]


def _trial_cache_key(context: object, parameters: dict[str, Any]) -> str:
    _, key, _ = locate(parameters["cfg"], Path(parameters["root"]), TrialSpec(**parameters["spec"]))
    return "trial-" + cache.prefect_key(key, Path(parameters["root"]))


@task(name="trial", cache_key_fn=_trial_cache_key, persist_result=True, result_serializer="json",
      retries=1, retry_delay_seconds=5, retry_condition_fn=transient)
def trial_task(cfg: Config, root: str, spec: dict, parent_run_id: str, classifier: ClassifierReady) -> dict:
    """One trial alone; its TrialResult as JSON (Prefect's cache holds it so)."""
    with interruptible():
        return run_trial(cfg, Path(root), TrialSpec(**spec), parent_run_id, classifier).model_dump(mode="json")


def _population_cache_key(context: object, parameters: dict[str, Any]) -> str:
    root = Path(parameters["root"])
    pid = population_id([locate(parameters["cfg"], root, TrialSpec(**s))[1] for s in parameters["specs"]])
    return "population-" + cache.prefect_key(pid, root)


@task(name="population", cache_key_fn=_population_cache_key, persist_result=True, result_serializer="json",
      retries=1, retry_delay_seconds=5, retry_condition_fn=transient)
def population_task(cfg: Config, root: str, specs: list[dict], parent_run_ids: list[str],
                    classifier: ClassifierReady) -> list[dict]:
    """Trials that train as one population (study.population > 1); each result as its trial_task's would be."""
    with interruptible():
        return [r.model_dump(mode="json") for r in
                run_population(cfg, Path(root), [TrialSpec(**s) for s in specs], parent_run_ids, classifier)]


def run_trials(study: StudyData, specs: list[TrialSpec],
               on_result: Callable[[TrialSpec, TrialResult], None] | None = None) -> list[TrialResult]:
    """Submit `specs` on the flow's task runner, alone or in populations (study.population), and wait for all;
    failures are raised together. Results come back in the order of `specs`; `on_result(spec, result)` hears of
    each as it is collected (the search tells Optuna then, so a killed study keeps what finished)."""
    cfg, root = study.cfg, study.root
    submitted = []
    for members in group(cfg, specs, cfg.study.population):
        s = members[0]
        refresh = any(stored(cfg, root, m) is None for m in members)
        classifier = study.classifiers[s.dataset]
        future: PrefectFuture[Any]
        if len(members) == 1:
            one = trial_task.with_options(task_run_name=f"{s.name}@{s.dataset}", refresh_cache=refresh)
            future = one.submit(cfg=cfg, root=str(root), spec=dataclasses.asdict(s),
                                parent_run_id=study.runs[s.dataset].families[s.family], classifier=classifier)
        else:
            together = population_task.with_options(task_run_name=f"{s.family}-x{len(members)}@{s.dataset}",
                                                    refresh_cache=refresh)
            future = together.submit(cfg=cfg, root=str(root), specs=[dataclasses.asdict(m) for m in members],
                                     parent_run_ids=[study.runs[m.dataset].families[m.family] for m in members],
                                     classifier=classifier)
        submitted.append((members, future))
    results: dict[int, TrialResult] = {}
    failed = []
    for members, f in submitted:
        while not f.state.is_final():
            f.wait(timeout=1.0)
            stop.check()  # a Ctrl-C swallowed on the way must not leave the study waiting on its trials for good
        for m in members:
            study.states[f"trial {m.name}@{m.dataset}"] = f.state.name or f.state.type.value
        try:
            value = f.result()
        except Exception as exc:  # noqa: BLE001 - reported together below; nothing is promoted
            failed.append(f"{', '.join(m.name for m in members)}@{members[0].dataset}: {type(exc).__name__}: {exc}")
            continue
        for m, raw in zip(members, value if len(members) > 1 else [value]):  # group() keeps the spec objects
            r = results[id(m)] = TrialResult.model_validate(raw)
            if on_result is not None:
                on_result(m, r)
    if failed:
        raise GenzooError("study trials failed (nothing promoted): " + "; ".join(failed))
    return [results[id(s)] for s in specs]
