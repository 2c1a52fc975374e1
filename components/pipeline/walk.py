"""The one walker of the stage graph: every orchestrator (the Prefect flow, the study's data stages, torchrun,
`genzoo stage` under DVC) runs its nodes through `walk`, and differs only in how one node runs (`run`).

A node receives its upstream results from the nodes walked before it or, when they were not walked here (a DVC
stage is one process per stage; torchrun's other ranks walk only what they share), from their stored results.
"""

from __future__ import annotations

from typing import Callable

from components import stop
from components.errors import GenzooError
from components.pipeline import runner
from components.pipeline.context import Context
from components.pipeline.results import Stored
from components.pipeline.stage import Inputs, Node, arguments, inputs_of

RunNode = Callable[[Context, Node, Inputs], Stored]


def walk(ctx: Context, nodes: list[Node], run: RunNode = runner.run, done: dict[Node, Stored] | None = None,
         on_failure: Callable[[str, Exception], None] | None = None) -> dict[Node, Stored]:
    """Run `nodes` in order, each with its upstream results; `done`: results already at hand (returned too,
    with the new ones). A data stage's
    failure (a failed gate) stops the walk; a family's failure is handed to `on_failure(family, exc)` and skips
    the rest of that family."""
    results: dict[Node, Stored] = dict(done or {})
    failed: set[str] = set()
    for node in nodes:
        stop.check()  # a Ctrl-C whose KeyboardInterrupt was swallowed on the way still stops the walk here
        if node.family in failed:
            continue
        try:
            results[node] = run(ctx, node, arguments(node, upstream(ctx, node, results)))
        except Exception as exc:
            if node.family is None or on_failure is None:
                raise
            failed.add(node.family)
            on_failure(node.family, exc)
    return results


def upstream(ctx: Context, node: Node, results: dict[Node, Stored]) -> dict[str, dict[str, Stored]]:
    """The results of the nodes `node` waits for, by stage name and target: walked ones first, else stored ones.
    An upstream stage DVC does not run itself (prepare, data.dvc's) runs here when it has no stored result;
    `--force` applies to `node` only."""
    out: dict[str, dict[str, Stored]] = {}
    for stage, nodes in inputs_of(ctx.cfg, node).items():
        out[stage] = {}
        for target, up in nodes.items():
            result = results.get(up)
            if result is None:
                result = runner.stored(Context(ctx.cfg, ctx.root) if ctx.force else ctx, up)
            if result is None and not up.stage.in_dvc_yaml:
                result = runner.run(ctx, up, arguments(up, upstream(ctx, up, results)))
            if result is None:
                fam = f" --family {up.family}" if up.family else ""
                raise GenzooError(f"{node.label} needs {up.label}, which has no current result: run "
                                  f"`genzoo stage {up.stage.name}{fam}` (or `dvc repro`) first")
            out[stage][target] = result
    return out
