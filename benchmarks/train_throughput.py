"""Training throughput of the NS GAN (Lucic et al.'s networks, batch 64, real digits) against the machine's own
matmul peak, every variant in one process, interleaved, so drift hits all alike:

* `bare`: the step written as plain PyTorch (no checkpoints, no bookkeeping), fp32, `torch.optim.Adam` defaults;
* the family's own `train_step` in fp32 / fused Adam / channels_last / bf16 autocast / bf16 + fused (+ channels_last);
* `fit()` (genzoo's loop: checkpoints, loss bookkeeping, a real SQLite MLflow run) at fp32 and at `auto`: its
  steady rate, from its first loss log to its last (what a step costs once the run is going; the same window as
  the bare steps', which skip their first WARM steps too), and apart from it what fit() pays once per run or per
  checkpoint (`loop_fixed_s`: start-up and the final checkpoint of a `--steps` run);
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
WARM = 10  # steps every variant takes before its clock starts: first Adam states, the allocator


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
    for step in range(WARM + steps):
        if step == WARM:
            start = time.perf_counter()
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
    for step in range(WARM + steps):
        if step == WARM:
            start = time.perf_counter()
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


def loop_steps(images, steps: int, precision: str, tmp: Path, fixed: list[float] | None = None,
               channels_last: bool = False) -> float:
    """fit() logging to a real SQLite MLflow run as the pipeline does (training/tracked.metric_logger: one
    synchronous batch per log), at the pipeline's defaults (fused Adam), its losses every WARM steps (5x the
    default cadence): the steady rate between its first log (after WARM steps) and its last. `fixed` gets the
    seconds the call spent outside that window (start-up, the first WARM steps' excess, the final checkpoint)."""
    import mlflow

    from components.training.tracked import metric_logger

    model, _ = build()
    labels = torch.zeros(len(images), dtype=torch.long)
    cfg = LoopConfig(steps=WARM + steps, batch_size=BATCH, checkpoint_every=200, log_every=WARM,
                     precision=precision, fused_adam=True, progress=False, channels_last=channels_last)
    logged: dict[int, float] = {}

    with mlflow.start_run() as run:
        log = metric_logger(mlflow.MlflowClient(), run.info.run_id)

        def on_log(step: int, means: dict[str, float]) -> None:
            logged[step] = time.perf_counter()
            log(step, means)

        start = time.perf_counter()
        fit(model, images, labels, cfg, Path(tempfile.mkdtemp(dir=tmp)), on_log=on_log)
        total = time.perf_counter() - start
    window = logged[WARM + steps] - logged[WARM]
    if fixed is not None:
        fixed.append(total - window * (WARM + steps) / steps)
    return steps / window


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
    # a shared 2-core VM swings +-10% between runs of one variant: 5 interleaved repeats, median and best reported
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--compile", action="store_true", help="also measure torch.compile (minutes on 2 cores)")
    p.add_argument("--json", type=Path, help="write the figures here")
    args = p.parse_args()

    torch.set_flush_denormal(True)  # as fit() does on CPU
    images = torch.from_numpy(sources.fetch("mnist5k", {}).train_images)
    tmp = Path(tempfile.mkdtemp())
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("benchmark")
    auto = resolve("auto", torch.device("cpu"))
    fixed: dict[str, list[float]] = {"loop_fp32": [], "loop_auto": []}
    variants = {
        "bare_fp32": lambda n: bare_steps(images, n),
        "fp32": lambda n: family_steps(images, n),
        "fp32_fused": lambda n: family_steps(images, n, fused=True),
        "fp32_channels_last": lambda n: family_steps(images, n, channels_last=True),
        "fp32_fused_channels_last": lambda n: family_steps(images, n, fused=True, channels_last=True),
        "bf16": lambda n: family_steps(images, n, "bf16"),
        "bf16_fused": lambda n: family_steps(images, n, "bf16", fused=True),
        "bf16_fused_channels_last": lambda n: family_steps(images, n, "bf16", fused=True, channels_last=True),
        "loop_fp32": lambda n: loop_steps(images, n, "fp32", tmp, fixed["loop_fp32"]),
        "loop_auto": lambda n: loop_steps(images, n, "auto", tmp, fixed["loop_auto"]),
        "loop_fp32_channels_last": lambda n: loop_steps(images, n, "fp32", tmp, channels_last=True),
        "loop_auto_channels_last": lambda n: loop_steps(images, n, "auto", tmp, channels_last=True),
    }
    native = native_bf16(torch.device("cpu"))
    if not native:  # emulated bf16 runs ~17x slower: a few steps tell as much
        variants["bf16"] = lambda n: family_steps(images, max(3, n // 10), "bf16")
        variants["bf16_fused"] = lambda n: family_steps(images, max(3, n // 10), "bf16", fused=True)
        variants["bf16_fused_channels_last"] = lambda n: family_steps(images, max(3, n // 10), "bf16", fused=True,
                                                                      channels_last=True)
    for run in variants.values():
        run(3)  # warm-up: allocator, oneDNN kernels
    for seconds in fixed.values():
        seconds.clear()
    rates: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, run in variants.items():
            rates[name].append(run(args.steps))
    steps_per_s = {k: statistics.median(v) for k, v in rates.items()}
    best_of_repeats = {k: max(v) for k, v in rates.items()}

    peak = {"fp32": matmul_peak(torch.float32), "bf16": matmul_peak(torch.bfloat16)}
    gflop = step_gflop(images)
    out = {
        "command": " ".join(["benchmarks/train_throughput.py", *sys.argv[1:]]),
        **describe(), "native_bf16": native, "bf16_flags": sorted(cpu_flags() & NATIVE_BF16_CPU_FLAGS),
        "auto_resolves_to": auto,
        "peak_gflops_fp32": peak["fp32"], "peak_gflops_bf16": peak["bf16"], "step_gflop": gflop,
        "steps_per_s": steps_per_s, "steps_per_s_best_of_repeats": best_of_repeats,
        "percent_of_peak": {k: 100 * gflop * r / peak["bf16" if k.startswith("bf16") or
                                                      (k == "loop_auto" and auto == "bf16") else "fp32"]
                            for k, r in steps_per_s.items()},
        "speedup_vs_fp32": {k: r / steps_per_s["fp32"] for k, r in steps_per_s.items()},
        "auto_vs_loop_fp32": steps_per_s["loop_auto"] / steps_per_s["loop_fp32"],
        # the goal (issue 37): fit() within 3% of the best bare step of its precision
        # (the loop at its best setting of train.channels_last, which is the processor's)
        "loop_vs_best_bare": {
            "loop_fp32": max(steps_per_s["loop_fp32"], steps_per_s["loop_fp32_channels_last"])
            / max(v for k, v in steps_per_s.items() if k.startswith(("fp32", "bare_fp32"))),
            "loop_auto": max(steps_per_s["loop_auto"], steps_per_s["loop_auto_channels_last"])
            / max(v for k, v in steps_per_s.items() if k.startswith(auto if auto == "bf16" else ("fp32", "bare"))),
        },
        "loop_fixed_s": {k: statistics.median(v) for k, v in fixed.items()},  # per fit() call, outside the window
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
