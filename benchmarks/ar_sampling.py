"""Autoregressive sampling, images/s: a full network pass a pixel (the reference sampler) against the cached sampler
(each layer computes one new position a pixel), and the cached limit: one forward pass of the full image an image,
which is what the cache computes, without its per-pixel Python and small-matrix overhead.

    .venv/bin/python benchmarks/ar_sampling.py --json [--batches 1,64,500] [--families pixelcnn,gatedpixelcnn,...]

Families at their default sizes on 28x28 binary pixels, untrained (sampling cost does not depend on the weights).
The full pass is run for real where that takes under `--budget` seconds; above it (batch 500: minutes a family)
it is timed row by row: row r's pixels each cost one pass of rows 0..r, so W x C passes of rows 0..r, summed over
r, is the sampler's time less the draws themselves. Its `method` field says which; at batch 64 both are run, so the
estimate can be checked against the measurement.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from components import hardware
from components.models.autoregressive.sampling import FullPass
from components.models.registry import get_family

SHAPE = (1, 28, 28)


def _seconds(fn, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def full_pass_by_rows(model, n: int) -> float:
    """Seconds the full-pass sampler spends in its network passes for n images: W x C passes of rows 0..r."""
    c, h, w = model.image_shape
    x = torch.zeros(n, c, h, w)
    with torch.no_grad():
        return sum(_seconds(lambda: model.logits(x[:, :, :r + 1], None), 2) * w * c for r in range(h))


def measure(name: str, n: int, budget: float) -> dict:
    torch.manual_seed(0)
    family = get_family(name)
    model = family.build(SHAPE, 10, family.hyperparameters()).eval()
    pixels = SHAPE[0] * SHAPE[1] * SHAPE[2]
    row: dict = {"family": name, "batch": n}
    with torch.no_grad():
        model.logits(torch.zeros(n, *SHAPE), None)  # warm-up
        row["limit_images_per_s"] = n / _seconds(lambda: model.logits(torch.zeros(n, *SHAPE), None), 3)
    row["cached_images_per_s"] = n / _seconds(lambda: model.sample(n, torch.Generator().manual_seed(0)))
    estimated = full_pass_by_rows(model, n)
    row["full_pass_images_per_s_by_rows"] = n / estimated
    if estimated <= budget:
        seconds = _seconds(lambda: model.sample(n, torch.Generator().manual_seed(0), cache=FullPass))
        row["full_pass_images_per_s"], row["method"] = n / seconds, "measured"
    else:
        row["full_pass_images_per_s"], row["method"] = row["full_pass_images_per_s_by_rows"], "timed by rows"
    row["speedup"] = row["cached_images_per_s"] / row["full_pass_images_per_s"]
    row["share_of_limit"] = row["cached_images_per_s"] / row["limit_images_per_s"]
    row["pixels"] = pixels
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--families", default="pixelcnn,gatedpixelcnn,pixelrnn,nade")
    p.add_argument("--batches", default="1,64,500")
    p.add_argument("--budget", type=float, default=150.0, help="run the full pass for real below this many seconds")
    p.add_argument("--json", action="store_true", help="one JSON document instead of a table")
    args = p.parse_args()
    rows = [measure(f, int(b), args.budget) for f in args.families.split(",") for b in args.batches.split(",")]
    doc = {"machine": hardware.describe(), "image": list(SHAPE), "levels": 2, "rows": rows}
    if args.json:
        print(json.dumps(doc, indent=1))
        return
    print(f"{doc['machine']}, 28x28 binary\n")
    print("| family | batch | full pass img/s | cached img/s | speedup | limit img/s | cached / limit |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['family']} | {r['batch']} | {r['full_pass_images_per_s']:.2f} ({r['method']}) | "
              f"{r['cached_images_per_s']:.1f} | {r['speedup']:.0f}x | {r['limit_images_per_s']:.0f} | "
              f"{r['share_of_limit']:.0%} |")


if __name__ == "__main__":
    main()
