"""Where MLflow tracks: an embedded SQLite store + artifact folder in the project unless MLFLOW_TRACKING_URI
points at a server; plus the provenance every run carries (data version, git commit)."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Collection, Iterator
from pathlib import Path

import yaml

from components import defaults, processes
from components.tracking.relocate import relocate


def _own_store(root: Path) -> str:
    return f"sqlite:///{(root / defaults.MLFLOW_DB).as_posix()}"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or _own_store(root)


def embedded(root: Path) -> bool:
    """True when runs go to the project's own SQLite store (mlflow.set_tracking_uri exports it, so a set
    MLFLOW_TRACKING_URI may name it too)."""
    return tracking_uri(root) == _own_store(root)


def sqlite_file(root: Path) -> Path | None:
    """The file of the SQLite store runs go to (the project's own, or one MLFLOW_TRACKING_URI names); None for a
    server."""
    uri = tracking_uri(root)
    return Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None


def created(root: Path) -> bool:
    """False while the SQLite store runs go to has no file yet (a server is taken as there)."""
    file = sqlite_file(root)
    return file is None or file.exists()


def store_id(root: Path) -> str:
    """The store as stage keys name it: the project's own by its name in the project, so that moving or copying
    the folder keeps every key; a server by its URI."""
    return f"project:{defaults.MLFLOW_DB}" if embedded(root) else tracking_uri(root)


def setup(root: Path, experiment: str) -> str:
    """Point MLflow at the store and select (or create) the experiment; returns the tracking URI."""
    import mlflow

    uri = tracking_uri(root)
    with environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI") or uri)
        mlflow.set_tracking_uri(uri)
    experiment_id(client(root), root, experiment)  # client() re-points a moved store before anything is read
    mlflow.set_experiment(experiment)
    return uri


@contextlib.contextmanager
def environment_kept(*names: str) -> Iterator[None]:
    """The environment variables `names` as they were before the block, set or unset. MLflow's set_tracking_uri
    and set_registry_uri export the URI for subprocesses; left there, the next project this process opens would
    track into this one's store (ours compute their own)."""
    before = {name: os.environ.get(name) for name in names}
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def client(root: Path):
    """An explicit client: what code running in worker threads uses, since MLflow's fluent state is global."""
    import mlflow

    uri = tracking_uri(root)
    if embedded(root):
        _create_once(root, uri)
        relocate(root)
    return mlflow.MlflowClient(uri, os.environ.get("MLFLOW_REGISTRY_URI") or uri)


_opened: set[str] = set()  # embedded stores this process has created or found ready


def _create_once(root: Path, uri: str) -> None:
    """Two processes that create the embedded store at once race in its schema migrations (alembic fails in one
    of them): the first client of each process creates, or just opens, the store under a project lock."""
    import mlflow

    from components.files import locked, project_lock

    if uri in _opened:
        return
    with locked(project_lock(root, "mlflow-create")):
        mlflow.MlflowClient(uri, uri).search_experiments(max_results=1)  # creates and migrates it, once
    _opened.add(uri)


# MLflow 3's UI opens an experiment by its kind; without one it guesses GenAI and lands on a traces dashboard.
# MLflow 3.17's UI ignores the tag while its GenAI/Model-training switch is shown and reads the switch from the
# address instead (UI_VIEW; then remembered by the browser), so genzoo's links carry both.
EXPERIMENT_KIND = ("mlflow.experimentKind", "custom_model_development")


def experiment_id(mlflow_client, root: Path, name: str) -> str:
    """The experiment's id, created on first use (safe when two workers race to create it), of the kind whose
    UI opens on its runs (EXPERIMENT_KIND; set on experiments created before genzoo set it too)."""
    from mlflow.exceptions import MlflowException

    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        if EXPERIMENT_KIND[0] not in found.tags:
            mlflow_client.set_experiment_tag(found.experiment_id, *EXPERIMENT_KIND)
        return found.experiment_id
    location = None
    if tracking_uri(root).startswith("sqlite:"):  # keep artifacts beside the embedded store, not in ./mlruns
        location = (root / defaults.MLFLOW_ARTIFACTS / name).resolve().as_uri()
    try:
        return mlflow_client.create_experiment(name, artifact_location=location, tags=dict([EXPERIMENT_KIND]))
    except MlflowException:
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


UI_VIEW = "?workflowType=machine_learning"  # the UI's "Model training" side: runs, models, no traces dashboard


def ui_base(root: Path) -> str:
    """The MLflow UI's address: the tracking server's, or `genzoo ui`'s over the project's store."""
    uri = tracking_uri(root)
    return uri.rstrip("/") if uri.startswith(("http://", "https://")) else f"http://127.0.0.1:{defaults.UI_PORT}"


def experiment_url(root: Path, name: str) -> str | None:
    """Where experiment `name` opens on its runs table (None before it exists)."""
    found = client(root).get_experiment_by_name(name)
    return f"{ui_base(root)}/#/experiments/{found.experiment_id}{UI_VIEW}" if found else None


def run_url(root: Path, run_id: str) -> str:
    """Where a run opens in the MLflow UI."""
    experiment = client(root).get_run(run_id).info.experiment_id
    return f"{ui_base(root)}/#/experiments/{experiment}/runs/{run_id}{UI_VIEW}"


def run_exists(root: Path, run_id: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client(root).get_run(run_id)
        return True
    except MlflowException:
        return False


def log_metrics(mlflow_client, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
    """All of `metrics` in one request (explicit client: safe from worker threads)."""
    import time

    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    mlflow_client.log_batch(run_id, metrics=[Metric(k, float(v), now, step) for k, v in metrics.items()])


SAMPLES_ARTIFACT, SAMPLES_KEY = "samples.png", "samples"


def log_samples(mlflow_client, run_id: str, picture: Path, step: int | None) -> None:
    """A family's sample grid (or scatter, or translations) where every family puts it: the artifact root's
    samples.png (MLflow's Compare view pairs only files at the root that every run has) and, unless `step` is
    None (the caller logged it already), the image key "samples" at `step` (the run view's Images tab and the
    chart view's image card)."""
    import shutil
    import tempfile

    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="genzoo-samples-") as tmp:
        named = Path(tmp) / SAMPLES_ARTIFACT
        shutil.copyfile(picture, named)
        mlflow_client.log_artifact(run_id, str(named))
    if step is None:
        return
    with Image.open(picture) as grid:
        mlflow_client.log_image(run_id, grid.convert("RGB"), key=SAMPLES_KEY, step=step)


def ui_command(root: Path, host: str = "127.0.0.1", port: int = defaults.UI_PORT) -> list[str] | None:
    """The `mlflow server` that `genzoo ui` starts over the project's store (None: the store is a server)."""
    uri = tracking_uri(root)
    if not uri.startswith("sqlite:"):
        return None
    return ["mlflow", "server", "--backend-store-uri", uri, "--artifacts-destination",
            str(root / defaults.MLFLOW_ARTIFACTS), "--host", host, "--port", str(port)]


def data_version(root: Path, dataset: str) -> str:
    """data.dvc's md5 when data/<dataset> is what it pins; modified:/unpinned:<md5> when not (versioning.py)."""
    from components.versioning import data_version as version

    try:
        return version(root, root / defaults.DATA_DIR, dataset)
    except (yaml.YAMLError, AttributeError, IndexError):
        return "unreadable"


def log_dataset(client, run_id: str, name: str, version: str, sizes: dict[str, int], context: str = "training"):
    """The run's dataset in MLflow's Dataset column: its name, its content digest (the md5 of DVC's data
    version; the full version, with a modified:/unpinned: prefix when it is not the pin, stays the
    genzoo.data_version tag) and its split sizes."""
    import json

    from mlflow.entities import Dataset, DatasetInput, InputTag

    digest = version.rpartition(":")[2][:36]  # MLflow keeps at most 36 characters
    dataset = Dataset(name=name, digest=digest, source_type="local",
                      source=json.dumps({"uri": f"{defaults.DATA_DIR}/{name}"}), profile=json.dumps(sizes))
    client.log_inputs(run_id, datasets=[DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])])


