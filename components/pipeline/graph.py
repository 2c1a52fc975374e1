"""The pipeline's stage graph, declared once: prepare -> validate -> classifier -> train -> evaluate -> register.

Every orchestrator walks this declaration through one walker (walk.py): the Prefect flow (flows/pipeline.py),
the study's data stages (flows/study.py), the torchrun entry (flows/ddp.py) and `genzoo stage`, which dvc.yaml
calls (dvc.yaml is rendered from it by pipeline/dvc.py; a test keeps the file in step). A stage (stage.py) is
its body, the type of what it returns, the stages whose results it receives, the params its key covers and
flags for what sets it apart; the code its key covers is found from its body's imports (keys.py). No
orchestrator branches on a stage's name.

Data stages run once per dataset a run needs; per-family stages once per family, on the family's target: its
dataset, or for a Translator family the domain pair (whose data stages are its two member datasets').
"""

from __future__ import annotations

from pydantic import BaseModel

from components.config import Config
from components.pipeline import results as r
from components.pipeline.stage import HP, Node, Stage
from components.pipeline.stages import classifier, evaluate, prepare, register, train, validate
from components.pipeline.targets import data_targets, family_target
from components.tracking.registration import Registration

PREPARE = Stage("prepare", prepare.run, r.Prepared, (), ("data",), in_dvc_yaml=False, keyed_by_source=True)
VALIDATE = Stage("validate", validate.run, r.Validated, (PREPARE,), ("validation",), tracked=True)
CLASSIFIER = Stage("classifier", classifier.run, r.ClassifierReady, (VALIDATE,),
                   ("classifier", "seed", "train.device", "eval.num_samples", "eval.batch_size", "eval.prc_k",
                    "eval.prdc_k", "eval.max_prdc_samples", "eval.kid_subset_size", "eval.kid_subsets",
                    "eval.floor_seeds"),  # its floor's
                   tracked=True)
TRAIN = Stage("train", train.run, r.Trained, (VALIDATE,), ("train", HP, "seed", "profile"), per_family=True,
              tracked=True, collective=True)
EVALUATE = Stage("evaluate", evaluate.run, r.Evaluated, (CLASSIFIER, TRAIN), ("eval", "seed", "train.device"),
                 per_family=True, tracked=True, reports_metrics=True)
# register receives the classifiers too: a champion measured under another protocol is re-scored here
REGISTER = Stage("register", register.run, Registration, (CLASSIFIER, EVALUATE), ("registry",), per_family=True,
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


check_params()


def node(stage: str, target: str, family: str | None = None) -> Node:
    """The node of the stage named `stage` (what the command line and tests name)."""
    return Node(STAGES[stage], target, family)


def plan(cfg: Config, families: list[str] | None = None) -> list[Node]:
    """Every node a run executes, in an order that respects the graph: data stages first, then each family."""
    families = cfg.families if families is None else families
    nodes = [Node(s, d) for d in data_targets(cfg, families) for s in DATA_STAGES]
    return nodes + [Node(s, family_target(cfg, f), f) for f in families for s in FAMILY_STAGES]
