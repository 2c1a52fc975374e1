"""validate: the Great Expectations gate. A failure is recorded in MLflow and stops the run before training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import Validated

if TYPE_CHECKING:
    from components.data.store import Dataset
    from components.pipeline.context import Context
    from components.pipeline.stage import Node


def run(ctx: Context, node: Node, out: Path) -> Validated:
    import mlflow

    from components.data import store
    from components.errors import ValidationFailed
    from components.tracking import store as tstore
    from components.validation.gate import validate as run_gate

    dataset = node.target
    ds = store.read(dataset, ctx.data_dir)
    tstore.setup(ctx.root, dataset)
    with mlflow.start_run(run_name=f"validate@{dataset}", tags=ctx.runs.run_tags(dataset, None, "validate")) as run:
        try:
            summary = run_gate(ds, ctx.cfg.validation, out)
            failure = None
        except ValidationFailed as exc:
            summary, failure = json.loads((out / "summary.json").read_text()), exc
        mlflow.log_metrics({"validation_success": float(summary["success"]),
                            "validation_rows": summary["rows"],
                            "validation_failed_expectations": len(summary["failed"])})
        mlflow.log_artifact(str(out / "result.json"), "validation")
        mlflow.log_artifact(str(out / "summary.json"), "validation")
        mlflow.log_artifact(str(out / "report.html"), "validation")
        mlflow.log_artifacts(str(out / "data_docs"), "validation/data_docs")
        if failure is not None:
            mlflow.set_tag("genzoo.validation", "failed")
            raise failure
    check_families(ctx, dataset, ds)
    return Validated(dataset=summary["dataset"], success=summary["success"], rows=summary["rows"],
                     evaluated=summary["evaluated"], failed=tuple(summary["failed"]),
                     result_json=summary["result_json"], data_docs=summary["data_docs"], report=summary["report"],
                     run_id=run.info.run_id, files=(summary["result_json"], summary["report"]))


def check_families(ctx: Context, dataset: str, ds: Dataset) -> None:
    """Every family this run trains on `dataset` can take its image shape: checked here, before the classifier
    trains. (Not part of the stage key, which must not change with the families: a family added later is checked
    by its own train stage.)"""
    from components.config.load import too_large_batch
    from components.errors import ConfigError
    from components.models import shapes
    from components.pipeline.targets import family_target, translates

    if dataset == ctx.cfg.dataset and (problem := too_large_batch(ctx.cfg, len(ds.arrays["train_labels"]))):
        raise ConfigError(problem, key="train.batch_size")
    for fam in ctx.cfg.families:
        if not translates(fam) and family_target(ctx.cfg, fam) == dataset:
            shapes.check(fam, ds.image_shape, len(ds.classes), ctx.cfg.hp(fam),
                         str(ds.path / "train_images.npy"))
