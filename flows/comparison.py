"""The families of one pipeline invocation side by side, where MLflow users look first: its parent run.

`comparison.html` is self-contained and works offline (the sample grids are inlined, there is no script and no
link out): the summary's table (flows/summary.py), with N, floors and the untrained level once, then each
family's sample grid at one common scale. The parent run also gets each family's metrics as `<family>/<metric>`,
so the runs table's collapsed parent row and the chart view show them without opening a child.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from flows.summary import RunSummary, decisions, model_metrics, table

ARTIFACT = "comparison.html"
MAX_SCALED_WIDTH = 520  # grids up to this wide are shown at 2x (28x28 digits become legible), wider ones at 1x


def _png_size(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _grid(family: str, path: Path, scale: int) -> str:
    width, height = _png_size(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(family)} samples" width="{width * scale}" height="{height * scale}" '
            f'src="data:image/png;base64,{data}"><figcaption>{html.escape(family)}</figcaption></figure>')


def render(summary: RunSummary) -> str:
    """The page: title, table, registry decisions, then the grids at one scale."""
    t = table(summary)
    grids = {f: Path(run.evaluate.samples) for f, run in summary.families.items() if run.evaluate is not None}
    widest = max((_png_size(p)[0] for p in grids.values()), default=0)
    scale = 2 if widest * 2 <= MAX_SCALED_WIDTH else 1
    title = f"genzoo: {summary.dataset} ({summary.profile} profile)"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["metric", *t.header]) if t else ""
    body = "".join("<tr>" + f"<th>{html.escape(label)}</th>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                   + "</tr>" for label, cells in (t.rows if t else []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 4px 8px; text-align: right; white-space: nowrap; }}
tr th:first-child {{ text-align: left; font-weight: normal; }}
thead th {{ background: #f3f3f3; }}
.grids {{ display: flex; flex-wrap: wrap; gap: 1.5em; align-items: flex-start; }}
figure {{ margin: 0; }} figcaption {{ text-align: center; font-weight: bold; }}
img {{ image-rendering: pixelated; border: 1px solid #ddd; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>↓ lower is better, ↑ higher. The floor is real training images scored the same way; the untrained level is
the same family before training, which the champion rule requires a model to beat.</p>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<ul>{"".join(f"<li>{html.escape(d)}</li>" for d in decisions(summary))}</ul>
<h2>Samples (each at {scale}x)</h2>
<div class="grids">{"".join(_grid(f, p, scale) for f, p in grids.items())}</div>
</body></html>
"""


def parent_metrics(summary: RunSummary) -> dict[str, float]:
    """`<family>/<metric>` for every family's own metrics, and `<family>/untrained_<metric>` for the registry's."""
    out = {}
    for family, run in summary.families.items():
        if run.evaluate is None:
            continue
        out.update({f"{family}/{k}": run.evaluate.metrics[k] for k in model_metrics(run.evaluate.metrics)})
        if run.register is not None and run.register.noise is not None:
            out[f"{family}/untrained_{run.register.metric}"] = run.register.noise
    return out


def publish(summary: RunSummary, parents: dict[str, str]) -> None:
    """Log the page and parent_metrics() on each of the invocation's parent runs (one per experiment: target).
    MLflow's artifact store keeps the page; the local copy is temporary."""
    import tempfile

    from components.tracking import store

    client = store.client(Path(summary.root))
    metrics = parent_metrics(summary)
    with tempfile.TemporaryDirectory(prefix="genzoo-comparison-") as tmp:
        page = Path(tmp) / ARTIFACT
        page.write_text(render(summary), encoding="utf-8")
        for run_id in parents.values():
            client.log_artifact(run_id, str(page))
            if metrics:
                store.log_metrics(client, run_id, metrics)
