"""DVC and the data: run the dvc command, compute the md5 DVC gives data/, and keep data.dvc's pin in step."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

from components.data.store import feed_file

log = logging.getLogger(__name__)


def dvc_command() -> list[str]:
    exe = Path(sys.executable).with_name("dvc")
    return [str(exe)] if exe.exists() else [shutil.which("dvc") or "dvc"]


def dvc(root: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*dvc_command(), *args], cwd=root, capture_output=True, text=True, timeout=timeout)


def dvc_dir_md5(path: Path) -> str:
    """The md5 DVC gives a directory: md5 of the sorted JSON list of its files' {md5, relpath}, plus '.dir'."""
    entries = sorted(
        ({"md5": feed_file(hashlib.md5(), p).hexdigest(), "relpath": p.relative_to(path).as_posix()}
         for p in path.rglob("*") if p.is_file()),
        key=lambda e: e["relpath"],
    )
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def pinned_md5(root: Path) -> str | None:
    """The md5 data.dvc pins for data/, or None without data.dvc. Raises yaml.YAMLError if it is unreadable."""
    import yaml

    path = root / "data.dvc"
    if not path.exists():
        return None
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs") or [{}]
    return outs[0].get("md5")


_state_memo: dict[tuple, str] = {}


def data_md5(data_dir: Path) -> str | None:
    """dvc_dir_md5 of data/, memoised on the files' (path, size, mtime): tags are written for every stage."""
    if not data_dir.is_dir():
        return None
    files = sorted((str(p), st.st_size, st.st_mtime_ns) for p in data_dir.rglob("*") if p.is_file()
                   for st in [p.stat()])
    memo = (str(data_dir), tuple(files))
    if memo not in _state_memo:
        _state_memo.clear()
        _state_memo[memo] = dvc_dir_md5(data_dir)
    return _state_memo[memo]


def data_version(root: Path, data_dir: Path) -> str:
    """What a run's data is, for its provenance tag: data.dvc's md5 when data/ is exactly that version,
    `unpinned:<md5 of data/>` when it differs (a run never claims data it did not train on), 'untracked'
    without data.dvc."""
    pinned = pinned_md5(root)
    if pinned is None:
        return "untracked"
    actual = data_md5(data_dir)
    return pinned if actual == pinned else f"unpinned:{actual}"


def sync_data_pin(root: Path, data_dir: Path) -> str:
    """After materialising data/: 'pinned' if it is exactly what data.dvc pins (and then cached, so
    `dvc status` is clean), 'differs' if not (the user pins it with `dvc add data`), 'untracked' without DVC."""
    pinned = pinned_md5(root)
    if pinned is None or not (root / ".dvc").is_dir():
        return "untracked"
    actual = dvc_dir_md5(data_dir)
    if actual != pinned:
        log.warning("data/ (%s) differs from the version data.dvc pins (%s); `dvc add data` pins this one",
                    actual, pinned)
        return "differs"
    proc = dvc(root, "commit", "--force", "--quiet", "data.dvc")  # same content: only fills the DVC cache
    if proc.returncode != 0:
        log.warning("dvc commit data.dvc failed: %s", proc.stderr.strip()[-500:])
    return "pinned"
