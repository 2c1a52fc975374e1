"""FID Inception feature extraction: the TorchScript network as loaded (the old path, at the old default batch
of 50 and at the new one) against the folded channels_last network `InceptionFeatures` now uses
(evaluation/inception_folded.py), on the same real digits in one process, interleaved, fp32. Reports images/s of
each and the largest relative difference of their features.

    .venv/bin/python benchmarks/inception_throughput.py [--images 96] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from components.data import sources
from components.hardware import describe
from components.evaluation.inception import InceptionFeatures, batch_size
from components.images import to_float_images


def rate(net, x: torch.Tensor, batch: int) -> tuple[float, torch.Tensor]:
    start = time.perf_counter()
    with torch.no_grad():
        feats = torch.cat([net(x[i:i + batch]) for i in range(0, len(x), batch)])
    return len(x) / (time.perf_counter() - start), feats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=96)
    p.add_argument("--old-batch", type=int, default=50, help="the former eval.inception_batch_size")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path)
    args = p.parse_args()

    x = to_float_images(torch.from_numpy(sources.fetch("mnist5k", {}).test_images[:args.images]))
    new_batch = batch_size("auto", torch.device("cpu"))
    old, new = InceptionFeatures(optimize=False), InceptionFeatures()
    paths = {f"old_batch{args.old_batch}": (old, args.old_batch), f"old_batch{new_batch}": (old, new_batch),
             f"new_batch{new_batch}": (new, new_batch)}
    for net, batch in paths.values():
        rate(net, x[:batch], batch)  # warm-up: allocator, oneDNN kernels
    rates: dict[str, list[float]] = {k: [] for k in paths}
    feats = {}
    for _ in range(args.repeats):
        for name, (net, batch) in paths.items():
            r, feats[name] = rate(net, x, batch)
            rates[name].append(r)
    a, b = feats[f"new_batch{new_batch}"], feats[f"old_batch{args.old_batch}"]
    rel = ((a - b).abs().max() / b.abs().max()).item()
    out = {"command": " ".join(["benchmarks/inception_throughput.py", *sys.argv[1:]]), **describe(),
           "images_per_s": {k: statistics.median(v) for k, v in rates.items()},
           "max_relative_feature_difference": rel}
    ips = out["images_per_s"]
    out["speedup_vs_old_default"] = ips[f"new_batch{new_batch}"] / ips[f"old_batch{args.old_batch}"]
    out["speedup_at_the_same_batch"] = ips[f"new_batch{new_batch}"] / ips[f"old_batch{new_batch}"]
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
