"""Run one node of the graph through the cache: what every orchestrator calls for a stage."""

from __future__ import annotations

from pathlib import Path

from components import progress
from components.errors import GenzooError
from components.pipeline import cache
from components.pipeline.context import Context
from components.pipeline.graph import STAGES, Node, inputs_of

MARKER = "stage.json"
LATEST = "latest"


def stored(ctx: Context, node: Node) -> dict | None:
    """The node's stored result when its outputs carry its current key (None when it must run)."""
    if ctx.force:
        return None
    return cache.read(ctx.out_dir(node) / MARKER, ctx.key(node), ctx.root)


def stored_inputs(ctx: Context, node: Node) -> dict[str, dict[str, dict]]:
    """The upstream results of `node` from their markers, for a stage run on its own (`genzoo stage`, DVC);
    an upstream stage DVC does not run itself (prepare) runs here."""
    out: dict[str, dict[str, dict]] = {}
    for stage, nodes in inputs_of(ctx.cfg, node).items():
        out[stage] = {}
        for target, up in nodes.items():
            result = stored(Context(ctx.cfg, ctx.root), up) if ctx.force else stored(ctx, up)
            if result is None and not STAGES[up.stage].in_dvc_yaml:  # prepare: data.dvc's, cheap when data/ is there
                result = run(ctx, up)
            if result is None:
                fam = f" --family {up.family}" if up.family else ""
                raise GenzooError(f"{node.label} needs {up.label}, which has no current result: run "
                                  f"`genzoo stage {up.stage}{fam}` (or `dvc repro`) first")
            out[stage][target] = result
    return out


def run(ctx: Context, node: Node, inputs: dict[str, dict[str, dict]] | None = None) -> dict:
    """The node's result: stored, or computed from `inputs` (its upstream results; read from their markers
    when not given). Under torchrun every rank computes a train node, only rank 0 stores anything."""
    from components.training.distributed import current

    if inputs is None:
        inputs = stored_inputs(ctx, node)
    out = ctx.out_dir(node)
    def compute() -> dict:
        with progress.stage(node.label, ctx.cfg.train.progress and current().main):
            return STAGES[node.stage].run(ctx, node, out, inputs)

    result = cache.cached(out / MARKER, ctx.key(node), ctx.root, compute, force=ctx.force, store=current().main)
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
