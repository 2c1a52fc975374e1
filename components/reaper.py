"""Children that must not outlive a killed genzoo: Prefect's temporary API server (uvicorn) is a child process
that keeps running when its parent gets `kill -9`, holding a port and a database. A watcher process, started
first and in its own session, notes the parent's uvicorn children while the parent lives and stops them once
it is gone. Linux only (/proc); elsewhere it does nothing."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

PROC = Path("/proc")


def stat_fields(pid: int | str) -> list[bytes] | None:
    """/proc/<pid>/stat after the command name (state, ppid, ...; [19] is the start time, which tells a reused
    pid apart), or None when it cannot be read."""
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
        fields = stat[stat.rindex(b")") + 2:].split()
        return fields if len(fields) > 19 else None
    except (OSError, ValueError):
        return None


def _children(pid: int, marker: bytes) -> dict[int, bytes]:
    """{child pid: its start time} of `pid`'s children whose command line contains `marker`."""
    out = {}
    for entry in PROC.iterdir():
        fields = stat_fields(entry.name) if entry.name.isdigit() else None
        try:
            if fields and int(fields[1]) == pid and marker in (entry / "cmdline").read_bytes():
                out[int(entry.name)] = fields[19]
        except (OSError, ValueError):
            continue
    return out


def _start_time(pid: int) -> bytes | None:
    fields = stat_fields(pid)
    return fields[19] if fields else None


def watch(parent: int, marker: bytes = b"uvicorn", every: float = 1.0) -> None:
    seen: dict[int, bytes] = {}
    while os.getppid() == parent:  # reparented (to init or a subreaper) once the parent is gone
        seen.update(_children(parent, marker))
        time.sleep(every)
    for pid, started in seen.items():
        if _start_time(pid) == started:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass


def start() -> None:
    """Fork the watcher for this process when Prefect will start a temporary server (no PREFECT_API_URL). Call it
    first thing, before threads exist. It runs until this process is gone, then stops what it left behind."""
    if not sys.platform.startswith("linux") or not PROC.is_dir() or os.environ.get("PREFECT_API_URL"):
        return
    parent = os.getpid()
    if os.fork() == 0:  # the watcher: detached, quiet, never returns to the caller's code
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDWR)
            for fd in (0, 1, 2):
                os.dup2(devnull, fd)
            watch(parent)
        finally:
            os._exit(0)
