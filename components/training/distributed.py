"""Data parallelism under `torchrun`: one process per GPU (NCCL) or per CPU worker (gloo).

Each rank draws a disjoint share of every batch (loop.BatchOrder), computes its gradients, and before each
optimiser step the gradients are averaged across ranks — what DistributedDataParallel computes. It is done with
one flattened all_reduce per optimiser step (as StyleGAN2-ADA's training loop does) rather than the DDP
wrapper, because the wrapper's reducer expects one forward/backward per parameter per step: a GAN's generator
step runs backward through the discriminator, discriminator-only steps leave the generator without gradients,
and the unrolled GAN calls the discriminator functionally — each a DDP unused-parameter or double-sync error.
Start: rank 0's weights and buffers are broadcast, so all ranks begin identical and stay identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def init() -> World:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK); a plain process is rank 0 of 1."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        if torch.cuda.is_available():
            torch.cuda.set_device(world.local_rank)  # "cuda" now means this rank's GPU
            dist.init_process_group("nccl", device_id=torch.device("cuda", world.local_rank))
        else:
            dist.init_process_group("gloo")
    return world


def current() -> World:
    """This process's place in the group it joined (rank 0 of 1 outside torchrun)."""
    if not active():
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def barrier() -> None:
    if active():
        dist.barrier()


def finish() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def broadcast_state(model: nn.Module) -> None:
    """Every rank takes rank 0's parameters and buffers."""
    for t in [*model.parameters(), *model.buffers()]:
        dist.broadcast(t.data, src=0)


def average_gradients(optimizer: torch.optim.Optimizer) -> None:
    """Mean of each parameter's gradient across ranks; a parameter without one on every rank stays without."""
    params = [p for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.reshape(-1) for p in params])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for p in params:
        n = p.grad.numel()
        p.grad.copy_(flat[offset:offset + n].view_as(p.grad))
        offset += n


def average_buffers(model: nn.Module) -> None:
    """Batch-norm running statistics (and other float buffers) averaged across ranks, e.g. before a save."""
    for b in model.buffers():
        if b.is_floating_point():
            dist.all_reduce(b.data)
            b.data /= dist.get_world_size()


def parameter_digest(model: nn.Module) -> str:
    import hashlib

    h = hashlib.sha256()
    for name, p in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(p.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def gather_digests(model: nn.Module) -> list[str]:
    """Every rank's digest of its weights (all ranks get the list): equal digests mean the ranks agree."""
    digest = parameter_digest(model)
    if not active():
        return [digest]
    out: list = [None] * dist.get_world_size()
    dist.all_gather_object(out, digest)
    return out
