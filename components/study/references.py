"""The two reference rows of a study's table, measured exactly as the trials are (the dataset's reference
classifier, `study.checkpoint_samples` images against the test split): real training images (the floor: what a
perfect generator scores at this N) and an untrained generator (the noise level: what no training scores).
A game whose FID is not well below the noise row has not learned anything at this budget."""

from __future__ import annotations

import torch

from components.config import Config
from components.data.tensors import Tensors
from components.evaluation import metrics, samples
from components.evaluation.classifier import Space, features


def measure(cfg: Config, ds: Tensors, space: Space, family: str, cache_dir, data_id: str, device) -> dict[str, float]:
    """{"floor": FID, "untrained": FID} at N = study.checkpoint_samples; the untrained generator is `family`'s
    network at its initialisation under the study's seed (the samples are drawn as a trial's are: seed + 1)."""
    n = cfg.study.checkpoint_samples
    clf, real = space.load(device)
    floor = samples.classifier_floor(clf, real, ds.train_x, cfg.eval, cfg.seed + 1, n, space.name, data_id, cache_dir)
    fake = untrained_samples(cfg, ds, family, device)
    fid = metrics.fid(metrics.fid_statistics(real["features"]),
                      metrics.fid_statistics(features(clf, fake, cfg.eval.batch_size)["features"]))
    return {"floor": floor["floor_fid_classifier"], "floor_seed_std": floor.get("floor_fid_classifier_seed_std"),
            "untrained": fid, "num_samples": n, "untrained_family": family}


def measure_modes(cfg: Config, ds: Tensors, floor: dict[str, float], family: str, device) -> dict:
    """The reference rows on 2-D points: the real-data floor (the classifier stage's, eval.num_samples points) and
    an untrained `family` generator counted on study.checkpoint_samples points drawn as a trial's are."""
    from components.evaluation import modes

    pts = untrained_samples(cfg, ds, family, device)
    untrained = modes.count(pts, ds.mixture, cfg.eval.mode_min_share).metrics()
    return {**{k: v for k, v in floor.items() if not k.endswith("_seed_std")}, "floor_draws": cfg.eval.floor_seeds,
            "untrained": untrained, "untrained_family": family, "num_samples": cfg.study.checkpoint_samples}


def untrained_samples(cfg: Config, ds: Tensors, family: str, device) -> torch.Tensor:
    """study.checkpoint_samples samples of `family`'s network at its initialisation under the study's seed, drawn
    as a trial's are (seed + 1)."""
    from components.models.registry import get_family

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = get_family(family).build(ds.image_shape, len(ds.classes), cfg.hp(family))
    model.to(device)
    return samples.generate(model, cfg.study.checkpoint_samples, cfg.eval.batch_size, cfg.seed + 1, device)
