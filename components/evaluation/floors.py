"""The floor: N real training images scored exactly as N samples are, against the same test split: what a perfect
model would get at this N (FID is biased by N, so a floor is only meaningful beside numbers at its own N).

Both feature spaces draw their subsets here, the same way, with the protocol's sample seed: `eval.floor_seeds`
draws (seeds seed, seed+1, ...), reported as their mean and, with more than one draw, their std
(`floor_<metric>_seed_std`: at N = 5,000 the floor FID moves by tens of percent from one draw to the next). A
floor is cached under a digest of everything that made it: the feature space (by its weights), the data
version, N, the seeds and every metric setting.

When N reaches the training split's size every draw is the same set, so the floor is one draw at that N: its spread
would only be the metrics' own sampling noise (KID's subsets), not the floor's. `floor_num_samples` says the N it
was measured at, which is then smaller than the samples' N.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Callable

import torch

from components.files import atomic_write_text
from components.metric_specs import spec


FORMAT = 3  # what a cached floor holds; 2: floor_num_samples, one draw when N is the whole split; 3: the
# published mode rule beside ours (modes_covered_published)


def draw(train_x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """n training images, a seeded random subset (never the first rows: they may be sorted by class)."""
    return train_x[torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[:n]]


def measure(score: Callable[[torch.Tensor], dict[str, float]], train_x: torch.Tensor, n: int, seed: int,
            draws: int) -> dict[str, float]:
    """floor_<metric> (the mean over `draws` subsets) and, with more than one, floor_<metric>_seed_std, for every
    metric `score(uint8 images)` returns that is a score (spreads of a single draw are left out), and
    floor_num_samples."""
    if n >= len(train_x):
        n, draws = len(train_x), 1  # the whole split: every draw would be the same images
    per_draw = [score(draw(train_x, n, seed + i)) for i in range(draws)]
    out: dict[str, float] = {"floor_num_samples": float(n)}
    for metric in per_draw[0]:
        s = spec(metric)
        if s.spread is not None:
            continue
        values = [m[metric] for m in per_draw]
        out[s.named(prefix="floor")] = statistics.fmean(values)
        if draws > 1:
            out[s.named(prefix="floor", spread="seed_std")] = statistics.stdev(values)
    return out


def cached(cache_dir: Path | None, identity: dict, compute: Callable[[], dict[str, float]]) -> dict[str, float]:
    """`compute()` stored under a digest of `identity` (everything that made it); recomputed when it is missing."""
    if cache_dir is None:
        return compute()
    identity = {**identity, "format": FORMAT}
    digest = hashlib.md5(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"floor-{digest}.json"
    if not path.exists():
        atomic_write_text(path, json.dumps({"identity": identity, "floor": compute()}, indent=1, default=str))
    return json.loads(path.read_text())["floor"]
