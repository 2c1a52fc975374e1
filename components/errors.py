"""Errors a user can act on. Each message names the problem and where it is (file, key, expectation)."""


class GenzooError(Exception):
    """Base for errors that the CLI prints as one clear line instead of a traceback; never retried."""


class ConfigError(GenzooError, ValueError):
    """A configuration problem the user must fix; the message names the key and the file. `key`: the dotted key
    at fault, when known, so the loader can say which layer (params.yaml, a profile, --set) set it."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


class DataError(GenzooError):
    """Input data that cannot be read or has the wrong structure."""


class ValidationFailed(GenzooError):
    """The Great Expectations gate rejected a dataset; nothing downstream may run."""

    def __init__(self, dataset: str, failed: list[str], report: str | None = None, likely: list[str] | None = None,
                 hint: str | None = None):
        """One line that leads with the likely causes, then the failed expectations (each example once) and where
        the full result is; `hint`: how to relax the checks when the data really is so."""
        self.dataset, self.failed, self.report, self.likely = dataset, failed, report, list(likely or [])
        cause = f" likely: {'; '.join(self.likely)}." if self.likely else ""
        relax = f" ({hint})" if hint else ""
        where = f" Full result: {report}" if report else ""
        super().__init__(f"dataset {dataset!r} failed validation.{cause}{relax} Failed: {'; '.join(failed)}.{where}")


class TrainingDiverged(GenzooError):
    """A loss became NaN or infinite: the run is marked failed and never registered."""


class Interrupted(GenzooError):
    """Work stopped by a signal (Ctrl-C, SIGTERM) before it finished: never retried, nothing of it promoted."""


__all__ = ["ConfigError", "GenzooError", "DataError", "ValidationFailed", "TrainingDiverged", "Interrupted",
           "OutOfSpace", "first_line"]


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of an exception's message (its type name when it has none), cut to `limit` characters."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]


class OutOfSpace(GenzooError):
    """A write failed because the filesystem is full (components/disk.py recognises it wherever it surfaced)."""

    def __init__(self, path: str, free: str):
        self.path, self.free = path, free
        super().__init__(f"no space left to write {path} ({free} free there): free some space, or put the project "
                         "on a larger disk, and rerun; what finished is kept and a rerun resumes from it")
