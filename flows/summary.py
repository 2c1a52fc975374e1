"""What a pipeline run reports, in one place: the run's typed summary, and the terminal's end-of-run text and the
Prefect run's markdown artifact, which show the same table (one column per family, one row per metric, FID and
KID with the N they were measured on) and the same registry decisions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from components.metric_specs import SPREADS, display_rank, spec
from components.metric_specs import name as metric_name
from components.pipeline.results import ClassifierReady, Evaluated, Prepared, Stored, Trained, Validated
from components.pipeline.stage import Node
from components.tracking.registration import Registration



@dataclass
class DataRun:
    """The data stages' results for one dataset (a field per data stage of the graph)."""

    prepare: Prepared | None = None
    validate: Validated | None = None
    classifier: ClassifierReady | None = None

    def file(self, result: Stored) -> None:
        if isinstance(result, Prepared):
            self.prepare = result
        elif isinstance(result, Validated):
            self.validate = result
        elif isinstance(result, ClassifierReady):
            self.classifier = result
        else:
            raise TypeError(f"a data stage returned a {type(result).__name__}")


@dataclass
class FamilyRun:
    """The family stages' results for one family, on its target (a field per family stage of the graph)."""

    target: str
    train: Trained | None = None
    evaluate: Evaluated | None = None
    register: Registration | None = None

    def file(self, result: Stored) -> None:
        if isinstance(result, Trained):
            self.train = result
        elif isinstance(result, Evaluated):
            self.evaluate = result
        elif isinstance(result, Registration):
            self.register = result
        else:
            raise TypeError(f"a family stage returned a {type(result).__name__}")


@dataclass
class RunSummary:
    dataset: str
    profile: str
    root: str
    states: dict[str, str]  # node label -> Prefect's state name, or "Cached"
    data: dict[str, DataRun] = field(default_factory=dict)
    families: dict[str, FamilyRun] = field(default_factory=dict)
    dvc_lock: bool = False  # whether dvc.lock was brought up to date
    flow_run_id: str | None = None

    def evaluated(self) -> dict[str, Evaluated]:
        """Each family's evaluation, where it got that far."""
        return {f: run.evaluate for f, run in self.families.items() if run.evaluate is not None}

    def registered(self) -> dict[str, Registration]:
        """Each family's registry decision, where it got that far."""
        return {f: run.register for f, run in self.families.items() if run.register is not None}

    def add(self, results: dict[Node, Stored]) -> "RunSummary":
        """File each node's result under its dataset or family, by its type."""
        for node, result in results.items():
            if node.family is None:
                self.data.setdefault(node.target, DataRun()).file(result)
            else:
                self.families.setdefault(node.family, FamilyRun(node.target)).file(result)
        return self


def _cell(value: object) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def _label(name: str) -> str:
    """The row's name with its direction, unit and scale (components/metric_specs.py), and for a bound what it
    bounds."""
    s = spec(name)
    arrow = {"lower": "↓", "higher": "↑", None: ""}[s.direction]
    unit = f" [{s.unit}]" if s.unit and s.unit != "fraction" else ""
    bound = f" ({s.bound})" if s.bound else ""
    return f"{name} {arrow}".rstrip() + unit + bound


def _with_spread(metrics: dict, name: str) -> str:
    value = metrics.get(name)
    if value is None:
        return ""
    cell = _cell(value)
    s = spec(name)
    spread = next(((k, metrics[s.named(spread=k)]) for k in SPREADS if s.named(spread=k) in metrics), None)
    if spread is not None:
        cell += f" ± {_cell(spread[1])} ({spread[0].replace('_', ' ')})"
    # a floor has its own N: smaller than the samples' when the training split is (evaluation/floors.py)
    n = metrics.get(metric_name("num_samples", prefix=s.prefix) if s.floor else "num_samples",
                    metrics.get("num_samples"))
    if n and s.shown_with_n:
        cell += f" (N={int(n):,})"
    return cell


@dataclass
class Table:
    """The comparison's table, before it is written as markdown or HTML: families (and floors, and the untrained
    level) as columns, metrics as rows in the order metric_specs declares them."""

    header: list[str]
    rows: list[tuple[str, list[str]]]  # (row label, cells)

    def markdown(self) -> str:
        lines = ["| metric | " + " | ".join(self.header) + " |", "|---|" + "---|" * len(self.header)]
        return "\n".join(lines + [f"| {label} | " + " | ".join(cells) + " |" for label, cells in self.rows])


