"""Register a trained model: log it as an MLflow pyfunc into its run, register it as <target>-<family> and apply
the champion rule. Shared by the pipeline's register stage and the study's winners."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from components import defaults
from components.errors import DataError
from components.files import locked

log = logging.getLogger(__name__)
PACKAGE = Path(__file__).resolve().parents[1]  # components/: shipped with the model as its code


def register_model(root: Path, target: str, family: str, model_dir: Path, metrics: dict, protocol_tags: dict,
                   run_id: str, registry, tags: dict[str, str], rescore=None) -> dict:
    """`registry`: the run's registry settings (metric, lower_is_better); `protocol_tags`: how `metrics` were
    measured (Protocol.tags()); `tags` go onto the new version; `rescore(champion_version) -> value` measures the
    champion under this protocol when its own differs (promotion.promote)."""
    from components.evaluation.protocol import TAG as TAG_PROTOCOL

    import mlflow

    from components.tracking import promotion, pyfunc
    from components.tracking import store as tstore

    tstore.setup(root, target)
    metric = registry.metric
    if metric not in metrics:
        raise DataError(f"registry.metric={metric!r} was not measured; have {sorted(metrics)}")
    spec = json.loads((model_dir / "model.json").read_text())
    name = f"{target}-{family}"
    sig, example = pyfunc.signature_and_example(spec)
    # one decision at a time per model name: two runs never both read the same champion and both replace it
    with locked(Path(root) / defaults.STATE_DIR / "locks" / f"registry-{name}.lock"), \
            mlflow.start_run(run_id=run_id) as run:
        info = mlflow.pyfunc.log_model(
            name="generator",
            python_model=str(PACKAGE / "tracking" / "pyfunc_model.py"),
            artifacts={"weights": str(model_dir / "model.pt"), "spec": str(model_dir / "model.json")},
            code_paths=[str(PACKAGE)],
            signature=sig,
            input_example=example,
            pip_requirements=pyfunc.pip_requirements(),
            registered_model_name=name,
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        decision = promotion.promote(client, name, version, metric, float(metrics[metric]),
                                     protocol_tags[TAG_PROTOCOL], registry.lower_is_better, rescore)
        for k, v in {**tags, **protocol_tags}.items():
            client.set_model_version_tag(name, version, k, v)
        mlflow.set_tags({defaults.TAG_DECISION: decision.alias, defaults.TAG_REASON: decision.reason,
                         "genzoo.registered_version": version})
        log.info("%s v%s -> %s: %s", name, version, decision.alias, decision.reason)
    return {"name": name, "version": version, "alias": decision.alias, "reason": decision.reason,
            "protocol": protocol_tags[TAG_PROTOCOL],
            "run_id": run.info.run_id, "model_uri": f"models:/{name}/{version}"}
