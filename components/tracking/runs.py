"""The MLflow side of one pipeline invocation: the tags every stage run carries and, when the invocation nests
(the Prefect flow does; `genzoo stage`, one process per stage, does not), one parent run per experiment that
its stage runs become children of."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from components.tracking.tags import TAG_DVC_EXPERIMENT, run_tags


class StageRuns:
    def __init__(self, root: Path, profile: str, families: list[str], data_hash: Callable[[str], str],
                 members: Callable[[str], tuple[str, ...]], nest: bool = False):
        """`data_hash(target)`: the target's content hash; `members(target)`: the datasets it is made of."""
        self.root, self.profile, self.families = root, profile, families
        self._data_hash, self._members = data_hash, members
        from components.tracking.store import dvc_experiment

        self.experiment = dvc_experiment()  # a `dvc exp run`: its stages (one process each) share a parent run
        self.parents: dict[str, str] | None = {} if nest or self.experiment else None

    def tags(self, target: str, family: str | None, stage: str) -> dict[str, str]:
        """Provenance of a run or model version of `stage` on `target` (tracking/tags.py)."""
        return run_tags(self.root, target, self._data_hash(target), family, stage, self.profile,
                        self._members(target))

    def run_tags(self, target: str, family: str | None, stage: str) -> dict[str, str]:
        """tags() for a stage's MLflow run, which nests under this invocation's parent run when there is one."""
        tags = self.tags(target, family, stage)
        if self.parents is not None:
            tags["mlflow.parentRunId"] = self.parent(target)
        return tags

    def parent(self, experiment: str) -> str:
        """This invocation's parent run in `experiment` (stage runs nest only within their own experiment)."""
        parents = self.parents
        if parents is None:
            raise TypeError("this invocation opened no parent runs (StageRuns.open)")
        if experiment not in parents:
            from components.tracking import store

            client = store.client(self.root)
            exp_id = store.experiment_id(client, self.root, experiment)
            tags = {**self.tags(experiment, None, "pipeline"), "genzoo.families": ",".join(self.families)}
            if self.experiment:  # found by name: the experiment's earlier stages made it
                found = client.search_runs([exp_id], f"tags.`{TAG_DVC_EXPERIMENT}` = '{self.experiment}' and "
                                                     "tags.`genzoo.stage` = 'pipeline'", max_results=1)
                parents[experiment] = found[0].info.run_id if found else client.create_run(
                    exp_id, tags=tags, run_name=f"dvc-exp:{self.experiment}").info.run_id
            else:
                parents[experiment] = client.create_run(exp_id, tags=tags,
                                                             run_name=f"pipeline@{experiment}").info.run_id
        return parents[experiment]

    def open(self, experiments) -> None:
        """Create this invocation's parent run in each of `experiments` now, so an invocation whose every stage
        was computed by another (concurrent or earlier) one still has its own parent run."""
        if self.parents is not None:
            for experiment in experiments:
                self.parent(experiment)

    def note_reused(self, experiment: str, label: str, run_id: str) -> None:
        """Record on this invocation's parent run that `label`'s result came from another invocation's run."""
        if self.parents is not None:
            from components.tracking import store

            key = f"genzoo.reused.{label.replace('@', '/')}"  # MLflow tag keys take no '@'
            store.client(self.root).set_tag(self.parent(experiment), key, run_id)

    def close(self, status: str) -> None:
        """End every parent run this invocation opened (FINISHED or FAILED); an experiment's stays open for its
        next stage (the last leaves it FINISHED: each stage closes it so)."""
        from components.tracking import store

        if self.parents:
            client = store.client(self.root)
            for run_id in self.parents.values():
                client.set_terminated(run_id, status)
