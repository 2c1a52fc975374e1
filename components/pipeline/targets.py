"""Where each stage runs: a family's target (its dataset, or a domain pair for a Translator family) and the
datasets a target is made of. The graph plans nodes with these; stage bodies ask them too."""

from __future__ import annotations

from components.config import Config
from components.data import sources
from components.errors import ConfigError
from components.models.base import Translator
from components.models.registry import get_family


def translates(family: str) -> bool:
    return issubclass(get_family(family).model, Translator)


def members(cfg: Config, target: str) -> tuple[str, str] | None:
    """(A, B) when `target` names a domain pair, else None."""
    return sources.pair_members(target, cfg.data)


def family_target(cfg: Config, family: str) -> str:
    """Where a family trains: the run's dataset, or the domain pair for a Translator (the dataset when it is one)."""
    is_pair = members(cfg, cfg.dataset) is not None
    if translates(family):
        return cfg.dataset if is_pair else cfg.pair
    if is_pair:
        raise ConfigError(f"dataset {cfg.dataset!r} is a domain pair: only translation families train on it, "
                          f"not {family}")
    return cfg.dataset


def datasets_of(cfg: Config, target: str) -> tuple[str, ...]:
    return members(cfg, target) or (target,)


def data_targets(cfg: Config, families: list[str] | None = None) -> list[str]:
    """The datasets whose data stages the run needs, in order, each once."""
    out: list[str] = []
    for fam in cfg.families if families is None else families:
        out += [d for d in datasets_of(cfg, family_target(cfg, fam)) if d not in out]
    return out
