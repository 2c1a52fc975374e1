"""The study's report in Lucic et al.'s form: a table of FID (mean ± std over the seeds of each family's best
setting, and the best single run), a bar chart with error bars, FID against search budget (their Figure 4),
precision against recall of every trial, and a sample grid per family. Markdown + HTML + PNG."""

from __future__ import annotations

import html
import json
import math
from math import comb
from pathlib import Path

import numpy as np

METRIC = "best_fid"  # each trial's best checkpoint FID in the dataset's reference-classifier space


def expected_best(values: list[float], k: int) -> float:
    """E[min of k trials drawn without replacement from `values`]: Lucic et al.'s FID-vs-budget curve, exact by
    order statistics (the i-th smallest is the minimum in C(n-i, k-1) of the C(n, k) subsets)."""
    v = sorted(values)
    n = len(v)
    return sum(v[i] * comb(n - 1 - i, k - 1) for i in range(n - k + 1)) / comb(n, k)


def summarise(trials: list[dict], best_index: dict[tuple[str, str], int]) -> dict:
    """Per (dataset, family): seeds of the best setting -> mean/std/best, and the search curve."""
    rows: dict[str, dict[str, dict]] = {}
    for (ds, fam), idx in best_index.items():
        own = [t for t in trials if t["spec"]["dataset"] == ds and t["spec"]["family"] == fam]
        seeds = [t[METRIC] for t in own if t["spec"]["index"] == idx and t[METRIC] is not None]
        search = sorted((t for t in own if t["search"]), key=lambda t: t["spec"]["index"])
        finite = [t[METRIC] for t in search if t[METRIC] is not None]
        scored = [t[METRIC] for t in own if t[METRIC] is not None]
        rows.setdefault(ds, {})[fam] = {
            "mean": float(np.mean(seeds)) if seeds else None,
            "std": float(np.std(seeds, ddof=1)) if len(seeds) > 1 else (0.0 if seeds else None),
            "n_seeds": len(seeds),
            "best": min(scored) if scored else None,
            "best_index": idx,
            "hp": next((t["spec"]["hp"] for t in own if t["spec"]["index"] == idx), {}),
            "diverged": sum(t["status"] == "diverged" for t in own),
            "trials": len(own),
            "budget_curve": [expected_best(finite, k) for k in range(1, len(finite) + 1)],
        }
    return rows


def winners(rows: dict) -> dict[str, str]:
    """The family with the lowest mean FID per dataset (ties: the lower best run)."""
    out = {}
    for ds, fams in rows.items():
        ranked = [(r["mean"], r["best"], f) for f, r in fams.items() if r["mean"] is not None]
        if ranked:
            out[ds] = min(ranked)[2]
    return out


def _cell(r: dict | None) -> str:
    if r is None or r["mean"] is None:
        return "diverged" if r and r["diverged"] else "-"
    return f"{r['mean']:.2f} ± {r['std']:.2f} ({r['best']:.2f})"


