"""The materialised, byte-deterministic dataset format under data/<name>/ that data.dvc pins.

Plain .npy files (no zip timestamps, no pickles) and a sorted-key meta.json: the same source gives the same
bytes on every machine, so `dvc status` stays clean after a fresh `genzoo prepare`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from components import disk
from components.data.sources import Splits
from components.errors import DataError

ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
META = "meta.json"


@dataclass
class Dataset:
    """A dataset as read from disk, before validation: images keep whatever dtype the file holds."""

    name: str
    path: Path
    arrays: dict[str, np.ndarray]
    meta: dict

    @property
    def classes(self) -> list[str]:
        return list(self.meta["classes"])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.arrays["train_images"].shape[1:])

    @property
    def mixture(self):
        """The 2-D mixture the points were drawn from (data/mixtures.py), or None for images."""
        from components.data.mixtures import Mixture

        return Mixture.from_meta(self.meta["mixture"]) if self.meta.get("mixture") else None


def write(splits: Splits, name: str, data_dir: Path) -> Path:
    """Write a dataset atomically; an existing data/<name>/ is never overwritten."""
    final = data_dir / name
    if final.exists():
        raise DataError(f"{final} already exists; remove it first to rebuild it")
    tmp = data_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        with disk.writing(final):
            _fill(tmp, splits, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a half-written copy would only hold the space a rerun needs
        raise
    os.replace(tmp, final)
    return final


def _fill(tmp: Path, splits: Splits, name: str) -> None:
    arrays = dict(zip(ARRAYS, (splits.train_images, splits.train_labels, splits.test_images, splits.test_labels)))
    for key, arr in arrays.items():
        np.save(tmp / f"{key}.npy", np.ascontiguousarray(arr), allow_pickle=False)
    meta = {
        "name": name,
        "source": splits.source,
        "classes": list(splits.classes),
        "image_shape": list(splits.train_images.shape[1:]),
        "counts": {"train": int(len(splits.train_labels)), "test": int(len(splits.test_labels))},
        **({"mixture": splits.mixture} if splits.mixture else {}),
    }
    (tmp / META).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data bytes the header promises) of a .npy file, read from its header alone: a file is
    checked against its own size before anything is allocated (a crafted header may claim terabytes)."""
    from numpy.lib import format as npy

    if not path.exists():
        raise DataError(f"{path}: missing")
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file")
    try:
        with path.open("rb") as fh:
            version = npy.read_magic(fh)
            read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _fortran, dtype = read(fh, max_header_size=10_000)
            offset = fh.tell()
    except (ValueError, EOFError, OSError, SyntaxError) as exc:
        raise DataError(f"{path}: not a .npy array (its header does not parse: {exc})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: holds Python objects (dtype {dtype}), which only a pickle can read; genzoo "
                        "never unpickles data: save the images as a numeric array")
    if dtype.kind not in "uifb":
        raise DataError(f"{path}: expected a numeric array, found dtype {dtype}")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size - offset != expected:
        state = "truncated" if size - offset < expected else "longer than its header says"
        raise DataError(f"{path}: {state}: its header claims shape {tuple(shape)} of {dtype} ({expected:,} bytes), "
                        f"the file holds {size - offset:,} bytes after the header")
    return tuple(shape), dtype, expected


def _load_array(path: Path) -> np.ndarray:
    """The array, once its header was checked against the file's size (nothing is allocated before)."""
    header(path)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise DataError(f"{path}: unreadable .npy array ({exc})") from None


def read(name: str, data_dir: Path) -> Dataset:
    """Read data/<name>/ and check its structure; value checks belong to the validation gate."""
    path = data_dir / name
    if not path.is_dir():
        raise DataError(f"{path}: no such dataset; run `genzoo prepare --dataset {name}` (or `dvc pull`)")
    try:
        meta = json.loads((path / META).read_text())
        classes = list(meta["classes"])
    except FileNotFoundError:
        raise DataError(f"{path / META}: missing") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path / META}: unreadable ({exc})") from None
    arrays = {key: _load_array(path / f"{key}.npy") for key in ARRAYS}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        where = path / f"{split}_images.npy"
        if x.ndim == 3:
            x = arrays[f"{split}_images"] = x[..., None]
        if meta.get("mixture"):  # 2-D points (data/mixtures.py)
            if x.shape[1:] != (1, 1, 2) or len(x) == 0:
                raise DataError(f"{where}: expected 2-D points shaped (N, 1, 1, 2) with N > 0, found {x.shape}")
        elif x.ndim != 4 or x.shape[-1] not in (1, 3) or len(x) == 0:
            raise DataError(f"{where}: expected images shaped (N, H, W, 1 or 3) with N > 0, found {x.shape}")
        if y.ndim != 1 or len(y) != len(x):
            raise DataError(f"{path / f'{split}_labels.npy'}: expected {len(x)} labels (N,), found {y.shape}")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DataError(
            f"{path}: train images {arrays['train_images'].shape[1:]} and test images "
            f"{arrays['test_images'].shape[1:]} differ in shape"
        )
    if not classes:
        raise DataError(f"{path / META}: 'classes' is empty")
    counts = meta.get("counts") if isinstance(meta.get("counts"), dict) else {}
    for split, n in counts.items():
        if f"{split}_images" in arrays and len(arrays[f"{split}_images"]) != n:
            raise DataError(f"{path / f'{split}_images.npy'}: holds {len(arrays[f'{split}_images'])} images but "
                            f"{path / META} counts {n}")
    declared = meta.get("image_shape")
    if declared is not None and list(declared) != list(arrays["train_images"].shape[1:]):
        raise DataError(f"{path / META}: image_shape {list(declared)} but {path / 'train_images.npy'} holds images "
                        f"shaped {list(arrays['train_images'].shape[1:])}")
    return Dataset(name, path, arrays, meta)


def feed_file(h, path: Path):
    """Stream a file into a hashlib object in 1 MiB chunks; returns h."""
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h


def content_hash(path: Path) -> str:
    """md5 over a dataset folder's files (names and bytes): the per-dataset version used in cache keys."""
    h = hashlib.md5()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(f.relative_to(path).as_posix().encode() + b"\0")
        feed_file(h, f)
    return h.hexdigest()
