"""The pipeline's stages under `torchrun`: every rank trains its share of each batch, rank 0 does the rest.

    torchrun --standalone --nproc_per_node 2 -m flows.ddp --families nsgan,vae [--dataset mnist] [--set ...]

NCCL on GPUs (one process per GPU), gloo on CPU. `train.batch_size` is per rank: the effective batch is
batch_size x nproc (logged as train.effective_batch_size); scale the learning rate yourself if you keep the
effective batch larger. The world size is part of the train stage's key, so a 2-rank model never stands in for
a 1-rank one. Rank 0 prepares, validates, trains the classifier, evaluates and registers, and is the only rank
that logs to MLflow or writes checkpoints; resume after a kill works as in one process (all ranks read rank
0's last checkpoint). Prefect does not run here: torchrun is the orchestrator of this job.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from components import stages
from components.config import load_config
from components.training import distributed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m flows.ddp", description=__doc__.splitlines()[0])
    p.add_argument("--dataset")
    p.add_argument("--families", help="comma-separated (default from params.yaml)")
    p.add_argument("--profile")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = p.parse_args(argv)
    world = distributed.init()
    logging.basicConfig(level=logging.INFO if world.main else logging.WARNING,
                        format=f"[rank {world.rank}] %(levelname)s %(name)s: %(message)s")
    overrides = args.overrides + ([f"dataset={args.dataset}"] if args.dataset else [])
    cfg = load_config(None, args.profile, overrides)
    if args.families:
        cfg["families"] = [f for f in args.families.split(",") if f]
    if world.size > 1:
        cfg["train"]["world_size"] = world.size  # in the train key: more ranks, a different model
    cfg["train"]["progress"] = cfg["train"]["progress"] and world.main
    ctx = stages.Context(cfg)
    ds = cfg["dataset"]
    summary: dict = {"dataset": ds, "world_size": world.size, "families": {}}
    try:
        if world.main:
            for name in ("prepare", "validate", "classifier"):
                stages.run_stage(ctx, name, ds)
        distributed.barrier()
        ctx = stages.Context(cfg)  # rank 0 may have just written the data: every rank re-reads its hash
        for family in cfg["families"]:
            trained = stages.run_stage(ctx, "train", ds, family)  # collective: every rank trains
            if world.main:
                summary["families"][family] = {
                    "train": trained,
                    "evaluate": stages.run_stage(ctx, "evaluate", ds, family),
                    "register": stages.run_stage(ctx, "register", ds, family),
                }
            distributed.barrier()
    finally:
        distributed.finish()
    if world.main:
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