def table_markdown(rows: dict, datasets: list[str], families: list[str]) -> str:
    head = "| family | " + " | ".join(datasets) + " |\n|---|" + "---|" * len(datasets) + "\n"
    body = "".join(f"| {fam} | " + " | ".join(_cell(rows.get(ds, {}).get(fam)) for ds in datasets) + " |\n"
                   for fam in families)
    return head + body


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(rows, datasets, families, path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(families) * len(datasets)), 3.8), dpi=120)
    width = 0.8 / len(datasets)
    x = np.arange(len(families))
    for i, ds in enumerate(datasets):
        means = [rows.get(ds, {}).get(f, {}).get("mean") for f in families]
        stds = [rows.get(ds, {}).get(f, {}).get("std") for f in families]
        ax.bar(x + i * width, [m if m is not None else 0 for m in means], width,
               yerr=[s if s is not None else 0 for s in stds], capsize=3, label=ds)
    ax.set_xticks(x + width * (len(datasets) - 1) / 2, families)
    ax.set_ylabel("FID (classifier features), mean ± std over seeds")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def _save(plt, fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _per_dataset(datasets, path: Path, draw, xlabel: str, ylabel: str, unit_square: bool = False) -> Path:
    """One panel per dataset; draw(ax, dataset) plots the families into it."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.7), dpi=120, squeeze=False)
    for ax, ds in zip(axes[0], datasets):
        draw(ax, ds)
        ax.set_title(ds)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        if unit_square:
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7)
    return _save(plt, fig, path)


def budget_plot(rows, datasets, families, path: Path) -> Path:
    def draw(ax, ds):
        for fam in families:
            curve = rows.get(ds, {}).get(fam, {}).get("budget_curve") or []
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, marker="o", label=fam)

    return _per_dataset(datasets, path, draw, "budget (hyperparameter settings)", "expected best FID")


def precision_recall_plot(trials, datasets, families, path: Path) -> Path:
    def draw(ax, ds):
        for fam in families:
            pts = [(t["metrics"]["precision_classifier"], t["metrics"]["recall_classifier"]) for t in trials
                   if t["spec"]["dataset"] == ds and t["spec"]["family"] == fam and t["metrics"]]
            if pts:
                ax.scatter([p[1] for p in pts], [p[0] for p in pts], label=fam, s=18)

    return _per_dataset(datasets, path, draw, "recall (classifier features)", "precision", unit_square=True)


def sample_sheet(trials, ds: str, families, path: Path) -> Path | None:
    """The best trial's sample grid of each family on one dataset, side by side."""
    plt = _plt()
    best = {}
    for t in trials:
        s = t["spec"]
        if s["dataset"] == ds and t.get("samples") and t[METRIC] is not None:
            if s["family"] not in best or t[METRIC] < best[s["family"]][METRIC]:
                best[s["family"]] = t
    fams = [f for f in families if f in best]
    if not fams:
        return None
    cols = min(4, len(fams))
    nrows = math.ceil(len(fams) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 3.2 * nrows), dpi=120, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, fam in zip(axes.flat, fams):
        ax.imshow(plt.imread(best[fam]["samples"]))
        ax.set_title(f"{fam}  FID {best[fam][METRIC]:.1f}", fontsize=9)
    return _save(plt, fig, path)


def write(out: Path, trials: list[dict], best_index: dict, datasets: list[str], families: list[str],
          meta: dict) -> dict:
    """Write reports/<study>/: report.md, report.html, the PNGs and study.json; returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(trials, best_index)
    win = winners(rows)
    pngs = [bar_chart(rows, datasets, families, out / "fid_bars.png"),
            budget_plot(rows, datasets, families, out / "fid_vs_budget.png"),
            precision_recall_plot(trials, datasets, families, out / "precision_recall.png")]
    pngs += [p for ds in datasets if (p := sample_sheet(trials, ds, families, out / f"samples_{ds}.png"))]
    table = table_markdown(rows, datasets, families)
    space = "the dataset's reference classifier (`fid_classifier`)"
    intro = (f"FID in the feature space of {space}: mean ± std over {meta['seeds']} seeds of each family's best "
             f"of {meta['budget']} hyperparameter settings, and (in brackets) the best single run; each run is "
             f"scored at its best of {meta['checkpoints']} checkpoints. Lower is better.")
    md = [f"# Study `{meta['name']}`\n\n", f"Command: `{meta['command'].strip()}`\n\n", intro + "\n\n", table,
          "\nWinner per dataset (promoted by the registry rule): "
          + ", ".join(f"{ds}: **{f}**" for ds, f in win.items()) + "\n",
          "\nBest settings:\n\n"]
    md += [f"- {ds} / {fam}: {json.dumps(r['hp'], sort_keys=True)}"
           + (f" ({r['diverged']} of {r['trials']} runs diverged)" if r["diverged"] else "") + "\n"
           for ds, fams in rows.items() for fam, r in fams.items()]
    md += [f"\n![{p.stem}]({p.name})\n" for p in pngs]
    (out / "report.md").write_text("".join(md))
    cells = "".join("<tr><td>" + html.escape(fam) + "</td>" + "".join(
        f"<td>{html.escape(_cell(rows.get(ds, {}).get(fam)))}</td>" for ds in datasets) + "</tr>" for fam in families)
    page = (f"<!doctype html><meta charset='utf-8'><title>genzoo study {html.escape(meta['name'])}</title>"
            f"<h1>Study {html.escape(meta['name'])}</h1><p><code>{html.escape(meta['command'])}</code></p>"
            f"<p>{html.escape(intro)}</p><table border=1 cellpadding=4><tr><th>family</th>"
            + "".join(f"<th>{html.escape(d)}</th>" for d in datasets) + f"</tr>{cells}</table>"
            + "<p>Winners: " + html.escape(", ".join(f"{d}: {f}" for d, f in win.items())) + "</p>"
            + "".join(f"<p><img src='{p.name}' alt='{p.stem}'></p>" for p in pngs))
    (out / "report.html").write_text(page)
    summary = {"meta": meta, "rows": rows, "winners": win, "table_markdown": table,
               "files": [str(out / "report.md"), str(out / "report.html"), *map(str, pngs)]}
    (out / "study.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return summary
