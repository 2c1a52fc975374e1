"""Each likely cause the gate names (validation/causes.py) is tested against the corruption it names, on real
digits: the one line leads with it, and does not misname a neighbouring cause."""

import numpy as np
import pytest

from components.config.schema import Validation
from components.data import store
from components.errors import ValidationFailed
from components.validation.gate import validate


@pytest.fixture
def ds(mnist5k_data):
    return store.read("mnist5k", mnist5k_data)


def _set(split_array, fn):
    return lambda ds: ds.arrays.__setitem__(split_array, fn(ds.arrays[split_array], ds))


@pytest.mark.parametrize("corrupt, cause, not_said", [
    (_set("train_images", lambda x, _: (x / 255.0).astype(np.float32)),
     "the train split's pixels are floats in [0, 1] where bytes 0..255 are expected", "binarised"),
    (_set("train_images", lambda x, _: (x > 127).astype(np.uint8)),
     "the train split's images binarised to 0/1 bytes", "floats in [0, 1]"),
    (_set("test_images", lambda x, _: 255 - x), "the test split's pixels inverted (255 - x)", "flipped"),
    (_set("train_images", lambda x, _: x[:, ::-1].copy()), "the train split flipped vertically on its way in",
     "inverted"),
    (_set("test_images", lambda x, _: x // 2), "the test split's contrast scaled down: 0.50x", "inverted"),
    (_set("train_labels", lambda y, _: np.random.default_rng(1).permutation(y)),
     "the train split's labels shuffled", "flipped"),
    (_set("test_labels", lambda y, _: (y + 1) % 10), "the test split's labels permuted or shifted (label -> the "
     "pin's class it looks like: 0 -> 9, 1 -> 0, 2 -> 1", "shuffled"),
])
def test_the_line_leads_with_the_cause_the_corruption_is(ds, tmp_path, corrupt, cause, not_said):
    corrupt(ds)
    with pytest.raises(ValidationFailed) as err:
        validate(ds, Validation(), tmp_path)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith(f"dataset 'mnist5k' failed validation. likely: {cause}"), line
    assert not_said not in " ".join(err.value.likely)
    assert str(tmp_path / "report.html") in line


def test_each_unexpected_value_is_shown_once(ds, tmp_path):
    ds.arrays["train_images"] = ds.arrays["train_images"][:, ::-1].copy()  # 4,000 rows, one value
    with pytest.raises(ValidationFailed) as err:
        validate(ds, Validation(), tmp_path)
    assert str(err.value).count("'flipped vertically'") == 1
    assert len(str(err.value)) < 700


def test_mislabelled_data_passes_where_labels_are_relaxed(ds, tmp_path):
    ds.arrays["train_labels"] = (ds.arrays["train_labels"] + 1) % 10
    assert validate(ds, Validation(relax={"mnist5k": ["labels"]}), tmp_path)["success"]
