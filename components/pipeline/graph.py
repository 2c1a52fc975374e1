"""The pipeline's stage graph, declared once: prepare -> validate -> classifier -> train -> evaluate -> register.

Every orchestrator walks this declaration through one walker (walk.py): the Prefect flow (flows/pipeline.py),
the study's data stages (flows/study.py), the torchrun entry (flows/ddp.py) and `genzoo stage`, which dvc.yaml
calls (dvc.yaml is rendered from it by pipeline/dvc.py; a test keeps the file in step). A stage (stage.py) is
its body, the type of what it returns, the upstream results it receives (as typed keyword arguments, named
here once and held to the body's signature by check_inputs), the stages that must pass before it, the params its
key covers and flags for what sets it apart; the code its key covers is found from its body's imports (keys.py). No
orchestrator branches on a stage's name.

Data stages run once per dataset a run needs; per-family stages once per family, on the family's target: its
dataset, or for a Translator family the domain pair (whose data stages are its two member datasets').
"""

from __future__ import annotations

import inspect
from types import GenericAlias
from typing import Any, Callable

from pydantic import BaseModel

from components.config import Config
from components.pipeline import results as r
from components.pipeline.stage import HP, Input, Node, Stage
from components.pipeline.stages import classifier, evaluate, prepare, register, train, validate
from components.pipeline.targets import data_targets, family_target
from components.tracking.registration import Registration

PREPARE = Stage("prepare", prepare.run, r.Prepared, (), ("data",), in_dvc_yaml=False, keyed_by_source=True)
VALIDATE = Stage("validate", validate.run, r.Validated, (), ("validation",), after=(PREPARE,), tracked=True)
CLASSIFIER = Stage("classifier", classifier.run, r.ClassifierReady, (),
                   ("classifier", "seed", "train.device", "eval.num_samples", "eval.batch_size", "eval.prc_k",
                    "eval.prdc_k", "eval.max_prdc_samples", "eval.kid_subset_size", "eval.kid_subsets",
                    "eval.floor_seeds"),  # its floor's
                   after=(VALIDATE,), tracked=True)
TRAIN = Stage("train", train.run, r.Trained, (), ("train", HP, "seed", "profile"), after=(VALIDATE,),
              per_family=True, tracked=True, collective=True)
EVALUATE = Stage("evaluate", evaluate.run, r.Evaluated, (Input("classifiers", CLASSIFIER), Input("trained", TRAIN)),
                 ("eval", "seed", "train.device"), per_family=True, tracked=True)
# register receives the classifiers too: a champion measured under another protocol is re-scored here
REGISTER = Stage("register", register.run, Registration,
                 (Input("classifiers", CLASSIFIER), Input("evaluated", EVALUATE)), ("registry",), per_family=True,
                 tracked=True)

STAGES: dict[str, Stage] = {s.name: s for s in (PREPARE, VALIDATE, CLASSIFIER, TRAIN, EVALUATE, REGISTER)}
DATA_STAGES = tuple(s for s in STAGES.values() if not s.per_family)
FAMILY_STAGES = tuple(s for s in STAGES.values() if s.per_family)


def check_params(stages: dict[str, Stage] = STAGES) -> None:
    """Every declared param names a configuration key: a misspelt one would silently drop a setting out of the
    stage's key, and a changed setting would then return a stale cached result. Checked when the graph loads."""
    for spec in stages.values():
        for dotted in spec.params:
            if dotted == HP:
                continue
            model: type[BaseModel] | None = Config
            for part in dotted.split("."):
                field = model.model_fields.get(part) if model is not None else None
                if field is None:
                    raise LookupError(f"stage {spec.name} declares param {dotted!r}, which is not a configuration key "
                                      "(components/config/schema.py)")
                ann = field.annotation
                model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def check_inputs(stages: dict[str, Stage] = STAGES) -> None:
    """Every body takes exactly its declared inputs as keyword-only arguments, annotated with its upstream's
    result type (a tuple of them where it receives one per dataset), so the type checker holds each body to what
    it is handed. Checked when the graph loads."""
    for spec in stages.values():
        given = {p.name: _annotation(spec.run, p.annotation) for p in inspect.signature(spec.run).parameters.values()
                 if p.kind is inspect.Parameter.KEYWORD_ONLY}
        wanted = {i.name: GenericAlias(tuple, (i.stage.result, ...)) if i.many(spec) else i.stage.result
                  for i in spec.inputs}
        if given != wanted:
            body = f"{spec.run.__module__}.{spec.run.__qualname__}"
            raise TypeError(f"stage {spec.name}: {body} takes keyword arguments {_show(given)}, but the graph hands "
                            f"it {_show(wanted)}")


def _annotation(body: Callable, annotation: Any) -> Any:
    """A parameter's annotation as a type: a string one (postponed annotations) read in the body's module."""
    if isinstance(annotation, str):
        import sys

        return eval(annotation, vars(sys.modules[body.__module__]))  # noqa: S307 - our own source's annotation
    return annotation


def _show(types: dict) -> dict[str, str]:
    return {k: str(v).replace("components.pipeline.results.", "") if not isinstance(v, type) else v.__name__
            for k, v in types.items()}


check_params()
check_inputs()


def node(stage: str, target: str, family: str | None = None) -> Node:
    """The node of the stage named `stage` (what the command line and tests name)."""
    return Node(STAGES[stage], target, family)


def plan(cfg: Config, families: list[str] | None = None) -> list[Node]:
    """Every node a run executes, in an order that respects the graph: data stages first, then each family."""
    families = cfg.families if families is None else families
    nodes = [Node(s, d) for d in data_targets(cfg, families) for s in DATA_STAGES]
    return nodes + [Node(s, family_target(cfg, f), f) for f in families for s in FAMILY_STAGES]
