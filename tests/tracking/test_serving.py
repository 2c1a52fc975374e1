"""The request guard in front of MLflow's scoring app: bodies and nesting are bounded before anything is parsed,
unknown fields are refused, and no error answer carries a stack trace; valid requests pass through unchanged."""

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.pyfunc import scoring_server
from starlette.testclient import TestClient

from components.tracking.serving import MAX_DEPTH, Guard, nesting_depth


class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input: pd.DataFrame, params=None):
        return model_input["n"].to_numpy() * 2


@pytest.fixture(scope="module")
def mlflow_app(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "echo"
    mlflow.pyfunc.save_model(path, python_model=Echo(), input_example=pd.DataFrame({"n": [1]}))
    return scoring_server.init(mlflow.pyfunc.load_model(str(path)))


@pytest.fixture(scope="module")
def client(mlflow_app):
    return TestClient(Guard(mlflow_app, columns=("n",), max_body=4096))


def test_nesting_depth_counts_brackets_outside_strings_only():
    assert nesting_depth(b'{"a": [[1, 2], {"b": "[[[[{{"}]}') == 3
    assert nesting_depth(b'"\\"[[["') == 0  # an escaped quote does not end the string
    assert nesting_depth(b"[" * 1000) == 1000
    assert nesting_depth(b"") == 0


def test_a_valid_request_passes_through_unchanged(client):
    r = client.post("/invocations", json={"dataframe_records": [{"n": 3}]})
    assert r.status_code == 200 and r.json() == {"predictions": [6]}
    assert client.get("/ping").status_code == 200


@pytest.mark.parametrize("body, status, says", [
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), 400, "nests 17 levels"),
    (json.dumps({"dataframe_records": [{"n": 1}], "extra": 1}).encode(), 400, "unknown field(s) ['extra']"),
    (json.dumps({"dataframe_records": [{"n": 1, "m": 2}]}).encode(), 400, "unknown column(s) ['m']"),
    (json.dumps({"dataframe_split": {"columns": ["n", "m"], "data": [[1, 2]]}}).encode(), 400, "['m']"),
    (b'{"dataframe_records": [' + b'{"n": 1}, ' * 600 + b'{"n": 1}]}', 413, "at most 4096"),
])
def test_refused_before_mlflow_parses(client, body, status, says):
    r = client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status and says in r.json()["message"], r.text


def test_a_streamed_body_over_the_limit_is_refused_without_a_declared_length(client):
    r = client.post("/invocations", content=iter([b'{"dataframe_records": [', b" " * 5000, b"]}"]),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_error_answers_carry_no_stack_trace(client, mlflow_app):
    bad_parquet = {"content": np.zeros(8, np.uint8).tobytes(),
                   "headers": {"Content-Type": "application/vnd.apache.parquet"}}
    unguarded = TestClient(mlflow_app).post("/invocations", **bad_parquet)
    assert unguarded.status_code == 400 and "Traceback" in unguarded.json()["stack_trace"]  # MLflow alone
    r = client.post("/invocations", **bad_parquet)
    assert r.status_code == 400 and "Parquet" in r.json()["message"] and "stack_trace" not in r.json()
    assert int(r.headers["content-length"]) == len(r.content)
