"""The mode-collapse study's report: per dataset, each game and variant as mean ± std over seeds of modes covered,
high-quality share and reverse KL at the final checkpoint, beside the real-data floor, an untrained generator,
and the published rows of VEEGAN and PacGAN; Metz et al.'s snapshot figure of one seed per row. Markdown + JSON.
Modes are counted by two rules in two columns (evaluation/modes.py): genzoo's, and the published one, which is
the only column a published row fills, so no published count sits under ours.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from components.data.mixtures import Mixture
from components.study.checkpoints import PointsCheckpoint
from components.study.references import PointsReferences
from components.study.trial import TrialResult

Spread = tuple[float | None, float | None]  # (mean, std) over seeds; std None for one seed


@dataclass(frozen=True)
class ModeRow:
    """One game (and variant) on one dataset at each trial's final checkpoint, over its seeds."""

    modes_covered: Spread
    modes_covered_published: Spread  # the published rule's count (evaluation/modes.py)
    high_quality: Spread
    reverse_kl: Spread
    n: int  # seeds measured
    trials: int
    diverged: int
    snapshots: str | None  # the first seed's snapshot figure
    curves: list[list[PointsCheckpoint]] = field(default_factory=list, compare=False)  # each seed's counts


@dataclass(frozen=True)
class ModesMeta:
    name: str
    command: str
    seeds: int
    steps: int
    batch_size: int
    num_samples: int
    mode_min_share: float
    variants: dict[str, dict]
    skipped: list[str]


@dataclass
class ModesReport:
    rows: dict[str, dict[str, ModeRow]]  # dataset -> "<family>[ <variant>]" -> row
    table_markdown: str
    files: list[str]  # modes.md, modes.json
    trials: list[TrialResult] = field(default_factory=list)

# Published rows, for orientation only: other networks, budgets and sample counts than ours, so never compared.
# VEEGAN (Srivastava et al. 2017) Table 1: modes covered (of 8 / 25) and % high-quality samples, 2,500 samples.
# CHECKED against the table as the authors publish it (github.com/akashgit/VEEGAN, tab.png), 2026-12-02.
# PacGAN (Lin et al. 2018) Table 1: modes, % high quality, reverse KL, mean over 10 trials. CHECKED against the
# table in the authors' repository (github.com/fjxmlzn/PacGAN, synthetic_data_experiments/results/Table1.png),
# 2026-12-02. Its GAN row differs from VEEGAN's (other networks and training): neither is ours.
CHECKED, UNCHECKED = "published", "published, unchecked"  # UNCHECKED: for a figure from memory, none now
PUBLISHED = {
    "ring8": [("VEEGAN Table 1: GAN", 1.0, 0.993, None, CHECKED),
              ("VEEGAN Table 1: ALI", 2.8, 0.0013, None, CHECKED),
              ("VEEGAN Table 1: unrolled GAN", 7.6, 0.356, None, CHECKED),
              ("VEEGAN Table 1: VEEGAN", 8.0, 0.529, None, CHECKED),
              ("PacGAN Table 1: GAN", 6.3, 0.982, 0.45, CHECKED),
              ("PacGAN Table 1: PacGAN2", 7.9, 0.956, 0.07, CHECKED)],
    "grid25": [("VEEGAN Table 1: GAN", 3.3, 0.005, None, CHECKED), ("VEEGAN Table 1: ALI", 15.8, 0.016, None, CHECKED),
               ("VEEGAN Table 1: unrolled GAN", 23.6, 0.16, None, CHECKED),
               ("VEEGAN Table 1: VEEGAN", 24.6, 0.40, None, CHECKED),
               ("PacGAN Table 1: GAN", 17.3, 0.948, 0.70, CHECKED),
               ("PacGAN Table 1: PacGAN2", 23.8, 0.913, 0.13, CHECKED)],
}


def summarise(trials: list[TrialResult]) -> dict[str, dict[str, ModeRow]]:
    """{dataset: {"<family> <variant>": its row}} at each trial's final step."""
    cells: dict[str, dict[str, list[TrialResult]]] = {}
    for t in trials:
        variant = t.spec.variant or "plain"
        row = t.spec.family if variant == "plain" else f"{t.spec.family} {variant}"
        cells.setdefault(t.spec.dataset, {}).setdefault(row, []).append(t)
    out: dict[str, dict[str, ModeRow]] = {}
    for ds, rows in cells.items():
        for row, ts in rows.items():
            done = [t.metrics for t in ts if t.metrics]

            def spread(metric: str) -> Spread:
                vals = [d[metric] for d in done if metric in d]  # a trial stored before a metric existed lacks it
                return (statistics.fmean(vals) if vals else None,
                        statistics.stdev(vals) if len(vals) > 1 else None)  # one seed has no spread

            out.setdefault(ds, {})[row] = ModeRow(
                spread("modes_covered"), spread("modes_covered_published"), spread("high_quality"),
                spread("reverse_kl"), n=len(done), trials=len(ts),
                diverged=sum(t.status == "diverged" for t in ts),
                snapshots=next((t.snapshots for t in ts if t.snapshots), None),
                curves=[[c for c in t.curve if isinstance(c, PointsCheckpoint)] for t in ts])
    return out


