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
    assert nesting_depth(b'["\\\\", [["x"]]]') == 3  # an escaped backslash does not escape the quote after it
    assert nesting_depth(b"[" * 1000) == 1000
    assert nesting_depth(b"") == 0


def test_nesting_depth_is_the_same_whatever_the_scan_chunk():
    """The scan carries its string state, backslash run and depth across chunks: any split gives the true depth."""
    import random

    random.seed(1)

    def doc(d=0):
        r = random.random()
        if d > 6 or r < 0.3:
            return random.choice([1, 'a"[{\\', "\\\\", 'x]}\\"', None, 2.5])
        if r < 0.65:
            return [doc(d + 1) for _ in range(random.randint(0, 3))]
        return {f'{random.choice(["k", "[", "{"])}{i}': doc(d + 1) for i in range(random.randint(0, 3))}

    def depth(o):
        inner = o.values() if isinstance(o, dict) else o if isinstance(o, list) else None
        return 0 if inner is None else 1 + max((depth(x) for x in inner), default=0)

    for _ in range(500):
        o = doc()
        body = json.dumps(o).encode()
        assert {nesting_depth(body, chunk) for chunk in (1, 2, 3, 7, 4096)} == {depth(o)}, body


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


@pytest.mark.parametrize("headers, says", [
    ({"Content-Type": ""}, "no Content-Type"),
    ({"Content-Type": "application/xml"}, "Content-Type 'application/xml'"),
    ({"Content-Type": "application/json", "Content-Encoding": "gzip"}, "Content-Encoding 'gzip'"),
])
def test_a_body_mlflow_cannot_read_as_sent_is_415(client, headers, says):
    r = client.post("/invocations", content=b'{"dataframe_records": [{"n": 1}]}', headers=headers)
    assert r.status_code == 415 and says in r.json()["message"] and "stack_trace" not in r.json(), r.text


def test_unknown_params_are_refused_like_unknown_fields(mlflow_app):
    takes_none = TestClient(Guard(mlflow_app, columns=("n",)))
    r = takes_none.post("/invocations", json={"dataframe_records": [{"n": 1}], "params": {"temperature": 2}})
    message = r.json()["message"]
    assert r.status_code == 400 and "unknown param(s) ['temperature']: this model takes no params" in message
    takes_direction = TestClient(Guard(mlflow_app, columns=("n",), params=("direction",)))
    r = takes_direction.post("/invocations", json={"dataframe_records": [{"n": 1}], "params": {"directon": "AtoB"}})
    assert r.status_code == 400 and "this model takes ['direction']" in r.json()["message"]


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


def test_a_body_shorter_than_its_content_length_gets_408_not_a_wait_forever(mlflow_app):
    """On a real uvicorn server: the client declares 1,000 bytes, sends 20 and waits."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(Guard(mlflow_app, columns=("n",), read_timeout=1.0), host="127.0.0.1",
                                           port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
            conn.sendall(b"POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 1000\r\n\r\n" + b'{"dataframe_records"')
            start = time.monotonic()
            answer = conn.recv(4096).decode()
            waited = time.monotonic() - start
        assert answer.startswith("HTTP/1.1 408"), answer
        assert "no more of the body came for 1 s, after 20 bytes (Content-Length: 1000)" in answer
        assert waited < 8  # the timeout, not the client, ended it
        r = TestClient(Guard(mlflow_app, columns=("n",), read_timeout=1.0)).post(
            "/invocations", json={"dataframe_records": [{"n": 3}]})
        assert r.status_code == 200  # a whole body is not held up
    finally:
        server.should_exit = True
        thread.join(10)
