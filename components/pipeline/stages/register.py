"""register: the evaluated model into the MLflow registry, promoted to @champion only if it is clearly better than
an untrained model of its kind and beats the champion, both measured under the same evaluation protocol; a
champion measured otherwise is re-scored under this run's."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.tracking.registration import Registration

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Inputs, Node


def run(ctx: Context, node: Node, out: Path, inputs: Inputs) -> Registration:
    from components.evaluation import scoring
    from components.hardware import pick_device
    from components.tracking.registration import register_model, registered_model

    ev = inputs["evaluate"][node.target]
    device = pick_device(ctx.cfg.train.device)

    def rescore(version) -> float:
        """registry.metric of the champion `version`, measured under this run's protocol."""
        reference = ctx.reference(node.target, inputs["classifier"].values(), device)
        with registered_model(version, device) as model:
            return scoring.rescore(model, reference, device)

    def noise() -> scoring.Noise:
        """registry.metric of an untrained model like this one (its family and hyperparameters), same protocol."""
        from components.models import stored

        reference = ctx.reference(node.target, inputs["classifier"].values(), device)
        return scoring.noise_level(node.family, stored.load(Path(ev.model_dir), str(device)).hp, reference, device)

    registration = register_model(ctx.root, node.target, node.family, Path(ev.model_dir), ev.metrics,
                                  ev.protocol_fields, ev.run_id, ctx.cfg.champion_rule(),
                                  ctx.runs.tags(node.target, node.family, "register"), rescore=rescore, noise=noise)
    (out / "registration.json").write_text(json.dumps(dataclasses.asdict(registration), indent=2, sort_keys=True)
                                           + "\n")
    return registration
