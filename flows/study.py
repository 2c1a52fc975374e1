"""Lucic et al.'s protocol as a Prefect flow: for each dataset and family, B random hyperparameter settings
(search), then the best setting again with S seeds; the table, plots and the winner's promotion at the end.

Trials are Prefect tasks submitted to the configured task runner (`study.task_runner`: threads | processes |
dask | ray), cached by the trial key, so a rerun trains only what changed. In MLflow, each dataset's experiment
holds a study run, a child run per family and a grandchild per trial.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from prefect import flow, get_run_logger, task

from components import defaults, stop
from components.config import Config
from components.errors import GenzooError
from components.files import atomic_write_text
from components.pipeline import cache, graph, keys
from components.pipeline.context import Context, feature_space
from components.pipeline.results import ClassifierReady
from components.pipeline.stage import Node
from components.study import modes_report, references, report, search
from components.study.config import study_config
from components.study.populations import group
from components.study.trial import (RANKED_BY, TrialResult, TrialSpec, locate, population_id, run_population,
                                     run_trial, stored)
from components.tracking import store as tstore
from components.hardware import pick_device
from flows.pipeline import run_nodes, transient
from flows.task_runners import interruptible, task_runner


def _trial_cache_key(context, parameters) -> str:
    _, key, _ = locate(parameters["cfg"], Path(parameters["root"]), TrialSpec(**parameters["spec"]))
    return "trial-" + cache.prefect_key(key, Path(parameters["root"]))


@task(name="trial", cache_key_fn=_trial_cache_key, persist_result=True, result_serializer="json",
      retries=1, retry_delay_seconds=5, retry_condition_fn=transient)
def trial_task(cfg: Config, root: str, spec: dict, parent_run_id: str, classifier: ClassifierReady) -> dict:
    """One trial alone; its TrialResult as JSON (Prefect's cache holds it so)."""
    with interruptible():
        return run_trial(cfg, Path(root), TrialSpec(**spec), parent_run_id, classifier).model_dump(mode="json")


def _population_cache_key(context, parameters) -> str:
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


def _parent_runs(ctx: Context, ds: str, name: str, families: list[str]) -> dict:
    """The study run and per-family runs of (study name, dataset version): reused across invocations, so new
    trials join the same tree in the MLflow UI."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    root = ctx.root
    client = tstore.client(root)
    path = root / defaults.OUTPUTS_DIR / ds / "study" / f"runs-{name}.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    if runs.get("dataset_hash") != ctx.dataset_hash(ds) or not tstore.run_exists(root, runs.get("study", "")):
        runs = {"dataset_hash": ctx.dataset_hash(ds), "families": {}}
    exp = tstore.experiment_id(client, root, ds)
    base = ctx.runs.tags(ds, None, "study") | {"genzoo.study": name}
    if "study" not in runs:
        runs["study"] = client.create_run(exp, run_name=f"study-{name}", tags=base).info.run_id
    client.update_run(runs["study"], status="RUNNING")
    client.set_tag(runs["study"], tstore.TAG_WORKER, tstore.worker_id())
    for fam in families:
        if not tstore.run_exists(root, runs["families"].get(fam, "")):
            tags = ctx.runs.tags(ds, fam, "study") | {"genzoo.study": name, MLFLOW_PARENT_RUN_ID: runs["study"]}
            runs["families"][fam] = client.create_run(exp, run_name=f"{name}-{fam}", tags=tags).info.run_id
    atomic_write_text(path, json.dumps(runs, indent=2))  # read back by every later invocation
    return runs


@flow(name="genzoo-study")
def study(config: dict, root: str, command: str) -> dict:
    """`config`: the study's configuration as the command loaded and checked it (Config.model_dump())."""
    root_path = Path(root)
    cfg = Config.model_validate(config)
    datasets, families = cfg.study.datasets, cfg.study.families
    name = cfg.study.name or cfg.profile
    logger = get_run_logger()
    for run_id in tstore.fail_orphans(root_path):
        logger.warning("MLflow run %s was left RUNNING by a process that is gone: marked FAILED", run_id)
    states: dict[str, str] = {}

    # the data gates and reference classifiers: the pipeline's own (cached) stage tasks, one walk per dataset
    classifiers, parents, refs, mixtures = {}, {}, {}, {}
    for ds in datasets:
        ctx = Context(cfg.merged({"dataset": ds}), root_path)
        done = run_nodes(ctx, [Node(s, ds) for s in graph.DATA_STAGES], states)
        classifiers[ds] = done[graph.node("classifier", ds)]
        parents[ds] = _parent_runs(ctx, ds, name, families)
        if ctx.tensors(ds).mixture is not None:
            mixtures[ds] = ctx.tensors(ds).mixture
            refs[ds] = references.measure_modes(ctx.cfg, ctx.tensors(ds), classifiers[ds].floor, families[0],
                                                pick_device(cfg.train.device))
            logger.info("study %s on %s: the real points cover %.1f modes, %.1f%% high quality; untrained %s: %d "
                        "modes, %.1f%%", name, ds, refs[ds]["floor_modes_covered"],
                        100 * refs[ds]["floor_high_quality"], families[0], refs[ds]["untrained"]["modes_covered"],
                        100 * refs[ds]["untrained"]["high_quality"])
            continue
        refs[ds] = references.measure(ctx.cfg, ctx.tensors(ds), feature_space(classifiers[ds]), families[0],
                                      ctx.state_dir("floors"), ctx.data_id(ds),
                                      pick_device(cfg.train.device))
        logger.info("study %s on %s: floor FID %.2f, untrained %s FID %.2f (N=%d)", name, ds, refs[ds]["floor"],
                    families[0], refs[ds]["untrained"], refs[ds]["num_samples"])

    try:
        summary: dict = {"states": states}
        if mixtures:  # datasets of 2-D points: the mode-collapse study
            summary["modes"] = _modes_and_report(cfg, root_path, name, parents, classifiers, mixtures, refs, states,
                                                 command, logger)
        images = [ds for ds in datasets if ds not in mixtures]
        if images:  # Lucic et al.'s search
            summary.update(_search_and_report(cfg.merged({"study": {"datasets": images}}), root_path, name,
                                              {ds: parents[ds] for ds in images}, classifiers, refs, states, command,
                                              logger))
        return summary
    except BaseException:
        client = tstore.client(root_path)
        for runs in parents.values():  # an interrupted study never looks finished in the UI
            for run_id in [runs["study"], *runs["families"].values()]:
                try:
                    client.set_terminated(run_id, "FAILED")
                except Exception as exc:  # noqa: BLE001 - e.g. SQLite locked by a trial still writing: the run
                    # stays RUNNING until the next start marks it FAILED (tracking/store.fail_orphans); the
                    # interrupt, not this, is what the command reports
                    logger.warning("MLflow run %s left RUNNING on stop: %s", run_id, str(exc).splitlines()[0])
        raise


def run_trials(cfg: Config, root_path: Path, parents, classifiers, states, specs: list[TrialSpec],
               on_result=None) -> list[TrialResult]:
    """Submit `specs` on the flow's task runner, alone or in populations (study.population), and wait for all;
    failures are raised together. Results come back in the order of `specs`; `on_result(spec, result)` hears of
    each as it is collected (the search tells Optuna then, so a killed study keeps what finished)."""
    submitted = []
    for members in group(cfg, specs, cfg.study.population):
        s = members[0]
        refresh = any(stored(cfg, root_path, m) is None for m in members)
        common = {"cfg": cfg, "root": str(root_path), "classifier": classifiers[s.dataset]}
        if len(members) == 1:
            fn = trial_task.with_options(task_run_name=f"{s.name}@{s.dataset}", refresh_cache=refresh)
            future = fn.submit(spec=s.__dict__, parent_run_id=parents[s.dataset]["families"][s.family], **common)
        else:
            fn = population_task.with_options(task_run_name=f"{s.family}-x{len(members)}@{s.dataset}",
                                              refresh_cache=refresh)
            future = fn.submit(specs=[m.__dict__ for m in members],
                               parent_run_ids=[parents[m.dataset]["families"][m.family] for m in members], **common)
        submitted.append((members, future))
    results, failed = {}, []
    for members, f in submitted:
        while not f.state.is_final():
            f.wait(timeout=1.0)
            stop.check()  # a Ctrl-C swallowed on the way must not leave the study waiting on its trials for good
        for m in members:
            states[f"trial {m.name}@{m.dataset}"] = f.state.name
        try:
            value = f.result()
        except Exception as exc:  # noqa: BLE001 - reported together below; nothing is promoted
            failed.append(f"{', '.join(m.name for m in members)}@{members[0].dataset}: {type(exc).__name__}: {exc}")
            continue
        for m, r in zip(members, value if len(members) > 1 else [value]):  # group() keeps the spec objects
            r = results[id(m)] = TrialResult.model_validate(r)
            if on_result is not None:
                on_result(m, r)
    if failed:
        raise GenzooError("study trials failed (nothing promoted): " + "; ".join(failed))
    return [results[id(s)] for s in specs]


def _modes_and_report(cfg: Config, root_path: Path, name: str, parents, classifiers, mixtures: dict, refs, states,
                      command: str, logger) -> dict:
    """The mode-collapse study on 2-D mixtures: every game plain and each study.modes variant on its families,
    with several seeds; the report compares them at the final step. Nothing is promoted from it."""
    mcfg = cfg.study.modes
    families, datasets = cfg.study.families, list(mixtures)
    variants = {"plain": {}, **mcfg.variants}
    specs, skipped = [], []
    for ds in datasets:
        for fam in families:
            for index, (vname, over) in enumerate(variants.items()):
                if vname != "plain" and (fam not in mcfg.variant_families or
                                         ds not in (mcfg.variant_datasets or datasets)):
                    continue
                reason = modes_variant_refused(cfg, ds, fam, over)
                if reason:
                    skipped.append(f"{fam} {vname}: {reason}")
                    continue
                specs += [TrialSpec(ds, fam, index, cfg.seed + s, dict(over), vname) for s in range(mcfg.seeds)]
    for line in sorted(set(skipped)):
        logger.info("mode study: n/a %s", line)
    trials = run_trials(cfg, root_path, parents, classifiers, states, specs)
    meta = {"name": name, "command": command, "seeds": mcfg.seeds, "steps": mcfg.steps, "batch_size": mcfg.batch_size,
            "num_samples": cfg.merged({"eval": cfg.study.eval}).eval.num_samples,
            "mode_min_share": cfg.eval.mode_min_share, "variants": variants, "skipped": sorted(set(skipped))}
    out = root_path / defaults.REPORTS_DIR / name
    summary = modes_report.write(out, trials, refs, mixtures, meta)
    client = tstore.client(root_path)
    for ds in datasets:
        for f in summary["files"]:
            client.log_artifact(parents[ds]["study"], f, "report")
        for run_id in [*parents[ds]["families"].values(), parents[ds]["study"]]:
            client.set_terminated(run_id, "FINISHED")
    summary["trials"] = trials
    logger.info("mode study %s: %d trials; report %s", name, len(trials), summary["files"][0])
    return summary


def modes_variant_refused(cfg: Config, ds: str, family: str, overrides: dict) -> str | None:
    """Why `family` cannot take a variant's overrides (unrolling a clipped critic, minibatch features on BEGAN's
    autoencoder), or None: asked of the model itself by building it."""
    from components.errors import ConfigError
    from components.models.registry import get_family

    trial = cfg.merged({"dataset": ds, "family": {family: {**cfg.family.get(family, {}), **overrides}}})
    try:
        get_family(family).build((2, 1, 1), 1, trial.hp(family))
    except ConfigError as exc:
        return str(exc).split(";")[0]
    return None


def _search_and_report(cfg: Config, root_path: Path, name: str, parents, classifiers, refs, states, command: str,
                       logger) -> dict:
    """Search, reruns with seeds, report, promotion: the study once its data and parent runs exist."""
    scfg = cfg.study
    datasets, families = scfg.datasets, scfg.families
    budget, n_seeds, seed0 = scfg.budget, scfg.seeds, cfg.seed

    def run(specs: list[TrialSpec], on_result=None) -> list[TrialResult]:
        return run_trials(cfg, root_path, parents, classifiers, states, specs, on_result)

    storage = search.storage_url(root_path, scfg.storage)
    searches = {(ds, fam): search.Search(storage, name, ds, fam, seed0, scfg.sampler, scfg.space, cfg.hp(fam),
                                         "minimize" if RANKED_BY.direction == "lower" else "maximize")
                for ds in datasets for fam in families}
    searched: list[TrialResult] = []
    while True:  # rounds: all B at once for random draws, a population's worth at a time for TPE
        specs = [TrialSpec(ds, fam, index, seed0, hp) for (ds, fam), s in searches.items()
                 for index, hp in s.next(budget, s.batch_size(budget, scfg.population, scfg.workers))]
        if not specs:
            break
        searched += [t.model_copy(update={"search": True}) for t in
                     run(specs, lambda spec, t: searches[(spec.dataset, spec.family)].tell(spec.index, t.best_fid,
                                                                                            t.run_id))]
    searched.sort(key=lambda t: (datasets.index(t.spec.dataset), families.index(t.spec.family), t.spec.index))

    def setting(fam: str, index: int, ds: str) -> dict:
        return next(t.spec.hp for t in searched
                    if (t.spec.family, t.spec.index, t.spec.dataset) == (fam, index, ds))

    best_index = {}
    for ds in datasets:
        for fam in families:
            own = [t for t in searched if (t.spec.dataset, t.spec.family) == (ds, fam)]
            best_index[(ds, fam)] = min(own, key=lambda t: RANKED_BY.rank(t.best_fid)).spec.index
    reruns = [TrialSpec(ds, fam, idx, seed0 + s, setting(fam, idx, ds))
              for (ds, fam), idx in best_index.items() for s in range(1, n_seeds)]
    trials = searched + run(reruns)
    logger.info("study %s: %d trials, %d trained now", name, len(trials),
                sum(v == "Completed" for k, v in states.items() if k.startswith("trial")))

    meta = {"name": name, "profile": cfg.profile, "budget": budget, "seeds": n_seeds,
            "checkpoints": scfg.checkpoints, "checkpoint_samples": scfg.checkpoint_samples, "epochs": scfg.epochs,
            "command": command, "datasets": datasets, "families": families}
    out = root_path / defaults.REPORTS_DIR / name
    summary = report.write(out, trials, best_index, datasets, families, meta, refs)
    summary["states"] = states
    summary["trials"] = trials
    summary["registered"] = _publish(cfg, root_path, name, parents, classifiers, trials, best_index, summary, out)
    return summary


def _publish(cfg: Config, root: Path, name: str, parents: dict, classifiers: dict, trials: list[TrialResult],
             best_index: dict, summary: dict, out: Path) -> dict:
    """Log the report to each dataset's study run and register each dataset's winner (once per winner)."""
    client = tstore.client(root)
    registered = {}
    for ds, runs in parents.items():
        for f in summary["files"]:
            client.log_artifact(runs["study"], f, "report")
        for fam, r in summary["rows"].get(ds, {}).items():
            if r["mean"] is not None:
                client.log_metric(runs["families"][fam], "study_fid_classifier_mean", r["mean"])
                client.log_metric(runs["families"][fam], "study_fid_classifier_seed_std", r["std"])
                client.log_metric(runs["families"][fam], "study_fid_classifier_best", r["best"])
            client.set_terminated(runs["families"][fam], "FINISHED")
        winner = summary["winners"].get(ds)
        if winner:
            client.set_tag(runs["study"], "genzoo.winner", winner)
            best = min((t for t in trials if (t.spec.dataset, t.spec.family, t.spec.index) ==
                        (ds, winner, best_index[(ds, winner)]) and t.best_fid is not None),
                       key=lambda t: RANKED_BY.rank(t.best_fid))
            key = keys.digest([best.key, cfg.champion_rule().model_dump(), cfg.eval.model_dump(),
                               tstore.tracking_uri(root)])
            registered[ds] = cache.cached(out / f"register-{ds}.json", key, root,
                                          lambda: _register_winner(cfg, root, ds, winner, best, classifiers[ds], out))
        client.set_terminated(runs["study"], "FINISHED")
    return registered


def _register_winner(cfg: Config, root: Path, ds: str, winner: str, best: TrialResult, classifier: ClassifierReady,
                     out: Path) -> dict:
    """Score the winner under the pipeline's own evaluation protocol (not the study's smaller one), so the champion
    rule compares it with pipeline-made versions like for like, then register it."""
    from components.evaluation import scoring
    from components.models import stored
    from components.tracking.registration import register_model, registered_model

    ctx = Context(cfg.merged({"dataset": ds}), root)
    device = pick_device(cfg.train.device)
    reference = ctx.reference(ds, [classifier], device)
    folder = out / f"winner-{ds}"
    folder.mkdir(parents=True, exist_ok=True)
    scored = scoring.score(stored.load(Path(best.model_dir), str(device)), reference, device, folder)
    (folder / "metrics.json").write_text(json.dumps(scored.metrics, indent=2, sort_keys=True) + "\n")

    def rescore(version) -> float:
        with registered_model(version, device) as model:
            return scoring.rescore(model, reference, device)

    def noise() -> scoring.Noise:  # the same rule as a pipeline-made version: clearly better than untrained
        return scoring.noise_level(winner, stored.load(Path(best.model_dir), str(device)).hp, reference, device)

    result = register_model(root, ds, winner, Path(best.model_dir), scored.metrics, scored.protocol.tags(),
                            best.run_id, cfg.champion_rule(), ctx.runs.tags(ds, winner, "register"), rescore=rescore,
                            noise=noise)
    return {**dataclasses.asdict(result), "metrics": scored.metrics}


def run_study(cfg: Config | None = None, root: str | None = None, command: str | None = None, **given) -> dict:
    """Run the flow on the task runner the config names (a flow's runner is fixed when it is called). `cfg`: the
    configuration the command loaded and checked; else it is loaded from `given` (datasets=, families=,
    profile=, overrides=) and params.yaml."""
    root_path = Path(root) if root else defaults.project_root()
    if cfg is None:
        cfg = study_config(root_path, given.get("profile"), given.get("overrides"), given.get("datasets"),
                           given.get("families"))
    command = command or f"run_study({', '.join(f'{k}={v!r}' for k, v in given.items())})"
    import time

    from prefect import tags

    # named and tagged as the pipeline's runs are (flows/pipeline.run_named), so the runs list tells studies apart
    name = f"genzoo-study-{cfg.study.name or cfg.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tags("study", *(f"dataset:{d}" for d in cfg.study.datasets), *(f"family:{f}" for f in cfg.study.families),
              f"profile:{cfg.profile}"):
        return study.with_options(task_runner=task_runner(cfg.study), flow_run_name=name)(
            config=cfg.model_dump(), root=str(root_path), command=command)
