"""The registry of model families: adding a family is one module and one entry here."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from components.errors import ConfigError


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # gan | vae | autoregressive | translation
    target: str  # "module:callable" building a GenerativeModel from (image_shape, num_classes, hp)
    summary: str

    def build(self, image_shape, num_classes: int, hp: dict):
        module, attr = self.target.split(":")
        return getattr(importlib.import_module(module), attr)(image_shape, num_classes, hp)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("nsgan", "gan", "components.models.gan.family:nsgan",
               "non-saturating GAN (Goodfellow et al. 2014), Lucic et al.'s InfoGAN-style networks"),
    ]
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown model family {name!r}; registered: {', '.join(FAMILIES)}") from None
