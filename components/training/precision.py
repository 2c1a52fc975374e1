"""Which precision a run trains in. `auto` takes bf16 autocast only where the processor computes bf16 natively
(CUDA with bf16, CPUs with AVX512-BF16 or AMX-BF16) and fp32 elsewhere: measured on this project's machines, bf16
autocast was 1.7-2x faster than fp32 on an AVX512-BF16 EPYC and 17x slower on an AVX2-only one, whose bf16
kernels are emulated. The resolved name is what the train key, the MLflow params and the loop see."""

from __future__ import annotations

import torch

from components.hardware import cpu_flags

NATIVE_BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def native_bf16(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    if device.type == "cuda":
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool((cpu_flags() if flags is None else flags) & NATIVE_BF16_CPU_FLAGS)
    return False


def resolve(precision: str, device: torch.device, flags: frozenset[str] | None = None) -> str:
    """`auto` -> bf16 or fp32 for `device`; any other name is returned as it is."""
    if precision != "auto":
        return precision
    return "bf16" if native_bf16(device, flags) else "fp32"
