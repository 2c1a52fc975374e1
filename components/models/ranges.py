"""The values a family's hyperparameter may take, declared once as annotated types beside its default
(`lr: LearningRate = 2e-4`). The @hyperparameters dataclasses check them when a configuration is loaded, so
`lr: .nan`, `z_dim: 0` or `beta1: 1.5` are refused before anything starts, in one line that names the key, the
layer that set it and what is allowed (config/load.describe), instead of failing, or training, minutes later."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

# `description` is what the refusal says is allowed (registry.Family.hyperparameters)
LearningRate = Annotated[float, Field(gt=0, allow_inf_nan=False, description="a finite learning rate > 0")]
AdamBeta = Annotated[float, Field(ge=0, lt=1, description="an Adam beta in [0, 1)")]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False, description="a finite number > 0")]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False, description="a finite number >= 0")]
Fraction = Annotated[float, Field(ge=0, le=1, description="a number in [0, 1]")]
AtLeastOne = Annotated[int, Field(ge=1, description="an integer >= 1")]
NoneOrMore = Annotated[int, Field(ge=0, description="an integer >= 0 (0: off)")]
Levels = Annotated[int, Field(ge=2, le=256, description="2 (binarised pixels) to 256 (8-bit)")]


def _odd(value: int) -> int:
    if value % 2 == 0:
        raise PydanticCustomError("odd", "an even kernel has no centre pixel")
    return value


# a masked kernel centred on the pixel it predicts: an even one would shift the output by a pixel
OddKernel = Annotated[int, Field(ge=1, description="an odd integer >= 1 (a kernel with a centre)"),
                      AfterValidator(_odd)]

# pydantic's error types for a value of the right type outside its range (a wrong type keeps pydantic's message)
RANGE_ERRORS = frozenset({"greater_than", "greater_than_equal", "less_than", "less_than_equal", "finite_number",
                          "odd"})


def allowed(hp_class: type, name: str) -> str | None:
    """What a field of a @hyperparameters dataclass allows, as its annotation declares it (None: any value of
    its type)."""
    fields = getattr(hp_class, "__pydantic_fields__", {})
    return fields[name].description if name in fields else None
