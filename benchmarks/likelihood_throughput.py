"""Training steps/s and sampling images/s of the VAE and autoregressive families at their default sizes on
28x28 digits, batch 64, through the one training loop; one process, families in turn.

    .venv/bin/python benchmarks/likelihood_throughput.py [--steps 30] [--samples 16]

Autoregressive sampling is H x W network passes per batch, so its images/s is the figure to plan around.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import torch

from components.data import sources
from components.models.registry import families, get_family
from components.training.loop import LoopConfig, fit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--families", default=",".join(f for f, fam in families().items() if fam.kind in ("vae", "autoregressive")))
    args = p.parse_args()
    data = sources.fetch("mnist5k", {})
    images, labels = torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels).long()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.families.split(","):
            torch.manual_seed(0)
            model = get_family(name).build((1, 28, 28), 10, get_family(name).hyperparameters())
            params = sum(p.numel() for p in model.parameters())
            ckpt = Path(tmp) / name
            warm = LoopConfig(steps=2, batch_size=64, checkpoint_every=10**9, progress=False)
            fit(model, images, labels, warm, ckpt)
            cfg = LoopConfig(steps=2 + args.steps, batch_size=64, checkpoint_every=10**9, progress=False)
            start = time.perf_counter()
            fit(model, images, labels, cfg, ckpt)
            train_rate = args.steps / (time.perf_counter() - start)
            start = time.perf_counter()
            model.sample(args.samples, torch.Generator().manual_seed(0))
            sample_rate = args.samples / (time.perf_counter() - start)
            rows.append((name, families()[name].kind, params, train_rate, sample_rate))
    print(f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{args.steps} training steps at batch 64, {args.samples} samples in one batch\n")
    print("| family | kind | parameters | train steps/s | sampling images/s |\n|---|---|---|---|---|")
    for name, kind, params, tr, sr in rows:
        print(f"| {name} | {kind} | {params / 1e6:.2f} M | {tr:.2f} | {sr:.1f} |")


if __name__ == "__main__":
    main()
