"""Can a family train on these images? One training step of a throwaway model on two blank images of the
dataset's shape, run before any real training: a shape its networks cannot take (28x27 for a GAN whose
networks halve the size twice) fails here with the file named, not minutes later inside the train stage."""

from __future__ import annotations

import contextlib

import torch

from components.errors import DataError


def check(family: str, image_shape_hwc: tuple[int, ...], num_classes: int, hp: dict, where: str) -> None:
    """Raise DataError naming `where` (the images' file) when `family` cannot train on images of this shape."""
    from components.models.base import StepContext
    from components.models.registry import get_family

    h, w, c = image_shape_hwc
    try:
        with torch.random.fork_rng(devices=[]):
            model = get_family(family).build((c, h, w), num_classes, hp)
            ctx = StepContext(device=torch.device("cpu"), rng=torch.Generator().manual_seed(0), step=0,
                              autocast=contextlib.nullcontext, optimizers=model.configure_optimizers(), total_steps=1)
            model.train_step(torch.zeros(2, c, h, w), torch.zeros(2, dtype=torch.long), ctx)
    except (RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0][:300]
        raise DataError(f"{where} holds {h}x{w}x{c} images, which {family}'s networks cannot train on ({first}); "
                        f"resize the dataset or pick another family/architecture") from None
