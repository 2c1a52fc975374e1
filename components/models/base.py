"""What every model family implements so the one training loop can drive it (as Mimicry's train_step), and the
two things a trained model can be: a Generator (samples images) or a Translator (maps images between domains), and
what a Generator may also be: Encoding (images to codes). Evaluation and serving ask which protocol a model
satisfies; nothing else tells kinds apart."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol, runtime_checkable

import torch
from torch import nn

if TYPE_CHECKING:
    from components.data.tensors import Tensors


@dataclass
class StepContext:
    """Handed to `train_step`: the device, the noise generator, mixed precision and the optimiser step."""

    device: torch.device
    rng: torch.Generator  # all sampling noise comes from here, so resume reproduces it; a population's step gets
    # one per member in a list instead (PopulationMixin overrides every method that draws from it)
    step: int
    autocast: Callable[[], contextlib.AbstractContextManager]
    scaler: torch.amp.GradScaler | None = None
    total_steps: int | None = None  # the run's budget, for schedules that decay towards its end
    grad_sync: Callable[[torch.optim.Optimizer], None] | None = None  # data parallel: average grads across ranks
    # filled by the loop from configure_optimizers()
    optimizers: dict[str, torch.optim.Optimizer] = field(default_factory=dict)

    def update(self, loss: torch.Tensor, opt_name: str) -> None:
        """zero_grad, backward, step: the one place mixed-precision scaling happens. A population's (K,) losses are
        summed: members share no weights, so each member's gradient is its own loss's."""
        opt = self.optimizers[opt_name]
        loss = loss.sum()
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.grad_sync is not None:  # scaled gradients average the same way
                self.grad_sync(opt)
            self.scaler.step(opt)
            self.scaler.update()
        else:
            loss.backward()
            if self.grad_sync is not None:
                self.grad_sync(opt)
            opt.step()


@runtime_checkable
class Generator(Protocol):
    def sample(self, n: int, rng: torch.Generator, labels: torch.Tensor | None = None) -> torch.Tensor:
        """n images, float NCHW in [0, 1], drawn with `rng` (same seed, same images)."""


@runtime_checkable
class Translator(Protocol):
    def translate(self, x: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Images of one domain (float NCHW in [0, 1]) -> the other domain's, same shape convention."""

    def domain_channels(self) -> tuple[int, int]:
        """Channels of domain A's images and of domain B's."""


@runtime_checkable
class Encoding(Protocol):
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Images (float NCHW in [0, 1]) -> their latent codes (N, z_dim), deterministically."""


class GenerativeModel(nn.Module):
    """Base class of every family. Images are float NCHW in [0, 1]; labels int64 (N,)."""

    kind: str = "?"  # declared once per model class: gan | vae | autoregressive | translation
    pixel_by_pixel: bool = False  # sample() draws pixel by pixel and can show a progress bar
    member_seeds: list[int] | None = None  # a population (models/gan/population.py): one seed per member
    conditional: bool = False  # takes class labels: serving accepts `label`, likelihoods are given the label

    def __init__(self, image_shape: tuple[int, int, int], num_classes: int, hp):
        """`hp`: the family's typed hyperparameters (an instance of its @hyperparameters class)."""
        super().__init__()
        c, h, w = image_shape
        self.image_shape = (int(c), int(h), int(w))  # (C, H, W)
        self.num_classes = num_classes
        self.hp = hp

    @classmethod
    def fitted_to(cls, hp, data: Tensors):
        """`hp` with what the training data fixes in it (a domain pair's channel split); most families: none."""
        return hp

    def configure_optimizers(self, fused: bool = False) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def train_step(self, images: torch.Tensor, labels: torch.Tensor, ctx: StepContext) -> dict[str, torch.Tensor]:
        """One optimisation step; returns detached scalar losses to log."""
        raise NotImplementedError

    def extra_metrics(self, images: torch.Tensor, labels: torch.Tensor, settings, seed: int) -> dict[str, float]:
        """Metrics only this kind has (likelihoods), on test images; `settings` is the run's eval section."""
        return {}

    def artifacts(self, images: torch.Tensor, labels: torch.Tensor, out: Path) -> list[Path]:
        """Pictures only this kind can draw (reconstructions, traversals), written under `out`."""
        return []

    def nets(self) -> dict[str, nn.Module]:
        """The networks to compile or wrap (DDP); default: the direct children."""
        return dict(self.named_children())
