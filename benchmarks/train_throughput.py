"""Training throughput of the NS GAN (Lucic et al.'s networks, batch 64, real digits) against the machine's own
matmul peak, every variant in one process, interleaved, so drift hits all alike:

* `bare`: the step written as plain PyTorch (no checkpoints, no bookkeeping), fp32, `torch.optim.Adam` defaults;
* the family's own `train_step` in fp32 / fused Adam / channels_last / bf16 autocast / bf16 + fused (+ channels_last);
* `fit()` (genzoo's loop: checkpoints, loss bookkeeping, a real SQLite MLflow run) at fp32 and at `auto`;
* with `--compile`, `torch.compile` of both nets: its compile time and steady rate.

    .venv/bin/python benchmarks/train_throughput.py [--steps 60] [--repeats 3] [--compile] [--json out.json]

`percent_of_peak` = step GFLOP (torch.utils.flop_counter) x steps/s / matmul peak of the same precision.
docs/benchmarks.md keeps one table per processor, labelled with its CPU flags.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from components.data import sources
from components.hardware import cpu_flags, describe
from components.models.base import StepContext
from components.models.registry import get_family
from components.training.loop import BatchOrder, LoopConfig, fit
from components.images import to_float_images
from components.training.precision import NATIVE_BF16_CPU_FLAGS, native_bf16, resolve

BATCH = 64


def matmul_peak(dtype: torch.dtype, n: int = 2048, seconds: float = 2.0) -> float:
    """GFLOP/s of an n x n matmul on this process's threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    for _ in range(3):
        a @ b
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        done += 1
    return 2 * n ** 3 * done / (time.perf_counter() - start) / 1e9


def build(fused: bool = False, channels_last: bool = False, compiled: bool = False):
    torch.manual_seed(0)
    model = get_family("nsgan").build((1, 28, 28), 10, get_family("nsgan").hyperparameters())
    if channels_last:
        model.to(memory_format=torch.channels_last)
    if compiled:
        for net in model.nets().values():
            net.compile()
    return model, model.configure_optimizers(fused=fused)


