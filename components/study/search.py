"""The study's random search. Setting 0 of every family is its own defaults: the hyperparameters its paper
recommends (cited where the family is registered). Settings 1..B-1 are drawn, reproducibly from (study seed,
family, index), from `study.space`: either Lucic et al.'s wide absolute ranges (`lr: [1e-5, 1e-2]`) or a narrow
range around the family's default (`lr: {around: 3}` = log-uniform in [lr/3, 3 lr]; `beta1: {around: 0.2}` =
uniform in beta1 ± 0.2). The same draws on every dataset, so the columns of the table are comparable."""

from __future__ import annotations

import hashlib
import math
import random

from components.config.schema import SEARCH_DIMENSIONS as KINDS
from components.errors import ConfigError


def bounds(key: str, rng_range, default) -> tuple[float, float]:
    """[lo, hi] of a numeric dimension: the absolute range, or the `around` range centred on the default."""
    kind, (lo_ok, hi_ok) = KINDS[key]
    if not isinstance(rng_range, dict):
        lo, hi = rng_range
        return lo, hi
    if set(rng_range) != {"around"}:
        raise ConfigError(f"study.space.{key}: expected [low, high] or {{around: x}}, got {rng_range}")
    if default is None:
        raise ConfigError(f"study.space.{key}: 'around' needs the family's default of {key}")
    width = rng_range["around"]
    if kind == "log-uniform":
        if width < 1:
            raise ConfigError(f"study.space.{key}.around: a factor >= 1 (the range is [x/f, x*f]), got {width}")
        lo, hi = default / width, default * width
    else:
        lo, hi = default - width, default + width
    return max(lo, lo_ok), min(hi, hi_ok)


def sample(family: str, index: int, seed: int, space: dict, defaults=None) -> dict:
    """The index-th setting of `family` as hp overrides ({} for index 0: its defaults). Dimensions the family
    does not have (not fields of `defaults`, its typed hyperparameters) are skipped, so one space serves every
    family."""
    for key in space:
        if key not in KINDS:
            raise ConfigError(f"study.space.{key}: unknown dimension; searchable: {', '.join(KINDS)}")
    if index == 0:
        return {}
    rng = random.Random(int(hashlib.md5(f"{seed}/{family}/{index}".encode()).hexdigest()[:12], 16))
    out = {}
    for key in sorted(space):
        if defaults is not None and not hasattr(defaults, key):
            continue
        kind, rng_range = KINDS[key][0], space[key]
        if kind == "choice":
            if isinstance(rng_range, dict):
                raise ConfigError(f"study.space.{key}: a list of choices, not {rng_range}")
            out[key] = rng.choice(list(rng_range))
            continue
        lo, hi = bounds(key, rng_range, getattr(defaults, key, None))
        if kind == "log-uniform":
            out[key] = float(f"{math.exp(rng.uniform(math.log(lo), math.log(hi))):.4g}")
        elif kind == "uniform":
            out[key] = round(rng.uniform(lo, hi), 4)
        else:
            out[key] = rng.randint(int(lo), int(hi))
    return out
