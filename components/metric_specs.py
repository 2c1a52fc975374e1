"""What every logged metric is: its direction, unit and scale, the feature space it is measured in, and what it
measures. Declared once; every comparison (the champion rule, a trial's best checkpoint, the study's ranking,
the summary's "best") asks `spec(name).better(a, b)` instead of assuming lower is better.

A logged name is a base name with optional parts around it:
    [floor_|checkpoint_|best_checkpoint_|study_]<base>[_<space>][_<ab|ba|a|b>][_given_label][_mean|_best][_<spread>]
`floor_` marks real training images scored the same way (what a perfect model gets); `checkpoint_` a study
trial's number at one checkpoint, `best_checkpoint_` its best one, `study_` a study's aggregate over the seeds of
a setting (`_mean`, `_best`, `_seed_std`); the space is the feature
space (`classifier`: the dataset's reference CNN, `inception`: the standard FID network); ab/ba/a/b name a
translation direction or domain; `_given_label` a class-conditional likelihood; the spread suffix names what a
spread is over (KID's overlapping subsets, IS's splits, the floor's subset seeds): none is a standard error.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"]
SPACES = ("classifier", "inception")
SPREADS = {"subset_std": "std over KID's overlapping subsets (not a standard error)",
           "split_std": "std over IS's 10 splits",
           "seed_std": "std over seeds (a floor's subset draws, a study setting's training seeds)"}


SAMPLED = ("num_samples", "sample_limit", "batch_size")  # which samples: every sample metric reads these
SUBSETS = ("max_prdc_samples",)


@dataclass(frozen=True)
class Base:
    direction: Direction | None  # None: a count or setting, never compared
    unit: str  # "" for a dimensionless number
    what: str
    reads: tuple[str, ...] = ()  # the eval settings its value depends on (all are in the protocol digest)
    scale: float = 1.0  # logged value = library value x scale


BASES: dict[str, Base] = {
    "fid": Base("lower", "", "Frechet distance between Gaussian fits of real and generated features (Heusel et al. "
                "2017); biased by N", SAMPLED),
    "kid_x1e3": Base("lower", "x10^3", "Kernel Inception Distance: unbiased squared MMD with the cubic polynomial "
                     "kernel (Binkowski et al. 2018), mean over subsets, reported x10^3 as papers do",
                     (*SAMPLED, "kid_subset_size", "kid_subsets"), 1e3),
    "is": Base("higher", "", "Inception Score (Salimans et al. 2016) from the space's class logits, 10 splits",
               SAMPLED),
    "precision": Base("higher", "fraction", "share of samples inside the real k-NN manifold (Kynkaanniemi et al. "
                      "2019)", (*SAMPLED, *SUBSETS, "prc_k")),
    "recall": Base("higher", "fraction", "share of real images inside the samples' k-NN manifold (Kynkaanniemi et "
                   "al. 2019)", (*SAMPLED, *SUBSETS, "prc_k")),
    "f1": Base("higher", "fraction", "harmonic mean of precision and recall", (*SAMPLED, *SUBSETS, "prc_k")),
    "density": Base("higher", "", "expected real k-NN balls per sample (Naeem et al. 2020); 1 for matching sets",
                    (*SAMPLED, *SUBSETS, "prdc_k")),
    "coverage": Base("higher", "fraction", "share of real images whose k-NN ball holds a sample (Naeem et al. 2020)",
                     (*SAMPLED, *SUBSETS, "prdc_k")),
    "num_samples": Base(None, "images", "generated images the sample metrics are measured on", SAMPLED),
    "sample_seconds_per_image": Base("lower", "s/image", "sampling time on the run's device (a timing, not a "
                                     "score of the model)", SAMPLED),
    "cycle_l1": Base("lower", "pixel", "mean |x - F(G(x))| with pixels in [0, 1]", ("num_samples", "batch_size")),
    "label_preservation": Base("higher", "fraction", "translations the target domain's classifier labels as the "
                               "source image", ("num_samples", "batch_size")),
    "num_translated": Base(None, "images", "test images translated", ("num_samples",)),
    "test_nll_nats": Base("lower", "nats/image", "exact negative log-likelihood of test images",
                          ("likelihood_images", "batch_size")),
    "test_nll_bits_per_dim": Base("lower", "bits/dim", "exact negative log-likelihood of test images",
                                  ("likelihood_images", "batch_size")),
    "test_nll_iwae_nats": Base("lower", "nats/image", "IWAE-k upper bound on the negative log-likelihood",
                               ("likelihood_images", "iwae_k", "batch_size")),
    "test_nll_iwae_bits_per_dim": Base("lower", "bits/dim", "IWAE-k upper bound on the negative log-likelihood",
                                       ("likelihood_images", "iwae_k", "batch_size")),
    "test_elbo_nats": Base("higher", "nats/image", "evidence lower bound on log p(x)",
                           ("likelihood_images", "batch_size")),
    "test_elbo_bits_per_dim": Base("lower", "bits/dim", "negative ELBO: an upper bound on the NLL",
                                   ("likelihood_images", "batch_size")),
    "iwae_k": Base(None, "", "importance samples of the IWAE bound", ("iwae_k",)),
    "test_reconstruction_mse": Base("lower", "pixel^2", "mean squared error per pixel of G(E(x)) on test images, "
                                    "pixels in [0, 1] (families with an encoder)", ("likelihood_images", "batch_size")),
    "modes_covered": Base("higher", "modes", "2-D points: mixture modes holding at least eval.mode_min_share of an "
                          "even share of high-quality samples (VEEGAN; PacGAN)", (*SAMPLED, "mode_min_share")),
    "high_quality": Base("higher", "fraction", "2-D points: share of samples within 3 sigma of the nearest mode's "
                         "centre (VEEGAN; PacGAN)", SAMPLED),
    "reverse_kl": Base("lower", "nats", "2-D points: KL(q‖p) of the samples' nearest-mode histogram q against "
                       "the mixture's mode weights p (PacGAN)", SAMPLED),
    "likelihood_images": Base(None, "images", "test images the likelihoods are measured on", ("likelihood_images",)),
}
POINT_BASES = ("modes_covered", "high_quality", "reverse_kl")  # measured on 2-D points (evaluation/modes.py)


def measures_points(name: str) -> bool:
    """Whether metric `name` is measured on 2-D points (mode counts) rather than on images."""
    return spec(name).base in POINT_BASES


_PATTERNS = [(base, re.compile(rf"^(?:(?P<floor>floor_)|checkpoint_|best_checkpoint_|study_)?{re.escape(base)}"
                               rf"(?:_(?P<space>{'|'.join(SPACES)}))?(?:_(?P<side>ab|ba|a|b))?(?P<given>_given_label)?"
                               rf"(?:_mean|_best)?(?:_(?P<spread>{'|'.join(SPREADS)}))?$"))
             for base in sorted(BASES, key=len, reverse=True)]


@dataclass(frozen=True)
class MetricSpec:
    name: str
    base: str
    direction: Direction | None
    unit: str
    scale: float
    space: str | None  # feature space, None for pixel and likelihood metrics
    floor: bool  # real training images in place of samples
    spread: str | None  # what the spread is over, for a *_std metric (then it is never compared)
    what: str

    @property
    def comparable(self) -> bool:
        """A model's own score with a direction: what a champion or a best checkpoint may be chosen by."""
        return self.direction is not None and not self.floor and self.spread is None

    def better(self, a: float, b: float) -> bool:
        """`a` strictly better than `b` (a tie is not better; NaN is never better, and anything finite beats it)."""
        if self.direction is None:
            raise ValueError(f"{self.name} has no direction: it is a count, not a score")
        if not math.isfinite(a):
            return False
        if not math.isfinite(b):
            return True
        return a < b if self.direction == "lower" else a > b

    def rank(self, value: float | None) -> tuple[int, float]:
        """A sort key: the best value first, None and non-finite values last."""
        if value is None or not math.isfinite(value):
            return (1, 0.0)
        return (0, value if self.direction == "lower" else -value)

    def best(self, values):
        """The best of `values`; None when none is a finite number."""
        finite = [v for v in values if v is not None and math.isfinite(v)]
        return min(finite, key=self.rank) if finite else None

    def describe(self) -> str:
        arrow = {"lower": "lower is better", "higher": "higher is better", None: "a count"}[self.direction]
        unit = f", {self.unit}" if self.unit else ""
        return f"{self.name}: {arrow}{unit}"


