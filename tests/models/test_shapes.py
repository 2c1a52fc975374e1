"""The one-step build check before training (models/shapes.py) blames the data only when the data's shape is
what fails: the same family on MNIST's 28x28 must work. A family that fails on every shape is its settings'
fault, and the error names the family's settings, not the file."""

import pytest

from components.errors import ConfigError, DataError
from components.models import registry, shapes
from components.models.gan.family import GAN, GanHp
from components.models.gan.games import NS


class NeedsRGB(GAN):
    """A GAN that refuses anything but three channels, as a setting that cannot work here would."""

    def train_step(self, images, labels, ctx):
        if images.shape[1] != 3:
            raise RuntimeError("expected 3 channels")
        return super().train_step(images, labels, ctx)


@pytest.fixture
def needs_rgb(monkeypatch):
    family = registry.Family("needsrgb", NeedsRGB, GanHp(), "test only", {"game": NS})
    monkeypatch.setitem(registry._FAMILIES, family.name, family)
    return family


def test_a_shape_the_networks_cannot_take_is_blamed_on_the_file():
    hp = registry.get_family("nsgan").hp
    with pytest.raises(DataError) as err:
        shapes.check("nsgan", (28, 27, 1), 10, hp, "data/mine/train_images.npy")
    assert str(err.value).startswith("data/mine/train_images.npy holds 28x27x1 images, which nsgan's networks "
                                     "cannot train on (InfoGAN-style networks need H and W divisible by 4")
    shapes.check("nsgan", (28, 28, 1), 10, hp, "data/mine/train_images.npy")  # MNIST's shape trains


def test_a_family_that_fails_on_every_shape_is_blamed_on_its_settings(needs_rgb):
    with pytest.raises(ConfigError) as err:
        shapes.check("needsrgb", (28, 28, 1), 10, needs_rgb.hp, "data/mine/train_images.npy")
    assert str(err.value) == ("needsrgb cannot train with its settings (family.needsrgb in params.yaml or --set): "
                              "expected 3 channels")
    assert "train_images.npy" not in str(err.value)
    shapes.check("needsrgb", (28, 28, 3), 10, needs_rgb.hp, "data/mine/train_images.npy")
