"""A full disk is recognised wherever it surfaces (components/disk.py): the OS's ENOSPC, numpy's and SQLite's own
words, under whatever wrapped them; and a dataset written onto a full filesystem leaves nothing half-written."""

import errno
import sqlite3
import subprocess

import numpy as np
import pytest

from components import disk
from components.data import sources, store
from components.errors import OutOfSpace


def _raised_from(inner: BaseException, outer: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except BaseException as exc:
        return exc


def test_a_full_disk_under_any_wrapper_names_the_file_and_its_free_space(tmp_path):
    target = tmp_path / "outputs" / "model.pt"
    full = disk.out_of_space(_raised_from(OSError(errno.ENOSPC, "No space left on device", str(target)),
                                          RuntimeError("stage failed")), tmp_path)
    assert isinstance(full, OutOfSpace) and full.path == str(target)
    assert str(full).startswith(f"no space left to write {target} (") and " free there): " in str(full)
    sql = disk.out_of_space(_raised_from(sqlite3.OperationalError("database or disk is full"),
                                         RuntimeError("(sqlite3.OperationalError) ...")), tmp_path)
    assert sql is not None and sql.path.startswith("an SQLite database (the MLflow or Prefect store) under")
    assert disk.out_of_space(OSError("Not enough free space to write 47040000 bytes after offset 128"),
                             tmp_path) is not None  # numpy's tofile, before and while it writes
    assert disk.out_of_space(OSError("3136000 requested and 2097024 written"), tmp_path) is not None
    copy = OSError(errno.ENOSPC, "No space left on device", "/src/a.gif", None, "/dst/a.gif")
    assert disk.out_of_space(copy, tmp_path).path == "/dst/a.gif"  # a copy fails on its destination


@pytest.mark.parametrize("exc", [OSError(errno.EACCES, "Permission denied", "/x"), ValueError("disk"),
                                 RuntimeError("file write failed")])  # torch's vague words, with space left
def test_other_errors_are_not_called_a_full_disk(tmp_path, exc):
    assert disk.out_of_space(exc, tmp_path) is None


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs (skipped where mounting is not permitted)."""
    where = tmp_path / "small"
    where.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    yield where
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_dataset_that_does_not_fit_leaves_nothing_half_written(small_disk):
    data = sources.fetch("mnist5k", {})  # 4 MB of images
    with pytest.raises(OutOfSpace) as err:
        store.write(data, "mnist5k", small_disk)
    assert err.value.path == str(small_disk / "mnist5k")
    assert list(small_disk.iterdir()) == []  # neither the dataset nor its temporary copy
    tiny = sources.Splits(*(np.asarray(a)[:10] for a in (data.train_images, data.train_labels, data.test_images,
                                                           data.test_labels)), data.classes, data.source)
    store.write(tiny, "tiny", small_disk)  # the space is free again
    assert store.read("tiny", small_disk).arrays["train_images"].shape == (10, 28, 28, 1)
