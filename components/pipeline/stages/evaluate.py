"""evaluate: score the trained model under the run's evaluation protocol (evaluation/scoring.py) and log the
scores, the protocol and the pictures into its training run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import Evaluated

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Inputs, Node


def run(ctx: Context, node: Node, out: Path, inputs: Inputs) -> Evaluated:
    from components import defaults
    from components.evaluation import plots, scoring
    from components.hardware import pick_device
    from components.models import stored
    from components.tracking import store as tstore

    trained = inputs["train"][node.target]
    device = pick_device(ctx.cfg.train.device)
    model_dir = Path(trained.model_dir)
    reference = ctx.reference(node.target, inputs["classifier"].values(), device)
    scored = scoring.score(stored.load(model_dir, str(device)), reference, device, out)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(scored.metrics, indent=2, sort_keys=True) + "\n")
    history = json.loads((model_dir / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{node.target} / {node.family}")
    client = tstore.client(ctx.root)
    tstore.log_metrics(client, trained.run_id, scored.metrics)
    for k, v in {defaults.TAG_FEATURE_SPACE: scored.space, **scored.protocol.tags()}.items():
        client.set_tag(trained.run_id, k, v)
    for f in (metrics_path, curves, *scored.pictures[1:]):
        client.log_artifact(trained.run_id, str(f), "evaluation")
    tstore.log_samples(client, trained.run_id, scored.pictures[0], trained.steps)
    return Evaluated(metrics=scored.metrics, feature_space=scored.space, protocol=scored.protocol.digest,
                     protocol_fields=scored.protocol.tags(), samples=str(scored.pictures[0]), model_dir=str(model_dir),
                     run_id=trained.run_id, files=(str(metrics_path), str(scored.pictures[0])))
