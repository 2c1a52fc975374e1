"""Steps/s of every GAN game through the one training loop (`fit`), same networks, batch and data, fp32 and
bf16, one process, families interleaved per repeat.

    .venv/bin/python benchmarks/games_throughput.py [--steps 40] [--bf16-steps 4] [--repeats 2]

A "step" is one loop step: one discriminator update, plus a generator update every `disc_iters` steps (the
family's default: 5 for wgan/wgangp, 1 otherwise). Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch

from components.data import sources
from components.models.registry import families, get_family
from components.training.loop import LoopConfig, fit

VARIANTS = {  # stabilisers, measured on the NS game
    "nsgan+dcgan": ("nsgan", {"arch": "dcgan"}),
    "nsgan+minibatch": ("nsgan", {"minibatch_kernels": 50}),
    "nsgan+unrolled5": ("nsgan", {"unrolled_steps": 5}),
}


def rate(family: str, hp: dict, images, steps: int, precision: str, tmp: Path) -> float:
    torch.manual_seed(0)
    fam = get_family(family)
    model = fam.build((1, 28, 28), 10, fam.hyperparameters(hp))
    cfg = LoopConfig(steps=steps + 2, batch_size=64, checkpoint_every=10**9, log_every=25, precision=precision,
                     progress=False)
    labels = torch.zeros(len(images), dtype=torch.long)
    ckpt = Path(tempfile.mkdtemp(dir=tmp))
    fit(model, images, labels, cfg.model_copy(update={"steps": 2}), ckpt)  # warm-up, then resume
    start = time.perf_counter()
    fit(model, images, labels, cfg, ckpt)
    return steps / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--bf16-steps", type=int, default=4)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--families", default=",".join([f for f in families() if families()[f].kind == "gan"] + list(VARIANTS)))
    args = p.parse_args()
    images = torch.from_numpy(sources.fetch("mnist5k", {}).train_images)
    runs = {name: VARIANTS.get(name, (name, {})) for name in args.families.split(",")}
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            for name, (family, hp) in runs.items():
                for precision, steps in (("fp32", args.steps), ("bf16", args.bf16_steps)):
                    if steps:
                        results.setdefault((name, precision), []).append(
                            rate(family, hp, images, steps, precision, Path(tmp)))
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, steps {args.steps} (fp32) / {args.bf16_steps} (bf16) x {args.repeats}\n")
    print("| family | disc_iters | fp32 steps/s | bf16 steps/s |\n|---|---|---|---|")
    for name, (family, hp) in runs.items():
        di = get_family(family).hyperparameters(hp).disc_iters
        cells = [f"{statistics.median(results[(name, pr)]):.2f}" if (name, pr) in results else "-"
                 for pr in ("fp32", "bf16")]
        print(f"| {name} | {di} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
