"""What a failed gate most likely means, read off the facts table the suite checked (validation/facts.py): the
line a person reads first ("the test split's pixels inverted (255 - x)"), before the failed expectations. Each
cause is named only when the facts show it: float pixels in [0, 1] are not called binarised bytes, inverted
digits are not called flipped. tests/validation/test_causes.py corrupts real digits in each way named here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from components.config.schema import Validation
from components.validation.pinned import AS_PINNED, OTHER_SHAPE

# relaxable checks (validation.relax.<dataset>) by the facts column that fails
RELAXABLE = {"contrast": "contrast", "orientation": "orientation", "ink_ratio": "ink", "label_looks": "labels"}
INVERTED_INK = 2.0  # digits are mostly background: inverted, their mean ink grows several-fold (MNIST: 6.7x)
BYTES_OF_BITS = 0.05  # 0..1 values (floats or bits) stored as bytes keep ~1/255 of the pin's ink


def _per_split(facts: pd.DataFrame, column: str) -> dict[str, Any]:
    return facts.groupby("split", sort=False)[column].first().to_dict()


def _float_in_unit_range(facts: pd.DataFrame) -> dict[str, bool]:
    """Per split: pixels stored as floats, all within [0, 1]."""
    out = {}
    for split, rows in facts.groupby("split", sort=False):
        floating = rows["dtype"].str.split("/").str[0].str.startswith("float").all()
        out[split] = bool(floating and rows["pixel_max"].max() <= 1.0)
    return out


def likely(failed: set[str], facts: pd.DataFrame, cfg: Validation, dataset: str) -> list[str]:
    """The likely causes of the failed checks (facts columns in `failed`), most telling first, each said once."""
    causes: dict[str, None] = {}
    unit_floats = _float_in_unit_range(facts) if "pixel_max" in facts else {}
    stored = "float32" if "sigmas_from_mode" in facts else "uint8"  # 2-D points are float32 coordinates
    if "dtype" in failed:
        pixels = {d.split("/")[0] for d in facts["dtype"].unique()}
        labels = {d.split("/")[1] for d in facts["dtype"].unique()}
        for split, yes in unit_floats.items():
            if yes:
                causes[f"the {split} split's pixels are floats in [0, 1] where bytes 0..255 are expected: store "
                       "round(x * 255) as uint8"] = None
        odd = sorted(p for p in pixels if p != stored)
        if odd and not any(unit_floats.values()):
            causes[f"values stored as {', '.join(odd)} where {stored} is expected"] = None
        if any(not k.startswith(("int", "uint")) for k in labels):
            causes[f"labels stored as {', '.join(sorted(labels))}: store integer class indices"] = None
    bits = {split: bool(rows["pixel_max"].max() <= 1) and not unit_floats.get(split)
            for split, rows in facts.groupby("split", sort=False)} if "pixel_max" in facts else {}
    if "contrast" in failed and not any(unit_floats.values()):
        for split in (s for s, yes in bits.items() if yes):
            causes[f"the {split} split's images binarised to 0/1 bytes (x > 0.5 stored as uint8): they would "
                   "train as black images"] = None
        if not any(bits.values()):
            causes["blank or nearly uniform images"] = None
    ink = _per_split(facts, "ink_ratio") if "ink_ratio" in facts else {}
    if "orientation" in failed:
        for split, how in _per_split(facts, "orientation").items():
            if how in (AS_PINNED, OTHER_SHAPE, "unpinned"):
                continue
            if not str(how).startswith("like no orientation"):
                causes[f"the {split} split {how} on its way in"] = None
            elif ink.get(split, 1.0) > INVERTED_INK:
                causes[f"the {split} split's pixels inverted (255 - x)"] = None
            else:
                causes[f"the {split} split is another dataset than the pinned {dataset}, or its pixels scrambled"] = None
    if "ink_ratio" in failed:
        for split, ratio in ink.items():
            if not np.isfinite(ratio) or 1 / cfg.max_ink_ratio <= ratio <= cfg.max_ink_ratio:
                continue
            if ratio > INVERTED_INK:
                causes[f"the {split} split's pixels inverted (255 - x)"] = None
            elif ratio > 1:
                causes[f"the {split} split's pixels brightened: {ratio:.2f}x the pin's mean ink"] = None
            elif ratio < BYTES_OF_BITS:
                if not unit_floats.get(split) and not ("contrast" in failed and bits.get(split)):
                    causes[f"the {split} split holds 0..1 values (floats or bits) stored as bytes: "
                           f"{ratio:.3f}x the pin's mean ink"] = None
            else:
                causes[f"the {split} split's contrast scaled down: {ratio:.2f}x the pin's mean ink"] = None
    if "label_looks" in failed:
        for split, rows in facts.groupby("split", sort=False):
            looks = rows.groupby("label")["label_looks"].first()
            wrong = looks[looks != AS_PINNED]
            if wrong.empty:
                continue
            targets = {str(v) for v in wrong}
            if len(wrong) > len(looks) / 2 and len(targets) <= 2:
                causes[f"the {split} split's labels shuffled: every class's mean image looks like the same "
                       "average digit"] = None
            else:
                pairs = ", ".join(f"{k} -> {str(v).removeprefix('looks like class ')}" for k, v in wrong.items())
                causes[f"the {split} split's labels permuted or shifted (label -> the pin's class it looks like: "
                       f"{pairs})"] = None
    generic = {
        "finite": "NaN or infinite pixel values",
        "pixel_min": f"pixel values below {cfg.value_min}", "pixel_max": f"pixel values above {cfg.value_max}",
        "label": "labels outside the dataset's classes", "split_label": "a class missing from a split",
        "class_count": "a class with too few images in a split",
        "sha1": "duplicate images within or across the splits (test images in the training split?)",
        "height": "another image size than meta.json declares", "width": "another image size than meta.json declares",
        "channels": "another channel count than meta.json declares",
        "rows": "another number of rows than meta.json counts (a truncated or appended file?)",
        "sigmas_from_mode": "points far from their labelled mode: mislabelled, or coordinates swapped or rescaled",
    }
    for column in failed:
        if column in generic:
            causes[generic[column]] = None
    return list(causes)


def relax_hint(failed: set[str], dataset: str) -> str | None:
    """How to let data that really looks so pass the checks that failed, when they can be relaxed."""
    names = sorted({RELAXABLE[c] for c in failed if c in RELAXABLE})
    return f"if the data really is so: validation.relax.{dataset}: [{', '.join(names)}]" if names else None