def _pm(cell: Spread, pct: bool = False, digits: int = 2) -> str:
    mean, std = cell
    if mean is None:
        return "-"
    k, d = (100, 1) if pct else (1, digits)
    return f"{k * mean:.{d}f}" if std is None else f"{k * mean:.{d}f} ± {k * std:.{d}f}"


def write(out: Path, trials: list[TrialResult], refs: dict[str, PointsReferences], mixtures: dict[str, Mixture],
          meta: ModesMeta) -> ModesReport:
    """reports/<name>/modes.md (its snapshot figures copied beside it) and modes.json; returns the summary."""
    import shutil

    out.mkdir(parents=True, exist_ok=True)
    rows = summarise(trials)
    tables, figures = [], []
    for ds in sorted(rows):
        mix, ref = mixtures[ds], refs[ds]
        lines = [f"### {ds}: {mix.modes} modes, sigma {mix.sigma}", "",
                 "| game | modes covered | modes, published rule | high quality % | reverse KL | seeds |",
                 "|---|---|---|---|---|---|",
                 (f"| *real points (floor)* | {ref.floor_modes_covered:.1f} | "
                  f"{_pm((ref.floor_modes_covered_published, None), digits=1)} | "
                  f"{100 * ref.floor_high_quality:.1f} | {ref.floor_reverse_kl:.3f} | {ref.floor_draws} draws |"),
                 (f"| *untrained {ref.untrained_family}* | {ref.untrained.modes_covered:.0f} | "
                  f"{_pm((ref.untrained.modes_covered_published, None), digits=0)} | "
                  f"{100 * ref.untrained.high_quality:.1f} | {ref.untrained.reverse_kl:.3f} | 1 |")]
        for row, r in sorted(rows[ds].items()):
            note = f" ({r.diverged} diverged)" if r.diverged else ""
            lines.append(f"| {row} | {_pm(r.modes_covered, digits=1)} | {_pm(r.modes_covered_published, digits=1)} "
                         f"| {_pm(r.high_quality, pct=True)} | {_pm(r.reverse_kl, digits=3)} | {r.n}{note} |")
        for name, modes_, hq, rkl, source in PUBLISHED.get(ds, []):  # counted by the published rule only
            lines.append(f"| *{name} ({source})* | - | {modes_} | {100 * hq:.1f} | "
                         f"{'-' if rkl is None else rkl} | |")
        tables.append("\n".join(lines))
        curves = ["Modes covered per checkpoint (mean over seeds):", ""]
        for row, r in sorted(rows[ds].items()):
            steps = [c.step for c in r.curves[0]] if r.curves else []
            means = [statistics.fmean(c[i].modes_covered for c in r.curves if len(c) > i) for i in range(len(steps))]
            curves.append(f"- {row}: " + ", ".join(f"{s}: {m:.1f}" for s, m in zip(steps, means)))
            if r.snapshots:  # the first seed's, beside the report so its links work wherever it is copied
                name = f"snapshots_{ds}_{row.replace(' ', '_')}.png"
                shutil.copyfile(r.snapshots, out / name)
                figures.append(f"![{row} on {ds}]({name})")
        tables[-1] += "\n\n" + "\n".join(curves)
    skipped = [f"- {line}" for line in meta.skipped]
    md = out / "modes.md"
    md.write_text("\n".join([
        f"# Mode collapse on 2-D mixtures: study `{meta.name}`", "", f"Command: `{meta.command}`", "",
        (f"Each cell: mean ± std over {meta.seeds} seeds at the final step ({meta.steps} loop steps, "
         f"batch {meta.batch_size}), {meta.num_samples} samples. A mode is covered when it holds at least "
         f"{meta.mode_min_share} of an even share of high-quality samples (within 3 sigma of its centre); "
         "by the published rule (VEEGAN, PacGAN), looser, when at least one of 2,500 samples is a "
         "high-quality sample nearest to it: the only count the published rows have, so they fill only its "
         "column; reverse KL in nats over the nearest-mode histogram (evaluation/modes.py). Higher is better for modes "
         "and high quality, lower for reverse KL. The published rows used other networks, budgets and sample "
         "counts: for orientation, not comparison."), "",
        "\n\n".join(tables), "",
        *(["Not run (the game cannot take the variant):", "", *skipped, ""] if skipped else []),
        "Snapshots (Metz et al.'s figure; one seed per row):", "", *figures, ""]))
    plain = {ds: {row: {k: v for k, v in asdict(r).items() if k != "curves"} for row, r in rs.items()}
             for ds, rs in rows.items()}
    record = {"meta": asdict(meta), "rows": plain, "references": {ds: asdict(r) for ds, r in refs.items()}}
    (out / "modes.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
    return ModesReport(rows, "\n\n".join(tables), [str(md), str(out / "modes.json")])
