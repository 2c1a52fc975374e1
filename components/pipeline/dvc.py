"""The stage graph as DVC sees it: dvc.yaml is rendered from graph.STAGES (`python -m components.pipeline.dvc
> dvc.yaml`; a test keeps the file in step), and each stage leaves a small index under outputs/dvc/ for DVC to
track: the stage's results ({target: result}) and a "done" stamp that later stages depend on; and per family, in
evaluation/<family>/ (tracked by git), the evaluation's headline metrics for `dvc metrics` / `dvc exp show` and
the loss history for `dvc plots`.

DVC's view is deliberately coarse (all of params.yaml, whole code packages): it decides when to call a stage,
and the stage's own key (pipeline/keys.py) decides whether anything really runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from components import defaults
from components.errors import ConfigError
from components.files import atomic_write_text
from components.metric_specs import headline
from components.pipeline import keys, results
from components.pipeline.graph import STAGES, plan
from components.pipeline.stage import Node

if TYPE_CHECKING:
    from components.pipeline.context import Context

log = logging.getLogger(__name__)
INDEX_DIR = f"{defaults.OUTPUTS_DIR}/dvc"
ITEM = "${item}"


def index_name(stage: str, family: str | None = None) -> str:
    return f"{INDEX_DIR}/{stage}@{family}.json" if family else f"{INDEX_DIR}/{stage}.json"


def done_name(stage: str, family: str | None = None) -> str:
    """The stage's "done" stamp, the file later stages depend on so DVC runs them in the graph's order. Its
    content never changes, so `dvc exp show --only-changed` shows no column for it (the index's hash changes
    with every run); a later stage is rerun by DVC through its own data, code and params deps, which include
    every upstream stage's (code_deps)."""
    return index_name(stage, family).removesuffix(".json") + ".done"


DONE = "done\n"


EVAL_DIR = "evaluation"  # tracked by git (not ignored), so `dvc exp show` and `dvc metrics diff` see every commit's


def metrics_name(family: str) -> str:
    return f"{EVAL_DIR}/{family}/metrics.json"


def losses_name(family: str) -> str:
    """The training losses as data, one file per loss of {step, value} rows (`dvc plots show|diff` draws one
    plot per file, every revision's curve in it; one file of all losses would get one plot of one y field)."""
    return f"{EVAL_DIR}/{family}/losses"


def code_deps(stage: str) -> list[str]:
    """The packages (or top-level modules) holding the code the stage's key covers, and every upstream stage's
    (its key covers theirs through their keys); per-family stages add every family's package, since dvc.yaml's
    foreach cannot narrow them."""
    spec = STAGES[stage]
    deps = set()
    for f in keys.closure(*spec.modules()):
        rel = f.relative_to(keys.ROOT)
        deps.add(rel.as_posix() if len(rel.parts) == 2 else "/".join(rel.parts[:2]))
    if spec.per_family:
        deps.add(f"{keys.PACKAGE}/models")
    for up in spec.upstream:
        deps.update(code_deps(up.name))
    return sorted(deps - {f"{keys.PACKAGE}/__init__.py"})


def render() -> str:
    lines = ["# Rendered from components/pipeline/graph.py by `python -m components.pipeline.dvc > dvc.yaml`:",
             "# edit the graph, not this file (tests/pipeline/test_dvc_yaml.py keeps them in step). Each stage runs",
             "# `genzoo stage`, whose own key decides whether anything is recomputed; data/ is pinned by data.dvc.",
             "stages:"]
    for name, spec in STAGES.items():
        if not spec.in_dvc_yaml:
            continue
        fam = ITEM if spec.per_family else None
        deps = ["data", *code_deps(name)]
        deps += [done_name(u.name, fam if u.per_family else None) for u in spec.upstream if u.in_dvc_yaml]
        body = [f"cmd: genzoo stage {name}" + (f" --family {ITEM}" if fam else ""), "deps:",
                *[f"  - {d}" for d in deps], "params:", "  - params.yaml:", "outs:",
                f"  - {index_name(name, fam)}:", "      cache: false", f"  - {done_name(name, fam)}:",
                "      cache: false"]
        if issubclass(spec.result, results.Evaluated):  # DVC tracks its metrics and loss history
            body += ["metrics:", f"  - {metrics_name(ITEM)}:", "      cache: false",
                     "plots:", f"  - {losses_name(ITEM)}:", "      cache: false", "      x: step", "      y: value"]
        indent = "      " if fam else "    "
        lines += [f"  {name}:"] + (["    foreach: ${families}", "    do:"] if fam else [])
        lines += [indent + b for b in body] + [""]
    return "\n".join(lines)


