"""Training-loop overhead: genzoo's loop (checkpoints, loss bookkeeping, MLflow logging) against a bare
PyTorch loop of the same NS GAN, batch and data, in one process, interleaved, fp32 and bf16.

    .venv/bin/python benchmarks/train_throughput.py [--steps 200] [--bf16-steps 8] [--repeats 2]

Prints a Markdown table; docs/benchmarks.md records the figures with the machine they came from.
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from components.data import sources
from components.models.registry import get_family
from components.training.loop import BatchOrder, LoopConfig, fit, to_float_images


def bare_loop(images: torch.Tensor, steps: int, precision: str) -> float:
    """The same model and step written as plain PyTorch: no checkpoints, no logging, no bookkeeping."""
    torch.manual_seed(0)
    model = get_family("nsgan").build((1, 28, 28), 10, {})
    opt_d = torch.optim.Adam(model.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(model.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
    order = BatchOrder(len(images), 64, 0)
    rng = torch.Generator().manual_seed(1)
    cast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext
    start = time.perf_counter()
    for step in range(steps):
        x = to_float_images(images[order.indices(step)])
        with cast():
            fake = model.G(torch.rand(64, 64, generator=rng) * 2 - 1)
            d_loss = model.game.d_loss(model.D(x), model.D(fake.detach()))
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        opt_d.step()
        with cast():
            g_loss = model.game.g_loss(model.D(fake))
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
    return steps / (time.perf_counter() - start)


def genzoo_loop(images: torch.Tensor, steps: int, precision: str, tmp: Path) -> float:
    """fit() with the quick profile's cadence (log every 25 steps, checkpoint every 200 and at the end),
    logging to a real (SQLite) MLflow run."""
    import mlflow

    torch.manual_seed(0)
    model = get_family("nsgan").build((1, 28, 28), 10, {})
    labels = torch.zeros(len(images), dtype=torch.long)
    cfg = LoopConfig(steps=steps, batch_size=64, checkpoint_every=200, log_every=25,
                     precision=precision, progress=False)
    ckpt = Path(tempfile.mkdtemp(dir=tmp))
    with mlflow.start_run():
        start = time.perf_counter()
        fit(model, images, labels, cfg, ckpt,
            on_log=lambda s, m: mlflow.log_metrics({f"train/{k}": v for k, v in m.items()}, step=s,
                                                   synchronous=False))
        rate = steps / (time.perf_counter() - start)
    return rate


def main() -> None:
    import mlflow

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--bf16-steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()

    images = torch.from_numpy(sources.fetch("mnist5k", {}).train_images)
    tmp = Path(tempfile.mkdtemp())
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    mlflow.set_experiment("benchmark")
    rows = []
    for precision, steps in (("fp32", args.steps), ("bf16", args.bf16_steps)):
        bare_loop(images, 2, precision)  # warm-up: allocator, oneDNN kernels
        genzoo_loop(images, 2, precision, tmp)
        bare, ours = [], []
        for _ in range(args.repeats):  # interleaved, so drift hits both alike
            bare.append(bare_loop(images, steps, precision))
            ours.append(genzoo_loop(images, steps, precision, tmp))
        b, o = statistics.median(bare), statistics.median(ours)
        rows.append((precision, steps, b, o, (b - o) / b * 100))

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print("| precision | steps x repeats | bare PyTorch (steps/s) | genzoo loop (steps/s) | overhead |")
    print("|---|---|---|---|---|")
    for precision, steps, b, o, overhead in rows:
        print(f"| {precision} | {steps} x {args.repeats} | {b:.2f} | {o:.2f} | {overhead:+.1f}% |")


if __name__ == "__main__":
    main()
