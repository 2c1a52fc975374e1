"""Score a trained model under a run's evaluation protocol: what the evaluate stage logs, what re-scores a
champion measured under another protocol, and what scores a study's winner. Everything it needs is an explicit
argument (the model, a `Reference`, the device), so stages, the registry's champion rule and the study share
it without reaching into one another."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from components.config.schema import Eval
from components.data.tensors import Tensors
from components.evaluation import protocol as ep
from components.evaluation import samples
from components.evaluation.classifier import Space
from components.models.base import Translator
from components.evaluation.protocol import Noise


@dataclass(frozen=True, eq=False)
class Reference:
    """What a model of one target is scored against, and how: the target's tensors, its reference classifier
    spaces (one per dataset; a pair has two), the evaluation settings and seed, and where caches live."""

    data: Tensors
    spaces: tuple[Space, ...]
    settings: Eval
    metric: str  # registry.metric: the protocol recorded is the one that metric is measured under
    seed: int  # samples are drawn with seed + 1; the likelihood subset with seed
    cache_dir: Path  # floors/ and inception/ (real-side features), keyed inside by what made them
    data_id: str  # "<target>-<data hash>": keys the Inception real side
    progress: bool = False


@dataclass(frozen=True)
class Scored:
    metrics: dict[str, float]
    pictures: list[Path]  # the sample grid (or translations) first, then what only this kind draws
    space: str  # the feature space(s) the metrics are measured in
    protocol: ep.Protocol  # how registry.metric was measured


def score(model, ref: Reference, device, out: Path) -> Scored:
    """Every metric of `model` under `ref`'s protocol, its pictures written under `out`."""
    settings = ref.settings
    if ref.data.mixture is not None:  # 2-D points: mode counts against the data's mixture
        m, pictures, space = _points(model, ref, device, out)
        n, seed, n_ref = m["num_samples"], ref.seed + 1, len(ref.data.train_x)
        reference = f"mixture {ref.data.points_mixture.name} (its centres and sigma), floor from the training split"
    elif isinstance(model, Translator):
        from components.evaluation.translation import evaluate_translator

        m, pictures, space = evaluate_translator(model, ref.data, list(ref.spaces), settings, device, out)
        n, seed = m["num_translated_ab"] + m["num_translated_ba"], 0  # translations draw no noise
        reference, n_ref = "test splits of both domains", sum(len(d.test_x) for d in ref.data.domains)
    else:
        m, pictures, space = _generator(model, ref, device, out)
        n, seed, reference, n_ref = m["num_samples"], ref.seed + 1, "test split", len(ref.data.test_x)
    reference = f"{reference} of {ref.data_id} (all {n_ref} images)"  # the data version is part of the protocol
    return Scored(m, pictures, space, ep.make(ref.metric, space, n, seed, reference, n_ref, settings, device))


def rescore(model, ref: Reference, device) -> float:
    """`ref.metric` of `model` (a registered champion) under `ref`'s protocol; its pictures are discarded."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return score(model, ref, device, Path(tmp)).metrics[ref.metric]


def noise_level(family: str, hp, ref: Reference, device) -> Noise:
    """`family`'s network at its initialisation under the run's seed (as a trained one starts), scored under `ref`'s
    protocol; cached under ref.cache_dir/noise by everything that makes it, so one protocol measures it once."""
    import dataclasses
    import json
    import tempfile

    import hashlib

    from components.files import atomic_write_text

    made_of = [family, dataclasses.asdict(hp), ref.metric, ref.settings.model_dump(), ref.seed, ref.data_id,
               [s.name for s in ref.spaces]]
    key = hashlib.sha256(json.dumps(made_of, sort_keys=True, default=str).encode()).hexdigest()
    cached = ref.cache_dir / "noise" / f"{family}-{key[:16]}.json"
    if cached.exists():
        return Noise(**json.loads(cached.read_text()))
    model = untrained_model(family, hp, ref.data, ref.seed).to(device).eval()
    with tempfile.TemporaryDirectory() as tmp:
        scored = score(model, ref, device, Path(tmp))
    noise = Noise(family, float(scored.metrics[ref.metric]), scored.protocol.digest)
    cached.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(cached, json.dumps(dataclasses.asdict(noise)))
    return noise


def untrained_model(family: str, hp, data: Tensors, seed: int):
    """`family`'s network at its initialisation under `seed`, as a trained one of the run starts: the untrained
    level the champion rule holds a model to, and the study's noise row."""
    from components.models.registry import get_family

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return get_family(family).build(data.image_shape, len(data.classes), hp)


def _generator(model, ref: Reference, device, out: Path) -> tuple[dict, list[Path], str]:
    """Sample quality, then the model's own extra metrics on a seeded random subset of the test split (never its
    first rows: they may be sorted or differ from the rest)."""
    from components.images import to_float_images

    settings, data, space = ref.settings, ref.data, ref.spaces[0]
    m, fake = samples.sample_metrics(model, settings.num_samples, space, settings, ref.seed + 1, device,
                                     data.train_x, ref.cache_dir / "floors", ref.data_id, progress=ref.progress,
                                     inception=inception(ref, device))
    n = min(settings.likelihood_images, len(data.test_x))
    pick = torch.randperm(len(data.test_x), generator=torch.Generator().manual_seed(ref.seed))[:n]
    x, y = to_float_images(data.test_x[pick]).to(device), data.test_y[pick].to(device)
    m.update(model.extra_metrics(x, y, settings, ref.seed))
    return m, [samples.save_samples(fake, settings, out), *model.artifacts(x, y, out)], space.name


def _points(model, ref: Reference, device, out: Path) -> tuple[dict, list[Path], str]:
    """Mode metrics of eval.num_samples points and their scatter over the modes."""
    from components.evaluation import modes

    mixture = ref.data.points_mixture
    m, fake = modes.sample_metrics(model, ref.settings.num_samples, mixture, ref.settings, ref.seed + 1, device,
                                   ref.data.train_x, ref.cache_dir / "floors", ref.data_id)
    scatter = modes.save_scatter(fake, mixture, out / "samples.png", f"{mixture.name}: {len(fake)} samples")
    return m, [scatter], modes.space_name(mixture)


def inception(ref: Reference, device) -> Callable[[torch.Tensor], dict] | None:
    """samples -> Inception-space metrics against `ref`'s test split (the real side cached per data version), or
    None when eval.inception is off."""
    if not ref.settings.inception:
        return None
    from components.evaluation.inception import inception_metrics

    data = ref.data
    return lambda fake: inception_metrics(fake, data.test_x, data.train_x, ref.settings, ref.cache_dir / "inception",
                                          ref.data_id, ref.seed + 1, device)  # the floor draws with the sample seed
