"""One figure of every hybrid's reconstructions: the first row is eight test digits, and each following row is one
family's G(E(x)) of them, from the family's study trial with the lowest FID (its saved model under
outputs/<dataset>/study/<family>/). Also prints each family's mean squared error per pixel on 1,000 random test
images (pixels in [0, 1]), as the pipeline's `test_reconstruction_mse`. docs/results.md shows both.

    python -m benchmarks.hybrid_reconstructions --root . --dataset mnist --out docs/assets/hybrid_reconstructions.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", type=Path, default=Path("."))
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()

    from components.data import store
    from components.evaluation.plots import save_grid
    from components.models import stored
    from components.models.base import Encoding
    from components.images import to_float_images

    test = store.read(args.dataset, args.root / "data").arrays["test_images"]
    pick = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:8]
    x = to_float_images(torch.from_numpy(test[pick.numpy()]))
    many = to_float_images(torch.from_numpy(test[torch.randperm(len(test), generator=torch.Generator()
                                                                .manual_seed(1))[:1000].numpy()]))
    rows, names = [x], []
    for family_dir in sorted((args.root / "outputs" / args.dataset / "study").iterdir()):
        trials = [m.parent for m in family_dir.glob("*/model.json") if (m.parent / "metrics.json").exists()]
        if not trials:
            continue
        best = min(trials, key=lambda t: json.loads((t / "metrics.json").read_text())["fid_classifier"])
        model = stored.load(best)
        if isinstance(model, Encoding):
            rows.append(model.reconstruct(x).clamp(0, 1))
            names.append(family_dir.name)
            mse = torch.cat([(model.reconstruct(b) - b).pow(2).flatten(1).mean(1) for b in many.split(250)]).mean()
            print(f"{family_dir.name}: test_reconstruction_mse {mse.item():.4f} (1,000 test images; {best.name})")
    save_grid(torch.cat(rows), args.out, nrow=8)
    print(f"{args.out}: rows = test digits, then {', '.join(names)}")


if __name__ == "__main__":
    main()
