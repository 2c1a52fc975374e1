"""A Generator's sample quality: draw seeded samples, extract features, and every metric in the reference
classifier's space (FID, precision/recall/F1, density/coverage, IS), plus Inception space when asked."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import torch

from components.evaluation import metrics, plots
from components.evaluation.classifier import ReferenceClassifier, Space, features
from components.files import atomic_write_text
from components.progress import bar
from components.training.loop import to_float_images, to_uint8_images


def sample_cap(settings, model, n: int) -> int:
    """n, capped by eval.sample_limit for the model's kind (pixel-by-pixel samplers are slow)."""
    return min(n, settings.sample_limit.get(model.kind, n))


def generate(model, n: int, batch_size: int, seed: int, device, progress: bool = False) -> torch.Tensor:
    """n samples as uint8 NHWC from a generator seeded with `seed` (same seed, same images); `progress` shows a
    bar for models that sample pixel by pixel."""
    rng = torch.Generator(device=device).manual_seed(seed)
    kw = {"progress": True} if progress and model.pixel_by_pixel else {}
    return torch.cat([to_uint8_images(model.sample(min(batch_size, n - i), rng, **kw))
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
    m["is_classifier"], m["is_classifier_std"] = metrics.inception_score(fake["logits"])
    return m


def classifier_floor(model: ReferenceClassifier, real: dict, train_x: torch.Tensor, settings, seed: int,
                     n: int | None = None) -> dict:
    """N real training images (default eval.num_samples) against the test split: what a perfect model would get."""
    n = min(n or settings.num_samples, len(train_x))
    subset = train_x[torch.randperm(len(train_x), generator=torch.Generator().manual_seed(seed))[:n]]
    m = quality(real, features(model, subset, settings.batch_size), settings)
    m.pop("is_classifier_std")
    return {f"floor_{k}": v for k, v in m.items()}


def floor_at(n: int, space: Space, clf: ReferenceClassifier, real: dict, train_x: torch.Tensor, settings,
             seed: int, cache_dir: Path) -> dict:
    """The floor at the same N as the metrics beside it (FID is biased by N), cached per classifier and N."""
    import hashlib
    import json

    setting = hashlib.md5(json.dumps(quality_settings(settings), sort_keys=True).encode()).hexdigest()[:8]
    path = Path(cache_dir) / f"{space.name.replace(':', '-')}-n{n}-s{seed}-{setting}.json"
    if not path.exists():
        atomic_write_text(path, json.dumps(classifier_floor(clf, real, train_x, settings, seed, n)))
    return json.loads(path.read_text())


def sample_metrics(model, n: int, space: Space, settings, seed: int, device, train_x: torch.Tensor,
                   cache_dir: Path, progress: bool = False,
                   inception: Callable[[torch.Tensor], dict] | None = None) -> tuple[dict, torch.Tensor]:
    """(metrics, the uint8 samples) of `model` on n samples in the reference classifier's `space`; the floor
    beside them is measured at the same n."""
    n = sample_cap(settings, model, n)  # m["num_samples"] says how many
    started = time.perf_counter()
    fake = generate(model, n, settings.batch_size, seed, device, progress=progress)
    seconds_per_image = (time.perf_counter() - started) / n
    clf, real = space.load(device)
    m = quality(real, features(clf, fake, settings.batch_size), settings)
    m.update(floor_at(n, space, clf, real, train_x, settings, seed, cache_dir))
    m["num_samples"] = float(n)
    m["sample_seconds_per_image"] = seconds_per_image  # on this run's device, batch eval.batch_size
    if inception is not None:
        m.update(inception(fake))
    return m, fake
