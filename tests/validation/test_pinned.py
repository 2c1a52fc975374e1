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
        got = pinned.split_stats(getattr(data, f"{split}_images"))
        assert got["mean_ink"] == pytest.approx(PINNED[name][split]["mean_ink"], abs=1e-4)
        assert np.allclose(got["mean_image"], PINNED[name][split]["mean_image"], atol=0.006)


def test_every_transform_is_named_and_the_data_as_pinned_is_not():
    x = sources.fetch("mnist5k", {}).test_images
    ref = PINNED["mnist5k"]["test"]["mean_image"]
    assert pinned.orientation(x, ref) == pinned.AS_PINNED
    assert pinned.orientation(x[:500], ref) == pinned.AS_PINNED  # a tenth of the split: its mean is noisier
    for name, t in pinned._transforms(28, 28).items():
        assert pinned.orientation(np.ascontiguousarray(t(x.transpose(1, 2, 3, 0))).transpose(3, 0, 1, 2), ref) \
            == name
    assert pinned.orientation(255 - x, ref).startswith("like no orientation")
