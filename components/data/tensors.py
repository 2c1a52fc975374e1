"""Datasets as the training loop and evaluation take them: torch tensors, uint8 NHWC images, int64 labels."""

from __future__ import annotations

from pathlib import Path

import torch

from components.data import store
from components.errors import DataError

_cache: dict[tuple[str, str], dict] = {}


def load(data_dir: Path, dataset: str, content_hash: str) -> dict:
    """data/<dataset> as tensors, memoised for its content hash (the gate has already run on these files)."""
    memo = (str(Path(data_dir) / dataset), content_hash)
    if memo not in _cache:
        ds = store.read(dataset, data_dir)
        a = {k: torch.from_numpy(v.astype("uint8" if "images" in k else "int64")) for k, v in ds.arrays.items()}
        _cache.clear()  # one dataset at a time: full MNIST is 200 MB
        _cache[memo] = {"train_x": a["train_images"], "train_y": a["train_labels"],
                        "test_x": a["test_images"], "test_y": a["test_labels"], "classes": ds.classes}
    return _cache[memo]


def pair(name: str, members: tuple[str, str], a: dict, b: dict, seed: int) -> dict:
    """Both domains for the training loop: each A image (channels first) beside an independently shuffled B
    image, as many rows as the larger domain. Test splits stay separate ("a_test_x", "b_test_x", ...)."""
    if a["train_x"].shape[1:3] != b["train_x"].shape[1:3]:
        raise DataError(f"pair {name}: {members[0]} is {tuple(a['train_x'].shape[1:3])} but {members[1]} is "
                        f"{tuple(b['train_x'].shape[1:3])}; both domains need the same height and width")
    n = max(len(a["train_x"]), len(b["train_x"]))
    g = torch.Generator().manual_seed(int(seed))
    ia = torch.arange(n) % len(a["train_x"])
    ib = torch.randperm(n, generator=g) % len(b["train_x"])
    out = {"train_x": torch.cat([a["train_x"][ia], b["train_x"][ib]], dim=-1), "train_y": a["train_y"][ia],
           "classes": a["classes"], "members": list(members), "hp": {"channels_a": int(a["train_x"].shape[-1])}}
    for side, d in (("a", a), ("b", b)):
        out.update({f"{side}_test_x": d["test_x"], f"{side}_test_y": d["test_y"], f"{side}_classes": d["classes"]})
    return out
