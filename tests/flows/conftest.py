import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from tests.conftest import TINY_PARAMS


@contextmanager
def in_project(root: Path):
    """GENZOO_ROOT and cwd set to root; MLflow to its own SQLite store."""
    from components.tracking.store import environment_kept

    cwd = os.getcwd()
    with environment_kept("GENZOO_ROOT", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        os.environ["GENZOO_ROOT"] = str(root)
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        os.environ.pop("MLFLOW_REGISTRY_URI", None)
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(cwd)


def command_env(root: Path) -> dict[str, str]:
    """The environment a `genzoo` command started in a child process gets: `root` as its project, this checkout
    importable, no MLflow or Prefect settings of the test process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env.update(GENZOO_ROOT=str(root), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    return env


def make_project(parent: Path, data: Path, params: dict | None = None) -> Path:
    """A project under `parent` with the mnist5k data and `params` (default TINY_PARAMS) as its params.yaml."""
    root = parent / "project"
    root.mkdir(parents=True)
    (root / "params.yaml").write_text(yaml.safe_dump(params or TINY_PARAMS, sort_keys=False))
    shutil.copytree(data / "mnist5k", root / "data" / "mnist5k")
    return root


@pytest.fixture(scope="module")
def ran(prefect_api, tmp_path_factory, mnist5k_data):
    """One tiny pipeline run shared by a module's tests: (root, summary)."""
    return run_pipeline(make_project(tmp_path_factory.mktemp("ran"), mnist5k_data))


def run_pipeline(root: Path):
    """The pipeline flow run once in `root` as its project: (root, summary)."""
    from flows.pipeline import pipeline

    with in_project(root):
        return root, pipeline(root=str(root))
