"""A full disk, said in one line. Where the filesystem fills up, the error surfaces as an OSError (ENOSPC, or
numpy's "Not enough free space"), a SQLite "database or disk is full" under SQLAlchemy under MLflow, or torch's
"file write failed"; each becomes errors.OutOfSpace, naming the path and its free space, instead of a page of
tracebacks. Writes are atomic (files.py), so what was stored before stays whole."""

from __future__ import annotations

import contextlib
import errno
import re
import shutil
from pathlib import Path
from typing import Iterator

from components.errors import OutOfSpace

FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)
FULL_MESSAGES = ("database or disk is full", "not enough free space to write", "no space left on device")
SHORT_WRITE = re.compile(r"^\d+ requested and \d+ written$")  # numpy's tofile when the disk fills mid-array
# torch.save's writer says only "file write failed": a full disk when little space is left where it wrote
VAGUE_MESSAGES = ("file write failed",)
LOW = 64 * 2**20


def chain(exc: BaseException | None):
    """`exc` and the exceptions it was raised from or during."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def free_bytes(path: Path | str) -> int | None:
    """Free bytes on the filesystem holding `path` (its nearest existing parent); None if unknown."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return shutil.disk_usage(p).free
    except OSError:
        return None


def human(n: int | None) -> str:
    """Bytes as a person reads them: 2.6 MiB."""
    if n is None:
        return "unknown space"
    size = float(n)
    for unit in ("bytes", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _says_full(e: BaseException, where: Path | str) -> bool:
    if isinstance(e, OutOfSpace) or (isinstance(e, OSError) and e.errno in FULL_ERRNOS):
        return True
    text = str(e).lower()
    return any(m in text for m in FULL_MESSAGES) or bool(SHORT_WRITE.match(text)) or \
        (any(m in text for m in VAGUE_MESSAGES) and (free_bytes(where) or 0) < LOW)


def full_disk(exc: BaseException | None, where: Path | str) -> BaseException | None:
    """The exception in `exc`'s chain that says the disk is full (one naming its file when there is one), or
    None. `where`: what was being written."""
    found = [e for e in chain(exc) if _says_full(e, where)]
    return next((e for e in found if isinstance(e, OutOfSpace) or getattr(e, "filename", None)
                 or getattr(e, "filename2", None)),
                found[0] if found else None)


def out_of_space(exc: BaseException | None, where: Path | str) -> OutOfSpace | None:
    """errors.OutOfSpace for a full disk anywhere in `exc`'s chain (naming the file the OS names, else
    `where`), or None when `exc` is something else."""
    cause = full_disk(exc, where)
    if cause is None:
        return None
    if isinstance(cause, OutOfSpace):
        return cause
    path = getattr(cause, "filename2", None) or getattr(cause, "filename", None)  # a copy's destination first
    if path is None and "database or disk is full" in str(cause).lower():
        return OutOfSpace(f"an SQLite database (the MLflow or Prefect store) under {where}", human(free_bytes(where)))
    return OutOfSpace(str(path or where), human(free_bytes(path or where)))


@contextlib.contextmanager
def writing(path: Path | str) -> Iterator[None]:
    """A full disk while the block writes `path` becomes errors.OutOfSpace naming `path`."""
    try:
        yield
    except OutOfSpace:
        raise
    except Exception as exc:
        if full_disk(exc, path) is None:
            raise
        raise OutOfSpace(str(path), human(free_bytes(path))) from exc


# what a run needs before anything starts: Prefect's temporary server creates its database (~5 MB) and MLflow its
# store; with less, the server fails to start after half a minute of retries and a page of tracebacks
MIN_FREE = 32 * 2**20


def require_free(root: Path | str, need: int = MIN_FREE) -> None:
    """errors.OutOfSpace, before any server or run starts, when the project's filesystem has under `need` free."""
    free = free_bytes(root)
    if free is not None and free < need:
        raise OutOfSpace(f"{root} (a run needs {human(need)} to start its stores)", human(free))
