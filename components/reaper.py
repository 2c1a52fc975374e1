"""Processes that must not outlive a killed genzoo: Prefect's temporary API server (uvicorn), task-runner
workers and any other process the run started keep running when their parent gets `kill -9`, holding ports,
memory and a database. Each such process inherits a mark in its environment (GENZOO_OWNER=<pid>:<start time>);
a watcher process, forked first and in its own session, waits for the parent to go and then stops every
process that carries the mark, wherever it was reparented to. Linux only (/proc); elsewhere it does nothing."""

from __future__ import annotations

import os
import signal
import sys
import time

from components.processes import PROC, start_time

MARK = "GENZOO_OWNER"


def marked(mark: str) -> dict[int, bytes]:
    """{pid: start time} of the live processes whose environment carries GENZOO_OWNER=mark."""
    needle = f"{MARK}={mark}".encode() + b"\0"
    out = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes() + b"\0"
        except OSError:
            continue
        started = start_time(entry.name)
        if started and (environ.startswith(needle) or b"\0" + needle in environ):
            out[int(entry.name)] = started
    return out


def send(processes: dict[int, bytes], sig: int) -> int:
    """Send `sig` to each of {pid: start time} that still runs (0 sends nothing: a count); how many did."""
    alive = [pid for pid, started in processes.items() if start_time(pid) == started]
    for pid in alive:
        if sig:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
    return len(alive)


def stop(processes: dict[int, bytes], grace: float = 10.0) -> None:
    """SIGTERM each (a server shuts down cleanly), SIGKILL whatever still runs after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        send(processes, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and send(processes, 0):
            time.sleep(0.2)


def watch(parent: int, mark: str, every: float = 0.5) -> None:
    while os.getppid() == parent:  # reparented (to init or a subreaper) once the parent is gone
        time.sleep(every)
    stop(marked(mark))


def start() -> None:
    """Mark this process's future children and fork their watcher. Call it first thing, before threads exist
    and before any child is started. Skipped when Prefect's API is a server of the user's (PREFECT_API_URL)."""
    if not sys.platform.startswith("linux") or not PROC.is_dir() or os.environ.get("PREFECT_API_URL"):
        return
    parent = os.getpid()
    mark = f"{parent}:{(start_time(parent) or b'').decode()}"
    os.environ[MARK] = mark  # inherited by every process started from here on, and by theirs
    if os.fork() == 0:  # the watcher: detached, quiet, never returns to the caller's code
        try:
            # it has the parent's command line, so `pkill -f genzoo` (or a SIGTERM to the group) reaches it
            # too; it must outlive the parent to do its job, and it ends by itself once the marked are gone
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_IGN)
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            watch(parent, mark)
        finally:
            os._exit(0)
