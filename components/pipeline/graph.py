"""The pipeline's stage graph, declared once: prepare -> validate -> classifier -> train -> evaluate -> register.

Every orchestrator walks this declaration: the Prefect flow (flows/pipeline.py), the study's data stages
(flows/study.py), the torchrun entry (flows/ddp.py), `genzoo stage` and dvc.yaml (rendered from it by
pipeline/dvc.py; a test keeps the file in step). A stage is its body, the stages whose results it receives,
and the params its key covers; the code its key covers is found from its body's imports (keys.py).

Data stages run once per dataset a run needs; per-family stages once per family, on the family's target: its
dataset, or for a Translator family the domain pair (whose data stages are its two member datasets').
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from components.config import Config
from components.data import sources
from components.errors import ConfigError
from components.models.base import Translator
from components.models.registry import get_family
from components.pipeline.stages import classifier, evaluate, prepare, register, train, validate


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[..., dict]  # run(ctx, node, out, inputs) -> result (JSON-able; "files" lists what must stay)
    inputs: tuple[str, ...]  # upstream stages whose results `run` receives: {stage: {target: result}}
    params: tuple[str, ...]  # config keys its key covers; "hp" is the family's full hyperparameters
    per_family: bool = False
    tracked: bool = False  # writes to MLflow: the tracking store is part of its key
    in_dvc_yaml: bool = True  # prepare belongs to data.dvc, not dvc.yaml

    def modules(self, family: str | None = None) -> tuple[str, ...]:
        """The modules whose source (with everything they import) is part of the key."""
        own = (self.run.__module__,)
        return own + (get_family(family).model.__module__,) if self.per_family and family else own


STAGES: dict[str, Stage] = {s.name: s for s in [
    Stage("prepare", prepare.run, (), ("data",), in_dvc_yaml=False),
    Stage("validate", validate.run, ("prepare",), ("validation",), tracked=True),
    Stage("classifier", classifier.run, ("validate",),
          ("classifier", "seed", "train.device", "eval.num_samples", "eval.batch_size", "eval.prc_k", "eval.prdc_k",
           "eval.max_prdc_samples", "eval.kid_subset_size", "eval.kid_subsets"), tracked=True),  # its floor's settings
    Stage("train", train.run, ("validate",), ("train", "hp", "seed", "profile"), per_family=True, tracked=True),
    Stage("evaluate", evaluate.run, ("classifier", "train"), ("eval", "seed", "train.device"), per_family=True,
          tracked=True),
    # register receives the classifiers too: a champion measured under another protocol is re-scored here
    Stage("register", register.run, ("classifier", "evaluate"), ("registry",), per_family=True, tracked=True),
]}
DATA_STAGES = tuple(s for s, spec in STAGES.items() if not spec.per_family)
FAMILY_STAGES = tuple(s for s, spec in STAGES.items() if spec.per_family)


@dataclass(frozen=True)
class Node:
    """One stage on one target (a dataset, or a pair for a Translator family) and, per family, one family."""

    stage: str
    target: str
    family: str | None = None

    @property
    def label(self) -> str:
        """stage@dataset or stage:family@dataset: what Prefect names the task run and the summary prints."""
        return f"{self.stage}@{self.target}" if self.family is None else f"{self.stage}:{self.family}@{self.target}"


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


def inputs_of(cfg: Config, node: Node) -> dict[str, dict[str, Node]]:
    """The upstream nodes whose results `node` receives, by stage and target."""
    out = {}
    for up in STAGES[node.stage].inputs:
        if STAGES[up].per_family:
            out[up] = {node.target: Node(up, node.target, node.family)}
        else:
            out[up] = {d: Node(up, d) for d in datasets_of(cfg, node.target)}
    return out


def gather(cfg: Config, node: Node, results: dict[Node, dict]) -> dict[str, dict[str, dict]]:
    """The upstream results `node` receives, taken from the results of the nodes already run."""
    return {stage: {t: results[n] for t, n in ups.items()} for stage, ups in inputs_of(cfg, node).items()}


def plan(cfg: Config, families: list[str] | None = None) -> list[Node]:
    """Every node a run executes, in an order that respects the graph: data stages first, then each family."""
    families = cfg.families if families is None else families
    nodes = [Node(s, d) for d in data_targets(cfg, families) for s in DATA_STAGES]
    return nodes + [Node(s, family_target(cfg, f), f) for f in families for s in FAMILY_STAGES]
