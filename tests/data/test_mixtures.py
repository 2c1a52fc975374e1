"""The 2-D mixtures (data/mixtures.py): deterministic bytes, the declared geometry, and their own gate."""

from __future__ import annotations

import numpy as np
import pytest

from components.config.schema import Validation
from components.data import sources, store
from components.data.mixtures import MIXTURES
from components.errors import ValidationFailed
from components.validation.gate import validate


@pytest.mark.parametrize("name", ["ring8", "grid25"])
def test_a_mixture_is_drawn_to_the_same_bytes_every_time(name, tmp_path):
    a, b = store.write(sources.fetch(name, {}), name, tmp_path / "a"), store.write(sources.fetch(name, {}), name,
                                                                                  tmp_path / "b")
    assert store.content_hash(a) == store.content_hash(b)


@pytest.mark.parametrize("name,modes,radius", [("ring8", 8, 2.0), ("grid25", 25, 4 * 2 ** 0.5)])
def test_a_mixture_has_its_declared_modes_each_with_its_share_and_spread(name, modes, radius):
    s = sources.fetch(name, {})
    mix = MIXTURES[name]
    c = mix.centres_array()
    assert len(c) == modes and np.isclose(np.linalg.norm(c, axis=1).max(), radius)
    pts = s.train_images.reshape(-1, 2).astype(np.float64)
    assert s.train_images.dtype == np.float32 and s.train_images.shape[1:] == (1, 1, 2)
    assert np.bincount(s.train_labels).tolist() == [mix.train_per_mode] * modes
    offsets = pts - c[s.train_labels]
    assert offsets.mean(0) == pytest.approx([0, 0], abs=3 * mix.sigma / np.sqrt(len(pts) / modes))
    assert offsets.std(0) == pytest.approx([mix.sigma] * 2, rel=0.03)


def test_the_gate_passes_a_mixture_and_stops_it_with_swapped_or_scaled_coordinates(tmp_path):
    store.write(sources.fetch("ring8", {}), "ring8", tmp_path)
    ds = store.read("ring8", tmp_path)
    assert ds.mixture.modes == 8 and validate(ds, Validation(), tmp_path / "ok")["success"]
    for name, change in (("swapped", lambda x: x[..., ::-1].copy()), ("scaled", lambda x: x * 1.1)):
        bad = store.read("ring8", tmp_path)
        bad.arrays["test_images"] = change(bad.arrays["test_images"])
        with pytest.raises(ValidationFailed, match="sigmas_from_mode"):
            validate(bad, Validation(), tmp_path / name)


def test_the_gate_stops_a_mixture_missing_a_mode_in_one_split(tmp_path):
    store.write(sources.fetch("ring8", {}), "ring8", tmp_path)
    ds = store.read("ring8", tmp_path)
    keep = ds.arrays["test_labels"] != 3
    for key in ("test_images", "test_labels"):
        ds.arrays[key] = ds.arrays[key][keep]
    ds.meta["counts"]["test"] = int(keep.sum())
    with pytest.raises(ValidationFailed, match="split_label"):
        validate(ds, Validation(), tmp_path / "gate")
