"""What a pipeline run reports, in one place: the run's typed summary, and the terminal's end-of-run text and the
Prefect run's markdown artifact, which show the same table (one column per family, one row per metric, FID and
KID with the N they were measured on) and the same registry decisions."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from components.metric_specs import SPREADS, spec
from components.pipeline.results import ClassifierReady, Evaluated, Prepared, Stored, Trained, Validated
from components.pipeline.stage import Node
from components.tracking.registration import Registration

SAMPLE_COUNTED = ("fid_", "kid_", "floor_fid_", "floor_kid_")  # measured on N samples: never shown without it


@dataclass
class DataRun:
    """The data stages' results for one dataset (a field per data stage of the graph)."""

    prepare: Prepared | None = None
    validate: Validated | None = None
    classifier: ClassifierReady | None = None


@dataclass
class FamilyRun:
    """The family stages' results for one family, on its target (a field per family stage of the graph)."""

    target: str
    train: Trained | None = None
    evaluate: Evaluated | None = None
    register: Registration | None = None


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

    def add(self, results: dict[Node, Stored]) -> "RunSummary":
        """File each node's result under its dataset or family."""
        for node, result in results.items():
            if node.family is None:
                setattr(self.data.setdefault(node.target, DataRun()), node.stage.name, result)
            else:
                setattr(self.families.setdefault(node.family, FamilyRun(node.target)), node.stage.name, result)
        return self


def _cell(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def _label(name: str) -> str:
    """The row's name with its direction and unit (components/metric_specs.py)."""
    s = spec(name)
    arrow = {"lower": "↓", "higher": "↑", None: ""}[s.direction]
    return f"{name} {arrow}".rstrip() + (f" [{s.unit}]" if s.unit and s.unit != "fraction" else "")


def metrics_table(summary: RunSummary) -> str:
    """Markdown: families as columns, metrics as rows (↓ lower is better, ↑ higher); a FID/KID cell carries its
    N, and a metric whose protocol measures a spread shows it beside the value, named."""
    families = summary.families
    if not families:
        return "(no family ran)"
    cols = list(families)
    metrics = {f: run.evaluate.metrics for f, run in families.items()}
    names = sorted({k for m in metrics.values() for k in m if k != "num_samples" and spec(k).spread is None})
    lines = ["| metric | " + " | ".join(f"{f} ({families[f].target})" for f in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for name in names:
        cells = []
        for f in cols:
            value = metrics[f].get(name)
            n = metrics[f].get("num_samples")
            cell = "" if value is None else _cell(value)
            spread = next(((k, metrics[f][f"{name}_{k}"]) for k in SPREADS if f"{name}_{k}" in metrics[f]), None)
            if value is not None and spread is not None:
                cell += f" ± {_cell(spread[1])} ({spread[0].replace('_', ' ')})"
            if value is not None and n and name.startswith(SAMPLE_COUNTED):
                cell += f" (N={int(n):,})"
            cells.append(cell)
        lines.append(f"| {_label(name)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def decisions(summary: RunSummary) -> list[str]:
    return [f"{r.name} v{r.version} -> @{r.alias} ({r.reason})"
            for r in (run.register for run in summary.families.values())]


def text(summary: RunSummary) -> str:
    """The end-of-run summary printed by `genzoo run`."""
    from components.tracking.store import tracking_uri, ui_command

    lines = [f"\n== genzoo: {summary.dataset} ({summary.profile} profile) =="]
    for name, data in summary.data.items():
        clf = data.classifier
        lines.append(f"reference classifier of {name}: test accuracy {clf.test_accuracy:.4f}  "
                     f"(feature space {clf.feature_space})")
        if data.validate is not None:
            lines.append(f"validation of {name}: {data.validate.report}")
    lines += ["", metrics_table(summary), ""]
    for family, run in summary.families.items():
        lines.append(f"sample grid of {family}: {run.evaluate.samples}")
    lines += [f"registered: {d}" for d in decisions(summary)]
    cached = [name for name, state in summary.states.items() if state == "Cached"]
    lines.append(f"\nstages: {len(summary.states)}, cached: {len(cached)} ({', '.join(cached) or 'none'})")
    root = Path(summary.root)
    ui = ui_command(root)
    lines.append(f"MLflow UI: genzoo ui  (= {' '.join(ui)})" if ui else f"MLflow UI: {tracking_uri(root)}")
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
