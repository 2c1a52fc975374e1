"""Unpickle files that should hold only numpy arrays, refusing anything that could run code."""

from __future__ import annotations

import importlib
import io
import pickle

import numpy as np

from components.errors import DataError

# numpy 2 moved numpy.core to numpy._core; old pickles name the former.
_NUMPY_CORE = "numpy._core" if hasattr(np, "_core") else "numpy.core"
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"): (f"{_NUMPY_CORE}.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"): (f"{_NUMPY_CORE}.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"): (f"{_NUMPY_CORE}.multiarray", "scalar"),
    ("numpy", "ndarray"): ("numpy", "ndarray"),
    ("numpy", "dtype"): ("numpy", "dtype"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        target = _ALLOWED.get((module, name))
        if target is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        return getattr(importlib.import_module(target[0]), target[1])


def load_numpy_pickle(data: bytes, where: str, encoding: str = "latin1"):
    try:
        return NumpyOnlyUnpickler(io.BytesIO(data), encoding=encoding).load()
    except pickle.UnpicklingError as exc:
        raise DataError(f"{where}: {exc}") from None
    except (EOFError, ValueError, TypeError) as exc:
        raise DataError(f"{where}: truncated or not a pickle of numpy arrays ({exc})") from None
