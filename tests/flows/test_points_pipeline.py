"""The pipeline on a 2-D mixture, end to end: the points gate, the mixture as the reference, mode metrics in place
of FID, their scatter, and a version registered by modes_covered."""

import mlflow
import pytest

from components import defaults
from components.config import load_config
from components.data import sources, store
from components.errors import ConfigError
from components.metric_specs import spec
from tests.conftest import TINY_PARAMS, registered_versions
from tests.flows.conftest import make_project, run_pipeline

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out

PARAMS = {**{k: v for k, v in TINY_PARAMS.items() if k not in ("registry", "family")}, "dataset": "ring8",
          "registry": {"check_noise": False},
          "family": {"nsgan": {"width": 0.25}}}


@pytest.fixture(scope="module")
def ran_points(prefect_api, tmp_path_factory, mnist5k_data):
    root = make_project(tmp_path_factory.mktemp("points"), mnist5k_data, PARAMS)
    store.write(sources.fetch("ring8", {}), "ring8", root / "data")
    return run_pipeline(root)


def test_a_mixture_trains_with_point_networks_and_is_scored_by_its_modes(ran_points):
    _, summary = ran_points
    assert set(summary.states.values()) == {"Completed"}
    ev = summary.families["nsgan"].evaluate
    m = ev.metrics
    assert {"modes_covered", "modes_covered_published", "high_quality", "reverse_kl", "floor_modes_covered",
            "floor_modes_covered_published", "floor_high_quality"} <= set(m)
    assert not any(k.startswith("fid") for k in m)
    assert all(spec(k).name == k for k in m)
    assert m["floor_modes_covered"] == 8 and m["floor_high_quality"] > 0.95  # real points: every mode, on it
    assert m["floor_modes_covered_published"] == 8
    assert m["modes_covered_published"] >= m["modes_covered"]  # the published rule is the looser
    assert ev.feature_space.startswith("modes:ring8:")
    clf = summary.data["ring8"].classifier
    assert clf.test_accuracy > 0.99 and clf.model == ""  # the mixture's nearest-centre rule, no network


def test_a_model_of_points_is_registered_by_modes_covered_with_its_scatter(ran_points):
    root, summary = ran_points
    (version,) = registered_versions(root, "ring8-nsgan")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    assert version.tags[defaults.TAG_DECISION] == "champion"
    assert "modes_covered" in version.tags[defaults.TAG_REASON]
    run = client.get_run(summary.families["nsgan"].train.run_id)
    assert run.data.params["hp.arch"] == "mlp" and run.data.params["hp.disc_batch_norm"] == "False"
    assert run.data.params["train.precision"] == "fp32"
    assert "samples.png" in {a.path for a in client.list_artifacts(run.info.run_id)}


def test_points_change_a_familys_defaults_beneath_the_users_own_overrides(tmp_path):
    cfg = load_config(tmp_path, overrides=["dataset=ring8", "family.nsgan.lr=0.0005"])
    hp = cfg.hp("nsgan")
    assert (hp.arch, hp.disc_batch_norm, hp.lr) == ("mlp", False, 0.0005)
    assert cfg.hp("began").code_dim == 1 and cfg.hp("vae").z_dim == load_config(tmp_path).hp("vae").z_dim
    images = load_config(tmp_path).hp("nsgan")
    assert (images.arch, images.disc_batch_norm) == ("infogan", True)
    assert cfg.champion_rule().metric == "modes_covered" and load_config(tmp_path).champion_rule().metric == \
        "fid_classifier"


def test_a_registry_metric_of_images_on_points_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(ConfigError, match=r"^--set: registry.metric='fid_classifier' is not measured on ring8, which "
                                          r"holds 2-D points; leave it unset for the dataset's own \(modes_covered\)"):
        load_config(tmp_path, overrides=["dataset=ring8", "registry.metric=fid_classifier"])
