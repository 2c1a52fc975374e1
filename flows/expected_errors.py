"""Prefect logs a failed flow or task run with its traceback, in the terminal and in the run's logs in the UI.
For an expected error (a GenzooError: bad data, bad configuration, a failed gate, a diverged training; or a full
disk) the message already names the problem and where it is, so the traceback is dropped and the line kept;
unexpected errors keep theirs, and `genzoo --debug` (GENZOO_DEBUG=1) keeps every traceback.

Prefect then repeats the message in each state it reports (the task failed, the task finished Failed, the flow
encountered it, the flow finished Failed): after the first full line those say it in SHORT characters."""

from __future__ import annotations

import collections
import logging
import os

from components import disk
from components.errors import GenzooError

DEBUG_ENV = "GENZOO_DEBUG"
LOGGERS = ("prefect.flow_runs", "prefect.task_runs")
STORE_LOGGER = "mlflow.store.db.utils"
SHORT = 100  # characters of an expected message repeated after its first full line
# expected messages -> whether a run logger has said them in full yet (shared by both loggers; the last few only)
_SAID: collections.OrderedDict[str, bool] = collections.OrderedDict()


def note(exc: BaseException) -> None:
    """Remember an expected error a task raises, so that each Prefect line after the first shortens it."""
    message = str(exc)
    if expected(exc) and len(message) > SHORT:
        _SAID.setdefault(message, False)
        while len(_SAID) > 16:
            _SAID.popitem(last=False)


def expected(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is a GenzooError or says the disk is full."""
    return any(isinstance(e, GenzooError) for e in disk.chain(exc)) or disk.full_disk(exc, ".") is not None


def _forms(message: str) -> tuple[str, ...]:
    """How the message may appear in a Prefect line: as str(exc), or inside repr(exc)."""
    return (message, repr(message)[1:-1])


class OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if os.environ.get(DEBUG_ENV):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None and expected(exc):
            record.exc_info, record.exc_text = None, None
            note(exc)
        text = record.getMessage()
        for said, shown in _SAID.items():
            form = next((f for f in _forms(said) if f in text), None)
            if form is None:
                continue
            if shown:  # said in full before: the repeat is shortened
                record.msg, record.args = text.replace(form, form[:SHORT] + " ... (in full above)"), ()
            _SAID[said] = True
            break
        return True


class StoreFull(logging.Filter):
    """MLflow's SQL store logs each failed write with its SQL and a chained traceback; on a full disk that is
    one line (the error genzoo ends with names the path and the free space)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if not os.environ.get(DEBUG_ENV) and ("database or disk is full" in record.getMessage()
                                              or disk.full_disk(exc, ".") is not None):
            record.msg, record.args = "MLflow's store could not be written: the disk is full", ()
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Add the filters (once): to Prefect's run loggers, so that every handler, the API's included, sees the one
    line, and to MLflow's SQL store."""
    for name, kind in [*((n, OneLine) for n in LOGGERS), (STORE_LOGGER, StoreFull)]:
        logger = logging.getLogger(name)
        if not any(isinstance(f, kind) for f in logger.filters):
            logger.addFilter(kind())
