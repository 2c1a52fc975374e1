"""`genzoo`: run the pipeline, run a study, list families, prepare data, run one stage (for dvc.yaml), open the
MLflow UI, serve or schedule. The configuration is loaded and checked before any server, flow or run starts; an
expected error (GenzooError) is one line on stderr and exit status 2 (`--debug` shows its traceback)."""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import os
import shlex
import sys
from pathlib import Path

from components import defaults
from components.config import load_config
from components.errors import GenzooError, Interrupted


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", help=f"dataset name (default from params.yaml: {defaults.DEFAULT_DATASET})")
    p.add_argument("--profile", help="params.yaml profile: quick (default), full or lucic")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a param, e.g. --set train.steps=200 (repeatable)")


UNPINNED = "register even if data/ is not the version data.dvc pins (tagged unpinned:<md5>)"


def _split(text: str | None) -> list[str] | None:
    return [x for x in text.split(",") if x] if text else None


def cmd_families(args) -> int:
    from components.models.registry import families

    for fam in families().values():
        print(f"{fam.name}\t{fam.kind}\t{fam.summary}")
    return 0


def cmd_prepare(args) -> int:
    from components.pipeline import results, runner
    from components.pipeline.context import Context
    from components.pipeline.graph import node

    ctx = Context(load_config(None, args.profile, args.overrides))
    for name in args.dataset or [defaults.DEFAULT_DATASET]:
        res = results.expect(results.Prepared, runner.run(ctx, node("prepare", name), {}))
        print(f"{name}: {res.path} (written: {', '.join(res.created) or 'nothing'}; data.dvc: {res.data_pin})")
    return 0


def cmd_stage(args) -> int:
    from components.models.registry import get_family
    from components.pipeline import dvc, results
    from components.pipeline.context import Context
    from components.pipeline.graph import STAGES

    if args.name not in STAGES:  # checked here, not by argparse: the stage graph imports torch, --help must not
        near = difflib.get_close_matches(args.name, list(STAGES), n=1)
        raise GenzooError(f"genzoo stage: unknown stage {args.name!r}; "
                          + (f"did you mean {near[0]}? " if near else "") + f"stages: {', '.join(STAGES)}")

    cfg = load_config(None, args.profile, args.overrides, dataset=args.dataset)
    if args.family:
        get_family(args.family)
    ctx = Context(cfg, force=args.force)
    try:
        res = dvc.run_stage(ctx, args.name, args.family)
    except BaseException:
        ctx.runs.close("FAILED")  # a `dvc exp run`'s parent run (tracking/runs.py), if this stage opened it
        raise
    ctx.runs.close("FINISHED")
    print(json.dumps({label: results.dump(r) for label, r in res.items()}, indent=2, default=str))
    return 0


def _unpinned(args) -> None:
    """--allow-unpinned is registry.allow_unpinned=true, so it is part of the config like any other setting."""
    if args.allow_unpinned:
        args.overrides.append("registry.allow_unpinned=true")


def cmd_run(args) -> int:
    _unpinned(args)
    cfg = load_config(None, args.profile, args.overrides, dataset=args.dataset,
                      families=_split(args.families))  # checked before Prefect starts, and loaded only here
    from flows.pipeline import run_named
    from flows.prefect_api import temporary_api

    with temporary_api():
        summary = run_named(cfg)
    from flows.summary import text

    print(text(summary))
    return 0


def cmd_study(args) -> int:
    from components.study.config import study_config

    _unpinned(args)
    cfg = study_config(None, args.profile, args.overrides, _split(args.datasets), _split(args.families))
    from flows.prefect_api import temporary_api
    from flows.study import run_study

    with temporary_api():
        summary = run_study(cfg, command="genzoo study " + " ".join(shlex.quote(a) for a in sys.argv[2:]))
    trials = {k: v for k, v in summary.states.items() if k.startswith("trial")}
    if (modes := summary.modes) is not None:  # datasets of 2-D points
        print(f"\n== genzoo study {cfg.study.name or cfg.profile}: mode collapse ==\n\n{modes.table_markdown}")
        print(f"report: {modes.files[0]} (snapshots beside it)")
    if (found := summary.search) is not None:
        print(f"\n== genzoo study {found.meta.name} ==\n\n{found.table_markdown}")
        print("winners: " + ", ".join(f"{ds}: {fam}" for ds, fam in found.winners.items()))
        for reg in (w.registration for w in found.registered.values()):
            print(f"registered: {reg.name} v{reg.version} -> @{reg.alias} ({reg.reason})")
        print(f"report: {found.files[0]} (and report.html beside it)")
    print(f"trials: {len(trials)}, cached: {sum(v == 'Cached' for v in trials.values())}")
    return 0


def _store_env() -> dict:
    """The environment a child process needs to see this project's tracking and registry store."""
    from components.tracking.store import tracking_uri

    uri = tracking_uri(defaults.project_root())
    # mlflow models serve runs `uvicorn` by name: the venv's bin must be on PATH even when it is not activated
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    return {**os.environ, "PATH": path, "MLFLOW_TRACKING_URI": uri,
            "MLFLOW_REGISTRY_URI": os.environ.get("MLFLOW_REGISTRY_URI", uri)}


