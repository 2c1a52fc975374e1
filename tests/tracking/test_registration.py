"""Registration is a small transaction: one version per training run, however often it is rerun or interrupted."""

import mlflow
import pytest
import torch

from components import defaults
from components.config.schema import Registry
from components.data.tensors import Tensors
from components.evaluation.protocol import Protocol
from components.models import stored
from components.tracking.registration import register_model, version_of_run
from tests.conftest import model_of

NAME = "toy-nsgan"
RULE = Registry(metric="fid_classifier")  # the champion rule a run resolves (Config.champion_rule)
PROTOCOL = Protocol("classifier:abc", 100, 1, "test split of toy-0", "cpu", "{}").tags()


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_ROOT", str(tmp_path))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    torch.manual_seed(0)
    model = model_of("nsgan", (1, 28, 28), 10, {"z_dim": 4, "width": 0.125})
    blank = torch.zeros(1, 28, 28, 1, dtype=torch.uint8)
    data = Tensors(train_x=blank, train_y=torch.zeros(1, dtype=torch.long), classes=[str(i) for i in range(10)])
    model_dir = stored.save(model, "nsgan", "toy", data, tmp_path / "model")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, registry_uri=uri)
    exp = client.create_experiment("toy", artifact_location=(tmp_path / "art").as_uri())
    return tmp_path, model_dir, client, exp


def register(root, model_dir, run_id, fid=30.0):
    return register_model(root, "toy", "nsgan", model_dir, {"fid_classifier": fid}, PROTOCOL, run_id, RULE, {})


def test_a_rerun_returns_the_runs_version_instead_of_registering_it_again(setup):
    root, model_dir, client, exp = setup
    run_id = client.create_run(exp).info.run_id
    first = register(root, model_dir, run_id)
    again = register(root, model_dir, run_id)
    assert again.version == first.version == "1" and again.alias == first.alias == "champion"
    assert len(client.search_model_versions(f"name='{NAME}'")) == 1


def test_a_version_created_but_never_decided_is_finished_not_duplicated(setup):
    """What a kill -9 right after "Created version" leaves: a version without alias or decision."""
    root, model_dir, client, exp = setup
    run_id = client.create_run(exp).info.run_id
    client.create_registered_model(NAME)
    orphan = client.create_model_version(NAME, source=str(model_dir), run_id=run_id).version
    assert defaults.TAG_DECISION not in client.get_model_version(NAME, orphan).tags
    result = register(root, model_dir, run_id)
    assert result.version == str(orphan) and result.alias == "champion"
    assert len(client.search_model_versions(f"name='{NAME}'")) == 1
    assert client.get_model_version(NAME, orphan).tags[defaults.TAG_DECISION] == "champion"
    assert str(version_of_run(client, NAME, run_id).version) == str(orphan)
    assert client.get_run(run_id).info.status == "FINISHED"


def test_data_that_is_not_the_pinned_version_is_refused_unless_allowed(setup, tmp_path):
    import hashlib
    import json

    from components.errors import DataError
    from components.tracking.store import data_version
    from components.versioning import dvc_dir_md5

    root, model_dir, client, exp = setup
    data = root / defaults.DATA_DIR
    (data / "toy").mkdir(parents=True)
    (data / "toy" / "train_images.npy").write_bytes(b"\x00" * 64)
    pinned = dvc_dir_md5(data)
    (root / "data.dvc").write_text(f"outs:\n- md5: {pinned}\n  path: data\n")
    assert data_version(root, "toy") == pinned  # without DVC's manifest, all of data/ is compared with the pin
    manifest = root / ".dvc/cache/files/md5" / pinned[:2] / f"{pinned[2:-4]}.dir"  # what `dvc commit` leaves
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps([{"md5": hashlib.md5(b"\x00" * 64).hexdigest(), "relpath": "toy/train_images.npy"}]))
    assert data_version(root, "toy") == pinned
    (data / "other").mkdir()
    (data / "other" / "x.npy").write_bytes(b"\x01")
    assert data_version(root, "other").startswith("unpinned:")  # added since the pin: named, not refused
    assert data_version(root, "toy") == pinned  # the pinned dataset is still what data.dvc pins
    (data / "toy" / "train_images.npy").write_bytes(b"\x00" * 63 + b"\x01")  # one pixel changed after the pin
    changed = data_version(root, "toy")
    assert changed.startswith("modified:") and pinned not in changed

    run_id = client.create_run(exp).info.run_id
    tags = {defaults.TAG_DATA_VERSION: changed}
    with pytest.raises(DataError, match="not the version data.dvc pins.*--allow-unpinned"):
        register_model(root, "toy", "nsgan", model_dir, {"fid_classifier": 1.0}, PROTOCOL, run_id, RULE, tags)
    assert client.search_registered_models() == []  # nothing registered, no champion
    result = register_model(root, "toy", "nsgan", model_dir, {"fid_classifier": 1.0}, PROTOCOL, run_id,
                            RULE.model_copy(update={"allow_unpinned": True}), tags)
    version = client.get_model_version(NAME, result.version)
    assert version.tags[defaults.TAG_DATA_VERSION] == changed  # the data it trained on, never the pin


def test_a_model_logged_by_an_interrupted_registration_is_not_left_beside_the_version(setup):
    """What a kill -9 inside log_model leaves: a logged model of the run that no version uses."""
    root, model_dir, client, exp = setup
    run_id = client.create_run(exp).info.run_id
    leftover = client.create_logged_model(exp, name="generator", source_run_id=run_id).model_id
    result = register(root, model_dir, run_id)
    models = client.search_logged_models([exp], filter_string=f"source_run_id = '{run_id}'")
    assert len(models) == 1 and models[0].model_id != leftover and models[0].status.name == "READY"
    assert result.version == "1"
