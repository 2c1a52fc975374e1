"""The pipeline's stages under `torchrun`: every rank trains its share of each batch, rank 0 does the rest.

    torchrun --standalone --nproc_per_node 2 -m flows.ddp --families nsgan,vae [--dataset mnist] [--set ...]

NCCL on GPUs (one process per GPU), gloo on CPU. `train.batch_size` is per rank: the effective batch is
batch_size x nproc (logged as train.effective_batch_size); scale the learning rate yourself if you keep the
effective batch larger. The world size is part of the train stage's key, so a 2-rank model never stands in for
a 1-rank one. Rank 0 prepares, validates, trains the classifier, evaluates and registers, and is the only rank
that logs to MLflow or writes checkpoints; resume after a kill works as in one process (all ranks read rank
0's last checkpoint). Prefect does not run here: torchrun is the orchestrator of this job, walking the same
stage graph as the flow.
"""

from __future__ import annotations

import argparse
import json
from typing import Any
import logging
import sys

from components.config import load_config
from components.pipeline import graph, results
from components.pipeline.context import Context
from components.pipeline.walk import walk
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
    cfg = load_config(None, args.profile, args.overrides, dataset=args.dataset, families=args.families)
    cfg = cfg.merged({"train": {"world_size": world.size, "progress": cfg.train.progress and world.main}})
    nodes = graph.plan(cfg)
    done: dict = {}
    try:
        if world.main:  # data stages: rank 0 only
            done = walk(Context(cfg), [n for n in nodes if n.family is None])
        distributed.barrier()
        ctx = Context(cfg)  # rank 0 may have just written the data: every rank re-reads its hash
        for family in cfg.families:  # every rank trains (a collective stage); the rest is rank 0's
            mine = [n for n in nodes if n.family == family and (world.main or n.stage.collective)]
            done = walk(ctx, mine, done=done)
            distributed.barrier()
    finally:
        distributed.finish()
    if world.main:
        summary: dict[str, Any] = {"dataset": cfg.dataset, "world_size": world.size, "families": {}}
        for node, result in done.items():
            if node.family:
                summary["families"].setdefault(node.family, {})[node.stage.name] = results.dump(result)
        print(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
