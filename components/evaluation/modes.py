"""Mode metrics of 2-D samples against the mixture they imitate (VEEGAN, Srivastava et al. 2017, Sec. 5.1;
PacGAN, Lin et al. 2018, Sec. 5): mode collapse counted exactly instead of inferred from FID.

- high_quality: the fraction of samples within 3 sigma of the nearest mode's centre;
- modes_covered: modes holding at least `min_share` of a uniform share (N / modes) of high-quality samples,
  i.e. 20 of 2,500 samples on the 25-mode grid at the default 0.2: genzoo's rule, a mode a model visits;
- modes_covered_published: modes nearest to at least one high-quality sample of 2,500 (the evaluation draws at
  least that many, its other counts read the first N), the rule the published rows are counted by (PacGAN's code, synthetic_data_experiments/PacGAN/pacgan/extensions.py,
  MetricLogger, checked 2026-12-07; VEEGAN's Sec. 5.1 as the issue quotes it, unchecked here). It is loose: a
  ring NS GAN that has not learned, 20 high-quality points of 5,000, covers 7 of 8 modes by it. Printed only
  beside the published rows, never used to rank;
- reverse_kl: KL(q‖p) in nats between q, the histogram of all samples over their nearest mode, and p, the
  mixture's (uniform) mode weights: 0 when samples spread evenly over the modes, log(modes) when all sit on one.

The same numbers for the real test points are the floor: what a perfect generator scores at that N.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from components.data.mixtures import Mixture

HQ_SIGMAS = 3.0
PUBLISHED_N = 2_500  # VEEGAN's and PacGAN's sample count: the published rule looks at this many


@dataclass(frozen=True)
class ModeCounts:
    modes_covered: int
    modes_covered_published: int  # by the published rule, on the first PUBLISHED_N samples
    high_quality: float  # fraction in [0, 1]
    reverse_kl: float  # nats
    per_mode: tuple[int, ...]  # high-quality samples per mode
    n: int

    def metrics(self) -> dict[str, float]:
        return {"modes_covered": float(self.modes_covered),
                "modes_covered_published": float(self.modes_covered_published), "high_quality": self.high_quality,
                "reverse_kl": self.reverse_kl}


def as_points(samples: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, 2) float64 from points shaped (N, 2), (N, 2, 1, 1) (a model's NCHW) or (N, 1, 1, 2) (stored NHWC)."""
    x = samples.detach().cpu().numpy() if isinstance(samples, torch.Tensor) else np.asarray(samples)
    return x.reshape(len(x), 2).astype(np.float64)


def nearest(samples, mixture: Mixture) -> tuple[np.ndarray, np.ndarray]:
    """(each sample's nearest mode, its distance to that mode's centre): the mixture's Bayes rule for equal
    weights and sigmas."""
    x = as_points(samples)
    d2 = ((x[:, None, :] - mixture.centres_array()[None, :, :]) ** 2).sum(-1)  # (N, modes)
    index = d2.argmin(1)
    return index, np.sqrt(d2[np.arange(len(x)), index])


def points_to_draw(n: int) -> int:
    """How many points to draw for counts at N = n: at least PUBLISHED_N, which the published rule looks at."""
    return max(n, PUBLISHED_N)


def count(samples, mixture: Mixture, min_share: float = 0.2, n: int | None = None) -> ModeCounts:
    """genzoo's counts on the first `n` samples (all when None), the published rule on the first PUBLISHED_N
    (fewer only when fewer were drawn: callers draw `points_to_draw(n)`)."""
    nearest_mode, dist = nearest(samples, mixture)
    good = np.isfinite(dist) & (dist <= HQ_SIGMAS * mixture.sigma)
    published = int(np.unique(nearest_mode[:PUBLISHED_N][good[:PUBLISHED_N]]).size)
    nearest_mode, dist, good = nearest_mode[:n], dist[:n], good[:n]
    per_mode = np.bincount(nearest_mode[good], minlength=mixture.modes)
    need = max(1.0, min_share * len(good) / mixture.modes)
    q = np.bincount(nearest_mode[np.isfinite(dist)], minlength=mixture.modes) / max(1, int(np.isfinite(dist).sum()))
    p = 1.0 / mixture.modes
    kl = float(sum(qi * math.log(qi / p) for qi in q if qi > 0))
    return ModeCounts(int((per_mode >= need).sum()), published, float(good.mean()), kl,
                      tuple(int(c) for c in per_mode), len(good))


