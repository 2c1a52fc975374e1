"""register: the evaluated model into the MLflow registry, promoted to @champion only if it is clearly better than
an untrained model of its kind and beats the champion, both measured under the same evaluation protocol; a
champion measured otherwise is re-scored under this run's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import ClassifierReady, Evaluated
from components.tracking.registration import Registration

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Node


def run(ctx: Context, node: Node, out: Path, *, classifiers: tuple[ClassifierReady, ...],
        evaluated: Evaluated) -> Registration:
    from components.hardware import pick_device
    from components.tracking.registration import register_scored

    family, device = node.family_name, pick_device(ctx.cfg.train.device)
    registration = register_scored(ctx.root, node.target, family, Path(evaluated.model_dir), evaluated.metrics,
                                   evaluated.protocol_fields, evaluated.tracked_run, ctx.cfg.champion_rule(),
                                   ctx.runs.tags(node.target, family, "register"),
                                   ctx.reference(node.target, classifiers, device), device)
    (out / "registration.json").write_text(json.dumps(dataclasses.asdict(registration), indent=2, sort_keys=True)
                                           + "\n")
    return registration
