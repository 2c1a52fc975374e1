"""The registry of model families, by object (as torch-fidelity's `register_feature_extractor`).

A family is declared once, next to its model: `register(Family(name, ModelClass, Hp(...), summary))` with its
typed hyperparameter defaults. Every module under components/models/ is imported on first use, so adding a
family is one module; packages outside the project register through the `genzoo.families` entry point group.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import pkgutil
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast, dataclass_transform

from pydantic import ConfigDict, ValidationError
from pydantic.dataclasses import dataclass as _pydantic_dataclass

from components import defaults
from components.errors import ConfigError
from components.models import ranges

if TYPE_CHECKING:
    from components.models.base import GenerativeModel

ENTRY_POINTS = "genzoo.families"
T = TypeVar("T")


@dataclass_transform(frozen_default=True)  # the type checker sees the fields as __init__'s arguments
def hyperparameters(cls: type[T]) -> type[T]:
    """Decorator for a family's hyperparameter dataclass: typed, frozen, unknown keys refused, and strict: "64"
    is not an int, 1 is not a bool (an int is a float, as everywhere in Python)."""
    made = _pydantic_dataclass(cls, frozen=True, config=ConfigDict(extra="forbid", strict=True))
    return cast(type[T], made)  # the same class, which pydantic's stubs type apart


@dataclass(frozen=True)
class Family:
    name: str
    model: type[GenerativeModel]  # built as model(image_shape, num_classes, hp, **options)
    hp: Any  # an instance of a @hyperparameters dataclass: this family's defaults
    summary: str
    options: dict = field(default_factory=dict)  # constructor arguments that are not tunable (a GAN's game)
    points: dict = field(default_factory=dict)  # what 2-D points change beyond defaults.POINTS_HP: its toy code's

    def points_overrides(self) -> dict:
        """What 2-D points lay over the defaults: the shared defaults.POINTS_HP the family has, then its own."""
        return {**{k: v for k, v in defaults.POINTS_HP.items() if hasattr(self.hp, k)}, **self.points}

    @property
    def kind(self) -> str:
        return self.model.kind

    def hyperparameters(self, overrides: dict | None = None, where: str | None = None):
        """The defaults with `overrides` laid over them, type-checked: an instance of the family's `hp` class
        (model.json stores it as `dataclasses.asdict`, and rebuilding it reads that dict back through here)."""
        where = where or f"family.{self.name}"
        known = [f.name for f in dataclasses.fields(self.hp)]
        for key in overrides or {}:
            if key not in known:
                near = difflib.get_close_matches(key, known, n=1)
                hint = f"did you mean {where}.{near[0]}?" if near else f"known: {', '.join(known)}"
                raise ConfigError(f"unknown key {where}.{key}; {hint}", key=f"{where}.{key}")
        try:
            hp = type(self.hp)(**{**dataclasses.asdict(self.hp), **(overrides or {})})
        except ValidationError as exc:
            err = exc.errors()[0]
            key = f"{where}.{'.'.join(map(str, err['loc']))}"
            allowed = ranges.allowed(type(self.hp), str(err["loc"][0])) if err["loc"] else None
            out_of_range = err["type"] in ranges.RANGE_ERRORS
            problem = f"expected {allowed}" if allowed and out_of_range else err["msg"].lower()
            raise ConfigError(f"{key}={err.get('input')!r}: {problem}", key=key) from None
        return hp

    def build(self, image_shape: tuple[int, int, int], num_classes: int, hp: Any) -> GenerativeModel:
        """The model; `hp`: an instance of this family's hp class (`hyperparameters(overrides)` makes one)."""
        if type(hp) is not type(self.hp):
            raise TypeError(f"family {self.name} is built from its typed hyperparameters ({type(self.hp).__name__}), "
                            f"not a {type(hp).__name__}: pass family.hyperparameters(overrides)")
        return self.model(image_shape, num_classes, hp, **self.options)


_FAMILIES: dict[str, Family] = {}
_discovered = False


def register(family: Family) -> Family:
    if family.name in _FAMILIES and _FAMILIES[family.name] != family:
        raise ValueError(f"model family {family.name!r} is registered twice")
    _FAMILIES[family.name] = family
    return family


def families() -> dict[str, Family]:
    """Every registered family, in registration order (importing the family modules the first time)."""
    global _discovered
    if not _discovered:
        _discovered = True
        import components.models as package

        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINTS):
            ep.load()
    return _FAMILIES


def get_family(name: str, where: str = "--family") -> Family:
    try:
        return families()[name]
    except KeyError:
        near = difflib.get_close_matches(name, list(families()), n=1)
        hint = f"did you mean {near[0]}? " if near else ""
        raise ConfigError(f"unknown model family {name!r} (in {where}); {hint}registered: {', '.join(families())}",
                          key=where.lstrip("-")) from None
