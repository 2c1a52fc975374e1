"""What survives the trip: FID of translations against the target domain's real test images (in that domain's
reference-classifier features), cycle reconstruction error, and label preservation — the target domain's
classifier reads the translated image and should find the source image's label."""

from __future__ import annotations

from pathlib import Path

import torch

from components.data.tensors import Tensors
from components.evaluation import metrics, plots
from components.evaluation.classifier import Space
from components.images import to_float_images, to_uint8_images
from components.metric_specs import name


@torch.no_grad()
def _translate(model, x_uint8: torch.Tensor, direction: str, batch_size: int, device) -> torch.Tensor:
    """uint8 NHWC -> translated float NCHW [0, 1] on the CPU."""
    out = [model.translate(to_float_images(x_uint8[i:i + batch_size]).to(device), direction).float().cpu()
           for i in range(0, len(x_uint8), batch_size)]
    return torch.cat(out)


def evaluate_translator(model, ds: Tensors, spaces: list[Space], settings, device, out: Path):
    """(metrics, pictures, feature space) of a Translator: both directions, each in its target domain's reference
    classifier space (`spaces`: domain A's and B's); label preservation when the domains share labelled classes
    (the default digits pair does)."""
    loaded = {side: space.load(device) for side, space in zip("ab", spaces)}
    a, b = ds.domains
    labelled = a.classes == b.classes and len(a.classes) > 1
    m = translation_metrics(model, ds, loaded, settings, device, labelled)
    floor = name("fid", "classifier", prefix="floor")
    m.update({name("fid", "classifier", prefix="floor", side=side): s.floor[floor] for side, s in zip("ab", spaces)})
    grid = translation_grid(model, ds, device, out / "translations.png")
    return m, [grid], "+".join(s.name for s in spaces)


def translation_metrics(model, ds: Tensors, spaces: dict, settings, device, labelled: bool) -> dict[str, float]:
    """spaces: {"a": (classifier, real test features), "b": (...)}; metric names end in _ab (A -> B) or _ba."""
    bs = settings.batch_size
    m: dict[str, float] = {}
    fids = []
    for src, dst, direction, tag in (("a", "b", "AtoB", "ab"), ("b", "a", "BtoA", "ba")):
        domain = getattr(ds, src)
        x = domain.test_x[: settings.num_samples]
        fake = to_uint8_images(_translate(model, x, direction, bs, device))  # stored as 8-bit pixels, as samples are
        back = _translate(model, fake, "BtoA" if direction == "AtoB" else "AtoB", bs, device)
        clf, real = spaces[dst]
        f, logits = metrics.extract(lambda t: (clf.features(t), clf(t)), fake, bs, device)
        fids.append(metrics.fid(metrics.fid_statistics(real["features"]), metrics.fid_statistics(f)))
        m[name("fid", "classifier", side=tag)] = fids[-1]
        m[name("cycle_l1", side=src)] = float((back - to_float_images(x)).abs().mean())  # pixels in [0, 1]
        if labelled:
            kept = (logits.argmax(1) == domain.test_y[: len(x)]).float().mean()
            m[name("label_preservation", side=tag)] = float(kept)
        m[name("num_translated", side=tag)] = float(len(x))
    m[name("fid", "classifier")] = sum(fids) / 2  # the registry's metric: both directions count
    if labelled:
        m[name("label_preservation")] = (m[name("label_preservation", side="ab")]
                                         + m[name("label_preservation", side="ba")]) / 2
    return m


def translation_grid(model, ds: Tensors, device, path: Path, n: int = 8) -> Path:
    """Rows: A inputs, A -> B, A -> B -> A, then B inputs, B -> A, B -> A -> B. Channel counts may differ
    between domains; grey images are shown as RGB when the other domain has colour."""
    rows = []
    for src, direction, back in (("a", "AtoB", "BtoA"), ("b", "BtoA", "AtoB")):
        test = getattr(ds, src).test_x
        pick = test[torch.linspace(0, len(test) - 1, n).long()]  # spread over the split (often sorted by class)
        x = to_float_images(pick)
        y = _translate(model, pick, direction, n, device)
        z = _translate(model, to_uint8_images(y), back, n, device)
        rows += [x, y, z]
    c = max(r.shape[1] for r in rows)
    rows = [r.expand(-1, c, -1, -1) if r.shape[1] == 1 else r for r in rows]
    return plots.save_grid(torch.cat(rows), path, nrow=n)
