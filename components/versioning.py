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


_memo: dict[tuple, dict[str, str]] = {}


def file_md5s(data_dir: Path, dataset: str) -> dict[str, str]:
    """{relpath under data/: md5} of data/<dataset>, memoised on the files' (path, size, mtime): tags are
    written for every stage."""
    files = sorted((str(p), st.st_size, st.st_mtime_ns) for p in (data_dir / dataset).rglob("*") if p.is_file()
                   for st in [p.stat()])
    memo = (str(data_dir), dataset, tuple(files))
    if memo not in _memo:
        if len(_memo) > 8:
            _memo.clear()
        _memo[memo] = {Path(f).relative_to(data_dir).as_posix(): feed_file(hashlib.md5(), Path(f)).hexdigest()
                       for f, _, _ in files}
    return _memo[memo]


def pinned_files(root: Path, pinned: str) -> dict[str, str] | None:
    """{relpath: md5} that data.dvc pins, from the DVC cache's manifest of the pinned directory (None if the
    cache does not hold it)."""
    digest = pinned.removesuffix(".dir")
    for manifest in (root / ".dvc/cache/files/md5" / digest[:2] / f"{digest[2:]}.dir",  # DVC 3
                     root / ".dvc/cache" / digest[:2] / f"{digest[2:]}.dir"):  # DVC 2
        if manifest.exists():
            return {e["relpath"]: e["md5"] for e in json.loads(manifest.read_text())}
    return None


def data_version(root: Path, data_dir: Path, dataset: str) -> str:
    """What `dataset`'s data is, for the provenance tag every run and version carries:
    - data.dvc's md5 when data/<dataset> is exactly what data.dvc pins for it;
    - `modified:<md5>` when data.dvc pins this dataset but data/ holds other bytes (registration refuses it);
    - `unpinned:<md5>` when data.dvc does not cover this dataset (one added to data/ since);
    - 'untracked' without data.dvc.
    <md5> is DVC's md5 of data/<dataset>, so a version never names data it did not train on."""
    pinned = pinned_md5(root)
    if pinned is None:
        return "untracked"
    actual = file_md5s(data_dir, dataset)
    digest = hashlib.md5(json.dumps(sorted(actual.items())).encode()).hexdigest()
    manifest = pinned_files(root, pinned)
    if manifest is None:  # no manifest to compare files with: all of data/ must be the pinned version
        return pinned if dvc_dir_md5(data_dir) == pinned else f"modified:{digest}"
    expected = {k: v for k, v in manifest.items() if k.startswith(f"{dataset}/")}
    if not expected:
        return f"unpinned:{digest}"
    return pinned if actual == expected else f"modified:{digest}"


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
