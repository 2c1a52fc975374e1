"""The provenance every run and model version carries: dataset, its content hash and data.dvc version, the git
commit, the stage, the profile and, per family, the family and its kind."""

from __future__ import annotations

from pathlib import Path

from components import defaults


def run_tags(root: Path, dataset: str, dataset_hash: str, family: str | None, stage: str,
             profile: str) -> dict[str, str]:
    from components.tracking.store import data_version, git_commit

    tags = {
        defaults.TAG_DATASET: dataset,
        defaults.TAG_DATA_VERSION: data_version(root),
        defaults.TAG_DATASET_HASH: dataset_hash,
        defaults.TAG_GIT_COMMIT: git_commit(root),
        "genzoo.stage": stage,
        "genzoo.profile": profile,
    }
    if family:
        from components.models.registry import get_family

        tags[defaults.TAG_FAMILY] = family
        tags["genzoo.kind"] = get_family(family).kind
    return tags