def write_index(root: Path, done: dict[Node, results.Stored]) -> None:
    """outputs/dvc/<stage>[@family].json for every stage that ran, and the evaluation metrics per family. What is
    written follows the result's type: prepare's data is pinned by data.dvc (not here), an evaluation's metrics and
    loss history are what DVC compares."""
    grouped: dict[tuple[str, str | None], dict[str, results.Stored]] = {}
    for node, result in done.items():
        if not isinstance(result, results.Prepared):
            grouped.setdefault((node.stage.name, node.family), {})[node.target] = result
    folder = root / INDEX_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for (stage, family), by_target in grouped.items():
        _write(root / index_name(stage, family), {t: results.dump(r) for t, r in by_target.items()})
        atomic_write_text(root / done_name(stage, family), DONE)
        for result in by_target.values():
            if isinstance(result, results.Evaluated) and family is not None:
                _write(root / metrics_name(family), headline(result.metrics))
                history = Path(result.model_dir) / "history.json"
                write_losses(root / losses_name(family), json.loads(history.read_text()) if history.exists() else [])


def write_losses(folder: Path, history: list[dict]) -> None:
    """<folder>/<loss>.json of {step, value} rows per logged loss (a "/" in its name becomes "-"); a loss an
    earlier run of this family logged and this one does not is removed, so plots show this run's."""
    names = sorted({k for row in history for k in row if k != "step"})
    folder.mkdir(parents=True, exist_ok=True)
    keep = {f"{n.replace('/', '-')}.json" for n in names}
    for old in folder.glob("*.json"):
        if old.name not in keep:
            old.unlink()
    for name in names:
        _write(folder / f"{name.replace('/', '-')}.json",
               [{"step": row["step"], "value": row[name]} for row in history if name in row])


def _write(path: Path, obj: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def run_stage(ctx: Context, stage: str, family: str | None = None) -> dict[str, results.Stored]:
    """What `genzoo stage NAME [--family F]` (dvc.yaml's command) does: the stage on every target the run needs,
    each with its upstream results read from their markers; then the stage's index for DVC."""
    from components.pipeline.walk import walk

    if STAGES[stage].per_family and family is None:
        raise ConfigError(f"stage {stage} runs once per family: give --family (one of {', '.join(ctx.cfg.families)})")
    nodes = [n for n in plan(ctx.cfg) if n.stage.name == stage and (family is None or n.family == family)]
    if STAGES[stage].per_family and family is not None and not nodes:
        nodes = [n for n in plan(ctx.cfg, [family]) if n.stage.name == stage]
    done = walk(ctx, nodes)
    if ctx.root.joinpath("dvc.yaml").exists():
        write_index(ctx.root, done)
    return {n.label: r for n, r in done.items()}


def record(ctx: Context, done: dict[Node, results.Stored]) -> bool:
    """After a flow run that used params.yaml as it is: write the index and `dvc commit` the stages it ran, so
    `dvc status` and `dvc repro` see them as current (dvc.lock records params.yaml's values)."""
    from components.config import load_config
    from components.versioning import dvc

    root = ctx.root
    if not (root / "dvc.yaml").exists() or not (root / ".dvc").is_dir() or ctx.cfg != load_config(root):
        return False
    write_index(root, done)
    targets = sorted({n.stage.name if n.family is None else f"{n.stage.name}@{n.family}"
                      for n in done if n.stage.in_dvc_yaml})
    proc = dvc(root, "commit", "--force", "--quiet", *targets)
    if proc.returncode != 0:
        log.warning("dvc commit failed; `dvc repro` will rerun the stages: %s", proc.stderr.strip()[-500:])
        return False
    return True


if __name__ == "__main__":
    print(render(), end="")
