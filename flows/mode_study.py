"""The mode-collapse study on 2-D mixtures (ring8, grid25): every game plain and each study.modes variant on its
families, with several seeds; the report compares them at the final step (components/study/modes_report.py).
Nothing is promoted from it."""

from __future__ import annotations

import logging

from components import defaults
from components.config import Config
from components.data.mixtures import Mixture
from components.study import modes_report
from components.study import runs as study_runs
from components.study.modes_report import ModesMeta, ModesReport
from components.study.references import PointsReferences
from components.study.trial import TrialSpec, study_eval
from flows.trials import StudyData, run_trials


def modes_and_report(study: StudyData, name: str, mixtures: dict[str, Mixture], refs: dict[str, PointsReferences],
                     command: str, logger: logging.Logger | logging.LoggerAdapter) -> ModesReport:
    cfg = study.cfg
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
                reason = variant_refused(cfg, ds, fam, over)
                if reason:
                    skipped.append(f"{fam} {vname}: {reason}")
                    continue
                specs += [TrialSpec(ds, fam, index, cfg.seed + s, dict(over), vname) for s in range(mcfg.seeds)]
    for line in sorted(set(skipped)):
        logger.info("mode study: n/a %s", line)
    trials = run_trials(study, specs)
    meta = ModesMeta(name=name, command=command, seeds=mcfg.seeds, steps=mcfg.steps, batch_size=mcfg.batch_size,
                     num_samples=study_eval(cfg).eval.num_samples,
                     mode_min_share=cfg.eval.mode_min_share, variants=variants, skipped=sorted(set(skipped)))
    report = modes_report.write(study.root / defaults.REPORTS_DIR / name, trials, refs, mixtures, meta)
    for ds in datasets:
        study_runs.log_report(study.root, study.runs[ds], report.files)
        study_runs.finish(study.root, study.runs[ds])
    report.trials = trials
    logger.info("mode study %s: %d trials; report %s", name, len(trials), report.files[0])
    return report


def variant_refused(cfg: Config, ds: str, family: str, overrides: dict) -> str | None:
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
