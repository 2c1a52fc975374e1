"""Metric names are built by metric_specs.name and read back by spec(), its inverse, for every declared part;
what reports show (row order, bounds, headline columns, N beside a count-biased metric) is read off the
declarations."""

import itertools

import pytest

from components import metric_specs as ms
from components.metric_specs import name, spec


def test_every_name_built_from_declared_parts_reads_back_as_those_parts():
    count = 0
    for base, space, prefix, side, given, aggregate, spread in itertools.product(
            ms.BASES, (None, *ms.SPACES), (None, *ms.PREFIXES), (None, *ms.SIDES), (False, True),
            (None, *ms.AGGREGATES), (None, *ms.SPREADS)):
        built = name(base, space, prefix=prefix, side=side, given_label=given, aggregate=aggregate, spread=spread)
        s = spec(built)
        assert (s.base, s.space, s.prefix, s.side, s.given_label, s.aggregate, s.spread_key) == \
            (base, space, prefix, side, given, aggregate, spread), built
        assert s.named() == built and s.floor == (prefix == "floor")
        assert (s.direction is None) == (spread is not None or ms.BASES[base].direction is None)
        count += 1
    assert count == len(ms.BASES) * 3 * 5 * 5 * 2 * 3 * 4


def test_a_part_that_is_not_declared_is_refused_by_name_and_by_spec():
    with pytest.raises(KeyError, match="'fidd' is not a declared metric"):
        name("fidd", "classifier")
    with pytest.raises(KeyError, match="'vgg' is not a declared space"):
        name("fid", "vgg")
    with pytest.raises(KeyError, match="'fid_vgg' is not a metric genzoo logs"):
        spec("fid_vgg")


def test_reports_read_order_bounds_headline_and_counts_off_the_declarations():
    assert sorted(["test_nll_nats", "modes_covered", "kid_x1e3_classifier", "fid_classifier"], key=ms.display_rank) \
        == ["fid_classifier", "kid_x1e3_classifier", "modes_covered", "test_nll_nats"]
    assert spec("test_elbo_nats").bound == "ELBO ≤ log p(x)" and spec("fid_inception").bound == ""
    assert spec("floor_kid_x1e3_classifier").shown_with_n and not spec("precision_classifier").shown_with_n
    logged = {"fid_classifier": 3.0, "floor_fid_classifier": 1.0, "checkpoint_fid_classifier": 4.0,
              "study_fid_classifier_mean": 5.0, "kid_x1e3_classifier_subset_std": 0.1, "f1_classifier": 0.5,
              "num_samples": 100.0, "train/d_loss": 0.7}
    assert ms.headline(logged) == {"fid_classifier": 3.0, "num_samples": 100.0}
