"""The study's report in Lucic et al.'s form: a table of FID (mean ± std over the seeds of each family's best
setting, and the best single run), a bar chart with error bars, FID against search budget (their Figure 4),
precision against recall of every trial, and a sample grid per family. Markdown + HTML + PNG."""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import asdict, dataclass, field
from math import comb
from pathlib import Path
from typing import Any, Callable

import numpy as np

from components.metric_specs import name
from components.study.references import ImageReferences
from components.study.trial import RANKED_BY, TrialResult


@dataclass(frozen=True)
class FamilyRow:
    """One family on one dataset: the seeds of its best setting and its search."""

    mean: float | None  # over the seeds of the best setting; None when every one diverged
    std: float | None
    n_seeds: int
    best: float | None  # the best single run
    best_index: int
    overrides: dict  # the best setting ({}: the family's defaults)
    diverged: int
    trials: int
    budget_curve: list[float]  # expected best FID after k settings (Lucic et al.'s Figure 4)


@dataclass(frozen=True)
class StudyMeta:
    name: str
    profile: str
    budget: int
    seeds: int
    checkpoints: int
    checkpoint_samples: int
    epochs: float | dict | None
    command: str
    datasets: list[str]
    families: list[str]


@dataclass
class SearchReport:
    """What the search study reports (study.json holds it, less the trials): rows per dataset and family."""

    meta: StudyMeta
    rows: dict[str, dict[str, FamilyRow]]
    winners: dict[str, str]  # dataset -> the winning family
    table_markdown: str
    references: dict[str, ImageReferences]
    files: list[str]  # report.md, report.html, the pictures
    trials: list[TrialResult] = field(default_factory=list)
    registered: dict = field(default_factory=dict)  # dataset -> the winner's Registration and its full metrics


# Lucic et al. 2018, "Are GANs Created Equal?", Table 2 (NeurIPS version): each game's best FID, mean ± std over
# 50 seeds of its best setting from 100 random ones, 20 epochs. Inception features on 10k samples: another
# feature space than the table's (classifier) FIDs, so beside them for orientation, never compared with them.
# They did not run the maximum-likelihood game.
LUCIC_2018 = {
    "mnist": {"mmgan": (9.8, 0.9), "nsgan": (6.8, 0.5), "lsgan": (7.8, 0.6), "wgan": (6.7, 0.4),
              "wgangp": (20.3, 5.0), "dragan": (7.6, 0.4), "began": (13.1, 1.0), "vae": (23.8, 0.6)},
    "fashion-mnist": {"mmgan": (29.6, 1.6), "nsgan": (26.5, 1.6), "lsgan": (30.7, 2.2), "wgan": (21.5, 1.6),
                      "wgangp": (24.5, 2.1), "dragan": (27.7, 1.2), "began": (22.9, 0.9), "vae": (58.7, 1.2)},
    "cifar10": {"mmgan": (72.7, 3.6), "nsgan": (58.5, 1.9), "lsgan": (87.1, 47.5), "wgan": (55.2, 2.3),
                "wgangp": (55.8, 0.9), "dragan": (69.8, 2.0), "began": (71.4, 1.6), "vae": (155.7, 11.6)},
}


def expected_best(values: list[float], k: int) -> float:
    """E[best of k trials drawn without replacement from `values`]: Lucic et al.'s FID-vs-budget curve, exact by
    order statistics (the i-th best is the best in C(n-i, k-1) of the C(n, k) subsets)."""
    v = sorted(values, key=RANKED_BY.rank)
    n = len(v)
    return sum(v[i] * comb(n - 1 - i, k - 1) for i in range(n - k + 1)) / comb(n, k)


def summarise(trials: list[TrialResult], best_index: dict[tuple[str, str], int]) -> dict[str, dict[str, FamilyRow]]:
    """Per (dataset, family): seeds of the best setting -> mean/std/best, and the search curve."""
    rows: dict[str, dict[str, FamilyRow]] = {}
    for (ds, fam), idx in best_index.items():
        own = [t for t in trials if (t.spec.dataset, t.spec.family) == (ds, fam)]
        seeds = [t.best_fid for t in own if t.spec.index == idx and t.best_fid is not None]
        search = sorted((t for t in own if t.search), key=lambda t: t.spec.index)
        finite = [t.best_fid for t in search if t.best_fid is not None]
        scored = [t.best_fid for t in own if t.best_fid is not None]
        rows.setdefault(ds, {})[fam] = FamilyRow(
            mean=float(np.mean(seeds)) if seeds else None,
            std=float(np.std(seeds, ddof=1)) if len(seeds) > 1 else (0.0 if seeds else None),
            n_seeds=len(seeds),
            best=RANKED_BY.best(scored) if scored else None,
            best_index=idx,
            overrides=next((t.spec.overrides for t in own if t.spec.index == idx), {}),
            diverged=sum(t.status == "diverged" for t in own),
            trials=len(own),
            budget_curve=[expected_best(finite, k) for k in range(1, len(finite) + 1)],
        )
    return rows


