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
from typing import Callable

import torch

from components import progress
from components.config.schema import Train
from components.errors import TrainingDiverged
from components.files import atomic_write
from components.models.base import GenerativeModel, StepContext

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


def pick_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


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
        self._epoch, self._perm = -1, None

    def indices(self, step: int) -> torch.Tensor:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=g)
        start = (i * self.world + self.rank) * self.bs
        return self._perm[start:start + self.bs]


def to_float_images(batch_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1]; float data (2-D points, data/mixtures.py) keep their values."""
    if batch_uint8.is_floating_point():
        return batch_uint8.permute(0, 3, 1, 2).float()
    return batch_uint8.permute(0, 3, 1, 2).float().div_(255.0)


def to_uint8_images(x: torch.Tensor) -> torch.Tensor:
    """float NCHW in [0, 1] -> uint8 NHWC on the CPU: the inverse, how images are stored, scored and served."""
    return (x.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu()


def save_checkpoint(path: Path, state: dict) -> None:
    atomic_write(path, lambda tmp: torch.save(state, tmp))  # a kill mid-save leaves the previous checkpoint


def load_checkpoint(path: Path, device: torch.device) -> dict | None:
    if not path.exists():
        return None
    return torch.load(path, map_location=device, weights_only=True)


def fit(
    model: GenerativeModel,
    images: torch.Tensor,
    labels: torch.Tensor,
    cfg: LoopConfig,
    checkpoint_dir: Path,
    on_log: Callable[[int, dict[str, float]], None] | None = None,
    rank: int = 0,
    world: int = 1,
    wrap: Callable[[GenerativeModel], None] | None = None,
    on_checkpoint: Callable[[int, GenerativeModel], None] | None = None,
) -> LoopResult:
    """Train `model` for cfg.steps steps on uint8 NHWC `images`, resuming from checkpoint_dir/last.pt.

    on_log(step, means) receives the mean of each loss over the last log_every steps; on_checkpoint(step, model)
    runs on rank 0 at each checkpoint, just before it is written (the study scores every checkpoint there).
    """
    device = pick_device(cfg.device)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    ckpt_path = checkpoint_dir / CHECKPOINT
    model.to(device).train()
    if device.type == "cpu":  # a saturated discriminator's backward fills with denormals: a CPU step ran 7.6x slower
        torch.set_flush_denormal(True)
    if wrap is not None:
        wrap(model)  # e.g. DistributedDataParallel around each net
    if cfg.compile:
        for net in model.nets().values():
            net.compile()
    optimizers = model.configure_optimizers(fused=cfg.fused_adam)
    rng = torch.Generator(device=device).manual_seed(cfg.seed * 7919 + 17 + rank)
    scaler = torch.amp.GradScaler(device.type) if cfg.precision == "fp16" else None
    ctx = StepContext(device=device, rng=rng, step=0, autocast=autocast_factory(device, cfg.precision),
                      scaler=scaler, optimizers=optimizers, total_steps=cfg.steps)
    history: list[dict] = []
    start = 0
    state = load_checkpoint(ckpt_path, device)
    if state is not None:
        model.load_state_dict(state["model"])
        for name, opt in optimizers.items():
            opt.load_state_dict(state["optimizers"][name])
        rng.set_state(state["rng"].cpu())  # generator states live on the host
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start, history = int(state["step"]), list(state["history"])
        log.info("resumed from %s at step %d", ckpt_path, start)

    if world > 1:  # data parallel under torchrun (training/distributed.py): start identical, average grads
        from components.training import distributed

        distributed.broadcast_state(model)
        ctx.grad_sync = distributed.average_gradients
    images = images.to(device)
    labels = labels.to(device)
    order = BatchOrder(len(images), cfg.batch_size, cfg.seed, rank, world)
    sums: dict[str, torch.Tensor] = {}
    counts: dict[str, int] = {}

    def flush(step: int) -> None:
        """Average the accumulated losses (one host sync per log interval) and stop on NaN/inf."""
        if not sums:
            return
        means = {k: float(v.item()) / counts[k] for k, v in sums.items()}
        sums.clear()
        counts.clear()
        bad = {k: v for k, v in means.items() if not math.isfinite(v)}
        if bad:
            raise TrainingDiverged(f"non-finite loss by step {step}: {bad}")
        history.append({"step": step, **means})
        if on_log is not None:
            on_log(step, means)

    bar = None
    if cfg.progress and rank == 0:
        from tqdm.auto import tqdm

        bar = tqdm(total=cfg.steps, initial=start, desc=progress.label() or f"train {type(model).__name__}",
                   unit="step", mininterval=1.0, dynamic_ncols=True)
    try:
        for step in range(start, cfg.steps):
            idx = order.indices(step).to(device)
            ctx.step = step
            losses = model.train_step(to_float_images(images[idx]), labels[idx], ctx)
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
                if on_checkpoint is not None:  # before the save: a kill in between redoes this step's scoring
                    on_checkpoint(done, model)
                save_checkpoint(ckpt_path, {
                    "step": done,
                    "model": model.state_dict(),
                    "optimizers": {k: o.state_dict() for k, o in optimizers.items()},
                    "rng": rng.get_state(),
                    "scaler": scaler.state_dict() if scaler is not None else {},
                    "history": history,
                })
            if bar is not None:
                bar.update(1)
                if history and done % cfg.log_every == 0:
                    bar.set_postfix({k: f"{v:.3f}" for k, v in history[-1].items() if k != "step"})
    finally:
        if bar is not None:
            bar.close()
    return LoopResult(steps=cfg.steps, resumed_from=start, history=history)
