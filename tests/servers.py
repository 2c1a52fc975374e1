"""Start a real server process on a free loopback port and wait until it answers; stop it afterwards."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.error
import urllib.request


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(cmd: list[str], ready, env: dict, log_path, timeout: float = 180, cwd=None):
    """`ready`: a URL that answers 200 once the server is up, or a callable that returns True then."""
    check = ready if callable(ready) else (lambda: _answers(ready))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"{cmd[:4]} exited with {proc.returncode}: {open(log_path).read()[-2000:]}")
                if check():
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{cmd[:4]} not ready in {timeout} s: {open(log_path).read()[-2000:]}")
                time.sleep(0.5)
            yield proc
        finally:
            import os
            import signal

            if proc.poll() is None:  # a test may have stopped it already, and checked how
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def post_json(url: str, body: dict, timeout: float = 60) -> tuple[int, dict]:
    import json

    return post_raw(url, json.dumps(body).encode(), timeout=timeout)


def post_raw(url: str, data: bytes, content_type: str = "application/json", timeout: float = 60) -> tuple[int, dict]:
    import json

    req = urllib.request.Request(url, data=data, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def get_json(url: str, timeout: float = 30) -> dict:
    import json

    with urllib.request.urlopen(url, timeout=timeout) as r:
        return json.loads(r.read())