def winners(rows: dict[str, dict[str, FamilyRow]]) -> dict[str, str]:
    """The family with the best mean FID per dataset (ties: the better best run), by the metric's direction."""
    s = RANKED_BY
    out = {}
    for ds, fams in rows.items():
        ranked = [(s.rank(r.mean), s.rank(r.best), f) for f, r in fams.items() if r.mean is not None]
        if ranked:
            out[ds] = min(ranked)[2]
    return out


def _cell(r: FamilyRow | None) -> str:
    if r is None or r.mean is None:
        return "diverged" if r and r.diverged else "-"
    if r.n_seeds < 2 or r.std is None or r.best is None:  # one seed has no spread: a "± 0.00" would claim one
        return f"{r.mean:.2f} (n=1)"
    return f"{r.mean:.2f} ± {r.std:.2f} (n={r.n_seeds}; best {r.best:.2f})"


def table_rows(rows: dict[str, dict[str, FamilyRow]], datasets: list[str], families: list[str],
               references: dict[str, ImageReferences] | None = None) -> list[list]:
    """The table as cells: a header, one row per family, then the reference rows; Lucic et al.'s published
    FIDs in a column per dataset they report."""
    references = references or {}
    published = [ds for ds in datasets if ds in LUCIC_2018]
    head = ["family", *datasets, *(f"{ds}: Lucic et al. (Inception FID)" for ds in published)]

    def lucic(ds: str, fam: str) -> str:
        v = LUCIC_2018[ds].get(fam)
        return f"{v[0]} ± {v[1]}" if v else "-"

    out = [head] + [[fam, *(_cell(rows.get(ds, {}).get(fam)) for ds in datasets),
                     *(lucic(ds, fam) for ds in published)] for fam in families]
    def floor(ds: str) -> str:
        if ds not in references:
            return "-"
        r = references[ds]  # the floor over several subset draws carries their spread
        return f"{r.floor:.2f}" + (f" ± {r.floor_seed_std:.2f} (subset draws)" if r.floor_seed_std is not None else "")

    if any(ds in references for ds in datasets):
        out.append(["*real training images (floor)*", *(floor(ds) for ds in datasets), *("" for _ in published)])
        out.append(["*untrained generator (noise)*",
                    *(f"{references[ds].untrained:.2f}" if ds in references else "-" for ds in datasets),
                    *("" for _ in published)])
    return out


def table_markdown(rows: dict[str, dict[str, FamilyRow]], datasets: list[str], families: list[str],
                   references: dict[str, ImageReferences] | None = None) -> str:
    cells = table_rows(rows, datasets, families, references)
    lines = ["| " + " | ".join(cells[0]) + " |", "|---" * len(cells[0]) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells[1:]]) + "\n"


def _table_html(cells: list[list]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c.strip('*'))}</td>" for c in r) + "</tr>" for r in cells[1:])
    return f"<table border=1 cellpadding=4><tr>{head}</tr>{body}</table>"


def _embedded(png: Path) -> str:
    """An <img> carrying its PNG inline: the page reads the same from disk, a browser or MLflow's artifact view."""
    data = base64.b64encode(png.read_bytes()).decode()
    return f"<p><img src='data:image/png;base64,{data}' alt='{html.escape(png.stem)}'></p>"


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def bar_chart(rows: dict[str, dict[str, FamilyRow]], datasets: list[str], families: list[str], path: Path) -> Path:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(families) * len(datasets)), 3.8), dpi=120)
    width = 0.8 / len(datasets)
    x = np.arange(len(families))
    for i, ds in enumerate(datasets):
        cells = [rows.get(ds, {}).get(f) for f in families]
        means = [c.mean if c else None for c in cells]
        stds = [c.std if c else None for c in cells]
        ax.bar(x + i * width, [m if m is not None else 0 for m in means], width,
               yerr=[s if s is not None else 0 for s in stds], capsize=3, label=ds)
    ax.set_xticks(x + width * (len(datasets) - 1) / 2, families)
    ax.set_ylabel("FID (classifier features), mean ± std over seeds")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _per_dataset(datasets: list[str], path: Path, draw: Callable[[Any, str], None], xlabel: str, ylabel: str,
                 unit_square: bool = False) -> Path:
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


def budget_plot(rows: dict[str, dict[str, FamilyRow]], datasets: list[str], families: list[str], path: Path) -> Path:
    def draw(ax: Any, ds: str) -> None:
        for fam in families:
            row = rows.get(ds, {}).get(fam)
            curve = row.budget_curve if row else []
            if curve:
                ax.plot(range(1, len(curve) + 1), curve, marker="o", label=fam)

    return _per_dataset(datasets, path, draw, "budget (hyperparameter settings)", "expected best FID")


