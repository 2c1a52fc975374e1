"""`kill -9` of a genzoo run leaves no Prefect temporary server (uvicorn) behind."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components import reaper
from tests.flows.conftest import make_project


def _wait_for(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    return None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watcher reads /proc")
def test_a_killed_run_takes_its_temporary_prefect_server_with_it(tmp_path, mnist5k_data):
    root = make_project(tmp_path, mnist5k_data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env.update(GENZOO_ROOT=str(root), PREFECT_HOME=str(tmp_path / "prefect"),
               PYTHONPATH=str(Path(__file__).resolve().parents[1]))  # this checkout's code, whatever is installed
    proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    servers = {}
    try:
        servers = _wait_for(lambda: reaper._children(proc.pid, b"uvicorn"), timeout=180) or {}
        assert servers, "the run never started Prefect's temporary server"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert _wait_for(lambda: all(reaper._start_time(pid) is None for pid in servers), timeout=30), \
            f"uvicorn {sorted(servers)} outlived its killed parent"
    finally:
        proc.kill()
        for pid, started in servers.items():  # never leave one behind, whatever failed above
            if reaper._start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)
