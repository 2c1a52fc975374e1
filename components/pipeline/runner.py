"""Run one node of the graph through the cache: what the walker (walk.py) calls for every stage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable

from components import disk, progress
from components.pipeline import cache, results
from components.pipeline.context import Context
from components.pipeline.stage import Inputs, Node

log = logging.getLogger(__name__)
MARKER = "stage.json"
LATEST = "latest"


def decoder(ctx: Context, node: Node) -> Callable[[dict], results.Stored | None]:
    """Stored dict -> the stage's typed result, or None when it does not fit (then it is recomputed)."""
    return lambda raw: results.load(node.stage.result, raw, str(ctx.out_dir(node) / MARKER))


def stored(ctx: Context, node: Node) -> results.Stored | None:
    """The node's stored result when its outputs carry its current key (None when it must run)."""
    if ctx.force:
        return None
    return cache.read(ctx.out_dir(node) / MARKER, ctx.key(node), ctx.root, decoder(ctx, node))


def run(ctx: Context, node: Node, inputs: Inputs) -> results.Stored:
    """The node's result: stored, or computed from `inputs` (its body's keyword arguments). Under torchrun every rank
    computes a collective node, only rank 0 stores anything."""
    from components.training.distributed import current

    out = ctx.out_dir(node)

    def compute() -> results.Stored:
        others = [p for p in ctx.stage_dir(node).glob("*") if p.is_dir() and not p.is_symlink() and p != out]
        if others and current().main:  # one line, so a rerun that recomputes says why it does not reuse them
            log.info("%s: computing under key %s; the %d stored result(s) beside it were made with other settings "
                     "or by another genzoo version", node.label, ctx.key(node)[:12], len(others))
        with progress.stage(node.label, ctx.cfg.train.progress and current().main):
            return node.stage.run(ctx, node, out, **inputs)

    try:
        result = cache.cached(out / MARKER, ctx.key(node), ctx.root, compute, force=ctx.force,
                              store=current().main, encode=results.dump, decode=decoder(ctx, node))
    except Exception as exc:
        full = disk.out_of_space(exc, out)  # one line naming the path and its free space, never retried
        if full is None:
            raise
        raise full from exc
    if current().main and out.is_dir():
        publish(out)
    return result


def publish(out: Path) -> None:
    """Point <stage dir>/latest at `out`, in one step (a symlink replaced atomically)."""
    import os

    link, tmp = out.parent / LATEST, out.parent / f".{LATEST}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    if link.is_dir() and not link.is_symlink():  # a copy of the project made without keeping links
        import shutil

        shutil.rmtree(link)
    os.symlink(out.name, tmp)
    os.replace(tmp, link)
