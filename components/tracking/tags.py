"""The provenance every run and model version carries: dataset, its content hash and data.dvc version, the git
commit, the stage, the profile and, per family, the family and its kind."""

from __future__ import annotations

from pathlib import Path

from components import defaults

TAG_DVC_EXPERIMENT = "genzoo.dvc_experiment"  # the `dvc exp run` a run or version was made by


def run_tags(root: Path, dataset: str, dataset_hash: str, family: str | None, stage: str,
             profile: str, members: tuple[str, ...] | None = None) -> dict[str, str]:
    """`members`: the datasets `dataset` is made of (a domain pair's two; default: itself)."""
    from components.tracking.store import TAG_WORKER, data_version, git_commit, worker_id

    versions = list(dict.fromkeys(data_version(root, d) for d in members or (dataset,)))
    worst = [v for v in versions if v.startswith("modified:")] or [v for v in versions if ":" in v] or versions
    tags = {
        defaults.TAG_DATASET: dataset,
        defaults.TAG_DATA_VERSION: worst[0],  # the pin only when every member is the pinned data
        defaults.TAG_DATASET_HASH: dataset_hash,
        defaults.TAG_GIT_COMMIT: git_commit(root),
        "genzoo.stage": stage,
        "genzoo.profile": profile,
        TAG_WORKER: worker_id(),  # a RUNNING run whose process is gone is marked FAILED by the next run
    }
    from components.tracking.store import dvc_experiment

    if experiment := dvc_experiment():
        tags[TAG_DVC_EXPERIMENT] = experiment
    if family:
        from components.models.registry import get_family

        tags[defaults.TAG_FAMILY] = family
        tags["genzoo.kind"] = get_family(family).kind
    return tags
