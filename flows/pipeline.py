"""The pipeline as a Prefect flow: it walks the stage graph (components/pipeline/walk.py) with each node run as
a Prefect task. Every task calls the same node runner as `genzoo stage` and dvc.yaml; its Prefect cache key is
the stage key, and a key whose outputs are gone or stale never hits. With no PREFECT_API_URL, Prefect runs this
against a temporary local API.
"""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.runtime import flow_run as prefect_flow_run

from components import defaults, disk, stop
from components.config import Config, load_config
from components.errors import GenzooError, first_line
from components.pipeline import cache, dvc, graph, results, runner
from components.pipeline.context import Context
from components.pipeline.results import Stored
from components.pipeline.stage import Inputs, Node
from components.pipeline.walk import walk
from components.tracking import store as tstore
from flows import comparison, expected_errors
from flows.summary import RunSummary

expected_errors.install()  # an expected error is one line in Prefect's logs too, not a traceback


def transient(task, task_run, state) -> bool:
    """Retry only what may pass on a second try: never bad data, failed validation or diverged training, and
    nothing in a process told to stop (whatever the stop's exception became on its way out)."""
    if stop.requested():
        return False
    try:
        state.result()
    except GenzooError:
        return False
    except Exception:  # noqa: BLE001 - anything else (I/O, a busy tracking server) is worth one more try
        return True
    return False


def _node_cache_key(context, parameters) -> str:
    node = parameters["node"]
    ctx = parameters["ctx"]
    return f"{node.stage.name}-{cache.prefect_key(ctx.key(node), ctx.root)}"


def _stage_task(name: str):
    def run(ctx: Context, node: Node, inputs: Inputs) -> dict:
        # stored as the one serialiser writes it, with the project folder portable (Prefect's copy outlives a move)
        try:
            return cache.portable(results.dump(runner.run(ctx, node, inputs)), ctx.root)
        except Exception as exc:
            expected_errors.note(exc)  # Prefect's later lines repeat it shortened
            raise

    run.__name__ = name
    return task(name=name, task_run_name="{node.label}", cache_key_fn=_node_cache_key, persist_result=True,
                result_serializer="json", retries=1, retry_delay_seconds=5, retry_condition_fn=transient)(run)


TASKS = {stage: _stage_task(stage.name) for stage in graph.STAGES.values()}


def task_runner(states: dict[str, str]):
    """How the flow runs one node: as its Prefect task, recording its state under its label ("Cached" when
    Prefect's cache or the stage's own stored result answered, else Prefect's state name). When the stage's
    outputs are missing or stale, Prefect's cache entry is refreshed instead of hit."""

    def run_node(ctx: Context, node: Node, inputs: Inputs) -> Stored:
        stored = runner.stored(ctx, node) is not None
        # a cached task result of another shape (an older genzoo's) does not load: the task then runs afresh
        for refresh in (not stored, True):
            state = TASKS[node.stage].with_options(refresh_cache=refresh)(ctx=ctx, node=node, inputs=inputs,
                                                                         return_state=True)
            raw = cache.local(state.result(), ctx.root)  # raises the stage's own error when it failed
            result = results.load(node.stage.result, raw, node.label)
            if result is not None:
                states[node.label] = "Cached" if stored and state.is_completed() else state.name
                return result
            stored = False
        raise TypeError(f"{node.label}: a fresh run's result did not read back as a {node.stage.result.__name__}")

    return run_node


def run_nodes(ctx: Context, nodes: list[Node], states: dict[str, str], on_failure=None) -> dict[Node, Stored]:
    """`nodes` walked as Prefect tasks (the pipeline flow and the study's data stages)."""
    return walk(ctx, nodes, task_runner(states), on_failure=on_failure)


