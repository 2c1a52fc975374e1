"""What a stage is, and a node of the graph: one stage on one target. The graph (graph.py) declares the stages;
this module holds only their shape, so stage bodies, the context and the runner can name these types without
importing the graph that imports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from components.config import Config
from components.models.registry import get_family
from components.pipeline import results as r
from components.pipeline.targets import datasets_of

HP = "hp"  # a stage param that stands for the family's full hyperparameters


@dataclass(frozen=True)
class Input:
    """An upstream stage whose results a body receives as the keyword argument `name`: one result when both run
    on the same target, else (a data stage feeding a family) a tuple with one result per dataset of the family's
    target, in `datasets_of` order. graph.check_inputs holds every body's signature to its declaration."""

    name: str
    stage: Stage

    def many(self, receiver: Stage) -> bool:
        return receiver.per_family and not self.stage.per_family


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[..., r.Stored]  # run(ctx: Context, node: Node, out: Path, **inputs) -> result
    result: type  # what `run` returns (a dataclass); stored copies are read back as this type (results.load)
    inputs: tuple[Input, ...]  # upstream stages whose results `run` receives, as keyword arguments
    params: tuple[str, ...]  # config keys its key covers (graph.check_params); HP: the family's hyperparameters
    after: tuple[Stage, ...] = ()  # upstream stages that must have passed first, whose results `run` does not read
    per_family: bool = False
    tracked: bool = False  # writes to MLflow: the tracking store is part of its key
    in_dvc_yaml: bool = True  # prepare belongs to data.dvc, not dvc.yaml
    keyed_by_source: bool = False  # its key covers the dataset's source spec, not data/'s content (it makes data/)
    collective: bool = False  # under torchrun every rank runs it (the others run on rank 0 alone)

    @property
    def upstream(self) -> tuple[Stage, ...]:
        """Every stage this one waits for: what it reads and what must have passed before it."""
        return tuple(i.stage for i in self.inputs) + self.after

    def modules(self, family: str | None = None) -> tuple[str, ...]:
        """The modules whose source (with everything they import) is part of the key."""
        own = (self.run.__module__,)
        return own + (get_family(family).model.__module__,) if self.per_family and family else own


@dataclass(frozen=True)
class Node:
    """One stage on one target (a dataset, or a pair for a Translator family) and, per family, one family."""

    stage: Stage
    target: str
    family: str | None = None

    @property
    def family_name(self) -> str:
        """The family of a per-family node (a data node has none: asking is a bug in the graph)."""
        if self.family is None:
            raise TypeError(f"{self.label} is a data node: it has no family")
        return self.family

    @property
    def label(self) -> str:
        """stage@dataset or stage:family@dataset: what Prefect names the task run and the summary prints."""
        name = self.stage.name
        return f"{name}@{self.target}" if self.family is None else f"{name}:{self.family}@{self.target}"


Inputs = dict[str, "r.Stored | tuple[r.Stored, ...]"]  # a body's keyword arguments: {Input.name: result(s)}


def inputs_of(cfg: Config, node: Node) -> dict[str, dict[str, Node]]:
    """The upstream nodes `node` waits for, by stage name and target (its key covers theirs)."""
    out = {}
    for up in node.stage.upstream:
        if up.per_family:
            out[up.name] = {node.target: Node(up, node.target, node.family)}
        else:
            out[up.name] = {d: Node(up, d) for d in datasets_of(cfg, node.target)}
    return out


def arguments(node: Node, upstream: dict[str, dict[str, r.Stored]]) -> Inputs:
    """The keyword arguments `node`'s body receives, from its upstream results by stage name and target."""
    args: Inputs = {}
    for i in node.stage.inputs:
        got = upstream[i.stage.name]
        args[i.name] = tuple(got.values()) if i.many(node.stage) else got[node.target]
    return args
