"""The gate's result as one self-contained HTML page (inline style, no scripts, nothing fetched): Great
Expectations' Data Docs load their CSS and JavaScript from CDNs, so offline their index is unstyled and its
result list empty. This page reads from the same result.json and opens anywhere, MLflow's artifact view
included."""

from __future__ import annotations

import html
import json
from pathlib import Path

STYLE = """body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #ddd;padding:6px 8px;text-align:left;vertical-align:top}th{background:#f4f4f4}
.ok{color:#16794c;font-weight:600}.bad{color:#b42318;font-weight:600}code{font-size:12px}"""
SKIP_KWARGS = ("batch_id", "column")


def _observed(result: dict) -> str:
    if "observed_value" in result:
        return json.dumps(result["observed_value"], default=str)[:200]
    if "unexpected_count" in result:
        shown = result.get("partial_unexpected_list") or []
        return f"{result['unexpected_count']} unexpected of {result.get('element_count', '?')}" + \
            (f": {json.dumps(shown[:5], default=str)}" if shown else "")
    return ""


def write(result: dict, dataset: str, path: Path) -> Path:
    """`result`: the validation result as GE writes it to result.json."""
    rows = []
    for r in result["results"]:
        cfg = r["expectation_config"]
        kwargs = {k: v for k, v in cfg["kwargs"].items() if k not in SKIP_KWARGS}
        status = '<span class="ok">passed</span>' if r["success"] else '<span class="bad">FAILED</span>'
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in (
            status, html.escape(cfg["type"]), html.escape(str(cfg["kwargs"].get("column", ""))),
            f"<code>{html.escape(json.dumps(kwargs, default=str)[:300])}</code>",
            html.escape(_observed(r.get("result") or {})))) + "</tr>")
    stats = result.get("statistics", {})
    verdict = "passed" if result["success"] else "FAILED"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(dataset)}: validation</title>
<style>{STYLE}</style></head><body>
<h1>{html.escape(dataset)}: <span class="{'ok' if result['success'] else 'bad'}">{verdict}</span></h1>
<p>Suite <code>{html.escape(str(result.get('suite_name', '')))}</code>:
{stats.get('successful_expectations', '?')} of {stats.get('evaluated_expectations', '?')} expectations met,
over one row of facts per image (shape, channels, value range, finiteness, label, duplicates).</p>
<table><tr><th>result</th><th>expectation</th><th>column</th><th>arguments</th><th>observed</th></tr>
{''.join(rows)}</table></body></html>
"""
    path.write_text(page)
    return path
