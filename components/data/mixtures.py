"""2-D mixtures of Gaussians: the datasets on which mode collapse is countable exactly.

`ring8`: 8 Gaussians on a circle of radius 2, sigma 0.02 (Metz et al. 2017, Sec. 3.1);
`grid25`: a 5x5 grid at spacing 2 over -4..4, sigma 0.05 (Srivastava et al. 2017, VEEGAN Sec. 5.1;
Lin et al. 2018, PacGAN Sec. 5).

A point travels through the pipeline as a 1x1 "image" with two float channels, (N, 1, 1, 2): every seam that
carries (N, H, W, C) data carries points unchanged, and `is_points(image_shape)` is how a model or a metric tells
them apart. Labels are each point's mode. The mixture itself (centres, sigma) is written into the dataset's
meta.json, so evaluation counts modes against the data it was given, not against a constant in the code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mixture:
    name: str
    centres: tuple[tuple[float, float], ...]
    sigma: float
    train_per_mode: int
    test_per_mode: int
    seed: int  # the draw: same seed, same bytes on every machine (numpy's PCG64 stream)
    cite: str

    @property
    def modes(self) -> int:
        return len(self.centres)

    def centres_array(self) -> np.ndarray:
        return np.asarray(self.centres, np.float64)

    def draw(self, per_mode: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(points float32 (M*per_mode, 1, 1, 2), mode labels int64): exactly `per_mode` points per mode, in a
        shuffled order."""
        labels = np.repeat(np.arange(self.modes, dtype=np.int64), per_mode)
        points = self.centres_array()[labels] + self.sigma * rng.standard_normal((len(labels), 2))
        order = rng.permutation(len(labels))
        return points[order].astype(np.float32).reshape(-1, 1, 1, 2), labels[order]

    def to_meta(self) -> dict:
        return {"name": self.name, "centres": [list(c) for c in self.centres], "sigma": self.sigma,
                "cite": self.cite}

    @staticmethod
    def from_meta(meta: dict) -> Mixture:
        return Mixture(meta["name"], tuple((float(x), float(y)) for x, y in meta["centres"]),
                       float(meta["sigma"]), 0, 0, 0, meta.get("cite", ""))


def _ring(k: int, radius: float) -> tuple[tuple[float, float], ...]:
    # rounded to 12 digits: cos(pi/2) is 6e-17, not 0, and the stored centres should read as the ring they are
    return tuple((round(radius * math.cos(2 * math.pi * i / k), 12), round(radius * math.sin(2 * math.pi * i / k), 12))
                 for i in range(k))


def _grid(side: int, spacing: float) -> tuple[tuple[float, float], ...]:
    half = (side - 1) / 2
    return tuple(((i - half) * spacing, (j - half) * spacing) for i in range(side) for j in range(side))


MIXTURES: dict[str, Mixture] = {
    "ring8": Mixture("ring8", _ring(8, 2.0), 0.02, 5_000, 1_000, 20_170_101,
                     "Metz et al. 2017 (unrolled GAN), Sec. 3.1: 8 Gaussians on a circle of radius 2, sigma 0.02"),
    "grid25": Mixture("grid25", _grid(5, 2.0), 0.05, 2_000, 400, 20_170_524,
                      "Srivastava et al. 2017 (VEEGAN) Sec. 5.1; Lin et al. 2018 (PacGAN) Sec. 5: 5x5 grid, "
                      "spacing 2, sigma 0.05"),
}


def names_mixture(dataset: str, sources: dict[str, dict]) -> bool:
    """Whether the dataset named `dataset` is a 2-D mixture, from its name alone (before any data exists):
    params.yaml's `data.sources.<name>` (`sources`) when it declares it, else the built-in mixtures."""
    declared = sources.get(dataset)
    return declared.get("source") == "mixture" if declared and "source" in declared else dataset in MIXTURES


def is_points(image_shape) -> bool:
    """(C, H, W) of 2-D points: two channels on a 1x1 'image'."""
    return tuple(image_shape) == (2, 1, 1)
