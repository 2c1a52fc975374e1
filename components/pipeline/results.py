"""What each stage returns: a small frozen dataclass per stage, declared here beside one serialiser.

Readers use attributes, never string keys. Every copy of a result that leaves the process (the stage's marker,
Prefect's cached task result, DVC's index) goes through `dump` and comes back through `load`, which refuses a
stored result of another shape (an older genzoo's, another stage's): the caller then recomputes it instead of
misreading it. `files` are what must still exist for a stored result to count; `run_id` its MLflow run, if any.
"""

from __future__ import annotations

import dataclasses
import logging
import types
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, Union

if TYPE_CHECKING:  # a stage key covers the code its stage runs: results.py stays free of runtime imports
    from components.tracking.registration import Registration

log = logging.getLogger(__name__)
R = TypeVar("R")
TYPE = "result_type"  # the stored dict names its class, so another stage's or an old result never fits


@dataclass(frozen=True, kw_only=True)
class Result:
    files: tuple[str, ...] = ()  # paths that must still exist for a stored copy to be reused
    run_id: str | None = None  # the MLflow run that holds it, checked the same way

    @property
    def tracked_run(self) -> str:
        """The MLflow run of a result that was tracked (every stored one but prepare's)."""
        if self.run_id is None:
            raise TypeError(f"this {type(self).__name__} has no MLflow run")
        return self.run_id


@dataclass(frozen=True, kw_only=True)
class Prepared(Result):
    dataset: str
    path: str
    hash: str  # content hash of data/<dataset>
    created: tuple[str, ...]  # datasets this call materialised (an embedded one materialises all of them)
    data_pin: str  # what happened to data.dvc's pin


@dataclass(frozen=True, kw_only=True)
class Validated(Result):
    dataset: str
    success: bool
    rows: int
    evaluated: int  # expectations run
    failed: tuple[str, ...]  # one line per failed expectation
    result_json: str  # GE's own result
    data_docs: str
    report: str  # the self-contained report.html


@dataclass(frozen=True, kw_only=True)
class ClassifierReady(Result):
    """The dataset's reference classifier: the feature space of every *_classifier metric."""

    test_accuracy: float
    model: str  # the classifier's weights
    features: str  # the real test split's features and logits in its space
    feature_space: str  # "classifier:<weights md5>"
    floor: dict[str, float]  # floor_* metrics: N real training images against the test split


@dataclass(frozen=True, kw_only=True)
class Trained(Result):
    steps: int = 0
    resumed_from: int = 0
    world_size: int = 1
    rank_digests: tuple[str, ...] = ()  # one parameter digest per torchrun rank: equal when they stayed in step
    model_dir: str = ""  # model.pt + model.json + history.json

    @property
    def stored(self) -> bool:
        """False on a torchrun rank other than 0: it trained its share and stores nothing."""
        return self.run_id is not None


@dataclass(frozen=True, kw_only=True)
class Evaluated(Result):
    metrics: dict[str, float]
    feature_space: str
    protocol: str  # the evaluation protocol's digest
    protocol_fields: dict[str, str]  # the digest and its fields, as MLflow tags
    samples: str  # the sample grid (or translations) picture
    model_dir: str


# register's result is tracking/registration.Registration: the registry decision, declared where it is made
Stored = Union[Result, "Registration"]  # every stage result: a stored copy is reused only while its files and run exist


def expect(cls: type[R], result: Stored) -> R:
    """`result` as the `cls` its stage declares (a runner hands back any stage's result)."""
    if not isinstance(result, cls):
        raise TypeError(f"expected a {cls.__name__}, got a {type(result).__name__}")
    return result


def files_of(result: Stored) -> tuple[str, ...]:
    return getattr(result, "files", ())


def dump(result: Stored) -> dict:
    """A JSON-able dict of `result` that `load` turns back into the same object."""
    return {TYPE: type(result).__name__, **dataclasses.asdict(result)}


def load(cls: type[Stored], stored: Any, where: str = "") -> Stored | None:
    """`stored` as a `cls`, or None (with a one-line note) when it does not fit: another class, missing or
    unknown fields. Lists come back as the tuples the class declares."""
    if not isinstance(stored, dict) or stored.get(TYPE) != cls.__name__:
        if stored is not None:
            log.info("%s: stored result is not a %s (written by another genzoo version?): recomputing",
                     where or cls.__name__, cls.__name__)
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    given = set(stored) - {TYPE}
    if given != names:
        log.info("%s: stored %s has fields %s, expected %s: recomputing", where or cls.__name__, cls.__name__,
                 sorted(given ^ names), sorted(names))
        return None
    hints = typing.get_type_hints(cls, localns={"Registration": cls})
    return cls(**{k: _as(hints[k], v) for k, v in stored.items() if k != TYPE})


def _as(hint: Any, value: Any) -> Any:
    """JSON's lists back into the declared tuples (the only container JSON changes)."""
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return tuple(value)
    return value


