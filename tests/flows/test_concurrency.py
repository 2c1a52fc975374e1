"""Two `genzoo run` processes at once in one project, with different settings: each registers its own weights
with its own metrics (outputs are keyed per stage key; a registry decision is taken one at a time)."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

import mlflow
import pytest

from tests.conftest import registered_versions
from tests.flows.conftest import make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

NAME = "mnist5k-nsgan"
RATES = (0.0002, 0.001)


def md5(path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_concurrent_runs_with_different_settings_each_register_their_own_model(tmp_path, mnist5k_data):
    root = make_project(tmp_path, mnist5k_data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env["GENZOO_ROOT"] = str(root)
    procs = [subprocess.Popen([sys.executable, "-m", "flows.cli", "run", "--set", f"family.nsgan.lr={lr}"], cwd=root,
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for lr in RATES]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in outs]

    trained = {}  # lr -> md5 of the weights its train stage wrote
    for spec in (root / "outputs/mnist5k/nsgan/train").glob("*/model.json"):
        trained[json.loads(spec.read_text())["hp"]["lr"]] = md5(spec.with_name("model.pt"))
    assert set(trained) == set(RATES) and len(set(trained.values())) == 2

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    versions = registered_versions(root, NAME)
    assert len(versions) == 2 and len({v.run_id for v in versions}) == 2
    for v in versions:
        run = client.get_run(v.run_id)
        lr = float(run.data.params["hp.lr"])
        where = urlparse(client.get_model_version_download_uri(NAME, v.version)).path  # the version's own files
        (weights,) = list(Path(where).rglob("model.pt"))
        assert md5(weights) == trained[lr], f"v{v.version} holds another run's weights"
        assert float(v.tags["fid_classifier"]) == run.data.metrics["fid_classifier"]  # its own metrics
    decisions = sorted(v.tags["genzoo.promotion_decision"] for v in versions)
    # one decided after the other: the second either lost, or took champion and the first says so
    assert decisions in (["challenger", "champion"], ["champion", "replaced"]), decisions
