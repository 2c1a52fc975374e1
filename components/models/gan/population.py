"""K trials of one game and architecture trained as one batched computation (issue 26): a population.

Small GAN networks leave a GPU launch-bound (an NS GAN step on the Lucic networks is ~20 GFLOP, under 1% of an
H100 at one trial per device). K members in one forward and backward fill it. Each member is an independent
network: its parameters are stacked along a leading member dimension and the member's own network is called on
them through `torch.func.vmap`, which turns K convolutions into one grouped convolution, K linear layers into one
batched matmul and K batch norms into one over K*C channels with each member's own statistics.

The step is the game's own (`GAN.train_step`, `BEGAN.train_step`): the population replaces its hooks with
batched ones (noise per member's generator, (K,) losses, penalty points drawn member by member, per-member
hyperparameters), so a member sees the same numbers as a single trial with its seed (tests/models/
test_population.py: within 1e-5). Members may differ in MEMBER_HP and seed; everything else (the game,
architecture, `disc_iters`, `disc_batch_norm`, unrolling) shapes the computation and is shared.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from components.models.gan.family import GAN

# what members of one population may differ in (besides the seed): elementwise in Adam or in the loss
MEMBER_HP = ("lr", "beta1", "beta2", "gp_lambda", "clip", "gamma", "lambda_k")


def population_key(hp) -> tuple:
    """What trials must share to train in one population: every hyperparameter but MEMBER_HP."""
    return tuple(sorted((k, repr(v)) for k, v in dataclasses.asdict(hp).items() if k not in MEMBER_HP))


def _attr(name: str) -> str:
    return name.replace(".", "__")  # a module attribute cannot hold a dot


class Stacked(nn.Module):
    """K copies of one network as stacked parameters and buffers, called on (K, N, ...) inputs."""

    def __init__(self, nets: list[nn.Module]):
        super().__init__()
        params, buffers = stack_module_state(nets)
        self._template = [copy.deepcopy(nets[0]).to("meta")]  # in a list: not a submodule, owns no weights
        self.param_names, self.buffer_names = list(params), list(buffers)
        for name, value in params.items():
            if value.dim() == 3:  # a linear weight (K, out, in): kept in the transposed layout its batched-matmul
                # gradient arrives in, so accumulating it and Adam's update run on contiguous memory (2x the
                # member-steps/s on the CPU against the row-major layout, which every backward copied)
                value = value.transpose(1, 2).contiguous().transpose(1, 2)
            self.register_parameter(_attr(name), nn.Parameter(value))
        for name, value in buffers.items():
            self.register_buffer(_attr(name), value)

    def _call(self, params: dict, buffers: dict, x: torch.Tensor) -> torch.Tensor:
        return functional_call(self._template[0], (params, buffers), (x,))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = {n: getattr(self, _attr(n)) for n in self.param_names}
        buffers = {n: getattr(self, _attr(n)) for n in self.buffer_names}
        return vmap(self._call)(params, buffers, x)

    def member_state(self, k: int) -> dict[str, torch.Tensor]:
        """Member k's weights and buffers as its own network's state dict."""
        return {n: getattr(self, _attr(n))[k].detach().clone() for n in self.param_names + self.buffer_names}


class BatchedAdam(torch.optim.Optimizer):
    """Adam over stacked parameters with one lr, beta1 and beta2 per member. Adam is elementwise, so K members'
    updates are one update with (K,) hyperparameters broadcast over each weight; each member's follows
    torch.optim.Adam's (single-tensor) arithmetic."""

    def __init__(self, params, lr: list[float], beta1: list[float], beta2: list[float], eps: float = 1e-8):
        super().__init__(params, {"eps": eps})
        self.hyper = torch.tensor([lr, beta1, beta2], dtype=torch.float64)  # (3, K); bias corrections in float64

    @torch.no_grad()
    def step(self, closure=None):
        lr, beta1, beta2 = self.hyper
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float32)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"].item()
                # (3, K) -> each (K, 1, ...) over this weight, in its dtype
                b1, b2, step_size, bc2_sqrt = (v.to(p.device, p.dtype).view(-1, *[1] * (p.dim() - 1)) for v in
                                               (beta1, beta2, lr / (1 - beta1 ** t), (1 - beta2 ** t).sqrt()))
                grad, exp_avg, exp_avg_sq = p.grad, state["exp_avg"], state["exp_avg_sq"]
                exp_avg.lerp_(grad, 1 - b1)  # in place where torch's Adam is: two temporaries per weight
                exp_avg_sq.mul_(b2).addcmul_(grad, grad.mul(1 - b2))
                denom = exp_avg_sq.sqrt().div_(bc2_sqrt).add_(group["eps"])
                p.addcdiv_(exp_avg, denom.div_(-step_size))  # p - step_size * exp_avg / denom