def spec(name: str) -> MetricSpec:
    """The spec of a logged metric name; KeyError naming the name when it is not one genzoo logs."""
    for base, pattern in _PATTERNS:
        m = pattern.match(name)
        if m:
            b = BASES[base]
            spread = m["spread"]
            return MetricSpec(name, base, None if spread else b.direction, b.unit, b.scale, m["space"],
                              bool(m["floor"]), SPREADS.get(spread) if spread else None, b.what)
    raise KeyError(f"{name!r} is not a metric genzoo logs (components/metric_specs.py lists them)")


# what `dvc exp show` puts in its columns (evaluation/<family>/metrics.json): one or two numbers per question, so a
# family's experiments fit a 160-column terminal; every metric stays in MLflow and the stage's own metrics.json
HEADLINE = ("fid", "kid_x1e3", "precision", "recall", "test_nll_nats", "test_nll_iwae_nats", "modes_covered",
            "high_quality", "reverse_kl", "cycle_l1", "label_preservation")


def headline(metrics: dict[str, float]) -> dict[str, float]:
    """The HEADLINE metrics of `metrics` (no floors, no spreads) and the sample count N they were measured on."""
    out = {k: v for k, v in metrics.items() if k in SAMPLED[:1]}
    for k, v in metrics.items():
        s = spec(k)
        if s.base in HEADLINE and not s.floor and s.spread is None and not k.startswith(("checkpoint_", "study_")):
            out[k] = v
    return out


def markdown_table() -> str:
    """docs/evaluation.md's table of every logged metric (`python -m components.metric_specs`; a test keeps the
    doc in step)."""
    lines = ["| metric | direction | unit (scale) | what it measures | eval settings it reads |",
             "| --- | --- | --- | --- | --- |"]
    for base, b in BASES.items():
        direction = {"lower": "lower is better", "higher": "higher is better", None: "a count"}[b.direction]
        unit = (b.unit or "-") + (f" (logged = value x {b.scale:g})" if b.scale != 1 else "")
        reads = ", ".join(f"`{r}`" for r in b.reads) or "-"
        lines.append(f"| `{base}` | {direction} | {unit} | {b.what} | {reads} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
