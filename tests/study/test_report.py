import itertools
import statistics

import pytest

from components.study import report
from components.study.references import ImageReferences
from components.study.trial import TrialResult, TrialSpec


def test_expected_best_matches_enumeration_of_subsets():
    values = [31.0, 12.5, 48.0, 20.0, 9.0]
    for k in range(1, len(values) + 1):
        subsets = list(itertools.combinations(values, k))
        assert report.expected_best(values, k) == pytest.approx(statistics.mean(min(s) for s in subsets))
    assert report.expected_best(values, 1) == pytest.approx(statistics.mean(values))
    assert report.expected_best(values, len(values)) == min(values)


def _trial(fam, index, seed, fid, search=True, status="completed", dataset="d"):
    return TrialResult(spec=TrialSpec(dataset, fam, index, seed, {"lr": index}), key="k", run_id=None, steps=1,
                       best_fid=fid, status=status, search=search, feature_space="classifier:x")


def test_summary_uses_the_best_settings_seeds_and_counts_divergence():
    trials = [_trial("a", 0, 0, 10.0), _trial("a", 1, 0, 5.0), _trial("a", 1, 1, 7.0, search=False),
              _trial("b", 0, 0, None, status="diverged"), _trial("b", 1, 0, 8.0), _trial("b", 1, 1, 8.0, False)]
    rows = report.summarise(trials, {("d", "a"): 1, ("d", "b"): 1})["d"]
    assert rows["a"].mean == 6.0 and rows["a"].std == pytest.approx(2 ** 0.5) and rows["a"].best == 5.0
    assert rows["a"].overrides == {"lr": 1} and rows["a"].budget_curve == [7.5, 5.0]
    assert rows["b"].diverged == 1 and rows["b"].budget_curve == [8.0]  # the diverged run has no FID
    assert report.winners({"d": rows}) == {"d": "a"}
    table = report.table_markdown({"d": rows}, ["d"], ["a", "b", "c"])
    assert "| a | 6.00 ± 1.41 (n=2; best 5.00) |" in table and "| c | - |" in table
    one = report.summarise([_trial("a", 0, 0, 9.0)], {("d", "a"): 0})["d"]
    assert "| a | 9.00 (n=1) |" in report.table_markdown({"d": one}, ["d"], ["a"])  # one seed: no spread claimed


def test_table_carries_reference_rows_and_lucic_published_column():
    trials = [_trial("nsgan", 0, 0, 40.0, dataset="mnist"), _trial("nsgan", 0, 1, 44.0, search=False,
                                                                  dataset="mnist")]
    rows = report.summarise(trials, {("mnist", "nsgan"): 0})
    refs = {"mnist": ImageReferences(floor=0.51, floor_seed_std=None, untrained=912.3, num_samples=100,
                                     untrained_family="nsgan")}
    lines = report.table_markdown(rows, ["mnist"], ["nsgan", "mlgan"], refs).splitlines()
    assert lines[0] == "| family | mnist | mnist: Lucic et al. (Inception FID) |"
    assert lines[2] == "| nsgan | 42.00 ± 2.83 (n=2; best 40.00) | 6.8 ± 0.5 |"
    assert lines[3] == "| mlgan | - | - |"  # not in their study
    assert lines[4:] == ["| *real training images (floor)* | 0.51 |  |",
                         "| *untrained generator (noise)* | 912.30 |  |"]