def model_metrics(metrics: dict[str, float]) -> list[str]:
    """The names of a family's own metrics (no spreads, no floors), top-down in the specs' order."""
    return sorted((k for k in metrics if spec(k).direction is not None and spec(k).spread is None
                   and not spec(k).floor), key=display_rank)


def table(summary: RunSummary) -> Table | None:
    """Families as columns, the model's metrics as rows in metric_specs' order (↓ lower is better, ↑ higher),
    then one column of floors per target (real training images scored the same way) and one of the untrained
    level the champion rule held each family to. A FID/KID cell carries its N, a spread is named."""
    families = summary.families
    metrics = {f: ev.metrics for f, ev in summary.evaluated().items()}
    if not metrics:
        return None
    cols = list(metrics)
    names = sorted({k for m in metrics.values() for k in model_metrics(m)}, key=display_rank)
    targets = list(dict.fromkeys(run.target for run in families.values()))
    floors = {t: next(metrics[f] for f in cols if families[f].target == t) for t in targets}
    noise = {f: r for f, r in summary.registered().items() if r.noise is not None}
    header = [f"{f} ({families[f].target})" for f in cols] + [f"floor: real {t} images" for t in targets]
    header += ["untrained (champion rule)"] if noise else []
    rows = []
    for name in names:
        cells = [_with_spread(metrics[f], name) for f in cols]
        cells += [_with_spread(floors[t], spec(name).named(prefix="floor")) for t in targets]
        if noise:  # the registry metric's row: each family's untrained level
            cells.append("; ".join(f"{f} {_cell(r.noise)}" for f, r in noise.items() if r.metric == name))
        rows.append((_label(name), cells))
    return Table(header, rows)


def metrics_table(summary: RunSummary) -> str:
    """table() as markdown (the terminal and the Prefect artifact)."""
    t = table(summary)
    return t.markdown() if t is not None else "(no family ran)"


def decisions(summary: RunSummary) -> list[str]:
    """One line per family's registration; a register stage found in the cache decided nothing now."""
    out = []
    for family, r in summary.registered().items():
        cached = summary.states.get(f"register:{family}@{summary.families[family].target}") == "Cached"
        out.append(f"already registered: {r.name} v{r.version} @{r.alias} (no change)" if cached else
                   f"registered: {r.name} v{r.version} -> @{r.alias} ({r.reason})")
    return out


def text(summary: RunSummary) -> str:
    """The end-of-run summary printed by `genzoo run`."""
    from components.tracking.store import experiment_url, tracking_uri, ui_command

    lines = [f"\n== genzoo: {summary.dataset} ({summary.profile} profile) =="]
    for name, data in summary.data.items():
        if (clf := data.classifier) is not None:
            lines.append(f"reference classifier of {name}: test accuracy {clf.test_accuracy:.4f}  "
                         f"(feature space {clf.feature_space})")
        if data.validate is not None:
            lines.append(f"validation of {name}: {data.validate.report}")
    lines += ["", metrics_table(summary), ""]
    for family, ev in summary.evaluated().items():
        lines.append(f"sample grid of {family}: {ev.samples}")
    lines += decisions(summary)
    cached = [name for name, state in summary.states.items() if state == "Cached"]
    lines.append(f"\nstages: {len(summary.states)}, cached: {len(cached)} ({', '.join(cached) or 'none'})")
    root = Path(summary.root)
    ui = ui_command(root)
    lines.append(f"MLflow UI: genzoo ui  (= {' '.join(ui)})" if ui else f"MLflow UI: {tracking_uri(root)}")
    for target in dict.fromkeys(run.target for run in summary.families.values()):
        url = experiment_url(root, target)
        if url:  # its first row, pipeline@<target>, holds comparison.html and every family's metrics
            lines.append(f"  {target}: {url}  (runs; pipeline@{target} has comparison.html)")
    return "\n".join(lines)


def markdown(summary: RunSummary, mlflow_links: dict[str, str]) -> str:
    """The Prefect artifact: the table, the decisions, and where each family's MLflow run is."""
    links = "\n".join(f"- {family}: [{url}]({url})" for family, url in mlflow_links.items())
    cached = sum(state == "Cached" for state in summary.states.values())
    return "\n\n".join([
        f"# genzoo: {summary.dataset} ({summary.profile} profile)",
        metrics_table(summary),
        "**Registry**\n\n" + "\n".join(f"- {d}" for d in decisions(summary)),
        f"**MLflow runs**\n\n{links}",
        f"stages: {len(summary.states)}, cached: {cached}",
    ])
