"""Lucic et al.'s random search: B hyperparameter settings per family drawn from wide ranges, the same draws on
every dataset (so columns of the table are comparable), reproducible from (study seed, family, index)."""

from __future__ import annotations

import hashlib
import math
import random

from components.errors import ConfigError

# what each search dimension means; a study's `space` gives its range, and leaving a key out fixes it
KINDS = {"lr": "log-uniform", "beta1": "uniform", "beta2": "uniform", "disc_iters": "int",
         "disc_batch_norm": "choice", "gp_lambda": "log-uniform"}


def sample(family: str, index: int, seed: int, space: dict, known: set[str] | None = None) -> dict:
    """The index-th setting of `family`: a dict of hp overrides (index 0..B-1). Dimensions the family does not
    have (`known`: its hyperparameter names) are skipped, so one space serves GANs, VAEs and PixelCNNs."""
    rng = random.Random(int(hashlib.md5(f"{seed}/{family}/{index}".encode()).hexdigest()[:12], 16))
    out = {}
    for key in sorted(space):
        if known is not None and key not in known:
            continue
        kind, rng_range = KINDS.get(key), space[key]
        if kind is None:
            raise ConfigError(f"study.space.{key}: unknown dimension; searchable: {', '.join(KINDS)}")
        if kind == "choice":
            out[key] = rng.choice(list(rng_range))
            continue
        lo, hi = rng_range
        if kind == "log-uniform":
            out[key] = float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")
        elif kind == "uniform":
            out[key] = round(rng.uniform(lo, hi), 4)
        else:
            out[key] = rng.randint(int(lo), int(hi))
    return out