if TYPE_CHECKING:  # the mixin always comes before a GAN class (see `population`): the checker reads it as one
    _Base = GAN
else:
    _Base = object


class PopulationMixin(_Base):
    """Put in front of a GAN class (see `population`): the same step on stacked members. Its step draws from one
    generator per member (StepContext.rng holds their list): the methods that draw take that list."""

    member_seeds: list[int]
    G: Stacked
    D: Stacked
    _hp_lr: torch.Tensor

    def __init__(self, members: list[GAN], seeds: list[int]):
        first = members[0]
        keys = {population_key(m.hp) for m in members}
        if len(keys) > 1 or len({(type(m), m.game) for m in members}) > 1:
            raise ValueError("a population's members must share the game and every hyperparameter but "
                             f"{', '.join(MEMBER_HP)}")
        if len(seeds) != len(members):
            raise ValueError(f"{len(members)} members need as many seeds, got {len(seeds)}")
        nn.Module.__init__(self)
        self.image_shape, self.num_classes, self.hp = first.image_shape, first.num_classes, first.hp
        self.member_hps, self.member_seeds = [m.hp for m in members], list(seeds)
        self.z_dim, self.game, self.unrolled_steps = first.z_dim, first.game, first.unrolled_steps
        self._skeleton = [copy.deepcopy(first).to("meta")]  # what member(k) fills in
        self.G, self.D = Stacked([m.G for m in members]), Stacked([m.D for m in members])
        for name, buf in first.named_buffers(recurse=False):  # the model's own state (BEGAN's k), per member
            self.register_buffer(name, torch.stack([getattr(m, name) for m in members]))
        for name in MEMBER_HP:
            if hasattr(first.hp, name):
                values = [float(getattr(h, name)) for h in self.member_hps]
                self.register_buffer(f"_hp_{name}", torch.tensor(values), persistent=False)

    @property
    def size(self) -> int:
        return len(self.member_seeds)

    def member_hp(self, name: str) -> torch.Tensor:
        return getattr(self, f"_hp_{name}")

    def noise(self, n: int, rngs: list[torch.Generator]) -> torch.Tensor:  # type: ignore[override]
        return torch.stack([GAN.noise(self, n, rng) for rng in rngs])

    def d_loss(self, real, fake):
        return vmap(self.game.d_loss)(real, fake)

    def g_loss(self, fake):
        return vmap(self.game.g_loss)(fake)

    def penalty_points(self, real, fake, rngs):
        """Drawn member by member from each member's generator: the draws of its single trial."""
        return torch.stack([GAN.penalty_points(self, r, f, g) for r, f, g in zip(real, fake, rngs)])

    def configure_optimizers(self, fused: bool = False):
        lr, b1, b2 = ([float(getattr(h, k)) for h in self.member_hps] for k in ("lr", "beta1", "beta2"))
        d_lr = [x * self.hp.d_lr_scale for x in lr]  # d_lr_scale is shared: not a MEMBER_HP
        return {"D": BatchedAdam(self.D.parameters(), d_lr, b1, b2), "G": BatchedAdam(self.G.parameters(), lr, b1, b2)}

    def member(self, k: int) -> GAN:
        """Member k as the ordinary model its single trial would have trained (same class, hp and weights)."""
        model = copy.deepcopy(self._skeleton[0]).to_empty(device=self._hp_lr.device)
        model.hp = self.member_hps[k]
        model.G.load_state_dict(self.G.member_state(k))
        model.D.load_state_dict(self.D.member_state(k))
        for name, _ in self._skeleton[0].named_buffers(recurse=False):
            getattr(model, name).copy_(getattr(self, name)[k])
        return model.train(self.training)

    def sample(self, n, rng, labels=None):
        raise TypeError("a population does not sample: take a member (population.member(k))")


_CLASSES: dict[type[GAN], type[GAN]] = {}


def _population_class(cls: type[GAN]) -> type[GAN]:
    """One population class per model class (a model's class names what it is, in a checkpoint too)."""
    if cls not in _CLASSES:
        _CLASSES[cls] = type(f"{cls.__name__}Population", (PopulationMixin, cls), {"__module__": __name__})
    return _CLASSES[cls]


def population(members: list[GAN], seeds: list[int]) -> PopulationMixin:
    """The members (each built as its single trial builds it) as one population model of their own class."""
    cls: type = _population_class(type(members[0]))  # takes (members, seeds): the mixin's __init__ comes first
    return cls(members, seeds)
