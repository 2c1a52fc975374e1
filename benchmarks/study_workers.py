"""Wall time of one 4-trial study (NS GAN, 4 settings x 1 seed, full MNIST) with 1 worker vs 2 workers, side by
side in one invocation, on Prefect's DaskTaskRunner with a LocalCluster (the path a real cluster takes).

    .venv/bin/python benchmarks/study_workers.py [--epochs 0.2] [--root /tmp/genzoo-bench-study]

With 1 worker the trial gets both cores (2 torch threads); with 2 workers each trial gets one (threads_per_trial
=1), so the comparison is how well two single-threaded trials beat one two-threaded trial on 2 cores. Data, the
gate and the reference classifier are prepared once first (not timed); no trial of a measured study is a
cache hit. Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

import yaml


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=float, default=0.2)
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "genzoo-bench-study")
    ap.add_argument("--data", type=Path, default=Path("data"), help="where data/mnist already is (copied)")
    args = ap.parse_args()

    root = args.root
    shutil.rmtree(root, ignore_errors=True)
    (root / "data").mkdir(parents=True)
    if (args.data / "mnist").is_dir():
        shutil.copytree(args.data / "mnist", root / "data" / "mnist")
    study = {"name": "bench", "datasets": ["mnist"], "families": ["nsgan"], "budget": 4, "seeds": 1,
             "epochs": args.epochs, "checkpoints": 2, "checkpoint_samples": 1000, "eval": {"num_samples": 1000},
             "space": {"lr": [1e-4, 1e-3]}, "task_runner": "dask"}
    params = {"dataset": "mnist", "families": ["nsgan"], "study": study,
              "profiles": {"quick": {"classifier": {"epochs": 1}, "train": {"progress": False}}}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    os.environ["GENZOO_ROOT"] = str(root)
    os.chdir(root)
    from flows.study import run_study

    # warm-up: data, gate, classifier. Each study below differs in checkpoint_samples by one image, which is
    # part of the trial key (so nothing is cached) but not of the classifier's (so it is not retrained)
    run_study(root=str(root), overrides=["study.budget=1", "study.epochs=0.001", "study.checkpoint_samples=999"])
    rows = []
    for workers, threads, samples in ((1, 0, 1000), (2, 1, 1001)):
        t = time.perf_counter()
        summary = run_study(root=str(root), overrides=[f"study.workers={workers}", f"study.threads_per_trial={threads}",
                                                       f"study.checkpoint_samples={samples}"])
        wall = time.perf_counter() - t
        trials = [v for k, v in summary.states.items() if k.startswith("trial")]
        assert len(trials) == 4 and "Cached" not in trials, summary.states
        rows.append((workers, threads or 2, wall))
    base = rows[0][2]
    print(f"\n4-trial study (nsgan x 4 settings, {args.epochs} epoch of MNIST each), DaskTaskRunner LocalCluster, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores\n")
    print("| workers | torch threads per trial | wall time (s) | speed-up |\n|---|---|---|---|")
    for workers, threads, wall in rows:
        print(f"| {workers} | {threads} | {wall:.0f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()
