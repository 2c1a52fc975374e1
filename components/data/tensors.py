"""Datasets as the training loop and evaluation take them: torch tensors, uint8 NHWC images (or float32 2-D
points shaped (N, 1, 1, 2), data/mixtures.py), int64 labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from components.data import store
from components.data.mixtures import Mixture
from components.errors import DataError


@dataclass(frozen=True, eq=False)
class Tensors:
    """One dataset's splits; for a domain pair, the stacked training rows and each domain's own splits (`a`, `b`)."""

    train_x: torch.Tensor  # uint8 NHWC; float32 (N, 1, 1, 2) for points
    train_y: torch.Tensor  # int64
    classes: list[str]
    # a pair has no test split of its own (empty here): its domains' are in a and b
    test_x: torch.Tensor = field(default_factory=lambda: torch.empty(0))
    test_y: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.long))
    members: tuple[str, str] | None = None  # a pair's two datasets (A, B)
    a: Tensors | None = None
    b: Tensors | None = None
    mixture: Mixture | None = None  # points: the mixture they were drawn from (its modes are what is counted)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W), what a model is built for."""
        return (self.train_x.shape[-1], *self.train_x.shape[1:3])

    @property
    def domains(self) -> tuple[Tensors, Tensors]:
        """A pair's two datasets' own tensors (A, B)."""
        if self.a is None or self.b is None:
            raise TypeError("a single dataset has no domains: only a pair has")
        return self.a, self.b

    @property
    def points_mixture(self) -> Mixture:
        """The mixture 2-D points were drawn from."""
        if self.mixture is None:
            raise TypeError("images have no mixture: only 2-D points have")
        return self.mixture

    def split_sizes(self) -> dict[str, int]:
        return {"train": len(self.train_x), **({"test": len(self.test_x)} if self.members is None else {})}


_cache: dict[tuple[str, str], Tensors] = {}


def load(data_dir: Path, dataset: str, content_hash: str) -> Tensors:
    """data/<dataset> as tensors, memoised for its content hash (the gate has already run on these files)."""
    memo = (str(Path(data_dir) / dataset), content_hash)
    if memo not in _cache:
        ds = store.read(dataset, data_dir)
        pixels = "float32" if ds.mixture else "uint8"
        a = {k: torch.from_numpy(v.astype(pixels if "images" in k else "int64")) for k, v in ds.arrays.items()}
        _cache.clear()  # one dataset at a time: full MNIST is 200 MB
        _cache[memo] = Tensors(train_x=a["train_images"], train_y=a["train_labels"], test_x=a["test_images"],
                               test_y=a["test_labels"], classes=ds.classes, mixture=ds.mixture)
    return _cache[memo]


def pair(name: str, members: tuple[str, str], a: Tensors, b: Tensors, seed: int) -> Tensors:
    """Both domains for the training loop: each A image (channels first) beside an independently shuffled B
    image, as many rows as the larger domain. Test splits stay with each domain (`.a.test_x`, `.b.test_x`)."""
    if a.train_x.shape[1:3] != b.train_x.shape[1:3]:
        raise DataError(f"pair {name}: {members[0]} is {tuple(a.train_x.shape[1:3])} but {members[1]} is "
                        f"{tuple(b.train_x.shape[1:3])}; both domains need the same height and width")
    n = max(len(a.train_x), len(b.train_x))
    g = torch.Generator().manual_seed(int(seed))
    ia = torch.arange(n) % len(a.train_x)
    ib = torch.randperm(n, generator=g) % len(b.train_x)
    return Tensors(train_x=torch.cat([a.train_x[ia], b.train_x[ib]], dim=-1), train_y=a.train_y[ia],
                   classes=a.classes, members=members, a=a, b=b)
