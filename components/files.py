"""Writing files so that concurrent runs and a `kill -9` never leave a half-written or mixed-up one: atomic
replacement through a temporary file unique to the writer, and advisory locks (fcntl) for what must happen one at
a time in a project (computing one stage key, materialising data/, a registry decision)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from components import disk


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """`write(tmp)` fills a temporary file beside `path`, which then replaces `path` in one step."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with disk.writing(path):
            write(Path(tmp))
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def project_lock(root: Path, name: str) -> Path:
    """The lock file named `name` of the project at `root` (.genzoo/locks/<name>.lock)."""
    from components import defaults

    return Path(root) / defaults.STATE_DIR / "locks" / f"{name}.lock"


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `lock_file` (created if needed); released on exit, and by the kernel
    when the process dies, so a killed run never leaves a stale lock."""
    lock_file = Path(lock_file)
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
