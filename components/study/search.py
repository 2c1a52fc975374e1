"""The study's hyperparameter search through Optuna's ask-and-tell interface (issue 26).

Setting 0 of every family is its own defaults: the hyperparameters its paper recommends (cited where the family
is registered), enqueued as the Optuna study's trial 0. Settings 1..B-1 are asked of a sampler over `study.space`:
either Lucic et al.'s wide absolute ranges (`lr: [1e-5, 1e-2]`, their protocol: `study.sampler: random`) or a
narrow range around the family's default (`lr: {around: 3}` = log-uniform in [lr/3, 3 lr]; `beta1: {around: 0.2}`
= uniform in beta1 +- 0.2). `study.sampler: tpe` asks in rounds of `study.population` (or `workers`) trials and
learns from the values told back.

One Optuna study per (study name, dataset, family, search configuration), in the project's storage
(`.genzoo/optuna.db`, or `study.storage`): a killed study asks for nothing it asked before, retrains only what
its trial cache lacks, and `optuna-dashboard sqlite:///.genzoo/optuna.db` opens it. The value told is the
trial's best checkpoint FID in the classifier's features (trial.RANKED_BY); a diverged trial is told FAIL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from components import defaults as project_defaults
from components.config.schema import SEARCH_DIMENSIONS as KINDS
from components.errors import ConfigError

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

SAMPLERS = ("random", "tpe")


def storage_url(root: Path, storage: str | None) -> str:
    """`study.storage`, or the project's own SQLite file."""
    if storage:
        return storage
    path = Path(root) / project_defaults.STATE_DIR / "optuna.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def bounds(key: str, rng_range: list | dict, default: float | None) -> tuple[float, float]:
    """[lo, hi] of a numeric dimension: the absolute range, or the `around` range centred on the default, both
    within the values the dimension may take (beta1 < 1)."""
    kind, limits = KINDS[key]
    lo_ok, hi_ok = limits or (-math.inf, math.inf)
    if not isinstance(rng_range, dict):
        lo, hi = rng_range
        return max(lo, lo_ok), min(hi, hi_ok)
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


def distributions(space: dict, defaults: object | None = None) -> dict[str, BaseDistribution]:
    """`space` as Optuna distributions for one family. Dimensions the family does not have (not fields of
    `defaults`, its typed hyperparameters) are skipped, so one space serves every family."""
    from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

    for key in space:
        if key not in KINDS:
            raise ConfigError(f"study.space.{key}: unknown dimension; searchable: {', '.join(KINDS)}")
    out: dict[str, BaseDistribution] = {}
    for key in sorted(space):
        if defaults is not None and not hasattr(defaults, key):
            continue
        kind, rng_range = KINDS[key][0], space[key]
        if kind == "choice":
            if isinstance(rng_range, dict):
                raise ConfigError(f"study.space.{key}: a list of choices, not {rng_range}")
            out[key] = CategoricalDistribution(list(rng_range))
            continue
        lo, hi = bounds(key, rng_range, getattr(defaults, key, None))
        if lo > hi:
            raise ConfigError(f"study.space.{key}: an empty range [{lo}, {hi}]")
        if kind == "int":
            out[key] = IntDistribution(int(lo), int(hi))
        else:
            out[key] = FloatDistribution(lo, hi, log=kind == "log-uniform")
    return out


def _seed(*parts: object) -> int:
    return int(hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()[:8], 16)


class Search:
    """One family's search on one dataset: an Optuna study asked in rounds and told each trial's value.
    `storage`: an Optuna storage URL (storage_url); None keeps it in memory (it then dies with the process)."""

    def __init__(self, storage: str | None, study: str, dataset: str, family: str, seed: int, sampler: str, space: dict,
                 defaults: object, direction: Literal["minimize", "maximize"]) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the flow logs what matters
        self.family, self.seed, self.sampler = family, seed, sampler
        self.dists = distributions(space, defaults)
        typed = dataclasses.asdict(defaults) if dataclasses.is_dataclass(defaults) and not isinstance(defaults, type) \
            else None
        config = {"space": space, "seed": seed, "sampler": sampler, "defaults": typed, "direction": direction}
        digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:8]
        # a changed space, seed or default is a new search, not a continuation of another one's trials
        self.study = optuna.create_study(storage=storage, study_name=f"{study}/{dataset}/{family}/{digest}",
                                         direction=direction, load_if_exists=True)
        self.started = False
        self.asked: dict = {}  # number -> the optuna Trial asked in this process (user attributes go on it)
        if not self.study.trials:  # setting 0: the family's own (paper) defaults
            self.study.enqueue_trial({k: getattr(defaults, k) for k in self.dists}, user_attrs={"setting": "paper"})

    def _sampler(self) -> BaseSampler:
        import optuna

        seed = _seed(self.seed, self.family, len(self.study.trials))  # never the draws of an earlier round again
        if self.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)

    def next(self, budget: int, batch: int) -> list[tuple[int, dict]]:
        """The settings to train next as (index, hp overrides): on the first call every stored setting below
        `budget` (a finished one is found in the trial cache; one asked but never told is a killed study's),
        then up to `batch` new ones, until `budget` settings exist. Setting 0's overrides are {}: the defaults."""
        from optuna.trial import TrialState

        stored = [] if self.started else [t for t in self.study.trials
                                          if t.number < budget and t.state != TrialState.WAITING]
        self.started = True
        asked = sum(1 for t in self.study.trials if t.state != TrialState.WAITING)
        self.study.sampler = self._sampler()
        new = [self.study.ask(self.dists) for _ in range(max(0, min(batch, budget - asked)))]
        self.asked.update({t.number: t for t in new})
        return [(t.number, {} if t.number == 0 else dict(t.params)) for t in [*stored, *new]]

    def tell(self, index: int, value: float | None, run_id: str | None = None) -> None:
        """The trial's value (None: it diverged, told FAIL); a trial told before is left as it was."""
        from optuna.trial import TrialState

        trial = self.study.trials[index]
        if trial.state.is_finished():
            return
        if run_id and index in self.asked:  # the dashboard links each trial to its MLflow run
            self.asked[index].set_user_attr("mlflow_run_id", run_id)
        if value is None:
            self.study.tell(index, state=TrialState.FAIL)
        else:
            self.study.tell(index, value)

    def batch_size(self, budget: int, population: int, workers: int) -> int:
        """Random draws do not learn: all at once. TPE learns from what it was told: a round per population."""
        return budget if self.sampler == "random" else max(population, workers)
