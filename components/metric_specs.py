"""What every logged metric is: its direction, unit and scale, the feature space it is measured in, what it
measures and how reports show it. Declared once; every comparison (the champion rule, a trial's best checkpoint,
the study's ranking, the summary's "best") asks `spec(name).better(a, b)` instead of assuming lower is better, and
every name is built by `name(...)` and read back by `spec(name)`, its inverse.

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


SAMPLED = ("num_samples", "batch_size")  # which samples: every sample metric reads these
SUBSETS = ("max_prdc_samples",)


@dataclass(frozen=True)
class Base:
    """A base name's declaration. Reports show a model's metrics top-down in the order BASES declares them."""

    direction: Direction | None  # None: a count or setting, never compared
    unit: str  # "" for a dimensionless number
    what: str
    reads: tuple[str, ...] = ()  # the eval settings its value depends on (all are in the protocol digest)
    scale: float = 1.0  # logged value = library value x scale
    bound: str = ""  # what a bound bounds, shown beside its row so its sign reads right ("ELBO ≤ log p(x)")
    headline: bool = False  # one of the few numbers `dvc exp show` puts in its columns (headline())
    per_sample_count: bool = False  # biased by N: never shown without the N it was measured on


BASES: dict[str, Base] = {
    "fid": Base("lower", "", "Frechet distance between Gaussian fits of real and generated features (Heusel et al. "
                "2017); biased by N", SAMPLED, headline=True, per_sample_count=True),
    "kid_x1e3": Base("lower", "x10^3", "Kernel Inception Distance: unbiased squared MMD with the cubic polynomial "
                     "kernel (Binkowski et al. 2018), mean over subsets, reported x10^3 as papers do",
                     (*SAMPLED, "kid_subset_size", "kid_subsets"), 1e3, headline=True, per_sample_count=True),
    "is": Base("higher", "", "Inception Score (Salimans et al. 2016) from the space's class logits, 10 splits",
               SAMPLED),
    "precision": Base("higher", "fraction", "share of samples inside the real k-NN manifold (Kynkaanniemi et al. "
                      "2019)", (*SAMPLED, *SUBSETS, "prc_k"), headline=True),
    "recall": Base("higher", "fraction", "share of real images inside the samples' k-NN manifold (Kynkaanniemi et "
                   "al. 2019)", (*SAMPLED, *SUBSETS, "prc_k"), headline=True),
    "f1": Base("higher", "fraction", "harmonic mean of precision and recall", (*SAMPLED, *SUBSETS, "prc_k")),
    "density": Base("higher", "", "expected real k-NN balls per sample (Naeem et al. 2020); 1 for matching sets",
                    (*SAMPLED, *SUBSETS, "prdc_k")),
    "coverage": Base("higher", "fraction", "share of real images whose k-NN ball holds a sample (Naeem et al. 2020)",
                     (*SAMPLED, *SUBSETS, "prdc_k")),
    "modes_covered": Base("higher", "modes", "2-D points: mixture modes holding at least eval.mode_min_share of an "
                          "even share of high-quality samples (VEEGAN; PacGAN)", (*SAMPLED, "mode_min_share"),
                          headline=True),
    "modes_covered_published": Base("higher", "modes", "2-D points: mixture modes nearest to at least one "
                                    "high-quality sample of 2,500 drawn with the same seed, whatever N the other "
                                    "counts use: the rule the published rows use (VEEGAN; PacGAN's code); loose, "
                                    "shown only beside them",
                                    SAMPLED),
    "high_quality": Base("higher", "fraction", "2-D points: share of samples within 3 sigma of the nearest mode's "
                         "centre (VEEGAN; PacGAN)", SAMPLED, headline=True),
    "reverse_kl": Base("lower", "nats", "2-D points: KL(q‖p) of the samples' nearest-mode histogram q against "
                       "the mixture's mode weights p (PacGAN)", SAMPLED, headline=True),
    "cycle_l1": Base("lower", "pixel", "mean |x - F(G(x))| with pixels in [0, 1]", ("num_samples", "batch_size"),
                     headline=True),
    "label_preservation": Base("higher", "fraction", "translations the target domain's classifier labels as the "
                               "source image", ("num_samples", "batch_size"), headline=True),
    "test_nll_nats": Base("lower", "nats/image", "exact negative log-likelihood of test images (a logistic "
                          "mixture's bins under 1e-5 take the density at their centre, as in PixelCNN++)",
                          ("likelihood_images", "batch_size"), headline=True),
    "test_nll_bits_per_dim": Base("lower", "bits/dim", "exact negative log-likelihood of test images (a logistic "
                                  "mixture's bins under 1e-5 take the density at their centre, as in PixelCNN++)",
                                  ("likelihood_images", "batch_size")),
    "test_nll_iwae_nats": Base("lower", "nats/image", "IWAE-k upper bound on the negative log-likelihood",
                               ("likelihood_images", "iwae_k", "batch_size"), bound="≥ NLL", headline=True),
    "test_nll_iwae_bits_per_dim": Base("lower", "bits/dim", "IWAE-k upper bound on the negative log-likelihood",
                                       ("likelihood_images", "iwae_k", "batch_size"), bound="≥ NLL"),
    "test_elbo_nats": Base("higher", "nats/image", "evidence lower bound on log p(x)",
                           ("likelihood_images", "batch_size"), bound="ELBO ≤ log p(x)"),
    "test_elbo_bits_per_dim": Base("lower", "bits/dim", "negative ELBO: an upper bound on the NLL",
                                   ("likelihood_images", "batch_size"), bound="-ELBO ≥ NLL"),
    "test_reconstruction_mse": Base("lower", "pixel^2", "mean squared error per pixel of G(E(x)) on test images, "
                                    "pixels in [0, 1] (families with an encoder)", ("likelihood_images", "batch_size")),
    "sample_seconds_per_image": Base("lower", "s/image", "sampling time on the run's device (a timing, not a "
                                     "score of the model)", SAMPLED),
    # counts and settings: beside the scores, never compared
    "num_samples": Base(None, "images", "generated images the sample metrics are measured on", SAMPLED),
    "num_translated": Base(None, "images", "test images translated", ("num_samples",)),
    "iwae_k": Base(None, "", "importance samples of the IWAE bound", ("iwae_k",)),
    "likelihood_images": Base(None, "images", "test images the likelihoods are measured on", ("likelihood_images",)),
}
# measured on 2-D points (evaluation/modes.py)
POINT_BASES = ("modes_covered", "modes_covered_published", "high_quality", "reverse_kl")


def measures_points(name: str) -> bool:
    """Whether metric `name` is measured on 2-D points (mode counts) rather than on images."""
    return spec(name).base in POINT_BASES


PREFIXES = ("floor", "checkpoint", "best_checkpoint", "study")  # see the module's docstring
SIDES = ("ab", "ba", "a", "b")
AGGREGATES = ("mean", "best")
_PATTERNS = [(base, re.compile(rf"^(?:(?P<prefix>{'|'.join(PREFIXES)})_)?{re.escape(base)}"
                               rf"(?:_(?P<space>{'|'.join(SPACES)}))?(?:_(?P<side>{'|'.join(SIDES)}))?"
                               rf"(?P<given>_given_label)?(?:_(?P<aggregate>{'|'.join(AGGREGATES)}))?"
                               rf"(?:_(?P<spread>{'|'.join(SPREADS)}))?$"))
             for base in sorted(BASES, key=len, reverse=True)]


def name(base: str, space: str | None = None, *, prefix: str | None = None, side: str | None = None,
         given_label: bool = False, aggregate: str | None = None, spread: str | None = None) -> str:
    """The logged name of `base` with its parts (the module's docstring says what each means); `spec(name)` reads
    it back. A part that is not declared raises, so no module makes up a name the specs cannot read."""
    for value, allowed, what in ((base, BASES, "metric"), (space, SPACES, "space"), (prefix, PREFIXES, "prefix"),
                                 (side, SIDES, "side"), (aggregate, AGGREGATES, "aggregate"),
                                 (spread, SPREADS, "spread")):
        if value is not None and value not in allowed:
            raise KeyError(f"{value!r} is not a declared {what} (components/metric_specs.py: {', '.join(allowed)})")
    parts = [prefix, base, space, side, "given_label" if given_label else None, aggregate, spread]
    return "_".join(p for p in parts if p)


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
    prefix: str | None = None  # floor | checkpoint | best_checkpoint | study
    side: str | None = None  # a translation direction or domain
    given_label: bool = False
    aggregate: str | None = None  # a study's mean or best over seeds
    spread_key: str | None = None  # the spread's suffix (SPREADS' key)

    def named(self, **changes: object) -> str:
        """This metric's name with some parts changed (prefix="floor": its floor; spread="seed_std": its spread)."""
        parts: dict = {"space": self.space, "prefix": self.prefix, "side": self.side, "given_label": self.given_label,
                       "aggregate": self.aggregate, "spread": self.spread_key}
        return name(self.base, **{**parts, **changes})

    @property
    def shown_with_n(self) -> bool:
        """Biased by the sample count: a report shows N beside it."""
        return BASES[self.base].per_sample_count

    @property
    def bound(self) -> str:
        return BASES[self.base].bound

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


def spec(metric: str) -> MetricSpec:
    """The spec of a logged metric name; KeyError naming the name when it is not one genzoo logs."""
    for base, pattern in _PATTERNS:
        m = pattern.match(metric)
        if m:
            b = BASES[base]
            spread = m["spread"]
            return MetricSpec(metric, base, None if spread else b.direction, b.unit, b.scale, m["space"],
                              m["prefix"] == "floor", SPREADS.get(spread) if spread else None, b.what,
                              m["prefix"], m["side"], bool(m["given"]), m["aggregate"], spread)
    raise KeyError(f"{metric!r} is not a metric genzoo logs (components/metric_specs.py lists them)")


def headline(metrics: dict[str, float]) -> dict[str, float]:
    """What `dvc exp show` puts in its columns (evaluation/<family>/metrics.json): the headline metrics of `metrics`
    (a model's own: no prefix, no spread) and the sample count N they were measured on, one or two numbers per
    question so a family's experiments fit a 160-column terminal; every metric stays in MLflow and the stage's own
    metrics.json."""
    out = {k: v for k, v in metrics.items() if k in SAMPLED[:1]}
    for k, v in metrics.items():
        try:
            s = spec(k)
        except KeyError:  # a run's training losses and settings beside its scores: never a headline
            continue
        if BASES[s.base].headline and s.prefix is None and s.spread is None:
            out[k] = v
    return out


def display_rank(metric: str) -> tuple[int, str]:
    """Where a report's row goes: top-down in BASES' declaration order, then by name."""
    return list(BASES).index(spec(metric).base), metric


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
