"""The task runner a study's trials go to (`study.task_runner`), and a process pool that stops when told to.

Prefect's ProcessPoolTaskRunner shuts down with `cancel_futures=True, wait=True`: on Ctrl-C or SIGTERM the flow
ends, but the pool waits for every running trial to finish training first, so `genzoo study` stayed alive for
minutes after it was told to stop. A trial stopped mid-way loses nothing that a `kill -9` would not: its
checkpoints are atomic and written after its scores, and a rerun resumes it from the last one.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from prefect.task_runners import ProcessPoolTaskRunner

from components import reaper, stop
from components.processes import identity, start_time
from components.errors import ConfigError, Interrupted, first_line

log = logging.getLogger(__name__)

STOP_GRACE_S = 15.0  # for a trial told SIGTERM to end between two steps; then its worker gets SIGKILL


class StoppingProcessPool(ProcessPoolTaskRunner):
    """Prefect's process pool, except that a flow leaving by an exception stops the running trials instead of
    waiting for them: each worker gets one SIGTERM, which `interruptible` turns into an exception in its trial
    (the trial's own `except` marks its MLflow run FAILED), queued trials are cancelled, and once the trials
    have ended (or STOP_GRACE_S seconds have passed) a worker still there gets SIGKILL: by then it holds
    nothing. A normal exit waits for the trials, as Prefect's does."""

    def __init__(self, max_workers: int | None = None, root: Path | None = None):
        super().__init__(max_workers=max_workers)
        self.root = root  # the project whose MLflow store the trials write: swept for their runs after a stop

    def duplicate(self) -> StoppingProcessPool:  # Prefect copies a flow's runner through this (it knows only
        copy = super().duplicate()                 # max_workers)
        copy.root = self.root
        return copy

    def __enter__(self):
        self._submitted = []
        return super().__enter__()

    def submit(self, *args, **kwargs):
        future = super().submit(*args, **kwargs)
        self._submitted.append(future)
        return future

    def __exit__(self, exc_type, exc_value, traceback) -> None:
        executor = self._executor
        stopped = self._stop_workers(executor) if exc_type is not None and executor is not None else set()
        super().__exit__(exc_type, exc_value, traceback)
        if stopped and self.root is not None:
            _fail_runs_of(self.root, stopped)

    def _stop_workers(self, executor: ProcessPoolExecutor) -> set[str]:
        """SIGTERM, cancel the queue, wait out the grace, SIGKILL; the stopped workers' identities
        (host:pid:start, as their runs' genzoo.worker tag names them)."""
        # the stdlib gives no public handle on a pool's worker processes; _processes is {pid: Process}
        workers = {pid: started for pid in list(executor._processes) if (started := start_time(pid))}
        stopped = {identity(pid) for pid in workers}
        reaper.send(workers, signal.SIGTERM)
        executor.shutdown(wait=False, cancel_futures=True)  # the queued trials never start
        deadline = time.monotonic() + STOP_GRACE_S
        for future in self._submitted:
            with contextlib.suppress(Exception):  # a cancelled one raises; its outcome is not ours to judge
                future.wait(timeout=max(0.0, deadline - time.monotonic()))
        reaper.send(workers, signal.SIGKILL)
        return stopped


def _fail_runs_of(root: Path, stopped: set[str]) -> None:
    """A trial that could not mark its own run FAILED (killed after the grace, or its write refused) leaves it
    RUNNING: its worker is stopped, so the run is marked now, not at the next start, and the UI never shows it
    running. By identity, not by looking whether the process is gone: a killed one lingers while it is freed."""
    from components.tracking import store as tstore

    try:
        for run_id in tstore.fail_orphans(root, stopped):
            log.warning("MLflow run %s of a stopped trial marked FAILED", run_id)
    except Exception as exc:  # noqa: BLE001 - the stop, not this, is what the command reports; the next start sweeps
        log.warning("stopped trials' MLflow runs not swept: %s", first_line(exc))


class Stopped(KeyboardInterrupt):
    """The interrupt `interruptible` raises: a BaseException, as Ctrl-C's, so that no `except Exception` on the
    way swallows it and trains on."""


@contextlib.contextmanager
def interruptible():
    """Within it, the first SIGTERM or SIGINT raises Stopped where the code runs, as Ctrl-C does by default, so a
    pool worker's trial ends through its own `except` (MLflow run FAILED, temporary files removed) instead of
    the process vanishing mid-step; later ones are ignored so that they cannot cut that cleanup short (Ctrl-C
    reaches the workers and then the pool's SIGTERM does). It leaves as Interrupted, an ordinary exception:
    Prefect's pool forwards only those, and a BaseException from a worker kills the pool's manager thread, after
    which the pool never reports a trial again. A task in a thread (threads, Dask) is left as it is: only a
    process's main thread can take a signal. A signal the process was started ignoring (`nohup`, `cmd &` in a
    script) stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = [sig for sig in (signal.SIGTERM, signal.SIGINT) if signal.getsignal(sig) is not signal.SIG_IGN]

    def on_signal(signum, frame):
        for sig in signals:
            signal.signal(sig, signal.SIG_IGN)
        stop.record(signal.Signals(signum).name)  # what the loop checks each step if this raise is swallowed
        raise Stopped(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, on_signal) for sig in signals}
    try:
        yield
    except Stopped as exc:
        raise Interrupted(f"stopped by {exc} before it finished; a rerun resumes it from its last checkpoint") \
            from exc
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def task_runner(scfg, root: Path | None = None):
    """The task runner named by study.task_runner; Dask and Ray come from their Prefect integrations. `root`: the
    project whose trials' runs a stopped process pool marks FAILED."""
    kind, workers, address = scfg.task_runner, scfg.workers, scfg.address
    if kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    if kind == "processes":
        return StoppingProcessPool(max_workers=workers, root=root)
    if kind in ("dask", "ray"):
        try:
            if kind == "dask":
                from prefect_dask import DaskTaskRunner

                return DaskTaskRunner(address=address) if address else DaskTaskRunner(
                    cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
            from prefect_ray import RayTaskRunner

            return RayTaskRunner(address=address) if address else RayTaskRunner()
        except ImportError:
            raise ConfigError(f"study.task_runner={kind}: pip install prefect-{kind}") from None
    raise ConfigError(f"study.task_runner={kind!r}: expected threads, processes, dask or ray")
