"""What this machine is, as far as the choice of kernels, precision and device goes: the CPU's feature flags
(AVX2, AVX-512, native bf16), a description written beside every benchmark figure, and the torch device a run
uses."""

from __future__ import annotations

import functools
import platform
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

FLAGS_THAT_MATTER = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


@functools.lru_cache(maxsize=None)
def _cpuinfo(field: str) -> str | None:
    """The first processor's `field` in /proc/cpuinfo (Linux); None where it cannot be read."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(field):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return None


def cpu_flags() -> frozenset[str]:
    """The processor's feature flags; empty where they cannot be read."""
    return frozenset((_cpuinfo("flags") or "").split())


def cpu_name() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def describe() -> dict:
    import torch

    return {"processor": cpu_name(), "cpu_flags": [f for f in FLAGS_THAT_MATTER if f in cpu_flags()],
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None}


def pick_device(name: str = "auto") -> torch.device:
    """The torch device `train.device` names; auto: CUDA when present, else the CPU."""
    import torch  # here: the CLI reads this module before it may import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