def _exec(cmd: list[str], env: dict) -> int:
    print(" ".join(cmd), flush=True)
    os.execvpe(cmd[0], cmd, env)
    return 0  # pragma: no cover


def check_port(host: str, port: int, command: str) -> None:
    """Refuse a port something already listens on, at once and in one line with a free one to use (the server
    itself would fail after its start-up, in a traceback)."""
    import errno
    import socket

    def free(p: int) -> bool:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            try:
                sock.bind((host, p))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE:
                    raise GenzooError(f"{command}: cannot listen on {host}:{p}: {exc.strerror}") from None
                return False
            return True

    if not free(port):
        spare = next((p for p in range(port + 1, port + 50) if free(p)), None)
        hint = f"; start it on another with `{command} --port {spare}`" if spare else "; pick another with --port"
        raise GenzooError(f"{command}: port {port} on {host} is already in use (another `{command}`?){hint}")


def cmd_ui(args) -> int:
    """`mlflow server` (UI + REST API) over the project's store, on loopback unless --host says otherwise."""
    from components.tracking.store import UI_VIEW, tracking_uri, ui_command

    root = defaults.project_root()
    cmd = ui_command(root, args.host, args.port)
    if cmd is None:
        print(f"the tracking store is already a server: open {tracking_uri(root)}")
        return 0
    check_port(args.host, args.port, "genzoo ui")
    print(f"genzoo ui: open http://{args.host}:{args.port}/#/experiments{UI_VIEW}  (Ctrl-C stops it)", flush=True)
    # MLflow 3's server also starts ~7 huey job consumers for its GenAI jobs (scorers, trace roll-ups), which genzoo
    # never queues: they cost CPU on a small machine and outlive a server stopped with a plain `kill`. Opt back in
    # with MLFLOW_SERVER_ENABLE_JOB_EXECUTION=true.
    env = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", **_store_env()}
    return _exec([sys.executable, "-m", *cmd], env)


def cmd_serve(args) -> int:
    """Serve a registered model (the champion of <dataset>-<family> unless told otherwise) with MLflow's scoring
    app, guarded (components/tracking/serving.py)."""
    from mlflow.exceptions import MlflowException

    from components.tracking.store import client, created, sqlite_file

    cfg = load_config(None, args.profile, args.overrides, dataset=args.dataset)
    name = args.name or f"{cfg.dataset}-{cfg.families[0]}"
    ref = f"models:/{name}/{args.version}" if args.version else f"models:/{name}@{args.alias}"
    root = defaults.project_root()
    if not created(root):
        raise GenzooError(f"{ref} is not in the registry: there is no {sqlite_file(root)} yet "
                          "(`genzoo run` creates it and registers the models it trains)")
    registry = client(root)
    try:
        if args.version:
            registry.get_model_version(name, args.version)
        else:
            registry.get_model_version_by_alias(name, args.alias)
    except MlflowException:
        known = ", ".join(m.name for m in registry.search_registered_models()) or "none yet"
        raise GenzooError(f"{ref} is not in the registry at {registry.tracking_uri} (registered models: "
                          f"{known}); `genzoo registry list` shows versions and aliases") from None
    from components.tracking.serving import MODEL_ENV

    # MLflow's scoring app (what `mlflow models serve` runs) behind genzoo's request guard, one worker
    check_port(args.host, args.port, "genzoo serve")
    cmd = [sys.executable, "-m", "components.tracking.serving", "--host", args.host, "--port", str(args.port)]
    return _exec(cmd, {**_store_env(), MODEL_ENV: ref})


def cmd_schedule(args) -> int:
    load_config(None, args.profile, args.overrides, dataset=args.dataset, families=_split(args.families))
    from flows.deploy import serve
    from flows.prefect_api import temporary_api

    params = {k: v for k, v in {"dataset": args.dataset, "profile": args.profile, "overrides": args.overrides or None,
                                "families": args.families.split(",") if args.families else None}.items() if v}
    print(f"serving deployment genzoo-scheduled/{args.name} (cron {args.cron!r}, one run at a time); Ctrl-C stops")
    with temporary_api():
        serve(args.cron, args.name, params)
    return 0


