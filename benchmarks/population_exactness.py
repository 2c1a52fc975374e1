"""How far a population member's weights land from its single trial's (issue 26), beside how far a single trial
lands from itself when only torch's thread count changes: in float32 and in float64.

    .venv/bin/python benchmarks/population_exactness.py [--steps 6] [--games nsgan,wgan,wgangp,began]

K = 3 members (seeds 3, 4, 5; lr 1e-4, 2e-4, 5e-4; beta1 0.5, 0.0, 0.3), thin InfoGAN networks on 8x8 random
images, batch 16, through the loop. Each figure is the worst tensor's ||a - b|| / ||b|| over the model's state.
tests/models/test_population.py asserts the float64 column (< 1e-5).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.hardware import describe  # noqa: E402
from components.models.gan.population import population  # noqa: E402
from components.models.registry import get_family  # noqa: E402
from components.training.loop import LoopConfig, fit  # noqa: E402

SEEDS, LRS, BETA1 = [3, 4, 5], [1e-4, 2e-4, 5e-4], [0.5, 0.0, 0.3]


def _member(game: str, k: int):
    torch.manual_seed(SEEDS[k])
    fam = get_family(game)
    return fam.build((1, 8, 8), 1, fam.hyperparameters({"width": 0.125, "lr": LRS[k], "beta1": BETA1[k]}))


def _fit(model, steps: int, seed: int) -> None:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 8, 8, 1), dtype=torch.uint8, generator=g)
    cfg = LoopConfig(steps=steps, batch_size=16, log_every=1, checkpoint_every=10**6, progress=False,
                     precision="fp32", device="cpu", seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        fit(model, images, torch.zeros(64, dtype=torch.long), cfg, Path(tmp))


def _worst(a: dict, b: dict) -> float:
    return max(((a[n].double() - b[n].double()).norm() / b[n].double().norm().clamp_min(1e-12)).item() for n in b)


def measure(game: str, steps: int, dtype: torch.dtype) -> dict:
    torch.set_default_dtype(dtype)
    threads = torch.get_num_threads()
    try:
        singles = []
        for k in range(3):
            m = _member(game, k)
            _fit(m, steps, SEEDS[k])
            singles.append(m.state_dict())
        pop = population([_member(game, k) for k in range(3)], SEEDS)
        _fit(pop, steps, 0)
        torch.set_num_threads(1)  # member 0 alone again, on one thread: another reduction order
        other = _member(game, 0)
        _fit(other, steps, SEEDS[0])
    finally:
        torch.set_num_threads(threads)
        torch.set_default_dtype(torch.float32)
    return {"member_vs_single": max(_worst(pop.member(k).state_dict(), singles[k]) for k in range(3)),
            "single_1_vs_n_threads": _worst(other.state_dict(), singles[0])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--games", default="nsgan,wgan,wgangp,began")
    args = ap.parse_args()
    rows = {g: {name: measure(g, args.steps, dt) for name, dt in (("fp32", torch.float32), ("fp64", torch.float64))}
            for g in args.games.split(",")}
    print("| game | fp32: member vs its single trial | fp32: single trial, 1 vs "
          f"{torch.get_num_threads()} threads | fp64: member vs single | fp64: 1 vs {torch.get_num_threads()} threads |")
    print("|---|---|---|---|---|")
    for g, r in rows.items():
        print(f"| {g} | {r['fp32']['member_vs_single']:.1e} | {r['fp32']['single_1_vs_n_threads']:.1e} | "
              f"{r['fp64']['member_vs_single']:.1e} | {r['fp64']['single_1_vs_n_threads']:.1e} |")
    print(json.dumps({"command": " ".join(["benchmarks/population_exactness.py", *sys.argv[1:]]), **describe(),
                      "threads": torch.get_num_threads(), "steps": args.steps, "rows": rows}))


if __name__ == "__main__":
    main()
