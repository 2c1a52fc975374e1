"""Shipping against the real servers. `genzoo serve` (MLflow's scoring app, guarded) answers valid requests for the
champion with images (same seed, same images; PNG on request) and bad ones with a 4xx that says what is wrong and
carries no stack trace, and keeps serving;
`genzoo ui` (an `mlflow server`) shows the pipeline's runs and versions through its REST API."""

import base64
import io
import os
import signal
import sys
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from tests.servers import free_port, get_json, post_json, post_raw, running

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out


def store_env(root):
    uri = f"sqlite:///{root / 'mlflow.db'}"
    path = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])  # its uvicorn
    return {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": uri, "MLFLOW_REGISTRY_URI": uri}


def test_genzoo_serve_answers_images_and_clear_4xx_and_keeps_serving(ran, tmp_path):
    root, summary = ran
    name = summary.families["nsgan"].register.name
    port = free_port()
    cmd = [sys.executable, "-m", "flows.cli", "serve", "--name", name, "--port", str(port)]
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {"GENZOO_ROOT": str(root)}
    with running(cmd, f"{base}/ping", env, tmp_path / "serve.log", cwd=root) as server:
        status, body = post_json(f"{base}/invocations", {"dataframe_records": [{"n": 3, "seed": 7}]})
        assert status == 200, body
        images = np.asarray(body["predictions"])
        assert images.shape == (3, 28, 28, 1) and images.min() >= 0 and images.max() <= 255
        _, again = post_json(f"{base}/invocations", {"dataframe_records": [{"n": 3, "seed": 7}]})
        assert np.array_equal(np.asarray(again["predictions"]), images)  # same version, same seed, same images

        for n in (1, 2):  # one image is still a list of one string
            status, body = post_json(f"{base}/invocations",
                                     {"dataframe_records": [{"n": n, "seed": 7}], "params": {"format": "png"}})
            assert status == 200 and len(body["predictions"]) == n, body
            assert all(isinstance(p, str) for p in body["predictions"]), body
            png = Image.open(io.BytesIO(base64.b64decode(body["predictions"][0])))
            assert png.size == (28, 28) and np.array_equal(np.asarray(png), images[0, ..., 0])

        for bad, says in (({"n": 5000, "seed": 0}, "between 1 and 1024"),
                          ({"n": 2}, "seed"),
                          ({"n": 2, "seed": 0, "label": 3}, "not class-conditional"),
                          ({"n": 4.5, "seed": 0}, "n must be an integer"),  # never cast to 4
                          ({"n": "4", "seed": 0}, "n must be an integer"),
                          ({"n": True, "seed": 0}, "n must be an integer"),
                          ({"n": 2, "seed": 1.5}, "seed must be an integer"),
                          ({"n": 2, "seed": -1}, "seed=-1"),
                          ({"n": 2, "seed": 0, "temperature": 2}, "unknown column(s) ['temperature']")):
            status, body = post_json(f"{base}/invocations", {"dataframe_records": [bad]})
            assert 400 <= status < 500 and says in body["message"], (bad, status, body)
            assert "stack_trace" not in body
        status, body = post_json(f"{base}/invocations", {"dataframe_records": [{"n": 1, "seed": 0}], "extra": 1})
        assert status == 400 and "unknown field(s) ['extra']" in body["message"], body
        status, body = post_raw(f"{base}/invocations", b"[" * 100_000 + b"]" * 100_000)
        assert status == 400 and "nests 100000 levels" in body["message"], body  # MLflow alone: 500
        status, body = post_raw(f"{base}/invocations", b"\0not parquet", "application/vnd.apache.parquet")
        assert status == 400 and "Parquet" in body["message"] and "stack_trace" not in body, body
        status, body = post_json(f"{base}/invocations",
                                 {"dataframe_records": [{"n": 1, "seed": 0}], "params": {"format": "gif"}})
        assert 400 <= status < 500 and "format" in body["message"]

        status, body = post_json(f"{base}/invocations", {"dataframe_records": [{"n": 1, "seed": 7}]})
        assert status == 200 and np.array_equal(np.asarray(body["predictions"])[0], images[0])
        status, body = post_raw(f"{base}/invocations", b'{"dataframe_records": [{"n": 1, "seed": 0}]}', "")
        assert status == 415 and "no Content-Type" in body["message"], body  # MLflow alone: 500
        server.send_signal(signal.SIGTERM)  # a graceful stop: requests drained, exit status 0 (not 143)
        assert server.wait(timeout=30) == 0


def test_genzoo_ui_serves_runs_and_versions_through_rest(ran, tmp_path):
    root, summary = ran
    port = free_port()
    cmd = [sys.executable, "-m", "flows.cli", "ui", "--port", str(port)]  # execs `mlflow server` on 127.0.0.1
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")} | {"GENZOO_ROOT": str(root)}
    base = f"http://127.0.0.1:{port}"
    with running(cmd, f"{base}/health", env, tmp_path / "server.log"):
        exps = get_json(f"{base}/api/2.0/mlflow/experiments/search?max_results=100")["experiments"]
        exp = next(e for e in exps if e["name"] == "mnist5k")
        status, body = post_json(f"{base}/api/2.0/mlflow/runs/search",
                                 {"experiment_ids": [exp["experiment_id"]],
                                  "filter": "tags.`genzoo.family` = 'nsgan'"})
        assert status == 200
        (run,) = body["runs"]
        tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
        for key in ("genzoo.family", "genzoo.dataset", "genzoo.data_version", "genzoo.feature_space"):
            assert tags[key], key
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        assert params["family"] == "nsgan" and params["dataset"] == "mnist5k"
        metrics = {m["key"] for m in run["data"]["metrics"]}
        assert {"fid_classifier", "precision_classifier", "recall_classifier"} <= metrics
        reg = summary.families["nsgan"].register
        model = get_json(f"{base}/api/2.0/mlflow/registered-models/get?name={reg.name}")["registered_model"]
        assert {"alias": "champion", "version": reg.version} in model["aliases"]
        query = urllib.parse.urlencode({"filter": f"name='{reg.name}'"})
        versions = get_json(f"{base}/api/2.0/mlflow/model-versions/search?{query}")["model_versions"]
        assert [v["run_id"] for v in versions] == [run["info"]["run_id"]]


def test_served_deployment_runs_on_trigger_and_the_second_trigger_is_all_cached(ran, tmp_path):
    import mlflow
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL

    root, summary = ran
    env = {**store_env(root), "PREFECT_API_URL": PREFECT_API_URL.value(), "GENZOO_ROOT": str(root)}
    cmd = [sys.executable, "-m", "flows.cli", "schedule", "--cron", "0 3 * * *", "--name", "test"]

    def deployed() -> bool:
        with get_client(sync_client=True) as client:
            try:
                dep = client.read_deployment_by_name("genzoo-scheduled/test")
            except Exception:  # noqa: BLE001 - not registered yet
                return False
            return dep.global_concurrency_limit is not None and dep.global_concurrency_limit.limit == 1

    uri = f"sqlite:///{root / 'mlflow.db'}"
    store = mlflow.MlflowClient(uri, registry_uri=uri)
    versions = lambda: len(store.search_model_versions("name='mnist5k-nsgan'"))  # noqa: E731
    before = versions()
    with running(cmd, deployed, env, tmp_path / "schedule.log", cwd=root):
        first = run_deployment("genzoo-scheduled/test", timeout=600)
        assert first.state.is_completed(), first.state
        second = run_deployment("genzoo-scheduled/test", timeout=600)
        assert second.state.is_completed(), second.state
        states = second.state.result()["states"]
    assert states and set(states.values()) == {"Cached"}, states
    assert versions() == before  # nothing changed: nothing retrained, nothing registered again