def dvc_experiment() -> str | None:
    """The name of the `dvc exp run` this process is a stage of (DVC sets DVC_EXP_NAME for its stages), or None.
    An experiment registers candidates and moves no alias (promotion.promote); its runs share a parent named
    after it (runs.StageRuns)."""
    return os.environ.get("DVC_EXP_NAME") or None


def git_commit(root: Path) -> str:
    """HEAD, "-dirty" when tracked files differ from it; inside `dvc exp run` the experiment's baseline commit and
    name instead (DVC rewrites params.yaml in the workspace, which is not a dirty tree)."""
    if dvc_experiment() and os.environ.get("DVC_EXP_BASELINE_REV"):
        return f"{os.environ['DVC_EXP_BASELINE_REV']}+exp:{dvc_experiment()}"
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        if not sha:
            return "none"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "none"


TAG_WORKER = "genzoo.worker"


def worker_id() -> str:
    """host:pid:start time of this process: which process owns a RUNNING run."""
    return processes.identity()


def fail_orphans(root: Path, killed: Collection[str] = ()) -> list[str]:
    """Mark FAILED the RUNNING runs whose process on this host is gone (a kill -9, a crash): they never look
    finished or in progress in the UI. `killed`: the identities of processes the caller has just killed (they may
    still be exiting), whose runs are marked whether or not they are gone yet. Returns the run ids."""
    if not created(root):
        return []  # no runs: opening the store would create it
    c = client(root)
    exps = [e.experiment_id for e in c.search_experiments()]
    if not exps:
        return []
    running = c.search_runs(exps, "attributes.status = 'RUNNING'", max_results=1000)
    orphans = [r for r in running if (owner := r.data.tags.get(TAG_WORKER, "")) in killed
               or processes.gone(owner)]
    for r in orphans:
        c.set_tag(r.info.run_id, "genzoo.failed_reason",
                  f"its process {r.data.tags[TAG_WORKER]} ended without finishing the run (killed or crashed)")
        c.set_terminated(r.info.run_id, "FAILED")
    return [r.info.run_id for r in orphans]
