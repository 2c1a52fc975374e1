"""The pipeline on a schedule: `genzoo schedule` serves it with a cron schedule from this machine
(`flow.serve`); prefect.yaml deploys the same flow to a work pool (`prefect deploy`).

A scheduled run pulls the pinned data version when a DVC remote is configured, then runs the pipeline: the
gate validates, the stage cache retrains only what changed, and the registry rule promotes. The deployment
allows one run at a time (a Prefect deployment concurrency limit; later runs wait), so two runs never
promote at once.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger

from components import defaults
from components.versioning import dvc

DEPLOYMENT = "genzoo-scheduled"
CONCURRENCY = 1


def pull_data(root: Path) -> str:
    """Make data/ the version data.dvc pins: `dvc pull data.dvc` from the DVC remote when data/ differs.

    DVC itself refuses (without --force, which we never pass) to overwrite files in data/ that are not in its
    cache, so local, unpinned changes are never lost: the run then fails with DVC's message instead.
    """
    from components.versioning import dvc_dir_md5, pinned_md5

    pinned = pinned_md5(root)
    if pinned is None:
        return "no data.dvc: using data/ as it is"
    data = root / defaults.DATA_DIR
    if data.is_dir() and dvc_dir_md5(data) == pinned:
        return f"data/ already is data.dvc's version ({pinned})"
    remotes = dvc(root, "remote", "list")
    if remotes.returncode != 0 or not remotes.stdout.strip():
        return "no DVC remote: using data/ as it is (it differs from data.dvc's pin)"
    pulled = dvc(root, "pull", "data.dvc", timeout=3600)
    if pulled.returncode != 0:
        raise RuntimeError(f"dvc pull data.dvc failed (nothing was overwritten): {pulled.stderr.strip()[-500:]}")
    return f"pulled data.dvc's version {pinned} from the DVC remote"


@flow(name="genzoo-scheduled", persist_result=True, result_serializer="json")
def scheduled(dataset: str | None = None, families: list[str] | None = None, profile: str | None = None,
              overrides: list[str] | None = None, root: str | None = None) -> dict:
    from flows.pipeline import pipeline

    root_path = Path(root) if root else defaults.project_root()
    get_run_logger().info(pull_data(root_path))
    summary = pipeline(dataset=dataset, families=families, profile=profile, overrides=overrides, root=str(root_path))
    # the run's record in Prefect's result store (JSON): what ran, and what each family registered
    return {"states": summary.states,
            "registered": {f: f"{r.model_uri} @{r.alias}" for f, r in summary.registered().items()}}


def serve(cron: str, name: str = DEPLOYMENT, parameters: dict | None = None) -> None:
    """Blocks: registers the deployment with the Prefect API and runs its scheduled (and triggered) runs here."""
    from prefect.deployments.runner import EntrypointType

    scheduled.serve(name=name, cron=cron, parameters=parameters or {}, global_limit=CONCURRENCY,
                    tags=["genzoo"], entrypoint_type=EntrypointType.MODULE_PATH)