def family_steps(images, steps: int, precision: str = "fp32", fused: bool = False, channels_last: bool = False,
                 model_opts=None) -> float:
    """steps/s of the family's own train_step, as the loop calls it, without the loop around it."""
    model, opts = model_opts or build(fused, channels_last)
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    ctx = StepContext(device=torch.device("cpu"), rng=torch.Generator().manual_seed(1), step=0, autocast=cast,
                      optimizers=opts)
    order = BatchOrder(len(images), BATCH, 0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    start = time.perf_counter()
    for step in range(steps):
        ctx.step = step
        model.train_step(to_float_images(images[order.indices(step)]).contiguous(memory_format=fmt), None, ctx)
    return steps / (time.perf_counter() - start)


def bare_steps(images, steps: int) -> float:
    """The same step as plain PyTorch: what the loop's overhead is measured against."""
    model, _ = build()
    opt_d = torch.optim.Adam(model.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    order = BatchOrder(len(images), BATCH, 0)
    rng = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for step in range(steps):
        x = to_float_images(images[order.indices(step)])
        fake = model.G(torch.rand(BATCH, model.z_dim, generator=rng) * 2 - 1)
        d_loss = model.game.d_loss(model.D(x), model.D(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        g_loss = model.game.g_loss(model.D(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return steps / (time.perf_counter() - start)


def loop_steps(images, steps: int, precision: str, tmp: Path) -> float:
    """fit() with the quick profile's cadence (log every 25 steps, checkpoint every 200 and at the end), logging
    to a real SQLite MLflow run, at the pipeline's defaults (fused Adam)."""
    import mlflow

    model, _ = build()
    labels = torch.zeros(len(images), dtype=torch.long)
    cfg = LoopConfig(steps=steps, batch_size=BATCH, checkpoint_every=200, log_every=25, precision=precision,
                     fused_adam=True, progress=False)
    with mlflow.start_run():
        start = time.perf_counter()
        fit(model, images, labels, cfg, Path(tempfile.mkdtemp(dir=tmp)),
            on_log=lambda s, m: mlflow.log_metrics({f"train/{k}": v for k, v in m.items()}, step=s,
                                                   synchronous=False))
        return steps / (time.perf_counter() - start)


def step_gflop(images) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model, opts = build()
    ctx = StepContext(device=torch.device("cpu"), rng=torch.Generator().manual_seed(1), step=0,
                      autocast=contextlib.nullcontext, optimizers=opts)
    with FlopCounterMode(display=False) as counter:
        model.train_step(to_float_images(images[:BATCH]), None, ctx)
    return counter.get_total_flops() / 1e9


def main() -> None:
    import mlflow

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=60, help="steps per measurement")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes on 2 cores)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args()

    torch.set_flush_denormal(True)  # as fit() does on CPU
    images = torch.from_numpy(sources.fetch("mnist5k", {}).train_images)
    tmp = Path(tempfile.mkdtemp())
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("benchmark")
    auto = resolve("auto", torch.device("cpu"))
    variants = {
        "bare_fp32": lambda n: bare_steps(images, n),
        "fp32": lambda n: family_steps(images, n),
        "fp32_fused": lambda n: family_steps(images, n, fused=True),
        "fp32_channels_last": lambda n: family_steps(images, n, channels_last=True),
        "fp32_fused_channels_last": lambda n: family_steps(images, n, fused=True, channels_last=True),
        "bf16": lambda n: family_steps(images, n, "bf16"),
        "bf16_fused": lambda n: family_steps(images, n, "bf16", fused=True),
        "bf16_fused_channels_last": lambda n: family_steps(images, n, "bf16", fused=True, channels_last=True),
        "loop_fp32": lambda n: loop_steps(images, n, "fp32", tmp),
        "loop_auto": lambda n: loop_steps(images, n, "auto", tmp),
    }
    native = native_bf16(torch.device("cpu"))
    if not native:  # emulated bf16 runs ~17x slower: a few steps tell as much
        variants["bf16"] = lambda n: family_steps(images, max(3, n // 10), "bf16")
        variants["bf16_fused"] = lambda n: family_steps(images, max(3, n // 10), "bf16", fused=True)
        variants["bf16_fused_channels_last"] = lambda n: family_steps(images, max(3, n // 10), "bf16", fused=True,
                                                                      channels_last=True)
    for run in variants.values():
        run(3)  # warm-up: allocator, oneDNN kernels
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            rates[name].append(run(args.steps))
    steps_per_s = {k: statistics.median(v) for k, v in rates.items()}

    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    gflop = step_gflop(images)
    out = {
        "command": " ".join(["benchmarks/train_throughput.py", *sys.argv[1:]]),
        **describe(), "native_bf16": native, "bf16_flags": sorted(cpu_flags() & NATIVE_BF16_CPU_FLAGS),
        "auto_resolves_to": auto,
        "peak_gflops_fp32": peak["fp32"], "peak_gflops_bf16": peak["bf16"], "step_gflop": gflop,
        "steps_per_s": steps_per_s,
        "percent_of_peak": {k: 100 * gflop * r / peak["bf16" if k.startswith("bf16") or
                                                      (k == "loop_auto" and auto == "bf16") else "fp32"]
                            for k, r in steps_per_s.items()},
        "speedup_vs_fp32": {k: r / steps_per_s["fp32"] for k, r in steps_per_s.items()},
        "auto_vs_loop_fp32": steps_per_s["loop_auto"] / steps_per_s["loop_fp32"],
        "loop_overhead": 1 - steps_per_s["loop_fp32"] / steps_per_s["fp32_fused"],
    }
    if args.compile:
        start = time.perf_counter()
        compiled = build(fused=True, compiled=True)
        family_steps(images, 2, model_opts=compiled)
        out["compile_s"] = time.perf_counter() - start
        out["steps_per_s"]["fp32_fused_compiled"] = family_steps(images, args.steps * args.repeats,
                                                                  model_opts=compiled)
        gain = 1 / steps_per_s["fp32_fused"] - 1 / out["steps_per_s"]["fp32_fused_compiled"]
        out["compile_breaks_even_after_steps"] = out["compile_s"] / gain if gain > 0 else None

    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
