"""The pipeline as a Prefect flow: it walks the stage graph (components/pipeline/graph.py) and hands each
stage its upstream results. Every task calls the same node runner as `genzoo stage` and dvc.yaml; its Prefect
cache key is the stage key, and a key whose outputs are gone or stale never hits. With no PREFECT_API_URL,
Prefect runs this against a temporary local API.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run as prefect_flow_run

from components import defaults
from components.config import load_config
from components.errors import GenzooError
from components.pipeline import cache, dvc, graph, runner
from components.pipeline.context import Context
from components.pipeline.graph import Node
from components.tracking import store as tstore


def transient(task, task_run, state) -> bool:
    """Retry only what may pass on a second try: never bad data, failed validation or diverged training."""
    try:
        state.result()
    except GenzooError:
        return False
    except Exception:  # noqa: BLE001 - anything else (I/O, a busy tracking server) is worth one more try
        return True
    return False


def _node_cache_key(context, parameters) -> str:
    return f"{parameters['node'].stage}-{parameters['ctx'].key(parameters['node'])}"


def _stage_task(name: str):
    def run(ctx: Context, node: Node, inputs: dict) -> dict:
        return cache.portable(runner.run(ctx, node, inputs), ctx.root)  # Prefect's copy outlives a move too

    run.__name__ = name
    return task(name=name, task_run_name="{node.label}", cache_key_fn=_node_cache_key, persist_result=True,
                result_serializer="json", retries=1, retry_delay_seconds=5, retry_condition_fn=transient)(run)


TASKS = {name: _stage_task(name) for name in graph.STAGES}


def run_node(ctx: Context, node: Node, inputs: dict, states: dict) -> dict:
    """Run a node's task, recording its state under its label: "Cached" when Prefect's cache or the stage's own
    stored result answered (nothing was computed), else Prefect's state name. When the stage's outputs are
    missing or stale, Prefect's cache entry is refreshed instead of hit."""
    fn = TASKS[node.stage]
    stored = runner.stored(ctx, node) is not None
    if not stored:
        fn = fn.with_options(refresh_cache=True)
    state = fn(ctx=ctx, node=node, inputs=inputs, return_state=True)
    states[node.label] = "Cached" if stored and state.is_completed() else state.name
    return cache.local(state.result(), ctx.root)  # raises the stage's own error when it failed


def walk(ctx: Context, nodes: list[Node], states: dict, on_failure=None) -> dict[Node, dict]:
    """Run `nodes` in order, each with its upstream results. A data stage's failure (a failed gate) stops the
    walk; a family's failure is handed to `on_failure(family, exc)` and skips the rest of that family."""
    results: dict[Node, dict] = {}
    failed: set[str] = set()
    for node in nodes:
        if node.family in failed:
            continue
        try:
            results[node] = run_node(ctx, node, graph.gather(ctx.cfg, node, results), states)
        except Exception as exc:
            if node.family is None or on_failure is None:
                raise
            failed.add(node.family)
            on_failure(node.family, exc)
    return results


@flow(name="genzoo-pipeline")
def pipeline(dataset: str | None = None, families: list[str] | None = None, profile: str | None = None,
             overrides: list[str] | None = None, root: str | None = None) -> dict:
    root_path = Path(root) if root else defaults.project_root()
    cfg = load_config(root_path, profile, overrides, dataset=dataset, families=families)
    ctx = Context(cfg, root_path, nest=True)
    logger = get_run_logger()
    for run_id in tstore.fail_orphans(root_path):
        logger.warning("MLflow run %s was left RUNNING by a process that is gone: marked FAILED", run_id)
    states: dict[str, str] = {}
    failures: dict[str, str] = {}

    def failed(family: str, exc: Exception) -> None:  # one family failing must not stop the others
        logger.error("family %s failed: %s", family, exc)
        failures[family] = f"{type(exc).__name__}: {exc}"

    try:
        results = walk(ctx, graph.plan(cfg), states, failed)
    except BaseException:
        ctx.close_parent_runs("FAILED")
        raise
    ctx.close_parent_runs("FAILED" if failures else "FINISHED")
    summary = {"dataset": cfg.dataset, "profile": cfg.profile, "root": str(root_path), "states": states,
               "data": {}, "families": {}}
    for node, result in results.items():
        if node.family is None:
            summary["data"].setdefault(node.target, {})[node.stage] = result
        else:
            summary["families"].setdefault(node.family, {"target": node.target})[node.stage] = result
    if failures:
        raise GenzooError("; ".join(f"{f}: {msg}" for f, msg in failures.items()) + " (nothing registered for these)")
    summary["dvc_lock"] = dvc.record(ctx, results)
    summary["flow_run_id"] = str(prefect_flow_run.id)
    publish_summary(summary, root_path)
    return summary


def publish_summary(summary: dict, root: Path) -> None:
    """The run's table, registry decisions and MLflow links as a markdown artifact of the flow run, and the
    decisions in its log (the Prefect UI shows both on the run's page)."""
    import re

    from prefect.artifacts import create_markdown_artifact

    from flows import summary as report

    logger = get_run_logger()
    for line in report.decisions(summary):
        logger.info("registered: %s", line)
    links = {f: tstore.run_url(root, res["evaluate"]["run_id"]) for f, res in summary["families"].items()}
    create_markdown_artifact(key=re.sub(r"[^a-z0-9-]", "-", f"genzoo-{summary['dataset']}".lower()),
                             markdown=report.markdown(summary, links),
                             description="metrics, registry decisions and MLflow runs of this pipeline run")
