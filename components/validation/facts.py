"""One row per image (or 2-D point): the facts the Great Expectations suite checks (shape, range, finiteness,
label, hash; for points, the distance to the labelled mode)."""

from __future__ import annotations

import hashlib
import warnings

import numpy as np
import pandas as pd

from components.data.store import Dataset


def image_facts(dataset: Dataset) -> pd.DataFrame:
    """Per image; `orientation` and `ink_ratio` are per split and `label_looks` per class of a split, against the
    pinned version's statistics (validation/pinned.py), repeated on each of their rows ("unpinned" and NaN for a
    dataset data.dvc does not pin)."""
    from components.validation import pinned
    from components.validation.pinned_stats import PINNED

    pin = PINNED.get(dataset.name)
    frames = []
    for split in ("train", "test"):
        x = dataset.arrays[f"{split}_images"]
        y = dataset.arrays[f"{split}_labels"]
        ref = pin[split] if pin else None
        flat = x.reshape(len(x), -1)
        finite = np.isfinite(flat).all(axis=1) if flat.dtype.kind == "f" else np.ones(len(x), bool)
        # Non-finite pixels are left out of min/max: the `finite` column is what fails on them.
        masked = np.where(np.isfinite(flat), flat, np.nan) if not finite.all() else flat
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows give NaN, as they should
            lo, hi = np.nanmin(masked, axis=1), np.nanmax(masked, axis=1)
        labels = pd.Series(y)
        orientation = pinned.orientation(x, ref["mean_image"]) if ref and len(x) else "unpinned"
        # labels are judged on images that look as pinned: transposed or inverted ones mismatch every class anyway
        judged = ref and "class_means" in ref and orientation == pinned.AS_PINNED
        looks = pinned.label_looks(x, y, ref["class_means"]) if judged and ref else {}
        frames.append(pd.DataFrame({
            "split": split,
            "height": x.shape[1],
            "width": x.shape[2],
            "channels": x.shape[3],
            "dtype": f"{x.dtype}/{y.dtype}",  # images/labels: what the loader casts must already be what it means
            "pixel_min": lo.astype(np.float64),
            "pixel_max": hi.astype(np.float64),
            "contrast": (hi.astype(np.float64) - lo.astype(np.float64)),
            "finite": finite,
            "label": y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float64),
            "split_label": [f"{split}:{v}" for v in y.tolist()],
            "class_count": labels.map(labels.value_counts()).to_numpy(np.int64),
            "sha1": [hashlib.sha1(row.tobytes()).hexdigest() for row in flat],
            "orientation": orientation,
            "ink_ratio": float(x.mean()) / ref["mean_ink"] if ref and len(x) and x.dtype.kind in "iuf" else np.nan,
            # per class of the split, against the pin's class means: labels shuffled or shifted on their way in
            "label_looks": (labels.map(lambda k: looks.get(k, pinned.AS_PINNED)) if judged
                            else pinned.NOT_JUDGED if ref else "unpinned"),
        }))
    return pd.concat(frames, ignore_index=True)



def point_facts(dataset: Dataset) -> pd.DataFrame:
    """One row per 2-D point (data/mixtures.py): its coordinates, whether they are finite, its mode label, and
    its distance to that mode's centre in units of sigma (a swapped or flipped column moves points off their
    labelled modes)."""
    mixture = dataset.mixture
    centres = mixture.centres_array()
    frames = []
    for split in ("train", "test"):
        x = dataset.arrays[f"{split}_images"]
        y = dataset.arrays[f"{split}_labels"]
        pts = x.reshape(len(x), -1).astype(np.float64)
        finite = np.isfinite(pts).all(axis=1)
        known = (y >= 0) & (y < mixture.modes) if y.dtype.kind in "iu" else np.zeros(len(y), bool)
        centre = centres[np.where(known, y, 0).astype(np.int64)]
        with np.errstate(invalid="ignore"):
            dist = np.where(known & finite, np.sqrt(((pts[:, :2] - centre) ** 2).sum(1)) / mixture.sigma, np.nan)
        labels = pd.Series(y)
        frames.append(pd.DataFrame({
            "split": split,
            "columns": pts.shape[1],
            "dtype": f"{x.dtype}/{y.dtype}",
            "x": np.where(finite, pts[:, 0], np.nan),
            "y": np.where(finite, pts[:, 1 % pts.shape[1]], np.nan),
            "finite": finite,
            "label": y.astype(np.int64) if y.dtype.kind in "iub" else y.astype(np.float64),
            "split_label": [f"{split}:{v}" for v in y.tolist()],
            "class_count": labels.map(labels.value_counts()).to_numpy(np.int64),
            "sigmas_from_mode": dist,
        }))
    return pd.concat(frames, ignore_index=True)
