"""The study flow: the pipeline's data stages and reference rows for each dataset, then Lucic et al.'s search on
image datasets (flows/search_study.py) and the mode-collapse study on 2-D mixtures (flows/mode_study.py), their
trials submitted as Prefect tasks (flows/trials.py). In MLflow, each dataset's experiment holds a study run, a
child run per family and a grandchild per trial (components/study/runs.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger

from components import defaults
from components.config import Config
from components.data.mixtures import Mixture
from components.hardware import pick_device
from components.pipeline import graph
from components.pipeline.context import Context, feature_space
from components.pipeline.results import ClassifierReady, expect
from components.pipeline.stage import Node
from components.study import references
from components.study import runs as study_runs
from components.study.config import study_config
from components.study.modes_report import ModesReport
from components.study.references import ImageReferences, PointsReferences
from components.study.report import SearchReport
from components.tracking import store as tstore
from flows.mode_study import modes_and_report
from flows.pipeline import run_nodes
from flows.search_study import search_and_report
from flows.task_runners import task_runner
from flows.trials import StudyData


@dataclass
class StudySummary:
    """What a study run returns: every task run's state, and the report of each study that ran."""

    states: dict[str, str]
    search: SearchReport | None = None  # image datasets
    modes: ModesReport | None = None  # 2-D mixtures


@flow(name="genzoo-study")
def study(config: dict, root: str, command: str) -> StudySummary:
    """`config`: the study's configuration as the command loaded and checked it (Config.model_dump())."""
    root_path = Path(root)
    cfg = Config.model_validate(config)
    datasets, families = cfg.study.datasets, cfg.study.families
    name = cfg.study.name or cfg.profile
    logger = get_run_logger()
    for run_id in tstore.fail_orphans(root_path):
        logger.warning("MLflow run %s was left RUNNING by a process that is gone: marked FAILED", run_id)
    data = StudyData(cfg, root_path, {}, {}, {})
    device = pick_device(cfg.train.device)

    # the data gates and reference classifiers: the pipeline's own (cached) stage tasks, one walk per dataset
    mixtures: dict[str, Mixture] = {}
    image_refs: dict[str, ImageReferences] = {}
    points_refs: dict[str, PointsReferences] = {}
    for ds in datasets:
        ctx = Context(cfg.merged({"dataset": ds}), root_path)
        done = run_nodes(ctx, [Node(s, ds) for s in graph.DATA_STAGES], data.states)
        classifier = data.classifiers[ds] = expect(ClassifierReady, done[graph.node("classifier", ds)])
        data.runs[ds] = study_runs.open_runs(ctx, ds, name, families)
        tensors = ctx.tensors(ds)
        if tensors.mixture is not None:
            mixtures[ds] = tensors.mixture
            r = points_refs[ds] = references.measure_modes(ctx.cfg, tensors, classifier.floor, families[0], device)
            logger.info("study %s on %s: the real points cover %.1f modes, %.1f%% high quality; untrained %s: %d "
                        "modes, %.1f%%", name, ds, r.floor_modes_covered, 100 * r.floor_high_quality, families[0],
                        r.untrained.modes_covered, 100 * r.untrained.high_quality)
            continue
        i = image_refs[ds] = references.measure(ctx.cfg, tensors, feature_space(classifier), families[0],
                                                ctx.state_dir("floors"), ctx.data_id(ds), device)
        logger.info("study %s on %s: floor FID %.2f, untrained %s FID %.2f (N=%d)", name, ds, i.floor, families[0],
                    i.untrained, i.num_samples)

    try:
        summary = StudySummary(data.states)
        if mixtures:  # datasets of 2-D points: the mode-collapse study
            summary.modes = modes_and_report(data, name, mixtures, points_refs, command, logger)
        images = [ds for ds in datasets if ds not in mixtures]
        if images:  # Lucic et al.'s search
            searching = StudyData(cfg.merged({"study": {"datasets": images}}), root_path, data.classifiers,
                                  {ds: data.runs[ds] for ds in images}, data.states)
            summary.search = search_and_report(searching, name, image_refs, command, logger)
        return summary
    except BaseException:
        study_runs.fail(root_path, list(data.runs.values()))
        raise


def run_study(cfg: Config | None = None, root: str | None = None, command: str | None = None,
              **given: Any) -> StudySummary:
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
        return study.with_options(task_runner=task_runner(cfg.study, root_path), flow_run_name=name)(
            config=cfg.model_dump(), root=str(root_path), command=command)
