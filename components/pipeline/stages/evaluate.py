"""evaluate: score the trained model under the run's evaluation protocol (evaluation/scoring.py) and log the
scores, the protocol and the pictures into its training run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import ClassifierReady, Evaluated, Trained

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Node


def run(ctx: Context, node: Node, out: Path, *, classifiers: tuple[ClassifierReady, ...],
        trained: Trained) -> Evaluated:
    from components import defaults
    from components.evaluation import plots, scoring
    from components.hardware import pick_device
    from components.models import stored
    from components.tracking import store as tstore

    device = pick_device(ctx.cfg.train.device)
    model_dir = Path(trained.model_dir)
    reference = ctx.reference(node.target, classifiers, device)
    scored = scoring.score(stored.load(model_dir, str(device)), reference, device, out)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(scored.metrics, indent=2, sort_keys=True) + "\n")
    history = json.loads((model_dir / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{node.target} / {node.family_name}")
    client, run_id = tstore.client(ctx.root), trained.tracked_run
    tstore.log_metrics(client, run_id, scored.metrics)
    for k, v in {defaults.TAG_FEATURE_SPACE: scored.space, **scored.protocol.tags()}.items():
        client.set_tag(run_id, k, v)
    for f in (metrics_path, curves, *scored.pictures[1:]):
        client.log_artifact(run_id, str(f), "evaluation")
    tstore.log_samples(client, run_id, scored.pictures[0], trained.steps)
    return Evaluated(metrics=scored.metrics, feature_space=scored.space, protocol=scored.protocol.digest,
                     protocol_fields=scored.protocol.tags(), samples=str(scored.pictures[0]), model_dir=str(model_dir),
                     run_id=run_id, files=(str(metrics_path), str(scored.pictures[0])))
