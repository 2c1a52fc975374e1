"""`kill -9` of a genzoo run leaves no Prefect temporary server (uvicorn) behind, even after a `pkill -f genzoo`
has sent its watcher SIGTERM."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from components import processes, reaper
from tests.flows.conftest import make_project


def _children(pid: int, marker: bytes) -> dict[int, bytes]:
    """{pid: start time} of `pid`'s live children whose command line contains `marker`."""
    out = {}
    for entry in processes.PROC.iterdir():
        fields = processes.stat_fields(entry.name) if entry.name.isdigit() else None
        try:
            if fields and int(fields[1]) == pid and marker in (entry / "cmdline").read_bytes():
                out[int(entry.name)] = fields[19]
        except (OSError, ValueError):
            continue
    return out


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
        servers = _wait_for(lambda: _children(proc.pid, b"uvicorn"), timeout=180) or {}
        assert servers, "the run never started Prefect's temporary server"
        watchers = _children(proc.pid, b"flows.cli")  # forked: it has the run's command line
        assert watchers, "the run forked no watcher"
        for pid in watchers:  # what `pkill -f genzoo` sends it: it must not die of it
            os.kill(pid, signal.SIGTERM)
        proc.send_signal(signal.SIGKILL)  # at once: the watcher must not need to have seen the server start
        proc.wait()
        assert _wait_for(lambda: all(processes.start_time(pid) != s for pid, s in servers.items()), timeout=30), \
            f"uvicorn {sorted(servers)} outlived its killed parent"
    finally:
        proc.kill()
        for pid, started in servers.items():  # never leave one behind, whatever failed above
            if processes.start_time(pid) == started:
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the watcher reads /proc")
def test_stop_ends_every_marked_process_wherever_it_was_reparented_even_one_that_ignores_sigterm(tmp_path):
    mark = f"test:{os.getpid()}:{time.monotonic_ns()}"
    env = {**os.environ, reaper.MARK: mark}
    # the shell exits at once: its children are orphans, one of them deaf to SIGTERM
    subprocess.run(["bash", "-c", "sleep 300 & (trap '' TERM; sleep 300) & exit 0"], env=env, check=True)
    found = _wait_for(lambda: (lambda m: m if len(m) >= 2 else None)(reaper.marked(mark)), timeout=10)
    assert found, "the marked orphans were not found"
    assert reaper.marked(f"other:{mark}") == {}  # another run's mark finds none of them
    reaper.stop(found, grace=1.0)
    assert all(processes.start_time(pid) != started for pid, started in found.items())
