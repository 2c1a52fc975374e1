"""A study's configuration: the run configuration, with datasets and families given on the command line
replacing study.datasets / study.families, checked before anything starts."""

from __future__ import annotations

from pathlib import Path

from components.config import Config, load_config
from components.errors import ConfigError


def study_config(root: Path | None, profile: str | None, overrides: list[str] | None, datasets: list[str] | None = None,
                 families: list[str] | None = None) -> Config:
    from components.pipeline.targets import translates
    from components.study import search

    given = {k: v for k, v in (("datasets", datasets), ("families", families)) if v}
    layers: list[str | dict] = [*(overrides or []), {"study": given}]
    cfg = load_config(root, profile, layers if given else overrides)
    for fam in cfg.study.families:
        if translates(fam):
            raise ConfigError(f"study.families: {fam} translates between a pair of domains and has no samples "
                              f"to rank by FID; run it with `genzoo run --families {fam}`")
        search.distributions(cfg.study.space, cfg.hp(fam))  # a bad range fails now, not in a trial
    return cfg
