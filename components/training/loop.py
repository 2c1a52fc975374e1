"""The one training loop every family plugs into.

Deterministic by construction so that a killed run resumes to the same weights: batches come from a
permutation seeded by (seed, epoch), all noise from one torch.Generator whose state is checkpointed, and a
checkpoint is written atomically every `checkpoint_every` steps.
"""

from __future__ import annotations

import contextlib
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, cast

import torch

from components import progress, stop
from components.config.schema import Train
from components.errors import TrainingDiverged
from components.files import atomic_write
from components.hardware import pick_device
from components.images import to_float_images
from components.models.base import GenerativeModel, StepContext

if TYPE_CHECKING:
    from components.models.gan.population import PopulationMixin

log = logging.getLogger(__name__)
CHECKPOINT = "last.pt"


class LoopConfig(Train):
    """What `fit` runs with: the run's typed `train` settings (config/schema.py, their one declaration and
    defaults) plus the seed."""

    seed: int = 0

    @classmethod
    def from_cfg(cls, train: Train, seed: int, **changes) -> "LoopConfig":
        """From the run's `train` settings, `auto` precision resolved to what this machine trains in (that is what
        is logged and keyed); `changes` replace fields (a study trial's own budget)."""
        from components.training.precision import resolve

        fields = {**train.model_dump(), **changes}
        fields["precision"] = resolve(fields["precision"], pick_device(fields["device"]))
        return cls(**fields, seed=seed)


@dataclass
class LoopResult:
    steps: int
    resumed_from: int
    history: list[dict] = field(default_factory=list)  # [{"step": s, "d_loss": ..., ...}] every log_every
    # a population's (models/gan/population.py): each member's history, and why a member stopped counting
    member_histories: list[list[dict]] = field(default_factory=list)
    diverged: dict[int, str] = field(default_factory=dict)


def autocast_factory(device: torch.device, precision: str) -> Callable[[], contextlib.AbstractContextManager]:
    from components.training.precision import resolve

    precision = resolve(precision, device)
    if precision == "fp32":
        return contextlib.nullcontext
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    if dtype is None:
        raise ValueError(f"train.precision={precision!r}: expected auto, fp32, bf16 or fp16")
    if dtype is torch.float16 and device.type != "cuda":
        raise ValueError("train.precision=fp16 needs CUDA; use bf16 on CPU")
    return lambda: torch.autocast(device.type, dtype=dtype)


class BatchOrder:
    """Which rows make batch `step`: a fresh permutation per epoch from (seed, epoch); resumable by step.

    `rank`/`world` slice each batch for data-parallel runs, so every rank sees a disjoint share.
    """

    def __init__(self, n: int, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        if n < batch_size * world:
            raise ValueError(f"{n} training images are fewer than one batch ({batch_size} x {world} ranks)")
        self.n, self.bs, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.per_epoch = n // (batch_size * world)
        self._epoch, self._perm = -1, torch.empty(0, dtype=torch.long)

    def indices(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g)
        start = (i * self.world + self.rank) * self.bs
        return self._perm[start:start + self.bs]


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))  # a kill mid-save leaves the previous checkpoint


def load_checkpoint(path: Path, device: torch.device) -> dict | None:
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


OnLog = Callable[[int, dict[str, float]], None]
OnCheckpoint = Callable[[int, GenerativeModel], None]