def precision_recall_plot(trials: list[TrialResult], datasets: list[str], families: list[str], path: Path) -> Path:
    def draw(ax: Any, ds: str) -> None:
        for fam in families:
            pts = [(t.metrics[name("precision", "classifier")], t.metrics[name("recall", "classifier")]) for t in trials
                   if (t.spec.dataset, t.spec.family) == (ds, fam) and t.metrics]
            if pts:
                ax.scatter([p[1] for p in pts], [p[0] for p in pts], label=fam, s=18)

    return _per_dataset(datasets, path, draw, "recall (classifier features)", "precision", unit_square=True)


def sample_sheet(trials: list[TrialResult], ds: str, families: list[str], path: Path) -> Path | None:
    """The best trial's sample grid of each family on one dataset, side by side."""
    plt = _plt()
    best: dict[str, tuple[float, str]] = {}  # family -> (FID, samples picture)
    for t in trials:
        if t.spec.dataset == ds and t.samples and t.best_fid is not None:
            if t.spec.family not in best or RANKED_BY.better(t.best_fid, best[t.spec.family][0]):
                best[t.spec.family] = (t.best_fid, t.samples)
    fams = [f for f in families if f in best]
    if not fams:
        return None
    cols = min(4, len(fams))
    nrows = math.ceil(len(fams) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3 * cols, 3.2 * nrows), dpi=120, squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, fam in zip(axes.flat, fams):
        fid, picture = best[fam]
        ax.imshow(plt.imread(picture))
        ax.set_title(f"{fam}  FID {fid:.1f}", fontsize=9)
    return _save(plt, fig, path)


def write(out: Path, trials: list[TrialResult], best_index: dict, meta: StudyMeta,
          references: dict[str, ImageReferences] | None = None) -> SearchReport:
    """Write reports/<study>/: report.md, report.html (self-contained), the PNGs and study.json; returns the
    report. `references`: per dataset, the floor and untrained-generator FIDs (study/references.py)."""
    datasets, families = meta.datasets, meta.families
    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(trials, best_index)
    win = winners(rows)
    pngs = [bar_chart(rows, datasets, families, out / "fid_bars.png"),
            budget_plot(rows, datasets, families, out / "fid_vs_budget.png"),
            precision_recall_plot(trials, datasets, families, out / "precision_recall.png")]
    pngs += [p for ds in datasets if (p := sample_sheet(trials, ds, families, out / f"samples_{ds}.png"))]
    table = table_markdown(rows, datasets, families, references)
    n = meta.checkpoint_samples
    intro = (f"FID in the feature space of the dataset's reference classifier (`fid_classifier`) on {n} samples "
             f"against the test split: mean ± std over the n seeds of each family's best of {meta.budget} "
             f"hyperparameter settings (setting 0: the family's own paper defaults), and its best single run; each "
             f"run counts its best of {meta.checkpoints} checkpoints. Lower is better. The reference rows are "
             f"measured the same way. Lucic et al.'s columns are Inception FIDs after 20 epochs: another feature "
             f"space and budget, for orientation only.")
    md = [f"# Study `{meta.name}`\n\n", f"Command: `{meta.command.strip()}`\n\n", intro + "\n\n", table,
          "\nWinner per dataset (promoted by the registry rule): "
          + ", ".join(f"{ds}: **{f}**" for ds, f in win.items()) + "\n",
          "\nBest settings ({} = the family's defaults):\n\n"]
    md += [f"- {ds} / {fam}: {json.dumps(r.overrides, sort_keys=True)}"
           + (f" ({r.diverged} of {r.trials} runs diverged)" if r.diverged else "") + "\n"
           for ds, fams in rows.items() for fam, r in fams.items()]
    md += [f"\n![{p.stem}]({p.name})\n" for p in pngs]
    (out / "report.md").write_text("".join(md))
    page = (f"<!doctype html><meta charset='utf-8'><title>genzoo study {html.escape(meta.name)}</title>"
            f"<h1>Study {html.escape(meta.name)}</h1><p><code>{html.escape(meta.command)}</code></p>"
            f"<p>{html.escape(intro)}</p>" + _table_html(table_rows(rows, datasets, families, references))
            + "<p>Winners: " + html.escape(", ".join(f"{d}: {f}" for d, f in win.items())) + "</p>"
            + "".join(_embedded(p) for p in pngs))
    (out / "report.html").write_text(page)
    result = SearchReport(meta, rows, win, table, references or {},
                          [str(out / "report.md"), str(out / "report.html"), *map(str, pngs)])
    (out / "study.json").write_text(json.dumps(asdict(result), indent=2, sort_keys=True, default=str) + "\n")
    return result
