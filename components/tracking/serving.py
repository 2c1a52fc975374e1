"""The scoring server `genzoo serve` runs: MLflow's own app (mlflow.pyfunc.scoring_server, the one `mlflow models
serve` runs) behind a guard for what MLflow leaves open. MLflow reads a body of any size, parses JSON of any
depth (100,000 nested `[` raise RecursionError: HTTP 500), drops fields it does not know with a log warning, and
puts Python stack traces into some error bodies. The guard answers those requests itself, before MLflow parses
anything, and strips `stack_trace` from every error MLflow returns.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

MODEL_ENV = "GENZOO_SERVE_MODEL"  # the model URI the factory loads
MAX_BODY = 64 * 2**20  # bytes: 1,024 translated 64x64 RGB images as JSON fit, a runaway upload does not
MAX_DEPTH = 16  # JSON nesting: an NHWC batch under "inputs" is 5 deep
FIELDS = ("dataframe_records", "dataframe_split", "instances", "inputs", "params")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def nesting_depth(body: bytes) -> int:
    """How deep `[`/`{` nest in a JSON text, brackets inside strings not counted; no recursion, no parse."""
    flat = np.frombuffer(_STRING.sub(b'""', body), np.uint8)
    step = np.isin(flat, (ord("["), ord("{"))).astype(np.int32) - np.isin(flat, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def refuse(body: bytes, columns: tuple[str, ...] | None) -> str | None:
    """Why a JSON request is refused before MLflow sees it, or None. `columns`: the model's input names, if any."""
    depth = nesting_depth(body)
    if depth > MAX_DEPTH:
        return f"the JSON body nests {depth} levels deep; at most {MAX_DEPTH} are accepted"
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None  # MLflow's own parser says what is wrong with it
    if not isinstance(payload, dict):
        return None
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        return f"unknown field(s) {unknown}: a request holds one of {list(FIELDS[:4])} and optionally 'params'"
    if columns is None:
        return None
    rows = payload.get("dataframe_records")
    split = payload.get("dataframe_split")
    names = set()
    if isinstance(rows, list):
        names = {k for r in rows if isinstance(r, dict) for k in r}
    elif isinstance(split, dict) and isinstance(split.get("columns"), list):
        names = {str(c) for c in split["columns"]}
    extra = sorted(names - set(columns))
    return f"unknown column(s) {extra}: this model takes {list(columns)}" if extra else None


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps({"error_code": code, "message": message}).encode()


class Guard:
    """ASGI middleware: bounded body, bounded nesting, no unknown fields, no stack traces in answers."""

    def __init__(self, app, columns: tuple[str, ...] | None = None, max_body: int = MAX_BODY):
        self.app, self.columns, self.max_body = app, columns, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").decode()
        if declared.isdigit() and int(declared) > self.max_body:
            return await _answer(send, *_error(413, "REQUEST_LIMIT_EXCEEDED", self._too_big(int(declared))))
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                return await _answer(send, *_error(413, "REQUEST_LIMIT_EXCEEDED", self._too_big(size)))
        body = b"".join(chunks)
        if headers.get(b"content-type", b"").split(b";")[0].strip() == b"application/json":
            reason = refuse(body, self.columns)
            if reason:
                return await _answer(send, *_error(400, "INVALID_PARAMETER_VALUE", reason))

        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        return await self.app(scope, replay, _without_stack_traces(send))

    def _too_big(self, size: int) -> str:
        return f"the body has {size} bytes; at most {self.max_body} are accepted"


def _without_stack_traces(send):
    """Wrap `send` so an error answer (status >= 400) that is JSON loses its `stack_trace` field."""
    held: dict = {}
    chunks: list[bytes] = []

    async def wrapped(message):
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held.update(message)
            return
        if message["type"] == "http.response.body" and held:
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = b"".join(chunks)
            try:
                obj = json.loads(body)
                if isinstance(obj, dict) and obj.pop("stack_trace", None) is not None:
                    body = json.dumps(obj).encode()
            except ValueError:
                pass
            headers = [(k, v) for k, v in held.get("headers", []) if k.lower() != b"content-length"]
            await send({**held, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            return await send({"type": "http.response.body", "body": body, "more_body": False})
        return await send(message)

    return wrapped


async def _answer(send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def create_app():
    """uvicorn's factory: the model named by $GENZOO_SERVE_MODEL in MLflow's scoring app, guarded."""
    import mlflow.pyfunc
    from mlflow.pyfunc import scoring_server

    model = mlflow.pyfunc.load_model(os.environ[MODEL_ENV])
    schema = model.metadata.get_input_schema()
    columns = tuple(schema.input_names()) if schema is not None and schema.has_input_names() else None
    return Guard(scoring_server.init(model), columns)
