"""The one cache of the project: `key -> stored result, or compute it`, for pipeline stages and study trials.

A result is stored in a marker file beside its outputs, written last and atomically, together with the key it
was computed under. Paths inside the project are stored relative to it (`portable`), so a moved or copied
project finds its own results and never the original folder's. It counts only while the key matches and its
files and MLflow run still exist; Prefect's task cache uses the same keys (flows/pipeline.py) and is refreshed
whenever this says the outputs are gone.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Callable

from components.files import atomic_write_text, locked, project_lock

log = logging.getLogger(__name__)
PROJECT = "<project>"  # stands for the project folder in stored results


def _swap(obj: Any, old: str, new: str) -> Any:
    pattern = re.compile(re.escape(old) + r"(?=/|$)")

    def walk(o: Any) -> Any:
        if isinstance(o, str):
            return pattern.sub(lambda _: new, o)
        if isinstance(o, dict):
            return {k: walk(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [walk(v) for v in o]
        return o

    return walk(obj)


def portable(result: Any, root: Path) -> Any:
    """`result` with the project folder written as <project> wherever it starts a path (file URIs too)."""
    return _swap(result, str(Path(root).resolve()), PROJECT)


def local(result: Any, root: Path) -> Any:
    """The inverse of `portable`, for the project at `root`."""
    return _swap(result, PROJECT, str(Path(root).resolve()))


def prefect_key(key: str, root: Path) -> str:
    """`key` as Prefect's task cache should hold it. That cache is shared by every project on the machine (one
    server, one result store); two projects with the same data and params have the same keys, and one must never
    receive the other's MLflow run ids. So it names the project folder too: a moved project misses it and
    finds its own marker instead."""
    import hashlib

    return f"{key}-{hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:8]}"


def read(marker: Path, key: str, root: Path, decode: Callable[[dict], Any] | None = None) -> Any:
    """The result stored in `marker` if it was written under `key` and its files and MLflow run still exist;
    `decode` turns the stored dict into its typed result (None: it does not fit, so it is recomputed)."""
    from components.tracking.store import run_exists

    if not marker.exists():
        return None
    try:
        saved = json.loads(marker.read_text())
    except json.JSONDecodeError:
        return None
    if saved.get("key") != key:
        return None
    result = local(saved["result"], root)
    if not all(Path(p).exists() for p in result.get("files", [])):
        return None
    if result.get("run_id") and not run_exists(root, result["run_id"]):
        return None
    return result if decode is None else decode(result)


def write(marker: Path, key: str, result: dict, root: Path) -> None:
    """`result`: JSON-able, with the paths that must stay under "files" and its MLflow run under "run_id"."""
    stored = portable(json.loads(json.dumps(result, default=str)), root)
    atomic_write_text(marker, json.dumps({"key": key, "result": stored}, indent=2) + "\n")


def cached(marker: Path, key: str, root: Path, compute: Callable[[], Any], *, force: bool = False,
           store: bool = True, encode: Callable[[Any], dict] | None = None,
           decode: Callable[[dict], Any] | None = None) -> Any:
    """The stored result for `key`, or `compute()` stored under it. One key is computed by one process at a time
    (a lock per key): a second identical run waits and then finds the result. While computing, no marker
    vouches for the outputs being rewritten. `store=False` (another rank of a torchrun job) computes only.
    `encode`/`decode`: a typed result to the stored dict and back (pipeline/results.py)."""
    saved = None if force else read(marker, key, root, decode)
    if saved is not None:
        log.info("%s: up to date", marker.parent)
        return saved
    if not store:
        return compute()
    with locked(project_lock(root, key)):
        saved = None if force else read(marker, key, root, decode)  # computed by another run while it waited
        if saved is not None:
            return saved
        marker.unlink(missing_ok=True)
        marker.parent.mkdir(parents=True, exist_ok=True)
        result = compute()
        write(marker, key, result if encode is None else encode(result), root)
    return result
