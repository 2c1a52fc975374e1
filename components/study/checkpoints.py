"""How a study scores a checkpoint, in one place: every trial at each of its checkpoints, and the reference rows
(an untrained generator) scored exactly as a trial's checkpoint is. Images: FID and KID in the reference
classifier's features on `study.checkpoint_samples` samples; 2-D points: mode counts against the mixture. A
trial's kept checkpoint is then measured in full by evaluation/scoring.py, as the evaluate stage measures."""

from __future__ import annotations

import torch
from pydantic import BaseModel, ConfigDict

from components.config.schema import Eval
from components.data.mixtures import Mixture
from components.evaluation import metrics, modes, samples
from components.evaluation.classifier import Space
from components.models.base import GenerativeModel


class ImageCheckpoint(BaseModel):
    """One scored checkpoint on images, in the classifier's features."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    fid_classifier: float
    kid_x1e3_classifier: float


class PointsCheckpoint(BaseModel):
    """One counted checkpoint on 2-D points."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int
    modes_covered: float
    high_quality: float
    reverse_kl: float
    modes_covered_published: float | None = None  # None in a trial stored before the published rule was counted


Checkpoint = ImageCheckpoint | PointsCheckpoint


class ImageScorer:
    """FID and KID (unbiased at this small N) of a model's samples against the real test features of `space`."""

    def __init__(self, space: Space, settings: Eval, n: int, seed: int, device: torch.device):
        self.settings, self.n, self.seed, self.device = settings, n, seed, device
        self.classifier, self.real = space.load(device)
        self.real_stats = metrics.fid_statistics(self.real["features"])

    def __call__(self, model: GenerativeModel, step: int) -> tuple[ImageCheckpoint, torch.Tensor]:
        """The checkpoint's scores and its uint8 samples (drawn with `seed`, as a trial's are)."""
        s = self.settings
        fake = samples.generate(model, self.n, s.batch_size, self.seed, self.device)
        (feats,) = metrics.extract(self.classifier.features, fake, s.batch_size, self.device)
        fid = metrics.fid(self.real_stats, metrics.fid_statistics(feats))
        kid = metrics.kid(feats, self.real["features"], s.kid_subset_size, s.kid_subsets)["kid"] * metrics.KID_SCALE
        return ImageCheckpoint(step=step, fid_classifier=fid, kid_x1e3_classifier=kid), fake


def count_points(model: GenerativeModel, mixture: Mixture, settings: Eval, n: int, seed: int, device: torch.device,
                 step: int) -> tuple[PointsCheckpoint, torch.Tensor]:
    """The checkpoint's mode counts on n points (the published rule's on the first 2,500 of the draw) and the n."""
    pts = samples.generate(model, modes.points_to_draw(n), settings.batch_size, seed, device)
    c = modes.count(pts, mixture, settings.mode_min_share, n)
    return PointsCheckpoint(step=step, modes_covered=c.modes_covered, high_quality=c.high_quality,
                            reverse_kl=c.reverse_kl, modes_covered_published=c.modes_covered_published), pts[:n]