def cmd_registry(args) -> int:
    from components.tracking import registry_ops
    from components.tracking.store import client

    c = client(defaults.project_root())
    if args.action == "list":
        print(registry_ops.format_rows(registry_ops.list_versions(c, args.name)))
    elif args.action == "promote":
        reason = registry_ops.promote(c, args.name, args.version, args.note)
        print(f"{args.name} v{args.version} -> @champion: {reason}")
    else:
        old, new = registry_ops.rollback(c, args.name)
        print(f"{args.name}: @champion rolled back from v{old} to v{new}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="genzoo", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show the traceback of expected errors too")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="the whole pipeline as a Prefect flow")
    _common(p)
    p.add_argument("--families", help="comma-separated families (default from params.yaml)")
    p.add_argument("--allow-unpinned", action="store_true", help=UNPINNED)
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("study", help="Lucic et al.'s comparison: search, seeds, table, promote the winner")
    p.add_argument("--datasets", help="comma-separated datasets (default: study.datasets in params.yaml)")
    p.add_argument("--families", help="comma-separated families (default: study.families)")
    p.add_argument("--profile", help="params.yaml profile: quick (default), full or lucic")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a param, e.g. --set study.budget=4 (repeatable)")
    p.add_argument("--allow-unpinned", action="store_true", help=UNPINNED)
    p.set_defaults(fn=cmd_study)

    p = sub.add_parser("families", help="list the registered model families (name, kind)")
    p.set_defaults(fn=cmd_families)

    p = sub.add_parser("prepare", help="materialise datasets under data/ (default: the embedded ones)")
    p.add_argument("--dataset", action="append", help="dataset name (repeatable)")
    p.add_argument("--profile", help="params.yaml profile: quick (default), full or lucic")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.set_defaults(fn=cmd_prepare)

    p = sub.add_parser("stage", help="run one stage (what dvc.yaml calls)")
    p.add_argument("name", help="prepare, validate, classifier, train, evaluate or register (pipeline/graph.py)")
    _common(p)
    p.add_argument("--family")
    p.add_argument("--force", action="store_true", help="run even if the outputs are current")
    p.set_defaults(fn=cmd_stage)

    p = sub.add_parser("ui", help="mlflow server (UI and REST API) over the project's store, on 127.0.0.1")
    p.add_argument("--host", default="127.0.0.1", help="0.0.0.0 exposes it to the network: put auth in front")
    p.add_argument("--port", type=int, default=defaults.UI_PORT)
    p.set_defaults(fn=cmd_ui)

    p = sub.add_parser("serve", help="mlflow models serve a registered model (default: the champion)")
    _common(p)
    p.add_argument("--name", help="registered model (default: <dataset>-<first family> from params.yaml)")
    p.add_argument("--alias", default=defaults.CHAMPION)
    p.add_argument("--version", help="a version number instead of the alias")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=defaults.SERVE_PORT)
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("schedule", help="serve the pipeline as a Prefect deployment with a cron schedule")
    _common(p)
    p.add_argument("--families", help="comma-separated families (default from params.yaml)")
    p.add_argument("--cron", default="0 3 * * *", help="cron schedule (default: 03:00 daily)")
    p.add_argument("--name", default="nightly", help="deployment name")
    p.set_defaults(fn=cmd_schedule)

    p = sub.add_parser("registry", help="list versions, promote one, or roll champion back")
    rsub = p.add_subparsers(dest="action", required=True)
    r = rsub.add_parser("list", help="versions with metrics, aliases and the last decision")
    r.add_argument("name", nargs="?", help="registered model (default: all)")
    r = rsub.add_parser("promote", help="make a version the champion")
    r.add_argument("name")
    r.add_argument("version")
    r.add_argument("--note", default="", help="why, written into the trail")
    r = rsub.add_parser("rollback", help="champion back to the version it replaced")
    r.add_argument("name")
    p.set_defaults(fn=cmd_registry)

    args = parser.parse_args(argv)
    if args.debug:  # Prefect's run logs keep the traceback of expected errors too (flows/expected_errors.py)
        os.environ["GENZOO_DEBUG"] = "1"
    handler = logging.StreamHandler()
    handler.setFormatter(TaskNamed("%(levelname)s %(name)s%(task)s: %(message)s"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("components").setLevel(logging.INFO)
    try:
        if args.command in ("run", "study", "schedule"):  # they start Prefect's temporary server unless one is set
            from components import disk, reaper, stop

            disk.require_free(defaults.project_root())  # before any server or store is started
            reaper.start()
            stop.install()
        return args.fn(args)
    except Interrupted:  # a Ctrl-C that reached the flow as components/stop.py's record
        if args.debug:
            raise
        return _interrupted()
    except GenzooError as exc:
        if args.debug:
            raise
        print(f"genzoo: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from components import disk

        full = disk.out_of_space(exc, defaults.project_root())  # raised outside a stage (MLflow, Prefect)
        if full is None or args.debug:
            raise
        print(f"genzoo: error: {full}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if args.debug:
            raise
        return _interrupted()


class TaskNamed(logging.Formatter):
    """A Prefect task run's line names its task ("prefect.task_runs [train:nsgan@mnist]: Finished in state
    Completed()"): Prefect's run logger puts the run's name on each record it writes."""

    def format(self, record: logging.LogRecord) -> str:
        name = getattr(record, "task_run_name", None)
        record.task = f" [{name}]" if name else ""
        return super().format(record)


def _interrupted() -> int:
    print("genzoo: interrupted; what finished is kept (stage results, trials, checkpoints) and a rerun "
          "resumes from it", file=sys.stderr)
    return 130


if __name__ == "__main__":
    sys.exit(main())
