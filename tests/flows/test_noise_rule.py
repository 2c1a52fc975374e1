"""A first version no better than an untrained model of its family, under the same protocol, is registered as
@challenger with both numbers in its reason, never @champion (issue 28: a 60-step run at FID 11,294 was promoted).
The run, as `genzoo run` starts it, is named and tagged in Prefect's runs list, and its summary reads top-down."""

import mlflow
import pytest

from components import defaults
from tests.conftest import TINY_PARAMS, registered_versions
from tests.flows.conftest import in_project, make_project

pytestmark = pytest.mark.slow  # end to end: `make test ARGS="-m 'not slow'"` leaves these out


@pytest.fixture(scope="module")
def ran(prefect_api, tmp_path_factory, mnist5k_data):
    from components.config import load_config
    from flows.pipeline import run_named

    params = {**TINY_PARAMS, "families": ["nsgan", "vae"], "registry": {**TINY_PARAMS["registry"], "check_noise": True},
              "family": {**TINY_PARAMS["family"], "vae": {"z_dim": 4, "width": 0.25}}}
    root = make_project(tmp_path_factory.mktemp("noise"), mnist5k_data, params)
    with in_project(root):
        return root, run_named(load_config(root), root), run_named(load_config(root), root)


def test_a_first_version_at_noise_level_is_a_challenger_with_both_numbers(ran):
    root, summary, _ = ran
    (version,) = registered_versions(root, "mnist5k-nsgan")
    assert version.tags[defaults.TAG_DECISION] == defaults.CHALLENGER
    reason = version.tags[defaults.TAG_REASON]
    fid = float(version.tags["fid_classifier"])
    family, noise = version.tags[defaults.TAG_NOISE].split(": ")
    assert family == "nsgan" and fid > float(noise) / 2  # 8 steps: nowhere near half the untrained FID
    assert f"fid_classifier={fid:.4g} is not clearly better than an untrained nsgan's {float(noise):.4g}" in reason
    assert "registry.beat_noise=0.5" in reason and "genzoo registry promote mnist5k-nsgan 1" in reason
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)  # not the registry an earlier in-process test set globally
    assert {a for a in client.get_registered_model("mnist5k-nsgan").aliases} == {defaults.CHALLENGER}


def test_the_run_is_named_and_tagged_for_the_prefect_runs_list(ran):
    from prefect.client.orchestration import get_client

    _, summary, _ = ran
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(summary.flow_run_id)
    assert run.name.startswith("genzoo-mnist5k-nsgan+vae-")
    assert {"dataset:mnist5k", "family:nsgan", "family:vae", "profile:quick"} <= set(run.tags)


def test_the_summary_reads_top_down_with_floors_and_noise_once(ran):
    from flows.summary import metrics_table, text

    _, first, second = ran
    table = metrics_table(first).splitlines()
    header = table[0]
    assert header == ("| metric | nsgan (mnist5k) | vae (mnist5k) | floor: real mnist5k images | "
                      "untrained (champion rule) |")
    rows = [line.split(" | ")[0].lstrip("| ").split(" ")[0] for line in table[2:]]
    assert not [r for r in rows if r.startswith("floor_")]  # floors are a column, once, not rows per family
    order = ["fid_classifier", "kid_x1e3_classifier", "is_classifier", "precision_classifier", "recall_classifier",
             "f1_classifier", "density_classifier", "coverage_classifier"]
    assert rows[:len(order)] == order
    assert rows.index("test_nll_iwae_nats") < rows.index("test_elbo_nats") < rows.index("sample_seconds_per_image")
    elbo = next(line for line in table if line.startswith("| test_elbo_nats"))
    assert "(ELBO ≤ log p(x))" in elbo and "[nats/image]" in elbo
    kid = next(line for line in table if line.startswith("| kid_x1e3_classifier"))
    assert "[x10^3]" in kid
    fid = next(line for line in table if line.startswith("| fid_classifier"))
    assert "nsgan " in fid.split(" | ")[-1] and "vae " in fid.split(" | ")[-1]  # each family's untrained level
    assert "already registered: mnist5k-nsgan v1 @challenger (no change)" in text(second)
    assert "registered: mnist5k-nsgan v1 -> @challenger" in text(first)
