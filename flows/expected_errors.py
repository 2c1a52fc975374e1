"""Prefect logs a failed flow or task run with its traceback, in the terminal and in the run's logs in the UI.
For an expected error (a GenzooError: bad data, bad configuration, a failed gate, a diverged training) the
message already names the problem and where it is, so the traceback is dropped and the line kept; unexpected
errors keep theirs, and `genzoo --debug` (GENZOO_DEBUG=1) keeps every traceback."""

from __future__ import annotations

import logging
import os

from components.errors import GenzooError

DEBUG_ENV = "GENZOO_DEBUG"
LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


def expected(exc: BaseException | None) -> bool:
    """Whether `exc`, or an exception it was raised from, is a GenzooError."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, GenzooError):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class OneLine(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and expected(record.exc_info[1]) and not os.environ.get(DEBUG_ENV):
            record.exc_info, record.exc_text = None, None
        return True


def install() -> None:
    """Add the filter to Prefect's run loggers (once): every handler, the API's included, sees the one line."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, OneLine) for f in logger.filters):
            logger.addFilter(OneLine())
