"""evaluate: score the trained model and log the scores into its training run. A Generator is scored on its
samples (and whatever `extra_metrics` it adds, e.g. likelihoods); a Translator on its trips between domains."""

from __future__ import annotations

import json
from pathlib import Path


def run(ctx, node, out: Path, inputs: dict) -> dict:
    from mlflow import MlflowClient

    from components import defaults
    from components.evaluation import plots
    from components.evaluation.translation import evaluate_translator
    from components.models.base import Translator
    from components.models import stored
    from components.tracking import store as tstore
    from components.training.loop import pick_device

    trained = inputs["train"][node.target]
    classifiers = [inputs["classifier"][d] for d in inputs["classifier"]]
    device = pick_device(ctx.cfg.train.device)
    model_dir = Path(trained["model_dir"])
    model = stored.load(model_dir, str(device))
    if isinstance(model, Translator):
        m, pictures, space = evaluate_translator(model, ctx.tensors(node.target), classifiers, ctx.cfg.eval, device,
                                                 out)
    else:
        m, pictures, space = evaluate_generator(ctx, node, model, classifiers[0], out, device)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    history = json.loads((model_dir / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{node.target} / {node.family}")
    client = tstore.client(ctx.root)
    tstore.log_metrics(client, trained["run_id"], m)
    client.set_tag(trained["run_id"], defaults.TAG_FEATURE_SPACE, space)
    for f in (metrics_path, curves, *pictures):
        client.log_artifact(trained["run_id"], str(f), "evaluation")
    return {"run_id": trained["run_id"], "metrics": m, "feature_space": space, "samples": str(pictures[0]),
            "model_dir": str(model_dir), "files": [str(metrics_path), str(pictures[0])]}


def evaluate_generator(ctx, node, model, classifier: dict, out: Path, device):
    """(metrics, pictures, feature space) of a Generator: sample quality, then its own extra metrics."""
    from components.evaluation import samples
    from components.training.loop import to_float_images

    ecfg, seed = ctx.cfg.eval, ctx.cfg.seed
    ds = ctx.tensors(node.target)
    m, fake = samples.sample_metrics(model, ecfg.num_samples, classifier, ecfg, seed + 1, device,
                                     progress=ctx.cfg.train.progress,
                                     inception=ctx.inception_scorer(node.target, device))
    n = min(ecfg.likelihood_images, len(ds["test_x"]))
    x, y = to_float_images(ds["test_x"][:n]).to(device), ds["test_y"][:n].to(device)
    m.update(model.extra_metrics(x, y, ecfg, seed))
    pictures = [samples.save_samples(fake, ecfg, out), *model.artifacts(x, y, out)]
    return m, pictures, classifier["feature_space"]
