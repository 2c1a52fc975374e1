"""classifier: train the dataset's reference classifier and cache the real test split's features in it: the
fast feature space every *_classifier metric is measured in, and its floor (real training images vs test).

2-D points need no network: their reference is the mixture itself (the Bayes rule assigns each point to its
nearest centre; its test accuracy is logged) and the floor is real training points counted as samples are."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import ClassifierReady

if TYPE_CHECKING:
    from components.data.tensors import Tensors
    from components.pipeline.context import Context
    from components.pipeline.stage import Node


def run(ctx: Context, node: Node, out: Path) -> ClassifierReady:
    import mlflow
    import torch

    from components.evaluation import classifier as ref
    from components.evaluation import samples
    from components.evaluation.protocol import weights_id
    from components.tracking import store as tstore

    dataset, ccfg, ecfg = node.target, ctx.cfg.classifier, ctx.cfg.eval
    ds = ctx.tensors(dataset)
    tstore.setup(ctx.root, dataset)
    if ds.mixture is not None:
        return _mixture(ctx, dataset, ds, out)
    with mlflow.start_run(run_name=f"classifier@{dataset}",
                          tags=ctx.runs.run_tags(dataset, None, "classifier")) as run:
        mlflow.log_params({f"classifier.{k}": v for k, v in ccfg.model_dump().items()})
        model = ref.train_classifier(ds.train_x, ds.train_y, len(ds.classes), ccfg, ctx.cfg.seed,
                                     ctx.cfg.train.device)
        acc = ref.accuracy(model, ds.test_x, ds.test_y)
        mlflow.log_metric("test_accuracy", acc)  # kept on the failed run when the floor refuses it
        ref.refuse_unskilled(acc, len(ds.classes), ccfg.min_skill, dataset)
        ref.save(model, out / "model.pt")
        space = f"classifier:{weights_id(out / 'model.pt')}"  # the classifier itself (its weights), not its key
        real = ref.features(model, ds.test_x, ecfg.batch_size)
        torch.save(real, out / "test_features.pt")
        # at eval.num_samples, drawn with the sample seed as every floor is (evaluation/floors.py)
        floor = samples.classifier_floor(model, real, ds.train_x, ecfg, ctx.cfg.seed + 1, ecfg.num_samples, space,
                                         ctx.data_id(dataset))
        record = {"test_accuracy": acc, "model": str(out / "model.pt"), "features": str(out / "test_features.pt"),
                  **floor}
        mlflow.log_metrics(floor)
        (out / "metrics.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        mlflow.log_artifact(str(out / "metrics.json"))
    return ClassifierReady(test_accuracy=acc, model=str(out / "model.pt"), features=str(out / "test_features.pt"),
                           feature_space=space, floor=floor,
                           run_id=run.info.run_id, files=(str(out / "model.pt"), str(out / "test_features.pt")))


def _mixture(ctx: Context, dataset: str, ds: Tensors, out: Path) -> ClassifierReady:
    import mlflow

    from components.evaluation import classifier as ref
    from components.evaluation import floors, modes

    mix, ecfg = ds.points_mixture, ctx.cfg.eval
    with mlflow.start_run(run_name=f"classifier@{dataset}",
                          tags=ctx.runs.run_tags(dataset, None, "classifier")) as run:
        acc = float((modes.nearest(ds.test_x, mix)[0] == ds.test_y.numpy()).mean())
        mlflow.log_metric("test_accuracy", acc)
        ref.refuse_unskilled(acc, mix.modes, ctx.cfg.classifier.min_skill, dataset)  # points off their modes
        share = ecfg.mode_min_share
        floor = floors.measure(lambda p: modes.count(p, mix, share).metrics(), ds.train_x, ecfg.num_samples,
                               ctx.cfg.seed + 1, ecfg.floor_seeds)
        space = modes.space_name(mix)
        mlflow.log_params({"reference": f"mixture {mix.name}: nearest centre", "sigma": mix.sigma,
                           "modes": mix.modes})
        mlflow.log_metrics(floor)
        record = {"test_accuracy": acc, "feature_space": space, **floor}
        (out / "metrics.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
        picture = modes.save_scatter(ds.test_x, mix, out / "test_points.png", f"{dataset}: the test split")
        mlflow.log_artifact(str(out / "metrics.json"))
        mlflow.log_artifact(str(picture))
    return ClassifierReady(test_accuracy=acc, model="", features="", feature_space=space, floor=floor,
                           run_id=run.info.run_id, files=(str(out / "metrics.json"),))
