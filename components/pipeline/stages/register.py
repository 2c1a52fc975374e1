"""register: the evaluated model into the MLflow registry, promoted to @champion only if it beats the champion."""

from __future__ import annotations

import json
from pathlib import Path


def run(ctx, node, out: Path, inputs: dict) -> dict:
    from components.tracking.registration import register_model

    ev = inputs["evaluate"][node.target]
    result = register_model(ctx.root, node.target, node.family, Path(ev["model_dir"]), ev["metrics"],
                            ev["feature_space"], ev["run_id"], ctx.cfg.registry,
                            ctx.tags(node.target, node.family, "register"))
    (out / "registration.json").write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    return result
