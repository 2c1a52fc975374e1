"""Member-steps/s of a population of K NS GAN trials (Lucic et al.'s networks, batch 64, real digits) against
K = 1, 2, 4, ... and against single trials run one after another, on whatever device is present (issue 26).

Both go through genzoo's loop (`fit`: batches, checkpoints, loss bookkeeping), so the ratio is what a study
gains. A single trial's steps/s is also what K single trials run one after another make in member-steps/s.

    .venv/bin/python benchmarks/population_throughput.py [--ks 1,2,4,8] [--steps 20] [--precision fp32]
        [--repeats 2] [--json out.json]

Defaults: K up to 8 on a CPU (more only repeats the flat line at many times the wall time), up to 64 on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from components.data import sources
from components.models.gan.population import population
from components.models.registry import get_family
from components.training.loop import LoopConfig, fit
from components.hardware import describe, pick_device

BATCH = 64


def _members(k: int, width: float) -> list:
    out = []
    for seed in range(k):
        torch.manual_seed(seed)
        fam = get_family("nsgan")
        out.append(fam.build((1, 28, 28), 10, fam.hyperparameters({"width": width, "lr": 2e-4 * (1 + 0.1 * seed)})))
    return out


def member_steps_per_s(images, labels, k: int | None, steps: int, precision: str, device: str, width: float) -> float:
    """k=None: one single trial; else a population of k. Timed after a warm-up of 3 steps (same process)."""
    model = _members(1, width)[0] if k is None else population(_members(k, width), list(range(k)))
    members = 1 if k is None else k
    with tempfile.TemporaryDirectory() as tmp:
        def run(n: int, folder: str) -> float:
            cfg = LoopConfig(steps=n, batch_size=BATCH, checkpoint_every=10**9, log_every=10, progress=False,
                             precision=precision, device=device, seed=0)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            fit(model, images, labels, cfg, Path(tmp) / folder)
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            return time.perf_counter() - start

        run(3, "warm")
        seconds = run(steps, "timed")
    return members * steps / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ks", default=None, help="comma-separated population sizes")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--width", type=float, default=1.0, help="network width (1: Lucic et al.'s)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    device = pick_device(args.device)
    ks = [int(k) for k in args.ks.split(",")] if args.ks else \
        ([1, 2, 4, 8, 16, 32, 64] if device.type == "cuda" else [1, 2, 4, 8])
    data = sources.fetch("mnist5k", {})
    images, labels = torch.from_numpy(data.train_images), torch.from_numpy(data.train_labels).long()

    rows, single = [], []
    for _ in range(args.repeats):  # interleaved, so drift hits every K alike
        single.append(member_steps_per_s(images, labels, None, args.steps, args.precision, str(device), args.width))
        for k in ks:
            rate = member_steps_per_s(images, labels, k, args.steps, args.precision, str(device), args.width)
            rows.append((k, rate))
            print(f"K={k:3d}: {rate:8.1f} member-steps/s", file=sys.stderr, flush=True)
    base = statistics.median(single)
    table = [{"k": k, "member_steps_per_s": round(statistics.median(r for kk, r in rows if kk == k), 2),
              "vs_single_trials": round(statistics.median(r for kk, r in rows if kk == k) / base, 2)} for k in ks]
    out = {"command": " ".join(["benchmarks/population_throughput.py", *sys.argv[1:]]), **describe(),
           "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
           "threads": torch.get_num_threads(), "precision": args.precision, "batch_size": BATCH, "width": args.width,
           "steps": args.steps, "repeats": args.repeats,
           "single_trial_steps_per_s": round(base, 2), "populations": table,
           "vs_single_trials": "member-steps/s of the population / steps/s of one single trial (= K single trials "
                               "run one after another)"}
    text = json.dumps(out, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
