import json

import numpy as np
import pytest

from components.config.schema import Validation
from components.data import store
from components.errors import ValidationFailed
from components.validation.gate import validate

CFG = Validation()


@pytest.fixture
def ds(mnist5k_data):
    return store.read("mnist5k", mnist5k_data)


def test_real_data_passes_and_writes_reports(ds, tmp_path):
    summary = validate(ds, CFG, tmp_path)
    assert summary["success"] and summary["rows"] == 5000 and summary["evaluated"] >= 10
    assert json.loads((tmp_path / "result.json").read_text())["success"] is True
    assert (tmp_path / "data_docs" / "index.html").stat().st_size > 1000
    page = (tmp_path / "report.html").read_text()  # readable offline: no stylesheet or script is fetched
    assert summary["report"] == str(tmp_path / "report.html") and "mnist5k: <span class=\"ok\">passed" in page
    assert page.count("<tr>") == summary["evaluated"] + 1 and "http" not in page and "<script" not in page


def _float_images(ds):
    ds.arrays["train_images"] = ds.arrays["train_images"].astype(np.float64)
    return ds.arrays["train_images"]


@pytest.mark.parametrize("corrupt, expectation", [
    (lambda ds: _float_images(ds).__setitem__((3, 0, 0, 0), np.nan), "column=finite"),
    (lambda ds: _float_images(ds).__setitem__((4, 5, 5, 0), 300.0), "column=pixel_max"),
    (lambda ds: ds.arrays["train_labels"].__setitem__(7, 11), "column=label"),
    # values the loader's uint8 cast would silently turn into other images
    (lambda ds: ds.arrays.__setitem__("test_images", ds.arrays["test_images"].astype(np.int64)), "column=dtype"),
    (lambda ds: ds.arrays.__setitem__("train_images", ds.arrays["train_images"] / 255.0), "column=dtype"),
    (lambda ds: ds.arrays["test_labels"].__setitem__(ds.arrays["test_labels"] == 3, 2), "column=split_label"),
    (lambda ds: ds.arrays["test_images"].__setitem__(slice(0, 60), ds.arrays["train_images"][:60]), "column=sha1"),
    # binarised to 0/1 bytes (x > 127 stored as uint8): every digit black
    (lambda ds: ds.arrays.__setitem__("train_images", (ds.arrays["train_images"] > 127).astype(np.uint8)),
     "column=contrast"),
    # against the pinned version's statistics, split by split (validation/pinned.py)
    (lambda ds: ds.arrays.__setitem__("test_images", ds.arrays["test_images"].transpose(0, 2, 1, 3).copy()),
     "'transposed (H and W swapped)'"),
    (lambda ds: ds.arrays.__setitem__("train_images", ds.arrays["train_images"][:, ::-1].copy()),
     "'flipped vertically'"),
    (lambda ds: ds.arrays.__setitem__("train_images", 255 - ds.arrays["train_images"]), "column=ink_ratio"),
    (lambda ds: ds.arrays.__setitem__("test_images", ds.arrays["test_images"] // 2), "column=ink_ratio"),
])
def test_each_defect_fails_the_expectation_that_checks_it(ds, tmp_path, corrupt, expectation):
    corrupt(ds)
    with pytest.raises(ValidationFailed) as err:
        validate(ds, CFG, tmp_path)
    assert expectation in str(err.value)
    assert err.value.dataset == "mnist5k"
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["success"] is False and any(expectation in f for f in summary["failed"])
    assert str(tmp_path / "report.html") in str(err.value)  # the error says where to read why
    assert "FAILED" in (tmp_path / "report.html").read_text()


def test_a_relaxed_check_lets_data_that_really_looks_so_pass(ds, tmp_path):
    ds.arrays["test_images"] = ds.arrays["test_images"].transpose(0, 2, 1, 3).copy()
    with pytest.raises(ValidationFailed, match=r"likely: the test split transposed \(H and W swapped\) on its way in\. \(if the data really is so: "
                                                 r"validation\.relax\.mnist5k: \[orientation\]\)"):
        validate(ds, CFG, tmp_path / "strict")
    relaxed = Validation(relax={"mnist5k": ["orientation"]})
    assert validate(ds, relaxed, tmp_path / "relaxed")["success"]
    with pytest.raises(ValidationFailed):  # relaxed for another dataset only
        validate(ds, Validation(relax={"other": ["orientation"]}), tmp_path / "elsewhere")
