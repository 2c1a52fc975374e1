"""Per-split image statistics of the pinned datasets (the versions data.dvc pins), so the gate can name a split
that was transposed, flipped or re-inked on its way in: the registration pin would only say "not the pinned
bytes", later.

Each split's mean image and mean ink are committed in pinned_stats.py (a module, so that the gate's stage key,
which hashes the code the gate imports, changes when they do). Regenerate after a new pin:

    .venv/bin/python -m components.validation.pinned > components/validation/pinned_stats.py
"""

from __future__ import annotations

import json
import sys

import numpy as np

from components.data.store import Dataset

SPLITS = ("train", "test")
AS_PINNED = "as pinned"
OTHER_SHAPE = "another shape than the pin's"  # nothing to say about orientation (the data pin names the change)
NOT_JUDGED = "not judged: the images differ from the pin"  # the orientation or ink check says how


def _transforms(h: int, w: int) -> dict:
    """What a split's mean image may have gone through on its way in, by name (axes: H, W, C)."""
    out = {AS_PINNED: lambda m: m, "flipped vertically": lambda m: m[::-1], "flipped horizontally": lambda m: m[:, ::-1],
           "rotated 180 degrees": lambda m: m[::-1, ::-1]}
    if h == w:
        out["transposed (H and W swapped)"] = lambda m: np.swapaxes(m, 0, 1)
        out["rotated 90 degrees"] = lambda m: np.rot90(m, 1, (0, 1))
        out["rotated 270 degrees"] = lambda m: np.rot90(m, -1, (0, 1))
    return out


POOLED = 7  # class means are compared on a 7x7 grid of block averages: enough to tell digits apart, and small


def split_stats(images: np.ndarray, labels: np.ndarray) -> dict:
    """The mean image (H, W, C) and mean pixel value of uint8 NHWC images, and each class's mean image pooled to
    7x7 (`class_means`), rounded for the committed file."""
    mean = images.astype(np.float64).mean(axis=0)
    return {"mean_image": np.round(mean, 2).tolist(), "mean_ink": round(float(mean.mean()), 4),
            "class_means": {str(k): np.round(v, 2).tolist() for k, v in class_means(images, labels).items()}}


def stats(dataset: Dataset) -> dict:
    return {split: split_stats(dataset.arrays[f"{split}_images"], dataset.arrays[f"{split}_labels"])
            for split in SPLITS}


def _pool(image: np.ndarray) -> np.ndarray:
    """An (H, W, C) mean image as POOLED x POOLED block averages over its channels."""
    rows = [np.array_split(band, POOLED, axis=1) for band in np.array_split(image, POOLED, axis=0)]
    return np.array([[block.mean() for block in band] for band in rows])


def class_means(images: np.ndarray, labels: np.ndarray) -> dict[int, np.ndarray]:
    """Each label's mean image, pooled (the labels present only)."""
    return {int(k): _pool(images[labels == k].astype(np.float64).mean(axis=0)) for k in np.unique(labels)}


def label_looks(images: np.ndarray, labels: np.ndarray, pinned_means: dict) -> dict[int, str]:
    """Per label: AS_PINNED when its images' mean correlates best with the pin's mean of the same class, else
    which pinned class it looks like. Shuffled labels make every class look like the average digit; labels shifted
    by one make class k look like the pin's class k - 1."""
    if images.ndim != 4 or images.dtype.kind not in "iuf" or not len(images):
        return {}
    ref = {int(k): np.asarray(v, np.float64).ravel() for k, v in pinned_means.items()}
    out = {}
    for label, mean in class_means(images, labels).items():
        scores = {k: float(np.corrcoef(mean.ravel(), r)[0, 1]) if r.std() and mean.std() else -1.0
                  for k, r in ref.items()}
        best = max(scores, key=lambda k: scores[k])
        out[label] = AS_PINNED if label not in scores or scores[label] >= scores[best] else \
            f"looks like class {best}"
    return out


def orientation(images: np.ndarray, pinned_mean: list) -> str:
    """Which transform of the pinned split's mean image this split's mean matches best: AS_PINNED for data as it
    was pinned (its mean correlates ~1 with the pin's), else the transform's name."""
    ref = np.asarray(pinned_mean, dtype=np.float64)
    mean = images.astype(np.float64).mean(axis=0)
    if mean.shape != ref.shape:
        return OTHER_SHAPE
    candidates = {name: t(ref) for name, t in _transforms(*ref.shape[:2]).items()}
    scores = {name: float(np.corrcoef(mean.ravel(), c.ravel())[0, 1]) for name, c in candidates.items()}
    best = max(scores, key=lambda k: scores[k])
    if scores[best] < 0.9:  # inverted pixels, another dataset under this name
        return f"like no orientation of the pin's mean image (best correlation {scores[best]:.2f})"
    # a symmetric mean image matches several transforms equally: only a clear winner over the pin's own counts
    return best if scores[best] > scores[AS_PINNED] + 0.01 else AS_PINNED


def main() -> None:
    """Print pinned_stats.py for every image dataset under data/ (what data.dvc pins)."""
    from components import defaults
    from components.data import store

    data_dir = defaults.project_root() / "data"
    out = {}
    for folder in sorted(p for p in data_dir.iterdir() if (p / "meta.json").exists()):
        ds = store.read(folder.name, data_dir)
        if ds.mixture is None:  # 2-D points have their own checks (gate.point_expectations)
            out[folder.name] = stats(ds)
    sys.stdout.write('"""Generated by `python -m components.validation.pinned` from the data data.dvc pins: each '
                     'split\'s mean image\n(H x W x C) and mean pixel value. Do not edit."""\n\n'
                     "from typing import Any\n\n"
                     f"PINNED: dict[str, dict[str, dict[str, Any]]] = {json.dumps(out, separators=(',', ':'))}\n")


if __name__ == "__main__":
    main()
