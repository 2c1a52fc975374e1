"""The six VAE-GAN hybrids through the same pipeline as every family: trained, evaluated (sample quality plus the
reconstruction error, and an ELBO where the method defines one), registered as <dataset>-<family>, served as a
pyfunc that generates and, given images, encodes; on ring8, scored by their modes."""

import copy

import mlflow
import numpy as np
import pandas as pd
import pytest

from components.data import sources, store
from components.metric_specs import spec
from tests.conftest import TINY_PARAMS, registered_versions, use_store
from tests.flows.conftest import make_project, run_pipeline

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

HYBRIDS = ["aae", "ali", "alphagan", "avb", "introvae", "veegan"]
TINY = {"z_dim": 4, "width": 0.125}


def _params(dataset: str) -> dict:
    params = copy.deepcopy(TINY_PARAMS)
    params["profiles"]["quick"]["eval"] = {**params["profiles"]["quick"]["eval"], "likelihood_images": 64}
    if dataset == "ring8":  # ranked by its own metric, modes_covered (TINY_PARAMS names an image metric)
        params["registry"] = {"check_noise": False}
    return {**params, "dataset": dataset, "families": HYBRIDS, "family": {f: TINY for f in HYBRIDS}}


@pytest.fixture(scope="module")
def ran_hybrids(prefect_api, tmp_path_factory, mnist5k_data):
    return run_pipeline(make_project(tmp_path_factory.mktemp("hybrid"), mnist5k_data, _params("mnist5k")))


@pytest.fixture(scope="module")
def ran_hybrids_on_points(prefect_api, tmp_path_factory, mnist5k_data):
    root = make_project(tmp_path_factory.mktemp("hybrid-points"), mnist5k_data, _params("ring8"))
    store.write(sources.fetch("ring8", {}), "ring8", root / "data")
    return run_pipeline(root)


def test_each_hybrid_is_scored_with_its_reconstruction_error_and_pictures(ran_hybrids):
    root, summary = ran_hybrids
    assert set(summary.states.values()) == {"Completed"}
    for fam in HYBRIDS:
        m = summary.families[fam].evaluate.metrics
        assert np.isfinite(m["fid_classifier"]) and 0 < m["test_reconstruction_mse"] < 1
        assert ("test_elbo_nats" in m) == (fam in ("avb", "introvae"))  # where the method defines an ELBO
        assert all(spec(k).name == k for k in m)  # every logged metric has a spec: direction, unit
        files = {p.name for p in (root / f"outputs/mnist5k/{fam}/evaluate/latest").iterdir()}
        assert {"samples.png", "reconstructions.png"} <= files


def test_each_hybrid_is_registered_and_its_pyfunc_generates_and_encodes(ran_hybrids):
    root, summary = ran_hybrids
    use_store(root)
    images = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    for fam in HYBRIDS:
        (version,) = registered_versions(root, f"mnist5k-{fam}")
        model = mlflow.pyfunc.load_model(f"models:/mnist5k-{fam}/{version.version}")
        drawn = model.predict(pd.DataFrame([{"n": 2, "seed": 0}]))
        assert drawn.shape == (2, 28, 28, 1) and drawn.dtype == np.uint8
        codes = model.predict(pd.DataFrame({"images": list(images)}))
        assert codes.shape == (3, TINY["z_dim"]) and codes.dtype == np.float32
        assert np.array_equal(codes, model.predict(pd.DataFrame({"images": list(images)})))  # deterministic
    model = mlflow.pyfunc.load_model(f"models:/mnist5k-veegan/{version.version}")
    with pytest.raises(Exception, match=r"images takes images shaped \(N, 28, 28, 1\)"):
        model.predict(pd.DataFrame({"images": list(np.zeros((2, 28, 27, 1), np.uint8))}))


def test_each_hybrid_trains_on_ring8_and_is_scored_by_its_modes(ran_hybrids_on_points):
    root, summary = ran_hybrids_on_points
    assert set(summary.states.values()) == {"Completed"}
    for fam in HYBRIDS:
        m = summary.families[fam].evaluate.metrics
        assert {"modes_covered", "modes_covered_published", "high_quality", "reverse_kl"} <= set(m)
        assert not any(k.startswith("fid") for k in m)
        assert registered_versions(root, f"ring8-{fam}")
