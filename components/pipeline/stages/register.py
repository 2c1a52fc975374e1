"""register: the evaluated model into the MLflow registry, promoted to @champion only if it beats the champion
measured under the same evaluation protocol; a champion measured otherwise is re-scored under this run's."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path


def run(ctx, node, out: Path, inputs: dict) -> dict:
    from components.tracking.registration import register_model

    ev = inputs["evaluate"][node.target]
    result = register_model(ctx.root, node.target, node.family, Path(ev["model_dir"]), ev["metrics"],
                            ev["protocol_fields"], ev["run_id"], ctx.cfg.registry,
                            ctx.tags(node.target, node.family, "register"),
                            rescore=lambda champion: rescore(ctx, node, inputs, champion))
    (out / "registration.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result


def rescore(ctx, node, inputs: dict, version) -> float:
    """registry.metric of a registered version, measured under this run's protocol (what `score` does)."""
    import mlflow

    from components.models import stored
    from components.pipeline.stages.evaluate import score
    from components.training.loop import pick_device

    device = pick_device(ctx.cfg.train.device)
    classifiers = list(inputs["classifier"].values())
    with tempfile.TemporaryDirectory() as tmp:
        where = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{version.name}/{version.version}",
                                                    dst_path=tmp)
        (spec_file,) = Path(where).rglob("model.json")
        spec = json.loads(spec_file.read_text())
        model = stored.build(spec, spec_file.with_name("model.pt"), str(device))
        out = Path(tmp) / "rescored"
        out.mkdir()
        metrics = score(ctx, node, model, classifiers, out, device)[0]
    return metrics[ctx.cfg.registry.metric]