def fit(
    model: GenerativeModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: LoopConfig,
    checkpoint_dir: Path,
    on_log: OnLog | list[OnLog | None] | None = None,
    rank: int = 0,
    world: int = 1,
    wrap: Callable[[GenerativeModel], None] | None = None,
    on_checkpoint: OnCheckpoint | list[OnCheckpoint | None] | None = None,
) -> LoopResult:
    """Train `model` for cfg.steps steps on uint8 NHWC `images`, resuming from checkpoint_dir/last.pt.

    on_log(step, means) receives the mean of each loss over the last log_every steps; on_checkpoint(step, model)
    runs on rank 0 at each checkpoint, just before it is written (the study scores every checkpoint there).

    A population (`model.member_seeds`) trains each member on its own seed's batches and noise, as its single
    trial would; the callbacks are lists, one per member, and on_checkpoint gets the member's own model. A member
    whose loss turns non-finite stops being logged and scored (LoopResult.diverged); the others go on.
    """
    device = pick_device(cfg.device)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = checkpoint_dir / CHECKPOINT
    model.to(device).train()
    nhwc = cfg.channels_last and model.member_seeds is None  # a population's stacked weights are 5-D: as they are
    if nhwc:
        model.to(memory_format=torch.channels_last)
    if device.type == "cpu":  # a saturated discriminator's backward fills with denormals: a CPU step ran 7.6x slower
        torch.set_flush_denormal(True)
    if wrap is not None:
        wrap(model)  # e.g. DistributedDataParallel around each net
    if cfg.compile:
        for net in model.nets().values():
            net.compile()
    optimizers = model.configure_optimizers(fused=cfg.fused_adam)
    population = model.member_seeds is not None
    seeds = model.member_seeds if model.member_seeds is not None else [cfg.seed]
    if population and (world > 1 or cfg.precision == "fp16"):
        raise ValueError("a population trains on one device in fp32 or bf16 (no data parallelism, no loss scaling)")
    rngs = [torch.Generator(device=device).manual_seed(seed * 7919 + 17 + rank) for seed in seeds]
    scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
    ctx = StepContext(device=device, rng=cast(torch.Generator, rngs) if population else rngs[0], step=0,
                      autocast=autocast_factory(device, cfg.precision), scaler=scaler, optimizers=optimizers,
                      total_steps=cfg.steps)
    histories: list[list[dict]] = [[] for _ in seeds]
    diverged: dict[int, str] = {}
    start = 0
    state = load_checkpoint(ckpt_path, device)
    if state is not None:
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        for rng, rng_state in zip(rngs, state["rng"] if population else [state["rng"]]):
            rng.set_state(rng_state.cpu())  # generator states live on the host
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start = int(state["step"])
        histories = [list(h) for h in state["history"]] if population else [list(state["history"])]
        diverged = dict(state.get("diverged", {}))
        log.info("resumed from %s at step %d", ckpt_path, start)

    if world > 1:  # data parallel under torchrun (training/distributed.py): start identical, average grads
        from components.training import distributed

        distributed.broadcast_state(model)
        ctx.grad_sync = distributed.average_gradients
    images = images.to(device)
    labels = labels.to(device)
    orders = [BatchOrder(len(images), cfg.batch_size, seed, rank, world) for seed in seeds]
    log_to = on_log if isinstance(on_log, list) else [on_log] * len(seeds)
    score = on_checkpoint if isinstance(on_checkpoint, list) else [on_checkpoint] * len(seeds)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """This step's images and labels; a population's as (K, B, ...), each member's from its own order."""
        idx = torch.stack([o.indices(step) for o in orders]).to(device)
        x = to_float_images(images[idx.flatten()])
        if nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        if not population:
            return x, labels[idx[0]]
        return x.view(len(seeds), -1, *x.shape[1:]), labels[idx]

    def flush(step: int) -> None:
        """Average the accumulated losses (one host sync per log interval) and stop on NaN/inf."""
        if not sums:
            return
        values = {k: [x / counts[k] for x in v.reshape(-1).tolist()] for k, v in sums.items()}
        sums.clear()
        counts.clear()
        for i in range(len(seeds)):
            if i in diverged:
                continue
            means = {k: v[i] for k, v in values.items()}
            bad = {k: v for k, v in means.items() if not math.isfinite(v)}
            if bad:
                diverged[i] = f"non-finite loss by step {step}: {bad}"
                if not population or len(diverged) == len(seeds):
                    raise TrainingDiverged(diverged[i])
                log.warning("population member %d (seed %d) diverged: %s", i, seeds[i], diverged[i])
                continue
            histories[i].append({"step": step, **means})
            if (on_member_log := log_to[i]) is not None:
                on_member_log(step, means)

    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=progress.label() or f"train {type(model).__name__}",
                   unit="step", mininterval=1.0, dynamic_ncols=True)
    try:
        for step in range(start, cfg.steps):
            stop.check()  # a stop whose exception was swallowed on the way (components/stop.py)
            ctx.step = step
            losses = model.train_step(*batch(step), ctx)
            for k, v in losses.items():
                v = v.detach().float()
                sums[k] = sums[k] + v if k in sums else v
                counts[k] = counts.get(k, 0) + 1
            done = step + 1
            if done % cfg.log_every == 0 or done == cfg.steps or done % cfg.checkpoint_every == 0:
                flush(done)
            at_checkpoint = done % cfg.checkpoint_every == 0 or done == cfg.steps
            if at_checkpoint and world > 1:
                distributed.average_buffers(model)  # collective: batch-norm statistics agree before the save
            if at_checkpoint and rank == 0:
                for i, on_ckpt in enumerate(score):  # before the save: a kill in between redoes this scoring
                    if on_ckpt is not None and i not in diverged:
                        on_ckpt(done, cast("PopulationMixin", model).member(i) if population else model)
                save_checkpoint(ckpt_path, {
                    "step": done,
                    "model": model.state_dict(),
                    "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                    "rng": [r.get_state() for r in rngs] if population else rngs[0].get_state(),
                    "scaler": scaler.state_dict() if scaler is not None else {},
                    "history": histories if population else histories[0],
                    "diverged": diverged,
                })
            if bar is not None:
                bar.update(1)
                if histories[0] and done % cfg.log_every == 0:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in histories[0][-1].items() if k != "step"})
    finally:
        if bar is not None:
            bar.close()
    return LoopResult(steps=cfg.steps, resumed_from=start, history=histories[0],
                      member_histories=histories if population else [], diverged=diverged)
