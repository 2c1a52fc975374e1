"""Which study trials train together as one population (models/gan/population.py, `study.population`).

Trials of one dataset and GAN family whose hyperparameters differ only in what a population lets members differ
in (the seed and MEMBER_HP: lr, betas, penalty weights) share one batched network; everything else (game,
architecture, disc_iters, disc_batch_norm, unrolling, minibatch features) changes the computation and splits them.
"""

from __future__ import annotations

from components.config import Config
from components.study.trial import TrialSpec, trial_config


def group(cfg: Config, specs: list[TrialSpec], size: int) -> list[list[TrialSpec]]:
    """`specs` in populations of at most `size`, in their order; trials of other families stay alone."""
    from components.models.gan.family import GAN
    from components.models.gan.population import population_key
    from components.models.registry import get_family

    if size <= 1:
        return [[s] for s in specs]
    out: list[list[TrialSpec]] = []
    open_groups: dict[tuple, list[TrialSpec]] = {}
    for s in specs:
        if not issubclass(get_family(s.family).model, GAN):
            out.append([s])
            continue
        key = (s.dataset, s.family, population_key(trial_config(cfg, s).hp(s.family)))
        members = open_groups.get(key)
        if members is None or len(members) == size:
            members = open_groups[key] = []
            out.append(members)
        members.append(s)
    return out
