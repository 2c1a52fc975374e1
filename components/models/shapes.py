"""Can a family train on these images? One training step of a throwaway model on two blank images of the
dataset's shape, run before any real training: a shape its networks cannot take (28x27 for a GAN whose
networks halve the size twice) fails here with the file named, not minutes later inside the train stage.

The data is blamed only when the shape is what fails: the same step on the shape every family is built for
(MNIST's 28x28, or 2-D points) must pass. When that fails too, the family's settings are at fault, and the
error says so."""

from __future__ import annotations

import contextlib

import torch

from components.data.mixtures import is_points
from components.errors import ConfigError, DataError, GenzooError, first_line

REFERENCE_HW = (28, 28)  # what every image family is built and tested for (MNIST)


def _one_step(family: str, chw: tuple[int, int, int], num_classes: int, hp) -> None:
    from components.models.base import StepContext
    from components.models.registry import get_family

    c, h, w = chw
    with torch.random.fork_rng(devices=[]):
        model = get_family(family).build(chw, num_classes, hp)
        ctx = StepContext(device=torch.device("cpu"), rng=torch.Generator().manual_seed(0), step=0,
                          autocast=contextlib.nullcontext, optimizers=model.configure_optimizers(), total_steps=1)
        model.train_step(torch.zeros(2, c, h, w), torch.zeros(2, dtype=torch.long), ctx)


def check(family: str, image_shape_hwc: tuple[int, ...], num_classes: int, hp, where: str) -> None:
    """Raise DataError naming `where` (the images' file) when `family` cannot train on images of this shape, and
    ConfigError when it cannot train with its settings on any shape."""
    h, w, c = image_shape_hwc
    try:
        _one_step(family, (c, h, w), num_classes, hp)
        return
    except GenzooError:
        raise  # the family's own refusal (a setting it cannot take) already names the problem
    except (RuntimeError, ValueError) as exc:
        failure = first_line(exc)
    reference = (c, h, w) if is_points((c, h, w)) else (c, *REFERENCE_HW)
    if reference != (c, h, w) and _trains(family, reference, num_classes, hp):
        raise DataError(f"{where} holds {h}x{w}x{c} images, which {family}'s networks cannot train on ({failure}); "
                        "resize the dataset or pick another family/architecture") from None
    raise ConfigError(f"{family} cannot train with its settings (family.{family} in params.yaml or --set): "
                      f"{failure}", key=f"family.{family}") from None


def _trains(family: str, chw: tuple[int, int, int], num_classes: int, hp) -> bool:
    try:
        _one_step(family, chw, num_classes, hp)
    except (RuntimeError, ValueError, GenzooError):
        return False
    return True
