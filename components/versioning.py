"""DVC bookkeeping shared by the CLI and the flow: record flow-made outputs in dvc.lock, check data.dvc."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

log = logging.getLogger(__name__)


def dvc_command() -> list[str]:
    exe = Path(sys.executable).with_name("dvc")
    return [str(exe)] if exe.exists() else [shutil.which("dvc") or "dvc"]


def dvc(root: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*dvc_command(), *args], cwd=root, capture_output=True, text=True, timeout=timeout)


def pipeline_targets(families: list[str]) -> list[str]:
    return ["validate", "classifier"] + [f"{stage}@{f}" for f in families for stage in ("train", "evaluate", "register")]


def record_pipeline(root: Path, families: list[str]) -> bool:
    """`dvc commit` the stages the flow just ran, so `dvc status` and `dvc repro` see them as current.

    Only call this when the run used params.yaml as it is: dvc.lock records params.yaml's values.
    """
    if not (root / "dvc.yaml").exists() or not (root / ".dvc").is_dir():
        return False
    proc = dvc(root, "commit", "--force", "--quiet", *pipeline_targets(families))
    if proc.returncode != 0:
        log.warning("dvc commit failed; `dvc repro` will rerun the stages: %s", proc.stderr.strip()[-500:])
        return False
    return True
