"""A project folder that was moved or copied keeps working on its own store. MLflow's SQLite store records
absolute artifact locations (experiments, runs, logged models, model versions), so a copy would read and write
the original folder's artifacts. The first client of a moved store rewrites every location under the old
project folder to the same place under the new one, in one transaction; the original is never touched."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from components import defaults
from components.files import locked, project_lock

log = logging.getLogger(__name__)
_done: set[Path] = set()  # stores this process has checked


def recorded_root(con: sqlite3.Connection) -> Path | None:
    """The project folder the store's experiments were created in (their artifacts live in <it>/mlartifacts)."""
    marker = f"/{defaults.MLFLOW_ARTIFACTS}/"
    for (location,) in con.execute("SELECT artifact_location FROM experiments"):
        path = unquote(urlparse(location).path) if location and location.startswith("file:") else location
        if path and marker in path:
            return Path(path[: path.rindex(marker)])
    return None


def _text_columns(con: sqlite3.Connection) -> list[tuple[str, str]]:
    out = []
    for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        for _, column, kind, *_ in con.execute(f'PRAGMA table_info("{table}")'):
            if any(t in kind.upper() for t in ("CHAR", "TEXT", "CLOB")):
                out.append((table, column))
    return out


def relocate(root: Path) -> Path | None:
    """Point the embedded store at `root` if it was created in another folder; returns that folder, if any."""
    root = Path(root).resolve()
    db = root / defaults.MLFLOW_DB
    if root in _done or not db.exists():
        return None
    with locked(project_lock(root, "mlflow-store")):
        con = sqlite3.connect(db, timeout=60)
        try:
            old = recorded_root(con)
            if old is None or old == root or (old.exists() and old.resolve() == root):
                _done.add(root)
                return None
            pairs = [(f"{old}/", f"{root}/"), (f"{old.as_uri()}/", f"{root.as_uri()}/")]
            with con:  # one transaction: all locations move, or none
                for table, column in _text_columns(con):
                    for before, after in pairs:
                        con.execute(f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                                    f'WHERE substr("{column}", 1, ?) = ?',
                                    (after, len(before) + 1, len(before), before))
        finally:
            con.close()
    _done.add(root)
    log.warning("%s was made in %s: its artifact locations now point into %s", db, old, root)
    return old
