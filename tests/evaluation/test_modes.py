"""Mode metrics against hand-computed cases (evaluation/modes.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from components.data.mixtures import MIXTURES
from components.evaluation import modes

RING = MIXTURES["ring8"]


def _at_modes(counts: list[int], jitter: float = 0.0, seed: int = 0) -> np.ndarray:
    """counts[i] points at mode i's centre (plus Gaussian jitter of `jitter` sigma)."""
    rng = np.random.default_rng(seed)
    c = RING.centres_array()
    pts = np.concatenate([np.repeat(c[i:i + 1], n, 0) for i, n in enumerate(counts)])
    return pts + jitter * RING.sigma * rng.standard_normal(pts.shape)


def test_all_samples_on_one_mode_cover_one_mode_with_reverse_kl_log_of_the_mode_count():
    m = modes.count(_at_modes([800, 0, 0, 0, 0, 0, 0, 0]), RING)
    assert m.modes_covered == 1
    assert m.high_quality == 1.0
    assert m.reverse_kl == pytest.approx(math.log(8))
    assert m.per_mode == (800, 0, 0, 0, 0, 0, 0, 0)


def test_samples_spread_evenly_over_the_modes_cover_all_with_zero_reverse_kl():
    m = modes.count(_at_modes([100] * 8, jitter=1.0), RING)
    assert m.modes_covered == 8
    assert m.reverse_kl == pytest.approx(0.0, abs=1e-12)
    # 3 sigma in 2-D holds 1 - exp(-9/2) of a Gaussian's mass
    assert m.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.02)


def test_two_modes_half_each_give_reverse_kl_log_four():
    m = modes.count(_at_modes([400, 400, 0, 0, 0, 0, 0, 0]), RING)
    assert (m.modes_covered, m.reverse_kl) == (2, pytest.approx(math.log(4)))


def test_samples_off_the_modes_are_not_high_quality_and_cover_nothing():
    far = _at_modes([100] * 8) * 0.5  # the ring shrunk to radius 1: every point 1 away from its mode
    m = modes.count(far, RING)
    assert (m.modes_covered, m.high_quality) == (0, 0.0)
    assert m.reverse_kl == pytest.approx(0.0, abs=1e-12)  # still spread evenly by nearest mode


def test_a_mode_counts_only_with_its_share_of_high_quality_samples():
    # 800 samples, 8 modes: an even share is 100, so at min_share 0.2 a mode needs 20
    counts = [19, 20, 100, 100, 100, 100, 100, 261]
    assert modes.count(_at_modes(counts), RING, min_share=0.2).modes_covered == 7
    assert modes.count(_at_modes(counts), RING, min_share=0.1).modes_covered == 8


def test_non_finite_samples_are_counted_as_off_the_modes():
    pts = _at_modes([100] * 8)
    pts[:400] = np.nan
    m = modes.count(pts, RING)
    assert m.high_quality == 0.5
    assert m.n == 800


def test_the_snapshot_figure_has_one_panel_per_checkpoint(tmp_path):
    from PIL import Image

    one = modes.save_snapshots([(0, _at_modes([100] * 8, 1.0))], RING, tmp_path / "one.png")
    three = modes.save_snapshots([(s, _at_modes([100] * 8, 1.0)) for s in (0, 10, 20)], RING, tmp_path / "three.png")
    with Image.open(one) as a, Image.open(three) as b:
        assert b.width > 2.5 * a.width and a.height == b.height


def test_the_published_rule_counts_a_mode_with_one_high_quality_sample_among_the_first_2500():
    pts = _at_modes([625] * 8) * 0.5  # 5,000 points, none high quality
    order = np.random.default_rng(1).permutation(len(pts))
    pts = pts[order]
    on_mode = _at_modes([1] * 8)  # one high-quality point per mode
    pts[[0, 1, 2, 3, 4, 5, 2_499]] = on_mode[:7]
    pts[2_500] = on_mode[7]  # past the published sample count: not looked at
    m = modes.count(pts, RING)
    assert m.modes_covered_published == 7
    assert m.modes_covered == 0  # ours needs 0.2 x 5,000 / 8 = 125 per mode
    assert m.metrics()["modes_covered_published"] == 7.0


def test_our_rule_counts_the_first_n_while_the_published_rule_reads_2500_of_the_same_draw():
    pts = _at_modes([625] * 8) * 0.5  # nothing high quality
    pts[1_000:1_008] = _at_modes([1] * 8)  # one on each mode, past the first 800
    m = modes.count(pts, RING, n=800)
    assert (m.n, m.high_quality, m.modes_covered) == (800, 0.0, 0)
    assert m.modes_covered_published == 8
    assert modes.points_to_draw(200) == 2_500 and modes.points_to_draw(5_000) == 5_000
