"""A Generator's sample quality: draw seeded samples, extract features, and every metric in the reference
classifier's space (FID, precision/recall/F1, density/coverage, IS), plus Inception space when asked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from components.data.mixtures import is_points
from components.evaluation import floors, metrics, plots
from components.evaluation.classifier import ReferenceClassifier, Space, features
from components.images import to_float_images, to_uint8_images
from components.progress import bar


def generate(model, n: int, batch_size: int, seed: int, device, progress: bool = False) -> torch.Tensor:
    """n samples, on the CPU, in the form the data is stored in, from a generator seeded with `seed` (same seed,
    same samples): uint8 NHWC images, or float32 (N, 1, 1, 2) points (data/mixtures.py), which have no pixel
    range to round to. `progress` shows a bar for models that sample pixel by pixel."""
    rng = torch.Generator(device=device).manual_seed(seed)
    kw = {"progress": True} if progress and model.pixel_by_pixel else {}
    stored = (lambda x: x.float().permute(0, 2, 3, 1).cpu()) if is_points(model.image_shape) else to_uint8_images
    return torch.cat([stored(model.sample(min(batch_size, n - i), rng, **kw))
                      for i in bar(range(0, n, batch_size), f"sampling {n}")])


def save_samples(fake_uint8: torch.Tensor, settings, out: Path) -> Path:
    """The first eval.grid_size samples (uint8 NHWC) as out/samples.png."""
    return plots.save_grid(to_float_images(fake_uint8[: settings.grid_size]), out / "samples.png")


def quality_settings(settings) -> dict:
    return {"prc_k": settings.prc_k, "prdc_k": settings.prdc_k, "max_prdc": settings.max_prdc_samples,
            "kid_subset_size": settings.kid_subset_size, "kid_subsets": settings.kid_subsets}


def quality(real: dict, fake: dict, settings) -> dict[str, float]:
    """Every classifier-space metric of `fake` features against `real` ({"features", "logits"} each)."""
    m = metrics.sample_quality(real["features"], fake["features"], "classifier", **quality_settings(settings))
    m["is_classifier"], m["is_classifier_split_std"] = metrics.inception_score(fake["logits"])
    return m


def classifier_floor(clf: ReferenceClassifier, real: dict, train_x: torch.Tensor, settings, seed: int, n: int,
                     space: str, data_id: str, cache_dir: Path | None = None) -> dict[str, float]:
    """The floor in the classifier's space at N = n (evaluation/floors.py), cached in `cache_dir` under
    everything that made it: the space (`space`, by its weights), the data version, n, the seeds, the settings."""
    identity = {"space": space, "data": data_id, "n": min(n, len(train_x)), "seed": seed,
                "draws": settings.floor_seeds, **quality_settings(settings)}
    return floors.cached(cache_dir, identity, lambda: floors.measure(
        lambda images: quality(real, features(clf, images, settings.batch_size), settings), train_x, n, seed,
        settings.floor_seeds))


def sample_metrics(model, n: int, space: Space, settings, seed: int, device, train_x: torch.Tensor,
                   cache_dir: Path, data_id: str, progress: bool = False,
                   inception: Callable[[torch.Tensor], dict] | None = None) -> tuple[dict, torch.Tensor]:
    """(metrics, the uint8 samples) of `model` on n samples drawn with `seed`, in the reference classifier's
    `space`; the floor beside them is measured at the same n, its subsets drawn with the same seed."""
    started = time.perf_counter()
    fake = generate(model, n, settings.batch_size, seed, device, progress=progress)
    seconds_per_image = (time.perf_counter() - started) / n
    clf, real = space.load(device)
    m = quality(real, features(clf, fake, settings.batch_size), settings)
    m.update(classifier_floor(clf, real, train_x, settings, seed, n, space.name, data_id, cache_dir))
    m["num_samples"] = float(n)
    m["sample_seconds_per_image"] = seconds_per_image  # on this run's device, batch eval.batch_size
    if inception is not None:
        m.update(inception(fake))
    return m, fake
