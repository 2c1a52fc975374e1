"""A copied project's MLflow store reads and writes the copy's artifacts, never the original's."""

import shutil
import sqlite3

import mlflow

from components.tracking import relocate, store


def test_a_copied_store_points_at_its_own_artifacts_and_the_original_is_untouched(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    original, copy = tmp_path / "a b", tmp_path / "copy"  # a space: file URIs are percent-encoded
    original.mkdir()
    client = store.client(original)
    exp = store.experiment_id(client, original, "toy")
    run = client.create_run(exp).info.run_id
    (tmp_path / "note.txt").write_text("original")
    client.log_artifact(run, str(tmp_path / "note.txt"))
    client.create_registered_model("toy")
    client.create_model_version("toy", f"runs:/{run}/note.txt", run_id=run)
    client.set_terminated(run)

    shutil.copytree(original, copy)
    (copy / "mlartifacts").joinpath(*_rel(original, client.get_run(run).info.artifact_uri), "note.txt") \
        .write_text("copy")
    moved = store.client(copy)
    assert relocate.relocate(copy) is None  # done once, by the first client
    assert moved.get_run(run).info.artifact_uri.startswith((copy / "mlartifacts").as_uri())
    assert moved.get_experiment(exp).artifact_location.startswith((copy / "mlartifacts").as_uri())
    got = mlflow.artifacts.download_artifacts(run_id=run, artifact_path="note.txt", dst_path=str(tmp_path / "dl"),
                                              tracking_uri=store.tracking_uri(copy))
    assert open(got).read() == "copy"
    dump = "\n".join(sqlite3.connect(copy / "mlflow.db").iterdump())
    assert str(original) not in dump and original.as_uri() not in dump  # no location of the original is left

    again = mlflow.MlflowClient(store.tracking_uri(original))  # the original still knows only its own folder
    assert again.get_run(run).info.artifact_uri.startswith((original / "mlartifacts").as_uri())


def _rel(root, uri):
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(uri).path)[len(str(root / "mlartifacts")) + 1:].split("/")
