"""train: the family's model on its target, through the one train-and-log path (training/tracked.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from components.pipeline.results import Trained

if TYPE_CHECKING:
    from components.pipeline.context import Context
    from components.pipeline.stage import Node


def run(ctx: Context, node: Node, out: Path) -> Trained:
    from components import defaults
    from components.models import shapes
    from components.pipeline.targets import members
    from components.tracking import store as tstore
    from components.training.loop import LoopConfig
    from components.training.tracked import train_and_log

    data, family = ctx.tensors(node.target), node.family_name
    if not members(ctx.cfg, node.target):  # a family added after validate ran: still checked before training
        shapes.check(family, tuple(data.train_x.shape[1:]), len(data.classes), ctx.cfg.hp(family),
                     str(ctx.data_dir / node.target / "train_images.npy"))
    tags = ctx.runs.run_tags(node.target, family, "train")
    trained = train_and_log(ctx.root, family, node.target, data, ctx.cfg.hp(family),
                            LoopConfig.from_cfg(ctx.cfg.train, ctx.cfg.seed), ctx.checkpoint_dir(node),
                            tags=tags, params={"profile": ctx.cfg.profile},
                            run_name=f"{family}@{node.target}-{ctx.key(node)[:6]}", save_to=out)
    if trained.run_id is None:  # another torchrun rank: it trained its share and stores nothing
        return Trained(steps=trained.completed.steps, resumed_from=trained.completed.resumed_from)
    tstore.log_dataset(tstore.client(ctx.root), trained.run_id, node.target, tags[defaults.TAG_DATA_VERSION],
                       data.split_sizes())
    return Trained(run_id=trained.run_id, steps=trained.completed.steps, resumed_from=trained.completed.resumed_from,
                   world_size=len(trained.digests), rank_digests=tuple(trained.digests), model_dir=str(out),
                   files=(str(out / "model.pt"), str(out / "model.json")))
