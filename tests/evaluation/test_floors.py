"""A floor is N real training images scored like N samples, over a few subset draws, and its cache is keyed by
everything that made it."""

import statistics

import pytest
import torch

from components.config.schema import Eval
from components.data import store
from components.evaluation import classifier as ref
from components.evaluation import floors, samples


@pytest.fixture(scope="module")
def space(mnist5k_data):
    ds = store.read("mnist5k", mnist5k_data)
    torch.manual_seed(0)
    clf = ref.ReferenceClassifier(1, 10, 16).eval()  # any fixed network is a feature space
    real = ref.features(clf, torch.from_numpy(ds.arrays["test_images"][:400]), 200)
    return clf, real, torch.from_numpy(ds.arrays["train_images"])


SETTINGS = Eval(kid_subset_size=50, kid_subsets=5, floor_seeds=2, batch_size=200)


def _floor(space, tmp_path, settings=SETTINGS, seed=1, n=100, name="classifier:a", data="mnist5k-x"):
    clf, real, train_x = space
    return samples.classifier_floor(clf, real, train_x, settings, seed, n, name, data, tmp_path)


def test_a_floor_is_measured_at_the_n_beside_it_with_its_spread_over_draws(space, tmp_path):
    small, large = _floor(space, tmp_path, n=60), _floor(space, tmp_path, n=300)
    assert small["floor_fid_classifier"] > large["floor_fid_classifier"]  # FID's bias at small N
    clf, real, train_x = space
    by_hand = [samples.quality(real, ref.features(clf, floors.draw(train_x, 300, 1 + i), 200), SETTINGS)
               for i in range(2)]
    fids = [m["fid_classifier"] for m in by_hand]
    assert large["floor_fid_classifier"] == pytest.approx(statistics.fmean(fids), rel=1e-9)
    assert large["floor_fid_classifier_seed_std"] == pytest.approx(statistics.stdev(fids), rel=1e-9)
    assert "floor_kid_x1e3_classifier_subset_std" not in large  # one draw's spread is not the floor's
    one = _floor(space, tmp_path, settings=SETTINGS.model_copy(update={"floor_seeds": 1}), n=300)
    assert "floor_fid_classifier_seed_std" not in one and one["floor_fid_classifier"] == pytest.approx(fids[0])
    assert large["floor_num_samples"] == one["floor_num_samples"] == 300


def test_a_floor_asked_for_more_images_than_the_split_has_is_one_draw_of_the_whole_split(space, tmp_path):
    clf, real, train_x = space
    whole = _floor(space, tmp_path, n=len(train_x) + 500)  # as mnist5k's 4,000 training images at N = 5,000
    assert whole["floor_num_samples"] == len(train_x)
    assert not any(k.endswith("_seed_std") for k in whole)  # every draw would be the same images: no spread
    by_hand = samples.quality(real, ref.features(clf, train_x, 200), SETTINGS)
    assert whole["floor_fid_classifier"] == pytest.approx(by_hand["fid_classifier"], rel=1e-6)


def test_the_floor_cache_misses_when_anything_that_made_it_changes(space, tmp_path):
    first = _floor(space, tmp_path)
    assert _floor(space, tmp_path) == first and len(list(tmp_path.iterdir())) == 1  # the same: read back
    changes = [{"seed": 7}, {"n": 120}, {"name": "classifier:b"}, {"data": "mnist5k-y"},
               *({"settings": SETTINGS.model_copy(update={k: v})} for k, v in (
                   ("prc_k", 1), ("prdc_k", 3), ("max_prdc_samples", 80), ("kid_subset_size", 40),
                   ("kid_subsets", 4), ("floor_seeds", 3)))]
    for i, change in enumerate(changes, start=2):
        _floor(space, tmp_path, **change)
        assert len(list(tmp_path.iterdir())) == i, change  # a new entry, never the first one's
    # the audit's case: prc_k=3 at seed 7 must not reuse a floor made with prc_k=1 at seed 0
    fresh = _floor(space, tmp_path / "fresh", settings=SETTINGS.model_copy(update={"prc_k": 3}), seed=7)
    _floor(space, tmp_path / "mixed", settings=SETTINGS.model_copy(update={"prc_k": 1}), seed=0)
    assert _floor(space, tmp_path / "mixed", settings=SETTINGS.model_copy(update={"prc_k": 3}), seed=7) == fresh
