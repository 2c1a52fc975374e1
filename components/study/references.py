"""The reference rows of a study's table, measured exactly as the trials' checkpoints are (study/checkpoints.py):
real training data (the floor: what a perfect generator scores at this N) and an untrained generator (the noise
level: what no training scores; built as scoring.untrained_model builds the champion rule's). A game whose FID is
not well below the noise row has not learned anything at this budget."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from components.config import Config
from components.data.tensors import Tensors
from components.evaluation import samples
from components.evaluation.classifier import Space
from components.evaluation.scoring import untrained_model
from components.metric_specs import name, spec
from components.study.checkpoints import ImageScorer, PointsCheckpoint, count_points
from components.study.trial import study_eval


@dataclass(frozen=True)
class ImageReferences:
    """FID in the classifier's features at N = study.checkpoint_samples."""

    floor: float  # real training images against the test split
    floor_seed_std: float | None  # its spread over eval.floor_seeds subset draws
    untrained: float  # the untrained generator's checkpoint FID
    num_samples: int
    untrained_family: str


@dataclass(frozen=True)
class PointsReferences:
    """Mode counts: the real points at eval.num_samples (the classifier stage's floor) and an untrained generator's
    checkpoint counts at study.checkpoint_samples."""

    floor_modes_covered: float
    floor_modes_covered_published: float | None  # None from a floor measured before the published rule
    floor_high_quality: float
    floor_reverse_kl: float
    floor_draws: int
    untrained: PointsCheckpoint
    untrained_family: str
    num_samples: int


def measure(cfg: Config, ds: Tensors, space: Space, family: str, cache_dir: Path, data_id: str,
            device: torch.device) -> ImageReferences:
    """The floor and the untrained `family` generator (its network at initialisation under the study's seed),
    both scored as a trial's checkpoint is (under study.eval, samples drawn with seed + 1)."""
    cfg = study_eval(cfg)
    n, seed = cfg.study.checkpoint_samples, cfg.seed + 1
    scorer = ImageScorer(space, cfg.eval, n, seed, device)
    floor = samples.classifier_floor(scorer.classifier, scorer.real, ds.train_x, cfg.eval, seed, n, space.name,
                                     data_id, cache_dir)
    untrained, _ = scorer(untrained_model(family, cfg.hp(family), ds, cfg.seed).to(device), 0)
    fid = name("fid", "classifier", prefix="floor")
    return ImageReferences(floor=floor[fid], floor_seed_std=floor.get(spec(fid).named(spread="seed_std")),
                           untrained=untrained.fid_classifier, num_samples=n, untrained_family=family)


def measure_modes(cfg: Config, ds: Tensors, floor: dict[str, float], family: str,
                  device: torch.device) -> PointsReferences:
    """`floor`: the classifier stage's (real points at eval.num_samples, counted as samples are)."""
    cfg = study_eval(cfg)
    n = cfg.study.checkpoint_samples
    untrained, _ = count_points(untrained_model(family, cfg.hp(family), ds, cfg.seed).to(device),
                                ds.points_mixture, cfg.eval, n, cfg.seed + 1, device, 0)
    return PointsReferences(floor_modes_covered=floor[name("modes_covered", prefix="floor")],
                            floor_modes_covered_published=floor.get(name("modes_covered_published", prefix="floor")),
                            floor_high_quality=floor[name("high_quality", prefix="floor")],
                            floor_reverse_kl=floor[name("reverse_kl", prefix="floor")],
                            floor_draws=cfg.eval.floor_seeds, untrained=untrained, untrained_family=family,
                            num_samples=n)
