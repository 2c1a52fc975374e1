"""Lucic et al.'s search study on image datasets: for each dataset and family, B hyperparameter settings drawn by
Optuna (search), then the best setting again with S seeds; the report (components/study/report.py), and each
dataset's winner scored under the pipeline's own protocol and registered by the same rule as a pipeline-made
model (tracking/registration.register_scored)."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from components import defaults
from components.metric_specs import name
from components.pipeline import cache, keys
from components.pipeline.context import Context
from components.study import report, search
from components.study import runs as study_runs
from components.study.references import ImageReferences
from components.study.report import SearchReport, StudyMeta
from components.study.trial import RANKED_BY, TrialResult, TrialSpec
from components.tracking import store as tstore
from components.tracking.registration import Registration
from flows.trials import StudyData, run_trials


@dataclass(frozen=True)
class Winner:
    """A dataset's winning trial as registered: the registry's decision and its metrics under the pipeline's
    protocol (what the champion rule compared)."""

    registration: Registration
    metrics: dict[str, float]

    def dump(self) -> dict:  # flat, as cache markers keep a result (its run_id checked on reuse)
        return {**dataclasses.asdict(self.registration), "metrics": self.metrics}

    @staticmethod
    def load(raw: dict) -> Winner:
        fields = {f.name for f in dataclasses.fields(Registration)}
        return Winner(Registration(**{k: v for k, v in raw.items() if k in fields}), raw["metrics"])


def search_and_report(study: StudyData, name: str, refs: dict[str, ImageReferences], command: str,
                      logger: logging.Logger | logging.LoggerAdapter) -> SearchReport:
    """Search, reruns with seeds, report, promotion: the study once its data and parent runs exist."""
    cfg = study.cfg
    scfg = cfg.study
    datasets, families = scfg.datasets, scfg.families
    budget, n_seeds, seed0 = scfg.budget, scfg.seeds, cfg.seed
    storage = search.storage_url(study.root, scfg.storage)
    searches = {(ds, fam): search.Search(storage, name, ds, fam, seed0, scfg.sampler, scfg.space, cfg.hp(fam),
                                         "minimize" if RANKED_BY.direction == "lower" else "maximize")
                for ds in datasets for fam in families}

    def tell(spec: TrialSpec, t: TrialResult) -> None:
        searches[(spec.dataset, spec.family)].tell(spec.index, t.best_fid, t.run_id)

    searched: list[TrialResult] = []
    while True:  # rounds: all B at once for random draws, a population's worth at a time for TPE
        specs = [TrialSpec(ds, fam, index, seed0, overrides) for (ds, fam), s in searches.items()
                 for index, overrides in s.next(budget, s.batch_size(budget, scfg.population, scfg.workers))]
        if not specs:
            break
        searched += [t.model_copy(update={"search": True}) for t in run_trials(study, specs, tell)]
    searched.sort(key=lambda t: (datasets.index(t.spec.dataset), families.index(t.spec.family), t.spec.index))

    best_index: dict[tuple[str, str], int] = {}
    best_setting: dict[tuple[str, str], dict] = {}
    for ds in datasets:
        for fam in families:
            best = min((t for t in searched if (t.spec.dataset, t.spec.family) == (ds, fam)),
                       key=lambda t: RANKED_BY.rank(t.best_fid))
            best_index[(ds, fam)], best_setting[(ds, fam)] = best.spec.index, best.spec.overrides
    reruns = [TrialSpec(ds, fam, idx, seed0 + s, best_setting[(ds, fam)])
              for (ds, fam), idx in best_index.items() for s in range(1, n_seeds)]
    trials = searched + run_trials(study, reruns)
    logger.info("study %s: %d trials, %d trained now", name, len(trials),
                sum(v == "Completed" for k, v in study.states.items() if k.startswith("trial")))

    meta = StudyMeta(name=name, profile=cfg.profile, budget=budget, seeds=n_seeds, checkpoints=scfg.checkpoints,
                     checkpoint_samples=scfg.checkpoint_samples, epochs=scfg.epochs, command=command,
                     datasets=datasets, families=families)
    out = study.root / defaults.REPORTS_DIR / name
    result = report.write(out, trials, best_index, meta, refs)
    result.trials = trials
    result.registered = publish(study, result, best_index, out)
    return result


def publish(study: StudyData, result: SearchReport, best_index: dict[tuple[str, str], int],
            out: Path) -> dict[str, Winner]:
    """Log the report to each dataset's study run, each family's row to its run, and register each dataset's
    winner (once per winner: its registration is cached under everything that decides it)."""
    cfg, root = study.cfg, study.root
    client = tstore.client(root)
    registered = {}
    for ds, runs in study.runs.items():
        study_runs.log_report(root, runs, result.files)
        for fam, row in result.rows.get(ds, {}).items():
            if row.mean is not None:
                for metric, value in ((name("fid", "classifier", prefix="study", aggregate="mean"), row.mean),
                                      (name("fid", "classifier", prefix="study", spread="seed_std"), row.std),
                                      (name("fid", "classifier", prefix="study", aggregate="best"), row.best)):
                    if value is not None:
                        client.log_metric(runs.families[fam], metric, value)
        winner = result.winners.get(ds)
        if winner:
            client.set_tag(runs.study, "genzoo.winner", winner)
            best = min((t for t in result.trials if (t.spec.dataset, t.spec.family, t.spec.index) ==
                        (ds, winner, best_index[(ds, winner)]) and t.best_fid is not None),
                       key=lambda t: RANKED_BY.rank(t.best_fid))
            key = keys.digest([best.key, cfg.champion_rule().model_dump(), cfg.eval.model_dump(),
                               tstore.tracking_uri(root)])
            registered[ds] = cache.cached(out / f"register-{ds}.json", key, root,
                                          lambda: register_winner(study, ds, winner, best, out),
                                          encode=Winner.dump, decode=Winner.load)
        study_runs.finish(root, runs)
    return registered


def register_winner(study: StudyData, ds: str, winner: str, best: TrialResult, out: Path) -> Winner:
    """Score the winner under the pipeline's own evaluation protocol (not the study's smaller one), so the champion
    rule compares it with pipeline-made versions like for like, then register it."""
    from components.evaluation import scoring
    from components.hardware import pick_device
    from components.models import stored
    from components.tracking.registration import register_scored

    if best.model_dir is None or best.run_id is None:
        raise ValueError(f"the winning trial {best.spec.name} kept no model")
    cfg = study.cfg
    ctx = Context(cfg.merged({"dataset": ds}), study.root)
    device = pick_device(cfg.train.device)
    reference = ctx.reference(ds, [study.classifiers[ds]], device)
    folder = out / f"winner-{ds}"
    folder.mkdir(parents=True, exist_ok=True)
    model_dir = Path(best.model_dir)
    scored = scoring.score(stored.load(model_dir, str(device)), reference, device, folder)
    (folder / "metrics.json").write_text(json.dumps(scored.metrics, indent=2, sort_keys=True) + "\n")
    registration = register_scored(study.root, ds, winner, model_dir, scored.metrics, scored.protocol.tags(),
                                   best.run_id, cfg.champion_rule(), ctx.runs.tags(ds, winner, "register"), reference,
                                   device)
    return Winner(registration, scored.metrics)
