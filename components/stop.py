"""A stop the user asked for (Ctrl-C) that must not be lost. Python turns SIGINT into a KeyboardInterrupt wherever
the main thread is; parts of Prefect's flow start-up catch it and go on (measured: SIGINT as "Beginning flow run"
appeared let `genzoo run` train and register a version, exit 0; a Ctrl-C'd study waited on its trial for good).
The command's handler (and a study worker's) also records the signal here, and the walker, the study and the
training loop check the record between stages, while they wait and at every step, so a swallowed interrupt still
stops the run before the next thing it would do. (Measured: a worker's SIGINT that landed in a garbage-collection
callback of SQLAlchemy's was printed as "Exception ignored" and the trial trained on, its run left RUNNING.)"""

from __future__ import annotations

import signal

from components.errors import Interrupted

_requested: str | None = None


def install() -> None:
    """SIGINT raises KeyboardInterrupt as Python's default handler does, and is remembered."""

    def on_sigint(signum, frame):
        global _requested
        _requested = signal.Signals(signum).name
        raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # not where the user chose to ignore it
        signal.signal(signal.SIGINT, on_sigint)


def record(name: str) -> None:
    """Remember a stop asked for by a signal some other handler took (a study's pool worker)."""
    global _requested
    _requested = name


def requested() -> bool:
    """Whether this process was told to stop (what check() raises on, without raising)."""
    return _requested is not None


def check() -> None:
    """Raise Interrupted if a stop was asked for, even one whose KeyboardInterrupt something swallowed."""
    if _requested is not None:
        raise Interrupted(f"stopped by {_requested}")
