"""Progress bars that say what is running. Every long loop (training, the reference classifier, sampling,
feature extraction, likelihood scoring) asks `bar` for one; it is labelled with the stage being run
(`evaluate:nsgan@mnist`), which the node runner sets for the stage's duration. Outside a stage, or with
`train.progress: false`, no bar is drawn."""

from __future__ import annotations

import contextlib
import contextvars
from typing import Iterable, Iterator

_current: contextvars.ContextVar[tuple[str | None, bool]] = contextvars.ContextVar("genzoo_progress",
                                                                                   default=(None, False))


@contextlib.contextmanager
def stage(label: str, enabled: bool) -> Iterator[None]:
    token = _current.set((label, enabled))
    try:
        yield
    finally:
        _current.reset(token)


def label() -> str | None:
    return _current.get()[0]


def bar(iterable: Iterable, what: str, total: int | None = None, unit: str = "batch"):
    """`iterable` with a bar `<stage label>: <what>` when a stage with progress on is running."""
    name, enabled = _current.get()
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=f"{name}: {what}", unit=unit, mininterval=1.0, dynamic_ncols=True,
                leave=False)
