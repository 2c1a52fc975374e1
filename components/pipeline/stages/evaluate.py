"""evaluate: score the trained model under the run's evaluation protocol and log the scores, the protocol and the
pictures into its training run. A Generator is scored on its samples (and whatever `extra_metrics` it adds, e.g.
likelihoods); a Translator on its trips between domains. `score` is also what re-scores a champion."""

from __future__ import annotations

import json
from pathlib import Path


def run(ctx, node, out: Path, inputs: dict) -> dict:
    from components import defaults
    from components.evaluation import plots
    from components.models import stored
    from components.tracking import store as tstore
    from components.training.loop import pick_device

    trained = inputs["train"][node.target]
    classifiers = list(inputs["classifier"].values())
    device = pick_device(ctx.cfg.train.device)
    model_dir = Path(trained["model_dir"])
    m, pictures, space, protocol = score(ctx, node, stored.load(model_dir, str(device)), classifiers, out, device)
    metrics_path = out / "metrics.json"
    metrics_path.write_text(json.dumps(m, indent=2, sort_keys=True) + "\n")
    history = json.loads((model_dir / "history.json").read_text())
    curves = plots.save_loss_curves(history, out / "losses.png", f"{node.target} / {node.family}")
    client = tstore.client(ctx.root)
    tstore.log_metrics(client, trained["run_id"], m)
    for k, v in {defaults.TAG_FEATURE_SPACE: space, **protocol.tags()}.items():
        client.set_tag(trained["run_id"], k, v)
    for f in (metrics_path, curves, *pictures):
        client.log_artifact(trained["run_id"], str(f), "evaluation")
    from PIL import Image

    with Image.open(pictures[0]) as grid:  # an image with its step: the run and compare views show it
        client.log_image(trained["run_id"], grid.convert("RGB"), key="samples", step=int(trained["steps"]))
    return {"run_id": trained["run_id"], "metrics": m, "feature_space": space, "protocol": protocol.digest,
            "protocol_fields": protocol.tags(), "samples": str(pictures[0]), "model_dir": str(model_dir),
            "files": [str(metrics_path), str(pictures[0])]}


def score(ctx, node, model, classifiers: list[dict], out: Path, device):
    """(metrics, pictures, feature space, protocol of registry.metric) of `model` under this run's protocol."""
    from components.evaluation import protocol as ep
    from components.evaluation.translation import evaluate_translator
    from components.models.base import Translator

    ds = ctx.tensors(node.target)
    if isinstance(model, Translator):
        m, pictures, space = evaluate_translator(model, ds, classifiers, ctx.cfg.eval, device, out)
        n, seed = m["num_translated_ab"] + m["num_translated_ba"], 0  # translations draw no noise
        reference = "test splits of both domains"
        n_ref = len(ds["a_test_x"]) + len(ds["b_test_x"])
    else:
        m, pictures, space = evaluate_generator(ctx, node, model, classifiers[0], ds, out, device)
        n, seed, reference, n_ref = m["num_samples"], ctx.cfg.seed + 1, "test split", len(ds["test_x"])
    protocol = ep.make(ctx.cfg.registry.metric, space, n, seed, reference, n_ref, ctx.cfg.eval)
    return m, pictures, space, protocol


def evaluate_generator(ctx, node, model, classifier: dict, ds: dict, out: Path, device):
    """(metrics, pictures, feature space) of a Generator: sample quality, then its own extra metrics on a seeded
    random subset of the test split (never its first rows: they may be sorted or differ from the rest)."""
    import torch

    from components.evaluation import samples
    from components.training.loop import to_float_images

    ecfg, seed = ctx.cfg.eval, ctx.cfg.seed
    m, fake = samples.sample_metrics(model, ecfg.num_samples, classifier, ecfg, seed + 1, device, ds["train_x"],
                                     ctx.state_dir("floors"), progress=ctx.cfg.train.progress,
                                     inception=ctx.inception_scorer(node.target, device))
    n = min(ecfg.likelihood_images, len(ds["test_x"]))
    pick = torch.randperm(len(ds["test_x"]), generator=torch.Generator().manual_seed(seed))[:n]
    x, y = to_float_images(ds["test_x"][pick]).to(device), ds["test_y"][pick].to(device)
    m.update(model.extra_metrics(x, y, ecfg, seed))
    pictures = [samples.save_samples(fake, ecfg, out), *model.artifacts(x, y, out)]
    return m, pictures, classifier["feature_space"]
