"""A study told to stop, by Ctrl-C (SIGINT to its process group, as a terminal sends it) or by SIGTERM to the
command alone (a scheduler, `kill`), stops its running trials instead of training them to the end: each trial's
MLflow run ends FAILED short of its steps, and the one temporary Prefect server (shared by the pool's workers,
in a session of its own so that Ctrl-C does not take it down under the run) is gone with the command."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from components import processes
from tests.conftest import TINY_PARAMS
from tests.flows.conftest import command_env, make_project
from tests.processes import as_from_a_terminal

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

STEPS = 50_000  # far more than a trial trains in this test's lifetime: a trial that finished was not stopped
STUDY = {"name": "stop", "datasets": ["mnist5k"], "families": ["nsgan"], "budget": 1, "seeds": 1,
         "epochs": STEPS * 32 / 4000, "checkpoints": 2, "checkpoint_samples": 100, "eval": {"num_samples": 100},
         "task_runner": "processes", "workers": 1, "threads_per_trial": 1}


def _trial_runs(root: Path) -> list:
    uri = f"sqlite:///{root / 'mlflow.db'}"
    try:
        client = mlflow.MlflowClient(uri)
        exps = [e.experiment_id for e in client.search_experiments()]
        return [(r, client.get_metric_history(r.info.run_id, "train/d_loss"))
                for r in client.search_runs(exps, "tags.`genzoo.stage` = 'study-trial'")]
    except Exception:  # noqa: BLE001 - the store is created by the run under test; not there yet
        return []


def _servers(pid: int) -> list[int]:
    """Prefect temporary servers (uvicorn) that `pid` or any of its descendants started."""
    found, frontier = [], {pid}
    while frontier:
        children = set()
        for entry in processes.PROC.iterdir():
            fields = processes.stat_fields(entry.name) if entry.name.isdigit() else None
            if fields and int(fields[1]) in frontier:
                children.add(int(entry.name))
                try:
                    if b"uvicorn" in (entry / "cmdline").read_bytes():
                        found.append(int(entry.name))
                except OSError:
                    pass
        frontier = children
    return found


def _stop_once_training(root: Path, env: dict, log: Path, how: str, after: int) -> tuple[int, str, int]:
    """Start `genzoo study`, wait until its trial logs a step past `after`, stop it `how`; (exit status, output,
    server pid)."""
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "study"], cwd=root, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=as_from_a_terminal)
    try:
        deadline = time.monotonic() + 300
        while not any(history and history[-1].step > after for _, history in _trial_runs(root)):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        servers = _servers(proc.pid)
        assert len(servers) == 1, f"one temporary Prefect server for the command and its workers, not {servers}"
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        try:
            rc = proc.wait(timeout=240)
        except subprocess.TimeoutExpired:  # say where it hangs: the log and each process of the group, as ps sees it
            ps = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:32,etime,args", "-g", str(proc.pid)],
                                capture_output=True, text=True, check=False).stdout
            pytest.fail(f"{how}: still running 240 s after the signal\n{ps}\n{log.read_text()[-6000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return rc, log.read_text(), servers[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_stopped_study_stops_its_running_trials_instead_of_finishing_them(tmp_path, mnist5k_data):
    root = make_project(tmp_path, mnist5k_data, {**TINY_PARAMS, "study": STUDY})
    env = command_env(root)
    last = -1
    for how in ("ctrl-c", "sigterm"):  # the second run finds the data stages cached and resumes the same trial
        rc, text, server = _stop_once_training(root, env, tmp_path / f"{how}.log", how, last)
        if how == "ctrl-c":
            assert rc == 130 and "genzoo: interrupted" in text, text[-3000:]
        else:
            assert rc != 0, text[-3000:]
        ((run, history),) = _trial_runs(root)
        assert run.info.status == "FAILED", f"{how}: the trial ran on to {run.info.status}\n{text[-4000:]}"
        assert history[-1].step < STEPS
        assert f"stopped by SIG{'INT' if how == 'ctrl-c' else 'TERM'}" in text  # it ended through its own except
        # a SIGTERM'd command is ended by Prefect with SIGTERM again (no exit handlers): the reaper stops the server
        deadline = time.monotonic() + 30
        while processes.start_time(server) is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert processes.start_time(server) is None, f"{how}: the temporary Prefect server outlived the command"
        last = history[-1].step


def _hold_a_run(root: str) -> None:
    """A trial that cannot end its own run: it opens one, then ignores the stop (as a worker stuck in a write
    would) until the pool kills it."""
    from components.tracking import store as tstore

    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    client = tstore.client(Path(root))
    run = client.create_run(tstore.experiment_id(client, Path(root), "held"),
                            tags={tstore.TAG_WORKER: tstore.worker_id()})
    (Path(root) / "run_id").write_text(run.info.run_id)
    time.sleep(600)


def test_a_trial_killed_after_the_grace_leaves_no_run_marked_running(prefect_api, tmp_path, monkeypatch):
    from prefect import flow, task

    from components.tracking import store as tstore
    from flows import task_runners

    monkeypatch.setattr(task_runners, "STOP_GRACE_S", 1.0)
    hold = task(_hold_a_run)

    @flow(task_runner=task_runners.StoppingProcessPool(max_workers=1, root=tmp_path))
    def stopped():
        hold.submit(str(tmp_path))
        deadline = time.monotonic() + 120
        while not (tmp_path / "run_id").exists():
            assert time.monotonic() < deadline, "the worker never opened its run"
            time.sleep(0.2)
        raise KeyboardInterrupt  # as Ctrl-C lands in the flow: Prefect's engine lets it through the pool's exit

    with pytest.raises(KeyboardInterrupt):
        stopped()
    run = tstore.client(tmp_path).get_run((tmp_path / "run_id").read_text())
    worker = run.data.tags[tstore.TAG_WORKER]
    assert run.info.status == "FAILED", f"worker {worker}, gone: {processes.gone(worker)}"
    assert "ended without finishing" in run.data.tags["genzoo.failed_reason"]
