"""VAEs and autoregressive models through the same pipeline as the GANs: trained, evaluated (sample quality
plus their likelihoods), registered as <dataset>-<family> under the champion rule, served as a pyfunc."""

import copy
import math

import mlflow
import numpy as np
import pytest

from components import defaults
from components.metric_specs import spec
from tests.conftest import TINY_PARAMS, registered_versions, use_store
from tests.flows.conftest import make_project, run_pipeline

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

FAMILIES = ["vae", "hvae", "pixelcnn", "gatedpixelcnn", "pixelrnn", "multiscale", "nade"]


@pytest.fixture(scope="module")
def ran_likelihood(prefect_api, tmp_path_factory, mnist5k_data):
    params = {**copy.deepcopy(TINY_PARAMS), "families": FAMILIES,  # its eval change must not leak into TINY_PARAMS
              "family": {"vae": {"z_dim": 4, "width": 0.25}, "hvae": {"z_dim": 4, "z2_dim": 2, "width": 0.25},
                         "pixelcnn": {"hidden": 8, "layers": 2}, "gatedpixelcnn": {"hidden": 8, "layers": 2},
                         "pixelrnn": {"hidden": 8, "layers": 1}, "multiscale": {"hidden": 8, "layers": 1},
                         "nade": {"hidden": 16}}}
    params["profiles"]["quick"]["eval"] = {**params["profiles"]["quick"]["eval"], "likelihood_images": 64,
                                           "iwae_k": 8}
    return run_pipeline(make_project(tmp_path_factory.mktemp("lik"), mnist5k_data, params))


def test_vaes_report_elbo_and_iwae_bounds(ran_likelihood):
    root, summary = ran_likelihood
    for fam in ("vae", "hvae"):
        m = summary.families[fam].evaluate.metrics
        assert -m["test_elbo_nats"] >= m["test_nll_iwae_nats"] > 0  # IWAE is the tighter bound
        assert m["test_nll_iwae_bits_per_dim"] == pytest.approx(m["test_nll_iwae_nats"] / (784 * math.log(2)))
        assert np.isfinite(m["fid_classifier"]) and m["num_samples"] == 200
        assert all(spec(k).name == k for k in m)  # every logged metric has a spec
    files = {p.name for p in (root / "outputs/mnist5k/vae/evaluate/latest").iterdir()}
    assert {"reconstructions.png", "traversals.png", "samples.png"} <= files


def test_autoregressive_models_report_exact_nll(ran_likelihood):
    root, summary = ran_likelihood
    for fam in ("pixelcnn", "gatedpixelcnn", "pixelrnn", "multiscale", "nade"):
        m = summary.families[fam].evaluate.metrics
        # a barely trained model is still far better than coin flips (784 nats) on binarised digits
        assert 0 < m["test_nll_nats"] < 784 * math.log(2)
        assert np.isfinite(m["fid_classifier"])
        assert m["likelihood_images"] == 64  # eval.likelihood_images, a seeded random subset of the test split
        assert all(spec(k).name == k for k in m)
    # gated is class-conditional: log p(x | y) never sits in the column of log p(x), log sum_y p(y) p(x | y)
    m = summary.families["gatedpixelcnn"].evaluate.metrics
    assert m["test_nll_nats"] <= m["test_nll_nats_given_label"] + math.log(10) + 1e-6


def test_every_family_is_scored_on_the_same_n_and_the_table_says_it(ran_likelihood):
    from flows.summary import table

    _, summary = ran_likelihood
    assert {summary.families[f].evaluate.metrics["num_samples"] for f in FAMILIES} == {200}  # eval.num_samples
    fid_row = next(cells for label, cells in table(summary).rows if label.startswith("fid_classifier"))
    assert len(fid_row) >= len(FAMILIES) and all("(N=200)" in cell for cell in fid_row[:len(FAMILIES)])


def test_each_is_registered_and_served_with_labels(ran_likelihood):
    root, summary = ran_likelihood
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    for fam in FAMILIES:
        name = f"mnist5k-{fam}"
        (version,) = registered_versions(root, name)
        assert client.get_model_version_by_alias(name, defaults.CHAMPION).version == version.version
        run = client.get_run(summary.families[fam].train.run_id)
        assert run.data.tags["genzoo.kind"] in ("vae", "autoregressive")
    use_store(root)
    model = mlflow.pyfunc.load_model("models:/mnist5k-gatedpixelcnn@champion")
    a = model.predict({"n": 2, "seed": 0, "label": 3})
    b = model.predict({"n": 2, "seed": 0, "label": 3})
    assert a.shape == (2, 28, 28, 1) and a.dtype == np.uint8 and np.array_equal(a, b)
