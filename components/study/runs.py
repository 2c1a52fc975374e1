"""A study's MLflow bookkeeping: per dataset, one study run with a child run per family (each trial's run is a
grandchild, opened by the trial). The runs of one (study name, dataset version) are reused across invocations, so
new trials join the same tree in the MLflow UI; they end FINISHED with the study, FAILED when it is interrupted."""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from components import defaults
from components.errors import first_line
from components.files import atomic_write_text
from components.pipeline.context import Context
from components.tracking import store as tstore

log = logging.getLogger(__name__)


@dataclass
class StudyRuns:
    """The run ids of one dataset's study tree (outputs/<dataset>/study/runs-<name>.json)."""

    dataset_hash: str
    study: str
    families: dict[str, str]  # family -> its run, a child of `study`

    @property
    def all(self) -> list[str]:
        return [*self.families.values(), self.study]


def open_runs(ctx: Context, ds: str, name: str, families: list[str]) -> StudyRuns:
    """The study's runs on `ds`: those of an earlier invocation on the same data version while they exist, else
    new ones; marked RUNNING by this worker."""
    from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

    root = ctx.root
    client = tstore.client(root)
    path = root / defaults.OUTPUTS_DIR / ds / "study" / f"runs-{name}.json"
    runs = _read(path)
    exp = tstore.experiment_id(client, root, ds)
    if runs is None or runs.dataset_hash != ctx.dataset_hash(ds) or not tstore.run_exists(root, runs.study):
        base = ctx.runs.tags(ds, None, "study") | {"genzoo.study": name}
        runs = StudyRuns(ctx.dataset_hash(ds), client.create_run(exp, run_name=f"study-{name}", tags=base).info.run_id,
                         {})
    client.update_run(runs.study, status="RUNNING")
    client.set_tag(runs.study, tstore.TAG_WORKER, tstore.worker_id())
    for fam in families:
        if not tstore.run_exists(root, runs.families.get(fam, "")):
            tags = ctx.runs.tags(ds, fam, "study") | {"genzoo.study": name, MLFLOW_PARENT_RUN_ID: runs.study}
            runs.families[fam] = client.create_run(exp, run_name=f"{name}-{fam}", tags=tags).info.run_id
    atomic_write_text(path, json.dumps(asdict(runs), indent=2))  # read back by every later invocation
    return runs


def _read(path: Path) -> StudyRuns | None:
    try:
        return StudyRuns(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):  # none yet, or written by another genzoo: start a new tree
        return None


def log_report(root: Path, runs: StudyRuns, files: list[str]) -> None:
    client = tstore.client(root)
    for f in files:
        client.log_artifact(runs.study, f, "report")


def finish(root: Path, runs: StudyRuns) -> None:
    client = tstore.client(root)
    for run_id in runs.all:
        client.set_terminated(run_id, "FINISHED")


def fail(root: Path, every: list[StudyRuns]) -> None:
    """An interrupted study never looks finished in the UI."""
    client = tstore.client(root)
    for runs in every:
        for run_id in runs.all:
            try:
                client.set_terminated(run_id, "FAILED")
            except Exception as exc:  # noqa: BLE001 - e.g. SQLite locked by a trial still writing: the run stays
                # RUNNING until the next start marks it FAILED (tracking/store.fail_orphans); the interrupt, not
                # this, is what the command reports
                log.warning("MLflow run %s left RUNNING on stop: %s", run_id, first_line(exc))
