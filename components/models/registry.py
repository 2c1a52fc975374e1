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
        """hp on top of the family's defaults (components/defaults.py), so a partial dict is enough."""
        from components.defaults import DEFAULTS

        module, attr = self.target.split(":")
        full = {**DEFAULTS["family"].get(self.name, {}), **hp}
        return getattr(importlib.import_module(module), attr)(image_shape, num_classes, full)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        # the GAN games of Lucic et al. 2018 (components/models/gan/games.py), all on the same networks
        Family("mmgan", "gan", "components.models.gan.family:mmgan", "minimax GAN (Goodfellow et al. 2014)"),
        Family("nsgan", "gan", "components.models.gan.family:nsgan", "non-saturating GAN (Goodfellow et al. 2014)"),
        Family("mlgan", "gan", "components.models.gan.family:mlgan",
               "maximum-likelihood game (Goodfellow 2014, distinguishability criteria)"),
        Family("lsgan", "gan", "components.models.gan.family:lsgan", "least-squares GAN (Mao et al. 2017)"),
        Family("wgan", "gan", "components.models.gan.family:wgan", "Wasserstein GAN, weight clipping (Arjovsky et al. 2017)"),
        Family("wgangp", "gan", "components.models.gan.family:wgangp",
               "Wasserstein GAN, gradient penalty (Gulrajani et al. 2017)"),
        Family("dragan", "gan", "components.models.gan.family:dragan",
               "DRAGAN, gradient penalty around the data (Kodali et al. 2017)"),
        Family("began", "gan", "components.models.gan.began:began",
               "boundary-equilibrium GAN, autoencoder discriminator (Berthelot et al. 2017)"),
        # likelihood-based: a bound (VAEs, components/models/vae/) or exact (components/models/autoregressive/)
        Family("vae", "vae", "components.models.vae.family:vae", "convolutional VAE (Kingma & Welling 2014)"),
        Family("cvae", "vae", "components.models.vae.family:vae", "conditional VAE, label-conditioned (Sohn et al. 2015)"),
        Family("betavae", "vae", "components.models.vae.family:vae", "beta-VAE, beta x KL (Higgins et al. 2017)"),
        Family("hvae", "vae", "components.models.vae.family:hvae", "hierarchical VAE, two stochastic layers"),
        Family("pixelcnn", "autoregressive", "components.models.autoregressive.family:pixelcnn",
               "PixelCNN, masked convolutions (van den Oord et al. 2016)"),
        Family("gatedpixelcnn", "autoregressive", "components.models.autoregressive.family:gatedpixelcnn",
               "Gated PixelCNN, two stacks, class-conditional (van den Oord et al. 2016)"),
        Family("pixelrnn", "autoregressive", "components.models.autoregressive.family:pixelrnn",
               "PixelRNN, Row LSTM (van den Oord et al. 2016)"),
        # translation between two domains (a data pair, not one dataset): components/models/translation/
        Family("cyclegan", "translation", "components.models.translation.cyclegan:cyclegan",
               "CycleGAN, unpaired translation with cycle consistency (Zhu et al. 2017)"),
    ]
}


def get_family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"unknown model family {name!r}; registered: {', '.join(FAMILIES)}") from None
