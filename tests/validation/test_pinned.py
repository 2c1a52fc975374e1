"""The committed statistics of the pinned datasets (validation/pinned_stats.py) are those of the data the
sources produce, and a split's orientation is named against them."""

import numpy as np
import pytest

from components.data import sources
from components.validation import pinned
from components.validation.pinned_stats import PINNED


@pytest.mark.parametrize("name", ["mnist5k", "uci-digits"])
def test_committed_statistics_are_those_of_the_pinned_data(name):
    data = sources.fetch(name, {})
    for split in pinned.SPLITS:
        got = pinned.split_stats(getattr(data, f"{split}_images"), getattr(data, f"{split}_labels"))
        assert got["mean_ink"] == pytest.approx(PINNED[name][split]["mean_ink"], abs=1e-4)
        assert np.allclose(got["mean_image"], PINNED[name][split]["mean_image"], atol=0.006)
        assert got["class_means"].keys() == PINNED[name][split]["class_means"].keys()
        for k, mean in got["class_means"].items():
            assert np.allclose(mean, PINNED[name][split]["class_means"][k], atol=0.006)


@pytest.mark.parametrize("name", ["mnist5k", "uci-digits"])
def test_labels_as_pinned_pass_and_shuffled_or_shifted_ones_are_named(name):
    data = sources.fetch(name, {})
    x, y = data.train_images, data.train_labels
    ref = PINNED[name]["train"]["class_means"]
    assert set(pinned.label_looks(x, y, ref).values()) == {pinned.AS_PINNED}
    assert set(pinned.label_looks(x[:600], y[:600], ref).values()) == {pinned.AS_PINNED}  # a small part too
    shifted = pinned.label_looks(x, (y + 1) % 10, ref)  # label k holds the digits of class k - 1
    assert shifted == {k: f"looks like class {(k - 1) % 10}" for k in range(10)}
    shuffled = pinned.label_looks(x, np.random.default_rng(0).permutation(y), ref)
    assert sum(v != pinned.AS_PINNED for v in shuffled.values()) >= 8


def test_every_transform_is_named_and_the_data_as_pinned_is_not():
    x = sources.fetch("mnist5k", {}).test_images
    ref = PINNED["mnist5k"]["test"]["mean_image"]
    assert pinned.orientation(x, ref) == pinned.AS_PINNED
    assert pinned.orientation(x[:500], ref) == pinned.AS_PINNED  # a tenth of the split: its mean is noisier
    for name, t in pinned._transforms(28, 28).items():
        assert pinned.orientation(np.ascontiguousarray(t(x.transpose(1, 2, 3, 0))).transpose(3, 0, 1, 2), ref) \
            == name
    assert pinned.orientation(255 - x, ref).startswith("like no orientation")
