"""The scoring server `genzoo serve` runs: MLflow's own app (mlflow.pyfunc.scoring_server, the one `mlflow models
serve` runs) behind a guard for what MLflow leaves open. MLflow reads a body of any size, parses JSON of any
depth (100,000 nested `[` raise RecursionError: HTTP 500), drops fields and params it does not know with a log
warning, answers a request without a Content-Type with HTTP 500, decodes no Content-Encoding (a gzip body reaches
its JSON parser as bytes), and puts Python stack traces into some error bodies. The guard answers those requests
itself, before MLflow parses anything, and strips `stack_trace` from every error MLflow returns. Its own checks
run in bounded memory: the nesting depth is one chunked pass over the bytes.
"""

from __future__ import annotations

import asyncio
import json
import os

import numpy as np

MODEL_ENV = "GENZOO_SERVE_MODEL"  # the model URI the factory loads
MAX_BODY = 64 * 2**20  # bytes: 1,024 translated 64x64 RGB images as JSON fit, a runaway upload does not
# a generator's request is a few numbers per row (n, seed, label): 1 MiB holds tens of thousands of rows. Only
# images (a translator's, or an encoder family's {images} rows) need MAX_BODY; a body there costs MLflow's own parse ~20x its size (docs/reliability.md)
SCALAR_MAX_BODY = 2**20
MAX_DEPTH = 16  # JSON nesting: an NHWC batch under "inputs" is 5 deep
FIELDS = ("dataframe_records", "dataframe_split", "instances", "inputs", "params")
CONTENT_TYPES = ("application/json", "text/csv", "application/vnd.apache.parquet")  # what MLflow's app parses
# seconds to wait for the next piece of a body: a request whose Content-Length is larger than what it sends gets
# 408 instead of holding its connection (and the body read so far) forever
READ_TIMEOUT = 30.0
SCAN_CHUNK = 1 << 18  # bytes the depth scan looks at at once: its memory is a few times this, whatever the body


def nesting_depth(body: bytes, chunk: int = SCAN_CHUNK) -> int:
    """How deep `[`/`{` nest in a JSON text, brackets inside strings not counted (a quote after an odd run of
    backslashes is escaped). One pass over `chunk`-byte slices, carrying the string state, the trailing run of
    backslashes and the depth across them: no regex, no parse, no copy of the body."""
    view = memoryview(body)
    depth = deepest = run = 0
    in_string = False
    for start in range(0, len(view), chunk):
        c = np.frombuffer(view[start:start + chunk], np.uint8)
        idx = np.arange(len(c), dtype=np.int64)
        last_plain = np.maximum.accumulate(np.where(c != 92, idx, -1))  # last non-backslash at or before i
        before = np.empty(len(c), np.int64)  # backslashes right before i
        before[0] = run
        before[1:] = np.where(last_plain[:-1] >= 0, idx[:-1] - last_plain[:-1], idx[:-1] + 1 + run)
        quotes = (c == 34) & (before % 2 == 0)
        inside = (np.cumsum(quotes) + in_string) % 2 == 1  # after each byte: inside a string?
        step = ((c == 91) | (c == 123)).astype(np.int64) - ((c == 93) | (c == 125))
        step[inside] = 0
        running = depth + np.cumsum(step)
        deepest, depth = max(deepest, int(running.max())), int(running[-1])
        in_string = bool(inside[-1])
        run = int(len(c) - 1 - last_plain[-1]) if last_plain[-1] >= 0 else len(c) + run
    return deepest


def refuse(body: bytes, columns: tuple[str, ...] | None, params: tuple[str, ...] | None = None) -> str | None:
    """Why a JSON request is refused before MLflow sees it, or None. `columns`: the model's input names, if any;
    `params`: the names of the params its signature declares (None: it declares none)."""
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
    given = payload.get("params")
    if given is not None:
        if not isinstance(given, dict):
            return "'params' must be a JSON object"
        extra = sorted(set(given) - set(params or ()))
        if extra:
            return (f"unknown param(s) {extra}: this model takes {list(params)}" if params
                    else f"unknown param(s) {extra}: this model takes no params")
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
    """ASGI middleware: bounded body, bounded nesting, a content type MLflow parses and no encoding it would not
    decode, no unknown fields, columns or params, no stack traces in answers."""

    def __init__(self, app, columns: tuple[str, ...] | None = None, max_body: int = MAX_BODY,
                 params: tuple[str, ...] | None = None, read_timeout: float = READ_TIMEOUT):
        self.app, self.columns, self.max_body, self.params = app, columns, max_body, params
        self.read_timeout = read_timeout

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        kind = headers.get(b"content-type", b"").split(b";")[0].strip().decode("latin-1").lower()
        if kind not in CONTENT_TYPES:
            said = f"Content-Type {kind!r}" if kind else "no Content-Type"
            return await _answer(send, *_error(415, "INVALID_PARAMETER_VALUE",
                                               f"{said}: send one of {', '.join(CONTENT_TYPES)}"))
        encoding = headers.get(b"content-encoding", b"identity").decode("latin-1").strip().lower()
        if encoding not in ("", "identity"):
            return await _answer(send, *_error(415, "INVALID_PARAMETER_VALUE",
                                               f"Content-Encoding {encoding!r} is not decoded here: send the body "
                                               "uncompressed"))
        declared = headers.get(b"content-length", b"").decode()
        if declared.isdigit() and int(declared) > self.max_body:
            return await _answer(send, *_error(413, "REQUEST_LIMIT_EXCEEDED", self._too_big(int(declared))))
        chunks, size, more = [], 0, True
        while more:
            try:
                message = await asyncio.wait_for(receive(), self.read_timeout)
            except TimeoutError:
                return await _answer(send, *_error(408, "REQUEST_TIMEOUT",
                                                   f"no more of the body came for {self.read_timeout:g} s, after "
                                                   f"{size} bytes (Content-Length: {declared or 'not sent'})"))
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.max_body:
                return await _answer(send, *_error(413, "REQUEST_LIMIT_EXCEEDED", self._too_big(size)))
        body = b"".join(chunks)
        del chunks  # the joined body is the one copy held from here on
        if kind == "application/json":
            reason = refuse(body, self.columns, self.params)
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
    declared = model.metadata.get_params_schema()
    params = tuple(p.name for p in declared.params) if declared is not None else None
    images_in = schema is None or schema.is_tensor_spec() or "images" in (columns or ())  # translate or encode
    max_body = MAX_BODY if images_in else SCALAR_MAX_BODY
    return Guard(scoring_server.init(model), columns, max_body, params=params)


def main(argv: list[str] | None = None) -> int:
    """`python -m components.tracking.serving --host H --port P` (what `genzoo serve` runs): uvicorn with the app
    above. uvicorn drains requests on SIGTERM and then raises the signal again for the handler it found; that
    handler is a clean exit here, so a stopped server ends with status 0, not 143."""
    import argparse
    import signal
    import sys

    import uvicorn

    p = argparse.ArgumentParser(prog="python -m components.tracking.serving")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run("components.tracking.serving:create_app", factory=True, host=args.host, port=args.port,
                access_log=False, workers=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

