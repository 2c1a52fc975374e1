"""What a pipeline run reports, in one place: the terminal's end-of-run text and the Prefect run's markdown
artifact show the same table (one column per family, one row per metric, FID and KID with the N they were
measured on) and the same registry decisions."""

from __future__ import annotations

import math
from pathlib import Path

SAMPLE_COUNTED = ("fid_", "kid_", "floor_fid_", "floor_kid_")  # biased by N: never shown without it


def _cell(value) -> str:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:,.0f}" if float(value).is_integer() and abs(value) >= 1 else f"{value:.4g}"


def metrics_table(summary: dict) -> str:
    """Markdown: families as columns, metrics as rows; a FID/KID cell carries its N."""
    families = summary["families"]
    if not families:
        return "(no family ran)"
    cols = list(families)
    metrics = {f: res["evaluate"]["metrics"] for f, res in families.items()}
    names = sorted({k for m in metrics.values() for k in m if k != "num_samples"})
    lines = ["| metric | " + " | ".join(f"{f} ({families[f]['target']})" for f in cols) + " |",
             "|---|" + "---|" * len(cols)]
    for name in names:
        cells = []
        for f in cols:
            value = metrics[f].get(name)
            n = metrics[f].get("num_samples")
            cell = "" if value is None else _cell(value)
            if value is not None and n and name.startswith(SAMPLE_COUNTED):
                cell += f" (N={int(n):,})"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def decisions(summary: dict) -> list[str]:
    return [f"{r['name']} v{r['version']} -> @{r['alias']} ({r['reason']})"
            for r in (res["register"] for res in summary["families"].values())]


def text(summary: dict) -> str:
    """The end-of-run summary printed by `genzoo run`."""
    from components.tracking.store import tracking_uri, ui_command

    lines = [f"\n== genzoo: {summary['dataset']} ({summary['profile']} profile) =="]
    for name, stages in summary["data"].items():
        clf = stages["classifier"]
        lines.append(f"reference classifier of {name}: test accuracy {clf['test_accuracy']:.4f}  "
                     f"(feature space {clf['feature_space']})")
        if "report" in stages.get("validate", {}):
            lines.append(f"validation of {name}: {stages['validate']['report']}")
    lines += ["", metrics_table(summary), ""]
    for family, res in summary["families"].items():
        lines.append(f"sample grid of {family}: {res['evaluate']['samples']}")
    lines += [f"registered: {d}" for d in decisions(summary)]
    cached = [name for name, state in summary["states"].items() if state == "Cached"]
    lines.append(f"\nstages: {len(summary['states'])}, cached: {len(cached)} ({', '.join(cached) or 'none'})")
    root = Path(summary["root"])
    ui = ui_command(root)
    lines.append(f"MLflow UI: genzoo ui  (= {' '.join(ui)})" if ui else f"MLflow UI: {tracking_uri(root)}")
    return "\n".join(lines)


def markdown(summary: dict, mlflow_links: dict[str, str]) -> str:
    """The Prefect artifact: the table, the decisions, and where each family's MLflow run is."""
    links = "\n".join(f"- {family}: [{url}]({url})" for family, url in mlflow_links.items())
    cached = sum(state == "Cached" for state in summary["states"].values())
    return "\n\n".join([
        f"# genzoo: {summary['dataset']} ({summary['profile']} profile)",
        metrics_table(summary),
        "**Registry**\n\n" + "\n".join(f"- {d}" for d in decisions(summary)),
        f"**MLflow runs**\n\n{links}",
        f"stages: {len(summary['states'])}, cached: {cached}",
    ])