def draw(ax, points: np.ndarray, mixture: Mixture, title: str = "") -> None:
    """Samples (blue) over the mixture's 3-sigma circles (grey), equal axes."""
    from matplotlib.patches import Circle

    c = mixture.centres_array()
    r = np.abs(c).max() + 1.5
    for cx, cy in c:
        ax.add_patch(Circle((cx, cy), HQ_SIGMAS * mixture.sigma, color="0.6", fill=False, lw=0.6))
    ax.scatter(points[:, 0], points[:, 1], s=1.5, alpha=0.4, color="tab:blue", linewidths=0)
    ax.set_xlim(-r, r)
    ax.set_ylim(-r, r)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=8)


def save_scatter(samples, mixture: Mixture, path: Path, title: str = "") -> Path:
    """One scatter of samples over the data's modes (what evaluate logs beside the mode metrics)."""
    return save_snapshots([(None, samples)], mixture, path, title, panel=4.0)


def save_snapshots(snapshots: list[tuple[int | None, torch.Tensor | np.ndarray]], mixture: Mixture, path: Path,
                   title: str = "", panel: float = 2.2) -> Path:
    """Metz et al.'s figure: one panel per (step, samples), left to right, each titled with its mode counts."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    n = len(snapshots)
    fig, axes = plt.subplots(1, n, figsize=(panel * n, panel + 0.3), dpi=110, squeeze=False)
    for ax, (step, samples) in zip(axes[0], snapshots):
        pts = as_points(samples)
        m = count(pts, mixture)
        head = f"step {step}\n" if step is not None else ""
        draw(ax, pts, mixture, f"{head}{m.modes_covered}/{mixture.modes} modes, {100 * m.high_quality:.0f}% HQ")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def sample_metrics(model, n: int, mixture: Mixture, settings, seed: int, device, train_x: torch.Tensor,
                   cache_dir: Path | None, data_id: str) -> tuple[dict[str, float], torch.Tensor]:
    """(metrics, the points) of `model` on n points drawn with `seed` (the published rule on the first 2,500 of
    the same draw), beside the floor: n real training points counted the same way (evaluation/floors.py), cached
    under everything that made it."""
    import time

    from components.evaluation import floors, samples

    share = settings.mode_min_share
    started = time.perf_counter()
    fake = samples.generate(model, points_to_draw(n), settings.batch_size, seed, device)
    seconds = (time.perf_counter() - started) / len(fake)
    m = count(fake, mixture, share, n).metrics()
    fake = fake[:n]
    identity = {"space": space_name(mixture), "data": data_id, "n": min(n, len(train_x)), "seed": seed,
                "draws": settings.floor_seeds, "mode_min_share": share}
    m.update(floors.cached(cache_dir, identity, lambda: floors.measure(
        lambda pts: count(pts, mixture, share).metrics(), train_x, n, seed, settings.floor_seeds)))
    m["num_samples"] = float(n)
    m["sample_seconds_per_image"] = seconds
    return m, fake


def space_name(mixture: Mixture) -> str:
    """What mode metrics are measured against, by content: the mixture's centres and sigma."""
    import hashlib
    import json

    digest = hashlib.md5(json.dumps([mixture.centres, mixture.sigma]).encode()).hexdigest()[:12]
    return f"modes:{mixture.name}:{digest}"
