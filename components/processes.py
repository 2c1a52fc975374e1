"""Which process is which, read from Linux's /proc: a process is named by host:pid:start time, since a pid alone
is reused. Elsewhere (no /proc) nothing is ever judged gone."""

from __future__ import annotations

import os
import socket
from pathlib import Path

PROC = Path("/proc")


def stat_fields(pid: int | str) -> list[bytes] | None:
    """/proc/<pid>/stat after the command name (state, ppid, ...; [19] is the start time), or None when it cannot
    be read."""
    try:
        stat = (PROC / str(pid) / "stat").read_bytes()
        fields = stat[stat.rindex(b")") + 2:].split()
        return fields if len(fields) > 19 else None
    except (OSError, ValueError):
        return None


def start_time(pid: int | str) -> bytes | None:
    """The start time of a live process (None once it is gone or a zombie: a zombie holds nothing but its pid)."""
    fields = stat_fields(pid)
    return fields[19] if fields and fields[0] != b"Z" else None


def identity(pid: int | str = "self") -> str:
    """host:pid:start time of a process."""
    started = start_time(pid)
    number = os.getpid() if pid == "self" else int(pid)
    return f"{socket.gethostname()}:{number}:{started.decode() if started else '0'}"


def gone(ident: str) -> bool:
    """True when `ident` (an identity() on this host) no longer runs; other hosts' processes are never judged."""
    host, _, rest = ident.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    fields = stat_fields(pid)
    if fields is None:
        return False
    return fields[0] == b"Z" or (started not in ("", "0") and fields[19].decode() != started)
