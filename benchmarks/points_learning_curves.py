"""How far each game gets on a 2-D mixture at a budget: high-quality share and modes covered at checkpoints (on
2,500 samples, by genzoo's rule and by the published one, evaluation/modes.py), with
the two diagnostics docs/results.md cites (the critic's spread of outputs; the share of the ML game's gradient
weight exp(logit) held by the top 1% of samples). One thread, fp32, each family's 2-D settings
(registry.Family.points_overrides) plus `--set`, the training loop itself (no MLflow, no Prefect).

    python benchmarks/points_learning_curves.py --families nsgan,wgangp --steps 20000 --every 4000
    python benchmarks/points_learning_curves.py --families wgan --set lr=0.0005 --set clip=0.05
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.config.schema import Train  # noqa: E402
from components.data import sources  # noqa: E402
from components.data.mixtures import MIXTURES  # noqa: E402
from components.evaluation import modes  # noqa: E402
from components.models.registry import get_family  # noqa: E402
from components.training.loop import LoopConfig, fit  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", default="ring8", choices=sorted(MIXTURES))
    ap.add_argument("--families", default="mmgan,nsgan,mlgan,lsgan,wgan,wgangp,dragan,began")
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="hyperparameter override KEY=VALUE")
    args = ap.parse_args()
    torch.set_num_threads(1)
    mixture = MIXTURES[args.dataset]
    split = sources.fetch(args.dataset, {})
    x, y = torch.from_numpy(split.train_images), torch.from_numpy(split.train_labels)
    real = x[:2000].permute(0, 3, 1, 2)
    given = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    print(f"{args.dataset}, batch {args.batch_size}, seed {args.seed}, fp32, 1 thread, torch {torch.__version__}")
    for name in args.families.split(","):
        fam = get_family(name)
        hp = fam.hyperparameters({**fam.points_overrides(), **{k: v for k, v in given.items() if hasattr(fam.hp, k)}})
        torch.manual_seed(args.seed)
        model = fam.build((2, 1, 1), mixture.modes, hp)
        rows: list[str] = []

        def checkpoint(step: int, m) -> None:
            with torch.no_grad():
                fake = m.sample(modes.PUBLISHED_N, torch.Generator().manual_seed(1))
                c = modes.count(fake, mixture)
                line = (f"  step {step:>6}: {100 * c.high_quality:5.1f}% high quality, {c.modes_covered} modes "
                        f"(published rule: {c.modes_covered_published})")
                # a scalar critic (the games, not the hybrids): its spread, and the ML game's gradient concentration
                if hasattr(getattr(m, "D", None), "head"):
                    out_f, out_r = m.D(fake), m.D(real)
                    top = torch.softmax(out_f, 0).topk(20).values.sum().item()
                    line += (f"; critic real {out_r.mean():.3f} +- {out_r.std():.3f}, fake {out_f.mean():.3f} +- "
                             f"{out_f.std():.3f}; top 1% of exp(output) {100 * top:.0f}%")
                rows.append(line)

        cfg = LoopConfig.from_cfg(Train(), args.seed, steps=args.steps, batch_size=args.batch_size,
                                  checkpoint_every=args.every, log_every=100, progress=False, device="cpu",
                                  precision="fp32")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            fit(model, x, y, cfg, Path(tmp), on_checkpoint=checkpoint)
        seconds = time.perf_counter() - started
        shown = ", ".join(f"{k}={getattr(hp, k)}" for k in ("lr", "beta1", "beta2", "disc_iters", "z_dim")
                          if hasattr(hp, k))
        print(f"{name} ({shown}): "
              f"{1000 * seconds / args.steps:.1f} ms/step")
        print("\n".join(rows), flush=True)


if __name__ == "__main__":
    main()