@flow(name="genzoo-pipeline")
def pipeline(dataset: str | None = None, families: list[str] | None = None, profile: str | None = None,
             overrides: list[str] | None = None, root: str | None = None, config: dict | None = None) -> RunSummary:
    """`config`: the configuration the command already loaded and checked (Config.model_dump()); without it
    (a deployment's scheduled run, a direct call) it is loaded here from params.yaml and the other arguments."""
    root_path = Path(root) if root else defaults.project_root()
    cfg = Config.model_validate(config) if config is not None else \
        load_config(root_path, profile, overrides, dataset=dataset, families=families)
    ctx = Context(cfg, root_path, nest=True)
    nodes = graph.plan(cfg)
    ctx.runs.open(dict.fromkeys(n.target for n in nodes))  # one parent run per invocation, even a fully cached one
    logger = get_run_logger()
    for run_id in tstore.fail_orphans(root_path):
        logger.warning("MLflow run %s was left RUNNING by a process that is gone: marked FAILED", run_id)
    states: dict[str, str] = {}
    failures: dict[str, str] = {}

    def failed(family: str, exc: Exception) -> None:  # one family failing must not stop the others
        logger.error("family %s failed: %s", family, exc)
        failures[family] = f"{type(exc).__name__}: {exc}"

    try:
        done = run_nodes(ctx, nodes, states, failed)
    except BaseException:
        close_failed(ctx)
        raise
    for node, result in done.items():  # what another invocation's runs computed, named on this one's parent
        if states.get(node.label) == "Cached" and (reused := getattr(result, "run_id", None)):
            ctx.runs.note_reused(node.target, node.label, reused)
    if failures:
        close_failed(ctx)
        raise GenzooError("; ".join(f"{f}: {msg}" for f, msg in failures.items()) + " (nothing registered for these)")
    summary = RunSummary(cfg.dataset, cfg.profile, str(root_path), states).add(done)
    try:  # the families side by side on the parent run (MLflow's experiment view lists it first)
        comparison.publish(summary, ctx.runs.parents or {})
    except BaseException:
        close_failed(ctx)
        raise
    ctx.runs.close("FINISHED")
    summary.dvc_lock = dvc.record(ctx, done)
    summary.flow_run_id = str(prefect_flow_run.id)
    publish_summary(summary, root_path)
    return summary


def close_failed(ctx: Context) -> None:
    """Mark the invocation's parent runs FAILED, while an error is on its way out. When the store itself cannot
    be written (a full disk), the error that got here stands, and the next start marks the runs it left."""
    try:
        ctx.runs.close("FAILED")
    except Exception as exc:  # noqa: BLE001 - the original error is the one to report
        why = "the disk is full" if disk.full_disk(exc, ctx.root) else first_line(exc, 200)
        get_run_logger().warning("the parent MLflow runs could not be marked FAILED (%s); the next start marks them",
                                 why)


def run_tags(cfg: Config) -> list[str]:
    """What the Prefect runs list can filter an invocation's runs by."""
    return [f"dataset:{cfg.dataset}", *(f"family:{f}" for f in cfg.families), f"profile:{cfg.profile}"]


def run_named(cfg: Config, root: Path | None = None) -> RunSummary:
    """The pipeline flow on the command's checked configuration, its Prefect run named
    genzoo-<dataset>-<families>-<time> and tagged with dataset, families and profile (not a random name)."""
    import time

    from prefect import tags

    name = f"genzoo-{cfg.dataset}-{'+'.join(cfg.families)}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tags(*run_tags(cfg)):
        return pipeline.with_options(flow_run_name=name)(config=cfg.model_dump(),
                                                         root=str(root) if root else None)


def publish_summary(summary: RunSummary, root: Path) -> None:
    """The run's table, registry decisions and MLflow links as a markdown artifact of the flow run, and the
    decisions in its log (the Prefect UI shows both on the run's page)."""
    import re

    from prefect.artifacts import create_markdown_artifact

    from flows import summary as report

    logger = get_run_logger()
    for line in report.decisions(summary):
        logger.info(line)
    links = {f: tstore.run_url(root, ev.tracked_run) for f, ev in summary.evaluated().items()}
    create_markdown_artifact(key=re.sub(r"[^a-z0-9-]", "-", f"genzoo-{summary.dataset}".lower()),
                             markdown=report.markdown(summary, links),
                             description="metrics, registry decisions and MLflow runs of this pipeline run")
