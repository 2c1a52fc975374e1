import hashlib

import numpy as np
import pytest

from components.data import sources, store
from components.errors import DataError


def _md5s(path):
    return {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(path.iterdir())}


def test_write_is_byte_deterministic_and_never_overwrites(tmp_path):
    splits = sources.fetch("mnist5k", {})
    a = store.write(splits, "mnist5k", tmp_path / "a")
    b = store.write(splits, "mnist5k", tmp_path / "b")
    assert _md5s(a) == _md5s(b)
    assert store.content_hash(a) == store.content_hash(b)
    before = _md5s(a)
    with pytest.raises(DataError, match="already exists"):
        store.write(splits, "mnist5k", tmp_path / "a")
    assert _md5s(a) == before


def test_read_round_trip(mnist5k_data):
    ds = store.read("mnist5k", mnist5k_data)
    assert ds.image_shape == (28, 28, 1) and len(ds.classes) == 10
    assert ds.arrays["train_images"].dtype == np.uint8


@pytest.fixture
def copy(tmp_path, mnist5k_data):
    import shutil

    shutil.copytree(mnist5k_data / "mnist5k", tmp_path / "mnist5k")
    return tmp_path


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_bytes(p.read_bytes()[:1000]), "train_images.npy: truncated"),
    (lambda p: p.write_bytes(b""), "train_images.npy: empty file"),
    (lambda p: np.save(p, np.zeros((10, 784), np.uint8)), r"train_images.npy: expected images shaped"),
    (lambda p: p.unlink(), "train_images.npy: missing"),
])
def test_damaged_files_name_the_file(copy, damage, message):
    damage(copy / "mnist5k" / "train_images.npy")
    with pytest.raises(DataError, match=message):
        store.read("mnist5k", copy)


def test_label_count_mismatch(copy):
    np.save(copy / "mnist5k" / "test_labels.npy", np.zeros(3, np.int64))
    with pytest.raises(DataError, match=r"test_labels.npy: expected 1000 labels"):
        store.read("mnist5k", copy)


def _crafted(path, shape, dtype="|u1", payload=b"\0" * 64):
    """A .npy file whose header claims `shape` of `dtype` over a payload of another size."""
    from numpy.lib import format as npy

    with path.open("wb") as fh:
        npy.write_array_header_1_0(fh, {"descr": dtype, "fortran_order": False, "shape": shape})
        fh.write(payload)


@pytest.mark.parametrize("shape, dtype, message", [
    ((10**9, 28, 28, 1), "|u1", r"truncated: its header claims shape \(1000000000, 28, 28, 1\)"),
    ((2**40,), "<i8", "truncated: its header claims shape"),
    ((2, 28, 28, 1), "|O", "holds Python objects"),
    ((1, 2), "<U4", "expected a numeric array, found dtype <U4"),
])
def test_a_crafted_header_is_refused_before_anything_is_allocated(copy, shape, dtype, message):
    import resource

    target = copy / "mnist5k" / "train_images.npy"
    _crafted(target, shape, dtype)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(DataError, match=message) as err:
        store.read("mnist5k", copy)
    assert str(target) in str(err.value) and "\n" not in str(err.value)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB: nothing near the claim


def test_a_file_longer_than_its_header_or_other_than_meta_json_counts_is_refused(copy):
    x = np.load(copy / "mnist5k" / "test_images.npy")
    with (copy / "mnist5k" / "test_images.npy").open("ab") as fh:
        fh.write(b"\0" * 784)
    with pytest.raises(DataError, match="test_images.npy: longer than its header says"):
        store.read("mnist5k", copy)
    np.save(copy / "mnist5k" / "test_images.npy", x[:-1])
    np.save(copy / "mnist5k" / "test_labels.npy", np.load(copy / "mnist5k" / "test_labels.npy")[:-1])
    with pytest.raises(DataError, match=r"test_images.npy: holds 999 images but .*meta.json counts 1000"):
        store.read("mnist5k", copy)
